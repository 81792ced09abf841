import Foundation
import Testing
@testable import Detector

/// The ids of `detect --coco`: from a data set with --data (file numbers or
/// positions, categories.json), else positions and class indices; the two files written.
@Suite struct COCOResultsTests {
    /// A data set of empty image files (ids never read an image): `train` and `val` names.
    static func dataset(train: [String], val: [String] = [], classes: String = "person\ncat\n", categories: String? = nil) throws -> URL {
        let root = try Fixtures.temporaryFolder("coco-ids")
        for (split, names) in [("train", train), ("val", val)] where !names.isEmpty {
            let folder = root.appendingPathComponent("\(split)/images")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for name in names { try Data().write(to: folder.appendingPathComponent(name)) }
        }
        try Data(classes.utf8).write(to: root.appendingPathComponent("classes.txt"))
        if let categories { try Data(categories.utf8).write(to: root.appendingPathComponent("categories.json")) }
        return root
    }

    static func input(_ root: URL, _ path: String) -> ImageInput {
        ImageInput(path: path, absolutePath: root.appendingPathComponent(path).path)
    }

    static let categories = #"[{"id": 1, "name": "person", "supercategory": "person"}, {"id": 17, "name": "cat", "supercategory": "animal"}]"#

    /// COCO's own file names: the number is the image id; categories.json maps the classes.
    /// One detection, computed by hand: class 1 (cat) is category 17, box (10, 20)-(110.5, 220.25)
    /// is [10, 20, 100.5, 200.25].
    @Test func numberedImagesAndCategoriesFromTheDataSet() throws {
        let root = try Self.dataset(train: ["000000000285.png", "000000000139.png"], val: ["000000000632.jpg"], categories: Self.categories)
        let ids = try COCOIdentifiers.load(dataset: root.path, classNames: ["person", "cat"])
        #expect(ids.categoryIDs == [1, 17])
        #expect(ids.imageID(for: Self.input(root, "val/images/000000000632.jpg"), position: 0) == 632)
        #expect(ids.imageID(for: Self.input(root, "train/images/000000000139.png"), position: 5) == 139)
        #expect(ids.imageID(for: Self.input(root, "train/images/../images/000000000285.png"), position: 5) == 285)
        #expect(ids.imageID(for: ImageInput(path: "other.png", absolutePath: "/nowhere/other.png"), position: 0) == nil)

        var results = COCOResults(identifiers: ids)
        let d = Detection(box: BoundingBox(x1: 10, y1: 20, x2: 110.5, y2: 220.25), classIndex: 1, score: 0.87654)
        results.add(imageID: 632, path: "val/images/000000000632.jpg", width: 640, height: 480, detections: [d])
        results.add(imageID: 139, path: "train/images/000000000139.png", width: 320, height: 200, detections: [])
        let file = try Fixtures.temporaryFolder("coco-out").appendingPathComponent("results.json").path
        try results.write(to: file)
        let written = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [[String: Any]])
        #expect(written.count == 1)
        #expect(written[0]["image_id"] as? Int == 632 && written[0]["category_id"] as? Int == 17)
        #expect(written[0]["bbox"] as? [Double] == [10, 20, 100.5, 200.25] && written[0]["score"] as? Double == 0.87654)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text == "[\n{\"image_id\": 632, \"category_id\": 17, \"bbox\": [10.000, 20.000, 100.500, 200.250], \"score\": 0.87654}\n]\n")
        let images = try String(contentsOfFile: COCOResults.imagesPath(for: file), encoding: .utf8)
        #expect(images == """
        [
        {"id": 632, "file_name": "val/images/000000000632.jpg", "width": 640, "height": 480},
        {"id": 139, "file_name": "train/images/000000000139.png", "width": 320, "height": 200}
        ]

        """)
    }

    /// Names that are not all distinct numbers: positions in the data set, train (sorted) then
    /// val; without categories.json the class index is the category.
    @Test(arguments: [
        (["b.png", "a.png"], ["c.png"], ["train/images/a.png": 0, "train/images/b.png": 1, "val/images/c.png": 2]),
        (["12.png", "x.png"], ["3.png"], ["train/images/12.png": 0, "train/images/x.png": 1, "val/images/3.png": 2]),
        (["1.png", "2.png"], ["1.jpg"], ["train/images/1.png": 0, "train/images/2.png": 1, "val/images/1.jpg": 2]),   // 1 twice
        (["7.png", "0010.png"], ["9.png"], ["train/images/0010.png": 10, "train/images/7.png": 7, "val/images/9.png": 9]),
    ])
    func positionsWhenNamesAreNotDistinctNumbers(train: [String], val: [String], expected: [String: Int]) throws {
        let root = try Self.dataset(train: train, val: val)
        let ids = try COCOIdentifiers.load(dataset: root.path, classNames: ["person", "cat"])
        #expect(ids.categoryIDs == [0, 1])
        for (path, id) in expected { #expect(ids.imageID(for: Self.input(root, path), position: 99) == id, "\(path)") }
    }

    /// A flat data set (images/ directly), hidden files left out.
    @Test func flatDataSet() throws {
        let root = try Fixtures.temporaryFolder("coco-flat")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("images"), withIntermediateDirectories: true)
        for name in ["b.png", "a.PNG", ".hidden.png", "notes.txt"] { try Data().write(to: root.appendingPathComponent("images/\(name)")) }
        try Data("person\ncat\n".utf8).write(to: root.appendingPathComponent("classes.txt"))
        let ids = try COCOIdentifiers.load(dataset: root.path, classNames: ["person", "cat"])
        #expect(ids.imageIDs?.count == 2)
        #expect(ids.imageID(for: Self.input(root, "images/a.PNG"), position: 0) == 0)
        #expect(ids.imageID(for: Self.input(root, "images/b.png"), position: 0) == 1)
    }

    /// Every input needs an id: one outside the data set is named, with the count of the others.
    @Test func inputsOutsideTheDataSetAreNamed() throws {
        let root = try Self.dataset(train: ["000000000285.png"], val: ["000000000632.jpg"])
        let ids = try COCOIdentifiers.load(dataset: root.path, classNames: ["person", "cat"])
        let inside = [Self.input(root, "val/images/000000000632.jpg"), Self.input(root, "train/images/000000000285.png")]
        #expect(try ids.imageIDs(for: inside, dataset: "D") == [632, 285])
        let outside = [ImageInput(path: "a.png", absolutePath: "/a.png"), inside[0], ImageInput(path: "b.png", absolutePath: "/b.png")]
        #expect(throws: COCOError(path: "a.png (and 1 more)", reason: "not an image of the data set D (--data), so it has no COCO image id")) {
            try ids.imageIDs(for: outside, dataset: "D")
        }
        #expect(try COCOIdentifiers.plain(classCount: 2).imageIDs(for: outside, dataset: "") == [0, 1, 2])
    }

    @Test func plainIdsArePositionsAndClassIndices() {
        let ids = COCOIdentifiers.plain(classCount: 3)
        #expect(ids.imageID(for: ImageInput(path: "a.png", absolutePath: "/a.png"), position: 7) == 7)
        #expect((0..<4).map(ids.categoryID(forClass:)) == [0, 1, 2, 3])
    }

    @Test(arguments: [
        (#"[{"id": 1, "name": "person"}]"#, "has 1 categories for the 2 classes of classes.txt"),
        (#"[{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}]"#, #"entry 1 is "dog" but class 1 of classes.txt is "cat""#),
        (#"[{"id": 1, "name": "person"}, {"id": 1, "name": "cat"}]"#, "entry 1: category id 1 appears twice"),
        (#"[{"id": "1", "name": "person"}, {"id": 2, "name": "cat"}]"#, #"entry 0 is not {"id": INTEGER, "name": STRING}"#),
        (#"[{"id": 1.5, "name": "person"}, {"id": 2, "name": "cat"}]"#, #"entry 0 is not {"id": INTEGER, "name": STRING}"#),
        (#"{"categories": []}"#, #"expected an array of {"id": N, "name": NAME}, one per class in class order"#),
        ("[{", "not JSON"),
    ])
    func badCategoriesAreErrors(json: String, reason: String) throws {
        let root = try Self.dataset(train: ["a.png"], categories: json)
        do {
            _ = try COCOIdentifiers.load(dataset: root.path, classNames: ["person", "cat"])
            Issue.record("accepted \(json)")
        } catch let error as COCOError {
            #expect(error.path == root.appendingPathComponent("categories.json").path)
            #expect(error.reason.hasPrefix(reason), "\(error)")
        }
    }

    @Test func dataSetClassesMustBeTheModels() throws {
        let root = try Self.dataset(train: ["a.png"])
        #expect(throws: COCOError(path: root.appendingPathComponent("classes.txt").path,
                                  reason: #"classes ["person", "cat"] differ from the model's ["circle", "square", "triangle"]"#)) {
            try COCOIdentifiers.load(dataset: root.path, classNames: ["circle", "square", "triangle"])
        }
        #expect(throws: COCOError(path: "/nowhere", reason: "no such data set folder")) {
            _ = try datasetImagePaths("/nowhere")
        }
    }
}
