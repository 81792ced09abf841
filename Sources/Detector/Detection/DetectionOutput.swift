import Foundation

// The two output formats of `detect`, fixed by issue 2. Numbers are printed with C's "%.Nf"
// (the float's exact binary value correctly rounded, so 0.8765 — stored as 0.87650001 — prints
// 0.877; '.' as the decimal point: String(format:) without a locale is the POSIX one),
// and −0 is printed as 0 (a box clamped at the image's left edge could otherwise print -0.0).

/// One line per detection, `class score x1 y1 x2 y2`: the class name (`class<K>` for an index
/// without a name), the score with 3 decimals, the box's corners in original image pixels with
/// 1 decimal, e.g. `square 0.877 10.0 20.1 110.5 220.2`.
public func detectionTextLines(_ detections: [Detection], classNames: [String]) -> [String] {
    detections.map { d in
        [className(d.classIndex, classNames), decimal(d.score, 3),
         decimal(d.box.x1, 1), decimal(d.box.y1, 1), decimal(d.box.x2, 1), decimal(d.box.y2, 1)]
            .joined(separator: " ")
    }
}

/// One JSON object per image on one line, keys in exactly this order:
///
///     {"image": PATH, "width": W, "height": H, "detections": [{"class": NAME, "class_id": K,
///      "score": S, "box": [x1, y1, x2, y2]}, ...]}
///
/// written by hand so that the key order is fixed: strings escaped as JSON requires (quote,
/// backslash, control characters; other Unicode as is, UTF-8), score with 4 decimals, box in
/// original image pixels with 1 decimal, a non-finite number as `null` (JSON has no NaN).
public func detectionJSONLine(image path: String, width: Int, height: Int, detections: [Detection], classNames: [String]) -> String {
    let items = detections.map { d in
        "{\"class\": \(jsonString(className(d.classIndex, classNames))), \"class_id\": \(d.classIndex), "
            + "\"score\": \(jsonNumber(d.score, 4)), \"box\": [\(jsonNumber(d.box.x1, 1)), \(jsonNumber(d.box.y1, 1)), "
            + "\(jsonNumber(d.box.x2, 1)), \(jsonNumber(d.box.y2, 1))]}"
    }
    return "{\"image\": \(jsonString(path)), \"width\": \(width), \"height\": \(height), \"detections\": [\(items.joined(separator: ", "))]}"
}

func className(_ index: Int, _ names: [String]) -> String {
    index >= 0 && index < names.count ? names[index] : "class\(index)"
}

/// `value` with `places` decimals; −0 (and anything rounding to it) as 0.
func decimal(_ value: Float, _ places: Int) -> String {
    let text = String(format: "%.\(places)f", Double(value))
    if text.hasPrefix("-"), text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) { return String(text.dropFirst()) }
    return text
}

func jsonNumber(_ value: Float, _ places: Int) -> String {
    value.isFinite ? decimal(value, places) : "null"
}
