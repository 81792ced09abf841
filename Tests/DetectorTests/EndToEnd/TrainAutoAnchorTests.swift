import Foundation
import Testing
import Detector

/// Autoanchor from the built binary: anchors that fit the data poorly are refitted, stored in
/// the checkpoint's config, used by detect, and kept on resume; --no-autoanchor keeps them.
@Suite(.serialized) struct TrainAutoAnchorTests {
    /// The tiny config with anchors of 6 and 7 cells: the fixture's shapes are 0.4 to 3.6
    /// cells, so hardly any box has an anchor of IoU ≥ 0.5.
    static let config: String = {
        let path = TrainCommandTests.fixture.folder.appendingPathComponent("big-anchors.json").path
        try! Data(tinyConfigJSON.replacingOccurrences(of: "[[1.5, 1.5], [3.0, 3.0]]", with: "[[6.0, 6.0], [7.0, 7.0]]").utf8)
            .write(to: URL(fileURLWithPath: path))
        return path
    }()

    static func train(_ out: String, _ extra: [String]) throws -> (status: Int32, out: String, err: String) {
        try runCommand("train-detector", ["--data", TrainCommandTests.fixture.data, "--config", config, "--batch-size", "2",
                                          "--out", out] + extra)
    }

    static func storedAnchors(_ path: String) throws -> [Anchor] {
        let checkpoint = try Checkpoint.load(path: path)
        return try ModelConfig.decode(Data(checkpoint.configJSON.utf8), source: path).anchors
    }

    @Test func poorAnchorsAreRefittedStoredAndUsedByDetect() throws {
        let out = try Fixtures.temporaryFolder("autoanchor").path
        let r = try Self.train(out, ["--epochs", "2"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("anchors: the config's 2 fit under 98% of the training boxes") && r.err.contains("k-means fits them better"),
                "\(r.err)")
        let anchors = try Self.storedAnchors(out + "/last.safetensors")
        #expect(anchors.count == 2 && anchors != [Anchor(width: 6, height: 6), Anchor(width: 7, height: 7)], "\(anchors)")
        #expect(anchors.allSatisfy { $0.width < 4 && $0.height < 4 }, "\(anchors)")
        #expect(try Self.storedAnchors(out + "/best.safetensors") == anchors)
        // The message names the anchors stored.
        let listed = "[" + anchors.map { "[\($0.width), \($0.height)]" }.joined(separator: ", ") + "]"
        #expect(r.err.contains("trains with \(listed)"), "\(listed) in \(r.err)")
        let checkpoint = try Checkpoint.load(path: out + "/last.safetensors")
        #expect(checkpoint.training["anchors"] == "fitted" && checkpoint.training["config_anchors"] == "[[6.0, 6.0], [7.0, 7.0]]")

        // detect decodes with them.
        let image = try #require(try FileManager.default.contentsOfDirectory(atPath: TrainCommandTests.fixture.data + "/val/images").first)
        let detect = try runCommand("detect", [TrainCommandTests.fixture.data + "/val/images/" + image, "--model", out + "/last.safetensors",
                                               "--conf", "0.001", "--no-render", "--json"])
        #expect(detect.status == 0, "\(detect.err)")
        let object = try JSONSerialization.jsonObject(with: Data(detect.out.utf8)) as? [String: Any]
        #expect(object?["detections"] is [Any], "\(detect.out)")
        #expect(try ObjectDetector(modelPath: out + "/last.safetensors").config.anchors == anchors)

        // Resumed with the same config: the run's own anchors, not a refusal for a changed config.
        let resumed = try Self.train(out, ["--epochs", "3", "--resume"])
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect(resumed.err.contains("fitted at the start of the run"), "\(resumed.err)")
        #expect(!resumed.err.contains("config differs"), "\(resumed.err)")
        #expect(try Self.storedAnchors(out + "/last.safetensors") == anchors)
    }

    @Test func noAutoanchorKeepsTheConfigs() throws {
        let out = try Fixtures.temporaryFolder("autoanchor-off").path
        let r = try Self.train(out, ["--epochs", "1", "--no-autoanchor"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("anchors: the config's, as asked (autoanchor off)"), "\(r.err)")
        #expect(try Self.storedAnchors(out + "/last.safetensors") == [Anchor(width: 6, height: 6), Anchor(width: 7, height: 7)])
    }
}
