import Testing
import Detector

@Suite struct BatchNormTests {
    @Test(arguments: Activation.allCases)
    func backwardMatchesFiniteDifferences(_ activation: Activation) {
        let shape = FeatureShape(height: 3, width: 2, channels: 4)
        let bn = BatchNorm(name: "bn", input: shape, activation: activation)
        randomize(bn, seed: 21)
        // Spread inputs so relu6's upper kink is reachable but no value sits on a kink.
        GradientCheck(epsilon: 1e-3, tolerance: 5e-3)
            .check(bn, input: randomValues(2 * shape.count, seed: 22, range: -2..<2), batch: 2)
    }

    /// 32 channels (the SIMD statistics path) of values around 50 with a spread of 0.1: the
    /// batch mean and variance, read off the running averages after one step, match a
    /// two-pass Double computation (no cancellation from the large mean).
    @Test func statisticsOfManyChannelsWithALargeMean() {
        let shape = FeatureShape(height: 7, width: 5, channels: 32)
        let bn = BatchNorm(name: "bn", input: shape, activation: .linear)
        let batch = 3, rows = batch * 35
        let input = randomValues(batch * shape.count, seed: 23, range: -0.1..<0.1).enumerated().map { $0.element + 50 + Float($0.offset % 32) }
        _ = run(bn, input, batch: batch)
        for ch in 0..<32 {
            let values = (0..<rows).map { Double(input[$0 * 32 + ch]) }
            let mean = values.reduce(0, +) / Double(rows)
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(rows - 1)
            #expect(abs(Double(bn.runningMean.value[ch]) - 0.1 * mean) < 1e-5 * mean)
            #expect(abs(Double(bn.runningVariance.value[ch]) - (0.9 + 0.1 * variance)) < 1e-6)
        }
    }

    /// Two values per channel, hand-computed: x = (1, 3) → μ = 2, σ² = 1, x̂ = (−1, 1).
    @Test func handComputedStatistics() {
        let bn = BatchNorm(name: "bn", input: FeatureShape(height: 1, width: 1, channels: 1), activation: .linear)
        bn.scale.value = [2]; bn.shift.value = [0.5]
        let out = run(bn, [1, 3], batch: 2)
        let s = 1 / (1 + bn.epsilon).squareRoot()
        #expect(abs(out[0] - (0.5 - 2 * s)) < 1e-6 && abs(out[1] - (0.5 + 2 * s)) < 1e-6)
        // Running averages, momentum 0.1, unbiased variance 2: mean 0.9·0 + 0.1·2, var 0.9·1 + 0.1·2.
        #expect(abs(bn.runningMean.value[0] - 0.2) < 1e-6)
        #expect(abs(bn.runningVariance.value[0] - 1.1) < 1e-6)
        // Inference uses the running statistics.
        let eval = run(bn, [1, 3], batch: 2, training: false)
        let r = 1 / (1.1 + bn.epsilon).squareRoot()
        #expect(abs(eval[0] - (0.5 + 2 * (1 - 0.2) * r)) < 1e-5)
    }
}
