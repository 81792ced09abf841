import CPNG
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why an image could not be read or written, and which file.
public struct ImageError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var reason: String
    public init(file: String, reason: String) { self.file = file; self.reason = reason }
    public var description: String { "\(file): \(reason)" }
}

/// PNG decoding and encoding through libpng's simplified API (`png_image_*`), which reports
/// errors as return codes and a message. One kind of file, 16-bit and Adam7-interlaced, is
/// decoded with libpng's classic row API instead (the simplified API gets it wrong; see
/// `decode`), inside one C function of the CPNG shim, because the classic API reports errors
/// by `longjmp`, which Swift cannot catch.
public enum PNG {
    /// Larger images are refused before any pixel memory is allocated.
    public static let maximumSide = 32_768
    public static let maximumPixels = 100_000_000
    /// Larger files are refused before they are read (a 100-megapixel 16-bit RGBA image
    /// stored without compression is 800 MB).
    public static let maximumFileBytes = 1 << 30

    /// Transparent pixels are composited onto white, as an image viewer shows them (a
    /// detector sees shapes on white better than on black, and PIL's `convert("RGB")`, which
    /// keeps the hidden colours of transparent pixels, shows arbitrary content).
    public static let background: (r: UInt8, g: UInt8, b: UInt8) = (255, 255, 255)

    /// Alpha compositing "over" the background on 8-bit sRGB values, as browsers and image
    /// libraries blend: c' = round((c·a + bg·(255 − a)) / 255). In place: RGBA pixels become
    /// RGB, and the array shrinks to 3 bytes a pixel (the write index 3i never passes the
    /// read index 4i).
    static func compositeOntoBackground(_ pixels: inout [UInt8], count: Int) {
        let bg = [UInt32(background.r), UInt32(background.g), UInt32(background.b)]
        pixels.withUnsafeMutableBufferPointer { p in
            for i in 0..<count {
                let a = UInt32(p[4 * i + 3])
                for c in 0..<3 {
                    // (x + 127) / 255 rounds x / 255 to nearest; x / 255 is never k + 0.5.
                    p[3 * i + c] = UInt8((UInt32(p[4 * i + c]) * a + bg[c] * (255 - a) + 127) / 255)
                }
            }
        }
        pixels.removeLast(count)
    }

    /// Walks the chunks (length, type, data, CRC) up to IEND and refuses a chunk whose length
    /// runs past the end of the data: libpng allocates (and zeroes) a chunk's claimed length
    /// before it finds the data missing, so a 199-byte file claiming a 2 GB chunk cost 2 GB and
    /// over a second per decode (a fuzzing find).
    static func checkChunkLengths(_ data: Data, name: String) throws {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var offset = 8
            while offset + 8 <= bytes.count {
                let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
                let type = String(decoding: bytes[(offset + 4)..<(offset + 8)].map { (0x20...0x7E).contains($0) ? $0 : 0x3F }, as: UTF8.self)
                let remaining = bytes.count - offset - 12
                guard length <= 0x7FFF_FFFF, length <= remaining else {
                    throw ImageError(file: name, reason: "invalid or truncated PNG: the \(type) chunk at byte \(offset) claims \(length) bytes, only \(max(remaining, 0)) remain")
                }
                if type == "IEND" { return }
                offset += 12 + length
            }
        }
    }

    /// Any PNG (1 to 16 bits, gray, gray+alpha, palette, RGB, RGBA, interlaced or not) as
    /// 8-bit RGB. Samples of 1, 2 or 4 bits scale exactly (v · 255 / (2^d − 1)); 16-bit samples
    /// are taken as already sRGB-encoded (most files are, and the user expects 0x8080 to read
    /// as 128), not as linear light, and reduce to round(v / 257) (libpng's `png_set_scale_16`).
    /// Alpha (a channel or tRNS) is composited onto `background`; see `compositeOntoBackground`.
    /// A file's gAMA or sRGB chunk, when present, is honoured by libpng (converted to sRGB).
    /// Dimensions are checked against `maximumSide` and `maximumPixels` from the header,
    /// before the pixel buffer is allocated.
    ///
    /// 16-bit interlaced files go through `detector_png_read_rgb8` (CPNG/shim.h): the
    /// simplified API of the libpng 1.6.39 shipped here (Debian's, with the CVE-2025-65018
    /// fix) gives wrong pixels for them (libpng issue #853; half the samples of an 8x8 file).
    /// The shim sets the same transforms as the simplified API, so such a file decodes to
    /// exactly the pixels of the same image stored without interlacing.
    public static func decode(_ data: Data, name: String) throws -> Image {
        guard data.count >= 8 else {
            throw ImageError(file: name, reason: data.isEmpty ? "empty file" : "not a PNG file (only \(data.count) bytes)")
        }
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard Array(data.prefix(8)) == signature else {
            throw ImageError(file: name, reason: "not a PNG file (bad signature)")
        }
        try checkChunkLengths(data, name: name)
        // libpng keeps reading from `raw` until png_image_finish_read, so both calls stay
        // inside the one closure where the pointer is valid.
        return try data.withUnsafeBytes { raw in
            var image = png_image()
            image.version = png_uint_32(PNG_IMAGE_VERSION)
            defer { png_image_free(&image) }
            let began = png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count)
            guard began != 0 else { throw ImageError(file: name, reason: "invalid PNG: \(message(of: image))") }
            let width = Int(image.width), height = Int(image.height)
            guard width > 0, height > 0 else {
                throw ImageError(file: name, reason: "zero-size image (\(width) x \(height))")
            }
            guard width <= maximumSide, height <= maximumSide, width * height <= maximumPixels else {
                throw ImageError(file: name, reason: "image too large (\(width) x \(height); the limit is \(maximumSide) per side and \(maximumPixels / 1_000_000) megapixels)")
            }
            image.flags |= png_uint_32(PNG_IMAGE_FLAG_16BIT_sRGB)
            // With alpha (an alpha channel or a tRNS chunk), read RGBA and composite here: libpng
            // composites in linear light, which makes half-transparent pixels much lighter than
            // every browser and image library (which blend the sRGB values) shows them.
            let hasAlpha = image.format & png_uint_32(PNG_FORMAT_FLAG_ALPHA) != 0
            let channels = hasAlpha ? 4 : 3
            image.format = png_uint_32(PNG_FORMAT_RGB | (hasAlpha ? PNG_FORMAT_FLAG_ALPHA : 0))
            var pixels = [UInt8](repeating: 0, count: width * height * channels)
            // IHDR is the first chunk (libpng has checked it): bit depth at byte 24, interlace
            // method at byte 28.
            if raw.count >= 33 && raw[24] == 16 && raw[28] == 1 {
                var reader = detector_png_reader()
                reader.data = raw.baseAddress?.assumingMemoryBound(to: UInt8.self)
                reader.size = raw.count
                let finished = pixels.withUnsafeMutableBufferPointer { buffer in
                    detector_png_read_rgb8(&reader, buffer.baseAddress, png_uint_32(width), png_uint_32(height), Int32(channels))
                }
                guard finished != 0 else {
                    let text = withUnsafeBytes(of: &reader.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    throw ImageError(file: name, reason: "invalid or truncated PNG: \(text)")
                }
            } else {
                let finished = pixels.withUnsafeMutableBytes { buffer in
                    png_image_finish_read(&image, nil, buffer.baseAddress, png_int_32(width * channels), nil)
                }
                guard finished != 0 else { throw ImageError(file: name, reason: "invalid or truncated PNG: \(message(of: image))") }
            }
            if hasAlpha { compositeOntoBackground(&pixels, count: width * height) }
            return Image(width: width, height: height, pixels: pixels)
        }
    }

    /// Reads and decodes a file. The path must lead (through symbolic links) to a regular file
    /// of at most `maximumFileBytes`: a folder, FIFO, device or socket is refused without
    /// being read (so a FIFO never blocks), as is a dangling or looping link.
    public static func read(path: String) throws -> Image {
        let data: Data
        do { data = try RegularFile.read(path: path, limit: maximumFileBytes) } catch {
            throw ImageError(file: path, reason: error.reason(limitName: "a PNG file"))
        }
        return try decode(data, name: path)
    }

    /// Width and height from the header alone (the first 33 bytes: signature and IHDR, which
    /// the PNG specification requires to come first), without decoding: for passes over a data
    /// set that need only image sizes. The IHDR's CRC is checked.
    public static func size(path: String) throws -> (width: Int, height: Int) {
        let bytes: [UInt8]
        do { bytes = [UInt8](try RegularFile.read(path: path, prefix: 33)) } catch {
            throw ImageError(file: path, reason: error.reason(limitName: "a PNG file"))
        }
        guard !bytes.isEmpty else { throw ImageError(file: path, reason: "empty file") }
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw ImageError(file: path, reason: "not a PNG file (bad signature)")
        }
        func word(_ at: Int) -> UInt32 { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        guard bytes.count == 33, word(8) == 13, Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw ImageError(file: path, reason: "invalid PNG: no IHDR chunk after the signature")
        }
        guard crc32(bytes[12..<29]) == word(29) else { throw ImageError(file: path, reason: "invalid PNG: IHDR CRC mismatch") }
        let width = Int(word(16)), height = Int(word(20))
        guard width > 0, height > 0 else { throw ImageError(file: path, reason: "zero-size image (\(width) x \(height))") }
        return (width, height)
    }

    /// CRC-32 as PNG chunks use it (ISO 3309, polynomial 0xEDB88320, reflected), byte-wise
    /// with a 256-entry table.
    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// 8-bit RGB PNG bytes.
    public static func encode(_ image: Image) throws -> Data {
        guard image.width > 0, image.height > 0 else {
            throw ImageError(file: "<memory>", reason: "cannot encode an empty image (\(image.width) x \(image.height))")
        }
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        png.width = png_uint_32(image.width)
        png.height = png_uint_32(image.height)
        png.format = png_uint_32(PNG_FORMAT_RGB)
        defer { png_image_free(&png) }
        let stride = png_int_32(image.width * 3)
        // One pass into a buffer big enough for incompressible data (zlib stored blocks:
        // every row plus its filter byte, 5 bytes per 64 KB block, and room for the chunks),
        // instead of libpng's measure-then-write, which compresses everything twice.
        let rowBytes = image.height * (image.width * 3 + 1)
        var size = rowBytes + rowBytes / 1000 + 4096
        var output = Data(count: size)
        let written = output.withUnsafeMutableBytes { out in
            image.pixels.withUnsafeBytes { raw in
                png_image_write_to_memory(&png, out.baseAddress, &size, 0, raw.baseAddress, stride, nil)
            }
        }
        guard written != 0 else { throw ImageError(file: "<memory>", reason: "PNG encoding failed: \(message(of: png))") }
        return output.prefix(size)
    }

    /// Encodes and writes atomically (temporary file, then rename).
    public static func write(_ image: Image, to path: String) throws {
        let data: Data
        do { data = try encode(image) } catch let error as ImageError {
            throw ImageError(file: path, reason: error.reason)
        }
        do { try writeAtomically(data, to: path) } catch {
            throw ImageError(file: path, reason: "\(error)")
        }
    }

    private static func message(of image: png_image) -> String {
        var copy = image.message
        return withUnsafeBytes(of: &copy) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
