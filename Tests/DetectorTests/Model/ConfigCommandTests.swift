import Foundation
import Testing
import Detector

/// The built commands on configs the fuzzing campaign (`make fuzz`) crashed them with: each must
/// print a typed error naming the file, layer and field, and exit 1.
@Suite struct ConfigCommandTests {
    /// Runs a built command with extra environment variables.
    func run(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, err: String) {
        let process = Process()
        process.executableURL = productsFolder.appendingPathComponent(name)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        _ = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: errData, as: UTF8.self))
    }

    /// `train-detector` on `config` (written to a file) with a one-image data set.
    func train(_ config: String, environment: [String: String] = [:]) throws -> (status: Int32, err: String, path: String) {
        let folder = try oneImageDataSet("config-command", side: 64, labels: "0 0.5 0.5 0.5 0.5\n")
        let path = folder.appendingPathComponent("model.json").path
        try Data(config.utf8).write(to: URL(fileURLWithPath: path))
        let r = try run("train-detector", ["--config", path, "--data", folder.path, "--overfit", "1", "--epochs", "1",
                                           "--out", folder.appendingPathComponent("run").path], environment: environment)
        return (r.status, r.err, path)
    }

    @Test func trainDetectorReportsADuplicateKey() throws {
        let text = tinyConfigJSON.replacingOccurrences(of: "{\"type\": \"separable\", \"filters\": 32,", with: "{\"type\": \"separable\", \"filters\": 32, \"filters\": 64,")
        let r = try train(text)
        #expect(r.status == 1)
        #expect(r.err.contains("\(r.path):7:") && r.err.contains("layer 2") && r.err.contains("\"filters\"") && r.err.contains("duplicate key"), "\(r.err)")
        #expect(!r.err.contains("Fatal error"))
    }

    @Test func trainDetectorReportsAnOverflowingSize() throws {
        let text = tinyConfigJSON.replacingOccurrences(of: "{\"type\": \"conv\", \"filters\": 16, \"size\": 3,", with: "{\"type\": \"conv\", \"filters\": 16, \"size\": 3037000501,")
        let r = try train(text)
        #expect(r.status == 1)
        #expect(r.err.contains(r.path) && r.err.contains("layer 0") && r.err.contains("\"size\"") && r.err.contains("1 to 31"), "\(r.err)")
        #expect(!r.err.contains("Fatal error"))
    }

    @Test func trainDetectorRefusesAConfigPastTheMemoryLimit() throws {
        let r = try train(tinyConfigJSON, environment: ["DETECTOR_MEMORY_LIMIT": "1M"])
        #expect(r.status == 1)
        #expect(r.err.contains(r.path) && r.err.contains("layer ") && r.err.contains("more than the memory limit 1.0 MiB (DETECTOR_MEMORY_LIMIT)"), "\(r.err)")
        let bad = try train(tinyConfigJSON, environment: ["DETECTOR_MEMORY_LIMIT": "lots"])
        #expect(bad.status == 1 && bad.err.contains("DETECTOR_MEMORY_LIMIT: must be a size"), "\(bad.err)")
    }

    /// A weights file whose config (in its metadata) repeats a key.
    @Test func detectReportsABadConfigInAModelFile() throws {
        let folder = try Fixtures.temporaryFolder("config-command-detect")
        let model = folder.appendingPathComponent("bad.safetensors").path
        let config = tinyConfigJSON.replacingOccurrences(of: "\"width\": 64,", with: "\"width\": 64, \"width\": 64,")
        try Checkpoint.save(parameters: [], configJSON: config, to: model)
        let image = folder.appendingPathComponent("a.png").path
        try PNG.write(Image(width: 8, height: 8), to: image)
        let r = try run("detect", [image, "--model", model, "--no-render"])
        #expect(r.status == 1)
        #expect(r.err.contains("config in metadata") && r.err.contains("\"input.width\"") && r.err.contains("duplicate key"), "\(r.err)")
    }
}
