import Foundation
import Testing
@testable import Detector

/// The inference-only pointwise convolution + 2x2/2 max pool against `PointwiseConv2D` then
/// `MaxPool2D`.
@Suite struct PointwiseMaxPoolTests {
    /// Inner dimensions on both GEMM paths (16 and 32 on ours, 48 on OpenBLAS), widths that
    /// make blocks of several pooled rows (and a last partial block), every activation.
    @Test(arguments: [(4, 6, 16, 32), (6, 2, 32, 16), (2, 10, 48, 16), (10, 100, 16, 16)], Activation.allCases)
    func matchesPointwiseThenPool(_ dims: (Int, Int, Int, Int), _ activation: Activation) {
        let (h, w, cin, f) = dims
        let shape = FeatureShape(height: h, width: w, channels: cin)
        let pointwise = PointwiseConv2D(name: "layers.2.pointwise", input: shape, filters: f, bias: true, activation: activation)
        randomize(pointwise, seed: 50)
        let pool = MaxPool2D(name: "layers.3.maxpool", input: pointwise.outputShape, size: 2, stride: 2)
        let fused = PointwiseMaxPool(pointwise, pool)
        #expect(fused.name == "layers.2.pointwise+3.maxpool")
        let input = randomValues(3 * shape.count, seed: 51, range: -2..<2)
        let expected = run(pool, run(pointwise, input, batch: 3, training: false), batch: 3, training: false)
        let out = infer(fused, input, batch: 3)
        #expect(maxDifference(out, expected) <= 1e-6 * max(1, expected.map(abs).max()!))
    }

    @Test func fusesOnlyWhatItCan() {
        func can(_ f: Int, h: Int = 8, size: Int = 2, stride: Int = 2) -> Bool {
            let pointwise = PointwiseConv2D(name: "p", input: FeatureShape(height: h, width: 8, channels: 16), filters: f, bias: true)
            return PointwiseMaxPool.canFuse(pointwise, MaxPool2D(name: "m", input: pointwise.outputShape, size: size, stride: stride))
        }
        #expect(can(16) && can(64))
        #expect(!can(24) && !can(16, h: 7) && !can(16, stride: 1))
    }

    /// tiny-dsc folded for inference runs its four pointwise + pool pairs fused.
    @Test func foldedTinyDSCFusesItsPointwisePools() throws {
        let config = try shippedTinyDSC()
        let folded = try Network(config: config, seed: 4).foldedForInference()
        let fused = folded.nodes.filter { if case let .operation(op) = $0.step { op is PointwiseMaxPool } else { false } }
        #expect(fused.count == 4)
    }
}
