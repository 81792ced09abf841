import Foundation
import Testing
import Detector

/// Training writes the evaluation's pictures for its best epoch, from the validation it ran.
@Suite(.serialized) struct EvaluatePlotsInTrainingTests {
    func train(validation: [LoadedSample], epochs: Int) throws -> String {
        let config = try ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "tiny")
        var options = TrainingOptions()
        options.epochs = epochs
        options.batchSize = 2
        options.outputFolder = try Fixtures.temporaryFolder("eval-train").path
        _ = try Trainer(config: config, train: tinySamples(count: 2), validation: validation, options: options).run { _ in }
        return options.outputFolder
    }

    @Test func bestEpochGetsThePlots() throws {
        let folder = try train(validation: tinySamples(count: 3), epochs: 2)
        for name in ["pr_curve.png", "confusion_matrix.png"] {
            let image = try PNG.read(path: folder + "/plots/" + name)
            #expect(image.width >= 600 && image.height >= 400, "\(name)")
        }
        // Written atomically: nothing else in the folder.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/plots").sorted() == ["confusion_matrix.png", "pr_curve.png"])
        // The epoch line says validation ran (the plots come from that evaluation).
        let lines = try String(contentsOfFile: folder + "/results.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines.allSatisfy { $0.contains("\"map50\"") })
    }

    @Test func noValidationNoPlots() throws {
        let folder = try train(validation: [], epochs: 1)
        #expect(!FileManager.default.fileExists(atPath: folder + "/plots"))
    }
}
