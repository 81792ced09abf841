import Foundation
import Testing
import Detector

@Suite struct AdamTests {
    /// After one step m̂ = g and v̂ = g², so the update is −lr · g / (|g| + ε) ≈ −lr · sign(g).
    @Test func firstStepMovesByLearningRateAgainstTheGradientSign() {
        let p = Parameter(name: "w.weight", shape: [3], value: [1, 2, 3])
        p.gradient = [0.5, -4, 0]
        let adam = Adam(parameters: [p], learningRate: 0.1)
        adam.step()
        #expect(abs(p.value[0] - 0.9) < 1e-6)
        #expect(abs(p.value[1] - 2.1) < 1e-6)
        #expect(p.value[2] == 3)
    }

    @Test func nonTrainableParametersAreUntouched() {
        let stats = Parameter(name: "bn.running_mean", shape: [2], value: [1, 1], trainable: false)
        let adam = Adam(parameters: [stats])
        adam.step()
        #expect(stats.value == [1, 1])
        #expect(adam.parameters.isEmpty)
    }

    /// Five steps against torch.optim.Adam (scripts/weights_fixtures.py), with and without L2
    /// weight decay.
    @Test func matchesPyTorchAdam() throws {
        struct Run: Decodable { var weight_decay: Float; var initial: [Float]; var gradients: [[Float]]; var values: [[Float]] }
        struct Reference: Decodable { var lr: Float; var runs: [Run] }
        let reference = try JSONDecoder().decode(Reference.self, from: Fixtures.data("adam_reference.json"))
        for run in reference.runs {
            let p = Parameter(name: "k.weight", shape: [run.initial.count], value: run.initial)
            let adam = Adam(parameters: [p], learningRate: reference.lr)
            adam.weightDecay = run.weight_decay
            for (g, expected) in zip(run.gradients, run.values) {
                p.gradient = g
                adam.step()
                for (a, b) in zip(p.value, expected) { #expect(abs(a - b) < 1e-6, "decay \(run.weight_decay)") }
            }
        }
    }

    @Test func clippingScalesTheGlobalNorm() {
        let a = Parameter(name: "a.weight", shape: [2], value: [0, 0]), b = Parameter(name: "b.bias", shape: [1], value: [0])
        a.gradient = [3, 0]; b.gradient = [4]   // global norm 5
        let adam = Adam(parameters: [a, b])
        #expect(abs(adam.gradientNorm() - 5) < 1e-6)
        adam.maximumGradientNorm = 1
        adam.step()
        // Adam's first step is invariant to scale, so check the moments: m = 0.1 · g · (1/5).
        #expect(abs(adam.firstMoments["a.weight"]![0] - 0.1 * 3 / 5) < 1e-6)
        #expect(abs(adam.firstMoments["b.bias"]![0] - 0.1 * 4 / 5) < 1e-6)
    }

    // MARK: Decoupled weight decay (AdamW)

    /// One step by hand: θ = 1, g = 0.5, lr 0.1, λ 0.1: the kernel first shrinks to
    /// 1 · (1 − 0.1 · 0.1) = 0.99, then Adam's first step moves it by −lr · sign(g): 0.89.
    @Test func decoupledWeightDecayFirstStepByHand() {
        let p = Parameter(name: "layers.0.conv.weight", shape: [2], value: [1, -2])
        p.gradient = [0.5, 0]
        let adam = Adam(parameters: [p], learningRate: 0.1)
        adam.decoupledWeightDecay = 0.1
        adam.step()
        #expect(abs(p.value[0] - 0.89) < 1e-6)
        // Zero gradient: only the decay, −2 · 0.99. The moments never see the decay.
        #expect(abs(p.value[1] - -1.98) < 1e-6)
        #expect(adam.firstMoments[p.name]![1] == 0 && adam.secondMoments[p.name]![1] == 0)
    }

    /// Kernels (regular, depthwise, pointwise, head) decay; biases and batch norm's γ and β do
    /// not, and running statistics are never touched.
    @Test func decoupledWeightDecayOnlyOnKernels() {
        let names = ["layers.0.conv.weight", "layers.2.depthwise.weight", "layers.2.pointwise.weight", "layers.11.conv.bias",
                     "layers.0.bn.scale", "layers.0.bn.shift"]
        let parameters = names.map { Parameter(name: $0, shape: [1], value: [1]) }
        let running = Parameter(name: "layers.0.bn.running_var", shape: [1], value: [1], trainable: false)
        let adam = Adam(parameters: parameters + [running], learningRate: 0.1)
        adam.decoupledWeightDecay = 0.5
        adam.step()   // zero gradients: Adam's own step is 0, what moves is the decay
        for (p, expected) in zip(parameters, [Float(0.95), 0.95, 0.95, 1, 1, 1]) { #expect(abs(p.value[0] - expected) < 1e-7, "\(p.name)") }
        #expect(parameters.suffix(3).allSatisfy { $0.value == [1] })
        #expect(running.value == [1])
        #expect(parameters.map(Adam.decays) == [true, true, true, false, false, false])
    }

    /// AdamW in Double, written from Loshchilov & Hutter's algorithm as PyTorch implements it
    /// (θ ← θ(1 − lr λ), then the bias-corrected Adam step), against the Swift Float steps.
    @Test func decoupledWeightDecayMatchesDoubleReference() {
        let initial: [Float] = [0.5, -1, 2, 0.01]
        let p = Parameter(name: "k.weight", shape: [4], value: initial)
        let adam = Adam(parameters: [p], learningRate: 0.05)
        adam.decoupledWeightDecay = 0.3
        var theta = initial.map(Double.init), m = [Double](repeating: 0, count: 4), v = m
        var rng = SplitMix64(seed: 9)
        for t in 1...8 {
            let g = (0..<4).map { _ in rng.nextFloat(in: -1..<1) }
            p.gradient = g
            adam.step()
            for i in 0..<4 {
                theta[i] *= 1 - 0.05 * 0.3
                m[i] = 0.9 * m[i] + 0.1 * Double(g[i])
                v[i] = 0.999 * v[i] + 0.001 * Double(g[i]) * Double(g[i])
                let mHat = m[i] / (1 - pow(0.9, Double(t))), vHat = v[i] / (1 - pow(0.999, Double(t)))
                theta[i] -= 0.05 * mHat / (vHat.squareRoot() + 1e-8)
            }
        }
        for (a, b) in zip(p.value, theta) { #expect(abs(Double(a) - b) < 2e-6) }
    }

    /// Five steps against torch.optim.AdamW (scripts/weights_fixtures.py), λ 0.1 and 2.
    @Test func decoupledWeightDecayMatchesPyTorchAdamW() throws {
        struct Run: Decodable { var weight_decay: Float; var initial: [Float]; var gradients: [[Float]]; var values: [[Float]] }
        struct Reference: Decodable { var lr: Float; var adamw_runs: [Run] }
        let reference = try JSONDecoder().decode(Reference.self, from: Fixtures.data("adam_reference.json"))
        #expect(reference.adamw_runs.count == 2)
        for run in reference.adamw_runs {
            let p = Parameter(name: "k.weight", shape: [run.initial.count], value: run.initial)
            let adam = Adam(parameters: [p], learningRate: reference.lr)
            adam.decoupledWeightDecay = run.weight_decay
            for (g, expected) in zip(run.gradients, run.values) {
                p.gradient = g
                adam.step()
                for (a, b) in zip(p.value, expected) { #expect(abs(a - b) < 1e-6, "AdamW decay \(run.weight_decay)") }
            }
        }
    }

    /// The default (no decay) is the plain Adam step bit for bit: the same run with the decay
    /// property never set and set to 0 gives identical bits.
    @Test func zeroDecoupledDecayIsPlainAdam() {
        var rng = SplitMix64(seed: 4)
        let initial = (0..<16).map { _ in rng.nextFloat(in: -1..<1) }
        let gradients = (0..<5).map { _ in (0..<16).map { _ in rng.nextFloat(in: -1..<1) } }
        func run(_ configure: (Adam) -> Void) -> [UInt32] {
            let p = Parameter(name: "k.weight", shape: [16], value: initial)
            let adam = Adam(parameters: [p], learningRate: 0.003)
            configure(adam)
            for g in gradients { p.gradient = g; adam.step() }
            return p.value.map(\.bitPattern)
        }
        #expect(run { _ in } == run { $0.decoupledWeightDecay = 0 })
        #expect(run { _ in } != run { $0.decoupledWeightDecay = 1e-3 })
    }

    @Test func weightDecaySparesBiasesAndBatchNorm() {
        let bias = Parameter(name: "x.bias", shape: [1], value: [1])
        let adam = Adam(parameters: [bias], learningRate: 0.1)
        adam.weightDecay = 1
        adam.step()   // zero gradient and no decay: nothing moves
        #expect(bias.value == [1])
    }
}
