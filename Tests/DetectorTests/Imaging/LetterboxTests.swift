import Testing
import Detector

@Suite struct LetterboxTests {
    @Test func boxesRoundTripThroughTheTransform() {
        for (sw, sh, tw, th) in [(640, 480, 256, 256), (200, 300, 256, 256), (256, 256, 256, 256), (100, 50, 320, 256)] {
            let t = LetterboxTransform(sourceWidth: sw, sourceHeight: sh, targetWidth: tw, targetHeight: th)
            let box = BoundingBox(x1: 0.13 * Float(sw), y1: 0.2 * Float(sh), x2: 0.77 * Float(sw), y2: 0.91 * Float(sh))
            let back = t.toSource(t.toNetwork(box))
            #expect(abs(back.x1 - box.x1) < 1e-3 && abs(back.y2 - box.y2) < 1e-3)
            let normalised = BoundingBox(x1: 0.13, y1: 0.2, x2: 0.77, y2: 0.91)
            let net = t.sourceNormalisedToNetworkNormalised(normalised)
            let pixels = t.normalisedNetworkToSourcePixels(net)
            #expect(abs(pixels.x1 - box.x1) < 1e-3 && abs(pixels.x2 - box.x2) < 1e-3 && abs(pixels.y1 - box.y1) < 1e-3)
        }
        // 640 x 480 into 256 x 256: scale 0.4, image 256 x 192, 32 rows of padding above.
        let t = LetterboxTransform(sourceWidth: 640, sourceHeight: 480, targetWidth: 256, targetHeight: 256)
        #expect(t.scale == 0.4 && t.padX == 0 && t.padY == 32)
    }

    @Test func identityWhenSizesMatch() {
        var rng = SplitMix64(seed: 2)
        let image = Image(width: 4, height: 3, pixels: (0..<36).map { _ in UInt8(rng.nextInt(below: 256)) })
        let (out, t) = letterbox(image, width: 4, height: 3)
        #expect(t.scale == 1 && t.padX == 0 && t.padY == 0)
        #expect(zip(out.pixels, image.pixels).allSatisfy { abs($0 - Float($1) / 255) < 1e-6 })
    }

    /// 2 x 1 gray image [0, 255] into 4 x 4: scale 2, rows 0 and 3 padding, rows 1-2 bilinear
    /// with centre alignment: source x = (x + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25 → clamped
    /// 0, 0.25, 0.75, 1 → values 0, 63.75, 191.25, 255.
    @Test func handComputedBilinearResizeWithPadding() {
        let image = Image(width: 2, height: 1, pixels: [0, 0, 0, 255, 255, 255])
        let (out, t) = letterbox(image, width: 4, height: 4)
        #expect(t.scale == 2 && t.padY == 1)
        let expected: [Float] = [0, 63.75, 191.25, 255].map { $0 / 255 }
        for y in 0..<4 {
            for x in 0..<4 {
                let v = out.pixels[(y * 4 + x) * 3]
                if y == 0 || y == 3 { #expect(v == 0.5) } else { #expect(abs(v - expected[x]) < 1e-6) }
            }
        }
    }
}

@Suite struct DrawingTests {
    @Test func rectangleOutlineHasTheColourAndInteriorIsUntouched() {
        var image = Image(width: 20, height: 20, fill: (0, 0, 0))
        image.drawRectangle(BoundingBox(x1: 2, y1: 3, x2: 12, y2: 15), color: RGB(255, 0, 0), thickness: 2)
        #expect(image.pixel(x: 2, y: 3) == RGB(255, 0, 0))
        #expect(image.pixel(x: 3, y: 10) == RGB(255, 0, 0))      // second pixel of the left edge
        #expect(image.pixel(x: 11, y: 14) == RGB(255, 0, 0))     // bottom-right corner, inside the box
        #expect(image.pixel(x: 7, y: 9) == RGB(0, 0, 0))
        #expect(image.pixel(x: 12, y: 9) == RGB(0, 0, 0))        // x2 is exclusive
    }

    @Test func drawingFarOutsideTheImageDoesNotCrash() {
        var image = Image(width: 8, height: 8, fill: (1, 2, 3))
        image.drawRectangle(BoundingBox(x1: -1e9, y1: -50, x2: 1e9, y2: 1e30), color: .white)
        image.drawRectangle(BoundingBox(x1: .nan, y1: 0, x2: 3, y2: 3), color: .white)
        image.drawText("hello", x: -100, y: 500, color: .white, scale: 3)
        image.drawLine(x0: -20, y0: -20, x1: 30, y1: 40, color: .white, thickness: 3)
        #expect(image.width == 8 && image.pixels.count == 192)
    }

    /// '1' in the 5 x 7 font: column 2 is the full stem (rows 0-6), the foot spans columns 1-3.
    @Test func glyphPixels() {
        var image = Image(width: 6, height: 8, fill: (0, 0, 0))
        image.drawText("1", x: 0, y: 0, color: .white)
        for row in 0..<7 { #expect(image.pixel(x: 2, y: row) == .white) }
        #expect(image.pixel(x: 1, y: 6) == .white && image.pixel(x: 3, y: 6) == .white)
        #expect(image.pixel(x: 0, y: 0) == .black && image.pixel(x: 4, y: 3) == .black)
        #expect(textWidth("abc", scale: 2) == (3 * 6 - 1) * 2)
    }

    @Test func labelTagStaysInsideForACornerBox() {
        var image = Image(width: 64, height: 64, fill: (0, 0, 0))
        let d = Detection(box: BoundingBox(x1: 50, y1: 0, x2: 64, y2: 10), classIndex: 0, score: 0.99)
        image = renderDetections(on: image, detections: [d], classNames: ["a-very-long-name"])
        // The tag is drawn from the right edge inwards and below the top: the last column has it.
        let tagColour = RGB.forClass(0)
        #expect((0..<12).contains { image.pixel(x: 63, y: $0) == tagColour })
        #expect((0..<64).contains { image.pixel(x: $0, y: 2) == tagColour || image.pixel(x: $0, y: 2) == .white })
    }
}
