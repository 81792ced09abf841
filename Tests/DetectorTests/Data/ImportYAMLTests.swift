import Foundation
import Testing
@testable import Detector

/// Ultralytics data.yaml: the parser of the subset these files use, and `Dataset.load` given one.
@Suite struct ImportYAMLTests {
    static func parse(_ text: String) throws -> UltralyticsDataYAML { try UltralyticsDataYAML.parse(text, file: "data.yaml") }

    static func error(_ text: String) throws -> DataYAMLError {
        try #require(throws: DataYAMLError.self) { try parse(text) }
    }

    // MARK: parsing

    @Test func namesAsABlockList() throws {
        let yaml = try Self.parse("""
            # a comment
            path: ../datasets/coco8  # the root
            train: images/train
            val: images/val
            test:
            names:
              - person
              - 'traffic light'   # quoted
              - "fire # hydrant"
            """)
        #expect(yaml.path == "../datasets/coco8")
        #expect(yaml.train == ["images/train"] && yaml.val == ["images/val"] && yaml.test == [])
        #expect(yaml.names == ["person", "traffic light", "fire # hydrant"])
    }

    @Test func namesAsAMappingInAnyOrder() throws {
        let yaml = try Self.parse("train: t\nnames:\n  1: bicycle\n  0: person\n  2: car\nnc: 3\n")
        #expect(yaml.names == ["person", "bicycle", "car"])
    }

    @Test func namesAsFlowCollectionsOverSeveralLines() throws {
        // The YOLOv5-era form, and a list at the indentation of its key.
        let list = try Self.parse("train: t\nnames: ['person', 'bicycle',\n        'car']  # three\n")
        #expect(list.names == ["person", "bicycle", "car"])
        let mapping = try Self.parse("train: t\nnames: {0: a, 1: 'b, c', 2: \"d\\u00e9\"}\n")
        #expect(mapping.names == ["a", "b, c", "dé"])
        let sameIndent = try Self.parse("names:\n- it's\n- b\ntrain: [a, b]\n")
        #expect(sameIndent.train == ["a", "b"] && sameIndent.names == ["it's", "b"])
        let itemMapping = try Self.error("names:\n- a\n- x: y\ntrain: t\n")
        #expect(itemMapping.line == 3 && itemMapping.reason == "a class name is a mapping, expected a string")
        #expect(try Self.parse("train: t\nnames:\n- it's\n- \"x: y\"\n").names == ["it's", "x: y"])
    }

    @Test func ncAloneGivesNumberedClasses() throws {
        #expect(try Self.parse("train: t\nnc: 3\n").names == ["class_0", "class_1", "class_2"])
    }

    /// Everything else is skipped whatever it holds: Roboflow's nested block, a download script.
    @Test func otherKeysAreSkipped() throws {
        let yaml = try Self.parse("""
            train: ../train/images
            val: ../valid/images
            nc: 2
            names: ['a', 'b']
            roboflow:
              workspace: w
              license: CC BY 4.0
              url: https://universe.roboflow.com/w/p/1
            download: |
              import os  # it's "python"
              print('x: y')
            extra: &anchor [1, 2]
            """)
        #expect(yaml.names == ["a", "b"] && yaml.train == ["../train/images"])
    }

    @Test(arguments: [
        ("train: t\nnames: [a, b]\nnc: 3\n", 3, "\"nc\" is 3 but \"names\" (line 2) has 2 classes"),
        ("train: t\nnames:\n  0: a\n  2: b\n", 2, "the class indices of \"names\" must be 0 to 1, each once; 1 is missing (found 0, 2)"),
        ("train: t\nnames:\n  0: a\n  0: b\n", 4, "class 0 named twice (first on line 3)"),
        ("train: t\nnames:\n  zero: a\n", 3, "class index \"zero\" is not a non-negative integer (names as a mapping: 0: person)"),
        ("train: t\ntrain: u\nnames: [a]\n", 2, "key \"train\" given twice (first on line 1)"),
        ("train: t\nnames: [a, a]\n", 2, "classes 0 and 1 are both named \"a\""),
        ("train: t\nnames: []\n", 2, "\"names\" is empty: there are no classes"),
        ("train: t\n", 0, "no \"names\" (the class names) and no \"nc\""),
        ("train: t\nnames:\n\t- a\n", 3, "indented with a tab (YAML indents with spaces)"),
        ("train: t\nnames: ['a', 'b'\n", 2, "the list [ is not closed"),
        ("train: t\nnames: 'a\n", 2, "the single-quoted string does not end on this line"),
        ("train: t\nnames: *classes\n", 2, "\"names\" is an alias (*) (not read by this toolkit), expected a list of class names or a mapping {0: name}"),
        ("train: t\nnames: |\n  a\n  b\n", 2, "\"names\" is a block scalar (|) (not read by this toolkit), expected a list of class names or a mapping {0: name}"),
        ("train: t\nnames: person\n", 2, "\"names\" is a string, expected a list of class names or a mapping {0: name}"),
        ("train: t\nnames: [a]\nnc: two\n", 3, "\"nc\" is \"two\", expected a positive integer (the number of classes)"),
        ("train: {a: b}\nnames: [a]\n", 1, "\"train\" is a mapping, expected a path or a list of paths"),
        ("- a\n- b\n", 1, "expected a mapping of keys (path, train, val, names), found a list"),
        ("train: t\n  names: [a]\n", 2, "unexpected indentation (2 spaces where 0 were expected; a value over several lines is not read)"),
        ("train: t\nnames: [a]\njust text\n", 3, "expected \"key: value\", found \"just text\""),
        ("", 0, "the file is empty"),
        ("train: t\nnames: [\"a\\q\"]\n", 2, "unknown escape \\q in a double-quoted string"),
    ])
    func badFilesAreErrorsWithTheirLine(_ text: String, _ line: Int, _ reason: String) throws {
        let error = try Self.error(text)
        #expect(error.line == line, "\(error)")
        #expect(error.reason == reason)
    }

    @Test func labelPathsFollowUltralyticsRule() {
        #expect(Dataset.ultralyticsLabelPath("/d/images/train/a.png") == "/d/labels/train/a.txt")
        #expect(Dataset.ultralyticsLabelPath("/d/images/x/images/a.b.png") == "/d/images/x/labels/a.b.txt")
        #expect(Dataset.ultralyticsLabelPath("/d/pictures/a.png") == "/d/pictures/a.txt")
        #expect(Dataset.normalisedPath("/a/./b/../c") == "/a/c")
        #expect(Dataset.normalisedPath("../x/./y/..") == "../x")
    }

    // MARK: loading

    /// The YOLO layout through a data.yaml gives the same value as the folder itself.
    @Test func aDataYAMLLoadsTheSameDatasetAsTheFolder() throws {
        let root = try DatasetLayoutTests.folder(DatasetLayoutTests.good + [
            ("data.yaml", "train: train/images\nval: val/images\nnames:\n  0: a\n  1: b\n"),
        ])
        let fromFolder = try Dataset.load(path: root)
        let fromYAML = try Dataset.load(path: root + "/data.yaml")
        #expect(fromYAML.classNames == fromFolder.classNames)
        #expect(fromYAML.train == fromFolder.train)
        #expect(fromYAML.validation == fromFolder.validation)
        #expect(fromYAML.root == root)
        #expect(fromYAML.warnings == fromFolder.warnings)
    }

    /// Ultralytics' own layout (coco8): images/train and labels/train side by side, `path`
    /// relative to the YAML file, images listed recursively.
    @Test func ultralyticsLayoutWithARelativePath() throws {
        let base = try DatasetLayoutTests.folder([
            ("cfg/coco8.yaml", "path: ../sets/coco8\ntrain: images/train\nval: images/val\nnames: [person]\n"),
            ("sets/coco8/images/train/1.png", "x"), ("sets/coco8/images/train/deeper/2.png", "x"), ("sets/coco8/images/train/3.gif", "x"),
            ("sets/coco8/labels/train/1.txt", "0 0.5 0.5 0.1 0.1\n"), ("sets/coco8/labels/train/deeper/2.txt", "0 0.5 0.5 0.2 0.2\n"),
            ("sets/coco8/images/val/9.png", "x"),
        ])
        let dataset = try Dataset.load(path: base + "/cfg/coco8.yaml")
        #expect(dataset.root == base + "/sets/coco8")
        #expect(dataset.classNames == ["person"])
        #expect(dataset.train.items.map(\.imagePath) == [base + "/sets/coco8/images/train/1.png", base + "/sets/coco8/images/train/deeper/2.png"])
        #expect(dataset.train.items.map(\.labelPath) == [base + "/sets/coco8/labels/train/1.txt", base + "/sets/coco8/labels/train/deeper/2.txt"])
        #expect(dataset.train.items.map { $0.objects.count } == [1, 1])
        #expect(dataset.validation?.items.count == 1)
        #expect(dataset.warnings.contains("train: 1 image files that are not PNG or JPEG ignored (only PNG and JPEG images are read)"))
        #expect(dataset.warnings.contains { $0.hasPrefix("val: none of the 1 images has a label file (the label of \(base)/sets/coco8/images/val/9.png would be \(base)/sets/coco8/labels/val/9.txt)") })
    }

    /// Roboflow's YOLOv5 export: no path, `train: ../train/images` meant relative to the file's
    /// folder (Ultralytics drops the ../ when the path does not exist).
    @Test func roboflowsDotDotPathsAndTextLists() throws {
        let base = try DatasetLayoutTests.folder([
            ("set/data.yaml", "train: ../train/images\nval: lists/val.txt\nnc: 1\nnames: ['thing']\n"),
            ("set/train/images/a.png", "x"), ("set/train/labels/a.txt", "0 0.5 0.5 0.5 0.5\n"),
            ("set/lists/val.txt", "# validation\n./../valid/images/b.png\n\n/nonexistent-absolute-is-kept/c.png\n"),
            ("set/valid/images/b.png", "x"),
        ])
        let dataset = try Dataset.load(path: base + "/set/data.yaml")
        #expect(dataset.train.items.map(\.imagePath) == [base + "/set/train/images/a.png"])
        #expect(dataset.train.items[0].objects.count == 1)
        #expect(dataset.validation?.items.map(\.imagePath) == [base + "/set/valid/images/b.png"])
        #expect(dataset.validation?.skippedImages == 1)  // the absolute path that does not exist
        #expect(throws: DatasetError.self) { try Dataset.load(path: base + "/set/data.yaml", strict: true) }
    }

    @Test func missingPartsAreErrorsNamingTheFileAndKey() throws {
        let base = try DatasetLayoutTests.folder([
            ("a.yaml", "train: nowhere\nnames: [x]\n"),
            ("b.yaml", "path: gone\ntrain: t\nnames: [x]\n"),
            ("c.yaml", "names: [x]\n"),
            ("d.yaml", "train: imgs\nnames: [x]\n"), ("imgs/1.png", "x"), ("labels-elsewhere/1.txt", "5 0.5 0.5 0.1 0.1\n"),
            ("e.yaml", "train: imgs\nnames: [x, y]\n"), ("imgs/1.txt", "3 0.5 0.5 0.1 0.1\n"),
        ])
        let a = try #require(throws: DatasetError.self) { try Dataset.load(path: base + "/a.yaml") }
        #expect(a.description == "\(base)/nowhere: no such folder or file (\"train\" on line 1 of \(base)/a.yaml)")
        let b = try #require(throws: DatasetError.self) { try Dataset.load(path: base + "/b.yaml") }
        #expect(b.kind == .missingFolder && b.path == base + "/gone")
        let c = try #require(throws: DataYAMLError.self) { try Dataset.load(path: base + "/c.yaml") }
        #expect(c.reason.hasPrefix("no \"train\""))
        // Labels beside the images (no /images/ in the path): class 3 of 2 is a label error.
        let e = try #require(throws: LabelError.self) { try Dataset.load(path: base + "/e.yaml", strict: true) }
        #expect(e.file == base + "/imgs/1.txt" && e.kind == .classOutOfRange)
        let expected = try #require(throws: DatasetError.self) { try Dataset.load(path: base + "/d.yaml", classNames: ["y"]) }
        #expect(expected.kind == .classMismatch)
        let missingFile = try #require(throws: DataYAMLError.self) { try Dataset.load(path: base + "/none.yaml") }
        #expect(missingFile.reason.hasPrefix("no such file"))
    }

    /// The commands take a data.yaml wherever they take a data set folder.
    @Test func theCommandsAcceptADataYAML() throws {
        let root = try DatasetLayoutTests.folder([
            ("data.yaml", "train: images\nnames: [circle, square, triangle]\n"), ("labels/a.txt", "0 0.5 0.5 0.25 0.25\n1 0.3 0.3 0.2 0.2\n"),
        ])
        try PNG.write(Image(width: 64, height: 64), to: root + "/images/a.png")
        let config = repositoryRoot.appendingPathComponent("models/tiny-dsc.json").path
        let result = try runCommand("train-detector", ["anchors", "2", "--data", root + "/data.yaml", "--config", config])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("mean IoU of 2 boxes"))
    }
}
