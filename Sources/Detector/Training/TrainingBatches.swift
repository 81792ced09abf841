import Foundation

/// What a training batch is made of, as a value that a background thread can hold: the
/// samples, the network input size, the augmentation and the seed. `make` is a pure function
/// of (indices, epoch, mosaic schedule): every image draws from its own generator seeded by
/// (seed, epoch, image index), so a batch is the same bytes whichever thread makes it, in
/// whatever order and at whatever time (`BatchQueue` makes them ahead of the step).
struct TrainingBatchMaker: Sendable {
    let samples: [LoadedSample]
    let width: Int
    let height: Int
    /// nil: no augmentation (overfit mode, or `.none`).
    let augmentation: AugmentationSettings?
    let seed: UInt64

    /// Floats of one image's network input (H · W · 3).
    var floatsPerImage: Int { width * height * 3 }

    /// The generator of image `index` in epoch `epoch`: seed · 0x9E3779B9 + epoch · 1000003 + index
    /// (wrapping), SplitMix64's stream from there.
    func generator(epoch: Int, image index: Int) -> SplitMix64 {
        SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(epoch) &* 1_000_003 &+ UInt64(index))
    }

    /// The network input of sample `index` and its labels in network coordinates.
    func letterboxed(_ index: Int) -> (FloatImage, [LabeledObject]) {
        let sample = samples[index]
        let (input, transform) = sample.networkInput(width: width, height: height)
        return (input, sample.objects.map {
            LabeledObject(classIndex: $0.classIndex, box: transform.sourceNormalisedToNetworkNormalised($0.box))
        })
    }

    /// Letterboxes (makes mosaics of, and augments) the images at `indices` into `batch`
    /// (indices.count · floatsPerImage floats, every one written); returns their labels in
    /// normalised network coordinates. `mosaics`: the epoch's schedule
    /// (`Trainer.mosaicSchedule(epoch:)`), nil for none. `parallel`: the images on both cores
    /// (`concurrentPerform`), else one after the other on the calling thread; the bytes are the
    /// same either way.
    func make(_ indices: [Int], epoch: Int, mosaics: (settings: MosaicSettings, epochs: Int)?,
              parallel: Bool = true, into batch: UnsafeMutablePointer<Float>) -> [[LabeledObject]] {
        let per = floatsPerImage
        var targets = [[LabeledObject]](repeating: [], count: indices.count)
        targets.withUnsafeMutableBufferPointer { buffer in
            let out = buffer  // each image writes only its own element
            func image(_ n: Int) {
                var (input, objects) = letterboxed(indices[n])
                if augmentation != nil || mosaics != nil {
                    // The mosaic draws first, and only when on (`isApplied` draws nothing in the
                    // epochs without mosaics), so a run without them keeps augment's numbers.
                    var rng = generator(epoch: epoch, image: indices[n])
                    if let mosaics, mosaics.settings.isApplied(epoch: epoch, epochs: mosaics.epochs, rng: &rng) {
                        let partners = mosaicPartners(of: indices[n], count: samples.count, rng: &rng).map(letterboxed)
                        (input, objects) = mosaic([input] + partners.map(\.0), objects: [objects] + partners.map(\.1),
                                                  settings: mosaics.settings, rng: &rng)
                    }
                    if let augmentation {
                        (input, objects) = augment(input, objects: objects, settings: augmentation, rng: &rng)
                    }
                }
                input.pixels.withUnsafeBufferPointer { (batch + n * per).update(from: $0.baseAddress!, count: per) }
                out[n] = objects
            }
            if parallel {
                DispatchQueue.concurrentPerform(iterations: indices.count, execute: image)
            } else {
                for n in 0..<indices.count { image(n) }
            }
        }
        return targets
    }
}
