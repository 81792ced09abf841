import Foundation
import Testing
import Detector

/// The text format's names: a class or file name that could forge or hide a line
/// is printed as a JSON string literal; every other name exactly as it is.
@Suite struct DetectionTextEscapingTests {
    static let box = BoundingBox(x1: 1, y1: 2, x2: 3, y2: 4)

    static func line(className: String) -> String {
        detectionTextLines([Detection(box: box, classIndex: 0, score: 0.5)], classNames: [className])[0]
    }

    /// Ordinary names, spaces, backslashes, quotes inside and non-ASCII letters included,
    /// print unchanged, so existing output stays byte for byte the same.
    @Test(arguments: ["square", "traffic light", "C:\\shapes\\x", "say \"hi\"", "café", "日本", "a#b", "👩‍🔬"])
    func ordinaryNamesAreUnchanged(name: String) {
        #expect(Self.line(className: name) == "\(name) 0.500 1.0 2.0 3.0 4.0")
        #expect(detectionTextHeader(image: name, width: 3, height: 2, count: 1) == "# \(name) (3x2): 1 detections")
    }

    /// Names that need quoting, with the exact quoted form; a JSON parser reads each back to
    /// the original name, and no quoted form holds a line break or a hidden character.
    @Test(arguments: [
        ("a\nsquare 0.999 1.0 2.0 3.0 4.0", #""a\nsquare 0.999 1.0 2.0 3.0 4.0""#),
        ("cr\rhere", #""cr\rhere""#),
        ("tab\tbed", #""tab\tbed""#),
        ("esc\u{1B}[2J", #""esc\u001b[2J""#),
        ("del\u{7F}", #""del\u007f""#),
        ("nel\u{85}x", #""nel\u0085x""#),
        ("ls\u{2028}ps\u{2029}", #""ls\u2028ps\u2029""#),
        ("\u{202E}elcric", #""\u202eelcric""#),
        ("zero\u{200B}width", #""zero\u200bwidth""#),
        ("tag\u{E0041}", #""tag\udb40\udc41""#),
        ("", #""""#),
        ("# fake.png (1x1): 0 detections", ##""# fake.png (1x1): 0 detections""##),
        ("\"quoted\" and \\", #""\"quoted\" and \\""#),
        ("\"\u{301}accent", "\"\\\"\u{301}accent\""),
        ("new\nline and \"quote\" and \\", #""new\nline and \"quote\" and \\""#),
    ])
    func hiddenOrAmbiguousNamesAreQuoted(name: String, quoted: String) throws {
        #expect(Self.line(className: name) == "\(quoted) 0.500 1.0 2.0 3.0 4.0")
        #expect(detectionTextHeader(image: name, width: 3, height: 2, count: 0) == "# \(quoted) (3x2): 0 detections")
        let hidden: [Unicode.GeneralCategory] = [.control, .format, .lineSeparator, .paragraphSeparator]
        #expect(!quoted.unicodeScalars.contains { hidden.contains($0.properties.generalCategory) })
        let decoded = try JSONSerialization.jsonObject(with: Data(quoted.utf8), options: .fragmentsAllowed) as? String
        #expect(decoded == name)
    }

    /// A class index without a name prints as class<K>, unquoted; each detection is one line.
    @Test func unnamedClassesAndLineCount() {
        let detections = [Detection(box: Self.box, classIndex: 4, score: 0.25), Detection(box: Self.box, classIndex: 0, score: 0.75)]
        let lines = detectionTextLines(detections, classNames: ["x\ny"])
        #expect(lines == ["class4 0.250 1.0 2.0 3.0 4.0", #""x\ny" 0.750 1.0 2.0 3.0 4.0"#])
        #expect(lines.allSatisfy { !$0.contains("\n") })
    }

    /// The JSON format was already safe; it stays unchanged for these names (raw UTF-8 for
    /// U+2028 and U+202E, which JSON allows) and parses back to them.
    @Test func jsonIsUnchangedAndValid() throws {
        let names = ["a\nsquare 0.999 1.0 2.0 3.0 4.0", "ls\u{2028}x", "\u{202E}elcric", ""]
        let detections = names.indices.map { Detection(box: Self.box, classIndex: $0, score: 0.5) }
        let path = "x\n# fake.png (1x1): 0 detections.png"
        let line = detectionJSONLine(image: path, width: 3, height: 2, detections: detections, classNames: names)
        #expect(line.hasPrefix(#"{"image": "x\n# fake.png (1x1): 0 detections.png", "width": 3"#))
        #expect(line.contains(#"{"class": "a\nsquare 0.999 1.0 2.0 3.0 4.0", "class_id": 0"#))
        #expect(!line.contains("\n"))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(parsed["image"] as? String == path)
        #expect((parsed["detections"] as? [[String: Any]])?.map { $0["class"] as? String } == names)
    }
}
