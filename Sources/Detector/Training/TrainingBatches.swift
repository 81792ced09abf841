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

    /// Letterboxes (makes mosaics of, and augments) the images at `indices` into `batch`
    /// (indices.count · floatsPerImage floats, every one written); returns their labels in
    /// normalised network coordinates. `mosaics`: the epoch's schedule
    /// (`Trainer.mosaicSchedule(epoch:)`), nil for none. `parallel`: the images on every core
    /// (`concurrentPerform`), else one after the other on the calling thread; the bytes are the
    /// same either way.
    func make(_ indices: [Int], epoch: Int, mosaics: (settings: MosaicSettings, epochs: Int)?,
              parallel: Bool = true, into batch: UnsafeMutablePointer<Float>) -> [[LabeledObject]] {
        let per = floatsPerImage
        var targets = [[LabeledObject]](repeating: [], count: indices.count)
        targets.withUnsafeMutableBufferPointer { buffer in
            let out = buffer  // each image writes only its own element
            func image(_ n: Int) {
                // The one definition of a training example (`trainingExample`, which show-data uses too).
                let (input, objects) = trainingExample(indices[n], of: samples, width: width, height: height, epoch: epoch,
                                                       seed: seed, augmentation: augmentation, mosaics: mosaics)
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
