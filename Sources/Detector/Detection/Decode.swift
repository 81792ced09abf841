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

/// Softmax of `logits` into `probabilities` (same count): p_k = e^{z_k − m} / Σ_l e^{z_l − m}
/// with m = max z, which is softmax(z) exactly and cannot overflow (every exponent is ≤ 0).
/// A logit equal to the maximum contributes exactly 1, so infinite logits stay defined too:
/// +∞ entries share the probability, and all −∞ gives the uniform distribution.
public func softmax(_ logits: UnsafeBufferPointer<Float>, into probabilities: UnsafeMutableBufferPointer<Float>) {
    precondition(logits.count == probabilities.count, "softmax: \(logits.count) logits, \(probabilities.count) outputs")
    guard let largest = logits.max() else { return }
    var sum: Float = 0
    for k in logits.indices {
        let e = logits[k] == largest ? 1 : Foundation.exp(logits[k] - largest)
        probabilities[k] = e
        sum += e
    }
    for k in probabilities.indices { probabilities[k] /= sum }
}

public func softmax(_ logits: [Float]) -> [Float] {
    var out = [Float](repeating: 0, count: logits.count)
    logits.withUnsafeBufferPointer { l in out.withUnsafeMutableBufferPointer { softmax(l, into: $0) } }
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

/// Decodes every anchor of one image's head output (`layout.valuesPerImage` values, laid out as
/// `HeadLayout` documents), in memory order: row, column, anchor, so prediction
/// `(row · gridWidth + column) · anchors.count + anchor` is that anchor of that cell.
/// Every output is finite for finite input, however large (see `sigmoid`, `cappedExp`,
/// `softmax`). The count is checked by a precondition: the layout and the network's head both
/// come from one validated model config, so a mismatch is a programming error.
public func decodePredictions(_ values: UnsafeBufferPointer<Float>, layout: HeadLayout) -> [DecodedPrediction] {
    precondition(values.count == layout.valuesPerImage, "head output has \(values.count) values, layout expects \(layout.valuesPerImage)")
    var predictions: [DecodedPrediction] = []
    predictions.reserveCapacity(layout.gridWidth * layout.gridHeight * layout.anchors.count)
    let gridW = Float(layout.gridWidth), gridH = Float(layout.gridHeight)
    var probabilities = [Float](repeating: 0, count: layout.classCount)
    for row in 0..<layout.gridHeight {
        for column in 0..<layout.gridWidth {
            for (a, anchor) in layout.anchors.enumerated() {
                let o = layout.offset(column: column, row: row, anchor: a)
                let cx = (Float(column) + sigmoid(values[o])) / gridW
                let cy = (Float(row) + sigmoid(values[o + 1])) / gridH
                let w = anchor.width * cappedExp(values[o + 2]) / gridW
                let h = anchor.height * cappedExp(values[o + 3]) / gridH
                let logits = UnsafeBufferPointer(rebasing: values[(o + 5)..<(o + 5 + layout.classCount)])
                probabilities.withUnsafeMutableBufferPointer { softmax(logits, into: $0) }
                predictions.append(DecodedPrediction(
                    box: BoundingBox(centerX: cx, centerY: cy, width: w, height: h),
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
