import Foundation
import Testing
import Detector

/// Malformed files: each gives an `ImageError` naming the file and saying what was wrong,
/// never a crash and never a huge allocation.
@Suite struct PNGBadInputTests {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// A chunk: length, type, payload, CRC-32 of type + payload (PNG spec §5.3).
    static func chunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + payload
        return bigEndian(UInt32(payload.count)) + body + bigEndian(crc32(body))
    }

    /// Signature, an IHDR of the given size (8-bit RGB), an empty IDAT and IEND.
    static func header(width: UInt32, height: UInt32) -> Data {
        let ihdr = bigEndian(width) + bigEndian(height) + [8, 2, 0, 0, 0]
        return Data(signature + chunk("IHDR", ihdr) + chunk("IDAT", []) + chunk("IEND", []))
    }

    static func reason(_ body: () throws -> Image) -> String? {
        do { _ = try body(); return nil } catch let error as ImageError { return "\(error)" } catch { return "wrong error type: \(error)" }
    }

    @Test func tooLongASideIsRefused() throws {
        // 40000 x 1 is only 40000 pixels, but a side beyond 32768.
        let message = try #require(Self.reason { try PNG.decode(Self.header(width: 40_000, height: 1), name: "wide.png") })
        #expect(message.hasPrefix("wide.png: ") && message.contains("too large") && message.contains("40000 x 1"))
    }

    @Test func tooManyPixelsIsRefused() throws {
        // 20000 x 20000: each side is allowed, 400 megapixels is not.
        let message = try #require(Self.reason { try PNG.decode(Self.header(width: 20_000, height: 20_000), name: "big.png") })
        #expect(message.contains("too large") && message.contains("100 megapixels"))
    }

    /// A chunk whose length runs past the end of the file is refused before libpng sees it
    /// (libpng allocated and zeroed the claimed 2 GB first: a fuzzing find).
    @Test func aChunkLongerThanTheFileIsRefusedBeforeLibpng() throws {
        let ihdr = Self.bigEndian(8) + Self.bigEndian(8) + [8, 2, 0, 0, 0]
        let claim = Self.bigEndian(0x7FFF_FFFF) + Array("iTXt".utf8) + [UInt8](repeating: 0x41, count: 20)  // 16 bytes of data + a CRC
        let data = Data(Self.signature + Self.chunk("IHDR", ihdr) + claim)
        let message = try #require(Self.reason { try PNG.decode(data, name: "claim.png") })
        #expect(message == "claim.png: invalid or truncated PNG: the iTXt chunk at byte 33 claims 2147483647 bytes, only 16 remain")
        // A chunk that fits, followed by IEND, is not refused by this check.
        #expect(Self.reason { try PNG.decode(Self.header(width: 2, height: 2), name: "ok.png") }?.contains("claims") != true)
    }

    @Test func zeroWidthIsRefused() throws {
        let message = try #require(Self.reason { try PNG.decode(Self.header(width: 0, height: 5), name: "zero.png") })
        #expect(message.hasPrefix("zero.png: "))
    }

    @Test func shortFilesAreRefused() throws {
        for count in [1, 7, 8, 20] {
            let data = Data((Self.signature + Self.chunk("IHDR", Self.bigEndian(4) + Self.bigEndian(4) + [8, 2, 0, 0, 0])).prefix(count))
            let message = try #require(Self.reason { try PNG.decode(data, name: "short.png") })
            #expect(message.hasPrefix("short.png: "), "\(count) bytes: \(message)")
        }
    }

    @Test func corruptedDataIsRefused() throws {
        var rng = SplitMix64(seed: 3)
        let image = Image(width: 16, height: 16, pixels: (0..<(16 * 16 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        let good = [UInt8](try PNG.encode(image))
        // A flipped byte inside IDAT's compressed data (the CRC then no longer matches).
        let idat = try #require(good.indices.first { good[$0...].starts(with: Array("IDAT".utf8)) })
        var bad = good
        bad[idat + 20] ^= 0xFF
        let message = try #require(Self.reason { try PNG.decode(Data(bad), name: "flipped.png") })
        #expect(message.hasPrefix("flipped.png: "))
        // Only the header: no image data at all.
        let headerOnly = Data(good.prefix(8 + 25) + Self.chunk("IEND", []))
        #expect(Self.reason { try PNG.decode(headerOnly, name: "nodata.png") }?.hasPrefix("nodata.png: ") == true)
    }

    @Test func emptyFileOnDiskIsRefused() throws {
        let folder = try Fixtures.temporaryFolder()
        let path = folder.appendingPathComponent("empty.png").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        #expect(Self.reason { try PNG.read(path: path) } == "\(path): empty file")
    }

    @Test func encodingAnEmptyImageIsRefused() {
        #expect(throws: ImageError.self) { try PNG.encode(Image(width: 0, height: 0, pixels: [])) }
    }
}

/// `PNG.size(path:)` reads the header only.
@Suite struct PNGSizeTests {
    @Test(arguments: ["png_rgb8.png", "png_gray16.png", "png_palette2.png", "png_rgb8_interlaced.png"])
    func sizeOfFixtures(_ name: String) throws {
        let size = try PNG.size(path: Fixtures.url(name).path)
        #expect(size.width == 4 && size.height == 3)
    }

    @Test func sizeOfAWrittenImageAndOfAHugeHeader() throws {
        let folder = try Fixtures.temporaryFolder()
        let path = folder.appendingPathComponent("a.png").path
        try PNG.write(Image(width: 37, height: 5, fill: (1, 2, 3)), to: path)
        let size = try PNG.size(path: path)
        #expect(size.width == 37 && size.height == 5)
        // The size is read, not judged: a 100000 x 100000 header reports its size.
        let huge = folder.appendingPathComponent("huge.png").path
        try PNGBadInputTests.header(width: 100_000, height: 100_000).write(to: URL(fileURLWithPath: huge))
        #expect(try PNG.size(path: huge) == (100_000, 100_000))
    }

    @Test func badHeadersAreRefused() throws {
        let folder = try Fixtures.temporaryFolder()
        let good = [UInt8](PNGBadInputTests.header(width: 4, height: 4))
        var badCRC = good
        badCRC[32] ^= 1
        let cases: [(String, [UInt8], String)] = [
            ("empty.png", [], "empty file"), ("text.png", Array("hello world".utf8), "not a PNG"),
            ("short.png", Array(good.prefix(20)), "no IHDR"), ("crc.png", badCRC, "CRC"),
            ("zero.png", [UInt8](PNGBadInputTests.header(width: 0, height: 4)), "zero-size"),
        ]
        for (name, bytes, reason) in cases {
            let path = folder.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect { try PNG.size(path: path) } throws: { "\($0)".hasPrefix(path + ": ") && "\($0)".contains(reason) }
        }
        #expect { try PNG.size(path: folder.path) } throws: { "\($0)".contains("folder") }
        #expect { try PNG.size(path: folder.appendingPathComponent("none.png").path) } throws: { "\($0)".contains("no such file") }
    }
}
