import Foundation
import Testing
@testable import Detector

/// The fused batch norm + 2x2/2 max pool against its reference, `BatchNorm` then `MaxPool2D`
/// (each checked by finite differences in LayerTests), and against finite differences itself.
@Suite struct BatchNormMaxPoolTests {
    /// Fused and reference layers with the same random γ and β.
    static func pair(_ shape: FeatureShape, _ activation: Activation, seed: UInt64) -> (BatchNormMaxPool, BatchNorm, MaxPool2D) {
        let bn = BatchNorm(name: "layers.0.bn", input: shape, activation: activation)
        let referenceBN = BatchNorm(name: "layers.0.bn", input: shape, activation: activation)
        randomize(bn, seed: seed)
        randomize(referenceBN, seed: seed)
        let pool = MaxPool2D(name: "layers.1.maxpool", input: shape, size: 2, stride: 2)
        let referencePool = MaxPool2D(name: "layers.1.maxpool", input: shape, size: 2, stride: 2)
        return (BatchNormMaxPool(bn, pool), referenceBN, referencePool)
    }

    /// Forward (training, then inference with the running statistics both moved) and backward:
    /// pooled output, ∂x, ∂γ and ∂β agree with the two layers run one after the other.
    func compare(_ shape: FeatureShape, _ activation: Activation, batch: Int, input: [Float]) {
        let (fused, bn, pool) = Self.pair(shape, activation, seed: 31)
        let out = run(fused, input, batch: batch)
        let normalised = run(bn, input, batch: batch)
        let pooled = run(pool, normalised, batch: batch)
        #expect(maxDifference(out, pooled) <= 1e-6)
        #expect(fused.batchNorm.runningMean.value == bn.runningMean.value)
        #expect(fused.batchNorm.runningVariance.value == bn.runningVariance.value)

        let gradient = randomValues(pooled.count, seed: 32)
        let (dx, dParams) = backward(fused, input: input, output: out, gradientOutput: gradient, batch: batch)
        let (dNormalised, _) = backward(pool, input: normalised, output: pooled, gradientOutput: gradient, batch: batch)
        let (referenceDx, referenceParams) = backward(bn, input: input, output: normalised, gradientOutput: dNormalised, batch: batch)
        let scale = max(1, referenceDx.map(abs).max()!)
        #expect(maxDifference(dx, referenceDx) <= 2e-5 * scale)
        for (p, q) in zip(dParams, referenceParams) {
            #expect(maxDifference(p, q) <= 2e-5 * max(1, q.map(abs).max()!))
        }

        let inference = run(fused, input, batch: batch, training: false)
        let referenceInference = run(pool, run(bn, input, batch: batch, training: false), batch: batch, training: false)
        #expect(maxDifference(inference, referenceInference) <= 1e-6)
    }

    @Test(arguments: [Activation.leaky, .relu, .linear])
    func matchesBatchNormThenMaxPool(_ activation: Activation) {
        let shape = FeatureShape(height: 6, width: 8, channels: 32)
        compare(shape, activation, batch: 3, input: randomValues(3 * shape.count, seed: 30, range: -2..<2))
    }

    /// Windows of four equal values (and, with relu, every negative u giving 0): the winner is
    /// the top-left input, as `MaxPool2D` picks the first in row-major order, so the gradient
    /// goes to the same input in both.
    @Test(arguments: [Activation.leaky, .relu])
    func tiesGoToTheFirstInput(_ activation: Activation) {
        let shape = FeatureShape(height: 4, width: 4, channels: 16)
        var input = randomValues(2 * shape.count, seed: 33, range: -2..<2)
        for n in 0..<2 {
            for oy in 0..<2 {
                for ox in 0..<2 {
                    for ch in 0..<16 {
                        let first = ((n * 4 + 2 * oy) * 4 + 2 * ox) * 16 + ch
                        for j in 1..<4 { input[first + ((j >> 1) * 4 + (j & 1)) * 16] = input[first] }
                    }
                }
            }
        }
        compare(shape, activation, batch: 2, input: input)
    }

    @Test func backwardMatchesFiniteDifferences() {
        let (fused, _, _) = Self.pair(FeatureShape(height: 4, width: 2, channels: 16), .leaky, seed: 34)
        GradientCheck(epsilon: 1e-3, tolerance: 5e-3)
            .check(fused, input: randomValues(2 * fused.inputShape.count, seed: 35, range: -2..<2), batch: 2)
    }

    @Test func fusesOnlyWhatItCan() {
        func can(_ h: Int, _ w: Int, _ c: Int, _ activation: Activation, size: Int = 2, stride: Int = 2) -> Bool {
            let shape = FeatureShape(height: h, width: w, channels: c)
            return BatchNormMaxPool.canFuse(BatchNorm(name: "bn", input: shape, activation: activation),
                                            MaxPool2D(name: "p", input: shape, size: size, stride: stride))
        }
        #expect(can(8, 8, 16, .leaky) && can(8, 6, 32, .relu) && can(2, 2, 48, .linear))
        #expect(!can(8, 8, 8, .leaky))            // channels not a multiple of 16
        #expect(!can(7, 8, 16, .leaky))           // odd side: the last row is in no window
        #expect(!can(8, 8, 16, .relu6))           // derivative not decided by the sign
        #expect(!can(8, 8, 16, .leaky, stride: 1))
    }

    /// tiny-dsc runs its five batch norms before pools fused (the last one, before the head, is
    /// not), keeps the config's parameter names, and training and inference agree with the
    /// folded network.
    @Test func networkFusesTheBlocksOfTinyDSC() throws {
        let config = try shippedTinyDSC()
        let network = try Network(config: config, seed: 3)
        let fusedCount = network.nodes.filter { if case let .operation(op) = $0.step { op is BatchNormMaxPool } else { false } }.count
        #expect(fusedCount == 5)
        #expect(network.nodes.count == network.plainNodes.count - 5)
        #expect(network.parameters.map(\.name).contains("layers.0.bn.scale"))
        #expect(network.parameters.map(\.name) == network.plainNodes.flatMap(\.parameters).map(\.name))
    }
}
