import ArgumentParser
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
          train-detector evaluate m.safetensors
              mAP@0.5 and mAP@[.5:.95] on the validation split
        """,
        subcommands: [Train.self, Generate.self, ShowData.self, Anchors.self, Export.self, Evaluate.self],
        defaultSubcommand: Train.self)
}

/// Exits non-zero with a one-line message on any error a user can cause.
func report<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as ExitCode { throw error } catch let error as ValidationError {
        throw error
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

let stderrIsTerminal = isatty(2) == 1

func log(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

/// The built-in synthetic data set, generated on first use.
let defaultDataFolder = "data/shapes"
let defaultTrainCount = 2000
let defaultValCount = 200

func ensureSyntheticData(_ folder: String, seed: UInt64 = 1) throws {
    if FileManager.default.fileExists(atPath: folder + "/classes.txt") { return }
    log("generating the synthetic shapes data set in \(folder) (\(defaultTrainCount) train + \(defaultValCount) val images, seed \(seed))...")
    let start = Date()
    try SyntheticShapes.writeDataset(to: folder, trainCount: defaultTrainCount, valCount: defaultValCount, seed: seed)
    log(String(format: "generated in %.1f s", Date().timeIntervalSince(start)))
}

/// The data set at `path`, or the built-in synthetic shapes (generated on first use) without
/// one; warnings and the count of skipped images go to stderr.
func loadDataset(_ path: String?) throws -> Dataset {
    let folder = path ?? defaultDataFolder
    if path == nil { try ensureSyntheticData(folder) }
    let dataset = try Dataset.load(path: folder)
    for w in dataset.warnings.prefix(10) { log("warning: \(w)") }
    if dataset.skippedImages > 0 { log("warning: \(dataset.skippedImages) image(s) skipped for bad labels") }
    return dataset
}

func nextRunFolder() -> String {
    var n = 1
    while FileManager.default.fileExists(atPath: "runs/train-\(n)") { n += 1 }
    return "runs/train-\(n)"
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train (the default command).",
        discussion: "Writes last.safetensors and best.safetensors (atomically, each epoch, with the optimizer state for --resume), results.jsonl, loss.png and rendered predictions to the output folder.")

    @Option(help: "YOLO-format data set folder (classes.txt, train/ and val/ with images/ and labels/). Default: the built-in synthetic shapes in \(defaultDataFolder), generated on first use.")
    var data: String?
    @Option(help: "Model config JSON.") var config = "models/tiny-dsc.json"
    @Option(help: "Epochs (in overfit mode: the maximum; default 300 there).") var epochs: Int?
    @Option(help: "Images per batch.") var batchSize = 16
    @Option(help: "Adam learning rate.") var lr: Float = 1e-3
    @Option(help: "Output folder (default runs/train-N, the first free N).") var out: String?
    @Option(help: "Train on the first N training images without augmentation until the loss converges, then detect on them, render them to OUT/overfit/ and say whether the network learned them.")
    var overfit: Int?
    @Flag(help: "Continue from OUT/last.safetensors (weights, optimizer state, epoch).") var resume = false
    @Option(help: "Seed of initialisation, shuffling and augmentation.") var seed: UInt64 = 1
    @Flag(help: "Turn augmentation off.") var noAugment = false
    @Option(help: "Stop after this many seconds (the checkpoint of the last epoch is kept).") var timeLimit: Double?
    @Option(help: "Warm-up length in images for the loss's prior term (default: the config's, at most two epochs).") var warmupImages: Int?
    @Flag(help: "One JSON line per epoch on stdout (results.jsonl's format).") var json = false

    func validate() throws {
        if let overfit, overfit < 1 { throw ValidationError("--overfit needs a positive number of images") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if !(lr > 0) { throw ValidationError("--lr must be positive") }
        if resume && out == nil { throw ValidationError("--resume needs --out (the folder of the run to continue)") }
    }

    func run() throws {
        try report {
            let config = try ModelConfig.load(path: resolveConfigPath(config))
            let folder = data ?? defaultDataFolder
            let dataset = try loadDataset(data)
            guard dataset.classNames == config.classes else {
                throw ValidationError("the data set's classes \(dataset.classNames) (\(folder)/classes.txt) differ from the config's \(config.classes) (\(self.config))")
            }
            var items = dataset.train.items
            if let overfit {
                guard items.count >= overfit else {
                    throw ValidationError("--overfit \(overfit) needs \(overfit) training images; \(folder) has \(items.count)")
                }
                items = Array(items.prefix(overfit))
            }
            let train = try loadSamples(items)
            let validation = overfit == nil ? try loadSamples(dataset.validation?.items ?? []) : []
            var options = TrainingOptions()
            options.epochs = epochs ?? (overfit == nil ? 60 : 300)
            options.batchSize = batchSize
            options.learningRate = lr
            options.seed = seed
            options.outputFolder = out ?? nextRunFolder()
            options.overfit = overfit
            options.resume = resume
            options.timeLimit = timeLimit
            options.warmupImages = warmupImages
            if noAugment { options.augmentation = .none }
            let trainer = try Trainer(config: config, train: train, validation: validation, options: options)
            log(trainer.network.table())
            log("training on \(train.count) images\(validation.isEmpty ? "" : ", validating on \(validation.count)"), batch \(batchSize), \(options.epochs) epochs\(overfit != nil ? " at most (overfit mode: no augmentation)" : ""); output in \(options.outputFolder)")
            var lastPrint = Date.distantPast
            let result = try trainer.run { event in
                switch event {
                case let .message(text): log(text)
                case let .batch(epoch, epochs, batch, batches, loss, c, s, rate, eta):
                    guard stderrIsTerminal, Date().timeIntervalSince(lastPrint) > 0.2 || batch == batches else { return }
                    lastPrint = Date()
                    let line = String(format: "\rEpoch %d/%d batch %d/%d  loss %.3f (coord %.3f obj %.3f noobj %.3f cls %.3f prior %.3f)  IoU %.2f recall %.2f  %.0f img/s  ETA %@   ",
                                      epoch, epochs, batch, batches, loss, c.coordinates, c.objectness, c.noObject,
                                      c.classification, c.prior, s.averageIoU, s.recall50, rate, formatDuration(eta))
                    FileHandle.standardError.write(Data(line.utf8))
                case let .epoch(e):
                    if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                    var line = String(format: "epoch %3d  loss %.4f  coord %.4f  obj %.4f  noobj %.4f  cls %.4f  prior %.4f  IoU %.3f  recall %.3f  obj %.3f  any-obj %.4f  lr %.2g  %.0f img/s  %.1f s",
                                      e.epoch, e.loss, e.components.coordinates, e.components.objectness, e.components.noObject,
                                      e.components.classification, e.components.prior, e.statistics.averageIoU, e.statistics.recall50,
                                      e.statistics.averageObjectness, e.statistics.averageAnyObjectness, e.learningRate, e.imagesPerSecond, e.seconds)
                    if let m = e.mAP50 { line += String(format: "  val mAP@0.5 %.3f  mAP@[.5:.95] %.3f", m, e.mAP50to95 ?? 0) }
                    log(line)
                    if json, let data = try? JSONEncoder().encode(e) { print(String(decoding: data, as: UTF8.self)) }
                }
            }
            log("weights: \(options.outputFolder)/best.safetensors, \(options.outputFolder)/last.safetensors; log: \(options.outputFolder)/results.jsonl; plot: \(options.outputFolder)/loss.png")
            if let verdict = result.verdict {
                print(verdict)
                log("renders (ground truth dashed, predictions solid): \(options.outputFolder)/overfit/")
                if result.learned != true { throw ExitCode(2) }
            } else if let last = result.epochs.last {
                print(String(format: "trained %d epochs in %@: final loss %.4f%@", last.epoch, formatDuration(result.seconds), last.loss,
                             last.mAP50.map { String(format: ", val mAP@0.5 %.3f, mAP@[.5:.95] %.3f", $0, last.mAP50to95 ?? 0) } ?? ""))
            }
        }
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the synthetic shapes data set (deterministic: the same seed gives the same bytes).")
    @Option(help: "Output folder.") var out = defaultDataFolder
    @Option(help: "Training images.") var train = defaultTrainCount
    @Option(help: "Validation images.") var val = defaultValCount
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Flag(help: "Write the demo set instead (one split, \(SyntheticShapes.demoCount) images, seed \(SyntheticShapes.demoSeed)): how samples/ was made.")
    var demo = false

    func run() throws {
        try report {
            if demo {
                try SyntheticShapes.writeSamples(to: out, count: SyntheticShapes.demoCount, seed: SyntheticShapes.demoSeed)
                print("wrote \(SyntheticShapes.demoCount) demo images to \(out)")
                return
            }
            let start = Date()
            try SyntheticShapes.writeDataset(to: out, trainCount: train, valCount: val, seed: seed) { done, total in
                if stderrIsTerminal { FileHandle.standardError.write(Data("\r\(done)/\(total) images".utf8)) }
            }
            if stderrIsTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
            print(String(format: "wrote %d train + %d val images to %@ in %.1f s", train, val, out, Date().timeIntervalSince(start)))
        }
    }
}

struct ShowData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show-data",
        abstract: "Render ground-truth boxes on images after the letterbox the network sees, to check labels and preprocessing.")
    @Argument(help: "Data set folder (classes.txt and images/ + labels/, or train/ and val/).") var data: String
    @Option(help: "Output folder.") var out = "runs/show-data"
    @Option(help: "Images to render.") var count = 8
    @Option(help: "Model config (for the network input size).") var config = "models/tiny-dsc.json"
    @Flag(help: "Also apply training augmentation, as a training batch would.") var augment = false
    @Option(help: "Seed for --augment.") var seed: UInt64 = 1

    func run() throws {
        try report {
            let config = try ModelConfig.load(path: resolveConfigPath(config))
            let dataset = try Dataset.load(path: data)
            for w in dataset.warnings { log("warning: \(w)") }
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            var rng = SplitMix64(seed: seed)
            for item in dataset.train.items.prefix(count) {
                let image = try PNG.read(path: item.imagePath)
                var (input, transform) = letterbox(image, width: config.inputWidth, height: config.inputHeight)
                var objects = item.objects.map { LabeledObject(classIndex: $0.classIndex, box: transform.sourceNormalisedToNetworkNormalised($0.box)) }
                if augment { (input, objects) = Detector.augment(input, objects: objects, settings: .standard, rng: &rng) }
                let boxes = objects.map { Detection(box: $0.box.scaled(x: Float(input.width), y: Float(input.height)), classIndex: $0.classIndex, score: 1) }
                let picture = renderDetections(on: input.image, detections: boxes, classNames: dataset.classNames, minimumSide: 512)
                let name = URL(fileURLWithPath: item.imagePath).deletingPathExtension().lastPathComponent
                let path = "\(out)/\(name).png"
                try PNG.write(picture, to: path)
                print("\(path)  \(objects.count) objects  (\(image.width)x\(image.height) → \(input.width)x\(input.height), scale \(String(format: "%.3f", transform.scale)))")
            }
        }
    }
}

struct Anchors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute anchors from the training labels by k-means on (w, h) with distance 1 - IoU (YOLOv2's dimension clusters).")
    @Argument(help: "Number of anchors.") var count = 5
    @Option(help: "Data set folder (default: the synthetic shapes).") var data: String?
    @Option(help: "Model config (for the grid size).") var config = "models/tiny-dsc.json"
    @Option(help: "Seed of the k-means++ initialisation.") var seed: UInt64 = 1

    func run() throws {
        try report {
            let config = try ModelConfig.load(path: resolveConfigPath(config))
            let dataset = try loadDataset(data)
            var sizes: [(width: Float, height: Float)] = []
            for item in dataset.train.items {
                let header = try PNG.size(path: item.imagePath)  // header only: no pixel decode
                let t = LetterboxTransform(sourceWidth: header.width, sourceHeight: header.height,
                                           targetWidth: config.inputWidth, targetHeight: config.inputHeight)
                for o in item.objects {
                    let b = t.sourceNormalisedToNetworkNormalised(o.box)
                    sizes.append((b.width, b.height))
                }
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
        abstract: "Write a model file for inference: the weights and config without the optimizer state, optionally int8-quantized (about a quarter of the size).")
    @Argument(help: "A checkpoint (e.g. runs/train-1/best.safetensors).") var checkpoint: String
    @Option(help: "Output file.") var out: String
    @Flag(help: "Store convolution kernels as int8 with a per-output-channel scale.") var int8 = false

    func run() throws {
        try report {
            let network = try loadNetwork(path: checkpoint)
            try Checkpoint.save(parameters: network.parameters, configJSON: network.config.jsonString(),
                                training: ["source": URL(fileURLWithPath: checkpoint).lastPathComponent], quantize: int8, to: out)
            let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
            print(String(format: "wrote %@ (%.1f KB%@, %@ parameters)", out, Double(size) / 1024, int8 ? ", int8 kernels" : "",
                         String(network.parameterCount)))
        }
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model's mAP@0.5 and mAP@[.5:.95] (COCO-style) on a data set's validation split (or its only split).")
    @Argument(help: "Model file.") var model: String
    @Option(help: "Data set folder (default: the synthetic shapes).") var data: String?
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try report {
            // The model first: a bad path must not wait for the synthetic data to be generated.
            let network = try loadNetwork(path: model)
            let dataset = try loadDataset(data)
            let split = dataset.validation ?? dataset.train
            guard dataset.classNames == network.config.classes else {
                throw ValidationError("the data set's classes \(dataset.classNames) differ from the model's \(network.config.classes)")
            }
            let samples = try loadSamples(split.items)
            let start = Date()
            let result = try evaluateModel(network, on: samples)
            let seconds = Date().timeIntervalSince(start)
            if json {
                let data = try JSONEncoder().encode(result)
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(String(format: "%@ on %@ (%d images, %d boxes): mAP@0.5 %.3f, mAP@[.5:.95] %.3f, precision %.3f and recall %.3f at score >= %.2f (%.1f s)",
                             model, split.name, samples.count, result.groundTruthCount, result.mAP50, result.mAP50to95,
                             result.precision, result.recall, result.scoreThreshold, seconds))
                for (k, name) in network.config.classes.enumerated() {
                    print(String(format: "  %@: AP@0.5 %.3f, AP@[.5:.95] %.3f", name, result.perClassAP50[k] ?? .nan, result.perClassAP50to95[k] ?? .nan))
                }
            }
        }
    }
}
