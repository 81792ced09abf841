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
        let data = try file.encoded()
        #expect(try data == file.encoded())
        // Header length is a multiple of 8, as the format recommends.
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(length % 8 == 0)
        let back = try SafetensorsFile.decode(data, source: "memory")
        #expect(back.tensors == file.tensors && back.metadata == file.metadata)
    }

    @Test func truncatedAndCorruptFilesAreRefusedWithTheirName() throws {
        var file = SafetensorsFile()
        file.tensors["w"] = StoredTensor([Float](repeating: 1, count: 100), shape: [10, 10])
        let data = try file.encoded()
        #expect { try SafetensorsFile.decode(data.prefix(data.count - 10), source: "cut.safetensors") } throws: {
            "\($0)".contains("cut.safetensors") && "\($0)".contains("truncated")
        }
        #expect { try SafetensorsFile.decode(data.prefix(5), source: "tiny") } throws: { "\($0)".contains("truncated") }
        #expect { try SafetensorsFile.decode(Data(repeating: 0xFF, count: 64), source: "junk") } throws: { "\($0)".contains("absurd") }
        var badHeader = Data([16, 0, 0, 0, 0, 0, 0, 0])
        badHeader.append(Data("not json at all!".utf8))
        #expect { try SafetensorsFile.decode(badHeader, source: "h") } throws: { "\($0)".contains("not valid JSON") }
        // A shape that does not match its byte span.
        let json = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        var mismatch = Data()
        var n = UInt64(json.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { mismatch.append(contentsOf: $0) }
        mismatch.append(Data(json.utf8)); mismatch.append(Data(count: 8))
        #expect { try SafetensorsFile.decode(mismatch, source: "m") } throws: { "\($0)".contains("tensor \"w\"") }
    }
}
