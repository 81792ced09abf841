import Foundation
import Testing
@testable import Detector

@Suite struct JSONTextTests {
    @Test func handWrittenEscapes() {
        #expect(jsonString("") == #""""#)
        #expect(jsonString(#"a"b\c"#) == #""a\"b\\c""#)
        #expect(jsonString("x\ny\rz\tw") == #""x\ny\rz\tw""#)
        #expect(jsonString("\u{0}\u{1F}") == #""\u0000\u001f""#)
        // DEL, U+2028 and non-ASCII letters are legal in a JSON string: kept as they are.
        #expect(jsonString("\u{7F}\u{2028}é🙂") == "\"\u{7F}\u{2028}é🙂\"")
    }

    /// `alsoEscaping` writes the picked scalars as UTF-16 units: a surrogate pair above U+FFFF.
    @Test func pickedScalarsAreEscapedAsUTF16() {
        let escaped = jsonString("a\u{202E}🙂", alsoEscaping: { $0 == "\u{202E}" || $0.value > 0xFFFF })
        #expect(escaped == #""a\u202e\ud83d\ude42""#)
    }

    /// Any string comes back unchanged through two independent parsers (Foundation's and the
    /// config's): every scalar below U+0080, and a few awkward others.
    @Test func roundTripsThroughJSONParsers() throws {
        let ascii = String(String.UnicodeScalarView((0..<0x80).compactMap(Unicode.Scalar.init)))
        for s in [ascii, "\u{85}\u{2028}\u{2029}\u{FEFF}\u{202E}", "👩‍🔬 traffic light", "\\u0041"] {
            for literal in [jsonString(s), jsonString(s, alsoEscaping: { _ in true })] {
                let foundation = try JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed) as? String
                #expect(foundation == s)
                #expect(try JSONValue.parse(Array(literal.utf8)) == .string(s))
            }
        }
    }
}
