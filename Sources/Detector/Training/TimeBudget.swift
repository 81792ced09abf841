import Foundation

/// The learning rate over a run (overfit mode's is constant, but for its plateau drops).
enum LearningRateSchedule {
    /// By epochs (the default): a linear warm-up over the first epoch's batches,
    /// lr = base · (b + 1) / batches, then a cosine from `base` down to `floor` · base at the last
    /// epoch, constant within an epoch: lr = base · (floor + (1 − floor) · ½ (1 + cos(π e / (E − 1)))).
    static func byEpoch(base: Float, floor: Float, epoch: Int, batch: Int, batches: Int, epochs: Int) -> Float {
        if epoch == 0 && batches > 1 {
            return base * Float(batch + 1) / Float(batches)
        }
        let progress = Float(epoch) / Float(max(epochs - 1, 1))
        return base * (floor + (1 - floor) * 0.5 * (1 + cos(Float.pi * progress)))
    }

    /// The share of a time budget the warm-up lasts at most.
    static let warmUpShare = 0.03

    /// By time (`TrainingOptions.timeBudget`): the same cosine over progress p ∈ [0, 1], the time
    /// trained over the time planned (`TimeBudget.horizon`), per batch, times a linear warm-up in
    /// the first epoch that ends with that epoch or at 3% of the plan, whichever comes first:
    /// lr = base · w · (floor + (1 − floor) · ½ (1 + cos(π p))), w = min(1, max((b + 1) / batches, p / 0.03)).
    static func byTime(base: Float, floor: Float, progress: Double, epoch: Int, batch: Int, batches: Int) -> Float {
        let p = Float(min(1, max(0, progress)))
        var warm: Float = 1
        if epoch == 0 && batches > 1 {
            warm = min(1, max(Float(batch + 1) / Float(batches), Float(progress / warmUpShare)))
        }
        return base * warm * (floor + (1 - floor) * 0.5 * (1 + cos(Float.pi * p)))
    }
}

/// The time a run has spent in its epochs, over all its sessions (stored in checkpoints), and,
/// with a budget (`TrainingOptions.timeBudget`, `--time`), the plan that fits the epochs to it.
///
/// An epoch's time is its batches plus its end: validation, results.jsonl, the checkpoints and
/// the plot. Loading the data and the renders after the last epoch are not counted.
///
/// The plan, re-made after every batch from what has been measured (the mean batch, the mean
/// end of an epoch): as many whole epochs as fit in what is left of the budget, then one more cut
/// short if at least one batch and an end still fit; a cut epoch stops after the batch after
/// which another batch and the end would not fit, so the run ends by the budget when the
/// estimates hold, and overruns it by at most one batch and one end when they do not (an epoch
/// slower than the ones before). Before any epoch has ended, the end is estimated as the
/// validation images at half the training speed (inference, without the backward pass, takes
/// about a third of a training step).
/// A cap on the epochs (`TrainingOptions.epochs`) shortens the plan when it ends first.
struct TimeBudget: Equatable {
    /// The budget in seconds; nil: none (the time is still kept, for a later --time resume).
    var seconds: Double?
    /// Epochs measured, their batches, and the time in both parts.
    var epochs = 0
    var batches = 0
    var trainingSeconds: Double = 0
    var endSeconds: Double = 0

    init(seconds: Double?) { self.seconds = seconds }

    var spent: Double { trainingSeconds + endSeconds }
    var meanBatch: Double? { batches > 0 ? trainingSeconds / Double(batches) : nil }
    var meanEnd: Double? { epochs > 0 ? endSeconds / Double(epochs) : nil }

    mutating func record(batches: Int, trainingSeconds: Double, endSeconds: Double) {
        epochs += 1
        self.batches += batches
        self.trainingSeconds += trainingSeconds
        self.endSeconds += endSeconds
    }

    /// What the plan assumes: one batch, one end of an epoch, one whole epoch of `batchesPerEpoch`.
    struct Estimates: Equatable {
        var batch: Double
        var end: Double
        var epoch: Double
        init(batch: Double, end: Double, batchesPerEpoch: Int) {
            self.batch = batch; self.end = end; epoch = Double(batchesPerEpoch) * batch + end
        }
    }

    /// Whether one more batch and the end of its epoch fit in the budget after `elapsed` seconds.
    func fits(elapsed: Double, _ estimates: Estimates) -> Bool {
        guard let seconds else { return true }
        return elapsed + estimates.batch + estimates.end <= seconds
    }

    /// The epochs the run will have trained in all when the plan is done: the `done` complete
    /// after `elapsed` seconds, then the whole ones that fit in the rest, then one cut short if
    /// a batch and an end fit after them; at most `cap`. Without a budget, `cap`.
    func plannedEpochs(done: Int, elapsed: Double, _ estimates: Estimates, cap: Int) -> Int {
        guard let seconds, done < cap else { return max(done, cap) }
        let left = seconds - elapsed
        guard estimates.epoch > 0 else { return cap }
        let whole = min(Double(cap - done), max(0, (left / estimates.epoch).rounded(.down)))
        var planned = done + Int(whole)
        if planned < cap && left - whole * estimates.epoch >= estimates.batch + estimates.end { planned += 1 }
        return planned
    }

    /// When the plan ends, in seconds of training: the budget, or earlier when `cap` epochs end
    /// first (`done` complete after `elapsed` seconds, each further one `estimates.epoch`).
    func horizon(done: Int, elapsed: Double, _ estimates: Estimates, cap: Int) -> Double? {
        guard let seconds else { return nil }
        return min(seconds, elapsed + Double(max(0, cap - done)) * estimates.epoch)
    }

    /// Exact text for a checkpoint: the counts, then each time's bit pattern in hex.
    var encoded: String {
        [String(epochs), String(batches), String(trainingSeconds.bitPattern, radix: 16), String(endSeconds.bitPattern, radix: 16)]
            .joined(separator: " ")
    }

    /// The time kept in `encoded`, with the budget `seconds`.
    init?(encoded: String, seconds: Double?) {
        let fields = encoded.split(separator: " ")
        guard fields.count == 4, let epochs = Int(fields[0]), let batches = Int(fields[1]),
              let training = UInt64(fields[2], radix: 16), let end = UInt64(fields[3], radix: 16) else { return nil }
        self.init(seconds: seconds)
        self.epochs = epochs; self.batches = batches
        trainingSeconds = Double(bitPattern: training); endSeconds = Double(bitPattern: end)
        guard trainingSeconds.isFinite, endSeconds.isFinite, trainingSeconds >= 0, endSeconds >= 0, epochs >= 0, batches >= 0 else { return nil }
    }
}
