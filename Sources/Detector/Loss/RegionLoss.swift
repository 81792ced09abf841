import Foundation

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

/// darknet's per-step report ("Region Avg IOU: …, Class: …, Obj: …, No Obj: …, Avg Recall: …,
/// count: …"): how well the responsible predictions fit their boxes.
public struct LossStatistics: Hashable, Sendable, Codable {
    /// Mean IoU of each responsible prediction with its ground-truth box ("Avg IOU").
    public var averageIoU: Float = 0
    /// Fraction of assigned ground-truth boxes whose responsible prediction has IoU > 0.5
    /// ("Avg Recall").
    public var recall50: Float = 0
    /// Mean σ(t_o) on responsible anchors ("Obj").
    public var averageObjectness: Float = 0
    /// Mean σ(t_o) on all anchors ("No Obj").
    public var averageAnyObjectness: Float = 0
    /// Mean probability given to the right class on responsible anchors ("Class").
    public var averageClassProbability: Float = 0
    /// Responsible anchors: ground-truth boxes assigned (after replacement on shared anchors;
    /// darknet counts the replaced ones too), or, with `.multi` assignment, one per responsible
    /// anchor (a box with two anchors counts twice; the other statistics are per anchor too).
    public var count: Int = 0
    public init() {}

    /// Sums of two sets of statistics (the means summed, the counts added): with `scaled(by:)`,
    /// an epoch's image-weighted sums, Σ_batches images · mean.
    public static func + (a: LossStatistics, b: LossStatistics) -> LossStatistics {
        var c = LossStatistics()
        c.averageIoU = a.averageIoU + b.averageIoU; c.recall50 = a.recall50 + b.recall50
        c.averageObjectness = a.averageObjectness + b.averageObjectness
        c.averageAnyObjectness = a.averageAnyObjectness + b.averageAnyObjectness
        c.averageClassProbability = a.averageClassProbability + b.averageClassProbability
        c.count = a.count + b.count
        return c
    }

    /// Every mean times `s`; `count` (boxes, not a mean) unchanged.
    public func scaled(by s: Float) -> LossStatistics {
        var c = self
        c.averageIoU *= s; c.recall50 *= s; c.averageObjectness *= s; c.averageAnyObjectness *= s
        c.averageClassProbability *= s
        return c
    }

    /// Every mean divided by `n` (sums back to means); `count` unchanged. A division, not
    /// `scaled(by: 1 / n)`: x / n and x · (1/n) can differ in the last bit.
    public func divided(by n: Float) -> LossStatistics {
        var c = self
        c.averageIoU /= n; c.recall50 /= n; c.averageObjectness /= n; c.averageAnyObjectness /= n
        c.averageClassProbability /= n
        return c
    }
}

public struct RegionLossResult: Sendable {
    /// Every component, each summed over an image and averaged over the batch.
    public var components: LossComponents
    /// The loss that is optimised: the sum of the components.
    public var total: Float { components.total }
    /// ∂total/∂(head output): same shape as the output, already divided by the batch size.
    public var gradient: Tensor
    public var statistics: LossStatistics
}

/// The YOLOv2 region loss (Redmon & Farhadi 2016; darknet's `region_layer.c`), in components.
///
/// Grid W x H, anchors (p_w, p_h) in cell units, raw outputs t_x, t_y, t_w, t_h, t_o, z per cell
/// (i = column, j = row) and anchor, in the order of `HeadLayout`; decoded box
/// b = ((i + σ(t_x))/W, (j + σ(t_y))/H, p_w e^{t_w}/W, p_h e^{t_h}/H) (`HeadLayout.decodedBox`,
/// the decoder's own, e^{t_w} capped at e^{10}; it only feeds IoU*, the ignore mask and the
/// statistics, never a gradient). Ground truth: normalised
/// centre boxes (x, y, w, h) with class k.
///
/// - Assignment: each box goes to cell (⌊xW⌋, ⌊yH⌋), clamped to the grid (so x = 1.0 lands in
///   the last column), and to the anchor whose shape has the best IoU with the box's shape, both
///   centred at the origin (the first such anchor on ties, as darknet's `bias_match`). A later
///   box of the label list on the same cell and anchor replaces the earlier one: darknet
///   assigns (not adds) the deltas of that anchor, so the last box wins there too. With
///   `assignment` `.multi`, every other anchor of the cell whose shape IoU with the box is above
///   `multiAnchorThreshold` is responsible for it as well (`responsibleAnchors`); each
///   responsible anchor has the coordinate, objectness and class terms below, with the targets
///   of its own prior.
/// - L_coord = ½ λ_coord (2 − wh) [(σ(t_x) − (xW − i))² + (σ(t_y) − (yH − j))²
///   + (t_w − ln(wW/p_w))² + (t_h − ln(hH/p_h))²] over responsible anchors. The (2 − wh) factor
///   (between 1 and 2) weighs small boxes up.
/// - L_obj = ½ λ_obj (σ(t_o) − IoU*)² over responsible anchors; IoU* is the IoU of the decoded
///   prediction with its box, a constant (no gradient flows into t_x…t_h through it); with
///   `rescore` off the target is 1. With `objectnessLoss` `.crossEntropy` this term and the
///   no-object term are binary cross-entropies on the logit instead (see
///   `objectnessCrossEntropyTerm`).
/// - L_noobj = ½ λ_noobj σ(t_o)² over every non-responsible anchor whose decoded box has best
///   IoU with all boxes of the image at most the ignore threshold: IoU > threshold is ignored,
///   IoU = threshold still counts (darknet: `if (best_iou > l.thresh) delta = 0`). The mask is a
///   constant like IoU*.
/// - L_cls = λ_cls · (−ln softmax(z)_k) over responsible anchors; ∂/∂z = λ_cls (p − onehot(k)).
/// - L_prior = ½ · 0.01 · [(σ(t_x) − ½)² + (σ(t_y) − ½)² + t_w² + t_h²] over all anchors
///   (responsible ones included, so their coordinate and prior terms add up; in darknet the
///   responsible anchor's coordinate delta overwrites its prior delta) while fewer than
///   `warmupImages` images have
///   been seen before the batch: early on it pulls every prediction to its anchor's shape at
///   the cell centre.
///
/// Each term is summed over the image; the batch loss is the mean over the images. The
/// gradients are true derivatives ∂L/∂t (σ′ included), not darknet's negative deltas.
///
/// Ground-truth boxes that cannot be placed (a non-finite coordinate, zero or negative size, a
/// class outside 0..<classCount) are skipped, for the assignment and for the ignore mask alike.
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

        public init(column: Int, row: Int, anchor: Int, object: LabeledObject) {
            self.column = column; self.row = row; self.anchor = anchor; self.object = object
        }

        /// Targets for σ(t_x), σ(t_y), t_w, t_h: the outputs that decode exactly to the box,
        /// (xW − i, yH − j, ln(wW/p_w), ln(hH/p_h)).
        public func targets(layout: HeadLayout) -> (x: Float, y: Float, w: Float, h: Float) {
            let b = object.box
            let a = layout.anchors[anchor]
            return (b.centerX * Float(layout.gridWidth) - Float(column),
                    b.centerY * Float(layout.gridHeight) - Float(row),
                    Foundation.log(b.width * Float(layout.gridWidth) / a.width),
                    Foundation.log(b.height * Float(layout.gridHeight) / a.height))
        }
    }

    /// Anchors of one image (cells · anchors).
    var anchorsPerImage: Int { layout.gridWidth * layout.gridHeight * layout.anchors.count }

    /// Index of (column, row, anchor) among an image's anchors (`offset / valuesPerAnchor`).
    @inline(__always)
    public func anchorIndex(column: Int, row: Int, anchor: Int) -> Int {
        (row * layout.gridWidth + column) * layout.anchors.count + anchor
    }

    /// Whether a ground-truth object can take part in the loss (see the type's documentation).
    public func isUsable(_ object: LabeledObject) -> Bool {
        let b = object.box
        return b.isFinite && b.width > 0 && b.height > 0 && (0..<layout.classCount).contains(object.classIndex)
    }

    /// The anchor whose shape best matches a box of size (w, h) (normalised), both centred at
    /// the origin: argmax_a min(wW, p_w)·min(hH, p_h) / (wW·hH + p_w p_h − intersection); the
    /// first anchor on ties.
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

    /// IoU of a box of size (w, h) (normalised) with anchor `anchor`'s shape, both centred at the
    /// origin: min(wW, p_w)·min(hH, p_h) / (wW·hH + p_w p_h − intersection) (the quantity
    /// `bestAnchor` maximises).
    public func anchorShapeIoU(width: Float, height: Float, anchor: Int) -> Float {
        let w = width * Float(layout.gridWidth), h = height * Float(layout.gridHeight)
        let a = layout.anchors[anchor]
        let inter = min(w, a.width) * min(h, a.height)
        return inter / (w * h + a.width * a.height - inter)
    }

    /// The anchors responsible for a box of size (w, h) (normalised), best first:
    /// - `.best` (darknet): [`bestAnchor`];
    /// - `.multi` (YOLOv3+): the best anchor, then, in anchor order, every other anchor whose
    ///   shape IoU with the box (`anchorShapeIoU`) is above `settings.multiAnchorThreshold`
    ///   (strictly: IoU equal to the threshold is not enough). The best anchor is always in,
    ///   even when its own IoU is below the threshold, so no usable box goes unassigned.
    public func responsibleAnchors(width: Float, height: Float) -> [Int] {
        let best = bestAnchor(width: width, height: height)
        guard settings.assignment == .multi else { return [best] }
        var anchors = [best]
        for k in layout.anchors.indices where k != best
            && anchorShapeIoU(width: width, height: height, anchor: k) > settings.multiAnchorThreshold {
            anchors.append(k)
        }
        return anchors
    }

    /// Responsible anchors for one image's boxes, in label order of the surviving boxes (and,
    /// for one box, in the order of `responsibleAnchors`); a later assignment on the same cell
    /// and anchor replaces the earlier one (it takes the earlier one's place at the end of the
    /// list), whichever box it came from and whether or not it was that box's best anchor:
    /// darknet overwrites deltas the same way. Unusable boxes are skipped.
    public func assignments(for objects: [LabeledObject]) -> [Assignment] {
        var result: [Assignment] = []
        for object in objects where isUsable(object) {
            // ⌊xW⌋ clamped: x = 1.0 (a box touching the right edge) belongs to the last column.
            let x = (object.box.centerX * Float(layout.gridWidth)).rounded(.down)
            let y = (object.box.centerY * Float(layout.gridHeight)).rounded(.down)
            let column = Int(min(max(x, 0), Float(layout.gridWidth - 1)))
            let row = Int(min(max(y, 0), Float(layout.gridHeight - 1)))
            for anchor in responsibleAnchors(width: object.box.width, height: object.box.height) {
                result.removeAll { $0.column == column && $0.row == row && $0.anchor == anchor }
                result.append(Assignment(column: column, row: row, anchor: anchor, object: object))
            }
        }
        return result
    }

    // MARK: One image, every component

    /// Every component of one image: their gradients are added into `gradient` (same layout as
    /// `values`), each multiplied by `gradientScale`; returns the unscaled values and the
    /// statistics' raw sums (IoU, recall, objectness and class probability summed over the
    /// assignments, any-objectness summed over all anchors).
    public func accumulateImage(_ values: UnsafeBufferPointer<Float>, objects: [LabeledObject], imagesSeen: Int,
                                into gradient: UnsafeMutableBufferPointer<Float>, gradientScale: Float = 1)
        -> (components: LossComponents, statistics: LossStatistics) {
        precondition(values.count == layout.valuesPerImage && gradient.count == layout.valuesPerImage,
                     "one image's head has \(layout.valuesPerImage) values, got \(values.count) and \(gradient.count)")
        let usable = objects.filter(isUsable)
        let assigned = assignments(for: usable)
        let ious = predictionIoUs(values, assignments: assigned)
        let targets = settings.rescore ? ious : [Float](repeating: 1, count: assigned.count)
        let skip = noObjectMask(values, objects: usable, assignments: assigned)

        var components = LossComponents()
        components.coordinates = accumulateCoordinates(values, assignments: assigned, into: gradient, scale: gradientScale)
        components.objectness = accumulateObjectness(values, assignments: assigned, targets: targets, as: settings.objectnessLoss,
                                                     into: gradient, scale: gradientScale)
        components.noObject = accumulateNoObject(values, skip: skip, as: settings.objectnessLoss, into: gradient, scale: gradientScale)
        components.classification = accumulateClasses(values, assignments: assigned, into: gradient, scale: gradientScale)
        components.prior = accumulatePrior(values, imagesSeen: imagesSeen, into: gradient, scale: gradientScale)

        var stats = LossStatistics()
        stats.count = assigned.count
        let c = layout.classCount
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(c, 1)) { p in
            for (a, iou) in zip(assigned, ious) {
                let o = layout.offset(column: a.column, row: a.row, anchor: a.anchor)
                stats.averageIoU += iou
                if iou > 0.5 { stats.recall50 += 1 }
                stats.averageObjectness += sigmoid(values[o + 4])
                softmax(UnsafeBufferPointer(rebasing: values[(o + 5)..<(o + 5 + c)]), into: p)
                stats.averageClassProbability += p[a.object.classIndex]
            }
        }
        for k in 0..<anchorsPerImage {
            stats.averageAnyObjectness += sigmoid(values[k * layout.valuesPerAnchor + 4])
        }
        return (components, stats)
    }

    // MARK: A batch

    /// The loss of a batch held in memory the way the network writes it: `output` holds `batch`
    /// images of `layout.valuesPerImage` values; the gradient of the batch mean is added into
    /// `gradient` (same size). `imagesSeen` counts the images trained on before this batch; the
    /// warm-up prior is on for the whole batch while it is below `settings.warmupImages`.
    /// Returns the components (batch means) and the statistics (means).
    public func accumulate(output: UnsafeBufferPointer<Float>, batch: Int, targets: [[LabeledObject]], imagesSeen: Int,
                           into gradient: UnsafeMutableBufferPointer<Float>) -> (components: LossComponents, statistics: LossStatistics) {
        let per = layout.valuesPerImage
        precondition(output.count == batch * per && gradient.count == batch * per,
                     "\(output.count) outputs for \(batch) images of \(per) values")
        precondition(targets.count == batch, "\(targets.count) target lists for a batch of \(batch)")
        var components = LossComponents()
        var sums = LossStatistics()
        let scale = 1 / Float(max(batch, 1))
        for n in 0..<batch {
            let values = UnsafeBufferPointer(rebasing: output[(n * per)..<((n + 1) * per)])
            let grad = UnsafeMutableBufferPointer(rebasing: gradient[(n * per)..<((n + 1) * per)])
            let (c, s) = accumulateImage(values, objects: targets[n], imagesSeen: imagesSeen, into: grad, gradientScale: scale)
            components = components + c
            sums.count += s.count
            sums.averageIoU += s.averageIoU; sums.recall50 += s.recall50
            sums.averageObjectness += s.averageObjectness
            sums.averageClassProbability += s.averageClassProbability
            sums.averageAnyObjectness += s.averageAnyObjectness
        }
        var stats = sums
        let assigned = Float(max(sums.count, 1))
        stats.averageIoU /= assigned; stats.recall50 /= assigned
        stats.averageObjectness /= assigned; stats.averageClassProbability /= assigned
        stats.averageAnyObjectness /= Float(max(batch * anchorsPerImage, 1))
        return (components.scaled(by: scale), stats)
    }

    /// The loss of a batch: `output` [N, gridH, gridW, anchors·(5 + C)], `targets[n]` the boxes
    /// of image n (normalised to the network input), `imagesSeen` before this batch.
    public func callAsFunction(output: Tensor, targets: [[LabeledObject]], imagesSeen: Int) -> RegionLossResult {
        let batch = output.shape.first ?? 0
        precondition(output.shape == [batch, layout.gridHeight, layout.gridWidth, layout.channels],
                     "output \(output.shape) does not match the head layout [N, \(layout.gridHeight), \(layout.gridWidth), \(layout.channels)]")
        var gradient = Tensor(zeros: output.shape)
        let (components, statistics) = output.data.withUnsafeBufferPointer { all in
            gradient.data.withUnsafeMutableBufferPointer { g in
                accumulate(output: all, batch: batch, targets: targets, imagesSeen: imagesSeen, into: g)
            }
        }
        return RegionLossResult(components: components, gradient: gradient, statistics: statistics)
    }
}

/// softplus(x) = ln(1 + e^x) = max(x, 0) + ln(1 + e^{−|x|}) (the binary cross-entropy of a
/// logit against target 0): finite for any finite x, and exact to rounding for large |x| (x
/// itself, or e^x).
@inline(__always)
func softplus(_ x: Float) -> Float { max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x))) }
