import Foundation
import Testing
import Detector
import CommandSupport

/// The installed layout, for real: `make install-files` copies this build's binaries (no
/// release build, no root) into a temporary PREFIX, and the installed commands, run from an
/// unrelated folder, find their config and model in PREFIX/share/detector. DETECTOR_SHARE
/// is an empty folder (see `commandEnvironment`), and the copies in PREFIX/bin are outside
/// the repository, so PREFIX is the only place they can find anything: removing the model
/// from it makes detect fail.
@Suite(.serialized) struct InstallTests {
    @Test func installedCommandsFindTheirFilesInPrefix() throws {
        let prefix = try Fixtures.temporaryFolder("prefix")
        let install = try runExecutable(URL(fileURLWithPath: "/usr/bin/env"),
                                        ["make", "-C", repositoryRoot.path, "--no-print-directory", "install-files",
                                         "PREFIX=\(prefix.path)", "BIN=\(productsFolder.path)"])
        #expect(install.status == 0, "\(install.out) \(install.err)")
        let share = prefix.appendingPathComponent("share/detector")
        for name in ["tiny-dsc.json", "tiny-dsc-shapes.json", shippedModelName] {
            #expect(FileManager.default.fileExists(atPath: share.appendingPathComponent(name).path), "\(name)")
        }
        let bin = prefix.appendingPathComponent("bin")
        let elsewhere = try Fixtures.temporaryFolder("prefix-cwd")
        let image = elsewhere.appendingPathComponent("shapes.png")
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("samples/images/000011.png"), to: image)

        // train-detector's default config, models/tiny-dsc.json, from PREFIX/share/detector.
        let data = try oneImageDataSet("prefix-data", side: 32, labels: "0 0.5 0.5 0.25 0.25\n")
        let anchors = try runExecutable(bin.appendingPathComponent("train-detector"), ["anchors", "1", "--data", data.path], in: elsewhere)
        #expect(anchors.status == 0, "\(anchors.err)")
        #expect(anchors.out.contains("\"anchors\": [[2.00, 2.00]]"), "\(anchors.out)")

        // detect's default model, by absolute path and as a bare name found on PATH (then
        // argv[0] is just "detect": the binary's own path must come from the system).
        let direct = try runExecutable(bin.appendingPathComponent("detect"), ["shapes.png", "--no-render"], in: elsewhere)
        #expect(direct.status == 0, "\(direct.err)")
        #expect(!direct.out.isEmpty && direct.out.split(separator: "\n").allSatisfy { $0.split(separator: " ").count == 6 }, "\(direct.out)")
        let path = bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let onPath = try runExecutable(URL(fileURLWithPath: "/bin/sh"), ["-c", "detect shapes.png --no-render"], in: elsewhere,
                                       environment: ["PATH": path])
        #expect(onPath.status == 0, "\(onPath.err)")
        #expect(onPath.out == direct.out)

        try FileManager.default.removeItem(at: share.appendingPathComponent(shippedModelName))
        let without = try runExecutable(bin.appendingPathComponent("detect"), ["shapes.png", "--no-render"], in: elsewhere)
        #expect(without.status == 1)
        #expect(without.err.contains("none found") && without.err.contains(share.appendingPathComponent(shippedModelName).path), "\(without.err)")
    }

    /// Without built binaries in BIN, install-files stops with a message instead of
    /// installing half a layout.
    @Test func installFilesNeedsBuiltBinaries() throws {
        let prefix = try Fixtures.temporaryFolder("prefix")
        let empty = try Fixtures.temporaryFolder("prefix-bin")
        let r = try runExecutable(URL(fileURLWithPath: "/usr/bin/env"),
                                  ["make", "-C", repositoryRoot.path, "--no-print-directory", "install-files",
                                   "PREFIX=\(prefix.path)", "BIN=\(empty.path)"])
        #expect(r.status != 0)
        #expect(r.err.contains("no built detect and train-detector in \(empty.path)"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: prefix.appendingPathComponent("bin").path))
    }
}
