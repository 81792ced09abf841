import Foundation

// The lines `train-detector` prints while it trains, written here so they can be tested.

/// The progress line of a batch, drawn over itself on a terminal (it starts with a carriage
/// return and ends in spaces that wipe a longer previous line), e.g.
/// `Epoch 3/60 batch 12/125  loss 4.210 (coord 0.812 obj 0.533 noobj 0.402 cls 1.650 prior 0.813)  IoU 0.41 recall 0.37  142 img/s  ETA 14m05s`.
/// `planned`: the epoch count is the time budget's estimate (printed `~60`).
public func trainingBatchLine(epoch: Int, epochs: Int, planned: Bool, batch: Int, batches: Int, loss: Float,
                              components c: LossComponents, statistics s: LossStatistics,
                              imagesPerSecond: Double, etaSeconds: Double) -> String {
    String(format: "\rEpoch %d/%@ batch %d/%d  loss %.3f (coord %.3f obj %.3f noobj %.3f cls %.3f prior %.3f)  IoU %.2f recall %.2f  %.0f img/s  ETA %@   ",
           epoch, (planned ? "~" : "") + String(epochs), batch, batches, loss, c.coordinates, c.objectness, c.noObject,
           c.classification, c.prior, s.averageIoU, s.recall50, imagesPerSecond, durationText(etaSeconds))
}

/// The log line of an epoch: its number (`  3` or ` 3/40` with a planned count), the loss and
/// each component with 4 decimals, IoU, recall and objectness statistics, the learning rate,
/// the speed and seconds, then the validation mAP when validated. With a time budget
/// (`timeBudget` seconds), the validation's seconds and the time trained so far of the
/// budget; `(cut by the time budget after batch N)` for an epoch the budget cut short.
public func trainingEpochLine(_ e: EpochSummary, timeBudget: Double? = nil, trainedSeconds: Double = 0) -> String {
    let number = e.plannedEpochs.map { String(format: "%3d/%d", e.epoch, $0) } ?? String(format: "%3d", e.epoch)
    var line = String(format: "epoch %@  loss %.4f  coord %.4f  obj %.4f  noobj %.4f  cls %.4f  prior %.4f  IoU %.3f  recall %.3f  obj %.3f  any-obj %.4f  lr %.2g  %.0f img/s  %.1f s",
                      number, e.loss, e.components.coordinates, e.components.objectness, e.components.noObject,
                      e.components.classification, e.components.prior, e.statistics.averageIoU, e.statistics.recall50,
                      e.statistics.averageObjectness, e.statistics.averageAnyObjectness, e.learningRate, e.imagesPerSecond, e.seconds)
    if let m = e.mAP50 { line += String(format: "  val mAP@0.5 %.3f  mAP@[.5:.95] %.3f", m, e.mAP50to95 ?? 0) }
    if let timeBudget {
        // What the budget counts: validation is part of each epoch's time.
        if let v = e.validationSeconds { line += String(format: " (%.1f s)", v) }
        line += "  time \(durationText(trainedSeconds)) of \(durationText(timeBudget))"
    }
    if let cut = e.batches { line += "  (cut by the time budget after batch \(cut))" }
    return line
}

/// The line before the first epoch, e.g. `training on 6 images, validating on 2, batch 16, 60
/// epochs; output in runs/train-1`. With a time budget the length is `for 10m00s`, followed by
/// ` (at most 30 epochs)` when the epochs were asked for too (`epochCap`, used only with a
/// budget); in overfit mode
/// `300 epochs at most (overfit mode: no augmentation)`.
public func trainingStartLine(trainImages: Int, validationImages: Int, options: TrainingOptions, epochCap: Int?) -> String {
    let length = options.timeBudget.map { "for \(durationText($0))" + (epochCap.map { " (at most \($0) epochs)" } ?? "") }
        ?? "\(options.epochs) epochs\(options.isOverfitting ? " at most (overfit mode: no augmentation)" : "")"
    return "training on \(trainImages) images\(validationImages == 0 ? "" : ", validating on \(validationImages)"), batch \(options.batchSize), \(length); output in \(options.outputFolder)"
}

/// What a resumed run that had nothing left to train says instead of its end line: that its
/// time budget (`timeBudget`) is spent, or that it did all its epochs (`epochs`, the count asked
/// for, when the results hold none); nil when the run trained.
public func trainingAlreadyCompleteLine(_ result: TrainingResult, timeBudget: Double?, epochs: Int) -> String? {
    guard result.alreadyComplete else { return nil }
    if result.timeBudgetSpent, let budget = timeBudget {
        let done = result.epochs.last?.epoch ?? 0
        return "\(result.outputFolder): already trained \(done) epochs in \(durationText(result.trainedSeconds)), its time budget of \(durationText(budget)); nothing to do (pass a larger --time to train further)"
    }
    let done = result.epochs.last?.epoch ?? epochs
    return "\(result.outputFolder): already trained \(done) epochs; nothing to do (pass --epochs above \(done) to train further)"
}

/// The outputs of a run that exist, e.g. `weights: F/best.safetensors, F/last.safetensors; log:
/// F/results.jsonl; plot: F/loss.png` (a run stopped in its first epoch has no best.safetensors
/// or log yet), or nil when there is none.
public func trainingOutputsLine(folder: String) -> String? {
    let outputs = [("weights", ["best.safetensors", "last.safetensors"]), ("log", ["results.jsonl"]), ("plot", ["loss.png"])]
        .compactMap { label, files -> String? in
            let present = files.map { folder + "/" + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
            return present.isEmpty ? nil : "\(label): " + present.joined(separator: ", ")
        }
    return outputs.isEmpty ? nil : outputs.joined(separator: "; ")
}

/// `time limit: stopped in epoch 3 after batch 7 (saved in F/last.safetensors; --resume
/// finishes it) after 42s; 2 complete epochs` when the time limit stopped the run inside an
/// epoch, else nil.
public func trainingStoppedLine(_ result: TrainingResult) -> String? {
    guard let (epoch, batch) = result.stoppedInEpoch else { return nil }
    return String(format: "time limit: stopped in epoch %d after batch %d (saved in %@/last.safetensors; --resume finishes it) after %@; %d complete epochs",
                  epoch, batch, result.outputFolder, durationText(result.seconds), epoch - 1)
}

/// The last line of a run that trained, e.g. `trained 60 epochs in 4m05s: final loss 1.2345,
/// val mAP@0.5 0.912, mAP@[.5:.95] 0.634`, with ` (time budget 10m00s, 9m41s in epochs)` after
/// the time when the run had a budget (`timeBudget`); nil when no epoch was completed.
public func trainingEndLine(_ result: TrainingResult, timeBudget: Double?) -> String? {
    guard let last = result.epochs.last else { return nil }
    let budget = timeBudget.map { " (time budget \(durationText($0)), \(durationText(result.trainedSeconds)) in epochs)" } ?? ""
    return String(format: "trained %d epochs in %@%@: final loss %.4f%@", last.epoch, durationText(result.seconds), budget, last.loss,
                  last.mAP50.map { String(format: ", val mAP@0.5 %.3f, mAP@[.5:.95] %.3f", $0, last.mAP50to95 ?? 0) } ?? "")
}
