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

    static func result(epochs: [EpochSummary], folder: String = "runs/a") -> TrainingResult {
        TrainingResult(epochs: epochs, outputFolder: folder, seconds: 245, anchors: AnchorChoice(outcome: .off, anchors: [], configAnchors: []),
                       trainedSeconds: 581)
    }

    @Test func startLine() {
        var options = TrainingOptions()
        options.outputFolder = "runs/train-1"
        #expect(trainingStartLine(trainImages: 6, validationImages: 2, options: options, epochCap: nil)
                == "training on 6 images, validating on 2, batch 16, 60 epochs; output in runs/train-1")
        // The cap is printed only beside a time budget (where it is the --epochs given).
        #expect(trainingStartLine(trainImages: 6, validationImages: 2, options: options, epochCap: 30)
                == "training on 6 images, validating on 2, batch 16, 60 epochs; output in runs/train-1")
        options.timeBudget = 600
        #expect(trainingStartLine(trainImages: 6, validationImages: 0, options: options, epochCap: 30)
                == "training on 6 images, batch 16, for 10m00s (at most 30 epochs); output in runs/train-1")
        options.timeBudget = nil
        options.overfitImages = 4
        options.epochs = 300
        #expect(trainingStartLine(trainImages: 4, validationImages: 0, options: options, epochCap: nil)
                == "training on 4 images, batch 16, 300 epochs at most (overfit mode: no augmentation); output in runs/train-1")
    }

    @Test func endLines() {
        var e = Self.summary()
        #expect(trainingEndLine(Self.result(epochs: []), timeBudget: nil) == nil)
        #expect(trainingEndLine(Self.result(epochs: [e]), timeBudget: nil) == "trained 3 epochs in 4m05s: final loss 1.9375")
        e.mAP50 = 0.9081; e.mAP50to95 = 0.5904
        #expect(trainingEndLine(Self.result(epochs: [e]), timeBudget: 600)
                == "trained 3 epochs in 4m05s (time budget 10m00s, 9m41s in epochs): final loss 1.9375, val mAP@0.5 0.908, mAP@[.5:.95] 0.590")

        var stopped = Self.result(epochs: [e])
        #expect(trainingStoppedLine(stopped) == nil)
        stopped.stoppedInEpoch = (4, 7)
        #expect(trainingStoppedLine(stopped)
                == "time limit: stopped in epoch 4 after batch 7 (saved in runs/a/last.safetensors; --resume finishes it) after 4m05s; 3 complete epochs")
    }

    @Test func alreadyCompleteLines() {
        var result = Self.result(epochs: [Self.summary()])
        #expect(trainingAlreadyCompleteLine(result, timeBudget: nil, epochs: 3) == nil)
        result.alreadyComplete = true
        #expect(trainingAlreadyCompleteLine(result, timeBudget: 600, epochs: 3)
                == "runs/a: already trained 3 epochs; nothing to do (pass --epochs above 3 to train further)")
        result.timeBudgetSpent = true
        #expect(trainingAlreadyCompleteLine(result, timeBudget: 600, epochs: 3)
                == "runs/a: already trained 3 epochs in 9m41s, its time budget of 10m00s; nothing to do (pass a larger --time to train further)")
        // Without any epoch in the results, the count asked for.
        #expect(trainingAlreadyCompleteLine(Self.result(epochs: []).with { $0.alreadyComplete = true }, timeBudget: nil, epochs: 5)
                == "runs/a: already trained 5 epochs; nothing to do (pass --epochs above 5 to train further)")
    }

    /// Only the outputs that exist, in the order weights, log, plot.
    @Test func outputsLine() throws {
        let folder = try Fixtures.temporaryFolder("training-log")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(trainingOutputsLine(folder: folder.path) == nil)
        for name in ["last.safetensors", "loss.png"] { try Data().write(to: folder.appendingPathComponent(name)) }
        #expect(trainingOutputsLine(folder: folder.path) == "weights: \(folder.path)/last.safetensors; plot: \(folder.path)/loss.png")
        for name in ["best.safetensors", "results.jsonl"] { try Data().write(to: folder.appendingPathComponent(name)) }
        #expect(trainingOutputsLine(folder: folder.path)
                == "weights: \(folder.path)/best.safetensors, \(folder.path)/last.safetensors; log: \(folder.path)/results.jsonl; plot: \(folder.path)/loss.png")
    }
}

extension TrainingResult {
    func with(_ change: (inout TrainingResult) -> Void) -> TrainingResult {
        var copy = self
        change(&copy)
        return copy
    }
}
