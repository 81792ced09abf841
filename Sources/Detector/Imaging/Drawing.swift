/// An 8-bit colour.
public struct RGB: Hashable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)

    /// Relative luminance (Rec. 709 weights), 0...255.
    public var luminance: Float { 0.2126 * Float(r) + 0.7152 * Float(g) + 0.0722 * Float(b) }

    /// A distinct colour per class index: ten high-contrast colours, cycling.
    public static func forClass(_ index: Int) -> RGB {
        let palette = [RGB(230, 25, 75), RGB(60, 180, 75), RGB(0, 130, 200), RGB(245, 130, 48), RGB(145, 30, 180),
                       RGB(70, 240, 240), RGB(240, 50, 230), RGB(210, 245, 60), RGB(250, 190, 190), RGB(0, 128, 128)]
        return palette[((index % palette.count) + palette.count) % palette.count]
    }
}

extension Image {
    /// The image `factor` times larger on each side, nearest neighbour.
    public func enlarged(by factor: Int) -> Image {
        var out = [UInt8](repeating: 0, count: width * height * factor * factor * 3)
        let w = width * factor
        for y in 0..<(height * factor) {
            for x in 0..<w {
                let s = ((y / factor) * width + x / factor) * 3, d = (y * w + x) * 3
                out[d] = pixels[s]; out[d + 1] = pixels[s + 1]; out[d + 2] = pixels[s + 2]
            }
        }
        return Image(width: w, height: height * factor, pixels: out)
    }

    /// Sets one pixel; outside the image nothing happens.
    @inline(__always)
    public mutating func setPixel(x: Int, y: Int, _ color: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let o = (y * width + x) * 3
        pixels[o] = color.r; pixels[o + 1] = color.g; pixels[o + 2] = color.b
    }

    public func pixel(x: Int, y: Int) -> RGB {
        let o = (y * width + x) * 3
        return RGB(pixels[o], pixels[o + 1], pixels[o + 2])
    }

    /// Fills [x0, x1) x [y0, y1), clipped to the image.
    public mutating func fillRectangle(x0: Int, y0: Int, x1: Int, y1: Int, _ color: RGB) {
        let (a, b) = (max(0, x0), min(width, x1)), (c, d) = (max(0, y0), min(height, y1))
        guard a < b, c < d else { return }
        for y in c..<d { for x in a..<b { setPixel(x: x, y: y, color) } }
    }

    /// The outline of a box (pixel coordinates), `thickness` pixels drawn inwards from the box's
    /// edges, clipped to the image; `dashed` draws 6-pixel dashes.
    public mutating func drawRectangle(_ box: BoundingBox, color: RGB, thickness: Int = 2, dashed: Bool = false) {
        guard box.isFinite else { return }
        let limit = Float(max(width, height) * 2)
        let x0 = Int(max(-limit, min(limit, box.x1)).rounded()), y0 = Int(max(-limit, min(limit, box.y1)).rounded())
        let x1 = Int(max(-limit, min(limit, box.x2)).rounded()) - 1, y1 = Int(max(-limit, min(limit, box.y2)).rounded()) - 1
        guard x1 >= x0, y1 >= y0 else { return }
        for t in 0..<thickness {
            for x in max(x0, 0)...max(min(x1, width - 1), max(x0, 0)) where !dashed || (x - x0) % 12 < 6 {
                setPixel(x: x, y: y0 + t, color); setPixel(x: x, y: y1 - t, color)
            }
            for y in max(y0, 0)...max(min(y1, height - 1), max(y0, 0)) where !dashed || (y - y0) % 12 < 6 {
                setPixel(x: x0 + t, y: y, color); setPixel(x: x1 - t, y: y, color)
            }
        }
    }

    /// A straight line (Bresenham), `thickness` pixels wide.
    public mutating func drawLine(x0: Int, y0: Int, x1: Int, y1: Int, color: RGB, thickness: Int = 1) {
        var (x, y) = (x0, y0)
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var error = dx + dy
        let half = thickness / 2
        var steps = 0
        while steps <= 100_000 {
            for oy in -half...(thickness - 1 - half) { for ox in -half...(thickness - 1 - half) { setPixel(x: x + ox, y: y + oy, color) } }
            if x == x1 && y == y1 { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
            steps += 1
        }
    }

    /// Text with the top-left corner of its line at (x, y), clipped to the image, in `font`:
    /// the built-in 5 x 7 bitmap font unless given (each font pixel a `scale` x `scale`
    /// square, in `color` exactly), or a font file's anti-aliased glyphs at
    /// `Font.pixelsPerEm` · `scale` pixels per em, blended over the image by their coverage.
    public mutating func drawText(_ text: String, x: Int, y: Int, color: RGB, scale: Int = 1, font: Font = .bitmap) {
        let layout = font.layout(text, scale: scale)
        for (pen, glyph) in layout.glyphs { draw(glyph, x: x + pen, baseline: y + layout.ascent, color: color) }
    }

    /// One glyph with its pen at (x, baseline): each coverage value a `block`-pixel square,
    /// out = image + (color − image) · coverage / 255 per channel, rounded.
    mutating func draw(_ glyph: Glyph, x: Int, baseline: Int, color: RGB) {
        let b = glyph.block, left = x + glyph.left, top = baseline - glyph.top
        for row in 0..<glyph.rows {
            let y0 = max(0, top + row * b), y1 = min(height, top + (row + 1) * b)
            guard y0 < y1 else { continue }
            for column in 0..<glyph.width {
                let a = Int(glyph.coverage[row * glyph.width + column])
                let x0 = max(0, left + column * b), x1 = min(width, left + (column + 1) * b)
                guard a > 0, x0 < x1 else { continue }
                for py in y0..<y1 {
                    for px in x0..<x1 {
                        let o = (py * width + px) * 3
                        if a == 255 {
                            pixels[o] = color.r; pixels[o + 1] = color.g; pixels[o + 2] = color.b
                        } else {
                            pixels[o] = UInt8((Int(pixels[o]) * (255 - a) + Int(color.r) * a + 127) / 255)
                            pixels[o + 1] = UInt8((Int(pixels[o + 1]) * (255 - a) + Int(color.g) * a + 127) / 255)
                            pixels[o + 2] = UInt8((Int(pixels[o + 2]) * (255 - a) + Int(color.b) * a + 127) / 255)
                        }
                    }
                }
            }
        }
    }

    /// A filled tag with `text` in `font`, placed with its bottom-left at (x, bottom) and
    /// shifted to stay inside the image; the text is white or black, whichever reads better on
    /// `background`, with `scale` pixels of padding on each side.
    public mutating func drawLabel(_ text: String, x: Int, bottom: Int, background: RGB, scale: Int, font: Font = .bitmap) {
        let r = labelRectangle(text, x: x, bottom: bottom, scale: scale, font: font)
        fillRectangle(x0: r.left, y0: r.top, x1: r.left + r.width, y1: r.top + r.height, background)
        drawText(text, x: r.left + scale, y: r.top + scale, color: background.luminance > 140 ? .black : .white, scale: scale, font: font)
    }

    /// Where `drawLabel` puts a tag: its pixel rectangle inside the image.
    func labelRectangle(_ text: String, x: Int, bottom: Int, scale: Int, font: Font = .bitmap) -> TagRectangle {
        let pad = scale
        let w = font.width(of: text, scale: scale) + 2 * pad, h = font.lineHeight(scale: scale) + 2 * pad
        return TagRectangle(left: max(0, min(x, width - w)), top: max(0, min(bottom - h, height - h)), width: w, height: h)
    }
}

/// A tag's pixel rectangle (left, top inclusive; width, height in pixels).
struct TagRectangle: Equatable {
    var left, top, width, height: Int
    func overlaps(_ o: TagRectangle) -> Bool {
        left < o.left + o.width && o.left < left + width && top < o.top + o.height && o.top < top + height
    }
}

/// Bottoms for tags so that they do not cover each other: the tags are placed in order (best
/// score first), each at the first of its `candidates` (bottom edges, preferred first) whose
/// rectangle overlaps neither `occupied` nor a tag placed before it, or at its first
/// candidate when every one collides. `rectangle(i, bottom)` gives tag i's rectangle for a
/// bottom edge; the result holds each tag's bottom and rectangle.
func placeTags(count: Int, avoiding occupied: [TagRectangle] = [], candidates: (Int) -> [Int],
               rectangle: (Int, Int) -> TagRectangle) -> [(bottom: Int, rectangle: TagRectangle)] {
    var placed = occupied
    var tags: [(bottom: Int, rectangle: TagRectangle)] = []
    for i in 0..<count {
        let options = candidates(i)
        let free = options.first { b in !placed.contains { $0.overlaps(rectangle(i, b)) } }
        let bottom = free ?? options[0]
        tags.append((bottom, rectangle(i, bottom)))
        placed.append(tags[i].rectangle)
    }
    return tags
}

/// Draws detections (pixel boxes of `image`) with a class-coloured outline and a tag
/// "name 0.87" above the box (inside its top edge when the box touches the top of the image,
/// shifted left when it would leave the image); ground truth, when given, as thin dashed
/// outlines in the class colour with a darker "gt name" tag under the box (inside its bottom
/// edge at the bottom of the image), so a person can compare the two. Outlines are drawn
/// first and tags last, so no outline crosses a tag; a tag that would cover a better
/// detection's tag moves (inside the box's top edge, higher, or under the box), and any
/// overlap left shows the best detection's tag on top. Text is at scale 1 below a 300-pixel
/// short side, 2 from 300, 3 from 600 (in `font`, `Font.standard` unless given: 10, 20 or 30
/// pixels per em, or the bitmap font's 8-, 16- or 24-pixel line); tag text is black or white
/// by the tag's luminance. A tag wider than the image has its class name cut between two
/// characters (grapheme clusters, so never inside one), ending in "…" (or '.' when the font
/// lacks it), and keeps its score.
/// Boxes with non-finite coordinates are skipped; any other box is clipped to the image.
///
/// With `minimumSide`, a small image is first enlarged by an integer factor (nearest
/// neighbour, so pixels stay sharp) until its short side reaches it, so that the tags stay
/// readable next to the shapes; boxes are scaled with it. The factor is capped so that the
/// enlarged image stays within `maximumRenderPixels`.
public func renderDetections(on image: Image, detections: [Detection], classNames: [String],
                             groundTruth: [LabeledObject]? = nil, minimumSide: Int = 0, font: Font = .standard) -> Image {
    let pixels = max(1, image.width * image.height)
    let cap = max(1, Int((Double(maximumRenderPixels) / Double(pixels)).squareRoot()))
    let factor = min(cap, max(1, Int((Double(minimumSide) / Double(max(1, min(image.width, image.height)))).rounded(.up))))
    if factor > 1 {
        let f = Float(factor)
        return renderDetections(on: image.enlarged(by: factor),
                                detections: detections.map { Detection(box: $0.box.scaled(x: f, y: f), classIndex: $0.classIndex, score: $0.score) },
                                classNames: classNames,
                                groundTruth: groundTruth?.map { LabeledObject(classIndex: $0.classIndex, box: $0.box.scaled(x: f, y: f)) },
                                font: font)
    }
    var canvas = image
    let shortSide = min(image.width, image.height)
    let scale = shortSide >= 600 ? 3 : shortSide >= 300 ? 2 : 1
    let thickness = max(2, shortSide / 200)
    func name(_ k: Int) -> String { className(k, in: classNames) }
    // Pixel coordinates of a (finite) box edge, clamped so the conversion to Int cannot trap.
    func pixel(_ v: Float, _ limit: Int) -> Int { Int(min(max(v, -1), Float(limit + 1)).rounded()) }
    let truths = (groundTruth ?? []).filter(\.box.isFinite)
    let found = detections.filter(\.box.isFinite).sorted { $0.score < $1.score }
    for truth in truths {
        canvas.drawRectangle(truth.box, color: RGB.forClass(truth.classIndex), thickness: 1, dashed: true)
    }
    for d in found { canvas.drawRectangle(d.box, color: RGB.forClass(d.classIndex), thickness: thickness) }
    let tagHeight = font.lineHeight(scale: scale) + 2 * scale
    // Tags of overlapping boxes would cover each other: the best detection's tag goes first
    // where it prefers, a later one tries inside its box's top edge, then higher above it,
    // then under the box. Drawn lowest score first, so any overlap left shows the best on top.
    let best = Array(found.reversed())
    let room = image.width - 2 * scale
    let tags = best.map { fittedTag(name($0.classIndex), suffix: " " + String(format: "%.2f", $0.score), room: room, font: font, scale: scale) }
    let placed = placeTags(count: best.count, candidates: { i in
        let y1 = pixel(best[i].box.y1, image.height), y2 = pixel(best[i].box.y2, image.height)
        // Above the box; inside its top edge when there is no room above.
        let preferred = y1 >= tagHeight ? y1 : max(y1, 0) + tagHeight
        return [preferred, max(y1, 0) + tagHeight, y1 - tagHeight, y1 - 2 * tagHeight, y2 + tagHeight]
    }, rectangle: { i, bottom in
        canvas.labelRectangle(tags[i], x: pixel(best[i].box.x1, image.width), bottom: bottom, scale: scale, font: font)
    })
    // Ground-truth tags under their boxes (inside the bottom edge when there is no room
    // below), moved inside the bottom edge or above the box when a detection's tag or an
    // earlier ground-truth tag is there.
    let truthTags = truths.map { fittedTag("gt " + name($0.classIndex), suffix: "", room: room, font: font, scale: scale) }
    let truthPlaced = placeTags(count: truths.count, avoiding: placed.map(\.rectangle), candidates: { i in
        let y1 = pixel(truths[i].box.y1, image.height), y2 = pixel(truths[i].box.y2, image.height)
        let preferred = y2 + tagHeight <= image.height ? y2 + tagHeight : y2
        return [preferred, y2, max(y1, 0) + tagHeight, y1]
    }, rectangle: { i, bottom in
        canvas.labelRectangle(truthTags[i], x: pixel(truths[i].box.x1, image.width), bottom: bottom, scale: scale, font: font)
    })
    for (i, truth) in truths.enumerated() {
        let color = RGB.forClass(truth.classIndex)
        let dark = RGB(UInt8(Float(color.r) * 0.6), UInt8(Float(color.g) * 0.6), UInt8(Float(color.b) * 0.6))
        canvas.drawLabel(truthTags[i], x: pixel(truth.box.x1, image.width), bottom: truthPlaced[i].bottom, background: dark, scale: scale, font: font)
    }
    for i in (0..<best.count).reversed() {
        canvas.drawLabel(tags[i], x: pixel(best[i].box.x1, image.width), bottom: placed[i].bottom,
                         background: RGB.forClass(best[i].classIndex), scale: scale, font: font)
    }
    return canvas
}

/// A tag's text, `name` + `suffix`, when it is at most `room` pixels wide in `font` at
/// `scale`; else the longest prefix of `name`'s characters (grapheme clusters: never part of
/// a multi-byte character, nor a letter without its combining marks) that fits with the
/// font's ellipsis and `suffix`, trailing spaces dropped, and at least one character even
/// when that does not fit. A one-character name is never cut. Binary search: the width
/// grows with the prefix.
func fittedTag(_ name: String, suffix: String, room: Int, font: Font, scale: Int) -> String {
    let characters = Array(name)
    guard characters.count > 1, font.width(of: name + suffix, scale: scale) > room else { return name + suffix }
    let ellipsis = font.ellipsis
    func cut(_ n: Int) -> String {
        var kept = String(characters[..<n])
        while kept.count > 1, kept.last?.isWhitespace == true { kept.removeLast() }
        return kept + ellipsis + suffix
    }
    var (lo, hi) = (1, characters.count - 1)
    while lo < hi {
        let mid = (lo + hi + 1) / 2
        if font.width(of: cut(mid), scale: scale) <= room { lo = mid } else { hi = mid - 1 }
    }
    return cut(lo)
}

/// The largest image `renderDetections` enlarges to (16 megapixels, 48 MB).
public let maximumRenderPixels = 16_000_000
