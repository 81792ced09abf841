import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A folder of Pascal VOC annotations: either the VOC layout (`Annotations/*.xml`, images in
/// `JPEGImages/`) or XML files on their own (images beside them, or in `images`).
public struct VOCSource: Sendable {
    public var folder: String
    /// nil: `JPEGImages/` (or `images/`) of a VOC layout, else `folder` itself.
    public var images: String?

    public init(folder: String, images: String? = nil) { self.folder = folder; self.images = images }

    static func isFolder(_ path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }

    /// Where the XML files are: `Annotations/` when there is one, else the folder.
    public var annotationsFolder: String {
        Self.isFolder(folder + "/Annotations") ? folder + "/Annotations" : folder
    }

    /// Where the images are looked for.
    public var imagesFolder: String {
        if let images { return images }
        guard annotationsFolder != folder else { return folder }
        for name in ["JPEGImages", "images"] where Self.isFolder(folder + "/" + name) { return folder + "/" + name }
        return folder
    }
}

/// Imports Pascal VOC XML annotations (one `<annotation>` file per image) into the YOLO layout.
///
/// - Classes: the `<name>`s of all objects, sorted, unless a class list is given (then a name not
///   in it is an error naming the file and object).
/// - Images: `<filename>` in the images folder; when it is not there, the same name with another
///   image extension, then the XML file's own name with one (DeepForest's OSBS_029.xml names
///   OSBS_029.tif; the .png beside it is used, with a note). `<size>` must match the image's
///   header (PNG; a JPEG's is not read yet and `<size>` is used); a missing or zero `<size>` is
///   taken from the header.
/// - Coordinates: VOC's `<bndbox>` holds 1-based pixel indices, inclusive (the VOC devkit:
///   the top-left pixel is (1, 1), so xmin = 1, xmax = W spans the whole image). In continuous
///   coordinates, where the image runs from 0 to W, the box is x0 = xmin − 1, x1 = xmax (as
///   Detectron2 reads VOC). With `zeroBased`, for tools that write 0-based edges, x0 = xmin and
///   x1 = xmax. (darknet's voc_label.py and Ultralytics' VOC.yaml take x0 = xmin − 1,
///   x1 = xmax − 1, one pixel narrower.) Boxes partly outside are clipped and counted, boxes
///   without area dropped and counted.
/// - `<difficult>1</difficult>` objects are left out and counted unless `keepDifficult` (as
///   darknet and Ultralytics do: VOC's evaluation ignores them); `<truncated>`, `<occluded>`,
///   `<pose>` and `<part>` are ignored.
///
/// Problems are named by the XML file, the line and the object's index (1-based): malformed
/// XML (with line and column), a root that is not `<annotation>`, an object without `<name>` or
/// `<bndbox>`, a coordinate that is not a number, xmax below xmin. A DOCTYPE is refused: VOC
/// files have none, and refusing it keeps entity expansion out.
public enum VOCImport {
    /// XML files larger than this are refused before they are read.
    public static let maximumFileBytes = maximumLabelFileBytes

    /// Reads `train` (and `validation`, whose images all go to val/; the class list is the union
    /// of both) and writes the YOLO layout to `output`, whole or not at all.
    public static func importDataset(from train: VOCSource, validation: VOCSource? = nil, to output: String,
                                     classNames: [String]? = nil, keepDifficult: Bool = false, zeroBased: Bool = false,
                                     options: ImportOptions = ImportOptions()) throws -> ImportSummary {
        try checkImportOutput(output, replacing: options.replacing)
        var parsed: [(VOCSource, [Parsed], Bool)] = [(train, try parseFolder(train), false)]
        if let validation { parsed.append((validation, try parseFolder(validation), true)) }

        // Where each name is first used, to name it in problems.
        var firstUse: [String: (file: String, location: String)] = [:]
        for file in parsed.flatMap(\.1) {
            for object in file.annotation?.objects ?? [] {
                if let name = object.name, firstUse[name] == nil { firstUse[name] = (file.path, object.location) }
            }
        }
        let names = classNames ?? firstUse.keys.sorted()
        // Each name on its own: the names found are distinct, and a class list read by
        // Dataset.readClassNames has no duplicates, control characters or surrounding spaces.
        let nameProblems = names.flatMap { name in
            classNameProblems([name], file: firstUse[name]?.file ?? "the class list") { _ in firstUse[name]?.location ?? "" }
        }
        if !nameProblems.isEmpty { throw ImportError("class names that classes.txt cannot hold:", issues: nameProblems) }
        guard !names.isEmpty else {
            throw ImportError("\(parsed.map { $0.0.annotationsFolder }.joined(separator: ", ")): no object in any annotation: there are no classes (pass a class list to import images without boxes)")
        }
        let classIndex = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })

        var source = ImportSource(format: "voc", sources: parsed.map { $0.0.annotationsFolder }, classNames: names, images: [], issues: [], boxCount: 0)
        var imageOwner: [String: Int] = [:]
        var zeroStarts = 0, zeroStartFiles = 0
        for (folder, files, isValidation) in parsed {
            let imagesFolder = folder.imagesFolder
            for file in files {
                source.issues += file.issues
                var image = SourceImage(annotationFile: file.path, location: "", imagePath: nil, relativeName: "", candidates: [],
                                        isValidationSource: isValidation)
                func fail(_ location: String, _ reason: String) {
                    source.issues.append(ImportIssue(.invalid, file: file.path, location: location, reason))
                    image.invalid = true
                }
                guard let annotation = file.annotation else {
                    image.invalid = true
                    image.relativeName = URL(fileURLWithPath: file.path).lastPathComponent
                    source.images.append(image)
                    continue
                }
                if !file.issues.filter({ $0.kind == .invalid }).isEmpty { image.invalid = true }
                source.boxCount += annotation.objects.count
                image.declaredWidth = annotation.width
                image.declaredHeight = annotation.height
                locate(&image, annotation: annotation, xmlPath: file.path, in: imagesFolder, issues: &source.issues)
                if let path = image.imagePath {
                    if let owner = imageOwner[path] {
                        fail("", "\(path) is also the image of \(source.images[owner].annotationFile); one image, one annotation file")
                        source.images[owner].invalid = true
                    } else {
                        imageOwner[path] = source.images.count
                    }
                }
                var startsAtZero = false
                for object in annotation.objects {
                    guard let name = object.name, let box = object.box else { source.boxesLeftOut += 1; continue }  // already an issue
                    guard let k = classIndex[name] else {
                        fail(object.location, "class \"\(name)\" is not in the class list (\(names.joined(separator: ", ")))")
                        source.boxesLeftOut += 1
                        continue
                    }
                    if object.difficult && !keepDifficult {
                        source.difficultSkipped += 1
                        source.issues.append(ImportIssue(.difficult, file: file.path, location: object.location, "difficult object left out"))
                        continue
                    }
                    if !zeroBased && (box.xmin == 0 || box.ymin == 0) { zeroStarts += 1; startsAtZero = true }
                    let (x0, y0) = zeroBased ? (box.xmin, box.ymin) : (box.xmin - 1, box.ymin - 1)
                    image.boxes.append(SourceBox(classIndex: k, x0: x0, y0: y0, x1: box.xmax, y1: box.ymax, location: object.location))
                }
                if startsAtZero { zeroStartFiles += 1 }
                source.images.append(image)
            }
        }
        if zeroStarts > 0 {
            source.issues.append(ImportIssue(.note, file: source.sources.joined(separator: ", "),
                "\(zeroStarts) box\(zeroStarts == 1 ? "" : "es") in \(zeroStartFiles) file\(zeroStartFiles == 1 ? "" : "s") start at pixel 0, which VOC's 1-based pixel indices do not allow (clipped by one pixel): if the tool that wrote them counts from 0, import with --zero-based"))
        }
        return try writeImportedDataset(source, to: output, options: options)
    }

    // MARK: - Reading the XML files

    struct Box { var xmin, ymin, xmax, ymax: Double }

    struct Object {
        var location: String
        var name: String?
        var box: Box?
        var difficult = false
    }

    struct Annotation {
        var filename: String?
        var width: Int?
        var height: Int?
        var objects: [Object] = []
    }

    /// One XML file: its annotation (nil when the file as a whole is unusable) and its issues.
    struct Parsed {
        var path: String
        var annotation: Annotation?
        var issues: [ImportIssue]
    }

    /// The `*.xml` files of the folder (not hidden, sorted by name), each parsed.
    static func parseFolder(_ source: VOCSource) throws -> [Parsed] {
        let folder = source.annotationsFolder
        guard VOCSource.isFolder(folder) else { throw ImportError("\(folder): no such folder (a folder of VOC XML files, or a VOC layout with Annotations/)") }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw ImportError("\(folder): cannot list the folder: \(error.localizedDescription)")
        }
        let files = names.filter { !$0.hasPrefix(".") && $0.lowercased().hasSuffix(".xml") }.sorted()
        guard !files.isEmpty else { throw ImportError("\(folder): no .xml files (Pascal VOC annotations, one per image)") }
        return files.map { parse(path: folder + "/" + $0) }
    }

    /// Reads and checks one VOC XML file.
    static func parse(path: String) -> Parsed {
        var issues: [ImportIssue] = []
        func fail(_ location: String, _ reason: String) { issues.append(ImportIssue(.invalid, file: path, location: location, reason)) }
        let data: Data
        do { data = try RegularFile.read(path: path, limit: maximumFileBytes) } catch {
            fail("", error.reason(limitName: "a VOC XML file"))
            return Parsed(path: path, annotation: nil, issues: issues)
        }
        let root: XMLTreeNode
        do { root = try XMLTreeNode.parse(data) } catch {
            fail(error.line > 0 ? "line \(error.line), column \(error.column)" : "", error.reason)
            return Parsed(path: path, annotation: nil, issues: issues)
        }
        guard root.name == "annotation" else {
            fail("line \(root.line)", "the root element is <\(root.name)>, expected <annotation> (a Pascal VOC file)")
            return Parsed(path: path, annotation: nil, issues: issues)
        }
        var annotation = Annotation()
        annotation.filename = root.child("filename").map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        if let size = root.child("size") {
            for key in ["width", "height"] {
                guard let node = size.child(key) else { continue }
                let text = node.text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard let value = Double(text), value.isFinite, value >= 0, value == value.rounded(), value <= 1e9 else {
                    fail("line \(node.line)", "<size><\(key)> is \"\(text.prefix(40))\", not a whole number of pixels")
                    continue
                }
                // 0 means "not known" for some tools: the image's header gives the size then.
                if value > 0 { if key == "width" { annotation.width = Int(value) } else { annotation.height = Int(value) } }
            }
        }
        for (n, node) in root.children.filter({ $0.name == "object" }).enumerated() {
            var object = Object(location: "line \(node.line), object \(n + 1)")
            func objectFail(_ reason: String) { fail(object.location, reason) }
            let names = node.children.filter { $0.name == "name" }
            if names.count != 1 {
                objectFail(names.isEmpty ? "no <name> (the class)" : "\(names.count) <name> elements; an object has one class")
            } else {
                let name = names[0].text.trimmingCharacters(in: .whitespacesAndNewlines)
                if name.isEmpty { objectFail("<name> is empty") } else {
                    object.name = name
                    // A name with a line break or other control character is shown escaped.
                    let clean = !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
                    object.location += " (\(clean ? name : jsonString(name)))"
                }
            }
            let boxes = node.children.filter { $0.name == "bndbox" }
            if boxes.count != 1 {
                objectFail(boxes.isEmpty ? "no <bndbox>" : "\(boxes.count) <bndbox> elements; an object has one box")
            } else {
                var values: [Double] = []
                for key in ["xmin", "ymin", "xmax", "ymax"] {
                    let found = boxes[0].children.filter { $0.name == key }
                    guard found.count == 1 else {
                        objectFail(found.isEmpty ? "<bndbox> has no <\(key)>" : "<bndbox> has \(found.count) <\(key)> elements")
                        break
                    }
                    let text = found[0].text.trimmingCharacters(in: .whitespacesAndNewlines)
                    guard let value = Double(text), value.isFinite else {
                        objectFail("<\(key)> is \"\(text.prefix(40))\", not a number")
                        break
                    }
                    values.append(value)
                }
                if values.count == 4 {
                    let box = Box(xmin: values[0], ymin: values[1], xmax: values[2], ymax: values[3])
                    if box.xmax < box.xmin || box.ymax < box.ymin {
                        objectFail(box.xmax < box.xmin
                            ? "xmax \(pixels(box.xmax)) is less than xmin \(pixels(box.xmin))"
                            : "ymax \(pixels(box.ymax)) is less than ymin \(pixels(box.ymin))")
                    } else {
                        object.box = box
                    }
                }
            }
            if let node = node.child("difficult") {
                switch node.text.trimmingCharacters(in: .whitespacesAndNewlines) {
                case "", "0": break
                case "1": object.difficult = true
                case let other: objectFail("<difficult> is \"\(other.prefix(40))\", expected 0 or 1")
                }
            }
            annotation.objects.append(object)
        }
        return Parsed(path: path, annotation: annotation, issues: issues)
    }

    /// Finds the image of an annotation: `<filename>` in the folder, then that name with another
    /// image extension, then the XML file's own name with each extension.
    static func locate(_ image: inout SourceImage, annotation: Annotation, xmlPath: String, in folder: String, issues: inout [ImportIssue]) {
        let xmlStem = URL(fileURLWithPath: xmlPath).deletingPathExtension().lastPathComponent
        var candidates: [String] = []
        func add(_ name: String) {
            let path = name.hasPrefix("/") ? name : folder + "/" + name
            if !candidates.contains(path) { candidates.append(path) }
        }
        if let filename = annotation.filename {
            add(filename)
            let stem = (filename as NSString).deletingPathExtension
            for ext in importImageExtensions { add(stem + "." + ext) }
        }
        for ext in importImageExtensions { add(xmlStem + "." + ext) }
        image.candidates = candidates
        image.relativeName = annotation.filename ?? xmlStem
        let extensions = importImageExtensions.map { "." + $0 }.joined(separator: ", ")
        image.missingReason = annotation.filename.map {
            "image not found: no \($0) in \(folder), nor the same name or \(xmlStem) with the extension \(extensions)"
        } ?? "image not found: no <filename>, and no \(xmlStem) with the extension \(extensions) in \(folder)"
        for (n, path) in candidates.enumerated() {
            switch RegularFile.problem(at: path) {
            case nil:
                image.imagePath = path
                image.relativeName = URL(fileURLWithPath: path).lastPathComponent
                image.missingReason = nil
                if n > 0 || annotation.filename == nil {
                    let why = annotation.filename.map { "<filename> \($0) is not in \(folder)" } ?? "no <filename>"
                    issues.append(ImportIssue(.note, file: xmlPath, "\(why); using \(path)"))
                }
                return
            case .missing?:
                continue
            case let problem?:
                if case .danglingLink = problem {
                    image.missingReason = "\(path) \(problem.reason(limitName: "an image"))"
                    continue
                }
                issues.append(ImportIssue(.invalid, file: xmlPath, "\(path) \(problem.reason(limitName: "an image"))"))
                image.invalid = true
                image.imagePath = path
                return
            }
        }
    }
}

// MARK: - A small element tree over FoundationXML's XMLParser

/// An XML element: its name, the line it starts on, its text (all character data directly
/// inside it) and its child elements. Attributes are not kept (VOC uses none).
final class XMLTreeNode {
    let name: String
    let line: Int
    var text = ""
    var children: [XMLTreeNode] = []

    init(name: String, line: Int) { self.name = name; self.line = line }

    /// The first child element called `name`.
    func child(_ name: String) -> XMLTreeNode? { children.first { $0.name == name } }

    struct ParseError: Error {
        var line: Int
        var column: Int
        var reason: String
    }

    /// Parses a whole document. A DOCTYPE is refused before parsing (no entity is ever
    /// declared, so none is expanded); XMLParser's errors are worded from its error code, with
    /// the line and column where it stopped.
    static func parse(_ data: Data) throws(ParseError) -> XMLTreeNode {
        if data.range(of: Data("<!DOCTYPE".utf8)) != nil {
            throw ParseError(line: 0, column: 0, reason: "holds a <!DOCTYPE> (a document type with entity declarations), which a VOC file does not have and which is not read")
        }
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        let builder = Builder()
        parser.delegate = builder
        let finished = parser.parse()
        if !finished || parser.parserError != nil || builder.firstError != nil {
            let code = (builder.firstError ?? parser.parserError).map { ($0 as NSError).code } ?? -1
            throw ParseError(line: builder.errorLine ?? parser.lineNumber, column: builder.errorColumn ?? parser.columnNumber,
                             reason: "not well-formed XML: \(describe(code))")
        }
        guard let root = builder.root else {
            throw ParseError(line: 0, column: 0, reason: data.isEmpty ? "empty file" : "no XML element in the file")
        }
        guard builder.stack.isEmpty else {
            throw ParseError(line: parser.lineNumber, column: parser.columnNumber, reason: "not well-formed XML: the file ends before <\(builder.stack.last!.name)> is closed")
        }
        return root
    }

    /// XMLParser's error codes (libxml2's) in words, for the usual mistakes.
    static func describe(_ code: Int) -> String {
        switch code {
        case 4: return "no XML in the file"
        case 5: return "the file ends before every element is closed"
        case 9: return "a character XML does not allow"
        case 26: return "an undeclared entity (&name;); a literal & is written &amp;"
        case 68: return "a tag without a name"
        case 73: return "'>' expected"
        case 76: return "a closing tag does not match the element it closes"
        case 77: return "an unfinished tag"
        case 81: return "bytes that are not in the file's encoding"
        case 85, 86: return "content after the root element (one document, one root)"
        default: return "XMLParser error \(code)"
        }
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var root: XMLTreeNode?
        var stack: [XMLTreeNode] = []
        var firstError: Error?
        var errorLine: Int?
        var errorColumn: Int?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            let node = XMLTreeNode(name: elementName, line: parser.lineNumber)
            if let parent = stack.last { parent.children.append(node) } else if root == nil { root = node }
            stack.append(node)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            if !stack.isEmpty { stack.removeLast() }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { stack.last?.text += string }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) { stack.last?.text += String(decoding: CDATABlock, as: UTF8.self) }

        func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
            if firstError == nil { firstError = parseError; errorLine = parser.lineNumber; errorColumn = parser.columnNumber }
        }
    }
}
