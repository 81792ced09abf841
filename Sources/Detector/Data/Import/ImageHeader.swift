import Foundation

/// Width and height of an image file (PNG or JPEG, told by its first bytes; a JPEG's upright
/// size after its EXIF orientation) from its header, without decoding any pixel. Throws an
/// `ImageError` for a file that cannot be read, is not an image of a known format, or has a
/// broken header.
func imageHeaderSize(path: String) throws -> (width: Int, height: Int) {
    try ImageFile.size(path: path)
}

/// The extensions an imported image may be found under when the annotation names it with
/// another one (VOC files of DeepForest name a .tif whose pixel-identical .png is shipped).
let importImageExtensions = ImageFile.extensions + ImageFile.extensions.map { $0.uppercased() }
