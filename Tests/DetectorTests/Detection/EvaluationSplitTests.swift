import Foundation
import Testing
@testable import Detector

/// Which split `evaluate --split` measures, and the test/ split that `Dataset.load` does not read.
@Suite struct EvaluationSplitTests {
    /// A data set folder with the given splits (folder name → label lines per image), each
    /// image an 8 x 8 black PNG.
    func dataSet(_ splits: [String: [String]], flat: Bool = false) throws -> String {
        let root = try Fixtures.temporaryFolder("eval-split")
        try Data("circle\nsquare\n".utf8).write(to: root.appendingPathComponent("classes.txt"))
        for (split, labels) in splits {
            let folder = flat ? root : root.appendingPathComponent(split)
            for kind in ["images", "labels"] {
                try FileManager.default.createDirectory(at: folder.appendingPathComponent(kind), withIntermediateDirectories: true)
            }
            for (i, label) in labels.enumerated() {
                try PNG.write(Image(width: 8, height: 8), to: folder.appendingPathComponent("images/\(i).png").path)
                try Data(label.utf8).write(to: folder.appendingPathComponent("labels/\(i).txt"))
            }
        }
        return root.path
    }

    @Test func defaultIsValidationThenTraining() throws {
        let both = try dataSet(["train": ["0 0.5 0.5 0.2 0.2\n"], "val": ["1 0.5 0.5 0.2 0.2\n", ""]])
        let dataset = try Dataset.load(path: both)
        let chosen = try dataset.evaluationSplit(nil, data: both)
        #expect(chosen.split.name == "val" && chosen.split.items.count == 2 && chosen.note == nil)
        #expect(try dataset.evaluationSplit(.train, data: both).split.name == "train")

        let flat = try dataSet(["train": ["0 0.5 0.5 0.2 0.2\n"]], flat: true)
        let one = try Dataset.load(path: flat)
        let fallback = try one.evaluationSplit(nil, data: flat)
        #expect(fallback.split.name == "train" && fallback.note == "no validation split: evaluating the training split")
        #expect(throws: DatasetError.self) { try one.evaluationSplit(.val, data: flat) }
    }

    @Test func testSplitIsRead() throws {
        let root = try dataSet(["train": ["0 0.5 0.5 0.2 0.2\n"], "test": ["1 0.5 0.5 0.2 0.2\n0 0.2 0.2 0.1 0.1\n", "", "9 0.5 0.5 0.1 0.1\n"]])
        // A hidden file and a file that is not an image are passed over / skipped with a warning.
        try Data().write(to: URL(fileURLWithPath: root + "/test/images/.hidden.png"))
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: root + "/test/images/notes.txt"))
        let dataset = try Dataset.load(path: root)
        #expect(dataset.validation == nil)
        let chosen = try dataset.evaluationSplit(.test, data: root)
        #expect(chosen.split.name == "test")
        // 0.png (two objects) and 1.png (none); 2.png's label names class 9 of 2, notes.txt is no image.
        #expect(chosen.split.items.map { ($0.imagePath as NSString).lastPathComponent } == ["0.png", "1.png"])
        #expect(chosen.split.items[0].objects.map(\.classIndex) == [1, 0] && chosen.split.items[1].objects.isEmpty)
        #expect(chosen.split.skippedImages == 2 && chosen.warnings.count == 2, "\(chosen.warnings)")
        #expect(throws: (any Error).self) { try Dataset.loadTestSplit(root: root, classCount: 2, strict: true) }
    }

    @Test func missingTestSplitNamesTheFolder() throws {
        let root = try dataSet(["train": ["0 0.5 0.5 0.2 0.2\n"]])
        let dataset = try Dataset.load(path: root)
        let error = try #require(throws: DatasetError.self) { try dataset.evaluationSplit(.test, data: root) }
        #expect(error.path == root + "/test/images" && error.kind == .missingFolder)
        // An empty test/images/.
        try FileManager.default.createDirectory(atPath: root + "/test/images", withIntermediateDirectories: true)
        let empty = try #require(throws: DatasetError.self) { try dataset.evaluationSplit(.test, data: root) }
        #expect(empty.kind == .noImages)
    }
}
