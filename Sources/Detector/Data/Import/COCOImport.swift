import Foundation

/// A COCO detection annotation file and the folder its `file_name`s are relative to.
public struct COCOSource: Sendable {
    public var annotations: String
    /// nil: `images/` beside the annotation file when that folder exists, else the annotation
    /// file's own folder (Roboflow's exports keep images beside `_annotations.coco.json`).
    public var images: String?

    public init(annotations: String, images: String? = nil) { self.annotations = annotations; self.images = images }

    /// The folder the images are looked for in.
    public var imagesFolder: String {
        if let images { return images }
        let folder = URL(fileURLWithPath: annotations).deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder + "/images", isDirectory: &isFolder), isFolder.boolValue {
            return folder + "/images"
        }
        return folder
    }
}

/// Imports COCO object-detection annotations (the `instances_*.json` format; pycocotools'
/// reading of it) into the YOLO layout.
///
/// What is read, and what each part becomes:
///
/// - `categories` (`id`, `name`): the classes, in ascending `id` order, whether or not the ids
///   are contiguous (COCO's own 80 run from 1 to 90): class index k is the k-th smallest id.
///   `categories.json` beside classes.txt records the mapping (class index → category id and
///   name), so detections can be mapped back to COCO ids.
/// - `images` (`id`, `file_name`, `width`, `height`): each image, found as `file_name` under the
///   images folder (an absolute `file_name` as it is; one with folders that is not found there,
///   by its base name). The size, when given, must match the image file's header (PNG; a JPEG's
///   is not read yet, and the annotation's size is used); without one, the header's is used.
/// - `annotations` (`id`, `image_id`, `category_id`, `bbox` = [x, y, width, height] in pixels
///   from the top-left corner of the image, `iscrowd`): the boxes, normalised to
///   cx = (x + w/2) / W, cy = (y + h/2) / H, w / W, h / H after clipping to the image.
///   `iscrowd` boxes mark a crowd region rather than one object: they are left out (and
///   counted) unless `keepCrowd`. `segmentation`, `area` and everything else are ignored.
///
/// Every problem is named by the file and the annotation or image id: a file that is not JSON
/// (with its line and column; NaN is not JSON), a missing list, a field of the wrong type, an id
/// given twice, an unknown image or category id, a bbox that is not 4 finite numbers or has a
/// negative size, an image whose size differs from its file. Boxes partly outside the image are
/// clipped, boxes with no area inside it dropped, both counted in the summary.
public enum COCOImport {
    /// Annotation files larger than this are refused before they are read (COCO 2017's
    /// training annotations are 448 MB).
    public static let maximumFileBytes = 1 << 30

    /// Reads `train` (and `validation`, whose images all go to val/; its categories must be
    /// the same) and writes the YOLO layout to `output`, whole or not at all.
    public static func importDataset(from train: COCOSource, validation: COCOSource? = nil, to output: String,
                                     keepCrowd: Bool = false, options: ImportOptions = ImportOptions()) throws -> ImportSummary {
        try checkImportOutput(output, replacing: options.replacing)
        var parsed = try read(train, keepCrowd: keepCrowd, isValidation: false)
        if let validation {
            let other = try read(validation, keepCrowd: keepCrowd, isValidation: true)
            if other.categories.map({ [$0.id: $0.name] }) != parsed.categories.map({ [$0.id: $0.name] }) {
                throw ImportError("\(validation.annotations): its categories \(describe(other.categories)) differ from those of \(train.annotations), \(describe(parsed.categories)); one class list must serve both")
            }
            parsed.source.sources += other.source.sources
            parsed.source.images += other.source.images
            parsed.source.issues += other.source.issues
            parsed.source.boxCount += other.source.boxCount
            parsed.source.crowdSkipped += other.source.crowdSkipped
            parsed.source.boxesLeftOut += other.source.boxesLeftOut
        }
        parsed.source.extraFiles = [("categories.json", Data(categoriesJSON(parsed.categories, sources: parsed.source.sources).utf8))]
        return try writeImportedDataset(parsed.source, to: output, options: options)
    }

    struct Category: Equatable {
        var id: Int
        var name: String
        var supercategory: String?
    }

    /// "[1: person, 2: bicycle]", or for more than 10, "80 categories, ids 1 to 90".
    static func describe(_ categories: [Category]) -> String {
        guard categories.count <= 10 else {
            return "\(categories.count) categories, ids \(categories.first!.id) to \(categories.last!.id)"
        }
        return "[" + categories.map { "\($0.id): \($0.name)" }.joined(separator: ", ") + "]"
    }

    /// The mapping from class index to COCO category, one category a line:
    /// `{"sources": [...], "categories": [{"class": 0, "id": 1, "name": "person"}, ...]}`.
    static func categoriesJSON(_ categories: [Category], sources: [String]) -> String {
        let lines = categories.enumerated().map { k, c in
            "  {\"class\": \(k), \"id\": \(c.id), \"name\": \(jsonString(c.name))"
                + (c.supercategory.map { ", \"supercategory\": \(jsonString($0))" } ?? "") + "}"
        }
        return "{\"sources\": [\(sources.map(jsonString).joined(separator: ", "))],\n \"categories\": [\n"
            + lines.joined(separator: ",\n") + "\n]}\n"
    }

    /// One annotation file, parsed and checked: its categories (sorted by id) and its images.
    static func read(_ coco: COCOSource, keepCrowd: Bool, isValidation: Bool) throws -> (categories: [Category], source: ImportSource) {
        let file = coco.annotations
        let bytes: Data
        do { bytes = try RegularFile.read(path: file, limit: maximumFileBytes) } catch {
            throw ImportError("\(file): \(error.reason(limitName: "a COCO annotation file"))")
        }
        let root: JSONValue
        do { root = try JSONValue.parse([UInt8](bytes)) } catch {
            var place = ""
            for component in error.path {
                switch component {
                case let .key(k): place += place.isEmpty ? k : "." + k
                case let .index(i): place += "[\(i)]"
                }
            }
            let hint = error.reason.contains("found 'N'") || error.reason.contains("found 'I'") ? " (NaN and Infinity are not JSON numbers)" : ""
            throw ImportError("\(file):\(error.line):\(error.column): \(place.isEmpty ? "" : place + ": ")\(error.reason)\(hint)")
        }
        guard case let .object(top) = root else {
            throw ImportError("\(file): the file holds \(kind(of: root)), not a COCO object with \"images\", \"annotations\" and \"categories\"")
        }
        func list(_ key: String, _ what: String) throws -> [JSONValue] {
            guard let value = top[key] else {
                let hint = key == "annotations" ? " (an image-info file without labels, such as COCO's test set, cannot be imported)" : ""
                throw ImportError("\(file): no \"\(key)\" list (\(what))\(hint)")
            }
            guard case let .array(elements) = value else {
                throw ImportError("\(file): \"\(key)\" is \(kind(of: value)), expected a list (\(what))")
            }
            return elements
        }
        let categoryValues = try list("categories", "the classes: {\"id\", \"name\"}")
        let imageValues = try list("images", "{\"id\", \"file_name\", \"width\", \"height\"}")
        let annotationValues = try list("annotations", "the boxes: {\"id\", \"image_id\", \"category_id\", \"bbox\"}")

        var issues: [ImportIssue] = []
        func invalid(_ location: String, _ reason: String) { issues.append(ImportIssue(.invalid, file: file, location: location, reason)) }

        // Categories, by ascending id.
        var categories: [Category] = []
        var categoryEntry: [Int: Int] = [:]
        for (i, value) in categoryValues.enumerated() {
            let location = "categories[\(i)]"
            guard case let .object(fields) = value else { invalid(location, "is \(kind(of: value)), expected an object {\"id\", \"name\"}"); continue }
            guard let id = integerField(fields, "id", location: location, invalid) else { continue }
            guard let name = stringField(fields, "name", location: "category id \(id)", invalid) else { continue }
            if let earlier = categoryEntry[id] {
                invalid("category id \(id)", "id \(id) is also that of categories[\(earlier)]; each category needs its own id")
                continue
            }
            categoryEntry[id] = i
            var supercategory: String?
            if case let .string(s)? = fields["supercategory"] { supercategory = s }
            categories.append(Category(id: id, name: name, supercategory: supercategory))
        }
        categories.sort { $0.id < $1.id }
        // The class list is the whole data set's: a name classes.txt cannot hold stops the import
        // even with skipInvalid.
        let nameProblems = classNameProblems(categories.map(\.name), file: file) { "category id \(categories[$0].id)" }
        if !nameProblems.isEmpty {
            throw ImportError("\(file): category names that classes.txt cannot hold:", issues: nameProblems)
        }
        if categories.isEmpty {
            throw ImportError("\(file): no usable category: there are no classes", issues: issues)
        }
        let classIndex = Dictionary(uniqueKeysWithValues: categories.enumerated().map { ($1.id, $0) })

        // Images.
        let imagesFolder = coco.imagesFolder
        var images: [SourceImage] = []
        var imageIndex: [Int: Int] = [:]
        var fileNameOwner: [String: Int] = [:]
        for (i, value) in imageValues.enumerated() {
            var location = "images[\(i)]"
            var image = SourceImage(annotationFile: file, location: location, imagePath: nil, relativeName: "", candidates: [],
                                    isValidationSource: isValidation)
            func fail(_ reason: String) { invalid(location, reason); image.invalid = true }
            defer { images.append(image) }
            guard case let .object(fields) = value else {
                fail("is \(kind(of: value)), expected an object {\"id\", \"file_name\", \"width\", \"height\"}")
                continue
            }
            guard let id = integerField(fields, "id", location: location, { fail($1) }) else { continue }
            location = "image id \(id)"
            image.location = location
            if let earlier = imageIndex[id] {
                fail("id \(id) is also that of images[\(earlier)]; each image needs its own id")
                images[earlier].invalid = true
                continue
            }
            imageIndex[id] = i
            guard let name = stringField(fields, "file_name", location: location, { fail($1) }) else { continue }
            location = "image id \(id) (\(name))"
            image.location = location
            image.relativeName = name
            if let owner = fileNameOwner[name] {
                fail("file_name \(name) is also that of images[\(owner)] (image id \(integer(imageValues[owner], "id").map(String.init) ?? "?")); one image file, one entry")
                images[owner].invalid = true
            }
            fileNameOwner[name] = i
            for key in ["width", "height"] where fields[key] != nil && fields[key] != .null {
                guard let size = integerField(fields, key, location: location, { fail($1) }) else { continue }
                guard size > 0 else { fail("\"\(key)\" is \(size), not a positive number of pixels"); continue }
                if key == "width" { image.declaredWidth = size } else { image.declaredHeight = size }
            }
            locate(&image, name: name, in: imagesFolder, issues: &issues)
        }

        // Annotations.
        var boxCount = 0, crowdSkipped = 0, boxesLeftOut = 0
        var annotationEntry: [Int: (index: Int, image: Int?)] = [:]
        for (i, value) in annotationValues.enumerated() {
            boxCount += 1
            var location = "annotations[\(i)]"
            var imageSlot: Int?
            func fail(_ reason: String) {
                invalid(location, reason)
                boxesLeftOut += 1
                if let imageSlot { images[imageSlot].invalid = true }
            }
            guard case let .object(fields) = value else {
                fail("is \(kind(of: value)), expected an object {\"id\", \"image_id\", \"category_id\", \"bbox\"}")
                continue
            }
            let id = integerField(fields, "id", location: location, { _, reason in
                // Named by its index; its image (if known) is still marked below.
                invalid(location, reason)
            })
            if let id { location = "annotation id \(id)" }
            guard let imageID = integerField(fields, "image_id", location: location, { fail($1) }) else { continue }
            location += " (image id \(imageID))"
            guard let slot = imageIndex[imageID] else {
                fail("image_id \(imageID) is not the id of any image in \"images\"")
                continue
            }
            imageSlot = slot
            if id == nil { images[slot].invalid = true }
            if let id {
                if let earlier = annotationEntry[id] {
                    fail("id \(id) is also that of annotations[\(earlier.index)]; each annotation needs its own id")
                    if let other = earlier.image { images[other].invalid = true }
                    continue
                }
                annotationEntry[id] = (i, slot)
            }
            guard let categoryID = integerField(fields, "category_id", location: location, { fail($1) }) else { continue }
            guard let k = classIndex[categoryID] else {
                fail("category_id \(categoryID) is not the id of any category in \"categories\" (\(describe(categories)))")
                continue
            }
            guard let bbox = fields["bbox"] else { fail("no \"bbox\" ([x, y, width, height] in pixels)"); continue }
            guard case let .array(elements) = bbox, elements.count == 4 else {
                let found: String
                if case let .array(elements) = bbox { found = "a list of \(elements.count) values" } else { found = kind(of: bbox) }
                fail("\"bbox\" is \(found), expected a list of 4 numbers [x, y, width, height] in pixels")
                continue
            }
            var numbers: [Double] = []
            for (name, element) in zip(["x", "y", "width", "height"], elements) {
                guard case let .number(x) = element else {
                    fail("bbox \(name) is \(kind(of: element)), not a number"); break
                }
                numbers.append(x)
            }
            guard numbers.count == 4 else { continue }
            let (x, y, w, h) = (numbers[0], numbers[1], numbers[2], numbers[3])
            if w < 0 || h < 0 {
                fail("bbox \(w < 0 ? "width" : "height") \(pixels(w < 0 ? w : h)) is negative (bbox is [x, y, width, height], not [x1, y1, x2, y2])")
                continue
            }
            var crowd = false
            switch fields["iscrowd"] {
            case nil, .null?: break
            case let .number(n)? where n == 0 || n == 1: crowd = n == 1
            case let .bool(b)?: crowd = b
            case let other?: fail("\"iscrowd\" is \(kind(of: other)), expected 0 or 1"); continue
            }
            if crowd && !keepCrowd {
                crowdSkipped += 1
                issues.append(ImportIssue(.crowd, file: file, location: location, "iscrowd box left out (a crowd region, not one object)"))
                continue
            }
            images[slot].boxes.append(SourceBox(classIndex: k, x0: x, y0: y, x1: x + w, y1: y + h, location: location))
        }
        let source = ImportSource(format: "coco", sources: [file], classNames: categories.map(\.name), images: images,
                                  issues: issues, boxCount: boxCount, crowdSkipped: crowdSkipped,
                                  boxesLeftOut: boxesLeftOut)
        return (categories, source)
    }

    /// Finds the file of `name` under `folder` (an absolute name as it is; a name with folders
    /// that is not there, by its base name, with a note).
    static func locate(_ image: inout SourceImage, name: String, in folder: String, issues: inout [ImportIssue]) {
        let direct = name.hasPrefix("/") ? name : folder + "/" + name
        var candidates = [direct]
        let base = URL(fileURLWithPath: name).lastPathComponent
        if base != name && !name.hasPrefix("/") { candidates.append(folder + "/" + base) }
        image.candidates = candidates
        for (n, path) in candidates.enumerated() {
            switch RegularFile.problem(at: path) {
            case nil:
                image.imagePath = path
                if n > 0 { issues.append(ImportIssue(.note, file: image.annotationFile, location: image.location, "not at \(direct); found as \(path)")) }
                return
            case .missing?:
                continue
            case let problem?:
                if case .danglingLink = problem {
                    image.missingReason = "\(path) \(problem.reason(limitName: "an image"))"
                    continue
                }
                issues.append(ImportIssue(.invalid, file: image.annotationFile, location: image.location, "\(path) \(problem.reason(limitName: "an image"))"))
                image.invalid = true
                image.imagePath = path
                return
            }
        }
    }

    /// "a string (\"12\")", "a number (1.5)", "a list", "an object", "true", "null": what a value
    /// is, for messages.
    static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .number(x): return "a number (\(pixels(x)))"
        case let .string(s): return "a string (\(jsonString(String(s.prefix(40)))))"
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    /// The integer value of `key` in an object value, if it has one.
    static func integer(_ value: JSONValue, _ key: String) -> Int? {
        guard case let .object(fields) = value, case let .number(x)? = fields[key], x == x.rounded(), abs(x) <= 9_007_199_254_740_992 else { return nil }
        return Int(x)
    }

    /// `fields[key]` as an integer (a JSON number without a fractional part, within ±2^53, where
    /// a Double holds every integer exactly), or nil after calling `fail(location, reason)`.
    static func integerField(_ fields: [String: JSONValue], _ key: String, location: String,
                             _ fail: (String, String) -> Void) -> Int? {
        guard let value = fields[key] else { fail(location, "no \"\(key)\""); return nil }
        guard case let .number(x) = value else { fail(location, "\"\(key)\" is \(kind(of: value)), expected an integer"); return nil }
        guard x == x.rounded(), abs(x) <= 9_007_199_254_740_992 else {
            fail(location, "\"\(key)\" is \(pixels(x)), expected an integer"); return nil
        }
        return Int(x)
    }

    /// `fields[key]` as a non-empty string, or nil after calling `fail(location, reason)`.
    static func stringField(_ fields: [String: JSONValue], _ key: String, location: String,
                            _ fail: (String, String) -> Void) -> String? {
        guard let value = fields[key] else { fail(location, "no \"\(key)\""); return nil }
        guard case let .string(s) = value else { fail(location, "\"\(key)\" is \(kind(of: value)), expected a string"); return nil }
        guard !s.isEmpty else { fail(location, "\"\(key)\" is empty"); return nil }
        return s
    }
}
