import Foundation

// The two output formats of `detect`, kept stable for the scripts that read them (the README
// documents both). Numbers are printed with C's "%.Nf"
// (the float's exact binary value correctly rounded, so 0.8765 — stored as 0.87650001 — prints
// 0.877; '.' as the decimal point: String(format:) without a locale is the POSIX one),
// and −0 is printed as 0 (a box clamped at the image's left edge could otherwise print -0.0).

/// One line per detection, `class score x1 y1 x2 y2`: the class name (`className(_:in:)`:
/// `class<K>` for an index without a name; quoted by `textField` when it could forge a line),
/// the score with 3 decimals, the box's corners in original image pixels with 1 decimal, e.g.
/// `square 0.877 10.0 20.1 110.5 220.2`. A class name may hold spaces (COCO's
/// `traffic light`): the class is everything before the last five fields.
public func detectionTextLines(_ detections: [Detection], classNames: [String]) -> [String] {
    detections.map { d in
        [textField(className(d.classIndex, in: classNames)), decimal(d.score, 3),
         decimal(d.box.x1, 1), decimal(d.box.y1, 1), decimal(d.box.x2, 1), decimal(d.box.y2, 1)]
            .joined(separator: " ")
    }
}

/// The line before an image's detections when `detect` is given several images,
/// `# PATH (WxH): N detections`, the path quoted by `textField` when it could forge a line.
public func detectionTextHeader(image path: String, width: Int, height: Int, count: Int) -> String {
    "# \(textField(path)) (\(width)x\(height)): \(count) detections"
}

/// A name (class or file) as a field of the text format. Unchanged when it cannot be mistaken
/// for anything else, so ordinary names print as they are (spaces and backslashes included);
/// otherwise written as a JSON string literal, which any JSON parser reads back to the exact
/// name. Quoted when the name
/// - contains a character that can end or disguise a line: a control character (newline,
///   carriage return, tab, escape, DEL, C1 such as NEL), the line and paragraph separators
///   U+2028/U+2029, or an invisible format character (bidirectional overrides, zero-width
///   space, byte-order mark; not the joiners, see `isHiddenInText`); without this, `a.png\nsquare 0.999 0 0 9 9` would print a fake detection;
/// - is empty (the line would start with a space);
/// - starts with `"` (else it would read as a quoted name) or `#` (else a detection line would
///   read as an image header).
/// The escapes are `jsonString`'s: `\"`, `\\`, `\n`, `\r`, `\t`, and `\uXXXX` (UTF-16, a
/// surrogate pair above U+FFFF) for the other hidden characters; other characters stay as UTF-8.
func textField(_ name: String) -> String {
    // Scalars, not Characters: `"` followed by a combining mark is one Character that
    // `hasPrefix("\"")` would not match, yet a reader of the line sees a quote first.
    let first = name.unicodeScalars.first
    let needsQuotes = first == nil || first == "\"" || first == "#" || name.unicodeScalars.contains(where: isHiddenInText)
    return needsQuotes ? jsonString(name, alsoEscaping: isHiddenInText) : name
}

/// A character that a terminal or a line-based reader does not show as itself. The zero-width
/// joiner and non-joiner are format characters too, but they only shape their neighbours
/// (emoji sequences such as 👩‍🔬, Persian and Indic words) and cannot break or reorder a line.
private func isHiddenInText(_ scalar: Unicode.Scalar) -> Bool {
    if scalar == "\u{200C}" || scalar == "\u{200D}" { return false }
    switch scalar.properties.generalCategory {
    case .control, .format, .lineSeparator, .paragraphSeparator: return true
    default: return false
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
        "{\"class\": \(jsonString(className(d.classIndex, in: classNames))), \"class_id\": \(d.classIndex), "
            + "\"score\": \(jsonNumber(d.score, 4)), \"box\": [\(jsonNumber(d.box.x1, 1)), \(jsonNumber(d.box.y1, 1)), "
            + "\(jsonNumber(d.box.x2, 1)), \(jsonNumber(d.box.y2, 1))]}"
    }
    return "{\"image\": \(jsonString(path)), \"width\": \(width), \"height\": \(height), \"detections\": [\(items.joined(separator: ", "))]}"
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

// MARK: - Label files and COCO results

/// The YOLO label file of an image's detections (darknet / Ultralytics format, what
/// `parseLabels` reads): one line per detection, `class cx cy w h`, the centre and size
/// normalised by the image's `width` and `height` with 6 decimals, as `formatLabels` writes
/// them; with `includeScore` a sixth field, the score with 4 decimals (Ultralytics'
/// `save_conf`; such a file is for filtering, `parseLabels` reads five fields). Each line
/// ends with a newline; no detections give an empty file. A box that is narrower or lower
/// than half a millionth of the image (clipped to nothing at an edge) is left out: it would
/// print a size of 0, which no label reader accepts.
public func yoloLabelText(_ detections: [Detection], width: Int, height: Int, includeScore: Bool) -> String {
    let w = Float(width), h = Float(height)
    var text = ""
    for d in detections {
        let box = d.box.scaled(x: 1 / w, y: 1 / h).clamped(width: 1, height: 1)
        guard box.width >= 5e-7 && box.height >= 5e-7 else { continue }
        text += String(format: "%d %.6f %.6f %.6f %.6f", d.classIndex, box.centerX, box.centerY, box.width, box.height)
        if includeScore { text += " " + decimal(d.score, 4) }
        text += "\n"
    }
    return text
}

/// One object of a COCO results file (what pycocotools' `loadRes` reads), keys in this order:
///
///     {"image_id": I, "category_id": C, "bbox": [x, y, w, h], "score": S}
///
/// the box's top-left corner and size in the original image's pixels (COCO's `[x, y, width,
/// height]`, from `x1 y1 x2 y2`) with 3 decimals and the score with 5, as Ultralytics rounds
/// them.
public func cocoResultObject(imageID: Int, categoryID: Int, detection d: Detection) -> String {
    "{\"image_id\": \(imageID), \"category_id\": \(categoryID), \"bbox\": [\(jsonNumber(d.box.x1, 3)), \(jsonNumber(d.box.y1, 3)), "
        + "\(jsonNumber(d.box.width, 3)), \(jsonNumber(d.box.height, 3))], \"score\": \(jsonNumber(d.score, 5))}"
}

/// One entry of the images file beside the COCO results (`FILE.images.json`), in the form of
/// a COCO annotation file's `images`: `{"id": I, "file_name": PATH, "width": W, "height": H}`.
public func cocoImageObject(id: Int, path: String, width: Int, height: Int) -> String {
    "{\"id\": \(id), \"file_name\": \(jsonString(path)), \"width\": \(width), \"height\": \(height)}"
}

/// A JSON array of already-written objects, one per line: `[\n{...},\n{...}\n]\n`, or `[]\n`.
public func jsonArrayLines(_ objects: [String]) -> String {
    objects.isEmpty ? "[]\n" : "[\n" + objects.joined(separator: ",\n") + "\n]\n"
}
