/// How an image was placed in the network input by `letterbox`: scaled by `scale` (the same on
/// both axes, so shapes keep their aspect ratio), then shifted by (`padX`, `padY`) to centre
/// it; the rest is gray padding. Maps boxes both ways exactly.
public struct LetterboxTransform: Hashable, Sendable {
    public var scale: Float
    public var padX: Float
    public var padY: Float
    public var sourceWidth: Int
    public var sourceHeight: Int
    public var targetWidth: Int
    public var targetHeight: Int

    public init(sourceWidth: Int, sourceHeight: Int, targetWidth: Int, targetHeight: Int) {
        self.sourceWidth = sourceWidth; self.sourceHeight = sourceHeight
        self.targetWidth = targetWidth; self.targetHeight = targetHeight
        scale = min(Float(targetWidth) / Float(sourceWidth), Float(targetHeight) / Float(sourceHeight))
        padX = (Float(targetWidth) - Float(sourceWidth) * scale) / 2
        padY = (Float(targetHeight) - Float(sourceHeight) * scale) / 2
    }

    /// Source pixels → network-input pixels.
    public func toNetwork(_ box: BoundingBox) -> BoundingBox {
        BoundingBox(x1: box.x1 * scale + padX, y1: box.y1 * scale + padY, x2: box.x2 * scale + padX, y2: box.y2 * scale + padY)
    }

    /// Network-input pixels → source pixels (the inverse of `toNetwork`).
    public func toSource(_ box: BoundingBox) -> BoundingBox {
        BoundingBox(x1: (box.x1 - padX) / scale, y1: (box.y1 - padY) / scale,
                    x2: (box.x2 - padX) / scale, y2: (box.y2 - padY) / scale)
    }

    /// A box normalised to the network input → normalised to the original image, not clipped
    /// (the inverse of `sourceNormalisedToNetworkNormalised`).
    public func networkNormalisedToSourceNormalised(_ box: BoundingBox) -> BoundingBox {
        toSource(box.scaled(x: Float(targetWidth), y: Float(targetHeight)))
            .scaled(x: 1 / Float(sourceWidth), y: 1 / Float(sourceHeight))
    }

    /// A box in normalised network-input coordinates → pixels of the original image, clipped.
    public func normalisedNetworkToSourcePixels(_ box: BoundingBox) -> BoundingBox {
        let pixels = box.scaled(x: Float(targetWidth), y: Float(targetHeight))
        return toSource(pixels).clamped(width: Float(sourceWidth), height: Float(sourceHeight))
    }

    /// A label box normalised to the original image → normalised network-input coordinates.
    public func sourceNormalisedToNetworkNormalised(_ box: BoundingBox) -> BoundingBox {
        let pixels = toNetwork(box.scaled(x: Float(sourceWidth), y: Float(sourceHeight)))
        return pixels.scaled(x: 1 / Float(targetWidth), y: 1 / Float(targetHeight))
    }
}

/// Gray of the padding (0.5, as YOLO's letterbox uses 114/255 ≈ 0.45; 0.5 is the midpoint of
/// the network's input range).
public let letterboxPadValue: Float = 0.5

/// Resizes `image` into a `width` x `height` network input keeping its aspect ratio, centred,
/// padded with gray 0.5; values in [0, 1], bilinear, with pixel centres aligned
/// (`align_corners=False`: source x = (x + 0.5) / scale − 0.5, clamped to the image).
public func letterbox(_ image: Image, width: Int, height: Int) -> (image: FloatImage, transform: LetterboxTransform) {
    var transform: LetterboxTransform!
    // Not filled first: `letterbox(_:into:)` writes every value.
    let pixels = [Float](unsafeUninitializedCapacity: width * height * 3) { buffer, count in
        transform = letterbox(image, into: buffer, width: width, height: height)
        count = buffer.count
    }
    return (FloatImage(width: width, height: height, channels: 3, pixels: pixels), transform)
}

/// The same into a caller's buffer of at least width · height · 3 floats (every value is
/// written, each once: the padding around the covered region, then the region; values past
/// width · height · 3 are set to the padding).
@discardableResult
public func letterbox(_ image: Image, into output: UnsafeMutableBufferPointer<Float>, width: Int, height: Int) -> LetterboxTransform {
    precondition(output.count >= width * height * 3)
    let t = LetterboxTransform(sourceWidth: image.width, sourceHeight: image.height, targetWidth: width, targetHeight: height)
    // The covered region: target pixels whose centre falls inside the scaled image.
    let x0 = max(0, Int((t.padX).rounded())), x1 = min(width, Int((t.padX + Float(image.width) * t.scale).rounded()))
    let y0 = max(0, Int((t.padY).rounded())), y1 = min(height, Int((t.padY + Float(image.height) * t.scale).rounded()))
    // The padding: every value outside the covered region (which the loop below writes).
    let base = output.baseAddress!, rowLength = width * 3
    let coversRows = x1 > x0 ? y0..<max(y0, y1) : 0..<0
    for y in 0..<height {
        let row = base + y * rowLength
        if coversRows.contains(y) {
            row.update(repeating: letterboxPadValue, count: x0 * 3)
            (row + x1 * 3).update(repeating: letterboxPadValue, count: (width - x1) * 3)
        } else {
            row.update(repeating: letterboxPadValue, count: rowLength)
        }
    }
    (base + height * rowLength).update(repeating: letterboxPadValue, count: output.count - height * rowLength)
    let sw = image.width, sh = image.height
    let inv: Float = 1 / 255
    // At scale 1 with whole-pixel padding (an image already at the network's size, or held at
    // it) every tap weight below is 0, so the interpolation is a shifted copy: the same values,
    // without the arithmetic.
    if t.scale == 1, t.padX == t.padX.rounded(), t.padY == t.padY.rounded() {
        let dx = Int(t.padX), dy = Int(t.padY)
        image.pixels.withUnsafeBufferPointer { src in
            for y in y0..<max(y0, y1) {
                let from = src.baseAddress! + ((y - dy) * sw + (x0 - dx)) * 3, to = base + (y * width + x0) * 3
                for i in 0..<(max(x1 - x0, 0) * 3) { to[i] = Float(from[i]) * inv }
            }
        }
        return t
    }
    // Precompute the horizontal taps once per column.
    var left = [Int](repeating: 0, count: max(x1 - x0, 0)), right = left
    var fx = [Float](repeating: 0, count: max(x1 - x0, 0))
    for x in x0..<max(x0, x1) {
        let sx = min(max((Float(x) + 0.5 - t.padX) / t.scale - 0.5, 0), Float(sw - 1))
        let l = Int(sx)
        left[x - x0] = l; right[x - x0] = min(l + 1, sw - 1); fx[x - x0] = sx - Float(l)
    }
    image.pixels.withUnsafeBufferPointer { src in
        for y in y0..<max(y0, y1) {
            let sy = min(max((Float(y) + 0.5 - t.padY) / t.scale - 0.5, 0), Float(sh - 1))
            let top = Int(sy), bottom = min(top + 1, sh - 1)
            let fy = sy - Float(top)
            let rowTop = top * sw * 3, rowBottom = bottom * sw * 3
            for x in x0..<x1 {
                let k = x - x0
                let a = rowTop + left[k] * 3, b = rowTop + right[k] * 3
                let c = rowBottom + left[k] * 3, d = rowBottom + right[k] * 3
                let wx = fx[k]
                let o = (y * width + x) * 3
                for ch in 0..<3 {
                    let upper = Float(src[a + ch]) + (Float(src[b + ch]) - Float(src[a + ch])) * wx
                    let lower = Float(src[c + ch]) + (Float(src[d + ch]) - Float(src[c + ch])) * wx
                    output[o + ch] = (upper + (lower - upper) * fy) * inv
                }
            }
        }
    }
    return t
}
