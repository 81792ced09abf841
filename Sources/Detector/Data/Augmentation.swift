import Foundation

/// Random changes to a training image, so the network sees more than the data set holds.
/// Applied to the letterboxed network input, boxes normalised to it.
public struct AugmentationSettings: Hashable, Sendable {
    /// Probability of a horizontal flip.
    public var flip: Float
    /// Zoom factor drawn from [1 − scale, 1 + scale].
    public var scale: Float
    /// Shift drawn from [−translate, translate] of the image side, on each axis.
    public var translate: Float
    /// Hue shift drawn from [−hue, hue] (fraction of the colour circle).
    public var hue: Float
    /// Saturation and value gains drawn from [1 − x, 1 + x].
    public var saturation: Float
    public var value: Float

    public init(flip: Float, scale: Float, translate: Float, hue: Float, saturation: Float, value: Float) {
        self.flip = flip; self.scale = scale; self.translate = translate
        self.hue = hue; self.saturation = saturation; self.value = value
    }

    public static let none = AugmentationSettings(flip: 0, scale: 0, translate: 0, hue: 0, saturation: 0, value: 0)
    /// Ultralytics' defaults for hue, saturation and value (0.015, 0.7, 0.4) and milder
    /// geometry (±20% scale and shift).
    public static let standard = AugmentationSettings(flip: 0.5, scale: 0.2, translate: 0.2, hue: 0.015, saturation: 0.7, value: 0.4)
}

/// Boxes whose visible part is under this many pixels on a side, or under this fraction of
/// their area, are dropped after a shift or zoom.
let minimumVisibleSide: Float = 2
let minimumVisibleFraction: Float = 0.2

/// Flip, zoom and shift (bilinear, gray padding), then HSV jitter. Boxes follow the geometry;
/// boxes pushed (mostly) out of the image are dropped.
public func augment(_ image: FloatImage, objects: [LabeledObject], settings: AugmentationSettings,
                    rng: inout SplitMix64) -> (FloatImage, [LabeledObject]) {
    let (w, h) = (image.width, image.height)
    let flip = rng.nextUnitFloat() < settings.flip
    let s = 1 + settings.scale * (2 * rng.nextUnitFloat() - 1)
    let tx = settings.translate * (2 * rng.nextUnitFloat() - 1)
    let ty = settings.translate * (2 * rng.nextUnitFloat() - 1)
    let dh = settings.hue * (2 * rng.nextUnitFloat() - 1)
    let ds = 1 + settings.saturation * (2 * rng.nextUnitFloat() - 1)
    let dv = 1 + settings.value * (2 * rng.nextUnitFloat() - 1)

    // Geometry, in normalised coordinates: x' = (x − ½)·s + ½ + tx, after an optional flip x → 1 − x.
    var boxes: [LabeledObject] = []
    for o in objects {
        var b = o.box
        if flip { b = BoundingBox(x1: 1 - b.x2, y1: b.y1, x2: 1 - b.x1, y2: b.y2) }
        b = BoundingBox(x1: (b.x1 - 0.5) * s + 0.5 + tx, y1: (b.y1 - 0.5) * s + 0.5 + ty,
                        x2: (b.x2 - 0.5) * s + 0.5 + tx, y2: (b.y2 - 0.5) * s + 0.5 + ty)
        let clipped = b.clamped(width: 1, height: 1)
        if clipped.width * Float(w) < minimumVisibleSide || clipped.height * Float(h) < minimumVisibleSide { continue }
        if clipped.area < minimumVisibleFraction * b.area { continue }
        boxes.append(LabeledObject(classIndex: o.classIndex, box: clipped))
    }

    var out = [Float](repeating: letterboxPadValue, count: w * h * 3)
    let identity = !flip && s == 1 && tx == 0 && ty == 0
    image.pixels.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            if identity { dst.baseAddress!.update(from: src.baseAddress!, count: src.count); return }
            for y in 0..<h {
                // Inverse map of the pixel centre back to the source.
                let ny = ((Float(y) + 0.5) / Float(h) - 0.5 - ty) / s + 0.5
                let sy = ny * Float(h) - 0.5
                if sy < -0.5 || sy > Float(h) - 0.5 { continue }
                let cy = min(max(sy, 0), Float(h - 1))
                let y0 = Int(cy), y1 = min(y0 + 1, h - 1), fy = cy - Float(y0)
                for x in 0..<w {
                    var nx = ((Float(x) + 0.5) / Float(w) - 0.5 - tx) / s + 0.5
                    if flip { nx = 1 - nx }
                    let sx = nx * Float(w) - 0.5
                    if sx < -0.5 || sx > Float(w) - 0.5 { continue }
                    let cx = min(max(sx, 0), Float(w - 1))
                    let x0 = Int(cx), x1 = min(x0 + 1, w - 1), fx = cx - Float(x0)
                    let o = (y * w + x) * 3
                    for c in 0..<3 {
                        let a = src[(y0 * w + x0) * 3 + c], b = src[(y0 * w + x1) * 3 + c]
                        let d = src[(y1 * w + x0) * 3 + c], e = src[(y1 * w + x1) * 3 + c]
                        let top = a + (b - a) * fx, bottom = d + (e - d) * fx
                        dst[o + c] = top + (bottom - top) * fy
                    }
                }
            }
        }
    }
    if dh != 0 || ds != 1 || dv != 1 {
        out.withUnsafeMutableBufferPointer { p in
            for i in stride(from: 0, to: p.count, by: 3) {
                var (hh, ss, vv) = rgbToHSV(p[i], p[i + 1], p[i + 2])
                hh = (hh + dh).truncatingRemainder(dividingBy: 1); if hh < 0 { hh += 1 }
                ss = min(ss * ds, 1); vv = min(vv * dv, 1)
                (p[i], p[i + 1], p[i + 2]) = hsvToRGB(hh, ss, vv)
            }
        }
    }
    return (FloatImage(width: w, height: h, channels: 3, pixels: out), boxes)
}

/// RGB in [0, 1] → hue in [0, 1), saturation, value.
@inline(__always)
func rgbToHSV(_ r: Float, _ g: Float, _ b: Float) -> (Float, Float, Float) {
    let maxC = max(r, g, b), minC = min(r, g, b), delta = maxC - minC
    var hue: Float = 0
    if delta > 0 {
        if maxC == r { hue = (g - b) / delta } else if maxC == g { hue = 2 + (b - r) / delta } else { hue = 4 + (r - g) / delta }
        hue /= 6
        if hue < 0 { hue += 1 }
    }
    return (hue, maxC > 0 ? delta / maxC : 0, maxC)
}

@inline(__always)
func hsvToRGB(_ h: Float, _ s: Float, _ v: Float) -> (Float, Float, Float) {
    let h6 = h * 6
    let sector = Int(h6) % 6
    let f = h6 - Float(Int(h6))
    let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
    switch sector {
    case 0: return (v, t, p)
    case 1: return (q, v, p)
    case 2: return (p, v, t)
    case 3: return (p, q, v)
    case 4: return (t, p, v)
    default: return (v, p, q)
    }
}
