/// A parsed JSON document, so the config can be read field by field with errors that name the
/// layer and key, and written back.
enum JSONValue: Hashable, Sendable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Decoding through a `Decoder` (the `Codable` path, e.g. a config inside another JSON
    /// document): the decoder has already resolved duplicate keys and range errors its own way.
    /// Config files and weights-file metadata are read with `parse(_:)` instead, which rejects them.
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let x = try? c.decode(Double.self) { self = .number(x) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(x): try c.encode(x)
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    var description: String { text }

    /// Compact JSON text; object keys in `order` first, then the rest sorted.
    func text(order: [String] = []) -> String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .number(x):
            return x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : "\(x)"
        case let .string(s): return jsonString(s)
        case let .array(a): return "[" + a.map { $0.text(order: order) }.joined(separator: ", ") + "]"
        case let .object(o):
            let keys = order.filter { o[$0] != nil } + o.keys.filter { !order.contains($0) }.sorted()
            return "{" + keys.map { "\(JSONValue.string($0).text): \(o[$0]!.text(order: order))" }.joined(separator: ", ") + "}"
        }
    }

    var text: String { text() }
}

/// One step from the root of a JSON document to a value: an object key or an array index.
enum JSONPathComponent: Hashable, Sendable {
    case key(String)
    case index(Int)
}

/// Why a JSON text was refused, and where: the 1-based line and column (in characters) and
/// the path of the value being read, e.g. `layers[3].size`.
struct JSONParseError: Error, Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// Not JSON at all (RFC 8259's grammar), or not UTF-8.
        case syntax
        /// A key given twice in one object.
        case duplicateKey
        /// A number that a Double cannot hold (it would become infinite or 0).
        case numberOutOfRange
        /// Nested deeper than `JSONValue.maximumDepth`.
        case tooDeep
    }
    var kind: Kind
    var path: [JSONPathComponent]
    var line: Int
    var column: Int
    var reason: String
}

extension JSONValue {
    /// Objects and arrays nested deeper than this are refused (a config needs 3 levels), so a
    /// hostile `[[[[...` cannot exhaust the stack of the recursive parser.
    static let maximumDepth = 32

    /// Parses `bytes` as one JSON value, strictly by RFC 8259: no comments, trailing commas,
    /// NaN or leading zeros; strings must be UTF-8 without raw control characters. Unlike
    /// Foundation's decoder, which silently keeps one of two equal keys, a key repeated in an
    /// object is an error, and so is a number a Double cannot represent (`1e400` is infinite,
    /// `1e-400` would become 0). A leading UTF-8 byte-order mark is skipped.
    static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.document()
    }
}

/// A recursive-descent parser over UTF-8 bytes that keeps the path it is at, so every error
/// names the value (`layers[3].size`) as well as the line and column.
private struct JSONParser {
    let bytes: [UInt8]
    var position = 0
    var path: [JSONPathComponent] = []

    init(bytes: [UInt8]) {
        self.bytes = bytes
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
    }

    mutating func document() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        let value = try self.value(depth: 0)
        skipWhitespace()
        guard position == bytes.count else { throw syntax("unexpected \(describeHere()) after the end of the JSON value") }
        return value
    }

    // MARK: errors

    /// Line and column (1-based, counting characters, not bytes) of byte `offset`.
    func location(_ offset: Int) -> (line: Int, column: Int) {
        var line = 1, column = 1
        for b in bytes[..<min(offset, bytes.count)] {
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return (line, column)
    }

    func error(_ kind: JSONParseError.Kind, _ reason: String, at offset: Int? = nil,
               path: [JSONPathComponent]? = nil) -> JSONParseError {
        let (line, column) = location(offset ?? position)
        return JSONParseError(kind: kind, path: path ?? self.path, line: line, column: column, reason: reason)
    }

    func syntax(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        error(.syntax, "not valid JSON: " + reason, at: offset)
    }

    /// The character at the read position, for messages: `'x'`, or "end of the text".
    func describeHere() -> String {
        guard position < bytes.count else { return "end of the text" }
        let b = bytes[position]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    // MARK: grammar

    mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard position < bytes.count else { throw syntax("the text ends where a value should be") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: throw syntax("expected a value, found \(describeHere())")
        }
    }

    mutating func literal(_ word: String) throws(JSONParseError) {
        let utf8 = Array(word.utf8)
        guard bytes.count - position >= utf8.count, Array(bytes[position..<position + utf8.count]) == utf8 else {
            throw syntax("expected a value, found \(describeHere())")
        }
        position += utf8.count
    }

    mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONValue.maximumDepth else {
            throw error(.tooDeep, "objects and arrays are nested more than \(JSONValue.maximumDepth) deep")
        }
        position += 1  // {
        var fields: [String: JSONValue] = [:]
        var firstSeen: [String: Int] = [:]
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "}") { position += 1; return .object(fields) }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw syntax("expected a key in double quotes, found \(describeHere())")
            }
            let keyStart = position
            let key = try string()
            if let first = firstSeen[key] {
                let (line, column) = location(first)
                throw error(.duplicateKey, "duplicate key \"\(key)\" (first given at line \(line), column \(column)); each key may appear once",
                            at: keyStart, path: path + [.key(key)])
            }
            firstSeen[key] = keyStart
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                throw syntax("expected ':' after the key \"\(key)\", found \(describeHere())")
            }
            position += 1
            skipWhitespace()
            path.append(.key(key))
            fields[key] = try value(depth: depth)
            path.removeLast()
            skipWhitespace()
            guard position < bytes.count else { throw syntax("the text ends inside an object (expected ',' or '}')") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(fields) }
            throw syntax("expected ',' or '}' after the value of \"\(key)\", found \(describeHere())")
        }
    }

    mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONValue.maximumDepth else {
            throw error(.tooDeep, "objects and arrays are nested more than \(JSONValue.maximumDepth) deep")
        }
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
        while true {
            skipWhitespace()
            path.append(.index(elements.count))
            elements.append(try value(depth: depth))
            path.removeLast()
            skipWhitespace()
            guard position < bytes.count else { throw syntax("the text ends inside a list (expected ',' or ']')") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
            throw syntax("expected ',' or ']' in a list, found \(describeHere())")
        }
    }

    /// A string from its opening quote: escapes decoded, UTF-8 checked.
    mutating func string() throws(JSONParseError) -> String {
        let start = position
        position += 1  // "
        var utf8: [UInt8] = []
        while true {
            guard position < bytes.count else { throw syntax("the text ends inside a string", at: start) }
            let b = bytes[position]
            if b == UInt8(ascii: "\"") { position += 1; break }
            if b < 0x20 { throw syntax("a control character (0x\(String(b, radix: 16))) inside a string must be escaped") }
            if b != UInt8(ascii: "\\") { utf8.append(b); position += 1; continue }
            let escapeStart = position
            position += 1
            guard position < bytes.count else { throw syntax("the text ends inside a string", at: start) }
            let e = bytes[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(e)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4(escapeStart)
                if (0xD800...0xDBFF).contains(code) {
                    // A UTF-16 surrogate pair: \uD83D\uDE00.
                    guard bytes.count - position >= 2, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                        throw syntax("\\u\(String(code, radix: 16, uppercase: true)) is half of a surrogate pair without its other half", at: escapeStart)
                    }
                    position += 2
                    let low = try hex4(escapeStart)
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw syntax("\\u\(String(code, radix: 16, uppercase: true)) is not followed by a low surrogate", at: escapeStart)
                    }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(code) {
                    throw syntax("\\u\(String(code, radix: 16, uppercase: true)) is a lone low surrogate", at: escapeStart)
                }
                utf8.append(contentsOf: Array(String(Character(Unicode.Scalar(code)!)).utf8))
            default:
                throw syntax("unknown escape \\\(Character(Unicode.Scalar(e))) in a string", at: escapeStart)
            }
        }
        guard let text = String(validating: utf8, as: UTF8.self) else { throw syntax("the string is not valid UTF-8", at: start) }
        return text
    }

    mutating func hex4(_ escapeStart: Int) throws(JSONParseError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw syntax("\\u needs four hex digits", at: escapeStart) }
        var code: UInt32 = 0
        for b in bytes[position..<position + 4] {
            guard let digit = Character(Unicode.Scalar(b)).hexDigitValue else { throw syntax("\\u needs four hex digits", at: escapeStart) }
            code = code << 4 | UInt32(digit)
        }
        position += 4
        return code
    }

    /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? as a Double, which must be finite and,
    /// unless every digit is 0, not 0.
    mutating func number() throws(JSONParseError) -> Double {
        let start = position
        func digits() -> Int {
            let from = position
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
            return position - from
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        let integerStart = position
        let integerDigits = digits()
        guard integerDigits > 0 else { throw syntax("a number needs a digit after '-'", at: start) }
        guard integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else {
            throw syntax("a number may not have leading zeros", at: start)
        }
        var mantissaEnd = position
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw syntax("a number needs digits after the decimal point", at: start) }
            mantissaEnd = position
        }
        if position < bytes.count && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            position += 1
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) { position += 1 }
            guard digits() > 0 else { throw syntax("a number needs digits in its exponent", at: start) }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        let mantissaIsZero = bytes[integerStart..<mantissaEnd].allSatisfy { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: ".") }
        guard let x = Double(text), x.isFinite else {
            throw error(.numberOutOfRange, "the number \(text) is out of range (a 64-bit float holds magnitudes up to about 1.8e308)", at: start)
        }
        guard x != 0 || mantissaIsZero else {
            throw error(.numberOutOfRange, "the number \(text) is too small to represent (it would become 0)", at: start)
        }
        return x
    }
}
