import Foundation

/// How to train.
public struct TrainingOptions: Sendable {
    public var epochs = 60
    public var batchSize = 16
    public var learningRate: Float = 1e-3
    /// Cosine schedule's floor, as a fraction of `learningRate`.
    public var finalLearningRateFraction: Float = 0.05
    public var seed: UInt64 = 1
    public var outputFolder = "runs/train"
    /// Train on the first N training images only, without augmentation, until the loss
    /// converges (at most `epochs`), then judge whether the network learned them.
    public var overfit: Int? = nil
    /// Continue the run in `outputFolder` from its last.safetensors.
    public var resume = false
    /// Without `resume`, a folder that already holds a run (last.safetensors or results.jsonl)
    /// is refused unless this is set; then that run's outputs are deleted first.
    public var existOK = false
    /// With `resume`, a config that differs from the one the checkpoint was trained with is
    /// refused unless this is set (then it is a warning).
    public var allowConfigChange = false
    public var augmentation = AugmentationSettings.standard
    /// Overrides the config's warm-up length (images); nil: the config's, at most two epochs.
    public var warmupImages: Int? = nil
    /// Stop after this many seconds of training (checked after each batch: the batch running
    /// then is finished, and last.safetensors saved, mid-epoch if need be); nil: no limit.
    public var timeLimit: Double? = nil
    /// Validation images rendered with their predictions at the end.
    public var renderCount = 6
    /// Evaluate on the validation split every this many epochs (and at the last).
    public var validationInterval = 1
    /// Stop this run after this epoch (1-based) as if interrupted, keeping the schedule of
    /// `epochs`; `resume` continues from there exactly.
    public var stopAfterEpoch: Int? = nil
    /// The memory a training batch may need (see `ModelConfig.checkMemory`); nil: the
    /// machine's (`MemoryLimit.machine()`: DETECTOR_MEMORY_LIMIT, else physical memory).
    public var memoryLimit: MemoryLimit? = nil

    public init() {}
}

/// One line of `results.jsonl`.
public struct EpochSummary: Codable, Sendable {
    public var epoch: Int
    public var loss: Float
    public var components: LossComponents
    public var statistics: LossStatistics
    public var learningRate: Float
    public var mAP50: Float?
    public var mAP50to95: Float?
    public var seconds: Double
    public var imagesPerSecond: Double
    public var imagesSeen: Int

    enum CodingKeys: String, CodingKey {
        case epoch, loss, components, statistics, mAP50 = "map50", mAP50to95 = "map50_95"
        case learningRate = "lr", seconds, imagesPerSecond = "images_per_s", imagesSeen = "images_seen"
    }
}

/// What the trainer reports while it runs.
public enum TrainingEvent: Sendable {
    case message(String)
    case batch(epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Float, components: LossComponents,
               statistics: LossStatistics, imagesPerSecond: Double, etaSeconds: Double)
    case epoch(EpochSummary)
    /// `path` (last.safetensors) was just saved: after `epoch` complete epochs and `batch`
    /// batches of the next one (0 at the end of an epoch). Its results.jsonl line, if any, is
    /// already written.
    case checkpoint(path: String, epoch: Int, batch: Int)
}

public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case noTrainingImages
        /// Another trainer holds the output folder's lock.
        case folderInUse
        /// The output folder holds a run and neither resume nor existOK was asked for.
        case existingRun
        /// Resume without a last.safetensors to resume from.
        case nothingToResume
        /// Resume asking for fewer epochs than the checkpoint has done.
        case epochsBelowCheckpoint
        /// Resume with a config that differs from the checkpoint's.
        case configChanged
        /// Resume of a checkpoint saved mid-epoch with settings that change that epoch's batches.
        case partialEpochMismatch
        /// A checkpoint (or its optimizer state) that does not fit the model.
        case badCheckpoint
        case nonFiniteLoss
        case cannotWrite
    }
    public var kind: Kind
    public var reason: String
    public var description: String { reason }
    public init(_ kind: Kind, _ reason: String) { self.kind = kind; self.reason = reason }
    /// A checkpoint problem (what Adam's restore throws).
    public init(reason: String) { self.init(.badCheckpoint, reason) }
}

/// The outcome of a run.
public struct TrainingResult: Sendable {
    public var epochs: [EpochSummary]
    public var outputFolder: String
    public var seconds: Double
    /// Overfit mode: mAP on the training images and the verdict.
    public var overfitMAP50: Float?
    public var learned: Bool?
    public var verdict: String?
    /// Resumed a run that had done all its epochs: nothing was trained.
    public var alreadyComplete = false
    /// The time limit stopped the run in the middle of an epoch: (epoch, batches done in it),
    /// both as saved in last.safetensors.
    public var stoppedInEpoch: (epoch: Int, batch: Int)? = nil
}

/// An image held in memory with its labels (normalised to the image).
public struct LoadedSample: Sendable {
    public var name: String
    public var image: Image
    public var objects: [LabeledObject]
    public init(name: String, image: Image, objects: [LabeledObject]) {
        self.name = name; self.image = image; self.objects = objects
    }
}

/// Reads the images of a split into memory (both cores). A file that cannot be read is an error
/// naming it.
public func loadSamples(_ items: [DatasetItem]) throws -> [LoadedSample] {
    var results = [Result<LoadedSample, Error>?](repeating: nil, count: items.count)
    results.withUnsafeMutableBufferPointer { out in
        DispatchQueue.concurrentPerform(iterations: items.count) { k in
            out[k] = Result {
                LoadedSample(name: URL(fileURLWithPath: items[k].imagePath).deletingPathExtension().lastPathComponent,
                             image: try ImageFile.read(path: items[k].imagePath), objects: items[k].objects)
            }
        }
    }
    return try results.map { try $0!.get() }
}

/// mAP of `network` on `samples`, through the inference pipeline (batch norm folded,
/// letterbox, decode, NMS with IoU 0.45 and at most 100 boxes per image), boxes compared in
/// the original images' pixels. The score threshold is low (0.005) as mAP integrates over all
/// thresholds (Ultralytics validates at 0.001). Precision and recall are counted at
/// `operatingThreshold`, the score at which `detect` reports boxes (0.25), so they describe
/// what a user of `detect` sees.
public func evaluateModel(_ network: Network, on samples: [LoadedSample], scoreThreshold: Float = 0.005,
                          operatingThreshold: Float = NMSOptions().scoreThreshold) throws -> EvaluationResult {
    let detector = try ObjectDetector(network: network)
    var images: [EvaluationImage] = []
    let step = 32
    for start in stride(from: 0, to: samples.count, by: step) {
        let chunk = Array(samples[start..<min(start + step, samples.count)])
        let detections = detector.detect(chunk.map(\.image), options: NMSOptions(scoreThreshold: scoreThreshold, maximumDetections: 100))
        for (sample, found) in zip(chunk, detections) {
            let truth = sample.objects.map {
                LabeledObject(classIndex: $0.classIndex, box: $0.box.scaled(x: Float(sample.image.width), y: Float(sample.image.height)))
            }
            images.append(EvaluationImage(detections: found, groundTruth: truth))
        }
    }
    return Detector.evaluate(images, classCount: network.config.classes.count, scoreThreshold: operatingThreshold)
}

/// The training loop: data set → letterbox → augmentation → batch → forward → loss components
/// → backward → Adam → checkpoint, log, plots.
///
/// The output folder is locked for the whole run (`RunFolder`). At the end of each epoch its
/// line goes to results.jsonl first, then best.safetensors (when the epoch is the best so far),
/// then last.safetensors, each written atomically: a process killed in between leaves log
/// lines that last.safetensors does not cover yet, and `resume` drops them (those epochs are
/// trained again, to the same numbers). last.safetensors also carries its epoch's line, so a
/// line lost anyway is put back on resume.
///
/// A time limit stops the run after the batch running when it passes; mid-epoch, last.safetensors
/// then holds that partial epoch (weights, optimizer, and the epoch's running sums) and `resume`
/// finishes the epoch exactly as an uninterrupted run would have.
public final class Trainer {
    public let config: ModelConfig
    public let network: Network
    public let options: TrainingOptions
    let train: [LoadedSample]
    let validation: [LoadedSample]
    let loss: RegionLoss
    let optimizer: Adam
    public private(set) var imagesSeen = 0
    var history: [EpochSummary] = []
    /// Complete epochs before this run (the checkpoint's, on resume).
    var startEpoch = 0
    /// The running sums of epoch `startEpoch` (0-based) when the checkpoint was saved in it.
    var resumedEpoch: EpochProgress? = nil
    var bestScore: Float = -.infinity
    /// Overfit mode's learning-rate drops at plateaus; saved in checkpoints so that resume is exact.
    var learningRateScale: Float = 1
    var plateauWindows = 0
    /// What last.safetensors holds, for messages ("after epoch 3"); nil: this run has none yet.
    var savedCheckpoint: String? = nil

    public init(config: ModelConfig, train: [LoadedSample], validation: [LoadedSample], options: TrainingOptions) throws {
        guard !train.isEmpty else { throw TrainingError(.noTrainingImages, "no training images") }
        self.config = config
        self.options = options
        self.train = train
        self.validation = validation
        // Before anything is allocated: a config that fits one image may not fit a batch.
        try config.checkMemory(batch: max(1, min(options.batchSize, train.count)),
                               limit: options.memoryLimit ?? MemoryLimit.machine(), source: config.name)
        self.network = try Network(config: config, seed: options.seed)
        var settings = config.loss
        settings.warmupImages = options.warmupImages ?? min(settings.warmupImages, 2 * train.count)
        self.loss = RegionLoss(settings: settings, layout: config.headLayout)
        self.optimizer = Adam(parameters: network.parameters, learningRate: options.learningRate)
    }

    var lastPath: String { options.outputFolder + "/last.safetensors" }
    var bestPath: String { options.outputFolder + "/best.safetensors" }
    var resultsPath: String { options.outputFolder + "/results.jsonl" }
    var batchSize: Int { max(1, min(options.batchSize, train.count)) }
    var batchCount: Int { (train.count + batchSize - 1) / batchSize }

    /// Letterboxes (and augments) the images at `indices` into `batch`; returns their labels in
    /// normalised network coordinates.
    func prepareBatch(_ indices: [Int], samples: [LoadedSample], augment: Bool, epoch: Int,
                      into batch: UnsafeMutablePointer<Float>) -> [[LabeledObject]] {
        let (w, h) = (config.inputWidth, config.inputHeight)
        let per = w * h * 3
        var targets = [[LabeledObject]](repeating: [], count: indices.count)
        targets.withUnsafeMutableBufferPointer { out in
            DispatchQueue.concurrentPerform(iterations: indices.count) { n in
                let sample = samples[indices[n]]
                var (input, transform) = letterbox(sample.image, width: w, height: h)
                var objects = sample.objects.map {
                    LabeledObject(classIndex: $0.classIndex, box: transform.sourceNormalisedToNetworkNormalised($0.box))
                }
                if augment {
                    // One generator per (seed, epoch, image): the same run gives the same batches.
                    var rng = SplitMix64(seed: options.seed &* 0x9E37_79B9 &+ UInt64(epoch) &* 1_000_003 &+ UInt64(indices[n]))
                    (input, objects) = Detector.augment(input, objects: objects, settings: options.augmentation, rng: &rng)
                }
                input.pixels.withUnsafeBufferPointer { (batch + n * per).update(from: $0.baseAddress!, count: per) }
                out[n] = objects
            }
        }
        return targets
    }

    // MARK: Checkpoints

    /// The settings that decide the batches and the steps, stored in each checkpoint and
    /// compared on resume: (metadata key, name in messages, value).
    var runSettings: [(key: String, name: String, value: String)] {
        let a = options.augmentation
        let augmentation = options.overfit != nil || a == .none
            ? "none"
            : "flip \(a.flip) scale \(a.scale) translate \(a.translate) hue \(a.hue) saturation \(a.saturation) value \(a.value)"
        return [("seed", "seed", String(options.seed)),
                ("batch_size", "batch size", String(batchSize)),
                ("train_images", "training images", String(train.count)),
                ("overfit", "overfit images", options.overfit.map(String.init) ?? "off"),
                ("learning_rate", "learning rate", "\(options.learningRate)"),
                ("final_lr_fraction", "final learning-rate fraction", "\(options.finalLearningRateFraction)"),
                ("warmup_images", "warm-up images", String(loss.settings.warmupImages)),
                ("augmentation", "augmentation", augmentation)]
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
        training["lr_scale"] = String(learningRateScale.bitPattern, radix: 16)
        training["plateaus"] = String(plateauWindows)
        if let summary { training["summary"] = String(decoding: try Trainer.encodeLine(summary), as: UTF8.self) }
        try Checkpoint.save(parameters: network.parameters, configJSON: config.jsonString(), optimizer: optimizer,
                            training: training, to: path)
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
        learningRateScale = stored["lr_scale"].flatMap { UInt32($0, radix: 16) }.map(Float.init(bitPattern:)) ?? 1
        plateauWindows = Int(stored["plateaus"] ?? "0") ?? 0
        savedCheckpoint = resumedEpoch.map { "in epoch \(startEpoch + 1), after batch \($0.batches)" } ?? "after epoch \(startEpoch)"
        try checkSettings(stored, progress: progress)
        try reconcileLog(checkpointSummary: stored["summary"], progress: progress)
    }

    /// Refuses (or, with `allowConfigChange`, warns about) a config other than the checkpoint's,
    /// naming what differs.
    func checkConfig(of checkpoint: Checkpoint, progress: (TrainingEvent) -> Void) throws {
        let stored: ModelConfig
        do { stored = try ModelConfig.decode(Data(checkpoint.configJSON.utf8), source: lastPath) } catch {
            throw TrainingError(.badCheckpoint, "cannot resume from \(lastPath): its stored config cannot be read: \(error)")
        }
        guard stored.jsonString() != config.jsonString() else { return }
        let differences = configDifferences(stored, config).joined(separator: "; ")
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
        if let old = stored["epochs"], old != String(options.epochs), options.overfit == nil, startEpoch < options.epochs {
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

    /// Learning rate for an epoch: a linear warm-up over the first epoch's batches, then a cosine
    /// from `learningRate` down to `finalLearningRateFraction` of it at the last epoch.
    func learningRate(epoch: Int, batch: Int, batches: Int, epochs: Int) -> Float {
        let base = options.learningRate
        if epoch == 0 && batches > 1 && options.overfit == nil {
            return base * Float(batch + 1) / Float(batches)
        }
        let progress = Float(epoch) / Float(max(epochs - 1, 1))
        let floor = options.finalLearningRateFraction
        return base * (floor + (1 - floor) * 0.5 * (1 + cos(Float.pi * progress)))
    }

    /// mAP of the network as it is now on `samples` (see `evaluateModel`).
    public func evaluate(_ samples: [LoadedSample], scoreThreshold: Float = 0.005) throws -> EvaluationResult {
        try evaluateModel(network, on: samples, scoreThreshold: scoreThreshold)
    }

    /// Draws predictions (and the ground truth, thinner) for samples into `folder`.
    public func render(_ samples: [LoadedSample], into folder: String, scoreThreshold: Float = 0.25) throws -> [String] {
        let detector = try ObjectDetector(network: network)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var paths: [String] = []
        for sample in samples {
            let found = detector.detect(sample.image, options: NMSOptions(scoreThreshold: scoreThreshold))
            let truth = sample.objects.map {
                LabeledObject(classIndex: $0.classIndex, box: $0.box.scaled(x: Float(sample.image.width), y: Float(sample.image.height)))
            }
            let picture = renderDetections(on: sample.image, detections: found, classNames: config.classes, groundTruth: truth, minimumSide: 512)
            let path = folder + "/" + sample.name + ".png"
            try PNG.write(picture, to: path)
            paths.append(path)
        }
        return paths
    }

    // MARK: The run

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

    public func run(progress: (TrainingEvent) -> Void) throws -> TrainingResult {
        let started = Date()
        let folder = try RunFolder(path: options.outputFolder)
        defer { folder.unlock() }
        if options.resume {
            try restore(progress: progress)
            if startEpoch >= options.epochs && resumedEpoch == nil {
                progress(.message("\(options.outputFolder): all \(startEpoch) epochs are done already (last.safetensors is after epoch \(startEpoch)); nothing to train"))
                return TrainingResult(epochs: history, outputFolder: options.outputFolder,
                                      seconds: Date().timeIntervalSince(started), alreadyComplete: true)
            }
            progress(.message("resumed from \(lastPath) \(savedCheckpoint ?? "") (\(imagesSeen) images seen)"))
        } else {
            try Trainer.checkOutputFolder(options, probeLock: false)
            if options.existOK { try folder.removeOutputs() }
        }
        let per = config.inputWidth * config.inputHeight * 3
        let input = UnsafeMutablePointer<Float>.allocate(capacity: batchSize * per)
        defer { input.deallocate() }
        var stoppedInEpoch: (epoch: Int, batch: Int)? = nil

        // max: a negative `epochs` from a library caller trains nothing instead of trapping.
        epochLoop: for epoch in startEpoch..<max(startEpoch, options.epochs) {
            let (done, timeUp) = try trainEpoch(epoch, from: epoch == startEpoch ? resumedEpoch : nil, input: input,
                                                started: started, progress: progress)
            if timeUp && done.batches < batchCount {
                try save(to: lastPath, epoch: epoch, partial: done)
                progress(.checkpoint(path: lastPath, epoch: epoch, batch: done.batches))
                progress(.message("time limit reached in epoch \(epoch + 1) after batch \(done.batches) of \(batchCount): \(lastPath) holds the partial epoch, and --resume finishes it"))
                stoppedInEpoch = (epoch + 1, done.batches)
                break
            }
            let plateau = try endEpoch(epoch, done, isLast: epoch + 1 == options.epochs || timeUp, progress: progress)
            switch plateau {
            case .converged: progress(.message("loss converged after \(epoch + 1) epochs")); break epochLoop
            case .dropped: progress(.message("loss plateaued: learning rate ×0.1"))
            case .none: break
            }
            if timeUp { progress(.message("time limit reached after \(epoch + 1) epochs")); break }
            if let stop = options.stopAfterEpoch, epoch + 1 >= stop { break }
        }
        var result = try finish(started: started)
        result.stoppedInEpoch = stoppedInEpoch
        return result
    }

    /// Trains epoch `epoch` (0-based) from batch `resumed.batches` on (from its start without
    /// `resumed`). Returns the epoch's running sums, and whether the time limit passed: then
    /// the epoch stopped after the batch that passed it.
    func trainEpoch(_ epoch: Int, from resumed: EpochProgress?, input: UnsafeMutablePointer<Float>, started: Date,
                    progress: (TrainingEvent) -> Void) throws -> (done: EpochProgress, timeUp: Bool) {
        let (batches, batchSize) = (batchCount, self.batchSize)
        var done = resumed ?? EpochProgress(learningRate: options.learningRate)
        let epochStart = Date().addingTimeInterval(-done.seconds)
        var rng = SplitMix64(seed: options.seed &+ UInt64(epoch) &* 7919)
        var order = Array(train.indices)
        order.shuffle(using: &rng)
        for b in done.batches..<batches {
            let indices = Array(order[(b * batchSize)..<min((b + 1) * batchSize, order.count)])
            let (result, lr) = try trainStep(indices, epoch: epoch, batch: b, batches: batches, input: input)
            done.images += indices.count
            let weight = Float(indices.count)
            done.sums = done.sums + result.components.scaled(by: weight)
            done.statistics.averageIoU += result.statistics.averageIoU * weight
            done.statistics.recall50 += result.statistics.recall50 * weight
            done.statistics.averageObjectness += result.statistics.averageObjectness * weight
            done.statistics.averageAnyObjectness += result.statistics.averageAnyObjectness * weight
            done.statistics.averageClassProbability += result.statistics.averageClassProbability * weight
            done.statistics.count += result.statistics.count
            done.learningRate = lr
            done.batches = b + 1
            done.seconds = Date().timeIntervalSince(epochStart)
            let rate = Double(done.images) / max(done.seconds, 1e-9)
            // In Double: epochs × images can exceed Int.
            let remainingImages = Double(options.epochs - epoch - 1) * Double(train.count) + Double(train.count - done.images)
            progress(.batch(epoch: epoch + 1, epochs: options.epochs, batch: b + 1, batches: batches, loss: result.total,
                            components: result.components, statistics: result.statistics,
                            imagesPerSecond: rate, etaSeconds: remainingImages / max(rate, 1e-9)))
            if let limit = options.timeLimit, Date().timeIntervalSince(started) > limit { return (done, true) }
        }
        return (done, false)
    }

    /// One optimisation step on the images at `indices`: forward, loss, backward, Adam. Returns
    /// the loss and the learning rate used.
    func trainStep(_ indices: [Int], epoch: Int, batch b: Int, batches: Int,
                   input: UnsafeMutablePointer<Float>) throws -> (RegionLossResult, Float) {
        let overfit = options.overfit != nil
        let targets = prepareBatch(indices, samples: train, augment: !overfit && options.augmentation != .none,
                                   epoch: epoch, into: input)
        let out = network.forward(input, batch: indices.count, training: true)
        let shape = network.outputShape
        let outTensor = Tensor(shape: [indices.count, shape.height, shape.width, shape.channels],
                               data: Array(UnsafeBufferPointer(start: out, count: indices.count * shape.count)))
        let result = loss(output: outTensor, targets: targets, imagesSeen: imagesSeen)
        guard result.total.isFinite, result.gradient.data.allSatisfy({ $0.isFinite }) else {
            let checkpoint = savedCheckpoint.flatMap { state in
                FileManager.default.fileExists(atPath: lastPath) ? "The last good checkpoint is \(lastPath) (\(state))." : nil
            } ?? "No checkpoint was written (the run stopped in its first epoch)."
            throw TrainingError(.nonFiniteLoss, "the loss became non-finite (\(result.total)) at epoch \(epoch + 1), batch \(b + 1); stopped. \(checkpoint)")
        }
        network.zeroGradients()
        network.backward(result.gradient)
        let lr = (overfit ? options.learningRate : learningRate(epoch: epoch, batch: b, batches: batches, epochs: options.epochs)) * learningRateScale
        optimizer.learningRate = lr
        optimizer.step()
        imagesSeen += indices.count
        return (result, lr)
    }

    enum Plateau { case none, dropped, converged }

    /// The end of an epoch: its summary, validation, then results.jsonl's line, best.safetensors
    /// and last.safetensors in that order (see the type's comment), the loss plot. Returns what
    /// overfit mode's convergence test decided (its learning-rate drop is in the checkpoint).
    func endEpoch(_ epoch: Int, _ done: EpochProgress, isLast: Bool, progress: (TrainingEvent) -> Void) throws -> Plateau {
        let overfit = options.overfit != nil
        let n = Float(done.images)
        var summary = EpochSummary(epoch: epoch + 1, loss: done.sums.total / n, components: done.sums.scaled(by: 1 / n),
                                   statistics: done.statistics, learningRate: done.learningRate, mAP50: nil, mAP50to95: nil,
                                   seconds: done.seconds, imagesPerSecond: Double(done.images) / max(done.seconds, 1e-9),
                                   imagesSeen: imagesSeen)
        summary.statistics.averageIoU /= n; summary.statistics.recall50 /= n
        summary.statistics.averageObjectness /= n; summary.statistics.averageAnyObjectness /= n
        summary.statistics.averageClassProbability /= n
        if !validation.isEmpty && !overfit && ((epoch + 1) % max(1, options.validationInterval) == 0 || isLast) {
            let result = try evaluate(validation)
            summary.mAP50 = result.mAP50
            summary.mAP50to95 = result.mAP50to95
        }
        history.append(summary)
        let plateau = overfit ? checkPlateau() : .none
        try appendResult(summary)
        // Best: highest validation mAP@0.5 when there is a validation split, else lowest loss.
        let score = summary.mAP50 ?? -summary.loss
        if score > bestScore { bestScore = score; try save(to: bestPath, epoch: epoch + 1, summary: summary) }
        try save(to: lastPath, epoch: epoch + 1, summary: summary)
        progress(.checkpoint(path: lastPath, epoch: epoch + 1, batch: 0))
        try? writeLossPlot()
        progress(.epoch(summary))
        return plateau
    }

    /// Overfit mode's convergence test, every 10 epochs from the 20th: converged when the mean
    /// loss of the last 10 epochs is within 3% of the 10 before. The first plateau drops the
    /// learning rate tenfold, the second stops.
    func checkPlateau() -> Plateau {
        guard history.count >= 20, history.count % 10 == 0 else { return .none }
        let recent = history.suffix(10).map(\.loss).reduce(0, +) / 10
        let before = history.suffix(20).prefix(10).map(\.loss).reduce(0, +) / 10
        guard recent > 0.97 * before else { return .none }
        plateauWindows += 1
        if plateauWindows >= 2 { return .converged }
        learningRateScale *= 0.1
        return .dropped
    }

    /// After the last epoch: overfit mode's evaluation on the training images, renders and
    /// verdict, or renders of validation images.
    func finish(started: Date) throws -> TrainingResult {
        let samples = train
        var result = TrainingResult(epochs: history, outputFolder: options.outputFolder,
                                    seconds: Date().timeIntervalSince(started))
        if options.overfit != nil {
            let evaluation = try evaluate(samples)
            result.overfitMAP50 = evaluation.mAP50
            _ = try render(samples, into: options.outputFolder + "/overfit")
            let learned = evaluation.mAP50 >= 0.9
            result.learned = learned
            var verdict = String(format: "overfit: mAP@0.5 %.3f on %d images after %d epochs (%.0f s): %@",
                                 evaluation.mAP50, samples.count, history.last?.epoch ?? 0, result.seconds,
                                 learned ? "learned" : "did not learn")
            if !learned, let first = history.first, let final = history.last {
                var stuck: [String] = []
                let pairs: [(String, Float, Float)] = [
                    ("coordinates", first.components.coordinates, final.components.coordinates),
                    ("objectness", first.components.objectness, final.components.objectness),
                    ("no-object", first.components.noObject, final.components.noObject),
                    ("class", first.components.classification, final.components.classification)]
                for (name, a, b) in pairs where b > 0.5 * a { stuck.append(String(format: "%@ %.3f → %.3f", name, a, b)) }
                verdict += stuck.isEmpty ? "" : " (did not fall by half: " + stuck.joined(separator: ", ") + ")"
            }
            result.verdict = verdict
        } else if !validation.isEmpty {
            _ = try render(Array(validation.prefix(options.renderCount)), into: options.outputFolder + "/predictions")
        }
        return result
    }

    /// One results.jsonl line: the summary as JSON, keys sorted, and a newline.
    static func encodeLine(_ summary: EpochSummary) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var line = try encoder.encode(summary)
        line.append(0x0A)
        return line
    }

    func appendResult(_ summary: EpochSummary) throws {
        var existing = (try? Data(contentsOf: URL(fileURLWithPath: resultsPath))) ?? Data()
        existing.append(try Trainer.encodeLine(summary))
        try writeAtomically(existing, to: resultsPath)
    }

    func writeLossPlot() throws {
        guard history.count >= 1 else { return }
        let series: [(String, [Float])] = [
            ("total", history.map(\.loss)),
            ("coordinates", history.map(\.components.coordinates)),
            ("objectness", history.map(\.components.objectness)),
            ("no-object", history.map(\.components.noObject)),
            ("class", history.map(\.components.classification)),
            ("prior", history.map(\.components.prior)),
        ]
        var plot = LinePlot(title: "\(config.name): loss per epoch", xLabel: "epoch", yLabel: "loss", logScale: true)
        for (name, values) in series { plot.add(name: name, values: values) }
        if history.contains(where: { $0.mAP50 != nil }) {
            plot.add(name: "val mAP@0.5", values: history.map { $0.mAP50 ?? .nan }, secondaryAxis: true)
        }
        try PNG.write(plot.render(width: 800, height: 480), to: options.outputFolder + "/loss.png")
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
