/// Settings of non-maximum suppression.
public struct NMSOptions: Hashable, Sendable {
    /// Candidates scoring below this are dropped first.
    public var scoreThreshold: Float = 0.25
    /// A candidate whose IoU with a kept box of its class is above this is suppressed
    /// (exactly at the threshold it is kept).
    public var iouThreshold: Float = 0.45
    /// Suppress across classes (one box per object whatever its class) instead of per class.
    public var classAgnostic: Bool = false
    /// At most this many detections are returned, highest scores first.
    public var maximumDetections: Int = 100

    public init(scoreThreshold: Float = 0.25, iouThreshold: Float = 0.45,
                classAgnostic: Bool = false, maximumDetections: Int = 100) {
        self.scoreThreshold = scoreThreshold; self.iouThreshold = iouThreshold
        self.classAgnostic = classAgnostic; self.maximumDetections = maximumDetections
    }
}

/// The order in which NMS visits candidates: score descending, then class, then the box's
/// coordinates (x1, y1, x2, y2) ascending. A total order on distinct detections, so the
/// result never depends on the order of the input.
@inline(__always)
func visitsBefore(_ a: Detection, _ b: Detection) -> Bool {
    if a.score != b.score { return a.score > b.score }
    if a.classIndex != b.classIndex { return a.classIndex < b.classIndex }
    if a.box.x1 != b.box.x1 { return a.box.x1 < b.box.x1 }
    if a.box.y1 != b.box.y1 { return a.box.y1 < b.box.y1 }
    if a.box.x2 != b.box.x2 { return a.box.x2 < b.box.x2 }
    return a.box.y2 < b.box.y2
}

/// Greedy non-maximum suppression (as darknet's `do_nms_sort` and torchvision's `nms`):
/// drop candidates under the score threshold and non-finite ones, sort (O(n log n)), then keep
/// each candidate unless a kept box of the same class (any class when class-agnostic)
/// overlaps it by IoU > `iouThreshold`. Returns the kept detections, best first.
public func nonMaximumSuppression(_ candidates: [Detection], options: NMSOptions = NMSOptions()) -> [Detection] {
    let sorted = candidates
        .filter { $0.score >= options.scoreThreshold && $0.score.isFinite
            && $0.box.x1.isFinite && $0.box.y1.isFinite && $0.box.x2.isFinite && $0.box.y2.isFinite }
        .sorted(by: visitsBefore)
    var kept: [Detection] = []
    for candidate in sorted {
        if kept.count >= options.maximumDetections { break }
        let suppressed = kept.contains { k in
            (options.classAgnostic || k.classIndex == candidate.classIndex)
                && k.box.iou(with: candidate.box) > options.iouThreshold
        }
        if !suppressed { kept.append(candidate) }
    }
    return kept
}
