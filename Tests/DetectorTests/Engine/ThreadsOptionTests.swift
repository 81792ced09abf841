import Foundation
import Testing
import Detector

/// `--threads` and DETECTOR_THREADS on the built commands: a bad value exits 1 with a message
/// naming it, before anything is read; a good one changes nothing in detect's output.
@Suite struct ThreadsOptionTests {
    static let image = repositoryRoot.appendingPathComponent("samples/images/000011.png").path
    static let model = repositoryRoot.appendingPathComponent("models/tiny-dsc-shapes.safetensors").path

    struct BadValue: Sendable, CustomTestStringConvertible {
        var command: String, arguments: [String], message: String
        var testDescription: String { "\(command) \(arguments.joined(separator: " "))" }
    }

    static let badValues: [BadValue] = [
        BadValue(command: "detect", arguments: [image, "--threads", "0"], message: "--threads must be 1 to 256 threads (got 0)"),
        BadValue(command: "detect", arguments: [image, "--threads", "300"], message: "--threads must be 1 to 256 threads (got 300)"),
        BadValue(command: "detect", arguments: [image, "--threads", "abc"], message: "'abc' is invalid for '--threads <threads>'"),
        BadValue(command: "detect", arguments: [image, "--threads", "-2"], message: "a value that begins with '-' is written --threads=-2"),
        BadValue(command: "train-detector", arguments: ["--threads", "0", "--data", "/nonexistent"], message: "--threads must be 1 to 256 threads (got 0)"),
        BadValue(command: "train-detector", arguments: ["--overfit", "2", "--threads", "abc"], message: "'abc' is invalid for '--threads <threads>'"),
        BadValue(command: "train-detector", arguments: ["evaluate", model, "--threads", "300"], message: "--threads must be 1 to 256 threads (got 300)"),
        BadValue(command: "detector-bench", arguments: ["--threads", "1,0"], message: "--threads must be 1 to 256 threads (got 0)"),
        BadValue(command: "detector-bench", arguments: ["--threads", "abc"], message: "--threads must be an integer from 1 to 256 (got \"abc\")"),
    ]

    @Test(arguments: badValues)
    func badValueExitsOne(_ bad: BadValue) throws {
        let folder = try Fixtures.temporaryFolder("threads-option")
        let r = try runCommand(bad.command, bad.arguments, in: folder)
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.contains(bad.message), "\(r.err)")
        // Refused before anything was read or written.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test(arguments: ["detect", "train-detector"])
    func badEnvironmentVariableExitsOne(_ command: String) throws {
        let arguments = command == "detect" ? [Self.image, "--no-render"] : ["--overfit", "2", "--data", "/nonexistent"]
        let r = try runCommand(command, arguments, environment: ["DETECTOR_THREADS": "lots"])
        #expect(r.status == 1)
        #expect(r.err.contains("DETECTOR_THREADS must be an integer from 1 to 256 (got \"lots\")"), "\(r.err)")
        // --threads wins over the variable.
        if command == "detect" {
            let ok = try runCommand(command, arguments + ["--model", Self.model, "--threads", "1"], environment: ["DETECTOR_THREADS": "lots"])
            #expect(ok.status == 0, "\(ok.err)")
        }
    }

    /// Inference is bitwise equal across thread counts, so detect prints the same lines.
    @Test func detectPrintsTheSameOnOneAndThreeThreads() throws {
        let images = ["000011.png", "000001.png", "000002.png"].map { repositoryRoot.appendingPathComponent("samples/images/\($0)").path }
        let one = try runCommand("detect", images + ["--model", Self.model, "--no-render", "--json", "--threads", "1"])
        let three = try runCommand("detect", images + ["--model", Self.model, "--no-render", "--json", "--threads", "3"])
        let environment = try runCommand("detect", images + ["--model", Self.model, "--no-render", "--json"], environment: ["DETECTOR_THREADS": "2"])
        #expect(one.status == 0 && three.status == 0 && environment.status == 0, "\(one.err)\(three.err)\(environment.err)")
        #expect(one.out.contains("\"detections\": [{"))
        #expect(three.out == one.out && environment.out == one.out)
    }
}
