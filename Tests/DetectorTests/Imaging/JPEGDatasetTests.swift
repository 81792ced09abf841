import Foundation
import Testing
import Detector

/// Data sets of JPEG images (and PNG ones mixed in): found by extension, checked by content,
/// every other entry of images/ named in a warning and counted.
@Suite struct JPEGDatasetTests {
    /// A one-split data set holding `images` (name, fixture file or raw bytes) and the label
    /// "0 0.5 0.5 0.5 0.5" for each image name's stem.
    static func dataSet(_ images: [(String, Data)]) throws -> String {
        let root = try Fixtures.temporaryFolder("jpeg-dataset").path
        for folder in ["images", "labels"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        try Data("tree\n".utf8).write(to: URL(fileURLWithPath: root + "/classes.txt"))
        for (name, data) in images {
            try data.write(to: URL(fileURLWithPath: root + "/images/" + name))
            let stem = URL(fileURLWithPath: name).deletingPathExtension().lastPathComponent
            try Data("0 0.5 0.5 0.5 0.5\n".utf8).write(to: URL(fileURLWithPath: root + "/labels/" + stem + ".txt"))
        }
        return root
    }

    static func fixture(_ name: String) -> Data { try! Fixtures.data(name) }

    @Test func jpegAndPNGImagesAreFoundInAnyCaseAndReadByContent() throws {
        let root = try Self.dataSet([
            ("a.jpg", Self.fixture("jpeg_baseline.jpg")),
            ("b.JPEG", Self.fixture("jpeg_progressive.jpg")),
            ("c.png", Self.fixture("png_rgb8.png")),
            ("d.jpg", Self.fixture("jpeg_really_png.jpg")),  // a PNG named .jpg
            ("e.Jpg", Self.fixture("jpeg_orientation_6.jpg")),
        ])
        let dataset = try Dataset.load(path: root, strict: true)
        #expect(dataset.warnings.isEmpty, "\(dataset.warnings)")
        #expect(dataset.skippedImages == 0)
        #expect(dataset.train.items.map { URL(fileURLWithPath: $0.imagePath).lastPathComponent } == ["a.jpg", "b.JPEG", "c.png", "d.jpg", "e.Jpg"])
        #expect(dataset.train.items.map { URL(fileURLWithPath: $0.labelPath).lastPathComponent } == ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"])
        #expect(dataset.train.items.allSatisfy { $0.objects.count == 1 })
        let samples = try loadSamples(dataset.train.items)
        #expect(samples.map(\.name) == ["a", "b", "c", "d", "e"])
        #expect(samples.map { [$0.image.width, $0.image.height] } == [[16, 12], [16, 12], [4, 3], [16, 12], [16, 32]])
    }

    /// Another extension, another format, bytes that are no image, an image too large, a
    /// folder: each skipped with a warning naming it, and counted; strict mode throws the first.
    @Test func entriesThatAreNotReadableImagesAreNamedAndCounted() throws {
        var huge = [UInt8](Self.fixture("jpeg_baseline.jpg"))
        let sof = try #require(huge.indices.first { huge[$0] == 0xFF && huge[$0 + 1] == 0xC0 })
        huge[sof + 5] = 0x9C; huge[sof + 6] = 0x40  // height 40000
        let root = try Self.dataSet([
            ("good.jpg", Self.fixture("jpeg_baseline.jpg")),
            ("anim.gif", Data(Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0])),
            ("fake.jpg", Data("x".utf8)),
            ("heic.jpg", Data([0, 0, 0, 0x18] + Array("ftypheic".utf8) + [0, 0, 0, 0])),
            ("huge.jpg", Data(huge)),
            ("notes.txt", Data("my notes\n".utf8)),
        ])
        try FileManager.default.createDirectory(atPath: root + "/images/more", withIntermediateDirectories: false)
        try Data("ignored".utf8).write(to: URL(fileURLWithPath: root + "/images/.DS_Store"))  // hidden: ignored
        let images = root + "/images"
        let dataset = try Dataset.load(path: root)
        #expect(dataset.train.items.map(\.imagePath) == [images + "/good.jpg"])
        #expect(dataset.skippedImages == 6)
        #expect(dataset.warnings == [
            "\(images)/anim.gif: not an image file name (images are .png, .jpg, .jpeg, in any case) (image skipped)",
            "\(images)/fake.jpg: not a PNG or JPEG file (unknown signature) (image skipped)",
            "\(images)/heic.jpg: not a PNG or JPEG file (it looks like a HEIF/HEIC image; convert it to PNG or JPEG) (image skipped)",
            "\(images)/huge.jpg: image too large (16 x 40000; the limit is 32768 per side and 100 megapixels) (image skipped)",
            "\(images)/more: is a folder, not a regular file (image skipped)",
            "\(images)/notes.txt: not an image file name (images are .png, .jpg, .jpeg, in any case) (image skipped)",
        ])
        let error = try #require(throws: DatasetError.self) { try Dataset.load(path: root, strict: true) }
        #expect(error.path == images + "/anim.gif")
        #expect(error.kind == .notAnImage)
    }

    /// Only unreadable entries: the data set has no usable images, and the error says why.
    @Test func aSplitOfUnreadableImagesIsAnError() throws {
        let root = try Self.dataSet([("a.jpg", Data("x".utf8)), ("b.webp", Data("RIFF\0\0\0\0WEBP".utf8))])
        let error = try #require(throws: DatasetError.self) { try Dataset.load(path: root) }
        #expect(error.kind == .noImages)
        #expect(error.reason.contains("all 2 skipped") && error.reason.contains("a.jpg"), "\(error.reason)")
    }

    /// a.jpg and a.png both go with labels/a.txt: allowed, with a warning.
    @Test func twoImagesSharingALabelFileAreWarnedAbout() throws {
        let root = try Self.dataSet([("a.jpg", Self.fixture("jpeg_baseline.jpg")), ("a.png", Self.fixture("png_rgb8.png"))])
        let dataset = try Dataset.load(path: root)
        #expect(dataset.train.items.count == 2)
        #expect(dataset.warnings == ["\(root)/images: a.jpg and a.png share the label file \(root)/labels/a.txt"])
    }

    /// A truncated JPEG has a whole header, so the data set lists it; reading the images for
    /// training then fails, naming it (never a half-gray training image).
    @Test func aTruncatedImageStopsLoadingWithItsName() throws {
        let root = try Self.dataSet([("a.jpg", Self.fixture("jpeg_baseline.jpg")), ("cut.jpg", Self.fixture("jpeg_truncated.jpg"))])
        let dataset = try Dataset.load(path: root)
        #expect(dataset.train.items.count == 2)
        let error = try #require(throws: ImageError.self) { try loadSamples(dataset.train.items) }
        #expect(error.file == root + "/images/cut.jpg")
        #expect(error.reason.contains("Premature end of JPEG file"), "\(error.reason)")
    }
}
