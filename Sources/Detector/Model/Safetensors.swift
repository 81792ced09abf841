import Foundation

/// Why a weights file could not be read, and which file and tensor.
public struct WeightsError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var tensor: String?
    public var reason: String
    public var description: String { file + (tensor.map { ": tensor \"\($0)\"" } ?? "") + ": " + reason }
}

/// A tensor as stored: its dtype, shape and little-endian bytes.
public struct StoredTensor: Sendable, Equatable {
    public enum DType: String, Sendable { case f32 = "F32", i8 = "I8", u8 = "U8", f16 = "F16" }
    public var dtype: DType
    public var shape: [Int]
    public var bytes: Data

    public init(dtype: DType, shape: [Int], bytes: Data) { self.dtype = dtype; self.shape = shape; self.bytes = bytes }

    public init(_ values: [Float], shape: [Int]) {
        self.dtype = .f32
        self.shape = shape
        self.bytes = values.withUnsafeBufferPointer { Data(buffer: $0) }  // little-endian on every supported CPU
    }

    public init(int8 values: [Int8], shape: [Int]) {
        self.dtype = .i8; self.shape = shape
        self.bytes = values.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    public var elementCount: Int { shape.reduce(1, *) }

    static func size(of dtype: DType) -> Int {
        switch dtype { case .f32: return 4; case .f16: return 2; case .i8, .u8: return 1 }
    }

    /// The values as Float (F16, I8 and U8 widened).
    public var floats: [Float] {
        switch dtype {
        case .f32:
            var out = [Float](repeating: 0, count: elementCount)
            out.withUnsafeMutableBytes { _ = bytes.copyBytes(to: $0) }
            return out
        case .f16:
            var halves = [UInt16](repeating: 0, count: elementCount)
            halves.withUnsafeMutableBytes { _ = bytes.copyBytes(to: $0) }
            return halves.map { Float(Float16(bitPattern: $0)) }
        case .i8: return bytes.map { Float(Int8(bitPattern: $0)) }
        case .u8: return bytes.map { Float($0) }
        }
    }
}

/// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of
/// JSON `{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {string: string}}`, then the tensors' bytes, offsets relative to the end of
/// the header. Written with tensors in name order and the header padded with spaces to a
/// multiple of 8, so the same tensors give the same bytes.
public struct SafetensorsFile: Sendable {
    public var tensors: [String: StoredTensor]
    public var metadata: [String: String]

    public init(tensors: [String: StoredTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors; self.metadata = metadata
    }

    /// Headers larger than this are refused (the format's reference reader uses 100 MB).
    public static let maximumHeaderSize = 100_000_000

    public static func read(path: String) throws -> SafetensorsFile {
        guard FileManager.default.fileExists(atPath: path) else { throw WeightsError(file: path, reason: "no such file") }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw WeightsError(file: path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try decode(data, source: path)
    }

    public static func decode(_ data: Data, source: String) throws -> SafetensorsFile {
        func fail(_ reason: String, _ tensor: String? = nil) -> WeightsError { WeightsError(file: source, tensor: tensor, reason: reason) }
        guard data.count >= 8 else { throw fail("truncated: \(data.count) bytes, not a safetensors file") }
        let base = data.startIndex
        var headerLength: UInt64 = 0
        for k in 0..<8 { headerLength |= UInt64(data[base + k]) << (8 * UInt64(k)) }
        guard headerLength <= UInt64(maximumHeaderSize) else { throw fail("header length \(headerLength) is absurd; not a safetensors file?") }
        guard 8 + Int(headerLength) <= data.count else {
            throw fail("truncated: the header says \(headerLength) bytes but the file has \(data.count - 8) after the length")
        }
        let headerData = data[(base + 8)..<(base + 8 + Int(headerLength))]
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        let payload = data[(base + 8 + Int(headerLength))...]
        var file = SafetensorsFile()
        var ranges: [(Int, Int, String)] = []
        for (name, entry) in header {
            if name == "__metadata__" {
                guard let meta = entry as? [String: String] else { throw fail("__metadata__ must map strings to strings") }
                file.metadata = meta
                continue
            }
            guard let info = entry as? [String: Any] else { throw fail("entry is not an object", name) }
            guard let dtypeName = info["dtype"] as? String else { throw fail("missing dtype", name) }
            guard let dtype = StoredTensor.DType(rawValue: dtypeName) else { throw fail("unsupported dtype \(dtypeName)", name) }
            guard let shape = info["shape"] as? [Int], shape.allSatisfy({ $0 >= 0 }) else { throw fail("missing or bad shape", name) }
            guard let offsets = info["data_offsets"] as? [Int], offsets.count == 2, offsets[0] >= 0, offsets[1] >= offsets[0] else {
                throw fail("missing or bad data_offsets", name)
            }
            let expected = shape.reduce(1, *) * StoredTensor.size(of: dtype)
            guard offsets[1] - offsets[0] == expected else {
                throw fail("shape \(shape) of \(dtypeName) needs \(expected) bytes but data_offsets span \(offsets[1] - offsets[0])", name)
            }
            guard offsets[1] <= payload.count else {
                throw fail("data ends at byte \(offsets[1]) but the file holds \(payload.count) bytes of data (truncated?)", name)
            }
            ranges.append((offsets[0], offsets[1], name))
            let start = payload.startIndex + offsets[0]
            file.tensors[name] = StoredTensor(dtype: dtype, shape: shape, bytes: Data(payload[start..<(start + expected)]))
        }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 && b.1 > b.0 && a.1 > a.0 {
            throw fail("overlaps tensor \"\(a.2)\"", b.2)
        }
        return file
    }

    public func encoded() -> Data {
        var header = "{"
        var offset = 0
        var entries: [String] = []
        if !metadata.isEmpty {
            let meta = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            entries.append("\"__metadata__\":{\(meta)}")
        }
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            entries.append("\(jsonString(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
        }
        header += entries.joined(separator: ",") + "}"
        var headerBytes = Data(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out = Data(capacity: 8 + headerBytes.count + offset)
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(headerBytes)
        for name in names { out.append(tensors[name]!.bytes) }
        return out
    }

    public func write(to path: String) throws {
        do { try writeAtomically(encoded(), to: path) } catch {
            throw WeightsError(file: path, reason: "cannot write: \(error)")
        }
    }
}

/// A JSON string literal with the necessary escapes.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}
