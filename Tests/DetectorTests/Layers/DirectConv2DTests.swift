import Foundation
import Testing
@testable import Detector

/// The first convolution's direct kernels as their own step, against the plain loop, finite
/// differences and the GEMM path of `Conv2D`; and the networks choose it when built.
@Suite struct DirectConv2DTests {
    /// Few input channels, output channels in multiples of 16: the shapes the direct kernels take.
    static let cases: [ConvCase] = [
        ConvCase(height: 5, width: 6, channels: 3, filters: 16, size: 3, stride: 1, batch: 2),
        ConvCase(height: 7, width: 5, channels: 3, filters: 32, size: 3, stride: 2, batch: 1),
        ConvCase(height: 6, width: 6, channels: 2, filters: 16, size: 5, stride: 1, batch: 2),
        ConvCase(height: 4, width: 4, channels: 8, filters: 48, size: 3, stride: 2, batch: 3),
        ConvCase(height: 9, width: 12, channels: 1, filters: 16, size: 3, stride: 1, batch: 1),
    ]

    func convolution(_ c: ConvCase, activation: Activation = .linear, bias: Bool = true) -> Conv2D {
        Conv2D(name: "layers.0.conv", input: FeatureShape(height: c.height, width: c.width, channels: c.channels),
               filters: c.filters, size: c.size, stride: c.stride, bias: bias, activation: activation)
    }

    @Test func appliesOnlyToFewInputChannelsAndWholeSixteens() {
        func applies(_ c: Int, _ f: Int, size: Int = 3) -> Bool {
            DirectConv2D.applies(to: Conv2D(name: "c", input: FeatureShape(height: 4, width: 4, channels: c),
                                            filters: f, size: size, stride: 1, bias: true))
        }
        #expect(applies(3, 16) && applies(8, 32) && applies(1, 48) && applies(3, 16, size: 5))
        #expect(!applies(9, 16) && !applies(3, 24) && !applies(3, 16, size: 1))
    }

    /// The step is the convolution: same name, same parameters (the objects), same shapes.
    @Test func isTheConvolutionItRuns() {
        let conv = convolution(Self.cases[0])
        let direct = DirectConv2D(conv)
        #expect(direct.name == conv.name && direct.outputShape == conv.outputShape && direct.inputShape == conv.inputShape)
        #expect(direct.parameters.map(ObjectIdentifier.init) == conv.parameters.map(ObjectIdentifier.init))
        #expect(direct.multiplyAccumulates == conv.multiplyAccumulates)
    }

    @Test(arguments: cases)
    func matchesTheReferenceLoop(_ c: ConvCase) {
        let conv = convolution(c)
        randomize(conv, seed: 5)
        let input = randomValues(c.batch * conv.inputShape.count, seed: 6)
        let fast = run(DirectConv2D(conv), input, batch: c.batch)
        let reference = Conv2D.referenceForward(input: input, inputShape: conv.inputShape, batch: c.batch,
                                                weight: conv.weight.value, bias: conv.bias!.value,
                                                filters: c.filters, size: c.size, stride: c.stride)
        #expect(fast.count == reference.count)
        #expect(maxDifference(fast, reference) < 1e-4)
        // And the GEMM path `Conv2D` itself takes now gives the same function.
        #expect(maxDifference(run(conv, input, batch: c.batch), reference) < 1e-4)
    }

    /// The bias and activation applied as each output is stored give act(conv + bias) exactly.
    @Test(arguments: Activation.allCases)
    func fusedBiasAndActivation(_ activation: Activation) {
        let c = Self.cases[0]
        let plain = convolution(c), fused = convolution(c, activation: activation)
        randomize(plain, seed: 8)
        randomize(fused, seed: 8)
        let input = randomValues(c.batch * plain.inputShape.count, seed: 9, range: -4..<4)
        let expected = run(DirectConv2D(plain), input, batch: c.batch).map { activation.apply($0) }
        #expect(maxDifference(run(DirectConv2D(fused), input, batch: c.batch), expected) == 0)
    }

    @Test(arguments: cases.prefix(4))
    func backwardMatchesFiniteDifferences(_ c: ConvCase) {
        for activation in [Activation.linear, .leaky] {
            let conv = convolution(c, activation: activation)
            randomize(conv, seed: 7)
            let input = randomValues(c.batch * conv.inputShape.count, seed: 8)
            if activation == .leaky { keepAwayFromKink(conv, input: input, batch: c.batch) }
            GradientCheck(epsilon: activation == .linear ? 1e-2 : 1e-3, tolerance: 3e-3)
                .check(DirectConv2D(conv), input: input, batch: c.batch)
        }
    }

    /// Without a bias (a batch norm follows in training) and without ∂input (the network's
    /// first layer): the same parameter gradient as with ∂input asked for.
    @Test func backwardWithoutInputGradientOrBias() {
        let c = Self.cases[0]
        let conv = convolution(c, bias: false)
        randomize(conv, seed: 10)
        let direct = DirectConv2D(conv)
        let input = randomValues(c.batch * conv.inputShape.count, seed: 11)
        let output = run(direct, input, batch: c.batch)
        let g = randomValues(output.count, seed: 12)
        let (_, withInput) = backward(direct, input: input, output: output, gradientOutput: g, batch: c.batch)
        conv.weight.zeroGradient()
        var gradientOutput = g
        input.withUnsafeBufferPointer { i in output.withUnsafeBufferPointer { o in gradientOutput.withUnsafeMutableBufferPointer { d in
            direct.backward(input: i.baseAddress!, output: o.baseAddress!, gradientOutput: d.baseAddress!, gradientInput: nil, batch: c.batch)
        } } }
        #expect(conv.parameters.count == 1)
        #expect(conv.weight.gradient == withInput[0])
    }

    /// Both networks run the first convolution of tiny-dsc on its direct kernel: the training
    /// one as a `DirectConv2D`, the inference one inside the fused `ConvMaxPool`; a first
    /// convolution of stride 2 (no pool to fuse) is a `DirectConv2D` in both, routes or not.
    @Test func networksChooseItWhenBuilt() throws {
        let training = try Network(config: shippedTinyDSC(), seed: 1)
        #expect(training.nodes.first?.operation is DirectConv2D)
        #expect(training.plainNodes.first?.operation is Conv2D)
        #expect(training.nodes.filter { $0.operation is DirectConv2D }.count == 1)
        #expect(training.foldedForInference().nodes.first?.operation is ConvMaxPool)
        let text = smallConfigJSON.replacingOccurrences(of: #""filters": 4, "size": 3, "stride": 1"#,
                                                        with: #""filters": 16, "size": 3, "stride": 2"#)
        #expect(text != smallConfigJSON)
        let strided = try ModelConfig.decode(Data(text.utf8), source: "small")
        let network = try Network(config: strided, seed: 2)
        #expect(network.nodes.first?.operation is DirectConv2D)
        #expect(network.foldedForInference().nodes.first?.operation is DirectConv2D)
    }
}
