import Foundation
import Testing
@testable import Detector

/// What 300 scenes of `VariedShapes(seed: 3)` hold, made once (on all cores) for the tests below.
struct VariedSweep: Sendable {
    static let count = 300
    static let shared = VariedSweep(seed: 3)

    var classic = 0
    var classCounts = [0, 0, 0]
    var backgrounds = Set<String>(), fills = Set<String>(), clutter = Set<String>(), effects = Set<String>()
    var sizes = Set<[Int]>()
    var wide = 0, tall = 0, square = 0, crowds = 0, tiny = 0, large = 0, strokedPatterns = 0
    var badLabels: [String] = []

    init(seed: UInt64) {
        let generator = VariedShapes(seed: seed)
        let scenes = UnsafeMutableSendable([VariedScene?](repeating: nil, count: Self.count))
        let classicLabels = UnsafeMutableSendable([[LabeledObject]](repeating: [], count: Self.count))
        DispatchQueue.concurrentPerform(iterations: Self.count) { i in
            let scene = generator.scene(index: i)
            let labels = scene == nil ? SyntheticShapes(seed: VariedShapes.classicSeed(seed)).sample(index: i).objects : []
            scenes.lock.lock(); scenes.value[i] = scene; classicLabels.value[i] = labels; scenes.lock.unlock()
        }
        for i in 0..<Self.count {
            guard let scene = scenes.value[i] else {
                classic += 1
                for o in classicLabels.value[i] { classCounts[o.classIndex] += 1 }
                continue
            }
            sizes.insert([scene.width, scene.height])
            if scene.width > scene.height { wide += 1 } else if scene.width < scene.height { tall += 1 } else { square += 1 }
            backgrounds.insert(scene.backgroundStyle.rawValue)
            if scene.blurRadius > 0 { effects.insert("blur \(scene.blurRadius)") }
            if scene.haze > 0 { effects.insert("haze") }
            if scene.noise > 0 { effects.insert("noise") }
            let labels = scene.labels
            if labels.count >= 8 { crowds += 1 }
            if !(1...VariedShapes.maximumObjects).contains(labels.count) { badLabels.append("image \(i): \(labels.count) objects") }
            let (w, h) = (Float(scene.width), Float(scene.height)), short = min(w, h)
            for item in scene.items {
                switch item.role {
                case let .clutter(kind): clutter.insert(kind.rawValue)
                case let .object(k):
                    classCounts[k] += 1
                    let box = item.bounds
                    if !(box.x1 >= 1 - 1e-3 && box.y1 >= 1 - 1e-3 && box.x2 <= w - 1 + 1e-3 && box.y2 <= h - 1 + 1e-3) {
                        badLabels.append("image \(i): \(box) not inside \(w) x \(h) with a 1 px margin")
                    }
                    let side = max(box.width, box.height)
                    if side < VariedShapes.minimumExtent - 1e-3 || side > 0.75 * short + 1e-3 { badLabels.append("image \(i): side \(side) of \(short)") }
                    if side < 0.08 * short { tiny += 1 }
                    if side > 0.45 * short { large += 1 }
                    let fill = item.paint.fill.kind
                    fills.insert(fill == .none ? (item.paint.strokeWidth < 2.5 ? "thin outline" : "thick outline") : fill.rawValue)
                    if item.paint.stroke != nil, fill == .solid { fills.insert("solid + stroke") }
                    if item.paint.stroke != nil, [.stripes, .dots, .mottled, .grain].contains(fill) { strokedPatterns += 1 }
                }
            }
        }
    }
}

/// A value behind a lock, for collecting results of `concurrentPerform`.
final class UnsafeMutableSendable<T>: @unchecked Sendable {
    let lock = NSLock()
    var value: T
    init(_ value: T) { self.value = value }
}

@Suite struct VariedShapesTests {
    @Test func sameSeedSameBytesAnyOrderDifferentSeedDifferent() {
        let a = VariedShapes(seed: 42), b = VariedShapes(seed: 42), c = VariedShapes(seed: 43)
        let alone = a.sample(index: 6)
        for i in (0..<6).reversed() { _ = b.sample(index: i) }
        let afterOthers = b.sample(index: 6)
        #expect(alone.image == afterOthers.image)
        #expect(alone.objects == afterOthers.objects)
        for i in 0..<4 { #expect(a.sample(index: i).image != c.sample(index: i).image) }
        // Neither of the other generators' streams, for the same seed and index.
        for i in 0..<4 {
            let image = VariedShapes(seed: 1).sample(index: i).image
            #expect(image != SyntheticShapes(seed: 1).sample(index: i).image)
            #expect(image != OtherShapes(seed: 1).sample(index: i).image)
        }
    }

    /// The classic share is `SyntheticShapes` of the classic seed, byte for byte, and about 30%.
    @Test func classicImagesAreTheTrainingGeneratorsAndAboutAThird() {
        let generator = VariedShapes(seed: 8), classic = SyntheticShapes(seed: VariedShapes.classicSeed(8))
        var seen = 0
        for i in 0..<24 where generator.scene(index: i) == nil {
            let (image, objects) = generator.sample(index: i), expected = classic.sample(index: i)
            #expect(image == expected.image && objects == expected.objects)
            seen += 1
        }
        #expect(seen >= 2)
        let share = Float(VariedSweep.shared.classic) / Float(VariedSweep.count)
        #expect(share > 0.22 && share < 0.38, "classic share \(share)")
        #expect(VariedShapes.classicSeed(1) != SyntheticShapes.validationSeed(1) && VariedShapes.classicSeed(1) != 1)
    }

    @Test func classesAreRoughlyBalancedOver300Images() {
        let counts = VariedSweep.shared.classCounts, total = counts.reduce(0, +)
        #expect(total > 900)
        for (k, n) in counts.enumerated() {
            let share = Float(n) / Float(total)
            #expect(share > 0.28 && share < 0.39, "class \(k): \(n) of \(total)")
        }
    }

    /// Every branch of the generator is drawn in 300 images: each background, fill, outline
    /// kind, clutter kind and image effect; crowds; wide, tall and square images; tiny and large
    /// objects; and every label lies inside the image with a 1 px margin, at most 75% of the
    /// short side.
    @Test func everyStyleBranchIsReachedAndLabelsAreInsideTheImage() {
        let sweep = VariedSweep.shared
        #expect(sweep.badLabels.isEmpty, "\(sweep.badLabels.prefix(5))")
        #expect(sweep.backgrounds == Set(VariedBackground.allCases.map(\.rawValue)))
        #expect(sweep.fills == ["solid", "solid + stroke", "shaded", "translucent", "thin outline", "thick outline", "stripes", "dots", "mottled", "grain"])
        #expect(sweep.clutter == Set(VariedClutter.allCases.map(\.rawValue)))
        #expect(sweep.effects == ["blur 1", "blur 2", "haze", "noise"])
        #expect(sweep.strokedPatterns >= 10)
        #expect(sweep.crowds >= 10)
        #expect(sweep.wide >= 20 && sweep.tall >= 20 && sweep.square >= 20)
        #expect(sweep.sizes.count >= 150)
        #expect(sweep.tiny >= 150 && sweep.large >= 30)
    }

    /// Each object's pixels, drawn alone (its coverage map), lie inside its label box grown by
    /// 1 px and reach within 1 px of each side.
    @Test func labelIsTheTightBoxOfTheDrawnShape() {
        let generator = VariedShapes(seed: 9)
        var checked = 0
        for i in 0..<20 {
            guard let scene = generator.scene(index: i) else { continue }
            for item in scene.items where item.classIndex != nil {
                expectCoverageTight(item.coverage(width: scene.width, height: scene.height), width: scene.width, box: item.bounds, tolerance: 1)
                checked += 1
            }
        }
        #expect(checked >= 40)
    }

    /// Every fill, on a triangle, a rounded oblong square and a circle on a blank canvas: the
    /// covered pixels span the label box within 1 px; an outline leaves the middle untouched,
    /// the opaque fills cover it.
    @Test(arguments: 0..<10) func everyPaintFillsItsBox(paintIndex: Int) {
        let red = RGB(220, 30, 30), blue = RGB(20, 40, 200)
        let paints = [
            VariedPaint(fill: .none, stroke: red, strokeWidth: 1.2),
            VariedPaint(fill: .none, stroke: red, strokeWidth: 7),
            VariedPaint(fill: .solid(blue)),
            VariedPaint(fill: .solid(blue), stroke: red, strokeWidth: 3),
            VariedPaint(fill: .translucent(blue, alpha: 0.6), stroke: red, strokeWidth: 1.5),
            VariedPaint(fill: .shaded(blue, amount: 0.3, angle: 0.7, radial: true)),
            VariedPaint(fill: .stripes(red, blue, angle: 0.4, period: 6, duty: 0.5)),
            VariedPaint(fill: .dots(red, on: blue, angle: 0.2, period: 7, radius: 2)),
            VariedPaint(fill: .mottled(red, blue, cell: 6, seed: 5), stroke: red, strokeWidth: 1),
            VariedPaint(fill: .grain(blue, amplitude: 0.3, seed: 2)),
        ]
        let triangle = VariedGeometry.polygon(VariedShapes.triangle(angles: SIMD3(30, 100, 50) * (.pi / 180), rotation: 0.3)).scaled(by: 50)
            .translated(by: SIMD2(20.3, 8.6))
        let square = VariedGeometry.roundedRectangle(center: SIMD2(40.4, 40.6), halfSize: SIMD2(22, 20), cornerRadius: 6, angle: 0.5)
        let circle = VariedGeometry.circle(center: SIMD2(40.3, 39.8), radius: 21.7)
        for piece in [triangle, square, circle] {
            let item = VariedItem(role: .object(0), pieces: [piece], paint: paints[paintIndex])
            let coverage = item.coverage(width: 80, height: 80)
            expectCoverageTight(coverage, width: 80, box: item.bounds, tolerance: 1)
            // (40, 40) is the square's and the circle's centre; the triangle need not cover it.
            guard piece != triangle else { continue }
            let middle = coverage[40 * 80 + 40]
            if paintIndex < 2, piece == circle { #expect(middle == 0) } else if paintIndex >= 5 || paintIndex == 2 || paintIndex == 3 { #expect(middle == 1) }
        }
    }

    /// The box of a rotated rounded rectangle, against the extremes of a dense sampling of its
    /// outline (the four corner arcs).
    @Test(arguments: [0, 0.3, 0.785, 1.2, 2.9] as [Float]) func roundedRectangleBoxIsTight(angle: Float) {
        let half = SIMD2<Float>(13, 10), r: Float = 4, c = SIMD2<Float>(50, 40)
        let box = VariedGeometry.roundedRectangle(center: c, halfSize: half, cornerRadius: r, angle: angle).bounds
        var lower = SIMD2<Float>(repeating: .infinity), upper = SIMD2<Float>(repeating: -.infinity)
        for (sx, sy) in [(1, 1), (-1, 1), (-1, -1), (1, -1)] as [(Float, Float)] {
            for k in 0..<2000 {
                let t = Float(k) / 2000 * 2 * .pi
                let local = SIMD2(sx * (half.x - r) + r * cos(t), sy * (half.y - r) + r * sin(t))
                let p = c + SIMD2(local.x * cos(angle) - local.y * sin(angle), local.x * sin(angle) + local.y * cos(angle))
                lower = pointwiseMin(lower, p); upper = pointwiseMax(upper, p)
            }
        }
        #expect(abs(box.x1 - lower.x) < 1e-3 && abs(box.y1 - lower.y) < 1e-3 && abs(box.x2 - upper.x) < 1e-3 && abs(box.y2 - upper.y) < 1e-3)
    }

    @Test func trianglesHaveRandomAnglesAndSquaresStaySquare() {
        var equilateral = 0, other = 0, rounded = 0, oblong = 0
        for i in 0..<60 {
            guard let scene = VariedShapes(seed: 21).scene(index: i) else { continue }
            for item in scene.items {
                guard let k = item.classIndex else { continue }
                switch (k, item.pieces[0]) {
                case (2, .polygon(let points)):
                    #expect(points.count == 3)
                    let angles = (0..<3).map { j -> Float in
                        let u = points[(j + 1) % 3] - points[j], v = points[(j + 2) % 3] - points[j]
                        return acos(min(1, (u * v).sum() / ((u * u).sum() * (v * v).sum()).squareRoot())) * 180 / .pi
                    }
                    #expect(abs(angles.reduce(0, +) - 180) < 0.1)
                    #expect(angles.min()! >= 20 - 0.05 && angles.max()! <= 130 + 0.05)
                    if angles.max()! - angles.min()! < 0.1 { equilateral += 1 } else { other += 1 }
                case (1, .roundedRectangle(_, let half, let r, _)):
                    #expect(half.x / half.y >= 1 && half.x / half.y <= 1.15 + 1e-4)
                    #expect(r >= 0 && r <= 0.25 * 2 * min(half.x, half.y) + 1e-4)
                    if r > 0 { rounded += 1 }
                    if half.x / half.y > 1.05 { oblong += 1 }
                case (0, .circle): break
                default: Issue.record("class \(k) drawn as \(item.pieces[0])")
                }
            }
        }
        #expect(equilateral >= 3 && other >= 20 && rounded >= 8 && oblong >= 8)
    }

    /// Labels match what the finished image shows: the pixels an object changes (the image with
    /// and without it) lie within its label box grown by 1 px plus the blur radius, and their
    /// box covers at least 80% of the label box (occlusion keeps 75% of an object's opaque pixels and
    /// the box of them within IoU 0.9). Opaque pixels it does not change are hidden by later
    /// items, at most about a quarter of them.
    @Test func occludedObjectsStillSpanTheirLabels() {
        let generator = VariedShapes(seed: 5)
        var checked = 0, mostHidden: Float = 0, blurred = false
        for i in 0..<20 {
            guard let scene = generator.scene(index: i) else { continue }
            let full = scene.render()
            for (k, item) in scene.items.enumerated() where item.classIndex != nil {
                let without = scene.render(omitting: k)
                var lower = SIMD2(Int.max, Int.max), upper = SIMD2(Int.min, Int.min)
                for y in 0..<scene.height {
                    for x in 0..<scene.width where full.pixel(x: x, y: y) != without.pixel(x: x, y: y) {
                        lower = pointwiseMin(lower, SIMD2(x, y)); upper = pointwiseMax(upper, SIMD2(x, y))
                    }
                }
                #expect(lower.x <= upper.x, "image \(i) item \(k) changed nothing")
                guard lower.x <= upper.x else { continue }
                let changed = BoundingBox(x1: Float(lower.x), y1: Float(lower.y), x2: Float(upper.x + 1), y2: Float(upper.y + 1))
                let label = item.bounds, margin = 1 + Float(scene.blurRadius)
                #expect(changed.x1 >= label.x1 - margin && changed.y1 >= label.y1 - margin
                        && changed.x2 <= label.x2 + margin && changed.y2 <= label.y2 + margin, "image \(i) item \(k): \(changed) vs \(label)")
                let overlap = BoundingBox(x1: max(changed.x1, label.x1), y1: max(changed.y1, label.y1),
                                          x2: min(changed.x2, label.x2), y2: min(changed.y2, label.y2))
                #expect(overlap.area >= 0.8 * label.area || max(label.width, label.height) < 12, "image \(i) item \(k): \(changed) covers too little of \(label)")
                blurred = blurred || scene.blurRadius > 0
                if scene.blurRadius == 0 && scene.haze == 0 {
                    let coverage = item.coverage(width: scene.width, height: scene.height)
                    let opaque = coverage.indices.filter { coverage[$0] >= 0.5 }
                    let hidden = opaque.filter { full.pixel(x: $0 % scene.width, y: $0 / scene.width) == without.pixel(x: $0 % scene.width, y: $0 / scene.width) }
                    let fraction = Float(hidden.count) / Float(max(opaque.count, 1))
                    #expect(fraction <= 0.3, "image \(i) item \(k): \(fraction) of it hidden")
                    mostHidden = max(mostHidden, fraction)
                }
                checked += 1
            }
        }
        #expect(checked >= 30 && blurred)
        #expect(mostHidden >= 0.02)  // occlusion does happen
    }

    @Test func writeDatasetIsReproducibleToTheByteAndLoads() throws {
        try expectWrittenDatasetMatchesGenerator(VariedShapes.self, folderName: "varied", trainCount: 4, valCount: 2)
    }
}
