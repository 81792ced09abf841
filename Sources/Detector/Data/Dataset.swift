import Foundation

public struct DatasetError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// An image of a data set and its objects (normalised to the image).
public struct DatasetItem: Sendable, Equatable {
    public var imagePath: String
    public var labelPath: String
    public var objects: [LabeledObject]
}

public struct DatasetSplit: Sendable {
    public var name: String
    public var items: [DatasetItem]
}

/// A YOLO-format data set folder:
///
///     classes.txt            one class name per line (darknet's .names)
///     train/images/*.png     train/labels/*.txt
///     val/images/*.png       val/labels/*.txt      (optional)
///
/// or `images/` and `labels/` directly under the folder (one split, used for training). An
/// image without a label file, or with an empty one, has no objects.
public struct Dataset: Sendable {
    public var root: String
    public var classNames: [String]
    public var train: DatasetSplit
    public var validation: DatasetSplit?
    /// Label files skipped for bad lines (one message each, naming file and line).
    public var warnings: [String]

    /// Loads and validates every label. With `strict`, a bad label file is an error; otherwise
    /// its image is skipped with a warning, as Ultralytics does.
    public static func load(path root: String, strict: Bool = false) throws -> Dataset {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isFolder), isFolder.boolValue else {
            throw DatasetError(path: root, reason: "no such data set folder")
        }
        let classesPath = root + "/classes.txt"
        guard let classesText = try? String(contentsOfFile: classesPath, encoding: .utf8) else {
            throw DatasetError(path: classesPath, reason: "missing: a data set needs classes.txt with one class name per line")
        }
        let classNames = classesText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        guard !classNames.isEmpty else { throw DatasetError(path: classesPath, reason: "no class names") }
        var warnings: [String] = []
        func split(_ folder: String, name: String) throws -> DatasetSplit? {
            let images = folder + "/images"
            guard fm.fileExists(atPath: images) else { return nil }
            let files = ((try? fm.contentsOfDirectory(atPath: images)) ?? []).filter { $0.lowercased().hasSuffix(".png") }.sorted()
            var items: [DatasetItem] = []
            for file in files {
                let stem = (file as NSString).deletingPathExtension
                let labelPath = folder + "/labels/" + stem + ".txt"
                var objects: [LabeledObject] = []
                if let text = try? String(contentsOfFile: labelPath, encoding: .utf8) {
                    do { objects = try parseLabels(text, source: labelPath, classCount: classNames.count) } catch {
                        if strict { throw error }
                        warnings.append("\(error) (image skipped)")
                        continue
                    }
                }
                items.append(DatasetItem(imagePath: images + "/" + file, labelPath: labelPath, objects: objects))
            }
            return DatasetSplit(name: name, items: items)
        }
        let train: DatasetSplit, validation: DatasetSplit?
        if let t = try split(root + "/train", name: "train") {
            train = t
            validation = try split(root + "/val", name: "val")
        } else if let flat = try split(root, name: "train") {
            train = flat
            validation = nil
        } else {
            throw DatasetError(path: root, reason: "no images: expected train/images/ (and val/images/) or images/ with PNG files")
        }
        guard !train.items.isEmpty else {
            throw DatasetError(path: root, reason: "no usable training images" + (warnings.isEmpty ? "" :
                " (\(warnings.count) skipped for bad labels):\n  " + warnings.prefix(5).joined(separator: "\n  ")))
        }
        return Dataset(root: root, classNames: classNames, train: train, validation: validation, warnings: warnings)
    }
}
