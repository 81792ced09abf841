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
