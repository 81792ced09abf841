import Testing
import Detector

struct ConvCase: CustomTestStringConvertible, Sendable {
    var height: Int, width: Int, channels: Int, filters: Int, size: Int, stride: Int, batch: Int
    var testDescription: String { "\(batch)x\(height)x\(width)x\(channels) → \(filters) k\(size) s\(stride)" }
}

@Suite struct Conv2DTests {
    /// A hand-computed 3x3 convolution: a 3x3 single-channel image 1...9, an all-ones kernel, so
    /// each output is the sum of its (zero-padded) 3x3 neighbourhood.
    @Test func handComputedThreeByThree() {
        let conv = Conv2D(name: "c", input: FeatureShape(height: 3, width: 3, channels: 1), filters: 1, size: 3, stride: 1, bias: true)
        conv.weight.value = [Float](repeating: 1, count: 9)
        conv.bias!.value = [0.5]
        let out = run(conv, (1...9).map(Float.init), batch: 1)
        #expect(out == [12, 21, 16, 27, 45, 33, 24, 39, 28].map { $0 + 0.5 })
    }

    static let cases: [ConvCase] = [
        ConvCase(height: 5, width: 4, channels: 3, filters: 4, size: 3, stride: 1, batch: 2),
        ConvCase(height: 6, width: 6, channels: 2, filters: 3, size: 3, stride: 2, batch: 3),
        ConvCase(height: 7, width: 5, channels: 5, filters: 2, size: 3, stride: 2, batch: 1),
        ConvCase(height: 4, width: 4, channels: 6, filters: 7, size: 1, stride: 1, batch: 2),
        ConvCase(height: 5, width: 5, channels: 1, filters: 2, size: 5, stride: 1, batch: 1),
        ConvCase(height: 9, width: 8, channels: 16, filters: 33, size: 3, stride: 1, batch: 2),
        // Few input channels, output channels in multiples of 16: the direct kernels.
        ConvCase(height: 5, width: 6, channels: 3, filters: 16, size: 3, stride: 1, batch: 2),
        ConvCase(height: 7, width: 5, channels: 3, filters: 32, size: 3, stride: 2, batch: 1),
        ConvCase(height: 6, width: 6, channels: 2, filters: 16, size: 5, stride: 1, batch: 2),
        ConvCase(height: 4, width: 4, channels: 8, filters: 48, size: 3, stride: 2, batch: 3),
    ]

    /// The bias and activation fused into the direct kernel's stores (and applied after the
    /// GEMM otherwise) give act(conv + bias) for every activation.
    @Test(arguments: [(3, 16), (3, 32), (16, 16)], Activation.allCases)
    func fusedBiasAndActivation(_ channels: (Int, Int), _ activation: Activation) {
        let shape = FeatureShape(height: 6, width: 9, channels: channels.0)
        let plain = Conv2D(name: "c", input: shape, filters: channels.1, size: 3, stride: 1, bias: true)
        let fused = Conv2D(name: "c", input: shape, filters: channels.1, size: 3, stride: 1, bias: true, activation: activation)
        randomize(plain, seed: 8)
        randomize(fused, seed: 8)
        let input = randomValues(2 * shape.count, seed: 9, range: -4..<4)
        let expected = run(plain, input, batch: 2).map { activation.apply($0) }
        #expect(maxDifference(run(fused, input, batch: 2), expected) == 0)
    }

    @Test(arguments: cases)
    func fastPathMatchesReferenceLoop(_ c: ConvCase) {
        let conv = Conv2D(name: "c", input: FeatureShape(height: c.height, width: c.width, channels: c.channels),
                          filters: c.filters, size: c.size, stride: c.stride, bias: true)
        randomize(conv, seed: 5)
        let input = randomValues(c.batch * conv.inputShape.count, seed: 6)
        let fast = run(conv, input, batch: c.batch)
        let reference = Conv2D.referenceForward(input: input, inputShape: conv.inputShape, batch: c.batch,
                                                weight: conv.weight.value, bias: conv.bias!.value,
                                                filters: c.filters, size: c.size, stride: c.stride)
        #expect(fast.count == reference.count)
        let worst = zip(fast, reference).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-4)
    }

    @Test(arguments: Array(cases.prefix(5)) + [cases[6], cases[7]])
    func backwardMatchesFiniteDifferences(_ c: ConvCase) {
        for activation in [Activation.linear, .leaky] {
            let conv = Conv2D(name: "c", input: FeatureShape(height: c.height, width: c.width, channels: c.channels),
                              filters: c.filters, size: c.size, stride: c.stride, bias: true, activation: activation)
            randomize(conv, seed: 7)
            let input = randomValues(c.batch * conv.inputShape.count, seed: 8)
            if activation == .leaky { keepAwayFromKink(conv, input: input, batch: c.batch) }
            GradientCheck(epsilon: activation == .linear ? 1e-2 : 1e-3, tolerance: 3e-3)
                .check(conv, input: input, batch: c.batch)
        }
    }
}

/// Shifts each output channel's bias so that no pre-activation lies within 0.05 of leaky's
/// kink at 0, where a ±ε finite difference would straddle two slopes.
func keepAwayFromKink(_ conv: Conv2D, input: [Float], batch: Int) {
    let linear = Conv2D.referenceForward(input: input, inputShape: conv.inputShape, batch: batch, weight: conv.weight.value,
                                         bias: conv.bias!.value, filters: conv.outputShape.channels, size: conv.size, stride: conv.stride)
    let f = conv.outputShape.channels
    for co in 0..<f {
        let values = stride(from: co, to: linear.count, by: f).map { linear[$0] }
        for shift in stride(from: Float(0), through: 2, by: 0.01) where values.allSatisfy({ abs($0 + shift) > 0.05 }) {
            conv.bias!.value[co] += shift
            break
        }
    }
}

@Suite struct DepthwiseConv2DTests {
    /// One channel, all-ones 3x3 kernel on 1...9: each output is its zero-padded neighbourhood sum.
    @Test func handComputedThreeByThree() {
        let dw = DepthwiseConv2D(name: "dw", input: FeatureShape(height: 3, width: 3, channels: 1), size: 3, stride: 1)
        dw.weight.value = [Float](repeating: 1, count: 9)
        #expect(run(dw, (1...9).map(Float.init), batch: 1) == [12, 21, 16, 27, 45, 33, 24, 39, 28])
        let strided = DepthwiseConv2D(name: "dw", input: FeatureShape(height: 3, width: 3, channels: 1), size: 3, stride: 2)
        strided.weight.value = [Float](repeating: 1, count: 9)
        #expect(run(strided, (1...9).map(Float.init), batch: 1) == [12, 16, 24, 28])
    }

    /// (height, width, channels, stride, batch): channel counts below, at and past 16 exercise
    /// the SIMD16 path and its scalar remainder.
    static let sweep = [(5, 4, 3, 1, 2), (6, 6, 17, 2, 1), (7, 5, 8, 1, 3), (8, 8, 32, 2, 2), (3, 3, 1, 1, 1),
                        (9, 7, 16, 1, 2), (7, 9, 48, 2, 1), (4, 6, 35, 1, 2), (1, 1, 16, 1, 1), (2, 3, 20, 2, 3),
                        (5, 13, 16, 2, 1), (3, 12, 32, 1, 2)]

    @Test(arguments: sweep)
    func fastKernelsMatchReferenceLoops(h: Int, w: Int, c: Int, stride: Int, batch: Int) {
        let shape = FeatureShape(height: h, width: w, channels: c)
        let dw = DepthwiseConv2D(name: "dw", input: shape, size: 3, stride: stride)
        randomize(dw, seed: 11)
        let input = randomValues(batch * shape.count, seed: 12)
        let fast = run(dw, input, batch: batch)
        let slow = DepthwiseConv2D.referenceForward(input: input, inputShape: shape, batch: batch,
                                                    weight: dw.weight.value, size: 3, stride: stride)
        #expect(maxDifference(fast, slow) < 1e-5)
        let gradOut = randomValues(fast.count, seed: 13)
        let (gradIn, gradW) = backward(dw, input: input, output: fast, gradientOutput: gradOut, batch: batch)
        let expected = DepthwiseConv2D.referenceBackward(input: input, inputShape: shape, batch: batch, weight: dw.weight.value,
                                                         size: 3, stride: stride, gradientOutput: gradOut)
        #expect(maxDifference(gradIn, expected.input) < 1e-5)
        #expect(maxDifference(gradW[0], expected.weight) < 1e-4)
    }

    /// 5x5 kernels (the stride-1 input gradient's tap ranges are computed, not fixed at 3).
    @Test(arguments: [(6, 7, 16, 1), (5, 5, 19, 1), (7, 6, 16, 2)])
    func fiveByFiveMatchesReferenceLoops(h: Int, w: Int, c: Int, stride: Int) {
        let shape = FeatureShape(height: h, width: w, channels: c)
        let dw = DepthwiseConv2D(name: "dw", input: shape, size: 5, stride: stride)
        randomize(dw, seed: 14)
        let input = randomValues(2 * shape.count, seed: 15)
        let out = run(dw, input, batch: 2)
        #expect(maxDifference(out, DepthwiseConv2D.referenceForward(input: input, inputShape: shape, batch: 2,
                                                                    weight: dw.weight.value, size: 5, stride: stride)) < 1e-5)
        let gradOut = randomValues(out.count, seed: 16)
        let (gradIn, gradW) = backward(dw, input: input, output: out, gradientOutput: gradOut, batch: 2)
        let expected = DepthwiseConv2D.referenceBackward(input: input, inputShape: shape, batch: 2, weight: dw.weight.value,
                                                         size: 5, stride: stride, gradientOutput: gradOut)
        #expect(maxDifference(gradIn, expected.input) < 1e-5)
        #expect(maxDifference(gradW[0], expected.weight) < 1e-4)
    }

    @Test(arguments: [(5, 4, 3, 1, 2), (6, 6, 17, 2, 1), (4, 5, 16, 2, 1), (3, 3, 1, 1, 1)])
    func backwardMatchesFiniteDifferences(h: Int, w: Int, c: Int, stride: Int, batch: Int) {
        let shape = FeatureShape(height: h, width: w, channels: c)
        let dw = DepthwiseConv2D(name: "dw", input: shape, size: 3, stride: stride)
        randomize(dw, seed: 11)
        GradientCheck().check(dw, input: randomValues(batch * shape.count, seed: 12), batch: batch)
    }
}

@Suite struct PointwiseConv2DTests {
    // Channel counts in multiples of 16 with 16 or 32 inputs (or outputs, for ∂input) run on smallGEMM,
    // with row counts that leave a remainder of its four-row blocks.
    @Test(arguments: [(3, 4, 5, 2), (2, 2, 16, 3), (1, 1, 1, 1), (4, 3, 7, 9), (3, 5, 16, 32), (2, 3, 32, 16), (3, 3, 64, 16)])
    func matchesNaiveProductAndFiniteDifferences(h: Int, w: Int, cin: Int, cout: Int) {
        let shape = FeatureShape(height: h, width: w, channels: cin)
        for bias in [false, true] {
            let pw = PointwiseConv2D(name: "pw", input: shape, filters: cout, bias: bias, activation: bias ? .leaky : .linear)
            randomize(pw, seed: 13)
            let batch = 2
            let input = randomValues(batch * shape.count, seed: 14)
            let out = run(pw, input, batch: batch)
            for row in 0..<(batch * h * w) {
                for co in 0..<cout {
                    var sum: Float = bias ? pw.bias!.value[co] : 0
                    for ci in 0..<cin { sum += input[row * cin + ci] * pw.weight.value[ci * cout + co] }
                    if bias { sum = sum > 0 ? sum : 0.1 * sum }
                    #expect(abs(out[row * cout + co] - sum) < 1e-5)
                }
            }
            GradientCheck(epsilon: 1e-3, tolerance: 3e-3).check(pw, input: input, batch: batch)
        }
    }
}

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

@Suite struct MaxPool2DTests {
    @Test func routesTheGradientToTheWinner() {
        let pool = MaxPool2D(name: "p", input: FeatureShape(height: 2, width: 4, channels: 1), size: 2, stride: 2)
        let input: [Float] = [1, 5, 2, 0,
                              3, 4, 8, 7]
        var out = run(pool, input, batch: 1)
        #expect(out == [5, 8])
        var gradIn = [Float](repeating: 9, count: 8)
        var gradOut: [Float] = [10, 20]
        input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in
            gradOut.withUnsafeMutableBufferPointer { g in gradIn.withUnsafeMutableBufferPointer { gi in
                pool.backward(input: i.baseAddress!, output: UnsafePointer(o.baseAddress!), gradientOutput: g.baseAddress!,
                              gradientInput: gi.baseAddress!, batch: 1)
            } }
        } }
        #expect(gradIn == [0, 10, 0, 0, 0, 0, 20, 0])
    }

    @Test func strideOneKeepsTheSizeAndClipsAtTheEdge() {
        let pool = MaxPool2D(name: "p", input: FeatureShape(height: 2, width: 2, channels: 1), size: 2, stride: 1)
        #expect(run(pool, [1, 2, 4, 3], batch: 1) == [4, 3, 4, 3])
    }

    /// (height, width, channels, size, stride, batch), including odd sides (a dropped last row
    /// or column), channel counts around 16 (SIMD and remainder) and deliberate ties.
    static let sweep = [(4, 6, 3, 2, 2, 2), (5, 7, 16, 2, 2, 1), (8, 8, 20, 2, 2, 2), (6, 9, 35, 3, 3, 1),
                        (4, 4, 32, 2, 1, 2), (3, 5, 17, 2, 1, 1), (2, 2, 48, 2, 2, 3)]

    @Test(arguments: sweep)
    func fastKernelsMatchReferenceLoop(h: Int, w: Int, c: Int, size: Int, stride: Int, batch: Int) {
        let shape = FeatureShape(height: h, width: w, channels: c)
        let pool = MaxPool2D(name: "p", input: shape, size: size, stride: stride)
        // Values on a coarse grid, so windows often hold ties (the first one must win).
        let input = randomValues(batch * shape.count, seed: 61).map { ($0 * 4).rounded() / 4 }
        let out = run(pool, input, batch: batch)
        let gradOut = randomValues(out.count, seed: 62)
        let expected = MaxPool2D.reference(input: input, inputShape: shape, batch: batch, size: size, stride: stride, gradientOutput: gradOut)
        #expect(out == expected.output)
        let (gradIn, _) = backward(pool, input: input, output: out, gradientOutput: gradOut, batch: batch)
        #expect(gradIn == expected.gradientInput)
    }

    @Test(arguments: [1, 2])
    func backwardMatchesFiniteDifferences(stride: Int) {
        let pool = MaxPool2D(name: "p", input: FeatureShape(height: 4, width: 6, channels: 3), size: 2, stride: stride)
        // Distinct values spaced by more than 2ε, so no perturbation changes a winner.
        var rng = SplitMix64(seed: 31)
        var values = (0..<(2 * 72)).map { Float($0) * 0.05 }
        values.shuffle(using: &rng)
        GradientCheck(epsilon: 1e-3).check(pool, input: values, batch: 2)
    }
}
