import Foundation
import Testing
import Detector

/// 16-bit Adam7-interlaced files: libpng 1.6.39's simplified API, as this system ships
/// it, decodes them to wrong pixels (half the samples of an 8x8 RGB file); PNG.swift reads them
/// with the row API instead. Each must decode exactly like the same image stored without
/// interlacing, and to the values of the documented rule (round(v / 257), alpha over white).
@Suite struct PNGInterlacedTests {
    /// Fixtures written by scripts/png_fixtures.py: each interlaced file and its twin.
    static let twins: [(interlaced: String, plain: String)] = [
        "png_rgb16", "png_rgba16", "png_gray16", "png_gray_alpha16", "png_gray16_trns", "png_rgb16_trns", "png_rgb16_gamma1",
    ].map { ("\($0)_8x8_interlaced.png", "\($0)_8x8.png") }

    /// The fixtures' values are checked by PNGFormatTests; here the twins are compared, the
    /// gAMA 1.0 pair too (libpng converts linear light to sRGB with its own tables, so that
    /// pair has no expected values, only this equality).
    @Test(arguments: twins.map(\.interlaced))
    func interlacedFixtureDecodesLikeItsTwin(_ name: String) throws {
        let twin = name.replacingOccurrences(of: "_interlaced", with: "")
        let interlaced = try PNG.read(path: Fixtures.url(name).path)
        let plain = try PNG.read(path: Fixtures.url(twin).path)
        #expect(interlaced.width == 8 && interlaced.height == 8)
        let wrong = zip(interlaced.pixels, plain.pixels).filter { $0 != $1 }.count
        #expect(interlaced == plain, "\(name): \(wrong) of \(plain.pixels.count) samples differ from \(twin)")
    }

    /// The gAMA chunk is honoured on that path too: linear 16-bit samples come out brighter
    /// than the sRGB reading round(v / 257) (a mid gray 0x8000 becomes about 186, not 128).
    @Test func gammaChunkIsHonouredWhenInterlaced() throws {
        let image = try PNG.read(path: Fixtures.url("png_rgb16_gamma1_8x8_interlaced.png").path)
        let brighter = image.pixels.indices.filter { i in
            let v = PNG16File.sample(x: (i / 3) % 8, y: i / 24, channel: i % 3 + 1)
            return Int(image.pixels[i]) > (Int(v) + 128) / 257
        }.count
        #expect(brighter > image.pixels.count * 3 / 4)
    }

    /// Every colour type at sizes where some Adam7 passes are empty or partial (1x1 has only
    /// pass 1; 2x1 no row in pass 6...), with seeded samples and, for gray and RGB, a tRNS
    /// key: interlaced equals not interlaced equals the rule.
    @Test(arguments: [(1, 1), (2, 1), (1, 9), (3, 5), (5, 3), (8, 8), (9, 7), (17, 33)])
    func sweepOfSizesAndColourTypes(width: Int, height: Int) throws {
        var rng = SplitMix64(seed: UInt64(width * 100 + height))
        for (colorType, channels) in [(UInt8(0), 1), (2, 3), (4, 2), (6, 4)] {
            for withKey in colorType == 0 || colorType == 2 ? [false, true] : [false] {
                var samples = (0..<(width * height * channels)).map { _ in UInt16(truncatingIfNeeded: rng.next()) }
                var key: [UInt16]? = nil
                if withKey {
                    key = Array(samples[0..<channels])        // pixel 0 is transparent...
                    let last = (width * height - 1) * channels
                    if last > 0 { samples[last] = key![0] ^ 0x0001 }  // ...a near miss is not (when there are two pixels)
                }
                let label = "\(width)x\(height) colour type \(colorType)\(withKey ? " tRNS" : "")"
                let plain = try PNG.decode(PNG16File.data(width: width, height: height, colorType: colorType, samples: samples,
                                                          interlaced: false, key: key), name: label)
                let interlaced = try PNG.decode(PNG16File.data(width: width, height: height, colorType: colorType, samples: samples,
                                                               interlaced: true, key: key), name: label)
                let expected = PNG16File.expectedRGB(samples: samples, channels: channels, key: key)
                #expect(plain.pixels == expected, "\(label), not interlaced")
                #expect(interlaced.pixels == expected, "\(label), interlaced")
            }
        }
    }

    /// A damaged interlaced 16-bit file fails with the file's name on the row-API path (an
    /// error there is a longjmp inside the C shim, which must come back as an ImageError).
    @Test func truncatedOrCorruptInterlacedFileIsRefused() throws {
        let good = [UInt8](try Fixtures.data("png_rgba16_8x8_interlaced.png"))
        let idat = try #require(good.indices.first { good[$0...].starts(with: Array("IDAT".utf8)) })
        for cut in [idat + 4, idat + 40, good.count - 12 - 4 - 100] {
            #expect { try PNG.decode(Data(good.prefix(cut)), name: "cut.png") } throws: { error in
                "\(error)".hasPrefix("cut.png: invalid or truncated PNG: ")
            }
        }
        var flipped = good
        flipped[idat + 30] ^= 0x5A
        #expect { try PNG.decode(Data(flipped), name: "flipped.png") } throws: { error in
            "\(error)".hasPrefix("flipped.png: invalid or truncated PNG: ")
        }
        // Still decodes after failures (no state left behind by the longjmp).
        #expect(try PNG.decode(Data(good), name: "good.png") == PNG.read(path: Fixtures.url("png_rgba16_8x8.png").path))
    }
}

/// 16-bit PNG files written the plainest way (filter 0, zlib stored blocks), independently of
/// libpng, for the sweep; and the toolkit's rule for their expected 8-bit RGB.
enum PNG16File {
    /// Adam7 passes: first column, first row, column step, row step (PNG spec §8.2).
    static let adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

    /// The samples of scripts/png_fixtures.py's `sample16` (gAMA fixture: channel c + 1).
    static func sample(x: Int, y: Int, channel: Int) -> UInt16 {
        UInt16(truncatingIfNeeded: ((x * 7919 + y * 104729 + channel * 65521 + 12345) * 2654435761) >> 7)
    }

    static func data(width: Int, height: Int, colorType: UInt8, samples: [UInt16], interlaced: Bool, key: [UInt16]?) -> Data {
        let channels = samples.count / (width * height)
        func rows(_ x0: Int, _ y0: Int, _ dx: Int, _ dy: Int) -> [UInt8] {
            let xs = Array(stride(from: x0, to: width, by: dx)), ys = Array(stride(from: y0, to: height, by: dy))
            guard !xs.isEmpty && !ys.isEmpty else { return [] }  // an empty pass has no rows at all
            var out: [UInt8] = []
            for y in ys {
                out.append(0)
                for x in xs { for c in 0..<channels { let v = samples[(y * width + x) * channels + c]; out += [UInt8(v >> 8), UInt8(v & 0xFF)] } }
            }
            return out
        }
        let raw = interlaced ? adam7.flatMap { rows($0.0, $0.1, $0.2, $0.3) } : rows(0, 0, 1, 1)
        // zlib: header 78 01, stored blocks of at most 65535 bytes, Adler-32 (RFC 1950, 1951).
        var zlib: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let count = min(65535, raw.count - start)
            zlib += [start + count == raw.count ? 1 : 0, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            zlib += raw[start..<(start + count)]
            start += count
        } while start < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        zlib += PNGBadInputTests.bigEndian(b << 16 | a)
        let ihdr = PNGBadInputTests.bigEndian(UInt32(width)) + PNGBadInputTests.bigEndian(UInt32(height)) + [16, colorType, 0, 0, interlaced ? 1 : 0]
        let trns = key.map { PNGBadInputTests.chunk("tRNS", $0.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }) } ?? []
        return Data(PNGBadInputTests.signature + PNGBadInputTests.chunk("IHDR", ihdr) + trns
                    + PNGBadInputTests.chunk("IDAT", zlib) + PNGBadInputTests.chunk("IEND", []))
    }

    /// round(v / 257) per sample; gray becomes RGB; alpha (a channel, or 0 for the tRNS key
    /// compared at 16 bits) composites over white: round((c a + 255 (255 − a)) / 255).
    static func expectedRGB(samples: [UInt16], channels: Int, key: [UInt16]?) -> [UInt8] {
        func to8(_ v: UInt16) -> Int { (Int(v) + 128) / 257 }
        func over(_ c: Int, _ a: Int) -> UInt8 { UInt8((c * a + 255 * (255 - a) + 127) / 255) }
        var out: [UInt8] = []
        for i in stride(from: 0, to: samples.count, by: channels) {
            let p = Array(samples[i..<(i + channels)])
            let color = channels >= 3 ? p[0..<3].map(to8) : [to8(p[0]), to8(p[0]), to8(p[0])]
            let alpha = channels == 2 || channels == 4 ? to8(p[channels - 1]) : (key == p ? 0 : 255)
            out += color.map { over($0, alpha) }
        }
        return out
    }
}
