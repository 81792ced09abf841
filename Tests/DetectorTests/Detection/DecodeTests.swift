import Foundation
import Testing
import Detector

@Suite struct DecodeTests {
    @Test func sigmoidHandComputed() {
        #expect(sigmoid(0) == 0.5)
        // 1 / (1 + e^-2) = 0.8807970779778823; σ(−x) = 1 − σ(x)
        #expect(abs(sigmoid(2) - 0.880797078) < 1e-7)
        #expect(abs(sigmoid(-2) - 0.119202922) < 1e-7)
        // σ(ln 3) = 3 / 4, σ(ln 4) = 4 / 5
        #expect(abs(sigmoid(log(3)) - 0.75) < 1e-7)
        #expect(abs(sigmoid(log(4)) - 0.8) < 1e-7)
    }

    /// Neither branch overflows: e^{−x} is only taken for x ≥ 0 and e^{x} only for x < 0.
    @Test(arguments: [Float(100), 1e4, 1e30, .greatestFiniteMagnitude, .infinity])
    func sigmoidIsSafeForHugeInputs(x: Float) {
        #expect(sigmoid(x) == 1)
        let negative = sigmoid(-x)
        #expect(negative >= 0 && negative < 1e-40)  // e^-100 ≈ 3.7e-44, a subnormal float
        #expect(!negative.isNaN)
    }

    @Test func cappedExpStopsAtTheCap() {
        #expect(abs(cappedExp(1) - 2.7182817) < 1e-6)
        #expect(cappedExp(10) == cappedExp(1e4))
        #expect(cappedExp(.infinity) == exp(Float(10)))
        #expect(abs(cappedExp(1e4) - 22026.465) < 0.01)
        #expect(cappedExp(-1e4) == 0)
        #expect(cappedExp(3, cap: 2) == exp(Float(2)))
    }

    @Test func softmaxHandComputedAndStable() {
        // softmax(ln 3, 0) = (3/4, 1/4)
        let small = softmax([log(3), 0])
        #expect(abs(small[0] - 0.75) < 1e-7 && abs(small[1] - 0.25) < 1e-7)
        // Shifting every logit by the same amount changes nothing; e^1000 would overflow.
        let p = softmax([1000, 1000, 999])
        #expect(p.allSatisfy { $0.isFinite })
        // e^0 / (2 e^0 + e^-1) = 1 / (2 + 0.36787944) = 0.42231882
        #expect(abs(p[0] - 0.42231882) < 1e-6 && abs(p[2] - 0.15536240) < 1e-6)
        #expect(abs(p.reduce(0, +) - 1) < 1e-6)
        #expect(softmax([-1e4, 1e4]) == [0, 1])
        #expect(softmax([7]) == [1])
    }

    @Test func softmaxOfInfiniteLogitsIsDefined() {
        #expect(softmax([.infinity, 0, .infinity]) == [0.5, 0, 0.5])
        #expect(softmax([-.infinity, -.infinity]) == [0.5, 0.5])
        #expect(softmax([-.infinity, 2]) == [0, 1])
    }

    /// The normaliser softmax returns: m = max z and S = Σ e^{z − m}, so ln S − (z_k − m) is
    /// −ln p_k (what the region loss's class term adds up).
    @Test func softmaxReturnsItsNormaliser() {
        let logits: [Float] = [log(3), 0, -.infinity]
        var p = [Float](repeating: 0, count: 3)
        let (largest, sum) = logits.withUnsafeBufferPointer { l in p.withUnsafeMutableBufferPointer { softmax(l, into: $0) } }
        #expect(largest == log(3))
        #expect(abs(sum - 4.0 / 3) < 1e-6)  // 1 + e^{−ln 3} + 0
        #expect(abs(p[0] - 0.75) < 1e-7 && abs(p[1] - 0.25) < 1e-7 && p[2] == 0)
        #expect(abs((log(sum) - (logits[1] - largest)) - log(4)) < 1e-6)  // −ln 0.25
        let empty = softmax(UnsafeBufferPointer(start: nil, count: 0), into: UnsafeMutableBufferPointer(start: nil, count: 0))
        #expect(empty.largest == -.infinity && empty.sum == 0)
    }

    /// `HeadLayout.decodedBox` (what the region loss decodes) is `decodePredictions`' box,
    /// bit for bit, wild outputs included (their limits: `wildValuesDecodeToFiniteBoxes`).
    @Test func decodedBoxIsThePredictionsBox() {
        let layout = HeadLayout(gridWidth: 3, gridHeight: 2, anchors: [Anchor(width: 1, height: 2), Anchor(width: 0.5, height: 1)], classCount: 2)
        var values = (0..<layout.valuesPerImage).map { Float(($0 * 37) % 11) / 5 - 1 }
        let o = layout.offset(column: 2, row: 1, anchor: 1)
        values[o + 2] = 1e4; values[o + 3] = .infinity
        let predictions = decodePredictions(values, layout: layout)
        #expect(predictions.count == 12)
        values.withUnsafeBufferPointer { v in
            for p in predictions {
                #expect(layout.decodedBox(v, column: p.column, row: p.row, anchor: p.anchor) == p.box)
            }
        }
    }

    /// A 2 x 2 grid, 2 anchors, 2 classes; every value of cell (1, 0) anchor 1 chosen by hand.
    @Test func handComputedCell() {
        let layout = HeadLayout(gridWidth: 2, gridHeight: 2,
                                anchors: [Anchor(width: 1, height: 1), Anchor(width: 2, height: 0.5)], classCount: 2)
        var values = [Float](repeating: 0, count: layout.valuesPerImage)
        let o = layout.offset(column: 1, row: 0, anchor: 1)
        #expect(o == 21)  // ((0 · 2 + 1) · 2 + 1) · 7
        values[o + 0] = 0           // σ = 0.5
        values[o + 1] = log(3)      // σ = 0.75
        values[o + 2] = log(0.5)    // e^t = 0.5
        values[o + 3] = 0
        values[o + 4] = log(4)      // σ = 0.8
        values[o + 5] = log(3)      // softmax(ln 3, 0) = (0.75, 0.25)
        values[o + 6] = 0
        let predictions = decodePredictions(values, layout: layout)
        #expect(predictions.count == 8)
        let p = predictions[3]  // row 0, column 1, anchor 1
        #expect(p.column == 1 && p.row == 0 && p.anchor == 1)
        // b_x = (1 + 0.5)/2 = 0.75, b_y = (0 + 0.75)/2 = 0.375, b_w = 2·0.5/2 = 0.5, b_h = 0.5·1/2 = 0.25
        // corners: x 0.5 ... 1.0, y 0.25 ... 0.5
        #expect(abs(p.box.x1 - 0.5) < 1e-6 && abs(p.box.x2 - 1.0) < 1e-6)
        #expect(abs(p.box.y1 - 0.25) < 1e-6 && abs(p.box.y2 - 0.5) < 1e-6)
        #expect(abs(p.objectness - 0.8) < 1e-6)
        #expect(abs(p.classProbabilities[0] - 0.75) < 1e-6 && abs(p.classProbabilities[1] - 0.25) < 1e-6)
        #expect(abs(p.score(of: 0) - 0.6) < 1e-6 && abs(p.score(of: 1) - 0.2) < 1e-6)
        #expect(p.bestClass == 0)
    }

    /// All-zero raw output of a 3 x 2 grid: every box is centred in its cell, (i + 0.5)/W and
    /// (j + 0.5)/H, and exactly its anchor's size, p/W by p/H; predictions come row by row,
    /// then column, then anchor.
    @Test func zeroOutputCentresEveryBoxInItsCell() {
        let anchors = [Anchor(width: 1, height: 2), Anchor(width: 3, height: 0.5)]
        let layout = HeadLayout(gridWidth: 3, gridHeight: 2, anchors: anchors, classCount: 4)
        let predictions = decodePredictions([Float](repeating: 0, count: layout.valuesPerImage), layout: layout)
        #expect(predictions.count == 3 * 2 * 2)
        var n = 0
        for row in 0..<2 {
            for column in 0..<3 {
                for a in 0..<2 {
                    let p = predictions[n]
                    n += 1
                    #expect(p.row == row && p.column == column && p.anchor == a)
                    #expect(abs(p.box.centerX - (Float(column) + 0.5) / 3) < 1e-6)
                    #expect(abs(p.box.centerY - (Float(row) + 0.5) / 2) < 1e-6)
                    #expect(abs(p.box.width - anchors[a].width / 3) < 1e-6)
                    #expect(abs(p.box.height - anchors[a].height / 2) < 1e-6)
                    #expect(p.objectness == 0.5 && p.classProbabilities == [0.25, 0.25, 0.25, 0.25])
                }
            }
        }
    }

    /// Each channel pushed to ±100 and ±1e4 (what a diverged network produces) still decodes
    /// to finite numbers with the limits the formulas give.
    @Test(arguments: [Float(100), -100, 1e4, -1e4])
    func wildValuesDecodeToFiniteBoxes(t: Float) {
        let layout = HeadLayout(gridWidth: 4, gridHeight: 2, anchors: [Anchor(width: 2, height: 1)], classCount: 3)
        var values = [Float](repeating: 0, count: layout.valuesPerImage)
        let o = layout.offset(column: 1, row: 1, anchor: 0)
        for k in 0..<5 { values[o + k] = t }
        values[o + 5] = t; values[o + 6] = -t; values[o + 7] = 0
        let p = decodePredictions(values, layout: layout)[5]
        #expect(p.column == 1 && p.row == 1)
        #expect([p.box.x1, p.box.y1, p.box.x2, p.box.y2].allSatisfy { $0.isFinite })
        #expect(p.classProbabilities.allSatisfy { $0.isFinite })
        #expect(abs(p.classProbabilities.reduce(0, +) - 1) < 1e-6)
        let side = t > 0 ? Float(1) : 0      // σ(t)
        #expect(abs(p.box.centerX - (1 + side) / 4) < 1e-6)
        #expect(abs(p.box.centerY - (1 + side) / 2) < 1e-6)
        #expect(abs(p.objectness - side) < 1e-30)
        // e^{min(t, 10)}: at most 2 · e^10 / 4 wide; for t ≤ −100 the box is empty (e^-100 ≈ 4e-44).
        let width: Float = t > 0 ? 2 * exp(10) / 4 : 0, height: Float = t > 0 ? exp(10) / 2 : 0
        #expect(abs(p.box.width - width) <= max(1, width) * 1e-6)
        #expect(abs(p.box.height - height) <= max(1, height) * 1e-6)
        #expect(p.bestClass == (t > 0 ? 0 : 1))
        #expect(p.classProbabilities[t > 0 ? 0 : 1] == 1)
    }

    @Test func candidatesKeepBestClassOrAllClasses() {
        let p = DecodedPrediction(box: BoundingBox(x1: 0, y1: 0, x2: 1, y2: 1), objectness: 0.9,
                                  classProbabilities: [0.5, 0.4, 0.1], column: 0, row: 0, anchor: 0)
        // scores 0.45, 0.36, 0.09
        let best = candidateDetections([p], scoreThreshold: 0.3)
        #expect(best.map(\.classIndex) == [0])
        #expect(abs(best[0].score - 0.45) < 1e-6)
        let all = candidateDetections([p], scoreThreshold: 0.3, allClasses: true)
        #expect(all.map(\.classIndex) == [0, 1])
        #expect(abs(all[1].score - 0.36) < 1e-6)
        #expect(candidateDetections([p], scoreThreshold: 0.5).isEmpty)
        #expect(candidateDetections([p], scoreThreshold: 0.01, allClasses: true).count == 3)
    }

    /// A score equal to the threshold passes (≥), as in NMS.
    @Test func candidateScoreAtTheThresholdIsKept() {
        let p = DecodedPrediction(box: BoundingBox(x1: 0, y1: 0, x2: 1, y2: 1), objectness: 0.5,
                                  classProbabilities: [0.5, 0.5], column: 0, row: 0, anchor: 0)
        let kept = candidateDetections([p], scoreThreshold: 0.25)
        #expect(kept == [Detection(box: p.box, classIndex: 0, score: 0.25)])  // ties: the lowest class
    }

    /// The decoded candidates of a raw output, through NMS: one object seen by two anchors of
    /// neighbouring cells gives one detection.
    @Test func decodeThenSuppress() {
        let layout = HeadLayout(gridWidth: 2, gridHeight: 1, anchors: [Anchor(width: 1, height: 1)], classCount: 2)
        var values = [Float](repeating: -10, count: layout.valuesPerImage)  // objectness σ(−10) ≈ 0
        // Cell 0: centre at the right edge of cell 0 (t_x = 10: σ ≈ 1), 1.6 x 1 cells, class 1.
        values[0] = 10; values[1] = 0; values[2] = log(1.6); values[3] = 0; values[4] = 5; values[5] = 0; values[6] = 4
        // Cell 1: centre at its left edge (t_x = −10), same size, class 1, less sure.
        values[7] = -10; values[8] = 0; values[9] = log(1.6); values[10] = 0; values[11] = 2; values[12] = 0; values[13] = 4
        let candidates = candidateDetections(decodePredictions(values, layout: layout), scoreThreshold: 0.25)
        #expect(candidates.count == 2 && candidates.allSatisfy { $0.classIndex == 1 })
        let kept = nonMaximumSuppression(candidates)
        #expect(kept == [candidates[0]])
        // score = σ(5) · e^4 / (1 + e^4) = 0.993307 · 0.982014
        #expect(abs(kept[0].score - 0.993307 * 0.982014) < 1e-5)
        #expect(abs(kept[0].box.x1 - 0.1) < 1e-4 && abs(kept[0].box.x2 - 0.9) < 1e-4)
    }
}
