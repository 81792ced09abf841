/// A 1x1 convolution, without bias when a batch norm follows (with bias and a fused activation
/// once batch norm is folded in for inference): in NHWC it is one GEMM,
///
///     out[N·H·W, C_out] = in[N·H·W, C_in] · w[C_in, C_out]
///     ∂w += inᵀ · ∂out        ∂in = ∂out · wᵀ
///
/// Rows are split across the engine's threads, each calling a single-threaded GEMM.
public final class PointwiseConv2D: Layer {
    public let name: String
    public let inputShape: FeatureShape
    public let outputShape: FeatureShape
    public let weight: Parameter
    public let bias: Parameter?
    public let activation: Activation

    public init(name: String, input: FeatureShape, filters: Int, bias: Bool = false, activation: Activation = .linear) {
        _ = configureBLASOnce
        self.name = name
        self.activation = activation
        self.bias = bias ? Parameter(name: "\(name).bias", shape: [filters], value: [Float](repeating: 0, count: filters)) : nil
        self.inputShape = input
        self.outputShape = FeatureShape(height: input.height, width: input.width, channels: filters)
        weight = Parameter(name: "\(name).weight", shape: [input.channels, filters],
                           value: [Float](repeating: 0, count: input.channels * filters))
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
    public var multiplyAccumulates: Int { outputShape.count * inputShape.channels }

    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool) {
        let rows = batch * inputShape.height * inputShape.width
        let (cin, cout) = (inputShape.channels, outputShape.channels)
        let act = activation
        let biasValues = bias?.value ?? []
        let isa = KernelISA.active
        weight.value.withUnsafeBufferPointer { w in biasValues.withUnsafeBufferPointer { b in
            let biasPointer = bias == nil ? nil : b.baseAddress
            // Bias and activation on each thread's block while it is in that thread's cache.
            parallelMultiply(m: rows, n: cout, k: cin, a: input, aRowStride: cin, aColumnStride: 1, b: w.baseAddress!,
                             ldb: cout, c: output, ldc: cout, isa: isa) { rowRange, columns in
                addBiasAndActivate(output, rows: rowRange, columns: columns, channels: cout, bias: biasPointer, activation: act)
            }
        } }
    }

    public func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                         gradientOutput: UnsafeMutablePointer<Float>, gradientInput: UnsafeMutablePointer<Float>?,
                         batch: Int) {
        let rows = batch * inputShape.height * inputShape.width
        let (cin, cout) = (inputShape.channels, outputShape.channels)
        multiplyByActivationDerivative(gradientOutput, output: output, count: rows * cout, activation: activation)
        if let bias { accumulateBiasGradient(bias, gradient: gradientOutput, rows: rows) }
        let weightCount = weight.count
        let threads = Engine.threadCount
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: weightCount * threads)
        defer { partial.deallocate() }
        // ∂in = ∂out · wᵀ, from wᵀ [C_out, C_in] written out once.
        let transposedWeight = gradientInput == nil ? [] : transposed(weight.value, rows: cin, columns: cout)
        let isa = KernelISA.active
        transposedWeight.withUnsafeBufferPointer { wt in
            parallelRanges(rows, parts: threads, minimumPerPart: 64) { worker, range in
                let x = input + range.lowerBound * cin, g = gradientOutput + range.lowerBound * cout
                // ∂w (this part's rows) = xᵀ · ∂out: A is x read transposed.
                multiply(m: cin, n: cout, k: range.count, a: x, aRowStride: 1, aColumnStride: cin, b: g, ldb: cout,
                         c: partial + worker * weightCount, ldc: cout, isa: isa)
                if let gIn = gradientInput {
                    multiply(m: range.count, n: cin, k: cout, a: g, aRowStride: cout, aColumnStride: 1, b: wt.baseAddress!,
                             ldb: cin, c: gIn + range.lowerBound * cin, ldc: cin, isa: isa)
                }
            }
        }
        let parts = partCount(rows, parts: threads, minimumPerPart: 64)
        weight.gradient.withUnsafeMutableBufferPointer { g in
            for worker in 0..<parts {
                let dw = partial + worker * weightCount
                for i in 0..<weightCount { g[i] += dw[i] }
            }
        }
    }
}

extension PointwiseConv2D {
    /// Whether a contiguous product with `n` output columns and inner dimension `k` runs on
    /// `smallGEMM` rather than OpenBLAS in `portableMultiply` (the AVX2 path off x86-64, or with
    /// `DETECTOR_GEMM=blas`; the C kernels of `multiply` take every shape): n a multiple of 16
    /// and k at most 32. Measured with `make bench` on tiny-dsc
    /// (training forward at batch 16): k = 16 3.45 → 2.0 ms, k = 32 2.4 → 1.85 ms, k = 64 1.9 →
    /// 1.9–2.5 ms; at batch 1, k = 64 is slower (145 → 175 µs).
    static func usesSmallGEMM(n: Int, k: Int) -> Bool { n % 16 == 0 && k <= 32 }

    /// C[m, n] = A[m, k] · B[k, n], contiguous row-major, on `isa`'s path (see `multiply`).
    static func product(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                        isa: KernelISA) {
        multiply(m: m, n: n, k: k, a: a, aRowStride: k, aColumnStride: 1, b: b, ldb: n, c: c, ldc: n, isa: isa)
    }

    /// The plain loop the GEMM is tested against: out[r, co] = b[co] + Σ_ci in[r, ci] · w[ci, co]
    /// over r < rows (= N·H·W), before the activation.
    public static func referenceForward(input: [Float], rows: Int, inputChannels cin: Int, weight: [Float],
                                        bias: [Float]?, filters cout: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * cout)
        for r in 0..<rows {
            for co in 0..<cout {
                var sum: Float = bias?[co] ?? 0
                for ci in 0..<cin { sum += input[r * cin + ci] * weight[ci * cout + co] }
                out[r * cout + co] = sum
            }
        }
        return out
    }
}
