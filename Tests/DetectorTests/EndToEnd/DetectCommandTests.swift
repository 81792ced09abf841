import Foundation
import Testing
import Detector
import CommandSupport

/// `detect`'s command line and output from the built binary: names that try to
/// forge output lines, names that begin with '-', out-of-range numbers, and errors that
/// name the file.
@Suite(.serialized) struct DetectCommandTests {
    /// An untrained network whose classes are names that would forge lines if printed as
    /// they are; with --conf 0 it reports boxes of every kind, which is all these tests need.
    static let forgingModel: URL = {
        let names = ["a\nsquare 0.999 1.0 2.0 3.0 4.0", "# fake.png (1x1): 0 detections", "\u{202E}elcric"]
        let classes = String(decoding: try! JSONSerialization.data(withJSONObject: names), as: UTF8.self)
        let json = tinyConfigJSON.replacingOccurrences(of: #"["circle", "square", "triangle"]"#, with: classes)
        let config = try! ModelConfig.decode(Data(json.utf8), source: "forging")
        let network = try! Network(config: config, seed: 3)
        let path = try! Fixtures.temporaryFolder("forging-model").appendingPathComponent("m.safetensors")
        try! Checkpoint.save(parameters: network.parameters, configJSON: config.jsonString(), to: path.path)
        return path
    }()

    /// A text line split into its class (decoded when quoted) and its five numbers; nil when
    /// the line is not of that form.
    static func parse(_ line: Substring) -> (name: String, numbers: [Double])? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 6 else { return nil }
        let numbers = fields.suffix(5).compactMap { Double($0) }
        guard numbers.count == 5 else { return nil }
        let field = fields.dropLast(5).joined(separator: " ")
        guard field.hasPrefix("\"") else { return (field, numbers) }
        guard let name = try? JSONSerialization.jsonObject(with: Data(field.utf8), options: .fragmentsAllowed) as? String else { return nil }
        return (name, numbers)
    }

    /// An image named with a newline and a fake detection, and class names with a newline, a
    /// leading '#' and a bidirectional override: the text output has exactly one line per
    /// detection (as many as the JSON output has), each of the form `class score x1 y1 x2 y2`
    /// with the real class name, and one quoted header per image; the JSON output is valid
    /// and gives back the exact names.
    @Test func namesCannotForgeLines() throws {
        let folder = try Fixtures.temporaryFolder("forge")
        let forged = folder.appendingPathComponent("x\nsquare 0.999 1.0 2.0 3.0 4.0.png").path
        let plain = folder.appendingPathComponent("plain.png").path
        for path in [forged, plain] { try PNG.write(tinySamples(count: 1)[0].image, to: path) }
        let arguments = [forged, plain, "--model", Self.forgingModel.path, "--conf", "0", "--max-det", "20", "--no-render"]
        let text = try runCommand("detect", arguments)
        let json = try runCommand("detect", arguments + ["--json"])
        #expect(text.status == 0 && json.status == 0, "\(text.err) \(json.err)")
        let objects = try json.out.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.map { $0["image"] as? String } == [forged, plain])
        let jsonClasses = objects.flatMap { ($0["detections"] as? [[String: Any]] ?? []).map { $0["class"] as? String } }
        #expect(jsonClasses.count == 40, "\(json.out)")

        let lines = text.out.split(separator: "\n", omittingEmptySubsequences: false).dropLast()   // the final newline
        let headers = lines.filter { $0.hasPrefix("# ") }
        #expect(headers == ["# \"\(folder.path)/x\\nsquare 0.999 1.0 2.0 3.0 4.0.png\" (256x256): 20 detections",
                            "# \(plain) (256x256): 20 detections"], "\(text.out)")
        let detections = lines.filter { !$0.hasPrefix("# ") }
        let parsed = detections.map(Self.parse)
        #expect(parsed.allSatisfy { $0 != nil }, "\(text.out)")
        #expect(parsed.map { $0?.name } == jsonClasses)
        #expect(!lines.contains("square 0.999 1.0 2.0 3.0 4.0"))
        // Every class shows up quoted: each name is one of the three that need it.
        #expect(detections.allSatisfy { $0.hasPrefix("\"") }, "\(text.out)")
    }

    /// `-leading-dash.png` is refused as an unknown option (ArgumentParser alone read it as
    /// -l -e -a -d -i -n -g ... -h and printed the help with status 0); after `--` it is an image.
    @Test func leadingDashNeedsTheTerminator() throws {
        let folder = try Fixtures.temporaryFolder("dash")
        try PNG.write(tinySamples(count: 1)[0].image, to: folder.appendingPathComponent("-leading-dash.png").path)
        let refused = try runCommand("detect", ["-leading-dash.png", "--model", CommandTests.model.path], in: folder)
        #expect(refused.status == 1)
        #expect(refused.err.contains("unknown option '-leading-dash.png'") && refused.err.contains("detect -- -leading-dash.png"), "\(refused.err)")
        #expect(!refused.out.contains("OVERVIEW") && !refused.out.contains("USAGE"))
        let accepted = try runCommand("detect", ["--model", CommandTests.model.path, "--conf", "0.01", "--", "-leading-dash.png"], in: folder)
        #expect(accepted.status == 0, "\(accepted.err)")
        #expect(!accepted.out.isEmpty && accepted.out.split(separator: "\n").allSatisfy { Self.parse($0) != nil }, "\(accepted.out)")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("-leading-dash.detections.png").path))
    }

    /// Unknown options exit non-zero with a message naming them, never with the help and 0;
    /// a value that begins with '-' is told to use '='. Checked against what ArgumentParser
    /// does by itself for the long forms (status 1, "Unknown option").
    @Test(arguments: [
        (["a.png", "--bogus"], "Unknown option '--bogus'"),
        (["--bogus"], "Unknown option '--bogus'"),
        (["-x"], "unknown option '-x'"),
        (["-x.png"], "unknown option '-x.png'"),
        (["-hx"], "unknown option '-hx'"),
        (["a.png", "-help.png"], "unknown option '-help.png'"),
        (["a.png", "--conf", "-0.5"], "'-0.5' after --conf: a value that begins with '-' is written --conf=-0.5"),
        (["a.png", "--output", "-h.png"], "'-h.png' after --output"),
    ])
    func unknownOptionsAreErrors(arguments: [String], message: String) throws {
        let r = try runCommand("detect", arguments)
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.contains(message), "\(r.err)")
        #expect(!r.out.contains("OVERVIEW"))
    }

    /// Every numeric option is range-checked before any file is read (no model is given, and
    /// a.png does not exist): NaN and infinities included.
    @Test(arguments: [
        ("--conf", "nan"), ("--conf", "inf"), ("--conf", "-0.01"), ("--conf", "1.01"),
        ("--iou", "nan"), ("--iou", "-inf"), ("--iou", "-0.5"), ("--iou", "2"),
        ("--max-det", "0"), ("--max-det", "-3"), ("--max-det", "100001"),
    ])
    func numbersOutOfRangeAreRefused(option: String, value: String) throws {
        let r = try runCommand("detect", ["a.png", "\(option)=\(value)"])
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.contains("\(option) must be in"), "\(r.err)")
    }

    /// The ends of each range are accepted.
    @Test func rangeEndsAreAccepted() throws {
        let folder = try Fixtures.temporaryFolder("range")
        let image = folder.appendingPathComponent("a.png").path
        try PNG.write(tinySamples(count: 1)[0].image, to: image)
        for arguments in [["--conf", "0", "--iou", "1"], ["--conf", "1", "--iou", "0"], ["--max-det", "1"], ["--max-det", "100000"]] {
            let r = try runCommand("detect", [image, "--model", CommandTests.model.path, "--no-render"] + arguments)
            #expect(r.status == 0, "\(arguments): \(r.err)")
        }
    }

    @Test func helpDocumentsTheTerminatorRangesAndLookup() throws {
        let r = try runCommand("detect", ["--help"])
        #expect(r.status == 0)
        let words = r.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")   // help wraps lines
        for text in ["detect -- -leading-dash.png", "[0, 1]", "in [1, 100000]", "$DETECTOR_SHARE", "$DETECTOR_MODEL",
                     "Exit status", "detect [<options>] -- <images> ..."] {
            #expect(words.contains(text), "\(text)")
        }
        // The usage line is written out by hand (see Detect.configuration): it must name every option.
        let usage = try #require(r.out.split(separator: "\n").first { $0.hasPrefix("USAGE: ") })
        let options = r.out.split(separator: "\n").compactMap { line -> String? in
            let word = line.drop { $0 == " " }.prefix { $0 != " " }
            return line.hasPrefix("  --") && word != "--help" ? String(word) : nil
        }
        #expect(options.count == 14, "\(options)")
        for option in options { #expect(usage.contains("[\(option)"), "\(option)") }
    }

    /// Without a model anywhere, the message lists where it looked: DETECTOR_SHARE's folder,
    /// and not /usr/local/share/detector, which DETECTOR_SHARE replaces.
    @Test func missingModelListsWhereItLooked() throws {
        let folder = try Fixtures.temporaryFolder("nomodel")
        let binary = folder.appendingPathComponent("detect")
        try FileManager.default.copyItem(at: productsFolder.appendingPathComponent("detect"), to: binary)   // outside the repository
        let r = try runExecutable(binary, ["a.png"], in: folder)
        #expect(r.status == 1)
        #expect(r.err.contains("none found") && r.err.contains(emptyShareFolder.appendingPathComponent(shippedModelName).path), "\(r.err)")
        #expect(!r.err.contains("/usr/local"), "\(r.err)")
        let fromEnvironment = try runExecutable(binary, ["a.png"], in: folder, environment: ["DETECTOR_MODEL": "/nowhere/m.safetensors"])
        #expect(fromEnvironment.status == 1)
        #expect(fromEnvironment.err.contains("$DETECTOR_MODEL") && fromEnvironment.err.contains("/nowhere/m.safetensors: no such file"),
                "\(fromEnvironment.err)")
    }

    /// Output problems are found before any image is read, name the file and exit 1: several
    /// images into a file, two images into one annotated file (only names that differ in their
    /// extension can: the input folders are mirrored), an output that is an input.
    @Test func outputProblemsNameTheFile() throws {
        let folder = try Fixtures.temporaryFolder("outputs")
        let files = FileManager.default
        for sub in ["a", "b"] { try files.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true) }
        let a = folder.appendingPathComponent("a/x.png").path, b = folder.appendingPathComponent("b/x.png").path
        for path in [a, b] { try PNG.write(Image(width: 8, height: 8), to: path) }
        let model = CommandTests.model.path
        let file = folder.appendingPathComponent("out.png").path
        try Data().write(to: URL(fileURLWithPath: file))
        let intoFile = try runCommand("detect", [a, b, "--model", model, "--output", file])
        #expect(intoFile.status == 1 && intoFile.err.contains("--output \(file): is a file"), "\(intoFile.err)")
        let same = folder.appendingPathComponent("out").path
        let jpeg = folder.appendingPathComponent("a/x.jpg").path
        try Data().write(to: URL(fileURLWithPath: jpeg))
        let clash = try runCommand("detect", [a, jpeg, "--model", model, "--output", same])
        #expect(clash.status == 1 && clash.err.contains("\(a) and \(jpeg) would both be written to \(same)/x.detections.png"), "\(clash.err)")
        #expect(clash.out.isEmpty)
        let overwrite = try runCommand("detect", [a, "--model", model, "--output", a])
        #expect(overwrite.status == 1 && overwrite.err.contains("\(a): is one of the input images"), "\(overwrite.err)")
        // A missing folder for several images is created, each image written into it, the
        // inputs' folders mirrored: a/x.png and b/x.png do not collide.
        let c = folder.appendingPathComponent("c.png").path
        try PNG.write(Image(width: 8, height: 8), to: c)
        let fresh = folder.appendingPathComponent("new/deeper").path
        let created = try runCommand("detect", [a, b, c, "--model", model, "--output", fresh])
        #expect(created.status == 0, "\(created.err)")
        for name in ["a/x", "b/x", "c"] { #expect(files.fileExists(atPath: "\(fresh)/\(name).detections.png"), "\(name)") }
    }

    // MARK: - Sources and outputs

    /// A tree of images for the source and output tests, under `base`:
    ///
    ///     tree/a/x.png  tree/b/x.png  tree/b/sub/y.png  tree/.hidden/h.png  tree/notes.txt
    ///     tree/a/loop -> ..
    static func imageTree(_ label: String) throws -> URL {
        let base = try Fixtures.temporaryFolder(label)
        let samples = tinySamples(count: 3)
        for (k, path) in ["tree/a/x.png", "tree/b/x.png", "tree/b/sub/y.png", "tree/.hidden/h.png"].enumerated() {
            let url = base.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try PNG.write(samples[k % 3].image, to: url.path)
        }
        try Data("not an image\n".utf8).write(to: base.appendingPathComponent("tree/notes.txt"))
        try SpecialFiles.link(at: base.appendingPathComponent("tree/a/loop").path, to: "..")
        return base
    }

    /// The `# PATH (WxH): N detections` headers of a text output: each path and its count.
    static func headers(_ out: String) -> [(path: String, count: Int)] {
        out.split(separator: "\n").filter { $0.hasPrefix("# ") }.map { line in
            let path = String(line.dropFirst(2).prefix { $0 != " " })
            let count = Int(line.split(separator: " ").dropLast().last ?? "") ?? -1
            return (path, count)
        }
    }

    /// A folder searched recursively (hidden folder, text file and link loop left out), the
    /// outputs mirrored under --output with YOLO labels that the data loader reads back and a
    /// COCO results file whose ids are the input positions; batches of 1 and of 8 print the same.
    @Test func folderTreeWithMirroredOutputsLabelsAndCOCO() throws {
        let base = try Self.imageTree("detect-tree")
        let model = CommandTests.model.path
        let r = try runCommand("detect", ["tree", "--model", model, "--conf", "0.05", "--output", "out", "--save-txt", "--coco", "out/results.json"], in: base)
        #expect(r.status == 0, "\(r.err)")
        let headers = Self.headers(r.out)
        #expect(headers.map(\.path) == ["tree/a/x.png", "tree/b/sub/y.png", "tree/b/x.png"], "\(r.out)")
        #expect(headers.allSatisfy { $0.count > 0 }, "\(r.out)")
        let files = FileManager.default
        for (name, header) in zip(["a/x", "b/sub/y", "b/x"], headers) {
            #expect(files.fileExists(atPath: base.appendingPathComponent("out/\(name).detections.png").path), "\(name)")
            let labels = try readLabels(path: base.appendingPathComponent("out/labels/\(name).txt").path, classCount: 3)
            #expect(labels.count == header.count, "\(name)")
        }
        #expect(!files.fileExists(atPath: base.appendingPathComponent("out/.hidden").path))
        #expect(r.err.contains("wrote 3 label files under out/labels"), "\(r.err)")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: base.appendingPathComponent("out/results.json"))) as? [[String: Any]])
        #expect(results.count == headers.map(\.count).reduce(0, +))
        #expect(Set(results.compactMap { $0["image_id"] as? Int }) == [0, 1, 2])
        #expect(results.allSatisfy { ($0["bbox"] as? [Double])?.count == 4 && (0...2).contains($0["category_id"] as? Int ?? -1) })
        let images = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: base.appendingPathComponent("out/results.json.images.json"))) as? [[String: Any]])
        #expect(images.map { $0["file_name"] as? String } == headers.map(\.path))
        #expect(images.map { $0["id"] as? Int } == [0, 1, 2] && images.allSatisfy { $0["width"] as? Int == 256 })

        // Batches change nothing in what is printed; a second run does not search the output folder.
        let one = try runCommand("detect", ["tree", "--model", model, "--conf", "0.05", "--output", "out", "--batch-size", "1"], in: base)
        #expect(one.status == 0 && one.out == r.out, "\(one.err)")
        let inside = try runCommand("detect", ["tree", "--model", model, "--conf", "0.05", "--output", "tree/out", "--no-render", "--save-txt"], in: base)
        let again = try runCommand("detect", ["tree", "--model", model, "--conf", "0.05", "--output", "tree/out", "--no-render"], in: base)
        #expect(inside.status == 0 && again.status == 0 && Self.headers(again.out).map(\.path) == headers.map(\.path), "\(again.out)")
    }

    /// Without --output the copies and labels go beside the images, and a second run over the
    /// folder does not take the first run's NAME.detections.png for images. --save-conf adds
    /// the score.
    @Test func besideTheImagesAndRunTwice() throws {
        let base = try Self.imageTree("detect-beside")
        let model = CommandTests.model.path
        let first = try runCommand("detect", ["tree", "--model", model, "--conf", "0.05", "--save-txt", "--save-conf"], in: base)
        let second = try runCommand("detect", ["tree", "--model", model, "--conf", "0.05"], in: base)
        #expect(first.status == 0 && second.status == 0, "\(first.err) \(second.err)")
        #expect(Self.headers(second.out).map(\.path) == ["tree/a/x.png", "tree/b/sub/y.png", "tree/b/x.png"], "\(second.out)")
        #expect(first.out == second.out)
        let labels = try String(contentsOfFile: base.appendingPathComponent("tree/b/sub/y.txt").path, encoding: .utf8)
        #expect(!labels.isEmpty && labels.split(separator: "\n").allSatisfy { $0.split(separator: " ").count == 6 }, "\(labels)")
        #expect(first.err.contains("wrote \(Self.headers(first.out).count) label files beside the images"), "\(first.err)")
        #expect(FileManager.default.fileExists(atPath: base.appendingPathComponent("tree/a/x.detections.png").path))
    }

    /// Globs (quoted, so expanded by detect), a list with a comment and paths relative to the
    /// working directory, and a file given twice: each image once, in the order of the sources.
    @Test func globsListsAndDuplicates() throws {
        let base = try Self.imageTree("detect-globs")
        try Data("# to label\n\ntree/b/x.png\n./tree/a/x.png\n".utf8).write(to: base.appendingPathComponent("tree/list.txt"))
        let r = try runCommand("detect", ["tree/b/**/*.png", "@tree/list.txt", "tree/a/x.png", "--model", CommandTests.model.path, "--no-render", "--json"], in: base)
        #expect(r.status == 0, "\(r.err)")
        let images = try r.out.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["image"] as? String }
        #expect(images == ["tree/b/sub/y.png", "tree/b/x.png", "./tree/a/x.png"], "\(r.out)")
    }

    /// A glob matching nothing, a folder without images and an image file that cannot be read
    /// are errors naming them; the other images are still processed, and the status is 1.
    /// Files that are not images (notes.txt) are not errors.
    @Test func badSourcesAreReportedAndTheRestProcessed() throws {
        let base = try Self.imageTree("detect-bad-sources")
        try Data("not a PNG".utf8).write(to: base.appendingPathComponent("tree/b/broken.png"))
        try FileManager.default.createDirectory(at: base.appendingPathComponent("empty"), withIntermediateDirectories: true)
        let r = try runCommand("detect", ["tree", "nothing/*.png", "empty", "@missing.txt", "--model", CommandTests.model.path, "--no-render"], in: base)
        #expect(r.status == 1)
        for message in ["error: nothing/*.png: no image matches the pattern", "error: empty: no images in the folder", "error: @missing.txt: no such list file",
                        "error: tree/b/broken.png:"] {
            #expect(r.err.contains(message), "\(message): \(r.err)")
        }
        #expect(!r.err.contains("notes.txt"))
        #expect(Self.headers(r.out).map(\.path) == ["tree/a/x.png", "tree/b/sub/y.png", "tree/b/x.png"], "\(r.out)")
        let none = try runCommand("detect", ["nothing/*.png", "--model", CommandTests.model.path], in: base)
        #expect(none.status == 1 && none.err.contains("no images to process") && none.out.isEmpty, "\(none.err)")
    }

    /// --data: a data set named as COCO names its files, with categories.json; the ids in the
    /// results are the file numbers and COCO's category ids. An input outside the data set is
    /// refused before any image is processed.
    @Test func cocoIdsFromADataSet() throws {
        let data = try Fixtures.temporaryFolder("detect-coco-data")
        let samples = tinySamples(count: 2)
        for (split, name, sample) in [("train", "000000000139.png", samples[0]), ("val", "000000000632.png", samples[1])] {
            let folder = data.appendingPathComponent("\(split)/images")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try PNG.write(sample.image, to: folder.appendingPathComponent(name).path)
        }
        try Data("circle\nsquare\ntriangle\n".utf8).write(to: data.appendingPathComponent("classes.txt"))
        try Data(#"[{"id": 5, "name": "circle"}, {"id": 9, "name": "square"}, {"id": 12, "name": "triangle"}]"#.utf8)
            .write(to: data.appendingPathComponent("categories.json"))
        let results = data.appendingPathComponent("results.json").path
        let r = try runCommand("detect", [data.appendingPathComponent("val/images").path, data.appendingPathComponent("train/images").path,
                                          "--model", CommandTests.model.path, "--conf", "0.05", "--no-render", "--json", "--coco", results, "--data", data.path])
        #expect(r.status == 0, "\(r.err)")
        let lines = try r.out.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let written = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: results))) as? [[String: Any]])
        let classes = lines.flatMap { ($0["detections"] as? [[String: Any]] ?? []).map { $0["class_id"] as? Int ?? -1 } }
        #expect(written.map { $0["category_id"] as? Int } == classes.map { [5, 9, 12][$0] })
        let counts = lines.map { ($0["detections"] as? [Any])?.count ?? 0 }
        #expect(written.map { $0["image_id"] as? Int } == Array(repeating: 632, count: counts[0]) + Array(repeating: 139, count: counts[1]))
        // The bbox is the JSON line's box as [x, y, w, h].
        if let first = (lines[0]["detections"] as? [[String: Any]])?.first, let box = first["box"] as? [Double], let bbox = written.first?["bbox"] as? [Double] {
            #expect(abs(bbox[0] - box[0]) < 0.051 && abs(bbox[2] - (box[2] - box[0])) < 0.11, "\(box) \(bbox)")
        }

        let stranger = try Fixtures.temporaryFolder("detect-coco-stranger").appendingPathComponent("s.png").path
        try PNG.write(samples[0].image, to: stranger)
        let outside = try runCommand("detect", [stranger, data.appendingPathComponent("val/images").path, "--model", CommandTests.model.path,
                                                "--coco", results + "2", "--data", data.path])
        #expect(outside.status == 1 && outside.err.contains("\(stranger): not an image of the data set \(data.path) (--data)"), "\(outside.err)")
        #expect(outside.out.isEmpty && !FileManager.default.fileExists(atPath: results + "2"))
        let mismatch = try runCommand("detect", [stranger, "--model", Self.forgingModel.path, "--coco", results + "3", "--data", data.path])
        #expect(mismatch.status == 1 && mismatch.err.contains("differ from the model's"), "\(mismatch.err)")
    }

    /// Options that only make sense with another, and the batch size's range.
    @Test(arguments: [
        (["a.png", "--save-conf"], "--save-conf adds the score to --save-txt's label lines"),
        (["a.png", "--data", "d"], "--data gives the ids of --coco's results"),
        (["a.png", "--batch-size", "0"], "--batch-size must be in [1, 256]"),
        (["a.png", "--batch-size", "257"], "--batch-size must be in [1, 256]"),
        (["a.png", "--coco", ""], "--coco is empty"),
    ])
    func optionCombinationsAreChecked(arguments: [String], message: String) throws {
        let r = try runCommand("detect", arguments)
        #expect(r.status == 1 && r.err.contains(message), "\(r.err)")
    }
}
