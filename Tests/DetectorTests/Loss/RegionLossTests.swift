import Foundation
import Testing
import Detector

/// A 4 x 4 grid, anchors 1x1 and 3x2 cells, 3 classes.
func smallLoss(_ configure: (inout RegionLossSettings) -> Void = { _ in }) -> RegionLoss {
    var settings = RegionLossSettings()
    configure(&settings)
    return RegionLoss(settings: settings, layout: HeadLayout(gridWidth: 4, gridHeight: 4,
                                                             anchors: [Anchor(width: 1, height: 1), Anchor(width: 3, height: 2)],
                                                             classCount: 3))
}

func object(_ k: Int, _ x: Float, _ y: Float, _ w: Float, _ h: Float) -> LabeledObject {
    LabeledObject(classIndex: k, box: BoundingBox(centerX: x, centerY: y, width: w, height: h))
}

/// Sets the raw outputs of one anchor so it decodes exactly to `box`, objectness logit `to`.
func setPrediction(_ values: inout [Float], loss: RegionLoss, column: Int, row: Int, anchor: Int,
                   box: BoundingBox, objectnessLogit: Float = 0) {
    let l = loss.layout
    let o = l.offset(column: column, row: row, anchor: anchor)
    func logit(_ p: Float) -> Float { log(p / (1 - p)) }
    values[o] = logit(box.centerX * Float(l.gridWidth) - Float(column))
    values[o + 1] = logit(box.centerY * Float(l.gridHeight) - Float(row))
    values[o + 2] = log(box.width * Float(l.gridWidth) / l.anchors[anchor].width)
    values[o + 3] = log(box.height * Float(l.gridHeight) / l.anchors[anchor].height)
    values[o + 4] = objectnessLogit
}

@Suite struct RegionLossTests {
    @Test func assignmentAtGridEdgesAndBestAnchorByShape() {
        let loss = smallLoss()
        let a = loss.assignments(for: [object(0, 0, 0, 0.2, 0.2), object(1, 0.999, 0.5, 0.7, 0.5), object(2, 1.0, 1.0, 0.25, 0.25)])
        #expect(a.map { [$0.column, $0.row, $0.anchor] } == [[0, 0, 0], [3, 2, 1], [3, 3, 0]])
        // A box of 3 x 2 cells matches the 3x2 anchor; 1 x 1 cells matches 1x1.
        #expect(loss.bestAnchor(width: 0.75, height: 0.5) == 1)
        #expect(loss.bestAnchor(width: 0.25, height: 0.25) == 0)
    }

    @Test func targetsRoundTripToTheBox() {
        let loss = smallLoss()
        let box = object(0, 0.61, 0.37, 0.4, 0.3)
        let a = loss.assignments(for: [box])[0]
        let t = a.targets(layout: loss.layout)
        let l = loss.layout
        // (i + t̂_x)/W = x, p_w e^{t̂_w}/W = w
        #expect(abs((Float(a.column) + t.x) / Float(l.gridWidth) - 0.61) < 1e-6)
        #expect(abs((Float(a.row) + t.y) / Float(l.gridHeight) - 0.37) < 1e-6)
        #expect(abs(l.anchors[a.anchor].width * exp(t.w) / Float(l.gridWidth) - 0.4) < 1e-6)
        #expect(abs(l.anchors[a.anchor].height * exp(t.h) / Float(l.gridHeight) - 0.3) < 1e-6)
    }

    @Test func objectTermIsZeroWhenObjectnessEqualsIoU() {
        let loss = smallLoss()
        let truth = object(0, 0.3, 0.3, 0.2, 0.2)
        var values = [Float](repeating: 0, count: loss.layout.valuesPerImage)
        // Predict a box shifted a little: IoU* < 1; set σ(t_o) = IoU*.
        let predicted = BoundingBox(centerX: 0.31, centerY: 0.3, width: 0.2, height: 0.2)
        let iou = predicted.iou(with: truth.box)
        setPrediction(&values, loss: loss, column: 1, row: 1, anchor: 0, box: predicted, objectnessLogit: log(iou / (1 - iou)))
        let assigned = loss.assignments(for: [truth])
        values.withUnsafeBufferPointer { v in
            let targets = loss.objectnessTargets(v, assignments: assigned)
            #expect(abs(targets[0] - iou) < 1e-5)
            let term = loss.objectnessTerm(v, assignments: assigned, targets: targets)
            #expect(abs(term.value) < 1e-9)
            #expect(term.gradient.allSatisfy { abs($0) < 1e-6 })
        }
        // Without rescore the target is 1.
        let plain = smallLoss { $0.rescore = false }
        values.withUnsafeBufferPointer { v in #expect(plain.objectnessTargets(v, assignments: assigned) == [1]) }
    }

    @Test func ignoreThresholdSkipsOverlappingAnchors() {
        let loss = smallLoss()
        let truth = object(0, 0.5, 0.5, 0.5, 0.5)   // assigned to cell (2, 2), anchor 1
        // Anchor 0 of cell (0, 0) predicts a box of the same centre and height whose width
        // gives IoU exactly 0.61 or 0.59 with the truth (IoU = w'/w for a narrower box).
        for (iou, ignored) in [(Float(0.61), true), (Float(0.59), false)] {
            var values = [Float](repeating: -8, count: loss.layout.valuesPerImage)
            let box = BoundingBox(centerX: 0.5, centerY: 0.5, width: 0.5 * iou, height: 0.5)
            #expect(abs(box.iou(with: truth.box) - iou) < 1e-5)
            setPrediction(&values, loss: loss, column: 2, row: 2, anchor: 0, box: box, objectnessLogit: 1)
            values.withUnsafeBufferPointer { v in
                let assigned = loss.assignments(for: [truth])
                #expect(assigned[0].anchor == 1)
                let skip = loss.noObjectMask(v, objects: [truth], assignments: assigned)
                let k = (2 * 4 + 2) * 2 + 0
                #expect(skip[k] == ignored)
                let term = loss.noObjectTerm(v, skip: skip)
                let o = loss.layout.offset(column: 2, row: 2, anchor: 0) + 4
                #expect((term.gradient[o] == 0) == ignored)
            }
        }
    }

    @Test func warmUpPriorPresentBeforeNAndAbsentAfter() {
        let loss = smallLoss { $0.warmupImages = 100 }
        let values = (0..<loss.layout.valuesPerImage).map { Float($0 % 7) * 0.1 - 0.3 }
        values.withUnsafeBufferPointer { v in
            #expect(loss.priorTerm(v, imagesSeen: 99).value > 0)
            let after = loss.priorTerm(v, imagesSeen: 100)
            #expect(after.value == 0 && after.gradient.allSatisfy { $0 == 0 })
        }
        // At the anchor's own shape and the cell centre the prior is zero.
        let zero = [Float](repeating: 0, count: loss.layout.valuesPerImage)
        zero.withUnsafeBufferPointer { #expect(loss.priorTerm($0, imagesSeen: 0).value == 0) }
    }

    @Test func classGradientIsLambdaTimesPMinusOneHot() {
        let loss = smallLoss { $0.classScale = 2 }
        var values = [Float](repeating: 0, count: loss.layout.valuesPerImage)
        let truth = object(1, 0.1, 0.1, 0.2, 0.2)
        let a = loss.assignments(for: [truth])[0]
        let o = loss.layout.offset(column: a.column, row: a.row, anchor: a.anchor) + 5
        values[o] = 1; values[o + 1] = 2; values[o + 2] = -1
        let p = softmax([1, 2, -1])
        values.withUnsafeBufferPointer { v in
            let term = loss.classTerm(v, assignments: [a])
            #expect(abs(term.value - 2 * -log(p[1])) < 1e-5)
            #expect(abs(term.gradient[o] - 2 * p[0]) < 1e-6)
            #expect(abs(term.gradient[o + 1] - 2 * (p[1] - 1)) < 1e-6)
            #expect(abs(term.gradient[o + 2] - 2 * p[2]) < 1e-6)
        }
    }

    @Test func coordinateWeightIsOneForFullImageAndNearTwoForTiny() {
        let loss = smallLoss()
        let values = [Float](repeating: 0, count: loss.layout.valuesPerImage)
        values.withUnsafeBufferPointer { v in
            for (box, weight) in [(object(0, 0.5, 0.5, 1, 1), Float(1)), (object(0, 0.5, 0.5, 0.01, 0.01), Float(1.9999))] {
                let a = loss.assignments(for: [box])
                let t = a[0].targets(layout: loss.layout)
                let sx = Float(0.5), sy = Float(0.5)
                let plain = 0.5 * ((sx - t.x) * (sx - t.x) + (sy - t.y) * (sy - t.y) + t.w * t.w + t.h * t.h)
                #expect(abs(loss.coordinateTerm(v, assignments: a).value - weight * plain) < 1e-4 * max(1, plain))
            }
        }
    }

    @Test func twoBoxesOnOneAnchorLastWins() {
        let loss = smallLoss()
        let first = object(0, 0.30, 0.30, 0.2, 0.2), second = object(2, 0.32, 0.33, 0.21, 0.2)
        let a = loss.assignments(for: [first, second])
        #expect(a.count == 1 && a[0].object == second)
    }

    @Test func imageWithoutBoxesHasOnlyNoObjectAndPrior() {
        let loss = smallLoss()
        let output = Tensor(shape: [1, 4, 4, 16], data: (0..<256).map { Float($0 % 5) * 0.2 - 0.4 })
        let result = loss(output: output, targets: [[]], imagesSeen: 0)
        #expect(result.components.coordinates == 0 && result.components.objectness == 0 && result.components.classification == 0)
        #expect(result.components.noObject > 0 && result.components.prior > 0)
        let later = loss(output: output, targets: [[]], imagesSeen: 1_000_000)
        #expect(later.components.prior == 0)
        #expect(abs(later.total - later.components.noObject) < 1e-6)
    }

    /// The fixed case of scripts/region_loss_fixture.py (PyTorch, autograd).
    @Test func matchesIndependentPyTorchImplementation() throws {
        struct Case: Decodable {
            var grid: [Int]; var anchors: [[Float]]; var classes: Int; var warmup_images: Int; var images_seen: Int
            var boxes: [[[Float]]]; var output: [Float]; var components: [String: Double]; var total: Double; var gradient: [Double]
        }
        let c = try JSONDecoder().decode(Case.self, from: Fixtures.data("region_loss_case.json"))
        var settings = RegionLossSettings()
        settings.warmupImages = c.warmup_images
        let loss = RegionLoss(settings: settings, layout: HeadLayout(gridWidth: c.grid[0], gridHeight: c.grid[1],
                                                                     anchors: c.anchors.map { Anchor(width: $0[0], height: $0[1]) },
                                                                     classCount: c.classes))
        let targets = c.boxes.map { $0.map { object(Int($0[0]), $0[1], $0[2], $0[3], $0[4]) } }
        let output = Tensor(shape: [2, c.grid[1], c.grid[0], loss.layout.channels], data: c.output)
        let result = loss(output: output, targets: targets, imagesSeen: c.images_seen)
        let mine: [String: Float] = ["coordinates": result.components.coordinates, "objectness": result.components.objectness,
                                     "noObject": result.components.noObject, "classification": result.components.classification,
                                     "prior": result.components.prior]
        for (name, expected) in c.components {
            #expect(abs(Double(mine[name]!) - expected) < 1e-4 * max(1, abs(expected)), "\(name)")
        }
        #expect(abs(Double(result.total) - c.total) < 1e-4 * c.total)
        let worst = zip(result.gradient.data, c.gradient).map { abs(Double($0) - $1) }.max()!
        #expect(worst < 1e-5)
        #expect(c.gradient.contains { $0 != 0 })
    }
}
