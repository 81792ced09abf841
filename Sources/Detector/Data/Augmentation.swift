import Foundation

/// Random changes to a training image, so the network sees more than the data set holds.
/// Applied to the letterboxed network input (values in [0, 1]), boxes normalised to it.
public struct AugmentationSettings: Hashable, Sendable {
    /// Probability of a horizontal flip.
    public var flip: Float
    /// Zoom factor drawn uniformly from [1 − scale, 1 + scale], about the image centre.
    public var scale: Float
    /// Shift drawn uniformly from [−translate, translate] of the image side, on each axis.
    public var translate: Float
    /// Hue shift drawn uniformly from [−hue, hue], in turns of the colour circle.
    public var hue: Float
    /// Saturation gain drawn uniformly from [1 − saturation, 1 + saturation].
    public var saturation: Float
    /// Value (brightness) gain drawn uniformly from [1 − value, 1 + value].
    public var value: Float

    public init(flip: Float, scale: Float, translate: Float, hue: Float, saturation: Float, value: Float) {
        self.flip = flip; self.scale = scale; self.translate = translate
        self.hue = hue; self.saturation = saturation; self.value = value
    }

    public static let none = AugmentationSettings(flip: 0, scale: 0, translate: 0, hue: 0, saturation: 0, value: 0)
    /// Flip half the time, ±20% zoom and shift, and colour jitter a little milder than
    /// Ultralytics' defaults (hsv_h 0.015, hsv_s 0.7, hsv_v 0.4): saturation ×[0.5, 1.5] and
    /// value ×[0.7, 1.3], so that a shape keeps most of its contrast against the background.
    public static let standard = AugmentationSettings(flip: 0.5, scale: 0.2, translate: 0.2, hue: 0.015, saturation: 0.5, value: 0.3)
}

/// A box whose visible part is under `minimumVisibleSide` pixels on a side, or under
/// `minimumVisibleFraction` of its transformed area, is dropped after a zoom or shift (the
/// rule of Ultralytics' `box_candidates`, with its 2 px side).
public let minimumVisibleSide: Float = 2
public let minimumVisibleFraction: Float = 0.2

/// Augments one training image and its boxes, drawing from `rng`:
///
/// 1. geometry — an optional horizontal flip x → 1 − x, then a zoom s about the centre and a
///    shift (t_x, t_y): in normalised coordinates x' = (x − ½)·s + ½ + t_x, y' likewise.
///    Pixels are resampled bilinearly through the inverse map; those mapping outside the
///    source become the letterbox gray (0.5). Boxes are mapped the same way, clipped to the
///    image, and dropped when too little of them stays visible (see `minimumVisibleSide`);
/// 2. colour — hue shifted, saturation and value multiplied (HSV, clamped to [0, 1]) on every
///    pixel that came from the source, so the new padding stays exactly 0.5 (the letterbox bars
///    already in the source are jittered like the picture: as gray they only change value).
///
/// Seven numbers are drawn from `rng` whatever the settings, so a stream stays aligned across
/// settings. With `.none` the image and the boxes come back unchanged. Channels other than 3
/// get the geometry only. One output buffer is allocated; 256 x 256 takes about 1 ms.
public func augment(_ image: FloatImage, objects: [LabeledObject], settings: AugmentationSettings,
                    rng: inout SplitMix64) -> (FloatImage, [LabeledObject]) {
    let (w, h, channels) = (image.width, image.height, image.channels)
    let flip = rng.nextUnitFloat() < settings.flip
    let s = 1 + settings.scale * (2 * rng.nextUnitFloat() - 1)
    let tx = settings.translate * (2 * rng.nextUnitFloat() - 1)
    let ty = settings.translate * (2 * rng.nextUnitFloat() - 1)
    let hueShift = settings.hue * (2 * rng.nextUnitFloat() - 1)
    let saturationGain = 1 + settings.saturation * (2 * rng.nextUnitFloat() - 1)
    let valueGain = 1 + settings.value * (2 * rng.nextUnitFloat() - 1)
    let identity = !flip && s == 1 && tx == 0 && ty == 0
    let colour = channels == 3 && (hueShift != 0 || saturationGain != 1 || valueGain != 1)
    if identity && !colour { return (image, objects) }

    var boxes = objects
    if !identity {
        boxes = []
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
    }

    // The inverse map in source pixel coordinates (centres at k + ½): for output pixel x,
    // sx = A·x + B with A = ±1/s. For s = 1 and no shift this is exactly x or w − 1 − x, so a
    // flip moves pixels without interpolation.
    let (fw, fh) = (Float(w), Float(h))
    let ax: Float = flip ? -1 / s : 1 / s
    let bx: Float = flip ? 0.5 * fw - (0.5 - 0.5 * fw - tx * fw) / s - 0.5 : (0.5 - 0.5 * fw - tx * fw) / s + 0.5 * fw - 0.5
    let ay: Float = 1 / s
    let by: Float = (0.5 - 0.5 * fh - ty * fh) / s + 0.5 * fh - 0.5
    var out = [Float](repeating: letterboxPadValue, count: w * h * channels)
    image.pixels.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            if identity {
                dst.baseAddress!.update(from: src.baseAddress!, count: src.count)
                for i in stride(from: 0, to: dst.count, by: 3) { jitter(dst, at: i, hueShift, saturationGain, valueGain) }
                return
            }
            for y in 0..<h {
                let sy = ay * Float(y) + by
                guard sy >= -0.5, sy <= fh - 0.5 else { continue }
                let cy = min(max(sy, 0), fh - 1)
                let y0 = Int(cy), y1 = min(y0 + 1, h - 1), fy = cy - Float(y0)
                for x in 0..<w {
                    let sx = ax * Float(x) + bx
                    guard sx >= -0.5, sx <= fw - 0.5 else { continue }
                    let cx = min(max(sx, 0), fw - 1)
                    let x0 = Int(cx), x1 = min(x0 + 1, w - 1), fx = cx - Float(x0)
                    let o = (y * w + x) * channels
                    let i00 = (y0 * w + x0) * channels, i01 = (y0 * w + x1) * channels
                    let i10 = (y1 * w + x0) * channels, i11 = (y1 * w + x1) * channels
                    for c in 0..<channels {
                        let top = src[i00 + c] + (src[i01 + c] - src[i00 + c]) * fx
                        let bottom = src[i10 + c] + (src[i11 + c] - src[i10 + c]) * fx
                        dst[o + c] = top + (bottom - top) * fy
                    }
                    if colour { jitter(dst, at: o, hueShift, saturationGain, valueGain) }
                }
            }
        }
    }
    return (FloatImage(width: w, height: h, channels: channels, pixels: out), boxes)
}

/// HSV jitter of the RGB pixel at `i`: hue + shift (mod 1), saturation × gain and value × gain,
/// clamped to [0, 1].
@inline(__always)
private func jitter(_ p: UnsafeMutableBufferPointer<Float>, at i: Int, _ hueShift: Float, _ saturationGain: Float, _ valueGain: Float) {
    var (hue, saturation, value) = rgbToHSV(p[i], p[i + 1], p[i + 2])
    hue += hueShift
    hue -= hue.rounded(.down)
    saturation = min(max(saturation * saturationGain, 0), 1)
    value = min(max(value * valueGain, 0), 1)
    (p[i], p[i + 1], p[i + 2]) = hsvToRGB(hue, saturation, value)
}

/// RGB in [0, 1] → hue in [0, 1) (turns), saturation, value (the hexcone model, as OpenCV).
@inline(__always)
public func rgbToHSV(_ r: Float, _ g: Float, _ b: Float) -> (hue: Float, saturation: Float, value: Float) {
    let maxC = max(r, g, b), minC = min(r, g, b), delta = maxC - minC
    var hue: Float = 0
    if delta > 0 {
        if maxC == r { hue = (g - b) / delta } else if maxC == g { hue = 2 + (b - r) / delta } else { hue = 4 + (r - g) / delta }
        hue /= 6
        if hue < 0 { hue += 1 }
    }
    return (hue, maxC > 0 ? delta / maxC : 0, maxC)
}

/// The inverse of `rgbToHSV` for hue in [0, 1).
@inline(__always)
public func hsvToRGB(_ hue: Float, _ saturation: Float, _ value: Float) -> (red: Float, green: Float, blue: Float) {
    let h6 = hue * 6
    let sector = Int(h6)
    let f = h6 - Float(sector)
    let p = value * (1 - saturation), q = value * (1 - saturation * f), t = value * (1 - saturation * (1 - f))
    switch sector {
    case 0: return (value, t, p)
    case 1: return (q, value, p)
    case 2: return (p, value, t)
    case 3: return (p, q, value)
    case 4: return (t, p, value)
    default: return (value, p, q)
    }
}
