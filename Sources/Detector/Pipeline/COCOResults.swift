import Foundation

// `detect --coco FILE`: the detections as a COCO results file, the array pycocotools'
// `COCO.loadRes` reads, `[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}, ...]`,
// and beside it FILE.images.json, the images those ids stand for.

/// A data set or a categories file that cannot give COCO ids.
public struct COCOError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// One COCO category: its id and name.
public struct COCOCategory: Sendable, Equatable {
    public var id: Int
    public var name: String
    public init(id: Int, name: String) { self.id = id; self.name = name }
}

/// Where the ids of a COCO results file come from.
///
/// Without a data set (`plain`): an image's id is its position in the list of inputs (from 0,
/// failed images counted), a category's id its class index.
///
/// With a data set (`load(dataset:classNames:)`, `detect --data DIR`):
/// - category ids from `DIR/categories.json` when it exists, `[{"id": 7, "name": "cat"}, ...]`
///   in class order (what an import from COCO keeps: COCO's ids are not 0..<N), else the class
///   index;
/// - image ids by the image's real path among the data set's images (`train/images/`, then
///   `val/images/` or `valid/images/`, or `images/`; sorted by name, hidden files left out):
///   the number that names the file when every image of the data set is named by a distinct
///   number (COCO's `000000397133.jpg` is image 397133, as Ultralytics reads them), else its
///   position in that list (from 0). An input that is not an image of the data set has no id.
public struct COCOIdentifiers: Sendable {
    /// `categoryIDs[k]` for class `k`.
    public var categoryIDs: [Int]
    /// Real path → image id; nil: ids are positions in the inputs.
    public var imageIDs: [String: Int]?

    public init(categoryIDs: [Int], imageIDs: [String: Int]?) { self.categoryIDs = categoryIDs; self.imageIDs = imageIDs }

    /// Class indices as categories, input positions as images.
    public static func plain(classCount: Int) -> COCOIdentifiers {
        COCOIdentifiers(categoryIDs: Array(0..<classCount), imageIDs: nil)
    }

    /// The ids of the data set at `root`, whose `classes.txt` must hold exactly `classNames`
    /// (the model's classes, in order): else the category ids would belong to other classes.
    public static func load(dataset root: String, classNames: [String]) throws -> COCOIdentifiers {
        let classes = try Dataset.readClassNames(path: root + "/classes.txt")
        guard classes == classNames else {
            throw COCOError(path: root + "/classes.txt", reason: "classes \(classes) differ from the model's \(classNames)")
        }
        var categoryIDs = Array(0..<classes.count)
        if let categories = try readCOCOCategories(path: root + "/categories.json") {
            guard categories.count == classes.count else {
                throw COCOError(path: root + "/categories.json", reason: "has \(categories.count) categories for the \(classes.count) classes of classes.txt")
            }
            for (k, (category, name)) in zip(categories, classes).enumerated() where category.name != name {
                throw COCOError(path: root + "/categories.json", reason: "entry \(k) is \"\(category.name)\" but class \(k) of classes.txt is \"\(name)\"")
            }
            categoryIDs = categories.map(\.id)
        }
        let images = try datasetImagePaths(root)
        let stems = images.map { removingExtension(String($0.split(separator: "/").last ?? "")) }
        let numbers = stems.map { stem in stem.utf8.count <= 18 && stem.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } ? Int(stem) : nil }
        let numbered = !numbers.contains(nil) && Set(numbers).count == numbers.count
        var imageIDs: [String: Int] = [:]
        for (k, path) in images.enumerated() { imageIDs[realPath(path) ?? path] = numbered ? numbers[k]! : k }
        return COCOIdentifiers(categoryIDs: categoryIDs, imageIDs: imageIDs)
    }

    /// The id of an input at `position` in the inputs, or nil when a data set gives ids and
    /// the image is not one of its images.
    public func imageID(for image: ImageInput, position: Int) -> Int? {
        guard let imageIDs else { return position }
        return imageIDs[realPath(image.absolutePath) ?? image.absolutePath]
    }

    /// The id of every input, in order; throws when a data set gives the ids and an input is not
    /// one of its images (the message names the first such input and how many there are).
    public func imageIDs(for images: [ImageInput], dataset: String) throws -> [Int] {
        let ids = images.enumerated().map { imageID(for: $1, position: $0) }
        if let k = ids.firstIndex(of: nil) {
            let missing = ids.filter { $0 == nil }.count
            throw COCOError(path: images[k].path + (missing > 1 ? " (and \(missing - 1) more)" : ""),
                            reason: "not an image of the data set \(dataset) (--data), so it has no COCO image id")
        }
        return ids.map { $0! }
    }

    /// The category of class `index` (the index itself beyond the table).
    public func categoryID(forClass index: Int) -> Int {
        categoryIDs.indices.contains(index) ? categoryIDs[index] : index
    }
}

/// The categories of `categories.json`, `[{"id": 7, "name": "cat"}, ...]` (other keys, such
/// as COCO's `supercategory`, ignored), or nil when there is no such file. Each entry needs
/// an integer `id` and a string `name`; ids must be distinct.
public func readCOCOCategories(path: String) throws -> [COCOCategory]? {
    let data: Data
    do { data = try RegularFile.read(path: path, limit: maximumLabelFileBytes) } catch .missing {
        return nil
    } catch {
        throw COCOError(path: path, reason: error.reason(limitName: "categories.json"))
    }
    let value: Any
    do { value = try JSONSerialization.jsonObject(with: data) } catch {
        throw COCOError(path: path, reason: "not JSON: \((error as NSError).userInfo[NSDebugDescriptionErrorKey] ?? error.localizedDescription)")
    }
    guard let entries = value as? [Any] else {
        throw COCOError(path: path, reason: "expected an array of {\"id\": N, \"name\": NAME}, one per class in class order")
    }
    var categories: [COCOCategory] = []
    var seen: Set<Int> = []
    for (k, entry) in entries.enumerated() {
        guard let object = entry as? [String: Any], let id = object["id"] as? Int, let name = object["name"] as? String else {
            throw COCOError(path: path, reason: "entry \(k) is not {\"id\": INTEGER, \"name\": STRING}")
        }
        guard seen.insert(id).inserted else { throw COCOError(path: path, reason: "entry \(k): category id \(id) appears twice") }
        categories.append(COCOCategory(id: id, name: name))
    }
    return categories
}

/// The image files of a data set folder in the order of `Dataset.load`'s layout: the training
/// split (`train/images/`, else `images/`), then, beside `train/`, the validation split
/// (`val/images/`, else `valid/images/`); each sorted by name, hidden files left out.
func datasetImagePaths(_ root: String) throws -> [String] {
    var folders: [String] = []
    if isFolder(root + "/train/images") {
        folders.append(root + "/train/images")
        if let val = ["val", "valid"].first(where: { isFolder(root + "/" + $0 + "/images") }) { folders.append(root + "/" + val + "/images") }
    } else if isFolder(root + "/images") {
        folders.append(root + "/images")
    } else {
        throw COCOError(path: root, reason: isFolder(root) ? "no images: expected train/images/ (and val/images/), or images/" : "no such data set folder")
    }
    var paths: [String] = []
    for folder in folders {
        let names: [String]
        do { names = try folderEntries(folder) } catch { throw COCOError(path: folder, reason: "\(error)") }
        paths += names.filter { !$0.hasPrefix(".") && hasImageFileExtension($0) }.sorted().map { folder + "/" + $0 }
    }
    return paths
}

/// The COCO results of a run, collected image by image and written at the end.
public struct COCOResults: Sendable {
    public private(set) var results: [String] = []
    public private(set) var images: [String] = []
    public let identifiers: COCOIdentifiers

    public init(identifiers: COCOIdentifiers) { self.identifiers = identifiers }

    /// Adds an image's detections under `imageID`.
    public mutating func add(imageID: Int, path: String, width: Int, height: Int, detections: [Detection]) {
        images.append(cocoImageObject(id: imageID, path: path, width: width, height: height))
        for d in detections {
            results.append(cocoResultObject(imageID: imageID, categoryID: identifiers.categoryID(forClass: d.classIndex), detection: d))
        }
    }

    /// The path of the images file beside the results file `path`.
    public static func imagesPath(for path: String) -> String { path + ".images.json" }

    /// Writes the results to `path` and the images to `imagesPath(for: path)`, each atomically.
    public func write(to path: String) throws {
        try writeAtomically(Data(jsonArrayLines(results).utf8), to: path)
        try writeAtomically(Data(jsonArrayLines(images).utf8), to: Self.imagesPath(for: path))
    }
}
