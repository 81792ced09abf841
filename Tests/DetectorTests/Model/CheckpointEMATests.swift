import Foundation
import Testing
import Detector

/// The moving average of the weights in a checkpoint: `ema.<name>` tensors and `ema.updates`,
/// written by `Checkpoint.save(ema:)`, checked by `load`, put back by `restore(into:)`, and
/// left out of quantized and exported files.
@Suite struct CheckpointEMATests {
    /// `CheckpointFixture`'s network after two Adam steps with an average updated after each,
    /// written to a fresh folder as `name`; the average is returned too.
    static func write(quantize: Bool = false, name: String = "m.safetensors") throws -> (path: String, ema: ExponentialMovingAverage) {
        let path = try Fixtures.temporaryFolder("checkpoint-ema").appendingPathComponent(name).path
        let config = try CheckpointFixture.config()
        let network = try Network(config: config, seed: 3)
        let adam = Adam(parameters: network.parameters)
        let ema = ExponentialMovingAverage(parameters: network.parameters, decay: 0.9, rampUpdates: 2)
        for step in 0..<2 {
            for p in network.parameters where p.trainable { p.gradient = p.value.enumerated().map { Float(($0.offset + step) % 7) * 0.1 - 0.3 } }
            adam.step()
            // The running statistics move too in training; the average follows them.
            for p in network.parameters where p.name.hasSuffix(".running_mean") { p.value = p.value.map { $0 + 0.25 } }
            ema.update()
        }
        try Checkpoint.save(parameters: network.parameters, configJSON: config.jsonString(), optimizer: adam.state, ema: ema.state,
                            training: ["epoch": "2", "images_seen": "8", "best_score": "-inf", "seed": "1"],
                            quantize: quantize, to: path)
        return (path, ema)
    }

    @Test func roundTrip() throws {
        let (path, ema) = try Self.write()
        let file = try SafetensorsFile.read(path: path)
        #expect(file.metadata["ema.updates"] == "2")
        let checkpoint = try Checkpoint.load(path: path)
        #expect(checkpoint.emaUpdates == 2)
        #expect(checkpoint.emaValues == ema.averages)
        #expect(Set(file.tensors.keys.filter { $0.hasPrefix("ema.") }) == Set(ema.parameters.map { "ema." + $0.name }))
        // The average differs from the weights saved beside it (else the test shows nothing).
        #expect(ema.parameters.contains { checkpoint.emaValues[$0.name] != checkpoint.parameters[$0.name] })
        // Into a fresh network: the live weights from the parameters, the average from ema.*.
        let network = try Network(config: try CheckpointFixture.config(), seed: 9)
        try checkpoint.apply(to: network.parameters)
        let restored = ExponentialMovingAverage(parameters: network.parameters, decay: 0.9, rampUpdates: 2)
        try checkpoint.restore(into: restored)
        #expect(restored.updates == 2 && restored.averages == ema.averages)
        #expect(network.parameters.map(\.value) == ema.parameters.map(\.value))
        // loadNetwork (detect, evaluate, export) takes the live weights and ignores the average.
        let loaded = try loadNetwork(path: path)
        #expect(loaded.parameters.map(\.value) == ema.parameters.map(\.value))
    }

    @Test func quantizedFilesAndFilesWithoutAnAverageHoldNone() throws {
        let (path, _) = try Self.write(quantize: true)
        let file = try SafetensorsFile.read(path: path)
        #expect(file.metadata["ema.updates"] == nil && !file.tensors.keys.contains { $0.hasPrefix("ema.") })
        let plain = try CheckpointFixture.write()
        let checkpoint = try Checkpoint.load(path: plain)
        #expect(checkpoint.emaUpdates == nil && checkpoint.emaValues.isEmpty)
        let network = try Network(config: try CheckpointFixture.config(), seed: 3)
        let ema = ExponentialMovingAverage(parameters: network.parameters, decay: 0.9, rampUpdates: 2)
        #expect { try checkpoint.restore(into: ema) } throws: { "\($0)".contains("no moving average of the weights") }
    }

    /// `train-detector export` writes an inference file: the live weights, no optimizer state, no average.
    @Test func exportDropsTheAverage() throws {
        let (path, ema) = try Self.write()
        let out = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("exported.safetensors").path
        let r = try runCommand("train-detector", ["export", path, "--out", out])
        #expect(r.status == 0, "\(r.err)")
        let file = try SafetensorsFile.read(path: out)
        #expect(!file.tensors.keys.contains { $0.hasPrefix("ema.") || $0.hasPrefix("optimizer.") }, "\(file.tensors.keys.sorted())")
        #expect(file.metadata["ema.updates"] == nil)
        let exported = try Checkpoint.load(path: out)
        for p in ema.parameters { #expect(exported.parameters[p.name] == p.value, "\(p.name)") }
    }

    /// Each way an average can be wrong is refused by `load`, naming the tensor or key.
    @Test func badAveragesAreRefused() throws {
        let (path, _) = try Self.write()
        let original = try SafetensorsFile.read(path: path)
        func refusal(_ change: (inout SafetensorsFile) throws -> Void) throws -> WeightsError? {
            var file = original
            try change(&file)
            try file.write(to: path)
            return CheckpointFixture.loadError(path)
        }
        let bias = "ema.layers.3.conv.bias", variance = "ema.layers.0.bn.running_var"
        let countless = try refusal { $0.metadata["ema.updates"] = nil }
        #expect(countless?.field == "__metadata__.ema.updates" && countless?.reason == "missing, but the file holds a moving average (ema.* tensors)")
        for text in ["-1", "two", "1.5", ""] {
            let bad = try refusal { $0.metadata["ema.updates"] = text }
            #expect(bad?.field == "__metadata__.ema.updates" && bad?.reason == "is \"\(text)\", not a non-negative integer", "\(text)")
        }
        let stranger = try refusal { $0.tensors["ema.layers.9.conv.bias"] = StoredTensor([0], shape: [1]) }
        #expect(stranger?.tensor == "ema.layers.9.conv.bias" && stranger?.reason == "a moving average of \"layers.9.conv.bias\", which is not a parameter in this file")
        // Of optimizer state, of another average, of a quantization scale: not parameters.
        for target in ["optimizer.m.layers.3.conv.bias", "ema.layers.3.conv.bias"] {
            let bad = try refusal { $0.tensors["ema." + target] = original.tensors[target] }
            #expect(bad?.tensor == "ema." + target && bad?.reason.contains("which is not a parameter in this file") == true, "\(target)")
        }
        let ofScale = try refusal { $0.tensors["ema.layers.0.conv.weight.scale_q"] = StoredTensor([1, 1, 1, 1], shape: [4]) }
        #expect(ofScale?.tensor == "ema.layers.0.conv.weight.scale_q", "\(String(describing: ofScale))")
        let shape = try refusal { $0.tensors[bias] = StoredTensor([1, 2, 3, 4, 5, 6], shape: [2, 3]) }
        #expect(shape?.tensor == bias && shape?.field == "shape" && shape?.reason == "shape [2, 3], but its parameter \"layers.3.conv.bias\" has shape [6]")
        let int8 = try refusal { $0.tensors[bias] = StoredTensor(int8: [0, 0, 0, 0, 0, 0], shape: [6]) }
        #expect(int8?.tensor == bias && int8?.field == "dtype" && int8?.reason.hasPrefix("I8, but a moving average is stored as F32") == true)
        let u8 = try refusal { $0.tensors[bias] = StoredTensor(dtype: .u8, shape: [6], bytes: Data(count: 6)) }
        #expect(u8?.tensor == bias && u8?.field == "dtype")
        for value in [Float.nan, .infinity, -.infinity] {
            let bad = try refusal { try CheckpointFixture.set(&$0, bias, index: 4, to: value) }
            #expect(bad?.tensor == bias && bad?.reason.hasPrefix("value 4 of 6 is \(value); weights and optimizer state must be finite") == true, "\(value)")
        }
        let negative = try refusal { try CheckpointFixture.set(&$0, variance, index: 1, to: -0.5) }
        #expect(negative.map { "\($0)" } == "\(path): tensor \"\(variance)\": value 1 of 4 is -0.5; a moving average of a variance cannot be negative")
        // A zero variance is fine, and F16 loads.
        var file = original
        try CheckpointFixture.set(&file, variance, index: 1, to: 0)
        let half = [Float16](arrayLiteral: 0.5, -0.25, 1, 2, 0, 0).map(\.bitPattern)
        file.tensors[bias] = StoredTensor(dtype: .f16, shape: [6], bytes: half.withUnsafeBufferPointer { Data(buffer: $0) })
        try file.write(to: path)
        let loaded = try Checkpoint.load(path: path)
        #expect(loaded.emaValues["layers.0.bn.running_var"]?[1] == 0 && loaded.emaValues["layers.3.conv.bias"] == [0.5, -0.25, 1, 2, 0, 0])
    }

    /// A file whose average misses a parameter loads, but cannot restore a model's average.
    @Test func anIncompleteAverageCannotBeRestored() throws {
        let (path, _) = try Self.write()
        try CheckpointFixture.spoil(path) { $0.tensors["ema.layers.3.conv.bias"] = nil }
        let checkpoint = try Checkpoint.load(path: path)
        let network = try Network(config: try CheckpointFixture.config(), seed: 3)
        let ema = ExponentialMovingAverage(parameters: network.parameters, decay: 0.9, rampUpdates: 2)
        #expect { try checkpoint.restore(into: ema) } throws: {
            ($0 as? WeightsError)?.file == path && "\($0)".contains("EMA state for layers.3.conv.bias is missing")
        }
    }
}
