import Foundation
import Testing
import Detector

/// A tiny configuration (64 x 64 input, grid 8 x 8, 2 anchors) that trains in seconds.
let tinyConfigJSON = """
{"name": "tiny-test", "input": {"width": 64, "height": 64, "channels": 3},
 "classes": ["circle", "square", "triangle"],
 "anchors": [[1.5, 1.5], [3.0, 3.0]],
 "layers": [
  {"type": "conv", "filters": 16, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
  {"type": "maxpool", "size": 2, "stride": 2},
  {"type": "separable", "filters": 32, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
  {"type": "maxpool", "size": 2, "stride": 2},
  {"type": "separable", "filters": 64, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
  {"type": "maxpool", "size": 2, "stride": 2},
  {"type": "separable", "filters": 64, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
  {"type": "conv", "filters": 16, "size": 1, "stride": 1, "batchnorm": false, "activation": "linear"}]}
"""

/// Synthetic images whose shapes are all large enough to see at 64 x 64.
func tinySamples(count: Int) -> [LoadedSample] {
    let generator = SyntheticShapes(seed: 11)
    var samples: [LoadedSample] = []
    var index = 0
    while samples.count < count {
        let (image, objects) = generator.sample(index: index)
        if image.width == 256 && image.height == 256 && objects.count <= 3 && objects.allSatisfy({ $0.box.width > 0.2 }) {
            samples.append(LoadedSample(name: "tiny-\(index)", image: image, objects: objects))
        }
        index += 1
    }
    return samples
}

@Suite(.serialized) struct TrainingEndToEndTests {
    @Test func tinyNetworkLearnsAFewImages() throws {
        let config = try ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "tiny")
        let samples = tinySamples(count: 4)
        var options = TrainingOptions()
        options.overfitImages = samples.count
        options.epochs = 400
        options.batchSize = 4
        options.learningRate = 3e-3
        options.outputFolder = try Fixtures.temporaryFolder("e2e").path
        let trainer = try Trainer(config: config, train: samples, validation: [], options: options)
        let result = try trainer.run { _ in }
        let map = try #require(result.overfitMAP50)
        #expect(map >= 0.9, "\(result.verdict ?? "")")
        #expect(result.learned == true)
        // Everything a user is told about exists.
        for file in ["last.safetensors", "best.safetensors", "results.jsonl", "loss.png"] {
            #expect(FileManager.default.fileExists(atPath: options.outputFolder + "/" + file), "\(file)")
        }
        let renders = try FileManager.default.contentsOfDirectory(atPath: options.outputFolder + "/overfit")
        #expect(renders.count == samples.count)
        // The saved model detects the same through the inference pipeline.
        let detector = try ObjectDetector(modelPath: options.outputFolder + "/last.safetensors")
        let found = detector.detect(samples[0].image)
        #expect(!found.isEmpty)
    }

    @Test func sameSeedGivesSameWeights() throws {
        let config = try ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "tiny")
        let samples = tinySamples(count: 3)
        func train() throws -> [[Float]] {
            var options = TrainingOptions()
            options.epochs = 3
            options.batchSize = 2
            options.outputFolder = try Fixtures.temporaryFolder("seed").path
            let trainer = try Trainer(config: config, train: samples, validation: [], options: options)
            _ = try trainer.run { _ in }
            return trainer.network.parameters.map(\.value)
        }
        let (a, b) = (try train(), try train())
        #expect(largestDifference(a, b) == 0)
    }

    @Test func resumeContinuesExactly() throws {
        let config = try ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "tiny")
        let samples = tinySamples(count: 3)
        let folder = try Fixtures.temporaryFolder("resume").path
        var options = TrainingOptions()
        options.batchSize = 2
        options.augmentation = .none
        options.outputFolder = folder
        options.epochs = 4
        let straight = try Trainer(config: config, train: samples, validation: [], options: options)
        _ = try straight.run { _ in }
        options.outputFolder = try Fixtures.temporaryFolder("resume2").path
        options.stopAfterEpoch = 2
        let interrupted = try Trainer(config: config, train: samples, validation: [], options: options)
        _ = try interrupted.run { _ in }
        #expect(largestDifference(interrupted.network.parameters.map(\.value), straight.network.parameters.map(\.value)) > 0)
        options.stopAfterEpoch = nil
        options.resume = true
        let resumed = try Trainer(config: config, train: samples, validation: [], options: options)
        _ = try resumed.run { _ in }
        #expect(largestDifference(resumed.network.parameters.map(\.value), straight.network.parameters.map(\.value)) == 0)
        let lines = try String(contentsOfFile: options.outputFolder + "/results.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
    }
}

/// The largest absolute difference between two lists of tensors (infinity if shapes differ).
func largestDifference(_ a: [[Float]], _ b: [[Float]]) -> Float {
    guard a.count == b.count else { return .infinity }
    var worst: Float = 0
    for (x, y) in zip(a, b) {
        guard x.count == y.count else { return .infinity }
        for (u, v) in zip(x, y) { worst = max(worst, abs(u - v)) }
    }
    return worst
}
