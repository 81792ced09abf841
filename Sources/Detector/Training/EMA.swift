import Foundation

/// An exponential moving average of a model's weights (Polyak averaging; YOLOv5's and
/// Ultralytics' `ModelEMA`), used instead of the live weights for validation,
/// best.safetensors and export:
///
///     d(n) = decay · (1 − e^{−n/τ})        θ̄ ← d(n) · θ̄ + (1 − d(n)) · θ        after step n = 1, 2, ...
///
/// θ̄ starts at the weights it is made from. The ramp d(n) makes the first updates follow the
/// weights almost exactly (d(1) ≈ decay/τ), so the average does not remember the random
/// initialisation; after a few τ it averages over about 1/(1 − decay) steps.
///
/// Every parameter is averaged, the non-trainable ones included: batch norm's running mean and
/// variance are `Parameter`s with `trainable == false` (`layers.N.bn.running_mean`,
/// `.running_var`), and Ultralytics averages every floating-point tensor of the state dict,
/// buffers included, so the averaged weights come with statistics of the same period (a
/// running variance stays non-negative: a convex combination of non-negative values).
///
/// `swap()` exchanges the averaged and the live values in place (an exchange of array
/// storage: exact, and twice is the identity); `withAveragedWeights` runs a closure with the
/// average in the model and the live weights back afterwards. In a checkpoint the state
/// (`state`) is the tensors `ema.<name>` and the count `ema.updates`.
public final class ExponentialMovingAverage {
    /// The model's parameters, by reference: `update()` reads them, `swap()` writes them.
    public let parameters: [Parameter]
    /// The decay the ramp approaches (YOLOv5: 0.9999 for runs of ~500k steps).
    public let decay: Float
    /// The ramp's time constant τ in updates (YOLOv5: 2000).
    public let rampUpdates: Float
    /// Updates made (optimizer steps seen).
    public private(set) var updates = 0
    /// The averaged values θ̄, by parameter name (the live values while `isSwapped`).
    public private(set) var averages: [String: [Float]]
    /// True between a `swap()` and the next: the model holds the average.
    public private(set) var isSwapped = false

    /// The decay and τ for a run (`ExponentialMovingAverage(parameters:settings:)`).
    public struct Settings: Hashable, Sendable {
        public var decay: Float
        public var rampUpdates: Float
        public init(decay: Float, rampUpdates: Float) { self.decay = decay; self.rampUpdates = rampUpdates }

        /// YOLOv5's (decay 0.9999, τ 2000), made for ~300 epochs of COCO (≈ 550,000 steps): an
        /// average over ~10,000 steps, 1.8% of the run. On a run of a few thousand steps it
        /// would still hold the first epochs' weights at the end.
        public static let yolov5 = Settings(decay: 0.9999, rampUpdates: 2000)

        /// Settings scaled to a run: an average over W = max(steps per epoch, total steps / 50)
        /// updates (YOLOv5's proportion of the run, ~2%, but never less than one pass over the
        /// data, so every image is in the average), decay = 1 − 1/W, and τ = W/5 (YOLOv5's
        /// ratio 2000 : 10,000). `make model` (2000 images, batch 16, 40 epochs: 125 × 40 =
        /// 5000 steps) gets W = 125, decay 0.992, τ 25; overfit mode on 20 images (2 steps an
        /// epoch, up to 300 epochs) W = 12, decay ≈ 0.917, τ 2.4.
        public static func scaled(stepsPerEpoch: Int, epochs: Int) -> Settings {
            let total = max(1, stepsPerEpoch) * max(1, epochs)
            let window = max(Float(max(1, stepsPerEpoch)), Float(total) / 50, 1)
            return Settings(decay: 1 - 1 / window, rampUpdates: max(window / 5, 1))
        }
    }

    /// `decay` in [0, 1) and `rampUpdates` > 0 (both finite); the average starts at the
    /// parameters' current values.
    public init(parameters: [Parameter], decay: Float, rampUpdates: Float) {
        precondition(decay.isFinite && (0..<1).contains(decay), "an EMA decay must be in [0, 1), got \(decay)")
        precondition(rampUpdates.isFinite && rampUpdates > 0, "an EMA ramp must be a positive number of updates, got \(rampUpdates)")
        precondition(Set(parameters.map(\.name)).count == parameters.count, "parameter names must be unique")
        self.parameters = parameters
        self.decay = decay
        self.rampUpdates = rampUpdates
        var averages: [String: [Float]] = [:]
        for p in parameters { averages[p.name] = p.value }
        self.averages = averages
    }

    public convenience init(parameters: [Parameter], settings: Settings) {
        self.init(parameters: parameters, decay: settings.decay, rampUpdates: settings.rampUpdates)
    }

    /// d(n) = decay · (1 − e^{−n/τ}): 0 at n = 0, rising to `decay`.
    public func decay(updates n: Int) -> Float {
        decay * (1 - Foundation.exp(-Float(n) / rampUpdates))
    }

    /// One update after an optimizer step: n += 1, θ̄ ← d(n) θ̄ + (1 − d(n)) θ for every
    /// parameter (the order of YOLOv5's `v *= d; v += (1 - d) * msd[k]`). Not while swapped.
    public func update() {
        precondition(!isSwapped, "update the EMA with the live weights in the model (swap back first)")
        updates += 1
        let d = decay(updates: updates)
        let e = 1 - d
        for p in parameters {
            p.value.withUnsafeBufferPointer { theta in
                averages[p.name]!.withUnsafeMutableBufferPointer { average in
                    for i in 0..<theta.count { average[i] = d * average[i] + e * theta[i] }
                }
            }
        }
    }

    /// Exchanges the averaged and the live values of every parameter (exactly: array storage is
    /// swapped, no arithmetic); a second call restores the live weights.
    public func swap() {
        for p in parameters {
            var stored = averages.removeValue(forKey: p.name)!
            Swift.swap(&stored, &p.value)
            averages[p.name] = stored
        }
        isSwapped.toggle()
    }

    /// Runs `body` with the averaged weights in the model, then puts the live ones back (also
    /// when `body` throws): for validation, best.safetensors and export.
    public func withAveragedWeights<R>(_ body: () throws -> R) rethrows -> R {
        precondition(!isSwapped, "the average is already in the model")
        swap()
        defer { swap() }
        return try body()
    }

    /// Copies the averaged values into other parameters of the same names and shapes (e.g. a
    /// second `Network` built from the same config, for export while training goes on).
    public func apply(to other: [Parameter]) throws {
        let source = isSwapped ? Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) }) : averages
        for p in other {
            guard let values = source[p.name] else {
                throw TrainingError(reason: "the moving average has no \(p.name)")
            }
            guard values.count == p.count else {
                throw TrainingError(reason: "the moving average of \(p.name) has \(values.count) values, the parameter \(p.count)")
            }
            p.value = values
        }
    }

    // MARK: Checkpoint state

    /// The state a checkpoint stores: the update count and the averaged values by parameter
    /// name, with the parameters' shapes (the average also while swapped).
    public var state: MovingAverageState {
        MovingAverageState(updates: updates, averages: Dictionary(uniqueKeysWithValues: parameters.map {
            ($0.name, MovingAverageState.Average(shape: $0.shape, values: isSwapped ? $0.value : averages[$0.name]!))
        }))
    }

    /// Replaces the state from a checkpoint: `updates`, and `values` by parameter name (without
    /// the `ema.` prefix). Every parameter must be there with its size and finite values; a
    /// name that is not a parameter is refused too. Not while swapped.
    public func restore(updates: Int, values: [String: [Float]]) throws {
        precondition(!isSwapped, "restore the EMA with the live weights in the model")
        guard updates >= 0 else { throw TrainingError(reason: "EMA updates must be non-negative, got \(updates)") }
        for p in parameters {
            guard let v = values[p.name] else { throw TrainingError(reason: "EMA state for \(p.name) is missing") }
            guard v.count == p.count else {
                throw TrainingError(reason: "EMA state for \(p.name) has \(v.count) values, the parameter \(p.count)")
            }
            if let i = v.firstIndex(where: { !$0.isFinite }) {
                throw TrainingError(reason: "EMA state for \(p.name): value \(i) is \(v[i])")
            }
        }
        let known = Set(parameters.map(\.name))
        if let extra = values.keys.sorted().first(where: { !known.contains($0) }) {
            throw TrainingError(reason: "EMA state for \(extra), which is not a parameter of the model")
        }
        self.updates = updates
        for p in parameters { averages[p.name] = values[p.name] }
    }
}

extension Checkpoint {
    /// Restores the moving average saved with the weights: its count and every parameter's
    /// average (`ExponentialMovingAverage.restore` checks that they are the model's).
    public func restore(into ema: ExponentialMovingAverage) throws {
        guard let updates = emaUpdates else {
            throw WeightsError(file: source, reason: "no moving average of the weights (\(Checkpoint.movingAverageUpdatesKey) and ema.* tensors)")
        }
        do { try ema.restore(updates: updates, values: emaValues) } catch {
            throw WeightsError(file: source, reason: "\(error)")
        }
    }
}
