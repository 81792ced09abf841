import Foundation

/// A data.yaml that cannot be used, with the file and line at fault (0 for the file itself).
public struct DataYAMLError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var line: Int
    public var reason: String

    public init(file: String, line: Int, reason: String) { self.file = file; self.line = line; self.reason = reason }

    public var description: String { line > 0 ? "\(file):\(line): \(reason)" : "\(file): \(reason)" }
}

/// What this toolkit reads of an Ultralytics data set file (`data.yaml`):
///
///     path: ../datasets/coco8        # the data set root (optional)
///     train: images/train            # a folder of images, a .txt list of image paths, or a list of those
///     val: images/val
///     test:                          # read, not used
///     names:                         # a list, or a mapping {0: person, 1: bicycle}
///       0: person
///       1: bicycle
///     nc: 2                          # optional; must agree with names
///
/// Other keys (`download`, `roboflow`, ...) are skipped whatever they hold.
///
/// Why a small parser of its own rather than a YAML library: these files use a small part of
/// YAML (block mappings and sequences, flow lists and mappings, plain and quoted scalars,
/// comments), the values read are all strings and integers, and this way every mistake is an
/// error with its line, where a general loader would turn `names: [yes, no]` into booleans or
/// keep the last of two equal keys (PyYAML does both). What it does not read (anchors, aliases,
/// tags, block scalars, multi-line plain scalars) is an error naming the line when it is in one
/// of the keys above, and skipped elsewhere.
public struct UltralyticsDataYAML: Sendable, Equatable {
    public var path: String?
    public var train: [String] = []
    public var val: [String] = []
    public var test: [String] = []
    public var names: [String]
    /// The line of each key read, for messages.
    public var lines: [String: Int] = [:]

    /// Parses the text of a data.yaml; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws -> UltralyticsDataYAML {
        var parser = YAMLSubsetParser(text: text, file: file)
        let document = try parser.document()
        guard case let .mapping(entries, _) = document else {
            throw DataYAMLError(file: file, line: document.line, reason: "expected a mapping of keys (path, train, val, names), found \(document.kindName)")
        }
        var seen: [String: Int] = [:]
        for entry in entries {
            if let first = seen[entry.key] {
                throw DataYAMLError(file: file, line: entry.line, reason: "key \"\(entry.key)\" given twice (first on line \(first))")
            }
            seen[entry.key] = entry.line
        }
        func value(_ key: String) -> YAMLValue? { entries.first { $0.key == key }?.value }
        func fail(_ line: Int, _ reason: String) -> DataYAMLError { DataYAMLError(file: file, line: line, reason: reason) }

        func scalar(_ key: String, _ v: YAMLValue) throws -> String? {
            switch v {
            case .null: return nil
            case let .scalar(s, _, _): return s
            default: throw fail(v.line, "\"\(key)\" is \(v.kindName), expected a string")
            }
        }
        func paths(_ key: String) throws -> [String] {
            guard let v = value(key) else { return [] }
            switch v {
            case .null: return []
            case let .scalar(s, _, _): return s.isEmpty ? [] : [s]
            case let .sequence(items, _):
                return try items.map { item in
                    guard case let .scalar(s, _, _) = item, !s.isEmpty else {
                        throw fail(item.line, "an entry of \"\(key)\" is \(item.kindName), expected a path")
                    }
                    return s
                }
            default: throw fail(v.line, "\"\(key)\" is \(v.kindName), expected a path or a list of paths")
            }
        }

        var names: [String]?
        if let v = value("names") {
            switch v {
            case let .sequence(items, _):
                names = try items.map { item in
                    guard case let .scalar(s, _, _) = item else { throw fail(item.line, "a class name is \(item.kindName), expected a string") }
                    return s
                }
            case let .mapping(pairs, _):
                var byIndex: [Int: (String, Int)] = [:]
                for pair in pairs {
                    guard let k = Int(pair.key), k >= 0 else {
                        throw fail(pair.line, "class index \"\(pair.key)\" is not a non-negative integer (names as a mapping: 0: person)")
                    }
                    guard case let .scalar(s, _, _) = pair.value else {
                        throw fail(pair.value.line, "the name of class \(k) is \(pair.value.kindName), expected a string")
                    }
                    if let earlier = byIndex[k] { throw fail(pair.line, "class \(k) named twice (first on line \(earlier.1))") }
                    byIndex[k] = (s, pair.line)
                }
                let n = byIndex.count
                if let missing = (0..<n).first(where: { byIndex[$0] == nil }) {
                    throw fail(seen["names"]!, "the class indices of \"names\" must be 0 to \(n - 1), each once; \(missing) is missing (found \(byIndex.keys.sorted().map(String.init).joined(separator: ", ")))")
                }
                names = (0..<n).map { byIndex[$0]!.0 }
            case .null: break
            default: throw fail(v.line, "\"names\" is \(v.kindName), expected a list of class names or a mapping {0: name}")
            }
        }
        var classCount: Int?
        if let v = value("nc") {
            guard case let .scalar(s, _, _) = v, let n = Int(s), n >= 1 else {
                throw fail(v.line, "\"nc\" is \(v.kindName == "a string" ? "\"\(v.text)\"" : v.kindName), expected a positive integer (the number of classes)")
            }
            classCount = n
        }
        if let names, let classCount, names.count != classCount {
            throw fail(seen["nc"]!, "\"nc\" is \(classCount) but \"names\" (line \(seen["names"]!)) has \(names.count) classes")
        }
        guard let names = names ?? classCount.map({ n in (0..<n).map { "class_\($0)" } }) else {
            throw fail(0, "no \"names\" (the class names) and no \"nc\"")
        }
        guard !names.isEmpty else { throw fail(seen["names"] ?? 0, "\"names\" is empty: there are no classes") }
        var firstIndex: [String: Int] = [:]
        for (i, name) in names.enumerated() {
            if name.trimmingCharacters(in: .whitespaces).isEmpty { throw fail(seen["names"]!, "class \(i) has an empty name") }
            if let j = firstIndex[name] { throw fail(seen["names"]!, "classes \(j) and \(i) are both named \"\(name)\"") }
            firstIndex[name] = i
        }

        var result = UltralyticsDataYAML(names: names)
        if let v = value("path") { result.path = try scalar("path", v).flatMap { $0.isEmpty ? nil : $0 } }
        result.train = try paths("train")
        // Ultralytics reads "validation" as "val".
        result.val = try paths(value("val") != nil ? "val" : "validation")
        result.test = try paths("test")
        result.lines = seen
        return result
    }
}

// MARK: - The YAML subset

/// A parsed YAML node with the line it starts on.
indirect enum YAMLValue: Equatable {
    case null(line: Int)
    case scalar(String, quoted: Bool, line: Int)
    case sequence([YAMLValue], line: Int)
    case mapping([YAMLEntry], line: Int)
    /// Something this parser does not read (an anchor, a block scalar, ...): an error only if
    /// the key that holds it is read.
    case unsupported(String, line: Int)

    var line: Int {
        switch self {
        case let .null(line), let .scalar(_, _, line), let .sequence(_, line), let .mapping(_, line), let .unsupported(_, line): return line
        }
    }

    var kindName: String {
        switch self {
        case .null: return "empty"
        case .scalar: return "a string"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case let .unsupported(what, _): return what + " (not read by this toolkit)"
        }
    }

    var text: String { if case let .scalar(s, _, _) = self { return s } else { return "" } }
}

struct YAMLEntry: Equatable {
    var key: String
    var value: YAMLValue
    var line: Int
}

/// A line-based parser of block mappings and sequences (indentation by spaces), flow
/// collections (`[a, b]`, `{0: a}`, also over several lines), plain, single- and double-quoted
/// scalars, and comments. A sequence item that starts a mapping or another sequence
/// (`- key: value`, `- - x`) is read by treating the rest of its line as a line of its own,
/// indented to where that rest starts.
struct YAMLSubsetParser {
    struct Line {
        var number: Int
        var indent: Int
        /// The text after the indentation.
        var raw: String
    }

    let file: String
    var lines: [Line] = []
    var index = 0

    init(text: String, file: String) {
        self.file = file
        var text = text
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var line = String(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            let indent = line.prefix { $0 == " " }.count
            lines.append(Line(number: number, indent: indent, raw: String(line.dropFirst(indent))))
        }
    }

    func fail(_ line: Int, _ reason: String) -> DataYAMLError { DataYAMLError(file: file, line: line, reason: reason) }

    /// Whether a line holds nothing to parse (blank, or only a comment).
    static func isBlank(_ line: Line) -> Bool {
        let t = line.raw.trimmingCharacters(in: .whitespaces)
        return t.isEmpty || t.hasPrefix("#")
    }

    mutating func skipBlank() { while index < lines.count && Self.isBlank(lines[index]) { index += 1 } }

    /// The line's content without its comment and trailing spaces. A `#` starts a comment at the
    /// start or after a space, outside quotes; a quote opens a quoted string only where one can
    /// start (see `FlowParser.opensQuote`), so the apostrophe of `names: [it's]` does not.
    func content(_ line: Line) throws -> String {
        if line.raw.hasPrefix("\t") { throw fail(line.number, "indented with a tab (YAML indents with spaces)") }
        let characters = Array(line.raw)
        var result = ""
        var quote: Character? = nil
        var previous: Character? = nil, lastSignificant: Character? = nil
        var i = 0
        while i < characters.count {
            let c = characters[i]
            if let q = quote {
                result.append(c)
                if q == "\"" && c == "\\" && i + 1 < characters.count {
                    result.append(characters[i + 1])
                    i += 2
                    continue
                }
                if c == q {
                    if q == "'" && i + 1 < characters.count && characters[i + 1] == "'" {
                        result.append("'")
                        i += 2
                        continue
                    }
                    quote = nil
                }
                previous = c; lastSignificant = c
                i += 1
                continue
            }
            if c == "#" && (previous == nil || previous == " " || previous == "\t") { break }
            if FlowParser.opensQuote(c, previous: previous, lastSignificant: lastSignificant) { quote = c }
            result.append(c)
            previous = c
            if c != " " && c != "\t" { lastSignificant = c }
            i += 1
        }
        if let quote { throw fail(line.number, "the \(quote == "\"" ? "double" : "single")-quoted string does not end on this line") }
        return result.trimmingCharacters(in: .whitespaces)
    }

    mutating func document() throws -> YAMLValue {
        skipBlank()
        while index < lines.count, lines[index].indent == 0, lines[index].raw.hasPrefix("%") { index += 1; skipBlank() }
        if index < lines.count, lines[index].indent == 0, lines[index].raw.trimmingCharacters(in: .whitespaces) == "---" { index += 1 }
        skipBlank()
        guard index < lines.count else { throw fail(0, "the file is empty") }
        let value = try node(indent: lines[index].indent)
        skipBlank()
        if index < lines.count {
            let t = lines[index].raw.trimmingCharacters(in: .whitespaces)
            if t != "..." && t != "---" {
                throw fail(lines[index].number, "unexpected text here (check the indentation)")
            }
        }
        return value
    }

    static func isSequenceItem(_ text: String) -> Bool { text == "-" || text.hasPrefix("- ") }

    /// A block node starting at the current line, which is indented by `indent`.
    mutating func node(indent: Int) throws -> YAMLValue {
        let line = lines[index]
        let text = try content(line)
        if Self.isSequenceItem(text) { return try sequence(indent: indent) }
        if try splitKey(text, line: line.number) != nil { return try mapping(indent: indent) }
        // A lone scalar (or flow collection) as the whole node.
        index += 1
        return try inlineValue(text, line: line.number, indent: indent)
    }

    /// `key: rest` → (key, rest), or nil when the text is not a mapping entry.
    func splitKey(_ text: String, line: Int) throws -> (key: String, rest: String)? {
        if let first = text.first, first == "\"" || first == "'" {
            var parser = FlowParser(text: text, line: line, file: file)
            let key = try parser.quoted()
            let rest = parser.remaining.drop { $0 == " " }
            guard rest.hasPrefix(":") && (rest.count == 1 || rest.dropFirst().first == " ") else { return nil }
            return (key, String(rest.dropFirst()).trimmingCharacters(in: .whitespaces))
        }
        if text.hasPrefix("[") || text.hasPrefix("{") { return nil }
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == ":" {
                let next = text.index(after: i)
                if next == text.endIndex || text[next] == " " {
                    return (String(text[..<i]).trimmingCharacters(in: .whitespaces), String(text[next...]).trimmingCharacters(in: .whitespaces))
                }
            }
            i = text.index(after: i)
        }
        return nil
    }

    mutating func mapping(indent: Int) throws -> YAMLValue {
        var entries: [YAMLEntry] = []
        let startLine = lines[index].number
        while true {
            skipBlank()
            guard index < lines.count else { break }
            let line = lines[index]
            if line.indent < indent { break }
            if line.indent > indent { throw fail(line.number, "unexpected indentation (\(line.indent) spaces where \(indent) were expected)") }
            let text = try content(line)
            if Self.isSequenceItem(text) { break }  // a sequence at the indentation of its parent's key
            if text == "..." || text == "---" { break }
            guard let (key, rest) = try splitKey(text, line: line.number) else {
                throw fail(line.number, "expected \"key: value\", found \"\(text.prefix(60))\"")
            }
            index += 1
            let value = try entryValue(rest, line: line.number, indent: indent)
            entries.append(YAMLEntry(key: key, value: value, line: line.number))
        }
        return .mapping(entries, line: startLine)
    }

    /// The value after `key:` (or after `- `): inline, or the block below it.
    mutating func entryValue(_ rest: String, line: Int, indent: Int) throws -> YAMLValue {
        if rest.isEmpty {
            skipBlank()
            guard index < lines.count else { return .null(line: line) }
            let next = lines[index]
            if next.indent > indent { return try node(indent: next.indent) }
            if next.indent == indent, Self.isSequenceItem(try content(next)) { return try sequence(indent: indent) }
            return .null(line: line)
        }
        if let first = rest.first, first == "|" || first == ">" {
            // A block scalar: its lines are those indented more than the key (and blank ones).
            while index < lines.count && (lines[index].indent > indent || lines[index].raw.trimmingCharacters(in: .whitespaces).isEmpty) { index += 1 }
            return .unsupported("a block scalar (\(first))", line: line)
        }
        return try inlineValue(rest, line: line, indent: indent)
    }

    /// A scalar or flow collection written after a key or dash; a flow collection may go on
    /// over the following lines until its brackets close.
    mutating func inlineValue(_ text: String, line: Int, indent: Int) throws -> YAMLValue {
        var text = text
        if text.hasPrefix("[") || text.hasPrefix("{") {
            while !FlowParser.isBalanced(text) {
                guard index < lines.count else { throw fail(line, "the \(text.first == "[" ? "list [" : "mapping {") is not closed") }
                let next = lines[index]
                index += 1
                if Self.isBlank(next) { continue }
                text += " " + (try content(next))
            }
        } else if let first = text.first, "&*!".contains(first) {
            skipMoreIndented(than: indent)
            return .unsupported(first == "&" ? "an anchor (&)" : first == "*" ? "an alias (*)" : "a tag (!)", line: line)
        }
        var parser = FlowParser(text: text, line: line, file: file)
        let value = try parser.value()
        parser.skipSpaces()
        guard parser.atEnd else { throw fail(line, "unexpected \"\(parser.remaining.prefix(40))\" after the value") }
        skipBlank()
        if index < lines.count && lines[index].indent > indent {
            // A plain scalar folded over several lines, or a key indented by mistake.
            throw fail(lines[index].number, "unexpected indentation (\(lines[index].indent) spaces where \(indent) were expected; a value over several lines is not read)")
        }
        return value
    }

    mutating func skipMoreIndented(than indent: Int) {
        while index < lines.count && (lines[index].indent > indent || Self.isBlank(lines[index])) { index += 1 }
    }

    mutating func sequence(indent: Int) throws -> YAMLValue {
        var items: [YAMLValue] = []
        let startLine = lines[index].number
        while true {
            skipBlank()
            guard index < lines.count else { break }
            let line = lines[index]
            if line.indent != indent { break }
            let text = try content(line)
            guard Self.isSequenceItem(text) else { break }
            let rest = String(text.dropFirst()).drop { $0 == " " }
            if rest.isEmpty {
                index += 1
                skipBlank()
                if index < lines.count && lines[index].indent > indent { items.append(try node(indent: lines[index].indent)) }
                else { items.append(.null(line: line.number)) }
                continue
            }
            let restIndent = indent + (text.count - rest.count)
            let startsBlock = try Self.isSequenceItem(String(rest)) || splitKey(String(rest), line: line.number) != nil
            if startsBlock {
                // "- key: value" or "- - x": the rest of the line as a line of its own.
                lines[index] = Line(number: line.number, indent: restIndent, raw: String(rest))
                items.append(try node(indent: restIndent))
                continue
            }
            index += 1
            items.append(try inlineValue(String(rest), line: line.number, indent: indent))
        }
        return .sequence(items, line: startLine)
    }
}

/// Flow values on one (joined) line: `[a, 'b c', "d"]`, `{0: a, 1: b}`, scalars.
struct FlowParser {
    let characters: [Character]
    var position = 0
    let line: Int
    let file: String

    init(text: String, line: Int, file: String) { characters = Array(text); self.line = line; self.file = file }

    var atEnd: Bool { position >= characters.count }
    var remaining: String { String(characters[min(position, characters.count)...]) }

    func fail(_ reason: String) -> DataYAMLError { DataYAMLError(file: file, line: line, reason: reason) }

    mutating func skipSpaces() { while position < characters.count && (characters[position] == " " || characters[position] == "\t") { position += 1 } }

    /// Whether a quote character `c` opens a quoted string here: at the start, after [ { or ,
    /// or after ": " or "- " (in a plain scalar, such as `it's`, it is a character like any other).
    static func opensQuote(_ c: Character, previous: Character?, lastSignificant: Character?) -> Bool {
        guard c == "\"" || c == "'" else { return false }
        guard let last = lastSignificant else { return true }
        return "[{,".contains(last) || (":-".contains(last) && (previous == " " || previous == "\t"))
    }

    /// Whether every [ and { outside quotes is closed (the text is a line's content, so
    /// quotes are closed; an escaped quote inside double quotes does not close them).
    static func isBalanced(_ text: String) -> Bool {
        var depth = 0
        var quote: Character? = nil
        var previous: Character? = nil, lastSignificant: Character? = nil
        var escaped = false
        for c in text {
            if let q = quote {
                if escaped { escaped = false } else if q == "\"" && c == "\\" { escaped = true } else if c == q { quote = nil }
            } else if opensQuote(c, previous: previous, lastSignificant: lastSignificant) {
                quote = c
            } else if c == "[" || c == "{" {
                depth += 1
            } else if c == "]" || c == "}" {
                depth -= 1
            }
            previous = c
            if c != " " && c != "\t" { lastSignificant = c }
        }
        return depth <= 0
    }

    /// A value: a flow list or mapping, a quoted string or a plain scalar. `inFlow`: inside
    /// brackets, where , ] } end a plain scalar.
    mutating func value(inFlow: Bool = false) throws -> YAMLValue {
        skipSpaces()
        guard position < characters.count else { return .null(line: line) }
        switch characters[position] {
        case "[":
            position += 1
            var items: [YAMLValue] = []
            while true {
                skipSpaces()
                guard position < characters.count else { throw fail("the list [ is not closed") }
                if characters[position] == "]" { position += 1; break }
                items.append(try value(inFlow: true))
                skipSpaces()
                guard position < characters.count else { throw fail("the list [ is not closed") }
                if characters[position] == "," { position += 1; continue }
                if characters[position] == "]" { position += 1; break }
                throw fail("expected ',' or ']' in the list, found \"\(characters[position])\"")
            }
            return .sequence(items, line: line)
        case "{":
            position += 1
            var entries: [YAMLEntry] = []
            while true {
                skipSpaces()
                guard position < characters.count else { throw fail("the mapping { is not closed") }
                if characters[position] == "}" { position += 1; break }
                let key: String
                if characters[position] == "\"" || characters[position] == "'" {
                    key = try quoted()
                } else {
                    let start = position
                    while position < characters.count && !(characters[position] == ":" && (position + 1 == characters.count || " ,}".contains(characters[position + 1]))) && !",}".contains(characters[position]) { position += 1 }
                    key = String(characters[start..<position]).trimmingCharacters(in: .whitespaces)
                }
                skipSpaces()
                guard position < characters.count, characters[position] == ":" else { throw fail("expected ':' after the key \"\(key)\" in the mapping") }
                position += 1
                let v = try value(inFlow: true)
                entries.append(YAMLEntry(key: key, value: v, line: line))
                skipSpaces()
                guard position < characters.count else { throw fail("the mapping { is not closed") }
                if characters[position] == "," { position += 1; continue }
                if characters[position] == "}" { position += 1; break }
                throw fail("expected ',' or '}' in the mapping, found \"\(characters[position])\"")
            }
            return .mapping(entries, line: line)
        case "\"", "'":
            return .scalar(try quoted(), quoted: true, line: line)
        case "&", "*", "!":
            throw fail("anchors, aliases and tags (\(characters[position])) are not read")
        default:
            let start = position
            while position < characters.count {
                let c = characters[position]
                if inFlow && ",]}".contains(c) { break }
                if inFlow && c == ":" && (position + 1 == characters.count || characters[position + 1] == " ") { break }
                position += 1
            }
            let text = String(characters[start..<position]).trimmingCharacters(in: .whitespaces)
            if inFlow && text.isEmpty { throw fail("an empty entry in a flow collection") }
            if ["", "~", "null", "Null", "NULL"].contains(text) { return .null(line: line) }
            return .scalar(text, quoted: false, line: line)
        }
    }

    /// A single- or double-quoted string from its opening quote.
    mutating func quoted() throws -> String {
        let quote = characters[position]
        position += 1
        var result = ""
        while true {
            guard position < characters.count else { throw fail("the \(quote == "\"" ? "double" : "single")-quoted string is not closed") }
            let c = characters[position]
            position += 1
            if c == quote {
                if quote == "'" && position < characters.count && characters[position] == "'" { result.append("'"); position += 1; continue }
                return result
            }
            guard quote == "\"" && c == "\\" else { result.append(c); continue }
            guard position < characters.count else { throw fail("the double-quoted string ends in a backslash") }
            let e = characters[position]
            position += 1
            switch e {
            case "\\", "\"", "/": result.append(e)
            case "n": result.append("\n")
            case "t": result.append("\t")
            case "r": result.append("\r")
            case "0": result.append("\0")
            case " ": result.append(" ")
            case "x", "u", "U":
                let count = e == "x" ? 2 : e == "u" ? 4 : 8
                guard characters.count - position >= count,
                      let code = UInt32(String(characters[position..<position + count]), radix: 16),
                      let scalar = Unicode.Scalar(code) else {
                    throw fail("\\\(e) needs \(count) hex digits of a Unicode code point")
                }
                result.unicodeScalars.append(scalar)
                position += count
            default: throw fail("unknown escape \\\(e) in a double-quoted string")
            }
        }
    }
}
