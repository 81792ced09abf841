import Foundation
import Testing
@testable import Detector

/// The strict JSON parser the config loader reads with (`JSONValue.parse`).
@Suite struct JSONParserTests {
    func parse(_ text: String) throws(JSONParseError) -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

    func failure(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> JSONParseError? {
        do {
            let value = try parse(text)
            Issue.record("parsed \(text.debugDescription) as \(value)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test func parsesEveryKindOfValue() throws {
        let value = try parse(#" {"a": [1, -0.5e2, 0, 1E+2, true, false, null], "s": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "o": {}, "l": []} "#)
        #expect(value == .object([
            "a": .array([.number(1), .number(-50), .number(0), .number(100), .bool(true), .bool(false), .null]),
            "s": .string("q\"\\/\u{8}\u{C}\n\r\t\u{E9}\u{1F600}"),
            "o": .object([:]), "l": .array([]),
        ]))
        // A UTF-8 byte-order mark is skipped; raw UTF-8 in strings is kept.
        #expect(try JSONValue.parse([0xEF, 0xBB, 0xBF] + Array("[\"é\"]".utf8)) == .array([.string("é")]))
    }

    /// Texts Foundation's decoder or a lax parser might take; RFC 8259 does not.
    @Test(arguments: [
        "", " ", "01", "+1", ".5", "1.", "1e", "-", "NaN", "Infinity", "[1,]", "{\"a\": 1,}", "{'a': 1}", "{a: 1}",
        "[1 2]", "{\"a\" 1}", "\"tab\there\"", "\"\\x\"", "\"\\u12\"", "\"\\uD800\"", "\"\\uDC00\"", "\"\\uD800\\u0041\"",
        "// comment\n{}", "{} x", "[", "{\"a\": ", "\"open", "tru", "nul",
    ])
    func rejectsWhatIsNotJSON(_ text: String) {
        guard let error = failure(text) else { return }
        #expect(error.kind == .syntax)
        #expect(error.reason.hasPrefix("not valid JSON: "))
    }

    @Test func rejectsInvalidUTF8InAString() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func syntaxErrorsHaveLineColumnAndPath() throws {
        // The trailing comma: line 3, column 19 is the '}' where a key should be.
        let text = "{\"layers\": [\n  {\"type\": \"conv\"},\n  {\"type\": \"conv\",}]}"
        let error = try #require(failure(text))
        #expect(error.kind == .syntax && error.line == 3 && error.column == 19)
        #expect(error.path == [.key("layers"), .index(1)])
        #expect(error.reason.contains("expected a key"))
        // Columns count characters, not bytes: "é" is one.
        let wide = try #require(failure("[\"é\", x]"))
        #expect(wide.line == 1 && wide.column == 7)
    }

    @Test func duplicateKeysAreRejectedWhereTheyAre() throws {
        let top = try #require(failure("{\"a\": 1,\n \"a\": 2}"))
        #expect(top.kind == .duplicateKey && top.path == [.key("a")] && top.line == 2 && top.column == 2)
        #expect(top.reason.contains("\"a\"") && top.reason.contains("line 1, column 2"))
        let nested = try #require(failure("{\"x\": [{\"b\": 1}, {\"b\": 1, \"c\": {\"d\": 1, \"d\": 1}}]}"))
        #expect(nested.kind == .duplicateKey && nested.path == [.key("x"), .index(1), .key("c"), .key("d")])
        // Equal after unescaping is equal.
        let escaped = try #require(failure("{\"a\": 1, \"\\u0061\": 2}"))
        #expect(escaped.kind == .duplicateKey)
        // The same key in different objects is fine.
        #expect(try parse("[{\"a\": 1}, {\"a\": 2}]") == .array([.object(["a": .number(1)]), .object(["a": .number(2)])]))
    }

    @Test(arguments: ["1e400", "-1e400", "1e309", "[1, 2e999]", "123456789e301", "1e-400", "-5e-999"])
    func numbersADoubleCannotHoldAreOutOfRange(_ text: String) throws {
        let error = try #require(failure(text))
        #expect(error.kind == .numberOutOfRange)
        #expect(error.reason.contains("out of range") || error.reason.contains("too small"))
    }

    @Test func largeButFiniteAndZeroNumbersParse() throws {
        // A 30-digit integer is a finite Double; the config reader rejects it by range.
        #expect(try parse("123456789012345678901234567890") == .number(123456789012345678901234567890))
        #expect(try parse("1.7976931348623157e308") == .number(.greatestFiniteMagnitude))
        #expect(try parse("[0e-400, 0.000, -0]") == .array([.number(0), .number(0), .number(0)]))
        #expect(try parse("5e-324") == .number(.leastNonzeroMagnitude))
    }

    @Test func nestingIsBoundedWithoutExhaustingTheStack() throws {
        let limit = JSONValue.maximumDepth
        _ = try parse(String(repeating: "[", count: limit) + String(repeating: "]", count: limit))
        let deeper = try #require(failure(String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)))
        #expect(deeper.kind == .tooDeep)
        // A hostile depth fails the same way instead of overflowing the stack.
        let hostile = try #require(failure(String(repeating: "[{\"a\":", count: 100_000)))
        #expect(hostile.kind == .tooDeep)
    }
}
