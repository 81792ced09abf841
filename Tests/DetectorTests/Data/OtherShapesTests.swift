import Foundation
import Testing
@testable import Detector

@Suite struct OtherShapesTests {
    @Test func sameSeedSameBytesAnyOrderDifferentSeedDifferent() {
        let a = OtherShapes(seed: 42), b = OtherShapes(seed: 42), c = OtherShapes(seed: 43)
        let alone = a.sample(index: 6)
        for i in 0..<6 { _ = b.sample(index: i) }
        let afterOthers = b.sample(index: 6)
        #expect(alone.image == afterOthers.image)
        #expect(alone.objects == afterOthers.objects)
        for i in 0..<4 {
            #expect(a.sample(index: i).image != c.sample(index: i).image)
        }
        // Not the training generator's stream: another image for the same seed and index.
        #expect(OtherShapes(seed: 1).sample(index: 0).image != SyntheticShapes(seed: 1).sample(index: 0).image)
    }

    @Test func labelsAreInsideTheImageAndSizesStylesAndClutterVary() {
        let generator = OtherShapes(seed: 3)
        let trainingSizes: Set<[Int]> = [[256, 256], [320, 240], [240, 320], [384, 256], [256, 384], [200, 300], [300, 200]]
        let allowed = Set(OtherShapes.sizes.map { [$0.0, $0.1] })
        var classes = Set<Int>(), sizes = Set<[Int]>(), fills = Set<String>()
        var tiny = 0, large = 0, clutter = 0, textItems = 0, blurred = 0, maximumCount = 0
        for i in 0..<60 {
            let scene = generator.scene(index: i)
            let objects = scene.labels
            #expect(allowed.contains([scene.width, scene.height]))
            #expect(!trainingSizes.contains([scene.width, scene.height]))
            sizes.insert([scene.width, scene.height])
            #expect((1...OtherShapes.maximumObjects).contains(objects.count))
            maximumCount = max(maximumCount, objects.count)
            if scene.blurred { blurred += 1 }
            let short = Float(min(scene.width, scene.height))
            for o in objects {
                classes.insert(o.classIndex)
                #expect((0..<3).contains(o.classIndex))
                #expect(o.box.x1 >= 0 && o.box.y1 >= 0 && o.box.x2 <= 1 && o.box.y2 <= 1)
                #expect(o.box.width > 0 && o.box.height > 0)
                let side = max(o.box.width * Float(scene.width), o.box.height * Float(scene.height))
                #expect(side >= OtherShapes.minimumExtent - 1e-3 && side <= 0.75 * short + 1e-3)
                if side < 0.06 * short { tiny += 1 }
                if side > 0.45 * short { large += 1 }
            }
            for item in scene.items {
                if item.classIndex == nil { clutter += 1 }
                switch item.kind {
                case .text: textItems += 1
                case let .region(_, style) where item.classIndex != nil:
                    switch style.fill {
                    case .empty: fills.insert(style.outlineWidth < 2.5 ? "thin outline" : "thick outline")
                    case .solid:
                        fills.insert("solid + outline")
                        #expect(style.outline != nil)  // never the training set's plain solid
                    case .gradient: fills.insert("gradient")
                    case .hatch: fills.insert("hatch")
                    case .checker: fills.insert("checker")
                    }
                default: break
                }
            }
        }
        #expect(classes == [0, 1, 2])
        #expect(sizes.count >= 7)
        #expect(fills == ["thin outline", "thick outline", "solid + outline", "gradient", "hatch", "checker"])
        #expect(tiny >= 10 && large >= 5)
        #expect(clutter >= 100 && textItems >= 5)
        #expect(blurred >= 3 && blurred <= 25)  // about a fifth of 60
        #expect(maximumCount >= 6)
    }

    /// Each object's pixels, drawn alone (its coverage map), lie inside its label box grown by
    /// 1 px and reach within 1.5 px of each side (sharp triangle tips lose a little to 4 x 4
    /// sampling).
    @Test func labelIsTheTightBoxOfTheDrawnShape() {
        let generator = OtherShapes(seed: 9)
        var checked = 0
        for i in 0..<16 {
            let scene = generator.scene(index: i)
            for item in scene.items where item.classIndex != nil {
                let coverage = item.coverage(width: scene.width, height: scene.height)
                expectCoverageTight(coverage, width: scene.width, box: item.bounds, tolerance: 1.5)
                checked += 1
            }
        }
        #expect(checked >= 40)
    }

    /// Every style on a blank canvas, for a rotated triangle, a rounded square and a circle: the
    /// changed pixels span the label box within 1 px (1.5 at the triangle's tips).
    @Test(arguments: 0..<6) func everyStyleFillsItsBox(styleIndex: Int) {
        let red = RGB(220, 30, 30), blue = RGB(20, 40, 200)
        let styles = [
            OtherStyle(fill: .empty, outline: red, outlineWidth: 1.2),
            OtherStyle(fill: .empty, outline: red, outlineWidth: 6),
            OtherStyle(fill: .hatch(stripes: red, base: blue, baseAlpha: 0.3, angle: 0.4, period: 5, width: 1.5, crossed: true), outline: red, outlineWidth: 1),
            OtherStyle(fill: .gradient(red, blue, angle: 1), outline: nil, outlineWidth: 0),
            OtherStyle(fill: .checker(red, blue, cell: 4, angle: 0.3), outline: nil, outlineWidth: 0),
            OtherStyle(fill: .solid(blue), outline: red, outlineWidth: 3),
        ]
        let triangle = OtherPiece.polygon([SIMD2(12.3, 50.2), SIMD2(70.6, 40.1), SIMD2(30.2, 10.7)])
        let square = OtherPiece.polygon(OtherShapes.roundedRectangle(width: 1.1, height: 1, radius: 0.15, angle: 0.5).map { $0 * 40 + SIMD2(40.4, 40.6) })
        let circle = OtherPiece.circle(center: SIMD2(40.3, 39.8), radius: 21.7)
        for (piece, tolerance) in [(triangle, Float(1.5)), (square, 1), (circle, 1)] {
            let item = OtherItem(classIndex: 0, kind: .region([piece], styles[styleIndex]))
            let coverage = item.coverage(width: 80, height: 80)
            expectCoverageTight(coverage, width: 80, box: item.bounds, tolerance: tolerance)
            // An outline leaves the middle untouched; the fills cover it.
            let middle = coverage[40 * 80 + 40]
            if case .empty = styles[styleIndex].fill, piece == circle { #expect(middle == 0) } else if styleIndex >= 3 { #expect(middle == 1) }
        }
    }

    @Test func trianglesAreNotEquilateralAndSquaresStaySquare() {
        let generator = OtherShapes(seed: 21)
        var triangles = 0, squares = 0
        for i in 0..<40 {
            for item in generator.scene(index: i).items {
                guard let k = item.classIndex, case let .region(pieces, _) = item.kind, case let .polygon(points) = pieces[0] else { continue }
                if k == 2 {
                    #expect(points.count == 3)
                    let angles = (0..<3).map { j -> Float in
                        let u = points[(j + 1) % 3] - points[j], v = points[(j + 2) % 3] - points[j]
                        return acos((u * v).sum() / ((u * u).sum() * (v * v).sum()).squareRoot()) * 180 / .pi
                    }
                    #expect(abs(angles.reduce(0, +) - 180) < 0.1)
                    #expect(angles.min()! >= 25 - 0.05)
                    #expect(angles.max()! - angles.min()! >= 15 - 0.05)
                    triangles += 1
                } else if k == 1 {
                    // The sides: the longest and shortest distances between opposite supports,
                    // measured as the box of the shape rotated back by the angle of its longest edge.
                    #expect(points.count == 4 || points.count == 24)
                    let lengths = points.indices.map { j -> Float in
                        let d = points[(j + 1) % points.count] - points[j]
                        return (d * d).sum().squareRoot()
                    }
                    let j = lengths.firstIndex(of: lengths.max()!)!
                    let d = points[(j + 1) % points.count] - points[j]
                    let angle = atan2(d.y, d.x)
                    let rotated = points.map { SIMD2($0.x * cos(-angle) - $0.y * sin(-angle), $0.x * sin(-angle) + $0.y * cos(-angle)) }
                    let xs = rotated.map(\.x), ys = rotated.map(\.y)
                    let (a, b) = (xs.max()! - xs.min()!, ys.max()! - ys.min()!)
                    #expect(max(a, b) / min(a, b) <= 1.12 + 1e-3)
                    squares += 1
                }
            }
        }
        #expect(triangles >= 20 && squares >= 20)
    }

    /// Occlusion stays honest: the pixels an object changes in the finished image (the image
    /// with and without it) lie within its label box grown by 1 px (2 px when the image is
    /// blurred), and their box covers at least 80% of the label box (what later objects and
    /// clutter hide is limited).
    @Test func occludedObjectsStillSpanTheirLabels() {
        let generator = OtherShapes(seed: 5)
        var checked = 0, blurredSeen = false, mostHidden: Float = 0
        for i in 0..<10 {
            let scene = generator.scene(index: i)
            let full = scene.render()
            for (k, item) in scene.items.enumerated() where item.classIndex != nil {
                let without = scene.render(omitting: k)
                var lower = SIMD2<Int>(Int.max, Int.max), upper = SIMD2<Int>(Int.min, Int.min)
                for y in 0..<scene.height {
                    for x in 0..<scene.width where full.pixel(x: x, y: y) != without.pixel(x: x, y: y) {
                        lower = pointwiseMin(lower, SIMD2(x, y)); upper = pointwiseMax(upper, SIMD2(x, y))
                    }
                }
                let changed = BoundingBox(x1: Float(lower.x), y1: Float(lower.y), x2: Float(upper.x + 1), y2: Float(upper.y + 1))
                let label = item.bounds, margin: Float = scene.blurred ? 2 : 1
                #expect(changed.x1 >= label.x1 - margin && changed.y1 >= label.y1 - margin
                        && changed.x2 <= label.x2 + margin && changed.y2 <= label.y2 + margin, "image \(i) item \(k): \(changed) vs \(label)")
                let overlap = BoundingBox(x1: max(changed.x1, label.x1), y1: max(changed.y1, label.y1),
                                          x2: min(changed.x2, label.x2), y2: min(changed.y2, label.y2))
                #expect(overlap.area >= 0.8 * label.area, "image \(i) item \(k): \(changed) covers too little of \(label)")
                blurredSeen = blurredSeen || scene.blurred
                // Opaque pixels of the object that it does not change are hidden by later items.
                let coverage = item.coverage(width: scene.width, height: scene.height)
                let opaque = coverage.indices.filter { coverage[$0] >= 0.5 }
                let hidden = opaque.filter { full.pixel(x: $0 % scene.width, y: $0 / scene.width) == without.pixel(x: $0 % scene.width, y: $0 / scene.width) }
                let fraction = Float(hidden.count) / Float(max(opaque.count, 1))
                if !scene.blurred { #expect(fraction <= 0.35, "image \(i) item \(k): \(fraction) of it hidden") }
                mostHidden = max(mostHidden, fraction)
                checked += 1
            }
        }
        #expect(checked >= 20 && blurredSeen)
        #expect(mostHidden >= 0.05)  // occlusion does happen
    }

    @Test func writeDatasetIsReproducibleToTheByteAndLoads() throws {
        try expectWrittenDatasetMatchesGenerator(OtherShapes.self, folderName: "other", trainCount: 3, valCount: 2)
    }
}

/// The pixels of `coverage` above 0 lie inside `box` grown by 1 px, and the extreme ones reach
/// within `tolerance` px of each side (pixel (x, y) spans [x, x + 1) x [y, y + 1)).
func expectCoverageTight(_ coverage: [Float], width: Int, box: BoundingBox, tolerance: Float, sourceLocation: SourceLocation = #_sourceLocation) {
    var minX = Int.max, minY = Int.max, maxX = Int.min, maxY = Int.min
    for (p, alpha) in coverage.enumerated() where alpha > 0 {
        let (x, y) = (p % width, p / width)
        minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
    }
    #expect(minX <= maxX, "nothing drawn for \(box)", sourceLocation: sourceLocation)
    guard minX <= maxX else { return }
    let drawn = BoundingBox(x1: Float(minX), y1: Float(minY), x2: Float(maxX + 1), y2: Float(maxY + 1))
    #expect(drawn.x1 >= box.x1 - 1 && drawn.y1 >= box.y1 - 1 && drawn.x2 <= box.x2 + 1 && drawn.y2 <= box.y2 + 1,
            "drawn \(drawn) outside \(box) + 1 px", sourceLocation: sourceLocation)
    #expect(drawn.x1 <= box.x1 + tolerance && drawn.y1 <= box.y1 + tolerance && drawn.x2 >= box.x2 - tolerance && drawn.y2 >= box.y2 - tolerance,
            "drawn \(drawn) short of \(box) by more than \(tolerance) px", sourceLocation: sourceLocation)
}
