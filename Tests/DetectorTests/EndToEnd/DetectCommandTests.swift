import Foundation
import Testing
import Detector

/// `detect`'s command line and output from the built binary (issue 8): names that try to
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
        #expect(options.count == 8, "\(options)")
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
    /// images into a file, two images into one annotated file, an output that is an input.
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
        let clash = try runCommand("detect", [a, b, "--model", model, "--output", same])
        #expect(clash.status == 1 && clash.err.contains("\(a) and \(b) would both be written to \(same)/x.detections.png"), "\(clash.err)")
        #expect(clash.out.isEmpty)
        let overwrite = try runCommand("detect", [a, "--model", model, "--output", a])
        #expect(overwrite.status == 1 && overwrite.err.contains("\(a): is one of the input images"), "\(overwrite.err)")
        // A missing folder for several images is created, and each image written into it.
        let c = folder.appendingPathComponent("c.png").path
        try PNG.write(Image(width: 8, height: 8), to: c)
        let fresh = folder.appendingPathComponent("new/deeper").path
        let created = try runCommand("detect", [a, c, "--model", model, "--output", fresh])
        #expect(created.status == 0, "\(created.err)")
        for name in ["x", "c"] { #expect(files.fileExists(atPath: "\(fresh)/\(name).detections.png"), "\(name)") }
    }
}
