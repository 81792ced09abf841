import Foundation
import Testing
import Detector

private func randomImage(width: Int, height: Int, seed: UInt64) -> FloatImage {
    var rng = SplitMix64(seed: seed)
    return FloatImage(width: width, height: height, pixels: (0..<(width * height * 3)).map { _ in rng.nextUnitFloat() })
}

private let geometryOnly = AugmentationSettings(flip: 0.5, scale: 0.2, translate: 0.2, hue: 0, saturation: 0, value: 0)

@Suite struct AugmentationTests {
    @Test func noneLeavesImageAndBoxesUnchangedAndDrawsSevenNumbers() {
        let image = randomImage(width: 32, height: 24, seed: 1)
        let objects = [LabeledObject(classIndex: 1, box: BoundingBox(x1: 0.1, y1: 0.2, x2: 0.5, y2: 0.9)),
                       LabeledObject(classIndex: 0, box: BoundingBox(x1: 0.5, y1: 0.5, x2: 0.51, y2: 0.51))]  // under 1 px: kept too
        var rng = SplitMix64(seed: 3)
        var reference = rng
        let (out, boxes) = augment(image, objects: objects, settings: .none, rng: &rng)
        #expect(out == image)
        #expect(boxes == objects)
        for _ in 0..<7 { _ = reference.next() }
        #expect(rng.state == reference.state)
    }

    @Test func flipMirrorsPixelsAndBoxesExactly() {
        let (w, h) = (17, 9)
        let image = randomImage(width: w, height: h, seed: 2)
        let box = BoundingBox(x1: 0.1, y1: 0.2, x2: 0.4, y2: 0.5)
        var rng = SplitMix64(seed: 4)
        let flipOnly = AugmentationSettings(flip: 1, scale: 0, translate: 0, hue: 0, saturation: 0, value: 0)
        let (out, boxes) = augment(image, objects: [LabeledObject(classIndex: 2, box: box)], settings: flipOnly, rng: &rng)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 { #expect(out.pixels[(y * w + x) * 3 + c] == image.pixels[(y * w + (w - 1 - x)) * 3 + c]) }
            }
        }
        #expect(boxes == [LabeledObject(classIndex: 2, box: BoundingBox(x1: 1 - 0.4, y1: 0.2, x2: 1 - 0.1, y2: 0.5))])
        // With p = 0.5, about half of the images are flipped.
        var flips = 0
        let halfFlip = AugmentationSettings(flip: 0.5, scale: 0, translate: 0, hue: 0, saturation: 0, value: 0)
        for seed in 0..<200 {
            var r = SplitMix64(seed: UInt64(seed))
            if augment(image, objects: [], settings: halfFlip, rng: &r).0 != image { flips += 1 }
        }
        #expect(flips > 70 && flips < 130)
    }

    /// A white rectangle on black, zoomed, shifted and flipped: the white pixels stay inside
    /// the transformed box (±1 px of bilinear blur) and fill it.
    @Test func pixelsMoveWithTheirBoxes() throws {
        let (w, h) = (64, 48)
        var pixels = [Float](repeating: 0, count: w * h * 3)
        for y in 10..<30 { for x in 20..<44 { for c in 0..<3 { pixels[(y * w + x) * 3 + c] = 1 } } }
        let image = FloatImage(width: w, height: h, pixels: pixels)
        let object = LabeledObject(classIndex: 0, box: BoundingBox(x1: 20 / 64, y1: 10 / 48, x2: 44 / 64, y2: 30 / 48))
        var kept = 0
        for seed in 0..<40 {
            var rng = SplitMix64(seed: UInt64(seed))
            let (out, boxes) = augment(image, objects: [object], settings: geometryOnly, rng: &rng)
            guard let box = boxes.first?.box.scaled(x: Float(w), y: Float(h)) else { continue }
            kept += 1
            for y in 0..<h {
                for x in 0..<w {
                    let v = out.pixels[(y * w + x) * 3]
                    let (px, py) = (Float(x) + 0.5, Float(y) + 0.5)
                    if v > 0.6 {
                        #expect(px > box.x1 - 1 && px < box.x2 + 1 && py > box.y1 - 1 && py < box.y2 + 1, "seed \(seed) (\(x), \(y))")
                    }
                    if px > box.x1 + 1.5 && px < box.x2 - 1.5 && py > box.y1 + 1.5 && py < box.y2 - 1.5 {
                        #expect(v > 0.99, "seed \(seed) (\(x), \(y)) \(v)")
                    }
                }
            }
        }
        #expect(kept >= 35)
    }

    @Test func boxesStayInsideTheImageWithAPositiveSize() {
        let image = randomImage(width: 64, height: 64, seed: 5)
        var source = SplitMix64(seed: 6)
        for seed in 0..<200 {
            let objects = (0..<5).map { _ in
                LabeledObject(classIndex: source.nextInt(below: 3),
                              box: BoundingBox(centerX: source.nextUnitFloat(), centerY: source.nextUnitFloat(),
                                               width: source.nextFloat(in: 0.02..<0.6), height: source.nextFloat(in: 0.02..<0.6))
                                  .clamped(width: 1, height: 1))
            }
            var rng = SplitMix64(seed: UInt64(seed))
            let (out, boxes) = augment(image, objects: objects, settings: .standard, rng: &rng)
            #expect(out.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
            for b in boxes.map(\.box) {
                #expect(b.x1 >= 0 && b.y1 >= 0 && b.x2 <= 1 && b.y2 <= 1)
                #expect(b.width * 64 >= 2 && b.height * 64 >= 2)
            }
        }
    }

    /// A box at the left edge, shifted by t_x (drawn third, after the flip and the zoom): kept,
    /// shifted and clipped while at least 20% of it shows; dropped when pushed further out.
    @Test func boxPushedOffTheImageIsDropped() {
        let image = randomImage(width: 64, height: 64, seed: 7)
        let shiftOnly = AugmentationSettings(flip: 0, scale: 0, translate: 0.3, hue: 0, saturation: 0, value: 0)
        let object = LabeledObject(classIndex: 1, box: BoundingBox(x1: 0, y1: 0.4, x2: 0.3, y2: 0.6))
        var dropped = 0, kept = 0
        for seed in 0..<200 {
            var rng = SplitMix64(seed: UInt64(seed))
            var copy = rng
            _ = copy.nextUnitFloat(); _ = copy.nextUnitFloat()
            let tx = 0.3 * (2 * copy.nextUnitFloat() - 1), ty = 0.3 * (2 * copy.nextUnitFloat() - 1)
            let (_, boxes) = augment(image, objects: [object], settings: shiftOnly, rng: &rng)
            if 0.3 + tx < 0.2 * 0.3 {
                #expect(boxes.isEmpty, "seed \(seed): t_x \(tx)")
                dropped += 1
            } else if 0.3 + tx > 0.2 * 0.3 + 1e-4 {
                let expected = BoundingBox(x1: max(0, tx), y1: 0.4 + ty, x2: 0.3 + tx, y2: 0.6 + ty)
                #expect(boxes.count == 1 && boxesClose(boxes[0].box, expected, tolerance: 1e-5), "seed \(seed)")
                kept += 1
            }
        }
        #expect(dropped > 5 && kept > 100)
    }

    @Test func sameSeedSameResultOtherSeedDifferent() {
        let image = randomImage(width: 40, height: 40, seed: 8)
        let objects = [LabeledObject(classIndex: 0, box: BoundingBox(x1: 0.3, y1: 0.3, x2: 0.7, y2: 0.7))]
        var a = SplitMix64(seed: 10), b = SplitMix64(seed: 10), c = SplitMix64(seed: 11)
        let x = augment(image, objects: objects, settings: .standard, rng: &a)
        let y = augment(image, objects: objects, settings: .standard, rng: &b)
        let z = augment(image, objects: objects, settings: .standard, rng: &c)
        #expect(x.0 == y.0 && x.1 == y.1)
        #expect(x.0 != z.0 && x.1 != z.1)
    }

    @Test func hsvConversionRoundTrips() {
        var rng = SplitMix64(seed: 12)
        for _ in 0..<1000 {
            let (r, g, b) = (rng.nextUnitFloat(), rng.nextUnitFloat(), rng.nextUnitFloat())
            let hsv = rgbToHSV(r, g, b)
            #expect(hsv.hue >= 0 && hsv.hue < 1)
            let back = hsvToRGB(hsv.hue, hsv.saturation, hsv.value)
            #expect(abs(back.red - r) < 1e-5 && abs(back.green - g) < 1e-5 && abs(back.blue - b) < 1e-5)
        }
        // Hand-computed: orange (1, 0.5, 0) is hue 30° = 1/12, fully saturated.
        let orange = rgbToHSV(1, 0.5, 0)
        #expect(abs(orange.hue - 1.0 / 12) < 1e-7 && orange.saturation == 1 && orange.value == 1)
    }

    @Test func valueJitterScalesEveryChannelByOneGain() throws {
        // Values under 1/1.3, so no channel clamps.
        let image = FloatImage(width: 16, height: 16, pixels: randomImage(width: 16, height: 16, seed: 13).pixels.map { $0 * 0.75 })
        let valueOnly = AugmentationSettings(flip: 0, scale: 0, translate: 0, hue: 0, saturation: 0, value: 0.3)
        var rng = SplitMix64(seed: 14)
        let (out, _) = augment(image, objects: [], settings: valueOnly, rng: &rng)
        let brightest = try #require(image.pixels.indices.max { image.pixels[$0] < image.pixels[$1] })
        let gain = out.pixels[brightest] / image.pixels[brightest]
        #expect(gain >= 0.7 && gain <= 1.3 && abs(gain - 1) > 1e-3)
        for (a, b) in zip(out.pixels, image.pixels) { #expect(abs(a - b * gain) < 1e-5) }
    }

    @Test func hueJitterKeepsSaturationAndValueAndShiftsHueByOneAmount() throws {
        let image = randomImage(width: 16, height: 16, seed: 15)
        let hueOnly = AugmentationSettings(flip: 0, scale: 0, translate: 0, hue: 0.015, saturation: 0, value: 0)
        var rng = SplitMix64(seed: 16)
        let (out, _) = augment(image, objects: [], settings: hueOnly, rng: &rng)
        var shifts: [Float] = []
        for i in stride(from: 0, to: image.pixels.count, by: 3) {
            let before = rgbToHSV(image.pixels[i], image.pixels[i + 1], image.pixels[i + 2])
            let after = rgbToHSV(out.pixels[i], out.pixels[i + 1], out.pixels[i + 2])
            #expect(abs(after.saturation - before.saturation) < 1e-4 && abs(after.value - before.value) < 1e-5)
            guard before.saturation > 0.2 else { continue }
            var shift = after.hue - before.hue
            if shift > 0.5 { shift -= 1 } else if shift < -0.5 { shift += 1 }
            shifts.append(shift)
        }
        let shift = try #require(shifts.first)
        #expect(abs(shift) <= 0.015 + 1e-4 && abs(shift) > 1e-4)
        #expect(shifts.allSatisfy { abs($0 - shift) < 1e-4 })
    }

    @Test func newPaddingStaysGrayUnderColourJitter() {
        let white = FloatImage(width: 32, height: 32, fill: 1)
        var sawPadding = 0
        for seed in 0..<20 {
            var rng = SplitMix64(seed: UInt64(seed))
            let (out, _) = augment(white, objects: [], settings: .standard, rng: &rng)
            for i in stride(from: 0, to: out.pixels.count, by: 3) {
                let (r, g, b) = (out.pixels[i], out.pixels[i + 1], out.pixels[i + 2])
                #expect(r == g && g == b)  // white stays gray under hue and saturation
                if r == 0.5 { sawPadding += 1 }
            }
        }
        #expect(sawPadding > 100)
    }
}
