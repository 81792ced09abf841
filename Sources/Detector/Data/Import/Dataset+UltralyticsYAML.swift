import Foundation

extension Dataset {
    /// Whether `path` names an Ultralytics data set file rather than a data set folder: it ends
    /// in `.yaml` or `.yml` and is not a folder.
    static func isDataYAML(_ path: String) -> Bool {
        let lower = path.lowercased()
        guard lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") else { return false }
        return !(RegularFile.problem(at: path)?.isFolder ?? false)
    }

    /// Loads the data set an Ultralytics `data.yaml` describes, into the same value `load`
    /// gives for the YOLO folder layout, with Ultralytics' rules for where things are:
    ///
    /// - the root is `path`: absolute; or relative to the YAML file's folder (when that folder
    ///   exists), else to the working directory (Ultralytics' reading); without `path`, the
    ///   YAML file's folder;
    /// - `train` and `val` (or `validation`; optional here) are relative to the root: a folder,
    ///   whose images are listed recursively; a `.txt` file of image paths, one a line
    ///   (relative ones relative to the list's folder); or a list of those. An entry that does
    ///   not exist and starts with `../` is tried without it (Ultralytics does this for the
    ///   YOLOv5-era files Roboflow exports, `train: ../train/images`). `test` is not read;
    /// - the label file of `.../images/.../NAME.png` is `.../labels/.../NAME.txt`: the last
    ///   `/images/` of the path replaced by `/labels/` (Ultralytics' img2label_paths); an image
    ///   path without `/images/` has its label file beside it;
    /// - the classes are `names` (a list, or a mapping from 0...n−1), or `class_0`... for `nc`
    ///   alone; `nc` and `names` must agree.
    ///
    /// Images are PNG files (as in `load`; files of other image formats are counted in a
    /// warning). Labels are read and checked as `load` does, with the same `strict` rule.
    ///
    /// - Throws: `DataYAMLError` (file and line) for a YAML file that cannot be read or is not a
    ///   data set description; `DatasetError` for a root or split that is missing, no usable
    ///   training image, or classes that differ from `expected`; `LabelError` in strict mode.
    static func load(dataYAML file: String, classNames expected: [String]?, strict: Bool) throws -> Dataset {
        let data: Data
        do { data = try RegularFile.read(path: file, limit: maximumLabelFileBytes) } catch .missing {
            throw DataYAMLError(file: file, line: 0, reason: "no such file (an Ultralytics data set file: path, train, val, names)")
        } catch {
            throw DataYAMLError(file: file, line: 0, reason: error.reason(limitName: "a data.yaml file"))
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw DataYAMLError(file: file, line: 0, reason: "not UTF-8 text")
        }
        if let nul = text.unicodeScalars.firstIndex(of: "\0") {
            let line = text.unicodeScalars[..<nul].filter { $0 == "\n" }.count + 1
            throw DataYAMLError(file: file, line: line, reason: "contains a NUL byte (a binary file?)")
        }
        let yaml = try UltralyticsDataYAML.parse(text, file: file)
        if let expected, expected != yaml.names {
            throw DatasetError(path: file, kind: .classMismatch, reason: "classes \(yaml.names) differ from the expected \(expected)")
        }

        let fileFolder = parentFolder(of: file)
        var root = fileFolder
        if let path = yaml.path {
            if path.hasPrefix("/") {
                root = normalisedPath(path)
            } else {
                let besideFile = normalisedPath(fileFolder + "/" + path)
                if RegularFile.problem(at: besideFile)?.isFolder == true {
                    root = besideFile
                } else if RegularFile.problem(at: path)?.isFolder == true {
                    root = normalisedPath(path)
                } else {
                    throw DatasetError(path: besideFile, kind: .missingFolder,
                                       reason: "no such data set folder (\"path\" on line \(yaml.lines["path"] ?? 0) of \(file); not under the working directory either)")
                }
            }
        }
        guard !yaml.train.isEmpty else {
            throw DataYAMLError(file: file, line: yaml.lines["train"] ?? 0, reason: "no \"train\" (the training images: a folder, a .txt list of images, or a list of those)")
        }
        var warnings: [String] = []
        func loadSplit(_ entries: [String], name: String, key: String) throws -> DatasetSplit {
            var images: [String] = []
            var otherFormats = 0
            for entry in entries {
                var path = entry.hasPrefix("/") ? normalisedPath(entry) : normalisedPath(root + "/" + entry)
                if RegularFile.problem(at: path) == .missing && entry.hasPrefix("../") {
                    let stripped = normalisedPath(root + "/" + entry.dropFirst(3))
                    if RegularFile.problem(at: stripped) != .missing { path = stripped }
                }
                switch RegularFile.problem(at: path) {
                case nil where path.lowercased().hasSuffix(".txt"):
                    images += try imageList(path)
                case let problem? where problem.isFolder:
                    let (found, others) = try listImages(path)
                    images += found
                    otherFormats += others
                case .missing?:
                    throw DatasetError(path: path, kind: .missingFolder,
                                       reason: "no such folder or file (\"\(key)\" on line \(yaml.lines[key] ?? 0) of \(file))")
                case nil:
                    throw DatasetError(path: path, kind: .notAFolder,
                                       reason: "is neither a folder of images nor a .txt list of image paths (\"\(key)\" of \(file))")
                case let problem?:
                    throw DatasetError(path: path, kind: .unreadable, reason: problem.reason(limitName: "a list of images"))
                }
            }
            if otherFormats > 0 {
                warnings.append("\(name): \(otherFormats) image files that are not PNG or JPEG ignored (only PNG and JPEG images are read)")
            }
            var items: [DatasetItem] = []
            var skipped = 0
            var labelFiles = 0
            for imagePath in images {
                let labelPath = ultralyticsLabelPath(imagePath)
                do {
                    try checkImageEntry(imagePath)
                    if RegularFile.problem(at: labelPath) != .missing { labelFiles += 1 }
                    let objects = try readLabels(path: labelPath, classCount: yaml.names.count)
                    items.append(DatasetItem(imagePath: imagePath, labelPath: labelPath, objects: objects))
                } catch {
                    if strict { throw error }
                    skipped += 1
                    warnings.append("\(error) (image skipped)")
                }
            }
            if !images.isEmpty && labelFiles == 0 {
                warnings.append("\(name): none of the \(images.count) images has a label file (the label of \(images[0]) would be \(ultralyticsLabelPath(images[0]))); they have no objects")
            }
            return DatasetSplit(name: name, items: items, skippedImages: skipped)
        }

        let train = try loadSplit(yaml.train, name: "train", key: "train")
        let validation = yaml.val.isEmpty ? nil : try loadSplit(yaml.val, name: "val", key: yaml.lines["val"] != nil ? "val" : "validation")
        guard !train.items.isEmpty else {
            let reason = train.skippedImages == 0
                ? "no PNG images in \"train\" (\(yaml.train.joined(separator: ", ")))"
                : "no usable training images: all \(train.skippedImages) skipped (first: \(warnings.first { $0.hasSuffix("(image skipped)") } ?? ""))"
            throw DatasetError(path: file, kind: .noImages, reason: reason)
        }
        return Dataset(root: root, classNames: yaml.names, train: train, validation: validation, warnings: warnings)
    }

    /// Ultralytics' label path of an image: the last `/images/` replaced by `/labels/`, the
    /// extension by `.txt`.
    static func ultralyticsLabelPath(_ imagePath: String) -> String {
        var path = imagePath
        if let range = path.range(of: "/images/", options: .backwards) { path.replaceSubrange(range, with: "/labels/") }
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        if let dot = path[slash...].lastIndex(of: "."), dot > slash { path = String(path[..<dot]) }
        return path + ".txt"
    }

    /// The PNG and JPEG files under `folder`, recursively (hidden files and folders skipped), sorted; and
    /// how many files of other image formats were passed over.
    private static func listImages(_ folder: String) throws -> (images: [String], otherFormats: Int) {
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else {
            throw DatasetError(path: folder, kind: .unreadable, reason: "cannot list the folder")
        }
        var images: [String] = [], others = 0
        let otherExtensions: Set<String> = ["bmp", "gif", "tif", "tiff", "webp", "dng", "mpo", "pfm", "heic"]
        while let relative = enumerator.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(".") { enumerator.skipDescendants(); continue }
            let ext = (name as NSString).pathExtension.lowercased()
            if ImageFile.extensions.contains(ext) { images.append(folder + "/" + relative) } else if otherExtensions.contains(ext) { others += 1 }
        }
        return (images.sorted(), others)
    }

    /// The image paths of a .txt list, one a line (blank lines and `#` comments skipped; a
    /// relative path is relative to the list's folder). Only PNG and JPEG paths are kept.
    private static func imageList(_ path: String) throws -> [String] {
        let data: Data
        do { data = try RegularFile.read(path: path, limit: maximumLabelFileBytes) } catch {
            throw DatasetError(path: path, kind: .unreadable, reason: error.reason(limitName: "a list of images"))
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw DatasetError(path: path, kind: .notUTF8, reason: "not UTF-8 text (a list of image paths, one a line)")
        }
        let folder = parentFolder(of: path)
        return text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") && ImageFile.isImagePath($0) }
            .map { $0.hasPrefix("/") ? normalisedPath($0) : normalisedPath(folder + "/" + $0) }
    }

    /// The folder part of a path as written ("." for a bare name).
    static func parentFolder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `a/./b/../c` → `a/c`, without touching the file system (symbolic links are not
    /// resolved); leading `..` of a relative path are kept.
    static func normalisedPath(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            if part == ".." && absolute { continue }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}
