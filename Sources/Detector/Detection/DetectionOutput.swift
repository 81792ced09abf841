import Foundation

/// One line per detection, `class score x1 y1 x2 y2`: the class name, the score with 3 decimals,
/// the box in original image pixels with 1 decimal.
public func detectionTextLines(_ detections: [Detection], classNames: [String]) -> [String] {
    detections.map { d in
        String(format: "%@ %.3f %.1f %.1f %.1f %.1f", className(d.classIndex, classNames), d.score, d.box.x1, d.box.y1, d.box.x2, d.box.y2)
    }
}

/// One JSON object per image, keys in this order:
/// `{"image": PATH, "width": W, "height": H, "detections": [{"class": NAME, "class_id": K,
/// "score": S, "box": [x1, y1, x2, y2]}]}` (score 4 decimals, box 1 decimal).
public func detectionJSONLine(image path: String, width: Int, height: Int, detections: [Detection], classNames: [String]) -> String {
    let items = detections.map { d in
        String(format: "{\"class\": %@, \"class_id\": %d, \"score\": %.4f, \"box\": [%.1f, %.1f, %.1f, %.1f]}",
               jsonString(className(d.classIndex, classNames)), d.classIndex, d.score, d.box.x1, d.box.y1, d.box.x2, d.box.y2)
    }
    return "{\"image\": \(jsonString(path)), \"width\": \(width), \"height\": \(height), \"detections\": [\(items.joined(separator: ", "))]}"
}

func className(_ index: Int, _ names: [String]) -> String {
    index >= 0 && index < names.count ? names[index] : "class\(index)"
}
