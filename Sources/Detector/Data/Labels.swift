import Foundation

/// A bad label file or a bad line of one: the file, the 1-based line number (0 when the
/// problem is the file itself), what kind of problem and a sentence saying exactly what was
/// found.
public struct LabelError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case fieldCount, classNotInteger, classOutOfRange, notANumber, notFinite
        case coordinateOutOfRange, nonPositiveSize, sizeTooLarge
        /// Bytes that are not UTF-8 (the reason gives the byte offset in the file).
        case notUTF8
        /// A NUL byte or another control character (other than tab) inside a line.
        case controlCharacter
        /// The path is a folder, FIFO, device or socket.
        case notARegularFile
        /// A symbolic link to nothing, or links that loop.
        case brokenLink
        /// More than `maximumLabelFileBytes`.
        case tooLarge
        /// The file exists but cannot be read (permissions, I/O error).
        case unreadable
    }

    public var file: String
    public var line: Int
    public var kind: Kind
    public var reason: String

    public init(file: String, line: Int, kind: Kind, reason: String) {
        self.file = file; self.line = line; self.kind = kind; self.reason = reason
    }

    public var description: String { line > 0 ? "\(file):\(line): \(reason)" : "\(file): \(reason)" }
}

/// How far a normalised coordinate may stray outside [0, 1] and still be accepted (then
/// clamped): rounding noise of tools that write the label with more or fewer decimals (1.00001
/// passes, 1.01 does not).
public let labelTolerance: Float = 1e-4

/// Label files (and classes.txt) larger than this are refused before they are read: a label
/// line is about 40 bytes, so this is over a million objects for one image.
public let maximumLabelFileBytes = 64 << 20

/// Parses a YOLO label file (darknet / Ultralytics format): one object per line,
/// `class_id cx cy w h`, the centre and size normalised to [0, 1] by the image's width and
/// height. Lines end with `\n`, `\r\n` or `\r`; blank lines, a leading byte-order mark and
/// extra spaces or tabs around fields are tolerated. Every other line must be exactly that:
///
/// - five fields;
/// - a class id that is an integer in `0..<classCount` (`1.0` and `-1` are errors);
/// - finite numbers (`nan`, `inf` are errors);
/// - centres in [0, 1] and sizes in (0, 1], each within `labelTolerance`;
/// - no NUL byte or other control character but tab (C's number parsing would stop at a NUL
///   and read `0.5\0junk` as 0.5).
///
/// A box whose centre and size are valid but whose edges stick out of the image
/// (cx ± w/2 outside [0, 1]) is clipped to the image, as Ultralytics does: the range checks
/// already catch labels in pixels or with the wrong normalisation, and rejecting the whole
/// image for a box that overhangs by a few pixels would throw away good data.
///
/// Throws a `LabelError` naming `source` and the line number.
public func parseLabels(_ text: String, source: String, classCount: Int) throws -> [LabeledObject] {
    var text = text
    return try text.withUTF8 { try parseLabels(bytes: $0, source: source, classCount: classCount) }
}

/// `parseLabels` on the file's bytes, which are checked to be UTF-8 on the way (a
/// `LabelError` of kind `notUTF8` gives the line and the byte offset in the file).
func parseLabels(bytes: UnsafeBufferPointer<UInt8>, source: String, classCount: Int) throws -> [LabeledObject] {
    var objects: [LabeledObject] = []
    do {
        try forEachLine(of: bytes) { lineNumber, line in
            if let object = try parseLabelLine(line, source: source, lineNumber: lineNumber, classCount: classCount) {
                objects.append(object)
            }
        }
    } catch let fault as TextFault {
        throw LabelError(file: source, line: fault.line, kind: fault.isUTF8 ? .notUTF8 : .controlCharacter, reason: fault.reason)
    }
    return objects
}

/// One line's object, or nil for a blank line. Fields are found without storing them all
/// (a line of a million fields costs no memory), and only the first five are converted.
private func parseLabelLine(_ line: UnsafeBufferPointer<UInt8>, source: String, lineNumber: Int,
                            classCount: Int) throws -> LabeledObject? {
    func fail(_ kind: LabelError.Kind, _ reason: String) -> LabelError {
        LabelError(file: source, line: lineNumber, kind: kind, reason: reason)
    }
    let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
    var fields: [String] = []
    var count = 0
    var i = 0
    while i < line.count {
        if line[i] == space || line[i] == tab { i += 1; continue }
        let start = i
        while i < line.count && line[i] != space && line[i] != tab { i += 1 }
        count += 1
        if count <= 5 { fields.append(String(decoding: UnsafeBufferPointer(rebasing: line[start..<i]), as: UTF8.self)) }
    }
    if count == 0 { return nil }
    guard count == 5 else {
        // The first 320 bytes are enough to show 80 characters.
        let shown = String(decoding: UnsafeBufferPointer(rebasing: line.prefix(320)), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        throw fail(.fieldCount, "expected 5 fields \"class cx cy w h\", found \(count): \"\(shown.prefix(80))\"")
    }
    guard let classIndex = Int(fields[0]) else {
        throw fail(.classNotInteger, "class id \"\(fields[0].prefix(40))\" is not an integer")
    }
    guard classIndex >= 0 && classIndex < classCount else {
        throw fail(.classOutOfRange, classCount > 0
            ? "class id \(classIndex) is outside the \(classCount) classes (0...\(classCount - 1))"
            : "class id \(classIndex) but the class list is empty")
    }
    var numbers: [Float] = []
    numbers.reserveCapacity(4)
    for (name, field) in zip(["cx", "cy", "w", "h"], fields[1...]) {
        guard let value = Float(field) else { throw fail(.notANumber, "\(name) \"\(field.prefix(40))\" is not a number") }
        guard value.isFinite else { throw fail(.notFinite, "\(name) is \(field), not a finite number") }
        numbers.append(value)
    }
    let (cx, cy, w, h) = (numbers[0], numbers[1], numbers[2], numbers[3])
    for (name, v) in [("cx", cx), ("cy", cy)] where v < -labelTolerance || v > 1 + labelTolerance {
        throw fail(.coordinateOutOfRange, "\(name) \(v) is outside [0, 1] (coordinates are normalised by the image size)")
    }
    for (name, v) in [("w", w), ("h", h)] {
        guard v > 0 else { throw fail(.nonPositiveSize, "\(name) \(v) is not positive") }
        guard v <= 1 + labelTolerance else { throw fail(.sizeTooLarge, "\(name) \(v) is larger than the image (> 1)") }
    }
    let box = BoundingBox(centerX: cx, centerY: cy, width: w, height: h)
    return LabeledObject(classIndex: classIndex, box: box.clamped(width: 1, height: 1))
}

/// Why the bytes of a text file are not clean text: not UTF-8, or a control character.
struct TextFault: Error {
    var line: Int
    var isUTF8: Bool
    var reason: String
}

/// Calls `body` with each line of a text file (its 1-based number and its bytes, without
/// the line end). Lines end with `\n`, `\r\n` or a lone `\r`; a UTF-8 byte-order mark at the
/// start is skipped. Before a line is passed on it is checked, and a `TextFault` thrown:
/// it must be valid UTF-8 (the fault gives the byte offset in the file) and hold no control
/// character other than tab (U+0000...U+001F, U+007F; the fault names NUL, the usual sign of
/// a binary or UTF-16 file). Line ends are ASCII and never occur inside a UTF-8 sequence, so
/// splitting first and validating each line finds every encoding error.
func forEachLine(of bytes: UnsafeBufferPointer<UInt8>, _ body: (Int, UnsafeBufferPointer<UInt8>) throws -> Void) throws {
    let newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
    var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    var lineNumber = 1
    while start <= bytes.count {
        var end = start
        var nonASCII = false, control: Int? = nil
        while end < bytes.count && bytes[end] != newline && bytes[end] != carriageReturn {
            let byte = bytes[end]
            if byte >= 0x80 { nonASCII = true }
            else if control == nil && ((byte < 0x20 && byte != 0x09) || byte == 0x7F) { control = end }
            end += 1
        }
        if nonASCII {
            var iterator = UnsafeBufferPointer(rebasing: bytes[start..<end]).makeIterator()
            var parser = Unicode.UTF8.ForwardParser()
            var offset = start
            decoding: while true {
                switch parser.parseScalar(from: &iterator) {
                case .valid(let scalar): offset += scalar.count
                case .emptyInput: break decoding
                case .error(let length):
                    let shown = bytes[offset..<min(offset + length, bytes.count)].map { String(format: "0x%02X", $0) }.joined(separator: " ")
                    throw TextFault(line: lineNumber, isUTF8: true,
                                    reason: "not UTF-8 text: invalid byte sequence \(shown) at byte offset \(offset) of the file (column \(offset - start + 1) of the line)")
                }
            }
        }
        if let control {
            let byte = bytes[control]
            let what = byte == 0 ? "a NUL byte" : String(format: "the control character U+%04X", byte)
            let hint = byte == 0 ? " (a binary or UTF-16 file?)" : ""
            throw TextFault(line: lineNumber, isUTF8: false,
                            reason: "contains \(what) at column \(control - start + 1)\(hint)")
        }
        try body(lineNumber, UnsafeBufferPointer(rebasing: bytes[start..<end]))
        if end == bytes.count { break }
        start = end + 1
        if bytes[end] == carriageReturn && start < bytes.count && bytes[start] == newline { start += 1 }
        lineNumber += 1
    }
}

/// Reads and parses a label file. A missing file means no objects (darknet and Ultralytics
/// treat an image without a label file as background); anything else that is not a readable
/// regular file of at most `maximumLabelFileBytes` is a `LabelError` (line 0): a dangling or
/// looping symbolic link (`brokenLink`), a folder, FIFO or device (`notARegularFile`; a FIFO
/// is never opened, so this never blocks), a larger file (`tooLarge`), or a read failure
/// (`unreadable`).
public func readLabels(path: String, classCount: Int) throws -> [LabeledObject] {
    let data: Data
    do {
        data = try RegularFile.read(path: path, limit: maximumLabelFileBytes)
    } catch .missing {
        return []
    } catch {
        throw LabelError(file: path, line: 0, kind: labelErrorKind(error), reason: error.reason(limitName: "a label file"))
    }
    return try data.withUnsafeBytes { raw in
        try parseLabels(bytes: raw.bindMemory(to: UInt8.self), source: path, classCount: classCount)
    }
}

private func labelErrorKind(_ problem: FileProblem) -> LabelError.Kind {
    switch problem {
    case .danglingLink, .linkLoop, .missing: return .brokenLink
    case .notRegular: return .notARegularFile
    case .tooLarge: return .tooLarge
    case .unreadable: return .unreadable
    }
}

/// YOLO label lines for objects (`class cx cy w h`, 6 decimals, one per line, ending with a
/// newline); empty for no objects.
public func formatLabels(_ objects: [LabeledObject]) -> String {
    objects.map { o in
        String(format: "%d %.6f %.6f %.6f %.6f", o.classIndex, o.box.centerX, o.box.centerY, o.box.width, o.box.height)
    }.joined(separator: "\n") + (objects.isEmpty ? "" : "\n")
}
