import Foundation
import Testing
@testable import Detector

/// The font files these tests use, when installed: DejaVu Sans (fonts-dejavu-core) and
/// WenQuanYi Micro Hei (fonts-wqy-microhei), both installed by `make deps`. Tests of the
/// font files are skipped, saying why, when they are missing; the fallback's run always.
enum FontFiles {
    static let dejaVu: String? = Font.dejaVuSansPaths.first { FileManager.default.fileExists(atPath: $0) }
    static let cjk: String? = ["/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"].first { FileManager.default.fileExists(atPath: $0) }
    /// DejaVu Sans alone (no CJK), and DejaVu Sans then the CJK font.
    static let latin = Font(paths: [dejaVu].compactMap { $0 })
    static let withCJK = Font(paths: [dejaVu, cjk].compactMap { $0 })
}

/// `text` in white on black with its line's top-left corner at (4, 4) of a 160 x 48 image.
func drawnText(_ text: String, _ font: Font, scale: Int = 2) -> Image {
    var image = Image(width: 160, height: 48)
    image.drawText(text, x: 4, y: 4, color: .white, scale: scale, font: font)
    return image
}

/// The smallest rectangle (x0, y0, x1, y1 inclusive) holding every pixel that is not black.
func inkBounds(_ image: Image) -> (x0: Int, y0: Int, x1: Int, y1: Int)? {
    var bounds: (x0: Int, y0: Int, x1: Int, y1: Int)? = nil
    for y in 0..<image.height { for x in 0..<image.width where image.pixel(x: x, y: y) != .black {
        bounds = bounds.map { (min($0.x0, x), min($0.y0, y), max($0.x1, x), max($0.y1, y)) } ?? (x, y, x, y)
    } }
    return bounds
}

/// Names cut to fit: for every room from nothing to the whole tag, the text is the name
/// whole, or a prefix of its characters (trailing spaces dropped) with the font's ellipsis
/// and the suffix that fits (except a lone first character, always kept), and the longest such.
func checkCuts(_ names: [String], font: Font, scale: Int) {
    for name in names {
        let suffix = " 0.87", characters = Array(name)
        let whole = font.width(of: name + suffix, scale: scale)
        for room in stride(from: 0, through: whole + 1, by: 1) {
            let tag = fittedTag(name, suffix: suffix, room: room, font: font, scale: scale)
            if room >= whole { #expect(tag == name + suffix); continue }
            guard tag.hasSuffix(font.ellipsis + suffix) else { Issue.record("\(name) in \(room): \(tag)"); continue }
            let kept = Array(tag.dropLast(suffix.count).dropLast(font.ellipsis.count))
            #expect(!kept.isEmpty && Array(characters.prefix(kept.count)) == kept, "\(name) in \(room): \(tag)")
            if kept.count > 1 { #expect(font.width(of: tag, scale: scale) <= room, "\(name) in \(room): \(tag)") }
            // The next longer cut (trailing spaces are dropped, so it ends in a non-space).
            var next = kept.count + 1
            while next < characters.count, characters[next - 1].isWhitespace { next += 1 }
            if next < characters.count {
                let longer = String(characters.prefix(next)) + font.ellipsis + suffix
                #expect(font.width(of: longer, scale: scale) > room, "\(name) in \(room): \(tag)")
            }
        }
    }
}

/// Names with multi-byte characters: Cyrillic (2 bytes), CJK (3), flags (two 4-byte scalars
/// a character), letters with combining accents (two scalars a character), spaces.
let multiByteNames = ["кошка-очень-длинная", "猫猫猫猫猫猫", "e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}", "🇫🇷🇩🇪🇮🇹🇪🇸", "a b c d e f", "Δέντρο μεγάλο"]

/// Finding the font and the fallback to the built-in bitmap font: these run whatever fonts
/// are installed.
@Suite struct RenderingFontTests {
    @Test func searchPathsFollowDetectorFont() {
        let all: (String) -> Bool = { _ in true }, none: (String) -> Bool = { _ in false }
        // DETECTOR_FONT is the whole list, in order, nothing added.
        #expect(Font.searchPaths(environment: ["DETECTOR_FONT": "/a.ttf:/b.ttc"], exists: all) == ["/a.ttf", "/b.ttc"])
        #expect(Font.searchPaths(environment: ["DETECTOR_FONT": "/missing.ttf"], exists: none) == ["/missing.ttf"])
        // Unset or empty: the first DejaVu Sans and every fallback that exists.
        let defaults = [Font.dejaVuSansPaths[0]] + Font.fallbackPaths
        #expect(Font.searchPaths(environment: [:], exists: all) == defaults)
        #expect(Font.searchPaths(environment: ["DETECTOR_FONT": ""], exists: all) == defaults)
        #expect(Font.searchPaths(environment: [:], exists: none) == [])
        #expect(Font.searchPaths(environment: [:], exists: { $0.hasPrefix("/usr/share/fonts/TTF/") }) == ["/usr/share/fonts/TTF/DejaVuSans.ttf"])
        #expect(Font.bitmap.isBitmap && Font.bitmap.files.isEmpty && Font.bitmap.problems.isEmpty)
    }

    /// DETECTOR_FONT pointing at a missing file, or at files that are not fonts: the bitmap
    /// font, each path's problem said, and text drawn and measured exactly as `Font.bitmap`
    /// does ('?' for what it lacks).
    @Test func missingOrBrokenFontFilesFallBackToTheBitmapFont() throws {
        let folder = try Fixtures.temporaryFolder("fonts-broken")
        let notAFont = folder.appendingPathComponent("font.ttf")
        try Data("not a font".utf8).write(to: notAFont)
        let font = Font(paths: ["/nonexistent/DejaVuSans.ttf", notAFont.path, folder.path])
        #expect(font.isBitmap && font.files.isEmpty)
        #expect(font.problems.count == 3 && font.problems[0] == "/nonexistent/DejaVuSans.ttf: no such file", "\(font.problems)")
        for (problem, path) in zip(font.problems.dropFirst(), [notAFont.path, folder.path]) {
            #expect(problem.hasPrefix("\(path): not a font file FreeType reads (error "), "\(problem)")
        }
        for text in ["café 0.90", "кошка", "猫", "Δέντρο", "חתול"] {
            #expect(drawnText(text, font) == drawnText(text, .bitmap))
            #expect(font.width(of: text, scale: 2) == textWidth(text, scale: 2))
        }
        #expect(drawnText("café", font) == drawnText("caf?", font) && font.lineHeight(scale: 3) == 24)
        let detections = [Detection(box: BoundingBox(x1: 10, y1: 30, x2: 60, y2: 80), classIndex: 0, score: 0.9)]
        #expect(renderDetections(on: RenderingTests.black, detections: detections, classNames: ["Δέντρο"], font: font)
                == renderDetections(on: RenderingTests.black, detections: detections, classNames: ["Δέντρο"], font: .bitmap))
    }

    /// Right-to-left runs are reversed into drawing order, digits inside kept in theirs, a
    /// letter's marks kept with it; left-to-right text is left as it is.
    @Test(arguments: [
        ("abc 0.93", "abc 0.93"),
        ("חתול 0.93", "לותח 0.93"),
        ("cat חתול dog", "cat לותח dog"),
        ("שלום 12 עולם", "םלוע 12 םולש"),
        ("قطة", "ةطق"),
        ("ق١٢ط", "ط١٢ق"),
        ("gt كلب", "gt بلك"),
        ("שָׁלוֹם", "םוֹלשָׁ"),
    ])
    func visualOrderReversesRightToLeftRuns(text: String, drawn: String) {
        #expect(visualOrder(text) == Array(drawn))
    }

    @Test func cutNamesKeepWholeCharactersInTheBitmapFont() {
        checkCuts(multiByteNames, font: .bitmap, scale: 1)
        // The combining accents stay with their letters.
        let tag = fittedTag(multiByteNames[2], suffix: "", room: 20, font: .bitmap, scale: 1)
        #expect(tag == "e\u{301}e\u{301}.")
    }
}

/// Text in a font file (DejaVu Sans, and a CJK font after it): every character of the names
/// drawn, anti-aliased, measured as drawn, laid out around other tags.
@Suite(.enabled(if: FontFiles.dejaVu != nil, "DejaVu Sans is not installed (make deps installs fonts-dejavu-core)"))
struct RenderingFontFileTests {
    /// Accented Latin, Greek, Cyrillic, Hebrew, Arabic, and the one emoji DejaVu Sans has:
    /// each has a glyph, drawn neither blank nor as '?', anti-aliased (pixels between black
    /// and white).
    @Test(arguments: ["é", "ñ", "ü", "Ç", "ß", "ø", "Δ", "έ", "ω", "Ж", "к", "ш", "א", "ל", "ق", "ة", "😀"])
    func everyCharacterIsDrawn(character: String) {
        let font = FontFiles.latin
        #expect(character.unicodeScalars.allSatisfy { font.hasGlyph(for: $0) })
        let image = drawnText(character, font)
        #expect(image != drawnText("?", font) && image != drawnText("", font))
        #expect(image.pixels.contains { $0 > 0 && $0 < 255 })
    }

    /// What no file has: one '?' per character, however many scalars it holds (a flag, a
    /// family joined by ZWJ), and '?' for a control character. Emoji beyond DejaVu's few
    /// (😀 is one of them) are '?': colour-emoji fonts are bitmaps FreeType cannot scale.
    @Test(arguments: ["猫", "🦜", "👍🏽", "🇫🇷", "👨‍👩‍👧", "\u{7}", "\n", "ก", "क"])
    func missingCharactersAreOneQuestionMark(character: String) {
        let font = FontFiles.latin
        #expect(drawnText(character, font) == drawnText("?", font))
        #expect(font.width(of: character, scale: 2) == font.width(of: "?", scale: 2))
    }

    /// "e" + U+0301 is composed to "é" and drawn as it; "q" + U+0301 has no composed form:
    /// the mark (no advance in DejaVu Sans) is drawn over the q, which keeps its width; a
    /// mark alone draws without crashing.
    @Test func combiningCharacters() throws {
        let font = FontFiles.latin
        #expect(drawnText("e\u{301}", font) == drawnText("é", font))
        #expect(font.width(of: "q\u{301}", scale: 2) == font.width(of: "q", scale: 2))
        let marked = drawnText("q\u{301}", font), plain = drawnText("q", font)
        #expect(marked != plain)
        let a = try #require(inkBounds(marked)), b = try #require(inkBounds(plain))
        #expect(a.y0 < b.y0 && a.x0 >= b.x0 - 1 && a.x1 <= b.x1 + 1)   // the accent above, within the letter's columns
        #expect(font.width(of: "\u{301}", scale: 2) == 0 && inkBounds(drawnText("\u{301}", font)) != nil)
    }

    /// Width is the sum of the glyphs' advances (proportional, no kerning); the ink stays
    /// inside the measured box (1 pixel of side bearing either way) and the line's height.
    @Test func widthIsMeasuredAsDrawn() throws {
        let font = FontFiles.latin
        #expect(font.width(of: "ab", scale: 2) == font.width(of: "a", scale: 2) + font.width(of: "b", scale: 2))
        #expect(font.width(of: "iiii", scale: 2) * 2 < font.width(of: "mmmm", scale: 2))
        #expect(font.lineHeight(scale: 1) > textHeight(scale: 1) && abs(font.lineHeight(scale: 2) - 2 * font.lineHeight(scale: 1)) <= 2)
        for text in ["Δέντρο", "кошка", "café", "jÉgy", "חתול"] {
            let ink = try #require(inkBounds(drawnText(text, font)))
            let width = font.width(of: text, scale: 2), height = font.lineHeight(scale: 2)
            #expect(ink.x0 >= 4 - 1 && ink.x1 <= 4 + width, "\(text): \(ink), width \(width)")
            #expect(ink.y0 >= 4 && ink.y1 < 4 + height, "\(text): \(ink), height \(height)")
        }
    }

    /// "חתול" is drawn as its letters side by side from the last to the first.
    @Test func rightToLeftIsDrawnInVisualOrder() {
        let font = FontFiles.latin
        var expected = Image(width: 160, height: 48), x = 4
        for letter in ["ל", "ו", "ת", "ח"] {
            expected.drawText(letter, x: x, y: 4, color: .white, scale: 2, font: font)
            x += font.width(of: letter, scale: 2)
        }
        #expect(drawnText("חתול", font) == expected)
    }

    /// Anti-aliased glyphs are blended over what is there: on (100, 50, 0) in white, each
    /// pixel is (100, 50, 0) + a · (155, 205, 255) for one coverage a, rounded; some are
    /// fully covered.
    @Test func glyphsAreBlendedOverTheImage() {
        var image = Image(width: 120, height: 40, fill: (100, 50, 0))
        image.drawText("кошка", x: 2, y: 2, color: .white, scale: 2, font: FontFiles.latin)
        var full = 0, partial = 0
        for y in 0..<image.height { for x in 0..<image.width {
            let p = image.pixel(x: x, y: y), a = Float(p.b) / 255
            #expect(abs(Float(p.r) - (100 + 155 * a)) <= 1 && abs(Float(p.g) - (50 + 205 * a)) <= 1, "(\(x), \(y)): \(p)")
            if p.b == 255 { full += 1 } else if p.b > 0 { partial += 1 }
        } }
        #expect(full > 20 && partial > 20)
    }

    /// One font drawn from many threads at once (its glyph cache cold) gives the serial result.
    @Test func concurrentDrawingMatchesSerial() {
        let paths = [FontFiles.dejaVu, FontFiles.cjk].compactMap { $0 }
        let serial = drawnText("Δέντρο 猫 кошка", Font(paths: paths))
        let font = Font(paths: paths)
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var images: [Image] = []
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let image = drawnText("Δέντρο 猫 кошка", font)
            results.lock.lock(); results.images.append(image); results.lock.unlock()
        }
        #expect(results.images.count == 8 && results.images.allSatisfy { $0 == serial })
    }

    /// Two overlapping boxes with non-Latin names, scale 1 (tags 13 + 2 pixels high in DejaVu
    /// Sans): the better one's tag above its box, the other's moved inside its box's top edge
    /// (its place above would cover the first), each as wide as its text measures.
    @Test func tagsWithProportionalWidthsMoveApart() {
        let font = FontFiles.latin
        let better = Detection(box: BoundingBox(x1: 10, y1: 40, x2: 90, y2: 90), classIndex: 0, score: 0.9)
        let worse = Detection(box: BoundingBox(x1: 14, y1: 42, x2: 94, y2: 92), classIndex: 1, score: 0.3)
        let image = renderDetections(on: RenderingTests.black, detections: [worse, better], classNames: ["кошка", "Δέντρο"], font: font)
        let tagHeight = font.lineHeight(scale: 1) + 2
        #expect(tagHeight == 15)
        let first = image.labelRectangle("кошка 0.90", x: 10, bottom: 40, scale: 1, font: font)
        let second = image.labelRectangle("Δέντρο 0.30", x: 14, bottom: 42 + tagHeight, scale: 1, font: font)
        #expect(first.top == 25 && second.top == 42 && !first.overlaps(second))
        #expect(first.width == font.width(of: "кошка 0.90", scale: 1) + 2)
        for (r, color) in [(first, RGB.forClass(0)), (second, RGB.forClass(1))] {
            #expect(image.pixel(x: r.left, y: r.top) == color && image.pixel(x: r.left + r.width - 1, y: r.top + r.height - 1) == color)
        }
        #expect(image.pixel(x: first.left + first.width, y: first.top + 1) == .black)
    }

    /// In a 64-pixel image a long Cyrillic name is cut between letters and ends in "…"; the
    /// tag spans the image less nothing, its text measured in the font.
    @Test func longNamesAreCutToFit() {
        let font = FontFiles.withCJK
        #expect(font.ellipsis == "…")
        checkCuts(multiByteNames, font: font, scale: 1)
        checkCuts(["кошка-очень-длинная", "猫猫猫猫猫猫"], font: font, scale: 2)
        let tag = fittedTag("кошка-очень-длинная", suffix: " 0.90", room: 62, font: font, scale: 1)
        #expect(tag.hasPrefix("кош") && tag.hasSuffix("… 0.90") && font.width(of: tag, scale: 1) <= 62)
        let d = Detection(box: BoundingBox(x1: 2, y1: 30, x2: 40, y2: 60), classIndex: 1, score: 0.9)
        let image = renderDetections(on: Image(width: 64, height: 64), detections: [d], classNames: ["", "кошка-очень-длинная"], font: font)
        var expected = Image(width: 64, height: 64)
        expected.drawLabel(tag, x: 2, bottom: 30, background: RGB.forClass(1), scale: 1, font: font)
        for y in 0..<30 { for x in 0..<64 { #expect(image.pixel(x: x, y: y) == expected.pixel(x: x, y: y)) } }
    }
}

/// Chinese, Japanese and Korean from the CJK font after DejaVu Sans, which keeps the Latin.
@Suite(.enabled(if: FontFiles.dejaVu != nil && FontFiles.cjk != nil, "DejaVu Sans or WenQuanYi Micro Hei is not installed (make deps installs them)"))
struct RenderingCJKTests {
    @Test(arguments: ["猫", "狗", "ね", "コ", "고", "양"])
    func cjkCharactersAreDrawn(character: String) {
        let font = FontFiles.withCJK
        #expect(font.hasGlyph(for: character.unicodeScalars.first!))
        let image = drawnText(character, font)
        #expect(image != drawnText("?", font) && image != drawnText("", font))
    }

    @Test func latinComesFromTheFirstFile() {
        #expect(drawnText("cat 0.9", FontFiles.withCJK) == drawnText("cat 0.9", FontFiles.latin))
        #expect(drawnText("猫", FontFiles.withCJK) != drawnText("猫", FontFiles.latin))
    }
}

/// `detect` draws the class names in the font DETECTOR_FONT names, and in the bitmap font
/// when it names a missing file (no error, the text and JSON output unchanged).
@Suite(.serialized, .enabled(if: FontFiles.dejaVu != nil, "DejaVu Sans is not installed (make deps installs fonts-dejavu-core)"))
struct RenderingFontCommandTests {
    @Test func detectFindsTheFontOrFallsBack() throws {
        let names = ["café", "кошка", "猫"]
        let classes = String(decoding: try JSONSerialization.data(withJSONObject: names), as: UTF8.self)
        let json = tinyConfigJSON.replacingOccurrences(of: #"["circle", "square", "triangle"]"#, with: classes)
        let config = try ModelConfig.decode(Data(json.utf8), source: "unicode")
        let folder = try Fixtures.temporaryFolder("fonts-detect")
        let model = folder.appendingPathComponent("m.safetensors").path
        try Checkpoint.save(parameters: try Network(config: config, seed: 3).parameters, configJSON: config.jsonString(), to: model)
        let input = folder.appendingPathComponent("a.png").path
        try PNG.write(tinySamples(count: 1)[0].image, to: input)
        let fonts = [FontFiles.dejaVu, FontFiles.cjk].compactMap { $0 }.joined(separator: ":")
        var renders: [Image] = []
        for (k, font) in [fonts, "/nonexistent/font.ttf", "/also/missing.ttf"].enumerated() {
            let output = folder.appendingPathComponent("out\(k).png").path
            let r = try runCommand("detect", [input, "--model", model, "--conf", "0", "--max-det", "6", "--json", "--output", output],
                                   environment: ["DETECTOR_FONT": font])
            #expect(r.status == 0, "\(r.err)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
            let found = (object["detections"] as? [[String: Any]] ?? []).compactMap { $0["class"] as? String }
            #expect(found.count == 6 && found.allSatisfy(names.contains), "\(r.out)")
            renders.append(try PNG.read(path: output))
        }
        #expect(renders[0] != renders[1] && renders[1] == renders[2])
    }
}
