import Foundation

/// A third generator of circles, squares and triangles, for training: domain randomisation.
/// Where `SyntheticShapes` draws one narrow look (solid or softly shaded fills, equilateral
/// triangles, exact squares, 256 x 256 mostly), this one draws each rendering axis broadly and
/// independently, so that a model trained on it has seen outlines, patterns, odd proportions,
/// tiny and large objects, odd image shapes, noise, blur, clutter and occlusion. Same three
/// classes, same YOLO layout; image `i` depends only on (seed, i), so the same seed always
/// gives the same bytes.
///
/// - Classic share: 30% of the images are `SyntheticShapes(seed: classicSeed(seed))`'s image
///   `i`, byte for byte, so a model trained here still sees the classic look (and its val split
///   stays good). The rest are drawn as below.
/// - Image sizes: the short side uniform in 128 to 448 px; 30% square, the others of aspect
///   ratio log-uniform in 1.05 to 2.6 (either way up), the long side at most 800 px: hundreds of
///   distinct sizes, not a list.
/// - Backgrounds, in six styles: `SyntheticShapes`' own backgrounds (gradients, value noise,
///   stripes, with blobs, lines and arcs); colour clouds (three octaves of value noise per
///   channel); plasma (a sum of two or three sine waves at random angles); ruled lines
///   (parallel lines, one direction only: a grid would draw outlined squares); soft Voronoi
///   cells of low contrast; or a flat colour under Gaussian noise (σ 6 to 35). Then uniform
///   pixel noise of ±0 to ±12.
/// - Objects: 1 to 8, or in a fifth of the images a crowd of 8 to 15 small ones (3% to 15% of
///   the short side). Otherwise a third tiny (3% to 8%), a seventh large (45% to 75%), the rest
///   8% to 45%. The box's longer side is at least 8 px and 2.5% of the long side (below that,
///   after letterboxing to 256, nothing is left to see).
/// - Proportions: circles are exact circles. Squares are rotated at random, up to 15% longer
///   one way than the other, and 40% have rounded corners (radius up to 25% of the shorter
///   side). Triangles: 15% equilateral, the others of random angles (uniform on the simplex,
///   every angle at least 20°, none above 130°), rotated at random.
/// - Fills: solid; shaded (linear ramp or radial highlight, ±10% to ±40%); outline only, an
///   inner stroke 1 to 2.5 px or 10% to 35% of the shape; solid with a stroke of another
///   colour; translucent (alpha 0.5 to 0.85, sometimes stroked); stripes of random angle,
///   period and duty cycle; polka dots on a base colour; mottled two-colour value noise; and
///   grain (the fill's brightness varied per pixel). Patterned fills get a stroke 40% of the
///   time. Shapes under 16 px get only solid, shaded, solid-with-stroke, grain or a stroke of
///   at least a quarter of their size. The main colour differs in luminance from the mean under
///   the box by 40 to 90 (drawn per object; 70 for thin outlines), when 24 tries find one.
/// - Clutter that is none of the classes, 0 to 5 under the objects: regular pentagons and
///   hexagons (at least 20 px), ellipses (aspect 1.7 to 5), bars (aspect 2.5 to 10), polylines,
///   chevrons, rows of text-like marks (glyphs of one to three strokes) and open arcs (at most
///   200°), in the object fills; and 0 to 3 on top of the objects (polylines, marks, thin bars).
/// - Occlusion: boxes overlap up to IoU 0.45, and later objects and clutter may cover earlier
///   objects, but a placement is refused if it would leave an earlier object with less than
///   75% of its opaque pixels (alpha ≥ 0.5) or make the box of what stays visible fall below
///   IoU 0.9 with the box of all of them. So every label is an object one can still see whole.
/// - Image effects: a quarter of the images blurred (box blur of radius 1, or 2 for a third of
///   those); 15% hazed (blended 10% to 30% towards grey); 35% with sensor noise over
///   everything (Gaussian, σ 2 to 18, after the blur).
/// - Edges are anti-aliased by distance (a pixel's coverage is its centre's signed distance to
///   the outline plus ½, clamped to [0, 1]; exact distances for circles, rounded rectangles
///   and convex polygons). Each label is the tight box of the object's geometry (circle: centre
///   ± radius; polygon: its extreme vertices; rounded square: the box of its rotated straight
///   parts grown by the corner radius), which the drawn pixels reach within a pixel; objects lie
///   wholly inside the image (1 px margin).
///
/// How it differs from `OtherShapes`, the held-out test generator: the two share the goal
/// (shapes as `SyntheticShapes` never draws them) and several axes by design (outlines, solid
/// with a stroke, non-equilateral triangles, oblong and rounded squares, circles kept exact,
/// tiny and large sizes, non-class clutter, bounded occlusion), but no code and no parameter
/// list: its own sizes (continuous, not `OtherShapes.sizes`), its own patterns (stripes with
/// duty cycle, dots, mottled noise, grain, translucency; never `OtherShapes`' hatching over a
/// tint, checkers or hard two-colour gradients), its own backgrounds (never tiles, wood grain,
/// bricks or speckles; its clouds are fractal value noise per channel where `OtherShapes` mixes
/// two colours by one, and both have flat backgrounds under Gaussian noise), its own clutter (no stars, crosses or bitmap-font text), its own
/// rasteriser (distance anti-aliasing, not 4 x 4 supersampling) and its own streams.
public struct VariedShapes: ShapesGenerator {
    public static let classNames = SyntheticShapes.classNames
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    /// The share of images drawn by `SyntheticShapes`.
    public static let classicShare: Float = 0.3
    public static let maximumObjects = 15
    static let maximumOverlap: Float = 0.45
    /// The share of an object's opaque pixels that must stay visible, and the IoU its visible
    /// box must keep with its box when drawn.
    static let minimumVisible: Float = 0.75
    static let minimumVisibleBoxIoU: Float = 0.9
    /// The smallest object's longer box side, in pixels (and at least 2.5% of the long side).
    public static let minimumExtent: Float = 8
    /// Below this many pixels only the filled styles are drawn.
    static let smallExtent: Float = 16

    /// The seed of the classic share's `SyntheticShapes`: never a seed a training or validation
    /// stream of `SyntheticShapes` uses for the same `seed`.
    public static func classicSeed(_ seed: UInt64) -> UInt64 { seed ^ 0x5641_5249_4544_434C }

    /// Image `index` and its labels (normalised to the image).
    public func sample(index: Int) -> (image: Image, objects: [LabeledObject]) {
        guard let scene = scene(index: index) else {
            return SyntheticShapes(seed: VariedShapes.classicSeed(seed)).sample(index: index)
        }
        return (scene.render(), scene.labels)
    }

    /// Image `index` as its background and items in drawing order, or nil when it is one of the
    /// classic share (then `sample` is `SyntheticShapes(seed: classicSeed(seed)).sample(index:)`).
    public func scene(index: Int) -> VariedScene? {
        var rng = VariedShapes.stream(seed: seed, index: index)
        if rng.nextUnitFloat() < VariedShapes.classicShare { return nil }
        return VariedShapes.makeScene(rng: &rng)
    }

    /// The generator of image `index`: as `SyntheticShapes.stream`, on the seed mixed with a
    /// constant of its own, so that no two generators share a stream.
    static func stream(seed: UInt64, index: Int) -> SplitMix64 {
        var a = SplitMix64(seed: seed ^ 0x5641_5249_4544_3031)
        var b = SplitMix64(seed: a.next() ^ UInt64(bitPattern: Int64(index)))
        return SplitMix64(seed: b.next())
    }

    // MARK: Scenes

    static func imageSize(rng: inout SplitMix64) -> (Int, Int) {
        let short = 128 + rng.nextInt(below: 321)
        guard rng.nextUnitFloat() >= 0.3 else { return (short, short) }
        let aspect = exp(rng.nextFloat(in: log(1.05)..<log(2.6)))
        let long = min(800, Int((Float(short) * aspect).rounded()))
        return rng.nextInt(below: 2) == 0 ? (long, short) : (short, long)
    }

    static func makeScene(rng: inout SplitMix64) -> VariedScene {
        let (width, height) = imageSize(rng: &rng)
        var backgroundRng = rng.split()
        let (background, backgroundStyle) = VariedShapes.background(width: width, height: height, rng: &backgroundRng)
        var state = VariedSceneState(width: width, height: height, canvas: background)
        let short = Float(min(width, height)), long = Float(max(width, height))
        let minimum = max(minimumExtent, 0.025 * long)

        for _ in 0..<rng.nextInt(below: 6) {
            _ = state.place(clutter(state: state, short: short, onTop: false, rng: &rng), checkingOcclusion: false)
        }
        let crowd = rng.nextUnitFloat() < 0.2
        let count = crowd ? 8 + rng.nextInt(below: 8) : 1 + rng.nextInt(below: 8)
        for _ in 0..<count {
            for _ in 0..<30 {
                let fraction: Float
                if crowd {
                    fraction = exp(rng.nextFloat(in: log(0.03)..<log(0.15)))
                } else {
                    let band = rng.nextUnitFloat()
                    fraction = band < 0.33 ? rng.nextFloat(in: 0.03..<0.08) : band < 0.86 ? rng.nextFloat(in: 0.08..<0.45) : rng.nextFloat(in: 0.45..<0.75)
                }
                let extent = min(max(minimum, short * fraction), short - 3)
                let item = object(state: state, extent: extent, rng: &rng)
                let box = item.bounds
                if state.objectBoxes.contains(where: { $0.iou(with: box) > maximumOverlap }) { continue }
                if state.place(item, checkingOcclusion: true) { break }
            }
        }
        for _ in 0..<rng.nextInt(below: 4) {
            for _ in 0..<10 {
                if state.place(clutter(state: state, short: short, onTop: true, rng: &rng), checkingOcclusion: true) { break }
            }
        }
        let blurRadius = rng.nextUnitFloat() < 0.25 ? (rng.nextInt(below: 3) == 0 ? 2 : 1) : 0
        let haze = rng.nextUnitFloat() < 0.15 ? rng.nextFloat(in: 0.1..<0.3) : 0
        let noise = rng.nextUnitFloat() < 0.35 ? rng.nextFloat(in: 2..<18) : 0
        return VariedScene(width: width, height: height, background: background, backgroundStyle: backgroundStyle, items: state.items,
                           blurRadius: blurRadius, haze: haze, noise: noise, noiseSeed: rng.next())
    }

    /// A candidate object whose box's longer side is `extent`, at a random place wholly inside
    /// the image (1 px margin).
    static func object(state: VariedSceneState, extent: Float, rng: inout SplitMix64) -> VariedItem {
        let classIndex = rng.nextInt(below: 3)
        let angle = rng.nextFloat(in: 0..<(2 * .pi))
        var geometry: VariedGeometry
        switch classIndex {
        case 0:
            geometry = .circle(center: .zero, radius: extent / 2)
        case 1:
            let aspect = rng.nextFloat(in: 1..<1.15)
            let rounding = rng.nextUnitFloat() < 0.4 ? rng.nextFloat(in: 0.05..<0.25) : 0
            let unit = VariedGeometry.roundedRectangle(center: .zero, halfSize: SIMD2(aspect / 2, 0.5), cornerRadius: rounding, angle: angle)
            let box = unit.bounds
            geometry = unit.scaled(by: extent / max(box.width, box.height))
        default:
            let points = triangle(angles: triangleAngles(rng: &rng), rotation: angle)
            geometry = VariedGeometry.polygon(points)
            let box = geometry.bounds
            geometry = geometry.scaled(by: extent / max(box.width, box.height))
        }
        let local = geometry.bounds
        let (w, h) = (Float(state.width), Float(state.height))
        let x1 = rng.nextFloat(in: 1..<max(1.001, w - 1 - local.width))
        let y1 = rng.nextFloat(in: 1..<max(1.001, h - 1 - local.height))
        geometry = geometry.translated(by: SIMD2(x1 - local.x1, y1 - local.y1))
        let paint = objectPaint(mean: state.meanLuminance(geometry.bounds), extent: extent, rng: &rng)
        return VariedItem(role: .object(classIndex), pieces: [geometry], paint: paint)
    }

    /// Three triangle angles in radians summing to π: equilateral 15% of the time, else uniform
    /// on the simplex of angles, each at least 20° and none above 130° (rejection sampling).
    static func triangleAngles(rng: inout SplitMix64) -> SIMD3<Float> {
        let degree = Float.pi / 180
        if rng.nextUnitFloat() < 0.15 { return SIMD3(repeating: 60 * degree) }
        for _ in 0..<200 {
            let u = rng.nextUnitFloat(), v = rng.nextUnitFloat()
            let (lo, hi) = (min(u, v), max(u, v))
            let a = SIMD3<Float>(lo, hi - lo, 1 - hi) * 180
            if a.min() >= 20 && a.max() <= 130 { return a * degree }
        }
        return SIMD3(50, 60, 70) * degree
    }

    /// A triangle with the given angles at its three vertices (law of sines: with the side
    /// between the first two of length 1, the side from the first to the third is
    /// sin B / sin C), rotated by `rotation` about the origin.
    static func triangle(angles: SIMD3<Float>, rotation: Float) -> [SIMD2<Float>] {
        let b = sin(angles.y) / sin(angles.z)
        let points = [SIMD2<Float>(0, 0), SIMD2(1, 0), SIMD2(b * cos(angles.x), b * sin(angles.x))]
        let (s, c) = (sin(rotation), cos(rotation))
        return points.map { SIMD2($0.x * c - $0.y * s, $0.x * s + $0.y * c) }
    }

    /// An object's (or a clutter region's) fill and stroke, as the type's documentation lists.
    static func objectPaint(mean: Float, extent: Float, rng: inout SplitMix64) -> VariedPaint {
        let contrast = rng.nextFloat(in: 40..<90)
        let main = contrastingColor(mean: mean, minimum: contrast, rng: &rng)
        func second() -> RGB { contrastingColor(mean: mean, minimum: 25, differingFrom: main, rng: &rng) }
        func strokeColor() -> RGB { contrastingColor(mean: main.luminance, minimum: 50, rng: &rng) }
        let thin = rng.nextFloat(in: 1..<2.5)
        let roll = extent < smallExtent ? [0, 15, 40, 50, 95][rng.nextInt(below: 5)] : rng.nextInt(below: 100)
        var paint: VariedPaint
        switch roll {
        case 0..<14:
            paint = VariedPaint(fill: .solid(main))
        case 14..<26:
            paint = VariedPaint(fill: .shaded(main, amount: rng.nextFloat(in: 0.1..<0.4), angle: rng.nextFloat(in: 0..<(2 * .pi)),
                                              radial: rng.nextInt(below: 2) == 0))
        case 26..<36:  // thin outline, stronger contrast
            paint = VariedPaint(fill: .none, stroke: contrastingColor(mean: mean, minimum: 70, rng: &rng), strokeWidth: thin)
        case 36..<46:  // thick outline (on small shapes at least a quarter of the shape)
            let fraction = extent < smallExtent ? rng.nextFloat(in: 0.25..<0.35) : rng.nextFloat(in: 0.1..<0.35)
            paint = VariedPaint(fill: .none, stroke: main, strokeWidth: max(2, extent * fraction))
        case 46..<58:
            paint = VariedPaint(fill: .solid(main), stroke: strokeColor(), strokeWidth: max(thin, extent * rng.nextFloat(in: 0.03..<0.12)))
        case 58..<64:
            let stroked = rng.nextInt(below: 2) == 0
            paint = VariedPaint(fill: .translucent(main, alpha: rng.nextFloat(in: 0.5..<0.85)), stroke: stroked ? main : nil, strokeWidth: stroked ? thin : 0)
        case 64..<74:
            let period = rng.nextFloat(in: 3..<max(4, extent / 3))
            paint = VariedPaint(fill: .stripes(main, second(), angle: rng.nextFloat(in: 0..<(.pi)), period: period, duty: rng.nextFloat(in: 0.3..<0.7)))
        case 74..<83:
            let period = rng.nextFloat(in: 4..<max(5, extent / 3))
            paint = VariedPaint(fill: .dots(main, on: second(), angle: rng.nextFloat(in: 0..<(.pi)), period: period,
                                            radius: period * rng.nextFloat(in: 0.2..<0.45)))
        case 83..<92:
            paint = VariedPaint(fill: .mottled(main, second(), cell: rng.nextFloat(in: 3..<max(4, extent / 2.5)), seed: rng.next()))
        default:
            paint = VariedPaint(fill: .grain(main, amplitude: rng.nextFloat(in: 0.1..<0.35), seed: rng.next()))
        }
        if roll >= 64, extent >= smallExtent, rng.nextUnitFloat() < 0.4 {
            paint.stroke = main
            paint.strokeWidth = thin
        }
        return paint
    }

    /// A piece of clutter (none of the classes) at a random place. On top of the objects only
    /// thin things: polylines, marks and thin bars.
    static func clutter(state: VariedSceneState, short: Float, onTop: Bool, rng: inout SplitMix64) -> VariedItem {
        let (w, h) = (Float(state.width), Float(state.height))
        let center = SIMD2<Float>(rng.nextFloat(in: 0..<w), rng.nextFloat(in: 0..<h))
        let angle = rng.nextFloat(in: 0..<(2 * .pi))
        let kinds = VariedClutter.allCases
        let kind = onTop ? [VariedClutter.polyline, .marks, .bar][rng.nextInt(below: 3)] : kinds[rng.nextInt(below: kinds.count)]
        func direction(_ a: Float) -> SIMD2<Float> { SIMD2(cos(a), sin(a)) }
        var pieces: [VariedGeometry] = []
        var strokeOnly = true
        switch kind {
        case .polygon:
            let sides = 5 + rng.nextInt(below: 2), radius = max(10, short * rng.nextFloat(in: 0.04..<0.2))
            pieces = [.polygon((0..<sides).map { center + direction(angle + Float($0) * 2 * .pi / Float(sides)) * radius })]
            strokeOnly = false
        case .ellipse:
            let a = short * rng.nextFloat(in: 0.04..<0.22)
            pieces = [.ellipse(center: center, radii: SIMD2(a, a / rng.nextFloat(in: 1.7..<5)), angle: angle)]
            strokeOnly = false
        case .bar:
            let length = short * rng.nextFloat(in: 0.08..<0.5)
            let thickness = onTop ? min(length / 4, rng.nextFloat(in: 1.5..<4)) : length / rng.nextFloat(in: 2.5..<10)
            pieces = [.roundedRectangle(center: center, halfSize: SIMD2(length, thickness) / 2, cornerRadius: 0, angle: angle)]
            strokeOnly = onTop
        case .polyline:
            let radius = rng.nextFloat(in: 0.5..<(onTop ? 1.5 : 2.5))
            var p = center
            for _ in 0..<(1 + rng.nextInt(below: 5)) {
                let q = p + direction(rng.nextFloat(in: 0..<(2 * .pi))) * short * rng.nextFloat(in: 0.05..<0.35)
                pieces.append(.capsule(p, q, radius: radius))
                p = q
            }
        case .chevron:
            let length = short * rng.nextFloat(in: 0.05..<0.2), opening = rng.nextFloat(in: 0.7..<2.1), radius = rng.nextFloat(in: 0.8..<3)
            pieces = [.capsule(center, center + direction(angle) * length, radius: radius),
                      .capsule(center, center + direction(angle + opening) * length, radius: radius)]
        case .marks:
            let glyph = rng.nextFloat(in: 6..<16), radius = rng.nextFloat(in: 0.5..<1.2)
            let along = direction(rng.nextUnitFloat() < 0.7 ? 0 : angle), up = SIMD2(-along.y, along.x)
            for k in 0..<(3 + rng.nextInt(below: 7)) {
                let origin = center + along * (Float(k) * glyph * 0.75)
                for _ in 0..<(1 + rng.nextInt(below: 3)) {
                    func point() -> SIMD2<Float> { origin + along * rng.nextFloat(in: 0..<(glyph * 0.55)) + up * rng.nextFloat(in: 0..<glyph) }
                    pieces.append(.capsule(point(), point(), radius: radius))
                }
            }
        case .arc:
            let radius = short * rng.nextFloat(in: 0.04..<0.25), span = rng.nextFloat(in: 1..<3.49), width = rng.nextFloat(in: 0.6..<3)
            let steps = 12
            for k in 0..<steps {
                let a0 = angle + span * Float(k) / Float(steps), a1 = angle + span * Float(k + 1) / Float(steps)
                pieces.append(.capsule(center + direction(a0) * radius, center + direction(a1) * radius, radius: width))
            }
        }
        let box = VariedGeometry.bounds(of: pieces)
        let mean = state.meanLuminance(box)
        let paint = strokeOnly ? VariedPaint(fill: .solid(contrastingColor(mean: mean, minimum: rng.nextFloat(in: 30..<90), rng: &rng)))
            : objectPaint(mean: mean, extent: max(box.width, box.height), rng: &rng)
        return VariedItem(role: .clutter(kind), pieces: pieces, paint: paint)
    }

    // MARK: Colours

    /// A random colour: uniform RGB two times in three, else from a random hue, saturation and
    /// value (more saturated colours and greys than uniform RGB gives).
    static func randomColor(_ rng: inout SplitMix64) -> RGB {
        if rng.nextInt(below: 3) != 0 {
            return RGB(UInt8(rng.nextInt(below: 256)), UInt8(rng.nextInt(below: 256)), UInt8(rng.nextInt(below: 256)))
        }
        let hue = rng.nextFloat(in: 0..<6), saturation = rng.nextUnitFloat(), value = rng.nextFloat(in: 0..<255.99)
        let f = hue - hue.rounded(.down)
        let p = value * (1 - saturation), q = value * (1 - saturation * f), t = value * (1 - saturation * (1 - f))
        let (r, g, b): (Float, Float, Float) = switch Int(hue) {
        case 0: (value, t, p)
        case 1: (q, value, p)
        case 2: (p, value, t)
        case 3: (p, q, value)
        case 4: (t, p, value)
        default: (value, p, q)
        }
        return RGB(UInt8(r), UInt8(g), UInt8(b))
    }

    /// A colour whose luminance differs from `mean` by at least `minimum` (and from
    /// `differingFrom`'s by at least 50, when given) if 24 tries find one; else the best try
    /// pulled three quarters of the way towards black (on a light mean) or white.
    static func contrastingColor(mean: Float, minimum: Float, differingFrom other: RGB? = nil, rng: inout SplitMix64) -> RGB {
        var best = RGB(0, 0, 0), bestDistance: Float = -1
        for _ in 0..<24 {
            let c = randomColor(&rng)
            let d = abs(c.luminance - mean)
            let apart = other.map { abs($0.luminance - c.luminance) >= 50 } ?? true
            if d >= minimum && apart { return c }
            if apart && d > bestDistance { bestDistance = d; best = c }
        }
        return mean > 128 ? RGB(best.r / 4, best.g / 4, best.b / 4)
            : RGB(255 - (255 - best.r) / 4, 255 - (255 - best.g) / 4, 255 - (255 - best.b) / 4)
    }

    // MARK: Backgrounds

    /// A background (Float RGB, 0...255) in one of the six styles of the type's documentation,
    /// then uniform pixel noise.
    static func background(width: Int, height: Int, rng: inout SplitMix64) -> ([Float], VariedBackground) {
        let style = VariedBackground.allCases[rng.nextInt(below: VariedBackground.allCases.count)]
        func color() -> SIMD3<Float> { SIMD3(rng.nextFloat(in: 0..<255), rng.nextFloat(in: 0..<255), rng.nextFloat(in: 0..<255)) }
        let (w, h) = (Float(width), Float(height))
        let a = color()
        var b = color()
        // value(x, y) is the colour at pixel centre (x, y).
        var value: (Float, Float) -> SIMD3<Float>
        var gaussian: Float = 0
        switch style {
        case .classic:
            let image = SyntheticShapes.background(width: width, height: height, rng: &rng)
            return (image.pixels.map { Float($0) }, style)
        case .clouds:
            let seeds = SIMD3(rng.next(), rng.next(), rng.next()), cell = rng.nextFloat(in: 24..<120), amplitude = rng.nextFloat(in: 40..<140)
            value = { x, y in
                let n = SIMD3(fractalNoise(x, y, cell: cell, seed: seeds.x), fractalNoise(x, y, cell: cell, seed: seeds.y),
                              fractalNoise(x, y, cell: cell, seed: seeds.z))
                return a + (n - 0.5) * amplitude
            }
        case .plasma:
            b = a + (b - a) * rng.nextFloat(in: 0.3..<0.7)
            let waves = (0..<(2 + rng.nextInt(below: 2))).map { _ in
                let angle = rng.nextFloat(in: 0..<(2 * .pi)), period = rng.nextFloat(in: 20..<160)
                return (SIMD2<Float>(cos(angle), sin(angle)) * (2 * .pi / period), rng.nextFloat(in: 0..<(2 * .pi)))
            }
            value = { x, y in
                var s: Float = 0
                for (k, phase) in waves { s += sin(k.x * x + k.y * y + phase) }
                return a + (b - a) * (0.5 + 0.5 * s / Float(waves.count))
            }
        case .ruled:
            b = a + (b - a) * rng.nextFloat(in: 0.3..<0.8)
            let angle = rng.nextFloat(in: 0..<(.pi)), period = rng.nextFloat(in: 6..<40), half = rng.nextFloat(in: 0.4..<1.5)
            let u = SIMD2<Float>(cos(angle), sin(angle))
            value = { x, y in
                let s = (u.x * x + u.y * y) / period
                let distance = abs(s - s.rounded()) * period
                return a + (b - a) * min(max(half + 0.5 - distance, 0), 1)
            }
        case .cells:
            let sites = (0..<(12 + rng.nextInt(below: 50))).map { _ in
                (SIMD2<Float>(rng.nextFloat(in: 0..<w), rng.nextFloat(in: 0..<h)), a + (color() - a) * rng.nextFloat(in: 0.05..<0.22))
            }
            value = { x, y in
                // The nearest two sites, blended over the 3 px either side of their border.
                var d1 = Float.infinity, d2 = Float.infinity, c1 = a, c2 = a
                for (p, c) in sites {
                    let d = ((p.x - x) * (p.x - x) + (p.y - y) * (p.y - y)).squareRoot()
                    if d < d1 { d2 = d1; c2 = c1; d1 = d; c1 = c } else if d < d2 { d2 = d; c2 = c }
                }
                let t = min((d2 - d1) / 6, 0.5)
                return c2 + (c1 - c2) * (0.5 + t)
            }
        case .noisy:
            gaussian = rng.nextFloat(in: 6..<35)
            value = { _, _ in a }
        }
        let uniform = rng.nextFloat(in: 0..<12)
        var noiseRng = rng.split()
        var canvas = [Float](repeating: 0, count: width * height * 3)
        canvas.withUnsafeMutableBufferPointer { p in
            for y in 0..<height {
                for x in 0..<width {
                    var c = value(Float(x) + 0.5, Float(y) + 0.5)
                    if gaussian > 0 {
                        c += SIMD3(noiseRng.nextGaussian(), noiseRng.nextGaussian(), noiseRng.nextGaussian()) * gaussian
                    }
                    c += SIMD3(noiseRng.nextUnitFloat(), noiseRng.nextUnitFloat(), noiseRng.nextUnitFloat()) * (2 * uniform) - uniform
                    let o = (y * width + x) * 3
                    p[o] = min(max(c.x, 0), 255); p[o + 1] = min(max(c.y, 0), 255); p[o + 2] = min(max(c.z, 0), 255)
                }
            }
        }
        return (canvas, style)
    }

    /// SplitMix64's finaliser: a well-mixed hash of `x`.
    @inline(__always) static func hash(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform number in [0, 1) for lattice point (i, j) of stream `seed`.
    @inline(__always) static func lattice(_ i: Int, _ j: Int, seed: UInt64) -> Float {
        let key = seed ^ (UInt64(bitPattern: Int64(i)) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(bitPattern: Int64(j)) &* 0xC2B2_AE3D_27D4_EB4F)
        return Float(hash(key) >> 40) * (1.0 / 16_777_216.0)
    }

    /// Value noise in [0, 1): lattice values every `cell` px, smoothstep-interpolated.
    static func valueNoise(_ x: Float, _ y: Float, cell: Float, seed: UInt64) -> Float {
        let gx = x / cell, gy = y / cell
        let i = Int(gx.rounded(.down)), j = Int(gy.rounded(.down))
        var fx = gx - Float(i), fy = gy - Float(j)
        fx = fx * fx * (3 - 2 * fx); fy = fy * fy * (3 - 2 * fy)
        let n00 = lattice(i, j, seed: seed), n10 = lattice(i + 1, j, seed: seed)
        let n01 = lattice(i, j + 1, seed: seed), n11 = lattice(i + 1, j + 1, seed: seed)
        return (n00 + (n10 - n00) * fx) * (1 - fy) + (n01 + (n11 - n01) * fx) * fy
    }

    /// Three octaves of value noise (cells `cell`, `cell`/2, `cell`/4, weights 4 : 2 : 1), in [0, 1).
    static func fractalNoise(_ x: Float, _ y: Float, cell: Float, seed: UInt64) -> Float {
        (4 * valueNoise(x, y, cell: cell, seed: seed) + 2 * valueNoise(x, y, cell: cell / 2, seed: seed &+ 1)
         + valueNoise(x, y, cell: cell / 4, seed: seed &+ 2)) / 7
    }

    // MARK: Writing data sets

    /// The validation stream's seed (a constant of its own, as `SyntheticShapes.validationSeed`).
    public static func validationSeed(_ seed: UInt64) -> UInt64 { seed ^ 0x5641_5249_4544_5641 }

}

/// The background styles of `VariedShapes`.
public enum VariedBackground: String, Sendable, CaseIterable {
    case classic, clouds, plasma, ruled, cells, noisy
}

/// The kinds of clutter (none of the classes) of `VariedShapes`.
public enum VariedClutter: String, Sendable, CaseIterable {
    case polygon, ellipse, bar, polyline, chevron, marks, arc
}

// MARK: - Geometry and drawing

/// A piece of a drawn region, in pixel coordinates (pixel (x, y) covers [x, x + 1) x [y, y + 1));
/// a region is the union of its pieces. Each has a signed distance, positive inside.
public enum VariedGeometry: Sendable, Equatable {
    case circle(center: SIMD2<Float>, radius: Float)
    /// A rectangle of half sides `halfSize` (before rotation by `angle`) whose corners are
    /// rounded with `cornerRadius` px (0: sharp).
    case roundedRectangle(center: SIMD2<Float>, halfSize: SIMD2<Float>, cornerRadius: Float, angle: Float)
    /// A convex polygon, vertices in order (either orientation).
    case polygon([SIMD2<Float>])
    /// An ellipse of semi-axes `radii` rotated by `angle` (clutter only: its distance is an
    /// approximation, exact on the axes).
    case ellipse(center: SIMD2<Float>, radii: SIMD2<Float>, angle: Float)
    /// The points within `radius` of the segment from the first point to the second.
    case capsule(SIMD2<Float>, SIMD2<Float>, radius: Float)

    func translated(by offset: SIMD2<Float>) -> VariedGeometry {
        switch self {
        case let .circle(c, r): return .circle(center: c + offset, radius: r)
        case let .roundedRectangle(c, s, r, a): return .roundedRectangle(center: c + offset, halfSize: s, cornerRadius: r, angle: a)
        case let .polygon(points): return .polygon(points.map { $0 + offset })
        case let .ellipse(c, r, a): return .ellipse(center: c + offset, radii: r, angle: a)
        case let .capsule(p, q, r): return .capsule(p + offset, q + offset, radius: r)
        }
    }

    /// Scaled about the origin.
    func scaled(by k: Float) -> VariedGeometry {
        switch self {
        case let .circle(c, r): return .circle(center: c * k, radius: r * k)
        case let .roundedRectangle(c, s, r, a): return .roundedRectangle(center: c * k, halfSize: s * k, cornerRadius: r * k, angle: a)
        case let .polygon(points): return .polygon(points.map { $0 * k })
        case let .ellipse(c, r, a): return .ellipse(center: c * k, radii: r * k, angle: a)
        case let .capsule(p, q, r): return .capsule(p * k, q * k, radius: r * k)
        }
    }

    /// The tight box. A rounded rectangle's is the box of its straight-sided core (half sides
    /// `halfSize` − r) rotated, grown by r on every side; an ellipse's half sides are
    /// √((a cos θ)² + (b sin θ)²) and √((a sin θ)² + (b cos θ)²).
    public var bounds: BoundingBox {
        switch self {
        case let .circle(c, r): return BoundingBox(x1: c.x - r, y1: c.y - r, x2: c.x + r, y2: c.y + r)
        case let .roundedRectangle(c, s, r, a):
            let (cs, sn) = (abs(cos(a)), abs(sin(a)))
            let core = s - r
            let e = SIMD2(cs * core.x + sn * core.y + r, sn * core.x + cs * core.y + r)
            return BoundingBox(x1: c.x - e.x, y1: c.y - e.y, x2: c.x + e.x, y2: c.y + e.y)
        case let .polygon(points):
            guard let first = points.first else { return BoundingBox(x1: 0, y1: 0, x2: 0, y2: 0) }
            let lower = points.reduce(first) { pointwiseMin($0, $1) }, upper = points.reduce(first) { pointwiseMax($0, $1) }
            return BoundingBox(x1: lower.x, y1: lower.y, x2: upper.x, y2: upper.y)
        case let .ellipse(c, r, a):
            let (cs, sn) = (cos(a), sin(a))
            let e = SIMD2(((r.x * cs) * (r.x * cs) + (r.y * sn) * (r.y * sn)).squareRoot(), ((r.x * sn) * (r.x * sn) + (r.y * cs) * (r.y * cs)).squareRoot())
            return BoundingBox(x1: c.x - e.x, y1: c.y - e.y, x2: c.x + e.x, y2: c.y + e.y)
        case let .capsule(p, q, r):
            let lower = pointwiseMin(p, q) - r, upper = pointwiseMax(p, q) + r
            return BoundingBox(x1: lower.x, y1: lower.y, x2: upper.x, y2: upper.y)
        }
    }

    /// The tight box of the union of `pieces`.
    static func bounds(of pieces: [VariedGeometry]) -> BoundingBox {
        var box = BoundingBox(x1: .infinity, y1: .infinity, x2: -.infinity, y2: -.infinity)
        for piece in pieces {
            let b = piece.bounds
            box = BoundingBox(x1: min(box.x1, b.x1), y1: min(box.y1, b.y1), x2: max(box.x2, b.x2), y2: max(box.y2, b.y2))
        }
        return box.x1 <= box.x2 ? box : BoundingBox(x1: 0, y1: 0, x2: 0, y2: 0)
    }

    /// The signed distance (px, positive inside) as a function of the point, its constants
    /// computed once. Circle, rounded rectangle (Quílez's box distance with rounding), convex
    /// polygon (inside: the least distance to an edge line; outside: the least distance to an
    /// edge segment) and capsule are exact; the ellipse is Quílez's approximation
    /// k0 (k0 − 1) / k1 with k0 = |p/r|, k1 = |p/r²|.
    func distance() -> (SIMD2<Float>) -> Float {
        switch self {
        case let .circle(c, r):
            return { p in let d = p - c; return r - (d * d).sum().squareRoot() }
        case let .roundedRectangle(c, s, r, a):
            let (cs, sn) = (cos(a), sin(a)), core = s - r
            return { p in
                let d = p - c
                let local = SIMD2(abs(d.x * cs + d.y * sn), abs(-d.x * sn + d.y * cs))
                let q = local - core
                let outside = pointwiseMax(q, .zero)
                return r - ((outside * outside).sum().squareRoot() + min(max(q.x, q.y), 0))
            }
        case let .polygon(points):
            guard points.count >= 3 else { return { _ in -.infinity } }
            var area: Float = 0
            for k in points.indices { let a = points[k], b = points[(k + 1) % points.count]; area += a.x * b.y - b.x * a.y }
            let sign: Float = area >= 0 ? 1 : -1
            var starts: [SIMD2<Float>] = [], edges: [SIMD2<Float>] = [], normals: [SIMD2<Float>] = []
            for k in points.indices {
                let a = points[k], e = points[(k + 1) % points.count] - a
                let length = (e * e).sum().squareRoot()
                guard length > 1e-6 else { continue }
                starts.append(a); edges.append(e); normals.append(SIMD2(-e.y, e.x) * (sign / length))  // inward
            }
            return { p in
                var least = Float.infinity
                for k in starts.indices { least = min(least, ((p - starts[k]) * normals[k]).sum()) }
                if least >= 0 { return least }
                var nearest = Float.infinity
                for k in starts.indices {
                    let v = p - starts[k], e = edges[k]
                    let t = min(max((v * e).sum() / (e * e).sum(), 0), 1)
                    let d = v - e * t
                    nearest = min(nearest, (d * d).sum())
                }
                return -nearest.squareRoot()
            }
        case let .ellipse(c, r, a):
            let (cs, sn) = (cos(a), sin(a))
            return { p in
                let d = p - c
                let local = SIMD2(d.x * cs + d.y * sn, -d.x * sn + d.y * cs)
                let u = local / r, v = local / (r * r)
                let k0 = (u * u).sum().squareRoot(), k1 = (v * v).sum().squareRoot()
                guard k1 > 1e-9 else { return min(r.x, r.y) }
                return -k0 * (k0 - 1) / k1
            }
        case let .capsule(a, b, r):
            let e = b - a, length2 = max((e * e).sum(), 1e-12)
            return { p in
                let v = p - a
                let t = min(max((v * e).sum() / length2, 0), 1)
                let d = v - e * t
                return r - (d * d).sum().squareRoot()
            }
        }
    }
}

/// How a region is painted: a fill, then an inner stroke of `strokeWidth` px whose outer edge
/// is the region's edge (so a stroke never grows the box).
public struct VariedPaint: Sendable, Equatable {
    public var fill: VariedFill
    public var stroke: RGB?
    public var strokeWidth: Float

    public init(fill: VariedFill, stroke: RGB? = nil, strokeWidth: Float = 0) {
        self.fill = fill; self.stroke = stroke; self.strokeWidth = strokeWidth
    }
}

/// The fills of `VariedShapes`. Positions are relative to the region's box: its centre c and
/// half its longer side e.
public enum VariedFill: Sendable, Equatable {
    case none
    case solid(RGB)
    /// The colour at opacity `alpha`.
    case translucent(RGB, alpha: Float)
    /// The colour times 1 + amount·t: linear, t = ((p − c)·u) / e clamped to [−1, 1] with u the
    /// direction `angle`; radial, t = 1 − 2 |p − h| / (1.5 e) clamped, h = c + 0.4 e u (a highlight).
    case shaded(RGB, amount: Float, angle: Float, radial: Bool)
    /// Stripes of the first colour on the second: every `period` px along `angle`, a share
    /// `duty` of each period wide.
    case stripes(RGB, RGB, angle: Float, period: Float, duty: Float)
    /// Dots of `radius` px of the first colour on a square lattice of `period` px, rotated by
    /// `angle`, on the second colour.
    case dots(RGB, on: RGB, angle: Float, period: Float, radius: Float)
    /// Blobs of the first colour and the second: value noise of cell `cell` px, steepened.
    case mottled(RGB, RGB, cell: Float, seed: UInt64)
    /// The colour's brightness times 1 + amplitude·(2h − 1), h uniform per pixel.
    case grain(RGB, amplitude: Float, seed: UInt64)

    /// The fill kinds, for counting which a data set holds.
    public enum Kind: String, Sendable, CaseIterable {
        case none, solid, translucent, shaded, stripes, dots, mottled, grain
    }

    public var kind: Kind {
        switch self {
        case .none: return .none
        case .solid: return .solid
        case .translucent: return .translucent
        case .shaded: return .shaded
        case .stripes: return .stripes
        case .dots: return .dots
        case .mottled: return .mottled
        case .grain: return .grain
        }
    }
}

/// One drawn thing of a `VariedScene`: an object of a class, or clutter.
public struct VariedItem: Sendable, Equatable {
    public enum Role: Sendable, Equatable {
        case object(Int)
        case clutter(VariedClutter)
    }
    public var role: Role
    public var pieces: [VariedGeometry]
    public var paint: VariedPaint

    public init(role: Role, pieces: [VariedGeometry], paint: VariedPaint) {
        self.role = role; self.pieces = pieces; self.paint = paint
    }

    /// The class index of an object, nil for clutter.
    public var classIndex: Int? { if case let .object(k) = role { return k } else { return nil } }

    /// The tight box of the geometry, in pixels: an object's label.
    public var bounds: BoundingBox { VariedGeometry.bounds(of: pieces) }

    /// The item's pixels on a `width` x `height` image: the rectangle [x0, x0 + w) x [y0, y0 + h)
    /// with each pixel's alpha and its colour premultiplied by it. Coverage is by distance: a
    /// pixel whose centre is at signed distance d from the region's outline (the largest of its
    /// pieces') has coverage clamp(d + ½, 0, 1); the stroke covers clamp(d + ½) · clamp(w − d + ½)
    /// of it and is drawn over the fill, which covers the rest.
    func layer(width: Int, height: Int) -> VariedLayer {
        let box = bounds
        let x0 = max(0, Int((box.x1 - 0.5).rounded(.down))), x1 = min(width, Int((box.x2 + 0.5).rounded(.up)))
        let y0 = max(0, Int((box.y1 - 0.5).rounded(.down))), y1 = min(height, Int((box.y2 + 0.5).rounded(.up)))
        var layer = VariedLayer(x0: x0, y0: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
        guard layer.width > 0, layer.height > 0 else { return layer }
        let distances = pieces.map { $0.distance() }
        let center = SIMD2(box.centerX, box.centerY), halfExtent = max(box.width, box.height, 1e-3) / 2
        func vector(_ c: RGB) -> SIMD3<Float> { SIMD3(Float(c.r), Float(c.g), Float(c.b)) }
        let stroke = paint.stroke.map(vector), strokeWidth = paint.strokeWidth
        // The fill's opacity and colour at pixel (x, y) with centre p.
        let fill: (SIMD2<Float>, Int, Int) -> (Float, SIMD3<Float>)
        switch paint.fill {
        case .none: fill = { _, _, _ in (0, .zero) }
        case let .solid(c): let v = vector(c); fill = { _, _, _ in (1, v) }
        case let .translucent(c, alpha): let v = vector(c); fill = { _, _, _ in (alpha, v) }
        case let .shaded(c, amount, angle, radial):
            let v = vector(c), u = SIMD2<Float>(cos(angle), sin(angle)), highlight = center + u * (0.4 * halfExtent)
            fill = { p, _, _ in
                let t: Float
                if radial {
                    let d = p - highlight
                    t = min(max(1 - 2 * (d * d).sum().squareRoot() / (1.5 * halfExtent), -1), 1)
                } else {
                    t = min(max(((p - center) * u).sum() / halfExtent, -1), 1)
                }
                return (1, pointwiseMin(pointwiseMax(v * (1 + amount * t), .zero), SIMD3(repeating: 255)))
            }
        case let .stripes(a, b, angle, period, duty):
            let va = vector(a), vb = vector(b), u = SIMD2<Float>(cos(angle), sin(angle))
            fill = { p, _, _ in
                let s = ((p - center) * u).sum() / period
                let f = s - s.rounded(.down)
                // Signed distance in px to the nearest stripe edge, positive inside a stripe.
                let d = f < duty ? min(f, duty - f) * period : -min(f - duty, 1 - f) * period
                let t = min(max(d + 0.5, 0), 1)
                return (1, vb + (va - vb) * t)
            }
        case let .dots(a, b, angle, period, radius):
            let va = vector(a), vb = vector(b), (cs, sn) = (cos(angle), sin(angle))
            fill = { p, _, _ in
                let q = p - center
                let u = (q.x * cs + q.y * sn) / period, v = (-q.x * sn + q.y * cs) / period
                let local = SIMD2(u - u.rounded(), v - v.rounded()) * period
                let t = min(max(radius - (local * local).sum().squareRoot() + 0.5, 0), 1)
                return (1, vb + (va - vb) * t)
            }
        case let .mottled(a, b, cell, seed):
            let va = vector(a), vb = vector(b)
            fill = { p, _, _ in
                let n = VariedShapes.valueNoise(p.x, p.y, cell: cell, seed: seed)
                let t = min(max((n - 0.5) * 4 + 0.5, 0), 1)
                return (1, vb + (va - vb) * t)
            }
        case let .grain(c, amplitude, seed):
            let v = vector(c)
            fill = { _, x, y in
                let h = VariedShapes.lattice(x, y, seed: seed)
                return (1, pointwiseMin(pointwiseMax(v * (1 + amplitude * (2 * h - 1)), .zero), SIMD3(repeating: 255)))
            }
        }
        for y in y0..<y1 {
            for x in x0..<x1 {
                let p = SIMD2(Float(x) + 0.5, Float(y) + 0.5)
                var d = -Float.infinity
                for distance in distances { d = max(d, distance(p)) }
                let coverage = min(max(d + 0.5, 0), 1)
                guard coverage > 0 else { continue }
                let strokeCoverage = stroke == nil ? 0 : coverage * min(max(strokeWidth - d + 0.5, 0), 1)
                let (fillAlpha, fillColor) = fill(p, x, y)
                let fa = (coverage - strokeCoverage) * fillAlpha
                let alpha = strokeCoverage + fa
                guard alpha > 0 else { continue }
                let k = (y - y0) * layer.width + (x - x0)
                layer.alpha[k] = alpha
                layer.color[k] = (stroke ?? .zero) * strokeCoverage + fillColor * fa
            }
        }
        return layer
    }

    /// The item's coverage on a `width` x `height` image, one alpha per pixel (0 where untouched).
    public func coverage(width: Int, height: Int) -> [Float] {
        let layer = layer(width: width, height: height)
        var alpha = [Float](repeating: 0, count: width * height)
        for y in 0..<layer.height { for x in 0..<layer.width { alpha[(layer.y0 + y) * width + layer.x0 + x] = layer.alpha[y * layer.width + x] } }
        return alpha
    }
}

/// A rectangle of an item's pixels: alpha and premultiplied colour, row-major.
struct VariedLayer {
    let x0: Int, y0: Int, width: Int, height: Int
    var alpha: [Float]
    var color: [SIMD3<Float>]

    init(x0: Int, y0: Int, width: Int, height: Int) {
        self.x0 = x0; self.y0 = y0; self.width = width; self.height = height
        alpha = [Float](repeating: 0, count: width * height)
        color = [SIMD3<Float>](repeating: .zero, count: width * height)
    }

    /// Whether image pixel (x, y) is opaque (alpha ≥ 0.5) in this layer.
    func isOpaque(x: Int, y: Int) -> Bool {
        let (u, v) = (x - x0, y - y0)
        return u >= 0 && v >= 0 && u < width && v < height && alpha[v * width + u] >= 0.5
    }

    /// Blends the layer over `canvas` (Float RGB of an image `imageWidth` wide).
    func composite(onto canvas: inout [Float], imageWidth: Int) {
        for v in 0..<height {
            for u in 0..<width {
                let k = v * width + u, a = alpha[k]
                guard a > 0 else { continue }
                let o = ((y0 + v) * imageWidth + x0 + u) * 3, c = color[k]
                canvas[o] = canvas[o] * (1 - a) + c.x; canvas[o + 1] = canvas[o + 1] * (1 - a) + c.y; canvas[o + 2] = canvas[o + 2] * (1 - a) + c.z
            }
        }
    }
}

/// A scene being built: the Float canvas, the items so far, which item is on top (opaquely) at
/// each pixel, and for each object its opaque pixel count when drawn, now, and their box when drawn.
struct VariedSceneState {
    let width: Int, height: Int
    var canvas: [Float]
    var items: [VariedItem] = []
    var top: [Int32]
    var drawnCount: [Int: Int] = [:], visibleCount: [Int: Int] = [:]
    var drawnBox: [Int: (x0: Int, y0: Int, x1: Int, y1: Int)] = [:]
    var objectBoxes: [BoundingBox] = []

    init(width: Int, height: Int, canvas: [Float]) {
        self.width = width; self.height = height; self.canvas = canvas
        top = [Int32](repeating: -1, count: width * height)
    }

    /// The mean luminance of the canvas under `box`, on every other pixel and row.
    func meanLuminance(_ box: BoundingBox) -> Float {
        let x0 = max(0, Int(box.x1)), x1 = min(width, Int(box.x2) + 1), y0 = max(0, Int(box.y1)), y1 = min(height, Int(box.y2) + 1)
        var sum: Float = 0, n: Float = 0
        for y in stride(from: y0, to: y1, by: 2) {
            for x in stride(from: x0, to: x1, by: 2) {
                let o = (y * width + x) * 3
                sum += 0.2126 * canvas[o] + 0.7152 * canvas[o + 1] + 0.0722 * canvas[o + 2]; n += 1
            }
        }
        return n > 0 ? sum / n : 128
    }

    /// Draws `item` and returns true; unless it is an object of fewer than 10 opaque pixels, or
    /// `checkingOcclusion` and it would leave an earlier object with less than
    /// `VariedShapes.minimumVisible` of its opaque pixels or a visible box of IoU below
    /// `minimumVisibleBoxIoU` with its box when drawn: then nothing is drawn and it returns false.
    mutating func place(_ item: VariedItem, checkingOcclusion: Bool) -> Bool {
        let layer = item.layer(width: width, height: height)
        var opaque: [Int] = []
        for v in 0..<layer.height {
            for u in 0..<layer.width where layer.alpha[v * layer.width + u] >= 0.5 { opaque.append((layer.y0 + v) * width + layer.x0 + u) }
        }
        if item.classIndex != nil && opaque.count < 10 { return false }
        if checkingOcclusion {
            var lost: [Int: Int] = [:]
            for p in opaque where top[p] >= 0 && drawnCount[Int(top[p])] != nil { lost[Int(top[p]), default: 0] += 1 }
            for (k, count) in lost {
                if Float(visibleCount[k]! - count) < VariedShapes.minimumVisible * Float(drawnCount[k]!) { return false }
                let box = drawnBox[k]!
                var lower = SIMD2(Int.max, Int.max), upper = SIMD2(Int.min, Int.min)
                for y in box.y0...box.y1 {
                    for x in box.x0...box.x1 where top[y * width + x] == Int32(k) && !layer.isOpaque(x: x, y: y) {
                        lower = pointwiseMin(lower, SIMD2(x, y)); upper = pointwiseMax(upper, SIMD2(x, y))
                    }
                }
                guard lower.x <= upper.x else { return false }
                let before = BoundingBox(x1: Float(box.x0), y1: Float(box.y0), x2: Float(box.x1 + 1), y2: Float(box.y1 + 1))
                let after = BoundingBox(x1: Float(lower.x), y1: Float(lower.y), x2: Float(upper.x + 1), y2: Float(upper.y + 1))
                if before.iou(with: after) < VariedShapes.minimumVisibleBoxIoU { return false }
            }
        }
        let id = items.count
        items.append(item)
        layer.composite(onto: &canvas, imageWidth: width)
        for p in opaque {
            let previous = Int(top[p])
            if previous >= 0, visibleCount[previous] != nil { visibleCount[previous]! -= 1 }
            top[p] = Int32(id)
        }
        if item.classIndex != nil {
            drawnCount[id] = opaque.count; visibleCount[id] = opaque.count
            var lower = SIMD2(Int.max, Int.max), upper = SIMD2(Int.min, Int.min)
            for p in opaque { let q = SIMD2(p % width, p / width); lower = pointwiseMin(lower, q); upper = pointwiseMax(upper, q) }
            drawnBox[id] = (lower.x, lower.y, upper.x, upper.y)
            objectBoxes.append(item.bounds)
        }
        return true
    }
}

/// A scene of `VariedShapes`: its background, its items in drawing order, and the effects
/// applied to the finished image.
public struct VariedScene: Sendable {
    public let width: Int, height: Int
    let background: [Float]
    public let backgroundStyle: VariedBackground
    public let items: [VariedItem]
    /// A box blur of this radius over the finished image (0: none).
    public let blurRadius: Int
    /// The image blended this far towards mid-grey (0: not at all).
    public let haze: Float
    /// σ of Gaussian sensor noise added after the blur (0: none); the noise of each pixel is a
    /// hash of `noiseSeed` and the pixel, so it does not depend on what was drawn.
    public let noise: Float
    let noiseSeed: UInt64

    /// The objects' labels, normalised to the image, in drawing order.
    public var labels: [LabeledObject] {
        let (w, h) = (Float(width), Float(height))
        return items.compactMap { item in
            item.classIndex.map { LabeledObject(classIndex: $0, box: item.bounds.clamped(width: w, height: h).scaled(x: 1 / w, y: 1 / h)) }
        }
    }

    /// The image: the items composited on the background in order (item `omitting` left out, so
    /// a test can see which pixels an object changed), then haze, blur and noise, rounded once.
    public func render(omitting: Int? = nil) -> Image {
        var canvas = background
        for (k, item) in items.enumerated() where k != omitting {
            item.layer(width: width, height: height).composite(onto: &canvas, imageWidth: width)
        }
        if haze > 0 {
            for k in canvas.indices { canvas[k] += (128 - canvas[k]) * haze }
        }
        if blurRadius > 0 {
            // Separable box blur: rows, then columns, the window clipped at the edges.
            for pass in 0..<2 {
                let source = canvas
                let (outer, inner) = pass == 0 ? (height, width) : (width, height)
                for i in 0..<outer {
                    for j in 0..<inner {
                        var sum = SIMD3<Float>.zero, n: Float = 0
                        for t in max(0, j - blurRadius)...min(inner - 1, j + blurRadius) {
                            let o = (pass == 0 ? i * width + t : t * width + i) * 3
                            sum += SIMD3(source[o], source[o + 1], source[o + 2]); n += 1
                        }
                        let o = (pass == 0 ? i * width + j : j * width + i) * 3
                        canvas[o] = sum.x / n; canvas[o + 1] = sum.y / n; canvas[o + 2] = sum.z / n
                    }
                }
            }
        }
        if noise > 0 {
            for p in 0..<(width * height) {
                for c in 0..<3 {
                    // Box–Muller from two hashed uniforms of (pixel, channel).
                    let key = noiseSeed ^ UInt64(p * 3 + c) &* 0x9E37_79B9_7F4A_7C15
                    let h1 = VariedShapes.hash(key), h2 = VariedShapes.hash(key ^ 0x5555_5555_5555_5555)
                    let u1 = max(Float(h1 >> 40) * (1.0 / 16_777_216.0), 1e-7), u2 = Float(h2 >> 40) * (1.0 / 16_777_216.0)
                    canvas[p * 3 + c] += noise * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
                }
            }
        }
        return Image(width: width, height: height, pixels: canvas.map { UInt8(min(max($0, 0), 255).rounded()) })
    }
}
