/// An axis-aligned box by its corners. The units are the caller's: normalised [0, 1]
/// coordinates inside the toolkit (labels, decoded predictions), pixels of the original
/// image at the edges (printed detections, rendering).
public struct BoundingBox: Hashable, Codable, Sendable, CustomStringConvertible {
    public var x1: Float
    public var y1: Float
    public var x2: Float
    public var y2: Float

    public init(x1: Float, y1: Float, x2: Float, y2: Float) {
        self.x1 = x1; self.y1 = y1; self.x2 = x2; self.y2 = y2
    }

    /// From a centre and a size, the YOLO label convention.
    public init(centerX: Float, centerY: Float, width: Float, height: Float) {
        self.init(x1: centerX - width / 2, y1: centerY - height / 2,
                  x2: centerX + width / 2, y2: centerY + height / 2)
    }

    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }
    public var centerX: Float { (x1 + x2) / 2 }
    public var centerY: Float { (y1 + y2) / 2 }
    /// Zero for an empty or inverted box.
    public var area: Float { max(0, width) * max(0, height) }
    /// Whether every corner is a finite number (no NaN, no ±∞): NMS keeps, the loss assigns and
    /// drawing draws only such boxes.
    public var isFinite: Bool { x1.isFinite && y1.isFinite && x2.isFinite && y2.isFinite }

    /// Intersection over union; 0 when the union is empty (two zero-area boxes).
    public func iou(with other: BoundingBox) -> Float {
        let iw = min(x2, other.x2) - max(x1, other.x1)
        let ih = min(y2, other.y2) - max(y1, other.y1)
        guard iw > 0, ih > 0 else { return 0 }
        let intersection = iw * ih
        let union = area + other.area - intersection
        return union > 0 ? intersection / union : 0
    }

    /// The box with every coordinate clamped to [lower, upper] on x and y.
    public func clamped(width limitX: Float, height limitY: Float) -> BoundingBox {
        BoundingBox(x1: min(max(x1, 0), limitX), y1: min(max(y1, 0), limitY),
                    x2: min(max(x2, 0), limitX), y2: min(max(y2, 0), limitY))
    }

    /// Scales x by `sx` and y by `sy` (e.g. normalised to pixels).
    public func scaled(x sx: Float, y sy: Float) -> BoundingBox {
        BoundingBox(x1: x1 * sx, y1: y1 * sy, x2: x2 * sx, y2: y2 * sy)
    }

    public var description: String { "[\(x1), \(y1), \(x2), \(y2)]" }
}

/// One object found by the detector, or one labelled object: a box, a class, and a score
/// (1 for ground truth).
public struct Detection: Hashable, Codable, Sendable {
    public var box: BoundingBox
    public var classIndex: Int
    public var score: Float

    public init(box: BoundingBox, classIndex: Int, score: Float) {
        self.box = box; self.classIndex = classIndex; self.score = score
    }
}

/// The name shown for class `index`: `names[index]`, or `class<index>` (`class7`) for an
/// index the list does not name. One word without spaces, so a `detect` text line still ends in
/// its five numbers and the fallback cannot be taken for a real name with a space (COCO's
/// `traffic light`). Every output that names a class (detect's lines and JSON, pictures, the
/// evaluation table, JSON and plots) uses this.
public func className(_ index: Int, in names: [String]) -> String {
    names.indices.contains(index) ? names[index] : "class\(index)"
}

/// A labelled object of a data set: class and box in normalised [0, 1] image coordinates.
public struct LabeledObject: Hashable, Codable, Sendable {
    public var classIndex: Int
    public var box: BoundingBox

    public init(classIndex: Int, box: BoundingBox) {
        self.classIndex = classIndex; self.box = box
    }
}
