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
    /// Overfit mode with the number of training images it was given (N): train on them without
    /// augmentation until the loss converges (at most `epochs`), then judge whether the network
    /// learned them. The caller passes only those N images; nil: a normal run.
    public var overfitImages: Int? = nil
    /// Overfit mode (`overfitImages`), which changes the run: no augmentation, mosaic or EMA,
    /// a constant learning rate with plateau drops, no validation, a verdict at the end.
    public var isOverfitting: Bool { overfitImages != nil }
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
    /// Train for this many seconds in all (`--time`, in minutes there), validation and
    /// checkpoints included, planning the epochs to end by then and stretching the warm-up and
    /// the cosine over the time (`TimeBudget`, `LearningRateSchedule.byTime`); `epochs` is then a
    /// cap. Resumed runs count the time of their earlier sessions. The schedule follows the
    /// clock, so such a run is not reproducible to the bit. nil: the schedule is by epochs.
    public var timeBudget: Double? = nil
    /// Measure how well the config's anchors fit the training boxes and, when poorly, train with
    /// anchors by k-means if they fit better (`AnchorChoice`); off: the config's, always.
    public var autoAnchor = true
    /// The memory a training batch may need (see `ModelConfig.checkMemory`); nil: the
    /// machine's (`MemoryLimit.machine()`: DETECTOR_MEMORY_LIMIT, else physical memory).
    public var memoryLimit: MemoryLimit? = nil
    /// Keep an exponential moving average of the weights (`ExponentialMovingAverage`, its
    /// settings `.scaled` to the run's steps; with a time budget to the plan's epochs, see
    /// `Trainer.startEMAForTimeBudget`) and validate, render and save best.safetensors with it;
    /// last.safetensors holds the live weights and the average. Never in overfit mode.
    public var ema = false
    /// Training batches made ahead on a background thread while the current one computes
    /// (`BatchQueue`'s depth, 1 or 2 is enough); 0: each batch is made in its step, on both
    /// cores. The batches are the same bytes either way (a test compares the losses).
    public var prefetch = 1
    /// AdamW's decoupled weight decay λ on convolution kernels (`Adam.decoupledWeightDecay`); 0: none.
    public var weightDecay: Float = 0
    /// Make training images mosaics of four (`mosaic(_:objects:settings:rng:)`, before
    /// `augmentation`), except in the last `closeMosaic` epochs. Never in overfit mode.
    public var mosaic = false
    /// The epochs at the end without mosaics; nil: the last tenth (`MosaicSettings.standard`),
    /// of the planned epochs with a time budget.
    public var closeMosaic: Int? = nil
    /// Start from this trained model (a checkpoint or an exported model file; int8 kernels are
    /// dequantized): every layer whose tensors it holds with their shapes, the head only when it
    /// was trained for the same classes and anchors (`WeightTransfer`); the rest from the seed.
    /// Weights only: the optimizer, the epoch and the schedule start afresh (`resume` continues
    /// a run instead; the two exclude each other). Autoanchor keeps the config's anchors when
    /// the file's head is loaded with them. nil: every tensor from its initialisation.
    public var weights: String? = nil

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
    /// Present when the time budget ended the epoch early: the batches it trained.
    public var batches: Int? = nil
    /// Present when the epoch was validated: the seconds validation took (not in `seconds`,
    /// which is training; a time budget counts both).
    public var validationSeconds: Double? = nil
    /// With a time budget: the epochs the plan holds in all, as planned after this one.
    public var plannedEpochs: Int? = nil

    enum CodingKeys: String, CodingKey {
        case epoch, loss, components, statistics, mAP50 = "map50", mAP50to95 = "map50_95"
        case learningRate = "lr", seconds, imagesPerSecond = "images_per_s", imagesSeen = "images_seen"
        case batches, validationSeconds = "val_seconds", plannedEpochs = "planned_epochs"
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
        /// Starting from trained weights and resuming a run at once.
        case weightsWithResume
        /// A checkpoint (or its optimizer state) that does not fit the model.
        case badCheckpoint
        /// A sample resized at load for another network input size than the config's.
        case samplesForAnotherInput
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
    /// The anchors trained with, and why.
    public var anchors: AnchorChoice
    /// Seconds spent in epochs over all sessions of the run (what a time budget counts).
    public var trainedSeconds: Double
    /// Resumed a run that had done all its epochs, or spent its time budget: nothing was trained.
    public var alreadyComplete = false
    /// The time budget ended the run (also when resumed with no time left).
    public var timeBudgetSpent = false
    /// The time limit stopped the run in the middle of an epoch: (epoch, batches done in it),
    /// both as saved in last.safetensors.
    public var stoppedInEpoch: (epoch: Int, batch: Int)? = nil
}

/// The training loop: data set → letterbox → augmentation → batch → forward → loss components
/// → backward → Adam → checkpoint, log, plots; in named steps: `run` (the epoch loop),
/// `trainEpoch`, `trainStep` (one batch), `endEpoch` (validation, results.jsonl, checkpoints,
/// plot) and `finish` (overfit mode's verdict, renders). Overfit mode's plateau test and verdict
/// are `OverfitCheck`; the time budget's plan is `TimeBudget`; the anchors `AnchorChoice`; the
/// checkpoints and resuming `Trainer+Checkpoints.swift`.
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
/// finishes the epoch exactly as an uninterrupted run would have. A time budget instead plans
/// the run to end by it (`TimeBudget`): its last epoch may be cut short, and is then ended like
/// any other (validated, logged, saved).
public final class Trainer {
    /// The config trained: the one given, with the anchors of `anchorChoice`.
    public let config: ModelConfig
    public let network: Network
    public let options: TrainingOptions
    /// The anchors this run trains with, and why.
    public let anchorChoice: AnchorChoice
    /// What the run took from `options.weights`; nil without.
    public let weightTransfer: WeightTransfer?
    let train: [LoadedSample]
    let validation: [LoadedSample]
    let loss: RegionLoss
    let optimizer: Adam
    /// The moving average of the weights (`options.ema`, not in overfit mode); with a time
    /// budget it is made after the run's first batch (`startEMAForTimeBudget`).
    var ema: ExponentialMovingAverage? = nil
    public internal(set) var imagesSeen = 0
    var history: [EpochSummary] = []
    /// Complete epochs before this run (the checkpoint's, on resume).
    var startEpoch = 0
    /// The running sums of epoch `startEpoch` (0-based) when the checkpoint was saved in it.
    var resumedEpoch: EpochProgress? = nil
    var bestScore: Float = -.infinity
    /// Overfit mode's learning-rate drops and convergence (saved in checkpoints so that resume is exact).
    var overfitCheck = OverfitCheck()
    /// The time spent in epochs over all sessions, and the budget's plan.
    var timing: TimeBudget
    /// Seconds spent in epochs over all sessions of the run, this one's up to its last
    /// complete epoch (what a time budget counts).
    public var trainedSeconds: Double { timing.spent }
    /// The budget (seconds) whose last epoch the checkpoint holds; nil: none ended.
    var budgetEnded: Double? = nil
    /// How long the last epoch's checkpoints and plot took to write (counted in the budget).
    var lastSaveSeconds = 0.0
    /// What last.safetensors holds, for messages ("after epoch 3"); nil: this run has none yet.
    var savedCheckpoint: String? = nil
    /// The batch producers (`options.prefetch`) started, and running: none once an epoch ends,
    /// however it ends.
    let batchProducers = ThreadCount()

    public init(config: ModelConfig, train: [LoadedSample], validation: [LoadedSample], options: TrainingOptions) throws {
        guard !train.isEmpty else { throw TrainingError(.noTrainingImages, "no training images") }
        let (w, h) = (config.inputWidth, config.inputHeight)
        if let wrong = (train + validation).first(where: { !$0.canFeed(width: w, height: h) }) {
            throw TrainingError(.samplesForAnotherInput, "\(wrong.name) was resized at load for another network input size than the config's \(w)x\(h); load the images for this config")
        }
        self.options = options
        self.train = train
        self.validation = validation
        if options.weights != nil && options.resume {
            throw TrainingError(.weightsWithResume, "starting from trained weights begins a new run, and resuming continues a run from its own last.safetensors: ask for one of them")
        }
        // Before anything is allocated: a config that fits one image may not fit a batch.
        try config.checkMemory(batch: max(1, min(options.batchSize, train.count)),
                               limit: options.memoryLimit ?? MemoryLimit.machine(), source: config.name)
        let weights = try options.weights.map { try WeightsFile.read(path: $0) }
        // Refitting the anchors would throw away a head the file trained for them; when the
        // head starts afresh anyway (other classes), refitting costs nothing.
        let keepsHead = try weights.map { file in
            WeightTransfer(from: file, into: config, parameters: try NetworkGraph.build(config).flatMap(\.parameters).map { ($0.name, $0.shape) }).loadsHead
        } ?? false
        anchorChoice = Trainer.chooseAnchors(config: config, train: train, options: options, keepingAnchorsForWeights: keepsHead)
        var trained = config
        trained.anchors = anchorChoice.anchors
        self.config = trained
        let network = try Network(config: trained, seed: options.seed)
        self.network = network
        weightTransfer = try weights.map { try WeightTransfer.load($0, into: network) }
        var settings = trained.loss
        settings.warmupImages = options.warmupImages ?? min(settings.warmupImages, 2 * train.count)
        self.loss = RegionLoss(settings: settings, layout: trained.headLayout)
        self.optimizer = Adam(parameters: network.parameters, learningRate: options.learningRate)
        optimizer.decoupledWeightDecay = options.weightDecay
        timing = TimeBudget(seconds: options.timeBudget)
        if usesEMA && options.timeBudget == nil {
            ema = ExponentialMovingAverage(parameters: network.parameters,
                                           settings: .scaled(stepsPerEpoch: batchCount, epochs: options.epochs))
        }
    }

    /// Whether this run keeps a moving average of the weights.
    var usesEMA: Bool { options.ema && !options.isOverfitting }

    /// With a time budget the epochs are not known before the first batch is timed: the
    /// average is then scaled to the epochs the plan holds after it (`TimeBudget.plannedEpochs`)
    /// and starts from the weights after it. (Settings that need no epoch count, one epoch's
    /// steps, would average over far fewer steps than a run of a few hundred short epochs
    /// makes: 5 steps for 78 images at batch 16.) `--resume` keeps the run's settings.
    func startEMAForTimeBudget(epoch: Int, done: EpochProgress, spentBefore: Double) {
        guard usesEMA, ema == nil else { return }
        let planned = max(epoch + 1, timing.plannedEpochs(done: epoch, elapsed: spentBefore, estimates(done: done), cap: options.epochs))
        ema = ExponentialMovingAverage(parameters: network.parameters, settings: .scaled(stepsPerEpoch: batchCount, epochs: planned))
    }

    /// Runs `body` with the weights validation, renders and best.safetensors use: the moving
    /// average when there is one, else the live weights.
    func withEvaluationWeights<R>(_ body: () throws -> R) rethrows -> R {
        guard let ema else { return try body() }
        return try ema.withAveragedWeights(body)
    }

    /// The mosaic schedule for epoch `epoch` (0-based), and the epochs it counts the last
    /// `closeEpochs` from: the run's, or with a time budget the plan's at the epoch's start; nil
    /// without mosaics.
    func mosaicSchedule(epoch: Int) -> (settings: MosaicSettings, epochs: Int)? {
        guard options.mosaic && !options.isOverfitting else { return nil }
        var epochs = options.epochs
        if options.timeBudget != nil {
            epochs = max(epoch + 1, timing.plannedEpochs(done: epoch, elapsed: timing.spent, estimates(done: nil), cap: options.epochs))
        }
        var settings = MosaicSettings.standard(epochs: epochs)
        if let close = options.closeMosaic { settings.closeEpochs = close }
        return (settings, epochs)
    }

    /// The anchors to train with: on resume the run's own (those its checkpoint was fitted with,
    /// when the config still has the anchors the run started from), otherwise `AnchorChoice`'s
    /// rule on the training boxes unless `autoAnchor` is off, or the config's when the head of
    /// `options.weights` is loaded with them (`keepingAnchorsForWeights`).
    static func chooseAnchors(config: ModelConfig, train: [LoadedSample], options: TrainingOptions,
                              keepingAnchorsForWeights: Bool = false) -> AnchorChoice {
        let given = config.anchors
        if options.resume {
            // The checkpoint is read again, and checked, by `restore`: here only its anchors matter.
            if let checkpoint = try? Checkpoint.load(path: options.outputFolder + "/last.safetensors"),
               checkpoint.training["anchors"] == "fitted", checkpoint.training["config_anchors"] == anchorList(given),
               let stored = try? ModelConfig.decode(Data(checkpoint.configJSON.utf8), source: "last.safetensors"),
               stored.anchors.count == given.count {
                return AnchorChoice(outcome: .resumed, anchors: stored.anchors, configAnchors: given)
            }
            return AnchorChoice(outcome: .resumed, anchors: given, configAnchors: given)
        }
        let boxes = boxShapes(train, config: config)
        guard options.autoAnchor else {
            return AnchorChoice(outcome: .off, anchors: given, configAnchors: given, configFit: AnchorFit(anchors: given, boxes: boxes))
        }
        if keepingAnchorsForWeights {
            return AnchorChoice(outcome: .keptForWeights, anchors: given, configAnchors: given,
                                configFit: AnchorFit(anchors: given, boxes: boxes))
        }
        return AnchorChoice.choose(configAnchors: given, boxes: boxes, gridWidth: config.gridWidth,
                                   gridHeight: config.gridHeight, seed: options.seed)
    }

    var lastPath: String { options.outputFolder + "/last.safetensors" }
    var bestPath: String { options.outputFolder + "/best.safetensors" }
    var resultsPath: String { options.outputFolder + "/results.jsonl" }
    var batchSize: Int { max(1, min(options.batchSize, train.count)) }
    var batchCount: Int { (train.count + batchSize - 1) / batchSize }

    /// Letterboxes (makes mosaics of, and augments) the images at `indices` into `batch`;
    /// returns their labels in normalised network coordinates. `mosaics`: the schedule of
    /// `mosaicSchedule(epoch:)`, nil for none. (`TrainingBatchMaker.make`.)
    func prepareBatch(_ indices: [Int], samples: [LoadedSample], augment: Bool, epoch: Int,
                      mosaics: (settings: MosaicSettings, epochs: Int)? = nil,
                      into batch: UnsafeMutablePointer<Float>) -> [[LabeledObject]] {
        batchMaker(samples: samples, augment: augment).make(indices, epoch: epoch, mosaics: mosaics, into: batch)
    }

    /// What makes this run's batches from `samples`, with `options.augmentation` when `augment`.
    func batchMaker(samples: [LoadedSample], augment: Bool) -> TrainingBatchMaker {
        TrainingBatchMaker(samples: samples, width: config.inputWidth, height: config.inputHeight,
                           augmentation: augment ? options.augmentation : nil, seed: options.seed)
    }

    /// mAP of the network with the weights it holds now (the live ones, or the average inside
    /// `withEvaluationWeights`) on `samples` (see `evaluateModel`).
    public func evaluateCurrentWeights(on samples: [LoadedSample], scoreThreshold: Float = 0.005) throws -> EvaluationResult {
        try evaluateModel(network, on: samples, scoreThreshold: scoreThreshold)
    }

    /// Draws predictions (and the ground truth, thinner) for samples into `folder`, on the
    /// picture each sample holds (`LoadedSample.image`: the original, or the network-size one).
    public func render(_ samples: [LoadedSample], into folder: String, scoreThreshold: Float = 0.25) throws -> [String] {
        let detector = ObjectDetector(network: network)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var paths: [String] = []
        for sample in samples {
            let picture = sample.image
            // Detections come in the original's pixels; the picture may be smaller.
            let (sx, sy) = (Float(picture.width) / Float(max(1, sample.width)), Float(picture.height) / Float(max(1, sample.height)))
            let found = try detector.detect([sample], options: NMSOptions(scoreThreshold: scoreThreshold))[0].map { d in
                var d = d
                d.box = d.box.scaled(x: sx, y: sy)
                return d
            }
            let truth = sample.objects.map {
                LabeledObject(classIndex: $0.classIndex, box: $0.box.scaled(x: Float(picture.width), y: Float(picture.height)))
            }
            let drawn = renderDetections(on: picture, detections: found, classNames: config.classes, groundTruth: truth, minimumSide: 512)
            let path = folder + "/" + sample.name + ".png"
            try PNG.write(drawn, to: path)
            paths.append(path)
        }
        return paths
    }

    // MARK: The run

    /// Why the epoch loop ended early, if it did.
    enum Stop { case timeLimit, budget }

    public func run(progress: (TrainingEvent) -> Void) throws -> TrainingResult {
        let started = Date()
        let folder = try RunFolder(path: options.outputFolder)
        defer { folder.unlock() }
        if options.resume {
            try restore(progress: progress)
            // The budget the checkpoint's epoch ended, or one without room for another batch.
            let budgetSpent = resumedEpoch == nil && options.timeBudget != nil
                && (budgetEnded == options.timeBudget || !timing.fits(elapsed: timing.spent, estimates(done: nil)))
            if resumedEpoch == nil && (startEpoch >= options.epochs || budgetSpent) {
                progress(.message(budgetSpent
                    ? String(format: "%@: the time budget of %@ is spent (%@ in %d epochs); nothing to train", options.outputFolder,
                             durationTextWithTenths(options.timeBudget ?? 0), durationTextWithTenths(timing.spent), startEpoch)
                    : "\(options.outputFolder): all \(startEpoch) epochs are done already (last.safetensors is after epoch \(startEpoch)); nothing to train"))
                return TrainingResult(epochs: history, outputFolder: options.outputFolder, seconds: Date().timeIntervalSince(started),
                                      anchors: anchorChoice, trainedSeconds: timing.spent, alreadyComplete: true,
                                      timeBudgetSpent: budgetSpent)
            }
            progress(.message("resumed from \(lastPath) \(savedCheckpoint ?? "") (\(imagesSeen) images seen)"))
        } else {
            try Trainer.checkOutputFolder(options, probeLock: false)
            if options.existOK { try folder.removeOutputs() }
        }
        if anchorChoice.outcome != .resumed || anchorChoice.anchors != anchorChoice.configAnchors {
            progress(.message(anchorChoice.message))
        }
        // The batch buffer of steps that make their own batch (without prefetch; the queue has its own).
        let per = config.inputWidth * config.inputHeight * 3
        let input = UnsafeMutablePointer<Float>.allocate(capacity: options.prefetch > 0 ? 1 : batchSize * per)
        defer { input.deallocate() }
        var stoppedInEpoch: (epoch: Int, batch: Int)? = nil
        var stop: Stop? = nil

        // max: a negative `epochs` from a library caller trains nothing instead of trapping.
        epochLoop: for epoch in startEpoch..<max(startEpoch, options.epochs) {
            let resumed = epoch == startEpoch ? resumedEpoch : nil
            // Later epochs follow the end of the one before (`endEpoch` decides there).
            if epoch == startEpoch && resumed == nil && !timing.fits(elapsed: timing.spent, estimates(done: nil)) {
                stop = .budget
                break
            }
            let (done, ended) = try trainEpoch(epoch, from: resumed, input: input, started: started, progress: progress)
            if ended == .timeLimit && done.batches < batchCount {
                try save(to: lastPath, epoch: epoch, partial: done)
                progress(.checkpoint(path: lastPath, epoch: epoch, batch: done.batches))
                progress(.message("time limit reached in epoch \(epoch + 1) after batch \(done.batches) of \(batchCount): \(lastPath) holds the partial epoch, and --resume finishes it"))
                stoppedInEpoch = (epoch + 1, done.batches)
                break
            }
            // With a budget, the last epoch is also the one after which no batch would fit.
            let estimate = estimates(done: done)
            let lastInBudget = !timing.fits(elapsed: timing.spent + done.seconds + estimate.end, estimate)
            let endsBudget = options.timeBudget != nil && (ended == .budget || lastInBudget)
            let decision = try endEpoch(epoch, done, cut: ended == .budget, endsBudget: endsBudget,
                                        isLast: epoch + 1 == options.epochs || ended != nil || lastInBudget, progress: progress)
            switch decision {
            case .converged: progress(.message("loss converged after \(epoch + 1) epochs")); break epochLoop
            case .dropped: progress(.message("loss plateaued: learning rate ×0.1"))
            case .none: break
            }
            if ended == .timeLimit { progress(.message("time limit reached after \(epoch + 1) epochs")); break }
            if budgetEnded != nil { stop = .budget; break }
            if let stopAfter = options.stopAfterEpoch, epoch + 1 >= stopAfter { break }
        }
        if stop == .budget, let budget = options.timeBudget {
            progress(.message(String(format: "time budget reached: %d epochs in %@ of %@", history.last?.epoch ?? 0,
                                     durationTextWithTenths(timing.spent), durationTextWithTenths(budget))))
        }
        var result = try finish(started: started)
        result.stoppedInEpoch = stoppedInEpoch
        result.timeBudgetSpent = stop == .budget
        return result
    }

    /// The plan's estimates: the mean batch so far (the earlier epochs' and `done`'s, the epoch
    /// running) and the mean end of an epoch, or before any epoch ended, the validation images
    /// at half the training speed.
    func estimates(done: EpochProgress?) -> TimeBudget.Estimates {
        let batches = timing.batches + (done?.batches ?? 0)
        let batch = batches > 0 ? (timing.trainingSeconds + (done?.seconds ?? 0)) / Double(batches) : 0
        // Inference is about a third of a training step per image (no backward pass, batch norm
        // folded): half is the margin.
        let end = timing.meanEnd ?? (batch > 0 ? 0.5 * Double(validation.count) * batch / Double(batchSize) : 0)
        return TimeBudget.Estimates(batch: batch, end: end, batchesPerEpoch: batchCount)
    }

    /// Trains epoch `epoch` (0-based) from batch `resumed.batches` on (from its start without
    /// `resumed`). Returns the epoch's running sums, and why it stopped early if it did: the
    /// time limit passed (after that batch), or the budget has no room for another batch and
    /// the epoch's end.
    func trainEpoch(_ epoch: Int, from resumed: EpochProgress?, input: UnsafeMutablePointer<Float>, started: Date,
                    progress: (TrainingEvent) -> Void) throws -> (done: EpochProgress, stop: Stop?) {
        let (batches, batchSize) = (batchCount, self.batchSize)
        var done = resumed ?? EpochProgress(learningRate: options.learningRate)
        let epochStart = Date().addingTimeInterval(-done.seconds)
        let spentBefore = timing.spent
        var rng = SplitMix64(seed: options.seed &+ UInt64(epoch) &* 7919)
        var shuffled = Array(train.indices)
        shuffled.shuffle(using: &rng)
        let order = shuffled  // read by the producer thread: a constant
        let indicesOf = { (b: Int) in Array(order[(b * batchSize)..<min((b + 1) * batchSize, order.count)]) }
        // The batches are a function of (seed, epoch, image): made ahead on the producer thread
        // or here in the step, they are the same bytes. The mosaic schedule is fixed for the
        // epoch (with a time budget it reads the plan as the epoch starts, which only the end of
        // an epoch changes).
        let maker = batchMaker(samples: train, augment: !options.isOverfitting && options.augmentation != .none)
        let mosaics = mosaicSchedule(epoch: epoch)
        let queue = options.prefetch > 0
            ? BatchQueue<[[LabeledObject]]>(positions: done.batches..<batches, depth: options.prefetch,
                                            floatsPerBatch: batchSize * maker.floatsPerImage, threads: batchProducers) { b, buffer, byStep in
                // The producer makes its images one after the other on its low-priority thread,
                // in the time the step leaves idle; a step that finds its batch not started
                // makes it on every core, as without prefetch.
                maker.make(indicesOf(b), epoch: epoch, mosaics: mosaics, parallel: byStep, into: buffer)
            }
            : nil
        // Every way out of the epoch (its end, a time limit, the budget, an error) ends the producer.
        defer { queue?.stop() }
        for b in done.batches..<batches {
            let indices = indicesOf(b)
            let batch: (input: UnsafeMutablePointer<Float>, targets: [[LabeledObject]])
            if let queue {
                guard let made = try queue.next() else { preconditionFailure("the batch queue ended before batch \(b + 1)") }
                precondition(made.position == b)
                batch = (made.input, made.labels)
            } else {
                batch = (input, maker.make(indices, epoch: epoch, mosaics: mosaics, into: input))
            }
            let (result, lr) = try trainStep(indices, targets: batch.targets, input: batch.input, epoch: epoch, batch: b,
                                             batches: batches) {
                self.budgetProgress(epoch: epoch, done: done, spentBefore: spentBefore, epochStart: epochStart)
            }
            done.images += indices.count
            let weight = Float(indices.count)
            done.sums = done.sums + result.components.scaled(by: weight)
            done.statistics = done.statistics + result.statistics.scaled(by: weight)
            done.learningRate = lr
            done.batches = b + 1
            done.seconds = Date().timeIntervalSince(epochStart)
            if options.timeBudget != nil { startEMAForTimeBudget(epoch: epoch, done: done, spentBefore: spentBefore) }
            let rate = Double(done.images) / max(done.seconds, 1e-9)
            var epochs = options.epochs
            var eta: Double
            let estimate = estimates(done: done)
            if options.timeBudget != nil {
                epochs = max(epoch + 1, timing.plannedEpochs(done: epoch, elapsed: spentBefore, estimate, cap: options.epochs))
                // The planned epochs' end: the budget when the last is cut short, earlier when
                // no batch fits after the last whole one, or the cap's.
                let horizon = timing.horizon(done: epoch, elapsed: spentBefore, estimate, cap: options.epochs) ?? 0
                let end = min(horizon, spentBefore + Double(epochs - epoch) * estimate.epoch)
                eta = max(0, end - (spentBefore + done.seconds))
            } else {
                // In Double: epochs × images can exceed Int.
                let remainingImages = Double(options.epochs - epoch - 1) * Double(train.count) + Double(train.count - done.images)
                eta = remainingImages / max(rate, 1e-9)
            }
            progress(.batch(epoch: epoch + 1, epochs: epochs, batch: b + 1, batches: batches, loss: result.total,
                            components: result.components, statistics: result.statistics,
                            imagesPerSecond: rate, etaSeconds: eta))
            if let limit = options.timeLimit, Date().timeIntervalSince(started) > limit { return (done, .timeLimit) }
            if b + 1 < batches && !timing.fits(elapsed: spentBefore + done.seconds, estimate) { return (done, .budget) }
        }
        return (done, nil)
    }

    /// With a time budget, the progress p ∈ [0, 1] the learning rate follows: the time trained
    /// over the plan's horizon (`TimeBudget.horizon`); nil without one.
    func budgetProgress(epoch: Int, done: EpochProgress, spentBefore: Double, epochStart: Date) -> Double? {
        guard options.timeBudget != nil else { return nil }
        let elapsed = spentBefore + Date().timeIntervalSince(epochStart)
        guard let horizon = timing.horizon(done: epoch, elapsed: spentBefore, estimates(done: done), cap: options.epochs),
              horizon > 0 else { return 1 }
        return min(1, elapsed / horizon)
    }

    /// One optimisation step on the images at `indices`, already made into `input` with their
    /// `targets` (`TrainingBatchMaker`): forward, loss, backward, Adam, then the moving average's
    /// update (with `options.ema`). Returns the loss and the learning rate used.
    /// `budgetProgress` is asked after the backward pass (with a time budget the rate depends
    /// on the time trained).
    func trainStep(_ indices: [Int], targets: [[LabeledObject]], input: UnsafeMutablePointer<Float>, epoch: Int,
                   batch b: Int, batches: Int, budgetProgress: () -> Double? = { nil }) throws -> (RegionLossResult, Float) {
        let overfit = options.isOverfitting
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
        let lr = learningRate(epoch: epoch, batch: b, batches: batches, budgetProgress: overfit ? nil : budgetProgress())
            * overfitCheck.learningRateScale
        optimizer.learningRate = lr
        optimizer.step()
        ema?.update()
        imagesSeen += indices.count
        return (result, lr)
    }

    /// The learning rate of batch `batch` of epoch `epoch` (before overfit mode's plateau
    /// scale): constant in overfit mode, `LearningRateSchedule.byTime` with a time budget (at
    /// `budgetProgress`), else `LearningRateSchedule.byEpoch`.
    func learningRate(epoch: Int, batch: Int, batches: Int, budgetProgress: Double? = nil) -> Float {
        let (base, floor) = (options.learningRate, options.finalLearningRateFraction)
        if options.isOverfitting { return base }
        if let budgetProgress {
            return LearningRateSchedule.byTime(base: base, floor: floor, progress: budgetProgress, epoch: epoch, batch: batch, batches: batches)
        }
        return LearningRateSchedule.byEpoch(base: base, floor: floor, epoch: epoch, batch: batch, batches: batches, epochs: options.epochs)
    }

    /// The end of an epoch: its summary, validation, then results.jsonl's line, best.safetensors
    /// and last.safetensors in that order (see the type's comment), the loss plot. Validation
    /// and best.safetensors use the moving average when there is one (`withEvaluationWeights`).
    /// `cut`: the time budget ended the epoch before its last batch; `endsBudget`: the epoch is the
    /// budget's last (its checkpoint says so, so that a resume with the same budget has nothing to do). Returns what overfit mode's
    /// convergence test decided (its learning-rate drop is in the checkpoint).
    func endEpoch(_ epoch: Int, _ done: EpochProgress, cut: Bool, endsBudget: Bool = false, isLast: Bool,
                  progress: (TrainingEvent) -> Void) throws -> OverfitCheck.Decision {
        let endStart = Date()
        let overfit = options.isOverfitting
        let n = Float(done.images)
        var summary = EpochSummary(epoch: epoch + 1, loss: done.sums.total / n, components: done.sums.scaled(by: 1 / n),
                                   statistics: done.statistics.divided(by: n), learningRate: done.learningRate, mAP50: nil,
                                   mAP50to95: nil, seconds: done.seconds, imagesPerSecond: Double(done.images) / max(done.seconds, 1e-9),
                                   imagesSeen: imagesSeen)
        if cut { summary.batches = done.batches }
        if !validation.isEmpty && !overfit && ((epoch + 1) % max(1, options.validationInterval) == 0 || isLast) {
            let result = try withEvaluationWeights { try evaluateCurrentWeights(on: validation) }
            summary.mAP50 = result.mAP50
            summary.mAP50to95 = result.mAP50to95
            summary.validationSeconds = Date().timeIntervalSince(endStart)
            // An epoch that becomes the best (its mAP@0.5 is the score below) gets its PR curve and confusion matrix, drawn from this evaluation.
            if result.mAP50 > bestScore { _ = try? writeEvaluationPlots(result, classNames: config.classes, to: options.outputFolder + "/plots", title: "\(config.name), epoch \(epoch + 1) (best), val") }
        }
        // The end's time so far counts in the budget (and the checkpoints); saving them is added after.
        let measured = Date().timeIntervalSince(endStart)
        timing.record(batches: done.batches, trainingSeconds: done.seconds, endSeconds: measured)
        // Decided once, here, before the checkpoint records it: the budget also ends with this
        // epoch when no further batch fits once this epoch's saving (as long as the last one's)
        // is counted. Deciding it again at the next epoch's start, after the save, made the log
        // plan one more epoch than the run trained, and a resume train it.
        let endsBudget = endsBudget || (options.timeBudget != nil && !isLast
            && !timing.fits(elapsed: timing.spent + lastSaveSeconds, estimates(done: nil)))
        if options.timeBudget != nil {
            summary.plannedEpochs = cut || isLast || endsBudget ? epoch + 1
                : max(epoch + 1, timing.plannedEpochs(done: epoch + 1, elapsed: timing.spent, estimates(done: nil),
                                                      cap: options.epochs))
        }
        history.append(summary)
        budgetEnded = endsBudget ? options.timeBudget : nil
        let decision = overfit ? overfitCheck.update(losses: history.map(\.loss)) : .none
        try appendResult(summary)
        // Best: highest validation mAP@0.5 when there is a validation split, else lowest loss.
        let score = summary.mAP50 ?? -summary.loss
        // best.safetensors holds the weights validated: the moving average when there is one
        // (so that export and detect use it); last.safetensors the live weights and the average.
        if score > bestScore {
            bestScore = score
            try withEvaluationWeights { try save(to: bestPath, epoch: epoch + 1, summary: summary) }
        }
        try save(to: lastPath, epoch: epoch + 1, summary: summary)
        progress(.checkpoint(path: lastPath, epoch: epoch + 1, batch: 0))
        try? writeLossPlot()
        lastSaveSeconds = Date().timeIntervalSince(endStart) - measured
        timing.endSeconds += lastSaveSeconds
        progress(.epoch(summary))
        return decision
    }

    /// After the last epoch: overfit mode's evaluation on the training images, renders and
    /// verdict, or renders of validation images.
    func finish(started: Date) throws -> TrainingResult {
        var result = TrainingResult(epochs: history, outputFolder: options.outputFolder,
                                    seconds: Date().timeIntervalSince(started), anchors: anchorChoice, trainedSeconds: timing.spent)
        if options.isOverfitting {
            let evaluation = try evaluateCurrentWeights(on: train)
            _ = try render(train, into: options.outputFolder + "/overfit")
            let verdict = OverfitCheck.verdict(mAP50: evaluation.mAP50, imageCount: train.count, history: history,
                                               seconds: result.seconds)
            result.overfitMAP50 = verdict.mAP50
            result.learned = verdict.learned
            result.verdict = verdict.text
        } else if !validation.isEmpty {
            _ = try withEvaluationWeights {
                try render(Array(validation.prefix(options.renderCount)), into: options.outputFolder + "/predictions")
            }
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
