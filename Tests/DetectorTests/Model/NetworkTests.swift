import Foundation
import Testing
import Detector

/// The repository root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

@Suite struct NetworkTests {
    @Test func tinyDSCTableMatchesTheReferenceCounts() throws {
        let config = try shippedTinyDSC()
        let network = try Network(config: config, seed: 1)
        // As counted independently from the PyTorch definition of this architecture: 125,736
        // parameters, 142.574 MFLOPs per 256 x 256 image.
        #expect(network.parameterCount == 125_736)
        #expect(network.flopsPerImage == 142_573_568)
        #expect(config.gridWidth == 8 && config.gridHeight == 8)
        #expect(network.outputShape == FeatureShape(height: 8, width: 8, channels: 40))
        let table = network.table()
        #expect(table.contains("125,736 parameters, 0.143 GFLOPs"))
    }

    @Test func sameSeedGivesSameWeights() throws {
        let config = try shippedTinyDSC()
        let a = try Network(config: config, seed: 3), b = try Network(config: config, seed: 3)
        let c = try Network(config: config, seed: 4)
        #expect(a.parameters.map(\.value) == b.parameters.map(\.value))
        #expect(a.parameters.map(\.value) != c.parameters.map(\.value))
        // Glorot normal: the first conv's kernel has std √(2 / (27 + 144)) ≈ 0.108.
        let w = a.parameters[0].value
        let std = (w.map { $0 * $0 }.reduce(0, +) / Float(w.count)).squareRoot()
        #expect(abs(std - 0.108) < 0.02)
    }
}

@Suite struct NetworkGradientTests {
    /// Random batch norm scales and shifts (the defaults 1, 0 would hide scale/shift mix-ups).
    func smallNetwork(seed: UInt64) throws -> Network {
        let network = try Network(config: ModelConfig.decode(Data(smallConfigJSON.utf8), source: "small"), seed: seed)
        var rng = SplitMix64(seed: seed + 100)
        for p in network.parameters where p.name.hasSuffix(".scale") || p.name.hasSuffix(".shift") || p.name.hasSuffix(".bias") {
            for i in 0..<p.count { p.value[i] = (p.name.hasSuffix(".scale") ? 1 : 0) + rng.nextFloat(in: -0.3..<0.3) }
        }
        return network
    }

    /// Batch norm folded into the convolutions computes the same function as the unfolded
    /// network in inference mode (after a few training passes have moved the running statistics).
    @Test func foldedNetworkMatchesUnfoldedInference() throws {
        let network = try smallNetwork(seed: 5)
        let config = network.config
        let input = Tensor(shape: [3, config.inputHeight, config.inputWidth, 3],
                           data: randomValues(3 * config.inputHeight * config.inputWidth * 3, seed: 6))
        for _ in 0..<3 { network.forward(input, training: true) }
        let plain = network.forward(input, training: false)
        let folded = network.foldedForInference()
        #expect(folded.parameters.count < network.parameters.count)
        let fast = folded.forward(input)
        #expect(fast.shape == [3, 2, 4, 14])
        #expect(maxDifference(plain.data, fast.data) < 1e-5)
    }

    /// The whole network (conv + BN, pools, separable with relu6, depthwise, shortcut, pointwise,
    /// route, head) against central differences of L = Σ out ⊙ R, in training mode (batch
    /// statistics), for the input and every trainable parameter.
    @Test func backwardMatchesFiniteDifferences() throws {
        let network = try smallNetwork(seed: 7)
        let config = network.config
        let batch = 2
        var x = Tensor(shape: [batch, config.inputHeight, config.inputWidth, 3],
                       data: randomValues(batch * config.inputHeight * config.inputWidth * 3, seed: 8))
        let r = randomValues(batch * network.headLayout.valuesPerImage, seed: 9)
        func loss() -> Double {
            let out = network.forward(x, training: true)
            return zip(out.data, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        network.zeroGradients()
        network.forward(x, training: true)
        let gradInput = try #require(network.backward(Tensor(shape: [batch, 2, 4, 14], data: r), inputGradient: true))
        let eps: Float = 5e-4
        var checked = 0, bad = 0, worst: Double = 0
        func compare(_ analytic: Float, _ numeric: Double, _ what: String) {
            let error = abs(Double(analytic) - numeric) / max(1, abs(numeric))
            worst = max(worst, error)
            checked += 1
            // Float forward passes limit the numeric derivative to ~1e-3; a kink crossed by ±ε
            // (leaky, relu, relu6, a pool winner) can spoil an entry, so a few are tolerated.
            if error > 1e-2 { bad += 1; print("mismatch \(what): analytic \(analytic) numeric \(numeric)") }
        }
        for k in stride(from: 0, to: x.count, by: 7) {
            let saved = x.data[k]
            x.data[k] = saved + eps; let lp = loss()
            x.data[k] = saved - eps; let lm = loss()
            x.data[k] = saved
            compare(gradInput.data[k], (lp - lm) / Double(2 * eps), "input[\(k)]")
        }
        for p in network.parameters where p.trainable {
            let analytic = p.gradient
            for k in 0..<p.count {
                let saved = p.value[k]
                p.value[k] = saved + eps; let lp = loss()
                p.value[k] = saved - eps; let lm = loss()
                p.value[k] = saved
                compare(analytic[k], (lp - lm) / Double(2 * eps), "\(p.name)[\(k)]")
            }
        }
        #expect(checked > 300)
        #expect(bad <= checked / 100, "worst relative error \(worst)")
    }
}
