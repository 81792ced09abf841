import Foundation
import Testing
@testable import Detector

/// The kernels that have an AVX-512 version (CKernels), run on each path in-process through
/// `KernelISA.withActive` and compared with the plain reference loops: the direct first
/// convolution (forward, both gradients, fused with its pool), the depthwise convolution
/// (forward, both gradients), the GEMM and the pointwise layer built on it, batch-norm statistics
/// and the fused batch norm + max pool. Shapes are
/// odd on purpose: widths that are not multiples of the kernels' 8- and 4-pixel blocks, 1x1
/// images, channel counts that leave a remainder of 16, batch 3. Each test's name says its
/// path; the AVX-512 ones are skipped, with a message, on a CPU without AVX-512.
@Suite struct KernelISATests {
    // MARK: the direct convolution

    /// (batch, height, width, input channels, filters, size, stride).
    static let directCases: [(Int, Int, Int, Int, Int, Int, Int)] = [
        (3, 5, 6, 3, 16, 3, 1), (3, 7, 5, 3, 32, 3, 2), (2, 6, 6, 2, 16, 5, 1), (3, 4, 4, 8, 48, 3, 2),
        (3, 1, 1, 3, 16, 3, 1), (2, 9, 21, 3, 16, 3, 1), (1, 3, 19, 1, 32, 3, 2), (3, 2, 13, 7, 16, 3, 1),
    ]

    func checkDirectConvolution(_ dims: (Int, Int, Int, Int, Int, Int, Int), _ isa: KernelISA) {
        let (batch, h, w, c, f, k, s) = dims
        KernelISA.withActive(isa) {
            #expect(KernelISA.active == isa)
            let shape = FeatureShape(height: h, width: w, channels: c)
            for activation in [Activation.linear, .leaky, .relu6] {
                let conv = Conv2D(name: "c", input: shape, filters: f, size: k, stride: s, bias: true, activation: activation)
                #expect(DirectConv2D.applies(to: conv))
                randomize(conv, seed: 70)
                let input = randomValues(batch * shape.count, seed: 71, range: -2..<2)
                let out = run(DirectConv2D(conv), input, batch: batch)
                let reference = Conv2D.referenceForward(input: input, inputShape: shape, batch: batch, weight: conv.weight.value,
                                                        bias: conv.bias!.value, filters: f, size: k, stride: s).map { activation.apply($0) }
                #expect(maxDifference(out, reference) < 1e-4, "\(isa) forward \(activation)")
            }
            // Gradients (linear: ∂out reaches the convolution unchanged) against plain loops.
            let conv = Conv2D(name: "c", input: shape, filters: f, size: k, stride: s, bias: true)
            randomize(conv, seed: 72)
            let input = randomValues(batch * shape.count, seed: 73)
            let direct = DirectConv2D(conv)
            let out = run(direct, input, batch: batch)
            let gradOut = randomValues(out.count, seed: 74)
            let (gradIn, gradParams) = backward(direct, input: input, output: out, gradientOutput: gradOut, batch: batch)
            let expected = referenceConvolutionBackward(input: input, shape: shape, batch: batch, weight: conv.weight.value,
                                                        filters: f, size: k, stride: s, gradientOutput: gradOut)
            #expect(maxDifference(gradIn, expected.input) < 1e-4, "\(isa) ∂input")
            #expect(maxDifference(gradParams[0], expected.weight) < 1e-3 * max(1, expected.weight.map(abs).max()!), "\(isa) ∂weight")
        }
    }

    @Test(arguments: directCases) func directConvolutionOnAVX2(_ dims: (Int, Int, Int, Int, Int, Int, Int)) {
        checkDirectConvolution(dims, .avx2)
    }

    @Test(onlyWithAVX512, arguments: directCases) func directConvolutionOnAVX512(_ dims: (Int, Int, Int, Int, Int, Int, Int)) {
        checkDirectConvolution(dims, .avx512)
    }

    /// Finite differences through the direct kernel on the path (leaky, away from its kink).
    func checkDirectConvolutionGradient(_ isa: KernelISA) {
        KernelISA.withActive(isa) {
            let conv = Conv2D(name: "c", input: FeatureShape(height: 3, width: 5, channels: 3), filters: 16, size: 3, stride: 1,
                              bias: true, activation: .leaky)
            randomize(conv, seed: 75)
            let input = randomValues(2 * conv.inputShape.count, seed: 76)
            keepAwayFromKink(conv, input: input, batch: 2)
            GradientCheck(epsilon: 1e-3, tolerance: 3e-3).check(DirectConv2D(conv), input: input, batch: 2)
        }
    }

    @Test func directConvolutionGradientOnAVX2() { checkDirectConvolutionGradient(.avx2) }
    @Test(onlyWithAVX512) func directConvolutionGradientOnAVX512() { checkDirectConvolutionGradient(.avx512) }

    /// `ConvMaxPool` equals `Conv2D` then `MaxPool2D` bit for bit on each path: widths with a
    /// block of four interior windows (3 channels: the unrolled kernel, and 5 or 8), a pair, a
    /// single one and edge windows; 1 to 8 channels.
    static let convPoolCases: [(Int, Int, Int, Int)] = [
        (2, 2, 3, 16), (6, 10, 3, 16), (4, 18, 8, 32), (8, 6, 1, 16), (4, 14, 5, 16), (6, 22, 3, 16), (4, 20, 3, 32),
    ]

    func checkConvMaxPool(_ dims: (Int, Int, Int, Int), _ isa: KernelISA) {
        let (h, w, c, f) = dims
        KernelISA.withActive(isa) {
            for activation in Activation.allCases {
                let shape = FeatureShape(height: h, width: w, channels: c)
                let conv = Conv2D(name: "layers.0.conv", input: shape, filters: f, size: 3, stride: 1, bias: true, activation: activation)
                randomize(conv, seed: 77)
                let pool = MaxPool2D(name: "layers.1.maxpool", input: conv.outputShape, size: 2, stride: 2)
                let input = randomValues(3 * shape.count, seed: 78, range: -3..<3)
                let expected = run(pool, run(DirectConv2D(conv), input, batch: 3, training: false), batch: 3, training: false)
                #expect(maxDifference(infer(ConvMaxPool(conv, pool), input, batch: 3), expected) == 0, "\(isa) \(activation)")
            }
        }
    }

    @Test(arguments: convPoolCases) func convMaxPoolOnAVX2(_ dims: (Int, Int, Int, Int)) { checkConvMaxPool(dims, .avx2) }
    @Test(onlyWithAVX512, arguments: convPoolCases) func convMaxPoolOnAVX512(_ dims: (Int, Int, Int, Int)) { checkConvMaxPool(dims, .avx512) }

    // MARK: the depthwise convolution

    /// (batch, height, width, channels, size, stride).
    static let depthwiseCases: [(Int, Int, Int, Int, Int, Int)] = [
        (3, 1, 1, 16, 3, 1), (3, 5, 7, 19, 3, 1), (2, 9, 13, 33, 3, 1), (3, 6, 6, 17, 3, 2), (2, 7, 6, 16, 5, 1),
        (2, 7, 6, 16, 5, 2), (1, 3, 21, 48, 3, 1), (3, 4, 5, 3, 3, 1), (1, 2, 11, 32, 3, 2),
    ]

    func checkDepthwise(_ dims: (Int, Int, Int, Int, Int, Int), _ isa: KernelISA) {
        let (batch, h, w, c, k, s) = dims
        KernelISA.withActive(isa) {
            let shape = FeatureShape(height: h, width: w, channels: c)
            let dw = DepthwiseConv2D(name: "dw", input: shape, size: k, stride: s)
            randomize(dw, seed: 80)
            let input = randomValues(batch * shape.count, seed: 81)
            let out = run(dw, input, batch: batch)
            let reference = DepthwiseConv2D.referenceForward(input: input, inputShape: shape, batch: batch,
                                                             weight: dw.weight.value, size: k, stride: s)
            #expect(maxDifference(out, reference) < 1e-5, "\(isa) forward")
            let gradOut = randomValues(out.count, seed: 82)
            let (gradIn, gradW) = backward(dw, input: input, output: out, gradientOutput: gradOut, batch: batch)
            let expected = DepthwiseConv2D.referenceBackward(input: input, inputShape: shape, batch: batch, weight: dw.weight.value,
                                                             size: k, stride: s, gradientOutput: gradOut)
            #expect(maxDifference(gradIn, expected.input) < 1e-5, "\(isa) ∂input")
            #expect(maxDifference(gradW[0], expected.weight) < 1e-4, "\(isa) ∂weight")
        }
    }

    @Test(arguments: depthwiseCases) func depthwiseOnAVX2(_ dims: (Int, Int, Int, Int, Int, Int)) { checkDepthwise(dims, .avx2) }
    @Test(onlyWithAVX512, arguments: depthwiseCases) func depthwiseOnAVX512(_ dims: (Int, Int, Int, Int, Int, Int)) { checkDepthwise(dims, .avx512) }

    func checkDepthwiseGradient(_ isa: KernelISA) {
        KernelISA.withActive(isa) {
            let dw = DepthwiseConv2D(name: "dw", input: FeatureShape(height: 4, width: 9, channels: 17), size: 3, stride: 1)
            randomize(dw, seed: 83)
            GradientCheck().check(dw, input: randomValues(2 * dw.inputShape.count, seed: 84), batch: 2)
        }
    }

    @Test func depthwiseGradientOnAVX2() { checkDepthwiseGradient(.avx2) }
    @Test(onlyWithAVX512) func depthwiseGradientOnAVX512() { checkDepthwiseGradient(.avx512) }

    // MARK: the GEMM and the pointwise layer

    /// (m, n, k): rows around the kernels' tiles (6, 8, 12, then 4, 2, 1) and past a 192-row
    /// block, columns that leave a masked remainder of 16 or span several 64-column panels, and
    /// inner dimensions of 1, odd, and past a 256-step block (the chain continued from C).
    static let gemmCases: [(Int, Int, Int)] = [
        (1, 16, 1), (3, 16, 16), (13, 32, 16), (37, 48, 7), (12, 16, 32), (9, 64, 32), (7, 40, 5), (23, 130, 19),
        (200, 80, 33), (5, 8, 300), (31, 256, 257), (2, 3, 2),
    ]

    /// `multiply` on A and on a transposed A, written and accumulated, with row strides wider
    /// than the rows, against a double-precision loop; `portable` runs `portableMultiply`
    /// (smallGEMM and OpenBLAS) instead of the path's C kernel.
    func checkMultiply(_ dims: (Int, Int, Int), _ isa: KernelISA, portable: Bool = false) {
        let (m, n, k) = dims
        let (ldb, ldc) = (n + 3, n + 5)
        let b = randomValues(k * ldb, seed: 86), start = randomValues(m * ldc, seed: 91)
        for transposedA in [false, true] {
            // A stored [m, k] (row stride k + 2), or stored as Aᵀ [k, m] (row stride m + 1).
            let (rowStride, columnStride) = transposedA ? (1, m + 1) : (k + 2, 1)
            let a = randomValues(transposedA ? k * (m + 1) : m * (k + 2), seed: 85)
            for accumulate in [false, true] {
                var c = accumulate ? start : [Float](repeating: .nan, count: m * ldc)
                a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in c.withUnsafeMutableBufferPointer { c in
                    if portable {
                        portableMultiply(m: m, n: n, k: k, a: a.baseAddress!, aRowStride: rowStride, aColumnStride: columnStride,
                                         b: b.baseAddress!, ldb: ldb, c: c.baseAddress!, ldc: ldc, accumulate: accumulate)
                    } else {
                        multiply(m: m, n: n, k: k, a: a.baseAddress!, aRowStride: rowStride, aColumnStride: columnStride,
                                 b: b.baseAddress!, ldb: ldb, c: c.baseAddress!, ldc: ldc, accumulate: accumulate, isa: isa)
                    }
                } } }
                var worst: Float = 0
                for i in 0..<m { for j in 0..<n {
                    var sum = accumulate ? Double(start[i * ldc + j]) : 0
                    for p in 0..<k { sum += Double(a[i * rowStride + p * columnStride]) * Double(b[p * ldb + j]) }
                    worst = max(worst, abs(c[i * ldc + j] - Float(sum)))
                } }
                #expect(worst < 1e-5 * Float(max(k, 1)), "\(isa) \(dims) transposed \(transposedA) accumulate \(accumulate)")
                // The padding between rows of C is left alone.
                if n < ldc, !accumulate { #expect(c[n].isNaN, "\(isa) \(dims): wrote past a row of C") }
            }
        }
    }

    @Test(arguments: gemmCases) func multiplyOnAVX2(_ dims: (Int, Int, Int)) { checkMultiply(dims, .avx2) }
    @Test(onlyWithAVX512, arguments: gemmCases) func multiplyOnAVX512(_ dims: (Int, Int, Int)) { checkMultiply(dims, .avx512) }
    @Test(arguments: gemmCases) func portableMultiplyOnOpenBLAS(_ dims: (Int, Int, Int)) { checkMultiply(dims, .avx2, portable: true) }

    /// The AVX2 and AVX-512 C kernels compute each value as the same chain of fused
    /// multiply-adds, so the two paths' products are equal to the bit.
    @Test(onlyWithAVX512, arguments: gemmCases) func multiplyIsBitwiseEqualOnBothPaths(_ dims: (Int, Int, Int)) {
        let (m, n, k) = dims
        let a = randomValues(m * k, seed: 97), b = randomValues(k * n, seed: 98)
        func product(_ isa: KernelISA) -> [Float] {
            var c = [Float](repeating: .nan, count: m * n)
            a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in c.withUnsafeMutableBufferPointer { c in
                multiply(m: m, n: n, k: k, a: a.baseAddress!, aRowStride: k, aColumnStride: 1, b: b.baseAddress!, ldb: n,
                         c: c.baseAddress!, ldc: n, isa: isa)
            } } }
            return c
        }
        #if arch(x86_64)
        if usesAVX2GEMM { #expect(product(.avx2).elementsEqual(product(.avx512))) }
        #endif
    }

    /// The AVX2 path's own kernel for the skinny products (`smallGEMM`), on its own.
    @Test(arguments: [(1, 16, 1), (3, 16, 16), (13, 32, 16), (37, 48, 7), (9, 64, 32)])
    func smallGEMMOnAVX2(_ dims: (Int, Int, Int)) {
        let (m, n, k) = dims
        let a = randomValues(m * k, seed: 85), b = randomValues(k * n, seed: 86)
        var c = [Float](repeating: .nan, count: m * n)
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in c.withUnsafeMutableBufferPointer { c in
            smallGEMM(m: m, n: n, k: k, a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!)
        } } }
        var expected = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var sum = 0.0
            for p in 0..<k { sum += Double(a[i * k + p]) * Double(b[p * n + j]) }
            expected[i * n + j] = Float(sum)
        } }
        #expect(maxDifference(c, expected) < 1e-5)
    }

    /// On our C kernels each C value is one chain of fused multiply-adds in a fixed order, so
    /// `parallelMultiply` gives the same bits on 1, 2 and 3 threads, whether it splits rows
    /// (m = 500) or, with fewer than 64 rows per thread, columns (m = 64, 100 columns): on each
    /// path that runs one of them.
    func checkParallelMultiply(_ dims: (Int, Int, Int), _ isa: KernelISA) {
        let (m, n, k) = dims
        let a = randomValues(m * k, seed: 92), b = randomValues(k * n, seed: 93)
        func product(threads: Int) -> [Float] {
            var c = [Float](repeating: .nan, count: m * n)
            a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in c.withUnsafeMutableBufferPointer { c in
                parallelMultiply(m: m, n: n, k: k, a: a.baseAddress!, aRowStride: k, aColumnStride: 1, b: b.baseAddress!,
                                 ldb: n, c: c.baseAddress!, ldc: n, isa: isa, threads: threads)
            } } }
            return c
        }
        let one = product(threads: 1)
        #expect(!one.contains { $0.isNaN })
        #expect(product(threads: 2) == one, "\(isa)")
        #expect(product(threads: 3) == one, "\(isa)")
    }

    static let parallelCases = [(500, 48, 40), (64, 100, 256), (20, 256, 64)]
    @Test(.enabled(if: ourKernel(.avx2) != nil, "the AVX2 path runs OpenBLAS here"), arguments: parallelCases)
    func parallelMultiplyIsBitwiseEqualOnAnyThreadCountOnAVX2(_ dims: (Int, Int, Int)) { checkParallelMultiply(dims, .avx2) }
    @Test(onlyWithAVX512, arguments: parallelCases)
    func parallelMultiplyIsBitwiseEqualOnAnyThreadCountOnAVX512(_ dims: (Int, Int, Int)) { checkParallelMultiply(dims, .avx512) }

    /// Pointwise layers (16 → 32 channels; 40 → 24, whose columns leave remainders of 16; 48 →
    /// 64 on 3 x 7 pixels, whose batch-1 forward splits columns between threads): the product
    /// against the reference loop, gradients by finite differences.
    func checkPointwise(_ isa: KernelISA) {
        KernelISA.withActive(isa) {
            for (cin, cout, h, w, batch) in [(16, 32, 3, 5, 3), (40, 24, 2, 3, 2), (48, 64, 3, 7, 1)] {
                let shape = FeatureShape(height: h, width: w, channels: cin)
                let pw = PointwiseConv2D(name: "pw", input: shape, filters: cout, bias: true, activation: .linear)
                randomize(pw, seed: 87)
                let input = randomValues(batch * shape.count, seed: 88)
                let reference = PointwiseConv2D.referenceForward(input: input, rows: batch * h * w, inputChannels: cin,
                                                                 weight: pw.weight.value, bias: pw.bias!.value, filters: cout)
                #expect(maxDifference(run(pw, input, batch: batch), reference) < 1e-5, "\(isa) \(cin) → \(cout)")
                GradientCheck(epsilon: 1e-2, tolerance: 3e-3).check(pw, input: input, batch: batch)
            }
        }
    }

    @Test func pointwiseOnAVX2() { checkPointwise(.avx2) }
    @Test(onlyWithAVX512) func pointwiseOnAVX512() { checkPointwise(.avx512) }

    // MARK: batch norm: its statistics, and fused with the max pool

    /// The batch statistics (`shiftedMoments`) against double-precision loops, for channel
    /// counts that are a multiple of 16 and not (the AVX-512 kernel masks the remainder), on
    /// rows past several 64-row blocks, with an offset that a naive Σx² would lose.
    func checkBatchStatistics(_ isa: KernelISA) {
        KernelISA.withActive(isa) {
            for c in [32, 19, 3] {
                let rows = 301
                let shape = FeatureShape(height: rows, width: 1, channels: c)
                let bn = BatchNorm(name: "bn", input: shape, activation: .linear)
                let input = randomValues(rows * c, seed: 94, range: -1..<1).map { $0 + 50 }
                _ = run(bn, input, batch: 1)
                for ch in 0..<c {
                    var sum = 0.0
                    for r in 0..<rows { sum += Double(input[r * c + ch]) }
                    let mean = sum / Double(rows)
                    var squares = 0.0
                    for r in 0..<rows { squares += (Double(input[r * c + ch]) - mean) * (Double(input[r * c + ch]) - mean) }
                    let inverse = 1 / (squares / Double(rows) + Double(bn.epsilon)).squareRoot()
                    #expect(abs(Double(bn.batchMean[ch]) - mean) < 1e-5, "\(isa) c \(c) channel \(ch) mean")
                    #expect(abs(Double(bn.batchInverseDeviation[ch]) / inverse - 1) < 1e-4, "\(isa) c \(c) channel \(ch) deviation")
                }
            }
        }
    }

    @Test func batchStatisticsOnAVX2() { checkBatchStatistics(.avx2) }
    @Test(onlyWithAVX512) func batchStatisticsOnAVX512() { checkBatchStatistics(.avx512) }

    /// `BatchNormMaxPool` (forward, both backward passes) against `BatchNorm` then `MaxPool2D`,
    /// including windows of four equal values (the winner is the first input).
    func checkBatchNormMaxPool(_ isa: KernelISA) {
        KernelISA.withActive(isa) {
            let tests = BatchNormMaxPoolTests()
            for activation in [Activation.leaky, .relu, .linear] {
                let shape = FeatureShape(height: 6, width: 10, channels: 48)
                tests.compare(shape, activation, batch: 3, input: randomValues(3 * shape.count, seed: 95, range: -2..<2))
            }
            let shape = FeatureShape(height: 4, width: 4, channels: 16)
            var input = randomValues(2 * shape.count, seed: 96, range: -2..<2)
            for window in 0..<8 {
                let (n, oy, ox) = (window / 4, (window / 2) % 2, window % 2)
                for ch in 0..<16 {
                    let first = ((n * 4 + 2 * oy) * 4 + 2 * ox) * 16 + ch
                    for j in 1..<4 { input[first + ((j >> 1) * 4 + (j & 1)) * 16] = input[first] }
                }
            }
            tests.compare(shape, .leaky, batch: 2, input: input)
        }
    }

    @Test func batchNormMaxPoolOnAVX2() { checkBatchNormMaxPool(.avx2) }
    @Test(onlyWithAVX512) func batchNormMaxPoolOnAVX512() { checkBatchNormMaxPool(.avx512) }

    // MARK: the two paths together, and the choice

    /// tiny-dsc's training forward pass and its input-free backward give the same outputs and
    /// parameter gradients on both paths (up to the rounding of fused multiply-adds).
    @Test(onlyWithAVX512) func tinyDSCAgreesOnBothPaths() throws {
        let config = try shippedTinyDSC()
        let count = config.inputHeight * config.inputWidth * 3
        let input = Tensor(shape: [2, config.inputHeight, config.inputWidth, 3], data: randomValues(2 * count, seed: 89))
        func pass(_ isa: KernelISA) throws -> (output: [Float], gradients: [[Float]]) {
            try KernelISA.withActive(isa) {
                let network = try Network(config: config, seed: 5)
                let out = network.forward(input, training: true)
                network.zeroGradients()
                _ = network.backward(Tensor(shape: out.shape, data: randomValues(out.data.count, seed: 90)))
                return (out.data, network.parameters.filter(\.trainable).map(\.gradient))
            }
        }
        let (a, b) = (try pass(.avx2), try pass(.avx512))
        #expect(maxDifference(a.output, b.output) <= 1e-3 * max(1, a.output.map(abs).max()!))
        for (p, q) in zip(a.gradients, b.gradients) {
            #expect(maxDifference(p, q) <= 2e-3 * max(1, p.map(abs).max()!))
        }
    }

    @Test func choiceFollowsTheEnvironment() {
        var warnings: [String] = []
        let warn = { (message: String) in warnings.append(message) }
        #expect(KernelISA.choose(environment: nil, avx512Available: true, warn: warn) == .avx512)
        #expect(KernelISA.choose(environment: "", avx512Available: false, warn: warn) == .avx2)
        #expect(KernelISA.choose(environment: "avx2", avx512Available: true, warn: warn) == .avx2)
        #expect(KernelISA.choose(environment: "AVX512", avx512Available: true, warn: warn) == .avx512)
        #expect(warnings.isEmpty)
        #expect(KernelISA.choose(environment: "avx512", avx512Available: false, warn: warn) == .avx2)
        #expect(KernelISA.choose(environment: "sse4", avx512Available: true, warn: warn) == .avx512)
        #expect(warnings.count == 2 && warnings[1].contains("sse4"))
    }
}

/// The AVX-512 half of each pair of tests runs only where the kernels can.
let onlyWithAVX512: ConditionTrait = .enabled(if: KernelISA.avx512Available, "skipped: this CPU (or its OS) has no AVX-512")

/// Plain loops for a convolution's gradients (Double sums): ∂in[n, y, x, ci] and
/// ∂w[ky, kx, ci, co] from ∂out by scattering each output's gradient over its window.
func referenceConvolutionBackward(input: [Float], shape: FeatureShape, batch: Int, weight: [Float], filters: Int,
                                  size k: Int, stride s: Int, gradientOutput: [Float]) -> (input: [Float], weight: [Float]) {
    let (h, w, c, pad) = (shape.height, shape.width, shape.channels, k / 2)
    let oh = (h + 2 * pad - k) / s + 1, ow = (w + 2 * pad - k) / s + 1
    var dIn = [Double](repeating: 0, count: input.count), dW = [Double](repeating: 0, count: weight.count)
    for n in 0..<batch { for oy in 0..<oh { for ox in 0..<ow { for co in 0..<filters {
        let g = Double(gradientOutput[((n * oh + oy) * ow + ox) * filters + co])
        for ky in 0..<k { for kx in 0..<k {
            let y = oy * s + ky - pad, x = ox * s + kx - pad
            guard y >= 0, y < h, x >= 0, x < w else { continue }
            for ci in 0..<c {
                let i = ((n * h + y) * w + x) * c + ci, j = ((ky * k + kx) * c + ci) * filters + co
                dIn[i] += g * Double(weight[j])
                dW[j] += g * Double(input[i])
            }
        } }
    } } } }
    return (dIn.map(Float.init), dW.map(Float.init))
}
