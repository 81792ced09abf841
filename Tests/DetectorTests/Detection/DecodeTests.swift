import Foundation
import Testing
import Detector

@Suite struct DecodeTests {
    @Test func sigmoidIsSafeForHugeInputs() {
        #expect(sigmoid(0) == 0.5)
        #expect(abs(sigmoid(2) - 0.880797) < 1e-6)
        #expect(abs(sigmoid(-2) - 0.119203) < 1e-6)
        for x: Float in [100, 1e4, .infinity] { #expect(sigmoid(x) == 1) }
        #expect(sigmoid(-100) < 1e-40 && sigmoid(-100) >= 0)
        for x: Float in [-1e4, -.infinity] { #expect(sigmoid(x) == 0) }
        #expect(cappedExp(1e4).isFinite)
    }

    @Test func softmaxIsStableAndNormalised() {
        let p = softmax([1000, 1000, 999])
        #expect(p.allSatisfy { $0.isFinite })
        #expect(abs(p.reduce(0, +) - 1) < 1e-6)
        // e^0 / (2 e^0 + e^-1) = 1 / (2 + 0.367879)
        #expect(abs(p[0] - 0.422319) < 1e-5)
    }

    /// A 2 x 2 grid, 2 anchors, 2 classes; every value of cell (1, 0) anchor 1 chosen by hand.
    @Test func handComputedCell() {
        let layout = HeadLayout(gridWidth: 2, gridHeight: 2,
                                anchors: [Anchor(width: 1, height: 1), Anchor(width: 2, height: 0.5)], classCount: 2)
        var values = [Float](repeating: 0, count: layout.valuesPerImage)
        let o = layout.offset(column: 1, row: 0, anchor: 1)
        #expect(o == 21)  // ((0 * 2 + 1) * 2 + 1) * 7
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
        #expect(abs(p.box.centerX - 0.75) < 1e-6)
        #expect(abs(p.box.centerY - 0.375) < 1e-6)
        #expect(abs(p.box.width - 0.5) < 1e-6)
        #expect(abs(p.box.height - 0.25) < 1e-6)
        #expect(abs(p.objectness - 0.8) < 1e-6)
        #expect(abs(p.classProbabilities[0] - 0.75) < 1e-6)
        #expect(abs(p.score(of: 0) - 0.6) < 1e-6)
        #expect(p.bestClass == 0)
    }

    @Test func wildValuesDecodeToFiniteBoxes() {
        let layout = HeadLayout(gridWidth: 1, gridHeight: 1, anchors: [Anchor(width: 1, height: 1)], classCount: 1)
        let p = decodePredictions([1e4, -1e4, 1e4, -1e4, 1e4, 1e4], layout: layout)[0]
        #expect(p.box.x1.isFinite && p.box.x2.isFinite && p.box.y1.isFinite && p.box.y2.isFinite)
        #expect(p.objectness == 1 && p.classProbabilities == [1])
    }

    @Test func candidatesKeepBestClassOrAllClasses() {
        let p = DecodedPrediction(box: BoundingBox(x1: 0, y1: 0, x2: 1, y2: 1), objectness: 0.9,
                                  classProbabilities: [0.5, 0.4, 0.1], column: 0, row: 0, anchor: 0)
        let best = candidateDetections([p], scoreThreshold: 0.3)
        #expect(best.map(\.classIndex) == [0])
        #expect(abs(best[0].score - 0.45) < 1e-6)
        let all = candidateDetections([p], scoreThreshold: 0.3, allClasses: true)
        #expect(all.map(\.classIndex) == [0, 1])
    }
}
