import Foundation
import Testing
import Detector

@Suite struct CheckpointTests {
    func parameters() -> [Parameter] {
        [Parameter(name: "layers.0.conv.weight", shape: [3, 3, 3, 4], value: (0..<108).map { Float($0) / 50 - 1 }),
         Parameter(name: "layers.0.bn.scale", shape: [4], value: [1, 2, 3, 4]),
         Parameter(name: "layers.0.bn.running_mean", shape: [4], value: [0.1, 0.2, 0.3, 0.4], trainable: false)]
    }

    @Test func roundTripWithOptimizerState() throws {
        let folder = try Fixtures.temporaryFolder()
        let path = folder.appendingPathComponent("m.safetensors").path
        let ps = parameters()
        let adam = Adam(parameters: ps)
        for p in ps where p.trainable { p.gradient = p.value.map { $0 * 0.1 } }
        adam.step(); adam.step()
        try Checkpoint.save(parameters: ps, configJSON: "{\"name\": \"t\"}", optimizer: adam.state, training: ["epoch": "7"], to: path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["m.safetensors"])
        let loaded = try Checkpoint.load(path: path)
        #expect(loaded.configJSON == "{\"name\": \"t\"}" && loaded.training["epoch"] == "7")
        let fresh = parameters()
        for p in fresh { p.value = p.value.map { _ in 0 } }
        try loaded.apply(to: fresh)
        #expect(fresh.map(\.value) == ps.map(\.value))
        let adam2 = Adam(parameters: fresh)
        try loaded.restore(into: adam2)
        #expect(adam2.stepCount == 2 && adam2.firstMoments == adam.firstMoments && adam2.secondMoments == adam.secondMoments)
    }

    @Test func missingExtraAndMisshapenTensorsAreErrors() throws {
        let folder = try Fixtures.temporaryFolder()
        let path = folder.appendingPathComponent("m.safetensors").path
        try Checkpoint.save(parameters: parameters(), configJSON: "{}", to: path)
        let loaded = try Checkpoint.load(path: path)
        let more = parameters() + [Parameter(name: "layers.1.conv.weight", shape: [1], value: [0])]
        #expect { try loaded.apply(to: more) } throws: { "\($0)" == "\(path): tensor \"layers.1.conv.weight\": missing (the config needs it)" }
        #expect { try loaded.apply(to: Array(parameters().prefix(2))) } throws: {
            "\($0)" == "\(path): tensor \"layers.0.bn.running_mean\": not a parameter of the model in the config"
        }
        let wrong = [Parameter(name: "layers.0.conv.weight", shape: [3, 3, 3, 5], value: [Float](repeating: 0, count: 135))] + parameters().suffix(2)
        #expect { try loaded.apply(to: wrong) } throws: {
            "\($0)" == "\(path): tensor \"layers.0.conv.weight\": shape [3, 3, 3, 4] in the file, but the config needs [3, 3, 3, 5]"
        }
        #expect { try loaded.restore(into: Adam(parameters: parameters())) } throws: { "\($0)".contains("no optimizer state") }
    }

    @Test func quantizedFileIsAboutAQuarterAndCloseToTheOriginal() throws {
        let folder = try Fixtures.temporaryFolder()
        var rng = SplitMix64(seed: 9)
        let big = Parameter(name: "layers.0.pointwise.weight", shape: [64, 128], value: (0..<8192).map { _ in rng.nextGaussian() * 0.1 })
        let full = folder.appendingPathComponent("f.safetensors").path, small = folder.appendingPathComponent("q.safetensors").path
        try Checkpoint.save(parameters: [big], configJSON: "{}", to: full)
        try Checkpoint.save(parameters: [big], configJSON: "{}", quantize: true, to: small)
        let sizeFull = try FileManager.default.attributesOfItem(atPath: full)[.size] as! Int
        let sizeSmall = try FileManager.default.attributesOfItem(atPath: small)[.size] as! Int
        #expect(Double(sizeSmall) < 0.3 * Double(sizeFull))
        let back = try Checkpoint.load(path: small).parameters[big.name]!
        let (_, scales) = quantizePerChannel(big.value, channels: 128)
        for (i, (a, b)) in zip(back, big.value).enumerated() { #expect(abs(a - b) <= scales[i % 128] / 2 + 1e-7) }
    }

    @Test func aFileWithoutConfigIsRefused() throws {
        let folder = try Fixtures.temporaryFolder()
        let path = folder.appendingPathComponent("plain.safetensors").path
        try SafetensorsFile(tensors: ["x": StoredTensor([1], shape: [1])]).write(to: path)
        #expect { try Checkpoint.load(path: path) } throws: { "\($0)".contains("no model config") }
    }
}

/// A checkpoint of a tiny network (a conv with batch norm, a separable block, a 1x1 head conv
/// with bias) after two Adam steps, written by `Checkpoint.save`, and ways to spoil it.
enum CheckpointFixture {
    static let configJSON = """
    {"name": "checkpoint-test", "input": {"width": 16, "height": 16, "channels": 3},
     "classes": ["a"], "anchors": [[1.0, 1.0]],
     "layers": [
      {"type": "conv", "filters": 4, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
      {"type": "maxpool", "size": 2, "stride": 2},
      {"type": "separable", "filters": 8, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
      {"type": "conv", "filters": 6, "size": 1, "stride": 1, "batchnorm": false, "activation": "linear"}]}
    """

    static func config() throws -> ModelConfig { try ModelConfig.decode(Data(configJSON.utf8), source: "checkpoint-test") }

    /// Writes the checkpoint into a fresh folder as `name` and returns its path.
    static func write(quantize: Bool = false, name: String = "m.safetensors") throws -> String {
        let path = try Fixtures.temporaryFolder("checkpoint").appendingPathComponent(name).path
        let config = try config()
        let network = try Network(config: config, seed: 3)
        let adam = Adam(parameters: network.parameters)
        for p in network.parameters where p.trainable { p.gradient = p.value.enumerated().map { Float($0.offset % 7) * 0.1 - 0.3 } }
        adam.step(); adam.step()
        try Checkpoint.save(parameters: network.parameters, configJSON: config.jsonString(), optimizer: adam.state,
                            training: ["epoch": "2", "images_seen": "8", "best_score": "-inf", "seed": "1"],
                            quantize: quantize, to: path)
        return path
    }

    /// Rewrites the file at `path` after `change`.
    static func spoil(_ path: String, _ change: (inout SafetensorsFile) throws -> Void) throws {
        var file = try SafetensorsFile.read(path: path)
        try change(&file)
        try file.write(to: path)
    }

    /// Sets value `index` of the F32 tensor `name`.
    static func set(_ file: inout SafetensorsFile, _ name: String, index: Int, to value: Float) throws {
        let tensor = try #require(file.tensors[name], "no tensor \(name)")
        var values = tensor.floats
        values[index] = value
        file.tensors[name] = StoredTensor(values, shape: tensor.shape)
    }

    /// The error `load` throws for the file at `path`; records an issue when it loads.
    static func loadError(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> WeightsError? {
        do {
            _ = try Checkpoint.load(path: path)
            Issue.record("loaded \(path)", sourceLocation: sourceLocation)
        } catch let error as WeightsError {
            #expect(error.file == path, sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("not a WeightsError: \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }
}

@Suite struct CheckpointValidationTests {
    @Test func theCleanFixtureLoadsIntoItsNetwork() throws {
        for quantize in [false, true] {
            let path = try CheckpointFixture.write(quantize: quantize)
            let network = try loadNetwork(path: path)
            let checkpoint = try Checkpoint.load(path: path)
            #expect(checkpoint.parameters.count == network.parameters.count)
            for p in network.parameters { #expect(checkpoint.parameters[p.name] == p.value, "\(p.name)") }
            #expect(checkpoint.optimizerStep == (quantize ? nil : 2))
            #expect(checkpoint.secondMoments.count == (quantize ? 0 : network.parameters.filter(\.trainable).count))
        }
    }

    @Test(arguments: [("layers.0.conv.weight", Float.nan), ("layers.3.conv.bias", .infinity), ("layers.0.bn.scale", -.infinity),
                      ("layers.2.bn.running_mean", .nan), ("layers.2.depthwise.weight", .infinity), ("layers.2.bn.shift", .nan)])
    func nonFiniteParametersAreRefusedNamingTheTensor(name: String, value: Float) throws {
        let path = try CheckpointFixture.write()
        try CheckpointFixture.spoil(path) { try CheckpointFixture.set(&$0, name, index: 1, to: value) }
        let error = try #require(CheckpointFixture.loadError(path))
        #expect(error.tensor == name)
        #expect(error.reason.hasPrefix("value 1 of ") && error.reason.contains(" is \(value); weights and optimizer state must be finite"), "\(error)")
        // The same refusal on the way `detect`, `evaluate` and `export` load a model.
        #expect { try loadNetwork(path: path) } throws: { ($0 as? WeightsError)?.tensor == name }
    }

    @Test func aNonFiniteF16ParameterIsRefusedAndAFiniteOneLoads() throws {
        let path = try CheckpointFixture.write()
        let half: (Float16) -> UInt16 = { $0.bitPattern }
        let shift = [Float16](arrayLiteral: 0.5, -0.25, 1, 2, 0, 0, 0, 0).map(half)
        try CheckpointFixture.spoil(path) {
            $0.tensors["layers.2.bn.shift"] = StoredTensor(dtype: .f16, shape: [8], bytes: shift.withUnsafeBufferPointer { Data(buffer: $0) })
        }
        #expect(try Checkpoint.load(path: path).parameters["layers.2.bn.shift"] == [0.5, -0.25, 1, 2, 0, 0, 0, 0])
        var spoiled = shift
        spoiled[3] = Float16.infinity.bitPattern
        try CheckpointFixture.spoil(path) {
            $0.tensors["layers.2.bn.shift"] = StoredTensor(dtype: .f16, shape: [8], bytes: spoiled.withUnsafeBufferPointer { Data(buffer: $0) })
        }
        let error = try #require(CheckpointFixture.loadError(path))
        #expect(error.tensor == "layers.2.bn.shift" && error.reason.hasPrefix("value 3 of 8 is inf"), "\(error)")
    }

    @Test func aNegativeRunningVarianceIsRefusedAndZeroIsAccepted() throws {
        let path = try CheckpointFixture.write()
        try CheckpointFixture.spoil(path) { try CheckpointFixture.set(&$0, "layers.0.bn.running_var", index: 2, to: 0) }
        #expect(try Checkpoint.load(path: path).parameters["layers.0.bn.running_var"]?[2] == 0)
        try CheckpointFixture.spoil(path) { try CheckpointFixture.set(&$0, "layers.0.bn.running_var", index: 2, to: -0.5) }
        let error = try #require(CheckpointFixture.loadError(path))
        #expect("\(error)" == "\(path): tensor \"layers.0.bn.running_var\": value 2 of 4 is -0.5; a variance cannot be negative")
    }

    @Test func aU8ParameterIsRefused() throws {
        let path = try CheckpointFixture.write()
        try CheckpointFixture.spoil(path) { $0.tensors["layers.3.conv.bias"] = StoredTensor(dtype: .u8, shape: [6], bytes: Data(count: 6)) }
        let error = try #require(CheckpointFixture.loadError(path))
        #expect(error.tensor == "layers.3.conv.bias" && error.field == "dtype" && error.reason.hasPrefix("U8 is not a dtype"), "\(error)")
    }

    @Test(arguments: [Float(0), -0.01, .nan, .infinity, -.infinity, -.leastNonzeroMagnitude])
    func badInt8ScalesAreRefused(scale: Float) throws {
        let path = try CheckpointFixture.write(quantize: true)
        let name = "layers.2.pointwise.weight.scale_q"
        try CheckpointFixture.spoil(path) { try CheckpointFixture.set(&$0, name, index: 5, to: scale) }
        let error = try #require(CheckpointFixture.loadError(path))
        #expect("\(error)" == "\(path): tensor \"\(name)\": value 5 of 8 is \(scale); a quantization scale must be finite and positive")
    }

    @Test func int8TensorsNeedAMatchingScale() throws {
        let path = try CheckpointFixture.write(quantize: true)
        let weight = "layers.0.conv.weight", scale = "layers.0.conv.weight.scale_q"
        let original = try SafetensorsFile.read(path: path)
        #expect(original.tensors[weight]?.dtype == .i8 && original.tensors[scale]?.shape == [4])
        func refusal(_ change: (inout SafetensorsFile) throws -> Void) throws -> WeightsError? {
            var file = original
            try change(&file)
            try file.write(to: path)
            return CheckpointFixture.loadError(path)
        }
        let missing = try refusal { $0.tensors[scale] = nil }
        #expect(missing?.tensor == weight && missing?.reason == "I8 tensor without a matching \(scale)")
        let orphan = try refusal { $0.tensors["layers.3.conv.bias.scale_q"] = StoredTensor([1], shape: [1]) }
        #expect(orphan?.tensor == "layers.3.conv.bias.scale_q" && orphan?.reason.contains("without an I8 tensor") == true)
        let long = try refusal { $0.tensors[scale] = StoredTensor([1, 1, 1, 1, 1], shape: [5]) }
        #expect(long?.tensor == scale && long?.reason.contains("F32 of shape [5], but the scales of \"\(weight)\" (shape [3, 3, 3, 4]) are F32 of shape [4]") == true)
        let integer = try refusal { $0.tensors[scale] = StoredTensor(int8: [1, 1, 1, 1], shape: [4]) }
        #expect(integer?.tensor == scale && integer?.reason.hasPrefix("I8 of shape [4]") == true)
        let scalar = try refusal { $0.tensors[weight] = StoredTensor(int8: [3], shape: []) }
        #expect(scalar?.tensor == weight && scalar?.field == "shape")
        // Finite scales whose product with ±127 overflows are refused on the dequantized values.
        let huge = try refusal { $0.tensors[scale] = StoredTensor([1e37, 1e37, 1e37, 1e37], shape: [4]) }
        #expect(huge?.tensor == weight && huge?.reason.contains("inf; weights and optimizer state must be finite") == true)
    }

    @Test(arguments: [("optimizer.m.layers.0.conv.weight", Float.nan, "value 3 of 108 is nan; weights and optimizer state must be finite"),
                      ("optimizer.v.layers.3.conv.bias", .infinity, "value 3 of 6 is inf; weights and optimizer state must be finite"),
                      ("optimizer.v.layers.2.bn.scale", -1e-9, "value 3 of 8 is -1e-09; Adam's second moment (a running mean of squared gradients) cannot be negative")])
    func badOptimizerStateIsRefused(name: String, value: Float, reason: String) throws {
        let path = try CheckpointFixture.write()
        try CheckpointFixture.spoil(path) { try CheckpointFixture.set(&$0, name, index: 3, to: value) }
        let error = try #require(CheckpointFixture.loadError(path))
        #expect(error.tensor == name && error.reason.hasPrefix(reason), "\(error)")
    }

    /// `train-detector train --resume` goes through `Trainer.restore`: the same refusal.
    @Test func resumingFromANegativeSecondMomentFails() throws {
        let path = try CheckpointFixture.write(name: "last.safetensors")
        let name = "optimizer.v.layers.0.conv.weight"
        try CheckpointFixture.spoil(path) { try CheckpointFixture.set(&$0, name, index: 0, to: -1) }
        var options = TrainingOptions()
        options.outputFolder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        options.resume = true
        options.epochs = 3
        let trainer = try Trainer(config: try CheckpointFixture.config(), train: tinySamples(count: 1), validation: [], options: options)
        #expect { _ = try trainer.run { _ in } } throws: { ($0 as? WeightsError)?.tensor == name && ($0 as? WeightsError)?.file == path }
    }

    @Test func optimizerStateMustMatchItsParameters() throws {
        let path = try CheckpointFixture.write()
        let original = try SafetensorsFile.read(path: path)
        func refusal(_ change: (inout SafetensorsFile) throws -> Void) throws -> WeightsError? {
            var file = original
            try change(&file)
            try file.write(to: path)
            return CheckpointFixture.loadError(path)
        }
        let m = "optimizer.m.layers.3.conv.bias", v = "optimizer.v.layers.3.conv.bias"
        let alone = try refusal { $0.tensors[v] = nil }
        #expect(alone?.tensor == m && alone?.reason == "no matching \"\(v)\"")
        let shape = try refusal { $0.tensors[m] = StoredTensor([1, 2, 3, 4, 5, 6], shape: [2, 3]) }
        #expect(shape?.tensor == m && shape?.field == "shape" && shape?.reason == "shape [2, 3], but its parameter \"layers.3.conv.bias\" has shape [6]")
        let stranger = try refusal { $0.tensors["optimizer.m.layers.9.conv.bias"] = StoredTensor([0], shape: [1]) }
        #expect(stranger?.tensor == "optimizer.m.layers.9.conv.bias" && stranger?.reason.contains("not a parameter in this file") == true)
        let quantized = try refusal { $0.tensors[m] = StoredTensor(int8: [0, 0, 0, 0, 0, 0], shape: [6]) }
        #expect(quantized?.tensor == m && quantized?.field == "dtype")
        let stepless = try refusal { $0.metadata["optimizer.step"] = nil }
        #expect(stepless?.field == "__metadata__.optimizer.step" && stepless?.reason == "missing, but the file holds optimizer moments")
    }

    @Test(arguments: [("optimizer.step", "two"), ("optimizer.step", "-1"), ("epoch", "-3"), ("epoch", "1.5"), ("images_seen", ""),
                      ("best_score", "nan"), ("best_score", "high"), ("format", "detector-checkpoint-0")])
    func badTrainingMetadataIsRefused(key: String, value: String) throws {
        let path = try CheckpointFixture.write()
        try CheckpointFixture.spoil(path) { $0.metadata[key] = value }
        let error = try #require(CheckpointFixture.loadError(path))
        #expect(error.field == "__metadata__.\(key)" && error.tensor == nil && error.reason.hasPrefix("is \"\(value)\""), "\(error)")
    }

    /// Through `loadNetwork` (what `detect`, `evaluate` and `export` call): a missing tensor and
    /// a misshapen one are named, with both shapes.
    @Test func aMissingOrMisshapenTensorIsNamedWithBothShapes() throws {
        let path = try CheckpointFixture.write()
        let original = try SafetensorsFile.read(path: path)
        var file = original
        file.tensors["layers.2.bn.running_var"] = nil
        try file.write(to: path)
        #expect { try loadNetwork(path: path) } throws: { "\($0)" == "\(path): tensor \"layers.2.bn.running_var\": missing (the config needs it)" }
        file = original
        file.tensors["layers.3.conv.bias"] = StoredTensor([Float](repeating: 0, count: 7), shape: [7])
        file.tensors["optimizer.m.layers.3.conv.bias"] = StoredTensor([Float](repeating: 0, count: 7), shape: [7])
        file.tensors["optimizer.v.layers.3.conv.bias"] = StoredTensor([Float](repeating: 0, count: 7), shape: [7])
        try file.write(to: path)
        #expect { try loadNetwork(path: path) } throws: {
            "\($0)" == "\(path): tensor \"layers.3.conv.bias\": shape [7] in the file, but the config needs [6]"
        }
    }
}
