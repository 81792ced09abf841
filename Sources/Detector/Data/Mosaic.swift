import Foundation

/// Mosaic augmentation (YOLOv4, Bochkovskiy et al. 2020; Ultralytics' `Mosaic`): four training
/// images in one, around a random centre, so that each training image holds more objects, at
/// smaller scales, cut at unusual places, against more varied surroundings.
///
/// The variant here is the simplest that keeps every pixel a plain resample of a source:
/// each of the four letterboxed network-size inputs is scaled by `imageScale` (½: a bilinear
/// half-size resample with aligned pixel centres, which is exactly the mean of each 2x2 block)
/// and placed with one corner on the centre (c_x, c_y), image 0 above left, 1 above right, 2
/// below left, 3 below right, cropped by the canvas; canvas not covered stays the letterbox
/// gray. Ultralytics instead places the four full-size images on a 2x canvas and crops back to
/// 1x with its random affine (scale 0.5 ± 0.5); the half-size placement is that crop with the
/// scale fixed at ½, and the affine jitter is left to `augment`, which can run on the result.
public struct MosaicSettings: Hashable, Sendable {
    /// Chance that a training image is made a mosaic while mosaics are on (Ultralytics: 1).
    public var probability: Float
    /// Mosaics are off for the last this-many epochs (Ultralytics' `close_mosaic`, 10 of its
    /// default 100 epochs), so that the model ends on images like the ones it will see.
    public var closeEpochs: Int
    /// Each image's scale in the mosaic.
    public var imageScale: Float = 0.5
    /// The centre is drawn uniformly from this range of each side (in whole pixels).
    public var centreRange: ClosedRange<Float> = 0.25...0.75
    /// A box is kept when its visible part has sides of at least `minimumVisibleSide` pixels
    /// and at least `minimumVisibleFraction` of its area in the mosaic; the rest are dropped.
    /// The defaults are `augment`'s (2 px, 20%: one rule for the whole data pipeline; Ultralytics'
    /// `box_candidates` has 2 px and 10%).
    public var minimumVisibleSide: Float = Detector.minimumVisibleSide
    public var minimumVisibleFraction: Float = Detector.minimumVisibleFraction

    public init(probability: Float, closeEpochs: Int) {
        self.probability = probability; self.closeEpochs = closeEpochs
    }

    /// Never a mosaic.
    public static let off = MosaicSettings(probability: 0, closeEpochs: 0)

    /// Every image a mosaic, except in the last tenth of the epochs (rounded, at least 1):
    /// Ultralytics' proportion, 10 of 100. `make model`'s 40 epochs: off for the last 4.
    public static func standard(epochs: Int) -> MosaicSettings {
        MosaicSettings(probability: 1, closeEpochs: max(1, (epochs + 5) / 10))
    }

    /// Whether mosaics are on in `epoch` (0-based) of `epochs`: probability above 0 and not one
    /// of the last `closeEpochs`.
    public func isActive(epoch: Int, epochs: Int) -> Bool {
        probability > 0 && epoch < epochs - closeEpochs
    }

    /// Whether this image is a mosaic: false without drawing when not `isActive`, else one
    /// number from `rng` below `probability`. (A trainer that never asks draws nothing, so a
    /// run without mosaics keeps its random streams.)
    public func isApplied(epoch: Int, epochs: Int, rng: inout SplitMix64) -> Bool {
        guard isActive(epoch: epoch, epochs: epochs) else { return false }
        return rng.nextUnitFloat() < probability
    }

    /// The first setting that cannot be used, as a message; nil when all can.
    public var invalidSetting: String? {
        if !(0...1).contains(probability) { return "mosaic probability must be from 0 to 1, got \(probability)" }
        if closeEpochs < 0 { return "mosaic close epochs must be 0 or more, got \(closeEpochs)" }
        if !(imageScale > 0 && imageScale <= 1) { return "mosaic image scale must be in (0, 1], got \(imageScale)" }
        if !(centreRange.lowerBound >= 0 && centreRange.upperBound <= 1) { return "mosaic centre range must lie in [0, 1], got \(centreRange)" }
        if !(minimumVisibleSide >= 0 && minimumVisibleSide.isFinite) { return "minimum visible side must be a finite number ≥ 0, got \(minimumVisibleSide)" }
        if !(0...1).contains(minimumVisibleFraction) { return "minimum visible fraction must be from 0 to 1, got \(minimumVisibleFraction)" }
        return nil
    }
}

/// The three other images of a mosaic for training image `index` of `count`: drawn uniformly
/// with replacement (Ultralytics' `random.choices(indices, k=3)`; `index` itself may come up),
/// three numbers from `rng` whatever `count`. The mosaic's images are then
/// `[index] + partners`.
public func mosaicPartners(of index: Int, count: Int, rng: inout SplitMix64) -> [Int] {
    precondition(count > 0 && (0..<count).contains(index), "image \(index) of \(count)")
    return (0..<3).map { _ in min(Int(rng.nextUnitFloat() * Float(count)), count - 1) }
}

/// Where the four images of a mosaic go: the centre and, for each image, its rectangle on the
/// canvas in whole pixels (before cropping by the canvas: `x` or `y` may be negative and the
/// rectangle may reach past the canvas).
public struct MosaicLayout: Hashable, Sendable {
    public var width: Int
    public var height: Int
    public var centreX: Int
    public var centreY: Int
    /// Size of each placed image: round(scale · side).
    public var placedWidth: Int
    public var placedHeight: Int

    public init(width: Int, height: Int, centreX: Int, centreY: Int, imageScale: Float) {
        self.width = width; self.height = height; self.centreX = centreX; self.centreY = centreY
        placedWidth = max(1, Int((imageScale * Float(width)).rounded()))
        placedHeight = max(1, Int((imageScale * Float(height)).rounded()))
    }

    /// Image k's rectangle (x, y, width, height) in canvas pixels: 0 ends at the centre on both
    /// axes, 1 starts there on x, 2 on y, 3 on both.
    public func placement(_ k: Int) -> (x: Int, y: Int, width: Int, height: Int) {
        precondition((0..<4).contains(k))
        let x = k % 2 == 0 ? centreX - placedWidth : centreX
        let y = k < 2 ? centreY - placedHeight : centreY
        return (x, y, placedWidth, placedHeight)
    }

    /// Image k's rectangle cropped to the canvas, as pixel ranges (empty when nothing shows).
    public func visible(_ k: Int) -> (columns: Range<Int>, rows: Range<Int>) {
        let p = placement(k)
        let x0 = min(max(p.x, 0), width), x1 = min(max(p.x + p.width, 0), width)
        let y0 = min(max(p.y, 0), height), y1 = min(max(p.y + p.height, 0), height)
        return (x0..<x1, y0..<y1)
    }

    /// A box normalised to image k → the part of it visible in the mosaic, in canvas pixels,
    /// and the pixel area of the whole box there (source box clamped to its image first).
    public func transform(_ box: BoundingBox, image k: Int) -> (visible: BoundingBox, fullArea: Float) {
        let p = placement(k)
        let source = box.clamped(width: 1, height: 1)
        let sx = Float(p.width), sy = Float(p.height), ox = Float(p.x), oy = Float(p.y)
        let full = BoundingBox(x1: ox + source.x1 * sx, y1: oy + source.y1 * sy, x2: ox + source.x2 * sx, y2: oy + source.y2 * sy)
        let v = visible(k)
        let visible = BoundingBox(x1: min(max(full.x1, Float(v.columns.lowerBound)), Float(v.columns.upperBound)),
                                  y1: min(max(full.y1, Float(v.rows.lowerBound)), Float(v.rows.upperBound)),
                                  x2: min(max(full.x2, Float(v.columns.lowerBound)), Float(v.columns.upperBound)),
                                  y2: min(max(full.y2, Float(v.rows.lowerBound)), Float(v.rows.upperBound)))
        return (visible, full.area)
    }
}

/// A layout with its centre drawn from `rng`: exactly two numbers, c_x then c_y, each a whole
/// pixel uniform over those in `settings.centreRange` of its side (⌈0.25 W⌉ … ⌊0.75 W⌋).
public func mosaicLayout(width w: Int, height h: Int, settings: MosaicSettings, rng: inout SplitMix64) -> MosaicLayout {
    func draw(_ side: Int) -> Int {
        let lo = Int((settings.centreRange.lowerBound * Float(side)).rounded(.up))
        let hi = max(lo, Int((settings.centreRange.upperBound * Float(side)).rounded(.down)))
        return min(lo + Int(rng.nextUnitFloat() * Float(hi - lo + 1)), hi)
    }
    let cx = draw(w)
    let cy = draw(h)
    return MosaicLayout(width: w, height: h, centreX: cx, centreY: cy, imageScale: settings.imageScale)
}

/// A mosaic of four images around a centre drawn from `rng` (`mosaicLayout`: two numbers).
/// See `mosaic(_:objects:layout:settings:)`.
public func mosaic(_ images: [FloatImage], objects: [[LabeledObject]], settings: MosaicSettings,
                   rng: inout SplitMix64) -> (FloatImage, [LabeledObject]) {
    precondition(images.count == 4, "a mosaic is made of 4 images, got \(images.count)")
    let layout = mosaicLayout(width: images[0].width, height: images[0].height, settings: settings, rng: &rng)
    return mosaic(images, objects: objects, layout: layout, settings: settings)
}

/// Four images of one size (the network input, letterboxed, values in [0, 1]) and their boxes
/// (normalised to each image) → one image of that size and its boxes (normalised to it), by
/// `layout`:
///
/// - pixels: canvas pixel (x, y) inside image k's visible rectangle is the bilinear sample of
///   image k at ((x − p_x + ½)/s_x − ½, (y − p_y + ½)/s_y − ½), s = placed size / image size
///   (aligned centres, edges clamped, as `letterbox`); every other pixel is `letterboxPadValue`;
/// - boxes, image 0's first, then 1, 2, 3, each in its order: X = p_x + x · placedWidth (Y
///   likewise), clipped to the image's visible rectangle; a box is kept when the clipped part
///   has both sides ≥ `minimumVisibleSide` px and area ≥ `minimumVisibleFraction` of the
///   whole transformed box's (both comparisons inclusive), else dropped.
public func mosaic(_ images: [FloatImage], objects: [[LabeledObject]], layout: MosaicLayout,
                   settings: MosaicSettings) -> (FloatImage, [LabeledObject]) {
    precondition(images.count == 4 && objects.count == 4, "a mosaic is made of 4 images and 4 label lists")
    let (w, h, channels) = (layout.width, layout.height, images[0].channels)
    precondition(images.allSatisfy { $0.width == w && $0.height == h && $0.channels == channels },
                 "the images of a mosaic must all be \(w)x\(h)x\(channels), the size of the mosaic")
    var out = [Float](repeating: letterboxPadValue, count: w * h * channels)
    out.withUnsafeMutableBufferPointer { dst in
        for k in 0..<4 {
            let p = layout.placement(k)
            let (columns, rows) = layout.visible(k)
            guard !columns.isEmpty, !rows.isEmpty else { continue }
            let scaleX = Float(p.width) / Float(w), scaleY = Float(p.height) / Float(h)
            // Horizontal taps once per column.
            var left = [Int](), right = [Int](), fx = [Float]()
            for x in columns {
                let sx = min(max((Float(x - p.x) + 0.5) / scaleX - 0.5, 0), Float(w - 1))
                let l = Int(sx)
                left.append(l); right.append(min(l + 1, w - 1)); fx.append(sx - Float(l))
            }
            images[k].pixels.withUnsafeBufferPointer { src in
                for y in rows {
                    let sy = min(max((Float(y - p.y) + 0.5) / scaleY - 0.5, 0), Float(h - 1))
                    let top = Int(sy), bottom = min(top + 1, h - 1), fy = sy - Float(top)
                    for (j, x) in columns.enumerated() {
                        let a = (top * w + left[j]) * channels, b = (top * w + right[j]) * channels
                        let c = (bottom * w + left[j]) * channels, d = (bottom * w + right[j]) * channels
                        let o = (y * w + x) * channels
                        for ch in 0..<channels {
                            let upper = src[a + ch] + (src[b + ch] - src[a + ch]) * fx[j]
                            let lower = src[c + ch] + (src[d + ch] - src[c + ch]) * fx[j]
                            dst[o + ch] = upper + (lower - upper) * fy
                        }
                    }
                }
            }
        }
    }
    var boxes: [LabeledObject] = []
    for k in 0..<4 {
        for object in objects[k] {
            let (visible, fullArea) = layout.transform(object.box, image: k)
            guard visible.width >= settings.minimumVisibleSide, visible.height >= settings.minimumVisibleSide,
                  visible.area >= settings.minimumVisibleFraction * fullArea, visible.area > 0 else { continue }
            boxes.append(LabeledObject(classIndex: object.classIndex, box: visible.scaled(x: 1 / Float(w), y: 1 / Float(h))))
        }
    }
    return (FloatImage(width: w, height: h, channels: channels, pixels: out), boxes)
}
