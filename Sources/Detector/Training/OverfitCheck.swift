import Foundation

/// Overfit mode's judge (`TrainingOptions.overfitImages`): when the loss has stopped falling, and
/// whether the network learned its images.
///
/// - Plateau: every 10 epochs from the 20th, the mean loss of the last 10 epochs is compared
///   with the mean of the 10 before; within 3% (recent > 0.97 · before) is a plateau. The first
///   plateau drops the learning rate tenfold (`learningRateScale`), the second ends the run.
/// - Verdict: learned when mAP@0.5 on the training images is at least 0.9; otherwise the loss
///   components that did not fall by half from the first epoch to the last are named.
///
/// Its state (the scale and the plateaus seen) goes into checkpoints, so a resumed run drops
/// the rate and stops where an uninterrupted one would.
struct OverfitCheck: Equatable {
    /// The learning rate's factor: 1, then 0.1 after the first plateau.
    var learningRateScale: Float = 1
    /// Plateaus found so far.
    var plateaus = 0

    enum Decision: Equatable { case none, dropped, converged }

    static let learnedMAP50: Float = 0.9

    /// After an epoch: `losses` are the mean losses of every epoch so far, the last the one
    /// just finished.
    mutating func update(losses: [Float]) -> Decision {
        guard losses.count >= 20, losses.count % 10 == 0 else { return .none }
        let recent = losses.suffix(10).reduce(0, +) / 10
        let before = losses.suffix(20).prefix(10).reduce(0, +) / 10
        guard recent > 0.97 * before else { return .none }
        plateaus += 1
        if plateaus >= 2 { return .converged }
        learningRateScale *= 0.1
        return .dropped
    }

    struct Verdict: Equatable {
        var mAP50: Float
        var learned: Bool
        /// "overfit: mAP@0.5 0.983 on 20 images after 140 epochs (19 s): learned".
        var text: String
    }

    /// The verdict on `imageCount` training images scoring `mAP50`, after the epochs of `history`.
    static func verdict(mAP50: Float, imageCount: Int, history: [EpochSummary], seconds: Double) -> Verdict {
        let learned = mAP50 >= learnedMAP50
        var text = String(format: "overfit: mAP@0.5 %.3f on %d images after %d epochs (%.0f s): %@",
                          mAP50, imageCount, history.last?.epoch ?? 0, seconds, learned ? "learned" : "did not learn")
        if !learned, let first = history.first, let final = history.last {
            let pairs: [(String, Float, Float)] = [
                ("coordinates", first.components.coordinates, final.components.coordinates),
                ("objectness", first.components.objectness, final.components.objectness),
                ("no-object", first.components.noObject, final.components.noObject),
                ("class", first.components.classification, final.components.classification)]
            let stuck = pairs.filter { $0.2 > 0.5 * $0.1 }.map { String(format: "%@ %.3f → %.3f", $0.0, $0.1, $0.2) }
            text += stuck.isEmpty ? "" : " (did not fall by half: " + stuck.joined(separator: ", ") + ")"
        }
        return Verdict(mAP50: mAP50, learned: learned, text: text)
    }
}
