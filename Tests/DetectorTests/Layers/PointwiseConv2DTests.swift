import Testing
import Detector

@Suite struct PointwiseConv2DTests {
    // Channel counts in multiples of 16 with 16 or 32 inputs (or outputs, for ∂input) run on smallGEMM,
    // with row counts that leave a remainder of its four-row blocks.
    @Test(arguments: [(3, 4, 5, 2), (2, 2, 16, 3), (1, 1, 1, 1), (4, 3, 7, 9), (3, 5, 16, 32), (2, 3, 32, 16), (3, 3, 64, 16)])
    func matchesNaiveProductAndFiniteDifferences(h: Int, w: Int, cin: Int, cout: Int) {
        let shape = FeatureShape(height: h, width: w, channels: cin)
        for bias in [false, true] {
            let pw = PointwiseConv2D(name: "pw", input: shape, filters: cout, bias: bias, activation: bias ? .leaky : .linear)
            randomize(pw, seed: 13)
            let batch = 2
            let input = randomValues(batch * shape.count, seed: 14)
            let out = run(pw, input, batch: batch)
            for row in 0..<(batch * h * w) {
                for co in 0..<cout {
                    var sum: Float = bias ? pw.bias!.value[co] : 0
                    for ci in 0..<cin { sum += input[row * cin + ci] * pw.weight.value[ci * cout + co] }
                    if bias { sum = sum > 0 ? sum : 0.1 * sum }
                    #expect(abs(out[row * cout + co] - sum) < 1e-5)
                }
            }
            GradientCheck(epsilon: 1e-3, tolerance: 3e-3).check(pw, input: input, batch: batch)
        }
    }
}
