import Testing
@testable import Detector

/// `renderDetections` and the text primitives: where boxes, tags and glyphs land, pixel by
/// pixel, in the built-in bitmap font (whose metrics are fixed; the font files' are tested
/// in RenderingFontTests).
@Suite struct RenderingTests {
    static let black = Image(width: 100, height: 100, fill: (0, 0, 0))

    /// A 100-pixel image: scale 1 text, 2-pixel outlines; tags are 8 + 2 = 10 pixels high.
    @Test func outlineHasTheClassColourAndTheTagSitsAboveTheBox() {
        let d = Detection(box: BoundingBox(x1: 10, y1: 20, x2: 40, y2: 50), classIndex: 2, score: 0.5)
        let image = renderDetections(on: Self.black, detections: [d], classNames: ["a", "b", "c"], font: .bitmap)
        let color = RGB.forClass(2)
        #expect(image.pixel(x: 10, y: 35) == color && image.pixel(x: 11, y: 35) == color)   // left edge, 2 px
        #expect(image.pixel(x: 39, y: 35) == color && image.pixel(x: 38, y: 35) == color)   // right edge (x2 exclusive)
        #expect(image.pixel(x: 12, y: 35) == .black && image.pixel(x: 25, y: 35) == .black && image.pixel(x: 40, y: 35) == .black)
        // Tag "c 0.50": 6 characters, (6 · 6 − 1) + 2 = 37 pixels wide, rows 10...19, from x = 10.
        for x in [10, 46] { #expect(image.pixel(x: x, y: 10) == color && image.pixel(x: x, y: 19) == color) }
        #expect(image.pixel(x: 47, y: 15) == .black && image.pixel(x: 9, y: 15) == .black && image.pixel(x: 20, y: 9) == .black)
    }

    /// Two boxes of one class, the second 2 pixels lower: the better one's tag sits above its
    /// box (rows 20...29); the other's preferred place (rows 22...31) would cover it, so it
    /// moves inside its own box's top edge (rows 32...41), and neither tag's text is cut.
    @Test func overlappingTagsMoveApart() {
        let better = Detection(box: BoundingBox(x1: 10, y1: 30, x2: 60, y2: 80), classIndex: 1, score: 0.9)
        let worse = Detection(box: BoundingBox(x1: 14, y1: 32, x2: 64, y2: 82), classIndex: 1, score: 0.3)
        let image = renderDetections(on: Self.black, detections: [worse, better], classNames: ["a", "b"], font: .bitmap)
        let color = RGB.forClass(1)
        // "b 0.90" is 37 pixels wide from x = 10; "b 0.30" from x = 14.
        #expect(image.pixel(x: 10, y: 20) == color && image.pixel(x: 10, y: 29) == color)
        #expect(image.pixel(x: 50, y: 32) == color && image.pixel(x: 50, y: 41) == color)
        #expect(image.pixel(x: 50, y: 25) == .black)   // right of the better tag, above the worse one
    }

    /// A ground-truth box right above a detection: its tag's place under the box (rows
    /// 40...49) is the detection's tag's, so it goes inside its bottom edge (rows 30...39).
    @Test func groundTruthTagMakesWayForADetectionTag() {
        let d = Detection(box: BoundingBox(x1: 10, y1: 50, x2: 60, y2: 90), classIndex: 0, score: 0.9)
        let truth = LabeledObject(classIndex: 1, box: BoundingBox(x1: 10, y1: 10, x2: 50, y2: 40))
        let image = renderDetections(on: Self.black, detections: [d], classNames: ["a", "b"], groundTruth: [truth], font: .bitmap)
        let c = RGB.forClass(1)
        let dark = RGB(UInt8(Float(c.r) * 0.6), UInt8(Float(c.g) * 0.6), UInt8(Float(c.b) * 0.6))
        #expect(image.pixel(x: 10, y: 30) == dark && image.pixel(x: 10, y: 39) == dark)
        #expect(image.pixel(x: 10, y: 40) == RGB.forClass(0) && image.pixel(x: 10, y: 49) == RGB.forClass(0))
    }

    @Test func tagPlacementTakesTheFirstFreeCandidate() {
        let rect = { (i: Int, bottom: Int) in TagRectangle(left: 0, top: bottom - 10, width: 30, height: 10) }
        // All three prefer bottom 20; the second and third fall back in order.
        let bottoms = placeTags(count: 3, candidates: { _ in [20, 30, 40] }, rectangle: rect).map(\.bottom)
        #expect(bottoms == [20, 30, 40])
        // Nowhere free: the preferred place.
        #expect(placeTags(count: 2, candidates: { _ in [20] }, rectangle: rect).map(\.bottom) == [20, 20])
    }

    /// A long label of a box in the top-right corner: shifted left to end at the image's edge
    /// and moved inside the box's top edge (rows 0...9).
    @Test func cornerTagStaysWhole() {
        let d = Detection(box: BoundingBox(x1: 90, y1: 0, x2: 100, y2: 30), classIndex: 0, score: 0.25)
        let image = renderDetections(on: Self.black, detections: [d], classNames: ["abcdefgh"], font: .bitmap)
        let color = RGB.forClass(0)
        // "abcdefgh 0.25": 13 characters, 79 pixels wide, so columns 21...99.
        #expect(image.pixel(x: 21, y: 0) == color && image.pixel(x: 99, y: 9) == color && image.pixel(x: 21, y: 9) == color)
        #expect(image.pixel(x: 20, y: 5) == .black && image.pixel(x: 50, y: 10) == .black)
    }

    /// In a 64-pixel image, at most 10 characters fit: "a-ve. 0.90", 61 pixels from x = 2.
    @Test func tooLongANameIsCutToFit() {
        let d = Detection(box: BoundingBox(x1: 2, y1: 30, x2: 40, y2: 60), classIndex: 1, score: 0.9)
        let image = renderDetections(on: Image(width: 64, height: 64, fill: (0, 0, 0)), detections: [d], classNames: ["", "a-very-long-name"], font: .bitmap)
        let color = RGB.forClass(1)
        #expect(image.pixel(x: 2, y: 20) == color && image.pixel(x: 62, y: 20) == color)
        #expect(image.pixel(x: 63, y: 25) == .black && image.pixel(x: 1, y: 25) == .black)
        // The same tag drawn directly matches, character for character.
        var expected = Image(width: 64, height: 64, fill: (0, 0, 0))
        expected.drawLabel("a-ve. 0.90", x: 2, bottom: 30, background: color, scale: 1)
        for y in 20..<30 { for x in 0..<64 { #expect(image.pixel(x: x, y: y) == expected.pixel(x: x, y: y)) } }
    }

    /// Ground truth: a dashed 1-pixel outline (6 on, 6 off from the left corner) and a darker
    /// "gt name" tag under the box.
    @Test func groundTruthIsDashedWithATagBelow() {
        let truth = LabeledObject(classIndex: 3, box: BoundingBox(x1: 20, y1: 20, x2: 80, y2: 60))
        let image = renderDetections(on: Self.black, detections: [], classNames: ["a", "b", "c", "d"], groundTruth: [truth], font: .bitmap)
        let color = RGB.forClass(3)
        for x in 20..<26 { #expect(image.pixel(x: x, y: 20) == color) }
        for x in 26..<32 { #expect(image.pixel(x: x, y: 20) == .black) }
        #expect(image.pixel(x: 20, y: 21) == color && image.pixel(x: 21, y: 21) == .black)   // 1 pixel thick
        let dark = RGB(UInt8(Float(color.r) * 0.6), UInt8(Float(color.g) * 0.6), UInt8(Float(color.b) * 0.6))
        #expect(image.pixel(x: 20, y: 60) == dark && image.pixel(x: 20, y: 69) == dark && image.pixel(x: 20, y: 70) == .black)
    }

    /// Tag text is white on a dark tag and black on a light one; '1' has its stem in glyph
    /// column 2, so at (1 + 2, 1...7) inside a tag with 1 pixel of padding.
    @Test func tagTextContrastsWithTheTag() {
        for (background, ink) in [(RGB(0, 130, 200), RGB.white), (RGB(245, 130, 48), RGB.black), (RGB(20, 20, 20), RGB.white)] {
            var image = Image(width: 20, height: 20, fill: (90, 90, 90))
            image.drawLabel("1", x: 0, bottom: 10, background: background, scale: 1)
            for y in 1...7 { #expect(image.pixel(x: 3, y: y) == ink) }
            #expect(image.pixel(x: 0, y: 0) == background && image.pixel(x: 6, y: 9) == background && image.pixel(x: 7, y: 5) == RGB(90, 90, 90))
        }
    }

    /// 'g' has a descender: glyph row 7 holds its tail in columns 1-3.
    @Test func descenderRow() {
        var image = Image(width: 6, height: 9, fill: (0, 0, 0))
        image.drawText("g", x: 0, y: 0, color: .white)
        #expect((1...3).allSatisfy { image.pixel(x: $0, y: 7) == .white })
        #expect(image.pixel(x: 0, y: 7) == .black && image.pixel(x: 4, y: 6) == .white && image.pixel(x: 2, y: 1) == .black)
        #expect(textHeight(scale: 2) == 16)
        // Scale 2: each font pixel is a 2 x 2 square.
        var big = Image(width: 12, height: 18, fill: (0, 0, 0))
        big.drawText("g", x: 0, y: 0, color: .white)
        big.drawText("g", x: 0, y: 0, color: .white, scale: 2)
        #expect(big.pixel(x: 2, y: 14) == .white && big.pixel(x: 3, y: 15) == .white && big.pixel(x: 1, y: 15) == .black)
    }

    /// The bitmap font alone has printable ASCII only.
    @Test func unknownCharactersDrawAsQuestionMarks() {
        var a = Image(width: 12, height: 8, fill: (0, 0, 0)), b = a
        a.drawText("é\u{7}", x: 0, y: 0, color: .white)
        b.drawText("??", x: 0, y: 0, color: .white)
        #expect(a == b && a.pixels.contains(255))
    }

    /// Diverged networks give absurd boxes: nothing traps, nothing is drawn outside.
    @Test func absurdBoxesDoNotCrash() {
        let boxes = [BoundingBox(x1: .nan, y1: 0, x2: 5, y2: 5), BoundingBox(x1: -1e30, y1: -1e30, x2: 1e30, y2: 1e30),
                     BoundingBox(x1: .infinity, y1: 0, x2: .infinity, y2: 3), BoundingBox(x1: 500, y1: 500, x2: 600, y2: 600),
                     BoundingBox(x1: 50, y1: 50, x2: 40, y2: 40)]
        let image = renderDetections(on: Image(width: 16, height: 16, fill: (0, 0, 0)),
                                     detections: boxes.enumerated().map { Detection(box: $1, classIndex: $0 - 2, score: .nan) },
                                     classNames: ["a"], groundTruth: boxes.map { LabeledObject(classIndex: 99, box: $0) })
        #expect(image.width == 16 && image.height == 16 && image.pixels.count == 16 * 16 * 3)
        // The huge finite box's outline runs along the image's border.
        #expect(image.pixel(x: 0, y: 15) != .black)
    }

    /// `minimumSide` enlarges by an integer factor (here 4) and scales the boxes with it; the
    /// factor is capped so a thin strip cannot blow up memory.
    @Test func smallImagesAreEnlarged() {
        let d = Detection(box: BoundingBox(x1: 10, y1: 20, x2: 40, y2: 45), classIndex: 0, score: 0.5)
        let image = renderDetections(on: Image(width: 100, height: 50, fill: (0, 0, 0)), detections: [d], classNames: ["a"], minimumSide: 200)
        #expect(image.width == 400 && image.height == 200)
        #expect(image.pixel(x: 40, y: 120) == RGB.forClass(0) && image.pixel(x: 39, y: 120) == .black)
        let strip = renderDetections(on: Image(width: 10, height: 20_000, fill: (0, 0, 0)), detections: [], classNames: [], minimumSide: 512)
        #expect(strip.width * strip.height <= maximumRenderPixels && strip.width == 80)
    }
}
