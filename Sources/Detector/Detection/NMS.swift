/// Settings of non-maximum suppression. The defaults are the `detect` command's (and
/// darknet's `nms = .45`, Ultralytics' `conf = 0.25`, `max_det` lowered to 100).
public struct NMSOptions: Hashable, Sendable {
    /// Candidates scoring below this are dropped first (a score equal to it is kept).
    public var scoreThreshold: Float = 0.25
    /// A candidate whose IoU with an already kept box of its class is strictly above this is
    /// suppressed; exactly at the threshold it is kept (darknet's `box_iou(a, b) > thresh`,
    /// torchvision's `nms`).
    public var iouThreshold: Float = 0.45
    /// Suppress across classes (one box per object whatever its class) instead of per class.
    public var classAgnostic: Bool = false
    /// At most this many detections are returned, highest scores first (0 or less: none).
    public var maximumDetections: Int = 100

    public init(scoreThreshold: Float = 0.25, iouThreshold: Float = 0.45,
                classAgnostic: Bool = false, maximumDetections: Int = 100) {
        self.scoreThreshold = scoreThreshold; self.iouThreshold = iouThreshold
        self.classAgnostic = classAgnostic; self.maximumDetections = maximumDetections
    }
}

/// The order in which NMS visits candidates: score descending, then class ascending, then the
/// box's coordinates x1, y1, x2, y2 ascending. Two candidates equal in all of these are equal
/// `Detection` values, so the order between them (input order; see `nonMaximumSuppression`)
/// cannot show in the output: the result never depends on the order of the input.
@inline(__always)
func visitsBefore(_ a: Detection, _ b: Detection) -> Bool {
    if a.score != b.score { return a.score > b.score }
    if a.classIndex != b.classIndex { return a.classIndex < b.classIndex }
    if a.box.x1 != b.box.x1 { return a.box.x1 < b.box.x1 }
    if a.box.y1 != b.box.y1 { return a.box.y1 < b.box.y1 }
    if a.box.x2 != b.box.x2 { return a.box.x2 < b.box.x2 }
    return a.box.y2 < b.box.y2
}

/// Greedy non-maximum suppression (darknet's `do_nms_sort`, torchvision's `batched_nms`):
///
/// 1. drop candidates scoring below `scoreThreshold` and any with a non-finite score or
///    coordinate (a NaN would make the sort order undefined);
/// 2. sort the rest by `visitsBefore`, with the input index as the final key — O(n log n);
/// 3. visit them in that order and keep each one unless a kept box of the same class (of any
///    class when `classAgnostic`) overlaps it with IoU > `iouThreshold`; stop after
///    `maximumDetections` are kept.
///
/// Zero-area boxes have IoU 0 with everything (`BoundingBox.iou`), so they never suppress
/// nor get suppressed. Each candidate is compared only with the kept boxes of its class,
/// at most `maximumDetections` of them. Returns the kept detections, best first.
public func nonMaximumSuppression(_ candidates: [Detection], options: NMSOptions = NMSOptions()) -> [Detection] {
    guard options.maximumDetections > 0 else { return [] }
    let order = candidates.indices
        .filter { i in
            let d = candidates[i]
            return d.score >= options.scoreThreshold && d.score.isFinite && d.box.isFinite
        }
        .sorted { i, j in
            let a = candidates[i], b = candidates[j]
            if visitsBefore(a, b) { return true }
            if visitsBefore(b, a) { return false }
            return i < j
        }
    var kept: [Detection] = []
    // Kept boxes grouped by class (one group when class-agnostic): a candidate only needs to be
    // compared with its own group.
    var keptBoxes: [Int: [BoundingBox]] = [:]
    for i in order {
        let candidate = candidates[i]
        let group = options.classAgnostic ? 0 : candidate.classIndex
        let suppressed = keptBoxes[group, default: []].contains { $0.iou(with: candidate.box) > options.iouThreshold }
        if suppressed { continue }
        kept.append(candidate)
        keptBoxes[group, default: []].append(candidate.box)
        if kept.count == options.maximumDetections { break }
    }
    return kept
}
