/// Multi-scale training (YOLOv2 §"Multi-Scale Training"; darknet's `random=1`, Ultralytics'
/// `multi_scale`): each batch runs at an input size drawn from multiples of the network's
/// stride around the config's size, so the detector learns objects at more scales than the
/// data set holds and becomes less tied to one grid.
///
/// This type only picks the size; running the network at it is the trainer's (a `Network` is
/// built for one input size, so each size needs a network of its own sharing the parameters).
///
/// The sizes: widths W' = k · stride for every whole k with minimumFactor · W ≤ W' ≤
/// maximumFactor · W, always including W itself; the height of each is H' = stride ·
/// round(H · W'/W / stride) (at least one stride), so the aspect ratio stays as close as the
/// stride allows. darknet draws from 320…608 around 416 (×0.77…×1.46) every 10 batches;
/// Ultralytics from ×0.5…×1.5 every batch. The default here, ×0.75…×1.25, stays near the size
/// the model is validated and exported at (a small model trained for minutes has little
/// capacity to spare for scales it will never be run at).
public struct MultiScale: Hashable, Sendable {
    public var baseWidth: Int
    public var baseHeight: Int
    /// The network's total stride (`ModelConfig.stride`): every size is a multiple of it.
    public var stride: Int
    public var minimumFactor: Float
    public var maximumFactor: Float
    /// Batches that share one size: the size changes every `interval` batches of an epoch
    /// (darknet: 10; Ultralytics: 1).
    public var interval: Int

    public init(baseWidth: Int, baseHeight: Int, stride: Int, minimumFactor: Float = 0.75, maximumFactor: Float = 1.25,
                interval: Int = 1) {
        precondition(stride > 0 && baseWidth > 0 && baseHeight > 0 && baseWidth % stride == 0 && baseHeight % stride == 0,
                     "the input \(baseWidth)x\(baseHeight) must be a positive multiple of the stride \(stride)")
        precondition(minimumFactor.isFinite && maximumFactor.isFinite && 0 < minimumFactor && minimumFactor <= 1 && 1 <= maximumFactor,
                     "multi-scale factors must satisfy 0 < minimum ≤ 1 ≤ maximum, got \(minimumFactor) and \(maximumFactor)")
        precondition(interval > 0, "the multi-scale interval must be at least 1 batch, got \(interval)")
        self.baseWidth = baseWidth; self.baseHeight = baseHeight; self.stride = stride
        self.minimumFactor = minimumFactor; self.maximumFactor = maximumFactor; self.interval = interval
    }

    /// For a config: its input size and stride.
    public init(config: ModelConfig, minimumFactor: Float = 0.75, maximumFactor: Float = 1.25, interval: Int = 1) {
        self.init(baseWidth: config.inputWidth, baseHeight: config.inputHeight, stride: config.stride,
                  minimumFactor: minimumFactor, maximumFactor: maximumFactor, interval: interval)
    }

    /// Every size a batch can get, smallest first (see the type).
    public var sizes: [(width: Int, height: Int)] {
        let lowest = max(1, Int((minimumFactor * Float(baseWidth) / Float(stride)).rounded(.up)))
        let highest = max(lowest, Int((maximumFactor * Float(baseWidth) / Float(stride)).rounded(.down)))
        var widths = Array(lowest...highest).map { $0 * stride }
        if !widths.contains(baseWidth) { widths.append(baseWidth); widths.sort() }
        return widths.map { w in
            let cells = (Float(baseHeight) * Float(w) / Float(baseWidth) / Float(stride)).rounded()
            return (w, max(1, Int(cells)) * stride)
        }
    }

    /// The size of batch `batch` (0-based) of epoch `epoch` (0-based) in a run with `seed`:
    /// uniform over `sizes`, the same for the same (seed, epoch, batch / interval) on every run
    /// and machine, and independent of every other random stream of the run (it is not drawn
    /// from one: a resumed run, or one with other augmentation, gets the same sizes).
    public func size(seed: UInt64, epoch: Int, batch: Int) -> (width: Int, height: Int) {
        let all = sizes
        // Three chained SplitMix64 outputs: seed, then epoch, then the batch block mixed in.
        var a = SplitMix64(seed: seed ^ 0x6D75_6C74_6973_6361)   // "multisca"
        var b = SplitMix64(seed: a.next() ^ UInt64(truncatingIfNeeded: epoch))
        var c = SplitMix64(seed: b.next() ^ UInt64(truncatingIfNeeded: batch / interval))
        return all[min(Int(c.nextUnitFloat() * Float(all.count)), all.count - 1)]
    }
}
