import Foundation

/// An image held in memory with its labels (normalised to the original image), for training and
/// evaluation.
///
/// A photo larger than the network needs is held as the network's input, not at full
/// resolution (31 photos of 2400 x 1800 held as decoded took 627 MB): at load, `letterbox` resizes it
/// once, and the part of its output the image covers is kept in 8 bits, each value v as
/// q = clamp(round(255 · v), 0, 255) (as Ultralytics keeps its resized images in uint8).
/// `networkInput` puts q · (1/255) back on the gray canvas (the same Float expression the
/// letterbox uses for a byte), so a training batch or a validation pass sees the letterbox's
/// values rounded to 8 bits: each at most 0.5/255 of the range from what letterboxing the
/// original each time would give, no longer bit for bit (the padding is still exactly
/// `letterboxPadValue`). The memory per image is 3 bytes per covered network pixel: for a
/// 256 x 256 network and a 4:3 photo 256 · 192 · 3 bytes (144 KB), never more than
/// 256 · 256 · 3 (192 KB), about what a 256 x 256 original costs.
///
/// An image is held that way only when its original's 3 bytes a pixel are more than 4 times the
/// covered region's 3 bytes a pixel, which for a 256 x 256 network is from about 512 x 512 up;
/// smaller images stay as they are and see the exact letterbox. (The factor 4 is the rule from
/// when the region was held in 32-bit floats, kept so that which images are resized, and what
/// the smaller ones train on, does not change.)
///
/// `width` and `height` are the original's either way: labels stay normalised to it, and
/// evaluation maps detections back to its pixels.
public struct LoadedSample: Sendable {
    public var name: String
    /// Normalised to the original image.
    public var objects: [LabeledObject]
    /// The original image's size in pixels.
    public let width: Int
    public let height: Int
    let pixels: Pixels

    enum Pixels: Sendable {
        /// The decoded file.
        case original(Image)
        /// The letterbox's output for a `networkWidth` x `networkHeight` input rounded to 8 bits
        /// (`heldByte(_:)`), only the `region` the image covers (the rest is `letterboxPadValue`).
        case letterboxed(Image, region: CoveredRegion, networkWidth: Int, networkHeight: Int)
    }

    /// Holds `image` as it is.
    public init(name: String, image: Image, objects: [LabeledObject]) {
        self.name = name; self.objects = objects
        width = image.width; height = image.height
        pixels = .original(image)
    }

    /// Holds `image` at the size a `networkWidth` x `networkHeight` input needs, when that takes
    /// less memory than the image itself (see the type's comment), else as it is.
    public init(name: String, image: Image, objects: [LabeledObject], networkWidth: Int, networkHeight: Int) {
        self.name = name; self.objects = objects
        width = image.width; height = image.height
        let transform = LetterboxTransform(sourceWidth: image.width, sourceHeight: image.height,
                                           targetWidth: networkWidth, targetHeight: networkHeight)
        let region = CoveredRegion(transform)
        guard 4 * region.width * region.height * 3 < image.width * image.height * 3 else {
            pixels = .original(image)
            return
        }
        var canvas = [Float](repeating: 0, count: networkWidth * networkHeight * 3)
        canvas.withUnsafeMutableBufferPointer { _ = letterbox(image, into: $0, width: networkWidth, height: networkHeight) }
        var kept = [UInt8](repeating: 0, count: region.width * region.height * 3)
        let rowValues = region.width * 3
        for y in 0..<region.height {
            let from = ((region.y0 + y) * networkWidth + region.x0) * 3
            for k in 0..<rowValues { kept[y * rowValues + k] = Self.heldByte(canvas[from + k]) }
        }
        pixels = .letterboxed(Image(width: region.width, height: region.height, pixels: kept), region: region,
                              networkWidth: networkWidth, networkHeight: networkHeight)
    }

    /// A letterboxed value v in [0, 1] as held: clamp(round(255 · v), 0, 255), to the nearest
    /// (halves away from zero), the rounding of `FloatImage.image`.
    static func heldByte(_ value: Float) -> UInt8 {
        UInt8(max(0, min(255, (value * 255).rounded())))
    }

    /// A held byte q back as a network input value: q · (1/255), the expression `letterbox`
    /// uses, so |q · (1/255) − v| ≤ 0.5/255 (up to a Float rounding) for the v it was made from.
    static func inputValue(_ byte: UInt8) -> Float {
        let inv: Float = 1 / 255
        return Float(byte) * inv
    }

    /// Whether the sample was resized at load (held at the network's size).
    public var isResized: Bool {
        if case .original = pixels { return false }
        return true
    }

    /// The bytes of pixel data held: 3 a pixel of the original, or 3 per covered network pixel
    /// when resized (at most 3 · networkWidth · networkHeight).
    public var heldBytes: Int {
        switch pixels {
        case let .original(image): return image.pixels.count
        case let .letterboxed(kept, _, _, _): return kept.pixels.count
        }
    }

    /// Whether `networkInput` can make a `width` x `height` input from what is held: always for
    /// an original, only at the size it was resized for otherwise.
    public func canFeed(width networkWidth: Int, height networkHeight: Int) -> Bool {
        switch pixels {
        case .original: return true
        case let .letterboxed(_, _, w, h): return w == networkWidth && h == networkHeight
        }
    }

    /// The picture for renders: the original, or the resized one (at most network size) as held,
    /// in 8 bits. The labels, normalised, fit either.
    public var image: Image {
        switch pixels {
        case let .original(image): return image
        case let .letterboxed(kept, _, _, _): return kept
        }
    }

    /// The letterboxed network input of the image and how it was placed: `letterbox(_:width:height:)`
    /// of the original, the same values for an image held as it is; for a resized one those values
    /// rounded to 8 bits (`heldByte`, then `inputValue`: each within 0.5/255), the padding exact.
    /// Needs `canFeed(width:height:)`.
    public func networkInput(width networkWidth: Int, height networkHeight: Int) -> (input: FloatImage, transform: LetterboxTransform) {
        var values = [Float](repeating: 0, count: networkWidth * networkHeight * 3)
        let transform = values.withUnsafeMutableBufferPointer { networkInput(into: $0, width: networkWidth, height: networkHeight) }
        return (FloatImage(width: networkWidth, height: networkHeight, pixels: values), transform)
    }

    /// The same into a caller's buffer of width · height · 3 floats (every value is written).
    @discardableResult
    public func networkInput(into output: UnsafeMutableBufferPointer<Float>, width networkWidth: Int,
                             height networkHeight: Int) -> LetterboxTransform {
        switch pixels {
        case let .original(image):
            return letterbox(image, into: output, width: networkWidth, height: networkHeight)
        case let .letterboxed(kept, region, w, h):
            precondition(w == networkWidth && h == networkHeight && output.count >= w * h * 3,
                         "a sample resized for a \(w)x\(h) input cannot feed a \(networkWidth)x\(networkHeight) one")
            output.update(repeating: letterboxPadValue)
            let rowValues = region.width * 3
            kept.pixels.withUnsafeBufferPointer { source in
                for y in 0..<region.height {
                    let to = ((region.y0 + y) * w + region.x0) * 3, from = y * rowValues
                    for k in 0..<rowValues { output[to + k] = Self.inputValue(source[from + k]) }
                }
            }
            return LetterboxTransform(sourceWidth: width, sourceHeight: height, targetWidth: w, targetHeight: h)
        }
    }
}

/// The network-input pixels `letterbox(_:into:width:height:)` computes from the image: those
/// whose centre falls inside the scaled image, x0 ..< x1 by y0 ..< y1. Its own expressions,
/// in the same Float operations, so the region is the letterbox's to the pixel (a test checks
/// that the canvas rebuilt from it is the letterbox's output for many sizes).
struct CoveredRegion: Hashable, Sendable {
    var x0: Int, x1: Int, y0: Int, y1: Int
    var width: Int { max(0, x1 - x0) }
    var height: Int { max(0, y1 - y0) }

    init(_ t: LetterboxTransform) {
        x0 = max(0, Int((t.padX).rounded())); x1 = min(t.targetWidth, Int((t.padX + Float(t.sourceWidth) * t.scale).rounded()))
        y0 = max(0, Int((t.padY).rounded())); y1 = min(t.targetHeight, Int((t.padY + Float(t.sourceHeight) * t.scale).rounded()))
    }
}

/// Reads the images of a split into memory (on every core), each held at full resolution. A file
/// that cannot be read is an error naming it.
public func loadSamples(_ items: [DatasetItem]) throws -> [LoadedSample] {
    try loadSamples(items) { name, image, objects in LoadedSample(name: name, image: image, objects: objects) }
}

/// Reads the images of a split into memory (on every core), each held at most at the size a
/// `networkWidth` x `networkHeight` input needs (see `LoadedSample`): memory grows with the
/// number of images, not their resolution. A file that cannot be read is an error naming it.
public func loadSamples(_ items: [DatasetItem], networkWidth: Int, networkHeight: Int) throws -> [LoadedSample] {
    try loadSamples(items) { name, image, objects in
        LoadedSample(name: name, image: image, objects: objects, networkWidth: networkWidth, networkHeight: networkHeight)
    }
}

/// One decoded image at a time per core: the full-resolution pixels live only until `make` is done.
private func loadSamples(_ items: [DatasetItem],
                         make: @Sendable (String, Image, [LabeledObject]) -> LoadedSample) throws -> [LoadedSample] {
    var results = [Result<LoadedSample, Error>?](repeating: nil, count: items.count)
    results.withUnsafeMutableBufferPointer { out in
        DispatchQueue.concurrentPerform(iterations: items.count) { k in
            out[k] = Result {
                let name = URL(fileURLWithPath: items[k].imagePath).deletingPathExtension().lastPathComponent
                return make(name, try ImageFile.read(path: items[k].imagePath), items[k].objects)
            }
        }
    }
    return try results.map { try $0!.get() }
}
