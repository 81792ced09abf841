import Foundation
import Testing
import Detector

/// The repository root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

@Suite struct NetworkTests {
    @Test func tinyDSCTableMatchesTheReferenceCounts() throws {
        let config = try ModelConfig.load(path: repositoryRoot.appendingPathComponent("models/tiny-dsc.json").path)
        let network = try Network(config: config, seed: 1)
        // ../shared/bench/tiny_dsc.py: 125,736 parameters, 142.574 MFLOPs per 256 x 256 image.
        #expect(network.parameterCount == 125_736)
        #expect(network.flopsPerImage == 142_573_568)
        #expect(config.gridWidth == 8 && config.gridHeight == 8)
        #expect(network.outputShape == FeatureShape(height: 8, width: 8, channels: 40))
        let table = network.table()
        #expect(table.contains("125,736 parameters, 0.143 GFLOPs"))
    }

    @Test func sameSeedGivesSameWeights() throws {
        let config = try ModelConfig.load(path: repositoryRoot.appendingPathComponent("models/tiny-dsc.json").path)
        let a = try Network(config: config, seed: 3), b = try Network(config: config, seed: 3)
        let c = try Network(config: config, seed: 4)
        #expect(a.parameters.map(\.value) == b.parameters.map(\.value))
        #expect(a.parameters.map(\.value) != c.parameters.map(\.value))
        // Glorot normal: the first conv's kernel has std √(2 / (27 + 144)) ≈ 0.108.
        let w = a.parameters[0].value
        let std = (w.map { $0 * $0 }.reduce(0, +) / Float(w.count)).squareRoot()
        #expect(abs(std - 0.108) < 0.02)
    }
}
