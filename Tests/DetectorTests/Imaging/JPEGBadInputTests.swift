import Foundation
import Testing
import Detector

/// Damaged, hostile or mislabelled files: each an `ImageError` naming the file and saying what
/// was wrong, never a crash, a hang or a huge allocation, and never a half-gray picture.
@Suite struct JPEGBadInputTests {
    static func reason(_ body: () throws -> Any) -> String? {
        do { _ = try body(); return nil } catch let error as ImageError { return "\(error)" } catch { return "wrong error type: \(error)" }
    }

    static let baseline: [UInt8] = [UInt8](try! Fixtures.data("jpeg_baseline.jpg"))

    /// The offset of the first marker `code` (0xFF code) before the image data.
    static func offset(of code: UInt8, in bytes: [UInt8]) -> Int? {
        var i = 2
        while i + 4 <= bytes.count && bytes[i] == 0xFF {
            if bytes[i + 1] == code { return i }
            if bytes[i + 1] == 0xDA { return nil }
            i += 2 + (Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]))
        }
        return nil
    }

    /// The baseline file with its frame header saying `width` x `height`.
    static func withSize(width: Int, height: Int) throws -> Data {
        var bytes = baseline
        let sof = try #require(offset(of: 0xC0, in: bytes))
        bytes[sof + 5] = UInt8(height >> 8); bytes[sof + 6] = UInt8(height & 0xFF)
        bytes[sof + 7] = UInt8(width >> 8); bytes[sof + 8] = UInt8(width & 0xFF)
        return Data(bytes)
    }

    /// Refused: libjpeg would decode the missing part as gray, with only a warning.
    @Test func aTruncatedFileIsAnErrorNamingIt() throws {
        let path = Fixtures.url("jpeg_truncated.jpg").path
        let message = try #require(Self.reason { try ImageFile.read(path: path) })
        #expect(message.hasPrefix("\(path): invalid or truncated JPEG: "), "\(message)")
        #expect(message.contains("Premature end of JPEG file"), "\(message)")
        // Its header is whole: the header-only size accepts it (the decoder is what refuses it).
        #expect(try ImageFile.size(path: path) == (64, 48))
    }

    /// Every prefix of a valid file is refused (even the one that lacks only the EOI
    /// marker); only the whole file decodes.
    @Test func everyPrefixOfAValidFileIsRefused() throws {
        let whole = Self.baseline
        for length in 0..<whole.count {
            let message = Self.reason { try ImageFile.decode(Data(whole.prefix(length)), name: "cut.jpg") }
            #expect(message?.hasPrefix("cut.jpg: ") == true, "\(length) bytes: \(message ?? "decoded")")
        }
        #expect(try ImageFile.decode(Data(whole), name: "whole.jpg").width == 16)
    }

    /// Flipped bytes anywhere (seeded): an error naming the file or an image of the right size,
    /// never a crash.
    @Test func corruptedBytesNeverCrash() throws {
        var rng = SplitMix64(seed: 10)
        var errors = 0
        for _ in 0..<300 {
            var bytes = Self.baseline
            for _ in 0..<3 {
                let at = Int(rng.next() % UInt64(bytes.count))
                bytes[at] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            }
            do {
                let image = try ImageFile.decode(Data(bytes), name: "bad.jpg")
                #expect(image.pixels.count == image.width * image.height * 3)
            } catch let error as ImageError {
                #expect(error.file == "bad.jpg")
                errors += 1
            }
        }
        #expect(errors > 0)
    }

    @Test func oversizedFrameHeadersAreRefusedBeforeDecoding() throws {
        let wide = try #require(Self.reason { try ImageFile.decode(Self.withSize(width: 40_000, height: 1), name: "wide.jpg") })
        #expect(wide == "wide.jpg: image too large (40000 x 1; the limit is 32768 per side and 100 megapixels)")
        let big = try #require(Self.reason { try ImageFile.decode(Self.withSize(width: 20_000, height: 20_000), name: "big.jpg") })
        #expect(big.contains("image too large (20000 x 20000"))
        let zero = try #require(Self.reason { try ImageFile.decode(Self.withSize(width: 0, height: 12), name: "zero.jpg") })
        #expect(zero.contains("zero-size image"), "\(zero)")
        let noHeight = try #require(Self.reason { try ImageFile.decode(Self.withSize(width: 16, height: 0), name: "dnl.jpg") })
        #expect(noHeight.contains("zero-size image"), "\(noHeight)")
        // The header-only size refuses the same.
        let folder = try Fixtures.temporaryFolder()
        let path = folder.appendingPathComponent("wide.jpg").path
        try Self.withSize(width: 40_000, height: 1).write(to: URL(fileURLWithPath: path))
        #expect(Self.reason { try ImageFile.size(path: path) }?.contains("image too large") == true)
    }

    @Test func malformedMarkersAreRefused() throws {
        let sof = try #require(Self.offset(of: 0xC0, in: Self.baseline))
        let sos = try #require(Self.baseline.indices.first { Self.baseline[$0] == 0xFF && Self.baseline[$0 + 1] == 0xDA })
        // No frame header: the SOF segment removed.
        let sofLength = 2 + (Int(Self.baseline[sof + 2]) << 8 | Int(Self.baseline[sof + 3]))
        var noFrame = Self.baseline
        noFrame.removeSubrange(sof..<(sof + sofLength))
        #expect(Self.reason { try JPEG.decode(Data(noFrame), name: "x.jpg") } == "x.jpg: invalid JPEG: image data (SOS) before the frame header (SOF)")
        // A segment length below 2.
        var shortLength = Self.baseline
        shortLength[sof + 2] = 0; shortLength[sof + 3] = 1
        #expect(Self.reason { try JPEG.decode(Data(shortLength), name: "x.jpg") }?.contains("length 1") == true)
        // A length running past the end of the file.
        var longLength = Self.baseline
        longLength[sof + 2] = 0xFF; longLength[sof + 3] = 0xFF
        #expect(Self.reason { try JPEG.decode(Data(longLength), name: "x.jpg") }?.contains("truncated JPEG") == true)
        // A byte that is not a marker where one should start.
        var notMarker = Self.baseline
        notMarker[sof] = 0x00
        #expect(Self.reason { try JPEG.decode(Data(notMarker), name: "x.jpg") }?.contains("where a marker should start") == true)
        // 12-bit samples and the lossless process (SOF3), which libjpeg-turbo 2.1 does not decode.
        var twelveBits = Self.baseline
        twelveBits[sof + 4] = 12
        let twelve = Self.reason { try JPEG.decode(Data(twelveBits), name: "x.jpg") }
        #expect(twelve?.hasPrefix("x.jpg: invalid JPEG: ") == true && twelve?.contains("12") == true, "\(twelve ?? "decoded")")
        var lossless = Self.baseline
        lossless[sof + 1] = 0xC3
        let sof3 = Self.reason { try JPEG.decode(Data(lossless), name: "x.jpg") }
        #expect(sof3?.hasPrefix("x.jpg: invalid JPEG: ") == true, "\(sof3 ?? "decoded")")
        // EOI right after the header segments, before any image data.
        let early = Data(Self.baseline.prefix(sos) + [0xFF, 0xD9])
        #expect(Self.reason { try JPEG.decode(early, name: "x.jpg") }?.contains("before any image data") == true)
    }

    @Test func filesThatAreNotPNGOrJPEGAreNamed() throws {
        let cases: [([UInt8], String)] = [
            (Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0], "it looks like a GIF image"),
            (Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8), "it looks like a WebP image"),
            ([0, 0, 0, 0x18] + Array("ftypheic".utf8) + [0, 0, 0, 0], "it looks like a HEIF/HEIC image"),
            ([0, 0, 0, 0x1C] + Array("ftypavif".utf8) + [0, 0, 0, 0], "it looks like an AVIF image"),
            (Array("hello, world\n".utf8), "unknown signature"),
            ([0xFF, 0xD8], "not a PNG or JPEG file"),
        ]
        let folder = try Fixtures.temporaryFolder()
        for (bytes, text) in cases {
            let path = folder.appendingPathComponent("photo.jpg").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let read = try #require(Self.reason { try ImageFile.read(path: path) })
            #expect(read.hasPrefix("\(path): ") && read.contains(text), "\(read)")
            let size = try #require(Self.reason { try ImageFile.size(path: path) })
            #expect(size.hasPrefix("\(path): ") && size.contains(text), "\(size)")
        }
        // JPEG.decode itself refuses a PNG.
        #expect(Self.reason { try JPEG.decode(Fixtures.data("jpeg_really_png.jpg"), name: "p.jpg") }?.contains("not a JPEG file") == true)
    }

    @Test func pathsThatAreNotRegularFilesAreRefusedUnread() throws {
        let folder = try Fixtures.temporaryFolder()
        let empty = folder.appendingPathComponent("empty.jpg").path
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        #expect(Self.reason { try ImageFile.read(path: empty) } == "\(empty): empty file")
        #expect(Self.reason { try ImageFile.size(path: empty) } == "\(empty): empty file")
        let fifo = folder.appendingPathComponent("pipe.jpg").path
        try SpecialFiles.fifo(at: fifo)
        #expect(Self.reason { try ImageFile.read(path: fifo) } == "\(fifo): is a FIFO (named pipe), not a regular file")
        #expect(Self.reason { try ImageFile.size(path: fifo) } == "\(fifo): is a FIFO (named pipe), not a regular file")
        let sub = folder.appendingPathComponent("folder.jpg").path
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        #expect(Self.reason { try ImageFile.read(path: sub) } == "\(sub): is a folder, not a regular file")
        let missing = folder.appendingPathComponent("missing.jpg").path
        #expect(Self.reason { try ImageFile.read(path: missing) } == "\(missing): no such file")
        // Beyond 1 GiB (sparse: no disk used): refused from its size, before reading.
        let huge = folder.appendingPathComponent("huge.jpg").path
        try SpecialFiles.sparse(at: huge, size: ImageFile.maximumFileBytes + 1)
        #expect(Self.reason { try ImageFile.read(path: huge) }?.contains("is too large") == true)
    }

    /// JPEGs whose markers before the image data are longer than the 4 KiB and then the
    /// 256 KiB the header-only size reads first (big APP2 segments): it reads on and finds the
    /// size, and a file cut inside them is reported as truncated, whatever its length.
    @Test(arguments: [1, 2, 5]) func headerSizeLooksPastLongSegments(_ segments: Int) throws {
        let filler = [UInt8](repeating: 0x20, count: 65_000)
        var bytes = Array(Self.baseline.prefix(2))
        for _ in 0..<segments { bytes += [0xFF, 0xE2, UInt8((filler.count + 2) >> 8), UInt8((filler.count + 2) & 0xFF)] + filler }
        bytes += Self.baseline.dropFirst(2)
        let path = try Fixtures.temporaryFolder().appendingPathComponent("long.jpg").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try ImageFile.size(path: path) == (16, 12))
        #expect(try ImageFile.read(path: path) == (try ImageFile.read(path: Fixtures.url("jpeg_baseline.jpg").path)))
        // Cut inside the last long segment, and cut at exactly the lengths read in steps.
        for length in [bytes.count - 1_000, 1 << 12, 1 << 18] where length < bytes.count - Self.baseline.count {
            try Data(bytes.prefix(length)).write(to: URL(fileURLWithPath: path))
            let message = Self.reason { try ImageFile.size(path: path) }
            #expect(message?.contains("truncated JPEG: the file (\(length) bytes) ends before the image data") == true, "\(length): \(message ?? "no error")")
        }
    }
}
