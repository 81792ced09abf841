import Foundation

/// The image formats the toolkit reads.
public enum ImageFormat: String, Sendable, CaseIterable {
    case png = "PNG"
    case jpeg = "JPEG"
}

/// Reading image files of either format: the decoder is picked by the file's first bytes
/// (its signature), never by its extension, so a PNG named x.jpg reads as the PNG it is.
/// The extensions only say which files of a folder are meant as images (`isImagePath`).
public enum ImageFile {
    /// File name extensions of images, lower case; a name matches in any case (x.JPG).
    public static let extensions = ["png", "jpg", "jpeg"]

    /// Larger images are refused from the header, before any pixel memory is allocated.
    public static let maximumSide = PNG.maximumSide
    public static let maximumPixels = PNG.maximumPixels
    /// Larger files are refused before they are read.
    public static let maximumFileBytes = PNG.maximumFileBytes

    /// Whether the file name ends in one of `extensions` (any case) after a non-empty stem.
    public static func isImagePath(_ path: String) -> Bool {
        let name = URL(fileURLWithPath: path).lastPathComponent
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        return extensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// The format whose signature the bytes start with: PNG's 8-byte signature, or JPEG's
    /// SOI marker followed by the 0xFF of the next marker.
    public static func format<Bytes: Collection<UInt8>>(of bytes: Bytes) -> ImageFormat? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }

    /// The format a file that is neither PNG nor JPEG seems to be in, for the error message
    /// (a phone's HEIC photo or a WebP saved as .jpg is a common surprise).
    static func otherFormatName(_ bytes: [UInt8]) -> String? {
        func at(_ offset: Int, _ text: String) -> Bool { bytes.dropFirst(offset).starts(with: Array(text.utf8)) }
        if at(0, "GIF87a") || at(0, "GIF89a") { return "GIF" }
        if at(0, "RIFF") && at(8, "WEBP") { return "WebP" }
        if at(0, "BM") { return "BMP" }
        if at(0, "II*\0") || at(0, "MM\0*") { return "TIFF" }
        if at(4, "ftyp") {
            if at(8, "avif") || at(8, "avis") { return "AVIF" }
            if ["heic", "heix", "hevc", "mif1", "msf1"].contains(where: { at(8, $0) }) { return "HEIF/HEIC" }
        }
        if at(0, "%PDF") { return "PDF" }
        return nil
    }

    /// Why bytes that are neither PNG nor JPEG cannot be read.
    static func unknownFormatReason(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "empty file" }
        if let other = otherFormatName(bytes) { return "not a PNG or JPEG file (it looks like \(other == "AVIF" ? "an" : "a") \(other) image; convert it to PNG or JPEG)" }
        return "not a PNG or JPEG file (unknown signature)"
    }

    /// Decodes PNG or JPEG bytes to 8-bit RGB (`PNG.decode`, `JPEG.decode`), by signature.
    public static func decode(_ data: Data, name: String) throws -> Image {
        switch format(of: data) {
        case .png: return try PNG.decode(data, name: name)
        case .jpeg: return try JPEG.decode(data, name: name)
        case nil: throw ImageError(file: name, reason: unknownFormatReason([UInt8](data.prefix(16))))
        }
    }

    /// Reads and decodes a PNG or JPEG file, by its content. The path must lead (through
    /// symbolic links) to a regular file of at most `maximumFileBytes`: a folder, FIFO,
    /// device or socket is refused without being read (so a FIFO never blocks), as is a
    /// dangling or looping link. Every failure is an `ImageError` naming the file.
    public static func read(path: String) throws -> Image {
        try decode(readFile(path: path), name: path)
    }

    /// Width and height from the header alone, as `read` would return them (a JPEG's EXIF
    /// orientation applied), without decoding: for passes over a data set that need only
    /// image sizes, and to check that a file is an image without decoding it. A header whose
    /// size `read` would refuse (zero, or beyond `maximumSide` or `maximumPixels`) is refused
    /// here too, so that a file this accepts is refused by `read` only for damage past the
    /// header (a truncated or corrupt body).
    public static func size(path: String) throws -> (width: Int, height: Int) {
        let start = [UInt8](try readFile(path: path, prefix: 16))
        switch format(of: start) {
        case .png:
            let size = try PNG.size(path: path)
            try checkDimensions(width: size.width, height: size.height, name: path)
            return size
        case .jpeg: return try JPEG.size(path: path)
        case nil: throw ImageError(file: path, reason: unknownFormatReason(start))
        }
    }

    /// Refuses an image whose header gives a side of 0 or a size beyond the limits.
    static func checkDimensions(width: Int, height: Int, name: String) throws {
        guard width > 0, height > 0 else {
            throw ImageError(file: name, reason: "zero-size image (\(width) x \(height))")
        }
        guard width <= maximumSide, height <= maximumSide, width * height <= maximumPixels else {
            throw ImageError(file: name, reason: "image too large (\(width) x \(height); the limit is \(maximumSide) per side and \(maximumPixels / 1_000_000) megapixels)")
        }
    }

    /// The whole file, through `RegularFile`'s checks, or an `ImageError` naming it.
    static func readFile(path: String) throws -> Data {
        do { return try RegularFile.read(path: path, limit: maximumFileBytes) } catch {
            throw ImageError(file: path, reason: error.reason(limitName: "an image file"))
        }
    }

    /// At most the first `prefix` bytes, through `RegularFile`'s checks.
    static func readFile(path: String, prefix: Int) throws -> Data {
        do { return try RegularFile.read(path: path, prefix: prefix) } catch {
            throw ImageError(file: path, reason: error.reason(limitName: "an image file"))
        }
    }
}
