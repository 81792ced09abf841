import Foundation

/// A bad line of a YOLO label file, with the file and line number.
public struct LabelError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var line: Int
    public var reason: String
    public var description: String { "\(file):\(line): \(reason)" }
}

/// Coordinates may stray outside [0, 1] by this much (rounding in other tools' exports).
public let labelTolerance: Float = 1e-4

/// Parses a YOLO label file (darknet / Ultralytics format): one object per line,
/// `class_id cx cy w h`, all normalised to [0, 1] by the image's width and height. Blank lines
/// are skipped. Every other line must be exactly that: five fields, an integer class below
/// `classCount`, finite centres in [0, 1], sizes in (0, 1], and a box inside the image (each
/// within `labelTolerance`; boxes within it are clipped to [0, 1]).
public func parseLabels(_ text: String, source: String, classCount: Int) throws -> [LabeledObject] {
    var objects: [LabeledObject] = []
    for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let lineNumber = index + 1
        func fail(_ reason: String) -> LabelError { LabelError(file: source, line: lineNumber, reason: reason) }
        let fields = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        if fields.isEmpty { continue }
        guard fields.count == 5 else {
            throw fail("expected 5 fields \"class cx cy w h\", found \(fields.count): \"\(rawLine.trimmingCharacters(in: .whitespacesAndNewlines))\"")
        }
        guard let classIndex = Int(fields[0]) else { throw fail("class id \"\(fields[0])\" is not an integer") }
        guard classIndex >= 0 && classIndex < classCount else {
            throw fail("class id \(classIndex) is outside the \(classCount) classes (0...\(classCount - 1))")
        }
        var numbers: [Float] = []
        for (name, field) in zip(["cx", "cy", "w", "h"], fields[1...]) {
            guard let value = Float(field) else { throw fail("\(name) \"\(field)\" is not a number") }
            guard value.isFinite else { throw fail("\(name) is \(field), not a finite number") }
            numbers.append(value)
        }
        let (cx, cy, w, h) = (numbers[0], numbers[1], numbers[2], numbers[3])
        for (name, v) in [("cx", cx), ("cy", cy)] where v < -labelTolerance || v > 1 + labelTolerance {
            throw fail("\(name) \(v) is outside [0, 1] (coordinates are normalised by the image size)")
        }
        for (name, v) in [("w", w), ("h", h)] {
            guard v > 0 else { throw fail("\(name) \(v) is not positive") }
            guard v <= 1 + labelTolerance else { throw fail("\(name) \(v) is larger than the image (> 1)") }
        }
        let box = BoundingBox(centerX: cx, centerY: cy, width: w, height: h)
        guard box.x1 >= -labelTolerance, box.y1 >= -labelTolerance, box.x2 <= 1 + labelTolerance, box.y2 <= 1 + labelTolerance else {
            throw fail("box [\(box.x1), \(box.y1), \(box.x2), \(box.y2)] extends outside the image")
        }
        objects.append(LabeledObject(classIndex: classIndex, box: box.clamped(width: 1, height: 1)))
    }
    return objects
}

/// YOLO label lines for objects, 6 decimals.
public func formatLabels(_ objects: [LabeledObject]) -> String {
    objects.map { o in
        String(format: "%d %.6f %.6f %.6f %.6f", o.classIndex, o.box.centerX, o.box.centerY, o.box.width, o.box.height)
    }.joined(separator: "\n") + (objects.isEmpty ? "" : "\n")
}
