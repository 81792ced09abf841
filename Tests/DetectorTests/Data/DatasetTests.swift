import Foundation
import Testing
import Detector

/// Builds data set folders from a list of (relative path, contents). The loader does not decode
/// images but reads their headers, so an image path (.png, .jpg, .jpeg) whose contents are "x"
/// gets a valid 2x2 PNG (`placeholderImage`); any other contents are written as they are.
private func makeFolder(_ files: [(String, String)]) throws -> String {
    let root = try Fixtures.temporaryFolder("dataset").path
    for (path, contents) in files {
        let url = URL(fileURLWithPath: root + "/" + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try (contents == "x" && ImageFile.isImagePath(path) ? placeholderImage : Data(contents.utf8)).write(to: url)
    }
    return root
}

/// A 2x2 black PNG: what the data set tests' image files hold.
let placeholderImage = try! PNG.encode(Image(width: 2, height: 2))

@Suite struct DatasetTests {
    @Test func splitLayoutFindsImagesByExtensionSortedWithTheirLabels() throws {
        let root = try makeFolder([
            ("classes.txt", "circle\n\n  square \ntriangle\n"),
            ("train/images/b.png", "x"), ("train/images/a.PNG", "x"), ("train/images/c.jpg", "x"),  // c.jpg holds a PNG: read by content
            ("train/images/.hidden.png", "x"),
            ("train/labels/a.txt", "2 0.5 0.5 0.2 0.2\n0 0.25 0.25 0.1 0.1\n"),
            ("train/labels/c.txt", "0 0.5 0.5 0.2 0.2\n"),
            ("val/images/v.png", "x"), ("val/labels/v.txt", "1 0.5 0.5 0.5 0.5\n"),
        ])
        let dataset = try Dataset.load(path: root)
        #expect(dataset.classNames == ["circle", "square", "triangle"])
        #expect(dataset.train.name == "train")
        #expect(dataset.train.items.map(\.imagePath) == [root + "/train/images/a.PNG", root + "/train/images/b.png", root + "/train/images/c.jpg"])
        #expect(dataset.train.items.map(\.labelPath) == [root + "/train/labels/a.txt", root + "/train/labels/b.txt", root + "/train/labels/c.txt"])
        #expect(dataset.train.items[0].objects.map(\.classIndex) == [2, 0])
        #expect(dataset.train.items[1].objects.isEmpty)  // no label file: no objects
        #expect(dataset.train.items[2].objects.map(\.classIndex) == [0])
        let validation = try #require(dataset.validation)
        #expect(validation.name == "val")
        #expect(validation.items.count == 1)
        #expect(validation.items[0].objects == [LabeledObject(classIndex: 1, box: BoundingBox(x1: 0.25, y1: 0.25, x2: 0.75, y2: 0.75))])
        #expect(dataset.warnings.isEmpty)
        #expect(dataset.skippedImages == 0)
    }

    @Test func flatLayoutIsOneTrainingSplit() throws {
        let root = try makeFolder([
            ("classes.txt", "cat\r\ndog\r\n"),
            ("images/1.png", "x"), ("images/2.png", "x"),
            ("labels/1.txt", "1 0.5 0.5 0.2 0.2\r\n\r\n0 0.5 0.5 0.1 0.1\r\n"), ("labels/2.txt", ""),
        ])
        let dataset = try Dataset.load(path: root, classNames: ["cat", "dog"])
        #expect(dataset.train.items.count == 2)
        #expect(dataset.train.items[0].objects.map(\.classIndex) == [1, 0])  // Windows line endings
        #expect(dataset.train.items[1].objects.isEmpty)  // empty label file: no objects
        #expect(dataset.validation == nil)
    }

    @Test func badLabelFilesSkipTheirImagesWithWarningsOrThrowWhenStrict() throws {
        let root = try makeFolder([
            ("classes.txt", "circle\nsquare\ntriangle\n"),
            ("train/images/1.png", "x"), ("train/images/2.png", "x"), ("train/images/3.png", "x"), ("train/images/4.png", "x"),
            ("train/labels/1.txt", "0 0.5 0.5 0.2 0.2\n"),
            ("train/labels/2.txt", "0 0.5 0.5 0.2 0.2\n3 0.5 0.5 0.2 0.2\n"),  // class beyond the list, line 2
            ("train/labels/3.txt", "0 0.5 0.5 0.2\n"),  // 4 fields, line 1
            ("val/images/9.png", "x"), ("val/labels/9.txt", "\n\n0 0.5 nan 0.2 0.2\n"),  // line 3
        ])
        let dataset = try Dataset.load(path: root)
        #expect(dataset.train.items.map { URL(fileURLWithPath: $0.imagePath).lastPathComponent } == ["1.png", "4.png"])
        #expect(dataset.train.skippedImages == 2)
        #expect(dataset.validation?.items.isEmpty == true)
        #expect(dataset.validation?.skippedImages == 1)
        #expect(dataset.skippedImages == 3)
        #expect(dataset.warnings.count == 3)
        #expect(dataset.warnings[0].hasPrefix(root + "/train/labels/2.txt:2: class id 3"))
        #expect(dataset.warnings[1].hasPrefix(root + "/train/labels/3.txt:1: expected 5 fields"))
        #expect(dataset.warnings[2].hasPrefix(root + "/val/labels/9.txt:3: cy is nan"))
        #expect(dataset.warnings.allSatisfy { $0.hasSuffix("(image skipped)") })

        let error = try #require(throws: LabelError.self) { try Dataset.load(path: root, strict: true) }
        #expect(error.file == root + "/train/labels/2.txt")
        #expect(error.line == 2)
        #expect(error.kind == .classOutOfRange)
    }

    @Test func aSplitWithoutALabelsFolderIsWarnedAbout() throws {
        let root = try makeFolder([("classes.txt", "a\n"), ("images/1.png", "x")])
        let dataset = try Dataset.load(path: root)
        #expect(dataset.train.items.count == 1)
        #expect(dataset.train.items[0].objects.isEmpty)
        #expect(dataset.warnings == ["\(root)/labels: no such folder; the 1 images of train have no objects"])
        #expect(dataset.skippedImages == 0)
    }

    @Test func unusableFoldersGiveTypedErrorsWithThePath() throws {
        func error(_ root: String, expected: [String]? = nil) throws -> DatasetError {
            try #require(throws: DatasetError.self) { try Dataset.load(path: root, classNames: expected) }
        }
        let missing = try error("/nonexistent/data")
        #expect(missing.kind == .missingFolder)
        #expect(missing.path == "/nonexistent/data")

        let noClasses = try makeFolder([("images/1.png", "x")])
        #expect(try error(noClasses).kind == .missingClasses)
        #expect(try error(noClasses).path == noClasses + "/classes.txt")

        let blankClasses = try makeFolder([("classes.txt", "\n  \n"), ("images/1.png", "x")])
        #expect(try error(blankClasses).kind == .noClasses)

        let duplicate = try makeFolder([("classes.txt", "a\nb\na\n"), ("images/1.png", "x")])
        let duplicateError = try error(duplicate)
        #expect(duplicateError.kind == .duplicateClass)
        #expect(duplicateError.description == "\(duplicate)/classes.txt: line 3: class \"a\" already named on line 1")

        let mismatch = try makeFolder([("classes.txt", "a\nb\n"), ("images/1.png", "x")])
        #expect(try error(mismatch, expected: ["b", "a"]).kind == .classMismatch)

        let noImagesFolder = try makeFolder([("classes.txt", "a\n"), ("pictures/1.png", "x")])
        #expect(try error(noImagesFolder).kind == .noImages)
        #expect(try error(noImagesFolder).path == noImagesFolder)

        let onlyGIFs = try makeFolder([("classes.txt", "a\n"), ("train/images/1.gif", "x")])
        let gifError = try error(onlyGIFs)
        #expect(gifError.kind == .noImages)
        #expect(gifError.path == onlyGIFs + "/train/images")
        #expect(gifError.reason.contains("all 1 skipped") && gifError.reason.contains("1.gif: not an image file name"), "\(gifError.reason)")

        let allBad = try makeFolder([("classes.txt", "a\n"), ("images/1.png", "x"), ("labels/1.txt", "1 0.5 0.5 0.1 0.1\n")])
        let allBadError = try error(allBad)
        #expect(allBadError.kind == .noImages)
        #expect(allBadError.reason.contains("all 1 skipped"))
    }
}
