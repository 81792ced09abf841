/// Where the objects and the detections went at one operating point: a (classes + 1) x
/// (classes + 1) table of counts, the last row and column standing for the background.
///
/// Rows are the true class, columns the predicted class (`counts[true][predicted]`), so a row
/// normalised to sum 1 reads as "where did this class's objects go", its diagonal entry being
/// the class's recall: the transpose of Ultralytics' matrix (rows predicted, columns true),
/// whose plot normalises each true class the same way. The background row counts the false
/// positives (detections that matched no object) by predicted class, the background column the
/// missed objects by true class; background x background is always 0.
///
/// Only detections scoring at least `scoreThreshold` count. Each image is matched in two steps:
///
/// 1. each class's detections, by score (descending; the earlier of equal scores first), take
///    the unmatched object of their class with the highest IoU ≥ `iouThreshold`, exactly as
///    `evaluateDetections`'s matching does, so the diagonal is its per-class true positives at the
///    threshold and precision = diagonal / column sum, recall = diagonal / row sum;
/// 2. the detections left, by score, take the unmatched object of any class with the highest
///    IoU ≥ `iouThreshold`: these are the class confusions (off-diagonal cells);
///
/// then every detection still unmatched is a false positive (background row), every object
/// still unmatched a miss (background column). Ultralytics matches once, class-agnostic, by
/// IoU > 0.45; matching the right class first instead means that a correct box is never lost
/// to a wrong-class box that happens to overlap the object more, and the matrix agrees with
/// the precision and recall printed beside it. Detections and objects of a class index outside
/// 0 ..< classCount are left out.
public struct ConfusionMatrix: Sendable, Codable, Equatable {
    public var classCount: Int
    /// `counts[t][p]` for t, p in 0 ... classCount; index `classCount` is the background.
    public var counts: [[Int]]
    public var scoreThreshold: Float
    public var iouThreshold: Double

    /// The row and column index of the background.
    public var background: Int { classCount }

    /// Each row divided by its sum; nil for a row without any count (a class without objects,
    /// or the background row when there is no false positive).
    public var rowNormalised: [[Float]?] {
        counts.map { row in
            let sum = row.reduce(0, +)
            return sum == 0 ? nil : row.map { Float($0) / Float(sum) }
        }
    }

    /// The matrix of `images` (see the type's comment).
    public init(_ images: [EvaluationImage], classCount: Int, scoreThreshold: Float, iouThreshold: Double = 0.5) {
        let n = max(0, classCount)
        self.classCount = n
        self.scoreThreshold = scoreThreshold
        self.iouThreshold = iouThreshold
        var counts = [[Int]](repeating: [Int](repeating: 0, count: n + 1), count: n + 1)
        for image in images {
            let detections = image.detections.filter { $0.score >= scoreThreshold && (0..<n).contains($0.classIndex) }
            let truths = image.groundTruth.filter { (0..<n).contains($0.classIndex) }
            let boxes = truths.map(\.box)
            var truthMatched = [Bool](repeating: false, count: truths.count)
            var detectionMatched = [Bool](repeating: false, count: detections.count)
            let order = visitOrder(detections)
            // Step 1: within each class, as `evaluateDetections` matches (only that class's objects are
            // candidates: the others are marked matched for the search).
            for c in Set(detections.map(\.classIndex)).sorted() {
                var taken = truths.indices.map { truths[$0].classIndex != c || truthMatched[$0] }
                for d in order where detections[d].classIndex == c {
                    if let g = bestUnmatchedTruth(for: detections[d].box, among: boxes, matched: taken, iouThreshold: iouThreshold) {
                        taken[g] = true; truthMatched[g] = true; detectionMatched[d] = true
                        counts[c][c] += 1
                    }
                }
            }
            // Step 2: the detections left, against the objects left, whatever their class.
            for d in order where !detectionMatched[d] {
                if let g = bestUnmatchedTruth(for: detections[d].box, among: boxes, matched: truthMatched, iouThreshold: iouThreshold) {
                    truthMatched[g] = true; detectionMatched[d] = true
                    counts[truths[g].classIndex][detections[d].classIndex] += 1
                }
            }
            for d in detections.indices where !detectionMatched[d] { counts[n][detections[d].classIndex] += 1 }
            for g in truths.indices where !truthMatched[g] { counts[truths[g].classIndex][n] += 1 }
        }
        self.counts = counts
    }
}
