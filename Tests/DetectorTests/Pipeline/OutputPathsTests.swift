import Foundation
import Testing
@testable import Detector

/// Where detect's outputs go: mirrored under --output so that names never
/// collide, beside the input without it, and never over an input.
@Suite struct OutputPathsTests {
    static func files(_ base: URL, _ paths: [String]) throws {
        for path in paths {
            let url = base.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data().write(to: url)
        }
    }

    static func plan(_ arguments: [String], in base: URL, output: String?, render: Bool = true, labels: Bool = true,
                     others: [(path: String, role: String)] = []) throws -> (ImageSources, OutputPlan) {
        let sources = ImageSources.expand(arguments, workingDirectory: base.path, excludedFolders: output.map { [$0] } ?? [])
        let plan = try OutputPlan(sources: sources, output: output, render: render, saveLabels: labels, otherOutputs: others,
                                  workingDirectory: base.path)
        return (sources, plan)
    }

    @Test func mirroredUnderTheOutputFolder() throws {
        let base = try Fixtures.temporaryFolder("mirror")
        try Self.files(base, ["d/a/x.png", "d/b/x.png", "d/b/deep/x.jpg", "d/top.png"])
        let (sources, plan) = try Self.plan(["d"], in: base, output: "out")
        #expect(sources.images.map(\.path) == ["d/a/x.png", "d/b/deep/x.jpg", "d/b/x.png", "d/top.png"])
        #expect(plan.targets.map(\.annotated) == ["out/a/x.detections.png", "out/b/deep/x.detections.png", "out/b/x.detections.png", "out/top.detections.png"])
        #expect(plan.targets.map(\.labels) == ["out/labels/a/x.txt", "out/labels/b/deep/x.txt", "out/labels/b/x.txt", "out/labels/top.txt"])
        #expect(plan.outputFolder == "out")
        // Two folders given: mirrored from their common folder, so their x.png stay apart.
        let (_, two) = try Self.plan(["d/a", "d/b/x.png"], in: base, output: "/abs/out", labels: false)
        #expect(two.targets.map(\.annotated) == ["/abs/out/a/x.detections.png", "/abs/out/b/x.detections.png"])
        #expect(two.targets.allSatisfy { $0.labels == nil })
    }

    @Test func besideTheInputWithoutOutput() throws {
        let base = try Fixtures.temporaryFolder("beside")
        try Self.files(base, ["d/a/x.png", "d/b.PNG", "noext"])
        let (_, plan) = try Self.plan(["d", "noext"], in: base, output: nil)
        #expect(plan.targets == [OutputTargets(annotated: "d/a/x.detections.png", labels: "d/a/x.txt"),
                                 OutputTargets(annotated: "d/b.detections.png", labels: "d/b.txt"),
                                 OutputTargets(annotated: "noext.detections.png", labels: "noext.txt")])
        #expect(plan.outputFolder == nil)
        let (_, none) = try Self.plan(["d"], in: base, output: nil, render: false, labels: false)
        #expect(none.targets.allSatisfy { $0 == OutputTargets() })
    }

    /// One image file: --output is the annotated file itself unless it is an existing folder.
    @Test func singleFileOutputIsAFileOrAFolder() throws {
        let base = try Fixtures.temporaryFolder("single")
        try Self.files(base, ["d/x.png"])
        let (_, file) = try Self.plan(["d/x.png"], in: base, output: "o/shown.png")
        #expect(file.targets == [OutputTargets(annotated: "o/shown.png", labels: "o/shown.txt")])
        #expect(file.outputFolder == nil)
        try FileManager.default.createDirectory(at: base.appendingPathComponent("folder"), withIntermediateDirectories: true)
        let (_, folder) = try Self.plan(["d/x.png"], in: base, output: "folder")
        #expect(folder.targets == [OutputTargets(annotated: "folder/x.detections.png", labels: "folder/labels/x.txt")])
        // A folder with one image is a folder: --output is a folder.
        let (_, one) = try Self.plan(["d"], in: base, output: "new")
        #expect(one.targets.map(\.annotated) == ["new/x.detections.png"] && one.outputFolder == "new")
    }

    @Test func outputFileForSeveralImagesIsRefused() throws {
        let base = try Fixtures.temporaryFolder("intofile")
        try Self.files(base, ["d/x.png", "out.png"])
        #expect(throws: OutputPlanError("--output out.png: is a file; with several images (or a folder, glob or list) it must be a folder")) {
            _ = try Self.plan(["d"], in: base, output: "out.png")
        }
    }

    /// With mirroring, only names that differ in their extension alone share an output.
    @Test func sameNameWithAnotherExtensionCollides() throws {
        let base = try Fixtures.temporaryFolder("collide")
        try Self.files(base, ["d/x.png", "d/x.jpg"])
        #expect(throws: OutputPlanError("d/x.jpg and d/x.png would both be written to out/x.detections.png; rename one of them or give them separate runs")) {
            _ = try Self.plan(["d"], in: base, output: "out")
        }
        #expect(throws: OutputPlanError("d/x.jpg and d/x.png would both be written to d/x.txt; rename one of them or give them separate runs")) {
            _ = try Self.plan(["d"], in: base, output: nil, render: false)
        }
    }

    /// Outputs never overwrite an input image or list, nor the COCO file.
    @Test func outputsNeverOverwriteInputs() throws {
        let base = try Fixtures.temporaryFolder("overwrite")
        try Self.files(base, ["d/x.png", "d/x.detections.png", "l.png", "l.txt"])
        #expect(throws: OutputPlanError("d/x.detections.png: is one of the input images or lists; the annotated copy would overwrite it")) {
            _ = try Self.plan(["d/x.png", "d/x.detections.png"], in: base, output: nil)
        }
        #expect(throws: OutputPlanError("l.txt: is one of the input images or lists; the label file would overwrite it")) {
            _ = try Self.plan(["l.png", "@l.txt"], in: base, output: nil)
        }
        #expect(throws: OutputPlanError("d/x.png: is one of the input images or lists; the annotated copy would overwrite it")) {
            _ = try Self.plan(["d/x.png"], in: base, output: "d/x.png")
        }
        #expect(throws: OutputPlanError("l.txt: is one of the input images or lists; the COCO results (--coco) would overwrite it")) {
            _ = try Self.plan(["l.png", "@l.txt"], in: base, output: "out", others: [("l.txt", "the COCO results (--coco)")])
        }
        #expect(throws: OutputPlanError("the COCO results (--coco) and d/x.png would both be written to d/x.txt; rename one of them or give them separate runs")) {
            _ = try Self.plan(["d/x.png"], in: base, output: nil, others: [("d/x.txt", "the COCO results (--coco)")])
        }
        // The folder of the inputs as --output: the copies go beside them, no input is touched.
        let (_, same) = try Self.plan(["d"], in: base, output: "d")
        #expect(same.targets.map(\.annotated) == ["d/x.detections.png"])
    }

    /// A seeded sweep: random trees in which the same names recur in many folders, given as
    /// folders, files and globs in random order; every output is distinct and none is an input.
    @Test(arguments: 0..<20)
    func mirroredOutputsNeverCollide(seed: Int) throws {
        var random = SplitMix64(seed: UInt64(seed))
        let base = try Fixtures.temporaryFolder("sweep")
        let names = ["x.png", "y.png", "x.detections.png", "z.JPG"]
        let folders = ["a", "b", "a/a", "a/b", "b/a", "c/a/b", "labels", "labels/a"]
        var created: [String] = []
        for _ in 0..<12 {
            created.append("d/" + folders[random.nextInt(below: folders.count)] + "/" + names[random.nextInt(below: names.count)])
        }
        try Self.files(base, created)
        let sources = ["d", "d/a", "d/b/*.png", "d/**/x.png", created[0], created[1]]
        let arguments = (0..<3).map { _ in sources[random.nextInt(below: sources.count)] }
        for output in ["out", "d", "d/a"] {
            let expanded: ImageSources, plan: OutputPlan
            do { (expanded, plan) = try Self.plan(arguments, in: base, output: output) } catch let error as OutputPlanError {
                // Mirrored onto the tree itself, x.png's copy is x.detections.png: refused when
                // that file was also given outright. Never a collision between two outputs.
                #expect(output != "out" && error.description.contains("is one of the input images"), "\(arguments) \(output): \(error)")
                continue
            }
            let targets = plan.targets.flatMap { [$0.annotated!, $0.labels!] }.map { absolutePath($0, workingDirectory: base.path) }
            #expect(Set(targets).count == targets.count, "\(arguments) \(output): \(targets)")
            #expect(Set(targets).isDisjoint(with: expanded.images.map(\.absolutePath)))
        }
    }

    @Test(arguments: [
        ("a/x.png", "a/x"), ("x.tar.png", "x.tar"), ("a/x", "a/x"), ("a/.x", "a/.x"), ("a.b/x", "a.b/x"), ("/x.png", "/x"),
    ])
    func extensionsAreRemovedFromTheName(path: String, expected: String) {
        #expect(removingExtension(path) == expected)
    }

    @Test func mirroredPathIsTheRestBelowTheRoot() {
        #expect(mirroredPath("/d/a/x.png", under: "/d") == "a/x.png")
        #expect(mirroredPath("/d/x.png", under: "/") == "d/x.png")
        #expect(mirroredPath("/e/x.png", under: "/d") == "x.png")
        #expect(mirroredPath("/dd/x.png", under: "/d") == "x.png")
    }
}
