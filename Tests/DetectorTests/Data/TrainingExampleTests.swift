import Foundation
import Testing
@testable import Detector

/// `trainingExample`: what a training batch holds for one image, and what show-data draws.
@Suite struct TrainingExampleTests {
    /// 320 x 240 samples (so the letterbox pads top and bottom) with two boxes each.
    static func samples() -> [LoadedSample] {
        (0..<3).map { k in
            var rng = SplitMix64(seed: UInt64(k))
            let image = Image(width: 320, height: 240, pixels: (0..<(320 * 240 * 3)).map { _ in UInt8(rng.next() % 256) })
            return LoadedSample(name: "s\(k)", image: image, objects: [
                LabeledObject(classIndex: 0, box: BoundingBox(centerX: 0.5, centerY: 0.5, width: 0.25, height: 0.5)),
                LabeledObject(classIndex: 2, box: BoundingBox(x1: 0, y1: 0.1, x2: 0.2, y2: 0.3)),
            ])
        }
    }

    /// The seed formula by hand: 1 · 0x9E3779B9 + 3 · 1000003 + 2 = 2657435780.
    @Test func seedOfAnImageInAnEpoch() {
        #expect(trainingExampleSeed(runSeed: 1, epoch: 3, index: 2) == 2_657_435_780)
        #expect(trainingExampleSeed(runSeed: 0, epoch: 0, index: 5) == 5)
        // Wrapping, not trapping, for any seed.
        #expect(trainingExampleSeed(runSeed: .max, epoch: 1, index: 0) == UInt64.max &* 0x9E37_79B9 &+ 1_000_003)
    }

    /// Without augmentation: the letterbox of the picture and the labels mapped by hand. A 320 x 240
    /// image in 64 x 64 is scaled by 0.2 and shifted down by (64 − 48) / 2 = 8 pixels, so a
    /// normalised y becomes (240 y · 0.2 + 8) / 64 = 0.75 y + 0.125 and x stays.
    @Test func withoutAugmentationItIsTheLetterbox() {
        let samples = Self.samples()
        let (input, objects) = trainingExample(1, of: samples, width: 64, height: 64, epoch: 4, seed: 9, augmentation: nil)
        #expect(input.pixels == letterbox(samples[1].image, width: 64, height: 64).image.pixels)
        #expect(objects.map(\.classIndex) == [0, 2])
        let b = objects[0].box, c = objects[1].box
        #expect(abs(b.x1 - 0.375) < 1e-6 && abs(b.x2 - 0.625) < 1e-6 && abs(b.y1 - 0.3125) < 1e-6 && abs(b.y2 - 0.6875) < 1e-6)
        #expect(abs(c.x1 - 0) < 1e-6 && abs(c.x2 - 0.2) < 1e-6 && abs(c.y1 - 0.2) < 1e-6 && abs(c.y2 - 0.35) < 1e-6)
    }

    /// With augmentation: `augment` of the letterboxed sample from the generator seeded
    /// `trainingExampleSeed`, so the same (seed, epoch, image) gives the same bytes and another
    /// epoch other ones.
    @Test func augmentationDrawsFromTheImagesOwnGenerator() {
        let samples = Self.samples()
        let (input, objects) = trainingExample(2, of: samples, width: 64, height: 64, epoch: 3, seed: 1, augmentation: .standard)
        var rng = SplitMix64(seed: 2_657_435_780)
        let letterboxed = samples[2].letterboxed(width: 64, height: 64)
        let expected = augment(letterboxed.input, objects: letterboxed.objects, settings: .standard, rng: &rng)
        #expect(input.pixels.map(\.bitPattern) == expected.0.pixels.map(\.bitPattern) && objects == expected.1)
        let again = trainingExample(2, of: samples, width: 64, height: 64, epoch: 3, seed: 1, augmentation: .standard)
        #expect(again.input.pixels == input.pixels && again.objects == objects)
        let otherEpoch = trainingExample(2, of: samples, width: 64, height: 64, epoch: 4, seed: 1, augmentation: .standard)
        #expect(otherEpoch.input.pixels != input.pixels)
    }

    /// The trainer's batch holds exactly these examples (what show-data draws for epoch 0).
    @Test func trainingBatchesAreTheseExamples() throws {
        let samples = Self.samples()
        let config = try ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "tiny")
        var options = TrainingOptions()
        options.outputFolder = try Fixtures.temporaryFolder("examples").path
        let trainer = try Trainer(config: config, train: samples, validation: [], options: options)
        let per = 64 * 64 * 3
        let batch = UnsafeMutablePointer<Float>.allocate(capacity: 3 * per)
        defer { batch.deallocate() }
        let targets = trainer.prepareBatch([2, 0, 1], samples: samples, augment: true, epoch: 0, into: batch)
        for (n, index) in [2, 0, 1].enumerated() {
            let example = trainingExample(index, of: samples, width: 64, height: 64, epoch: 0, seed: options.seed,
                                          augmentation: options.augmentation)
            #expect(targets[n] == example.objects)
            #expect((0..<per).allSatisfy { batch[n * per + $0].bitPattern == example.input.pixels[$0].bitPattern })
        }
    }
}
