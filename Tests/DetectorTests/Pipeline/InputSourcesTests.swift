import Foundation
import Testing
@testable import Detector

/// Expanding detect's sources: folders, globs, @lists, duplicates. The files are
/// empty: expansion never reads an image.
@Suite struct InputSourcesTests {
    /// A tree under a fresh folder `base`, with the sources relative to it:
    ///
    ///     tree/a/x.png  tree/a/y.jpg  tree/a/deep/z.JPEG  tree/b/x.png  tree/broken.png -> nowhere
    ///     tree/a/notes.txt  tree/a/.hidden.png  tree/a/x.detections.png  tree/.secret/s.png
    ///     tree/a/loop -> ..  (back to tree)      tree/c/readme.txt (no images)
    static func tree() throws -> URL {
        let base = try Fixtures.temporaryFolder("sources")
        let files = FileManager.default
        for folder in ["tree/a/deep", "tree/b", "tree/c", "tree/.secret"] {
            try files.createDirectory(at: base.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        for file in ["tree/a/x.png", "tree/a/y.jpg", "tree/a/deep/z.JPEG", "tree/b/x.png", "tree/a/notes.txt", "tree/a/.hidden.png",
                     "tree/a/x.detections.png", "tree/.secret/s.png", "tree/c/readme.txt"] {
            try Data().write(to: base.appendingPathComponent(file))
        }
        try SpecialFiles.link(at: base.appendingPathComponent("tree/a/loop").path, to: "..")
        try SpecialFiles.link(at: base.appendingPathComponent("tree/broken.png").path, to: "nowhere.png")
        return base
    }

    static func paths(_ sources: ImageSources) -> [String] { sources.images.map(\.path) }

    /// Nested folders in path order; hidden entries, non-images and annotated copies left
    /// out; the link back up to tree/ is not followed round; a dangling image link kept (its
    /// reader reports it).
    @Test func folderIsSearchedRecursivelyInPathOrder() throws {
        let base = try Self.tree()
        let sources = ImageSources.expand(["tree"], workingDirectory: base.path)
        #expect(Self.paths(sources) == ["tree/a/deep/z.JPEG", "tree/a/x.png", "tree/a/y.jpg", "tree/b/x.png", "tree/broken.png"])
        #expect(sources.errors.isEmpty)
        #expect(sources.root == base.appendingPathComponent("tree").path)
        #expect(!sources.isSingleFile)
        #expect(sources.images[1].absolutePath == base.appendingPathComponent("tree/a/x.png").path)
        // A trailing slash, and an absolute path, give the same files.
        #expect(Self.paths(ImageSources.expand(["tree/"], workingDirectory: base.path)).first == "tree/a/deep/z.JPEG")
        let absolute = ImageSources.expand([base.appendingPathComponent("tree").path], workingDirectory: "/")
        #expect(absolute.images.map(\.absolutePath) == sources.images.map(\.absolutePath))
    }

    /// A link loop deeper down (a folder that links to itself and to its parent) still ends.
    @Test func linkLoopsEnd() throws {
        let base = try Fixtures.temporaryFolder("loops")
        let deep = base.appendingPathComponent("p/q")
        try FileManager.default.createDirectory(at: deep, withIntermediateDirectories: true)
        try Data().write(to: deep.appendingPathComponent("i.png"))
        try SpecialFiles.link(at: deep.appendingPathComponent("self").path, to: ".")
        try SpecialFiles.link(at: deep.appendingPathComponent("up").path, to: "../..")
        try SpecialFiles.link(at: base.appendingPathComponent("p/cycle").path, to: "cycle")   // loops onto itself
        let sources = ImageSources.expand(["p"], workingDirectory: base.path)
        #expect(Self.paths(sources) == ["p/q/i.png"])
        #expect(Self.paths(ImageSources.expand(["p/**/*.png"], workingDirectory: base.path)) == ["p/q/i.png"])
    }

    /// A link to a folder outside the one given is followed (a folder of links to images
    /// elsewhere is a data set too); what it leads to already seen is not taken twice, a
    /// dangling link included (it is identified by its folder's real path and its name).
    @Test func linksOutwardAreFollowed() throws {
        let base = try Self.tree()
        let sources = ImageSources.expand(["tree/b", "tree/broken.png", "tree/a"], workingDirectory: base.path)
        #expect(Self.paths(sources) == ["tree/b/x.png", "tree/broken.png", "tree/a/deep/z.JPEG", "tree/a/x.png", "tree/a/y.jpg"])
        let alone = ImageSources.expand(["tree/a"], workingDirectory: base.path)
        #expect(Self.paths(alone) == ["tree/a/deep/z.JPEG", "tree/a/loop/b/x.png", "tree/a/loop/broken.png", "tree/a/x.png", "tree/a/y.jpg"])
    }

    @Test func folderWithoutImagesIsAnError() throws {
        let base = try Self.tree()
        let sources = ImageSources.expand(["tree/c", "tree/b"], workingDirectory: base.path)
        #expect(Self.paths(sources) == ["tree/b/x.png"])
        #expect(sources.errors.map(\.description) == ["tree/c: no images in the folder (.png .jpg .jpeg)"])
    }

    @Test(arguments: [
        ("tree/*/x.png", ["tree/a/x.png", "tree/b/x.png"]),
        ("tree/a/*", ["tree/a/x.png", "tree/a/y.jpg"]),   // not notes.txt, .hidden.png, x.detections.png; deep/ not searched
        ("tree/**/*.png", ["tree/a/x.png", "tree/b/x.png", "tree/broken.png"]),   // ** is zero or more folders
        ("tree/**/z.JPEG", ["tree/a/deep/z.JPEG"]),
        ("tree/**", ["tree/a/deep/z.JPEG", "tree/a/x.png", "tree/a/y.jpg", "tree/b/x.png", "tree/broken.png"]),
        ("**/deep/*.JPEG", ["tree/a/deep/z.JPEG"]),
        ("tree/[ab]/?.png", ["tree/a/x.png", "tree/b/x.png"]),
        ("tree/.secret/*.png", ["tree/.secret/s.png"]),   // a hidden folder named outright is entered
        ("tree/a/x.png", ["tree/a/x.png"]),   // no wildcard: the file
    ])
    func globs(pattern: String, expected: [String]) throws {
        let base = try Self.tree()
        let sources = ImageSources.expand([pattern], workingDirectory: base.path)
        #expect(Self.paths(sources) == expected)
        #expect(sources.errors.isEmpty)
    }

    @Test func globAnchorsTheRootAtItsLiteralFolders() throws {
        let base = try Self.tree()
        #expect(ImageSources.expand(["tree/a/*.png"], workingDirectory: base.path).root == base.appendingPathComponent("tree/a").path)
        #expect(ImageSources.expand(["tree/**/*.png"], workingDirectory: base.path).root == base.appendingPathComponent("tree").path)
        let absolute = base.appendingPathComponent("tree/*/x.png").path
        let sources = ImageSources.expand([absolute], workingDirectory: "/")
        #expect(sources.images.map(\.path) == ["a", "b"].map { base.appendingPathComponent("tree/\($0)/x.png").path })
        #expect(sources.root == base.appendingPathComponent("tree").path)
    }

    @Test(arguments: ["tree/*.gif", "tree/*/nothing.png", "nowhere/**/*.png", "tree/c/*"])
    func globMatchingNothingIsAnError(pattern: String) throws {
        let base = try Self.tree()
        let sources = ImageSources.expand([pattern, "tree/b/x.png"], workingDirectory: base.path)
        #expect(Self.paths(sources) == ["tree/b/x.png"])
        #expect(sources.errors == [SourceError(source: pattern, reason: "no image matches the pattern (.png .jpg .jpeg)")])
    }

    /// A file named with a wildcard is itself when it exists.
    @Test func existingNameWithWildcardsIsAFile() throws {
        let base = try Fixtures.temporaryFolder("brackets")
        try Data().write(to: base.appendingPathComponent("photo[1].png"))
        try Data().write(to: base.appendingPathComponent("photo1.png"))
        let sources = ImageSources.expand(["photo[1].png"], workingDirectory: base.path)
        #expect(Self.paths(sources) == ["photo[1].png"] && sources.isSingleFile)
    }

    /// A list: comments, blank lines, spaces and CRLF line ends; entries that are files,
    /// folders and globs, relative to the working directory (not to the list's folder), a
    /// missing entry kept for its reader to report.
    @Test func listWithCommentsAndRelativePaths() throws {
        let base = try Self.tree()
        try FileManager.default.createDirectory(at: base.appendingPathComponent("lists"), withIntermediateDirectories: true)
        try Data().write(to: base.appendingPathComponent("lists/beside-the-list.png"))
        let list = "# images to label\r\n\r\n  tree/b/x.png  \r\ntree/a/deep\r\n   # indented comment\r\ntree/*/x.png\r\nbeside-the-list.png\r\n"
        try Data(list.utf8).write(to: base.appendingPathComponent("lists/l.txt"))
        let sources = ImageSources.expand(["@lists/l.txt"], workingDirectory: base.path)
        #expect(Self.paths(sources) == ["tree/b/x.png", "tree/a/deep/z.JPEG", "tree/a/x.png", "beside-the-list.png"])
        #expect(sources.images.last?.absolutePath == base.appendingPathComponent("beside-the-list.png").path)
        #expect(sources.errors.isEmpty)
        #expect(sources.listFiles == [base.appendingPathComponent("lists/l.txt").path])
        #expect(!sources.isSingleFile)
        // From another working directory the same list names other files: paths are as typed.
        let elsewhere = ImageSources.expand([base.appendingPathComponent("lists/l.txt").path].map { "@" + $0 },
                                            workingDirectory: base.appendingPathComponent("lists").path)
        #expect(Self.paths(elsewhere) == ["tree/b/x.png", "tree/a/deep", "beside-the-list.png"])
        #expect(elsewhere.errors.map(\.source) == ["tree/*/x.png"])
    }

    @Test func badListsAreErrors() throws {
        let base = try Fixtures.temporaryFolder("lists")
        try Data("# nothing but comments\n\n".utf8).write(to: base.appendingPathComponent("empty.txt"))
        try Data([0x61, 0x2E, 0x70, 0x6E, 0x67, 0x0A, 0xFF, 0x0A]).write(to: base.appendingPathComponent("binary.txt"))
        let sources = ImageSources.expand(["@missing.txt", "@empty.txt", "@binary.txt"], workingDirectory: base.path)
        #expect(sources.errors.map(\.description) == [
            "@missing.txt: no such list file",
            "@empty.txt: the list names no image (blank lines and # comments are skipped)",
            "@binary.txt, line 2: not UTF-8 text: invalid byte sequence 0xFF at byte offset 6 of the file (column 1 of the line)",
        ])
        #expect(sources.images.isEmpty)
        // `./@name` is a file whose name starts with '@'; a lone '@' is a file too.
        #expect(Self.paths(ImageSources.expand(["./@x.png", "@"], workingDirectory: base.path)) == ["./@x.png", "@"])
    }

    /// The same file through another spelling, a link, a folder, a glob or a list: once, at
    /// its first place.
    @Test func duplicatesAreProcessedOnce() throws {
        let base = try Self.tree()
        try FileManager.default.removeItem(at: base.appendingPathComponent("tree/a/loop"))   // see linksOutwardAreFollowed
        try SpecialFiles.link(at: base.appendingPathComponent("link.png").path, to: "tree/a/x.png")
        try Data("tree/b/x.png\n".utf8).write(to: base.appendingPathComponent("l.txt"))
        let sources = ImageSources.expand(["tree/a/x.png", "./tree/a/x.png", "link.png", "tree/a/../a/x.png", "tree/a", "tree/*/x.png", "@l.txt", "tree/b"],
                                          workingDirectory: base.path)
        #expect(Self.paths(sources) == ["tree/a/x.png", "tree/a/deep/z.JPEG", "tree/a/y.jpg", "tree/b/x.png"])
        #expect(sources.errors.isEmpty)   // a folder whose images all came before is not "without images"
        // A missing file given twice is one entry, reported once when read.
        #expect(Self.paths(ImageSources.expand(["gone.png", "./gone.png"], workingDirectory: base.path)) == ["gone.png"])
    }

    @Test func singleFileIsOneFileArgument() throws {
        let base = try Self.tree()
        func single(_ arguments: [String]) -> Bool { ImageSources.expand(arguments, workingDirectory: base.path).isSingleFile }
        #expect(single(["tree/a/x.png"]))
        #expect(single(["missing.png"]))
        #expect(!single(["tree/b"]))   // a folder of one image is still a folder
        #expect(!single(["tree/b/*.png"]))
        #expect(!single(["tree/a/x.png", "tree/b/x.png"]))
        #expect(!single(["tree/a/x.png", "tree/a/x.png"]))
    }

    /// The output folder inside an input folder is not searched; a folder given is searched
    /// even when it is the output folder.
    @Test func excludedFoldersAreNotEntered() throws {
        let base = try Self.tree()
        let tree = ImageSources.expand(["tree"], workingDirectory: base.path, excludedFolders: ["tree/a"])
        #expect(Self.paths(tree) == ["tree/b/x.png", "tree/broken.png"])
        let glob = ImageSources.expand(["tree/**/*.png"], workingDirectory: base.path, excludedFolders: [base.appendingPathComponent("tree/a").path])
        #expect(Self.paths(glob) == ["tree/b/x.png", "tree/broken.png"])
        #expect(Self.paths(ImageSources.expand(["tree/b"], workingDirectory: base.path, excludedFolders: ["tree/b"])) == ["tree/b/x.png"])
    }

    @Test func rootIsTheDeepestCommonFolder() throws {
        let base = try Self.tree()
        func root(_ arguments: [String]) -> String { ImageSources.expand(arguments, workingDirectory: base.path).root }
        #expect(root(["tree/a/x.png"]) == base.appendingPathComponent("tree/a").path)
        #expect(root(["tree/a/x.png", "tree/a/deep/z.JPEG"]) == base.appendingPathComponent("tree/a").path)
        #expect(root(["tree/a/x.png", "tree/b/x.png"]) == base.appendingPathComponent("tree").path)
        #expect(root(["tree/a", "tree/b"]) == base.appendingPathComponent("tree").path)
        #expect(root(["tree/a/deep", "tree/a/x.png"]) == base.appendingPathComponent("tree/a").path)
        #expect(commonFolder(["/x/y", "/z"]) == "/" && commonFolder([]) == "/" && commonFolder(["/ab", "/a"]) == "/")
    }

    @Test(arguments: [
        ("a.png", true), ("a.PNG", true), ("a.Jpg", true), ("a.jpeg", true), ("a.JPEG", true), ("a.b.png", true),
        ("a.gif", false), ("a.txt", false), ("png", false), (".png", false), ("a.png.txt", false), ("a.", false),
    ])
    func imageExtensions(name: String, isImage: Bool) {
        #expect(hasImageFileExtension(name) == isImage)
    }

    @Test(arguments: [
        ("a/../b/./c", "/w", "/w/b/c"), ("/x/..", "/w", "/"), ("../..", "/w", "/"), ("x//y/", "/w", "/w/x/y"),
        ("/abs", "/w", "/abs"), (".", "/w/v", "/w/v"),
    ])
    func absolutePaths(path: String, workingDirectory: String, expected: String) {
        #expect(absolutePath(path, workingDirectory: workingDirectory) == expected)
    }
}
