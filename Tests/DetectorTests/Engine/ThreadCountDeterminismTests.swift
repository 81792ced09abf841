import Foundation
import Testing
@testable import Detector

/// The engine on 1, 2 and 3 threads (3 oversubscribes a 2-core machine, which is fine): what
/// `Engine`'s documentation claims bitwise is compared with ==, the rest within tolerance, and
/// the layers against their plain reference loops at each count.
@Suite struct ThreadCountDeterminismTests {
    /// Large enough that every kind of layer splits into 3 parts at batch 4 (batch norm needs
    /// 256 rows a part, pointwise 64): a direct 3x3 conv, an im2col 3x3 conv, separable blocks
    /// (depthwise + pointwise + batch norm), pools (fused with batch norm) and a 1x1 head.
    static let configJSON = """
    {"name": "threads", "input": {"width": 48, "height": 32, "channels": 3},
     "classes": ["a", "b"], "anchors": [[1, 1], [2.5, 1.5]],
     "layers": [
      {"type": "conv", "filters": 16, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
      {"type": "maxpool", "size": 2, "stride": 2},
      {"type": "separable", "filters": 32, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
      {"type": "conv", "filters": 24, "size": 3, "stride": 1, "batchnorm": true, "activation": "relu6"},
      {"type": "maxpool", "size": 2, "stride": 2},
      {"type": "separable", "filters": 32, "size": 3, "stride": 2, "batchnorm": true, "activation": "leaky"},
      {"type": "conv", "size": 1, "stride": 1, "batchnorm": false, "activation": "linear"}]}
    """
    static let batch = 4

    func network(seed: UInt64 = 1) throws -> Network {
        let network = try Network(config: ModelConfig.decode(Data(Self.configJSON.utf8), source: "threads"), seed: seed)
        var rng = SplitMix64(seed: seed + 10)
        for p in network.parameters where p.name.hasSuffix(".scale") || p.name.hasSuffix(".shift") || p.name.hasSuffix(".bias") {
            for i in 0..<p.count { p.value[i] = (p.name.hasSuffix(".scale") ? 1 : 0) + rng.nextFloat(in: -0.3..<0.3) }
        }
        return network
    }

    func input(_ config: ModelConfig, seed: UInt64 = 2) -> Tensor {
        Tensor(shape: [Self.batch, config.inputHeight, config.inputWidth, 3],
               data: randomValues(Self.batch * config.inputHeight * config.inputWidth * 3, seed: seed, range: 0..<1))
    }

    /// Inference, plain and with batch norm folded (fused conv/pointwise + pool steps), is the
    /// same to the bit on 1, 2 and 3 threads.
    @Test func inferenceIsBitwiseEqualAcrossThreadCounts() throws {
        let network = try network()
        let x = input(network.config)
        // Move the running statistics away from 0 and 1 first.
        Engine.withThreadCount(2) { for _ in 0..<2 { _ = network.forward(x, training: true) } }
        let folded = network.foldedForInference()
        var plain: [[Float]] = [], fused: [[Float]] = []
        for threads in [1, 2, 3] {
            Engine.withThreadCount(threads) {
                plain.append(network.forward(x, training: false).data)
                fused.append(folded.forward(x).data)
            }
        }
        #expect(plain[0].contains { $0 != 0 })
        #expect(plain[1] == plain[0] && plain[2] == plain[0])
        #expect(fused[1] == fused[0] && fused[2] == fused[0])
        #expect(maxDifference(plain[0], fused[0]) < 1e-4)
    }

    /// The image-parallel schedule (`ImageLanes`: each thread runs whole images, with its own
    /// buffers and workspace slots) gives the bits of the per-step schedule and of each image
    /// run alone, on both kernel paths: 7 images on 2 and 3 threads (lanes of 4 + 3 and
    /// 3 + 2 + 2 images), against the per-step schedule (`recordsLayerTimes` keeps it) and batch 1.
    @Test(arguments: KernelISA.avx512Available ? [KernelISA.avx2, .avx512] : [.avx2])
    func imageLanesGiveTheBitsOfThePerStepSchedule(_ isa: KernelISA) throws {
        #expect(ImageLanes.applies(batch: 7, threads: 2) && ImageLanes.applies(batch: 7, threads: 3))
        #expect(!ImageLanes.applies(batch: 7, threads: 1) && !ImageLanes.applies(batch: 5, threads: 3))
        let network = try network()
        let config = network.config
        let count = config.inputHeight * config.inputWidth * 3
        let x = Tensor(shape: [7, config.inputHeight, config.inputWidth, 3], data: randomValues(7 * count, seed: 12, range: 0..<1))
        Engine.withThreadCount(2) { _ = network.forward(Tensor(shape: [4] + x.shape.dropFirst(), data: Array(x.data[0..<(4 * count)])),
                                                        training: true) }
        let folded = network.foldedForInference()
        KernelISA.withActive(isa) {
            let perStep = Engine.withThreadCount(2) { () -> [Float] in
                folded.recordsLayerTimes = true
                defer { folded.recordsLayerTimes = false }
                return folded.forward(x).data
            }
            let lanesOnTwo = Engine.withThreadCount(2) { folded.forward(x).data }
            let lanesOnThree = Engine.withThreadCount(3) { folded.forward(x).data }
            #expect(perStep.contains { $0 != 0 })
            #expect(lanesOnTwo.elementsEqual(perStep), "\(isa): 2 lanes")
            #expect(lanesOnThree.elementsEqual(perStep), "\(isa): 3 lanes")
            let outCount = folded.outputShape.count
            for n in [0, 3, 6] {
                let alone = Engine.withThreadCount(2) {
                    folded.forward(Tensor(shape: [1] + x.shape.dropFirst(), data: Array(x.data[(n * count)..<((n + 1) * count)]))).data
                }
                #expect(alone.elementsEqual(perStep[(n * outCount)..<((n + 1) * outCount)]), "\(isa) image \(n)")
            }
            #expect(perStep.count == 7 * outCount)
        }
    }

    /// One forward (batch statistics) and backward of L = Σ out ⊙ R per thread count: the same
    /// to the bit when repeated on the same count; across counts the loss-side values agree to
    /// rounding (the per-part reductions are summed in another order).
    func gradients(_ network: Network, threads: Int, x: Tensor) -> (output: [Float], gradients: [[Float]], input: [Float]) {
        Engine.withThreadCount(threads) {
            let out = network.forward(x, training: true)
            let r = Tensor(shape: out.shape, data: randomValues(out.count, seed: 9))
            network.zeroGradients()
            let dx = network.backward(r, inputGradient: true)!
            return (out.data, network.parameters.filter(\.trainable).map(\.gradient), dx.data)
        }
    }

    @Test func trainingGradientsAgreeAcrossThreadCounts() throws {
        let network = try network()
        let x = input(network.config)
        let one = gradients(network, threads: 1, x: x)
        let three = gradients(network, threads: 3, x: x)
        let threeAgain = gradients(network, threads: 3, x: x)
        #expect(three.output == threeAgain.output && three.gradients == threeAgain.gradients && three.input == threeAgain.input)
        let two = gradients(network, threads: 2, x: x)
        for other in [two, three] {
            #expect(relativeDifference(one.output, other.output) < 1e-5)
            #expect(relativeDifference(one.input, other.input) < 1e-4)
            for (a, b) in zip(one.gradients, other.gradients) { #expect(relativeDifference(a, b) < 1e-4) }
        }
        #expect(one.gradients.allSatisfy { $0.contains { $0 != 0 } })
    }

    /// A training step (forward, region loss, backward, Adam) from the same weights on 1 and 3
    /// threads: the same loss to rounding and the same updated weights. Adam's first step moves
    /// each weight by about lr · sign(g), so a weight whose gradient is rounding noise could move
    /// the other way: at most a few such weights are allowed.
    @Test func trainingStepAgreesAcrossThreadCounts() throws {
        var results: [(loss: Float, weights: [Float])] = []
        for threads in [1, 3] {
            let network = try network()
            let config = network.config
            let loss = RegionLoss(settings: config.loss, layout: config.headLayout)
            let optimizer = Adam(parameters: network.parameters, learningRate: 1e-3)
            let targets = (0..<Self.batch).map { n in
                [LabeledObject(classIndex: n % 2, box: BoundingBox(centerX: 0.3 + 0.1 * Float(n), centerY: 0.5, width: 0.3, height: 0.4))]
            }
            let x = input(config)
            let value: Float = Engine.withThreadCount(threads) {
                var last: Float = 0
                for _ in 0..<2 {
                    let out = network.forward(x, training: true)
                    let result = loss(output: out, targets: targets, imagesSeen: 1_000_000)
                    network.zeroGradients()
                    network.backward(result.gradient)
                    optimizer.step()
                    last = result.total
                }
                return last
            }
            results.append((value, network.parameters.flatMap(\.value)))
        }
        #expect(abs(results[0].loss - results[1].loss) <= 1e-5 * abs(results[0].loss))
        let lr: Float = 1e-3
        let differences = zip(results[0].weights, results[1].weights).map { abs($0 - $1) }
        #expect(differences.max()! <= 4 * lr)
        #expect(differences.filter { $0 > 0.01 * lr }.count <= results[0].weights.count / 1000 + 2)
    }

    /// The fast kernels against their reference loops on each thread count, in shapes that split
    /// into 3 parts: depthwise backward (∂in and the per-part ∂w partials), the im2col conv forward.
    @Test(arguments: [1, 2, 3])
    func layersMatchTheirReferences(threads: Int) {
        Engine.withThreadCount(threads) {
            let shape = FeatureShape(height: 12, width: 10, channels: 20)
            let depthwise = DepthwiseConv2D(name: "dw", input: shape, size: 3, stride: 1)
            randomize(depthwise, seed: 3)
            let batch = 3
            let x = randomValues(batch * shape.count, seed: 4)
            let out = run(depthwise, x, batch: batch)
            let g = randomValues(out.count, seed: 5)
            let (dIn, dW) = backward(depthwise, input: x, output: out, gradientOutput: g, batch: batch)
            let reference = DepthwiseConv2D.referenceBackward(input: x, inputShape: shape, batch: batch, weight: depthwise.weight.value,
                                                              size: 3, stride: 1, gradientOutput: g)
            #expect(maxDifference(dIn, reference.input) < 1e-4)
            #expect(maxDifference(dW[0], reference.weight) < 1e-3)

            let conv = Conv2D(name: "c", input: shape, filters: 24, size: 3, stride: 1, bias: true)
            randomize(conv, seed: 6)
            let y = run(conv, x, batch: batch)
            let expected = Conv2D.referenceForward(input: x, inputShape: shape, batch: batch, weight: conv.weight.value,
                                                   bias: conv.bias!.value, filters: 24, size: 3, stride: 1)
            #expect(maxDifference(y, expected) < 1e-4)
        }
    }
}

/// max |a − b| / max(max |a|, tiny).
func relativeDifference(_ a: [Float], _ b: [Float]) -> Float {
    let scale = max(a.map { abs($0) }.max() ?? 0, 1e-20)
    return maxDifference(a, b) / scale
}
