import Foundation
import Testing
import Detector

/// One bad command line and the option its error must name.
struct BadInput: Sendable, CustomTestStringConvertible {
    var arguments: [String]
    var names: String
    var testDescription: String { arguments.joined(separator: " ") }
    init(_ arguments: [String], names: String) { self.arguments = arguments; self.names = names }
}

/// train-detector from the built binary: bad numbers, output folders, resume and
/// the time limit. Each case is the right result or `error: ...` with exit status 1.
@Suite(.serialized) struct TrainCommandTests {
    /// A folder with the tiny config and a 4 + 1 image synthetic set, made once.
    static let fixture: (folder: URL, config: String, data: String) = {
        let folder = try! Fixtures.temporaryFolder("train-cmd")
        let config = folder.appendingPathComponent("tiny.json").path
        try! Data(tinyConfigJSON.utf8).write(to: URL(fileURLWithPath: config))
        let data = folder.appendingPathComponent("shapes").path
        let r = try! runCommand("train-detector", ["generate", "--out", data, "--train", "4", "--val", "1", "--seed", "3"])
        precondition(r.status == 0, r.err)
        return (folder, config, data)
    }()

    /// `train` on the fixture with a small batch into `out`, plus `extra`.
    static func train(_ out: String, _ extra: [String], in folder: URL? = nil) throws -> (status: Int32, out: String, err: String) {
        try runCommand("train-detector", ["--data", fixture.data, "--config", fixture.config, "--batch-size", "2", "--out", out] + extra,
                       in: folder)
    }

    static let badInputs: [BadInput] = [
        BadInput(["--epochs", "1000000000000000000"], names: "--epochs"),
        BadInput(["--epochs", "0"], names: "--epochs"),
        BadInput(["--epochs", "99999999999999999999999"], names: "--epochs"),
        BadInput(["--batch-size", "0"], names: "--batch-size"),
        BadInput(["--batch-size", "5000"], names: "--batch-size"),
        BadInput(["--lr", "0"], names: "--lr"),
        BadInput(["--lr", "2"], names: "--lr"),
        BadInput(["--lr", "inf"], names: "--lr"),
        BadInput(["--lr", "nan"], names: "--lr"),
        BadInput(["--overfit", "0"], names: "--overfit"),
        BadInput(["--overfit", "1000000000"], names: "--overfit"),
        BadInput(["--time-limit", "nan"], names: "--time-limit"),
        BadInput(["--time-limit", "inf"], names: "--time-limit"),
        BadInput(["--time-limit", "0"], names: "--time-limit"),
        BadInput(["--time-limit", "-5"], names: "--time-limit"),
        BadInput(["--warmup-images", "-1"], names: "--warmup-images"),
        BadInput(["--seed", "-1"], names: "--seed"),
        BadInput(["--resume"], names: "--out"),
        BadInput(["--resume", "--exist-ok", "--out", "x"], names: "--exist-ok"),
        BadInput(["--allow-config-change", "--out", "x"], names: "--resume"),
        BadInput(["show-data", "x", "--count=-1"], names: "--count"),
        BadInput(["show-data", "x", "--count", "0"], names: "--count"),
        BadInput(["generate", "--train=-1"], names: "--train"),
        BadInput(["generate", "--train", "0"], names: "--train"),
        BadInput(["generate", "--train", "2000000"], names: "--train"),
        BadInput(["generate", "--val=-3"], names: "--val"),
        BadInput(["anchors", "1000000000000"], names: "anchors"),
        BadInput(["anchors", "0"], names: "anchors"),
        BadInput(["anchors", "101"], names: "anchors"),
    ]

    /// Refused before any work (no data generated in the working directory), exit 1, the
    /// option named, no crash.
    @Test(arguments: badInputs) func badNumbersAreRefusedWithExit1(_ input: BadInput) throws {
        let folder = try Fixtures.temporaryFolder("train-cmd-bad")
        let r = try runCommand("train-detector", input.arguments, in: folder)
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.contains(input.names), "\(r.err)")
        #expect(!r.err.contains("Fatal error") && !r.err.contains("Crash"), "\(r.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func helpGivesTheRanges() throws {
        // The help as one line: ArgumentParser wraps it at any space.
        func help(_ arguments: [String]) throws -> String {
            let r = try runCommand("train-detector", arguments + ["--help"])
            #expect(r.status == 0)
            return r.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }
        let train = try help(["train"])
        for text in ["1 to 1000000", "1 to 1024", "(0, 1]", "finite number above 0", "partial epoch", "--exist-ok", "--allow-config-change"] {
            #expect(train.contains(text), "\(text)")
        }
        let generate = try help(["generate"])
        #expect(generate.contains("--force") && generate.contains("0 to 1000000"), "\(generate)")
        #expect(try help(["anchors"]).contains("1 to 100"))
        #expect(try help(["show-data"]).contains("1 to 100000"))
    }

    @Test func anchorsNeedAsManyBoxes() throws {
        let data = try oneImageDataSet("anchors-few", side: 32, labels: "0 0.5 0.5 0.25 0.25\n")
        let r = try runCommand("train-detector", ["anchors", "2", "--data", data.path])
        #expect(r.status == 1)
        #expect(r.err.contains("2 anchors need at least 2 labelled boxes") && r.err.contains("has 1"), "\(r.err)")
    }

    /// An existing non-empty folder is refused (and left alone) unless --force, which replaces it whole.
    @Test func generateRefusesANonEmptyFolderUnlessForced() throws {
        let out = try Fixtures.temporaryFolder("generate-out").appendingPathComponent("set")
        let first = try runCommand("train-detector", ["generate", "--out", out.path, "--train", "2", "--val", "1"])
        #expect(first.status == 0, "\(first.err)")
        let marker = out.appendingPathComponent("mine.txt")
        try Data("keep".utf8).write(to: marker)
        let again = try runCommand("train-detector", ["generate", "--out", out.path, "--train", "3", "--val", "1"])
        #expect(again.status == 1)
        #expect(again.err.contains(out.path) && again.err.contains("--force"), "\(again.err)")
        #expect(FileManager.default.fileExists(atPath: marker.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path + "/train/images").count == 2)
        let forced = try runCommand("train-detector", ["generate", "--out", out.path, "--train", "3", "--val", "1", "--force"])
        #expect(forced.status == 0, "\(forced.err)")
        #expect(!FileManager.default.fileExists(atPath: marker.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path + "/train/images").count == 3)
        // Nothing left beside it.
        let siblings = try FileManager.default.contentsOfDirectory(atPath: out.deletingLastPathComponent().path)
        #expect(siblings == ["set"], "\(siblings)")
    }

    @Test func anExistingRunIsRefusedResumedOrOverwritten() throws {
        let out = try Fixtures.temporaryFolder("train-cmd-run").path
        let first = try Self.train(out, ["--epochs", "2"])
        #expect(first.status == 0, "\(first.err)")
        let again = try Self.train(out, ["--epochs", "2"])
        #expect(again.status == 1)
        #expect(again.err.contains("error: \(out) already holds a training run") && again.err.contains("--exist-ok"), "\(again.err)")
        let fewer = try Self.train(out, ["--epochs", "1", "--resume"])
        #expect(fewer.status == 1)
        #expect(fewer.err.contains("cannot resume") && fewer.err.contains("after epoch 2"), "\(fewer.err)")
        #expect(!fewer.err.contains("Fatal error"))
        let complete = try Self.train(out, ["--epochs", "2", "--resume"])
        #expect(complete.status == 0, "\(complete.err)")
        #expect(complete.out.contains("already trained 2 epochs; nothing to do"), "\(complete.out)")
        let overwritten = try Self.train(out, ["--epochs", "1", "--exist-ok"])
        #expect(overwritten.status == 0, "\(overwritten.err)")
        let lines = try String(contentsOfFile: out + "/results.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
    }

    @Test func aSecondTrainingIntoTheSameFolderIsRefused() throws {
        let out = try Fixtures.temporaryFolder("train-cmd-locked").path
        let lock = try FileLock(path: out + "/.lock")
        defer { lock.unlock() }
        let r = try Self.train(out, ["--epochs", "1"])
        #expect(r.status == 1)
        #expect(r.err.contains("error: \(out) is in use by another training (pid \(getpid()))"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: out + "/results.jsonl"))
        // Said before any data is loaded (here there is none to load).
        let early = try runCommand("train-detector", ["--data", out + "/no-such-data", "--config", Self.fixture.config, "--out", out])
        #expect(early.status == 1 && early.err.contains("is in use by another training"), "\(early.err)")
    }

    @Test func resumeWithAnotherConfigIsRefused() throws {
        let out = try Fixtures.temporaryFolder("train-cmd-config").path
        #expect(try Self.train(out, ["--epochs", "1"]).status == 0)
        let other = Self.fixture.folder.appendingPathComponent("other-anchors.json").path
        try Data(tinyConfigJSON.replacingOccurrences(of: "[[1.5, 1.5], [3.0, 3.0]]", with: "[[1.0, 1.0], [3.0, 3.0]]").utf8)
            .write(to: URL(fileURLWithPath: other))
        let args = ["--data", Self.fixture.data, "--config", other, "--batch-size", "2", "--out", out, "--epochs", "2", "--resume"]
        let refused = try runCommand("train-detector", args)
        #expect(refused.status == 1)
        #expect(refused.err.contains("the config differs") && refused.err.contains("anchors [1.5, 1.5]"), "\(refused.err)")
        let allowed = try runCommand("train-detector", args + ["--allow-config-change"])
        #expect(allowed.status == 0, "\(allowed.err)")
        #expect(allowed.err.contains("warning: the config differs"), "\(allowed.err)")
    }

    /// Without --out: runs/train-1, then runs/train-2 (the first free N), each its own run.
    @Test func theDefaultOutputFolderIsTheFirstFreeOne() throws {
        let folder = try Fixtures.temporaryFolder("train-cmd-default")
        let args = ["--data", Self.fixture.data, "--config", Self.fixture.config, "--batch-size", "2", "--epochs", "1"]
        for n in 1...2 {
            let r = try runCommand("train-detector", args, in: folder)
            #expect(r.status == 0, "\(r.err)")
            #expect(r.err.contains("output in runs/train-\(n)"), "\(r.err)")
            #expect(FileManager.default.fileExists(atPath: folder.path + "/runs/train-\(n)/last.safetensors"))
        }
    }

    /// A limit that passes in the first batch: stopped after that batch, the partial epoch in
    /// last.safetensors; --resume finishes the run.
    @Test func theTimeLimitStopsWithinABatch() throws {
        let out = try Fixtures.temporaryFolder("train-cmd-limit").path
        let stopped = try Self.train(out, ["--epochs", "2", "--batch-size", "1", "--time-limit", "0.000001"])
        #expect(stopped.status == 0, "\(stopped.err)")
        #expect(stopped.out.contains("stopped in epoch 1 after batch 1"), "\(stopped.out)")
        #expect(!stopped.err.contains("best.safetensors"), "\(stopped.err)")   // not written, so not named
        #expect(!FileManager.default.fileExists(atPath: out + "/results.jsonl"))
        let resumed = try Self.train(out, ["--epochs", "2", "--batch-size", "1", "--resume"])
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect(resumed.err.contains("resumed from \(out)/last.safetensors in epoch 1, after batch 1"), "\(resumed.err)")
        let lines = try String(contentsOfFile: out + "/results.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
    }
}
