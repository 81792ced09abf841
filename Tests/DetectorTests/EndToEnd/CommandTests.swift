import Foundation
import Testing
import Detector

/// An empty folder given to every command under test as DETECTOR_SHARE: the commands then
/// never look in /usr/local/share/detector, so what an earlier `make install` left on this
/// machine cannot make a test pass or fail.
let emptyShareFolder: URL = try! Fixtures.temporaryFolder("empty-share")

/// The environment of a command under test: this process's, without DETECTOR_MODEL (a
/// developer's own model must not change what detect finds) and without make's variables
/// (an outer `make test` must not pass its flags to the `make` a test runs), with
/// DETECTOR_SHARE at `emptyShareFolder`, then `extra` on top.
func commandEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    for name in ["DETECTOR_MODEL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"] { environment[name] = nil }
    environment["DETECTOR_SHARE"] = emptyShareFolder.path
    return environment.merging(extra) { _, new in new }
}

/// Runs a built command of this package and returns its exit status, stdout and stderr.
func runCommand(_ name: String, _ arguments: [String], in folder: URL? = nil,
                environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
    try runExecutable(productsFolder.appendingPathComponent(name), arguments, in: folder, environment: environment)
}

/// Runs `executable` with `commandEnvironment(environment)`; its exit status, stdout and stderr.
func runExecutable(_ executable: URL, _ arguments: [String], in folder: URL? = nil,
                   environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = commandEnvironment(environment)
    if let folder { process.currentDirectoryURL = folder }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// A one-split data set of the shapes' classes holding one black square image `a.png` of
/// `side` pixels with the label file `labels`.
func oneImageDataSet(_ name: String, side: Int, labels: String) throws -> URL {
    let folder = try Fixtures.temporaryFolder(name)
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("images"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("labels"), withIntermediateDirectories: true)
    try Data("circle\nsquare\ntriangle\n".utf8).write(to: folder.appendingPathComponent("classes.txt"))
    try PNG.write(Image(width: side, height: side), to: folder.appendingPathComponent("images/a.png").path)
    try Data(labels.utf8).write(to: folder.appendingPathComponent("labels/a.txt"))
    return folder
}

/// Where SwiftPM put this build's executables (beside the test bundle).
let productsFolder: URL = {
    var url = Bundle.main.bundleURL
    while url.path != "/" {
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("detect").path) { return url }
        url = url.deletingLastPathComponent()
    }
    return repositoryRoot.appendingPathComponent(".build/debug")
}()

@Suite(.serialized) struct CommandTests {
    /// A trained tiny model shared by the tests below (trained once, a few seconds).
    static let model: URL = {
        let folder = try! Fixtures.temporaryFolder("cmd-model")
        let config = try! ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "tiny")
        var options = TrainingOptions()
        options.overfitImages = 2
        options.epochs = 30
        options.batchSize = 2
        options.outputFolder = folder.path
        _ = try! Trainer(config: config, train: tinySamples(count: 2), validation: [], options: options).run { _ in }
        return folder.appendingPathComponent("last.safetensors")
    }()

    @Test func detectPrintsLinesJSONAndWritesAPNG() throws {
        let folder = try Fixtures.temporaryFolder("cmd")
        let image = folder.appendingPathComponent("shapes.png")
        try PNG.write(tinySamples(count: 1)[0].image, to: image.path)
        let text = try runCommand("detect", [image.path, "--model", Self.model.path, "--conf", "0.01"])
        #expect(text.status == 0, "\(text.err)")
        let first = try #require(text.out.split(separator: "\n").first)
        let fields = first.split(separator: " ")
        #expect(fields.count == 6 && ["circle", "square", "triangle"].contains(String(fields[0])))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("shapes.detections.png").path))
        let json = try runCommand("detect", [image.path, "--model", Self.model.path, "--json", "--no-render"])
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        #expect(object?["width"] as? Int == 256 && object?["image"] as? String == image.path)
        #expect(object?["detections"] is [Any])
    }

    @Test func detectRefusesBadImagesWithAMessage() throws {
        let folder = try Fixtures.temporaryFolder("cmd")
        let text = folder.appendingPathComponent("notes.png")
        try Data("this is not a picture".utf8).write(to: text)
        for bad in [folder.appendingPathComponent("missing.png").path, text.path] {
            let r = try runCommand("detect", [bad, "--model", Self.model.path])
            #expect(r.status == 1, "\(bad)")
            #expect(r.err.contains("error: \(bad)"), "\(r.err)")
            #expect(!r.err.contains("Fatal error"))
        }
    }

    @Test func detectRefusesTruncatedWeights() throws {
        let folder = try Fixtures.temporaryFolder("cmd")
        let data = try Data(contentsOf: Self.model)
        let cut = folder.appendingPathComponent("cut.safetensors")
        try data.prefix(data.count / 2).write(to: cut)
        let image = folder.appendingPathComponent("a.png")
        try PNG.write(Image(width: 8, height: 8), to: image.path)
        let r = try runCommand("detect", [image.path, "--model", cut.path])
        #expect(r.status == 1)
        #expect(r.err.contains("cut.safetensors") && r.err.contains("truncated"), "\(r.err)")
    }

    @Test func trainRefusesAMalformedConfig() throws {
        let folder = try Fixtures.temporaryFolder("cmd")
        let config = folder.appendingPathComponent("bad.json")
        try Data(tinyConfigJSON.replacingOccurrences(of: "\"filters\": 16, \"size\": 1", with: "\"filters\": 17, \"size\": 1").utf8).write(to: config)
        let r = try runCommand("train-detector", ["--config", config.path, "--data", folder.path, "--overfit", "1"])
        #expect(r.status != 0)
        #expect(r.err.contains("bad.json") && r.err.contains("layer 7") && r.err.contains("filters"), "\(r.err)")
    }

    /// From a folder without models/: the default config and model are found in the
    /// repository this build was made in (DETECTOR_SHARE is an empty folder, so nothing
    /// installed on the machine can stand in and hide a broken lookup), and a missing model is reported
    /// before any synthetic data would be generated into the working directory.
    @Test func commandsWorkOutsideTheRepository() throws {
        let folder = try Fixtures.temporaryFolder("cmd-elsewhere")
        let data = try oneImageDataSet("cmd-elsewhere-data", side: 32, labels: "0 0.5 0.5 0.25 0.25\n")
        let anchors = try runCommand("train-detector", ["anchors", "1", "--data", data.path], in: folder)
        #expect(anchors.status == 0, "\(anchors.err)")
        #expect(anchors.out.contains("\"anchors\": [[2.00, 2.00]]"), "\(anchors.out)")   // a quarter of the 8x8 grid
        let sample = repositoryRoot.appendingPathComponent("samples/images/000011.png").path
        let detect = try runCommand("detect", [sample, "--no-render"], in: folder)
        #expect(detect.status == 0, "\(detect.err)")
        let lines = detect.out.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.split(separator: " ").count == 6 }, "\(detect.out)")
        let evaluate = try runCommand("train-detector", ["evaluate", "missing.safetensors"], in: folder)
        #expect(evaluate.status != 0 && evaluate.err.contains("missing.safetensors"), "\(evaluate.err)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("data").path))
    }

    @Test func trainRefusesBadLabelsNamingFileAndLine() throws {
        let folder = try oneImageDataSet("cmd-data", side: 16, labels: "0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n")
        let r = try runCommand("train-detector", ["--data", folder.path, "--config", repositoryRoot.appendingPathComponent("models/tiny-dsc.json").path])
        #expect(r.status != 0)
        #expect(r.err.contains("labels/a.txt:2") && r.err.contains("class id 7"), "\(r.err)")
    }

    @Test func helpDescribesTheCommands() throws {
        let detect = try runCommand("detect", ["--help"])
        #expect(detect.status == 0 && detect.out.contains("--conf") && detect.out.contains("--json"))
        let train = try runCommand("train-detector", ["train", "--help"])
        #expect(train.status == 0 && train.out.contains("--overfit") && train.out.contains("--resume"))
    }
}

@Suite(.serialized) struct ModelCommandTests {
    @Test func exportWritesSmallerFilesThatStillDetect() throws {
        let folder = try Fixtures.temporaryFolder("export")
        let full = folder.appendingPathComponent("m.safetensors").path, small = folder.appendingPathComponent("q.safetensors").path
        let a = try runCommand("train-detector", ["export", CommandTests.model.path, "--out", full])
        let b = try runCommand("train-detector", ["export", CommandTests.model.path, "--out", small, "--int8"])
        #expect(a.status == 0 && b.status == 0, "\(a.err) \(b.err)")
        let checkpointSize = try FileManager.default.attributesOfItem(atPath: CommandTests.model.path)[.size] as! Int
        let fullSize = try FileManager.default.attributesOfItem(atPath: full)[.size] as! Int
        let smallSize = try FileManager.default.attributesOfItem(atPath: small)[.size] as! Int
        #expect(fullSize < checkpointSize / 2)   // no optimizer moments
        #expect(smallSize < fullSize / 2)
        // Both load and give nearly the same detections on an image.
        let image = tinySamples(count: 1)[0].image
        let d1 = try ObjectDetector(modelPath: full).detect(image, options: NMSOptions(scoreThreshold: 0.05))
        let d2 = try ObjectDetector(modelPath: small).detect(image, options: NMSOptions(scoreThreshold: 0.05))
        #expect(!d1.isEmpty && !d2.isEmpty)
        #expect(d1[0].classIndex == d2[0].classIndex && d1[0].box.iou(with: d2[0].box) > 0.9)
    }

    @Test func evaluateReportsMAPOnASplit() throws {
        let folder = try Fixtures.temporaryFolder("eval-data")
        for kind in ["images", "labels"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(kind), withIntermediateDirectories: true)
        }
        try Data("circle\nsquare\ntriangle\n".utf8).write(to: folder.appendingPathComponent("classes.txt"))
        for (k, sample) in tinySamples(count: 2).enumerated() {
            try PNG.write(sample.image, to: folder.appendingPathComponent("images/\(k).png").path)
            try Data(formatLabels(sample.objects).utf8).write(to: folder.appendingPathComponent("labels/\(k).txt"))
        }
        let r = try runCommand("train-detector", ["evaluate", CommandTests.model.path, "--data", folder.path, "--json"])
        #expect(r.status == 0, "\(r.err)")
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let map = try #require(object?["mAP50"] as? Double)
        #expect(map >= 0 && map <= 1)
    }
}
