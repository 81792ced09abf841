import Testing
import Detector

/// Letterbox resampling against values computed by hand (bilinear, align_corners=False:
/// source x = (x + 0.5) / scale − 0.5, clamped to [0, width − 1]), and the box transform.
@Suite struct LetterboxResizeTests {
    /// Channel `c` of output pixel (x, y) times 255.
    static func value(_ image: FloatImage, _ x: Int, _ y: Int, _ c: Int) -> Float {
        image.pixels[(y * image.width + x) * image.channels + c] * 255
    }

    /// 2 x 2 → 4 x 4, scale 2: source positions −0.25, 0.25, 0.75, 1.25 on each axis, clamped to
    /// 0, 0.25, 0.75, 1. With red a = 0, b = 100 (top), c = 200, d = 40 (bottom):
    /// top row 0, 25, 75, 100; bottom row 200, 160, 80, 40; the rows between are
    /// 0.75 · top + 0.25 · bottom and 0.25 · top + 0.75 · bottom.
    @Test func twoByTwoToFourByFour() {
        let image = Image(width: 2, height: 2, pixels: [0, 255, 7, 100, 155, 7, 200, 55, 7, 40, 215, 7])
        let (out, t) = letterbox(image, width: 4, height: 4)
        #expect(t.scale == 2 && t.padX == 0 && t.padY == 0)
        let red: [[Float]] = [[0, 25, 75, 100], [50, 58.75, 76.25, 85], [150, 126.25, 78.75, 55], [200, 160, 80, 40]]
        for y in 0..<4 {
            for x in 0..<4 {
                #expect(abs(Self.value(out, x, y, 0) - red[y][x]) < 1e-3)
                #expect(abs(Self.value(out, x, y, 1) - (255 - red[y][x])) < 1e-3)   // green = 255 − red
                #expect(abs(Self.value(out, x, y, 2) - 7) < 1e-3)
            }
        }
    }

    /// 4 x 2 → 4 x 4: scale 1, one row of gray padding above and below, the rest an exact copy.
    @Test func fourByTwoGetsPaddingRows() {
        let pixels: [UInt8] = (0..<24).map { UInt8($0 * 10) }
        let (out, t) = letterbox(Image(width: 4, height: 2, pixels: pixels), width: 4, height: 4)
        #expect(t.scale == 1 && t.padX == 0 && t.padY == 1)
        for x in 0..<4 {
            for c in 0..<3 {
                #expect(out.pixels[(0 * 4 + x) * 3 + c] == 0.5 && out.pixels[(3 * 4 + x) * 3 + c] == 0.5)
                #expect(abs(Self.value(out, x, 1, c) - Float(pixels[x * 3 + c])) < 1e-3)
                #expect(abs(Self.value(out, x, 2, c) - Float(pixels[12 + x * 3 + c])) < 1e-3)
            }
        }
    }

    /// At scale 1 with whole-pixel padding the letterbox is a copy (its fast path): every value
    /// is exactly the byte times 1/255, as the interpolation with all tap weights 0 gives; with
    /// half a pixel of padding (5 x 2 → 5 x 5: 1.5 rows) it interpolates between rows instead.
    @Test func scaleOneIsAnExactCopy() {
        var rng = SplitMix64(seed: 9)
        let image = Image(width: 5, height: 3, pixels: (0..<45).map { _ in UInt8(rng.nextInt(below: 256)) })
        let inv: Float = 1 / 255
        let (same, _) = letterbox(image, width: 5, height: 3)
        #expect(same.pixels == image.pixels.map { Float($0) * inv })
        let (padded, t) = letterbox(image, width: 5, height: 5)
        #expect(t.scale == 1 && t.padY == 1)
        #expect(Array(padded.pixels[15..<60]) == image.pixels.map { Float($0) * inv })
        #expect(padded.pixels[0..<15].allSatisfy { $0 == 0.5 } && padded.pixels[60..<75].allSatisfy { $0 == 0.5 })
        let short = Image(width: 5, height: 2, pixels: Array(image.pixels[0..<30]))
        let (half, h) = letterbox(short, width: 5, height: 5)
        #expect(h.padY == 1.5)
        // Row 2 samples source row 0.5: the mean of the two rows.
        for i in 0..<15 {
            let mean = (Float(short.pixels[i]) + Float(short.pixels[15 + i])) / 2
            #expect(abs(half.pixels[30 + i] * 255 - mean) < 1e-3)
        }
    }

    /// 4 x 4 → 2 x 2, scale 0.5: source positions 0.5 and 2.5. For v = 10 x + 40 y (linear, so
    /// bilinear interpolation is exact): 25, 45 / 105, 125.
    @Test func downscaleSamplesBetweenPixels() {
        var pixels: [UInt8] = []
        for y in 0..<4 { for x in 0..<4 { pixels += [UInt8(10 * x + 40 * y), 0, 255] } }
        let (out, _) = letterbox(Image(width: 4, height: 4, pixels: pixels), width: 2, height: 2)
        let expected: [Float] = [25, 45, 105, 125]
        for k in 0..<4 { #expect(abs(Self.value(out, k % 2, k / 2, 0) - expected[k]) < 1e-3) }
    }

    /// The in-place variant writes every value of the caller's buffer (padding included) and
    /// agrees with the allocating one.
    @Test func inPlaceVariantOverwritesTheWholeBuffer() {
        var rng = SplitMix64(seed: 5)
        let image = Image(width: 7, height: 3, pixels: (0..<63).map { _ in UInt8(rng.nextInt(below: 256)) })
        let (reference, expectedTransform) = letterbox(image, width: 10, height: 8)
        var buffer = [Float](repeating: .nan, count: 10 * 8 * 3)
        let t = buffer.withUnsafeMutableBufferPointer { letterbox(image, into: $0, width: 10, height: 8) }
        #expect(t == expectedTransform)
        #expect(buffer == reference.pixels)
        #expect(buffer.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    /// 200 x 300 into 256 x 256: scale 256/300, the image 170.67 wide, 42.67 columns of padding
    /// each side; a box maps by x · s + padX and back, in pixels and normalised.
    @Test func transformOfATallImage() {
        let t = LetterboxTransform(sourceWidth: 200, sourceHeight: 300, targetWidth: 256, targetHeight: 256)
        let s: Float = 256.0 / 300.0
        #expect(abs(t.scale - s) < 1e-6 && abs(t.padX - (256 - 200 * s) / 2) < 1e-4 && t.padY == 0)
        let box = BoundingBox(x1: 10, y1: 20, x2: 190, y2: 280)
        let net = t.toNetwork(box)
        #expect(abs(net.x1 - (10 * s + t.padX)) < 1e-4 && abs(net.y2 - 280 * s) < 1e-4)
        let normalised = BoundingBox(x1: 0.05, y1: 1.0 / 15, x2: 0.95, y2: 280.0 / 300)
        let netNormalised = t.sourceNormalisedToNetworkNormalised(normalised)
        #expect(abs(netNormalised.x1 - net.x1 / 256) < 1e-5 && abs(netNormalised.y2 - net.y2 / 256) < 1e-5)
        let back = t.networkNormalisedToSourceNormalised(netNormalised)
        for (a, b) in [(back.x1, normalised.x1), (back.y1, normalised.y1), (back.x2, normalised.x2), (back.y2, normalised.y2)] {
            #expect(abs(a - b) < 1e-4)
        }
    }

    @Test(arguments: [(640, 480, 256, 256), (31, 97, 320, 192), (256, 256, 256, 256), (1000, 10, 64, 64)])
    func normalisedRoundTrip(_ size: (Int, Int, Int, Int)) {
        let t = LetterboxTransform(sourceWidth: size.0, sourceHeight: size.1, targetWidth: size.2, targetHeight: size.3)
        var rng = SplitMix64(seed: 11)
        for _ in 0..<50 {
            let x = rng.nextFloat(in: 0..<0.8), y = rng.nextFloat(in: 0..<0.8)
            let box = BoundingBox(x1: x, y1: y, x2: x + rng.nextFloat(in: 0.01..<0.2), y2: y + rng.nextFloat(in: 0.01..<0.2))
            let back = t.networkNormalisedToSourceNormalised(t.sourceNormalisedToNetworkNormalised(box))
            #expect(abs(back.x1 - box.x1) < 1e-4 && abs(back.y1 - box.y1) < 1e-4 && abs(back.x2 - box.x2) < 1e-4 && abs(back.y2 - box.y2) < 1e-4)
            let pixels = box.scaled(x: Float(size.0), y: Float(size.1))
            let again = t.toSource(t.toNetwork(pixels))
            #expect(abs(again.x1 - pixels.x1) < 1e-4 * Float(size.0) && abs(again.y2 - pixels.y2) < 1e-4 * Float(size.1))
        }
    }
}
