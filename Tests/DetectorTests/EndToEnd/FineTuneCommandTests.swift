import Foundation
import Testing
import Detector

/// `train-detector --weights` and configs that take their classes from the data set, from the
/// built binaries (`--weights`, classes from the data set): what is printed, what is stored, exit statuses.
@Suite(.serialized) struct FineTuneCommandTests {
    /// A 4 + 1 image synthetic set relabelled to the classes "round" and "angular", made once.
    static let twoClassSet: String = {
        let folder = try! Fixtures.temporaryFolder("finetune-cmd")
        let data = folder.appendingPathComponent("set").path
        let r = try! runCommand("train-detector", ["generate", "--out", data, "--train", "4", "--val", "1", "--seed", "3"])
        precondition(r.status == 0, r.err)
        try! Data("round\nangular\n".utf8).write(to: URL(fileURLWithPath: data + "/classes.txt"))
        for split in ["train", "val"] {
            let labels = data + "/\(split)/labels"
            for name in try! FileManager.default.contentsOfDirectory(atPath: labels) {
                let path = labels + "/" + name
                let text = try! String(contentsOfFile: path, encoding: .utf8)
                let lines = text.split(separator: "\n").map { line -> String in
                    var fields = line.split(separator: " ").map(String.init)
                    if fields[0] == "2" { fields[0] = "1" }  // triangles are angular, as squares
                    return fields.joined(separator: " ")
                }
                try! Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
            }
        }
        return data
    }()

    static let shippedModel = repositoryRoot.appendingPathComponent("models/tiny-dsc-shapes.safetensors").path

    static func storedConfig(_ path: String) throws -> ModelConfig {
        try ModelConfig.decode(Data(try Checkpoint.load(path: path).configJSON.utf8), source: path)
    }

    /// The demanding user's line: the shipped model, another data set, nothing else. The run
    /// says what it loaded, stores a complete config, and detect needs only its model file.
    @Test func fineTuningTheShippedModelNeedsOnlyTheModelAndTheData() throws {
        let out = try Fixtures.temporaryFolder("finetune-cmd-run").path
        let r = try runCommand("train-detector", ["--weights", Self.shippedModel, "--data", Self.twoClassSet, "--epochs", "1",
                                                  "--batch-size", "2", "--out", out, "--exist-ok"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("config: tiny-dsc-shapes (the config of \(Self.shippedModel)), with the data set's classes"), "\(r.err)")
        #expect(r.err.contains("classes from the data set (\(Self.twoClassSet)): 2, round, angular; the head has 5 anchors x (5 + 2) = 35 filters"), "\(r.err)")
        #expect(r.err.contains("loaded 35 of 37 tensors from \(Self.shippedModel); new: layers.10.conv.weight [1,1,256,35] (file has [1,1,256,40]), layers.10.conv.bias [35] (file has [40]) (the head re-initialised for the classes [round, angular]; the file's was trained for [circle, square, triangle])"), "\(r.err)")
        let stored = try Self.storedConfig(out + "/last.safetensors")
        let shipped = try Self.storedConfig(Self.shippedModel)
        #expect(stored.classes == ["round", "angular"] && stored.headLayout.channels == 35)
        #expect(stored.name == shipped.name && Array(stored.layers.dropLast()) == Array(shipped.layers.dropLast()))
        // Weights only: a new run, the optimizer from step 0 (4 images at batch 2: 2 steps).
        let checkpoint = try Checkpoint.load(path: out + "/last.safetensors")
        #expect(checkpoint.optimizerStep == 2 && checkpoint.training["epoch"] == "1")

        let image = Self.twoClassSet + "/val/images/" + (try FileManager.default.contentsOfDirectory(atPath: Self.twoClassSet + "/val/images")).sorted()[0]
        let detect = try runCommand("detect", ["--model", out + "/last.safetensors", image, "--no-render", "--conf", "0.01"])
        #expect(detect.status == 0, "\(detect.err)")
        let classes = Set(detect.out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        #expect(!classes.isEmpty && classes.isSubset(of: ["round", "angular"]), "\(detect.out)")
        let evaluate = try runCommand("train-detector", ["evaluate", out + "/last.safetensors", "--data", Self.twoClassSet])
        // The per-class table names the data set's classes, not the shipped model's.
        let rows = evaluate.out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(evaluate.status == 0 && rows.contains { $0.hasPrefix("round ") } && rows.contains { $0.hasPrefix("angular ") }
                && !rows.contains { $0.hasPrefix("circle ") }, "\(evaluate.out)\n\(evaluate.err)")

        // Resuming takes the run's own config (there is no file for it), not the default.
        let resumed = try runCommand("train-detector", ["--resume", "--out", out, "--epochs", "2", "--data", Self.twoClassSet, "--batch-size", "2"])
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect(try Self.storedConfig(out + "/last.safetensors") == stored)
    }

    /// The default config, models/tiny-dsc.json (found from the build's repository), trains on
    /// any data set; the shapes config still pins its classes; the data tools take either.
    @Test func theDefaultConfigTakesTheDataSetsClassesAndAPinnedOneRefusesOthers() throws {
        let out = try Fixtures.temporaryFolder("classes-cmd").path
        let r = try runCommand("train-detector", ["--data", Self.twoClassSet, "--epochs", "1", "--batch-size", "2", "--out", out, "--exist-ok"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("the head has 5 anchors x (5 + 2) = 35 filters") && r.err.contains("tiny-dsc: 2 classes, 5 anchors"), "\(r.err)")
        #expect(!r.err.contains("loaded"), "\(r.err)")
        let stored = try Self.storedConfig(out + "/last.safetensors")
        #expect(stored.name == "tiny-dsc" && stored.classes == ["round", "angular"])

        let pinned = repositoryRoot.appendingPathComponent("models/tiny-dsc-shapes.json").path
        let refused = try runCommand("train-detector", ["--data", Self.twoClassSet, "--config", pinned, "--epochs", "1",
                                                        "--out", try Fixtures.temporaryFolder("classes-cmd-pinned").path])
        #expect(refused.status == 1, "\(refused.err)")
        #expect(refused.err.contains("error: \(pinned): \"classes\": the config pins the classes [\"circle\", \"square\", \"triangle\"], but the data set \(Self.twoClassSet) has [\"round\", \"angular\"]"), "\(refused.err)")

        let shown = try Fixtures.temporaryFolder("classes-cmd-show").path
        let show = try runCommand("train-detector", ["show-data", Self.twoClassSet, "--count", "1", "--out", shown])
        #expect(show.status == 0 && show.out.contains("→ 256x256"), "\(show.err)")
        let anchors = try runCommand("train-detector", ["anchors", "2", "--data", Self.twoClassSet, "--config", pinned])
        #expect(anchors.status == 0 && anchors.out.contains("grid 16x16"), "\(anchors.err)")
    }

    @Test func badWeightsAreRefusedNamingTheProblem() throws {
        let folder = try Fixtures.temporaryFolder("weights-cmd-bad")
        // With --resume: refused before anything is read (no data generated in the folder).
        let both = try runCommand("train-detector", ["--weights", Self.shippedModel, "--resume", "--out", "x"], in: folder)
        #expect(both.status == 1 && both.err.contains("--weights") && both.err.contains("--resume"), "\(both.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
        let missing = try runCommand("train-detector", ["--weights", "missing.safetensors", "--data", Self.twoClassSet, "--out", "y"], in: folder)
        #expect(missing.status == 1 && missing.err.contains("missing.safetensors"), "\(missing.err)")
        // Another architecture: nothing fits.
        let config = folder.appendingPathComponent("other.json").path
        try Data("""
            {"name": "other", "input": {"width": 64, "height": 64}, "anchors": [[1.5, 1.5]],
             "layers": [{"type": "conv", "filters": 8, "size": 3, "batchnorm": true, "activation": "leaky"},
                        {"type": "maxpool"}, {"type": "conv", "size": 1}]}
            """.utf8).write(to: URL(fileURLWithPath: config))
        let other = try runCommand("train-detector", ["--weights", Self.shippedModel, "--config", config, "--data", Self.twoClassSet,
                                                      "--out", folder.appendingPathComponent("z").path])
        #expect(other.status == 1, "\(other.err)")
        #expect(other.err.contains("error: \(Self.shippedModel): none of the network's 7 tensors fits this file's (first: layers.0.conv.weight [3,3,3,8] (file has [3,3,3,16]))"), "\(other.err)")
    }
}
