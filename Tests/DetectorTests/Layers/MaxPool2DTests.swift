import Testing
import Detector

@Suite struct MaxPool2DTests {
    @Test func routesTheGradientToTheWinner() {
        let pool = MaxPool2D(name: "p", input: FeatureShape(height: 2, width: 4, channels: 1), size: 2, stride: 2)
        let input: [Float] = [1, 5, 2, 0,
                              3, 4, 8, 7]
        var out = run(pool, input, batch: 1)
        #expect(out == [5, 8])
        var gradIn = [Float](repeating: 9, count: 8)
        var gradOut: [Float] = [10, 20]
        input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in
            gradOut.withUnsafeMutableBufferPointer { g in gradIn.withUnsafeMutableBufferPointer { gi in
                pool.backward(input: i.baseAddress!, output: UnsafePointer(o.baseAddress!), gradientOutput: g.baseAddress!,
                              gradientInput: gi.baseAddress!, batch: 1)
            } }
        } }
        #expect(gradIn == [0, 10, 0, 0, 0, 0, 20, 0])
    }

    @Test func strideOneKeepsTheSizeAndClipsAtTheEdge() {
        let pool = MaxPool2D(name: "p", input: FeatureShape(height: 2, width: 2, channels: 1), size: 2, stride: 1)
        #expect(run(pool, [1, 2, 4, 3], batch: 1) == [4, 3, 4, 3])
    }

    /// (height, width, channels, size, stride, batch), including odd sides (a dropped last row
    /// or column), channel counts around 16 (SIMD and remainder) and deliberate ties.
    static let sweep = [(4, 6, 3, 2, 2, 2), (5, 7, 16, 2, 2, 1), (8, 8, 20, 2, 2, 2), (6, 9, 35, 3, 3, 1),
                        (4, 4, 32, 2, 1, 2), (3, 5, 17, 2, 1, 1), (2, 2, 48, 2, 2, 3)]

    @Test(arguments: sweep)
    func fastKernelsMatchReferenceLoop(h: Int, w: Int, c: Int, size: Int, stride: Int, batch: Int) {
        let shape = FeatureShape(height: h, width: w, channels: c)
        let pool = MaxPool2D(name: "p", input: shape, size: size, stride: stride)
        // Values on a coarse grid, so windows often hold ties (the first one must win).
        let input = randomValues(batch * shape.count, seed: 61).map { ($0 * 4).rounded() / 4 }
        let out = run(pool, input, batch: batch)
        let gradOut = randomValues(out.count, seed: 62)
        let expected = MaxPool2D.reference(input: input, inputShape: shape, batch: batch, size: size, stride: stride, gradientOutput: gradOut)
        #expect(out == expected.output)
        let (gradIn, _) = backward(pool, input: input, output: out, gradientOutput: gradOut, batch: batch)
        #expect(gradIn == expected.gradientInput)
    }

    @Test(arguments: [1, 2])
    func backwardMatchesFiniteDifferences(stride: Int) {
        let pool = MaxPool2D(name: "p", input: FeatureShape(height: 4, width: 6, channels: 3), size: 2, stride: stride)
        // Distinct values spaced by more than 2ε, so no perturbation changes a winner.
        var rng = SplitMix64(seed: 31)
        var values = (0..<(2 * 72)).map { Float($0) * 0.05 }
        values.shuffle(using: &rng)
        GradientCheck(epsilon: 1e-3).check(pool, input: values, batch: 2)
    }
}
