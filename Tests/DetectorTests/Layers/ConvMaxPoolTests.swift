import Foundation
import Testing
@testable import Detector

/// The inference-only first convolution + 2x2/2 max pool against `Conv2D` then `MaxPool2D`.
@Suite struct ConvMaxPoolTests {
    /// Sides that put windows on every edge and several in the interior; every activation;
    /// 1 to 8 input channels (the direct kernel's range), 16 and 32 filters.
    @Test(arguments: [(6, 8, 3, 16), (4, 10, 1, 32), (10, 6, 8, 16), (2, 2, 3, 16)], Activation.allCases)
    func matchesConvolutionThenPool(_ dims: (Int, Int, Int, Int), _ activation: Activation) {
        let (h, w, c, f) = dims
        let shape = FeatureShape(height: h, width: w, channels: c)
        let conv = Conv2D(name: "layers.0.conv", input: shape, filters: f, size: 3, stride: 1, bias: true, activation: activation)
        randomize(conv, seed: 40)
        let pool = MaxPool2D(name: "layers.1.maxpool", input: conv.outputShape, size: 2, stride: 2)
        let fused = ConvMaxPool(conv, pool)
        #expect(fused.name == "layers.0.conv+1.maxpool")
        let input = randomValues(3 * shape.count, seed: 41, range: -3..<3)
        let expected = run(pool, run(DirectConv2D(conv), input, batch: 3, training: false), batch: 3, training: false)
        #expect(maxDifference(infer(fused, input, batch: 3), expected) == 0)
    }

    @Test func fusesOnlyWhatItCan() {
        func can(_ c: Int, _ f: Int, size: Int = 3, stride: Int = 1, h: Int = 8, poolStride: Int = 2) -> Bool {
            let conv = Conv2D(name: "c", input: FeatureShape(height: h, width: 8, channels: c), filters: f, size: size, stride: stride, bias: true)
            return ConvMaxPool.canFuse(conv, MaxPool2D(name: "p", input: conv.outputShape, size: 2, stride: poolStride))
        }
        #expect(can(3, 16) && can(8, 32))
        #expect(!can(16, 16))                 // many input channels: the GEMM path
        #expect(!can(3, 24))                  // filters not a multiple of 16
        #expect(!can(3, 16, size: 5) && !can(3, 16, stride: 2) && !can(3, 16, h: 7) && !can(3, 16, poolStride: 1))
    }

    /// tiny-dsc folded for inference runs its first conv and pool fused, and gives what the
    /// unfolded network gives in inference mode (running statistics moved by training passes).
    @Test func foldedTinyDSCMatchesUnfoldedInference() throws {
        let config = try shippedTinyDSC()
        let network = try Network(config: config, seed: 4)
        let count = config.inputHeight * config.inputWidth * 3
        let input = Tensor(shape: [2, config.inputHeight, config.inputWidth, 3], data: randomValues(2 * count, seed: 42))
        for _ in 0..<2 { network.forward(input, training: true) }
        let plain = network.forward(input, training: false)
        let folded = network.foldedForInference()
        #expect(folded.nodes.contains { if case let .operation(op) = $0.step { op is ConvMaxPool } else { false } })
        let fast = folded.forward(input)
        #expect(maxDifference(plain.data, fast.data) < 1e-3 * max(1, plain.data.map(abs).max()!))
    }
}
