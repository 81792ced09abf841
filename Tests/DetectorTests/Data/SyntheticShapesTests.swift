import Foundation
import Testing
import Detector

@Suite struct SyntheticShapesTests {
    @Test func sameSeedSameImagesAndLabelsDifferentSeedDifferent() {
        let a = SyntheticShapes(seed: 42), b = SyntheticShapes(seed: 42), c = SyntheticShapes(seed: 43)
        // Image 7 alone equals image 7 made after others (it depends only on seed and index).
        let alone = a.sample(index: 7)
        for i in 0..<7 { _ = b.sample(index: i) }
        let afterOthers = b.sample(index: 7)
        #expect(alone.image == afterOthers.image)
        #expect(alone.objects == afterOthers.objects)
        for i in 0..<5 {
            let x = a.sample(index: i), y = c.sample(index: i)
            #expect(x.image != y.image)
            #expect(x.objects != y.objects)
        }
        #expect(a.sample(index: 0).image != a.sample(index: 1).image)
    }

    @Test func labelsAreValidAndSizesCountsAndImageShapesVary() {
        let generator = SyntheticShapes(seed: 5)
        let allowedSizes: Set<[Int]> = [[256, 256], [320, 240], [240, 320], [384, 256], [256, 384], [200, 300], [300, 200]]
        var counts = Set<Int>(), classes = Set<Int>(), nonSquare = 0
        var smallest: Float = 1, largest: Float = 0
        for i in 0..<80 {
            let (image, objects) = generator.sample(index: i)
            #expect(allowedSizes.contains([image.width, image.height]))
            if image.width != image.height { nonSquare += 1 }
            #expect((1...6).contains(objects.count))
            counts.insert(objects.count)
            let short = Float(min(image.width, image.height))
            for o in objects {
                classes.insert(o.classIndex)
                #expect((0..<3).contains(o.classIndex))
                #expect(o.box.x1 >= 0 && o.box.y1 >= 0 && o.box.x2 <= 1 && o.box.y2 <= 1)
                #expect(o.box.width > 0 && o.box.height > 0)
                // The longer side of the box, in pixels, over the short side of the image.
                let side = max(o.box.width * Float(image.width), o.box.height * Float(image.height)) / short
                #expect(side >= 0.05 - 1e-4 && side <= 0.45 + 1e-4)
                smallest = min(smallest, side); largest = max(largest, side)
            }
            // Limited overlap: IoU at most 0.3, and no box holds another's centre.
            for (k, p) in objects.enumerated() {
                for q in objects[(k + 1)...] {
                    #expect(p.box.iou(with: q.box) <= 0.3 + 1e-5)
                    #expect(!(p.box.x1 < q.box.centerX && q.box.centerX < p.box.x2 && p.box.y1 < q.box.centerY && q.box.centerY < p.box.y2))
                    #expect(!(q.box.x1 < p.box.centerX && p.box.centerX < q.box.x2 && q.box.y1 < p.box.centerY && p.box.centerY < q.box.y2))
                }
            }
        }
        #expect(counts.count >= 5)
        #expect(classes == [0, 1, 2])
        #expect(nonSquare >= 8 && nonSquare <= 35)  // about a quarter of 80
        #expect(smallest < 0.1 && largest > 0.4)
    }

    /// Each shape of the generated scenes, drawn alone on a flat background: the changed pixels
    /// lie inside its label box grown by 1 px, and reach within 1 px of each of its sides.
    @Test func labelIsTheTightBoxOfTheDrawnShape() throws {
        let generator = SyntheticShapes(seed: 9)
        var checked = 0
        for i in 0..<12 {
            let (_, objects) = generator.sample(index: i)
            let (background, shapes) = generator.scene(index: i)
            #expect(shapes.count == objects.count)
            for (shape, object) in zip(shapes, objects) {
                let (w, h) = (Float(background.width), Float(background.height))
                #expect(object.classIndex == shape.classIndex)
                #expect(object.box == shape.bounds.scaled(x: 1 / w, y: 1 / h))
                var flat = Image(width: background.width, height: background.height, fill: (0, 0, 0))
                var white = shape
                white.color = .white
                white.shading = 0
                white.draw(on: &flat)
                try expectTight(flat, box: shape.bounds)
                checked += 1
            }
        }
        #expect(checked >= 20)
    }

    @Test func circleOnAFlatBackgroundHasAntialiasedEdgesAndATightBox() throws {
        let circle = SyntheticShape(classIndex: 0, geometry: .circle(centerX: 20.3, centerY: 30.7, radius: 10.2), color: RGB(200, 200, 200))
        var image = Image(width: 48, height: 48, fill: (40, 40, 40))
        circle.draw(on: &image)
        #expect(boxesClose(circle.bounds, BoundingBox(x1: 10.1, y1: 20.5, x2: 30.5, y2: 40.9), tolerance: 1e-5))
        try expectTight(image, box: circle.bounds, background: 40)
        // The centre is fully covered; edge pixels are blends strictly between the two colours.
        #expect(image.pixel(x: 20, y: 30) == RGB(200, 200, 200))
        let values = stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] }
        #expect(values.filter { $0 > 40 && $0 < 200 }.count > 40)
        // A rotated square: its box is the box of its rotated corners.
        let c = Float(24), r = Float(12)
        let corners = (0..<4).map { k in SIMD2<Float>(c + r * cos(0.3 + Float(k) * .pi / 2), c + r * sin(0.3 + Float(k) * .pi / 2)) }
        let square = SyntheticShape(classIndex: 1, geometry: .polygon(corners), color: .white)
        var canvas = Image(width: 48, height: 48, fill: (0, 0, 0))
        square.draw(on: &canvas)
        #expect(abs(square.bounds.x1 - (c - r * cos(0.3))) < 1e-4)
        #expect(abs(square.bounds.x2 - (c + r * cos(0.3))) < 1e-4)
        try expectTight(canvas, box: square.bounds)
    }

    @Test func writeDatasetIsReproducibleToTheByteAndLoads() throws {
        let one = try Fixtures.temporaryFolder("shapes").path, two = try Fixtures.temporaryFolder("shapes").path
        var calls: [(Int, Int)] = []
        try SyntheticShapes.writeDataset(to: one, trainCount: 5, valCount: 3, seed: 11) { calls.append(($0, $1)) }
        try SyntheticShapes.writeDataset(to: two, trainCount: 5, valCount: 3, seed: 11, progress: nil)
        #expect(calls.count == 1 && calls[0] == (8, 8))
        let files = try FileManager.default.subpathsOfDirectory(atPath: one).filter { $0.hasSuffix(".png") || $0.hasSuffix(".txt") }.sorted()
        #expect(files.count == 1 + 2 * 8)
        for file in files {
            #expect(FileManager.default.contents(atPath: one + "/" + file) == FileManager.default.contents(atPath: two + "/" + file), "\(file)")
        }
        let dataset = try Dataset.load(path: one, classNames: SyntheticShapes.classNames, strict: true)
        #expect(dataset.train.items.count == 5)
        #expect(dataset.validation?.items.count == 3)
        // Files hold exactly what sample(index:) makes; val is another stream.
        let train = SyntheticShapes(seed: 11), val = SyntheticShapes(seed: SyntheticShapes.validationSeed(11))
        for (k, item) in dataset.train.items.enumerated() {
            let expected = train.sample(index: k)
            #expect(try PNG.read(path: item.imagePath) == expected.image)
            #expect(try String(contentsOfFile: item.labelPath, encoding: .utf8) == formatLabels(expected.objects))
        }
        for (k, item) in (dataset.validation?.items ?? []).enumerated() {
            #expect(try PNG.read(path: item.imagePath) == val.sample(index: k).image)
            #expect(try PNG.read(path: item.imagePath) != train.sample(index: k).image)
        }
    }
}

/// The pixels that differ from `background` (in any channel) lie inside `box` grown by 1 px,
/// and the extreme ones are within 1 px of each side of the box (pixel (x, y) spans
/// [x, x + 1) x [y, y + 1)).
func expectTight(_ image: Image, box: BoundingBox, background: UInt8 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws {
    var minX = Int.max, minY = Int.max, maxX = Int.min, maxY = Int.min
    for y in 0..<image.height {
        for x in 0..<image.width {
            let p = image.pixel(x: x, y: y)
            if p.r != background || p.g != background || p.b != background {
                minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
            }
        }
    }
    try #require(minX <= maxX, "nothing drawn", sourceLocation: sourceLocation)
    #expect(Float(minX) >= box.x1 - 1 && Float(maxX + 1) <= box.x2 + 1, "x \(minX)...\(maxX) vs \(box)", sourceLocation: sourceLocation)
    #expect(Float(minY) >= box.y1 - 1 && Float(maxY + 1) <= box.y2 + 1, "y \(minY)...\(maxY) vs \(box)", sourceLocation: sourceLocation)
    #expect(Float(minX) <= box.x1 + 1 && Float(maxX + 1) >= box.x2 - 1, "x \(minX)...\(maxX) vs \(box)", sourceLocation: sourceLocation)
    #expect(Float(minY) <= box.y1 + 1 && Float(maxY + 1) >= box.y2 - 1, "y \(minY)...\(maxY) vs \(box)", sourceLocation: sourceLocation)
}
