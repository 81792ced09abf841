import Foundation
import Testing
import Detector

/// `train-detector evaluate` from the built binary, with the shipped model on a few synthetic
/// shapes: the table, --json, --plots, --split, --conf and --iou, and bad input.
@Suite(.serialized) struct EvaluateCommandTests {
    static let model = repositoryRoot.appendingPathComponent("models/tiny-dsc-shapes.safetensors").path

    /// 4 training and 12 validation images of the synthetic shapes, and test/ holding the
    /// validation images with the triangles' labels removed (so triangle has no instances and
    /// its boxes are all false positives).
    static let data: String = {
        let root = try! Fixtures.temporaryFolder("eval-cmd").appendingPathComponent("shapes").path
        try! SyntheticShapes.writeDataset(to: root, trainCount: 4, valCount: 12, seed: 3)
        let fm = FileManager.default
        for kind in ["images", "labels"] { try! fm.createDirectory(atPath: root + "/test/" + kind, withIntermediateDirectories: true) }
        for name in try! fm.contentsOfDirectory(atPath: root + "/val/images") {
            try! fm.copyItem(atPath: root + "/val/images/" + name, toPath: root + "/test/images/" + name)
            let stem = (name as NSString).deletingPathExtension
            let labels = (try? String(contentsOfFile: root + "/val/labels/\(stem).txt", encoding: .utf8)) ?? ""
            let kept = labels.split(separator: "\n").filter { !$0.hasPrefix("2 ") }.map { $0 + "\n" }.joined()
            try! Data(kept.utf8).write(to: URL(fileURLWithPath: root + "/test/labels/\(stem).txt"))
        }
        return root
    }()

    func evaluate(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        try runCommand("train-detector", ["evaluate", Self.model, "--data", Self.data] + arguments)
    }

    func json(_ arguments: [String]) throws -> [String: Any] {
        let r = try evaluate(arguments + ["--json"])
        #expect(r.status == 0, "\(r.err)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.out)")
    }

    @Test func tableOnTheValidationSplit() throws {
        let r = try evaluate([])
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].hasPrefix("\(Self.model) on \(Self.data), split val: 12 images, "), "\(r.out)")
        #expect(lines[1].contains("NMS IoU 0.45") && lines[1].contains("score >= 0.25") && lines[1].contains("IoU >= 0.5"), "\(r.out)")
        #expect(lines.contains { $0.hasPrefix("class") && $0.hasSuffix("AP@0.5  AP@[.5:.95]") }, "\(r.out)")
        for name in ["all", "circle", "square", "triangle"] {
            let row = try #require(lines.first { $0.hasPrefix(name + " ") }, "\(r.out)")
            let fields = row.split(separator: " ")
            #expect(fields.count == 7, "\(row)")
            for value in fields.suffix(4) { #expect(Double(value).map { (0...1).contains($0) } == true, "\(row)") }
        }
        #expect(!r.out.lowercased().contains("nan"), "\(r.out)")
        #expect(!FileManager.default.fileExists(atPath: Self.data + "/plots"))
    }

    /// The test split: triangle has no instances; the table says so and the JSON has null.
    @Test func testSplitWithAClassWithoutInstances() throws {
        let r = try evaluate(["--split", "test"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("split test: 12 images"), "\(r.out)")
        let triangle = try #require(r.out.split(separator: "\n").first { $0.hasPrefix("triangle ") }, "\(r.out)")
        #expect(triangle.contains("no instances"), "\(triangle)")
        #expect(r.out.contains("1 without instances left out"), "\(r.out)")
        #expect(!r.out.lowercased().contains("nan"), "\(r.out)")

        let object = try json(["--split", "test"])
        let classes = try #require(object["classes"] as? [[String: Any]])
        #expect(classes[2]["name"] as? String == "triangle" && classes[2]["instances"] as? Int == 0)
        #expect(classes[2]["AP50"] is NSNull && classes[2]["AP50_95"] is NSNull && classes[2]["recall"] is NSNull && classes[2]["pr_curve"] is NSNull)
        // The mean is over circle and square alone.
        let ap = classes.prefix(2).compactMap { $0["AP50"] as? Double }
        #expect(ap.count == 2 && abs((object["mAP50"] as? Double ?? -1) - (ap[0] + ap[1]) / 2) < 2e-6)
    }

    @Test func jsonHoldsEverything() throws {
        let object = try json([])
        for key in ["model", "data", "split", "images", "instances", "conf", "nms_iou", "match_iou", "mAP50", "mAP50_95",
                    "mAP75", "mAP_by_iou", "precision", "recall", "classes", "pr_curve", "confusion_matrix"] {
            #expect(object[key] != nil, "\(key)")
        }
        let classes = try #require(object["classes"] as? [[String: Any]])
        #expect(classes.count == 3)
        var instances = 0
        for c in classes {
            for key in ["name", "instances", "images", "AP50", "AP50_95", "precision", "recall"] { #expect(c[key] != nil, "\(key)") }
            #expect((c["pr_curve"] as? [Double])?.count == 101)
            instances += c["instances"] as? Int ?? 0
        }
        #expect(instances == object["instances"] as? Int)
        let confusion = try #require(object["confusion_matrix"] as? [String: Any])
        let counts = try #require(confusion["counts"] as? [[Int]])
        #expect(counts.count == 4 && counts.allSatisfy { $0.count == 4 })
        // Rows are the true classes: they add up to the instances.
        for (k, c) in classes.enumerated() { #expect(counts[k].reduce(0, +) == c["instances"] as? Int) }
    }

    /// --conf moves precision, recall and the matrix, not the AP; --iou is the NMS IoU.
    @Test func confAndIoU() throws {
        let low = try json(["--conf", "0.1"]), high = try json(["--conf", "0.6"])
        #expect(low["mAP50"] as? Double == high["mAP50"] as? Double)
        #expect((low["detections_at_conf"] as? Int ?? 0) > (high["detections_at_conf"] as? Int ?? 0))
        #expect(low["conf"] as? Double == 0.1 && (low["confusion_matrix"] as? [String: Any])?["conf"] as? Double == 0.1)
        let nms = try json(["--iou", "0.3"])
        #expect(nms["nms_iou"] as? Double == 0.3 && nms["match_iou"] as? Double == 0.5)
    }

    @Test func plotsAreWritten() throws {
        let folder = try Fixtures.temporaryFolder("eval-cmd-plots").appendingPathComponent("out").path
        let r = try evaluate(["--plots", folder])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("plots: \(folder)/pr_curve.png, \(folder)/confusion_matrix.png"), "\(r.out)")
        for name in ["pr_curve.png", "confusion_matrix.png"] {
            let image = try PNG.read(path: folder + "/" + name)
            #expect(image.width >= 600 && image.height >= 400)
        }
        let object = try json(["--plots", folder])
        #expect(object["plots"] as? [String] == [folder + "/pr_curve.png", folder + "/confusion_matrix.png"])
    }

    @Test func splitChoices() throws {
        let train = try evaluate(["--split", "train"])
        #expect(train.status == 0 && train.out.contains("split train: 4 images"), "\(train.out)\(train.err)")
        // A one-split set: val is refused, the default says it measures train.
        let flat = try oneImageDataSet("eval-flat", side: 64, labels: "0 0.5 0.5 0.5 0.5\n")
        let byDefault = try runCommand("train-detector", ["evaluate", Self.model, "--data", flat.path])
        #expect(byDefault.status == 0, "\(byDefault.err)")
        #expect(byDefault.out.contains("split train: 1 images") && byDefault.out.contains("no validation split: evaluating the training split"), "\(byDefault.out)")
        let val = try runCommand("train-detector", ["evaluate", Self.model, "--data", flat.path, "--split", "val"])
        #expect(val.status == 1 && val.err.contains("no validation split"), "\(val.err)")
        let test = try runCommand("train-detector", ["evaluate", Self.model, "--data", flat.path, "--split", "test"])
        #expect(test.status == 1 && test.err.contains(flat.path + "/test/images"), "\(test.err)")
    }

    @Test(arguments: [["--conf", "1.5"], ["--conf", "nan"], ["--iou=-0.1"], ["--iou", "inf"], ["--split", "holdout"], ["--plots", ""]])
    func badOptionsAreRefusedFirst(arguments: [String]) throws {
        // The model does not exist: the option must be refused before it is looked for.
        let r = try runCommand("train-detector", ["evaluate", "missing.safetensors", "--data", Self.data] + arguments)
        let option = String(arguments[0].prefix { $0 != "=" })
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.contains(option) && !r.err.contains("missing.safetensors"), "\(r.err)")
    }
}
