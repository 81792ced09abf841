import Testing
import Detector

@Suite struct NMSTests {
    func detection(_ k: Int, _ score: Float, _ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> Detection {
        Detection(box: BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2), classIndex: k, score: score)
    }

    @Test func defaults() {
        let o = NMSOptions()
        #expect(o.scoreThreshold == 0.25 && o.iouThreshold == 0.45 && !o.classAgnostic && o.maximumDetections == 100)
    }

    @Test func overlappingBoxOfSameClassIsSuppressed() {
        let a = detection(0, 0.9, 0, 0, 10, 10)
        let b = detection(0, 0.8, 1, 1, 11, 11)  // IoU 81 / 119 = 0.68
        let c = detection(0, 0.7, 20, 20, 30, 30)
        #expect(nonMaximumSuppression([b, c, a]) == [a, c])
    }

    /// Greedy, not transitive: B is suppressed by A, so B does not suppress C, although A and C
    /// do not overlap enough.
    @Test func suppressedBoxesSuppressNothing() {
        let a = detection(0, 0.9, 0, 0, 10, 10)
        let b = detection(0, 0.8, 4, 0, 14, 10)   // IoU with a: 60 / 140 = 0.43 — kept at 0.45
        let c = detection(0, 0.7, 8, 0, 18, 10)   // with b: 0.43, with a: 20 / 180 = 0.11
        #expect(nonMaximumSuppression([a, b, c]) == [a, b, c])
        // At 0.4 b goes (0.43 > 0.4), and c, overlapping only a (0.11), stays.
        #expect(nonMaximumSuppression([c, b, a], options: NMSOptions(iouThreshold: 0.4)) == [a, c])
    }

    @Test func differentClassesAreKeptUnlessAgnostic() {
        let a = detection(0, 0.9, 0, 0, 10, 10)
        let b = detection(1, 0.8, 1, 1, 11, 11)
        #expect(nonMaximumSuppression([a, b]) == [a, b])
        #expect(nonMaximumSuppression([b, a], options: NMSOptions(classAgnostic: true)) == [a])
    }

    @Test func identicalBoxesKeepOne() {
        let a = detection(2, 0.5, 0, 0, 10, 10)
        #expect(nonMaximumSuppression([a, a, a]) == [a])
        // Same box, two classes: one each per class, one in all when agnostic (the lower class
        // wins the score tie).
        let b = detection(1, 0.5, 0, 0, 10, 10)
        #expect(nonMaximumSuppression([a, b, a, b]) == [b, a])
        #expect(nonMaximumSuppression([a, b, a, b], options: NMSOptions(classAgnostic: true)) == [b])
    }

    /// Ties in score are broken by class, then x1, y1, x2, y2, whatever the input order.
    @Test func tiesAreBrokenByClassThenCoordinates() {
        let left = detection(0, 0.6, 0, 0, 10, 10)
        let right = detection(0, 0.6, 2, 0, 12, 10)  // IoU 80 / 120 = 0.67 with left
        #expect(nonMaximumSuppression([right, left]) == [left])
        #expect(nonMaximumSuppression([left, right]) == [left])
        let low = detection(0, 0.6, 0, 0, 10, 12)    // same x1, y1, x2: y2 decides
        let lower = detection(0, 0.6, 0, 0, 10, 11)
        #expect(nonMaximumSuppression([low, lower]) == [lower])
    }

    @Test func zeroAreaBoxesNeverSuppressEachOther() {
        let point = detection(0, 0.9, 5, 5, 5, 5)
        let line = detection(0, 0.8, 5, 5, 5, 9)
        let big = detection(0, 0.7, 0, 0, 10, 10)
        #expect(nonMaximumSuppression([point, point, line, big]) == [point, point, line, big])
    }

    /// IoU of these two is exactly 0.5 (intersection 50, union 100, exact in Float): kept at
    /// threshold 0.5 (only IoU > threshold suppresses), suppressed at 0.45 and 0.4999.
    @Test func iouExactlyAtTheThresholdIsKept() {
        let a = detection(0, 0.9, 0, 0, 10, 10)
        let b = detection(0, 0.8, 0, 0, 10, 5)
        #expect(a.box.iou(with: b.box) == 0.5)
        #expect(nonMaximumSuppression([a, b], options: NMSOptions(iouThreshold: 0.5)) == [a, b])
        #expect(nonMaximumSuppression([a, b], options: NMSOptions(iouThreshold: 0.4999)) == [a])
        #expect(nonMaximumSuppression([a, b], options: NMSOptions(iouThreshold: 0.45)) == [a])
        // Threshold 1: only boxes of IoU > 1, i.e. none, are suppressed, not even identical ones.
        #expect(nonMaximumSuppression([a, a], options: NMSOptions(iouThreshold: 1)) == [a, a])
    }

    @Test func scoreThresholdKeepsEqualScores() {
        let at = detection(0, 0.25, 0, 0, 10, 10)
        let below = detection(0, 0.2499, 50, 50, 60, 60)
        #expect(nonMaximumSuppression([below, at]) == [at])
        #expect(nonMaximumSuppression([below, at], options: NMSOptions(scoreThreshold: 0)) == [at, below])
    }

    /// The cut keeps the highest scores over all classes, after suppression.
    @Test func maximumDetectionsCut() {
        let many = (0..<10).map { detection($0 % 3, 0.5 + Float($0) / 100, Float($0) * 20, 0, Float($0) * 20 + 10, 10) }
        let top3 = nonMaximumSuppression(many, options: NMSOptions(maximumDetections: 3))
        #expect(top3 == [many[9], many[8], many[7]])
        // A suppressed box does not use up a place.
        let shadow = detection(0, 0.585, 180, 0, 190, 10)  // on top of many[9], ranked second
        #expect(nonMaximumSuppression(many + [shadow], options: NMSOptions(maximumDetections: 3)) == [many[9], many[8], many[7]])
        #expect(nonMaximumSuppression(many, options: NMSOptions(maximumDetections: 0)).isEmpty)
        #expect(nonMaximumSuppression(many, options: NMSOptions(maximumDetections: 100)).count == 10)
    }

    @Test func nonFiniteCandidatesAreDropped() {
        let nanBox = detection(0, 0.9, 0, 0, .nan, 10)
        let infiniteScore = detection(0, .infinity, 0, 0, 10, 10)
        let nanScore = detection(0, .nan, 0, 0, 10, 10)
        let infiniteBox = detection(0, 0.9, -.infinity, 0, 10, 10)
        let fine = detection(0, 0.5, 0, 0, 10, 10)
        #expect(nonMaximumSuppression([nanBox, infiniteScore, nanScore, infiniteBox, fine]) == [fine])
        #expect(nonMaximumSuppression([]).isEmpty)
    }

    /// Many seeded shuffles of candidates with frequent ties (coarse scores, a coarse coordinate
    /// grid, exact duplicates): the output never changes, per class and class-agnostic.
    @Test(arguments: 0..<25)
    func permutingTheInputDoesNotChangeTheOutput(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed))
        var candidates: [Detection] = (0..<80).map { _ in
            let x = Float(rng.nextInt(below: 10)) * 5, y = Float(rng.nextInt(below: 10)) * 5
            let w = Float(rng.nextInt(below: 4) + 1) * 5, h = Float(rng.nextInt(below: 4) + 1) * 5
            let score = Float(rng.nextInt(below: 5)) / 5 + 0.2
            return detection(rng.nextInt(below: 3), score, x, y, x + w, y + h)
        }
        candidates += candidates.prefix(10)
        for options in [NMSOptions(), NMSOptions(classAgnostic: true), NMSOptions(iouThreshold: 0.2, maximumDetections: 7)] {
            let reference = nonMaximumSuppression(candidates, options: options)
            #expect(!reference.isEmpty)
            // Best first, and no two kept boxes of one group overlap by more than the threshold.
            #expect(zip(reference, reference.dropFirst()).allSatisfy { $0.score >= $1.score })
            for (i, a) in reference.enumerated() {
                for b in reference[(i + 1)...] where options.classAgnostic || a.classIndex == b.classIndex {
                    #expect(a.box.iou(with: b.box) <= options.iouThreshold)
                }
            }
            var shuffled = candidates
            for _ in 0..<10 {
                shuffled.shuffle(using: &rng)
                #expect(nonMaximumSuppression(shuffled, options: options) == reference)
            }
        }
    }

    /// Per-class NMS equals class-agnostic NMS run on each class alone, merged by score order.
    @Test(arguments: 0..<5)
    func perClassIsAgnosticPerClass(seed: Int) {
        var rng = SplitMix64(seed: UInt64(100 + seed))
        let candidates: [Detection] = (0..<60).map { _ in
            let x = rng.nextFloat(in: 0..<50), y = rng.nextFloat(in: 0..<50)
            return detection(rng.nextInt(below: 3), rng.nextFloat(in: 0..<1), x, y,
                             x + rng.nextFloat(in: 1..<20), y + rng.nextFloat(in: 1..<20))
        }
        let perClass = nonMaximumSuppression(candidates, options: NMSOptions(maximumDetections: 1000))
        let merged = (0..<3).flatMap { k in
            nonMaximumSuppression(candidates.filter { $0.classIndex == k },
                                  options: NMSOptions(classAgnostic: true, maximumDetections: 1000))
        }.sorted { $0.score > $1.score }
        #expect(perClass == merged)
    }
}
