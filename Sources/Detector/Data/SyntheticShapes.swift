import Foundation

/// A deterministic synthetic detection task: circles, squares and triangles on textured
/// backgrounds. Image `i` depends only on (seed, i), so any image can be made alone, in any
/// order or in parallel, and the same seed always gives the same bytes.
///
/// Each image holds 1 to 6 shapes, each 5% to 45% of the short side, in random colours that
/// stand out from the background around them, squares and triangles rotated, overlapping
/// little; backgrounds are gradients with noise, distractor lines and soft blobs. A quarter of
/// the images are not 256 x 256 (320 x 240, 240 x 320, 384 x 256, 200 x 300, 300 x 200), so
/// letterboxing is exercised. Edges are anti-aliased (4 x 4 samples per pixel). The label of a
/// shape is the tight box of its drawn geometry.
public struct SyntheticShapes: Sendable {
    public static let classNames = ["circle", "square", "triangle"]
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    static let otherSizes = [(320, 240), (240, 320), (384, 256), (200, 300), (300, 200)]

    enum Shape {
        case circle(cx: Float, cy: Float, radius: Float)
        case polygon([(Float, Float)])

        var bounds: BoundingBox {
            switch self {
            case let .circle(cx, cy, r): return BoundingBox(x1: cx - r, y1: cy - r, x2: cx + r, y2: cy + r)
            case let .polygon(points):
                return BoundingBox(x1: points.map(\.0).min()!, y1: points.map(\.1).min()!,
                                   x2: points.map(\.0).max()!, y2: points.map(\.1).max()!)
            }
        }

        @inline(__always)
        func contains(_ x: Float, _ y: Float) -> Bool {
            switch self {
            case let .circle(cx, cy, r): return (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r
            case let .polygon(p):
                // Convex, counter-clockwise or clockwise: inside when all edge functions agree.
                var sign: Float = 0
                for k in p.indices {
                    let (ax, ay) = p[k], (bx, by) = p[(k + 1) % p.count]
                    let e = (bx - ax) * (y - ay) - (by - ay) * (x - ax)
                    if e != 0 {
                        if sign == 0 { sign = e } else if (e > 0) != (sign > 0) { return false }
                    }
                }
                return true
            }
        }
    }

    /// Image `index` and its labels (normalised to the image).
    public func sample(index: Int) -> (image: Image, objects: [LabeledObject]) {
        var rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        let (width, height) = rng.nextUnitFloat() < 0.75 ? (256, 256) : SyntheticShapes.otherSizes[rng.nextInt(below: 5)]
        var canvas = background(width: width, height: height, rng: &rng)
        let count = 1 + rng.nextInt(below: 6)
        let short = Float(min(width, height))
        var placed: [(Shape, Int)] = []
        for _ in 0..<count {
            for _ in 0..<30 {
                let classIndex = rng.nextInt(below: 3)
                let size = short * rng.nextFloat(in: 0.05..<0.45)
                let angle = rng.nextFloat(in: 0..<(2 * .pi))
                let cx = rng.nextFloat(in: 0..<Float(width)), cy = rng.nextFloat(in: 0..<Float(height))
                var shape: Shape
                switch classIndex {
                case 0: shape = .circle(cx: cx, cy: cy, radius: size / 2)
                case 1:
                    let r = size / 2 * Float(2).squareRoot()
                    shape = .polygon((0..<4).map { k in
                        let a = angle + Float(k) * .pi / 2
                        return (cx + r * cos(a), cy + r * sin(a))
                    })
                default:
                    let r = size / Float(3).squareRoot()  // circumradius of an equilateral triangle of side `size`
                    shape = .polygon((0..<3).map { k in
                        let a = angle + Float(k) * 2 * .pi / 3
                        return (cx + r * cos(a), cy + r * sin(a))
                    })
                }
                let b = shape.bounds
                // Keep the whole shape inside the image.
                let dx = b.x1 < 1 ? 1 - b.x1 : (b.x2 > Float(width - 1) ? Float(width - 1) - b.x2 : 0)
                let dy = b.y1 < 1 ? 1 - b.y1 : (b.y2 > Float(height - 1) ? Float(height - 1) - b.y2 : 0)
                switch shape {
                case let .circle(x, y, r): shape = .circle(cx: x + dx, cy: y + dy, radius: r)
                case let .polygon(p): shape = .polygon(p.map { ($0.0 + dx, $0.1 + dy) })
                }
                let nb = shape.bounds
                guard nb.x1 >= 0, nb.y1 >= 0, nb.x2 <= Float(width), nb.y2 <= Float(height) else { continue }
                let clash = placed.contains { other, _ in
                    let ob = other.bounds
                    return ob.iou(with: nb) > 0.3
                        || (nb.x1 < ob.centerX && ob.centerX < nb.x2 && nb.y1 < ob.centerY && ob.centerY < nb.y2)
                        || (ob.x1 < nb.centerX && nb.centerX < ob.x2 && ob.y1 < nb.centerY && nb.centerY < ob.y2)
                }
                if clash { continue }
                let color = contrastingColor(canvas, around: nb, rng: &rng)
                draw(shape, color: color, on: &canvas)
                placed.append((shape, classIndex))
                break
            }
        }
        let objects = placed.map { shape, k in
            LabeledObject(classIndex: k, box: shape.bounds.clamped(width: Float(width), height: Float(height))
                .scaled(x: 1 / Float(width), y: 1 / Float(height)))
        }
        return (canvas, objects)
    }

    /// Gradient, noise, distractor lines and blobs.
    func background(width: Int, height: Int, rng: inout SplitMix64) -> Image {
        func randomColor() -> (Float, Float, Float) { (rng.nextFloat(in: 0..<255), rng.nextFloat(in: 0..<255), rng.nextFloat(in: 0..<255)) }
        let a = randomColor(), b = randomColor()
        let angle = rng.nextFloat(in: 0..<(2 * .pi))
        let (ux, uy) = (cos(angle), sin(angle))
        let noise = rng.nextFloat(in: 0..<18)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let span = abs(ux) * Float(width) + abs(uy) * Float(height)
        let offset = min(0, ux * Float(width)) + min(0, uy * Float(height))
        var noiseRng = rng.split()
        for y in 0..<height {
            for x in 0..<width {
                let t = ((ux * Float(x) + uy * Float(y)) - offset) / span
                let n = noise * (noiseRng.nextUnitFloat() - 0.5) * 2
                let o = (y * width + x) * 3
                pixels[o] = UInt8(max(0, min(255, a.0 + (b.0 - a.0) * t + n)))
                pixels[o + 1] = UInt8(max(0, min(255, a.1 + (b.1 - a.1) * t + n)))
                pixels[o + 2] = UInt8(max(0, min(255, a.2 + (b.2 - a.2) * t + n)))
            }
        }
        var image = Image(width: width, height: height, pixels: pixels)
        // Soft blobs: low-contrast ellipses without hard edges.
        for _ in 0..<rng.nextInt(below: 4) {
            let cx = rng.nextFloat(in: 0..<Float(width)), cy = rng.nextFloat(in: 0..<Float(height))
            let rx = rng.nextFloat(in: 10..<Float(width) / 3), ry = rng.nextFloat(in: 10..<Float(height) / 3)
            let c = randomColor(), strength = rng.nextFloat(in: 0.15..<0.4)
            for y in max(0, Int(cy - ry))..<min(height, Int(cy + ry) + 1) {
                for x in max(0, Int(cx - rx))..<min(width, Int(cx + rx) + 1) {
                    let d = ((Float(x) - cx) / rx) * ((Float(x) - cx) / rx) + ((Float(y) - cy) / ry) * ((Float(y) - cy) / ry)
                    guard d < 1 else { continue }
                    let w = strength * (1 - d)
                    let o = (y * width + x) * 3
                    image.pixels[o] = UInt8(Float(image.pixels[o]) * (1 - w) + c.0 * w)
                    image.pixels[o + 1] = UInt8(Float(image.pixels[o + 1]) * (1 - w) + c.1 * w)
                    image.pixels[o + 2] = UInt8(Float(image.pixels[o + 2]) * (1 - w) + c.2 * w)
                }
            }
        }
        // Distractor lines: thin, straight, any colour.
        for _ in 0..<rng.nextInt(below: 5) {
            let c = randomColor()
            image.drawLine(x0: rng.nextInt(below: width), y0: rng.nextInt(below: height),
                           x1: rng.nextInt(below: width), y1: rng.nextInt(below: height),
                           color: RGB(UInt8(c.0), UInt8(c.1), UInt8(c.2)), thickness: 1 + rng.nextInt(below: 2))
        }
        return image
    }

    /// A colour whose luminance differs from the mean under `box` by at least 70 (of 255).
    func contrastingColor(_ image: Image, around box: BoundingBox, rng: inout SplitMix64) -> RGB {
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
            if d >= 70 { return c }
            if d > bestDistance { bestDistance = d; best = c }
        }
        return mean > 128 ? RGB(best.r / 4, best.g / 4, best.b / 4) : RGB(255 - (255 - best.r) / 4, 255 - (255 - best.g) / 4, 255 - (255 - best.b) / 4)
    }

    /// Fills the shape with 4 x 4 supersampled coverage (anti-aliased edges).
    func draw(_ shape: Shape, color: RGB, on image: inout Image) {
        let b = shape.bounds
        let x0 = max(0, Int(b.x1.rounded(.down))), x1 = min(image.width - 1, Int(b.x2.rounded(.up)))
        let y0 = max(0, Int(b.y1.rounded(.down))), y1 = min(image.height - 1, Int(b.y2.rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                var covered = 0
                for sy in 0..<4 {
                    for sx in 0..<4 where shape.contains(Float(x) + (Float(sx) + 0.5) / 4, Float(y) + (Float(sy) + 0.5) / 4) {
                        covered += 1
                    }
                }
                guard covered > 0 else { continue }
                let a = Float(covered) / 16
                let o = (y * image.width + x) * 3
                image.pixels[o] = UInt8((Float(image.pixels[o]) * (1 - a) + Float(color.r) * a).rounded())
                image.pixels[o + 1] = UInt8((Float(image.pixels[o + 1]) * (1 - a) + Float(color.g) * a).rounded())
                image.pixels[o + 2] = UInt8((Float(image.pixels[o + 2]) * (1 - a) + Float(color.b) * a).rounded())
            }
        }
    }

    /// Writes a data set folder: classes.txt, train/ and val/ with images/ (PNG) and labels/
    /// (YOLO). The validation images come from another stream (seed + 1,000,003), disjoint from
    /// the training ones. Both cores.
    public static func writeDataset(to root: String, trainCount: Int, valCount: Int, seed: UInt64,
                                    progress: ((Int, Int) -> Void)? = nil) throws {
        let fm = FileManager.default
        for split in ["train", "val"] {
            for kind in ["images", "labels"] { try fm.createDirectory(atPath: "\(root)/\(split)/\(kind)", withIntermediateDirectories: true) }
        }
        try writeAtomically(Data((classNames.joined(separator: "\n") + "\n").utf8), to: root + "/classes.txt")
        let jobs: [(generator: SyntheticShapes, split: String, index: Int)] =
            (0..<trainCount).map { (SyntheticShapes(seed: seed), "train", $0) }
            + (0..<valCount).map { (SyntheticShapes(seed: seed &+ 1_000_003), "val", $0) }
        let lock = NSLock()
        var done = 0
        var firstError: Error?
        DispatchQueue.concurrentPerform(iterations: jobs.count) { k in
            let job = jobs[k]
            let (image, objects) = job.generator.sample(index: job.index)
            let name = String(format: "%06d", job.index)
            do {
                try PNG.write(image, to: "\(root)/\(job.split)/images/\(name).png")
                try writeAtomically(Data(formatLabels(objects).utf8), to: "\(root)/\(job.split)/labels/\(name).txt")
            } catch {
                lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
            }
            lock.lock(); done += 1; let d = done; lock.unlock()
            if d % 100 == 0 || d == jobs.count { progress?(d, jobs.count) }
        }
        if let firstError { throw firstError }
    }
}
