import Foundation
import Testing
import Detector

/// JPEG files written by Pillow (scripts/jpeg_fixtures.py) decoded by `ImageFile.read`
/// (libturbojpeg) and compared with Pillow's own decoding (its bundled libjpeg-turbo) after
/// `exif_transpose` and `convert("RGB")`.
@Suite struct JPEGTests {
    struct Expected: Decodable {
        var width: Int
        var height: Int
        var pixels: String  // hex, row by row, R G B

        var bytes: [UInt8] {
            var out: [UInt8] = []
            var index = pixels.startIndex
            while index < pixels.endIndex {
                let next = pixels.index(index, offsetBy: 2)
                out.append(UInt8(pixels[index..<next], radix: 16)!)
                index = next
            }
            return out
        }
    }

    static let expected: [String: Expected] = try! JSONDecoder().decode([String: Expected].self, from: Fixtures.data("jpeg_expected.json"))

    /// Two builds of libjpeg-turbo (Debian's 2.1.5 here, Pillow's own) may round the IDCT and
    /// the chroma upsampling differently by a level or two (on these fixtures, Debian 12's and
    /// Pillow 13's agree exactly); a decoding mistake (a wrong colour conversion, CMYK
    /// polarity, orientation, a swapped channel) is off by far more.
    static let tolerance = 2

    static let names = expected.keys.sorted()

    @Test(arguments: names) func decodesAsPillowDoes(_ name: String) throws {
        let want = try #require(Self.expected[name])
        let image = try ImageFile.read(path: Fixtures.url(name).path)
        #expect(image.width == want.width && image.height == want.height, "\(name): \(image.width) x \(image.height)")
        let reference = want.bytes
        try #require(image.pixels.count == reference.count)
        let worst = zip(image.pixels, reference).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(worst <= Self.tolerance, "\(name): largest difference from Pillow \(worst)")
    }

    /// The header-only size is the decoded size (orientations 5 to 8 swap the sides).
    @Test(arguments: names) func headerSizeIsTheDecodedSize(_ name: String) throws {
        let want = try #require(Self.expected[name])
        let size = try ImageFile.size(path: Fixtures.url(name).path)
        #expect(size.width == want.width && size.height == want.height, "\(name): \(size)")
    }

    /// A progressive file holds the same quantised coefficients as the baseline one (same
    /// quality, same tables): the same pixels, exactly.
    @Test func progressiveDecodesToTheBaselinePixels() throws {
        let baseline = try ImageFile.read(path: Fixtures.url("jpeg_baseline.jpg").path)
        let progressive = try ImageFile.read(path: Fixtures.url("jpeg_progressive.jpg").path)
        #expect(progressive == baseline)
    }

    @Test func grayscaleHasEqualChannels() throws {
        let image = try ImageFile.read(path: Fixtures.url("jpeg_gray.jpg").path)
        for i in stride(from: 0, to: image.pixels.count, by: 3) {
            #expect(image.pixels[i] == image.pixels[i + 1] && image.pixels[i] == image.pixels[i + 2])
        }
    }

    /// Pillow's CMYK file was converted from the RGB pattern (C = 255 − R, M = 255 − G,
    /// Y = 255 − B, K = 0) and stored inverted with an Adobe marker; read back it is close to
    /// the baseline JPEG of the same pattern. The same file without its APP14 marker reads the
    /// same (inverted, as Pillow and OpenCV read it), not black (K = 0 stored as 255, read as
    /// full ink).
    @Test func cmykIsReadAsAdobesInvertedValuesWithOrWithoutTheMarker() throws {
        let adobe = try ImageFile.read(path: Fixtures.url("jpeg_cmyk_adobe.jpg").path)
        let plain = try ImageFile.read(path: Fixtures.url("jpeg_cmyk_plain.jpg").path)
        let rgb = try ImageFile.read(path: Fixtures.url("jpeg_baseline.jpg").path)
        func meanDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
            Double(zip(a, b).map { abs(Int($0) - Int($1)) }.reduce(0, +)) / Double(a.count)
        }
        #expect(meanDifference(adobe.pixels, rgb.pixels) < 8)
        #expect(plain == adobe)
    }

    /// A PNG named .jpg and a JPEG named .png read as what they are.
    @Test func theDecoderIsChosenByContentNotExtension() throws {
        let png = try ImageFile.read(path: Fixtures.url("jpeg_really_png.jpg").path)
        #expect(png == (try PNG.decode(Fixtures.data("jpeg_really_png.jpg"), name: "x")))
        let jpeg = try ImageFile.read(path: Fixtures.url("png_really_jpeg.png").path)
        #expect(jpeg == (try ImageFile.read(path: Fixtures.url("jpeg_baseline.jpg").path)))
        #expect(ImageFile.format(of: try Fixtures.data("jpeg_really_png.jpg")) == .png)
        #expect(ImageFile.format(of: try Fixtures.data("png_really_jpeg.png")) == .jpeg)
    }

    @Test func imagePathsAreRecognisedByExtensionInAnyCase() {
        for path in ["a.png", "a.PNG", "b.jpg", "b.JPG", "c.jpeg", "c.JpEg", "dir.d/x.jpg"] {
            #expect(ImageFile.isImagePath(path), "\(path)")
        }
        for path in ["a.gif", "a.webp", "jpg", ".jpg", "a.jpg.txt", "a.jpgx", "dir.jpg/x", "a."] {
            #expect(!ImageFile.isImagePath(path), "\(path)")
        }
    }
}
