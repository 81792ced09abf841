import Testing
import Detector

@Suite struct DepthwiseConv2DTests {
    /// One channel, all-ones 3x3 kernel on 1...9: each output is its zero-padded neighbourhood sum.
    @Test func handComputedThreeByThree() {
        let dw = DepthwiseConv2D(name: "dw", input: FeatureShape(height: 3, width: 3, channels: 1), size: 3, stride: 1)
        dw.weight.value = [Float](repeating: 1, count: 9)
        #expect(run(dw, (1...9).map(Float.init), batch: 1) == [12, 21, 16, 27, 45, 33, 24, 39, 28])
        let strided = DepthwiseConv2D(name: "dw", input: FeatureShape(height: 3, width: 3, channels: 1), size: 3, stride: 2)
        strided.weight.value = [Float](repeating: 1, count: 9)
        #expect(run(strided, (1...9).map(Float.init), batch: 1) == [12, 16, 24, 28])
    }

    /// (height, width, channels, stride, batch): channel counts below, at and past 16 exercise
    /// the SIMD16 path and its scalar remainder.
    static let sweep = [(5, 4, 3, 1, 2), (6, 6, 17, 2, 1), (7, 5, 8, 1, 3), (8, 8, 32, 2, 2), (3, 3, 1, 1, 1),
                        (9, 7, 16, 1, 2), (7, 9, 48, 2, 1), (4, 6, 35, 1, 2), (1, 1, 16, 1, 1), (2, 3, 20, 2, 3),
                        (5, 13, 16, 2, 1), (3, 12, 32, 1, 2)]

    @Test(arguments: sweep)
    func fastKernelsMatchReferenceLoops(h: Int, w: Int, c: Int, stride: Int, batch: Int) {
        let shape = FeatureShape(height: h, width: w, channels: c)
        let dw = DepthwiseConv2D(name: "dw", input: shape, size: 3, stride: stride)
        randomize(dw, seed: 11)
        let input = randomValues(batch * shape.count, seed: 12)
        let fast = run(dw, input, batch: batch)
        let slow = DepthwiseConv2D.referenceForward(input: input, inputShape: shape, batch: batch,
                                                    weight: dw.weight.value, size: 3, stride: stride)
        #expect(maxDifference(fast, slow) < 1e-5)
        let gradOut = randomValues(fast.count, seed: 13)
        let (gradIn, gradW) = backward(dw, input: input, output: fast, gradientOutput: gradOut, batch: batch)
        let expected = DepthwiseConv2D.referenceBackward(input: input, inputShape: shape, batch: batch, weight: dw.weight.value,
                                                         size: 3, stride: stride, gradientOutput: gradOut)
        #expect(maxDifference(gradIn, expected.input) < 1e-5)
        #expect(maxDifference(gradW[0], expected.weight) < 1e-4)
    }

    /// 5x5 kernels (the stride-1 input gradient's tap ranges are computed, not fixed at 3).
    @Test(arguments: [(6, 7, 16, 1), (5, 5, 19, 1), (7, 6, 16, 2)])
    func fiveByFiveMatchesReferenceLoops(h: Int, w: Int, c: Int, stride: Int) {
        let shape = FeatureShape(height: h, width: w, channels: c)
        let dw = DepthwiseConv2D(name: "dw", input: shape, size: 5, stride: stride)
        randomize(dw, seed: 14)
        let input = randomValues(2 * shape.count, seed: 15)
        let out = run(dw, input, batch: 2)
        #expect(maxDifference(out, DepthwiseConv2D.referenceForward(input: input, inputShape: shape, batch: 2,
                                                                    weight: dw.weight.value, size: 5, stride: stride)) < 1e-5)
        let gradOut = randomValues(out.count, seed: 16)
        let (gradIn, gradW) = backward(dw, input: input, output: out, gradientOutput: gradOut, batch: 2)
        let expected = DepthwiseConv2D.referenceBackward(input: input, inputShape: shape, batch: 2, weight: dw.weight.value,
                                                         size: 5, stride: stride, gradientOutput: gradOut)
        #expect(maxDifference(gradIn, expected.input) < 1e-5)
        #expect(maxDifference(gradW[0], expected.weight) < 1e-4)
    }

    @Test(arguments: [(5, 4, 3, 1, 2), (6, 6, 17, 2, 1), (4, 5, 16, 2, 1), (3, 3, 1, 1, 1)])
    func backwardMatchesFiniteDifferences(h: Int, w: Int, c: Int, stride: Int, batch: Int) {
        let shape = FeatureShape(height: h, width: w, channels: c)
        let dw = DepthwiseConv2D(name: "dw", input: shape, size: 3, stride: stride)
        randomize(dw, seed: 11)
        GradientCheck().check(dw, input: randomValues(batch * shape.count, seed: 12), batch: batch)
    }
}
