import Foundation

/// A data set folder that cannot be used, with the path at fault.
public struct DatasetError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case missingFolder, missingClasses, noClasses, duplicateClass, classMismatch, noImages
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
/// label files.
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
///     train/images/*.png     train/labels/*.txt
///     val/images/*.png       val/labels/*.txt      (optional; `valid/` is accepted too)
///
/// or `images/` and `labels/` directly under the folder: one split, used for training.
/// `images/NAME.png` (extension in any case) goes with `labels/NAME.txt`; an image without a
/// label file, or with an empty one, has no objects. Hidden files (`.NAME`) are ignored.
/// Images are not decoded here (the trainer reads them); labels are all parsed and validated.
public struct Dataset: Sendable {
    public var root: String
    public var classNames: [String]
    public var train: DatasetSplit
    public var validation: DatasetSplit?
    /// One message per skipped image (naming the label file, the line and the problem), and
    /// notes about the layout (a split without a labels/ folder).
    public var warnings: [String]

    /// Images skipped for bad label files, over both splits.
    public var skippedImages: Int { train.skippedImages + (validation?.skippedImages ?? 0) }

    /// Loads the folder and validates every label file.
    ///
    /// - Parameters:
    ///   - expected: when given, classes.txt must hold exactly these names in this order.
    ///   - strict: a bad label file throws its `LabelError`; otherwise (the default, as in
    ///     Ultralytics) the image is skipped, with a warning, and counted in `skippedImages`.
    /// - Throws: `DatasetError` for a missing folder, a missing or empty classes.txt, duplicate
    ///   or unexpected class names, no images, or no usable training images; `LabelError` in
    ///   strict mode.
    public static func load(path root: String, classNames expected: [String]? = nil, strict: Bool = false) throws -> Dataset {
        let fm = FileManager.default
        guard isFolder(root) else {
            throw DatasetError(path: root, kind: .missingFolder, reason: "no such data set folder")
        }
        let classNames = try readClassNames(path: root + "/classes.txt")
        if let expected, expected != classNames {
            throw DatasetError(path: root + "/classes.txt", kind: .classMismatch,
                               reason: "classes \(classNames) differ from the expected \(expected)")
        }
        var warnings: [String] = []

        func loadSplit(_ folder: String, name: String) throws -> DatasetSplit {
            let imagesFolder = folder + "/images", labelsFolder = folder + "/labels"
            let files = ((try? fm.contentsOfDirectory(atPath: imagesFolder)) ?? [])
                .filter { !$0.hasPrefix(".") && $0.lowercased().hasSuffix(".png") }
                .sorted()
            if !files.isEmpty && !isFolder(labelsFolder) {
                warnings.append("\(labelsFolder): no such folder; the \(files.count) images of \(name) have no objects")
            }
            var items: [DatasetItem] = []
            var skipped = 0
            for file in files {
                let labelPath = labelsFolder + "/" + String(file.dropLast(4)) + ".txt"
                do {
                    let objects = try readLabels(path: labelPath, classCount: classNames.count)
                    items.append(DatasetItem(imagePath: imagesFolder + "/" + file, labelPath: labelPath, objects: objects))
                } catch {
                    if strict { throw error }
                    skipped += 1
                    warnings.append("\(error) (image skipped)")
                }
            }
            return DatasetSplit(name: name, items: items, skippedImages: skipped)
        }

        let train: DatasetSplit, validation: DatasetSplit?, trainFolder: String
        if isFolder(root + "/train/images") {
            trainFolder = root + "/train"
            train = try loadSplit(trainFolder, name: "train")
            if let val = ["val", "valid"].first(where: { isFolder(root + "/\($0)/images") }) {
                validation = try loadSplit(root + "/" + val, name: "val")
            } else {
                validation = nil
            }
        } else if isFolder(root + "/images") {
            trainFolder = root
            train = try loadSplit(root, name: "train")
            validation = nil
        } else {
            throw DatasetError(path: root, kind: .noImages,
                               reason: "no images: expected train/images/ (and val/images/), or images/, with PNG files")
        }
        guard !train.items.isEmpty else {
            let reason = train.skippedImages == 0
                ? "no PNG images"
                : "no usable images: all \(train.skippedImages) skipped for bad label files (first: \(warnings.first ?? ""))"
            throw DatasetError(path: trainFolder + "/images", kind: .noImages, reason: reason)
        }
        return Dataset(root: root, classNames: classNames, train: train, validation: validation, warnings: warnings)
    }

    /// Class names, one per line (darknet's .names; `\n` or `\r\n`): surrounding spaces trimmed,
    /// blank lines ignored; at least one name, no name twice.
    public static func readClassNames(path: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError(path: path, kind: .missingClasses, reason: "missing: a data set needs classes.txt with one class name per line")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw DatasetError(path: path, kind: .missingClasses, reason: "cannot read it as UTF-8 text")
        }
        var names: [String] = []
        var firstLine: [String: Int] = [:]
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let name = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if name.isEmpty { continue }
            if let earlier = firstLine[name] {
                throw DatasetError(path: path, kind: .duplicateClass,
                                   reason: "line \(index + 1): class \"\(name)\" already named on line \(earlier)")
            }
            firstLine[name] = index + 1
            names.append(name)
        }
        guard !names.isEmpty else { throw DatasetError(path: path, kind: .noClasses, reason: "no class names") }
        return names
    }

    private static func isFolder(_ path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }
}
