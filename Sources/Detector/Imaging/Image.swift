/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B.
public struct Image: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3)
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// A solid image.
    public init(width: Int, height: Int, fill: (r: UInt8, g: UInt8, b: UInt8) = (0, 0, 0)) {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in stride(from: 0, to: pixels.count, by: 3) {
            pixels[i] = fill.r; pixels[i + 1] = fill.g; pixels[i + 2] = fill.b
        }
        self.init(width: width, height: height, pixels: pixels)
    }
}

/// A floating-point image with `channels` interleaved channels per pixel (HWC), values in [0, 1]
/// for pictures. The network input is one of these (3 channels, letterboxed).
public struct FloatImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [Float]

    public init(width: Int, height: Int, channels: Int = 3, pixels: [Float]) {
        precondition(pixels.count == width * height * channels)
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }

    public init(width: Int, height: Int, channels: Int = 3, fill: Float = 0) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [Float](repeating: fill, count: width * height * channels))
    }
}

extension Image {
    /// Values scaled to [0, 1].
    public var floatImage: FloatImage {
        FloatImage(width: width, height: height, channels: 3, pixels: pixels.map { Float($0) * (1.0 / 255.0) })
    }
}

extension FloatImage {
    /// Rounded and clamped to 8 bits (3 channels expected).
    public var image: Image {
        precondition(channels == 3)
        return Image(width: width, height: height,
                     pixels: pixels.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) })
    }
}
