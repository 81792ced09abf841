import Foundation
import Testing
@testable import Detector

/// `--time`: the plan of epochs in a budget and the learning rate over the time (hand cases,
/// no clocks).
@Suite struct TimeBudgetTests {
    /// Batches of 2 s, ends of 4 s, 10 batches an epoch: 24 s an epoch.
    static let estimates = TimeBudget.Estimates(batch: 2, end: 4, batchesPerEpoch: 10)

    @Test func anEpochIsItsBatchesAndItsEnd() {
        #expect(Self.estimates.epoch == 24)
    }

    /// 100 s: 4 whole epochs (96 s), and the 4 s left hold no batch and end (6 s): 4. 110 s: 4
    /// whole and 14 s left, room for a cut fifth. After 2 epochs and 50 s of 110: 60 s left, 2
    /// whole (48 s), 12 s left: a third, so 5 in all.
    @Test func plannedEpochsByHand() {
        #expect(TimeBudget(seconds: 100).plannedEpochs(done: 0, elapsed: 0, Self.estimates, cap: 1000) == 4)
        #expect(TimeBudget(seconds: 110).plannedEpochs(done: 0, elapsed: 0, Self.estimates, cap: 1000) == 5)
        #expect(TimeBudget(seconds: 110).plannedEpochs(done: 2, elapsed: 50, Self.estimates, cap: 1000) == 5)
        // A cap ends the plan first.
        #expect(TimeBudget(seconds: 110).plannedEpochs(done: 0, elapsed: 0, Self.estimates, cap: 3) == 3)
        // Spent, or over: only the done ones.
        #expect(TimeBudget(seconds: 110).plannedEpochs(done: 4, elapsed: 108, Self.estimates, cap: 1000) == 4)
        #expect(TimeBudget(seconds: 110).plannedEpochs(done: 4, elapsed: 200, Self.estimates, cap: 1000) == 4)
        // No budget: the cap.
        #expect(TimeBudget(seconds: nil).plannedEpochs(done: 1, elapsed: 5, Self.estimates, cap: 60) == 60)
    }

    @Test func aBatchFitsWhenItAndTheEndDo() {
        let budget = TimeBudget(seconds: 100)
        #expect(budget.fits(elapsed: 94, Self.estimates))      // 94 + 2 + 4 = 100
        #expect(!budget.fits(elapsed: 94.5, Self.estimates))
        #expect(TimeBudget(seconds: nil).fits(elapsed: 1e9, Self.estimates))
    }

    /// The horizon the learning rate's progress is measured against: the budget, or the end of
    /// the capped epochs when they end first.
    @Test func horizonIsTheBudgetOrTheCapsEnd() {
        let budget = TimeBudget(seconds: 100)
        #expect(budget.horizon(done: 0, elapsed: 0, Self.estimates, cap: 1000) == 100)
        #expect(budget.horizon(done: 0, elapsed: 0, Self.estimates, cap: 2) == 48)
        #expect(budget.horizon(done: 1, elapsed: 30, Self.estimates, cap: 2) == 54)
        #expect(TimeBudget(seconds: nil).horizon(done: 0, elapsed: 0, Self.estimates, cap: 2) == nil)
    }

    @Test func timeKeptExactlyInCheckpoints() {
        var budget = TimeBudget(seconds: 300)
        budget.record(batches: 13, trainingSeconds: 31.675504446029663, endSeconds: 3.491158604621887)
        budget.record(batches: 9, trainingSeconds: 0.1, endSeconds: 1e-9)
        let back = TimeBudget(encoded: budget.encoded, seconds: 300)
        #expect(back == budget)
        #expect(back?.meanBatch == (31.675504446029663 + 0.1) / 22)
        #expect(back?.meanEnd == (3.491158604621887 + 1e-9) / 2)
        #expect(TimeBudget(encoded: "1 2 3", seconds: nil) == nil)
        #expect(TimeBudget(encoded: "1 2 \(Double.nan.bitPattern) 0", seconds: nil) == nil)
    }

    // MARK: The learning rate

    /// The epoch schedule is the one before the time budget existed, value for value.
    @Test func epochScheduleByHand() {
        // Warm-up: (b + 1) / batches of the base rate.
        #expect(LearningRateSchedule.byEpoch(base: 1, floor: 0.05, epoch: 0, batch: 3, batches: 8, epochs: 10) == 0.5)
        // Then the cosine from 1 at epoch 0 to the floor at the last epoch.
        #expect(LearningRateSchedule.byEpoch(base: 2, floor: 0.05, epoch: 9, batch: 0, batches: 8, epochs: 10) == 2 * (0.05 + 0.95 * 0.5 * (1 + cos(Float.pi))))
        #expect(abs(LearningRateSchedule.byEpoch(base: 1, floor: 0.05, epoch: 9, batch: 0, batches: 8, epochs: 10) - 0.05) < 1e-7)
        let middle = LearningRateSchedule.byEpoch(base: 1, floor: 0, epoch: 5, batch: 0, batches: 8, epochs: 11)
        #expect(abs(middle - 0.5) < 1e-6)
        // One batch an epoch: no warm-up.
        #expect(LearningRateSchedule.byEpoch(base: 1, floor: 0.05, epoch: 0, batch: 0, batches: 1, epochs: 10) == 1)
    }

    /// Over the time: the cosine of progress p; in the first epoch a warm-up that ends with the
    /// epoch's batches or at p = 0.03, whichever is first.
    @Test func timeScheduleByHand() {
        func lr(_ p: Double, epoch: Int = 1, batch: Int = 0, batches: Int = 100) -> Float {
            LearningRateSchedule.byTime(base: 1, floor: 0.05, progress: p, epoch: epoch, batch: batch, batches: batches)
        }
        #expect(lr(0) == 1)
        #expect(abs(lr(0.5) - 0.525) < 1e-6)
        #expect(abs(lr(1) - 0.05) < 1e-7)
        #expect(lr(1.5) == lr(1))          // clamped
        // Warm-up by batches: batch 9 of 100 at p = 0.001: 0.1 (p / 0.03 is 0.033).
        #expect(abs(lr(0.001, epoch: 0, batch: 9) - 0.1 * (0.05 + 0.95 * 0.5 * (1 + cos(Float.pi * 0.001)))) < 1e-7)
        // Warm-up by time: batch 0 of 100 at p = 0.015: half.
        #expect(abs(lr(0.015, epoch: 0, batch: 0) - 0.5 * (0.05 + 0.95 * 0.5 * (1 + cos(Float.pi * 0.015)))) < 1e-7)
        // Past 3%: no warm-up left, even in the first epoch.
        #expect(lr(0.04, epoch: 0, batch: 0) == lr(0.04))
    }
}

/// Overfit mode's plateau test and verdict, as its own type.
@Suite struct OverfitCheckTests {
    @Test func plateausDropTheRateThenStop() {
        var check = OverfitCheck()
        // Falling 10% every epoch: never a plateau.
        var losses: [Float] = []
        for k in 0..<40 {
            losses.append(10 * pow(0.9, Float(k)))
            #expect(check.update(losses: losses) == .none)
        }
        // Flat from here: epoch 50 compares 41...50 with 31...40 (still falling), epoch 60 is flat.
        for _ in 0..<20 {
            losses.append(losses.last!)
            let decision = check.update(losses: losses)
            #expect(decision == (losses.count == 60 ? .dropped : .none), "epoch \(losses.count)")
        }
        #expect(check.learningRateScale == Float(1) * 0.1 && check.plateaus == 1)
        for _ in 0..<10 { losses.append(losses.last!) }
        #expect(check.update(losses: losses) == .converged)
        #expect(check.plateaus == 2)
    }

    /// 3% is the line: recent > 0.97 · before is a plateau.
    @Test func thePlateauThreshold() {
        var a = OverfitCheck(), b = OverfitCheck()
        #expect(a.update(losses: Array(repeating: 1, count: 10) + Array(repeating: 0.96, count: 10)) == .none)
        #expect(b.update(losses: Array(repeating: 1, count: 10) + Array(repeating: 0.98, count: 10)) == .dropped)
        // Only every 10 epochs.
        var c = OverfitCheck()
        #expect(c.update(losses: Array(repeating: 1, count: 21)) == .none)
    }

    static func summary(_ epoch: Int, coordinates: Float, objectness: Float, noObject: Float, classification: Float) -> EpochSummary {
        var c = LossComponents()
        c.coordinates = coordinates; c.objectness = objectness; c.noObject = noObject; c.classification = classification
        return EpochSummary(epoch: epoch, loss: c.total, components: c, statistics: LossStatistics(), learningRate: 1e-3,
                            mAP50: nil, mAP50to95: nil, seconds: 1, imagesPerSecond: 1, imagesSeen: epoch)
    }

    @Test func verdictNamesWhatDidNotFallByHalf() {
        let history = [Self.summary(1, coordinates: 4, objectness: 1, noObject: 8, classification: 2),
                       Self.summary(2, coordinates: 1, objectness: 0.9, noObject: 0.5, classification: 1.5)]
        let failed = OverfitCheck.verdict(mAP50: 0.5, imageCount: 20, history: history, seconds: 12.4)
        #expect(!failed.learned)
        #expect(failed.text == "overfit: mAP@0.5 0.500 on 20 images after 2 epochs (12 s): did not learn (did not fall by half: objectness 1.000 → 0.900, class 2.000 → 1.500)")
        let learned = OverfitCheck.verdict(mAP50: 0.9, imageCount: 20, history: history, seconds: 19)
        #expect(learned.learned && learned.text == "overfit: mAP@0.5 0.900 on 20 images after 2 epochs (19 s): learned")
    }
}

@Suite struct LossStatisticsArithmeticTests {
    static func statistics(_ v: Float, count: Int) -> LossStatistics {
        var s = LossStatistics()
        s.averageIoU = v; s.recall50 = 2 * v; s.averageObjectness = 3 * v; s.averageAnyObjectness = 4 * v
        s.averageClassProbability = 5 * v; s.count = count
        return s
    }

    /// `+` adds every field, `scaled(by:)` every mean but not the count, `divided(by:)` divides
    /// (the epoch's means, to the bit of a division).
    @Test func sumsScalesAndMeans() {
        let a = Self.statistics(0.5, count: 3), b = Self.statistics(0.25, count: 4)
        #expect(a + b == Self.statistics(0.75, count: 7))
        #expect(a.scaled(by: 4) == Self.statistics(2, count: 3))
        let sum = a.scaled(by: 3) + b.scaled(by: 5)
        let mean = sum.divided(by: 8)
        #expect(mean.averageIoU == (0.5 * 3 + 0.25 * 5) / 8 && mean.count == 7)
        #expect(mean.averageClassProbability == (2.5 * 3 + 1.25 * 5) / 8)
        let x = Self.statistics(0.1, count: 1)
        #expect(x.divided(by: 3).averageIoU == Float(0.1) / 3)
    }
}
