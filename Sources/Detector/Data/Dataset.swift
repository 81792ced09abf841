import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A data set folder that cannot be used, with the path at fault.
public struct DatasetError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case missingFolder, missingClasses, noClasses, duplicateClass, classMismatch, noImages
        /// A path of the layout (the data set, train/, val/, images/, labels/) that exists but
        /// is a file, FIFO or device.
        case notAFolder
        /// classes.txt, or an image in images/, that is a folder, FIFO, device or socket.
        case notARegularFile
        /// A file in images/ that is not a readable PNG or JPEG: another extension, or a header
        /// that `ImageFile.size` refuses (another format, bad bytes, a size beyond the limits).
        case notAnImage
        /// A dangling or looping symbolic link.
        case brokenLink
        /// classes.txt larger than `maximumLabelFileBytes`.
        case tooLarge
        /// classes.txt holds bytes that are not UTF-8 (the reason gives the line and offset).
        case notUTF8
        /// classes.txt holds a NUL byte or another control character but tab.
        case controlCharacter
        /// A path that exists but cannot be read or listed (permissions, I/O error).
        case unreadable
    }

    public var path: String
    public var kind: Kind
    public var reason: String

    public init(path: String, kind: Kind, reason: String) {
        self.path = path; self.kind = kind; self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// An image of a data set and its objects (normalised to the image). `labelPath` is where the
/// label file is or would be; a missing one means no objects.
public struct DatasetItem: Sendable, Equatable {
    public var imagePath: String
    public var labelPath: String
    public var objects: [LabeledObject]

    public init(imagePath: String, labelPath: String, objects: [LabeledObject]) {
        self.imagePath = imagePath; self.labelPath = labelPath; self.objects = objects
    }
}

/// The usable images of one split, sorted by file name, and how many were skipped for bad
/// label files or for entries of images/ that are not readable images.
public struct DatasetSplit: Sendable, Equatable {
    public var name: String
    public var items: [DatasetItem]
    public var skippedImages: Int

    public init(name: String, items: [DatasetItem], skippedImages: Int = 0) {
        self.name = name; self.items = items; self.skippedImages = skippedImages
    }
}

/// A YOLO-format data set folder (the darknet / Ultralytics layout):
///
///     classes.txt            one class name per line (darknet's .names; blank lines ignored)
///     train/images/*.png     train/labels/*.txt    (or .jpg, .jpeg)
///     val/images/*.png       val/labels/*.txt      (optional; `valid/` is accepted too)
///
/// or `images/` and `labels/` directly under the folder: one split, used for training.
/// `images/NAME.png`, `NAME.jpg` or `NAME.jpeg` (extension in any case) goes with
/// `labels/NAME.txt`; an image without a label file, or with an empty one, has no objects.
/// Hidden files (`.NAME`) are ignored. Images are not decoded here (the trainer reads them),
/// but each must be a regular file whose header `ImageFile.size` accepts (a PNG or JPEG by
/// its content, within the size limits); every other entry of images/ (another extension,
/// a folder, a file that is not a readable image) is skipped with a warning naming it and
/// counted, never silently ignored. Labels are all read (see `readLabels`) and validated.
///
/// Every path of the layout that exists must be of the right kind: the data set, `train/`,
/// `val/`, `valid/`, `images/` and `labels/` folders (a `val` that is a file, or a `labels`
/// that is a FIFO, is an error, not a split without validation data or without objects);
/// `classes.txt` a regular file. A `val/` without `images/` is an error; `valid/` next to
/// `val/`, and `val/` next to a flat `images/`, are ignored with a warning.
public struct Dataset: Sendable {
    public var root: String
    public var classNames: [String]
    public var train: DatasetSplit
    public var validation: DatasetSplit?
    /// One message per skipped image (naming the label file, the line and the problem, or the
    /// image entry), and notes about the layout (a split without a labels/ folder, an ignored
    /// folder).
    public var warnings: [String]

    /// Images skipped for bad label files or entries of images/ that are not readable images,
    /// over both splits.
    public var skippedImages: Int { train.skippedImages + (validation?.skippedImages ?? 0) }

    /// Checks that `path` is a readable image of a data set without decoding it: a regular file
    /// with an image name whose PNG or JPEG header reads (a few bytes; a JPEG's markers up to
    /// its first scan), so a file that is not an image, or too large to decode, is named when
    /// the data set is loaded rather than stopping the trainer when it reads the images.
    static func checkImageEntry(_ path: String) throws {
        if let problem = RegularFile.problem(at: path) {
            throw DatasetError(path: path, kind: errorKind(problem), reason: problem.reason(limitName: "an image file"))
        }
        guard ImageFile.isImagePath(path) else {
            throw DatasetError(path: path, kind: .notAnImage,
                               reason: "not an image file name (images are .\(ImageFile.extensions.joined(separator: ", .")), in any case)")
        }
        do { _ = try ImageFile.size(path: path) } catch let error as ImageError {
            throw DatasetError(path: path, kind: .notAnImage, reason: error.reason)
        }
    }

    /// Loads the folder and validates every label file. `root` may also be an Ultralytics
    /// `data.yaml` (a path ending in .yaml or .yml): see `load(dataYAML:classNames:strict:)`.
    ///
    /// - Parameters:
    ///   - expected: when given, classes.txt must hold exactly these names in this order.
    ///   - strict: a bad label file throws its `LabelError`, an entry of images/ that is not a
    ///     readable image its `DatasetError`; otherwise (the default, as in Ultralytics) the
    ///     entry is skipped, with a warning, and counted in `skippedImages`.
    /// - Throws: `DatasetError` for a missing folder, a layout path of the wrong kind, a
    ///   missing, unreadable or empty classes.txt, duplicate or unexpected class names, no
    ///   images, or no usable training images; `LabelError` in strict mode.
    public static func load(path root: String, classNames expected: [String]? = nil, strict: Bool = false) throws -> Dataset {
        // An Ultralytics data.yaml instead of a folder: see Dataset+UltralyticsYAML.swift.
        if isDataYAML(root) { return try load(dataYAML: root, classNames: expected, strict: strict) }
        guard try folderExists(root, role: "a data set folder holds classes.txt and train/ or images/") else {
            throw DatasetError(path: root, kind: .missingFolder, reason: "no such data set folder")
        }
        let classNames = try readClassNames(path: root + "/classes.txt")
        if let expected, expected != classNames {
            throw DatasetError(path: root + "/classes.txt", kind: .classMismatch,
                               reason: "classes \(classNames) differ from the expected \(expected)")
        }
        var warnings: [String] = []

        func loadSplit(_ folder: String, name: String) throws -> DatasetSplit {
            try Dataset.loadSplit(folder, name: name, classCount: classNames.count, strict: strict, warnings: &warnings)
        }

        let train: DatasetSplit, trainFolder: String
        let splitRole = "a split is a folder holding images/ and labels/"
        let hasTrain = try folderExists(root + "/train", role: splitRole)
        if hasTrain, try folderExists(root + "/train/images", role: "the training images, train/images/*.png or *.jpg") {
            trainFolder = root + "/train"
            train = try loadSplit(trainFolder, name: "train")
        } else if try folderExists(root + "/images", role: "the images, images/*.png or *.jpg") {
            if hasTrain { warnings.append("\(root)/train: ignored, it has no images/ folder; the images are those of \(root)/images") }
            trainFolder = root
            train = try loadSplit(root, name: "train")
        } else {
            throw DatasetError(path: root, kind: .noImages,
                               reason: "no images: expected train/images/ (and val/images/), or images/, with PNG or JPEG files")
        }

        var validation: DatasetSplit? = nil
        let validationNames = try ["val", "valid"].filter { try folderExists(root + "/" + $0, role: splitRole) }
        if let val = validationNames.first {
            let folder = root + "/" + val
            guard try folderExists(folder + "/images", role: "the validation images, \(val)/images/*.png or *.jpg") else {
                throw DatasetError(path: folder, kind: .noImages,
                                   reason: "has no images/ folder (a validation split holds images/*.png or *.jpg and labels/*.txt)")
            }
            if trainFolder == root {
                warnings.append("\(folder): ignored; with images/ directly in the data set folder there is one split (use train/ and \(val)/)")
            } else {
                validation = try loadSplit(folder, name: "val")
                if validationNames.count > 1 { warnings.append("\(root)/valid: ignored; \(folder) is the validation split") }
            }
        }
        guard !train.items.isEmpty else {
            let reason = train.skippedImages == 0
                ? "no PNG or JPEG images"
                : "no usable images: all \(train.skippedImages) skipped (first: \(warnings.first { $0.hasSuffix("(image skipped)") } ?? ""))"
            throw DatasetError(path: trainFolder + "/images", kind: .noImages, reason: reason)
        }
        return Dataset(root: root, classNames: classNames, train: train, validation: validation, warnings: warnings)
    }

    /// A split folder, `folder/images/` with `folder/labels/`: the images sorted by name, hidden
    /// files ignored, every other entry checked (`checkImageEntry`) and, when it is not a
    /// readable image or its label file is bad, skipped with a warning appended to `warnings`
    /// (thrown in strict mode); an image without a label file has no objects. Used by `load`
    /// for train/ and val/ and by `loadTestSplit` for test/.
    static func loadSplit(_ folder: String, name: String, classCount: Int, strict: Bool,
                          warnings: inout [String]) throws -> DatasetSplit {
        let imagesFolder = folder + "/images", labelsFolder = folder + "/labels"
        let entries = try listFolder(imagesFolder).filter { !$0.hasPrefix(".") }.sorted()
        let files = entries.filter { ImageFile.isImagePath($0) }
        let hasLabels = try folderExists(labelsFolder, role: "label files, labels/NAME.txt for images/NAME.png")
        if !files.isEmpty && !hasLabels {
            warnings.append("\(labelsFolder): no such folder; the \(files.count) images of \(name) have no objects")
        }
        var items: [DatasetItem] = []
        var skipped = 0
        var imageOfLabel: [String: String] = [:]
        for file in entries {
            let imagePath = imagesFolder + "/" + file
            let stem = String(file[..<(file.lastIndex(of: ".") ?? file.endIndex)])
            let labelPath = labelsFolder + "/" + stem + ".txt"
            do {
                try checkImageEntry(imagePath)
                let objects = try readLabels(path: labelPath, classCount: classCount)
                if let other = imageOfLabel.updateValue(file, forKey: stem) {
                    warnings.append("\(imagesFolder): \(other) and \(file) share the label file \(labelPath)")
                }
                items.append(DatasetItem(imagePath: imagePath, labelPath: labelPath, objects: objects))
            } catch {
                if strict { throw error }
                skipped += 1
                warnings.append("\(error) (image skipped)")
            }
        }
        return DatasetSplit(name: name, items: items, skippedImages: skipped)
    }

    /// Class names, one per line (darknet's .names; lines end with `\n`, `\r\n` or `\r`):
    /// surrounding spaces trimmed, blank lines ignored; at least one name, no name twice. The
    /// file must be a regular file of at most `maximumLabelFileBytes` and UTF-8 text without
    /// control characters (a leading byte-order mark is skipped); each failure is a
    /// `DatasetError` saying what is wrong (a folder, a FIFO, the byte offset of bad UTF-8).
    public static func readClassNames(path: String) throws -> [String] {
        let data: Data
        do {
            data = try RegularFile.read(path: path, limit: maximumLabelFileBytes)
        } catch .missing {
            throw DatasetError(path: path, kind: .missingClasses, reason: "missing: a data set needs classes.txt with one class name per line")
        } catch {
            throw DatasetError(path: path, kind: errorKind(error), reason: error.reason(limitName: "classes.txt"))
        }
        var names: [String] = []
        var firstLine: [String: Int] = [:]
        do {
            try data.withUnsafeBytes { raw in
                try forEachLine(of: raw.bindMemory(to: UInt8.self)) { lineNumber, line in
                    let name = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    if name.isEmpty { return }
                    if let earlier = firstLine[name] {
                        throw DatasetError(path: path, kind: .duplicateClass,
                                           reason: "line \(lineNumber): class \"\(name)\" already named on line \(earlier)")
                    }
                    firstLine[name] = lineNumber
                    names.append(name)
                }
            }
        } catch let fault as TextFault {
            throw DatasetError(path: path, kind: fault.isUTF8 ? .notUTF8 : .controlCharacter, reason: "line \(fault.line): \(fault.reason)")
        }
        guard !names.isEmpty else { throw DatasetError(path: path, kind: .noClasses, reason: "no class names") }
        return names
    }

    /// Whether a folder is at `path` (through symbolic links): false for nothing there; an
    /// error for anything else there (a file, FIFO, device, broken link), naming it and
    /// saying what the folder is for (`role`).
    private static func folderExists(_ path: String, role: String) throws -> Bool {
        guard let problem = RegularFile.problem(at: path) else {
            throw DatasetError(path: path, kind: .notAFolder, reason: "is a file, not a folder (\(role))")
        }
        switch problem {
        case .missing: return false
        case _ where problem.isFolder: return true
        case .notRegular(let kind): throw DatasetError(path: path, kind: .notAFolder, reason: "is \(kind), not a folder (\(role))")
        default: throw DatasetError(path: path, kind: errorKind(problem), reason: problem.reason(limitName: "a file"))
        }
    }

    /// The names in a folder (without "." and ".."), or an error with the system's reason.
    private static func listFolder(_ path: String) throws -> [String] {
        guard let folder = opendir(path) else {
            throw DatasetError(path: path, kind: .unreadable, reason: "cannot list the folder: \(String(cString: strerror(errno)))")
        }
        defer { closedir(folder) }
        var names: [String] = []
        while let entry = readdir(folder) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func errorKind(_ problem: FileProblem) -> DatasetError.Kind {
        switch problem {
        case .danglingLink, .linkLoop: return .brokenLink
        case .notRegular: return .notARegularFile
        case .tooLarge: return .tooLarge
        case .missing, .unreadable: return .unreadable
        }
    }
}
