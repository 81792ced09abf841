import Foundation
import Testing
import Detector

@Suite struct SafetensorsTests {
    /// A file written by Python's `safetensors` (scripts/weights_fixtures.py).
    @Test func readsAFileWrittenByPythonSafetensors() throws {
        let file = try SafetensorsFile.read(path: Fixtures.url("safetensors_reference.safetensors").path)
        #expect(file.metadata["epoch"] == "3")
        let w = try #require(file.tensors["layers.0.conv.weight"])
        #expect(w.shape == [2, 3, 4] && w.dtype == .f32)
        #expect(w.floats == (0..<24).map { Float($0) / 8 - 1 })
        #expect(file.tensors["layers.0.bn.scale"]?.floats == [1.5, -2.25, 3])
        #expect(file.tensors["quantized"]?.floats == [-127, -1, 0, 5, 127])
    }

    @Test func roundTripIsExactAndDeterministic() throws {
        var file = SafetensorsFile()
        file.tensors["b"] = StoredTensor([1, -2.5, .pi], shape: [3])
        file.tensors["a"] = StoredTensor([Float](repeating: 0.25, count: 6), shape: [2, 3])
        file.metadata = ["config": "{\"x\": \"y\\\"z\"}"]
        let data = file.encoded()
        #expect(data == file.encoded())
        // Header length is a multiple of 8, as the format recommends.
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(length % 8 == 0)
        let back = try SafetensorsFile.decode(data, source: "memory")
        #expect(back.tensors == file.tensors && back.metadata == file.metadata)
    }

    @Test func truncatedAndCorruptFilesAreRefusedWithTheirName() throws {
        var file = SafetensorsFile()
        file.tensors["w"] = StoredTensor([Float](repeating: 1, count: 100), shape: [10, 10])
        let data = file.encoded()
        #expect { try SafetensorsFile.decode(data.prefix(data.count - 10), source: "cut.safetensors") } throws: {
            "\($0)".contains("cut.safetensors") && "\($0)".contains("truncated")
        }
        #expect { try SafetensorsFile.decode(data.prefix(5), source: "tiny") } throws: { "\($0)".contains("truncated") }
        #expect { try SafetensorsFile.decode(Data(repeating: 0xFF, count: 64), source: "junk") } throws: { "\($0)".contains("absurd") }
        var badHeader = Data([16, 0, 0, 0, 0, 0, 0, 0])
        badHeader.append(Data("not json at all!".utf8))
        #expect { try SafetensorsFile.decode(badHeader, source: "h") } throws: { "\($0)".contains("not a JSON object") }
        // A shape that does not match its byte span.
        let json = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        var mismatch = Data()
        var n = UInt64(json.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { mismatch.append(contentsOf: $0) }
        mismatch.append(Data(json.utf8)); mismatch.append(Data(count: 8))
        #expect { try SafetensorsFile.decode(mismatch, source: "m") } throws: { "\($0)".contains("tensor \"w\"") }
    }
}

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
        try Checkpoint.save(parameters: ps, configJSON: "{\"name\": \"t\"}", optimizer: adam, training: ["epoch": "7"], to: path)
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
        #expect { try loaded.apply(to: more) } throws: { "\($0)".contains("layers.1.conv.weight") && "\($0)".contains("missing") }
        #expect { try loaded.apply(to: Array(parameters().prefix(2))) } throws: { "\($0)".contains("running_mean") }
        let wrong = [Parameter(name: "layers.0.conv.weight", shape: [3, 3, 3, 5], value: [Float](repeating: 0, count: 135))] + parameters().suffix(2)
        #expect { try loaded.apply(to: wrong) } throws: { "\($0)".contains("shape") }
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
