/// Anchors by k-means on box sizes with distance d(box, centroid) = 1 − IoU(box, centroid), the
/// two compared as if centred at the same point, IoU = min(w, w')·min(h, h') / (wh + w'h' − that)
/// (YOLOv2, Redmon & Farhadi 2016, §"Dimension Clusters"; darknet's `calc_anchors`).
///
/// - Deterministic: k-means++ initialisation from `seed` (SplitMix64: the first centroid a
///   uniformly drawn box, each next one a box drawn with probability ∝ d² to the nearest
///   chosen centroid), then Lloyd iterations (assign each box to the centroid of highest IoU,
///   the first on ties; move each centroid to the arithmetic mean (w, h) of its boxes, as
///   darknet does) until no assignment changes, at most 1000 times. A cluster that loses all
///   its boxes keeps its centroid.
/// - `sizes` are normalised (w, h); sizes that are not finite and positive are left out.
/// - Returns `count` anchors in grid-cell units (w·gridWidth, h·gridHeight), sorted by area,
///   ascending, and the mean over the boxes of the IoU with their best anchor. With fewer
///   distinct sizes than `count`, some anchors repeat. No usable size or `count` ≤ 0 gives no
///   anchors and a mean IoU of 0. The centroids are held in memory, so a caller passing a
///   user's `count` bounds it first (`train-detector anchors` accepts 1 to 100, and at most
///   as many as there are boxes).
public func clusterAnchors(sizes: [(width: Float, height: Float)], count: Int, gridWidth: Int, gridHeight: Int,
                           seed: UInt64) -> (anchors: [Anchor], meanIoU: Float) {
    typealias Size = (width: Float, height: Float)
    let boxes = sizes.filter { $0.width.isFinite && $0.height.isFinite && $0.width > 0 && $0.height > 0 }
    guard !boxes.isEmpty, count > 0 else { return ([], 0) }
    func iou(_ a: Size, _ b: Size) -> Float {
        let inter = min(a.width, b.width) * min(a.height, b.height)
        return inter / (a.width * a.height + b.width * b.height - inter)
    }
    func nearest(_ b: Size, _ centroids: [Size]) -> (index: Int, iou: Float) {
        var best = 0, bestIoU: Float = -1
        for (k, c) in centroids.enumerated() {
            let v = iou(b, c)
            if v > bestIoU { bestIoU = v; best = k }
        }
        return (best, bestIoU)
    }

    // k-means++ initialisation.
    var rng = SplitMix64(seed: seed)
    var centroids: [Size] = [boxes[rng.nextInt(below: boxes.count)]]
    var nearestDistance = boxes.map { 1 - iou($0, centroids[0]) }
    while centroids.count < count {
        let weights = nearestDistance.map { $0 * $0 }
        let total = weights.reduce(0, +)
        // Every box already sits on a centroid (fewer distinct sizes than anchors): repeat one.
        guard total > 0 else { centroids.append(centroids[centroids.count - 1]); continue }
        var r = rng.nextUnitFloat() * total
        var pick = boxes.count - 1
        for (k, w) in weights.enumerated() where w > 0 {
            r -= w
            if r <= 0 { pick = k; break }
        }
        // Float rounding can leave r > 0 after the loop: take the last box with a positive weight.
        if r > 0, let last = weights.lastIndex(where: { $0 > 0 }) { pick = last }
        centroids.append(boxes[pick])
        for (k, b) in boxes.enumerated() { nearestDistance[k] = min(nearestDistance[k], 1 - iou(b, boxes[pick])) }
    }

    // Lloyd iterations.
    var assignment = [Int](repeating: -1, count: boxes.count)
    for _ in 0..<1000 {
        var changed = false
        for (i, b) in boxes.enumerated() {
            let k = nearest(b, centroids).index
            if assignment[i] != k { assignment[i] = k; changed = true }
        }
        if !changed { break }
        var sums = [(width: Double, height: Double, count: Int)](repeating: (0, 0, 0), count: centroids.count)
        for (i, b) in boxes.enumerated() {
            sums[assignment[i]].width += Double(b.width)
            sums[assignment[i]].height += Double(b.height)
            sums[assignment[i]].count += 1
        }
        for k in centroids.indices where sums[k].count > 0 {
            centroids[k] = (Float(sums[k].width / Double(sums[k].count)), Float(sums[k].height / Double(sums[k].count)))
        }
    }

    let meanIoU = boxes.map { Double(nearest($0, centroids).iou) }.reduce(0, +) / Double(boxes.count)
    let anchors = centroids.map { Anchor(width: $0.width * Float(gridWidth), height: $0.height * Float(gridHeight)) }
        .sorted { $0.width * $0.height < $1.width * $1.height }
    return (anchors, Float(meanIoU))
}
