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
    public var resume = false
    public var augmentation = AugmentationSettings.standard
    /// Overrides the config's warm-up length (images); nil: the config's, at most two epochs.
    public var warmupImages: Int? = nil
    /// Stop after this many seconds of training (checked after each batch); nil: no limit.
    public var timeLimit: Double? = nil
    /// Validation images rendered with their predictions at the end.
    public var renderCount = 6
    /// Evaluate on the validation split every this many epochs (and at the last).
    public var validationInterval = 1
    /// Stop this run after this epoch (1-based) as if interrupted, keeping the schedule of
    /// `epochs`; `resume` continues from there exactly.
    public var stopAfterEpoch: Int? = nil

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
}

public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var description: String { reason }
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
                             image: try PNG.read(path: items[k].imagePath), objects: items[k].objects)
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
    var startEpoch = 0
    var bestScore: Float = -.infinity

    public init(config: ModelConfig, train: [LoadedSample], validation: [LoadedSample], options: TrainingOptions) throws {
        guard !train.isEmpty else { throw TrainingError(reason: "no training images") }
        self.config = config
        self.options = options
        self.train = train
        self.validation = validation
        self.network = try Network(config: config, seed: options.seed)
        var settings = config.loss
        settings.warmupImages = options.warmupImages ?? min(settings.warmupImages, 2 * train.count)
        self.loss = RegionLoss(settings: settings, layout: config.headLayout)
        self.optimizer = Adam(parameters: network.parameters, learningRate: options.learningRate)
    }

    var lastPath: String { options.outputFolder + "/last.safetensors" }
    var bestPath: String { options.outputFolder + "/best.safetensors" }
    var resultsPath: String { options.outputFolder + "/results.jsonl" }

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

    /// Resumes from `last.safetensors` in the output folder: weights, optimizer state, epoch.
    func restore() throws {
        let checkpoint = try Checkpoint.load(path: lastPath)
        try checkpoint.apply(to: network.parameters)
        try checkpoint.restore(into: optimizer)
        startEpoch = Int(checkpoint.training["epoch"] ?? "0") ?? 0
        imagesSeen = Int(checkpoint.training["images_seen"] ?? "0") ?? 0
        bestScore = Float(checkpoint.training["best_score"] ?? "") ?? -.infinity
        if let text = try? String(contentsOfFile: resultsPath, encoding: .utf8) {
            history = text.split(separator: "\n").compactMap { try? JSONDecoder().decode(EpochSummary.self, from: Data($0.utf8)) }
            history = history.filter { $0.epoch <= startEpoch }
        }
    }

    func save(to path: String, epoch: Int) throws {
        try Checkpoint.save(parameters: network.parameters, configJSON: config.jsonString(), optimizer: optimizer,
                            training: ["epoch": String(epoch), "images_seen": String(imagesSeen),
                                       "best_score": String(bestScore), "seed": String(options.seed)],
                            to: path)
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

    public func run(progress: (TrainingEvent) -> Void) throws -> TrainingResult {
        let started = Date()
        try FileManager.default.createDirectory(atPath: options.outputFolder, withIntermediateDirectories: true)
        let overfit = options.overfit != nil
        let samples = train
        if options.resume {
            try restore()
            progress(.message("resumed from \(lastPath) after epoch \(startEpoch) (\(imagesSeen) images seen)"))
        } else {
            try? FileManager.default.removeItem(atPath: resultsPath)
        }
        let batchSize = max(1, min(options.batchSize, samples.count))
        let batches = (samples.count + batchSize - 1) / batchSize
        let per = config.inputWidth * config.inputHeight * 3
        let input = UnsafeMutablePointer<Float>.allocate(capacity: batchSize * per)
        defer { input.deallocate() }
        var order = Array(samples.indices)
        var plateauWindows = 0
        var learningRateScale: Float = 1
        var epochsRun = 0
        var stoppedEarly = false

        epochLoop: for epoch in startEpoch..<options.epochs {
            let epochStart = Date()
            var rng = SplitMix64(seed: options.seed &+ UInt64(epoch) &* 7919)
            order = Array(samples.indices)
            order.shuffle(using: &rng)
            var sums = LossComponents()
            var stats = LossStatistics()
            var lr: Float = options.learningRate
            var imagesThisEpoch = 0
            for b in 0..<batches {
                let indices = Array(order[(b * batchSize)..<min((b + 1) * batchSize, order.count)])
                let targets = prepareBatch(indices, samples: samples, augment: !overfit && options.augmentation != .none,
                                           epoch: epoch, into: input)
                let out = network.forward(input, batch: indices.count, training: true)
                let shape = network.outputShape
                let outTensor = Tensor(shape: [indices.count, shape.height, shape.width, shape.channels],
                                       data: Array(UnsafeBufferPointer(start: out, count: indices.count * shape.count)))
                let result = loss(output: outTensor, targets: targets, imagesSeen: imagesSeen)
                guard result.total.isFinite, result.gradient.data.allSatisfy({ $0.isFinite }) else {
                    throw TrainingError(reason: "the loss became non-finite (\(result.total)) at epoch \(epoch + 1), batch \(b + 1); stopped. The last good checkpoint is \(lastPath)" )
                }
                network.zeroGradients()
                network.backward(result.gradient)
                lr = (overfit ? options.learningRate : learningRate(epoch: epoch, batch: b, batches: batches, epochs: options.epochs)) * learningRateScale
                optimizer.learningRate = lr
                optimizer.step()
                imagesSeen += indices.count
                imagesThisEpoch += indices.count
                let weight = Float(indices.count)
                sums = sums + result.components.scaled(by: weight)
                stats.averageIoU += result.statistics.averageIoU * weight
                stats.recall50 += result.statistics.recall50 * weight
                stats.averageObjectness += result.statistics.averageObjectness * weight
                stats.averageAnyObjectness += result.statistics.averageAnyObjectness * weight
                stats.averageClassProbability += result.statistics.averageClassProbability * weight
                stats.count += result.statistics.count
                let elapsed = Date().timeIntervalSince(epochStart)
                let rate = Double(imagesThisEpoch) / max(elapsed, 1e-9)
                let remainingImages = Double((options.epochs - epoch - 1) * samples.count + (samples.count - imagesThisEpoch))
                progress(.batch(epoch: epoch + 1, epochs: options.epochs, batch: b + 1, batches: batches, loss: result.total,
                                components: result.components, statistics: result.statistics,
                                imagesPerSecond: rate, etaSeconds: remainingImages / max(rate, 1e-9)))
                if let limit = options.timeLimit, Date().timeIntervalSince(started) > limit {
                    stoppedEarly = true
                }
            }
            let n = Float(imagesThisEpoch)
            var summary = EpochSummary(epoch: epoch + 1, loss: sums.total / n, components: sums.scaled(by: 1 / n),
                                       statistics: stats, learningRate: lr, mAP50: nil, mAP50to95: nil,
                                       seconds: Date().timeIntervalSince(epochStart),
                                       imagesPerSecond: Double(imagesThisEpoch) / Date().timeIntervalSince(epochStart),
                                       imagesSeen: imagesSeen)
            summary.statistics.averageIoU /= n; summary.statistics.recall50 /= n
            summary.statistics.averageObjectness /= n; summary.statistics.averageAnyObjectness /= n
            summary.statistics.averageClassProbability /= n
            let last = epoch + 1 == options.epochs || stoppedEarly
            if !validation.isEmpty && !overfit && ((epoch + 1) % options.validationInterval == 0 || last) {
                let result = try evaluate(validation)
                summary.mAP50 = result.mAP50
                summary.mAP50to95 = result.mAP50to95
            }
            history.append(summary)
            epochsRun += 1
            // Best: highest validation mAP@0.5 when there is a validation split, else lowest loss.
            let score = summary.mAP50 ?? -summary.loss
            if score > bestScore { bestScore = score; try save(to: bestPath, epoch: epoch + 1) }
            try save(to: lastPath, epoch: epoch + 1)
            try appendResult(summary)
            try? writeLossPlot()
            progress(.epoch(summary))
            if overfit, history.count >= 20, history.count % 10 == 0 {
                // Converged when the mean loss of the last 10 epochs is within 3% of the 10 before:
                // first drop the learning rate tenfold, at the second plateau stop.
                let recent = history.suffix(10).map(\.loss).reduce(0, +) / 10
                let before = history.suffix(20).prefix(10).map(\.loss).reduce(0, +) / 10
                if recent > 0.97 * before {
                    plateauWindows += 1
                    if plateauWindows >= 2 { progress(.message("loss converged after \(epoch + 1) epochs")); break epochLoop }
                    learningRateScale *= 0.1
                    progress(.message("loss plateaued: learning rate ×0.1"))
                }
            }
            if stoppedEarly { progress(.message("time limit reached after \(epoch + 1) epochs")); break }
            if let stop = options.stopAfterEpoch, epoch + 1 >= stop { break }
        }
        var result = TrainingResult(epochs: history, outputFolder: options.outputFolder,
                                    seconds: Date().timeIntervalSince(started))
        if overfit {
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

    func appendResult(_ summary: EpochSummary) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var line = try encoder.encode(summary)
        line.append(0x0A)
        var existing = (try? Data(contentsOf: URL(fileURLWithPath: resultsPath))) ?? Data()
        existing.append(line)
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
