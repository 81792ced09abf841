import CKernels

/// A batch norm with its activation followed by a 2x2 max pool of stride 2, run as one step
/// for training: the same function as `BatchNorm` then `MaxPool2D` (those two stay the
/// reference, and the tests compare), with fewer passes over the largest activations.
///
/// Forward reads the convolution's output x twice (statistics, then normalise, activate and
/// pool) and writes only the pooled output. The full-size normalised activation is never
/// stored: backward recomputes y = act(u), u = a x + b (a = γ/σ, b = β − aμ, the forward
/// pass's values, so bit for bit), finds each window's winner as the first input whose y
/// equals the pooled output (`MaxPool2D`'s rule), and with g_p the pooled output's gradient,
///
///     g = g_p · act'(u) at the window's winner, 0 at the other three,
///
/// then goes on as `BatchNorm`'s backward: ∂γ += Σ g x̂, ∂β += Σ g,
/// ∂x = k (g − mean(g) − x̂ mean(g x̂)), in two passes: the sums, then ∂x for every input.
///
/// Per training step at batch 16 this replaces, for the first layer of tiny-dsc, about 640 MB
/// of memory traffic with about 300 (the normalised activation written and read back, pooling
/// reading it, the pooled gradient scattered to a full-size buffer and read back); and the
/// network keeps one full-size activation less per block.
///
/// Used for activations whose derivative is decided by the sign of u (leaky, relu, linear),
/// channel counts that are multiples of 16 and even input sides (every input in a window);
/// `Network` fuses a batch norm and the 2x2/2 max pool after it when these hold and nothing
/// else reads the batch norm's output.
final class BatchNormMaxPool: Layer {
    let batchNorm: BatchNorm
    let pool: MaxPool2D
    let name: String
    var inputShape: FeatureShape { batchNorm.inputShape }
    var outputShape: FeatureShape { pool.outputShape }
    var parameters: [Parameter] { batchNorm.parameters }
    var multiplyAccumulates: Int { 0 }
    /// act'(u): 1 for u > 0, `slope` otherwise.
    private let slope: Float
    private var a: [Float] = []
    private var b: [Float] = []

    static func canFuse(_ bn: BatchNorm, _ pool: MaxPool2D) -> Bool {
        let s = bn.inputShape
        let signDecides: Bool
        switch bn.activation {
        case .leaky, .relu, .linear: signDecides = true
        case .relu6: signDecides = false
        }
        return signDecides && pool.size == 2 && pool.stride == 2 && pool.inputShape == s
            && s.channels % 16 == 0 && s.height % 2 == 0 && s.width % 2 == 0
    }

    init(_ bn: BatchNorm, _ pool: MaxPool2D) {
        precondition(Self.canFuse(bn, pool), "\(bn.name) and \(pool.name) cannot be fused")
        batchNorm = bn
        self.pool = pool
        name = fusedStepName(bn.name, pool.name)
        switch bn.activation {
        case .leaky: slope = Activation.leakySlope
        case .relu: slope = 0
        default: slope = 1
        }
    }

    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow) = (outputShape.height, outputShape.width)
        (a, b) = batchNorm.affine(input: input, rows: batch * h * w, training: training)
        let act = batchNorm.activation
        let isa = KernelISA.active
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
            parallelRanges(batch * oh) { _, rows in
                if isa == .avx512 {
                    ck_bn_maxpool_forward(input, output, a.baseAddress!, b.baseAddress!, act.kernelCode, h, w, c, oh, ow,
                                          rows.lowerBound, rows.upperBound)
                    return
                }
                for r in rows {
                    let n = r / oh, oy = r % oh
                    for ox in 0..<ow {
                        let o = ((n * oh + oy) * ow + ox) * c
                        let p0 = input + ((n * h + 2 * oy) * w + 2 * ox) * c
                        var ch = 0
                        while ch < c {
                            let av = load16(a.baseAddress! + ch), bv = load16(b.baseAddress! + ch)
                            var best = SIMD16<Float>()
                            for j in 0..<4 {
                                let y = act.apply(av * load16(p0 + windowOffset(j, w, c) + ch) + bv)
                                if j == 0 { best = y } else { best.replace(with: y, where: y .> best) }
                            }
                            store16(best, output + o + ch)
                            ch += 16
                        }
                    }
                }
            }
        } }
    }

    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  gradientOutput: UnsafeMutablePointer<Float>, gradientInput: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow) = (outputShape.height, outputShape.width)
        precondition(a.count == c, "\(name): backward without a forward pass")
        let mean = batchNorm.batchMean, inverse = batchNorm.batchInverseDeviation
        let act = batchNorm.activation, slope = self.slope
        let isa = KernelISA.active
        /// Calls `body(j, x_j, g_j)` for the four inputs of a window (16 channels from `ch`):
        /// g_j = g_p · act'(u_j) at the winner, the first input whose activation equals the
        /// pooled output (recomputed with the forward pass's arithmetic, so bit for bit), and
        /// 0 at the others.
        @inline(__always)
        func window(_ p0: UnsafePointer<Float>, _ o: Int, _ ch: Int, _ av: SIMD16<Float>, _ bv: SIMD16<Float>,
                    _ body: (Int, SIMD16<Float>, SIMD16<Float>) -> Void) {
            let best = load16(output + o + ch), gp = load16(gradientOutput + o + ch)
            var taken = SIMDMask<SIMD16<Int32>>(repeating: false)
            for j in 0..<4 {
                let x = load16(p0 + windowOffset(j, w, c) + ch)
                let u = av * x + bv
                let hit = (act.apply(u) .== best) .& .!taken
                taken = taken .| hit
                let g = (gp * slope).replacing(with: gp, where: u .> 0)
                body(j, x, SIMD16<Float>(repeating: 0).replacing(with: g, where: hit))
            }
        }
        // Pass 1: Σ g and Σ g (x − μ) per channel (g is 0 off the winners), in Float over
        // blocks of 16 windows (64 inputs) and in Double across blocks.
        let parts = partCount(batch * oh)
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c * parts)
        partial.initialize(repeating: 0, count: 2 * c * parts)
        defer { partial.deallocate() }
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in mean.withUnsafeBufferPointer { mu in
            parallelRanges(batch * oh) { worker, rows in
                let sums = partial + worker * 2 * c
                let block = UnsafeMutablePointer<Float>.allocate(capacity: 2 * c)
                defer { block.deallocate() }
                if isa == .avx512 {
                    ck_bn_maxpool_backward_sums(input, output, gradientOutput, a.baseAddress!, b.baseAddress!, mu.baseAddress!,
                                                slope, act.kernelCode, h, w, c, oh, ow, rows.lowerBound, rows.upperBound,
                                                sums, block)
                    return
                }
                for r in rows {
                    let n = r / oh, oy = r % oh
                    var ox = 0
                    while ox < ow {
                        let end = min(ox + 16, ow)
                        // 16 channels at a time over the block's windows, the sums in registers.
                        var ch = 0
                        while ch < c {
                            let muv = load16(mu.baseAddress! + ch)
                            let av = load16(a.baseAddress! + ch), bv = load16(b.baseAddress! + ch)
                            var sumG = SIMD16<Float>(), sumGX = SIMD16<Float>()
                            for x0 in ox..<end {
                                let o = ((n * oh + oy) * ow + x0) * c
                                let p0 = input + ((n * h + 2 * oy) * w + 2 * x0) * c
                                window(p0, o, ch, av, bv) { _, x, g in
                                    sumG += g
                                    sumGX += g * (x - muv)
                                }
                            }
                            store16(sumG, block + ch)
                            store16(sumGX, block + c + ch)
                            ch += 16
                        }
                        for ch in 0..<(2 * c) { sums[ch] += Double(block[ch]) }
                        ox = end
                    }
                }
            }
        } } }
        let (k, meanG, meanGX) = batchNorm.finishBackward(partialSums: partial, parts: parts, rows: batch * h * w)
        guard let gradientInput else { return }
        // Pass 2: ∂x = k (g − mean(g) − x̂ mean(g x̂)) for all four inputs of every window.
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in mean.withUnsafeBufferPointer { mu in
        inverse.withUnsafeBufferPointer { inv in k.withUnsafeBufferPointer { k in
        meanG.withUnsafeBufferPointer { mg in meanGX.withUnsafeBufferPointer { mgx in
            parallelRanges(batch * oh) { _, rows in
                if isa == .avx512 {
                    ck_bn_maxpool_backward_input(input, output, gradientOutput, gradientInput, a.baseAddress!, b.baseAddress!,
                                                 mu.baseAddress!, inv.baseAddress!, k.baseAddress!, mg.baseAddress!,
                                                 mgx.baseAddress!, slope, act.kernelCode, h, w, c, oh, ow,
                                                 rows.lowerBound, rows.upperBound)
                    return
                }
                for r in rows {
                    let n = r / oh, oy = r % oh
                    for ox in 0..<ow {
                        let o = ((n * oh + oy) * ow + ox) * c
                        let i0 = ((n * h + 2 * oy) * w + 2 * ox) * c
                        var ch = 0
                        while ch < c {
                            let kv = load16(k.baseAddress! + ch), mgv = load16(mg.baseAddress! + ch), mgxv = load16(mgx.baseAddress! + ch)
                            let muv = load16(mu.baseAddress! + ch), invv = load16(inv.baseAddress! + ch)
                            window(input + i0, o, ch, load16(a.baseAddress! + ch), load16(b.baseAddress! + ch)) { j, x, g in
                                let xhat = (x - muv) * invv
                                store16(kv * (g - mgv - xhat * mgxv), gradientInput + i0 + windowOffset(j, w, c) + ch)
                            }
                            ch += 16
                        }
                    }
                }
            }
        } } } } } } }
    }
}

/// Offset of input j of a 2x2 window (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right,
/// `MaxPool2D`'s row-major order) from its top-left value, in an NHWC image w wide with c channels.
@inline(__always)
func windowOffset(_ j: Int, _ w: Int, _ c: Int) -> Int { ((j >> 1) * w + (j & 1)) * c }
