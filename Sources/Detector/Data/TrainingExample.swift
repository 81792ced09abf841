/// What training feeds the network for one image, and the one place that composes it:
///
///     letterbox → labels into network coordinates → mosaic (when on) → augmentation (when on)
///
/// The trainer's batches and `train-detector show-data` both call `trainingExample`, so what
/// show-data draws is what training sees, to the bit.

/// The seed of training image `index`'s random draws (mosaic, then augmentation) in epoch
/// `epoch` (0-based) of a run seeded `runSeed`: runSeed · 0x9E3779B9 + epoch · 1000003 + index
/// (wrapping). One generator per (seed, epoch, image), so the same run gives the same batches
/// whatever order and thread prepare them.
public func trainingExampleSeed(runSeed: UInt64, epoch: Int, index: Int) -> UInt64 {
    runSeed &* 0x9E37_79B9 &+ UInt64(epoch) &* 1_000_003 &+ UInt64(index)
}

extension LoadedSample {
    /// The letterboxed `width` x `height` network input (`networkInput`) and the labels in
    /// normalised network-input coordinates (`LetterboxTransform.sourceNormalisedToNetworkNormalised`).
    public func letterboxed(width: Int, height: Int) -> (input: FloatImage, objects: [LabeledObject]) {
        let (input, transform) = networkInput(width: width, height: height)
        return (input, objects.map {
            LabeledObject(classIndex: $0.classIndex, box: transform.sourceNormalisedToNetworkNormalised($0.box))
        })
    }
}

/// Training image `index` of `samples` as a `width` x `height` network input with its labels
/// (normalised to the input), in epoch `epoch` of a run seeded `seed`: the letterboxed sample
/// (`LoadedSample.letterboxed`); then, from one generator seeded `trainingExampleSeed`, a mosaic
/// with three partners of `samples` (`mosaicPartners`, `mosaic`) when `mosaics` is given and
/// `isApplied` for this epoch and image, and `augment` with `augmentation` when that is not nil.
/// The mosaic draws first, and only when its schedule is on in the epoch, so a run without
/// mosaics keeps augmentation's numbers; without either nothing is drawn.
public func trainingExample(_ index: Int, of samples: [LoadedSample], width: Int, height: Int, epoch: Int, seed: UInt64,
                            augmentation: AugmentationSettings?,
                            mosaics: (settings: MosaicSettings, epochs: Int)? = nil) -> (input: FloatImage, objects: [LabeledObject]) {
    var (input, objects) = samples[index].letterboxed(width: width, height: height)
    guard augmentation != nil || mosaics != nil else { return (input, objects) }
    var rng = SplitMix64(seed: trainingExampleSeed(runSeed: seed, epoch: epoch, index: index))
    if let mosaics, mosaics.settings.isApplied(epoch: epoch, epochs: mosaics.epochs, rng: &rng) {
        let partners = mosaicPartners(of: index, count: samples.count, rng: &rng).map {
            samples[$0].letterboxed(width: width, height: height)
        }
        (input, objects) = mosaic([input] + partners.map(\.input), objects: [objects] + partners.map(\.objects),
                                  settings: mosaics.settings, rng: &rng)
    }
    if let augmentation {
        (input, objects) = augment(input, objects: objects, settings: augmentation, rng: &rng)
    }
    return (input, objects)
}
