import Foundation

/// A deterministic synthetic detection task: circles, squares and triangles on textured
/// backgrounds. Image `i` depends only on (seed, i), so any image can be made alone, in any
/// order or in parallel, and the same seed always gives the same bytes.
///
/// - Sizes: three images in four are 256 x 256; the others are 320 x 240, 240 x 320,
///   384 x 256, 256 x 384, 200 x 300 or 300 x 200, so letterboxing is exercised.
/// - Backgrounds, in four styles: a linear gradient, a radial gradient, smooth value noise, or
///   soft stripes; then pixel noise (0 to 20 levels), up to three soft blobs, up to four
///   anti-aliased straight lines and up to two thin arcs (circle-like clutter that is not a
///   filled circle).
/// - Objects: 1 to 6, each tried up to 20 times and dropped when every try overlaps: a
///   placement is refused when its box has IoU > 0.3 with an earlier object's box, or one box
///   holds the other's centre. The longer side of each object's box is 5% to 45% of the
///   image's short side; squares and triangles (equilateral) are rotated at random. The
///   colour's luminance differs from the mean luminance under the box by at least 70 of 255
///   when 20 tries find one (else the best of them, pushed towards black or white); a third
///   of the shapes are shaded (brightness ±25% across the shape).
/// - Edges are anti-aliased: pixels within half a diagonal of the outline get 4 x 4
///   supersampled coverage, the others are fully in or out.
/// - Each label is the tight box of the drawn geometry (circle: centre ± radius; polygon: the
///   extremes of its rotated vertices). Shapes are placed wholly inside the image (1 px
///   margin), so no label is clipped.
public struct SyntheticShapes: Sendable {
    public static let classNames = ["circle", "square", "triangle"]
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    static let otherSizes = [(320, 240), (240, 320), (384, 256), (256, 384), (200, 300), (300, 200)]
    /// Extremes of an object's longer box side, as fractions of the image's short side.
    public static let sizeRange: ClosedRange<Float> = 0.05...0.45
    public static let maximumObjects = 6
    static let maximumOverlap: Float = 0.3
    static let minimumContrast: Float = 70

    /// Image `index` and its labels (normalised to the image).
    public func sample(index: Int) -> (image: Image, objects: [LabeledObject]) {
        let (_, shapes, image) = generate(index: index)
        let (w, h) = (Float(image.width), Float(image.height))
        let objects = shapes.map {
            LabeledObject(classIndex: $0.classIndex, box: $0.bounds.clamped(width: w, height: h).scaled(x: 1 / w, y: 1 / h))
        }
        return (image, objects)
    }

    /// Image `index` before its shapes were drawn, and the shapes in drawing order: drawing them
    /// on the background, in order, gives `sample(index:).image`.
    public func scene(index: Int) -> (background: Image, shapes: [SyntheticShape]) {
        let (background, shapes, _) = generate(index: index)
        return (background, shapes)
    }

    /// The generator of image `index`: SplitMix64's finaliser applied to the seed and the index,
    /// so neighbouring indices and seeds give unrelated streams.
    static func stream(seed: UInt64, index: Int) -> SplitMix64 {
        var a = SplitMix64(seed: seed)
        var b = SplitMix64(seed: a.next() ^ UInt64(bitPattern: Int64(index)))
        return SplitMix64(seed: b.next())
    }

    func generate(index: Int) -> (background: Image, shapes: [SyntheticShape], image: Image) {
        var rng = SyntheticShapes.stream(seed: seed, index: index)
        let (width, height) = rng.nextUnitFloat() < 0.75
            ? (256, 256) : SyntheticShapes.otherSizes[rng.nextInt(below: SyntheticShapes.otherSizes.count)]
        var backgroundRng = rng.split()
        let background = SyntheticShapes.background(width: width, height: height, rng: &backgroundRng)
        var canvas = background
        let short = Float(min(width, height))
        let count = 1 + rng.nextInt(below: SyntheticShapes.maximumObjects)
        var shapes: [SyntheticShape] = []
        for _ in 0..<count {
            for _ in 0..<20 {
                let classIndex = rng.nextInt(below: 3)
                let extent = short * rng.nextFloat(in: SyntheticShapes.sizeRange.lowerBound..<SyntheticShapes.sizeRange.upperBound)
                let angle = rng.nextFloat(in: 0..<(2 * .pi))
                // The shape around the origin, scaled so that its box's longer side is `extent`.
                var geometry: SyntheticShape.Geometry
                switch classIndex {
                case 0: geometry = .circle(centerX: 0, centerY: 0, radius: extent / 2)
                default:
                    let corners = classIndex == 1 ? 4 : 3
                    let unit = (0..<corners).map { k in
                        let a = angle + Float(k) * 2 * .pi / Float(corners)
                        return SIMD2<Float>(cos(a), sin(a))
                    }
                    let lower = unit.reduce(unit[0]) { pointwiseMin($0, $1) }, upper = unit.reduce(unit[0]) { pointwiseMax($0, $1) }
                    let scale = extent / max(upper.x - lower.x, upper.y - lower.y)
                    geometry = .polygon(unit.map { $0 * scale })
                }
                // Its box anywhere wholly inside the image, 1 px from the edges.
                let local = SyntheticShape.bounds(of: geometry)
                let x1 = rng.nextFloat(in: 1..<max(1.001, Float(width) - 1 - local.width))
                let y1 = rng.nextFloat(in: 1..<max(1.001, Float(height) - 1 - local.height))
                geometry = geometry.translated(by: SIMD2(x1 - local.x1, y1 - local.y1))
                let box = SyntheticShape.bounds(of: geometry)
                let clash = shapes.contains { other in
                    let ob = other.bounds
                    return ob.iou(with: box) > SyntheticShapes.maximumOverlap
                        || (box.x1 < ob.centerX && ob.centerX < box.x2 && box.y1 < ob.centerY && ob.centerY < box.y2)
                        || (ob.x1 < box.centerX && box.centerX < ob.x2 && ob.y1 < box.centerY && box.centerY < ob.y2)
                }
                if clash { continue }
                let color = SyntheticShapes.contrastingColor(canvas, around: box, rng: &rng)
                let shaded = rng.nextInt(below: 3) == 0
                let shape = SyntheticShape(classIndex: classIndex, geometry: geometry, color: color,
                                           shading: shaded ? rng.nextFloat(in: 0.1..<0.25) : 0,
                                           shadingAngle: shaded ? rng.nextFloat(in: 0..<(2 * .pi)) : 0)
                shape.draw(on: &canvas)
                shapes.append(shape)
                break
            }
        }
        return (background, shapes, canvas)
    }

    // MARK: Backgrounds

    /// A textured background (see the type's documentation), built in Float and rounded once.
    static func background(width: Int, height: Int, rng: inout SplitMix64) -> Image {
        func randomColor() -> SIMD3<Float> {
            SIMD3(rng.nextFloat(in: 0..<255), rng.nextFloat(in: 0..<255), rng.nextFloat(in: 0..<255))
        }
        let (w, h) = (Float(width), Float(height))
        var canvas = [Float](repeating: 0, count: width * height * 3)
        let a = randomColor()
        var b = randomColor()
        let style = rng.nextInt(below: 4)
        // t(x, y) in [0, 1] mixes colour a into colour b.
        var t: (Float, Float) -> Float
        switch style {
        case 0:  // linear gradient
            let angle = rng.nextFloat(in: 0..<(2 * .pi))
            let u = SIMD2<Float>(cos(angle), sin(angle))
            let offset = min(0, u.x * w) + min(0, u.y * h), span = abs(u.x) * w + abs(u.y) * h
            t = { x, y in (u.x * x + u.y * y - offset) / span }
        case 1:  // radial gradient
            let cx = rng.nextFloat(in: 0..<w), cy = rng.nextFloat(in: 0..<h)
            let radius = max(max(cx, w - cx), max(cy, h - cy)) * rng.nextFloat(in: 0.8..<1.4)
            t = { x, y in min(1, ((x - cx) * (x - cx) + (y - cy) * (y - cy)).squareRoot() / radius) }
        case 2:  // smooth value noise on a coarse grid
            let cells = 2 + rng.nextInt(below: 5)
            let nodes = (0..<((cells + 1) * (cells + 1))).map { _ in rng.nextUnitFloat() }
            let sx = Float(cells) / w, sy = Float(cells) / h
            t = { x, y in
                let gx = x * sx, gy = y * sy
                let i = min(Int(gx), cells - 1), j = min(Int(gy), cells - 1)
                var fx = gx - Float(i), fy = gy - Float(j)
                fx = fx * fx * (3 - 2 * fx); fy = fy * fy * (3 - 2 * fy)  // smoothstep: no visible grid
                let n00 = nodes[j * (cells + 1) + i], n10 = nodes[j * (cells + 1) + i + 1]
                let n01 = nodes[(j + 1) * (cells + 1) + i], n11 = nodes[(j + 1) * (cells + 1) + i + 1]
                return (n00 + (n10 - n00) * fx) * (1 - fy) + (n01 + (n11 - n01) * fx) * fy
            }
        default:  // soft stripes of moderate contrast
            b = a + (b - a) * 0.5
            let angle = rng.nextFloat(in: 0..<(.pi)), period = rng.nextFloat(in: 10..<60), phase = rng.nextFloat(in: 0..<(2 * .pi))
            let u = SIMD2<Float>(cos(angle), sin(angle)) * (2 * .pi / period)
            t = { x, y in 0.5 + 0.5 * sin(u.x * x + u.y * y + phase) }
        }
        let noise = rng.nextFloat(in: 0..<20)
        var noiseRng = rng.split()
        canvas.withUnsafeMutableBufferPointer { p in
            for y in 0..<height {
                for x in 0..<width {
                    let c = a + (b - a) * t(Float(x) + 0.5, Float(y) + 0.5)
                    let bits = noiseRng.next()
                    // Three uniforms in [−1, 1) from one draw (21 bits each).
                    let n = SIMD3<Float>(Float(bits & 0x1F_FFFF), Float((bits >> 21) & 0x1F_FFFF), Float((bits >> 42) & 0x1F_FFFF))
                        * (2 / 2_097_152) - 1
                    let o = (y * width + x) * 3
                    p[o] = c.x + noise * n.x; p[o + 1] = c.y + noise * n.y; p[o + 2] = c.z + noise * n.z
                }
            }
        }
        // Soft blobs: low-contrast Gaussian-edged ellipses, no hard outline.
        for _ in 0..<rng.nextInt(below: 4) {
            let cx = rng.nextFloat(in: 0..<w), cy = rng.nextFloat(in: 0..<h)
            let rx = rng.nextFloat(in: 10..<(w / 3)), ry = rng.nextFloat(in: 10..<(h / 3))
            let color = randomColor(), strength = rng.nextFloat(in: 0.15..<0.45)
            paint(&canvas, width: width, height: height, x0: cx - rx, y0: cy - ry, x1: cx + rx, y1: cy + ry, color: color) { x, y in
                let d = ((x - cx) / rx) * ((x - cx) / rx) + ((y - cy) / ry) * ((y - cy) / ry)
                return d < 1 ? strength * (1 - d) * (1 - d) : 0
            }
        }
        // Distractor lines: straight, anti-aliased (coverage by distance to the segment).
        for _ in 0..<rng.nextInt(below: 5) {
            let p = SIMD2<Float>(rng.nextFloat(in: 0..<w), rng.nextFloat(in: 0..<h))
            let q = SIMD2<Float>(rng.nextFloat(in: 0..<w), rng.nextFloat(in: 0..<h))
            let half = rng.nextFloat(in: 0.5..<1.8), alpha = rng.nextFloat(in: 0.5..<1), color = randomColor()
            let d = q - p, length2 = max((d * d).sum(), 1e-6)
            paint(&canvas, width: width, height: height, x0: min(p.x, q.x) - half - 1, y0: min(p.y, q.y) - half - 1,
                  x1: max(p.x, q.x) + half + 1, y1: max(p.y, q.y) + half + 1, color: color) { x, y in
                let v = SIMD2(x, y) - p
                let s = min(max((v * d).sum() / length2, 0), 1)
                let e = v - d * s
                return alpha * min(max(half + 0.5 - (e * e).sum().squareRoot(), 0), 1)
            }
        }
        // Thin arcs: circle-like clutter that is not a filled circle.
        for _ in 0..<rng.nextInt(below: 3) {
            let cx = rng.nextFloat(in: 0..<w), cy = rng.nextFloat(in: 0..<h), r = rng.nextFloat(in: 8..<(min(w, h) / 4))
            let start = rng.nextFloat(in: -.pi..<(.pi)), span = rng.nextFloat(in: 0.5..<4.5)
            let half = rng.nextFloat(in: 0.5..<1.5), color = randomColor()
            paint(&canvas, width: width, height: height, x0: cx - r - 2, y0: cy - r - 2, x1: cx + r + 2, y1: cy + r + 2, color: color) { x, y in
                var angle = atan2(y - cy, x - cx) - start
                if angle < 0 { angle += 2 * .pi }
                guard angle < span else { return 0 }
                let distance = abs(((x - cx) * (x - cx) + (y - cy) * (y - cy)).squareRoot() - r)
                return min(max(half + 0.5 - distance, 0), 1)
            }
        }
        let pixels = canvas.map { UInt8(min(max($0, 0), 255).rounded()) }
        return Image(width: width, height: height, pixels: pixels)
    }

    /// Blends `color` into the canvas over the pixels of [x0, x1] x [y0, y1] (clipped), with the
    /// weight `alpha(pixel centre)`.
    static func paint(_ canvas: inout [Float], width: Int, height: Int, x0: Float, y0: Float, x1: Float, y1: Float,
                      color: SIMD3<Float>, alpha: (Float, Float) -> Float) {
        let xs = max(0, Int(x0.rounded(.down))), xe = min(width, Int(x1.rounded(.up)) + 1)
        let ys = max(0, Int(y0.rounded(.down))), ye = min(height, Int(y1.rounded(.up)) + 1)
        guard xs < xe, ys < ye else { return }
        canvas.withUnsafeMutableBufferPointer { p in
            for y in ys..<ye {
                for x in xs..<xe {
                    let a = alpha(Float(x) + 0.5, Float(y) + 0.5)
                    guard a > 0 else { continue }
                    let o = (y * width + x) * 3
                    p[o] += (color.x - p[o]) * a; p[o + 1] += (color.y - p[o + 1]) * a; p[o + 2] += (color.z - p[o + 2]) * a
                }
            }
        }
    }

    /// A colour whose luminance differs from the mean under `box` by at least `minimumContrast`.
    static func contrastingColor(_ image: Image, around box: BoundingBox, rng: inout SplitMix64) -> RGB {
        var sum: Float = 0, n: Float = 0
        let x0 = max(0, Int(box.x1)), x1 = min(image.width, Int(box.x2) + 1)
        let y0 = max(0, Int(box.y1)), y1 = min(image.height, Int(box.y2) + 1)
        for y in stride(from: y0, to: y1, by: 2) { for x in stride(from: x0, to: x1, by: 2) { sum += image.pixel(x: x, y: y).luminance; n += 1 } }
        let mean = n > 0 ? sum / n : 128
        var best = RGB(0, 0, 0)
        var bestDistance: Float = -1
        for _ in 0..<20 {
            let c = RGB(UInt8(rng.nextInt(below: 256)), UInt8(rng.nextInt(below: 256)), UInt8(rng.nextInt(below: 256)))
            let d = abs(c.luminance - mean)
            if d >= minimumContrast { return c }
            if d > bestDistance { bestDistance = d; best = c }
        }
        return mean > 128 ? RGB(best.r / 4, best.g / 4, best.b / 4)
            : RGB(255 - (255 - best.r) / 4, 255 - (255 - best.g) / 4, 255 - (255 - best.b) / 4)
    }

    // MARK: Writing data sets

    /// The validation stream's seed: the training seed with its bits mixed by a constant, so the
    /// validation images are not training images of a neighbouring seed.
    public static func validationSeed(_ seed: UInt64) -> UInt64 { seed ^ 0x5641_4C49_4441_5445 }

    /// The committed demo set in samples/ is `writeSamples(to: "samples", count: demoCount,
    /// seed: demoSeed)`: a seed no training run uses by default (they use 1).
    public static let demoSeed: UInt64 = 7
    public static let demoCount = 12

    /// Writes the one-split layout (classes.txt, images/, labels/) of images 0..<count of
    /// `seed`: the demo set in samples/. Whole or not at all, as `writeDataset`.
    public static func writeSamples(to root: String, count: Int, seed: UInt64, replacing: Bool = false) throws {
        try checkCounts([("count", count)])
        try writeFolderAtomically(at: root, replacing: replacing) { folder in
            try write(to: folder, jobs: [(SyntheticShapes(seed: seed).sampler, folder, count)], progress: nil)
        }
    }

    /// The largest image count of one split a writer accepts (about 40 GB of PNGs at 256 x 256).
    public static let maximumImageCount = 1_000_000

    static func checkCounts(_ counts: [(String, Int)]) throws {
        for (name, count) in counts where !(0...maximumImageCount).contains(count) {
            throw SyntheticShapesError(parameter: name, value: count)
        }
    }

    /// Writes classes.txt and, for each split, `count` images and label files named 000000…
    /// into `folder`/images and `folder`/labels, in parallel; image i is `sample(i)`. Shared by
    /// both generators (`OtherShapes` draws other pictures in the same layout).
    static func write(to root: String, jobs splits: [(sample: @Sendable (Int) -> (Image, [LabeledObject]), folder: String, count: Int)],
                      progress: ((Int, Int) -> Void)?) throws {
        let fm = FileManager.default
        for (_, folder, _) in splits {
            for kind in ["images", "labels"] { try fm.createDirectory(atPath: "\(folder)/\(kind)", withIntermediateDirectories: true) }
        }
        try writeAtomically(Data((classNames.joined(separator: "\n") + "\n").utf8), to: root + "/classes.txt")
        let jobs = splits.flatMap { generator, folder, count in (0..<count).map { (generator, folder, $0) } }
        let state = WriteState()
        DispatchQueue.concurrentPerform(iterations: jobs.count) { k in
            let (generator, folder, index) = jobs[k]
            let name = String(format: "%06d", index)
            do {
                let (image, objects) = generator(index)
                try PNG.write(image, to: "\(folder)/images/\(name).png")
                try writeAtomically(Data(formatLabels(objects).utf8), to: "\(folder)/labels/\(name).txt")
                state.finished(total: jobs.count, error: nil, progress: progress)
            } catch {
                state.finished(total: jobs.count, error: error, progress: progress)
            }
        }
        if let error = state.firstError { throw error }
    }
}

/// A deterministic generator of the three shape classes (`SyntheticShapes`, `OtherShapes`,
/// `VariedShapes`): image i depends only on (seed, i), and the validation images come from a
/// seed of the generator's own (`validationSeed`), so they are never training images.
public protocol ShapesGenerator: Sendable {
    init(seed: UInt64)
    /// The validation stream's seed for a training seed.
    static func validationSeed(_ seed: UInt64) -> UInt64
    /// Image `index` and its labels (normalised to the image).
    func sample(index: Int) -> (image: Image, objects: [LabeledObject])
}

extension ShapesGenerator {
    /// Image i of this generator, as `SyntheticShapes.write` takes it.
    var sampler: @Sendable (Int) -> (Image, [LabeledObject]) {
        { index in let s = sample(index: index); return (s.image, s.objects) }
    }

    /// Writes a data set folder: classes.txt, then train/ and val/, each with images/ (PNG,
    /// `000000.png`, ...) and labels/ (YOLO). The validation images are
    /// `Self(seed: validationSeed(seed))`, a stream disjoint from the training one.
    /// Images are made on all cores; `progress(done, total)` is called every 100 images and at
    /// the end, one call at a time.
    ///
    /// The folder appears whole or not at all (`writeFolderAtomically`): everything is written
    /// into a temporary sibling that is renamed to `root` when complete, so an interrupted run
    /// never leaves a folder that looks like a data set. A non-empty `root` is refused
    /// (`FolderWriteError`, kind `.notEmpty`) unless `replacing`, which swaps the whole folder.
    public static func writeDataset(to root: String, trainCount: Int, valCount: Int, seed: UInt64, replacing: Bool = false,
                                    progress: ((Int, Int) -> Void)? = nil) throws {
        try SyntheticShapes.checkCounts([("trainCount", trainCount), ("valCount", valCount)])
        try writeFolderAtomically(at: root, replacing: replacing) { folder in
            try SyntheticShapes.write(to: folder, jobs: [(Self(seed: seed).sampler, folder + "/train", trainCount),
                                                         (Self(seed: validationSeed(seed)).sampler, folder + "/val", valCount)],
                                      progress: progress)
        }
    }
}

extension SyntheticShapes: ShapesGenerator {}

/// An image count a writer refuses (negative, or above `SyntheticShapes.maximumImageCount`).
public struct SyntheticShapesError: Error, CustomStringConvertible, Sendable, Equatable {
    public var parameter: String
    public var value: Int
    public init(parameter: String, value: Int) { self.parameter = parameter; self.value = value }
    public var description: String {
        "\(parameter) \(value): the number of images must be 0 to \(SyntheticShapes.maximumImageCount)"
    }
}

/// Shared by the writer's workers: a count and the first error, behind a lock.
private final class WriteState: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private(set) var firstError: Error?

    func finished(total: Int, error: Error?, progress: ((Int, Int) -> Void)?) {
        lock.lock()
        defer { lock.unlock() }
        done += 1
        if let error, firstError == nil { firstError = error }
        if done % 100 == 0 || done == total { progress?(done, total) }
    }
}

/// One drawn object of a synthetic image, in pixel coordinates (pixel (x, y) covers
/// [x, x + 1) x [y, y + 1)).
public struct SyntheticShape: Sendable, Equatable {
    public enum Geometry: Sendable, Equatable {
        case circle(centerX: Float, centerY: Float, radius: Float)
        /// A convex polygon, vertices in order (either orientation).
        case polygon([SIMD2<Float>])

        func translated(by offset: SIMD2<Float>) -> Geometry {
            switch self {
            case let .circle(x, y, r): return .circle(centerX: x + offset.x, centerY: y + offset.y, radius: r)
            case let .polygon(points): return .polygon(points.map { $0 + offset })
            }
        }
    }

    public var classIndex: Int
    public var geometry: Geometry
    public var color: RGB
    /// The fill is `color` x (1 + shading·t), t ∈ [−1, 1] the position across the shape's box
    /// along the direction `shadingAngle`.
    public var shading: Float
    public var shadingAngle: Float

    public init(classIndex: Int, geometry: Geometry, color: RGB, shading: Float = 0, shadingAngle: Float = 0) {
        self.classIndex = classIndex; self.geometry = geometry; self.color = color
        self.shading = shading; self.shadingAngle = shadingAngle
    }

    /// The tight box of the geometry, in pixels: the label.
    public var bounds: BoundingBox { SyntheticShape.bounds(of: geometry) }

    static func bounds(of geometry: Geometry) -> BoundingBox {
        switch geometry {
        case let .circle(cx, cy, r): return BoundingBox(x1: cx - r, y1: cy - r, x2: cx + r, y2: cy + r)
        case let .polygon(points):
            guard let first = points.first else { return BoundingBox(x1: 0, y1: 0, x2: 0, y2: 0) }
            let lower = points.reduce(first) { pointwiseMin($0, $1) }, upper = points.reduce(first) { pointwiseMax($0, $1) }
            return BoundingBox(x1: lower.x, y1: lower.y, x2: upper.x, y2: upper.y)
        }
    }

    /// Blends the shape into the image with anti-aliased edges. A pixel whose centre is more
    /// than half a diagonal (0.7072 px) inside or outside the outline is fully covered or
    /// untouched; the others get the fraction of 4 x 4 sample points inside. For a convex
    /// polygon the signed distance inside is the least distance to an edge line, and outside
    /// that least value is at most the true distance, so the test is never wrong.
    public func draw(on image: inout Image) {
        let box = bounds
        let xs = max(0, Int(box.x1.rounded(.down))), xe = min(image.width, Int(box.x2.rounded(.up)))
        let ys = max(0, Int(box.y1.rounded(.down))), ye = min(image.height, Int(box.y2.rounded(.up)))
        guard xs < xe, ys < ye else { return }
        // Edge lines as inward unit normals n and offsets c: inside when n·p − c ≥ 0 for all.
        var normals: [SIMD2<Float>] = [], offsets: [Float] = []
        var circle = SIMD3<Float>(0, 0, 0)
        switch geometry {
        case let .circle(cx, cy, r): circle = SIMD3(cx, cy, r)
        case let .polygon(points):
            guard points.count >= 3 else { return }
            let centroid = points.reduce(SIMD2<Float>(0, 0), +) / Float(points.count)
            for k in points.indices {
                let a = points[k], b = points[(k + 1) % points.count]
                var n = SIMD2<Float>(a.y - b.y, b.x - a.x)
                let length = (n * n).sum().squareRoot()
                guard length > 0 else { continue }
                n /= length
                if (n * (centroid - a)).sum() < 0 { n = -n }
                normals.append(n); offsets.append((n * a).sum())
            }
        }
        let isCircle = normals.isEmpty
        func signedDistance(_ p: SIMD2<Float>) -> Float {
            if isCircle {
                let d = p - SIMD2(circle.x, circle.y)
                return circle.z - (d * d).sum().squareRoot()
            }
            var least = Float.infinity
            for k in normals.indices { least = min(least, (normals[k] * p).sum() - offsets[k]) }
            return least
        }
        let direction = SIMD2<Float>(cos(shadingAngle), sin(shadingAngle))
        let center = SIMD2(box.centerX, box.centerY), halfExtent = max(box.width, box.height, 1e-3) / 2
        let fill = SIMD3<Float>(Float(color.r), Float(color.g), Float(color.b))
        let width = image.width
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            for y in ys..<ye {
                for x in xs..<xe {
                    let p = SIMD2(Float(x) + 0.5, Float(y) + 0.5)
                    let d = signedDistance(p)
                    var coverage: Float = 1
                    if d <= -0.7072 { continue }
                    if d < 0.7072 {
                        var inside = 0
                        for sy in 0..<4 {
                            for sx in 0..<4 where signedDistance(SIMD2(Float(x) + (Float(sx) + 0.5) / 4, Float(y) + (Float(sy) + 0.5) / 4)) >= 0 {
                                inside += 1
                            }
                        }
                        if inside == 0 { continue }
                        coverage = Float(inside) / 16
                    }
                    var value = fill
                    if shading != 0 {
                        let t = min(max(((p - center) * direction).sum() / halfExtent, -1), 1)
                        value = pointwiseMin(pointwiseMax(fill * (1 + shading * t), SIMD3(repeating: 0)), SIMD3(repeating: 255))
                    }
                    let o = (y * width + x) * 3
                    let old = SIMD3<Float>(Float(pixels[o]), Float(pixels[o + 1]), Float(pixels[o + 2]))
                    let blended = (old + (value - old) * coverage).rounded(.toNearestOrAwayFromZero)
                    pixels[o] = UInt8(blended.x); pixels[o + 1] = UInt8(blended.y); pixels[o + 2] = UInt8(blended.z)
                }
            }
        }
    }
}
