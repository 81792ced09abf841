import Foundation
import Testing
import Detector

/// Data set folders whose paths are of the wrong kind, and classes.txt or label files that are
/// not plain text files: each an error naming the path (or a warning naming it, with the image
/// skipped and counted), never silently ignored.
@Suite struct DatasetLayoutTests {
    /// A folder from (relative path, contents) pairs; an image path whose contents are "x" gets
    /// a valid 2x2 PNG (the loader reads image headers, without decoding them).
    static func folder(_ files: [(String, String)]) throws -> String {
        let root = try Fixtures.temporaryFolder("dataset").path
        for (path, contents) in files {
            let url = URL(fileURLWithPath: root + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (contents == "x" && ImageFile.isImagePath(path) ? placeholderImage : Data(contents.utf8)).write(to: url)
        }
        return root
    }

    static let good: [(String, String)] = [
        ("classes.txt", "a\nb\n"),
        ("train/images/1.png", "x"), ("train/images/2.png", "x"), ("train/images/3.png", "x"),
        ("train/labels/1.txt", "0 0.5 0.5 0.2 0.2\n"), ("train/labels/2.txt", "1 0.5 0.5 0.2 0.2\n"),
        ("val/images/9.png", "x"), ("val/labels/9.txt", "1 0.5 0.5 0.5 0.5\n"),
    ]

    static func error(_ root: String) throws -> DatasetError {
        try #require(throws: DatasetError.self) { try Dataset.load(path: root) }
    }

    @Test(arguments: ["val", "valid"])
    func aValidationSplitThatIsAFileIsAnError(_ name: String) throws {
        let root = try Self.folder(Self.good.filter { !$0.0.hasPrefix("val/") } + [(name, "not a folder")])
        let error = try Self.error(root)
        #expect(error.kind == .notAFolder)
        #expect(error.path == root + "/" + name)
        #expect(error.description == "\(root)/\(name): is a file, not a folder (a split is a folder holding images/ and labels/)")
    }

    @Test func aValidationFolderWithoutImagesIsAnError() throws {
        let root = try Self.folder(Self.good.filter { !$0.0.hasPrefix("val/") } + [("val/1.png", "x")])
        let error = try Self.error(root)
        #expect(error.kind == .noImages)
        #expect(error.path == root + "/val")
        #expect(error.reason.hasPrefix("has no images/ folder"))
    }

    @Test func layoutFoldersOfTheWrongKindAreErrors() throws {
        // labels/ a file: not "no such folder, no objects".
        let labelsFile = try Self.folder([("classes.txt", "a\n"), ("images/1.png", "x"), ("labels", "x")])
        #expect(try Self.error(labelsFile) == DatasetError(path: labelsFile + "/labels", kind: .notAFolder,
            reason: "is a file, not a folder (label files, labels/NAME.txt for images/NAME.png)"))
        // labels/ a FIFO.
        let labelsFIFO = try Self.folder([("classes.txt", "a\n"), ("images/1.png", "x")])
        try SpecialFiles.fifo(at: labelsFIFO + "/labels")
        #expect(try Self.error(labelsFIFO).reason.hasPrefix("is a FIFO (named pipe), not a folder"))
        // train/images a file.
        let imagesFile = try Self.folder([("classes.txt", "a\n"), ("train/images", "x")])
        #expect(try Self.error(imagesFile).path == imagesFile + "/train/images")
        #expect(try Self.error(imagesFile).kind == .notAFolder)
        // The data set path a file, or a dangling link.
        let file = try Self.folder([("data", "x")]) + "/data"
        #expect(try Self.error(file).kind == .notAFolder)
        let dangling = try Self.folder([]) + "/data"
        try SpecialFiles.link(at: dangling, to: "nowhere")
        #expect(try Self.error(dangling) == DatasetError(path: dangling, kind: .brokenLink,
            reason: "is a symbolic link to \"nowhere\", which does not exist"))
    }

    @Test func ignoredFoldersAreWarnedAbout() throws {
        let both = try Self.folder(Self.good + [("valid/images/8.png", "x")])
        let dataset = try Dataset.load(path: both)
        #expect(dataset.validation?.items.map(\.imagePath) == [both + "/val/images/9.png"])
        #expect(dataset.warnings == ["\(both)/valid: ignored; \(both)/val is the validation split"])

        let flat = try Self.folder([("classes.txt", "a\n"), ("images/1.png", "x"), ("labels/1.txt", ""), ("val/images/2.png", "x")])
        let flatDataset = try Dataset.load(path: flat)
        #expect(flatDataset.validation == nil)
        #expect(flatDataset.warnings == ["\(flat)/val: ignored; with images/ directly in the data set folder there is one split (use train/ and val/)"])
    }

    /// classes.txt as a folder, FIFO, dangling link, not UTF-8, with a NUL, too large.
    @Test func classesFileProblemsSayWhatIsWrong() throws {
        func root(classes: (String) throws -> Void) throws -> String {
            let root = try Self.folder(Self.good.filter { $0.0 != "classes.txt" })
            try classes(root + "/classes.txt")
            return root
        }
        let folder = try root { try FileManager.default.createDirectory(atPath: $0, withIntermediateDirectories: false) }
        #expect(try Self.error(folder) == DatasetError(path: folder + "/classes.txt", kind: .notARegularFile,
                                                       reason: "is a folder, not a regular file"))
        let fifo = try root { try SpecialFiles.fifo(at: $0) }
        #expect(try Self.error(fifo).reason == "is a FIFO (named pipe), not a regular file")
        let dangling = try root { try SpecialFiles.link(at: $0, to: "names.txt") }
        #expect(try Self.error(dangling).kind == .brokenLink)
        let latin1 = try root { try Data(Array("cat\ncaf".utf8) + [0xE9] + [0x0A]).write(to: URL(fileURLWithPath: $0)) }
        #expect(try Self.error(latin1) == DatasetError(path: latin1 + "/classes.txt", kind: .notUTF8,
            reason: "line 2: not UTF-8 text: invalid byte sequence 0xE9 at byte offset 7 of the file (column 4 of the line)"))
        let nul = try root { try Data("cat\ndog\0\n".utf8).write(to: URL(fileURLWithPath: $0)) }
        #expect(try Self.error(nul).reason == "line 2: contains a NUL byte at column 4 (a binary or UTF-16 file?)")
        let huge = try root { try SpecialFiles.sparse(at: $0, size: maximumLabelFileBytes + 1) }
        #expect(try Self.error(huge).kind == .tooLarge)
        // A byte-order mark is not part of the first name.
        let bom = try root { try Data("\u{FEFF}a\r\nb\r\n".utf8).write(to: URL(fileURLWithPath: $0)) }
        #expect(try Dataset.load(path: bom).classNames == ["a", "b"])
    }

    /// Label files that are dangling or looping links, FIFOs or folders: the image is skipped
    /// with a warning naming the label file, and counted; strict mode throws.
    @Test func badLabelEntriesSkipTheirImagesAndAreCounted() throws {
        let root = try Self.folder(Self.good.filter { !$0.0.hasPrefix("train/labels/") })
        let labels = root + "/train/labels"
        try FileManager.default.createDirectory(atPath: labels, withIntermediateDirectories: true)
        try SpecialFiles.link(at: labels + "/1.txt", to: "/nonexistent/1.txt")
        try SpecialFiles.fifo(at: labels + "/2.txt")
        try SpecialFiles.link(at: labels + "/3.txt", to: labels + "/3.txt")
        try placeholderImage.write(to: URL(fileURLWithPath: root + "/train/images/4.png"))  // no label file: no objects
        let dataset = try Dataset.load(path: root)
        #expect(dataset.train.items.map(\.imagePath) == [root + "/train/images/4.png"])
        #expect(dataset.train.skippedImages == 3)
        #expect(dataset.warnings == [
            "\(labels)/1.txt: is a symbolic link to \"/nonexistent/1.txt\", which does not exist (image skipped)",
            "\(labels)/2.txt: is a FIFO (named pipe), not a regular file (image skipped)",
            "\(labels)/3.txt: is a symbolic link that loops (too many levels of links) (image skipped)",
        ])
        let error = try #require(throws: LabelError.self) { try Dataset.load(path: root, strict: true) }
        #expect(error.file == labels + "/1.txt")
        #expect(error.kind == .brokenLink)
    }

    /// Image entries that are not regular files (a folder or FIFO named x.png, a dangling link)
    /// are skipped with a warning before the trainer would fail on them.
    @Test func badImageEntriesAreSkippedAndCounted() throws {
        let root = try Self.folder(Self.good)
        let images = root + "/train/images"
        try FileManager.default.createDirectory(atPath: images + "/folder.png", withIntermediateDirectories: false)
        try SpecialFiles.fifo(at: images + "/pipe.png")
        try SpecialFiles.link(at: images + "/gone.png", to: "elsewhere.png")
        let dataset = try Dataset.load(path: root)
        #expect(dataset.train.items.count == 3)
        #expect(dataset.train.skippedImages == 3)
        #expect(dataset.warnings == [
            "\(images)/folder.png: is a folder, not a regular file (image skipped)",
            "\(images)/gone.png: is a symbolic link to \"elsewhere.png\", which does not exist (image skipped)",
            "\(images)/pipe.png: is a FIFO (named pipe), not a regular file (image skipped)",
        ])
        let error = try #require(throws: DatasetError.self) { try Dataset.load(path: root, strict: true) }
        #expect(error == DatasetError(path: images + "/folder.png", kind: .notARegularFile, reason: "is a folder, not a regular file"))
    }
}
