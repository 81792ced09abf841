import Foundation

/// Width and height of an image file from its header, without decoding any pixel; nil for a
/// format whose header this toolkit cannot read yet (JPEG: its size reader comes with JPEG
/// support, and is one more case here). The format is told by the file's first bytes, not its
/// name. Throws an `ImageError` for a file that cannot be read, is not an image of a known
/// format, or has a broken header.
func imageHeaderSize(path: String) throws -> (width: Int, height: Int)? {
    let head: Data
    do { head = try RegularFile.read(path: path, prefix: 8) } catch {
        throw ImageError(file: path, reason: error.reason(limitName: "an image"))
    }
    if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return try PNG.size(path: path) }
    if head.starts(with: [0xFF, 0xD8, 0xFF]) { return nil }
    throw ImageError(file: path, reason: head.isEmpty ? "empty file" : "not a PNG or JPEG file")
}

/// The extensions an imported image may be found under when the annotation names it with
/// another one (VOC files of DeepForest name a .tif whose pixel-identical .png is shipped).
let importImageExtensions = ["png", "PNG", "jpg", "jpeg", "JPG", "JPEG"]
