import Foundation
import Detector

/// Small cases for the region-loss tests, and a plain Double reference of every component
/// (written from the formulas of `RegionLoss`'s documentation) for the finite-difference checks.
enum LossCase {
    /// A 4 x 4 grid, anchors 1x1 and 3x2 cells, 3 classes.
    static func small(_ configure: (inout RegionLossSettings) -> Void = { _ in }) -> RegionLoss {
        var settings = RegionLossSettings()
        configure(&settings)
        return RegionLoss(settings: settings, layout: HeadLayout(gridWidth: 4, gridHeight: 4,
                                                                 anchors: [Anchor(width: 1, height: 1), Anchor(width: 3, height: 2)],
                                                                 classCount: 3))
    }

    static func object(_ k: Int, _ x: Float, _ y: Float, _ w: Float, _ h: Float) -> LabeledObject {
        LabeledObject(classIndex: k, box: BoundingBox(centerX: x, centerY: y, width: w, height: h))
    }

    static func logit(_ p: Float) -> Float { log(p / (1 - p)) }
    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
    static func softmax(_ z: [Double]) -> [Double] {
        let m = z.max() ?? 0
        let e = z.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Sets the raw outputs of one anchor so it decodes exactly to `box` (the box's centre must
    /// lie inside the cell), objectness logit `objectnessLogit`.
    static func plant(_ values: inout [Float], loss: RegionLoss, column: Int, row: Int, anchor: Int,
                      box: BoundingBox, objectnessLogit: Float = 0) {
        let l = loss.layout
        let o = l.offset(column: column, row: row, anchor: anchor)
        values[o] = logit(box.centerX * Float(l.gridWidth) - Float(column))
        values[o + 1] = logit(box.centerY * Float(l.gridHeight) - Float(row))
        values[o + 2] = log(box.width * Float(l.gridWidth) / l.anchors[anchor].width)
        values[o + 3] = log(box.height * Float(l.gridHeight) / l.anchors[anchor].height)
        values[o + 4] = objectnessLogit
    }

    enum Component: String, CaseIterable, Sendable { case coordinates, objectness, noObject, classification, prior }

    /// One component of the Swift loss for one image, the objectness targets and the no-object
    /// mask given (held constant); the objectness and no-object components in the form the
    /// settings choose (squared error or cross-entropy).
    static func term(_ loss: RegionLoss, _ c: Component, _ v: UnsafeBufferPointer<Float>, assignments a: [RegionLoss.Assignment],
                     targets: [Float], skip: [Bool], imagesSeen: Int = 0) -> LossTerm {
        switch c {
        case .coordinates: return loss.coordinateTerm(v, assignments: a)
        case .objectness: return loss.objectnessComponentTerm(v, assignments: a, targets: targets)
        case .noObject: return loss.noObjectComponentTerm(v, skip: skip)
        case .classification: return loss.classTerm(v, assignments: a)
        case .prior: return loss.priorTerm(v, imagesSeen: imagesSeen)
        }
    }

    /// softplus(z) = ln(1 + e^z), in Double, stable.
    static func softplus(_ z: Double) -> Double { max(z, 0) + log1p(exp(-abs(z))) }

    /// The same component in Double, straight from the formulas (`RegionLoss`'s documentation; the cross-entropy
    /// objectness of `ObjectnessLoss.crossEntropy`), for one image.
    static func reference(_ loss: RegionLoss, _ c: Component, _ v: [Double], assignments: [RegionLoss.Assignment],
                          targets: [Float], skip: [Bool], imagesSeen: Int = 0) -> Double {
        let l = loss.layout, s = loss.settings
        let W = Double(l.gridWidth), H = Double(l.gridHeight)
        var total = 0.0
        switch c {
        case .coordinates:
            for a in assignments {
                let o = l.offset(column: a.column, row: a.row, anchor: a.anchor)
                let b = a.object.box
                let (x, y, w, h) = (Double(b.centerX), Double(b.centerY), Double(b.width), Double(b.height))
                let p = l.anchors[a.anchor]
                let weight = Double(s.coordScale) * (2 - w * h)
                let dx = sigmoid(v[o]) - (x * W - Double(a.column)), dy = sigmoid(v[o + 1]) - (y * H - Double(a.row))
                let dw = v[o + 2] - log(w * W / Double(p.width)), dh = v[o + 3] - log(h * H / Double(p.height))
                total += 0.5 * weight * (dx * dx + dy * dy + dw * dw + dh * dh)
            }
        case .objectness:
            for (a, t) in zip(assignments, targets) {
                let o = l.offset(column: a.column, row: a.row, anchor: a.anchor)
                switch s.objectnessLoss {
                case .squaredError:
                    let d = sigmoid(v[o + 4]) - Double(t)
                    total += 0.5 * Double(s.objectScale) * d * d
                case .crossEntropy:
                    // −[t ln σ + (1 − t) ln(1 − σ)], written with ln σ = −softplus(−z), ln(1 − σ) = −softplus(z).
                    let z = v[o + 4], target = Double(t)
                    total += Double(s.objectScale) * (target * softplus(-z) + (1 - target) * softplus(z))
                }
            }
        case .noObject:
            for k in skip.indices where !skip[k] {
                let z = v[k * l.valuesPerAnchor + 4]
                switch s.objectnessLoss {
                case .squaredError:
                    let p = sigmoid(z)
                    total += 0.5 * Double(s.noObjectScale) * p * p
                case .crossEntropy:
                    total += Double(s.noObjectScale) * -log(1 - sigmoid(z))
                }
            }
        case .classification:
            for a in assignments {
                let o = l.offset(column: a.column, row: a.row, anchor: a.anchor) + 5
                let p = softmax(Array(v[o..<(o + l.classCount)]))
                total += Double(s.classScale) * -log(p[a.object.classIndex])
            }
        case .prior:
            guard imagesSeen < s.warmupImages else { return 0 }
            for k in 0..<(l.gridWidth * l.gridHeight * l.anchors.count) {
                let o = k * l.valuesPerAnchor
                let dx = sigmoid(v[o]) - 0.5, dy = sigmoid(v[o + 1]) - 0.5
                total += 0.5 * 0.01 * (dx * dx + dy * dy + v[o + 2] * v[o + 2] + v[o + 3] * v[o + 3])
            }
        }
        return total
    }
}
