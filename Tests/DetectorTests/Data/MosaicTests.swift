import Foundation
import Testing
import Detector

@Suite struct MosaicTests {
    static let side = 64

    /// Image k: background (0, 0, 0.2 k + 0.1), two solid boxes of classes 2k and 2k + 1 drawn
    /// on whole pixels (so their half-size images are exact 2x2 means), labelled exactly.
    static func sources() -> ([FloatImage], [[LabeledObject]]) {
        var images: [FloatImage] = [], labels: [[LabeledObject]] = []
        let boxes = [(10, 12, 30, 40), (44, 2, 62, 20)]   // x1, y1, x2, y2 in pixels
        for k in 0..<4 {
            var pixels = [Float](repeating: 0, count: side * side * 3)
            for i in 0..<(side * side) { pixels[3 * i + 2] = 0.2 * Float(k) + 0.1 }
            var objects: [LabeledObject] = []
            for (b, (x1, y1, x2, y2)) in boxes.enumerated() {
                let c = 2 * k + b
                for y in y1..<y2 { for x in x1..<x2 { let o = (y * side + x) * 3; pixels[o] = colour(c).0; pixels[o + 1] = colour(c).1; pixels[o + 2] = 0 } }
                let s = Float(side)
                objects.append(LabeledObject(classIndex: c, box: BoundingBox(x1: Float(x1) / s, y1: Float(y1) / s, x2: Float(x2) / s, y2: Float(y2) / s)))
            }
            images.append(FloatImage(width: side, height: side, pixels: pixels))
            labels.append(objects)
        }
        return (images, labels)
    }

    /// Class c's colour (red, green), distinct for every class and from every background.
    static func colour(_ c: Int) -> (Float, Float) { (Float(c + 1) / 10, 1 - Float(c + 1) / 10) }

    static func pixel(_ image: FloatImage, _ x: Int, _ y: Int) -> [Float] {
        Array(image.pixels[((y * image.width + x) * 3)..<((y * image.width + x) * 3 + 3)])
    }

    // MARK: Layout

    @Test func layoutByHand() {
        let centred = MosaicLayout(width: 64, height: 64, centreX: 32, centreY: 32, imageScale: 0.5)
        #expect((0..<4).map { centred.placement($0).x } == [0, 32, 0, 32])
        #expect((0..<4).map { centred.placement($0).y } == [0, 0, 32, 32])
        #expect((0..<4).allSatisfy { centred.visible($0).columns.count == 32 && centred.visible($0).rows.count == 32 })
        let off = MosaicLayout(width: 64, height: 64, centreX: 16, centreY: 40, imageScale: 0.5)
        let p = off.placement(0)
        #expect([p.x, p.y, p.width, p.height] == [Int](arrayLiteral: -16, 8, 32, 32))
        #expect(off.visible(0).columns == 0..<16 && off.visible(0).rows == 8..<40)
        #expect(off.visible(1).columns == 16..<48 && off.visible(1).rows == 8..<40)
        #expect(off.visible(2).columns == 0..<16 && off.visible(2).rows == 40..<64)
        #expect(off.visible(3).columns == 16..<48 && off.visible(3).rows == 40..<64)
    }

    /// Each region of the canvas shows its image, the rest is the letterbox gray.
    @Test func quadrantsShowTheirImagesAndTheRestIsGray() {
        let images = (0..<4).map { k in FloatImage(width: 64, height: 64, fill: 0.1 * Float(k + 1)) }
        let layout = MosaicLayout(width: 64, height: 64, centreX: 16, centreY: 40, imageScale: 0.5)
        let (out, boxes) = mosaic(images, objects: [[], [], [], []], layout: layout, settings: .standard(epochs: 10))
        #expect(boxes.isEmpty)
        for y in 0..<64 {
            for x in 0..<64 {
                let expected: Float
                if y < 8 || x >= 48 { expected = letterboxPadValue }
                else { expected = 0.1 * Float((y < 40 ? 0 : 2) + (x < 16 ? 0 : 1) + 1) }
                #expect(Self.pixel(out, x, y) == [expected, expected, expected], "(\(x), \(y))")
            }
        }
    }

    /// At scale ½ the bilinear resample with aligned centres is the mean of each 2x2 block.
    @Test func halfScaleIsTheMeanOfEach2x2Block() {
        var rng = SplitMix64(seed: 6)
        let images = (0..<4).map { _ in FloatImage(width: 64, height: 64, pixels: (0..<(64 * 64 * 3)).map { _ in rng.nextUnitFloat() }) }
        let layout = MosaicLayout(width: 64, height: 64, centreX: 32, centreY: 32, imageScale: 0.5)
        let (out, _) = mosaic(images, objects: [[], [], [], []], layout: layout, settings: .standard(epochs: 10))
        for k in 0..<4 {
            let p = layout.placement(k)
            for y in 0..<32 {
                for x in 0..<32 {
                    let canvas = Self.pixel(out, p.x + x, p.y + y)
                    for c in 0..<3 {
                        let s = images[k].pixels
                        func at(_ i: Int, _ j: Int) -> Float { s[(j * 64 + i) * 3 + c] }
                        let mean = (at(2 * x, 2 * y) + at(2 * x + 1, 2 * y) + at(2 * x, 2 * y + 1) + at(2 * x + 1, 2 * y + 1)) / 4
                        #expect(abs(canvas[c] - mean) < 1e-6)
                    }
                }
            }
        }
    }

    // MARK: Labels on the pixels

    /// Solid boxes through random mosaics: every pixel inside an output box has the box's
    /// colour, and no pixel within 2 px outside it has; over the seeds some boxes are clipped
    /// and some dropped. (The source boxes have even pixel edges, so the mosaic's have whole
    /// pixel edges and a shift of one pixel would fail both checks.)
    @Test func labelsLandOnTheirPixels() {
        let (images, labels) = Self.sources()
        let settings = MosaicSettings.standard(epochs: 10)
        var clipped = 0, dropped = 0
        for seed in 0..<24 {
            var rng = SplitMix64(seed: UInt64(seed))
            let (out, boxes) = mosaic(images, objects: labels, settings: settings, rng: &rng)
            dropped += 8 - boxes.count
            #expect(Set(boxes.map(\.classIndex)).count == boxes.count)
            for object in boxes {
                let b = object.box.scaled(x: 64, y: 64)
                #expect(b.x1 >= 0 && b.y1 >= 0 && b.x2 <= 64 && b.y2 <= 64)
                let full = labels[object.classIndex / 2][object.classIndex % 2].box
                if abs(b.width - full.width * 32) > 1e-4 || abs(b.height - full.height * 32) > 1e-4 { clipped += 1 }
                let (r, g) = Self.colour(object.classIndex)
                var inside = 0
                for y in 0..<64 {
                    for x in 0..<64 {
                        // Pixel [x, x + 1) x [y, y + 1); the box edges are whole pixels here.
                        let (left, top) = (Float(x), Float(y))
                        let p = Self.pixel(out, x, y)
                        let isColour = p == [r, g, 0]
                        if left >= b.x1 && left + 1 <= b.x2 && top >= b.y1 && top + 1 <= b.y2 {
                            #expect(isColour, "seed \(seed) class \(object.classIndex): (\(x), \(y)) inside \(b) is \(p)")
                            inside += 1
                        }
                        // Outside the box by a gap of less than 2 px (touching included).
                        let gap = max(b.x1 - (left + 1), left - b.x2, b.y1 - (top + 1), top - b.y2)
                        if gap >= 0 && gap < 2 {
                            #expect(!isColour, "seed \(seed) class \(object.classIndex): (\(x), \(y)) outside \(b) has its colour")
                        }
                    }
                }
                #expect(inside > 0)
            }
        }
        #expect(clipped > 0 && dropped > 0, "clipped \(clipped), dropped \(dropped)")
    }

    /// The keep rule, on image 0 with the centre at (16, 16): it shows the bottom-right quarter
    /// of image 0, in canvas pixels 0..<16 on both axes (image x = 0.5 is canvas 0).
    @Test func clippingRules() {
        let layout = MosaicLayout(width: 64, height: 64, centreX: 16, centreY: 16, imageScale: 0.5)
        let images = (0..<4).map { _ in FloatImage(width: 64, height: 64, fill: 0.3) }
        func kept(_ box: BoundingBox, image k: Int = 0, settings: MosaicSettings = .standard(epochs: 10)) -> BoundingBox? {
            var objects: [[LabeledObject]] = [[], [], [], []]
            objects[k] = [LabeledObject(classIndex: 1, box: box)]
            let boxes = mosaic(images, objects: objects, layout: layout, settings: settings).1
            return boxes.first.map { $0.box.scaled(x: 64, y: 64) }
        }
        func close(_ a: BoundingBox?, _ b: BoundingBox) -> Bool {
            guard let a else { return false }
            return abs(a.x1 - b.x1) < 1e-5 && abs(a.y1 - b.y1) < 1e-5 && abs(a.x2 - b.x2) < 1e-5 && abs(a.y2 - b.y2) < 1e-5
        }
        // Fully visible: moved and halved.
        #expect(close(kept(BoundingBox(x1: 0.5, y1: 0.5, x2: 0.9, y2: 0.9)), BoundingBox(x1: 0, y1: 0, x2: 12.8, y2: 12.8)))
        // Half cut off on the left: clipped at the canvas edge, kept (50% ≥ 20%).
        #expect(close(kept(BoundingBox(x1: 0.3, y1: 0.6, x2: 0.7, y2: 0.8)), BoundingBox(x1: 0, y1: 3.2, x2: 6.4, y2: 9.6)))
        // 1.6 px of it visible: under 2 px, dropped.
        #expect(kept(BoundingBox(x1: 0.1, y1: 0.6, x2: 0.55, y2: 0.8)) == nil)
        // 3.2 x 3.2 px of 19.2 x 19.2 visible (2.8%): dropped by the area rule.
        #expect(kept(BoundingBox(x1: 0, y1: 0, x2: 0.6, y2: 0.6)) == nil)
        // A quarter visible (2 of 8 px wide, fully tall; exact in Float): kept by default (20%),
        // kept with the fraction at exactly 0.25 (the comparison is inclusive), dropped with the
        // next Float above it.
        let quarter = BoundingBox(x1: 0.3125, y1: 0.5, x2: 0.5625, y2: 0.75)
        #expect(kept(quarter) == BoundingBox(x1: 0, y1: 0, x2: 2, y2: 8))
        var rule = MosaicSettings.standard(epochs: 10)
        rule.minimumVisibleFraction = 0.25
        #expect(kept(quarter, settings: rule) == BoundingBox(x1: 0, y1: 0, x2: 2, y2: 8))
        rule.minimumVisibleFraction = Float(0.25).nextUp
        #expect(kept(quarter, settings: rule) == nil)
        // A box under 2 px wide in the mosaic (0.05 of the image: 1.6 px) goes even when fully visible.
        #expect(kept(BoundingBox(x1: 0.6, y1: 0.6, x2: 0.65, y2: 0.9)) == nil)
        // Image 3 starts at the centre: (16 + 32x, 16 + 32y).
        #expect(kept(BoundingBox(x1: 0.25, y1: 0.5, x2: 0.75, y2: 1), image: 3) == BoundingBox(x1: 24, y1: 32, x2: 40, y2: 48))
        // A source box reaching outside its image counts only its part inside the image.
        #expect(close(kept(BoundingBox(x1: 0.5, y1: 0.5, x2: 1.5, y2: 0.9)), BoundingBox(x1: 0, y1: 0, x2: 16, y2: 12.8)))
        // Labels come in image order, then label order.
        var objects: [[LabeledObject]] = [[], [], [], []]
        for k in 0..<4 {
            objects[k] = [LabeledObject(classIndex: 2 * k, box: BoundingBox(x1: 0.5, y1: 0.5, x2: 0.9, y2: 0.9)),
                          LabeledObject(classIndex: 2 * k + 1, box: BoundingBox(x1: 0.5, y1: 0.5, x2: 0.7, y2: 0.7))]
        }
        #expect(mosaic(images, objects: objects, layout: layout, settings: .standard(epochs: 10)).1.map(\.classIndex) == Array(0..<8))
    }

    // MARK: Randomness

    /// The same seed gives the same mosaic, bit for bit; exactly two numbers are drawn; the
    /// centre covers every whole pixel from ⌈0.25 W⌉ to ⌊0.75 W⌋ and no other.
    @Test func deterministicFromTheSeed() {
        let (images, labels) = Self.sources()
        var a = SplitMix64(seed: 11), b = SplitMix64(seed: 11)
        let first = mosaic(images, objects: labels, settings: .standard(epochs: 10), rng: &a)
        let second = mosaic(images, objects: labels, settings: .standard(epochs: 10), rng: &b)
        #expect(first.0.pixels.map(\.bitPattern) == second.0.pixels.map(\.bitPattern) && first.1 == second.1)
        var reference = SplitMix64(seed: 11)
        _ = reference.next(); _ = reference.next()
        #expect(a.state == reference.state)
        var xs = Set<Int>(), ys = Set<Int>()
        for seed in 0..<3000 {
            var rng = SplitMix64(seed: UInt64(seed))
            let layout = mosaicLayout(width: 64, height: 40, settings: .standard(epochs: 10), rng: &rng)
            xs.insert(layout.centreX); ys.insert(layout.centreY)
        }
        #expect(xs == Set(16...48) && ys == Set(10...30))
        var other = SplitMix64(seed: 12)
        #expect(mosaic(images, objects: labels, settings: .standard(epochs: 10), rng: &other).0 != first.0)
    }

    @Test func partnersAreDeterministicAndInRange() {
        var a = SplitMix64(seed: 3), b = SplitMix64(seed: 3)
        let partners = mosaicPartners(of: 5, count: 10, rng: &a)
        #expect(partners == mosaicPartners(of: 5, count: 10, rng: &b))
        #expect(partners.count == 3 && partners.allSatisfy { (0..<10).contains($0) })
        var reference = SplitMix64(seed: 3)
        for _ in 0..<3 { _ = reference.next() }
        #expect(a.state == reference.state)
        var one = SplitMix64(seed: 1)
        #expect(mosaicPartners(of: 0, count: 1, rng: &one) == [0, 0, 0])
        var seen = Set<Int>()
        var rng = SplitMix64(seed: 8)
        for _ in 0..<200 { seen.formUnion(mosaicPartners(of: 0, count: 7, rng: &rng)) }
        #expect(seen == Set(0..<7))
    }

    // MARK: Schedule

    /// Off for the last tenth of the epochs; nothing drawn when off, one number when on.
    @Test func scheduleClosesForTheLastEpochs() {
        let s = MosaicSettings.standard(epochs: 40)
        #expect(s.closeEpochs == 4 && s.probability == 1)
        #expect(s.isActive(epoch: 35, epochs: 40) && !s.isActive(epoch: 36, epochs: 40) && !s.isActive(epoch: 39, epochs: 40))
        #expect(MosaicSettings.standard(epochs: 3).closeEpochs == 1 && MosaicSettings.standard(epochs: 100).closeEpochs == 10)
        #expect(!MosaicSettings.off.isActive(epoch: 0, epochs: 40))
        var rng = SplitMix64(seed: 2)
        let before = rng.state
        #expect(!s.isApplied(epoch: 37, epochs: 40, rng: &rng) && rng.state == before)
        #expect(!MosaicSettings.off.isApplied(epoch: 0, epochs: 40, rng: &rng) && rng.state == before)
        #expect(s.isApplied(epoch: 0, epochs: 40, rng: &rng) && rng.state != before)
        var half = MosaicSettings(probability: 0.5, closeEpochs: 0)
        var count = 0
        for _ in 0..<400 { if half.isApplied(epoch: 0, epochs: 1, rng: &rng) { count += 1 } }
        #expect(count > 150 && count < 250)
        #expect(half.invalidSetting == nil)
        half.probability = 1.5
        #expect(half.invalidSetting != nil)
        var scale = MosaicSettings.standard(epochs: 10)
        scale.imageScale = 0
        #expect(scale.invalidSetting != nil)
    }
}
