import ArgumentParser
import CommandSupport
import Detector
import Foundation

@main
struct TrainDetector: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-detector",
        abstract: "Train a tiny YOLOv2-style detector on the CPU, check that it can learn, and inspect its data.",
        discussion: """
        Examples:
          train-detector --overfit 20
              learn 20 images, render them and say whether the network learned
          train-detector --epochs 30
              train on the built-in synthetic shapes (generated on first use)
          train-detector --data my-set --out runs/a
              train on a YOLO-format data set
          train-detector generate --out data/shapes
              write the synthetic data set
          train-detector show-data samples
              render the labels as the network sees them (after letterboxing)
          train-detector anchors 5
              anchors by k-means (distance 1 - IoU) on the training labels
          train-detector export runs/a/best.safetensors --out m.safetensors --int8
              an inference file without optimizer state, kernels in int8
          train-detector evaluate m.safetensors --data my-set --plots runs/eval
              per-class AP, precision and recall on the validation split, PR curve and confusion matrix

        A config given as models/NAME that is not under the working directory is looked up among the shipped files: $DETECTOR_SHARE (a folder of shipped files), PREFIX/share/detector of the installed binary, models/ of the repository a development build was built in, then /usr/local/share/detector (not when $DETECTOR_SHARE is set).

        Exit status: 0 on success, 1 on any error (bad option values included; the message says what and where), 2 when --overfit did not learn.
        """,
        subcommands: [Train.self, Generate.self, ShowData.self, Anchors.self, Export.self, Evaluate.self, Import.self],
        defaultSubcommand: Train.self)

    static func main() { mainExitingOneOnBadInput() }
}

/// The ranges of the numeric options (in their help and checked in validate()).
enum Limits {
    static let epochs = 1...1_000_000
    static let batchSize = 1...1024
    static let overfit = 1...100_000
    static let warmupImages = 0...1_000_000_000
    static let trainImages = 1...SyntheticShapes.maximumImageCount
    static let valImages = 0...SyntheticShapes.maximumImageCount
    static let showCount = 1...100_000
    static let anchors = 1...100
    /// --time, in minutes: up to a week.
    static let timeMinutes: Double = 10080
    /// --weight-decay: AdamW's λ (lr · λ ≤ 1, so a kernel never changes sign by the decay).
    static let weightDecay: ClosedRange<Float> = 0...1
    static let closeMosaic = 0...1_000_000
    static let prefetch = 0...2
}

/// "1 to 1024" for the help texts.
func describe(_ range: ClosedRange<Int>) -> String { "\(range.lowerBound) to \(range.upperBound)" }

/// Throws a ValidationError naming the option when `value` is outside `range`.
func check(_ value: Int?, in range: ClosedRange<Int>, _ option: String) throws {
    if let value, !range.contains(value) {
        throw ValidationError("\(option) must be \(describe(range)) (got \(value))")
    }
}

let stderrIsTerminal = isatty(2) == 1

/// The config trained without --config (it takes its classes from the data set).
let defaultConfig = "models/tiny-dsc.json"

/// The data set at `path`, or the built-in synthetic shapes (generated on first use) without
/// one; warnings and the count of skipped images go to stderr.
func loadDataset(_ path: String?) throws -> Dataset { try BuiltInDataset.load(path, log: log) }

/// Creates runs/train-N for the first free N (mkdir, retried on EEXIST: two runs starting at
/// once get two folders).
func nextRunFolder() throws -> String { try RunFolder.createNumbered(prefix: "runs/train-") }

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train (the default command).",
        discussion: """
        Writes last.safetensors and best.safetensors (atomically, each epoch, with the optimizer state for --resume), results.jsonl, loss.png and rendered predictions to the output folder. Each epoch's results.jsonl line is written before its checkpoints; --resume drops lines the checkpoint does not cover (they are trained again).

        The output folder is locked while a run writes it: a second training into the same folder is refused, naming the pid of the first. A folder that already holds a run (last.safetensors or results.jsonl) is refused unless --resume (continue it) or --exist-ok (overwrite it).

        Images larger than the network needs are held at the network's size once loaded (the letterbox's own resize, so batches are the same): memory grows with the number of images, not their resolution.

        --time MINUTES plans the run to the time: after every batch it re-estimates from the mean batch and the mean end of an epoch (validation, checkpoints and plot, which count in the budget) how many epochs fit, the last one cut short if only part of it fits, and the learning rate's warm-up (the first epoch or the first 3% of the time, whichever is shorter) and cosine follow the time trained instead of the epoch. The run ends by the budget when the estimates hold, and at most one batch and one validation after it when an epoch runs slower than the ones before. Loading the data before the first epoch and the renders after the last are not counted. With --epochs too, the epochs are a cap. Each epoch's results.jsonl line gives its validation time (val_seconds) and the planned total (planned_epochs). Such a run follows the clock, so it is not reproducible to the bit; --resume counts the time of the earlier sessions.

        At the start the config's anchors are measured against the training boxes (letterboxed, in grid cells, compared by the IoU of their shapes as the loss assigns them): the share of boxes with an anchor of IoU >= 0.5 and the mean best IoU. Below 98% they are recomputed by k-means (as the anchors command does, the same number) and used if they fit better; the anchors trained with are stored in the checkpoints' config, which detect reads. --no-autoanchor keeps the config's.

        A config without "classes" (the default, models/tiny-dsc.json) takes the data set's (classes.txt) and sizes its head for them: anchors x (5 + classes) filters. A config that names its classes trains only on a data set with exactly those. The checkpoints store the complete config trained, so detect needs only the model file.

        --weights MODEL starts from a trained model: a layer is loaded when the file holds all its tensors with their shapes (its batch norm's running statistics with it), the head only when the file was trained for the same classes and anchors (else it is re-initialised); the run says which tensors were loaded and which are new. A file of which nothing fits is refused. Without --config the architecture is the model's own with the data set's classes. The anchors of a loaded head are kept (autoanchor would re-initialise it); a head that starts afresh lets autoanchor refit them as usual.
        """)

    @Option(help: "YOLO-format data set folder (classes.txt, train/ and val/ with images/ and labels/). Default: the built-in synthetic shapes in \(BuiltInDataset.folder), generated on first use.")
    var data: String?
    @Option(help: "Model config JSON. Default: \(defaultConfig), or with --weights the architecture of that model, or with --resume the run's own (the config in its last.safetensors). A config without \"classes\" takes the data set's.")
    var config: String?
    @Option(help: "Start from this trained model (a checkpoint or an exported model file, int8 included): every layer whose tensors it holds with their shapes is loaded, the head only for the same classes and anchors; the optimizer and the schedule start afresh. Without --config, the model's own architecture with the data set's classes.")
    var weights: String?
    @Option(help: "Epochs, \(describe(Limits.epochs)) (default 60; in overfit mode the maximum, default 300). With --resume, the total including the epochs done: equal to them, there is nothing to train.")
    var epochs: Int?
    @Option(help: "Images per batch, \(describe(Limits.batchSize)).") var batchSize = 16
    @Option(help: "Adam learning rate, a finite number in (0, 1].") var lr: Float = 1e-3
    @Option(help: "Output folder (default runs/train-N, the first free N).") var out: String?
    @Option(help: "Train on the first N training images (N from \(describe(Limits.overfit))) without augmentation until the loss converges, then detect on them, render them to OUT/overfit/ and say whether the network learned them.")
    var overfit: Int?
    @Flag(help: "Continue the run in --out from its last.safetensors (weights, optimizer state, epoch, and the partial epoch a --time-limit left). The config must be the run's (see --allow-config-change); other settings that differ are warned about.")
    var resume = false
    @Flag(help: "Train into an --out that already holds a run, deleting that run's outputs first.") var existOk = false
    @Flag(help: "With --resume: go on even if the config differs from the one last.safetensors was trained with (a warning names the differences).")
    var allowConfigChange = false
    @Option(help: "Seed of initialisation, shuffling and augmentation.") var seed: UInt64 = 1
    @Flag(help: "Turn augmentation off.") var noAugment = false
    @Option(help: "Stop after this many seconds (a finite number above 0). The batch running then is finished and last.safetensors saved; in the middle of an epoch it holds that partial epoch (weights, optimizer state and the epoch's running sums), which --resume finishes exactly. results.jsonl and best.safetensors hold complete epochs only.")
    var timeLimit: Double?
    @Option(help: "Train for this many minutes in all, a finite number above 0 and at most \(Int(Limits.timeMinutes)) (a week): the epochs are planned to end by then and the learning-rate schedule is stretched to the time (see below); validation counts. With --epochs, the epochs are a cap.")
    var time: Double?
    @Flag(help: "Keep the config's anchors even when they fit the training boxes poorly (see below).") var noAutoanchor = false
    @Option(help: "Warm-up length in images for the loss's prior term, \(describe(Limits.warmupImages)) (default: the config's, at most two epochs).")
    var warmupImages: Int?
    @Flag(help: "One JSON line per epoch on stdout (results.jsonl's format).") var json = false
    @Flag(inversion: .prefixedNo, help: "Keep an exponential moving average of the weights (decay and ramp scaled to the run: an average over about max(one epoch, 2% of the run) of steps) and validate, render and write best.safetensors with it; last.safetensors holds the live weights and the average, for --resume. Off by default; not with --overfit.")
    var ema = false
    @Option(help: "AdamW's decoupled weight decay on convolution kernels (not biases or batch norm), a finite number from 0 to 1 (default 0: none): each step multiplies every kernel by 1 - lr x this before the Adam update (AdamW; Ultralytics uses 0.0005).")
    var weightDecay: Float = 0
    @Flag(inversion: .prefixedNo, help: "Make each training image a mosaic of four (it and three others at half size around a random centre, before the other augmentation), except in the last tenth of the epochs (see --close-mosaic). Off by default; not with --overfit.")
    var mosaic = false
    @Option(help: "With --mosaic: train the last this-many epochs without mosaics, \(describe(Limits.closeMosaic)) (default: a tenth of the epochs, at least 1; of the planned epochs with --time).")
    var closeMosaic: Int?
    @Option(help: "Training batches made ahead on a background thread while the current one computes, \(describe(Limits.prefetch)) (0: each batch is made in its step); the batches are the same either way.")
    var prefetch = 1
    @OptionGroup var engine: EngineOptions

    func validate() throws {
        try check(epochs, in: Limits.epochs, "--epochs")
        try check(prefetch, in: Limits.prefetch, "--prefetch")
        try check(batchSize, in: Limits.batchSize, "--batch-size")
        if !(lr.isFinite && lr > 0 && lr <= 1) { throw ValidationError("--lr must be a finite number in (0, 1] (got \(lr))") }
        try check(overfit, in: Limits.overfit, "--overfit")
        if let timeLimit, !(timeLimit.isFinite && timeLimit > 0) {
            throw ValidationError("--time-limit must be a finite number of seconds above 0 (got \(timeLimit))")
        }
        if let time, !(time.isFinite && time > 0 && time <= Limits.timeMinutes) {
            throw ValidationError("--time must be a finite number of minutes above 0 and at most \(Int(Limits.timeMinutes)) (got \(time))")
        }
        if time != nil && timeLimit != nil {
            throw ValidationError("--time plans the run to end by its budget and --time-limit cuts a run short: pass one of them")
        }
        if time != nil && overfit != nil {
            throw ValidationError("--time does not apply with --overfit, which trains until the loss converges (--time-limit stops it)")
        }
        try check(warmupImages, in: Limits.warmupImages, "--warmup-images")
        if !(weightDecay.isFinite && Limits.weightDecay.contains(weightDecay)) {
            throw ValidationError("--weight-decay must be a finite number from 0 to 1 (got \(weightDecay))")
        }
        try check(closeMosaic, in: Limits.closeMosaic, "--close-mosaic")
        if closeMosaic != nil && !mosaic { throw ValidationError("--close-mosaic only applies with --mosaic") }
        if overfit != nil && ema { throw ValidationError("--ema does not apply with --overfit, which judges the live weights") }
        if overfit != nil && mosaic { throw ValidationError("--mosaic does not apply with --overfit, which trains without augmentation") }
        if resume && out == nil { throw ValidationError("--resume needs --out (the folder of the run to continue)") }
        if resume && existOk { throw ValidationError("--resume continues the run in --out and --exist-ok overwrites it: pass one of them") }
        if allowConfigChange && !resume { throw ValidationError("--allow-config-change only applies with --resume") }
        if weights != nil && resume {
            throw ValidationError("--weights starts a new run from a trained model and --resume continues the run in --out from its own last.safetensors: pass one of them")
        }
    }

    /// The config file to train: --config; else the architecture of --weights, with the data
    /// set's classes; else, resuming, the run's own config; else the default.
    func configFile(outputFolder: String) throws -> ConfigFile {
        if let config { return try ConfigFile.load(path: resolveConfigPath(config)) }
        if let weights {
            let file = try WeightsFile.read(path: weights)
            return try ConfigFile(architectureOf: file.config, source: file.config.name + " (the config of \(weights))")
        }
        if resume {
            let path = outputFolder + "/last.safetensors"
            let stored = try ModelConfig.decode(Data(try Checkpoint.load(path: path).configJSON.utf8), source: "\(path) (config in metadata)")
            return ConfigFile(stored, source: "\(path) (the run's config)")
        }
        return try ConfigFile.load(path: resolveConfigPath(defaultConfig))
    }

    func run() throws {
        try report {
            try engine.apply()
            var options = TrainingOptions()
            options.epochs = epochs ?? (time != nil ? Limits.epochs.upperBound : overfit == nil ? 60 : 300)
            options.timeBudget = time.map { $0 * 60 }
            options.autoAnchor = !noAutoanchor
            options.batchSize = batchSize
            options.learningRate = lr
            options.seed = seed
            options.overfitImages = overfit
            options.resume = resume
            options.existOK = existOk
            options.allowConfigChange = allowConfigChange
            options.timeLimit = timeLimit
            options.warmupImages = warmupImages
            options.ema = ema
            options.weightDecay = weightDecay
            options.mosaic = mosaic
            options.closeMosaic = closeMosaic
            options.prefetch = prefetch
            if noAugment { options.augmentation = .none }
            // The folder checks that need no data first, so a mistake is not reported after
            // minutes of loading (the trainer checks again under the folder's lock).
            if let out {
                options.outputFolder = out
                try Trainer.checkOutputFolder(options)
            }
            options.weights = weights
            // The config before the data, so that a mistake in it is not reported after minutes of loading.
            let file = try configFile(outputFolder: options.outputFolder)
            if config == nil, weights != nil { log("config: \(file.source), with the data set's classes") }
            let folder = data ?? BuiltInDataset.folder
            let dataset = try loadDataset(data)
            let config = try file.config(classes: dataset.classNames, dataSet: folder)
            if file.takesClassesFromDataSet {
                log("classes from the data set (\(folder)): \(config.classes.count), \(config.classes.joined(separator: ", ")); the head has \(config.anchors.count) anchors x (5 + \(config.classes.count)) = \(config.headLayout.channels) filters")
            }
            var items = dataset.train.items
            if let overfit {
                guard items.count >= overfit else {
                    throw ValidationError("--overfit \(overfit) needs \(overfit) training images; \(folder) has \(items.count)")
                }
                items = Array(items.prefix(overfit))
            }
            let (w, h) = (config.inputWidth, config.inputHeight)
            let train = try loadSamples(items, networkWidth: w, networkHeight: h)
            let validation = overfit == nil ? try loadSamples(dataset.validation?.items ?? [], networkWidth: w, networkHeight: h) : []
            if out == nil { options.outputFolder = try nextRunFolder() }
            let trainer = try Trainer(config: config, train: train, validation: validation, options: options)
            log(trainer.network.table())
            if let transfer = trainer.weightTransfer { log(transfer.summary) }
            log(trainingStartLine(trainImages: train.count, validationImages: validation.count, options: options,
                                  epochCap: epochs))
            var lastPrint = Date.distantPast
            let result = try trainer.run { event in
                switch event {
                case let .message(text): log(text)
                case let .batch(epoch, epochs, batch, batches, loss, c, s, rate, eta):
                    guard stderrIsTerminal, Date().timeIntervalSince(lastPrint) > 0.2 || batch == batches else { return }
                    lastPrint = Date()
                    let line = trainingBatchLine(epoch: epoch, epochs: epochs, planned: time != nil, batch: batch, batches: batches, loss: loss,
                                                 components: c, statistics: s, imagesPerSecond: rate, etaSeconds: eta)
                    FileHandle.standardError.write(Data(line.utf8))
                case let .epoch(e):
                    if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                    log(trainingEpochLine(e, timeBudget: options.timeBudget, trainedSeconds: trainer.trainedSeconds))
                    if json, let data = try? JSONEncoder().encode(e) { print(String(decoding: data, as: UTF8.self)) }
                case .checkpoint: break
                }
            }
            if let line = trainingAlreadyCompleteLine(result, timeBudget: options.timeBudget, epochs: options.epochs) {
                print(line)
                return
            }
            if let line = trainingOutputsLine(folder: options.outputFolder) { log(line) }
            if let line = trainingStoppedLine(result) { print(line) }
            if let verdict = result.verdict {
                print(verdict)
                log("renders (ground truth dashed, predictions solid): \(options.outputFolder)/overfit/")
                if result.learned != true { throw ExitCode(2) }
            } else if let line = trainingEndLine(result, timeBudget: options.timeBudget) {
                print(line)
            }
        }
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the synthetic shapes data set (deterministic: the same seed gives the same bytes).",
        discussion: "The set is written into a temporary folder beside --out and renamed to --out only when complete: an interrupted run leaves no --out (its temporary folder is deleted by the next run). An --out that exists and is not empty is refused unless --force, which replaces it whole.\n\n--style other writes the second generator's images (outlines, hatched, gradient and checkered fills, triangles that are not equilateral, rounded and slightly oblong squares, tiny and large shapes, other image sizes, textured backgrounds, clutter and occlusion): for measuring a model trained on the first on shapes drawn differently.\n\n--style varied writes the training generator with its rendering randomised (VariedShapes: 30% classic images, the rest with outlines, patterned, translucent and shaded fills, triangles of random angles, rounded and oblong squares, 3% to 75% sizes, random image sizes, other backgrounds, noise, blur, clutter and bounded occlusion): training data that carries to shapes drawn differently.")
    @Option(help: "Output folder (default \(BuiltInDataset.folder), or \(otherDataFolder) with --style other, \(variedDataFolder) with --style varied).") var out: String?
    @Option(help: "Training images, \(describe(Limits.trainImages)).") var train = BuiltInDataset.trainCount
    @Option(help: "Validation images, \(describe(Limits.valImages)).") var val = BuiltInDataset.valCount
    @Option(help: "Seed.") var seed: UInt64 = BuiltInDataset.seed
    @Option(help: "Generator: shapes (the training generator), other (the second generator, drawn differently) or varied (the training generator with its rendering randomised).")
    var style: Style = .shapes
    @Flag(help: "Write the demo set instead (one split, \(SyntheticShapes.demoCount) images, seed \(SyntheticShapes.demoSeed)): how samples/ was made.")
    var demo = false
    @Flag(help: "Replace an --out that exists and is not empty (the old folder is deleted once the new one is complete).")
    var force = false

    /// Which generator runs.
    enum Style: String, ExpressibleByArgument, CaseIterable {
        /// The training generator (`SyntheticShapes`).
        case shapes
        /// The second generator (`OtherShapes`): the same classes drawn as the first never draws them.
        case other
        /// The randomised training generator (`VariedShapes`).
        case varied
    }

    static let otherDataFolder = "data/other-shapes"
    static let variedDataFolder = "data/varied"

    func validate() throws {
        try check(train, in: Limits.trainImages, "--train")
        try check(val, in: Limits.valImages, "--val")
        if demo && style != .shapes { throw ValidationError("--demo writes the training generator's demo set: it does not go with --style \(style.rawValue)") }
    }

    func run() throws {
        let out = self.out ?? [.other: Generate.otherDataFolder, .varied: Generate.variedDataFolder][style] ?? BuiltInDataset.folder
        try report {
            do {
                if demo {
                    try SyntheticShapes.writeSamples(to: out, count: SyntheticShapes.demoCount, seed: SyntheticShapes.demoSeed, replacing: force)
                    print("wrote \(SyntheticShapes.demoCount) demo images to \(out)")
                    return
                }
                let start = Date()
                let progress: (Int, Int) -> Void = { done, total in
                    if stderrIsTerminal { FileHandle.standardError.write(Data("\r\(done)/\(total) images".utf8)) }
                }
                switch style {
                case .shapes: try SyntheticShapes.writeDataset(to: out, trainCount: train, valCount: val, seed: seed, replacing: force, progress: progress)
                case .other: try OtherShapes.writeDataset(to: out, trainCount: train, valCount: val, seed: seed, replacing: force, progress: progress)
                case .varied: try VariedShapes.writeDataset(to: out, trainCount: train, valCount: val, seed: seed, replacing: force, progress: progress)
                }
                if stderrIsTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
                print(String(format: "wrote %d train + %d val images to %@ in %.1f s%@", train, val, out, Date().timeIntervalSince(start),
                             style == .shapes ? "" : " (--style \(style.rawValue))"))
            } catch let error as FolderWriteError where error.kind == .notEmpty {
                throw CommandError("\(out) already exists and is not empty; pass --force to replace it, or choose another --out")
            }
        }
    }
}

struct ShowData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show-data",
        abstract: "Render ground-truth boxes on images after the letterbox the network sees, to check labels and preprocessing.")
    @Argument(help: "Data set folder (classes.txt and images/ + labels/, or train/ and val/).") var data: String
    @Option(help: "Output folder.") var out = "runs/show-data"
    @Option(help: "Images to render, \(describe(Limits.showCount)).") var count = 8
    @Option(help: "Model config (for the network input size; its classes do not matter).") var config = defaultConfig
    @Flag(help: "Also apply training augmentation, as the first epoch of a training run with --seed augments these images.") var augment = false
    @Option(help: "Seed for --augment (the training run's --seed).") var seed: UInt64 = 1

    func validate() throws { try check(count, in: Limits.showCount, "--count") }

    func run() throws {
        try report {
            let config = try ConfigFile.load(path: resolveConfigPath(config))
            let dataset = try Dataset.load(path: data)
            for w in dataset.warnings { log("warning: \(w)") }
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let (w, h) = (config.inputWidth, config.inputHeight)
            let samples = try loadSamples(Array(dataset.train.items.prefix(count)), networkWidth: w, networkHeight: h)
            for (index, sample) in samples.enumerated() {
                // What training feeds the network for this image in its first epoch.
                let (input, objects) = trainingExample(index, of: samples, width: w, height: h, epoch: 0, seed: seed,
                                                       augmentation: augment ? TrainingOptions().augmentation : nil)
                let boxes = objects.map { Detection(box: $0.box.scaled(x: Float(input.width), y: Float(input.height)), classIndex: $0.classIndex, score: 1) }
                let picture = renderDetections(on: input.image, detections: boxes, classNames: dataset.classNames, minimumSide: 512)
                let path = "\(out)/\(sample.name).png"
                try PNG.write(picture, to: path)
                let scale = LetterboxTransform(sourceWidth: sample.width, sourceHeight: sample.height, targetWidth: w, targetHeight: h).scale
                print("\(path)  \(objects.count) objects  (\(sample.width)x\(sample.height) → \(input.width)x\(input.height), scale \(String(format: "%.3f", scale)))")
            }
        }
    }
}

struct Anchors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute anchors from the training labels by k-means on (w, h) with distance 1 - IoU (YOLOv2's dimension clusters).")
    @Argument(help: "Number of anchors, \(describe(Limits.anchors)), and at most the number of labelled boxes.") var count = 5
    @Option(help: "Data set folder (default: the synthetic shapes).") var data: String?
    @Option(help: "Model config (for the grid size; its classes do not matter).") var config = defaultConfig
    @Option(help: "Seed of the k-means++ initialisation.") var seed: UInt64 = 1

    func validate() throws { try check(count, in: Limits.anchors, "the number of anchors") }

    func run() throws {
        try report {
            let config = try ConfigFile.load(path: resolveConfigPath(config))
            let dataset = try loadDataset(data)
            let sizes = try letterboxedBoxSizes(dataset.train.items, networkWidth: config.inputWidth, networkHeight: config.inputHeight)
            guard sizes.count >= count else {
                throw CommandError("\(count) anchors need at least \(count) labelled boxes; the training split of \(data ?? BuiltInDataset.folder) has \(sizes.count)")
            }
            let result = clusterAnchors(sizes: sizes, count: count, gridWidth: config.gridWidth, gridHeight: config.gridHeight, seed: seed)
            let list = result.anchors.map { String(format: "[%.2f, %.2f]", $0.width, $0.height) }.joined(separator: ", ")
            print("\"anchors\": [\(list)]")
            print(String(format: "mean IoU of %d boxes with their best anchor: %.3f (grid %dx%d)", sizes.count, result.meanIoU,
                         config.gridWidth, config.gridHeight))
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model file for inference: the weights and config without the optimizer state, optionally int8-quantized (about a quarter of the size), or the network as ONNX.",
        discussion: """
        --format onnx writes an ONNX model (IR 8, opset 13) with batch norm folded: input "images" float32 [batch, 3, H, W] (RGB in [0, 1], letterboxed), output "head" float32 [batch, anchors*(5+classes), H/stride, W/stride], the raw head; the class names, anchors and config are in its metadata. README "Exporting to ONNX" describes the pre- and post-processing another runtime must do. An int8 model file exports with its kernels dequantized to float32; with --int8 the kernels are stored as int8 with a per-output-channel scale and a DequantizeLinear before each Conv (about a quarter of the size).
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case safetensors, onnx }

    @Argument(help: "A checkpoint or model file (e.g. runs/train-1/best.safetensors).") var checkpoint: String
    @Option(help: "Output file.") var out: String
    @Option(help: "Output format (default: onnx when --out ends in .onnx, else safetensors).") var format: Format?
    @Flag(help: "Store convolution kernels as int8 with a per-output-channel scale (in ONNX: DequantizeLinear before each Conv).") var int8 = false

    /// The format asked for, or the one the output's extension names.
    var chosenFormat: Format { format ?? (out.lowercased().hasSuffix(".onnx") ? .onnx : .safetensors) }

    func run() throws {
        try report {
            let network = try loadNetwork(path: checkpoint)
            switch chosenFormat {
            case .safetensors:
                try Checkpoint.save(parameters: network.parameters, configJSON: network.config.jsonString(),
                                    training: ["source": URL(fileURLWithPath: checkpoint).lastPathComponent], quantize: int8, to: out)
            case .onnx:
                try network.exportONNX(to: out, int8Kernels: int8)
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
            let c = network.config
            var what = int8 ? ", int8 kernels" : ""
            if chosenFormat == .onnx {
                what += String(format: ", ONNX opset %d, input %@ [batch, %d, %d, %d], output %@ [batch, %d, %d, %d]", ONNXExport.opsetVersion,
                               ONNXExport.inputName, c.inputChannels, c.inputHeight, c.inputWidth, ONNXExport.outputName,
                               c.headLayout.channels, c.gridHeight, c.gridWidth)
            }
            print(String(format: "wrote %@ (%.1f KB%@, %@ parameters)", out, Double(size) / 1024, what, String(network.parameterCount)))
        }
    }
}

extension EvaluationSplitName: ExpressibleByArgument {}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model on a data set split: per class AP@0.5, AP@[.5:.95], precision and recall, a precision-recall curve and a confusion matrix.",
        discussion: """
        Prints a table: for all classes and for each class, the images holding it, its instances, precision (P) and recall (R) at the operating threshold --conf, AP@0.5 and AP@[.5:.95] (COCO's, from every box scoring >= 0.005). A class without instances says so and is left out of the means, as COCO leaves it out. A box matches an object of its class at IoU >= 0.5 (fixed); --iou is the NMS IoU, as in detect and Ultralytics' val.

        --plots DIR writes DIR/pr_curve.png (precision against recall per class and their mean, at IoU 0.5, COCO's 101 points, AP in the legend) and DIR/confusion_matrix.png (rows the true class, columns the predicted class, the last of each the background; counts at --conf and IoU 0.5, coloured by their share of the row). Training writes the same two for its best epoch to OUT/plots/.

        --json prints one JSON object instead of the table: the options, the overall and per-class numbers (null where a class has no instances or no detections), the precision at the 101 recall levels per class and for all, and the confusion matrix's counts.

        The split: val by default (train when the data set has none; the output says so); test reads DATA/test/images/ and DATA/test/labels/.
        """)
    @Argument(help: "Model file.") var model: String
    @Option(help: "Data set folder or data.yaml (default: the synthetic shapes).") var data: String?
    @Option(help: "The split to measure: val (the default when there is one, else train), train or test (DATA/test/images/).") var split: EvaluationSplitName?
    @Option(help: "The operating score threshold of precision, recall and the confusion matrix, in [0, 1] (detect's default). AP always integrates over every box scoring >= 0.005.") var conf: Float = NMSOptions().scoreThreshold
    @Option(help: "IoU threshold of non-maximum suppression, in [0, 1] (detect's default). Boxes match objects at IoU 0.5.") var iou: Float = NMSOptions().iouThreshold
    @Option(help: "Folder for pr_curve.png and confusion_matrix.png (created when missing).") var plots: String?
    @Flag(help: "Print one JSON object (every number, the curves and the confusion matrix).") var json = false
    @OptionGroup var engine: EngineOptions

    /// The score from which boxes enter the AP.
    static let apScoreThreshold: Float = 0.005

    func validate() throws {
        if !(conf.isFinite && (0...1).contains(conf)) { throw ValidationError("--conf must be in [0, 1], got \(conf)") }
        if !(iou.isFinite && (0...1).contains(iou)) { throw ValidationError("--iou must be in [0, 1], got \(iou)") }
        if let plots, plots.isEmpty { throw ValidationError("--plots must name a folder") }
    }

    func run() throws {
        try report {
            try engine.apply()
            // The model first: a bad path must not wait for the synthetic data to be generated.
            let network = try loadNetwork(path: model)
            let dataset = try loadDataset(data)
            guard dataset.classNames == network.config.classes else {
                throw ValidationError("the data set's classes \(dataset.classNames) differ from the model's \(network.config.classes)")
            }
            let chosen = try dataset.evaluationSplit(split, data: data ?? BuiltInDataset.folder)
            for w in chosen.warnings.prefix(10) { log("warning: \(w)") }
            let samples = try loadSamples(chosen.split.items, networkWidth: network.config.inputWidth, networkHeight: network.config.inputHeight)
            let start = Date()
            let result = try evaluateModel(network, on: samples, scoreThreshold: Evaluate.apScoreThreshold,
                                           operatingThreshold: conf, nmsIoUThreshold: iou)
            let seconds = Date().timeIntervalSince(start)
            var written: [String] = []
            if let plots {
                let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
                written = try writeEvaluationPlots(result, classNames: network.config.classes, to: plots,
                                                   title: "\(name) on \(chosen.split.name) (\(samples.count) images)")
            }
            let summary = EvaluationReport(model: model, data: data ?? BuiltInDataset.folder, split: chosen.split.name, splitNote: chosen.note,
                                           classNames: network.config.classes, nmsIoUThreshold: iou,
                                           apScoreThreshold: Evaluate.apScoreThreshold, seconds: seconds, plots: written, result: result)
            if json { print(summary.jsonText) } else { summary.textLines().forEach { print($0) } }
        }
    }
}

// MARK: - import

// `train-detector import coco|voc`: other label formats into the YOLO layout.

extension ImportOptions.Split: ExpressibleByArgument {}
extension ImportOptions.ImageLink: ExpressibleByArgument {}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert COCO JSON or Pascal VOC XML annotations into a YOLO-layout data set.",
        discussion: """
        Examples:
          train-detector import coco annotations.json --images images --out data/set --val-fraction 0.1
          train-detector import coco train.json --val val.json --out data/set
          train-detector import voc VOCdevkit/VOC2012 --out data/voc --val-fraction 0.1

        The output is the YOLO layout (classes.txt, train/ and val/ with images/ and labels/), written into a temporary folder beside --out and renamed to --out when complete. Boxes partly outside their image are clipped, boxes without area dropped; the summary counts them, and names every problem by its file and annotation id (COCO) or line and object (VOC).

        An Ultralytics data.yaml needs no import: --data accepts it directly (path, train, val, names, nc; labels found by replacing /images/ with /labels/).
        """,
        subcommands: [ImportCOCO.self, ImportVOC.self])
}

/// The options both formats share: where and how the output is written.
struct ImportOutputOptions: ParsableArguments {
    @Option(help: "Output folder (classes.txt, train/ and val/ with images/ and labels/).")
    var out: String
    @Option(help: "The split all images go to: train or val (a set needs train/ to be trained on).")
    var split: ImportOptions.Split?
    @Option(help: "Put this fraction of the images, a number in (0, 1), into val/ (rounded; at least one image on each side), chosen by --seed.")
    var valFraction: Double?
    @Option(help: "Seed of the --val-fraction choice.") var seed: UInt64 = 1
    @Option(help: "How images get into the output: copy (the output stands alone), symlink (a link to the source's absolute path) or hard (a hard link; same file system only).")
    var link: ImportOptions.ImageLink = .copy
    @Flag(help: "Replace an --out that exists and is not empty (the old folder is deleted once the new one is complete).")
    var force = false
    @Flag(help: "Leave out the images whose annotations are invalid (each is named) instead of stopping without writing anything.")
    var skipInvalid = false
    @Flag(help: "Print the summary as one JSON object, every issue included (also when the import stops).")
    var json = false

    func validate() throws {
        if let valFraction, !(valFraction.isFinite && valFraction > 0 && valFraction < 1) {
            throw ValidationError("--val-fraction must be a number in (0, 1) (got \(valFraction))")
        }
        if valFraction != nil && split != nil { throw ValidationError("--split and --val-fraction exclude each other: pass one") }
        if out.isEmpty { throw ValidationError("--out must name a folder") }
    }

    var options: ImportOptions {
        var options = ImportOptions()
        options.split = split ?? .train
        options.validationFraction = valFraction
        options.seed = seed
        options.imageLink = link
        options.replacing = force
        options.skipInvalid = skipInvalid
        return options
    }

    /// Checks --val against the split options (a second source decides the split itself).
    func checkValidationSource(_ val: String?, images valImages: String?) throws {
        if val != nil && (split != nil || valFraction != nil) {
            throw ValidationError("--val gives the validation images: it excludes --split and --val-fraction")
        }
        if valImages != nil && val == nil { throw ValidationError("--val-images needs --val") }
    }

    /// Runs an import and prints its summary (text or JSON); when it stops, the JSON summary
    /// still goes to stdout with --json, and the error to stderr.
    func run(_ body: () throws -> ImportSummary) throws {
        try report {
            do {
                let summary = try body()
                if json { print(summary.jsonText) } else { summary.textLines().forEach { print($0) } }
            } catch let error as ImportError {
                if json, let summary = error.summary { print(summary.jsonText) }
                throw error
            }
        }
    }
}

struct ImportCOCO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coco",
        abstract: "Import COCO object-detection annotations (instances_*.json).",
        discussion: """
        Classes are the categories in ascending id order (class k is the k-th smallest id; ids need not be contiguous); OUT/categories.json records the mapping back to COCO ids. Images are found by file_name under --images; their width and height must match the file (PNG headers are read; a JPEG's size is taken from the JSON). bbox [x, y, width, height] in pixels becomes cx cy w h normalised by the image size. iscrowd boxes are left out unless --keep-crowd. Images without annotations get empty label files; missing images are named and left out.

        Every problem is named by the file and annotation or image id: a file that is not JSON (line and column), a missing list, a field of the wrong type, an id given twice, an unknown image or category id, a bbox that is not 4 finite numbers or has a negative size, a size that differs from the image. Any of them stops the import (all are listed) unless --skip-invalid.
        """)

    @Argument(help: "COCO annotation file.") var annotations: String
    @Option(help: "Folder the file_names are relative to (default: images/ beside the annotation file when there is one, else the file's own folder).")
    var images: String?
    @Option(help: "A second COCO file whose images all go to val/ (its categories must be the same).") var val: String?
    @Option(help: "Folder of --val's images (default: images/ beside it, or its folder).") var valImages: String?
    @Flag(help: "Keep iscrowd boxes (left out by default: they mark a crowd region, not one object).") var keepCrowd = false
    @OptionGroup var output: ImportOutputOptions

    func validate() throws { try output.checkValidationSource(val, images: valImages) }

    func run() throws {
        try output.run {
            try COCOImport.importDataset(from: COCOSource(annotations: annotations, images: images),
                                         validation: val.map { COCOSource(annotations: $0, images: valImages) },
                                         to: output.out, keepCrowd: keepCrowd, options: output.options)
        }
    }
}

struct ImportVOC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voc",
        abstract: "Import Pascal VOC XML annotations (one XML file per image).",
        discussion: """
        FOLDER is a VOC layout (Annotations/*.xml, images in JPEGImages/) or a folder of XML files (images beside them, or in --images). The image of an XML file is its <filename>, else the same name with another image extension, else the XML file's own name. <size> must match the image (PNG headers are read).

        Coordinates: VOC's xmin..xmax are 1-based pixel indices, inclusive, so the box spans xmin - 1 to xmax in image coordinates (0 at the left edge, W at the right); --zero-based reads them as 0-based edges (xmin to xmax), as some tools write them. Classes are the <name>s found, sorted, unless --classes. <difficult>1</difficult> objects are left out unless --keep-difficult (as darknet and Ultralytics do).

        Every problem is named by its XML file, line and object number: malformed XML, no <bndbox>, a coordinate that is not a number, xmax below xmin, a size that differs from the image. Any of them stops the import (all are listed) unless --skip-invalid.
        """)

    @Argument(help: "Folder of VOC XML files, or a VOC layout holding Annotations/.") var folder: String
    @Option(help: "Folder of the images (default: JPEGImages/ of a VOC layout, else the XML files' folder).") var images: String?
    @Option(help: "A second folder of XML files whose images all go to val/.") var val: String?
    @Option(help: "Folder of --val's images.") var valImages: String?
    @Option(help: "Class list, one name a line (as classes.txt): fixes the class order; an object of another class is an error. Default: the names found, sorted.")
    var classes: String?
    @Flag(help: "Keep objects marked <difficult>1</difficult> (left out by default).") var keepDifficult = false
    @Flag(help: "Read coordinates as 0-based pixel edges (box xmin..xmax) instead of VOC's 1-based pixel indices (box xmin - 1..xmax).")
    var zeroBased = false
    @OptionGroup var output: ImportOutputOptions

    func validate() throws { try output.checkValidationSource(val, images: valImages) }

    func run() throws {
        try output.run {
            let names = try classes.map { try Dataset.readClassNames(path: $0) }
            return try VOCImport.importDataset(from: VOCSource(folder: folder, images: images),
                                               validation: val.map { VOCSource(folder: $0, images: valImages) },
                                               to: output.out, classNames: names, keepDifficult: keepDifficult,
                                               zeroBased: zeroBased, options: output.options)
        }
    }
}
