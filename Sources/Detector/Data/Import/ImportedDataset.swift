import Foundation
#if canImport(Glibc)
import Glibc
#endif

// What COCO and Pascal VOC imports share: the report of what happened to every image and box,
// the pixel-box conversion, the split, and the atomic writer of the YOLO layout.
//
// Flow: a format reader (`COCOImport`, `VOCImport`) turns its annotation files into
// `SourceImage`s with pixel boxes and class indices, naming every problem it finds as an
// `ImportIssue`; `writeImportedDataset` then finds each image file, checks its size against
// the annotation, clips and normalises the boxes, splits, and writes the folder whole or not at
// all. Problems of kind `.invalid` stop the import (every one of them is listed) unless
// `skipInvalid`, which leaves out the images they belong to.

/// One thing an import noticed, named by the file it is in and where in that file.
public struct ImportIssue: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable, Codable, CaseIterable {
        /// A malformed annotation file, field or box, an unknown id, an image whose size differs
        /// from its annotation: the import stops, unless `skipInvalid` (then the image is left out).
        case invalid
        /// An image named by the annotations that is not there: left out, counted.
        case missingImage = "missing_image"
        /// A box partly outside the image, clipped to it.
        case clipped
        /// A box with no area inside the image (zero width or height, or wholly outside): left out.
        case dropped
        /// A COCO `iscrowd` box (a region of many objects), left out unless kept.
        case crowd
        /// A VOC `<difficult>1</difficult>` box, left out unless kept.
        case difficult
        /// Everything else worth knowing (an image found under another extension, a renamed
        /// output file, sizes that could not be checked).
        case note
    }

    public var kind: Kind
    /// The annotation file (COCO JSON, VOC XML) or image the issue is about.
    public var file: String
    /// Where in the file: "annotation id 17 (image id 3)", "line 40, object 2", "image id 3"; empty
    /// for the file as a whole.
    public var location: String
    public var reason: String

    public init(_ kind: Kind, file: String, location: String = "", _ reason: String) {
        self.kind = kind; self.file = file; self.location = location; self.reason = reason
    }

    public var description: String { location.isEmpty ? "\(file): \(reason)" : "\(file): \(location): \(reason)" }
}

/// What an import did, for the summary it prints (text, or `--json`).
public struct ImportSummary: Sendable, Equatable, Codable {
    public var format: String
    /// The annotation files or folders read.
    public var sources: [String]
    public var output: String
    public var classes: [String]
    /// `copy`, `symlink` or `hard`.
    public var imageLink: String
    /// Whether the output folder was written (false when the import stopped).
    public var written = false

    /// Images the annotations describe.
    public var images = 0
    public var trainImages = 0
    public var validationImages = 0
    /// Written images without any box (negatives; their label file is empty).
    public var imagesWithoutBoxes = 0
    public var missingImages = 0
    /// Images left out for problems of kind `.invalid` (with `skipInvalid`).
    public var skippedImages = 0
    /// Images whose size could not be read from the file (no header reader for the format
    /// yet): the annotation's size was used.

    /// Boxes (COCO annotations, VOC objects) in the annotations.
    public var boxes = 0
    public var boxesWritten = 0
    public var boxesClipped = 0
    public var boxesDropped = 0
    public var crowdSkipped = 0
    public var difficultSkipped = 0
    /// Boxes of skipped or missing images, invalid boxes, and boxes that belong to no image:
    /// `boxes` = written + dropped + crowd + difficult + this.
    public var boxesOfSkippedImages = 0

    /// Every issue, in the order found.
    public var issues: [ImportIssue] = []

    public init(format: String, sources: [String], output: String, classes: [String] = [], imageLink: String) {
        self.format = format; self.sources = sources; self.output = output; self.classes = classes; self.imageLink = imageLink
    }

    enum CodingKeys: String, CodingKey {
        case format, sources, output, classes, written, images, boxes, issues
        case imageLink = "image_link"
        case trainImages = "train_images", validationImages = "val_images", imagesWithoutBoxes = "images_without_boxes"
        case missingImages = "missing_images", skippedImages = "skipped_images"
        case boxesWritten = "boxes_written", boxesClipped = "boxes_clipped", boxesDropped = "boxes_dropped"
        case crowdSkipped = "crowd_skipped", difficultSkipped = "difficult_skipped"
        case boxesOfSkippedImages = "boxes_of_skipped_images"
    }

    /// The summary as one line of JSON (keys in snake_case, sorted).
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Human-readable lines: the totals, then up to `listed` issues of each kind that loses data
    /// or needs a look (invalid, missing, dropped, notes); clipped, crowd and difficult boxes are
    /// counted (the JSON lists each).
    public func textLines(listed: Int = 20) -> [String] {
        var lines: [String] = []
        let target = written ? "wrote \(output)" : "nothing written to \(output)"
        lines.append("\(format.uppercased()) import of \(sources.joined(separator: ", ")): \(target) (\(classes.count) classes: \(classes.joined(separator: ", ")))")
        lines.append("images: \(images) in the annotations, \(trainImages + validationImages) written (train \(trainImages), val \(validationImages)), \(imagesWithoutBoxes) without boxes, \(missingImages) missing, \(skippedImages) skipped as invalid")
        var boxLine = "boxes: \(boxes) in the annotations, \(boxesWritten) written, \(boxesClipped) clipped to the image, \(boxesDropped) dropped (no area inside the image)"
        if format == "coco" { boxLine += ", \(crowdSkipped) crowd skipped" }
        if format == "voc" { boxLine += ", \(difficultSkipped) difficult skipped" }
        if boxesOfSkippedImages > 0 { boxLine += ", \(boxesOfSkippedImages) of missing or skipped images" }
        lines.append(boxLine)
        for kind in [ImportIssue.Kind.invalid, .missingImage, .dropped, .note] {
            let ofKind = issues.filter { $0.kind == kind }
            for issue in ofKind.prefix(listed) { lines.append("\(kind.rawValue.replacingOccurrences(of: "_", with: " ")): \(issue)") }
            if ofKind.count > listed { lines.append("... and \(ofKind.count - listed) more \(kind.rawValue.replacingOccurrences(of: "_", with: " ")) (--json lists all)") }
        }
        return lines
    }
}

/// An import that stopped: nothing was written. `issues` are the problems that stopped it
/// (all of them, not only the first); `summary` has the counts so far.
public struct ImportError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var issues: [ImportIssue]
    public var summary: ImportSummary?

    public init(_ reason: String, issues: [ImportIssue] = [], summary: ImportSummary? = nil) {
        self.reason = reason; self.issues = issues; self.summary = summary
    }

    /// The reason, then the first 20 issues, one a line.
    public var description: String {
        var lines = [reason]
        lines += issues.prefix(20).map { "  \($0)" }
        if issues.count > 20 { lines.append("  ... and \(issues.count - 20) more") }
        return lines.joined(separator: "\n")
    }
}

/// The choices every import makes the same way.
public struct ImportOptions: Sendable {
    public enum Split: String, Sendable, CaseIterable { case train, val }
    /// How images get into OUT/<split>/images: copied (the default: the output stands alone),
    /// a symbolic link with the source's absolute, resolved path, or a hard link (same file
    /// system only).
    public enum ImageLink: String, Sendable, CaseIterable { case copy, symlink, hard }

    /// The split every image goes to, unless `validationFraction` (or a second annotation source
    /// given as validation data).
    public var split: Split = .train
    /// Put this fraction of the images (rounded, at least 1 and leaving at least 1 for training)
    /// into val/, chosen by `seed`.
    public var validationFraction: Double? = nil
    public var seed: UInt64 = 1
    public var imageLink: ImageLink = .copy
    /// Replace a non-empty output folder (else it is refused before anything is read).
    public var replacing = false
    /// Leave out images with problems of kind `.invalid` instead of stopping.
    public var skipInvalid = false

    public init() {}
}

// MARK: - The source model the readers produce

/// A box in the source image's pixels, as continuous coordinates: the left edge of the image is
/// x = 0, its right edge x = width (COCO's convention; VOC's 1-based pixel indices are converted
/// by its reader).
struct SourceBox {
    var classIndex: Int
    var x0: Double, y0: Double, x1: Double, y1: Double
    /// How issues name it: "annotation id 17", "line 40, object 2".
    var location: String
}

/// An image as its annotation file describes it.
struct SourceImage {
    /// The annotation file describing it.
    var annotationFile: String
    /// How issues name it in that file: "image id 3 (a.png)"; empty for a VOC file (one image).
    var location: String
    /// The image file found, or nil when none of `candidates` exists.
    var imagePath: String?
    /// The name relative to the images folder (COCO's file_name), for an output name when two
    /// images have the same base name.
    var relativeName: String
    /// Where the image was looked for, for the missing-image message.
    var candidates: [String]
    /// Why it counts as missing when the reason is not plain absence (a dangling link).
    var missingReason: String? = nil
    var declaredWidth: Int?
    var declaredHeight: Int?
    var boxes: [SourceBox] = []
    /// Set by the reader when an issue of kind `.invalid` names this image.
    var invalid = false
    /// Validation data given as its own annotation source: always val/.
    var isValidationSource = false
}

/// What a format reader hands to `writeImportedDataset`.
struct ImportSource {
    var format: String
    var sources: [String]
    var classNames: [String]
    var images: [SourceImage]
    /// Issues found while reading (invalid fields, crowd and difficult boxes skipped).
    var issues: [ImportIssue]
    /// Boxes the annotations hold, all of them (kept, skipped, invalid, of unknown images).
    var boxCount: Int
    var crowdSkipped = 0
    var difficultSkipped = 0
    /// Boxes left out before they reached an image: invalid ones, and those of unknown images.
    var boxesLeftOut = 0
    /// Extra files written beside classes.txt (categories.json for COCO).
    var extraFiles: [(name: String, contents: Data)] = []
}

// MARK: - Boxes

/// Pixel boxes within this distance outside the image are clamped without counting as clipped:
/// rounding of tools that write two decimals (a box to x + w = 256.004 on a 256-pixel image).
let clipTolerancePixels = 0.01

/// A box in pixels, clipped to the image and normalised to the YOLO label convention.
enum BoxConversion: Equatable {
    case kept(BoundingBox, clipped: Bool)
    case dropped(reason: String)
}

/// Clips the pixel box (x0, y0)–(x1, y1) to [0, W] x [0, H] and normalises it:
///
///     x0' = min(max(x0, 0), W)   (and so on for each edge)
///     cx = (x0' + x1') / 2W,  cy = (y0' + y1') / 2H,  w = (x1' − x0') / W,  h = (y1' − y0') / H
///
/// A box with no area left (zero width or height, or wholly outside) is dropped, and so is one
/// narrower or lower than 1e-6 of the image, which the label files' six decimals would write
/// as a size of 0.
func convertBox(x0: Double, y0: Double, x1: Double, y1: Double, width: Int, height: Int) -> BoxConversion {
    let W = Double(width), H = Double(height)
    let cx0 = min(max(x0, 0), W), cy0 = min(max(y0, 0), H)
    let cx1 = min(max(x1, 0), W), cy1 = min(max(y1, 0), H)
    guard cx1 > cx0, cy1 > cy0 else {
        let reason = x1 <= x0 || y1 <= y0
            ? "zero width or height (\(pixels(x1 - x0)) x \(pixels(y1 - y0)) pixels)"
            : "no area inside the \(width) x \(height) image (box \(pixels(x0)), \(pixels(y0)) to \(pixels(x1)), \(pixels(y1)))"
        return .dropped(reason: reason)
    }
    let w = (cx1 - cx0) / W, h = (cy1 - cy0) / H
    guard w >= 1e-6, h >= 1e-6 else {
        return .dropped(reason: "smaller than 1e-6 of the image (\(pixels(cx1 - cx0)) x \(pixels(cy1 - cy0)) pixels), which a label file cannot hold")
    }
    let t = clipTolerancePixels
    let clipped = x0 < -t || y0 < -t || x1 > W + t || y1 > H + t
    let box = BoundingBox(centerX: Float((cx0 + cx1) / 2 / W), centerY: Float((cy0 + cy1) / 2 / H), width: Float(w), height: Float(h))
    return .kept(box, clipped: clipped)
}

/// A pixel coordinate for messages: 12, 12.5, 12.25 (at most 3 decimals; 1e-05 below 0.001).
func pixels(_ value: Double) -> String {
    guard value.isFinite else { return "\(value)" }
    if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
    if abs(value) < 0.001 { return String(format: "%.2g", value) }
    var text = String(format: "%.3f", value)
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
}

// MARK: - Class names

/// Problems with names that must go into classes.txt (one a line, read back trimmed, no two
/// alike): empty, surrounding spaces, line breaks or other control characters, duplicates.
/// `location(i)` names where name i came from.
func classNameProblems(_ names: [String], file: String, location: (Int) -> String) -> [ImportIssue] {
    var issues: [ImportIssue] = []
    var first: [String: Int] = [:]
    for (i, name) in names.enumerated() {
        func fail(_ reason: String) { issues.append(ImportIssue(.invalid, file: file, location: location(i), reason)) }
        if name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            fail("the class name is empty")
        } else if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}" }) {
            fail("the class name \(jsonString(name)) holds a line break or another control character, which classes.txt (one name a line) cannot hold")
        } else if name != name.trimmingCharacters(in: .whitespaces) {
            fail("the class name \(jsonString(name)) has spaces around it, which classes.txt would lose")
        } else if let earlier = first[name] {
            fail("the class name \"\(name)\" is also the name of \(location(earlier)); classes.txt needs distinct names")
        } else {
            first[name] = i
        }
    }
    return issues
}

// MARK: - Writing

/// Images larger than this are refused when copied (PNG's own bound).
let maximumImportedImageBytes = PNG.maximumFileBytes

/// The output folder, checked before any annotation is read: a non-empty folder is refused
/// unless `replacing`, a file there always.
func checkImportOutput(_ path: String, replacing: Bool) throws {
    var folder: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &folder) {
        if !folder.boolValue { throw ImportError("\(path): exists and is not a folder (the output of an import is a folder)") }
        if !replacing && isNonEmptyFolder(path) {
            throw ImportError("\(path): already exists and is not empty; pass --force to replace it, or choose another --out")
        }
    }
}

/// Finds each image, checks its size, converts its boxes, splits, and writes the YOLO layout to
/// `output` atomically (a temporary sibling renamed into place once complete):
///
///     output/classes.txt                 class names, one a line, in class-index order
///     output/<extra files>               categories.json for COCO
///     output/train/images/NAME.ext       the image (copied or linked, see `ImportOptions.imageLink`)
///     output/train/labels/NAME.txt       "class cx cy w h" per box; empty for an image without boxes
///     output/val/...                     when there is validation data
///
/// Throws an `ImportError` listing every problem of kind `.invalid` (unless `skipInvalid`), or
/// when no image is left to write; nothing is written then.
func writeImportedDataset(_ source: ImportSource, to output: String, options: ImportOptions) throws -> ImportSummary {
    var summary = ImportSummary(format: source.format, sources: source.sources, output: output,
                                classes: source.classNames, imageLink: options.imageLink.rawValue)
    var issues = source.issues
    summary.images = source.images.count
    summary.boxes = source.boxCount
    summary.crowdSkipped = source.crowdSkipped
    summary.difficultSkipped = source.difficultSkipped
    summary.boxesOfSkippedImages = source.boxesLeftOut

    /// An image ready to write.
    struct Prepared {
        var source: SourceImage
        var path: String
        var objects: [LabeledObject]
    }
    var prepared: [Prepared] = []
    var clipped = 0, dropped = 0
    for var image in source.images {
        func fail(_ reason: String) {
            issues.append(ImportIssue(.invalid, file: image.annotationFile, location: image.location, reason))
            image.invalid = true
        }
        if image.invalid {
            summary.skippedImages += 1
            summary.boxesOfSkippedImages += image.boxes.count
            continue
        }
        guard let path = image.imagePath else {
            let tried = image.candidates.count == 1 ? image.candidates[0] : image.candidates.joined(separator: ", ")
            issues.append(ImportIssue(.missingImage, file: image.annotationFile, location: image.location,
                                      image.missingReason ?? "image not found (looked for \(tried))"))
            summary.missingImages += 1
            summary.boxesOfSkippedImages += image.boxes.count
            continue
        }
        var width = image.declaredWidth, height = image.declaredHeight
        do {
            let size = try imageHeaderSize(path: path)
            if let w = width, let h = height, (w, h) != (size.width, size.height) {
                fail("the annotation says \(w) x \(h) but the image \(path) is \(size.width) x \(size.height)")
            }
            (width, height) = (size.width, size.height)
        } catch {
            fail("cannot read the image: \(error)")
        }
        if image.invalid {
            summary.skippedImages += 1
            summary.boxesOfSkippedImages += image.boxes.count
            continue
        }
        var objects: [LabeledObject] = []
        var imageIssues: [ImportIssue] = []
        for box in image.boxes {
            switch convertBox(x0: box.x0, y0: box.y0, x1: box.x1, y1: box.y1, width: width!, height: height!) {
            case let .kept(normalised, wasClipped):
                objects.append(LabeledObject(classIndex: box.classIndex, box: normalised))
                if wasClipped {
                    clipped += 1
                    imageIssues.append(ImportIssue(.clipped, file: image.annotationFile, location: box.location,
                        "box \(pixels(box.x0)), \(pixels(box.y0)) to \(pixels(box.x1)), \(pixels(box.y1)) clipped to the \(width!) x \(height!) image"))
                }
            case let .dropped(reason):
                dropped += 1
                imageIssues.append(ImportIssue(.dropped, file: image.annotationFile, location: box.location, reason))
            }
        }
        issues += imageIssues
        prepared.append(Prepared(source: image, path: path, objects: objects))
    }
    summary.boxesClipped = clipped
    summary.boxesDropped = dropped

    let invalid = issues.filter { $0.kind == .invalid }
    summary.issues = issues
    if !invalid.isEmpty && !options.skipInvalid {
        throw ImportError("\(source.sources.joined(separator: ", ")): \(invalid.count) problem\(invalid.count == 1 ? "" : "s") (nothing written; --skip-invalid imports the other images without the ones named):",
                          issues: invalid, summary: summary)
    }
    guard !prepared.isEmpty else {
        let reason = summary.missingImages == summary.images && summary.images > 0
            ? "none of the \(summary.images) images was found (first: \(issues.first { $0.kind == .missingImage }?.reason ?? "")); is --images the folder that holds them?"
            : "no image to write (\(summary.images) in the annotations, \(summary.missingImages) missing, \(summary.skippedImages) skipped as invalid)"
        throw ImportError("\(source.sources.joined(separator: ", ")): \(reason)", issues: invalid, summary: summary)
    }

    // Output names: the image's own file name, unless two images would share a label file.
    var names = prepared.map { URL(fileURLWithPath: $0.path).lastPathComponent }
    var renames: [ImportIssue] = []
    func stem(_ name: String) -> String { URL(fileURLWithPath: name).deletingPathExtension().lastPathComponent }
    let byStem = Dictionary(grouping: names.indices, by: { stem(names[$0]) })
    for (_, group) in byStem where group.count > 1 {
        for i in group {
            let flattened = prepared[i].source.relativeName.split(separator: "/").filter { $0 != "." && $0 != ".." }.joined(separator: "_")
            names[i] = flattened.isEmpty ? names[i] : flattened
        }
    }
    var used: [String: Int] = [:]
    for i in names.indices.sorted(by: { (names[$0], prepared[$0].source.relativeName) < (names[$1], prepared[$1].source.relativeName) }) {
        let base = stem(names[i]), ext = URL(fileURLWithPath: names[i]).pathExtension
        var candidate = names[i], n = 1
        while used[stem(candidate)] != nil {
            n += 1
            candidate = "\(base)_\(n)" + (ext.isEmpty ? "" : ".\(ext)")
        }
        used[stem(candidate)] = i
        if candidate != URL(fileURLWithPath: prepared[i].path).lastPathComponent {
            renames.append(ImportIssue(.note, file: prepared[i].source.annotationFile, location: prepared[i].source.location,
                                       "written as \(candidate): another image has the same name"))
        }
        names[i] = candidate
    }
    issues += renames

    // Splits.
    var isValidation = prepared.map { $0.source.isValidationSource || options.split == .val }
    if let fraction = options.validationFraction {
        let candidates = prepared.indices.filter { !prepared[$0].source.isValidationSource }.sorted { names[$0] < names[$1] }
        guard candidates.count >= 2 else {
            throw ImportError("--val-fraction needs at least 2 images to split; there \(candidates.count == 1 ? "is 1" : "are \(candidates.count)")", summary: summary)
        }
        let count = min(max(Int((Double(candidates.count) * fraction).rounded()), 1), candidates.count - 1)
        var order = candidates
        var rng = SplitMix64(seed: options.seed)
        // Fisher–Yates from the last position down, with our own generator: Swift's shuffle(using:)
        // does not promise the same order across versions.
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, rng.nextInt(below: i + 1))
        }
        for i in order.prefix(count) { isValidation[i] = true }
    }

    let classCount = source.classNames.count
    summary.issues = issues
    try writeFolderAtomically(at: output, replacing: options.replacing) { folder in
        let fm = FileManager.default
        try Data((source.classNames.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: folder + "/classes.txt"))
        for file in source.extraFiles { try file.contents.write(to: URL(fileURLWithPath: folder + "/" + file.name)) }
        for split in Set(isValidation) {
            for kind in ["images", "labels"] {
                try fm.createDirectory(atPath: "\(folder)/\(split ? "val" : "train")/\(kind)", withIntermediateDirectories: true)
            }
        }
        for (i, item) in prepared.enumerated() {
            let split = isValidation[i] ? "val" : "train"
            try placeImage(item.path, at: "\(folder)/\(split)/images/\(names[i])", link: options.imageLink)
            let labelPath = "\(folder)/\(split)/labels/\(stem(names[i])).txt"
            let text = formatLabels(item.objects)
            // The loader's own parser reads the file back: what is written is what training reads.
            let reread = try parseLabels(text, source: labelPath, classCount: classCount)
            precondition(reread.count == item.objects.count, "\(labelPath): wrote \(item.objects.count) boxes, read back \(reread.count)")
            try Data(text.utf8).write(to: URL(fileURLWithPath: labelPath))
        }
    }
    summary.written = true
    summary.trainImages = isValidation.filter { !$0 }.count
    summary.validationImages = isValidation.filter { $0 }.count
    summary.imagesWithoutBoxes = prepared.filter { $0.objects.isEmpty }.count
    summary.boxesWritten = prepared.reduce(0) { $0 + $1.objects.count }
    return summary
}

/// Puts the image at `source` into the output: a copy of its bytes (through symbolic links), a
/// symbolic link to its absolute resolved path, or a hard link to that file.
func placeImage(_ source: String, at target: String, link: ImportOptions.ImageLink) throws {
    func resolved() throws -> String {
        guard let real = realpath(source, nil) else {
            throw ImportError("\(source): cannot resolve the path: \(String(cString: strerror(errno)))")
        }
        defer { free(real) }
        return String(cString: real)
    }
    switch link {
    case .copy:
        let data: Data
        do { data = try RegularFile.read(path: source, limit: maximumImportedImageBytes) } catch {
            throw ImportError("\(source): \(error.reason(limitName: "an image"))")
        }
        do { try data.write(to: URL(fileURLWithPath: target)) } catch {
            throw ImportError("\(target): cannot write: \(error.localizedDescription)")
        }
    case .symlink:
        let path = try resolved()
        guard symlink(path, target) == 0 else {
            throw ImportError("\(target): cannot create a symbolic link to \(path): \(String(cString: strerror(errno)))")
        }
    case .hard:
        let path = try resolved()
        guard Glibc.link(path, target) == 0 else {
            let code = errno
            let hint = code == EXDEV ? " (the output is on another file system: use --link copy or --link symlink)" : ""
            throw ImportError("\(target): cannot hard-link \(path): \(String(cString: strerror(code)))\(hint)")
        }
    }
}
