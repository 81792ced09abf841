import CJPEG
import Foundation

/// JPEG decoding through libjpeg-turbo's TurboJPEG API (`tjDecompressHeader3`,
/// `tjDecompress2`), which reports errors as return codes and a message: the classic libjpeg
/// API reports them through an `error_exit` that must not return (a `longjmp` in practice),
/// which Swift cannot catch.
///
/// Baseline and progressive 8-bit JPEGs are read (and whatever else of 8 bits libjpeg-turbo
/// 2.1 decodes; 12-bit and lossless files are refused with its message); grayscale and CMYK ones
/// are converted to RGB, and the EXIF orientation is applied (see `decode`). What TurboJPEG
/// does not tell, the EXIF orientation, comes from `scanHeader`, a bounds-checked walk over
/// the markers before the image data, which also checks the size before TurboJPEG is called.
public enum JPEG {
    /// Decoding flags: the accurate integer IDCT (libjpeg's `JDCT_ISLOW`, also TurboJPEG's
    /// default for decoding, and Pillow's); stop at the first warning, so a damaged file is an
    /// error (see `decode`); at most 500 progressive scans (a file with thousands of tiny
    /// scans can take minutes to decode: libjpeg-turbo's "TwoIssueswiththeJPEGStandard").
    static let flags = TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS

    /// Any 8-bit JPEG as 8-bit RGB, upright:
    ///
    /// - colour (YCbCr or RGB) through libjpeg-turbo's conversion, chroma upsampled with its
    ///   default ("fancy", triangular) filter, as Pillow and browsers decode;
    /// - grayscale with R = G = B;
    /// - CMYK and YCCK through `cmykToRGB`, the stored values taken as Adobe's inverted ones;
    /// - the EXIF orientation (APP1 `Exif`, IFD0 tag 0x0112, values 1 to 8) applied with
    ///   `Image.applyingExifOrientation`, so a phone photo taken upright reads upright (its
    ///   width and height swapped for orientations 5 to 8); an absent or invalid one is 1.
    ///
    /// The size is checked against `ImageFile.maximumSide` and `ImageFile.maximumPixels`
    /// from the frame header, before the pixel buffer is allocated.
    ///
    /// Damaged files are errors, not images: libjpeg recovers from truncated or corrupt
    /// entropy-coded data with a *warning* and fills the rest of the image with gray (or
    /// garbage), which would silently train a network on half-gray pictures. Every libjpeg
    /// warning ("Premature end of JPEG file", "Corrupt JPEG data: ...") stops decoding and
    /// throws, with libjpeg's message; a file missing only its final EOI marker is refused too.
    /// Re-encoding the file (any image editor) makes it readable.
    public static func decode(_ data: Data, name: String) throws -> Image {
        guard !data.isEmpty else { throw ImageError(file: name, reason: "empty file") }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Image in
            let header: Header
            do throws(HeaderProblem) { header = try scanHeader(raw) } catch {
                throw ImageError(file: name, reason: error.reason(fileLength: raw.count))
            }
            try ImageFile.checkDimensions(width: header.width, height: header.height, name: name)
            guard let handle = tjInitDecompress() else {
                throw ImageError(file: name, reason: "cannot start the JPEG decoder: \(errorMessage(nil))")
            }
            defer { tjDestroy(handle) }
            let bytes = raw.bindMemory(to: UInt8.self).baseAddress!
            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
            guard tjDecompressHeader3(handle, bytes, UInt(raw.count), &width, &height, &subsampling, &colorspace) == 0 else {
                throw ImageError(file: name, reason: "invalid JPEG: \(errorMessage(handle))")
            }
            // The pixel buffer is sized from TurboJPEG's numbers: they must be the checked ones.
            guard Int(width) == header.width, Int(height) == header.height else {
                throw ImageError(file: name, reason: "invalid JPEG: the frame header says \(header.width) x \(header.height), the decoder \(width) x \(height)")
            }
            let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
            let gray = colorspace == Int32(TJCS_GRAY.rawValue)
            let (format, channels) = cmyk ? (TJPF_CMYK, 4) : gray ? (TJPF_GRAY, 1) : (TJPF_RGB, 3)
            let count = header.width * header.height
            var pixels = [UInt8](repeating: 0, count: count * channels)
            let status = pixels.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, bytes, UInt(raw.count), out.baseAddress, width, 0, height, format.rawValue, flags)
            }
            guard status == 0 else {
                throw ImageError(file: name, reason: "invalid or truncated JPEG: \(errorMessage(handle))")
            }
            if cmyk { cmykToRGB(&pixels, count: count) }
            if gray { pixels = grayToRGB(pixels) }
            return Image(width: header.width, height: header.height, pixels: pixels)
                .applyingExifOrientation(header.orientation)
        }
    }

    /// Reads and decodes a file, with `ImageFile.read`'s checks on the path (a regular file of
    /// at most `ImageFile.maximumFileBytes`). `ImageFile.read` picks this decoder or PNG's by
    /// the file's first bytes; this one refuses anything but a JPEG.
    public static func read(path: String) throws -> Image {
        try decode(ImageFile.readFile(path: path), name: path)
    }

    /// Width and height as `decode` returns them (after the EXIF orientation), from the
    /// markers before the image data, without decoding: the first 4 KiB of the file (enough
    /// for most), else the first 256 KiB (a phone photo's Exif segment with its thumbnail
    /// takes up to 64 KiB, an ICC profile a few APP2 segments), else all of it. Refuses what
    /// `decode` refuses from the header: not a JPEG, a missing or malformed frame header, a
    /// size beyond the limits.
    public static func size(path: String) throws -> (width: Int, height: Int) {
        var prefixes = [1 << 12, 1 << 18]
        var data = try ImageFile.readFile(path: path, prefix: prefixes.removeFirst())
        guard !data.isEmpty else { throw ImageError(file: path, reason: "empty file") }
        var whole = data.count < 1 << 12
        while true {
            let scanned: Result<Header, HeaderProblem> = data.withUnsafeBytes { raw in
                Result { () throws(HeaderProblem) -> Header in try scanHeader(raw) }
            }
            switch scanned {
            case .success(let header):
                try ImageFile.checkDimensions(width: header.width, height: header.height, name: path)
                return header.orientation >= 5 ? (header.height, header.width) : (header.width, header.height)
            case .failure(.incomplete) where !whole:
                if prefixes.isEmpty {
                    data = try ImageFile.readFile(path: path)
                    whole = true
                } else {
                    let length = prefixes.removeFirst()
                    data = try ImageFile.readFile(path: path, prefix: length)
                    whole = data.count < length
                }
            case .failure(let problem):
                throw ImageError(file: path, reason: problem.reason(fileLength: data.count))
            }
        }
    }

    private static func errorMessage(_ handle: tjhandle?) -> String {
        guard let text = tjGetErrorStr2(handle) else { return "unknown error" }
        return String(cString: text)
    }

    // MARK: - Colour conversion

    /// CMYK to RGB in place (4 bytes a pixel become 3; the write index 3i never passes the
    /// read index 4i). With ink amounts c, m, y, k in [0, 255] (0 = no ink):
    /// R = round((255 − c)(255 − k) / 255), and likewise G from m and B from y: the naive
    /// conversion without a colour profile, Pillow's `convert("RGB")` (its `cmyk2rgb`).
    ///
    /// The stored values are taken as inverted, 255 − ink: Photoshop writes CMYK JPEGs that
    /// way (with an APP14 "Adobe" marker), libjpeg passes the stored values through
    /// unchanged, and Pillow ("assume adobe conventions"), OpenCV and the browsers read every
    /// CMYK JPEG as inverted, marker or not. So R = round(c'·k' / 255) for stored c', k'.
    static func cmykToRGB(_ pixels: inout [UInt8], count: Int) {
        pixels.withUnsafeMutableBufferPointer { p in
            for i in 0..<count {
                let k = UInt32(p[4 * i + 3])
                for c in 0..<3 {
                    // (x + 127) / 255 rounds x / 255 to nearest (x / 255 is never k + 0.5).
                    p[3 * i + c] = UInt8((UInt32(p[4 * i + c]) * k + 127) / 255)
                }
            }
        }
        pixels.removeLast(count)
    }

    /// One gray byte a pixel to three equal RGB bytes.
    static func grayToRGB(_ gray: [UInt8]) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: gray.count * 3)
        rgb.withUnsafeMutableBufferPointer { out in
            gray.withUnsafeBufferPointer { g in
                for i in 0..<g.count { out[3 * i] = g[i]; out[3 * i + 1] = g[i]; out[3 * i + 2] = g[i] }
            }
        }
        return rgb
    }

    // MARK: - Markers before the image data

    /// What `decode` needs from the markers between SOI and the first SOS.
    struct Header: Equatable {
        /// As stored in the frame header (before the orientation is applied).
        var width: Int
        var height: Int
        /// EXIF orientation, 1 to 8; 1 without an Exif APP1 segment or with an invalid value.
        var orientation: Int
    }

    enum HeaderProblem: Error, Equatable {
        /// The bytes end before the first scan (a truncated file, or a prefix too short).
        case incomplete
        case invalid(String)

        func reason(fileLength: Int) -> String {
            switch self {
            case .incomplete: return "truncated JPEG: the file (\(fileLength) bytes) ends before the image data"
            case .invalid(let text): return text
            }
        }
    }

    /// Walks the marker segments from SOI to the first SOS (ITU T.81 §B.1.1: a marker is
    /// 0xFF, optional 0xFF fill bytes, a code; every marker but SOI, EOI, RSTn and TEM has a
    /// big-endian length that counts itself), reading the frame header (SOFn: precision,
    /// height, width) and the first Exif APP1 segment. Every length is checked
    /// against the bytes there before anything is read.
    static func scanHeader(_ raw: UnsafeRawBufferPointer) throws(HeaderProblem) -> Header {
        let b = raw.bindMemory(to: UInt8.self)
        let n = b.count
        guard n >= 3 else { throw n == 2 && b[0] == 0xFF && b[1] == 0xD8 ? .incomplete : .invalid("not a JPEG file") }
        guard b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF else { throw .invalid("not a JPEG file (no SOI marker)") }
        var frame: (width: Int, height: Int)? = nil
        var orientation: Int? = nil
        var i = 2
        while true {
            guard i < n else { throw .incomplete }
            guard b[i] == 0xFF else {
                throw .invalid(String(format: "invalid JPEG: byte 0x%02X at offset %d where a marker should start", b[i], i))
            }
            while i < n && b[i] == 0xFF { i += 1 }
            guard i < n else { throw .incomplete }
            let marker = b[i]
            i += 1
            switch marker {
            case 0x01, 0xD0...0xD7: continue  // TEM, RSTn: no length
            case 0xD8: throw .invalid("invalid JPEG: a second SOI marker before the image data")
            case 0xD9: throw .invalid("invalid JPEG: the image ends (EOI) before any image data")
            default: break
            }
            guard i + 2 <= n else { throw .incomplete }
            let length = Int(b[i]) << 8 | Int(b[i + 1])
            guard length >= 2 else { throw .invalid(String(format: "invalid JPEG: marker 0x%02X with length %d", marker, length)) }
            let start = i + 2, end = i + length
            guard end <= n else { throw .incomplete }
            let segment = UnsafeBufferPointer(rebasing: b[start..<end])
            switch marker {
            case 0xDA:
                guard let frame else { throw .invalid("invalid JPEG: image data (SOS) before the frame header (SOF)") }
                return Header(width: frame.width, height: frame.height, orientation: orientation ?? 1)
            case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC:  // SOFn, not DHT, JPG, DAC
                guard frame == nil else { throw .invalid("invalid JPEG: a second frame header (SOF) before the image data") }
                guard segment.count >= 6 else { throw .invalid("invalid JPEG: frame header of \(segment.count) bytes") }
                let height = Int(segment[1]) << 8 | Int(segment[2]), width = Int(segment[3]) << 8 | Int(segment[4])
                guard width > 0, height > 0 else {
                    // Height 0 defers it to a DNL marker after the first scan, which libjpeg-turbo refuses.
                    throw .invalid("zero-size image (\(width) x \(height) in the frame header)")
                }
                frame = (width, height)
            case 0xE1 where orientation == nil && segment.starts(with: [0x45, 0x78, 0x69, 0x66, 0, 0]):  // "Exif\0\0"
                orientation = exifOrientation(tiff: UnsafeBufferPointer(rebasing: segment[6...])) ?? 1
            default: break
            }
            i = end
        }
    }

    /// The orientation tag (0x0112) of IFD0 of the TIFF structure in an Exif APP1 segment
    /// (Exif 2.32 §4.5.2, TIFF 6.0 §2): a byte-order mark, "II" (little-endian) or "MM"
    /// (big-endian), the number 42, the offset of IFD0 from the start of the TIFF header;
    /// IFD0 is a 2-byte entry count and 12-byte entries (tag, type, count, value or offset).
    /// The value must be a SHORT (type 3; LONG, type 4, accepted too) in 1...8. Nil for
    /// anything malformed (offsets beyond the segment included): the image is then read as
    /// stored, as image viewers do.
    static func exifOrientation(tiff t: UnsafeBufferPointer<UInt8>) -> Int? {
        guard t.count >= 8 else { return nil }
        let little: Bool
        switch (t[0], t[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= t.count else { return nil }
            return little ? Int(t[at]) | Int(t[at + 1]) << 8 : Int(t[at]) << 8 | Int(t[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let a = u16(at), let b = u16(at + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let entries = u16(ifd) else { return nil }
        for k in 0..<entries {
            let entry = ifd + 2 + 12 * k
            guard let tag = u16(entry), let type = u16(entry + 2), let count = u32(entry + 4) else { return nil }
            guard tag == 0x0112 else { continue }
            guard count >= 1 else { return nil }
            let value: Int?
            switch type {
            case 3: value = u16(entry + 8)
            case 4: value = u32(entry + 8)
            default: value = nil
            }
            return value.flatMap { (1...8).contains($0) ? $0 : nil }
        }
        return nil
    }
}

extension Image {
    /// The image as it is meant to be shown, given its EXIF orientation (Exif 2.32 §4.6.4 A,
    /// tag 0x0112): which corner row 0, column 0 of the stored pixels belongs at.
    ///
    ///     1 as stored              5 transpose (x ↔ y)
    ///     2 mirrored left-right    6 rotated 90° clockwise
    ///     3 rotated 180°           7 transverse (flip about the anti-diagonal)
    ///     4 mirrored top-bottom    8 rotated 90° counter-clockwise
    ///
    /// (Pillow's `ImageOps.exif_transpose`.) Orientations 5 to 8 swap width and height.
    /// With stored size W x H, output pixel (x', y') is stored pixel (x, y) =
    /// 2: (W−1−x', y'), 3: (W−1−x', H−1−y'), 4: (x', H−1−y'), 5: (y', x'), 6: (y', H−1−x'),
    /// 7: (W−1−y', H−1−x'), 8: (W−1−y', x'). Any other value returns the image unchanged.
    public func applyingExifOrientation(_ orientation: Int) -> Image {
        guard (2...8).contains(orientation) else { return self }
        let W = width, H = height
        let swaps = orientation >= 5
        let outWidth = swaps ? H : W, outHeight = swaps ? W : H
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y2 in 0..<outHeight {
                    for x2 in 0..<outWidth {
                        let (x, y): (Int, Int)
                        switch orientation {
                        case 2: (x, y) = (W - 1 - x2, y2)
                        case 3: (x, y) = (W - 1 - x2, H - 1 - y2)
                        case 4: (x, y) = (x2, H - 1 - y2)
                        case 5: (x, y) = (y2, x2)
                        case 6: (x, y) = (y2, H - 1 - x2)
                        case 7: (x, y) = (W - 1 - y2, H - 1 - x2)
                        default: (x, y) = (W - 1 - y2, x2)  // 8
                        }
                        let s = 3 * (y * W + x), d = 3 * (y2 * outWidth + x2)
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return Image(width: outWidth, height: outHeight, pixels: out)
    }
}
