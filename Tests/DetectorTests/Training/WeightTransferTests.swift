import Foundation
import Testing
@testable import Detector

/// Starting from a trained model (`--weights`): which tensors are loaded, which start
/// afresh, and what the run is told.
@Suite struct WeightTransferTests {
    /// `tinyConfigJSON` with `replacements` applied.
    static func config(_ replacements: [(String, String)] = []) throws -> ModelConfig {
        var text = tinyConfigJSON
        for (a, b) in replacements {
            precondition(text.contains(a), a)
            text = text.replacingOccurrences(of: a, with: b)
        }
        return try ModelConfig.decode(Data(text.utf8), source: "tiny")
    }
    static let twoClasses = [("[\"circle\", \"square\", \"triangle\"]", "[\"round\", \"angular\"]"), ("\"filters\": 16, \"size\": 1", "\"filters\": 14, \"size\": 1")]

    /// A model file of `config` with weights from `seed` and batch-norm statistics that are not
    /// the initial ones (so that loading them shows).
    static func modelFile(_ config: ModelConfig, seed: UInt64 = 5, quantize: Bool = false) throws -> WeightsFile {
        let network = try Network(config: config, seed: seed)
        for p in network.parameters where p.name.hasSuffix("running_mean") || p.name.hasSuffix("bias") {
            p.value = p.value.indices.map { Float($0 % 7) * 0.01 + 0.02 }
        }
        let path = try Fixtures.temporaryFolder("weights").appendingPathComponent("model.safetensors").path
        try Checkpoint.save(parameters: network.parameters, configJSON: config.jsonString(), optimizer: quantize ? nil : Adam(parameters: network.parameters).state,
                            training: ["epoch": "7"], quantize: quantize, to: path)
        return try WeightsFile.read(path: path)
    }

    func values(_ network: Network) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: network.parameters.map { ($0.name, $0.value) })
    }

    @Test func theSameArchitectureAndTaskLoadsEveryTensor() throws {
        let config = try Self.config()
        let file = try Self.modelFile(config)
        let network = try Network(config: config, seed: 1)
        let transfer = try WeightTransfer.load(file, into: network)
        #expect(transfer.new.isEmpty && transfer.unused.isEmpty && transfer.headChange == nil && transfer.loadsHead)
        #expect(transfer.loaded == network.parameters.map(\.name))
        #expect(values(network) == file.checkpoint.parameters)
        #expect(transfer.summary == "loaded \(network.parameters.count) of \(network.parameters.count) tensors from \(file.path)")
    }

    /// Other classes: every layer but the head is loaded (running statistics included); the head
    /// keeps the initialisation of the seed, exactly as a run from scratch would have it.
    @Test func otherClassesReinitialiseTheHeadOnly() throws {
        let file = try Self.modelFile(Self.config())
        let config = try Self.config(Self.twoClasses)
        let network = try Network(config: config, seed: 1)
        let fresh = values(try Network(config: config, seed: 1))
        let transfer = try WeightTransfer.load(file, into: network)
        let head = ["layers.7.conv.weight", "layers.7.conv.bias"]
        #expect(transfer.new.map(\.name) == head)
        #expect(transfer.new.map(\.fileShape) == [[1, 1, 64, 16], [16]])
        #expect(transfer.headChange == .classes(file: ["circle", "square", "triangle"], now: ["round", "angular"]))
        #expect(!transfer.loadsHead && transfer.unused.isEmpty)
        let now = values(network)
        for name in transfer.loaded { #expect(now[name] == file.checkpoint.parameters[name], "\(name)") }
        #expect(transfer.loaded.contains("layers.4.bn.running_mean") && transfer.loaded.contains("layers.0.bn.running_var"))
        for name in head { #expect(now[name] == fresh[name], "\(name)") }
        #expect(transfer.summary == "loaded \(transfer.loaded.count) of \(transfer.tensorCount) tensors from \(file.path); new: layers.7.conv.weight [1,1,64,14] (file has [1,1,64,16]), layers.7.conv.bias [14] (file has [16]) (the head re-initialised for the classes [round, angular]; the file's was trained for [circle, square, triangle])")
    }

    /// The same classes in another order, or other anchors: the head's shapes agree, but it
    /// was trained for something else.
    @Test func theHeadOfAnotherTaskIsNotLoadedEvenWhereItsShapesAgree() throws {
        let file = try Self.modelFile(Self.config())
        let reordered = try Self.config([("[\"circle\", \"square\", \"triangle\"]", "[\"square\", \"circle\", \"triangle\"]")])
        let a = try WeightTransfer.load(file, into: Network(config: reordered, seed: 1))
        #expect(a.new.map(\.name) == ["layers.7.conv.weight", "layers.7.conv.bias"] && a.new.allSatisfy { $0.fileShape == $0.shape })
        #expect(a.summary.contains("new: layers.7.conv.weight [1,1,64,16], layers.7.conv.bias [16] (the head re-initialised for the classes [square, circle, triangle]"), "\(a.summary)")
        let anchors = try Self.config([("[[1.5, 1.5], [3.0, 3.0]]", "[[1.5, 1.5], [2.5, 2.5]]")])
        let b = try WeightTransfer.load(file, into: Network(config: anchors, seed: 1))
        #expect(b.new.map(\.name) == ["layers.7.conv.weight", "layers.7.conv.bias"])
        #expect(b.headChange == .anchors(file: [Anchor(width: 1.5, height: 1.5), Anchor(width: 3, height: 3)],
                                         now: [Anchor(width: 1.5, height: 1.5), Anchor(width: 2.5, height: 2.5)]))
        #expect(b.summary.contains("(the head re-initialised for the anchors [[1.5, 1.5], [2.5, 2.5]]; the file's was trained for [[1.5, 1.5], [3.0, 3.0]])"), "\(b.summary)")
    }

    /// A widened layer starts afresh whole: its depthwise kernel fits but its pointwise kernel
    /// and batch norm do not, and its running statistics would describe the old kernel's outputs.
    /// The next layer's depthwise kernel no longer fits either; the layers after it do.
    @Test func aLayerIsLoadedWholeOrNotAtAll() throws {
        let file = try Self.modelFile(Self.config())
        let config = try Self.config([("{\"type\": \"separable\", \"filters\": 64, \"size\": 3, \"stride\": 1, \"batchnorm\": true, \"activation\": \"leaky\"},\n  {\"type\": \"maxpool\"",
                                       "{\"type\": \"separable\", \"filters\": 48, \"size\": 3, \"stride\": 1, \"batchnorm\": true, \"activation\": \"leaky\"},\n  {\"type\": \"maxpool\"")])
        let network = try Network(config: config, seed: 1)
        let transfer = try WeightTransfer.load(file, into: network)
        let newLayers = Set(transfer.new.compactMap { WeightTransfer.layerIndex($0.name) })
        #expect(newLayers == [4, 6], "\(transfer.new.map(\.name))")
        #expect(transfer.new.first { $0.name == "layers.4.depthwise.weight" }?.fileShape == [3, 3, 32])
        #expect(transfer.new.first { $0.name == "layers.4.bn.running_mean" }?.fileShape == [64])
        #expect(transfer.loaded.contains("layers.6.pointwise.weight") == false)
        #expect(transfer.loaded.contains("layers.7.conv.weight") && transfer.loadsHead)
        #expect(transfer.summary.contains("layers.4.depthwise.weight [3,3,32] (fits, but not the rest of its layer)"), "\(transfer.summary)")
        #expect(transfer.summary.contains("layers.4.pointwise.weight [32,48] (file has [32,64])"), "\(transfer.summary)")
        // Layer 6's batch norm has the file's shape, but its kernels are new: it starts afresh too.
        #expect(transfer.summary.contains("layers.6.bn.running_mean [64] (fits, but not the rest of its layer)"), "\(transfer.summary)")
        let fresh = values(try Network(config: config, seed: 1))
        #expect(values(network)["layers.6.bn.running_mean"] == fresh["layers.6.bn.running_mean"])
        #expect(file.checkpoint.parameters["layers.6.bn.running_mean"] != fresh["layers.6.bn.running_mean"])
    }

    @Test func anotherArchitectureIsRefused() throws {
        let file = try Self.modelFile(Self.config())
        let other = try Self.config([("{\"type\": \"conv\", \"filters\": 16, \"size\": 3", "{\"type\": \"conv\", \"filters\": 8, \"size\": 3"),
                                     ("\"separable\", \"filters\": 32", "\"separable\", \"filters\": 24"),
                                     ("\"separable\", \"filters\": 64, \"size\": 3, \"stride\": 1, \"batchnorm\": true, \"activation\": \"leaky\"},\n  {\"type\": \"maxpool\"",
                                      "\"separable\", \"filters\": 40, \"size\": 3, \"stride\": 1, \"batchnorm\": true, \"activation\": \"leaky\"},\n  {\"type\": \"maxpool\""),
                                     ("\"filters\": 64, \"size\": 3, \"stride\": 1, \"batchnorm\": true, \"activation\": \"leaky\"},\n  {\"type\": \"conv\"",
                                      "\"filters\": 56, \"size\": 3, \"stride\": 1, \"batchnorm\": true, \"activation\": \"leaky\"},\n  {\"type\": \"conv\"")])
        let error = try #require(throws: WeightsError.self) { try WeightTransfer.load(file, into: Network(config: other, seed: 1)) }
        #expect(error.file == file.path && error.reason.contains("none of the network's") && error.reason.contains("layers.0.conv.weight [3,3,3,8] (file has [3,3,3,16])"), "\(error)")
    }

    /// A deeper file: its extra layers are named as unused. An int8 file loads dequantized.
    @Test func extraTensorsAreReportedAndInt8FilesDequantize() throws {
        let deeper = try Self.config([("  {\"type\": \"conv\", \"filters\": 16, \"size\": 1",
                                       "  {\"type\": \"pointwise\", \"filters\": 64, \"batchnorm\": true, \"activation\": \"leaky\"},\n  {\"type\": \"conv\", \"filters\": 16, \"size\": 1")])
        let file = try Self.modelFile(deeper, quantize: true)
        let config = try Self.config()
        let network = try Network(config: config, seed: 1)
        let transfer = try WeightTransfer.load(file, into: network)
        // Layer 7 is the head here and a pointwise layer there; the file's head is layer 8.
        #expect(transfer.new.map(\.name) == ["layers.7.conv.weight", "layers.7.conv.bias"])
        #expect(transfer.new.allSatisfy { $0.fileShape == nil })
        #expect(transfer.unused.count == 7 && transfer.unused.first == "layers.7.bn.running_mean", "\(transfer.unused)")
        #expect(transfer.summary.contains("layers.7.conv.bias [16] (not in the file)") && transfer.summary.contains("not used: 7 tensor(s) of the file (layers.7.bn.running_mean, "), "\(transfer.summary)")
        let weight = try #require(network.parameters.first { $0.name == "layers.2.pointwise.weight" })
        #expect(weight.value == file.checkpoint.parameters[weight.name])
        #expect(file.checkpoint.optimizerStep == nil)
    }

    // MARK: - In the trainer

    @Test func theTrainerLoadsWeightsOnlyAndRefusesThemWithResume() throws {
        let file = try Self.modelFile(Self.config())
        let samples = tinySamples(count: 2)
        var options = TrainingOptions()
        options.weights = file.path
        options.outputFolder = try Fixtures.temporaryFolder("weights-trainer").path
        let trainer = try Trainer(config: Self.config(Self.twoClasses), train: samples, validation: [], options: options)
        let transfer = try #require(trainer.weightTransfer)
        #expect(transfer.new.count == 2 && transfer.headChange != nil)
        #expect(trainer.optimizer.stepCount == 0 && trainer.imagesSeen == 0)
        #expect(trainer.network.parameters.first { $0.name == "layers.0.conv.weight" }?.value == file.checkpoint.parameters["layers.0.conv.weight"])
        options.resume = true
        let error = try #require(throws: TrainingError.self) { try Trainer(config: Self.config(), train: samples, validation: [], options: options) }
        #expect(error.kind == .weightsWithResume)
        options.resume = false
        options.weights = "/nonexistent/model.safetensors"
        #expect(throws: WeightsError.self) { try Trainer(config: Self.config(), train: samples, validation: [], options: options) }
    }

    /// Autoanchor would refit the config's anchors on these boxes; with a model whose head was
    /// trained for them (same classes, same anchors) they are kept, so the head is loaded. With
    /// other classes the head starts afresh anyway, and autoanchor decides as without weights.
    @Test func autoanchorKeepsTheAnchorsOfALoadedHead() throws {
        let poor = [("[[1.5, 1.5], [3.0, 3.0]]", "[[0.4, 0.4], [0.8, 0.8]]")]
        let config = try Self.config(poor)
        let samples = tinySamples(count: 4)
        var options = TrainingOptions()
        options.outputFolder = try Fixtures.temporaryFolder("weights-anchors").path
        let scratch = try Trainer(config: config, train: samples, validation: [], options: options)
        try #require(scratch.anchorChoice.outcome == .refitted)
        options.weights = try Self.modelFile(config).path
        let kept = try Trainer(config: config, train: samples, validation: [], options: options)
        #expect(kept.anchorChoice.outcome == .keptForWeights && kept.config.anchors == config.anchors)
        #expect(kept.weightTransfer?.loadsHead == true)
        #expect(kept.anchorChoice.message.hasPrefix("anchors: the config's 2, kept: the head loaded from the trained weights was trained with them"))
        let other = try Self.config(poor + Self.twoClasses)
        let refitted = try Trainer(config: other, train: samples, validation: [], options: options)
        #expect(refitted.anchorChoice.outcome == .refitted && refitted.weightTransfer?.loadsHead == false)
    }
}
