import CFreeType
import Foundation

/// Where text in pictures gets its glyphs: font files rasterised by FreeType (hinted,
/// anti-aliased, proportional), tried in order for each character, or the built-in 5 x 7
/// bitmap font (`Font.bitmap`, printable ASCII only) when no file could be loaded.
///
/// `Font.standard`, what renders use, is found at run time (see `searchPaths`): the files
/// named by DETECTOR_FONT, else DejaVu Sans (Debian's fonts-dejavu-core: Latin, Greek,
/// Cyrillic, Armenian, Georgian, Hebrew, Arabic, many symbols) followed by the CJK-capable
/// fonts installed (fonts-wqy-microhei, which `make deps` installs; Noto Sans CJK; ...).
///
/// Layout, the same for measuring and drawing: NFC first (so "e" + U+0301 is "é"'s own glyph),
/// then one glyph per Unicode scalar from the first file that has it, side by side at their
/// hinted advances (no kerning, no shaping). A grapheme cluster whose first scalar no file has
/// is one '?' (so is a control character); its other scalars (combining marks without a
/// precomposed form, variation selectors, joiners) are drawn where the font puts them (DejaVu's
/// marks have no advance and sit over the letter before) or dropped when no file has them.
/// Right-to-left runs are reversed into visual order (`visualOrder`); Arabic letters are not
/// joined (each is drawn in its isolated form), which would take a shaping engine (HarfBuzz).
///
/// Sizes are given as `scale`, the unit of the bitmap font: its line is 8 · scale pixels high,
/// a font file is set at `pixelsPerEm` · scale pixels per em (its line, ascender to
/// descender, is then about 1.2 times that for DejaVu Sans).
///
/// Thread-safe: the FreeType calls and the glyph cache are behind one lock.
public final class Font: @unchecked Sendable {
    /// The font files in use, in the order tried for each character; empty for the bitmap font.
    public let files: [String]
    /// The paths given that could not be used, each with the reason.
    public let problems: [String]
    /// Whether text is drawn in the built-in bitmap font (no font file could be loaded).
    public var isBitmap: Bool { faces.isEmpty }

    /// Pixels per em of a font file's glyphs per unit of `scale`.
    public static let pixelsPerEm = 10
    /// The largest scale honoured (larger ones draw at this one): keeps pixel arithmetic and
    /// FreeType's bitmaps bounded.
    static let maximumScale = 100

    /// The built-in 5 x 7 font alone.
    public static let bitmap = Font(paths: [])
    /// The files of `searchPaths(environment:)` for this process, loaded once; the bitmap font
    /// when none of them loads.
    public static let standard = Font(paths: searchPaths(environment: ProcessInfo.processInfo.environment))

    private let library: FT_Library?
    private let faces: [FT_Face]
    private let lock = NSLock()
    /// Rasterised glyphs by scalar and pixel size; nil when no file has the scalar.
    private var glyphs: [GlyphKey: Glyph?] = [:]
    private var metrics: [Int: (ascent: Int, descent: Int)] = [:]

    private struct GlyphKey: Hashable { var scalar: UInt32; var pixels: Int }

    /// Loads each of `paths` that FreeType reads as a scalable font with a Unicode character
    /// map (a collection's first face); the others go to `problems`. No path loaded: the
    /// bitmap font.
    public init(paths: [String]) {
        var problems: [String] = [], files: [String] = [], faces: [FT_Face] = []
        var library: FT_Library?
        if !paths.isEmpty {
            let error = FT_Init_FreeType(&library)
            if error != 0 { problems.append("FreeType could not start (error \(error))"); library = nil }
        }
        if let library {
            for path in paths {
                guard FileManager.default.fileExists(atPath: path) else { problems.append("\(path): no such file"); continue }
                var face: FT_Face?
                let error = FT_New_Face(library, path, 0, &face)
                guard error == 0, let face else { problems.append("\(path): not a font file FreeType reads (error \(error))"); continue }
                guard detector_ft_is_scalable(face) != 0, face.pointee.charmap != nil else {
                    problems.append("\(path): not a scalable font with a Unicode character map")
                    FT_Done_Face(face)
                    continue
                }
                faces.append(face); files.append(path)
            }
        }
        if faces.isEmpty, let library { FT_Done_FreeType(library) }
        self.library = faces.isEmpty ? nil : library
        self.faces = faces; self.files = files; self.problems = problems
    }

    deinit {
        for face in faces { FT_Done_Face(face) }
        if let library { FT_Done_FreeType(library) }
    }

    /// The font files `Font.standard` uses, in order: DETECTOR_FONT's when it is set and not
    /// empty (paths separated by ':', nothing else added: list a CJK font after your own to
    /// keep its glyphs), else the first DejaVu Sans found (the paths of Debian and Ubuntu,
    /// Fedora, Arch, openSUSE) and every one of `fallbackPaths` found.
    public static func searchPaths(environment: [String: String],
                                   exists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) -> [String] {
        if let list = environment["DETECTOR_FONT"], !list.isEmpty {
            return list.split(separator: ":").map(String.init)
        }
        return Array(dejaVuSansPaths.filter(exists).prefix(1)) + fallbackPaths.filter(exists)
    }

    static let dejaVuSansPaths = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",     // Debian, Ubuntu (fonts-dejavu-core)
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",   // Fedora
        "/usr/share/fonts/TTF/DejaVuSans.ttf",                 // Arch
        "/usr/share/fonts/truetype/DejaVuSans.ttf",            // openSUSE
    ]
    /// Fonts for what DejaVu Sans lacks, Chinese, Japanese and Korean above all, when installed
    /// (Debian's packages): fonts-wqy-microhei (1.6 MB, the one `make deps` installs),
    /// fonts-noto-cjk, fonts-wqy-zenhei, fonts-droid-fallback; then fonts-freefont-ttf's
    /// FreeSans (Thai, Indic scripts, Ethiopic, ...: drawn unshaped) and fonts-unifont (a
    /// pixel font of the whole Basic Multilingual Plane, the last resort).
    static let fallbackPaths = [
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
        "/usr/share/fonts/opentype/unifont/unifont.otf",
    ]

    /// Height in pixels of a line of text at `scale`: the first file's ascender to descender,
    /// or the bitmap font's cell with its descender row.
    public func lineHeight(scale: Int) -> Int {
        let m = verticalMetrics(scale: scale)
        return m.ascent + m.descent
    }

    /// Width in pixels of `text` at `scale`, as `Image.drawText` draws it.
    public func width(of text: String, scale: Int) -> Int { layout(text, scale: scale).width }

    /// Whether a glyph of some file (or of the bitmap font) draws `scalar`, not a '?'.
    public func hasGlyph(for scalar: Unicode.Scalar) -> Bool {
        guard !faces.isEmpty else { return (32...126).contains(scalar.value) }
        guard scalar.properties.generalCategory != .control else { return false }
        lock.lock(); defer { lock.unlock() }
        return glyphLocked(scalar, pixels: Self.pixelsPerEm) != nil
    }

    /// What a cut name ends with: "…" when the font has it, else ".".
    var ellipsis: String { hasGlyph(for: "\u{2026}") ? "\u{2026}" : "." }

    /// Pixels from a line's top to its baseline (ascent) and from the baseline to its bottom.
    func verticalMetrics(scale: Int) -> (ascent: Int, descent: Int) {
        guard scale >= 1 else { return (0, 0) }
        let scale = min(scale, Self.maximumScale)
        guard !faces.isEmpty else { return (7 * scale, scale) }
        lock.lock(); defer { lock.unlock() }
        return metricsLocked(pixels: Self.pixelsPerEm * scale)
    }

    /// The glyphs of `text` at `scale`, left to right, each with its pen position from the
    /// text's left edge, and the text's width: the advances' sum for a font file; for the
    /// bitmap font 6 · scale per character less the blank column after the last.
    func layout(_ text: String, scale: Int) -> TextLayout {
        guard scale >= 1, !text.isEmpty else { return TextLayout(glyphs: [], width: 0, ascent: 0) }
        let scale = min(scale, Self.maximumScale)
        guard !faces.isEmpty else {
            let glyphs = text.enumerated().map { (x: $0.offset * BitmapFont.advance * scale, glyph: BitmapFont.glyph($0.element, scale: scale)) }
            return TextLayout(glyphs: glyphs, width: glyphs.count * BitmapFont.advance * scale - scale, ascent: 7 * scale)
        }
        let pixels = Self.pixelsPerEm * scale
        lock.lock(); defer { lock.unlock() }
        var glyphs: [(x: Int, glyph: Glyph)] = [], pen = 0
        for character in visualOrder(text.precomposedStringWithCanonicalMapping) {
            for (k, scalar) in character.unicodeScalars.enumerated() {
                let control = scalar.properties.generalCategory == .control
                guard let glyph = control ? nil : glyphLocked(scalar, pixels: pixels) else {
                    if k == 0 {
                        let mark = replacementLocked(pixels: pixels)
                        glyphs.append((pen, mark)); pen += mark.advance
                    }
                    continue
                }
                glyphs.append((pen, glyph)); pen += glyph.advance
            }
        }
        return TextLayout(glyphs: glyphs, width: pen, ascent: metricsLocked(pixels: pixels).ascent)
    }

    // MARK: FreeType, with `lock` held

    private func metricsLocked(pixels: Int) -> (ascent: Int, descent: Int) {
        if let m = metrics[pixels] { return m }
        var m = (ascent: pixels, descent: 0)
        if FT_Set_Pixel_Sizes(faces[0], 0, FT_UInt(pixels)) == 0, let size = faces[0].pointee.size {
            // 26.6 fixed point; FreeType rounds the ascender up and the descender down.
            m = (Int((size.pointee.metrics.ascender + 63) >> 6), Int((-size.pointee.metrics.descender + 63) >> 6))
        }
        metrics[pixels] = m
        return m
    }

    /// The glyph of `scalar` from the first file that has it and renders it, cached.
    private func glyphLocked(_ scalar: Unicode.Scalar, pixels: Int) -> Glyph? {
        let key = GlyphKey(scalar: scalar.value, pixels: pixels)
        if let cached = glyphs[key] { return cached }
        var found: Glyph? = nil
        for face in faces {
            let index = FT_Get_Char_Index(face, FT_ULong(scalar.value))
            if index != 0, let glyph = renderLocked(face, index: index, pixels: pixels) { found = glyph; break }
        }
        if glyphs.count >= 8192 { glyphs.removeAll(keepingCapacity: true) }   // bounds memory; names repeat
        glyphs[key] = .some(found)
        return found
    }

    /// '?' for what no file has: the first file's that has it, else its missing-glyph box.
    private func replacementLocked(pixels: Int) -> Glyph {
        if let mark = glyphLocked("?", pixels: pixels) { return mark }
        return renderLocked(faces[0], index: 0, pixels: pixels)
            ?? Glyph(left: 0, top: 0, width: 0, rows: 0, block: 1, advance: pixels / 2, coverage: [])
    }

    private func renderLocked(_ face: FT_Face, index: FT_UInt, pixels: Int) -> Glyph? {
        guard FT_Set_Pixel_Sizes(face, 0, FT_UInt(pixels)) == 0,
              FT_Load_Glyph(face, index, detector_ft_load_flags()) == 0,
              let slot = face.pointee.glyph else { return nil }
        let bitmap = slot.pointee.bitmap
        let width = Int(bitmap.width), rows = Int(bitmap.rows), pitch = Int(bitmap.pitch)
        var coverage = [UInt8](repeating: 0, count: width * rows)
        if width > 0 && rows > 0 {
            // An 8-bit gray bitmap, rows top down (FT_Render_Glyph's output for an outline).
            guard bitmap.pixel_mode == UInt8(FT_PIXEL_MODE_GRAY.rawValue), pitch >= width, let buffer = bitmap.buffer else { return nil }
            for row in 0..<rows { for column in 0..<width { coverage[row * width + column] = buffer[row * pitch + column] } }
        }
        return Glyph(left: Int(slot.pointee.bitmap_left), top: Int(slot.pointee.bitmap_top), width: width, rows: rows,
                     block: 1, advance: Int((slot.pointee.advance.x + 32) >> 6), coverage: coverage)
    }
}

/// One glyph's coverage bitmap, placed from the pen on the baseline.
struct Glyph {
    /// From the pen to the bitmap's left edge, and from the baseline up to its top edge, in pixels.
    var left: Int, top: Int
    /// Columns and rows of `coverage`.
    var width: Int, rows: Int
    /// Each coverage value covers `block` x `block` pixels (the bitmap font's scale; 1 for a font file).
    var block: Int
    /// How far the pen moves, in pixels.
    var advance: Int
    /// Row by row, 0 (nothing) ... 255 (all of the pixel is ink).
    var coverage: [UInt8]
}

/// Glyphs laid out on one line: pen positions from the left edge, the width, and the ascent
/// (from the line's top to the baseline).
struct TextLayout {
    var glyphs: [(x: Int, glyph: Glyph)]
    var width: Int
    var ascent: Int
}

/// The characters of `text` in the order they are drawn, left to right: each right-to-left
/// run reversed, a run being the characters from a strong right-to-left one (Hebrew, Arabic,
/// Syriac, Thaana, N'Ko, ...) up to the last such before the next strong left-to-right one
/// (a letter of another script), with the digits inside kept in their order. This is the
/// part of the Unicode bidirectional algorithm (UAX #9) that a left-to-right line of short
/// names needs: "חתול 0.93" is drawn "לותח 0.93", the word reading right to left. Explicit
/// embeddings, mirrored brackets and a right-to-left paragraph are not handled.
func visualOrder(_ text: String) -> [Character] {
    var characters = Array(text)
    var i = 0
    while i < characters.count {
        guard isRightToLeft(characters[i]) else { i += 1; continue }
        var end = i, j = i + 1
        while j < characters.count, !isLeftToRight(characters[j]) {
            if isRightToLeft(characters[j]) { end = j }
            j += 1
        }
        characters[i...end].reverse()
        var k = i
        while k <= end {
            guard isDigit(characters[k]) else { k += 1; continue }
            var last = k
            while last < end, isDigit(characters[last + 1]) { last += 1 }
            characters[k...last].reverse()
            k = last + 1
        }
        i = end + 1
    }
    return characters
}

/// A character of a right-to-left script (its first scalar in the blocks of Hebrew to
/// Arabic Extended-A, the Hebrew and Arabic presentation forms, or the right-to-left ranges
/// of the supplementary planes), digits excepted.
private func isRightToLeft(_ character: Character) -> Bool {
    guard let v = character.unicodeScalars.first?.value, !isDigit(character) else { return false }
    return (0x0590...0x08FF).contains(v) || (0xFB1D...0xFDFF).contains(v) || (0xFE70...0xFEFE).contains(v)
        || (0x10800...0x10FFF).contains(v) || (0x1E800...0x1EFFF).contains(v)
}

private func isLeftToRight(_ character: Character) -> Bool {
    guard let scalar = character.unicodeScalars.first else { return false }
    return scalar.properties.isAlphabetic && !isRightToLeft(character)
}

/// ASCII digits and the Arabic-Indic ones (both keep their left-to-right order in a run).
private func isDigit(_ character: Character) -> Bool {
    guard let v = character.unicodeScalars.first?.value else { return false }
    return (0x30...0x39).contains(v) || (0x0660...0x0669).contains(v) || (0x06F0...0x06F9).contains(v)
}
