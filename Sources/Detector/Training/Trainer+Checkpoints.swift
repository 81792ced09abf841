import Foundation

/// The trainer's checkpoints: what they hold besides the weights and optimizer state, and
/// resuming from them (see `Trainer`'s comment for the order of the files at an epoch's end).
extension Trainer {
    /// The settings that decide the batches and the steps, stored in each checkpoint and
    /// compared on resume: (metadata key, name in messages, value).
    var runSettings: [(key: String, name: String, value: String)] {
        let a = options.augmentation
        let augmentation = options.isOverfitting || a == .none
            ? "none"
            : "flip \(a.flip) scale \(a.scale) translate \(a.translate) hue \(a.hue) saturation \(a.saturation) value \(a.value)"
        return [("seed", "seed", String(options.seed)),
                ("batch_size", "batch size", String(batchSize)),
                ("train_images", "training images", String(train.count)),
                ("overfit", "overfit images", options.overfitImages.map(String.init) ?? "off"),
                ("learning_rate", "learning rate", "\(options.learningRate)"),
                ("final_lr_fraction", "final learning-rate fraction", "\(options.finalLearningRateFraction)"),
                ("warmup_images", "warm-up images", String(loss.settings.warmupImages)),
                ("augmentation", "augmentation", augmentation),
                ("time_budget", "time budget", options.timeBudget.map { "\($0) s" } ?? "off"),
                ("ema", "moving average", emaSetting),
                ("weight_decay", "weight decay", "\(options.weightDecay)"),
                ("mosaic", "mosaic", !options.mosaic || options.isOverfitting ? "off"
                    : options.closeMosaic.map { "off for the last \($0) epochs" } ?? "off for the last tenth of the epochs")]
    }

    /// The moving average's settings as stored (`decay D ramp T`, each Float as Swift prints
    /// it, which reads back exactly), "off", or before a time budget's first batch has chosen them
    /// "on, not yet scaled".
    var emaSetting: String {
        guard usesEMA else { return "off" }
        guard let ema else { return "on, not yet scaled" }
        return "decay \(ema.decay) ramp \(ema.rampUpdates)"
    }

    /// The settings in `emaSetting`'s text; nil for any other.
    static func emaSettings(_ text: String) -> ExponentialMovingAverage.Settings? {
        let fields = text.split(separator: " ")
        guard fields.count == 4, fields[0] == "decay", fields[2] == "ramp", let decay = Float(fields[1]),
              let ramp = Float(fields[3]), decay.isFinite, (0..<1).contains(decay), ramp.isFinite, ramp > 0 else { return nil }
        return ExponentialMovingAverage.Settings(decay: decay, rampUpdates: ramp)
    }

    /// Settings a checkpoint saved mid-epoch must be resumed with: they decide which images
    /// the rest of that epoch's batches hold.
    static let partialEpochKeys: Set<String> = ["seed", "batch_size", "train_images", "overfit"]

    /// Saves weights, optimizer state and the training state after `epoch` complete epochs and,
    /// with `partial`, that many batches of the next.
    func save(to path: String, epoch: Int, partial: EpochProgress? = nil, summary: EpochSummary? = nil) throws {
        var training: [String: String] = [:]
        for setting in runSettings { training[setting.key] = setting.value }
        training["epoch"] = String(epoch)
        training["batch"] = String(partial?.batches ?? 0)
        if let partial { training["partial_epoch"] = partial.encoded }
        training["epochs"] = String(options.epochs)
        training["images_seen"] = String(imagesSeen)
        training["best_score"] = String(bestScore)
        training["lr_scale"] = String(overfitCheck.learningRateScale.bitPattern, radix: 16)
        training["plateaus"] = String(overfitCheck.plateaus)
        training["time"] = timing.encoded
        if let budgetEnded { training["budget_ended"] = "\(budgetEnded)" }
        training["anchors"] = config.anchors == anchorChoice.configAnchors ? "config" : "fitted"
        training["config_anchors"] = anchorList(anchorChoice.configAnchors)
        if let summary { training["summary"] = String(decoding: try Trainer.encodeLine(summary), as: UTF8.self) }
        // With the average in the model (best.safetensors) the file's weights are the average:
        // its state would repeat them, and the live weights are in last.safetensors.
        let emaState = ema?.isSwapped == false ? ema : nil
        if ema?.isSwapped == true { training["weights"] = "ema" }
        try Checkpoint.save(parameters: network.parameters, configJSON: config.jsonString(), optimizer: optimizer.state,
                            ema: emaState?.state, training: training, to: path)
        if path == lastPath {
            savedCheckpoint = partial.map { "in epoch \(epoch + 1), after batch \($0.batches) of \(batchCount)" } ?? "after epoch \(epoch)"
        }
    }

    /// Resumes from `last.safetensors` in the output folder: weights, optimizer state, epoch
    /// (and the partial epoch's sums), after checking that the config is the checkpoint's and
    /// the epochs asked for are not fewer than those done; results.jsonl is made to match.
    func restore(progress: (TrainingEvent) -> Void) throws {
        try Trainer.checkOutputFolder(options, probeLock: false)
        let checkpoint = try Checkpoint.load(path: lastPath)
        try checkConfig(of: checkpoint, progress: progress)
        try checkpoint.apply(to: network.parameters)
        try checkpoint.restore(into: optimizer)
        let stored = checkpoint.training
        startEpoch = Int(stored["epoch"] ?? "0") ?? 0
        let batch = Int(stored["batch"] ?? "0") ?? 0
        if batch > 0 {
            guard let partial = stored["partial_epoch"].flatMap(EpochProgress.init(encoded:)), partial.batches == batch else {
                throw TrainingError(.badCheckpoint, "\(lastPath): saved in epoch \(startEpoch + 1) after batch \(batch), but without that epoch's running sums")
            }
            resumedEpoch = partial
        }
        imagesSeen = Int(stored["images_seen"] ?? "0") ?? 0
        bestScore = Float(stored["best_score"] ?? "") ?? -.infinity
        overfitCheck.learningRateScale = stored["lr_scale"].flatMap { UInt32($0, radix: 16) }.map(Float.init(bitPattern:)) ?? 1
        overfitCheck.plateaus = Int(stored["plateaus"] ?? "0") ?? 0
        // A checkpoint from before the time was kept: the budget starts now.
        budgetEnded = stored["budget_ended"].flatMap(Double.init)
        timing = stored["time"].flatMap { TimeBudget(encoded: $0, seconds: options.timeBudget) } ?? TimeBudget(seconds: options.timeBudget)
        try restoreEMA(from: checkpoint, progress: progress)
        savedCheckpoint = resumedEpoch.map { "in epoch \(startEpoch + 1), after batch \($0.batches)" } ?? "after epoch \(startEpoch)"
        try checkSettings(stored, progress: progress)
        try reconcileLog(checkpointSummary: stored["summary"], progress: progress)
    }

    /// The moving average on resume: the checkpoint's, with this run's settings (a change is
    /// warned about by `checkSettings`), with a time budget the run's as stored. A checkpoint
    /// without one (trained without `ema`) starts it from the restored weights; a checkpoint's
    /// average is dropped, with a note, when this run has none. After `timing` is restored.
    func restoreEMA(from checkpoint: Checkpoint, progress: (TrainingEvent) -> Void) throws {
        guard usesEMA else {
            if checkpoint.emaUpdates != nil {
                progress(.message("note: \(lastPath) holds a moving average of the weights; this run trains without one (validation and best.safetensors use the live weights)"))
            }
            return
        }
        guard checkpoint.emaUpdates != nil else {
            // Made in init from the initial weights: start from the restored ones (with a time
            // budget it is made after the next batch).
            if let ema { self.ema = ExponentialMovingAverage(parameters: network.parameters, decay: ema.decay, rampUpdates: ema.rampUpdates) }
            progress(.message("note: \(lastPath) holds no moving average of the weights (trained without one): the average starts from its weights"))
            return
        }
        if options.timeBudget != nil {
            let planned = max(startEpoch + 1, timing.plannedEpochs(done: startEpoch, elapsed: timing.spent, estimates(done: nil), cap: options.epochs))
            let settings = checkpoint.training["ema"].flatMap(Trainer.emaSettings) ?? .scaled(stepsPerEpoch: batchCount, epochs: planned)
            ema = ExponentialMovingAverage(parameters: network.parameters, settings: settings)
        }
        if let ema { try checkpoint.restore(into: ema) }
    }

    /// Refuses (or, with `allowConfigChange`, warns about) a config other than the checkpoint's,
    /// naming what differs.
    func checkConfig(of checkpoint: Checkpoint, progress: (TrainingEvent) -> Void) throws {
        let stored: ModelConfig
        do { stored = try ModelConfig.decode(Data(checkpoint.configJSON.utf8), source: lastPath) } catch {
            throw TrainingError(.badCheckpoint, "cannot resume from \(lastPath): its stored config cannot be read: \(error)")
        }
        guard stored.jsonString() != config.jsonString() else { return }
        var differences = configDifferences(stored, config).joined(separator: "; ")
        // Anchors fitted at the run's start differ from any config's: say where they came from.
        if checkpoint.training["anchors"] == "fitted", stored.anchors != config.anchors,
           let original = checkpoint.training["config_anchors"], original.hasPrefix("["), original.hasSuffix("]") {
            differences += " (the run's anchors were fitted by k-means at its start, from the config's anchors \(original.dropFirst().dropLast()))"
        }
        if options.allowConfigChange {
            progress(.message("warning: the config differs from the one \(lastPath) was trained with (\(differences)); continuing with the new one as asked"))
        } else {
            throw TrainingError(.configChanged, "cannot resume \(options.outputFolder): the config differs from the one last.safetensors was trained with: \(differences). Resume with the run's config, or pass --allow-config-change to go on with this one")
        }
    }

    /// Compares the epochs asked for and the run settings with the checkpoint's: fewer epochs
    /// than done, or a partial epoch that cannot be finished as it began, is an error; any
    /// other change is a warning (the run goes on, but not as an uninterrupted one would have).
    func checkSettings(_ stored: [String: String], progress: (TrainingEvent) -> Void) throws {
        let needed = startEpoch + (resumedEpoch == nil ? 0 : 1)
        if options.epochs < needed {
            let state = resumedEpoch.map { "is in epoch \(startEpoch + 1) already (after batch \($0.batches))" } ?? "is after epoch \(startEpoch) already"
            let ask = resumedEpoch == nil ? "more than \(startEpoch)" : "at least \(needed)"
            throw TrainingError(.epochsBelowCheckpoint, "cannot resume \(options.outputFolder) for \(options.epochs) epochs: its last.safetensors \(state); ask for \(ask) epochs to train further")
        }
        let changed = runSettings.compactMap { setting -> (key: String, text: String)? in
            guard let old = stored[setting.key], old != setting.value else { return nil }
            return (setting.key, "\(setting.name) \(old) → \(setting.value)")
        }
        if let partial = resumedEpoch {
            let blocking = changed.filter { Trainer.partialEpochKeys.contains($0.key) }
            if !blocking.isEmpty || partial.batches >= batchCount {
                let what = blocking.isEmpty ? "\(batchCount) batches per epoch now" : blocking.map(\.text).joined(separator: ", ")
                throw TrainingError(.partialEpochMismatch, "cannot resume \(options.outputFolder): its last.safetensors was saved in the middle of epoch \(startEpoch + 1) (after batch \(partial.batches)), and that epoch cannot be finished with other batches (\(what)); resume with the run's --seed, --batch-size, --overfit and data")
            }
        }
        if !changed.isEmpty {
            progress(.message("warning: resuming with settings other than the run's (\(changed.map(\.text).joined(separator: ", "))): training goes on, but not as the uninterrupted run would have"))
        }
        if let old = stored["epochs"], old != String(options.epochs), !options.isOverfitting, options.timeBudget == nil,
           startEpoch < options.epochs {
            progress(.message("note: the run was started for \(old) epochs; its learning-rate schedule now runs to epoch \(options.epochs)"))
        }
    }

    /// Makes results.jsonl match the checkpoint: lines after its epoch (written by a process
    /// that died before saving it) are dropped, the checkpoint's own line is put back from the
    /// checkpoint if missing, and any other missing line is reported.
    func reconcileLog(checkpointSummary: String?, progress: (TrainingEvent) -> Void) throws {
        let text = (try? String(contentsOfFile: resultsPath, encoding: .utf8)) ?? ""
        var kept: [Int: EpochSummary] = [:]
        var dropped: [Int] = [], unreadable = 0, repeated = 0
        for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let summary = try? JSONDecoder().decode(EpochSummary.self, from: Data(line.utf8)) else { unreadable += 1; continue }
            if summary.epoch < 1 || summary.epoch > startEpoch { dropped.append(summary.epoch); continue }
            if kept[summary.epoch] != nil { repeated += 1 }
            kept[summary.epoch] = summary
        }
        var restored = false
        if startEpoch > 0, kept[startEpoch] == nil,
           let line = checkpointSummary, let summary = try? JSONDecoder().decode(EpochSummary.self, from: Data(line.utf8)),
           summary.epoch == startEpoch {
            kept[startEpoch] = summary
            restored = true
        }
        history = kept.keys.sorted().map { kept[$0]! }
        if !dropped.isEmpty || unreadable > 0 || repeated > 0 || restored {
            var data = Data()
            for summary in history { data.append(try Trainer.encodeLine(summary)) }
            try writeAtomically(data, to: resultsPath)
        }
        if !dropped.isEmpty {
            progress(.message("results.jsonl: dropped the line(s) of epoch(s) \(epochList(dropped)), written after the checkpoint's epoch \(startEpoch) (the process stopped before saving it); they are trained again"))
        }
        if restored { progress(.message("results.jsonl: the line of epoch \(startEpoch) was missing; restored it from last.safetensors")) }
        if unreadable > 0 { progress(.message("warning: results.jsonl: dropped \(unreadable) line(s) that are not epoch summaries")) }
        if repeated > 0 { progress(.message("warning: results.jsonl: \(repeated) epoch(s) had more than one line; kept the last of each")) }
        let missing = startEpoch > 0 ? (1...startEpoch).filter { kept[$0] == nil } : []
        if !missing.isEmpty {
            progress(.message("warning: results.jsonl has no line for epoch(s) \(epochList(missing)) of the \(startEpoch) in last.safetensors; the log and loss.png skip them"))
        }
    }

    private func epochList(_ epochs: [Int]) -> String {
        let shown = epochs.prefix(10).map(String.init).joined(separator: ", ")
        return epochs.count > 10 ? shown + ", ... (\(epochs.count) in all)" : shown
    }

    /// The checks on the output folder that need no data: another trainer must not hold it
    /// (with `probeLock`, when the folder exists: the lock is taken and let go); without resume,
    /// a folder holding a run is refused unless `existOK`; with resume, it must hold
    /// last.safetensors. `run` makes them again under the folder's lock; a command can call
    /// this first to fail before loading data.
    public static func checkOutputFolder(_ options: TrainingOptions, probeLock: Bool = true) throws {
        let folder = options.outputFolder
        var isFolder: ObjCBool = false
        if probeLock && FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue {
            try RunFolder(path: folder).unlock()
        }
        if options.resume {
            guard FileManager.default.fileExists(atPath: folder + "/last.safetensors") else {
                let hasLog = FileManager.default.fileExists(atPath: folder + "/results.jsonl")
                throw TrainingError(.nothingToResume, "cannot resume \(folder): it holds no last.safetensors" + (hasLog
                    ? " (results.jsonl is there: the run stopped before saving its first checkpoint); start it again with --exist-ok"
                    : "; train without --resume to start a run there"))
            }
        } else {
            let existing = RunFolder.existingRunFiles(at: folder)
            if !existing.isEmpty && !options.existOK {
                throw TrainingError(.existingRun, "\(folder) already holds a training run (\(existing.joined(separator: ", "))); pass --resume to continue it, --exist-ok to overwrite it, or choose another output folder")
            }
        }
    }
}

/// The running sums of an epoch, from which its summary is made; a checkpoint saved in the
/// middle of an epoch stores them (`encoded`), so that the resumed epoch's summary is the one
/// an uninterrupted run would have written.
struct EpochProgress: Equatable {
    var batches = 0
    var images = 0
    /// Training time of the epoch so far, over all sessions.
    var seconds: Double = 0
    var learningRate: Float
    var sums = LossComponents()
    var statistics = LossStatistics()

    init(learningRate: Float) { self.learningRate = learningRate }

    private var floats: [Float] {
        [learningRate, sums.coordinates, sums.objectness, sums.noObject, sums.classification, sums.prior,
         statistics.averageIoU, statistics.recall50, statistics.averageObjectness, statistics.averageAnyObjectness,
         statistics.averageClassProbability]
    }

    /// Exact text: the integers, then every floating-point value as its bit pattern in hex.
    var encoded: String {
        ([String(batches), String(images), String(statistics.count), String(seconds.bitPattern, radix: 16)]
         + floats.map { String($0.bitPattern, radix: 16) }).joined(separator: " ")
    }

    init?(encoded: String) {
        let fields = encoded.split(separator: " ")
        guard fields.count == 15, let batches = Int(fields[0]), let images = Int(fields[1]), let count = Int(fields[2]),
              let seconds = UInt64(fields[3], radix: 16) else { return nil }
        let f = fields[4...].compactMap { UInt32($0, radix: 16).map(Float.init(bitPattern:)) }
        guard f.count == 11 else { return nil }
        self.init(learningRate: f[0])
        self.batches = batches; self.images = images; self.seconds = Double(bitPattern: seconds)
        sums.coordinates = f[1]; sums.objectness = f[2]; sums.noObject = f[3]; sums.classification = f[4]; sums.prior = f[5]
        statistics.averageIoU = f[6]; statistics.recall50 = f[7]; statistics.averageObjectness = f[8]
        statistics.averageAnyObjectness = f[9]; statistics.averageClassProbability = f[10]; statistics.count = count
    }
}
