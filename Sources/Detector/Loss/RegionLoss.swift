import Foundation

/// One component's value for one image and its gradient with respect to every raw head value
/// of that image (same layout as the head; zero where the component does not reach).
public struct LossTerm: Sendable {
    public var value: Float
    public var gradient: [Float]
}

/// The loss split into its parts (summed over images, averaged over the batch).
public struct LossComponents: Hashable, Sendable, Codable {
    public var coordinates: Float = 0
    public var objectness: Float = 0
    public var noObject: Float = 0
    public var classification: Float = 0
    public var prior: Float = 0
    public init() {}
    public var total: Float { coordinates + objectness + noObject + classification + prior }

    public static func + (a: LossComponents, b: LossComponents) -> LossComponents {
        var c = LossComponents()
        c.coordinates = a.coordinates + b.coordinates; c.objectness = a.objectness + b.objectness
        c.noObject = a.noObject + b.noObject; c.classification = a.classification + b.classification
        c.prior = a.prior + b.prior
        return c
    }

    public func scaled(by s: Float) -> LossComponents {
        var c = self
        c.coordinates *= s; c.objectness *= s; c.noObject *= s; c.classification *= s; c.prior *= s
        return c
    }
}

/// darknet's per-step report: how well the responsible predictions fit their boxes.
public struct LossStatistics: Hashable, Sendable, Codable {
    /// Mean IoU of each responsible prediction with its ground-truth box.
    public var averageIoU: Float = 0
    /// Fraction of ground-truth boxes whose responsible prediction has IoU > 0.5.
    public var recall50: Float = 0
    /// Mean σ(t_o) on responsible anchors ("Obj").
    public var averageObjectness: Float = 0
    /// Mean σ(t_o) on all anchors ("No Obj").
    public var averageAnyObjectness: Float = 0
    /// Mean probability given to the right class on responsible anchors ("Class").
    public var averageClassProbability: Float = 0
    /// Ground-truth boxes assigned (after replacement on shared anchors).
    public var count: Int = 0
    public init() {}
}

public struct RegionLossResult: Sendable {
    public var components: LossComponents
    public var total: Float { components.total }
    /// ∂(mean over the batch of the per-image loss)/∂(head output), same shape as the output.
    public var gradient: Tensor
    public var statistics: LossStatistics
}

/// The YOLOv2 region loss (Redmon & Farhadi 2016; darknet's `region_layer.c`), in components.
///
/// Grid W x H, anchors (p_w, p_h) in cell units, raw outputs t_x, t_y, t_w, t_h, t_o, z per cell
/// (i = column, j = row) and anchor; decoded box b = ((i + σ(t_x))/W, (j + σ(t_y))/H,
/// p_w e^{t_w}/W, p_h e^{t_h}/H). Ground truth: normalised centre boxes (x, y, w, h), class k.
///
/// - Assignment: each box goes to cell (⌊xW⌋, ⌊yH⌋) (clamped to the grid, so x = 1 lands in
///   the last column) and to the anchor whose shape has the best IoU with the box's shape, both
///   centred at the origin (the first such anchor on ties). A later box of the label list on
///   the same cell and anchor replaces the earlier one (darknet overwrites its deltas the same
///   way).
/// - L_coord = ½ λ_coord (2 − wh) [(σ(t_x) − (xW − i))² + (σ(t_y) − (yH − j))²
///   + (t_w − ln(wW/p_w))² + (t_h − ln(hH/p_h))²] over responsible anchors.
/// - L_obj = ½ λ_obj (σ(t_o) − IoU*)² over responsible anchors; IoU* is the IoU of the decoded
///   prediction with its box, held constant (rescore), or 1 without rescore.
/// - L_noobj = ½ λ_noobj σ(t_o)² over every other anchor whose decoded box has best IoU with
///   all boxes of the image at most the ignore threshold (above it, the anchor is ignored).
/// - L_cls = λ_cls · (−ln softmax(z)_k) over responsible anchors; ∂/∂z = λ_cls (p − onehot(k)).
/// - L_prior = ½ · 0.01 · [(σ(t_x) − ½)² + (σ(t_y) − ½)² + t_w² + t_h²] over all anchors while
///   fewer than `warmupImages` images have been seen: early on, it pulls every prediction to
///   its anchor's shape at the cell's centre.
///
/// Each term is summed over the image; the batch loss is the mean over images.
public struct RegionLoss: Sendable {
    public var settings: RegionLossSettings
    public var layout: HeadLayout
    /// Weight of the warm-up prior (darknet's `.01`).
    public static let priorScale: Float = 0.01

    public init(settings: RegionLossSettings, layout: HeadLayout) {
        self.settings = settings; self.layout = layout
    }

    /// A ground-truth box and the anchor responsible for it.
    public struct Assignment: Hashable, Sendable {
        public var column: Int
        public var row: Int
        public var anchor: Int
        public var object: LabeledObject

        /// Targets for t_x, t_y (as σ values), t_w, t_h: the outputs that would decode exactly
        /// to the box.
        public func targets(layout: HeadLayout) -> (x: Float, y: Float, w: Float, h: Float) {
            let b = object.box
            let a = layout.anchors[anchor]
            return (b.centerX * Float(layout.gridWidth) - Float(column),
                    b.centerY * Float(layout.gridHeight) - Float(row),
                    Foundation.log(b.width * Float(layout.gridWidth) / a.width),
                    Foundation.log(b.height * Float(layout.gridHeight) / a.height))
        }
    }

    /// The anchor whose shape best matches a box of size (w, h) (normalised), both centred.
    public func bestAnchor(width: Float, height: Float) -> Int {
        let w = width * Float(layout.gridWidth), h = height * Float(layout.gridHeight)
        var best = 0, bestIoU: Float = -1
        for (k, a) in layout.anchors.enumerated() {
            let inter = min(w, a.width) * min(h, a.height)
            let iou = inter / (w * h + a.width * a.height - inter)
            if iou > bestIoU { bestIoU = iou; best = k }
        }
        return best
    }

    /// Responsible anchors for one image's boxes, in label order; a later box on the same cell
    /// and anchor replaces the earlier one. Boxes of zero size are skipped.
    public func assignments(for objects: [LabeledObject]) -> [Assignment] {
        var result: [Assignment] = []
        for object in objects where object.box.width > 0 && object.box.height > 0 {
            let column = min(max(Int((object.box.centerX * Float(layout.gridWidth)).rounded(.down)), 0), layout.gridWidth - 1)
            let row = min(max(Int((object.box.centerY * Float(layout.gridHeight)).rounded(.down)), 0), layout.gridHeight - 1)
            let anchor = bestAnchor(width: object.box.width, height: object.box.height)
            let assignment = Assignment(column: column, row: row, anchor: anchor, object: object)
            if let k = result.firstIndex(where: { $0.column == column && $0.row == row && $0.anchor == anchor }) {
                result.remove(at: k)
            }
            result.append(assignment)
        }
        return result
    }

    /// The decoded box of one anchor.
    @inline(__always)
    func decodedBox(_ v: UnsafeBufferPointer<Float>, column: Int, row: Int, anchor: Int) -> BoundingBox {
        let o = layout.offset(column: column, row: row, anchor: anchor)
        let a = layout.anchors[anchor]
        return BoundingBox(centerX: (Float(column) + sigmoid(v[o])) / Float(layout.gridWidth),
                           centerY: (Float(row) + sigmoid(v[o + 1])) / Float(layout.gridHeight),
                           width: a.width * cappedExp(v[o + 2]) / Float(layout.gridWidth),
                           height: a.height * cappedExp(v[o + 3]) / Float(layout.gridHeight))
    }

    private func newTerm() -> LossTerm { LossTerm(value: 0, gradient: [Float](repeating: 0, count: layout.valuesPerImage)) }

    // MARK: Components (one image each)

    public func coordinateTerm(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment]) -> LossTerm {
        var term = newTerm()
        for a in assignments {
            let o = layout.offset(column: a.column, row: a.row, anchor: a.anchor)
            let t = a.targets(layout: layout)
            let scale = settings.coordScale * (2 - a.object.box.width * a.object.box.height)
            let sx = sigmoid(values[o]), sy = sigmoid(values[o + 1])
            let dx = sx - t.x, dy = sy - t.y, dw = values[o + 2] - t.w, dh = values[o + 3] - t.h
            term.value += 0.5 * scale * (dx * dx + dy * dy + dw * dw + dh * dh)
            term.gradient[o] += scale * dx * sx * (1 - sx)
            term.gradient[o + 1] += scale * dy * sy * (1 - sy)
            term.gradient[o + 2] += scale * dw
            term.gradient[o + 3] += scale * dh
        }
        return term
    }

    /// IoU* of each assignment's decoded prediction with its box (the objectness target with
    /// rescore), held constant: no gradient flows through it.
    public func objectnessTargets(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment]) -> [Float] {
        assignments.map { a in
            settings.rescore ? decodedBox(values, column: a.column, row: a.row, anchor: a.anchor).iou(with: a.object.box) : 1
        }
    }

    public func objectnessTerm(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment], targets: [Float]) -> LossTerm {
        var term = newTerm()
        for (a, target) in zip(assignments, targets) {
            let o = layout.offset(column: a.column, row: a.row, anchor: a.anchor) + 4
            let s = sigmoid(values[o])
            term.value += 0.5 * settings.objectScale * (s - target) * (s - target)
            term.gradient[o] += settings.objectScale * (s - target) * s * (1 - s)
        }
        return term
    }

    /// Which anchors the no-object term skips: the responsible ones, and those whose decoded box
    /// overlaps some ground truth by IoU > the ignore threshold. Held constant like IoU*.
    public func noObjectMask(_ values: UnsafeBufferPointer<Float>, objects: [LabeledObject], assignments: [Assignment]) -> [Bool] {
        let anchors = layout.anchors.count
        var skip = [Bool](repeating: false, count: layout.gridWidth * layout.gridHeight * anchors)
        for row in 0..<layout.gridHeight {
            for column in 0..<layout.gridWidth {
                for a in 0..<anchors {
                    let box = decodedBox(values, column: column, row: row, anchor: a)
                    var best: Float = 0
                    for object in objects { best = max(best, box.iou(with: object.box)) }
                    if best > settings.ignoreThreshold { skip[(row * layout.gridWidth + column) * anchors + a] = true }
                }
            }
        }
        for a in assignments { skip[(a.row * layout.gridWidth + a.column) * anchors + a.anchor] = true }
        return skip
    }

    public func noObjectTerm(_ values: UnsafeBufferPointer<Float>, skip: [Bool]) -> LossTerm {
        var term = newTerm()
        for k in skip.indices where !skip[k] {
            let o = k * layout.valuesPerAnchor + 4
            let s = sigmoid(values[o])
            term.value += 0.5 * settings.noObjectScale * s * s
            term.gradient[o] += settings.noObjectScale * s * s * (1 - s)
        }
        return term
    }

    public func classTerm(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment]) -> LossTerm {
        var term = newTerm()
        let c = layout.classCount
        var p = [Float](repeating: 0, count: c)
        for a in assignments {
            let o = layout.offset(column: a.column, row: a.row, anchor: a.anchor) + 5
            p.withUnsafeMutableBufferPointer { softmax(UnsafeBufferPointer(rebasing: values[o..<(o + c)]), into: $0) }
            let k = a.object.classIndex
            term.value += settings.classScale * -Foundation.log(max(p[k], Float.leastNormalMagnitude))
            for m in 0..<c { term.gradient[o + m] += settings.classScale * (p[m] - (m == k ? 1 : 0)) }
        }
        return term
    }

    /// The warm-up prior over all anchors; zero once `imagesSeen` reaches the warm-up length.
    public func priorTerm(_ values: UnsafeBufferPointer<Float>, imagesSeen: Int) -> LossTerm {
        var term = newTerm()
        guard imagesSeen < settings.warmupImages else { return term }
        let scale = RegionLoss.priorScale
        for k in 0..<(layout.gridWidth * layout.gridHeight * layout.anchors.count) {
            let o = k * layout.valuesPerAnchor
            let sx = sigmoid(values[o]), sy = sigmoid(values[o + 1])
            let tw = values[o + 2], th = values[o + 3]
            term.value += 0.5 * scale * ((sx - 0.5) * (sx - 0.5) + (sy - 0.5) * (sy - 0.5) + tw * tw + th * th)
            term.gradient[o] += scale * (sx - 0.5) * sx * (1 - sx)
            term.gradient[o + 1] += scale * (sy - 0.5) * sy * (1 - sy)
            term.gradient[o + 2] += scale * tw
            term.gradient[o + 3] += scale * th
        }
        return term
    }

    /// Every component of one image, their gradients summed into `gradient` (accumulated, times
    /// `gradientScale`), and the statistics' raw sums.
    public func image(_ values: UnsafeBufferPointer<Float>, objects: [LabeledObject], imagesSeen: Int,
                      gradient: UnsafeMutableBufferPointer<Float>, gradientScale: Float = 1)
        -> (components: LossComponents, statistics: LossStatistics) {
        let assigned = assignments(for: objects)
        let targets = objectnessTargets(values, assignments: assigned)
        let skip = noObjectMask(values, objects: objects, assignments: assigned)
        let terms = [coordinateTerm(values, assignments: assigned),
                     objectnessTerm(values, assignments: assigned, targets: targets),
                     noObjectTerm(values, skip: skip),
                     classTerm(values, assignments: assigned),
                     priorTerm(values, imagesSeen: imagesSeen)]
        for term in terms {
            for k in 0..<gradient.count { gradient[k] += gradientScale * term.gradient[k] }
        }
        var components = LossComponents()
        components.coordinates = terms[0].value; components.objectness = terms[1].value
        components.noObject = terms[2].value; components.classification = terms[3].value
        components.prior = terms[4].value
        // Statistics as sums; `callAsFunction` turns them into means.
        var stats = LossStatistics()
        stats.count = assigned.count
        for a in assigned {
            let o = layout.offset(column: a.column, row: a.row, anchor: a.anchor)
            let iou = decodedBox(values, column: a.column, row: a.row, anchor: a.anchor).iou(with: a.object.box)
            stats.averageIoU += iou
            if iou > 0.5 { stats.recall50 += 1 }
            stats.averageObjectness += sigmoid(values[o + 4])
            let p = softmax(Array(values[(o + 5)..<(o + 5 + layout.classCount)]))
            stats.averageClassProbability += p[a.object.classIndex]
        }
        for k in 0..<(layout.gridWidth * layout.gridHeight * layout.anchors.count) {
            stats.averageAnyObjectness += sigmoid(values[k * layout.valuesPerAnchor + 4])
        }
        return (components, stats)
    }

    /// The loss of a batch: `output` [N, gridH, gridW, anchors·(5 + C)], `targets[n]` the boxes
    /// of image n (normalised to the network input), `imagesSeen` before this batch.
    public func callAsFunction(output: Tensor, targets: [[LabeledObject]], imagesSeen: Int) -> RegionLossResult {
        let batch = output.shape[0]
        precondition(output.count == batch * layout.valuesPerImage, "output \(output.shape) does not match the head layout")
        precondition(targets.count == batch, "\(targets.count) target lists for a batch of \(batch)")
        var gradient = Tensor(zeros: output.shape)
        var components = LossComponents()
        var sums = LossStatistics()
        let per = layout.valuesPerImage
        output.data.withUnsafeBufferPointer { all in
            gradient.data.withUnsafeMutableBufferPointer { g in
                for n in 0..<batch {
                    let values = UnsafeBufferPointer(rebasing: all[(n * per)..<((n + 1) * per)])
                    let grad = UnsafeMutableBufferPointer(rebasing: g[(n * per)..<((n + 1) * per)])
                    let (c, s) = image(values, objects: targets[n], imagesSeen: imagesSeen + n,
                                       gradient: grad, gradientScale: 1 / Float(batch))
                    components = components + c
                    sums.count += s.count
                    sums.averageIoU += s.averageIoU; sums.recall50 += s.recall50
                    sums.averageObjectness += s.averageObjectness
                    sums.averageClassProbability += s.averageClassProbability
                    sums.averageAnyObjectness += s.averageAnyObjectness
                }
            }
        }
        var stats = sums
        let n = Float(max(sums.count, 1))
        stats.averageIoU /= n; stats.recall50 /= n; stats.averageObjectness /= n; stats.averageClassProbability /= n
        stats.averageAnyObjectness /= Float(batch * layout.gridWidth * layout.gridHeight * layout.anchors.count)
        return RegionLossResult(components: components.scaled(by: 1 / Float(batch)), gradient: gradient, statistics: stats)
    }
}
