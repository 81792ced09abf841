import Foundation
import Testing
import Detector

/// `train-detector --time MINUTES` from the built binary: the run is planned to end by the
/// budget, says so, and logs each epoch's validation time and planned total.
@Suite(.serialized) struct TrainTimeBudgetTests {
    static func lines(_ folder: String) throws -> [[String: Any]] {
        try String(contentsOfFile: folder + "/results.jsonl", encoding: .utf8).split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The time the run counted against its budget (training, validation, checkpoints and
    /// plots of every epoch), as last.safetensors keeps it: "epochs batches training end", the
    /// times as the bit patterns of Doubles.
    static func spent(_ folder: String) throws -> Double {
        let fields = try #require(try Checkpoint.load(path: folder + "/last.safetensors").training["time"]).split(separator: " ")
        try #require(fields.count == 4)
        return fields[2...].map { Double(bitPattern: UInt64($0, radix: 16)!) }.reduce(0, +)
    }

    /// 0.05 minutes (3 s) on 4 images: as many epochs as fit, stopped near 3 s. The bounds are
    /// generous (a loaded machine), but an over-run of more than one epoch, or a run that
    /// ignored the budget, fails.
    @Test func aShortBudgetEndsTheRunNearIt() throws {
        let out = try Fixtures.temporaryFolder("train-time").path
        let start = Date()
        let r = try TrainCommandTests.train(out, ["--time", "0.05"])
        let wall = Date().timeIntervalSince(start)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("for 3s; output in"), "\(r.err)")
        #expect(r.err.contains("time budget reached:") && r.err.contains("of 3.0 s"), "\(r.err)")
        #expect(r.out.contains("(time budget 3s,"), "\(r.out)")
        let lines = try Self.lines(out)
        #expect(lines.count >= 2, "\(lines.count) epochs in 3 s")
        let longest = lines.map { ($0["seconds"] as! Double) + ($0["val_seconds"] as? Double ?? 0) }.max() ?? 0
        let spent = try Self.spent(out)
        #expect(spent <= 3 + longest + 0.5, "spent \(spent) s, longest epoch \(longest) s")
        #expect(spent >= 1.5, "spent \(spent) s of 3")
        #expect(wall < 3 + 60, "\(wall) s")
        // Every line validated (val split of 1 image) with its time, and the plan ends at the last.
        #expect(lines.allSatisfy { $0["val_seconds"] is Double && $0["planned_epochs"] is Int })
        #expect(lines.last?["planned_epochs"] as? Int == lines.last?["epoch"] as? Int)
        let checkpoint = try Checkpoint.load(path: out + "/last.safetensors")
        #expect(checkpoint.training["time_budget"] == "3.0 s")
        #expect(checkpoint.training["epoch"] == String(lines.count))

        // Resumed with the same budget: nothing left. With a larger one: it goes on, counting
        // the time already spent.
        let again = try TrainCommandTests.train(out, ["--time", "0.05", "--resume"])
        #expect(again.status == 0, "\(again.err)")
        #expect(again.out.contains("its time budget of 3s; nothing to do (pass a larger --time"), "\(again.out)")
        let more = try TrainCommandTests.train(out, ["--time", "0.1", "--resume"])
        #expect(more.status == 0, "\(more.err)")
        #expect(more.err.contains("warning: resuming with settings other than the run's (time budget 3.0 s → 6.0 s)"), "\(more.err)")
        let after = try Self.lines(out)
        #expect(after.count > lines.count)
        let spentAfter = try Self.spent(out)
        #expect(spentAfter <= 6 + 2 * longest + 0.5 && spentAfter > spent, "spent \(spentAfter) s of 6")
    }

    /// With --epochs, the epochs are a cap.
    @Test func epochsCapATimedRun() throws {
        let out = try Fixtures.temporaryFolder("train-time-cap").path
        let r = try TrainCommandTests.train(out, ["--time", "5", "--epochs", "2"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("for 5m00s (at most 2 epochs)"), "\(r.err)")
        #expect(r.err.contains("epoch   1/2") && r.err.contains("epoch   2/2"), "\(r.err)")
        #expect(!r.err.contains("time budget reached"), "\(r.err)")
        #expect(try Self.lines(out).count == 2)
    }

    static let badTimes: [BadInput] = [
        BadInput(["--time", "nan"], names: "--time"),
        BadInput(["--time", "inf"], names: "--time"),
        BadInput(["--time", "0"], names: "--time"),
        BadInput(["--time", "-1"], names: "--time"),
        BadInput(["--time", "10081"], names: "--time"),
        BadInput(["--time", "1", "--time-limit", "5"], names: "--time-limit"),
        BadInput(["--time", "1", "--overfit", "2"], names: "--overfit"),
    ]

    @Test(arguments: badTimes) func badTimesAreRefusedWithExit1(_ input: BadInput) throws {
        let folder = try Fixtures.temporaryFolder("train-time-bad")
        let r = try runCommand("train-detector", input.arguments, in: folder)
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.contains(input.names), "\(r.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func helpExplainsTheBudget() throws {
        let r = try runCommand("train-detector", ["train", "--help"])
        let help = r.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for text in ["--time <time>", "at most 10080", "validation counts", "cut short", "--no-autoanchor", "98%", "not their resolution"] {
            #expect(help.contains(text), "\(text)")
        }
    }
}
