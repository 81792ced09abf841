/// One image's detections and ground truth, boxes in the same units (pixels, or normalised:
/// IoU does not depend on the unit as long as both use the same one).
public struct EvaluationImage: Sendable {
    public var detections: [Detection]
    public var groundTruth: [LabeledObject]
    public init(detections: [Detection], groundTruth: [LabeledObject]) {
        self.detections = detections; self.groundTruth = groundTruth
    }
}

/// Average precision and precision/recall of a set of images (see `evaluate`).
public struct EvaluationResult: Sendable, Codable {
    /// Mean over classes with ground truth of AP at IoU 0.5 (0 when no class has any).
    public var mAP50: Float
    /// COCO's mAP@[.5:.95]: the mean of mAP over the IoU thresholds 0.50, 0.55, ..., 0.95.
    public var mAP50to95: Float
    /// mAP at each of `cocoIoUThresholds` (element 0 is `mAP50`, element 5 is mAP@0.75).
    public var mAPByIoUThreshold: [Float]
    /// Per class; nil for a class without ground truth (left out of the means, as pycocotools
    /// leaves out its −1 entries), 0 for a class with ground truth and no detection.
    public var perClassAP50: [Float?]
    public var perClassAP50to95: [Float?]
    /// Precision TP / (TP + FP) and recall TP / ground truths at IoU 0.5, counting only the
    /// detections scoring at least `scoreThreshold` (0 when there is nothing to divide by).
    /// TP are the detections matched by the same greedy matching as the AP, so a duplicate
    /// of a found object is a false positive.
    public var precision: Float
    public var recall: Float
    public var scoreThreshold: Float
    public var truePositiveCount: Int
    /// Detections scoring at least `scoreThreshold` (TP + FP).
    public var thresholdedDetectionCount: Int
    /// All ground-truth objects and all detections given.
    public var groundTruthCount: Int
    public var detectionCount: Int

    /// COCO's AP75 (stats[2]).
    public var mAP75: Float { mAPByIoUThreshold[5] }
}

/// The IoU thresholds of COCO's mAP@[.5:.95], computed as pycocotools' `np.linspace(.5, .95, 10)`
/// does in double precision (i · step + 0.5 with step = (0.95 − 0.5) / 9, the last exactly
/// 0.95), because a box whose IoU lands exactly on a threshold counts or not by the last bit:
/// the 0.9 threshold is 0.8999999999999999, so an IoU of exactly 0.9 counts at it.
public let cocoIoUThresholds: [Double] = (0..<10).map { (i: Int) -> Double in
    let step: Double = (0.95 - 0.5) / 9
    return i == 9 ? 0.95 : Double(i) * step + 0.5
}

/// IoU in double precision with the operations of pycocotools' `bbIou` (maskApi.c): the
/// intersection's sides min(right) − max(left) with no +1, areas w · h, intersection / (sum of
/// areas − intersection); 0 when the boxes do not overlap. For integer pixel corners every
/// step is exact, so it agrees with pycocotools to the last bit.
func preciseIoU(_ a: BoundingBox, _ b: BoundingBox) -> Double {
    let iw = min(Double(a.x2), Double(b.x2)) - max(Double(a.x1), Double(b.x1))
    let ih = min(Double(a.y2), Double(b.y2)) - max(Double(a.y1), Double(b.y1))
    guard iw > 0, ih > 0 else { return 0 }
    let areaA = (Double(a.x2) - Double(a.x1)) * (Double(a.y2) - Double(a.y1))
    let areaB = (Double(b.x2) - Double(b.x1)) * (Double(b.y2) - Double(b.y1))
    let inter = iw * ih
    return inter / (areaA + areaB - inter)
}

/// COCO-style evaluation, as pycocotools' `COCOeval` (bbox, area range "all", no limit on the
/// detections per image: cap them beforehand, e.g. with NMS's `maximumDetections`, as COCO's
/// maxDets = 100 does) computes it. For each class c and IoU threshold t:
///
/// 1. each image's detections of class c are sorted by score, descending (stable), then all
///    images' lists are concatenated in image order and sorted again by score (stable), as
///    pycocotools' two mergesorts do;
/// 2. in that order, each detection is matched to the still unmatched ground truth of its image
///    and class with the highest IoU ≥ t (ties: the later ground truth); matched = TP, else FP;
/// 3. precision p_i = TP_i / i and recall r_i = TP_i / G after the i-th detection; precision is
///    made monotone decreasing from the right (p_i ← max_{j ≥ i} p_j);
/// 4. AP = (1/101) Σ_{r ∈ {0, 0.01, ..., 1}} p at the first i with r_i ≥ r (0 when no such i).
///
/// A class without ground truth has no AP (nil, left out of the means); one with ground truth
/// and no detection has AP 0. mAP@[.5:.95] is the mean over the 10 thresholds of the mean over
/// classes. Precision and recall (at IoU 0.5) count only detections scoring ≥ `scoreThreshold`;
/// AP always uses every detection. Detections of a class index outside 0 ..< classCount count
/// as false positives, ground truths of such a class as misses.
public func evaluate(_ images: [EvaluationImage], classCount: Int, scoreThreshold: Float = 0) -> EvaluationResult {
    var apByThreshold: [[Double?]] = []  // [threshold][class]
    var truePositives = 0
    for (t, threshold) in cocoIoUThresholds.enumerated() {
        var aps: [Double?] = []
        for c in 0..<max(0, classCount) {
            let matching = matchDetections(images, classIndex: c, iouThreshold: threshold)
            aps.append(matching.averagePrecision)
            if t == 0 {
                truePositives += zip(matching.scores, matching.isTruePositive)
                    .filter { $0.1 && $0.0 >= scoreThreshold }.count
            }
        }
        apByThreshold.append(aps)
    }
    func mean(_ values: [Double?]) -> Double? {
        let present = values.compactMap { $0 }
        return present.isEmpty ? nil : present.reduce(0, +) / Double(present.count)
    }
    let byThreshold = apByThreshold.map { mean($0) }
    let perClass50to95: [Float?] = (0..<max(0, classCount)).map { c in
        mean(apByThreshold.map { $0[c] }).map(Float.init)
    }
    let groundTruthCount = images.reduce(0) { $0 + $1.groundTruth.count }
    let detectionCount = images.reduce(0) { $0 + $1.detections.count }
    let thresholded = images.reduce(0) { $0 + $1.detections.filter { $0.score >= scoreThreshold }.count }
    return EvaluationResult(
        mAP50: Float(byThreshold[0] ?? 0),
        mAP50to95: Float(mean(byThreshold) ?? 0),
        mAPByIoUThreshold: byThreshold.map { Float($0 ?? 0) },
        perClassAP50: apByThreshold[0].map { $0.map(Float.init) },
        perClassAP50to95: perClass50to95,
        precision: thresholded == 0 ? 0 : Float(truePositives) / Float(thresholded),
        recall: groundTruthCount == 0 ? 0 : Float(truePositives) / Float(groundTruthCount),
        scoreThreshold: scoreThreshold, truePositiveCount: truePositives,
        thresholdedDetectionCount: thresholded,
        groundTruthCount: groundTruthCount, detectionCount: detectionCount)
}

/// The greedy matching of one class at one IoU threshold (steps 1–4 of `evaluate`).
struct ClassMatching {
    /// In the order visited: each detection's score and whether it matched a ground truth.
    var scores: [Float] = []
    var isTruePositive: [Bool] = []
    var groundTruthCount = 0

    /// nil without ground truth.
    var averagePrecision: Double? {
        guard groundTruthCount > 0 else { return nil }
        var precision: [Double] = [], recall: [Double] = []
        precision.reserveCapacity(scores.count); recall.reserveCapacity(scores.count)
        var tp = 0
        for (i, hit) in isTruePositive.enumerated() {
            if hit { tp += 1 }
            precision.append(Double(tp) / Double(i + 1))
            recall.append(Double(tp) / Double(groundTruthCount))
        }
        // Monotone precision envelope, from the right.
        if precision.count > 1 {
            for i in stride(from: precision.count - 2, through: 0, by: -1) { precision[i] = max(precision[i], precision[i + 1]) }
        }
        var sum: Double = 0
        for r in 0...100 {
            // numpy.linspace(0, 1, 101) computes each point as i · 0.01 in double precision, and
            // the boundary cases (recall exactly 0.3, say) depend on it.
            let target = Double(r) * 0.01
            // First index whose recall reaches the target (numpy searchsorted, side "left");
            // recall is non-decreasing.
            var lo = 0, hi = recall.count
            while lo < hi { let mid = (lo + hi) / 2; if recall[mid] < target { lo = mid + 1 } else { hi = mid } }
            if lo < precision.count { sum += precision[lo] }
        }
        return sum / 101
    }
}

func matchDetections(_ images: [EvaluationImage], classIndex c: Int, iouThreshold: Double) -> ClassMatching {
    var visits: [(score: Float, image: Int, box: BoundingBox)] = []
    var truths: [[BoundingBox]] = []
    var matching = ClassMatching()
    for (i, image) in images.enumerated() {
        // pycocotools sorts each image's detections by score first (stable), then all of them.
        let mine = image.detections.enumerated().filter { $0.element.classIndex == c }
            .sorted { $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset }
        visits += mine.map { (score: $0.element.score, image: i, box: $0.element.box) }
        let gt = image.groundTruth.filter { $0.classIndex == c }.map(\.box)
        truths.append(gt)
        matching.groundTruthCount += gt.count
    }
    let order = visits.indices.sorted { visits[$0].score != visits[$1].score ? visits[$0].score > visits[$1].score : $0 < $1 }
    var matched = truths.map { [Bool](repeating: false, count: $0.count) }
    for k in order {
        let d = visits[k]
        var best = -1
        // pycocotools: iou = min(t, 1 − 1e-10), then every unmatched ground truth whose IoU is
        // not below the best so far takes the match, so the later of two equal ones wins.
        var bestIoU = min(iouThreshold, 1 - 1e-10)
        for (g, truth) in truths[d.image].enumerated() where !matched[d.image][g] {
            let iou = preciseIoU(d.box, truth)
            if iou >= bestIoU { bestIoU = iou; best = g }
        }
        if best >= 0 { matched[d.image][best] = true }
        matching.scores.append(d.score)
        matching.isTruePositive.append(best >= 0)
    }
    return matching
}
