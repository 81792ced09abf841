/// One image's detections and ground truth, boxes in the same units (pixels, or normalised).
public struct EvaluationImage: Sendable {
    public var detections: [Detection]
    public var groundTruth: [LabeledObject]
    public init(detections: [Detection], groundTruth: [LabeledObject]) {
        self.detections = detections; self.groundTruth = groundTruth
    }
}

public struct EvaluationResult: Sendable, Codable {
    /// Mean over classes (with ground truth) of AP at IoU 0.5.
    public var mAP50: Float
    /// COCO's mAP@[.5:.95]: the mean of mAP over IoU thresholds 0.50, 0.55, ..., 0.95.
    public var mAP50to95: Float
    /// Per class; nil for a class without ground truth (left out of the means, as COCO does).
    public var perClassAP50: [Float?]
    public var perClassAP50to95: [Float?]
    /// Of all given detections at IoU 0.5: TP / (TP + FP) and TP / ground truths.
    public var precision: Float
    public var recall: Float
    public var groundTruthCount: Int
    public var detectionCount: Int
}

/// The IoU thresholds of COCO's mAP@[.5:.95], computed as pycocotools' `np.linspace(.5, .95, 10)`
/// does in double precision (i · step + 0.5, the last exactly 0.95), because a box whose IoU
/// lands exactly on a threshold (0.6, say) counts or not by the last bit.
public let cocoIoUThresholds: [Double] = (0..<10).map { (i: Int) -> Double in
    let step: Double = (0.95 - 0.5) / 9
    return i == 9 ? 0.95 : Double(i) * step + 0.5
}

/// IoU in double precision, as pycocotools computes it.
func preciseIoU(_ a: BoundingBox, _ b: BoundingBox) -> Double {
    let iw = min(Double(a.x2), Double(b.x2)) - max(Double(a.x1), Double(b.x1))
    let ih = min(Double(a.y2), Double(b.y2)) - max(Double(a.y1), Double(b.y1))
    guard iw > 0, ih > 0 else { return 0 }
    let areaA = (Double(a.x2) - Double(a.x1)) * (Double(a.y2) - Double(a.y1))
    let areaB = (Double(b.x2) - Double(b.x1)) * (Double(b.y2) - Double(b.y1))
    let inter = iw * ih
    return inter / (areaA + areaB - inter)
}

/// Average precision as pycocotools' COCOeval computes it (area "all", every detection given):
/// per class, detections sorted by score (stable: ties keep image order), each matched to the
/// unmatched ground truth of its image with the highest IoU ≥ the threshold; precision made
/// monotone from the right, then read at the 101 recall points 0, 0.01, ..., 1 (0 where the
/// recall is never reached), and averaged.
public func evaluate(_ images: [EvaluationImage], classCount: Int) -> EvaluationResult {
    var perThreshold: [[Float?]] = []
    var tpAt50 = 0
    for threshold in cocoIoUThresholds {
        var aps: [Float?] = []
        for c in 0..<classCount {
            let (ap, tp) = averagePrecision(images, classIndex: c, iouThreshold: threshold)
            aps.append(ap)
            if threshold == 0.5 { tpAt50 += tp }
        }
        perThreshold.append(aps)
    }
    func mean(_ values: [Float?]) -> Float {
        let present = values.compactMap { $0 }
        return present.isEmpty ? 0 : present.reduce(0, +) / Float(present.count)
    }
    let perClass50to95: [Float?] = (0..<classCount).map { c in
        perThreshold[0][c] == nil ? nil : mean(perThreshold.map { $0[c] })
    }
    let gtCount = images.reduce(0) { $0 + $1.groundTruth.count }
    let detCount = images.reduce(0) { $0 + $1.detections.count }
    return EvaluationResult(mAP50: mean(perThreshold[0]), mAP50to95: mean(perThreshold.map { Optional(mean($0)) }),
                            perClassAP50: perThreshold[0], perClassAP50to95: perClass50to95,
                            precision: detCount == 0 ? 0 : Float(tpAt50) / Float(detCount),
                            recall: gtCount == 0 ? 0 : Float(tpAt50) / Float(gtCount),
                            groundTruthCount: gtCount, detectionCount: detCount)
}

/// AP of one class at one IoU threshold (nil without ground truth) and its true positives.
func averagePrecision(_ images: [EvaluationImage], classIndex c: Int, iouThreshold: Double) -> (Float?, Int) {
    var scored: [(score: Float, image: Int, box: BoundingBox)] = []
    var truths: [[BoundingBox]] = []
    var total = 0
    for (i, image) in images.enumerated() {
        // pycocotools sorts each image's detections by score first (stable), then all of them.
        let mine = image.detections.enumerated().filter { $0.element.classIndex == c }
            .sorted { $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset }
        scored += mine.map { (score: $0.element.score, image: i, box: $0.element.box) }
        let gt = image.groundTruth.filter { $0.classIndex == c }.map(\.box)
        truths.append(gt)
        total += gt.count
    }
    guard total > 0 else { return (nil, 0) }
    let order = scored.indices.sorted { scored[$0].score != scored[$1].score ? scored[$0].score > scored[$1].score : $0 < $1 }
    var matched = truths.map { [Bool](repeating: false, count: $0.count) }
    var tp = 0, fp = 0
    var precision: [Float] = [], recall: [Double] = []
    for k in order {
        let d = scored[k]
        var best = -1
        var bestIoU = min(iouThreshold, 1 - 1e-10)
        for (g, truth) in truths[d.image].enumerated() where !matched[d.image][g] {
            let iou = preciseIoU(d.box, truth)
            if iou >= bestIoU { bestIoU = iou; best = g }
        }
        if best >= 0 { matched[d.image][best] = true; tp += 1 } else { fp += 1 }
        precision.append(Float(tp) / Float(tp + fp))
        recall.append(Double(tp) / Double(total))
    }
    // Monotone precision envelope, from the right.
    if precision.count > 1 {
        for i in stride(from: precision.count - 2, through: 0, by: -1) { precision[i] = max(precision[i], precision[i + 1]) }
    }
    var sum: Float = 0
    for r in 0...100 {
        // numpy.linspace(0, 1, 101) computes each point as i · 0.01 in double precision, and
        // the boundary cases (recall exactly 0.3, say) depend on it.
        let target = Double(r) * 0.01
        // First index whose recall reaches the target (numpy searchsorted, side "left").
        var lo = 0, hi = recall.count
        while lo < hi { let mid = (lo + hi) / 2; if recall[mid] < target { lo = mid + 1 } else { hi = mid } }
        if lo < precision.count { sum += precision[lo] }
    }
    return (sum / 101, tp)
}
