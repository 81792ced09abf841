/// A `Conv2D` run by its direct kernels (`Conv2D.directForward`, `directWeightGradient`, in
/// Conv2D.swift) instead of im2col and a GEMM: for few input channels (the network's first
/// layer, 3 → 16), where the GEMM's K = k·k·C_in is too short for OpenBLAS to run well.
///
/// A step of its own, chosen once when the network is built (a rewrite rule of
/// `NetworkFusion`, like the fused steps), so `Conv2D` itself always takes the GEMM path. The
/// convolution and its parameters are `conv`'s (same names, same values):
///
///     forward:  out[p, co] = act(Σ_{ky,kx,ci} in[y(p)·s + ky − pad, x(p)·s + kx − pad, ci] · w[ky, kx, ci, co] + b[co])
///     backward: g = ∂out ⊙ act'(out);  ∂w += direct sums of in · g;  ∂b += Σ_p g;
///               ∂in = col2im(g · wᵀ)   (only when asked: the first layer's input needs none)
final class DirectConv2D: Layer {
    let conv: Conv2D
    var name: String { conv.name }
    var inputShape: FeatureShape { conv.inputShape }
    var outputShape: FeatureShape { conv.outputShape }
    var parameters: [Parameter] { conv.parameters }
    var multiplyAccumulates: Int { conv.multiplyAccumulates }

    /// Whether the direct kernels take `conv`: output channels in multiples of 16 (one SIMD16
    /// accumulator each), at most 8 input channels, a kernel larger than 1x1 (1x1 stride 1 is
    /// a plain GEMM on the input).
    static func applies(to conv: Conv2D) -> Bool {
        conv.outputShape.channels % 16 == 0 && conv.inputShape.channels <= 8 && conv.size > 1
    }

    init(_ conv: Conv2D) {
        precondition(Self.applies(to: conv), "\(conv.name) has no direct kernel (\(conv.inputShape) → \(conv.outputShape))")
        self.conv = conv
    }

    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool) {
        // The bias and the activation are applied as each output is stored.
        let biasValues = conv.bias?.value ?? []
        biasValues.withUnsafeBufferPointer { b in
            conv.directForward(input: input, output: output, batch: batch, bias: conv.bias == nil ? nil : b.baseAddress)
        }
    }

    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  gradientOutput: UnsafeMutablePointer<Float>, gradientInput: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        multiplyByActivationDerivative(gradientOutput, output: output, count: batch * outputShape.count, activation: conv.activation)
        conv.directWeightGradient(input: input, gradientOutput: gradientOutput, batch: batch)
        if let gradientInput { inputGradient(gradientOutput, into: gradientInput, batch: batch) }
        if let bias = conv.bias {
            accumulateBiasGradient(bias, gradient: gradientOutput, rows: batch * outputShape.height * outputShape.width)
        }
    }

    /// ∂in = col2im(g · wᵀ) per image: the GEMM gives the im2col-shaped gradient
    /// [outH·outW, k·k·C_in], which col2im adds back onto the zeroed image gradient.
    private func inputGradient(_ gradientOutput: UnsafePointer<Float>, into gradientInput: UnsafeMutablePointer<Float>, batch: Int) {
        let pixels = outputShape.height * outputShape.width
        let (cout, kk) = (outputShape.channels, conv.columns)
        // From wᵀ [C_out, k·k·C_in] written out once.
        let transposedWeight = transposed(conv.weight.value, rows: kk, columns: cout)
        let isa = KernelISA.active
        transposedWeight.withUnsafeBufferPointer { wt in
            parallelRanges(batch, parts: Engine.threadCount) { worker, images in
                for n in images {
                    let dOut = gradientOutput + n * outputShape.count
                    let dIn = gradientInput + n * inputShape.count
                    let dCol = conv.gradientWorkspace.buffer(worker, count: pixels * kk)
                    multiply(m: pixels, n: kk, k: cout, a: dOut, aRowStride: cout, aColumnStride: 1, b: wt.baseAddress!, ldb: kk,
                             c: dCol, ldc: kk, isa: isa)
                    dIn.update(repeating: 0, count: inputShape.count)
                    conv.col2im(dCol, into: dIn)
                }
            }
        }
    }
}
