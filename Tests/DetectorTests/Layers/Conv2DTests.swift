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
