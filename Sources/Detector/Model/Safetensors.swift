import Foundation

/// Why a weights file could not be read or used, and where: the file, the tensor, and the
/// header field or metadata key (`shape`, `data_offsets`, `__metadata__.epoch`).
public struct WeightsError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var tensor: String?
    public var field: String?
    public var reason: String
    public var description: String {
        file + (tensor.map { ": tensor \"\($0)\"" } ?? "") + (field.map { ": field \"\($0)\"" } ?? "") + ": " + reason
    }
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

    /// The bytes that `shape` of `dtype` needs, or nil when a dimension is negative or the
    /// product overflows `Int` (multiplied left to right, as the Rust reference does, so
    /// `[2^62, 4, 0]` overflows there too).
    public static func byteCount(shape: [Int], dtype: DType) -> Int? {
        var total = size(of: dtype)
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            total = product
        }
        return total
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
///
/// Reading checks what the Rust reference (`safetensors` 0.8, behind Python's package) checks,
/// and refuses a few things it lets through; see `decode(_:source:)`.
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

    /// Parses a whole file, refusing (with a `WeightsError` naming `source`, the tensor and the
    /// field) anything but a well-formed one:
    /// - at least 8 bytes; a header length of at most `maximumHeaderSize` that fits in the file;
    /// - a header of UTF-8 JSON (strict: no trailing characters but whitespace, such as the
    ///   spaces that pad it to a multiple of 8; at most 128 levels deep) holding an object;
    /// - no key twice, at any level (the reference keeps the last one silently);
    /// - `__metadata__` absent, null, or an object of strings;
    /// - every other entry an object with a known `dtype`, a `shape` of non-negative integers
    ///   and `data_offsets` of two non-negative integers (`2.0`, `-1`, `"2"` refused), whose
    ///   span is exactly the shape's byte count, computed with overflow checks;
    /// - the tensors' byte ranges, sorted by begin offset, tile the data region exactly: the
    ///   first begins at 0, each begins where the one before ends, the last ends at the end of
    ///   the file (no overlap, no gap, no trailing byte: the reference's "not fully covered").
    public static func decode(_ data: Data, source: String) throws -> SafetensorsFile {
        func fail(_ reason: String, tensor: String? = nil, field: String? = nil) -> WeightsError {
            WeightsError(file: source, tensor: tensor, field: field, reason: reason)
        }
        guard data.count >= 8 else { throw fail("truncated: \(data.count) bytes, too few for the 8-byte header length; not a safetensors file") }
        let base = data.startIndex
        var declaredLength: UInt64 = 0
        for k in 0..<8 { declaredLength |= UInt64(data[base + k]) << (8 * UInt64(k)) }
        guard declaredLength <= UInt64(maximumHeaderSize) else {
            throw fail("header length \(declaredLength) is absurd (the limit is \(maximumHeaderSize) bytes); not a safetensors file?")
        }
        let headerLength = Int(declaredLength)
        guard headerLength <= data.count - 8 else {
            throw fail("truncated: the header length says \(headerLength) bytes but the file has \(data.count - 8) after the length")
        }
        let headerBytes = [UInt8](data[(base + 8)..<(base + 8 + headerLength)])
        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw fail("the header is not valid UTF-8") }
        let root: HeaderValue
        do throws(HeaderParser.Failure) { root = try HeaderParser.parse(headerBytes) } catch {
            throw fail("the header is not valid JSON: \(error.reason) at byte \(error.offset) of the header")
        }
        guard case .object(let members) = root else { throw fail("the header is \(root.summary), not a JSON object") }

        var file = SafetensorsFile()
        var seen = Set<String>()
        var ranges: [(begin: Int, end: Int, name: String, dtype: StoredTensor.DType, shape: [Int])] = []
        let dataLength = data.count - 8 - headerLength
        for (name, entry) in members {
            guard seen.insert(name).inserted else {
                throw name == "__metadata__"
                    ? fail("appears twice in the header (a duplicate JSON key)", field: name)
                    : fail("appears twice in the header (a duplicate JSON key)", tensor: name)
            }
            if name == "__metadata__" {
                file.metadata = try decodeMetadata(entry, fail: fail)
                continue
            }
            guard case .object(let fieldList) = entry else { throw fail("the entry is \(entry.summary), not a JSON object", tensor: name) }
            var fields: [String: HeaderValue] = [:]
            for (key, value) in fieldList {
                guard fields.updateValue(value, forKey: key) == nil else {
                    throw fail("appears twice in the entry (a duplicate JSON key)", tensor: name, field: key)
                }
            }
            guard let dtypeValue = fields["dtype"] else { throw fail("missing", tensor: name, field: "dtype") }
            guard case .string(let dtypeName) = dtypeValue else { throw fail("is \(dtypeValue.summary), not a string", tensor: name, field: "dtype") }
            guard let dtype = StoredTensor.DType(rawValue: dtypeName) else {
                throw fail("unsupported dtype \"\(dtypeName)\" (this toolkit reads F32, F16, I8 and U8)", tensor: name, field: "dtype")
            }
            let shape = try nonNegativeIntegers(fields["shape"], tensor: name, field: "shape", count: nil, fail: fail)
            let offsets = try nonNegativeIntegers(fields["data_offsets"], tensor: name, field: "data_offsets", count: 2, fail: fail)
            let (begin, end) = (offsets[0], offsets[1])
            guard let needed = StoredTensor.byteCount(shape: shape, dtype: dtype) else {
                throw fail("shape \(shape) of \(dtypeName) overflows: its byte count does not fit in 64 bits", tensor: name, field: "shape")
            }
            guard begin <= end else { throw fail("[\(begin), \(end)] ends before it begins", tensor: name, field: "data_offsets") }
            guard end - begin == needed else {
                throw fail("shape \(shape) of \(dtypeName) needs \(needed) bytes but data_offsets [\(begin), \(end)] span \(end - begin)", tensor: name)
            }
            guard end <= dataLength else {
                throw fail("data ends at byte \(end) but the file holds \(dataLength) bytes of data (truncated?)", tensor: name, field: "data_offsets")
            }
            ranges.append((begin, end, name, dtype, shape))
        }

        // The ranges must tile [0, dataLength): any other layout means the header and the data
        // disagree (a wrong header length, an inserted or lost byte), and reading on would
        // give shifted tensors. Ties (empty tensors) sort by end, then name, for a stable message.
        ranges.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var covered = 0
        var previous: String?
        for range in ranges {
            if range.begin < covered {
                throw fail("data_offsets [\(range.begin), \(range.end)] overlap tensor \"\(previous!)\", which ends at byte \(covered)", tensor: range.name)
            }
            if range.begin > covered {
                let after = previous.map { "tensor \"\($0)\" ends at byte \(covered)" } ?? "the data region begins at byte 0"
                throw fail("data_offsets begin at byte \(range.begin) but \(after): bytes \(covered)..<\(range.begin) belong to no tensor (the data region is not fully covered)",
                           tensor: range.name)
            }
            covered = range.end
            previous = range.name
        }
        guard covered == dataLength else {
            throw fail("the data region is not fully covered: the tensors end at byte \(covered) of \(dataLength) (a wrong header length, or bytes inserted?)")
        }
        let payloadStart = base + 8 + headerLength
        for range in ranges {
            let bytes = Data(data[(payloadStart + range.begin)..<(payloadStart + range.end)])
            file.tensors[range.name] = StoredTensor(dtype: range.dtype, shape: range.shape, bytes: bytes)
        }
        return file
    }

    /// `__metadata__`: null (as the reference allows) or an object of strings.
    private static func decodeMetadata(_ entry: HeaderValue, fail: (String, String?, String?) -> WeightsError) throws -> [String: String] {
        if case .null = entry { return [:] }
        guard case .object(let pairs) = entry else { throw fail("is \(entry.summary), not an object of strings", nil, "__metadata__") }
        var metadata: [String: String] = [:]
        for (key, value) in pairs {
            guard case .string(let text) = value else { throw fail("is \(value.summary), not a string", nil, "__metadata__.\(key)") }
            guard metadata.updateValue(text, forKey: key) == nil else {
                throw fail("appears twice in the metadata (a duplicate JSON key)", nil, "__metadata__.\(key)")
            }
        }
        return metadata
    }

    /// A JSON array of integers in 0...Int.max (`count` of them when given).
    private static func nonNegativeIntegers(_ value: HeaderValue?, tensor: String, field: String, count: Int?,
                                            fail: (String, String?, String?) -> WeightsError) throws -> [Int] {
        guard let value else { throw fail("missing", tensor, field) }
        guard case .array(let elements) = value else { throw fail("is \(value.summary), not an array of integers", tensor, field) }
        if let count, elements.count != count {
            throw fail("has \(elements.count) elements, not \(count)", tensor, field)
        }
        return try elements.enumerated().map { index, element in
            guard case .number(let text) = element else { throw fail("element \(index) is \(element.summary), not an integer", tensor, field) }
            guard text.allSatisfy({ $0 == "-" || $0.isASCII && $0.isNumber }) else {
                throw fail("element \(index) is \(text), not an integer", tensor, field)
            }
            guard let integer = Int(text) else { throw fail("element \(index) is \(text), too large", tensor, field) }
            guard integer >= 0 else { throw fail("element \(index) is \(text), negative", tensor, field) }
            return integer
        }
    }

    /// The file's bytes. Throws (naming the tensor) when a tensor's bytes do not match its
    /// shape or its name is the reserved `__metadata__`, so the writer never produces a file
    /// that the reader refuses.
    public func encoded() throws -> Data {
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            guard name != "__metadata__" else {
                throw WeightsError(file: "(safetensors being written)", tensor: name, reason: "the name is reserved for the metadata")
            }
            guard let needed = StoredTensor.byteCount(shape: t.shape, dtype: t.dtype), needed == t.bytes.count else {
                throw WeightsError(file: "(safetensors being written)", tensor: name,
                                   reason: "shape \(t.shape) of \(t.dtype.rawValue) does not match its \(t.bytes.count) bytes")
            }
        }
        var header = "{"
        var offset = 0
        var entries: [String] = []
        if !metadata.isEmpty {
            let meta = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            entries.append("\"__metadata__\":{\(meta)}")
        }
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
        let data: Data
        do { data = try encoded() } catch var error as WeightsError {
            error.file = path
            throw error
        }
        do { try writeAtomically(data, to: path) } catch {
            throw WeightsError(file: path, reason: "cannot write: \(error)")
        }
    }
}

// MARK: - The header's JSON

/// A JSON value of a safetensors header. Objects keep their members in order with duplicates,
/// so the reader can refuse a repeated key (JSONSerialization keeps one of them silently);
/// numbers keep their literal text, so `2.0`, `-1`, `true` and `1e400` stay distinct from the
/// integers a shape needs (JSONSerialization bridges `true` and `2.0` to the Int 1 and 2).
private indirect enum HeaderValue {
    case object([(key: String, value: HeaderValue)])
    case array([HeaderValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// For messages: `the number 1.5`, `the string "2"`, `an array`.
    var summary: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string(let s): return "the string " + jsonString(s.count > 40 ? String(s.prefix(40)) + "…" : s)
        case .number(let n): return "the number \(n)"
        case .bool(let b): return "\(b)"
        case .null: return "null"
        }
    }
}

/// A strict JSON parser (RFC 8259) over the header's bytes, already checked to be UTF-8.
/// Recursive descent, at most `maximumDepth` levels deep, so a header of a million `[` fails
/// with a message instead of overflowing the stack.
private struct HeaderParser {
    struct Failure: Error { var offset: Int; var reason: String }
    static let maximumDepth = 128

    private let bytes: [UInt8]
    private var position = 0

    private init(bytes: [UInt8]) { self.bytes = bytes }

    static func parse(_ bytes: [UInt8]) throws(Failure) -> HeaderValue {
        var parser = HeaderParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.failure("unexpected \(parser.current) after the JSON value") }
        return value
    }

    private func failure(_ reason: String) -> Failure { Failure(offset: position, reason: reason) }

    /// The byte at `position`, for messages.
    private var current: String {
        guard position < bytes.count else { return "end of the header" }
        let b = bytes[position]
        return (0x21..<0x7F).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x" + String(b, radix: 16)
    }

    private func peek(_ ascii: Unicode.Scalar) -> Bool { position < bytes.count && bytes[position] == UInt8(ascii: ascii) }

    private var atDigit: Bool { position < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private mutating func expect(_ ascii: Unicode.Scalar) throws(Failure) {
        guard peek(ascii) else { throw failure("expected '\(ascii)' but found \(current)") }
        position += 1
    }

    private mutating func value(depth: Int) throws(Failure) -> HeaderValue {
        guard depth < Self.maximumDepth else { throw failure("nested more than \(Self.maximumDepth) levels deep") }
        guard position < bytes.count else { throw failure("unexpected end of the header") }
        switch Unicode.Scalar(bytes[position]) {
        case "{": return try object(depth: depth)
        case "[": return try array(depth: depth)
        case "\"": return .string(try string())
        case "-", "0"..."9": return .number(try number())
        case "t": try literal("true"); return .bool(true)
        case "f": try literal("false"); return .bool(false)
        case "n": try literal("null"); return .null
        default: throw failure("unexpected \(current)")
        }
    }

    private mutating func literal(_ word: String) throws(Failure) {
        guard bytes[position...].starts(with: word.utf8) else { throw failure("unexpected \(current)") }
        position += word.utf8.count
    }

    private mutating func object(depth: Int) throws(Failure) -> HeaderValue {
        position += 1
        var members: [(key: String, value: HeaderValue)] = []
        skipWhitespace()
        if peek("}") { position += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard peek("\"") else { throw failure("expected a string key but found \(current)") }
            let key = try string()
            skipWhitespace()
            try expect(":")
            skipWhitespace()
            members.append((key, try value(depth: depth + 1)))
            skipWhitespace()
            if peek(",") { position += 1; continue }
            if peek("}") { position += 1; return .object(members) }
            throw failure("expected ',' or '}' but found \(current)")
        }
    }

    private mutating func array(depth: Int) throws(Failure) -> HeaderValue {
        position += 1
        var elements: [HeaderValue] = []
        skipWhitespace()
        if peek("]") { position += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth + 1))
            skipWhitespace()
            if peek(",") { position += 1; continue }
            if peek("]") { position += 1; return .array(elements) }
            throw failure("expected ',' or ']' but found \(current)")
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, returned as written.
    private mutating func number() throws(Failure) -> String {
        let start = position
        if peek("-") { position += 1 }
        guard atDigit else { throw failure("expected a digit but found \(current)") }
        if peek("0") { position += 1 } else { while atDigit { position += 1 } }
        if peek(".") {
            position += 1
            guard atDigit else { throw failure("expected a digit after '.' but found \(current)") }
            while atDigit { position += 1 }
        }
        if peek("e") || peek("E") {
            position += 1
            if peek("+") || peek("-") { position += 1 }
            guard atDigit else { throw failure("expected a digit in the exponent but found \(current)") }
            while atDigit { position += 1 }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func string() throws(Failure) -> String {
        position += 1
        var out: [UInt8] = []
        var runStart = position
        while true {
            guard position < bytes.count else { throw failure("unterminated string") }
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                out += bytes[runStart..<position]
                position += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw failure("control character 0x\(String(b, radix: 16)) in a string (it must be escaped)") }
            guard b == UInt8(ascii: "\\") else { position += 1; continue }
            out += bytes[runStart..<position]
            position += 1
            guard position < bytes.count else { throw failure("unterminated string") }
            let escape = Unicode.Scalar(bytes[position])
            position += 1
            switch escape {
            case "\"", "\\", "/": out.append(UInt8(ascii: escape))
            case "b": out.append(0x08)
            case "f": out.append(0x0C)
            case "n": out.append(0x0A)
            case "r": out.append(0x0D)
            case "t": out.append(0x09)
            case "u": out += Array(String(Character(try unicodeEscape())).utf8)
            default: position -= 1; throw failure("invalid escape '\\\(escape)'")
            }
            runStart = position
        }
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` when the first is a high surrogate.
    private mutating func unicodeEscape() throws(Failure) -> Unicode.Scalar {
        let first = try hexQuad()
        switch first {
        case 0xD800..<0xDC00:
            guard peek("\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") else {
                throw failure("lone surrogate \\u\(String(first, radix: 16)) in a string")
            }
            position += 2
            let second = try hexQuad()
            guard (0xDC00..<0xE000).contains(second) else { throw failure("lone surrogate \\u\(String(first, radix: 16)) in a string") }
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
        case 0xDC00..<0xE000:
            throw failure("lone surrogate \\u\(String(first, radix: 16)) in a string")
        default:
            return Unicode.Scalar(first)!
        }
    }

    private mutating func hexQuad() throws(Failure) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard position < bytes.count, let digit = Character(Unicode.Scalar(bytes[position])).hexDigitValue else {
                throw failure("expected 4 hex digits after \\u but found \(current)")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
