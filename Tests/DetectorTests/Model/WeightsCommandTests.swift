import Foundation
import Testing
import Detector

/// The fuzzing finds (`make fuzz`), through the built commands: every command that reads a
/// weights file exits 1 with a message naming the file (no trap, no silent empty result).
@Suite struct WeightsCommandTests {
    /// `detect --model`, `train-detector evaluate` and `train-detector export` on `path`.
    func runEveryLoader(_ path: String) throws -> [(command: String, status: Int32, err: String)] {
        let image = Fixtures.url("png_rgb8.png").path
        let out = try Fixtures.temporaryFolder("weights-cmd").appendingPathComponent("exported.safetensors").path
        let runs = [("detect", try runCommand("detect", [image, "--model", path])),
                    ("evaluate", try runCommand("train-detector", ["evaluate", path])),
                    ("export", try runCommand("train-detector", ["export", path, "--out", out]))]
        #expect(!FileManager.default.fileExists(atPath: out))
        return runs.map { ($0.0, $0.1.status, $0.1.err) }
    }

    /// The huge shape trapped ("Illegal instruction"); the two others loaded shifted tensors
    /// and `detect` printed nothing with status 0.
    @Test(arguments: ["huge_shape", "header_length_one_short", "byte_inserted_in_data"])
    func brokenFilesEndInAMessageNamingTheFile(_ name: String) throws {
        let path = Fixtures.url("safetensors_cases/\(name).safetensors").path
        for run in try runEveryLoader(path) {
            #expect(run.status == 1, "\(run.command): status \(run.status), \(run.err)")
            #expect(run.err.contains(path + ": "), "\(run.command): \(run.err)")
            #expect(run.err.contains(name == "huge_shape" ? "tensor \"a\": field \"shape\"" : "not fully covered"), "\(run.command): \(run.err)")
        }
    }

    @Test func aCheckpointWithANaNKernelEndsInAMessageNamingTheTensor() throws {
        let path = try CheckpointFixture.write()
        try CheckpointFixture.spoil(path) { try CheckpointFixture.set(&$0, "layers.2.pointwise.weight", index: 4, to: .nan) }
        for run in try runEveryLoader(path) {
            #expect(run.status == 1, "\(run.command): status \(run.status), \(run.err)")
            #expect(run.err.contains("\(path): tensor \"layers.2.pointwise.weight\": value 4 of 32 is nan"), "\(run.command): \(run.err)")
        }
    }
}
