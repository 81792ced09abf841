import Foundation
import Testing
import Detector

/// Every PNG colour type and bit depth against values computed independently by
/// scripts/png_fixtures.py (which writes the files chunk by chunk with zlib, not libpng).
@Suite struct PNGFormatTests {
    struct Expected: Decodable { var width: Int; var height: Int; var rgb: [Int] }

    static let files = [
        "png_gray1.png", "png_gray2.png", "png_gray4.png", "png_gray8.png", "png_gray16.png", "png_gray4_trns.png",
        "png_gray_alpha8.png", "png_gray_alpha16.png", "png_palette2.png", "png_palette8.png", "png_palette8_trns.png",
        "png_rgb8.png", "png_rgb8_interlaced.png", "png_rgb8_trns.png", "png_rgb16.png", "png_rgba8.png", "png_rgba16.png",
    ] + PNGInterlacedTests.twins.flatMap { [$0.interlaced, $0.plain] }.filter { !$0.contains("gamma") }

    @Test(arguments: files) func decodesToTheExpectedRGB(_ name: String) throws {
        let table = try JSONDecoder().decode([String: Expected].self, from: Fixtures.data("png_expected.json"))
        let expected = try #require(table[name])
        let image = try PNG.read(path: Fixtures.url(name).path)
        #expect(image.width == expected.width && image.height == expected.height)
        let got = image.pixels.map(Int.init)
        #expect(got == expected.rgb, "\(name): got \(got)")
    }

    /// The fixture list covers every file the script writes.
    @Test func everyFixtureIsTested() throws {
        let table = try JSONDecoder().decode([String: Expected].self, from: Fixtures.data("png_expected.json"))
        #expect(Set(table.keys) == Set(Self.files))
    }

    /// 16-bit samples reduce to round(v / 257): 0x8080 → 128, 0x00FF → 1, 0xFF00 → 254
    /// (not v >> 8, which would give 0 and 255, and not a linear-to-sRGB gamma curve, which
    /// would turn 0x8080 into 188).
    @Test func sixteenBitGrayReadsAsTheUserExpects() throws {
        let image = try PNG.read(path: Fixtures.url("png_gray16.png").path)
        #expect(image.pixel(x: 2, y: 0) == RGB(128, 128, 128))
        #expect(image.pixel(x: 1, y: 0) == RGB(1, 1, 1))
        #expect(image.pixel(x: 0, y: 1) == RGB(254, 254, 254))
    }
}
