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
/// get the geometry only. One output buffer is allocated; 256 x 256 with `.standard` takes
/// about 0.8 ms on a loaded 2-core machine (geometry 0.5 ms, colour 0.4 ms).
public func augment(_ image: FloatImage, objects: [LabeledObject], settings: AugmentationSettings,
                    rng: inout SplitMix64) -> (FloatImage, [LabeledObject]) {
    precondition([settings.flip, settings.scale, settings.translate, settings.hue, settings.saturation, settings.value].allSatisfy(\.isFinite)
                 && settings.scale < 0.95, "augmentation settings must be finite, with scale < 0.95")
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
        let offsetX = 0.5 - 0.5 * s + tx, offsetY = 0.5 - 0.5 * s + ty
        boxes = []
        for o in objects {
            var b = o.box
            if flip { b = BoundingBox(x1: 1 - b.x2, y1: b.y1, x2: 1 - b.x1, y2: b.y2) }
            // x' = x·s + (½ − ½s + t_x): exactly x when s = 1 and t_x = 0.
            b = BoundingBox(x1: b.x1 * s + offsetX, y1: b.y1 * s + offsetY, x2: b.x2 * s + offsetX, y2: b.y2 * s + offsetY)
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
    let jitter = ColourJitter(hueShift: hueShift, saturationGain: saturationGain, valueGain: valueGain)
    image.pixels.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            if identity {
                dst.baseAddress!.update(from: src.baseAddress!, count: src.count)
                jitter.apply(dst.baseAddress!, pixels: w * h)
                return
            }
            // Output columns whose source lies in [−½, w − ½] (the rest stay padding): an interval.
            let (xa, xb) = (((-0.5 - bx) / ax), ((fw - 0.5 - bx) / ax))
            let xStart = max(0, Int(min(xa, xb).rounded(.up)) - 1), xEnd = min(w, Int(max(xa, xb).rounded(.down)) + 2)
            // The horizontal taps depend on the column only: found once, not once per row.
            var first = w, last = -1
            let span = max(xEnd - xStart, 0)
            var left = [Int](repeating: 0, count: span), right = left, weight = [Float](repeating: 0, count: span)
            for x in xStart..<max(xStart, xEnd) {
                let sx = ax * Float(x) + bx
                guard sx >= -0.5, sx <= fw - 0.5 else { continue }
                first = min(first, x); last = x
                let cx = min(max(sx, 0), fw - 1)
                let x0 = Int(cx)
                left[x - xStart] = x0 * channels; right[x - xStart] = min(x0 + 1, w - 1) * channels
                weight[x - xStart] = cx - Float(x0)
            }
            guard first <= last else { return }
            left.withUnsafeBufferPointer { left in right.withUnsafeBufferPointer { right in weight.withUnsafeBufferPointer { weight in
                for y in 0..<h {
                    let sy = ay * Float(y) + by
                    guard sy >= -0.5, sy <= fh - 0.5 else { continue }
                    let cy = min(max(sy, 0), fh - 1)
                    let y0 = Int(cy), y1 = min(y0 + 1, h - 1), fy = cy - Float(y0)
                    let top = src.baseAddress! + y0 * w * channels, bottom = src.baseAddress! + y1 * w * channels
                    let row = dst.baseAddress! + y * w * channels
                    for x in first...last {
                        let k = x - xStart
                        let (l, r, fx) = (left[k], right[k], weight[k])
                        let o = row + x * channels
                        for c in 0..<channels {
                            let upper = top[l + c] + (top[r + c] - top[l + c]) * fx
                            let lower = bottom[l + c] + (bottom[r + c] - bottom[l + c]) * fx
                            o[c] = upper + (lower - upper) * fy
                        }
                    }
                    if colour { jitter.apply(row + first * 3, pixels: last - first + 1) }
                }
            } } }
        }
    }
    return (FloatImage(width: w, height: h, channels: channels, pixels: out), boxes)
}

/// HSV jitter of RGB pixels: hue + shift (mod 1), saturation × gain and value × gain, each
/// clamped to [0, 1]. The model of `rgbToHSV` / `hsvToRGB`, eight pixels at a time with
/// masks instead of branches, and the branch-free hexcone inverse
/// c_n = V − V·S·clamp(min(k, 4 − k), 0, 1), k = (n + 6H) mod 6, n = 5, 3, 1 for R, G, B.
struct ColourJitter {
    var hueShift: Float, saturationGain: Float, valueGain: Float

    /// Jitters `pixels` interleaved RGB pixels in place.
    func apply(_ p: UnsafeMutablePointer<Float>, pixels count: Int) {
        typealias V = SIMD8<Float>
        var k = 0
        while k < count {
            let n = min(8, count - k)
            let r: V, g: V, b: V
            if n == 8 {
                let q = p + 3 * k
                r = V(q[0], q[3], q[6], q[9], q[12], q[15], q[18], q[21])
                g = V(q[1], q[4], q[7], q[10], q[13], q[16], q[19], q[22])
                b = V(q[2], q[5], q[8], q[11], q[14], q[17], q[20], q[23])
            } else {
                var (rr, gg, bb) = (V(), V(), V())
                for j in 0..<n { rr[j] = p[3 * (k + j)]; gg[j] = p[3 * (k + j) + 1]; bb[j] = p[3 * (k + j) + 2] }
                (r, g, b) = (rr, gg, bb)
            }
            let v = maximum(r, maximum(g, b))
            let chroma = v - minimum(r, minimum(g, b))
            let colourful = chroma .> 0
            let c = V(repeating: 1).replacing(with: chroma, where: colourful)
            // Hue in sextants: the red case last, so it wins ties as in rgbToHSV.
            var h6 = 4 + (r - g) / c
            h6.replace(with: 2 + (b - r) / c, where: v .== g)
            h6.replace(with: (g - b) / c, where: v .== r)
            h6 += 6 * hueShift
            h6.replace(with: h6 + 6, where: h6 .< 0)
            h6.replace(with: h6 - 6, where: h6 .>= 6)
            let value = unitClamped(v * valueGain)
            var saturation = unitClamped(chroma / maximum(v, V(repeating: 1e-12)) * saturationGain)
            saturation.replace(with: 0, where: .!colourful)
            let vs = value * saturation
            func channel(_ offset: Float) -> V {
                var t = h6 + offset
                t.replace(with: t - 6, where: t .>= 6)
                return value - vs * unitClamped(minimum(t, 4 - t))
            }
            let (nr, ng, nb) = (channel(5), channel(3), channel(1))
            if n == 8 {
                let q = p + 3 * k
                q[0] = nr[0]; q[3] = nr[1]; q[6] = nr[2]; q[9] = nr[3]; q[12] = nr[4]; q[15] = nr[5]; q[18] = nr[6]; q[21] = nr[7]
                q[1] = ng[0]; q[4] = ng[1]; q[7] = ng[2]; q[10] = ng[3]; q[13] = ng[4]; q[16] = ng[5]; q[19] = ng[6]; q[22] = ng[7]
                q[2] = nb[0]; q[5] = nb[1]; q[8] = nb[2]; q[11] = nb[3]; q[14] = nb[4]; q[17] = nb[5]; q[20] = nb[6]; q[23] = nb[7]
            } else {
                for j in 0..<n { p[3 * (k + j)] = nr[j]; p[3 * (k + j) + 1] = ng[j]; p[3 * (k + j) + 2] = nb[j] }
            }
            k += n
        }
    }

    // The standard library's pointwiseMin/Max on SIMD8 are not inlined here (a call per vector,
    // a third of the time); a compare and select is.
    @inline(__always) private func minimum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }
    @inline(__always) private func maximum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
    @inline(__always) private func unitClamped(_ a: SIMD8<Float>) -> SIMD8<Float> {
        minimum(maximum(a, SIMD8(repeating: 0)), SIMD8(repeating: 1))
    }
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
