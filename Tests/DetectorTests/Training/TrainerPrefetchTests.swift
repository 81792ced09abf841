import Foundation
import Testing
@testable import Detector

/// Batches made ahead on a background thread (`TrainingOptions.prefetch`, `BatchQueue`) are the
/// batches made in the step: the same losses epoch by epoch and the same weights to the bit,
/// with augmentation and mosaics, in overfit mode, and across a stop and resume; and every
/// producer ends with its epoch, whether it ends normally, by the time limit or by an error.
@Suite(.serialized) struct TrainerPrefetchTests {
    static func config() throws -> ModelConfig { try ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "tiny") }

    static func options(_ label: String, prefetch: Int, epochs: Int = 3, batchSize: Int = 3) throws -> TrainingOptions {
        var options = TrainingOptions()
        options.epochs = epochs
        options.batchSize = batchSize
        options.autoAnchor = false
        options.prefetch = prefetch
        options.outputFolder = try Fixtures.temporaryFolder("prefetch-\(label)-\(prefetch)").path
        return options
    }

    struct Outcome: Equatable {
        var losses: [Float]
        var components: [[Float]]
        var weights: [[Float]]
    }

    static func train(_ options: TrainingOptions, samples: [LoadedSample], validation: [LoadedSample] = []) throws -> (Outcome, Trainer) {
        let trainer = try Trainer(config: try config(), train: samples, validation: validation, options: options)
        let result = try trainer.run { _ in }
        let outcome = Outcome(losses: result.epochs.map(\.loss),
                              components: result.epochs.map { [$0.components.coordinates, $0.components.objectness,
                                                               $0.components.noObject, $0.components.classification,
                                                               $0.components.prior] },
                              weights: trainer.network.parameters.map(\.value))
        return (outcome, trainer)
    }

    /// Augmentation and mosaics on, 8 images in batches of 3 (the last one short), validation
    /// on: depth 0 (each batch made in its step), 1 and 2 give the same run to the bit, and each
    /// epoch started one producer that has ended.
    @Test func prefetchedBatchesTrainTheSameRun() throws {
        let samples = tinySamples(count: 10)
        let (train, validation) = (Array(samples.prefix(8)), Array(samples.suffix(2)))
        func run(_ prefetch: Int) throws -> (Outcome, Trainer) {
            var options = try Self.options("same", prefetch: prefetch)
            options.mosaic = true
            options.closeMosaic = 1
            return try Self.train(options, samples: train, validation: validation)
        }
        let (inStep, plain) = try run(0)
        #expect(plain.batchProducers.startedCount == 0)
        for depth in [1, 2] {
            let (ahead, trainer) = try run(depth)
            #expect(ahead.losses == inStep.losses, "depth \(depth)")
            #expect(ahead.components == inStep.components, "depth \(depth)")
            #expect(ahead.weights == inStep.weights, "depth \(depth)")
            #expect(trainer.batchProducers.startedCount == 3 && trainer.batchProducers.runningCount == 0)
        }
        #expect(inStep.losses.count == 3 && inStep.losses.allSatisfy(\.isFinite))
    }

    /// Overfit mode (no augmentation, the plateau test on the losses): the same losses epoch by
    /// epoch with and without prefetch.
    @Test func overfitLossesAreTheSameEpochByEpoch() throws {
        let samples = tinySamples(count: 4)
        func run(_ prefetch: Int) throws -> Outcome {
            var options = try Self.options("overfit", prefetch: prefetch, epochs: 6, batchSize: 2)
            options.overfitImages = 4
            return try Self.train(options, samples: samples).0
        }
        let inStep = try run(0), ahead = try run(1)
        #expect(ahead == inStep)
        #expect(inStep.losses.count == 6)
    }

    /// The batch maker's contract, from its parts: image n of a batch is the letterboxed sample,
    /// then `augment` drawing from SplitMix64(seed · 0x9E3779B9 + epoch · 1000003 + index), the
    /// labels mapped the same way; on the producer thread (serial) and on both cores alike.
    @Test func aBatchIsEachImageFromItsOwnGenerator() throws {
        var options = try Self.options("maker", prefetch: 1)
        options.seed = 77
        let samples = tinySamples(count: 5)
        let trainer = try Trainer(config: try Self.config(), train: samples, validation: [], options: options)
        let maker = trainer.batchMaker(samples: samples, augment: true)
        let indices = [4, 1, 3], epoch = 2, per = 64 * 64 * 3
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: indices.count * per)
        defer { buffer.deallocate() }
        for parallel in [false, true] {
            buffer.initialize(repeating: -1, count: indices.count * per)
            let labels = maker.make(indices, epoch: epoch, mosaics: nil, parallel: parallel, into: buffer)
            for (n, index) in indices.enumerated() {
                let (input, transform) = samples[index].networkInput(width: 64, height: 64)
                let objects = samples[index].objects.map {
                    LabeledObject(classIndex: $0.classIndex, box: transform.sourceNormalisedToNetworkNormalised($0.box))
                }
                var rng = SplitMix64(seed: 77 &* 0x9E37_79B9 &+ UInt64(epoch) &* 1_000_003 &+ UInt64(index))
                let (image, boxes) = augment(input, objects: objects, settings: .standard, rng: &rng)
                #expect(Array(UnsafeBufferPointer(start: buffer + n * per, count: per)) == image.pixels, "image \(n)")
                #expect(labels[n] == boxes, "image \(n)")
                #expect(image.pixels != input.pixels, "the augmentation did something")
            }
        }
    }

    /// A time limit stops the run after its first batch: the producer of that epoch has ended;
    /// the resumed run finishes exactly as an uninterrupted one (both with prefetch).
    @Test func aTimeLimitEndsTheProducerAndResumeIsExact() throws {
        let samples = tinySamples(count: 6)
        var options = try Self.options("limit", prefetch: 2, epochs: 2, batchSize: 2)
        let (whole, _) = try Self.train(options, samples: samples)
        options.outputFolder = try Fixtures.temporaryFolder("prefetch-limit-cut").path
        options.timeLimit = 0
        let cut = try Trainer(config: try Self.config(), train: samples, validation: [], options: options)
        let stopped = try cut.run { _ in }
        #expect(stopped.stoppedInEpoch?.epoch == 1 && stopped.stoppedInEpoch?.batch == 1)
        #expect(cut.batchProducers.startedCount == 1 && cut.batchProducers.runningCount == 0)
        options.timeLimit = nil
        options.resume = true
        let (resumed, trainer) = try Self.train(options, samples: samples)
        #expect(resumed.weights == whole.weights)
        #expect(resumed.losses.last == whole.losses.last)
        #expect(trainer.batchProducers.runningCount == 0)
    }

    /// A non-finite loss (learning rate 1e30) throws out of the epoch: its producer has ended.
    @Test func anErrorInTheStepEndsTheProducer() throws {
        var options = try Self.options("nan", prefetch: 1, epochs: 2, batchSize: 2)
        options.learningRate = 1e30
        let trainer = try Trainer(config: try Self.config(), train: tinySamples(count: 6), validation: [], options: options)
        #expect(throws: TrainingError.self) { try trainer.run { _ in } }
        #expect(trainer.batchProducers.startedCount == 1 && trainer.batchProducers.runningCount == 0)
    }
}
