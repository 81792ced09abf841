import Foundation

/// A deterministic mutation engine for fuzzing the loaders: the same seed and the same input
/// give the same mutated bytes on every machine (every choice draws from one `SplitMix64`).
///
/// Two layers of mutations. Byte-level ones know nothing of the format: flip a bit, write an
/// interesting value (0, -1, 0x7fffffff, ...), insert, delete or duplicate a range, splice in
/// part of another input. Format-aware ones keep the input well-formed enough to get past the
/// first checks and reach the code behind them:
///
/// - JSON, token by token: numbers replaced by interesting ones (4611686018427387904, 1e400,
///   NaN, ...), strings by the vocabulary of the formats ("separable", "F16", ...), values by
///   values of another type; members duplicated (duplicate keys), deleted or inserted; array
///   elements repeated (huge arrays, many layers); values nested thousands deep.
/// - PNG, chunk by chunk, every CRC recomputed so libpng reads the change instead of
///   rejecting the CRC: IHDR fields (size, bit depth, colour type, interlacing) with image data
///   regenerated to fit; chunks inserted, deleted, duplicated, split, truncated; and whole
///   images synthesised in every colour type and bit depth, interlaced or not (`syntheticPNG`).
/// - safetensors: the 8-byte header length, the header as JSON text, and the header as
///   structure (shapes, data_offsets, dtypes, tensor names, the model config in `__metadata__`),
///   the length rewritten to match.
/// - text (label and class files): fields replaced by interesting numbers and words, lines
///   repeated, deleted or swapped, odd characters inserted (NUL, CR, U+2028, a BOM, combining
///   marks, invalid UTF-8).
public struct Mutator: Sendable {
    public enum Format: String, Sendable, CaseIterable { case bytes, text, json, png, safetensors }

    public var rng: SplitMix64
    /// No mutation makes an input larger than this: a step that would is undone.
    public var maximumSize: Int

    public init(seed: UInt64, maximumSize: Int = 1 << 20) {
        rng = SplitMix64(seed: seed)
        self.maximumSize = maximumSize
    }

    /// `input` after 1 to 8 stacked mutations (most often one or two), each format-aware with
    /// probability 3/4, else byte-level. `corpus` supplies material to splice in.
    public mutating func mutate(_ input: [UInt8], format: Format, corpus: [[UInt8]] = []) -> [UInt8] {
        var bytes = input
        var steps = 1
        while steps < 8 && chance(0.5) { steps += 1 }
        for _ in 0..<steps {
            let before = bytes
            if format == .bytes || chance(0.25) {
                mutateBytes(&bytes, corpus: corpus)
            } else {
                switch format {
                case .bytes: break
                case .text: mutateText(&bytes)
                case .json: mutateJSON(&bytes, corpus: corpus)
                case .png: mutatePNG(&bytes)
                case .safetensors: mutateSafetensors(&bytes, corpus: corpus)
                }
            }
            if bytes.count > maximumSize { bytes = before }
        }
        return bytes
    }

    // MARK: - Choices

    mutating func below(_ bound: Int) -> Int { bound <= 1 ? 0 : rng.nextInt(below: bound) }
    mutating func chance(_ p: Double) -> Bool { Double(rng.next() >> 11) * 0x1.0p-53 < p }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    /// A length for a range: mostly 1 to 8 bytes, sometimes up to `limit`.
    mutating func length(upTo limit: Int) -> Int {
        guard limit > 1 else { return max(limit, 0) }
        return chance(0.8) ? 1 + below(min(8, limit)) : 1 + below(limit)
    }

    // MARK: - Interesting values

    public static let interestingIntegers: [Int64] = [
        0, 1, -1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 63, 64, 127, 128, 255, 256, 1000, 4096, 4097,
        32767, 32768, 32769, 65535, 65536, 65537, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000,
        3_037_000_500, 1 << 62, Int64.max, Int64.min,
    ]

    /// Decimal forms that parsers disagree about or that overflow: huge integers, values
    /// beyond Double and Float, NaN and infinity spelt several ways, non-JSON forms.
    public static let interestingNumbers: [String] = [
        "0", "-0", "1", "-1", "2", "3", "0.5", "1.0", "1e0", "-2", "5", "80", "4096", "4097", "32768", "32769",
        "65536", "65537", "2147483647", "2147483648", "4294967295", "4294967296", "3037000500",
        "4611686018427387904", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "18446744073709551616", "1e15", "1e16", "1e19", "1e308", "1e400", "-1e400", "1e-400",
        "3.4028235e38", "3.5e38", "1.17549435e-38", "1e-45", "0.00001", "1.0001", "0.99999",
        "NaN", "nan", "-nan", "Infinity", "-Infinity", "inf", "-inf", "0x10", "0x1p-3", "1_0", "+1", ".5", "5.",
        "00", "1e", "--1", "1.5e3",
    ]

    /// Strings of the formats' vocabularies (layer types, activations, dtypes, metadata keys)
    /// and awkward strings, JSON-escaped (they go between quotes).
    static let interestingStrings: [String] = [
        "", "conv", "convolutional", "separable", "depthwise", "pointwise", "maxpool", "shortcut", "route",
        "leaky", "relu", "relu6", "linear", "F32", "F16", "I8", "U8", "BF16", "F64", "I64", "BOOL",
        "__metadata__", "config", "format", "detector-checkpoint-1", "optimizer.step", "layers.0.conv.weight",
        "\\u0000", "\\ud800", "\\udfff\\ud800", "\u{e9}", "\\n", "a\\\"b", "\\\\", "\u{1F44D}",
        String(repeating: "x", count: 5000),
    ]

    static let interestingKeys: [String] = [
        "name", "input", "width", "height", "channels", "classes", "anchors", "layers", "loss", "type",
        "filters", "size", "stride", "batchnorm", "activation", "from", "coord", "object", "noobject",
        "class", "ignore_threshold", "warmup_images", "rescore", "dtype", "shape", "data_offsets",
        "__metadata__", "config", "format", "optimizer.step", "unknown", "",
    ]

    // MARK: - Bytes

    /// One byte-level mutation.
    public mutating func mutateBytes(_ bytes: inout [UInt8], corpus: [[UInt8]] = []) {
        if bytes.isEmpty {
            bytes = (0..<(1 + below(16))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            return
        }
        let n = bytes.count
        switch below(12) {
        case 0:  // flip one bit
            bytes[below(n)] ^= 1 << UInt8(below(8))
        case 1:  // an interesting byte
            bytes[below(n)] = pick([0x00, 0xFF, 0x7F, 0x80, 0x01, 0x20, 0x0A, 0x0D, 0x22, 0x5C, 0x7B, 0x5B])
        case 2:  // an interesting 2-, 4- or 8-byte value, little- or big-endian
            let width = pick([2, 4, 8])
            guard n >= width else { bytes[below(n)] = 0xFF; return }
            let value = UInt64(bitPattern: pick(Self.interestingIntegers))
            let at = below(n - width + 1)
            let bigEndian = chance(0.5)
            for k in 0..<width {
                let shift = UInt64(8 * (bigEndian ? width - 1 - k : k))
                bytes[at + k] = UInt8(truncatingIfNeeded: value >> shift)
            }
        case 3:  // insert random bytes
            let count = length(upTo: 64)
            bytes.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: below(n + 1))
        case 4:  // insert an interesting decimal token
            bytes.insert(contentsOf: Array(pick(Self.interestingNumbers).utf8), at: below(n + 1))
        case 5:  // delete a range
            let count = length(upTo: n)
            let at = below(n - count + 1)
            bytes.removeSubrange(at..<(at + count))
        case 6:  // duplicate a range somewhere
            let count = length(upTo: n)
            let at = below(n - count + 1)
            bytes.insert(contentsOf: Array(bytes[at..<(at + count)]), at: below(n + 1))
        case 7:  // overwrite a range with another
            let count = length(upTo: n)
            let from = below(n - count + 1), to = below(n - count + 1)
            let piece = Array(bytes[from..<(from + count)])
            bytes.replaceSubrange(to..<(to + count), with: piece)
        case 8:  // splice: this input's head, another's tail
            guard let other = corpus.isEmpty ? nil : pick(corpus), !other.isEmpty else { bytes[below(n)] ^= 0xFF; return }
            bytes = Array(bytes[..<below(n + 1)]) + Array(other[below(other.count)...])
        case 9:  // truncate
            bytes.removeLast(1 + below(n))
        case 10:  // append zeros or random bytes
            let count = length(upTo: 256)
            bytes += chance(0.5) ? [UInt8](repeating: 0, count: count) : (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        default:  // any byte
            bytes[below(n)] = UInt8(truncatingIfNeeded: rng.next())
        }
    }

    // MARK: - JSON

    struct JSONToken {
        enum Kind { case string, number, word, open, close, colon, comma, other }
        var kind: Kind
        var range: Range<Int>
    }

    /// A lenient tokenizer: any bytes give tokens (what is not JSON becomes `other`).
    static func jsonTokens(_ b: [UInt8]) -> [JSONToken] {
        var tokens: [JSONToken] = []
        var i = 0
        let n = b.count
        func isNumberByte(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2B || c == 0x2E || c == 0x65 || c == 0x45 }
        func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
        while i < n {
            let c = b[i]
            switch c {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            case 0x22:  // "
                var j = i + 1
                while j < n {
                    if b[j] == 0x5C { j += 2; continue }
                    if b[j] == 0x22 { j += 1; break }
                    j += 1
                }
                j = min(j, n)
                tokens.append(JSONToken(kind: .string, range: i..<j)); i = j
            case 0x7B, 0x5B: tokens.append(JSONToken(kind: .open, range: i..<(i + 1))); i += 1
            case 0x7D, 0x5D: tokens.append(JSONToken(kind: .close, range: i..<(i + 1))); i += 1
            case 0x3A: tokens.append(JSONToken(kind: .colon, range: i..<(i + 1))); i += 1
            case 0x2C: tokens.append(JSONToken(kind: .comma, range: i..<(i + 1))); i += 1
            default:
                if (c >= 0x30 && c <= 0x39) || c == 0x2D {
                    var j = i + 1
                    while j < n && isNumberByte(b[j]) { j += 1 }
                    tokens.append(JSONToken(kind: .number, range: i..<j)); i = j
                } else if isLetter(c) {
                    var j = i + 1
                    while j < n && (isLetter(b[j]) || (b[j] >= 0x30 && b[j] <= 0x39)) { j += 1 }
                    tokens.append(JSONToken(kind: .word, range: i..<j)); i = j
                } else {
                    tokens.append(JSONToken(kind: .other, range: i..<(i + 1))); i += 1
                }
            }
        }
        return tokens
    }

    /// Index of the last token of the value starting at token `k` (its matching bracket for an
    /// array or object; the last token when unbalanced).
    static func valueEnd(_ tokens: [JSONToken], from k: Int) -> Int {
        guard tokens[k].kind == .open else { return k }
        var depth = 0
        for m in k..<tokens.count {
            if tokens[m].kind == .open { depth += 1 }
            if tokens[m].kind == .close { depth -= 1; if depth == 0 { return m } }
        }
        return tokens.count - 1
    }

    static func isKey(_ tokens: [JSONToken], _ k: Int) -> Bool {
        tokens[k].kind == .string && k + 1 < tokens.count && tokens[k + 1].kind == .colon
    }

    /// One JSON-aware mutation (falls back to a byte-level one when the input has no token of
    /// the kind chosen).
    public mutating func mutateJSON(_ bytes: inout [UInt8], corpus: [[UInt8]] = []) {
        let tokens = Self.jsonTokens(bytes)
        let values = tokens.indices.filter { k in
            switch tokens[k].kind {
            case .number, .word, .open: return true
            case .string: return !Self.isKey(tokens, k)
            default: return false
            }
        }
        let keys = tokens.indices.filter { Self.isKey(tokens, $0) }
        func span(_ k: Int) -> Range<Int> { tokens[k].range.lowerBound..<tokens[Self.valueEnd(tokens, from: k)].range.upperBound }
        /// A member "key": value, or an array element, with one neighbouring comma (to delete it cleanly).
        func withComma(_ first: Int, _ last: Int) -> Range<Int> {
            if last + 1 < tokens.count, tokens[last + 1].kind == .comma {
                return tokens[first].range.lowerBound..<tokens[last + 1].range.upperBound
            }
            if first > 0, tokens[first - 1].kind == .comma {
                return tokens[first - 1].range.lowerBound..<tokens[last].range.upperBound
            }
            return tokens[first].range.lowerBound..<tokens[last].range.upperBound
        }
        func replace(_ range: Range<Int>, _ text: String) { bytes.replaceSubrange(range, with: Array(text.utf8)) }

        switch below(11) {
        case 0, 1:  // a number
            let numbers = tokens.indices.filter { tokens[$0].kind == .number }
            guard let k = numbers.isEmpty ? nil : pick(numbers) else { return mutateBytes(&bytes, corpus: corpus) }
            let text = String(decoding: bytes[tokens[k].range], as: UTF8.self)
            replace(tokens[k].range, chance(0.6) ? pick(Self.interestingNumbers) : variant(of: text))
        case 2:  // a string value or a key
            let strings = tokens.indices.filter { tokens[$0].kind == .string }
            guard let k = strings.isEmpty ? nil : pick(strings) else { return mutateBytes(&bytes, corpus: corpus) }
            replace(tokens[k].range, "\"" + (Self.isKey(tokens, k) ? pick(Self.interestingKeys) : pick(Self.interestingStrings)) + "\"")
        case 3:  // a value of another type
            guard let k = values.isEmpty ? nil : pick(values) else { return mutateBytes(&bytes, corpus: corpus) }
            replace(span(k), pick(["null", "true", "false", "0", "\"\"", "[]", "{}", "[[]]", "{\"\":0}", "[0]", "\"0\"", "-1", "[1, 2]", "\"x\""]))
        case 4:  // duplicate a member (a duplicate key)
            guard let k = keys.isEmpty ? nil : pick(keys), k + 2 < tokens.count else { return mutateBytes(&bytes, corpus: corpus) }
            let end = tokens[Self.valueEnd(tokens, from: k + 2)].range.upperBound
            let member = Array(bytes[tokens[k].range.lowerBound..<end])
            bytes.insert(contentsOf: Array(", ".utf8) + member, at: end)
        case 5:  // delete a member or an element
            if chance(0.5), let k = keys.isEmpty ? nil : pick(keys), k + 2 < tokens.count {
                bytes.removeSubrange(withComma(k, Self.valueEnd(tokens, from: k + 2)))
            } else if let k = values.isEmpty ? nil : pick(values) {
                bytes.removeSubrange(withComma(k, Self.valueEnd(tokens, from: k)))
            }
        case 6:  // repeat an array element (huge arrays, many layers)
            let elements = values.filter { $0 > 0 && (tokens[$0 - 1].kind == .comma || (tokens[$0 - 1].kind == .open && bytes[tokens[$0 - 1].range.lowerBound] == 0x5B)) }
            guard let k = elements.isEmpty ? nil : pick(elements) else { return mutateBytes(&bytes, corpus: corpus) }
            let element = Array(bytes[span(k)])
            var times = pick([1, 2, 7, 31, 62, 63, 64, 65, 100, 1000, 10_000])
            times = min(times, max(1, (maximumSize - bytes.count) / (element.count + 2)))
            var repeated: [UInt8] = []
            repeated.reserveCapacity(times * (element.count + 2))
            for _ in 0..<times { repeated += Array(", ".utf8) + element }
            bytes.insert(contentsOf: repeated, at: span(k).upperBound)
        case 7:  // nest a value deep
            guard let k = values.isEmpty ? nil : pick(values) else { return mutateBytes(&bytes, corpus: corpus) }
            let depth = pick([2, 16, 100, 256, 511, 512, 513, 1000, 5000, 100_000])
            let range = span(k)
            if chance(0.5) {
                bytes.insert(contentsOf: [UInt8](repeating: 0x5D, count: depth), at: range.upperBound)
                bytes.insert(contentsOf: [UInt8](repeating: 0x5B, count: depth), at: range.lowerBound)
            } else {
                bytes.insert(contentsOf: [UInt8](repeating: 0x7D, count: depth), at: range.upperBound)
                var open: [UInt8] = []
                for _ in 0..<depth { open += Array("{\"a\":".utf8) }
                bytes.insert(contentsOf: open, at: range.lowerBound)
            }
        case 8:  // insert a member
            let objects = tokens.indices.filter { tokens[$0].kind == .open && bytes[tokens[$0].range.lowerBound] == 0x7B }
            guard let k = objects.isEmpty ? nil : pick(objects) else { return mutateBytes(&bytes, corpus: corpus) }
            let value = pick([pick(Self.interestingNumbers), "\"" + pick(Self.interestingStrings) + "\"", "[]", "{}", "true", "null", "[0, 0]"])
            let empty = k + 1 < tokens.count && tokens[k + 1].kind == .close
            bytes.insert(contentsOf: Array(("\"" + pick(Self.interestingKeys) + "\": " + value + (empty ? "" : ", ")).utf8),
                         at: tokens[k].range.upperBound)
        case 9:  // swap two values
            guard values.count >= 2 else { return mutateBytes(&bytes, corpus: corpus) }
            let a = span(pick(values)), b = span(pick(values))
            guard a.upperBound <= b.lowerBound || b.upperBound <= a.lowerBound else { return }
            let (first, second) = a.lowerBound < b.lowerBound ? (a, b) : (b, a)
            let firstBytes = Array(bytes[first]), secondBytes = Array(bytes[second])
            bytes.replaceSubrange(second, with: firstBytes)
            bytes.replaceSubrange(first, with: secondBytes)
        default:  // a value spliced in from another input
            guard let other = corpus.isEmpty ? nil : pick(corpus), let k = values.isEmpty ? nil : pick(values) else {
                return mutateBytes(&bytes, corpus: corpus)
            }
            let otherTokens = Self.jsonTokens(other)
            let otherValues = otherTokens.indices.filter { otherTokens[$0].kind == .open || otherTokens[$0].kind == .number }
            guard let m = otherValues.isEmpty ? nil : pick(otherValues) else { return }
            let piece = Array(other[otherTokens[m].range.lowerBound..<otherTokens[Self.valueEnd(otherTokens, from: m)].range.upperBound])
            bytes.replaceSubrange(span(k), with: piece)
        }
    }

    /// A number near `text`: ±1, negated, doubled, times 1000, halved, plus a half.
    mutating func variant(of text: String) -> String {
        guard let x = Double(text) else { return pick(Self.interestingNumbers) }
        let y: Double
        switch below(7) {
        case 0: y = x + 1
        case 1: y = x - 1
        case 2: y = -x
        case 3: y = x * 2
        case 4: y = x * 1000
        case 5: y = x / 2
        default: y = x + 0.5
        }
        return y == y.rounded() && abs(y) < 1e18 ? String(Int64(y)) : "\(y)"
    }

    // MARK: - Text (label and class files)

    static let oddCharacters: [[UInt8]] = [
        [0x00], [0x0D], [0x0D, 0x0A], [0x0A], [0x09], [0x20], [0x0B], [0x0C],
        Array("\u{2028}".utf8), Array("\u{2029}".utf8), Array("\u{85}".utf8), Array("\u{FEFF}".utf8),
        Array("\u{301}".utf8), Array("\u{200B}".utf8), Array("\u{A0}".utf8), Array("\u{e9}".utf8), Array("\u{1F44D}".utf8),
        Array("\u{1F1FA}\u{1F1F8}".utf8), Array("\u{FF10}".utf8),  // fullwidth digit zero
        [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80], [0x80],
    ]

    /// One mutation of a line-oriented text file.
    public mutating func mutateText(_ bytes: inout [UInt8]) {
        // Whitespace-separated fields and the lines, as byte ranges.
        var fields: [Range<Int>] = [], lines: [Range<Int>] = []
        var fieldStart: Int? = nil, lineStart = 0
        for (i, c) in bytes.enumerated() {
            let space = c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D
            if space, let s = fieldStart { fields.append(s..<i); fieldStart = nil }
            if !space && fieldStart == nil { fieldStart = i }
            if c == 0x0A { lines.append(lineStart..<(i + 1)); lineStart = i + 1 }
        }
        if let s = fieldStart { fields.append(s..<bytes.count) }
        if lineStart < bytes.count { lines.append(lineStart..<bytes.count) }

        switch below(8) {
        case 0, 1:  // a field: an interesting number or a nearby one
            guard let f = fields.isEmpty ? nil : pick(fields) else { return mutateBytes(&bytes) }
            let text = String(decoding: bytes[f], as: UTF8.self)
            bytes.replaceSubrange(f, with: Array((chance(0.6) ? pick(Self.interestingNumbers) : variant(of: text)).utf8))
        case 2:  // an odd character somewhere (often next to a field)
            let at = chance(0.5) && !fields.isEmpty ? (chance(0.5) ? pick(fields).lowerBound : pick(fields).upperBound) : below(bytes.count + 1)
            bytes.insert(contentsOf: pick(Self.oddCharacters), at: at)
        case 3:  // duplicate a line
            guard let l = lines.isEmpty ? nil : pick(lines) else { return mutateBytes(&bytes) }
            bytes.insert(contentsOf: Array(bytes[l]), at: pick(lines).lowerBound)
        case 4:  // delete a line
            guard let l = lines.isEmpty ? nil : pick(lines) else { return mutateBytes(&bytes) }
            bytes.removeSubrange(l)
        case 5:  // repeat a line many times
            guard let l = lines.isEmpty ? nil : pick(lines) else { return mutateBytes(&bytes) }
            var line = Array(bytes[l])
            if line.last != 0x0A { line.append(0x0A) }
            let times = min(pick([2, 10, 100, 1000, 10_000]), max(1, (maximumSize - bytes.count) / line.count))
            var repeated: [UInt8] = []
            for _ in 0..<times { repeated += line }
            bytes.insert(contentsOf: repeated, at: l.upperBound)
        case 6:  // a long field or many fields
            let piece: [UInt8] = chance(0.5)
                ? Array(("0." + String(repeating: "0", count: pick([40, 400, 5000])) + "1").utf8)
                : Array(String(repeating: " 0.5", count: pick([1, 2, 5, 100])).utf8)
            bytes.insert(contentsOf: piece, at: fields.isEmpty ? below(bytes.count + 1) : pick(fields).upperBound)
        default:  // swap two lines
            guard lines.count >= 2 else { return mutateBytes(&bytes) }
            let a = pick(lines), b = pick(lines)
            guard a != b else { return }
            let (first, second) = a.lowerBound < b.lowerBound ? (a, b) : (b, a)
            let firstBytes = Array(bytes[first]), secondBytes = Array(bytes[second])
            bytes.replaceSubrange(second, with: firstBytes)
            bytes.replaceSubrange(first, with: secondBytes)
        }
    }

    // MARK: - PNG

    public static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public struct PNGChunk: Sendable, Equatable {
        public var type: [UInt8]
        public var data: [UInt8]
        public init(_ type: String, _ data: [UInt8]) { self.type = Array(type.utf8); self.data = data }
        init(type: [UInt8], data: [UInt8]) { self.type = type; self.data = data }
    }

    /// The chunks after the signature (nil without it); stops at the first chunk whose
    /// length runs past the end. CRCs are not checked.
    public static func pngChunks(_ bytes: [UInt8]) -> [PNGChunk]? {
        guard bytes.count >= 8, Array(bytes[0..<8]) == pngSignature else { return nil }
        var chunks: [PNGChunk] = []
        var at = 8
        while at + 12 <= bytes.count {
            let length = Int(bigEndianWord(bytes, at))
            guard length <= bytes.count - at - 12 else { break }
            chunks.append(PNGChunk(type: Array(bytes[(at + 4)..<(at + 8)]), data: Array(bytes[(at + 8)..<(at + 8 + length)])))
            at += 12 + length
        }
        return chunks
    }

    /// Signature and chunks, every length and CRC-32 (of type + data, PNG spec §5.3) correct.
    public static func pngBytes(_ chunks: [PNGChunk]) -> [UInt8] {
        var out = pngSignature
        for chunk in chunks {
            out += bigEndian(UInt32(truncatingIfNeeded: chunk.data.count))
            let body = chunk.type + chunk.data
            out += body
            out += bigEndian(PNG.crc32(body[...]))
        }
        return out
    }

    static func bigEndianWord(_ b: [UInt8], _ at: Int) -> UInt32 {
        b[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// Channels of a PNG colour type (0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA); nil
    /// for an invalid one.
    static func channels(ofColorType type: UInt8) -> Int? {
        switch type { case 0: return 1; case 2: return 3; case 3: return 1; case 4: return 2; case 6: return 4; default: return nil }
    }

    /// Bit depths the PNG specification allows for each colour type.
    public static let validBitDepths: [UInt8: [UInt8]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]

    /// Adam7 passes: (x start, y start, x step, y step) (PNG spec §8.2).
    static let adam7: [(Int, Int, Int, Int)] = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

    /// Random filtered scanlines for an image of this header, as a zlib stream of stored
    /// (uncompressed) deflate blocks: valid image data without a compressor. Every filter
    /// type (0 to 4) gives valid data whatever the bytes; with `badFilters`, some rows get an
    /// invalid filter byte. Nil for an invalid header or more than `limit` bytes.
    public static func imageData(width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, interlaced: Bool,
                                 rng: inout SplitMix64, badFilters: Bool = false, limit: Int = 1 << 20) -> [UInt8]? {
        guard let channels = channels(ofColorType: colorType), width > 0, height > 0, width <= 1 << 24, height <= 1 << 24 else { return nil }
        let bitsPerPixel = channels * Int(bitDepth)
        let passes = interlaced ? adam7 : [(0, 0, 1, 1)]
        var sizes: [(Int, Int)] = []
        var total = 0
        for (x0, y0, dx, dy) in passes {
            let w = width > x0 ? (width - x0 + dx - 1) / dx : 0, h = height > y0 ? (height - y0 + dy - 1) / dy : 0
            if w == 0 || h == 0 { continue }
            sizes.append((w, h))
            total += h * (1 + (w * bitsPerPixel + 7) / 8)
            if total > limit { return nil }
        }
        var raw: [UInt8] = []
        raw.reserveCapacity(total)
        for (w, h) in sizes {
            let rowBytes = (w * bitsPerPixel + 7) / 8
            for _ in 0..<h {
                let filter = UInt8(rng.next() % 5)
                raw.append(badFilters && rng.next() % 8 == 0 ? UInt8(5 + rng.next() % 251) : filter)
                for _ in 0..<rowBytes { raw.append(UInt8(truncatingIfNeeded: rng.next())) }
            }
        }
        return zlibStored(raw)
    }

    /// A zlib stream (RFC 1950) of deflate stored blocks (RFC 1951 §3.2.4): 2-byte header,
    /// blocks of at most 65535 bytes (BFINAL/BTYPE byte, LEN, NLEN, data), Adler-32.
    static func zlibStored(_ raw: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var at = 0
        repeat {
            let count = min(65_535, raw.count - at)
            let final: UInt8 = at + count == raw.count ? 1 : 0
            out += [final, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            out += raw[at..<(at + count)]
            at += count
        } while at < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
        return out + bigEndian(b << 16 | a)
    }

    /// A valid PNG of any colour type and bit depth (a full palette for type 3, optionally a
    /// tRNS chunk), interlaced or not, with random pixels and filters.
    public static func syntheticPNG(width: Int, height: Int, colorType: UInt8, bitDepth: UInt8, interlaced: Bool,
                                    transparency: Bool = false, rng: inout SplitMix64) -> [UInt8] {
        var chunks = [PNGChunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [bitDepth, colorType, 0, 0, interlaced ? 1 : 0])]
        if colorType == 3 {
            let entries = 1 << Int(bitDepth)
            chunks.append(PNGChunk("PLTE", (0..<(3 * entries)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
            if transparency {
                chunks.append(PNGChunk("tRNS", (0..<(1 + Int(rng.next() % UInt64(entries)))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
            }
        } else if transparency && (colorType == 0 || colorType == 2) {
            let sampleMask = UInt64((1 << Int(bitDepth)) - 1)
            let samples = colorType == 0 ? 1 : 3
            chunks.append(PNGChunk("tRNS", (0..<samples).flatMap { _ -> [UInt8] in
                let v = rng.next() & sampleMask
                return [UInt8(v >> 8), UInt8(v & 0xFF)]
            }))
        }
        let data = imageData(width: width, height: height, bitDepth: bitDepth, colorType: colorType, interlaced: interlaced, rng: &rng) ?? []
        // Sometimes in several IDAT chunks, which decoders must concatenate.
        var at = 0
        repeat {
            let count = rng.next() % 2 == 0 ? data.count - at : min(data.count - at, 1 + Int(rng.next() % 512))
            chunks.append(PNGChunk("IDAT", Array(data[at..<(at + count)])))
            at += count
        } while at < data.count
        chunks.append(PNGChunk("IEND", []))
        return pngBytes(chunks)
    }

    /// The same image in the other layout (Adam7 interlaced ⇄ not), all rows unfiltered
    /// (filter type 0), when its image data is a zlib stream of stored deflate blocks, as
    /// `syntheticPNG` writes it: a decoder must give the same pixels for both. Every other chunk
    /// is kept. Nil for compressed data, an invalid header, a bad filter byte or too little data.
    public static func otherInterlacing(_ png: [UInt8]) -> [UInt8]? {
        // Every chunk but IHDR and IDAT is copied byte for byte, a wrong CRC included (libpng
        // drops an ancillary chunk with a wrong CRC: recomputing it would change the image).
        let chunks = pngChunkRanges(png)
        let ihdr = Array("IHDR".utf8), idat = Array("IDAT".utf8)
        guard let first = chunks.first, first.type == ihdr, first.data.count == 13, first.crcIsRight,
              chunks.allSatisfy({ $0.type != idat || $0.crcIsRight }) else { return nil }
        let header = Array(png[first.data])
        let width = Int(bigEndianWord(header, 0)), height = Int(bigEndianWord(header, 4))
        let bitDepth = Int(header[8]), interlaced = header[12] == 1
        guard header[12] <= 1, header[10] == 0, header[11] == 0, let channels = channels(ofColorType: header[9]),
              validBitDepths[header[9]]?.contains(header[8]) == true, width > 0, height > 0,
              width <= 1 << 16, height <= 1 << 16, width * height <= 1 << 22 else { return nil }
        guard let raw = storedInflate(chunks.filter { $0.type == idat }.flatMap { png[$0.data] }) else { return nil }
        let bitsPerPixel = channels * bitDepth
        let filterStep = max(1, bitsPerPixel / 8)  // bytes per complete pixel, for the Sub, Average and Paeth filters
        let fullRowBytes = (width * bitsPerPixel + 7) / 8
        var image = [UInt8](repeating: 0, count: height * fullRowBytes)
        // Pixel x of a row as an integer of bitsPerPixel bits (at most 64: RGBA, 16 bits each).
        func bits(_ row: ArraySlice<UInt8>, _ x: Int) -> UInt64 {
            if bitsPerPixel < 8 {
                let bit = x * bitsPerPixel, byte = row[row.startIndex + bit / 8]
                return UInt64(byte >> UInt8(8 - bitsPerPixel - bit % 8)) & ((1 << UInt64(bitsPerPixel)) - 1)
            }
            var value: UInt64 = 0
            for k in 0..<(bitsPerPixel / 8) { value = value << 8 | UInt64(row[row.startIndex + x * bitsPerPixel / 8 + k]) }
            return value
        }
        func put(_ value: UInt64, _ x: Int, _ y: Int, into out: inout [UInt8], rowBytes: Int) {
            if bitsPerPixel < 8 {
                let bit = x * bitsPerPixel, at = y * rowBytes + bit / 8, shift = UInt8(8 - bitsPerPixel - bit % 8)
                let mask = UInt8((1 << bitsPerPixel) - 1) << shift
                out[at] = out[at] & ~mask | (UInt8(value) << shift) & mask
            } else {
                let bytes = bitsPerPixel / 8
                for k in 0..<bytes { out[y * rowBytes + x * bytes + k] = UInt8(truncatingIfNeeded: value >> UInt64(8 * (bytes - 1 - k))) }
            }
        }
        // Unfilter each pass (PNG spec §9), scattering its pixels into the full image.
        var at = 0
        for (x0, y0, dx, dy) in interlaced ? adam7 : [(0, 0, 1, 1)] {
            let w = width > x0 ? (width - x0 + dx - 1) / dx : 0, h = height > y0 ? (height - y0 + dy - 1) / dy : 0
            if w == 0 || h == 0 { continue }
            let rowBytes = (w * bitsPerPixel + 7) / 8
            var prior = [UInt8](repeating: 0, count: rowBytes)
            for j in 0..<h {
                guard at + 1 + rowBytes <= raw.count else { return nil }
                let filter = raw[at]
                var row = Array(raw[(at + 1)..<(at + 1 + rowBytes)])
                at += 1 + rowBytes
                for i in 0..<rowBytes {
                    let a = i >= filterStep ? Int(row[i - filterStep]) : 0, b = Int(prior[i]), c = i >= filterStep ? Int(prior[i - filterStep]) : 0
                    let predictor: Int
                    switch filter {
                    case 0: predictor = 0
                    case 1: predictor = a
                    case 2: predictor = b
                    case 3: predictor = (a + b) / 2
                    case 4:
                        let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                        predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                    default: return nil
                    }
                    row[i] = row[i] &+ UInt8(predictor & 0xFF)
                }
                prior = row
                for i in 0..<w { put(bits(row[...], i), x0 + i * dx, y0 + j * dy, into: &image, rowBytes: fullRowBytes) }
            }
        }
        // Lay the image out the other way, every row with filter type 0.
        var out: [UInt8] = []
        for (x0, y0, dx, dy) in interlaced ? [(0, 0, 1, 1)] : adam7 {
            let w = width > x0 ? (width - x0 + dx - 1) / dx : 0, h = height > y0 ? (height - y0 + dy - 1) / dy : 0
            if w == 0 || h == 0 { continue }
            let rowBytes = (w * bitsPerPixel + 7) / 8
            var pass = [UInt8](repeating: 0, count: h * rowBytes)
            for j in 0..<h {
                let source = image[((y0 + j * dy) * fullRowBytes)..<((y0 + j * dy + 1) * fullRowBytes)]
                for i in 0..<w { put(bits(source, x0 + i * dx), i, j, into: &pass, rowBytes: rowBytes) }
            }
            for j in 0..<h { out.append(0); out += pass[(j * rowBytes)..<((j + 1) * rowBytes)] }
        }
        var header2 = header
        header2[12] = interlaced ? 0 : 1
        var file = pngBytes([PNGChunk(type: ihdr, data: header2)])
        var wroteData = false
        for chunk in chunks.dropFirst() {
            if chunk.type == idat {
                if !wroteData { file += pngBytes([PNGChunk(type: idat, data: zlibStored(out))]).dropFirst(8) }
                wroteData = true
            } else {
                file += png[chunk.whole]
            }
        }
        return file + png[(chunks.last?.whole.upperBound ?? 8)...]
    }

    /// The chunks after the signature as byte ranges (the whole chunk, its data), with whether
    /// the stored CRC is right; stops at the first length that runs past the end.
    static func pngChunkRanges(_ bytes: [UInt8]) -> [(type: [UInt8], whole: Range<Int>, data: Range<Int>, crcIsRight: Bool)] {
        guard bytes.count >= 8, Array(bytes[0..<8]) == pngSignature else { return [] }
        var chunks: [(type: [UInt8], whole: Range<Int>, data: Range<Int>, crcIsRight: Bool)] = []
        var at = 8
        while at + 12 <= bytes.count {
            let length = Int(bigEndianWord(bytes, at))
            guard length <= bytes.count - at - 12 else { break }
            let crc = PNG.crc32(bytes[(at + 4)..<(at + 8 + length)])
            chunks.append((Array(bytes[(at + 4)..<(at + 8)]), at..<(at + 12 + length), (at + 8)..<(at + 8 + length),
                           crc == bigEndianWord(bytes, at + 8 + length)))
            at += 12 + length
        }
        return chunks
    }

    /// The data of a zlib stream made only of stored deflate blocks, each starting on a byte
    /// (as `zlibStored` writes them); nil for anything else.
    static func storedInflate(_ stream: [UInt8]) -> [UInt8]? {
        guard stream.count >= 2, stream[0] & 0x0F == 8, (UInt16(stream[0]) << 8 | UInt16(stream[1])) % 31 == 0, stream[1] & 0x20 == 0 else { return nil }
        var out: [UInt8] = []
        var at = 2
        while true {
            guard at + 5 <= stream.count, stream[at] >> 1 == 0 else { return nil }
            let final = stream[at] & 1 == 1
            let length = Int(stream[at + 1]) | Int(stream[at + 2]) << 8, check = Int(stream[at + 3]) | Int(stream[at + 4]) << 8
            guard length ^ check == 0xFFFF, at + 5 + length <= stream.count else { return nil }
            out += stream[(at + 5)..<(at + 5 + length)]
            at += 5 + length
            if final { return out }
        }
    }

    /// A synthetic PNG of a random valid format and a small random size.
    public mutating func randomPNG() -> [UInt8] {
        let colorType = pick([0, 2, 3, 4, 6] as [UInt8])
        let bitDepth = pick(Self.validBitDepths[colorType]!)
        let side = { (m: inout Mutator) in m.chance(0.9) ? 1 + m.below(24) : 1 + m.below(300) }
        let width = side(&self), height = side(&self)
        return Self.syntheticPNG(width: width, height: height, colorType: colorType, bitDepth: bitDepth,
                                 interlaced: chance(0.5), transparency: chance(0.3), rng: &rng)
    }

    /// One PNG-aware mutation; the chunks are written back with correct lengths and CRCs.
    public mutating func mutatePNG(_ bytes: inout [UInt8]) {
        guard var chunks = Self.pngChunks(bytes), !chunks.isEmpty else {
            bytes = chance(0.5) ? randomPNG() : Self.pngSignature + bytes
            return
        }
        let hasHeader = chunks[0].type == Array("IHDR".utf8) && chunks[0].data.count == 13
        switch below(9) {
        case 0, 1:  // an IHDR field, the image data regenerated to fit half the time
            guard hasHeader else { chunks.insert(PNGChunk("IHDR", Array(randomPNG()[16..<29])), at: 0); break }
            var header = chunks[0].data
            switch below(6) {
            case 0, 1:
                let at = pick([0, 4])
                let current = Int64(Self.bigEndianWord(header, at))
                let value = chance(0.5) ? pick(Self.interestingIntegers) : pick([current + 1, current - 1, current * 2, current / 2, 1 + Int64(below(64))])
                header.replaceSubrange(at..<(at + 4), with: Self.bigEndian(UInt32(truncatingIfNeeded: value)))
            case 2: header[8] = pick([1, 2, 4, 8, 16, 0, 3, 32, 255])
            case 3: header[9] = pick([0, 2, 3, 4, 6, 1, 5, 7, 255])
            case 4: header[10 + below(2)] = pick([0, 1, 255])
            default: header[12] = pick([0, 1, 1, 2, 255])
            }
            // A valid bit depth for the colour type, more often than chance would give.
            if chance(0.5), let depths = Self.validBitDepths[header[9]], !depths.contains(header[8]) { header[8] = pick(depths) }
            chunks[0].data = header
            if chance(0.5) {
                let width = Int(Self.bigEndianWord(header, 0)), height = Int(Self.bigEndianWord(header, 4))
                if let data = Self.imageData(width: width, height: height, bitDepth: header[8], colorType: header[9],
                                             interlaced: header[12] == 1, rng: &rng, badFilters: chance(0.1),
                                             limit: maximumSize / 2) {
                    chunks.removeAll { $0.type == Array("IDAT".utf8) }
                    let end = chunks.lastIndex { $0.type == Array("IEND".utf8) } ?? chunks.count
                    chunks.insert(PNGChunk("IDAT", data), at: end)
                }
                if header[9] == 3 && !chunks.contains(where: { $0.type == Array("PLTE".utf8) }) {
                    chunks.insert(PNGChunk("PLTE", (0..<(3 * pick([1, 2, 16, 256]))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }), at: 1)
                }
            }
        case 2:  // a whole new image
            bytes = randomPNG()
            return
        case 3:  // bytes inside one chunk
            let k = below(chunks.count)
            var data = chunks[k].data
            mutateBytes(&data)
            chunks[k].data = data
        case 4:  // insert a chunk
            let type = pick(["PLTE", "tRNS", "gAMA", "sRGB", "cHRM", "iCCP", "sBIT", "bKGD", "hIST", "pHYs", "sPLT",
                             "tIME", "tEXt", "zTXt", "iTXt", "eXIf", "IDAT", "IEND", "IHDR", "acTL", "fcTL", "abCd", "ABCD"])
            let count = pick([0, 1, 2, 3, 4, 6, 8, 13, 256, 768, 769])
            var data = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if chance(0.5), count >= 4 { data.replaceSubrange(0..<4, with: Self.bigEndian(UInt32(truncatingIfNeeded: pick(Self.interestingIntegers)))) }
            chunks.insert(PNGChunk(type, data), at: 1 + below(chunks.count))
        case 5:  // delete, duplicate or move a chunk
            let k = below(chunks.count)
            switch below(3) {
            case 0: chunks.remove(at: k)
            case 1: chunks.insert(chunks[k], at: below(chunks.count + 1))
            default: let c = chunks.remove(at: k); chunks.insert(c, at: below(chunks.count + 1))
            }
        case 6:  // the image data re-split into pieces, or cut short
            let data = chunks.filter { $0.type == Array("IDAT".utf8) }.flatMap(\.data)
            guard !data.isEmpty, let first = chunks.firstIndex(where: { $0.type == Array("IDAT".utf8) }) else { break }
            chunks.removeAll { $0.type == Array("IDAT".utf8) }
            if chance(0.5) {
                chunks.insert(PNGChunk("IDAT", Array(data[..<below(data.count)])), at: first)
            } else {
                var at = 0, pieces: [PNGChunk] = []
                while at < data.count { let n = min(data.count - at, 1 + below(64)); pieces.append(PNGChunk("IDAT", Array(data[at..<(at + n)]))); at += n }
                chunks.insert(contentsOf: pieces, at: first)
            }
        case 7:  // a lying length or a wrong CRC (written after the chunks)
            var out = Self.pngBytes(chunks)
            var at = 8, offsets: [Int] = []
            for c in chunks { offsets.append(at); at += 12 + c.data.count }
            let k = below(offsets.count)
            if chance(0.5) {
                out.replaceSubrange(offsets[k]..<(offsets[k] + 4), with: Self.bigEndian(UInt32(truncatingIfNeeded: pick(Self.interestingIntegers))))
            } else {
                out[offsets[k] + 8 + chunks[k].data.count + below(4)] ^= 0xFF
            }
            bytes = out
            return
        default:  // the palette: another size
            let entries = pick([0, 1, 2, 3, 16, 255, 256, 257])
            chunks.removeAll { $0.type == Array("PLTE".utf8) }
            chunks.insert(PNGChunk("PLTE", (0..<(3 * entries)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }), at: min(1, chunks.count))
        }
        bytes = Self.pngBytes(chunks)
    }

    // MARK: - safetensors

    /// The header JSON and the payload, when the 8-byte length fits the file.
    public static func safetensorsParts(_ bytes: [UInt8]) -> (header: [UInt8], payload: [UInt8])? {
        guard bytes.count >= 8 else { return nil }
        var length: UInt64 = 0
        for k in 0..<8 { length |= UInt64(bytes[k]) << (8 * UInt64(k)) }
        guard length <= UInt64(bytes.count - 8) else { return nil }
        return (Array(bytes[8..<(8 + Int(length))]), Array(bytes[(8 + Int(length))...]))
    }

    /// The 8-byte little-endian length, the header (padded with spaces to a multiple of 8 when
    /// `pad`), the payload.
    public static func safetensorsBytes(header: [UInt8], payload: [UInt8], pad: Bool = true) -> [UInt8] {
        var header = header
        while pad && header.count % 8 != 0 { header.append(0x20) }
        let length = UInt64(header.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) } + header + payload
    }

    /// One safetensors-aware mutation.
    public mutating func mutateSafetensors(_ bytes: inout [UInt8], corpus: [[UInt8]] = []) {
        guard let (header, payload) = Self.safetensorsParts(bytes) else { return mutateBytes(&bytes, corpus: corpus) }
        switch below(8) {
        case 0:  // the length field
            let length = Int64(header.count), size = Int64(bytes.count)
            let value = pick([0, 1, 2, 7, 8, length - 1, length + 1, length + 8, size - 8, size - 7, size, 100_000_000, 100_000_001,
                              1 << 32, Int64.min, -1, Int64.max, pick(Self.interestingIntegers)])
            let bits = UInt64(bitPattern: value)
            for k in 0..<8 { bytes[k] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k))) }
        case 1, 2:  // the header as JSON text
            var text = header
            mutateJSON(&text, corpus: corpus.compactMap { Self.safetensorsParts($0)?.header })
            bytes = Self.safetensorsBytes(header: text, payload: payload, pad: chance(0.8))
        case 3, 4, 5, 6:  // the header as structure
            guard var object = (try? JSONSerialization.jsonObject(with: Data(header))) as? [String: Any] else {
                var text = header
                mutateJSON(&text)
                bytes = Self.safetensorsBytes(header: text, payload: payload)
                return
            }
            mutateHeader(&object, payloadSize: payload.count)
            guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
            bytes = Self.safetensorsBytes(header: [UInt8](data), payload: payload, pad: chance(0.9))
        default:  // the payload: cut, extended or changed
            var data = payload
            switch below(3) {
            case 0: if !data.isEmpty { data.removeLast(1 + below(min(data.count, 64))) }
            case 1: data += [UInt8](repeating: 0, count: 1 + below(64))
            default: mutateBytes(&data)
            }
            bytes = Self.safetensorsBytes(header: header, payload: data, pad: false)
        }
    }

    /// One structural edit of a parsed safetensors header: a tensor's shape, data_offsets,
    /// dtype or keys; a tensor renamed, copied or dropped; the model config or other metadata.
    mutating func mutateHeader(_ object: inout [String: Any], payloadSize: Int) {
        let names = object.keys.filter { $0 != "__metadata__" }.sorted()
        func hugeOrOdd() -> Int { Int(pick(Self.interestingIntegers)) }
        if names.isEmpty || chance(0.3) {
            var meta = object["__metadata__"] as? [String: Any] ?? [:]
            switch below(5) {
            case 0, 1:  // the model config, mutated as JSON (nested: the config is a string in the header)
                if let config = meta["config"] as? String {
                    var text = Array(config.utf8)
                    mutateJSON(&text)
                    meta["config"] = String(decoding: text, as: UTF8.self)
                } else {
                    meta["config"] = "{}"
                }
            case 2: meta[pick(["optimizer.step", "format", "epoch", "config"])] = pick(Self.interestingNumbers)
            case 3: meta[pick(["config", "format", "optimizer.step"])] = nil
            default: meta[pick(["config", "x", "optimizer.step"])] = chance(0.5) ? 7 as Any : ["a": "b"] as Any
            }
            object["__metadata__"] = meta
            return
        }
        let name = pick(names)
        guard var entry = object[name] as? [String: Any] else { object[name] = ["dtype": "F32"]; return }
        switch below(9) {
        case 0, 1:  // the shape
            var shape = entry["shape"] as? [Int] ?? []
            switch below(5) {
            case 0 where !shape.isEmpty: shape[below(shape.count)] = hugeOrOdd()
            case 1: shape.insert(chance(0.5) ? hugeOrOdd() : 1, at: below(shape.count + 1))
            case 2 where !shape.isEmpty: shape.remove(at: below(shape.count))
            case 3: shape = chance(0.5) ? [] : [hugeOrOdd(), hugeOrOdd()]
            default: shape = shape.map { $0 == 0 ? 1 : $0 }.reversed()
            }
            entry["shape"] = shape
        case 2, 3:  // data_offsets
            let offsets = entry["data_offsets"] as? [Int] ?? [0, 0]
            let candidates = [0, payloadSize, payloadSize + 1, payloadSize - 1, offsets.first ?? 0, offsets.last ?? 0, -1, hugeOrOdd()]
                + names.compactMap { (object[$0] as? [String: Any])?["data_offsets"] as? [Int] }.flatMap { $0 }
            switch below(4) {
            case 0: entry["data_offsets"] = [pick(candidates), pick(candidates)]
            case 1: entry["data_offsets"] = Array(offsets.reversed())
            case 2: entry["data_offsets"] = [offsets.first ?? 0]
            default:  // another tensor's range: overlap, with a size that fits the shape
                if let other = (object[pick(names)] as? [String: Any])?["data_offsets"] as? [Int] { entry["data_offsets"] = other }
            }
        case 4:  // dtype
            entry["dtype"] = pick(["F32", "F16", "I8", "U8", "BF16", "F64", "I32", "", "f32"] as [Any] + [5])
        case 5:  // a key dropped or an unknown one added
            if chance(0.5) { entry[pick(["dtype", "shape", "data_offsets"])] = nil } else { entry[pick(["extra", "shape", "dtype"])] = pick([[1], "x", 0] as [Any]) }
        case 6:  // renamed: the network misses one tensor and finds an unknown one
            object[name] = nil
            object[pick([name + "x", "optimizer.m." + name, "optimizer.v." + name, name + ".scale_q", "layers.99.conv.weight", ""])] = entry
            return
        case 7:  // copied under another name, or dropped
            if chance(0.5) { object[pick(["optimizer.m." + name, "optimizer.v." + name, name + ".scale_q", name + "2"])] = entry } else { object[name] = nil }
            return
        default:  // a consistent resize: shape and data_offsets agree, the payload may not
            let dtypeSize = ["F32": 4, "F16": 2, "I8": 1, "U8": 1][entry["dtype"] as? String ?? ""] ?? 4
            let count = pick([0, 1, 2, 3, 1000, payloadSize / dtypeSize, payloadSize / dtypeSize + 1])
            let begin = (entry["data_offsets"] as? [Int])?.first ?? 0
            entry["shape"] = [count]
            entry["data_offsets"] = [begin, begin + count * dtypeSize]
        }
        object[name] = entry
    }
}
