import Foundation

/// An image held in memory with its labels (normalised to the original image), for training and
/// evaluation.
///
/// A photo larger than the network needs is held as the network's input, not at full
/// resolution (31 photos of 2400 x 1800 held as decoded took 627 MB): at load, `letterbox` resizes it
/// once, and the part of its output the image covers is kept, in the 32-bit values the letterbox
/// wrote. `networkInput` puts those values back on the gray canvas, so a training batch or a
/// validation pass sees exactly the values it would have seen letterboxing the original each
/// time, bit for bit. An image is held that way only when it is smaller so: for a 256 x 256
/// network, at most 256 · 256 · 3 floats (768 KB) instead of the original's 3 bytes a pixel,
/// which is the larger from about 512 x 512 up; smaller images stay as they are.
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
        /// The letterbox's output for a `networkWidth` x `networkHeight` input, only the
        /// `region` the image covers (the rest is `letterboxPadValue`).
        case letterboxed(FloatImage, region: CoveredRegion, networkWidth: Int, networkHeight: Int)
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
        var kept = [Float](repeating: 0, count: region.width * region.height * 3)
        for y in 0..<region.height {
            let from = ((region.y0 + y) * networkWidth + region.x0) * 3
            kept.replaceSubrange((y * region.width * 3)..<((y + 1) * region.width * 3), with: canvas[from..<(from + region.width * 3)])
        }
        pixels = .letterboxed(FloatImage(width: region.width, height: region.height, pixels: kept), region: region,
                              networkWidth: networkWidth, networkHeight: networkHeight)
    }

    /// Whether the sample was resized at load (held at the network's size).
    public var isResized: Bool {
        if case .original = pixels { return false }
        return true
    }

    /// The bytes of pixel data held.
    public var heldBytes: Int {
        switch pixels {
        case let .original(image): return image.pixels.count
        case let .letterboxed(kept, _, _, _): return kept.pixels.count * MemoryLayout<Float>.stride
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

    /// The picture for renders: the original, or the resized one (at most network size) rounded
    /// to 8 bits. The labels, normalised, fit either.
    public var image: Image {
        switch pixels {
        case let .original(image): return image
        case let .letterboxed(kept, _, _, _): return kept.image
        }
    }

    /// The letterboxed network input of the image and how it was placed (`letterbox(_:width:height:)`
    /// of the original, the same values). Needs `canFeed(width:height:)`.
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
            kept.pixels.withUnsafeBufferPointer { source in
                for y in 0..<region.height {
                    let to = ((region.y0 + y) * w + region.x0) * 3
                    let row = UnsafeBufferPointer(rebasing: source[(y * region.width * 3)..<((y + 1) * region.width * 3)])
                    _ = UnsafeMutableBufferPointer(rebasing: output[to..<(to + region.width * 3)]).update(fromContentsOf: row)
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

/// Reads the images of a split into memory (both cores), each held at full resolution. A file
/// that cannot be read is an error naming it.
public func loadSamples(_ items: [DatasetItem]) throws -> [LoadedSample] {
    try loadSamples(items) { name, image, objects in LoadedSample(name: name, image: image, objects: objects) }
}

/// Reads the images of a split into memory (both cores), each held at most at the size a
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
