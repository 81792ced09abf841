import Foundation
import Testing
import Detector

@Suite struct EMATests {
    static func parameters() -> [Parameter] {
        [Parameter(name: "layers.0.conv.weight", shape: [2], value: [1, 2]),
         Parameter(name: "layers.0.bn.running_mean", shape: [1], value: [4], trainable: false)]
    }

    /// d(n) = decay (1 − e^{−n/τ}): 0 before any update, decay · (1 − e^{−1}) at n = τ, the decay
    /// itself after many τ; increasing.
    @Test func decayRamp() {
        let ema = ExponentialMovingAverage(parameters: Self.parameters(), decay: 0.99, rampUpdates: 20)
        #expect(ema.decay(updates: 0) == 0)
        #expect(abs(ema.decay(updates: 1) - 0.99 * (1 - exp(-0.05))) < 1e-7)
        #expect(abs(ema.decay(updates: 20) - 0.99 * (1 - exp(-1))) < 1e-6)
        #expect(abs(ema.decay(updates: 2000) - 0.99) < 1e-7)
        let ramp = (0...200).map { ema.decay(updates: $0) }
        #expect(zip(ramp, ramp.dropFirst()).allSatisfy { $0 < $1 || $1 == 0.99 })
    }

    /// With τ tiny (e^{−n/τ} = 0 in Float) the decay is exactly 0.5, so the averages are exact:
    /// θ̄ starts at θ, then θ̄ ← ½ θ̄ + ½ θ, buffers (the running mean) included.
    @Test func updateByHand() {
        let p = Self.parameters()
        let ema = ExponentialMovingAverage(parameters: p, decay: 0.5, rampUpdates: 1e-3)
        #expect(ema.averages["layers.0.conv.weight"] == [1, 2] && ema.updates == 0)
        p[0].value = [3, 6]; p[1].value = [0]
        ema.update()
        #expect(ema.updates == 1)
        #expect(ema.averages["layers.0.conv.weight"] == [2, 4])
        #expect(ema.averages["layers.0.bn.running_mean"] == [2])
        p[0].value = [5, 0]
        ema.update()
        #expect(ema.averages["layers.0.conv.weight"] == [3.5, 2])
        #expect(ema.averages["layers.0.bn.running_mean"] == [1])
        // The live weights are never written by an update.
        #expect(p[0].value == [5, 0])
    }

    /// Ten updates with the ramp, against the same recurrence in Double.
    @Test func updateMatchesDoubleRecurrence() {
        let p = [Parameter(name: "w.weight", shape: [3], value: [0.5, -1, 2])]
        let ema = ExponentialMovingAverage(parameters: p, decay: 0.9, rampUpdates: 3)
        var rng = SplitMix64(seed: 3)
        var average = p[0].value.map(Double.init)
        for n in 1...10 {
            p[0].value = (0..<3).map { _ in rng.nextFloat(in: -2..<2) }
            ema.update()
            let d = 0.9 * (1 - exp(-Double(n) / 3))
            average = zip(average, p[0].value).map { d * $0 + (1 - d) * Double($1) }
        }
        for (a, b) in zip(ema.averages["w.weight"]!, average) { #expect(abs(Double(a) - b) < 1e-6) }
    }

    /// The first update with YOLOv5's settings keeps almost exactly the new weights: the
    /// average does not remember the initialisation.
    @Test func firstUpdatesFollowTheWeights() {
        let p = [Parameter(name: "w.weight", shape: [1], value: [0])]
        let ema = ExponentialMovingAverage(parameters: p, settings: .yolov5)
        p[0].value = [1]
        ema.update()
        #expect(ema.averages["w.weight"]![0] > 0.9995)
    }

    /// swap puts the average in the model and the live weights aside; a second swap gives back
    /// the very same bits (NaN payloads, negative zero and subnormals included).
    @Test func swapRoundTripIsExact() {
        let odd: [Float] = [-0.0, .leastNonzeroMagnitude, Float(bitPattern: 0x7FC0_1234), 3.14159]
        let p = [Parameter(name: "a.weight", shape: [4], value: odd), Parameter(name: "a.bn.running_var", shape: [1], value: [2], trainable: false)]
        let ema = ExponentialMovingAverage(parameters: p, decay: 0.5, rampUpdates: 1e-3)
        p[0].value = [1, 1, 1, 1]; p[1].value = [4]
        let live = p.map(\.value), average = [ema.averages["a.weight"]!, ema.averages["a.bn.running_var"]!]
        ema.swap()
        #expect(ema.isSwapped)
        #expect(p[0].value.map(\.bitPattern) == odd.map(\.bitPattern) && p[1].value == [2])
        #expect(ema.state.averages["a.weight"]!.values.map(\.bitPattern) == odd.map(\.bitPattern))
        ema.swap()
        #expect(!ema.isSwapped)
        #expect(p.map(\.value) == live)
        #expect(ema.averages["a.weight"]!.map(\.bitPattern) == average[0].map(\.bitPattern))
        #expect(ema.averages["a.bn.running_var"] == average[1])
    }

    struct Stop: Error {}

    /// withAveragedWeights runs with the average in the model and restores the live weights,
    /// also when the body throws.
    @Test func withAveragedWeightsRestores() throws {
        let p = Self.parameters()
        let ema = ExponentialMovingAverage(parameters: p, decay: 0.5, rampUpdates: 1e-3)
        p[0].value = [3, 6]
        ema.update()   // average [2, 4]
        let seen = ema.withAveragedWeights { p[0].value }
        #expect(seen == [2, 4] && p[0].value == [3, 6] && !ema.isSwapped)
        #expect(throws: Stop.self) { try ema.withAveragedWeights { throw Stop() } }
        #expect(p[0].value == [3, 6] && !ema.isSwapped)
    }

    /// apply(to:) copies the average into another model's parameters, swapped or not.
    @Test func applyToOtherParameters() throws {
        let p = Self.parameters()
        let ema = ExponentialMovingAverage(parameters: p, decay: 0.5, rampUpdates: 1e-3)
        p[0].value = [3, 6]; ema.update()
        let other = Self.parameters()
        try ema.apply(to: other)
        #expect(other[0].value == [2, 4] && other[1].value == [4])
        ema.swap()
        let again = Self.parameters()
        try ema.apply(to: again)
        #expect(again[0].value == [2, 4])
        ema.swap()
        #expect(throws: TrainingError.self) { try ema.apply(to: [Parameter(name: "x.weight", shape: [1], value: [0])]) }
        #expect(throws: TrainingError.self) { try ema.apply(to: [Parameter(name: "layers.0.conv.weight", shape: [3], value: [0, 0, 0])]) }
    }

    /// The checkpoint state: the averages by parameter name with the parameters' shapes, and a
    /// restore from them gives the same average and count; bad state is refused.
    @Test func checkpointStateRoundTrip() throws {
        let p = Self.parameters()
        let ema = ExponentialMovingAverage(parameters: p, decay: 0.9, rampUpdates: 5)
        for v in [[Float(3), 6], [-1, 2], [0.25, 8]] { p[0].value = v; ema.update() }
        let state = ema.state
        #expect(Set(state.averages.keys) == ["layers.0.conv.weight", "layers.0.bn.running_mean"])
        #expect(state.averages["layers.0.conv.weight"]!.shape == [2] && state.updates == 3)
        #expect(Checkpoint.movingAverageUpdatesKey == "ema.updates" && Checkpoint.movingAverageTensorPrefix == "ema.")
        let restored = ExponentialMovingAverage(parameters: Self.parameters(), decay: 0.9, rampUpdates: 5)
        let values = state.averages.mapValues(\.values)
        try restored.restore(updates: ema.updates, values: values)
        #expect(restored.updates == 3 && restored.averages == ema.averages)
        // Both continue identically.
        let q = restored.parameters
        p[0].value = [1, 1]; q[0].value = [1, 1]; q[1].value = p[1].value
        ema.update(); restored.update()
        #expect(restored.averages == ema.averages)
        var missing = values; missing["layers.0.bn.running_mean"] = nil
        var short = values; short["layers.0.conv.weight"] = [1]
        var infinite = values; infinite["layers.0.conv.weight"] = [1, .infinity]
        var extra = values; extra["layers.9.conv.weight"] = [1]
        for bad in [missing, short, infinite, extra] {
            #expect(throws: TrainingError.self) { try restored.restore(updates: 3, values: bad) }
        }
        #expect(throws: TrainingError.self) { try restored.restore(updates: -1, values: values) }
    }

    /// Settings scaled to the run: an average over max(one epoch, 2% of the steps), τ a fifth of it.
    @Test func scaledSettings() {
        let model = ExponentialMovingAverage.Settings.scaled(stepsPerEpoch: 125, epochs: 40)
        #expect(abs(model.decay - 0.992) < 1e-6 && abs(model.rampUpdates - 25) < 1e-6)
        let long = ExponentialMovingAverage.Settings.scaled(stepsPerEpoch: 100, epochs: 1000)   // 2% of 100,000 = 2000
        #expect(abs(long.decay - (1 - 1.0 / 2000)) < 1e-7 && abs(long.rampUpdates - 400) < 1e-3)
        let overfit = ExponentialMovingAverage.Settings.scaled(stepsPerEpoch: 2, epochs: 300)
        #expect(abs(overfit.decay - (1 - 1.0 / 12)) < 1e-6 && abs(overfit.rampUpdates - 2.4) < 1e-6)
        let tiny = ExponentialMovingAverage.Settings.scaled(stepsPerEpoch: 1, epochs: 1)
        #expect(tiny.decay == 0 && tiny.rampUpdates == 1)
    }

    /// A whole network's parameters (batch-norm buffers included) averaged during a few real
    /// training steps, then swapped in for inference and out again.
    @Test func averagesANetworkWhileItTrains() throws {
        let config = try ModelConfig.decode(Data(Self.tinyConfig.utf8), source: "tiny", memoryLimit: .unlimited)
        let network = try Network(config: config, seed: 1)
        let adam = Adam(parameters: network.parameters, learningRate: 0.01)
        let ema = ExponentialMovingAverage(parameters: network.parameters, decay: 0.9, rampUpdates: 2)
        #expect(ema.parameters.contains { !$0.trainable })
        var rng = SplitMix64(seed: 5)
        let input = Tensor(shape: [2, 32, 32, 3], data: (0..<(2 * 32 * 32 * 3)).map { _ in rng.nextUnitFloat() })
        for _ in 0..<3 {
            let out = network.forward(input, training: true)
            network.zeroGradients()
            network.backward(Tensor(shape: out.shape, data: out.data.map { 0.1 * $0 }))
            adam.step()
            ema.update()
        }
        let running = network.parameters.first { $0.name.hasSuffix(".running_mean") }!
        #expect(ema.averages[running.name] != running.value)   // buffers move and are averaged
        let live = network.forward(input, training: false)
        let averaged = ema.withAveragedWeights { network.forward(input, training: false) }
        #expect(averaged != live)
        #expect(network.forward(input, training: false) == live)
    }

    static let tinyConfig = """
    {"name": "tiny", "input": {"width": 32, "height": 32, "channels": 3}, "classes": ["a", "b"],
     "anchors": [[1, 1], [2, 2]],
     "layers": [{"type": "conv", "filters": 4, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
                {"type": "maxpool", "size": 2, "stride": 2},
                {"type": "separable", "filters": 8, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
                {"type": "maxpool", "size": 2, "stride": 2},
                {"type": "conv", "filters": 14, "size": 1, "stride": 1}]}
    """
}
