import Foundation

/// The logistic function 1 / (1 + e^{-x}), safe for any finite or infinite x: for negative x it
/// is computed as e^x / (1 + e^x), so e^{-x} never overflows.
@inline(__always)
public func sigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
    let e = Foundation.exp(x)
    return e / (1 + e)
}

/// e^{min(x, cap)}: a wild t_w or t_h (an untrained or diverging network) decodes to a huge but
/// finite box (e^10 ≈ 22026 anchor sizes) instead of +∞, whose corners would be ±∞ and whose IoU
/// NaN. Float's e^x overflows above x ≈ 88.7; the cap of 10 also keeps w · h finite. Large
/// negative x underflows to 0 (an empty box), which is harmless.
@inline(__always)
public func cappedExp(_ x: Float, cap: Float = 10) -> Float { Foundation.exp(min(x, cap)) }

/// Softmax of `logits` into `probabilities` (same count): p_k = e^{z_k − m} / S with m = max z
/// and S = Σ_l e^{z_l − m}, which is softmax(z) exactly and cannot overflow (every exponent is
/// ≤ 0). Returns m and S, so a caller can also form −ln p_k = ln S − (z_k − m) (the loss's
/// cross-entropy) without a second pass; for an empty input nothing is written and (−∞, 0) is
/// returned. A logit equal to the maximum contributes exactly 1 (e^0, without computing
/// z_k − m), so infinite logits stay defined too: +∞ entries share the probability, and all −∞
/// gives the uniform distribution. The one softmax of the toolkit: the decoder's class
/// probabilities and the region loss's class term and statistics all come from it.
@discardableResult
public func softmax(_ logits: UnsafeBufferPointer<Float>,
                    into probabilities: UnsafeMutableBufferPointer<Float>) -> (largest: Float, sum: Float) {
    precondition(logits.count == probabilities.count, "softmax: \(logits.count) logits, \(probabilities.count) outputs")
    guard let largest = logits.max() else { return (-.infinity, 0) }
    var sum: Float = 0
    for k in logits.indices {
        let e = logits[k] == largest ? 1 : Foundation.exp(logits[k] - largest)
        probabilities[k] = e
        sum += e
    }
    for k in probabilities.indices { probabilities[k] /= sum }
    return (largest, sum)
}

public func softmax(_ logits: [Float]) -> [Float] {
    var out = [Float](repeating: 0, count: logits.count)
    logits.withUnsafeBufferPointer { l in out.withUnsafeMutableBufferPointer { _ = softmax(l, into: $0) } }
    return out
}

/// One anchor's prediction, decoded (YOLOv2, Redmon & Farhadi 2016, §2 "Direct location
/// prediction"):
///
///     b_x = (i + σ(t_x)) / W      b_w = p_w e^{t_w} / W
///     b_y = (j + σ(t_y)) / H      b_h = p_h e^{t_h} / H
///     objectness = σ(t_o)         P(class k | object) = softmax(z)_k
///
/// with (i, j) the cell's column and row, W x H the grid, (p_w, p_h) the anchor in cell units.
/// The box is in normalised [0, 1] network-input coordinates.
public struct DecodedPrediction: Hashable, Sendable {
    public var box: BoundingBox
    public var objectness: Float
    public var classProbabilities: [Float]
    public var column: Int
    public var row: Int
    public var anchor: Int

    public init(box: BoundingBox, objectness: Float, classProbabilities: [Float], column: Int, row: Int, anchor: Int) {
        self.box = box; self.objectness = objectness; self.classProbabilities = classProbabilities
        self.column = column; self.row = row; self.anchor = anchor
    }

    /// Class with the highest probability (the lowest index on ties).
    public var bestClass: Int {
        var best = 0
        for k in classProbabilities.indices where classProbabilities[k] > classProbabilities[best] { best = k }
        return best
    }

    /// objectness × P(class | object).
    public func score(of classIndex: Int) -> Float { objectness * classProbabilities[classIndex] }
}

extension HeadLayout {
    /// The box of anchor `anchor` in cell (`column`, `row`) of one image's head output `values`
    /// (`valuesPerImage` values), in normalised [0, 1] network-input coordinates:
    /// ((i + σ(t_x)) / W, (j + σ(t_y)) / H) the centre, (p_w e^{min(t_w, 10)} / W,
    /// p_h e^{min(t_h, 10)} / H) the size (see `cappedExp`: a wild output still gives a finite
    /// box). The one YOLO box decode of the toolkit: `decodePredictions` and the region loss
    /// (IoU*, the ignore mask, the statistics) both use it.
    @inline(__always)
    public func decodedBox(_ values: UnsafeBufferPointer<Float>, column: Int, row: Int, anchor: Int) -> BoundingBox {
        let o = offset(column: column, row: row, anchor: anchor)
        let gridW = Float(gridWidth), gridH = Float(gridHeight)
        return BoundingBox(centerX: (Float(column) + sigmoid(values[o])) / gridW,
                           centerY: (Float(row) + sigmoid(values[o + 1])) / gridH,
                           width: anchors[anchor].width * cappedExp(values[o + 2]) / gridW,
                           height: anchors[anchor].height * cappedExp(values[o + 3]) / gridH)
    }
}

/// Decodes every anchor of one image's head output (`layout.valuesPerImage` values, laid out as
/// `HeadLayout` documents), in memory order: row, column, anchor, so prediction
/// `(row · gridWidth + column) · anchors.count + anchor` is that anchor of that cell.
/// Every output is finite for finite input, however large (see `decodedBox`, `sigmoid`,
/// `softmax`). The count is checked by a precondition: the layout and the network's head both
/// come from one validated model config, so a mismatch is a programming error.
public func decodePredictions(_ values: UnsafeBufferPointer<Float>, layout: HeadLayout) -> [DecodedPrediction] {
    precondition(values.count == layout.valuesPerImage, "head output has \(values.count) values, layout expects \(layout.valuesPerImage)")
    var predictions: [DecodedPrediction] = []
    predictions.reserveCapacity(layout.gridWidth * layout.gridHeight * layout.anchors.count)
    var probabilities = [Float](repeating: 0, count: layout.classCount)
    for row in 0..<layout.gridHeight {
        for column in 0..<layout.gridWidth {
            for a in layout.anchors.indices {
                let o = layout.offset(column: column, row: row, anchor: a)
                let logits = UnsafeBufferPointer(rebasing: values[(o + 5)..<(o + 5 + layout.classCount)])
                probabilities.withUnsafeMutableBufferPointer { _ = softmax(logits, into: $0) }
                predictions.append(DecodedPrediction(
                    box: layout.decodedBox(values, column: column, row: row, anchor: a),
                    objectness: sigmoid(values[o + 4]), classProbabilities: probabilities,
                    column: column, row: row, anchor: a))
            }
        }
    }
    return predictions
}

public func decodePredictions(_ values: [Float], layout: HeadLayout) -> [DecodedPrediction] {
    values.withUnsafeBufferPointer { decodePredictions($0, layout: layout) }
}

/// Candidate detections scoring at least `scoreThreshold` (score = objectness × P(class)),
/// before NMS, in the predictions' order. By default each anchor proposes only its best class
/// (Ultralytics' `multi_label=False`: one box per anchor, so NMS per class cannot leave two
/// labels on one object from one anchor); with `allClasses` every class whose score passes is
/// proposed (darknet's `get_region_detections`, and Ultralytics' `multi_label=True`).
public func candidateDetections(_ predictions: [DecodedPrediction], scoreThreshold: Float,
                                allClasses: Bool = false) -> [Detection] {
    var out: [Detection] = []
    for p in predictions {
        if allClasses {
            for k in p.classProbabilities.indices where p.score(of: k) >= scoreThreshold {
                out.append(Detection(box: p.box, classIndex: k, score: p.score(of: k)))
            }
        } else {
            let k = p.bestClass
            let s = p.score(of: k)
            if s >= scoreThreshold { out.append(Detection(box: p.box, classIndex: k, score: s)) }
        }
    }
    return out
}
