import Foundation
import Testing
@testable import Detector

/// The lines train-detector prints while it trains (`trainingEpochLine`, `trainingBatchLine`).
@Suite struct TrainingLogTests {
    static func summary() -> EpochSummary {
        var c = LossComponents()
        c.coordinates = 0.5; c.objectness = 0.25; c.noObject = 0.125; c.classification = 1; c.prior = 0.0625
        var s = LossStatistics()
        s.averageIoU = 0.75; s.recall50 = 0.5; s.averageObjectness = 0.375; s.averageAnyObjectness = 0.03125
        return EpochSummary(epoch: 3, loss: c.total, components: c, statistics: s, learningRate: 0.003,
                            seconds: 12.34, imagesPerSecond: 161.7, imagesSeen: 6000)
    }

    @Test func epochLineWithoutValidation() {
        #expect(trainingEpochLine(Self.summary()) ==
                "epoch   3  loss 1.9375  coord 0.5000  obj 0.2500  noobj 0.1250  cls 1.0000  prior 0.0625  IoU 0.750  recall 0.500  obj 0.375  any-obj 0.0312  lr 0.003  162 img/s  12.3 s")
    }

    @Test func epochLineWithValidationAndATimeBudget() {
        var e = Self.summary()
        e.mAP50 = 0.9081; e.mAP50to95 = 0.5904; e.validationSeconds = 4.25; e.plannedEpochs = 40; e.batches = 17
        #expect(trainingEpochLine(e, timeBudget: 600, trainedSeconds: 125) ==
                "epoch   3/40  loss 1.9375  coord 0.5000  obj 0.2500  noobj 0.1250  cls 1.0000  prior 0.0625  IoU 0.750  recall 0.500  obj 0.375  any-obj 0.0312  lr 0.003  162 img/s  12.3 s  val mAP@0.5 0.908  mAP@[.5:.95] 0.590 (4.2 s)  time 2m05s of 10m00s  (cut by the time budget after batch 17)")
    }

    @Test func batchLine() {
        let e = Self.summary()
        let line = trainingBatchLine(epoch: 2, epochs: 60, planned: true, batch: 12, batches: 125, loss: e.loss,
                                     components: e.components, statistics: e.statistics, imagesPerSecond: 142.4, etaSeconds: 845)
        #expect(line == "\rEpoch 2/~60 batch 12/125  loss 1.938 (coord 0.500 obj 0.250 noobj 0.125 cls 1.000 prior 0.062)  IoU 0.75 recall 0.50  142 img/s  ETA 14m05s   ")
    }
}
