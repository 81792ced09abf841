import Foundation
import Testing
import Detector

@Suite struct PNGTests {
    @Test func roundTripIsBitExact() throws {
        var rng = SplitMix64(seed: 7)
        let pixels = (0..<(5 * 3 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let image = Image(width: 5, height: 3, pixels: pixels)
        let decoded = try PNG.decode(PNG.encode(image), name: "memory")
        #expect(decoded == image)
    }

    @Test func garbageIsRefusedWithTheFileName() {
        #expect { try PNG.decode(Data("hello, this is not a png".utf8), name: "x.png") } throws: { error in
            "\(error)".contains("x.png") && "\(error)".contains("not a PNG")
        }
    }

    @Test func emptyAndTruncatedFilesAreRefused() throws {
        #expect(throws: ImageError.self) { try PNG.decode(Data(), name: "empty.png") }
        var rng = SplitMix64(seed: 1)
        let image = Image(width: 64, height: 64, pixels: (0..<(64 * 64 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        let data = try PNG.encode(image)
        #expect { try PNG.decode(data.prefix(data.count / 2), name: "half.png") } throws: { error in
            "\(error)".hasPrefix("half.png:")
        }
    }

    @Test func absurdDimensionsAreRefusedBeforeAllocating() {
        // A hand-made header: signature and an IHDR of 100000 x 100000, 8-bit RGB, valid CRC.
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var chunk: [UInt8] = Array("IHDR".utf8)
        for value in [UInt32(100_000), UInt32(100_000)] {
            chunk += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        }
        chunk += [8, 2, 0, 0, 0]
        bytes += [0, 0, 0, 13] + chunk
        let crc = crc32(chunk)
        bytes += [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
        // libpng reads the header up to the first IDAT: an empty one is enough.
        let idat = crc32(Array("IDAT".utf8))
        bytes += [0, 0, 0, 0] + Array("IDAT".utf8)
        bytes += [UInt8(idat >> 24), UInt8((idat >> 16) & 0xFF), UInt8((idat >> 8) & 0xFF), UInt8(idat & 0xFF)]
        bytes += [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82]
        #expect { try PNG.decode(Data(bytes), name: "huge.png") } throws: { error in
            "\(error)".contains("too large")
        }
    }

    @Test func missingFileAndFolderAreRefused() throws {
        #expect { try PNG.read(path: "/nonexistent/x.png") } throws: { "\($0)".contains("no such file") }
        let folder = try Fixtures.temporaryFolder()
        #expect { try PNG.read(path: folder.path) } throws: { "\($0)".contains("folder") }
    }

    @Test func writeIsAtomicAndReadable() throws {
        let folder = try Fixtures.temporaryFolder()
        let path = folder.appendingPathComponent("a.png").path
        let image = Image(width: 2, height: 2, fill: (10, 20, 30))
        try PNG.write(image, to: path)
        #expect(try PNG.read(path: path) == image)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["a.png"])
    }
}

/// CRC-32 (ISO 3309, as PNG chunks use), bit by bit.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}
