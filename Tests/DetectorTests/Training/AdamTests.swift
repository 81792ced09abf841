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

    @Test func weightDecaySparesBiasesAndBatchNorm() {
        let bias = Parameter(name: "x.bias", shape: [1], value: [1])
        let adam = Adam(parameters: [bias], learningRate: 0.1)
        adam.weightDecay = 1
        adam.step()   // zero gradient and no decay: nothing moves
        #expect(bias.value == [1])
    }
}
