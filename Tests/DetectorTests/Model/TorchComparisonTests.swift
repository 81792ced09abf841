import Foundation
import Testing
import Detector

/// Tests/DetectorTests/Fixtures/network_small.json, written by scripts/torch_network_fixture.py.
struct TorchFixture: Decodable {
    struct Values: Decodable { var shape: [Int]; var data: [Float] }
    var config: ModelConfig
    var input: Values
    var parameters: [String: Values]
    var projection: Values
    var output: Values
    var gradients: [String: Values]
    var running_after: [String: Values]
}

@Suite struct TorchComparisonTests {
    /// |a − b| ≤ 1e-4 · max(1, max|b|) elementwise: relative to the tensor's scale.
    func expectClose(_ a: [Float], _ b: [Float], _ what: String, tolerance: Float = 1e-4,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, "\(what): \(a.count) values vs \(b.count)", sourceLocation: sourceLocation)
        let scale = max(1, b.map(abs).max() ?? 0)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= tolerance * scale, "\(what): worst difference \(worst) at scale \(scale)", sourceLocation: sourceLocation)
    }

    @Test func forwardAndEveryGradientMatchPyTorch() throws {
        let fixture = try JSONDecoder().decode(TorchFixture.self, from: Fixtures.data("network_small.json"))
        let network = try Network(config: fixture.config, seed: 0)
        try network.load(fixture.parameters.mapValues(\.data), source: "network_small.json")
        // Every parameter the engine has is in the fixture, and its shape agrees.
        for p in network.parameters {
            #expect(fixture.parameters[p.name]?.shape == p.shape, "\(p.name)")
        }
        let input = Tensor(shape: fixture.input.shape, data: fixture.input.data)
        let output = network.forward(input, training: true)
        #expect(output.shape == fixture.output.shape)
        expectClose(output.data, fixture.output.data, "output")
        network.zeroGradients()
        let gradInput = try #require(network.backward(Tensor(shape: fixture.projection.shape, data: fixture.projection.data),
                                                      inputGradient: true))
        expectClose(gradInput.data, try #require(fixture.gradients["input"]).data, "∂input")
        let trainable = network.parameters.filter(\.trainable)
        #expect(Set(trainable.map(\.name)).union(["input"]) == Set(fixture.gradients.keys))
        for p in trainable {
            expectClose(p.gradient, try #require(fixture.gradients[p.name]).data, "∂\(p.name)")
        }
        // Running statistics after one step: momentum 0.1, unbiased batch variance.
        for p in network.parameters where !p.trainable {
            expectClose(p.value, try #require(fixture.running_after[p.name]).data, p.name)
        }
    }
}
