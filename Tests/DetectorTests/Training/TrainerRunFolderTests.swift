import Foundation
import Testing
import Detector

/// The trainer's handling of its output folder and of resumption: every case is
/// either the right result or a `TrainingError` of a named kind, never a crash or a silent
/// wrong result.
@Suite(.serialized) struct TrainerRunFolderTests {
    static let config = try! ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "tiny")
    static let samples = tinySamples(count: 3)

    /// Three images, batch 1 (three batches an epoch), no augmentation: quick and exact.
    static func options(_ folder: String, epochs: Int = 3) -> TrainingOptions {
        var options = TrainingOptions()
        options.epochs = epochs
        options.batchSize = 1
        options.augmentation = .none
        options.outputFolder = folder
        return options
    }

    @discardableResult
    static func train(_ options: TrainingOptions, messages: inout [String]) throws -> (Trainer, TrainingResult) {
        let trainer = try Trainer(config: config, train: samples, validation: [], options: options)
        var collected: [String] = []
        let result = try trainer.run { if case let .message(text) = $0 { collected.append(text) } }
        messages = collected
        return (trainer, result)
    }

    @discardableResult
    static func train(_ options: TrainingOptions) throws -> (Trainer, TrainingResult) {
        var ignored: [String] = []
        return try train(options, messages: &ignored)
    }

    static func lines(_ folder: String) throws -> [[String: Any]] {
        try String(contentsOfFile: folder + "/results.jsonl", encoding: .utf8).split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The lines as canonical JSON without the wall-clock fields (seconds, images per second).
    static func linesWithoutTiming(_ folder: String) throws -> [String] {
        try lines(folder).map { line in
            var line = line
            line["seconds"] = nil
            line["images_per_s"] = nil
            return String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)
        }
    }

    static func losses(_ folder: String) throws -> [Double] { try lines(folder).map { $0["loss"] as! Double } }

    static func error(_ body: () throws -> Void) -> TrainingError? {
        do { try body(); return nil } catch let error as TrainingError { return error } catch { return nil }
    }

    // MARK: Resume and the number of epochs

    /// Fewer epochs than done: an error naming both; as many: nothing to train (not an error);
    /// more: continues to the new total.
    @Test func resumeWithFewerEpochsThanDoneIsAnErrorNotACrash() throws {
        let folder = try Fixtures.temporaryFolder("resume-epochs").path
        try Self.train(Self.options(folder, epochs: 2))
        var options = Self.options(folder, epochs: 1)
        options.resume = true
        let error = try #require(Self.error { try Self.train(options) })
        #expect(error.kind == .epochsBelowCheckpoint)
        #expect(error.description.contains("after epoch 2") && error.description.contains("1 epochs"), "\(error)")

        options.epochs = 2
        var messages: [String] = []
        let (_, complete) = try Self.train(options, messages: &messages)
        #expect(complete.alreadyComplete)
        #expect(complete.epochs.map(\.epoch) == [1, 2])
        #expect(messages.contains { $0.contains("nothing to train") }, "\(messages)")
        #expect(try Self.lines(folder).count == 2)

        options.epochs = 3
        let (_, more) = try Self.train(options)
        #expect(!more.alreadyComplete && more.epochs.map(\.epoch) == [1, 2, 3])
        #expect(try Self.lines(folder).map { $0["epoch"] as! Int } == [1, 2, 3])
    }

    // MARK: results.jsonl and last.safetensors

    /// The moment last.safetensors of an epoch is complete, results.jsonl already holds that
    /// epoch's line (a process killed right after the rename loses nothing).
    @Test func theLogLineIsOnDiskBeforeTheCheckpoint() throws {
        let folder = try Fixtures.temporaryFolder("log-order").path
        let trainer = try Trainer(config: Self.config, train: Self.samples, validation: [], options: Self.options(folder))
        var checked: [Int] = []
        var problems: [String] = []
        _ = try trainer.run { event in
            guard case let .checkpoint(path, epoch, batch) = event else { return }
            #expect(batch == 0)
            let checkpoint = try? Checkpoint.load(path: path)
            if checkpoint?.training["epoch"] != String(epoch) { problems.append("checkpoint of epoch \(epoch) not on disk") }
            let epochs = ((try? Self.lines(folder)) ?? []).map { $0["epoch"] as! Int }
            if epochs.last != epoch { problems.append("epoch \(epoch): log holds \(epochs)") }
            checked.append(epoch)
        }
        #expect(checked == [1, 2, 3])
        #expect(problems.isEmpty, "\(problems)")
    }

    /// A process that died after writing epoch 3's line but before saving its checkpoint: resume
    /// drops the line, says so, and trains epoch 3 again to the uninterrupted run's numbers.
    @Test func resumeDropsLinesTheCheckpointDoesNotCover() throws {
        let straight = try Fixtures.temporaryFolder("log-straight").path
        try Self.train(Self.options(straight))
        let folder = try Fixtures.temporaryFolder("log-killed").path
        var options = Self.options(folder)
        options.stopAfterEpoch = 2
        try Self.train(options)
        // What the killed process left: epoch 3's line (with made-up numbers), no checkpoint of it.
        let fake = try String(contentsOfFile: folder + "/results.jsonl", encoding: .utf8).split(separator: "\n").last!
            .replacingOccurrences(of: "\"epoch\":2", with: "\"epoch\":3")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/results.jsonl"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((fake + "\n").utf8))
        try handle.close()
        #expect(try Self.lines(folder).count == 3)

        options.stopAfterEpoch = nil
        options.resume = true
        var messages: [String] = []
        try Self.train(options, messages: &messages)
        #expect(messages.contains { $0.contains("dropped the line(s) of epoch(s) 3") }, "\(messages)")
        #expect(try Self.lines(folder).map { $0["epoch"] as! Int } == [1, 2, 3])
        #expect(try Self.losses(folder) == Self.losses(straight))
    }

    /// The checkpoint's own line missing (as the old writer lost it): restored from the
    /// checkpoint; an earlier line missing: reported.
    @Test func resumeRestoresOrReportsMissingLines() throws {
        let straight = try Fixtures.temporaryFolder("missing-straight").path
        try Self.train(Self.options(straight))
        let folder = try Fixtures.temporaryFolder("missing").path
        var options = Self.options(folder)
        options.stopAfterEpoch = 2
        try Self.train(options)
        let kept = try String(contentsOfFile: folder + "/results.jsonl", encoding: .utf8).split(separator: "\n").prefix(1)
        try Data((kept.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: folder + "/results.jsonl"))

        options.stopAfterEpoch = nil
        options.resume = true
        var messages: [String] = []
        try Self.train(options, messages: &messages)
        #expect(messages.contains { $0.contains("the line of epoch 2 was missing; restored it from last.safetensors") }, "\(messages)")
        #expect(try Self.losses(folder) == Self.losses(straight))

        // Now epoch 1's line goes missing, which no checkpoint holds.
        let text = try String(contentsOfFile: folder + "/results.jsonl", encoding: .utf8).split(separator: "\n").dropFirst()
        try Data((text.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: folder + "/results.jsonl"))
        options.epochs = 4
        try Self.train(options, messages: &messages)
        #expect(messages.contains { $0.contains("no line for epoch(s) 1 of the 3") }, "\(messages)")
        #expect(try Self.lines(folder).map { $0["epoch"] as! Int } == [2, 3, 4])
    }

    // MARK: One writer per folder

    @Test func aSecondWriterOfTheFolderIsRefused() throws {
        let folder = try Fixtures.temporaryFolder("locked").path
        let holder = try FileLock(path: folder + "/" + RunFolder.lockName)
        let error = try #require(Self.error { try Self.train(Self.options(folder)) })
        #expect(error.kind == .folderInUse)
        #expect(error.description.contains(folder) && error.description.contains("pid \(getpid())"), "\(error)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/results.jsonl"))
        holder.unlock()
        try Self.train(Self.options(folder, epochs: 1))   // free again
        // The trainer let go of its lock at the end of the run.
        let after = try FileLock(path: folder + "/" + RunFolder.lockName)
        after.unlock()
    }

    @Test func aLockIsExclusiveEvenInOneProcessAndNamesItsHolder() throws {
        let path = try Fixtures.temporaryFolder("lock").path + "/.lock"
        let first = try FileLock(path: path)
        do {
            _ = try FileLock(path: path)
            Issue.record("a second lock was granted")
        } catch let error as FileLockError {
            #expect(error.kind == .held && error.holder == getpid())
            #expect(error.description.contains(path) && error.description.contains("pid \(getpid())"))
        }
        first.unlock()
        let second = try FileLock(path: path)
        second.unlock()
    }

    // MARK: Existing runs and run folder names

    @Test func anExistingRunIsNotWipedWithoutResumeOrExistOK() throws {
        let folder = try Fixtures.temporaryFolder("existing").path
        try Self.train(Self.options(folder, epochs: 2))
        let before = try Data(contentsOf: URL(fileURLWithPath: folder + "/last.safetensors"))
        let error = try #require(Self.error { try Self.train(Self.options(folder, epochs: 1)) })
        #expect(error.kind == .existingRun)
        #expect(error.description.contains(folder) && error.description.contains("--resume") && error.description.contains("--exist-ok"), "\(error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/last.safetensors")) == before)
        #expect(try Self.lines(folder).count == 2)

        var options = Self.options(folder, epochs: 1)
        options.existOK = true
        try Self.train(options)
        #expect(try Self.lines(folder).map { $0["epoch"] as! Int } == [1])
        #expect(try Checkpoint.load(path: folder + "/last.safetensors").training["epoch"] == "1")
    }

    @Test func resumeWithoutACheckpointSaysWhy() throws {
        let folder = try Fixtures.temporaryFolder("no-checkpoint").path
        var options = Self.options(folder)
        options.resume = true
        let empty = try #require(Self.error { try Self.train(options) })
        #expect(empty.kind == .nothingToResume && empty.description.contains("no last.safetensors"))
        // A run killed between its first log line and its first checkpoint.
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: folder + "/results.jsonl"))
        let killed = try #require(Self.error { try Self.train(options) })
        #expect(killed.kind == .nothingToResume && killed.description.contains("--exist-ok"), "\(killed)")
    }

    /// Eight threads asking for runs/train-N at once get eight different folders, 1 to 8.
    @Test func numberedFoldersAreNeverShared() throws {
        let root = try Fixtures.temporaryFolder("numbered").path
        let existing = root + "/runs/train-2"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: true)
        final class Made: @unchecked Sendable {
            let lock = NSLock()
            var paths: [String] = []
            func add(_ path: String?) { lock.lock(); paths += path.map { [$0] } ?? []; lock.unlock() }
        }
        let made = Made()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in made.add(try? RunFolder.createNumbered(prefix: root + "/runs/train-")) }
        let names = made.paths.map { URL(fileURLWithPath: $0).lastPathComponent }
        #expect(names.count == 8 && Set(names).count == 8)
        #expect(Set(names) == Set([1, 3, 4, 5, 6, 7, 8, 9].map { "train-\($0)" }))
    }

    // MARK: Config and settings on resume

    @Test func resumeRefusesAnotherConfigNamingTheDifference() throws {
        let folder = try Fixtures.temporaryFolder("config-change").path
        try Self.train(Self.options(folder, epochs: 1))
        var other = Self.config
        other.anchors[0] = Anchor(width: 1, height: 1)
        other.loss.objectScale = 2
        var options = Self.options(folder, epochs: 2)
        options.resume = true
        let refuse = { try Trainer(config: other, train: Self.samples, validation: [], options: options).run { _ in } }
        let error = try #require(Self.error { _ = try refuse() })
        #expect(error.kind == .configChanged)
        #expect(error.description.contains("anchors [1.5, 1.5], [3.0, 3.0] → [1.0, 1.0], [3.0, 3.0]"), "\(error)")
        #expect(error.description.contains("loss.object 5.0 → 2.0") && error.description.contains("--allow-config-change"), "\(error)")
        #expect(try Self.lines(folder).count == 1)

        options.allowConfigChange = true
        var messages: [String] = []
        let trainer = try Trainer(config: other, train: Self.samples, validation: [], options: options)
        _ = try trainer.run { if case let .message(text) = $0 { messages.append(text) } }
        #expect(messages.contains { $0.hasPrefix("warning:") && $0.contains("loss.object 5.0 → 2.0") }, "\(messages)")
        #expect(try Self.lines(folder).count == 2)
    }

    @Test func configDifferencesNameEachField() throws {
        var other = Self.config
        other.name = "renamed"
        other.layers[1] = .maxPool(size: 3, stride: 2)
        other.loss.rescore = false
        let found = configDifferences(Self.config, other)
        #expect(found.count == 3, "\(found)")
        #expect(found.contains("name \"tiny-test\" → \"renamed\""))
        #expect(found.contains("loss.rescore true → false"))
        #expect(found.contains { $0.hasPrefix("layer 1 ") && $0.contains("\"size\": 2") && $0.contains("\"size\": 3") }, "\(found)")
        #expect(configDifferences(Self.config, Self.config).isEmpty)
    }

    @Test func resumeWithOtherSettingsWarns() throws {
        let folder = try Fixtures.temporaryFolder("settings-change").path
        try Self.train(Self.options(folder, epochs: 1))
        var options = Self.options(folder, epochs: 2)
        options.resume = true
        options.seed = 5
        options.learningRate = 2e-3
        var messages: [String] = []
        try Self.train(options, messages: &messages)
        #expect(messages.contains { $0.hasPrefix("warning:") && $0.contains("seed 1 → 5") && $0.contains("learning rate 0.001 → 0.002") }, "\(messages)")
        #expect(messages.contains { $0.contains("started for 1 epochs") }, "\(messages)")
    }

    // MARK: The time limit

    /// A limit that passes during the first batch stops after that batch, not at the end of the
    /// epoch; last.safetensors then holds the partial epoch, and resuming (twice stopped again,
    /// then to the end) gives the uninterrupted run's weights and log, loss for loss.
    @Test func theTimeLimitStopsWithinABatchAndResumeIsExact() throws {
        let straightFolder = try Fixtures.temporaryFolder("limit-straight").path
        let (straight, _) = try Self.train(Self.options(straightFolder, epochs: 2))
        let folder = try Fixtures.temporaryFolder("limit").path
        var options = Self.options(folder, epochs: 2)
        options.timeLimit = 1e-9
        var batches = 0
        let trainer = try Trainer(config: Self.config, train: Self.samples, validation: [], options: options)
        let result = try trainer.run { if case .batch = $0 { batches += 1 } }
        #expect(batches == 1)
        #expect(result.stoppedInEpoch?.epoch == 1 && result.stoppedInEpoch?.batch == 1)
        #expect(result.epochs.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: folder + "/results.jsonl"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/best.safetensors"))
        let saved = try Checkpoint.load(path: folder + "/last.safetensors").training
        #expect(saved["epoch"] == "0" && saved["batch"] == "1" && saved["images_seen"] == "1")

        options.resume = true
        let (_, second) = try Self.train(options)       // one more batch: epoch 1, batch 2
        #expect(second.stoppedInEpoch?.epoch == 1 && second.stoppedInEpoch?.batch == 2)
        let (_, third) = try Self.train(options)        // batch 3 ends epoch 1: a complete epoch, then stop
        #expect(third.stoppedInEpoch == nil && third.epochs.map(\.epoch) == [1])
        options.timeLimit = nil
        let (resumed, _) = try Self.train(options)
        #expect(largestDifference(resumed.network.parameters.map(\.value), straight.network.parameters.map(\.value)) == 0)
        #expect(try Self.losses(folder) == Self.losses(straightFolder))
        #expect(try Self.linesWithoutTiming(folder) == Self.linesWithoutTiming(straightFolder))
    }

    /// A partial epoch cannot be finished with another batch size (its remaining batches would
    /// hold other images): refused, naming the change.
    @Test func aPartialEpochIsNotFinishedWithOtherBatches() throws {
        let folder = try Fixtures.temporaryFolder("limit-change").path
        var options = Self.options(folder)
        options.timeLimit = 1e-9
        try Self.train(options)
        options.resume = true
        options.timeLimit = nil
        options.batchSize = 2
        let error = try #require(Self.error { try Self.train(options) })
        #expect(error.kind == .partialEpochMismatch)
        #expect(error.description.contains("batch size 1 → 2") && error.description.contains("epoch 1"), "\(error)")
        // Fewer epochs than the one in progress: an error too.
        options.batchSize = 1
        options.epochs = 0
        #expect(Self.error { try Self.train(options) }?.kind == .epochsBelowCheckpoint)
    }

    // MARK: A non-finite loss

    /// A learning rate of 1e30 blows the weights up after the first step. In the first epoch
    /// no checkpoint exists, and the error says so; later, it names last.safetensors.
    @Test func aNonFiniteLossNamesOnlyACheckpointThatExists() throws {
        let folder = try Fixtures.temporaryFolder("nan").path
        var options = Self.options(folder)
        options.learningRate = 1e30
        let first = try #require(Self.error { try Self.train(options) })
        #expect(first.kind == .nonFiniteLoss)
        #expect(first.description.contains("No checkpoint was written") && !first.description.contains("last good"), "\(first)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/last.safetensors"))

        let later = try Fixtures.temporaryFolder("nan-later").path
        var good = Self.options(later)
        good.stopAfterEpoch = 1
        try Self.train(good)
        options.outputFolder = later
        options.resume = true
        let second = try #require(Self.error { try Self.train(options) })
        #expect(second.kind == .nonFiniteLoss)
        #expect(second.description.contains("The last good checkpoint is \(later)/last.safetensors (after epoch 1)"), "\(second)")
    }
}
