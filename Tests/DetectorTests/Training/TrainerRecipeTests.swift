import Foundation
import Testing
@testable import Detector

/// The training-recipe options wired into the trainer (`TrainingOptions.ema`, `weightDecay`,
/// `mosaic`, `closeMosaic`): the moving average is what validation and best.safetensors use,
/// resuming with them is exact, mosaic batches are deterministic with valid labels, weight
/// decay touches kernels only, and with the options off (or never in effect) training is
/// what it was.
@Suite(.serialized) struct TrainerRecipeTests {
    static func config() throws -> ModelConfig { try ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "tiny") }

    static func options(_ label: String, epochs: Int = 3, batchSize: Int = 2) throws -> TrainingOptions {
        var options = TrainingOptions()
        options.epochs = epochs
        options.batchSize = batchSize
        options.autoAnchor = false
        options.outputFolder = try Fixtures.temporaryFolder(label).path
        return options
    }

    /// Every epoch whose best.safetensors was written: its weights are the moving average that
    /// last.safetensors of that epoch holds (ema.*), it holds no average of its own, and the
    /// validation mAP of that epoch is the average's (measured again from best.safetensors).
    @Test func bestAndValidationUseTheMovingAverage() throws {
        let samples = tinySamples(count: 6)
        let (train, validation) = (Array(samples.prefix(4)), Array(samples.suffix(2)))
        var options = try Self.options("ema-best")
        options.ema = true
        let trainer = try Trainer(config: try Self.config(), train: train, validation: validation, options: options)
        let bestPath = options.outputFolder + "/best.safetensors"
        var compared: [Int] = []
        var failure: String? = nil
        let result = try trainer.run { event in
            guard case let .checkpoint(path, epoch, 0) = event else { return }
            do {
                let last = try Checkpoint.load(path: path)
                let best = try Checkpoint.load(path: bestPath)
                #expect(last.emaUpdates == 2 * epoch, "2 steps an epoch")
                #expect(last.training["weights"] == nil)
                guard best.training["epoch"] == String(epoch) else { return }
                compared.append(epoch)
                #expect(best.parameters == last.emaValues, "epoch \(epoch)")
                #expect(best.parameters != last.parameters, "the average is not the live weights")
                #expect(best.training["weights"] == "ema" && best.emaUpdates == nil && best.emaValues.isEmpty)
            } catch { failure = "\(error)" }
        }
        #expect(failure == nil, "\(failure ?? "")")
        #expect(compared.contains(1))
        let bestEpoch = try #require(compared.last)
        let measured = try evaluateModel(try loadNetwork(path: bestPath), on: validation)
        #expect(result.epochs[bestEpoch - 1].mAP50 == measured.mAP50)
        #expect(result.epochs[bestEpoch - 1].mAP50to95 == measured.mAP50to95)
        // After the run the model holds the live weights again.
        let ema = try #require(trainer.ema)
        #expect(!ema.isSwapped)
        let last = try Checkpoint.load(path: trainer.lastPath)
        for p in trainer.network.parameters { #expect(last.parameters[p.name] == p.value, "\(p.name)") }
    }

    /// The moving average, a mosaic schedule that closes before the first epoch and a weight
    /// decay of 0 leave training exactly as it is without them: the same live weights to the bit.
    @Test func optionsNotInEffectChangeNothing() throws {
        let config = try Self.config()
        let samples = tinySamples(count: 3)
        func train(_ change: (inout TrainingOptions) -> Void) throws -> [[Float]] {
            var options = try Self.options("recipe-off", epochs: 2)
            change(&options)
            let trainer = try Trainer(config: config, train: samples, validation: [], options: options)
            _ = try trainer.run { _ in }
            return trainer.network.parameters.map(\.value)
        }
        let plain = try train { _ in }
        let quiet = try train { $0.ema = true; $0.mosaic = true; $0.closeMosaic = 2; $0.weightDecay = 0 }
        #expect(largestDifference(plain, quiet) == 0)
        let mosaics = try train { $0.mosaic = true; $0.closeMosaic = 0 }
        #expect(largestDifference(plain, mosaics) > 0)
    }

    /// A run with the moving average, mosaics and weight decay stopped after epoch 2 and resumed
    /// ends with the weights, Adam's moments and the average of the uninterrupted run, bit for bit.
    @Test func resumeWithTheRecipeIsExact() throws {
        let config = try Self.config()
        let samples = tinySamples(count: 3)
        let validation = tinySamples(count: 5).suffix(2).map { $0 }
        var options = try Self.options("recipe-straight", epochs: 4)
        options.ema = true
        options.mosaic = true   // off in the last epoch (a tenth of 4, at least 1)
        options.weightDecay = 0.05
        let straight = try Trainer(config: config, train: samples, validation: validation, options: options)
        _ = try straight.run { _ in }
        options.outputFolder = try Fixtures.temporaryFolder("recipe-resume").path
        options.stopAfterEpoch = 2
        let interrupted = try Trainer(config: config, train: samples, validation: validation, options: options)
        _ = try interrupted.run { _ in }
        #expect(try Checkpoint.load(path: interrupted.lastPath).emaUpdates == 4)
        options.stopAfterEpoch = nil
        options.resume = true
        let resumed = try Trainer(config: config, train: samples, validation: validation, options: options)
        var messages: [String] = []
        _ = try resumed.run { if case let .message(text) = $0 { messages.append(text) } }
        #expect(!messages.contains { $0.contains("warning") || $0.contains("note") }, "\(messages)")
        #expect(largestDifference(resumed.network.parameters.map(\.value), straight.network.parameters.map(\.value)) == 0)
        let (a, b) = (try #require(resumed.ema), try #require(straight.ema))
        #expect(a.updates == b.updates && a.averages == b.averages)
        #expect(resumed.optimizer.firstMoments == straight.optimizer.firstMoments)
        #expect(resumed.optimizer.secondMoments == straight.optimizer.secondMoments)
        let bests = try [resumed, straight].map { try Checkpoint.load(path: $0.bestPath) }
        #expect(bests[0].parameters == bests[1].parameters && bests[0].training["epoch"] == bests[1].training["epoch"])
        let lines = try [resumed, straight].map { try String(contentsOfFile: $0.resultsPath, encoding: .utf8).split(separator: "\n") }
        #expect(lines[0].count == 4)
        // The same losses and mAPs (the lines differ in their times only).
        let summaries = try lines.map { try $0.map { try JSONDecoder().decode(EpochSummary.self, from: Data($0.utf8)) } }
        #expect(summaries[0].map(\.loss) == summaries[1].map(\.loss) && summaries[0].map(\.mAP50) == summaries[1].map(\.mAP50))
    }

    /// Resuming a run trained without the average, with it, starts the average from the
    /// checkpoint's weights (and says so); the opposite drops the checkpoint's average.
    @Test func resumeSwitchingTheAverageOnOrOff() throws {
        let config = try Self.config()
        let samples = tinySamples(count: 3)
        var options = try Self.options("ema-switch", epochs: 3)
        options.stopAfterEpoch = 1
        _ = try Trainer(config: config, train: samples, validation: [], options: options).run { _ in }
        options.stopAfterEpoch = 2
        options.resume = true
        options.ema = true
        let on = try Trainer(config: config, train: samples, validation: [], options: options)
        var messages: [String] = []
        _ = try on.run { if case let .message(text) = $0 { messages.append(text) } }
        #expect(messages.contains { $0.contains("holds no moving average") }, "\(messages)")
        #expect(messages.contains { $0.contains("moving average off → decay") }, "\(messages)")
        #expect(try Checkpoint.load(path: on.lastPath).emaUpdates == 2, "updated in epoch 2 only")
        options.stopAfterEpoch = nil
        options.ema = false
        let off = try Trainer(config: config, train: samples, validation: [], options: options)
        messages = []
        _ = try off.run { if case let .message(text) = $0 { messages.append(text) } }
        #expect(messages.contains { $0.contains("holds a moving average of the weights; this run trains without one") }, "\(messages)")
        let offCheckpoint = try Checkpoint.load(path: off.lastPath)
        #expect(off.ema == nil && offCheckpoint.emaUpdates == nil)
    }

    /// With a time budget the average is scaled to the plan after the first batch; the
    /// checkpoint stores its settings and holds its state.
    @Test func theAverageWithATimeBudget() throws {
        var options = try Self.options("ema-time", epochs: 1_000)
        options.ema = true
        options.timeBudget = 2
        let trainer = try Trainer(config: try Self.config(), train: tinySamples(count: 3), validation: [], options: options)
        #expect(trainer.ema == nil)
        _ = try trainer.run { _ in }
        let ema = try #require(trainer.ema)
        let checkpoint = try Checkpoint.load(path: trainer.lastPath)
        let stored = try #require(checkpoint.training["ema"].flatMap(Trainer.emaSettings))
        #expect(stored.decay == ema.decay && stored.rampUpdates == ema.rampUpdates)
        #expect(checkpoint.emaUpdates == ema.updates && ema.updates == trainer.optimizer.stepCount - 1, "from the first batch's weights on")
        #expect(ema.decay > 0 && ema.decay < 1)
    }

    /// One step with AdamW's decay against one without, from the same weights and batch: kernels
    /// differ by exactly the shrink −lr·λ·θ₀ (to rounding); every other parameter (biases,
    /// batch norm's scale and shift, running statistics) is the same to the bit.
    @Test func weightDecayChangesOnlyKernels() throws {
        let config = try Self.config()
        let samples = tinySamples(count: 4)
        var options = try Self.options("decay", epochs: 1, batchSize: 4)
        let initial = try Trainer(config: config, train: samples, validation: [], options: options).network.parameters.map(\.value)
        func step(_ decay: Float) throws -> [Parameter] {
            options.weightDecay = decay
            options.outputFolder = try Fixtures.temporaryFolder("decay").path
            let trainer = try Trainer(config: config, train: samples, validation: [], options: options)
            _ = try trainer.run { _ in }
            #expect(trainer.optimizer.stepCount == 1)
            return trainer.network.parameters
        }
        let (plain, decayed) = (try step(0), try step(0.5))
        let shrink = options.learningRate * 0.5
        var kernels = 0
        for (k, (a, b)) in zip(plain, decayed).enumerated() {
            if a.name.hasSuffix(".weight") {
                kernels += 1
                #expect(a.value != b.value, "\(a.name)")
                for i in a.value.indices {
                    #expect(abs((b.value[i] - a.value[i]) + shrink * initial[k][i]) <= 1e-6, "\(a.name)[\(i)]")
                }
            } else {
                #expect(a.value == b.value, "\(a.name)")
            }
        }
        #expect(kernels == 8, "conv, 3 x (depthwise + pointwise), head")
    }

    /// Mosaic batches: the same on every call, values in [0, 1], labels valid (class in range,
    /// inside the image, at least 2 px a side), not the plain batch, and the plain batch again in
    /// the epochs after the close.
    @Test func mosaicBatchesAreDeterministicWithValidLabels() throws {
        var options = try Self.options("mosaic", epochs: 10, batchSize: 4)
        options.mosaic = true
        let samples = tinySamples(count: 8)
        let trainer = try Trainer(config: try Self.config(), train: samples, validation: [], options: options)
        let per = 64 * 64 * 3
        let indices = [5, 0, 7, 2]
        func batch(epoch: Int, mosaics: Bool) -> ([Float], [[LabeledObject]]) {
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: indices.count * per)
            defer { buffer.deallocate() }
            let labels = trainer.prepareBatch(indices, samples: trainer.train, augment: true, epoch: epoch,
                                              mosaics: mosaics ? trainer.mosaicSchedule(epoch: epoch) : nil, into: buffer)
            return (Array(UnsafeBufferPointer(start: buffer, count: indices.count * per)), labels)
        }
        #expect(trainer.mosaicSchedule(epoch: 8)?.settings.isActive(epoch: 8, epochs: 10) == true)
        #expect(trainer.mosaicSchedule(epoch: 9)?.settings.isActive(epoch: 9, epochs: 10) == false, "the last tenth closed")
        for epoch in [0, 3] {
            let (pixels, labels) = batch(epoch: epoch, mosaics: true)
            let again = batch(epoch: epoch, mosaics: true)
            #expect(pixels == again.0 && labels == again.1)
            #expect(pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
            let plain = batch(epoch: epoch, mosaics: false)
            #expect(pixels != plain.0)
            for object in labels.joined() {
                let b = object.box
                #expect((0..<3).contains(object.classIndex))
                #expect(b.x1 >= 0 && b.y1 >= 0 && b.x2 <= 1 && b.y2 <= 1 && b.width * 64 >= 2 && b.height * 64 >= 2, "\(b)")
            }
        }
        // Mosaics hold more boxes than the plain images (four images' worth, cut).
        let counts = (0..<4).map { batch(epoch: $0, mosaics: true).1.joined().count }
        let plainCounts = (0..<4).map { batch(epoch: $0, mosaics: false).1.joined().count }
        #expect(counts.reduce(0, +) > plainCounts.reduce(0, +))
        let closed = batch(epoch: 9, mosaics: true), plainClosed = batch(epoch: 9, mosaics: false)
        #expect(closed.0 == plainClosed.0 && closed.1 == plainClosed.1)
        // Overfit mode never makes mosaics.
        options.overfitImages = 8
        let overfit = try Trainer(config: try Self.config(), train: samples, validation: [], options: options)
        #expect(overfit.mosaicSchedule(epoch: 0) == nil && !overfit.usesEMA)
    }
}
