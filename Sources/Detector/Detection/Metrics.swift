/// One image's detections and ground truth, boxes in the same units (pixels, or normalised:
/// IoU does not depend on the unit as long as both use the same one).
public struct EvaluationImage: Sendable {
    public var detections: [Detection]
    public var groundTruth: [LabeledObject]
    public init(detections: [Detection], groundTruth: [LabeledObject]) {
        self.detections = detections; self.groundTruth = groundTruth
    }
}

/// Average precision and precision/recall of a set of images (see `evaluateDetections`).
public struct EvaluationResult: Sendable, Codable {
    /// Mean over classes with ground truth of AP at IoU 0.5 (0 when no class has any).
    public var mAP50: Float
    /// COCO's mAP@[.5:.95]: the mean of mAP over the IoU thresholds 0.50, 0.55, ..., 0.95.
    public var mAP50to95: Float
    /// mAP at each of `cocoIoUThresholds` (element 0 is `mAP50`, element 5 is mAP@0.75).
    public var mAPByIoUThreshold: [Float]
    /// Precision TP / (TP + FP) and recall TP / ground truths at IoU 0.5 over all classes'
    /// boxes together, counting only the detections scoring at least `scoreThreshold` (0 when
    /// there is nothing to divide by). TP are the detections matched by the same greedy
    /// matching as the AP, so a duplicate of a found object is a false positive.
    public var precision: Float
    public var recall: Float
    public var scoreThreshold: Float
    public var truePositiveCount: Int
    /// Detections scoring at least `scoreThreshold` (TP + FP).
    public var thresholdedDetectionCount: Int
    /// All ground-truth objects and all detections given.
    public var groundTruthCount: Int
    public var detectionCount: Int
    /// Images evaluated.
    public var imageCount: Int
    /// Per class, in class order.
    public var classes: [ClassEvaluation]
    /// Where the boxes scoring at least `scoreThreshold` went, at IoU 0.5 (see `ConfusionMatrix`).
    public var confusionMatrix: ConfusionMatrix

    /// COCO's AP75 (stats[2]).
    public var mAP75: Float { mAPByIoUThreshold[5] }
    /// Per class; nil for a class without ground truth (left out of the means, as pycocotools
    /// leaves out its −1 entries), 0 for a class with ground truth and no detection.
    public var perClassAP50: [Float?] { classes.map(\.ap50) }
    public var perClassAP50to95: [Float?] { classes.map(\.ap50to95) }

    /// The precision–recall curve of all classes: at each of the 101 `recallLevels`, the mean
    /// over the classes with ground truth of their `ClassEvaluation.precisionAtRecall` (all 0
    /// when no class has any). Its mean over the levels is `mAP50` (up to rounding), as
    /// Ultralytics' "all classes" curve's area is its mAP@0.5.
    public var meanPrecisionAtRecall: [Float] {
        let curves = classes.compactMap(\.precisionAtRecall)
        guard !curves.isEmpty else { return [Float](repeating: 0, count: recallLevels.count) }
        return recallLevels.indices.map { r in
            Float(curves.reduce(0) { $0 + Double($1[r]) } / Double(curves.count))
        }
    }
}

/// One class's share of an `EvaluationResult`.
public struct ClassEvaluation: Sendable, Codable, Equatable {
    /// Ground-truth objects of the class, and the images holding at least one.
    public var instances: Int
    public var images: Int
    /// AP at IoU 0.5 and COCO's AP@[.5:.95]; nil without instances.
    public var ap50: Float?
    public var ap50to95: Float?
    /// At the operating threshold (`EvaluationResult.scoreThreshold`), IoU 0.5: the class's
    /// detections scoring at least it, and those of them matched to an object of the class.
    public var thresholdedDetections: Int
    public var truePositives: Int
    /// truePositives / thresholdedDetections; nil when the class has no detection at the threshold.
    public var precision: Float?
    /// truePositives / instances; nil without instances.
    public var recall: Float?
    /// COCO's interpolated precision at IoU 0.5 at each of the 101 `recallLevels` (the values
    /// whose mean is `ap50`: the monotone envelope, 0 beyond the highest recall reached); nil
    /// without instances.
    public var precisionAtRecall: [Float]?
}

/// COCO's 101 recall levels 0, 0.01, ..., 1 (numpy's linspace(0, 1, 101): i · 0.01 in double).
public let recallLevels: [Double] = (0...100).map { Double($0) * 0.01 }

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
///
/// Per class it also gives the instances, the images holding them, precision and recall at
/// `scoreThreshold` (from the same matching at IoU 0.5, so the per-class true positives add up
/// to `truePositiveCount`) and the 101-point precision curve whose mean is the AP@0.5; and the
/// confusion matrix at `scoreThreshold` and IoU 0.5 (`ConfusionMatrix`), whose diagonal is those
/// true positives.
public func evaluateDetections(_ images: [EvaluationImage], classCount: Int, scoreThreshold: Float = 0) -> EvaluationResult {
    let classCount = max(0, classCount)
    var apByThreshold: [[Double?]] = []  // [threshold][class]
    var classes: [ClassEvaluation] = []
    for (t, threshold) in cocoIoUThresholds.enumerated() {
        var aps: [Double?] = []
        for c in 0..<classCount {
            let matching = matchDetections(images, classIndex: c, iouThreshold: threshold)
            let curve = matching.interpolatedPrecision
            aps.append(curve.map { $0.reduce(0, +) / Double(recallLevels.count) })
            if t == 0 {
                // Detections below the threshold come after every one above it in the visit
                // order, so the matches of those above are the matching of those alone.
                let visited = zip(matching.scores, matching.isTruePositive).filter { $0.0 >= scoreThreshold }
                let tp = visited.filter(\.1).count
                let instances = matching.groundTruthCount
                classes.append(ClassEvaluation(
                    instances: instances,
                    images: images.filter { $0.groundTruth.contains { $0.classIndex == c } }.count,
                    ap50: nil, ap50to95: nil, thresholdedDetections: visited.count, truePositives: tp,
                    precision: visited.isEmpty ? nil : Float(tp) / Float(visited.count),
                    recall: instances == 0 ? nil : Float(tp) / Float(instances),
                    precisionAtRecall: curve.map { $0.map(Float.init) }))
            }
        }
        apByThreshold.append(aps)
    }
    func mean(_ values: [Double?]) -> Double? {
        let present = values.compactMap { $0 }
        return present.isEmpty ? nil : present.reduce(0, +) / Double(present.count)
    }
    let byThreshold = apByThreshold.map { mean($0) }
    for c in 0..<classCount {
        classes[c].ap50 = apByThreshold[0][c].map(Float.init)
        classes[c].ap50to95 = mean(apByThreshold.map { $0[c] }).map(Float.init)
    }
    let truePositives = classes.reduce(0) { $0 + $1.truePositives }
    let groundTruthCount = images.reduce(0) { $0 + $1.groundTruth.count }
    let detectionCount = images.reduce(0) { $0 + $1.detections.count }
    let thresholded = images.reduce(0) { $0 + $1.detections.filter { $0.score >= scoreThreshold }.count }
    return EvaluationResult(
        mAP50: Float(byThreshold[0] ?? 0),
        mAP50to95: Float(mean(byThreshold) ?? 0),
        mAPByIoUThreshold: byThreshold.map { Float($0 ?? 0) },
        precision: thresholded == 0 ? 0 : Float(truePositives) / Float(thresholded),
        recall: groundTruthCount == 0 ? 0 : Float(truePositives) / Float(groundTruthCount),
        scoreThreshold: scoreThreshold, truePositiveCount: truePositives,
        thresholdedDetectionCount: thresholded,
        groundTruthCount: groundTruthCount, detectionCount: detectionCount,
        imageCount: images.count, classes: classes,
        confusionMatrix: ConfusionMatrix(images, classCount: classCount, scoreThreshold: scoreThreshold))
}

/// The greedy matching of one class at one IoU threshold (steps 1–4 of `evaluateDetections`).
struct ClassMatching {
    /// In the order visited: each detection's score and whether it matched a ground truth.
    var scores: [Float] = []
    var isTruePositive: [Bool] = []
    var groundTruthCount = 0

    /// Steps 3 and 4 of `evaluateDetections`: the monotone precision envelope at each of the 101
    /// `recallLevels` (AP is their mean); nil without ground truth.
    var interpolatedPrecision: [Double]? {
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
        return recallLevels.map { target in
            // The boundary cases (recall exactly 0.3, say) depend on the levels being numpy's
            // i · 0.01. First index whose recall reaches the target (numpy searchsorted, side
            // "left"); recall is non-decreasing.
            var lo = 0, hi = recall.count
            while lo < hi { let mid = (lo + hi) / 2; if recall[mid] < target { lo = mid + 1 } else { hi = mid } }
            return lo < precision.count ? precision[lo] : 0
        }
    }
}

/// pycocotools' choice of ground truth for a detection: among the truths not yet `matched`,
/// the one with the highest IoU ≥ the threshold, the later of equal ones (its `iou = min(t,
/// 1 − 1e-10)`, then every unmatched truth whose IoU is not below the best so far takes the
/// match); nil when none reaches it.
func bestUnmatchedTruth(for box: BoundingBox, among truths: [BoundingBox], matched: [Bool], iouThreshold: Double) -> Int? {
    var best: Int? = nil
    var bestIoU = min(iouThreshold, 1 - 1e-10)
    for (g, truth) in truths.enumerated() where !matched[g] {
        let iou = preciseIoU(box, truth)
        if iou >= bestIoU { bestIoU = iou; best = g }
    }
    return best
}

/// The order in which pycocotools visits one image's detections of one class: score
/// descending, the earlier of equal scores first (a stable sort).
func visitOrder(_ detections: [Detection]) -> [Int] {
    detections.indices.sorted { detections[$0].score != detections[$1].score ? detections[$0].score > detections[$1].score : $0 < $1 }
}

func matchDetections(_ images: [EvaluationImage], classIndex c: Int, iouThreshold: Double) -> ClassMatching {
    var visits: [(score: Float, image: Int, box: BoundingBox)] = []
    var truths: [[BoundingBox]] = []
    var matching = ClassMatching()
    for (i, image) in images.enumerated() {
        // pycocotools sorts each image's detections by score first (stable), then all of them.
        let mine = image.detections.filter { $0.classIndex == c }
        visits += visitOrder(mine).map { (score: mine[$0].score, image: i, box: mine[$0].box) }
        let gt = image.groundTruth.filter { $0.classIndex == c }.map(\.box)
        truths.append(gt)
        matching.groundTruthCount += gt.count
    }
    let order = visits.indices.sorted { visits[$0].score != visits[$1].score ? visits[$0].score > visits[$1].score : $0 < $1 }
    var matched = truths.map { [Bool](repeating: false, count: $0.count) }
    for k in order {
        let d = visits[k]
        let best = bestUnmatchedTruth(for: d.box, among: truths[d.image], matched: matched[d.image], iouThreshold: iouThreshold)
        if let best { matched[d.image][best] = true }
        matching.scores.append(d.score)
        matching.isTruePositive.append(best != nil)
    }
    return matching
}
