import Foundation

/// A bad line of a YOLO label file: the file, the 1-based line number, what kind of problem
/// and a sentence saying exactly what was found.
public struct LabelError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case fieldCount, classNotInteger, classOutOfRange, notANumber, notFinite
        case coordinateOutOfRange, nonPositiveSize, sizeTooLarge
        /// The file exists but cannot be read as UTF-8 text.
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

/// Parses a YOLO label file (darknet / Ultralytics format): one object per line,
/// `class_id cx cy w h`, the centre and size normalised to [0, 1] by the image's width and
/// height. Blank lines, `\r\n` endings and extra spaces or tabs around fields are tolerated. Every other line must be exactly that:
///
/// - five fields;
/// - a class id that is an integer in `0..<classCount` (`1.0` and `-1` are errors);
/// - finite numbers (`nan`, `inf` are errors);
/// - centres in [0, 1] and sizes in (0, 1], each within `labelTolerance`.
///
/// A box whose centre and size are valid but whose edges stick out of the image
/// (cx ± w/2 outside [0, 1]) is clipped to the image, as Ultralytics does: the range checks
/// already catch labels in pixels or with the wrong normalisation, and rejecting the whole
/// image for a box that overhangs by a few pixels would throw away good data.
///
/// Throws a `LabelError` naming `source` and the line number.
public func parseLabels(_ text: String, source: String, classCount: Int) throws -> [LabeledObject] {
    var objects: [LabeledObject] = []
    // Split on Character.isNewline: "\r\n" is one Character in Swift, so splitting on "\n"
    // alone would read a Windows file as a single line.
    for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
        let lineNumber = index + 1
        func fail(_ kind: LabelError.Kind, _ reason: String) -> LabelError {
            LabelError(file: source, line: lineNumber, kind: kind, reason: reason)
        }
        let fields = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if fields.isEmpty { continue }
        guard fields.count == 5 else {
            let shown = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            throw fail(.fieldCount, "expected 5 fields \"class cx cy w h\", found \(fields.count): \"\(shown.prefix(80))\"")
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
        objects.append(LabeledObject(classIndex: classIndex, box: box.clamped(width: 1, height: 1)))
    }
    return objects
}

/// Reads and parses a label file; a missing file means no objects (darknet and Ultralytics
/// treat an image without a label file as background).
public func readLabels(path: String, classCount: Int) throws -> [LabeledObject] {
    guard FileManager.default.fileExists(atPath: path) else { return [] }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw LabelError(file: path, line: 0, kind: .unreadable, reason: "cannot read the label file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw LabelError(file: path, line: 0, kind: .unreadable, reason: "not UTF-8 text")
    }
    return try parseLabels(text, source: path, classCount: classCount)
}

/// YOLO label lines for objects (`class cx cy w h`, 6 decimals, one per line, ending with a
/// newline); empty for no objects.
public func formatLabels(_ objects: [LabeledObject]) -> String {
    objects.map { o in
        String(format: "%d %.6f %.6f %.6f %.6f", o.classIndex, o.box.centerX, o.box.centerY, o.box.width, o.box.height)
    }.joined(separator: "\n") + (objects.isEmpty ? "" : "\n")
}
