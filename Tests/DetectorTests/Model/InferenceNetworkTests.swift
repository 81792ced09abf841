import Foundation
import Testing
@testable import Detector

/// The inference network built from a config and weights directly gives, bit for bit, what
/// the training network folded for inference gives; its memory plan never lets a step write
/// over an output still to be read; and the detector's letterbox into the network's own input
/// buffer gives what the copying path gives.
@Suite struct InferenceNetworkTests {
    /// A config with routes and a shortcut (ConfigTests' small one), tiny-dsc, and a config whose
    /// first convolution has stride 2 and a depthwise layer with batch norm (not folded).
    static let configs = ["small", "tiny-dsc", "strided"]

    static func config(_ name: String) throws -> ModelConfig {
        switch name {
        case "small": return try ModelConfig.decode(Data(smallConfigJSON.utf8), source: "small")
        case "tiny-dsc": return try shippedTinyDSC()
        default:
            return try ModelConfig.decode(Data("""
            {"name": "strided", "input": {"width": 32, "height": 16, "channels": 3}, "classes": ["a"], "anchors": [[1, 1]],
             "layers": [{"type": "conv", "filters": 16, "size": 3, "stride": 2, "batchnorm": true, "activation": "relu"},
                        {"type": "depthwise", "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
                        {"type": "maxpool", "size": 2, "stride": 2},
                        {"type": "pointwise", "filters": 32, "batchnorm": true, "activation": "relu6"},
                        {"type": "maxpool", "size": 2, "stride": 2},
                        {"type": "conv", "filters": 6, "size": 1, "stride": 1, "batchnorm": false, "activation": "linear"}]}
            """.utf8), source: "strided")
        }
    }

    /// A trained-looking network: Glorot kernels, then random biases, batch norm scales and
    /// shifts, and running statistics moved by a few training passes.
    static func trainedNetwork(_ config: ModelConfig, seed: UInt64) throws -> Network {
        let network = try Network(config: config, seed: seed)
        var rng = SplitMix64(seed: seed + 1)
        for p in network.parameters where p.name.hasSuffix(".scale") || p.name.hasSuffix(".shift") || p.name.hasSuffix(".bias") {
            for i in 0..<p.count { p.value[i] = (p.name.hasSuffix(".scale") ? 1 : 0) + rng.nextFloat(in: -0.3..<0.3) }
        }
        let input = Tensor(shape: [2, config.inputHeight, config.inputWidth, 3],
                           data: randomValues(2 * config.inputHeight * config.inputWidth * 3, seed: seed + 2, range: 0..<1))
        for _ in 0..<3 { network.forward(input, training: true) }
        return network
    }

    func input(_ config: ModelConfig, batch: Int, seed: UInt64) -> Tensor {
        Tensor(shape: [batch, config.inputHeight, config.inputWidth, 3],
               data: randomValues(batch * config.inputHeight * config.inputWidth * 3, seed: seed, range: 0..<1))
    }

    /// Saved as a weights file, read back both ways: `InferenceNetwork.load` (no training
    /// network) against `loadNetwork` then `foldedForInference()`; the same steps and the
    /// same head output, bit for bit, at batch 1 and 3.
    @Test(arguments: configs)
    func directConstructionMatchesFoldingATrainingNetwork(_ name: String) throws {
        let config = try Self.config(name)
        let trained = try Self.trainedNetwork(config, seed: 21)
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("model.safetensors").path
        try Checkpoint.save(parameters: trained.parameters, configJSON: config.jsonString(), to: path)
        let direct = try InferenceNetwork.load(path: path)
        let folded = try loadNetwork(path: path).foldedForInference()
        #expect(direct.nodes.map(\.name) == folded.nodes.map(\.name))
        #expect(direct.nodes.map { $0.operation.map { "\(type(of: $0))" } } == folded.nodes.map { $0.operation.map { "\(type(of: $0))" } })
        #expect(direct.parameters.map(\.value) == folded.parameters.map(\.value))
        for batch in [1, 3] {
            let x = input(config, batch: batch, seed: 22)
            let a = direct.forward(x), b = folded.forward(x)
            #expect(a.shape == b.shape)
            #expect(a.data.map(\.bitPattern) == b.data.map(\.bitPattern))
            // And both compute the unfolded network's inference, up to the folding's rounding.
            let plain = trained.forward(x, training: false)
            #expect(maxDifference(plain.data, a.data) < 1e-4 * max(1, plain.data.map(abs).max()!))
        }
    }

    /// The shipped model and the routes model of the ONNX fixtures, both ways, bit for bit.
    @Test(arguments: ["models/tiny-dsc-shapes.safetensors", "routes"])
    func shippedModelsMatchBothWays(_ model: String) throws {
        let path = model == "routes" ? Fixtures.url("onnx_routes.safetensors").path : repositoryRoot.appendingPathComponent(model).path
        let direct = try InferenceNetwork.load(path: path)
        let folded = try loadNetwork(path: path).foldedForInference()
        let x = input(direct.config, batch: 2, seed: 23)
        #expect(direct.forward(x).data.map(\.bitPattern) == folded.forward(x).data.map(\.bitPattern))
    }

    /// The direct constructor checks the weights as `loadNetwork` does, with the same error.
    @Test func refusesWeightsThatDoNotFitWithLoadNetworksError() throws {
        let config = try Self.config("small")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("short.safetensors").path
        let network = try Network(config: config, seed: 1)
        try Checkpoint.save(parameters: Array(network.parameters.dropLast()), configJSON: config.jsonString(), to: path)
        let expected = try #require(throws: WeightsError.self) { try loadNetwork(path: path) }
        let error = try #require(throws: WeightsError.self) { try InferenceNetwork.load(path: path) }
        #expect(error.description == expected.description)
        #expect(error.tensor == network.parameters.last!.name)
    }

    /// An independent check of the plan: walking the steps, every output still to be read
    /// (its reader not yet run, or the network's output) holds its slot alone, and each slot
    /// is large enough for what is put in it.
    @Test(arguments: configs)
    func memoryPlanNeverOverwritesALiveOutput(_ name: String) throws {
        let network = try Self.trainedNetwork(Self.config(name), seed: 3).foldedForInference()
        let nodes = network.nodes
        let plan = InferenceMemoryPlan(nodes)
        let last = nodes.count - 1
        for k in nodes.indices {
            #expect(plan.slotCounts[plan.slots[k]] >= nodes[k].outputShape.count)
            // Outputs live while step k writes: read by k or a later step, or the network's output.
            let live = (0..<k).filter { i in i == last || nodes[k...].contains { $0.inputs.contains(i) } }
            for i in live { #expect(plan.slots[i] != plan.slots[k], "step \(k) writes over the output of step \(i)") }
        }
        if !NetworkGraph.hasMerges(nodes) { #expect(plan.slotCounts.count == 2) }
        // Fewer values than one buffer per step, as the training network keeps.
        #expect(plan.totalCount < nodes.map(\.outputShape.count).reduce(0, +))
    }

    /// The hand-checkable plan of a small chain with a route: conv → pool → conv, route of the
    /// pool and the conv, head.
    @Test func memoryPlanOfARouteKeepsTheBranchWaiting() throws {
        let config = try ModelConfig.decode(Data("""
        {"name": "r", "input": {"width": 8, "height": 8, "channels": 3}, "classes": ["a"], "anchors": [[1, 1]],
         "layers": [{"type": "conv", "filters": 4, "size": 3, "stride": 1, "batchnorm": false, "activation": "leaky"},
                    {"type": "maxpool", "size": 2, "stride": 2},
                    {"type": "conv", "filters": 2, "size": 3, "stride": 1, "batchnorm": false, "activation": "leaky"},
                    {"type": "route", "layers": [1, 2]},
                    {"type": "maxpool", "size": 2, "stride": 2}, {"type": "maxpool", "size": 2, "stride": 2},
                    {"type": "conv", "filters": 6, "size": 1, "stride": 1, "batchnorm": false, "activation": "linear"}]}
        """.utf8), source: "r")
        let plan = InferenceMemoryPlan(try Network(config: config, seed: 1).foldedForInference().nodes)
        // conv 0 → slot 0; pool 1 → slot 1 (frees 0); conv 2 → slot 0 (pool still waits for the
        // route); route 3 → slot 2 (frees 0 and 1); pools → 0, 1; head → 0.
        #expect(plan.slots == [0, 1, 0, 2, 0, 1, 0])
        #expect(plan.slotCounts == [8 * 8 * 4, 4 * 4 * 4, 4 * 4 * 6])
    }

    /// Letting the network hold the input (`forward(batch:fill:)`) gives what reading the
    /// caller's buffer gives; and the detector, which letterboxes straight into that buffer,
    /// gives what letterboxing into arrays and `headOutputs` gives.
    @Test func inputFilledInPlaceMatchesTheCopyingPath() throws {
        let detector = try ObjectDetector(modelPath: repositoryRoot.appendingPathComponent("models/tiny-dsc-shapes.safetensors").path)
        let network = detector.network
        let x = input(network.config, batch: 2, seed: 24)
        let expected = network.forward(x).data
        let out = network.forward(batch: 2) { buffer in _ = buffer.update(fromContentsOf: x.data) }
        #expect(Array(UnsafeBufferPointer(start: out, count: expected.count)) == expected)
        let images = try ["000000.png", "000003.png"].map { try ImageFile.read(path: repositoryRoot.appendingPathComponent("samples/images/\($0)").path) }
        let options = NMSOptions(scoreThreshold: 0.05)
        let prepared = images.map(detector.preprocess)
        let copied = zip(detector.headOutputs(prepared.map(\.input)), prepared).map { output, p in
            detector.detectNormalised(headOutput: output, options: options).map { p.transform.normalisedNetworkToSourcePixels($0.box) }
        }
        let direct = detector.detect(images, options: options)
        #expect(direct.map { $0.map(\.box) } == copied)
        #expect(direct.contains { !$0.isEmpty })
    }
}
