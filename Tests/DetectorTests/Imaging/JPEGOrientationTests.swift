import Foundation
import Testing
@testable import Detector

/// EXIF orientation: the eight transforms on exact pixels, the parsing of the Exif segment
/// (both byte orders, malformed offsets), and the fixtures' quadrants read upright.
@Suite struct JPEGOrientationTests {
    typealias RGB = [UInt8]
    static let red: RGB = [255, 0, 0], green: RGB = [0, 255, 0], blue: RGB = [0, 0, 255], white: RGB = [255, 255, 255]

    /// Where the stored corners top-left A, top-right B, bottom-left C, bottom-right D end up
    /// when shown (the Exif 2.32 table, worked out by hand): [top-left, top-right,
    /// bottom-left, bottom-right] of the upright image.
    static let corners: [Int: [String]] = [
        1: ["A", "B", "C", "D"],
        2: ["B", "A", "D", "C"],  // mirrored left-right
        3: ["D", "C", "B", "A"],  // rotated 180°
        4: ["C", "D", "A", "B"],  // mirrored top-bottom
        5: ["A", "C", "B", "D"],  // transposed
        6: ["C", "A", "D", "B"],  // rotated 90° clockwise: the left column becomes the top row
        7: ["D", "B", "C", "A"],  // transverse
        8: ["B", "D", "A", "C"],  // rotated 90° counter-clockwise
    ]

    static func pixel(_ image: Image, _ x: Int, _ y: Int) -> RGB {
        let i = 3 * (y * image.width + x)
        return Array(image.pixels[i..<(i + 3)])
    }

    /// 3 x 2 with every pixel distinct: corners A (0,0), B (2,0), C (0,1), D (2,1).
    static let small = Image(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 10) })

    @Test(arguments: 1...8) func eachOrientationMovesTheCornersAsTheTableSays(_ orientation: Int) {
        let stored = Self.small
        let named = ["A": Self.pixel(stored, 0, 0), "B": Self.pixel(stored, 2, 0), "C": Self.pixel(stored, 0, 1), "D": Self.pixel(stored, 2, 1)]
        let upright = stored.applyingExifOrientation(orientation)
        let swapped = orientation >= 5
        #expect(upright.width == (swapped ? 2 : 3) && upright.height == (swapped ? 3 : 2))
        let w = upright.width - 1, h = upright.height - 1
        let got = [Self.pixel(upright, 0, 0), Self.pixel(upright, w, 0), Self.pixel(upright, 0, h), Self.pixel(upright, w, h)]
        #expect(got == Self.corners[orientation]!.map { named[$0]! }, "orientation \(orientation)")
        // The middle column of the stored image (x = 1) stays in the middle of its line.
        #expect(Set(upright.pixels).count == 18, "every pixel kept once")
    }

    /// 2, 3, 4, 5 and 7 undo themselves; 6 and 8 undo each other; 6 four times is nothing.
    @Test func theTransformsComposeAsTheSymmetriesOfARectangle() {
        let image = Self.small
        for n in [2, 3, 4, 5, 7] { #expect(image.applyingExifOrientation(n).applyingExifOrientation(n) == image, "\(n)") }
        #expect(image.applyingExifOrientation(6).applyingExifOrientation(8) == image)
        #expect(image.applyingExifOrientation(6).applyingExifOrientation(6) == image.applyingExifOrientation(3))
        var turned = image
        for _ in 0..<4 { turned = turned.applyingExifOrientation(6) }
        #expect(turned == image)
    }

    @Test(arguments: [0, 1, 9, -1, 65535]) func otherValuesLeaveTheImageAsStored(_ value: Int) {
        #expect(Self.small.applyingExifOrientation(value) == Self.small)
    }

    /// The fixtures: red, green / blue, white quadrants of 16 x 8 in a 32 x 16 image.
    @Test(arguments: ["1", "2", "3", "4", "5", "6", "7", "8", "6_be"])
    func fixtureQuadrantsReadUpright(_ suffix: String) throws {
        let orientation = Int(suffix.prefix(1))!
        let image = try ImageFile.read(path: Fixtures.url("jpeg_orientation_\(suffix).jpg").path)
        let swapped = orientation >= 5
        #expect(image.width == (swapped ? 16 : 32) && image.height == (swapped ? 32 : 16))
        let named = ["A": Self.red, "B": Self.green, "C": Self.blue, "D": Self.white]
        // Quadrant centres of the upright image.
        let qx = image.width / 4, qy = image.height / 4
        let centres = [(qx, qy), (3 * qx, qy), (qx, 3 * qy), (3 * qx, 3 * qy)]
        for (centre, corner) in zip(centres, Self.corners[orientation]!) {
            let got = Self.pixel(image, centre.0, centre.1), want = named[corner]!
            #expect(zip(got, want).allSatisfy { abs(Int($0) - Int($1)) <= 8 }, "orientation \(suffix) at \(centre): \(got), want \(want)")
        }
    }

    // MARK: - The Exif segment

    /// A TIFF structure with IFD0 holding `entries` (tag, type, count, value), in either byte
    /// order; the value field holds a SHORT left-aligned, as TIFF stores it.
    static func tiff(bigEndian: Bool, entries: [(UInt16, UInt16, UInt32, UInt32)], ifdOffset: UInt32 = 8) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] { bigEndian ? u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF)) : u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16)) }
        var out: [UInt8] = (bigEndian ? Array("MM".utf8) : Array("II".utf8)) + u16(42) + u32(ifdOffset)
        out += u16(UInt16(entries.count))
        for (tag, type, count, value) in entries {
            out += u16(tag) + u16(type) + u32(count)
            out += type == 3 ? u16(UInt16(value)) + [0, 0] : u32(value)
        }
        return out + u32(0)
    }

    static func orientation(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { JPEG.exifOrientation(tiff: $0) }
    }

    @Test func theOrientationTagIsFoundInBothByteOrders() {
        for big in [false, true] {
            for n in 1...8 {
                #expect(Self.orientation(Self.tiff(bigEndian: big, entries: [(0x0112, 3, 1, UInt32(n))])) == n)
            }
            // Among other tags (ImageWidth, Make as an offset, then Orientation), and as a LONG.
            let entries: [(UInt16, UInt16, UInt32, UInt32)] = [(0x0100, 4, 1, 640), (0x010F, 2, 6, 1000), (0x0112, 3, 1, 6)]
            #expect(Self.orientation(Self.tiff(bigEndian: big, entries: entries)) == 6)
            #expect(Self.orientation(Self.tiff(bigEndian: big, entries: [(0x0112, 4, 1, 8)])) == 8)
        }
    }

    @Test func malformedExifGivesNoOrientation() {
        let good = Self.tiff(bigEndian: false, entries: [(0x0112, 3, 1, 6)])
        #expect(Self.orientation([]) == nil)
        #expect(Self.orientation(Array(good.prefix(7))) == nil)  // shorter than the TIFF header
        #expect(Self.orientation(Array("XX".utf8) + good.dropFirst(2)) == nil)  // no byte-order mark
        var wrongMagic = good
        wrongMagic[2] = 43
        #expect(Self.orientation(wrongMagic) == nil)
        // IFD0 beyond the segment, or just past it, or at 2^32 − 1 (no overflow).
        for offset: UInt32 in [UInt32(good.count), 1000, 0xFFFF_FFFF, 0xFFFF_FFF0] {
            #expect(Self.orientation(Self.tiff(bigEndian: false, entries: [(0x0112, 3, 1, 6)], ifdOffset: offset)) == nil, "\(offset)")
        }
        // An entry count far beyond the bytes: the entries that are there are read, then it stops.
        var manyEntries = Self.tiff(bigEndian: true, entries: [(0x0100, 4, 1, 640)])
        manyEntries[8] = 0xFF; manyEntries[9] = 0xFF
        #expect(Self.orientation(manyEntries) == nil)
        // Cut inside the orientation entry.
        #expect(Self.orientation(Array(good.prefix(8 + 2 + 9))) == nil)
        // Values outside 1...8, a zero count, a type that is neither SHORT nor LONG.
        for (type, count, value): (UInt16, UInt32, UInt32) in [(3, 1, 0), (3, 1, 9), (4, 1, 0x1_0006), (3, 0, 6), (1, 1, 6), (2, 1, 6)] {
            #expect(Self.orientation(Self.tiff(bigEndian: false, entries: [(0x0112, type, count, value)])) == nil, "\(type) \(count) \(value)")
        }
        // Every prefix of a valid structure: never a crash; the orientation once the entry's
        // SHORT value is there (header, count, tag, type, count, 2 value bytes).
        for length in 0..<good.count {
            #expect(Self.orientation(Array(good.prefix(length))) == (length >= 8 + 2 + 10 ? 6 : nil), "\(length)")
        }
    }

    // MARK: - Through the decoder

    /// jpeg_baseline.jpg (16 x 12, no Exif segment) with an APP1 segment inserted after SOI.
    static func withSegment(_ marker: UInt8, _ payload: [UInt8]) throws -> Data {
        let base = [UInt8](try Fixtures.data("jpeg_baseline.jpg"))
        let length = payload.count + 2
        return Data(base.prefix(2) + [0xFF, marker, UInt8(length >> 8), UInt8(length & 0xFF)] + payload + base.dropFirst(2))
    }

    static let exifHeader: [UInt8] = Array("Exif".utf8) + [0, 0]

    @Test func anInsertedExifSegmentTurnsTheDecodedImage() throws {
        let stored = try ImageFile.read(path: Fixtures.url("jpeg_baseline.jpg").path)
        for big in [false, true] {
            for n in 1...8 {
                let data = try Self.withSegment(0xE1, Self.exifHeader + Self.tiff(bigEndian: big, entries: [(0x0112, 3, 1, UInt32(n))]))
                #expect(try JPEG.decode(data, name: "x.jpg") == stored.applyingExifOrientation(n), "orientation \(n)")
            }
        }
    }

    /// Only the first Exif APP1 counts; an XMP APP1 or a broken Exif segment is ignored, the
    /// image read as stored.
    @Test func otherAPP1SegmentsAndBrokenExifAreIgnored() throws {
        let stored = try ImageFile.read(path: Fixtures.url("jpeg_baseline.jpg").path)
        let xmp = try Self.withSegment(0xE1, Array("http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>".utf8))
        #expect(try JPEG.decode(xmp, name: "x.jpg") == stored)
        let broken = try Self.withSegment(0xE1, Self.exifHeader + Array("MM".utf8) + [0, 42, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try JPEG.decode(broken, name: "x.jpg") == stored)
        let onlyHeader = try Self.withSegment(0xE1, Self.exifHeader)
        #expect(try JPEG.decode(onlyHeader, name: "x.jpg") == stored)
        // Two Exif segments: 6 then 3 (the second inserted before the first is the first).
        let six = Self.exifHeader + Self.tiff(bigEndian: false, entries: [(0x0112, 3, 1, 6)])
        let three = Self.exifHeader + Self.tiff(bigEndian: false, entries: [(0x0112, 3, 1, 3)])
        var two = [UInt8](try Self.withSegment(0xE1, six))
        let length = three.count + 2
        two.insert(contentsOf: [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + three, at: 2)
        #expect(try JPEG.decode(Data(two), name: "x.jpg") == stored.applyingExifOrientation(3))
    }
}
