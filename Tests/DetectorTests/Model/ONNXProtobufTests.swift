import Foundation
import Testing
@testable import Detector

/// A protobuf message read back into its fields, for checking what the exporter wrote: each
/// field number with its varint (wire type 0), 32-bit (5) or length-delimited bytes (2).
struct ProtobufFields {
    enum Value: Equatable { case varint(UInt64), fixed32(UInt32), bytes([UInt8]) }
    var fields: [(number: Int, value: Value)] = []

    struct Malformed: Error, CustomStringConvertible { var description: String }

    init(_ bytes: [UInt8]) throws {
        var p = 0
        func varint() throws -> UInt64 {
            var result: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard p < bytes.count, shift < 64 else { throw Malformed(description: "varint runs past the end at byte \(p)") }
                let b = bytes[p]; p += 1
                result |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return result }
                shift += 7
            }
        }
        while p < bytes.count {
            let key = try varint()
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: fields.append((number, .varint(try varint())))
            case 2:
                let length = Int(try varint())
                guard p + length <= bytes.count else { throw Malformed(description: "field \(number) runs past the end") }
                fields.append((number, .bytes(Array(bytes[p..<(p + length)])))); p += length
            case 5:
                guard p + 4 <= bytes.count else { throw Malformed(description: "field \(number) runs past the end") }
                fields.append((number, .fixed32(UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24)))
                p += 4
            default: throw Malformed(description: "wire type \(key & 7) of field \(number)")
            }
        }
    }

    func integers(_ number: Int) -> [Int] {
        fields.compactMap { if $0.number == number, case let .varint(v) = $0.value { return Int(Int64(bitPattern: v)) } else { return nil } }
    }
    func messages(_ number: Int) throws -> [ProtobufFields] {
        try fields.compactMap { if $0.number == number, case let .bytes(b) = $0.value { return try ProtobufFields(b) } else { return nil } }
    }
    func strings(_ number: Int) -> [String] {
        fields.compactMap { if $0.number == number, case let .bytes(b) = $0.value { return String(decoding: b, as: UTF8.self) } else { return nil } }
    }
    func string(_ number: Int) -> String? { strings(number).first }
}

@Suite struct ONNXProtobufTests {
    func written(_ body: (inout ProtobufWriter) -> Void) -> [UInt8] {
        var w = ProtobufWriter()
        body(&w)
        return w.bytes
    }

    @Test(arguments: [
        (UInt64(0), [0x00]), (1, [0x01]), (127, [0x7F]), (128, [0x80, 0x01]), (300, [0xAC, 0x02]),
        (16_384, [0x80, 0x80, 0x01]),
        (UInt64.max, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
    ] as [(UInt64, [UInt8])])
    func varints(value: UInt64, expected: [UInt8]) {
        #expect(written { $0.varint(value) } == expected)
    }

    /// The examples of protobuf.dev's "Encoding" page, byte for byte.
    @Test func theEncodingGuidesExamples() {
        #expect(written { $0.integer(1, 150) } == [0x08, 0x96, 0x01])
        #expect(written { $0.string(2, "testing") } == [0x12, 0x07] + Array("testing".utf8))
        #expect(written { $0.message(3) { $0.integer(1, 150) } } == [0x1A, 0x03, 0x08, 0x96, 0x01])
        // A negative int64 is ten bytes of two's complement.
        #expect(written { $0.integer(1, -2) } == [0x08, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        // float: wire type 5, IEEE 754 little-endian (1.0 = 0x3F800000).
        #expect(written { $0.float(2, 1) } == [0x15, 0x00, 0x00, 0x80, 0x3F])
    }

    /// ONNX's AttributeProto: name (1), ints (8, one varint per element: proto2 does not pack
    /// them), type (20, INTS = 7), whose key 20 << 3 = 160 takes two bytes.
    @Test func attributesAsOnnxProtoDefinesThem() {
        let pads = written { ONNXModel.Attribute.ints("pads", [0, 1]).encode(into: &$0) }
        #expect(pads == [0x0A, 0x04] + Array("pads".utf8) + [0x40, 0x00, 0x40, 0x01, 0xA0, 0x01, 0x07])
        let alpha = written { ONNXModel.Attribute.float("alpha", 0.5).encode(into: &$0) }
        #expect(alpha == [0x0A, 0x05] + Array("alpha".utf8) + [0x15, 0x00, 0x00, 0x00, 0x3F, 0xA0, 0x01, 0x01])
        let axis = written { ONNXModel.Attribute.int("axis", 1).encode(into: &$0) }
        #expect(axis == [0x0A, 0x04] + Array("axis".utf8) + [0x18, 0x01, 0xA0, 0x01, 0x02])
    }

    /// TensorProto: dims (1), data_type (2, FLOAT = 1), name (8), raw_data (9) little-endian.
    @Test func tensorsAsRawLittleEndianFloats() throws {
        let bytes = written { ONNXModel.Tensor(name: "w", dimensions: [2, 1], floats: [1, -2]).encode(into: &$0) }
        let fields = try ProtobufFields(bytes)
        #expect(fields.integers(1) == [2, 1] && fields.integers(2) == [1] && fields.string(8) == "w")
        #expect(fields.fields.last?.value == .bytes([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]))
        // A scalar has no dims at all.
        let scalar = try ProtobufFields(written { ONNXModel.Tensor(name: "s", dimensions: [], floats: [6]).encode(into: &$0) })
        #expect(scalar.integers(1).isEmpty)
    }

    /// ValueInfoProto → TypeProto.tensor_type → shape → dim with dim_value (1) or dim_param (2).
    @Test func symbolicAndFixedDimensions() throws {
        let info = ONNXModel.ValueInfo(name: "images", dimensions: [.parameter("batch"), .value(3)])
        let fields = try ProtobufFields(written { info.encode(into: &$0) })
        #expect(fields.string(1) == "images")
        let tensor = try #require(try fields.messages(2).first?.messages(1).first)
        #expect(tensor.integers(1) == [1])
        let dims = try #require(try tensor.messages(2).first).messages(1)
        #expect(dims.count == 2)
        #expect(dims[0].string(2) == "batch" && dims[0].integers(1).isEmpty)
        #expect(dims[1].integers(1) == [3] && dims[1].strings(2).isEmpty)
    }
}
