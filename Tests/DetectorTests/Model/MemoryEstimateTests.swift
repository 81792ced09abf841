import Foundation
import Testing
@testable import Detector

/// The memory estimate made from a config before anything is allocated, and the limit it is
/// held to.
@Suite struct MemoryEstimateTests {
    func decode(_ text: String, memoryLimit: MemoryLimit = .unlimited) throws -> ModelConfig {
        try ModelConfig.decode(Data(text.utf8), source: "test.json", memoryLimit: memoryLimit)
    }

    /// Only the 1x1 head (3 → 14) on an 8 x 8 input, batch 2, by hand (floats):
    /// parameters 3·14 + 14 = 56, x 4 (value, gradient, Adam's m and v) x 4 bytes = 896;
    /// per image: the head's output 8·8·14 = 896, two gradient buffers of the largest step
    /// 2·896, the input three times (network, trainer, its gradient) 3·192, the loss's two
    /// head-sized buffers 2·896: 5056 floats, x 2 images x 4 bytes = 40448;
    /// workspace: backward's partial sums 4·42 = 168 floats = 672 bytes (no im2col for 1x1).
    @Test func handComputedHeadOnly() throws {
        let config = try decode(configText(width: 8, height: 8, layers: []))
        let e = try config.memoryEstimate(batch: 2)
        #expect(e.parameterCount == 56 && e.parameterBytes == 896)
        #expect(e.activationBytes == 40448)
        #expect(e.workspaceBytes == 672)
        #expect(e.totalBytes == 42016)
        #expect(e.largestLayer == 0 && e.largestLayerBytes == 896 + 8 * 2 * 896 + 672)
    }

    /// A 3x3 conv with batch norm (3 → 8) before the head, 8 x 8, batch 1: parameters
    /// 3·3·3·8 + 4·8 = 248 and 8·14 + 14 = 126, 374 in all = 5984 bytes; steps 512 (conv),
    /// 512 (bn), 896 (head), gradients 2·896, input 3·192, loss 2·896: 6080 floats = 24320
    /// bytes; workspace 4·216 + im2col 4·(8·8)·(3·3·3) = 7776 and 4·112 = 448: 8224 floats.
    @Test func handComputedWithIm2col() throws {
        let config = try decode(configText(width: 8, height: 8, layers: [
            #"{"type": "conv", "filters": 8, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"}"#,
        ]))
        let e = try config.memoryEstimate(batch: 1)
        #expect(e.parameterCount == 374 && e.parameterBytes == 5984)
        #expect(e.activationBytes == 24320)
        #expect(e.workspaceBytes == 32896)
        #expect(e.totalBytes == 63200)
    }

    /// The estimate counts exactly the network's parameters and at least the buffers its
    /// forward and backward passes allocate (`Network.reserve`).
    @Test(arguments: ["models/tiny-dsc.json", "small"])
    func coversWhatTheNetworkAllocates(_ name: String) throws {
        let config = name == "small" ? try decode(smallConfigJSON) : try shippedTinyDSC()
        let network = try Network(config: config, seed: 1)
        let batch = 3
        let e = try config.memoryEstimate(batch: batch)
        #expect(e.parameterCount == network.parameters.reduce(0) { $0 + $1.count })
        let outputs = network.nodes.map(\.outputShape.count)
        let merges = network.nodes.contains { if case .merge = $0.step { return true } else { return false } }
        let largest = outputs.max() ?? 0
        let gradients = merges ? outputs.reduce(0, +) + max(largest, network.inputShape.count) : 2 * largest
        let allocated = batch * (outputs.reduce(0, +) + gradients + network.inputShape.count)
        #expect(e.activationBytes >= 4 * allocated)
        #expect(e.parameterBytes == 16 * e.parameterCount)
    }

    @Test func decodeRefusesAConfigPastTheLimitForOneImage() throws {
        let needed = try decode(smallConfigJSON).memoryEstimate(batch: 1)
        _ = try decode(smallConfigJSON, memoryLimit: MemoryLimit(bytes: needed.totalBytes, origin: "test"))
        let error = try #require(throws: ConfigError.self) {
            try decode(smallConfigJSON, memoryLimit: MemoryLimit(bytes: needed.totalBytes - 1, origin: "test"))
        }
        #expect(error.source == "test.json" && error.layer == needed.largestLayer)
        #expect(error.reason.contains("for a batch of 1") && error.reason.contains("more than the memory limit"))
        #expect(error.reason.contains("(test)"))
    }

    /// Within every bound, but 2048 x 2048 x 4096 activations: refused from the config alone,
    /// naming the layer, without allocating (this test would not finish otherwise).
    @Test func aHugeButBoundedConfigIsRefusedBeforeAllocating() throws {
        let text = configText(width: 2048, height: 2048, layers: [
            #"{"type": "conv", "filters": 4096, "size": 3, "stride": 1}"#,
            #"{"type": "maxpool", "size": 2, "stride": 2}"#,
        ])
        let limit = MemoryLimit(bytes: 8 << 30, origin: "test")
        let error = try #require(throws: ConfigError.self) { try decode(text, memoryLimit: limit) }
        #expect(error.layer == 0)
        #expect(error.reason.contains("GiB for a batch of 1") && error.reason.contains("8.0 GiB (test)"))
        #expect(error.reason.contains("conv, output 2048x2048x4096"))
    }

    @Test func trainingBatchesAreCheckedWithTheirSize() throws {
        let config = try shippedTinyDSC()
        let sixteen = try config.memoryEstimate(batch: 16)
        #expect(sixteen.totalBytes > 64 << 20 && sixteen.totalBytes < 2 << 30)
        // Activations grow with the batch; parameters and workspace do not.
        let one = try config.memoryEstimate(batch: 1)
        #expect(sixteen.activationBytes == 16 * one.activationBytes)
        #expect(sixteen.parameterBytes == one.parameterBytes && sixteen.workspaceBytes == one.workspaceBytes)
        try config.checkMemory(batch: 16, limit: .unlimited, source: "tiny-dsc.json")
        let error = try #require(throws: ConfigError.self) {
            try config.checkMemory(batch: 16, limit: MemoryLimit(bytes: 64 << 20, origin: "test"), source: "tiny-dsc.json")
        }
        #expect(error.reason.contains("for a batch of 16") && error.reason.contains("64.0 MiB (test)"))
        // A batch no machine holds saturates instead of overflowing.
        let absurd = try config.memoryEstimate(batch: .max)
        #expect(absurd.totalBytes == .max)
        let e2 = try #require(throws: ConfigError.self) {
            try config.checkMemory(batch: .max, limit: MemoryLimit(bytes: 1 << 40, origin: "test"), source: "tiny-dsc.json")
        }
        #expect(e2.reason.contains("more than 8 EiB"))
    }

    @Test func theLimitComesFromTheEnvironmentOrThePhysicalMemory() throws {
        let physical = try #require(MemoryLimit.physicalMemory)
        #expect(physical > 64 << 20)
        #expect(try MemoryLimit.machine(environment: [:]).bytes == physical)
        let set = try MemoryLimit.machine(environment: ["DETECTOR_MEMORY_LIMIT": "8G"])
        #expect(set == MemoryLimit(bytes: 8 << 30, origin: "DETECTOR_MEMORY_LIMIT"))
        let error = try #require(throws: ConfigError.self) { try MemoryLimit.machine(environment: ["DETECTOR_MEMORY_LIMIT": "lots"]) }
        #expect(error.source == "DETECTOR_MEMORY_LIMIT" && error.reason.contains("\"lots\""))
    }

    @Test(arguments: [("123", 123), ("512K", 512 << 10), ("8G", 8 << 30), ("8 g", nil), ("8GB", 8 << 30), ("1.5K", 1536),
                      ("2T", 2 << 40), ("", nil), ("abc", nil), ("-1", nil), ("0", nil), ("8X", nil), ("1e3", nil),
                      ("99999999T", nil)] as [(String, Int?)])
    func byteCounts(_ text: String, _ bytes: Int?) {
        #expect(MemoryLimit.parseByteCount(text) == bytes)
    }
}
