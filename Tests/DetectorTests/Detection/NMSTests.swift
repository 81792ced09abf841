import Testing
import Detector

@Suite struct NMSTests {
    func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox {
        BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2)
    }

    @Test func overlappingBoxOfSameClassIsSuppressed() {
        let a = Detection(box: box(0, 0, 10, 10), classIndex: 0, score: 0.9)
        let b = Detection(box: box(1, 1, 11, 11), classIndex: 0, score: 0.8)  // IoU 81/119 = 0.68
        let c = Detection(box: box(20, 20, 30, 30), classIndex: 0, score: 0.7)
        #expect(nonMaximumSuppression([b, c, a]) == [a, c])
    }

    @Test func differentClassesAreKeptUnlessAgnostic() {
        let a = Detection(box: box(0, 0, 10, 10), classIndex: 0, score: 0.9)
        let b = Detection(box: box(1, 1, 11, 11), classIndex: 1, score: 0.8)
        #expect(nonMaximumSuppression([a, b]) == [a, b])
        #expect(nonMaximumSuppression([a, b], options: NMSOptions(classAgnostic: true)) == [a])
    }

    @Test func identicalBoxesKeepOne() {
        let a = Detection(box: box(0, 0, 10, 10), classIndex: 2, score: 0.5)
        #expect(nonMaximumSuppression([a, a, a]) == [a])
    }

    @Test func zeroAreaBoxesNeverSuppressEachOther() {
        let a = Detection(box: box(5, 5, 5, 5), classIndex: 0, score: 0.9)
        let b = Detection(box: box(5, 5, 5, 5.0001), classIndex: 0, score: 0.8)
        #expect(nonMaximumSuppression([a, b]).count == 2)
    }

    @Test func thresholdsAndLimit() {
        // IoU of these two is exactly 0.5 (intersection 50, union 100): kept at 0.5, dropped at 0.45.
        let a = Detection(box: box(0, 0, 10, 10), classIndex: 0, score: 0.9)
        let b = Detection(box: box(0, 0, 10, 5), classIndex: 0, score: 0.8)
        #expect(nonMaximumSuppression([a, b], options: NMSOptions(iouThreshold: 0.5)).count == 2)
        #expect(nonMaximumSuppression([a, b], options: NMSOptions(iouThreshold: 0.45)) == [a])
        let low = Detection(box: box(50, 50, 60, 60), classIndex: 0, score: 0.2)
        #expect(nonMaximumSuppression([low]).isEmpty)
        let many = (0..<10).map { Detection(box: box(Float($0) * 20, 0, Float($0) * 20 + 10, 10), classIndex: 0, score: 0.5 + Float($0) / 100) }
        let top3 = nonMaximumSuppression(many, options: NMSOptions(maximumDetections: 3))
        #expect(top3.map(\.score) == [many[9].score, many[8].score, many[7].score])
    }

    @Test func nonFiniteCandidatesAreDropped() {
        let nan = Detection(box: box(0, 0, .nan, 10), classIndex: 0, score: 0.9)
        let inf = Detection(box: box(0, 0, 10, 10), classIndex: 0, score: .infinity)
        #expect(nonMaximumSuppression([nan, inf]).isEmpty)
    }

    @Test(arguments: 0..<20)
    func permutingTheInputDoesNotChangeTheOutput(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed))
        var candidates: [Detection] = (0..<60).map { _ in
            let x = rng.nextFloat(in: 0..<50), y = rng.nextFloat(in: 0..<50)
            let w = rng.nextFloat(in: 1..<20), h = rng.nextFloat(in: 1..<20)
            // Coarse scores make ties common, which is what the tie-break order is for.
            let score = Float(rng.nextInt(below: 5)) / 5 + 0.2
            return Detection(box: box(x, y, x + w, y + h), classIndex: rng.nextInt(below: 3), score: score)
        }
        let reference = nonMaximumSuppression(candidates)
        for _ in 0..<5 {
            candidates.shuffle(using: &rng)
            #expect(nonMaximumSuppression(candidates) == reference)
            #expect(nonMaximumSuppression(candidates, options: NMSOptions(classAgnostic: true))
                    == nonMaximumSuppression(candidates.reversed(), options: NMSOptions(classAgnostic: true)))
        }
    }
}
