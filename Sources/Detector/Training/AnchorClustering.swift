/// Anchors by k-means on box sizes with distance 1 − IoU (YOLOv2, §"Dimension Clusters"):
/// boxes and centroids compared as if centred at the same point. Deterministic: k-means++
/// initialisation from `seed`, then Lloyd iterations until no assignment changes (at most 300).
/// Sizes are normalised (w, h); anchors come back in grid-cell units, sorted by area.
public func clusterAnchors(sizes: [(width: Float, height: Float)], count: Int, gridWidth: Int, gridHeight: Int,
                           seed: UInt64) -> (anchors: [Anchor], meanIoU: Float) {
    let boxes = sizes.filter { $0.width > 0 && $0.height > 0 }
    guard !boxes.isEmpty, count > 0 else { return ([], 0) }
    func iou(_ a: (width: Float, height: Float), _ b: (width: Float, height: Float)) -> Float {
        let inter = min(a.width, b.width) * min(a.height, b.height)
        return inter / (a.width * a.height + b.width * b.height - inter)
    }
    var rng = SplitMix64(seed: seed)
    // k-means++: each next centroid drawn with probability ∝ distance² to the nearest chosen.
    var centroids = [boxes[rng.nextInt(below: boxes.count)]]
    while centroids.count < count {
        let d2 = boxes.map { b in centroids.map { 1 - iou(b, $0) }.min()! }.map { $0 * $0 }
        let total = d2.reduce(0, +)
        if total <= 0 { centroids.append(centroids[centroids.count - 1]); continue }
        var r = rng.nextUnitFloat() * total
        var pick = boxes.count - 1
        for (k, d) in d2.enumerated() { r -= d; if r <= 0 { pick = k; break } }
        centroids.append(boxes[pick])
    }
    var assignment = [Int](repeating: -1, count: boxes.count)
    for _ in 0..<300 {
        var changed = false
        for (i, b) in boxes.enumerated() {
            var best = 0, bestIoU: Float = -1
            for (k, c) in centroids.enumerated() { let v = iou(b, c); if v > bestIoU { bestIoU = v; best = k } }
            if assignment[i] != best { assignment[i] = best; changed = true }
        }
        if !changed { break }
        for k in centroids.indices {
            let members = boxes.indices.filter { assignment[$0] == k }
            guard !members.isEmpty else { continue }  // an empty cluster keeps its centroid
            centroids[k] = (members.map { boxes[$0].width }.reduce(0, +) / Float(members.count),
                            members.map { boxes[$0].height }.reduce(0, +) / Float(members.count))
        }
    }
    let meanIoU = boxes.map { b in centroids.map { iou(b, $0) }.max()! }.reduce(0, +) / Float(boxes.count)
    let anchors = centroids.map { Anchor(width: $0.width * Float(gridWidth), height: $0.height * Float(gridHeight)) }
        .sorted { $0.width * $0.height < $1.width * $1.height }
    return (anchors, meanIoU)
}
