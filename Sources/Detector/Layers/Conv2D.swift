import CKernels

/// A k x k convolution with stride s and "same" padding p = k / 2 (PyTorch's
/// `Conv2d(padding=k//2)`): output side ⌊(H + 2p − k)/s⌋ + 1, which is ⌈H/s⌉ for odd k.
///
/// Kernel layout HWIO: `weight[ky, kx, ci, co]`, which read as a row-major matrix is
/// [k·k·C_in, C_out], the right operand of the im2col GEMM:
///
///     out[p, co] = Σ_{ky,kx,ci} in[y(p)·s + ky − pad, x(p)·s + kx − pad, ci] · w[ky, kx, ci, co] + b[co]
///
/// Backward: ∂w += colᵀ · ∂out, ∂b += Σ_p ∂out, ∂col = ∂out · wᵀ scattered back (col2im).
public final class Conv2D: Layer {
    public let name: String
    public let inputShape: FeatureShape
    public let outputShape: FeatureShape
    public let size: Int
    public let stride: Int
    public let padding: Int
    public let weight: Parameter
    public let bias: Parameter?
    /// Applied after the bias (fused), for convolutions without batch norm.
    public let activation: Activation
    private let workspace = Workspace()
    let gradientWorkspace = Workspace()

    public init(name: String, input: FeatureShape, filters: Int, size: Int, stride: Int, bias: Bool,
                activation: Activation = .linear) {
        _ = configureBLASOnce
        self.name = name
        self.activation = activation
        self.inputShape = input
        self.size = size
        self.stride = stride
        self.padding = size / 2
        let outH = (input.height + 2 * padding - size) / stride + 1
        let outW = (input.width + 2 * padding - size) / stride + 1
        self.outputShape = FeatureShape(height: outH, width: outW, channels: filters)
        let k = size * size * input.channels
        self.weight = Parameter(name: "\(name).weight", shape: [size, size, input.channels, filters],
                                value: [Float](repeating: 0, count: k * filters))
        self.bias = bias ? Parameter(name: "\(name).bias", shape: [filters], value: [Float](repeating: 0, count: filters)) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
    public var multiplyAccumulates: Int { outputShape.count * size * size * inputShape.channels }
    var columns: Int { size * size * inputShape.channels }

    /// Writes the im2col matrix of one image, [outH·outW, k·k·C_in], zeros where the window
    /// leaves the image.
    func im2col(_ image: UnsafePointer<Float>, into col: UnsafeMutablePointer<Float>) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow, k, s, pad) = (outputShape.height, outputShape.width, size, stride, padding)
        let rowLength = k * k * c
        for oy in 0..<oh {
            for ox in 0..<ow {
                var dst = col + (oy * ow + ox) * rowLength
                for ky in 0..<k {
                    let y = oy * s + ky - pad
                    for kx in 0..<k {
                        let x = ox * s + kx - pad
                        if y < 0 || y >= h || x < 0 || x >= w {
                            dst.update(repeating: 0, count: c)
                        } else {
                            dst.update(from: image + (y * w + x) * c, count: c)
                        }
                        dst += c
                    }
                }
            }
        }
    }

    /// Adds the im2col-shaped gradient back onto the image gradient (the adjoint of im2col).
    func col2im(_ col: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow, k, s, pad) = (outputShape.height, outputShape.width, size, stride, padding)
        let rowLength = k * k * c
        for oy in 0..<oh {
            for ox in 0..<ow {
                var src = col + (oy * ow + ox) * rowLength
                for ky in 0..<k {
                    let y = oy * s + ky - pad
                    for kx in 0..<k {
                        let x = ox * s + kx - pad
                        if y >= 0 && y < h && x >= 0 && x < w {
                            let dst = image + (y * w + x) * c
                            for ci in 0..<c { dst[ci] += src[ci] }
                        }
                        src += c
                    }
                }
            }
        }
    }

    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool) {
        let pixels = outputShape.height * outputShape.width
        let cout = outputShape.channels
        let kk = columns
        let isa = KernelISA.active
        weight.value.withUnsafeBufferPointer { w in
            parallelRanges(batch) { worker, images in
                for n in images {
                    let out = output + n * outputShape.count
                    let inp = input + n * inputShape.count
                    if size == 1 && stride == 1 {
                        multiply(m: pixels, n: cout, k: kk, a: inp, aRowStride: kk, aColumnStride: 1, b: w.baseAddress!, ldb: cout, c: out, ldc: cout, isa: isa)
                    } else {
                        let col = workspace.buffer(worker, count: pixels * kk)
                        im2col(inp, into: col)
                        multiply(m: pixels, n: cout, k: kk, a: col, aRowStride: kk, aColumnStride: 1, b: w.baseAddress!, ldb: cout, c: out, ldc: cout, isa: isa)
                    }
                }
            }
        }
        if let bias {
            bias.value.withUnsafeBufferPointer { b in
                addBiasAndActivate(output, rows: batch * pixels, channels: cout, bias: b.baseAddress, activation: activation)
            }
        } else {
            addBiasAndActivate(output, rows: batch * pixels, channels: cout, bias: nil, activation: activation)
        }
    }

    public func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                         gradientOutput: UnsafeMutablePointer<Float>, gradientInput: UnsafeMutablePointer<Float>?,
                         batch: Int) {
        let pixels = outputShape.height * outputShape.width
        let cout = outputShape.channels
        let kk = columns
        let direct = size == 1 && stride == 1
        multiplyByActivationDerivative(gradientOutput, output: output, count: batch * outputShape.count, activation: activation)
        // Each worker accumulates its weight gradient privately; the two are summed at the end.
        let weightCount = weight.count
        let threads = Engine.threadCount
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: weightCount * threads)
        partial.initialize(repeating: 0, count: weightCount * threads)
        defer { partial.deallocate() }
        // ∂col = ∂out · wᵀ, from wᵀ [C_out, k·k·C_in] written out once.
        let transposedWeight = gradientInput == nil ? [] : transposed(weight.value, rows: kk, columns: cout)
        let isa = KernelISA.active
        transposedWeight.withUnsafeBufferPointer { wt in
            parallelRanges(batch, parts: threads) { worker, images in
                let dw = partial + worker * weightCount
                for n in images {
                    let dOut = UnsafePointer(gradientOutput + n * outputShape.count)
                    let inp = input + n * inputShape.count
                    let col: UnsafePointer<Float>
                    if direct { col = inp } else {
                        let buffer = workspace.buffer(worker, count: pixels * kk)
                        im2col(inp, into: buffer)
                        col = UnsafePointer(buffer)
                    }
                    multiply(m: kk, n: cout, k: pixels, a: col, aRowStride: 1, aColumnStride: kk, b: dOut, ldb: cout, c: dw, ldc: cout,
                             accumulate: true, isa: isa)
                    if let gIn = gradientInput {
                        let dIn = gIn + n * inputShape.count
                        if direct {
                            multiply(m: pixels, n: kk, k: cout, a: dOut, aRowStride: cout, aColumnStride: 1, b: wt.baseAddress!, ldb: kk,
                                     c: dIn, ldc: kk, isa: isa)
                        } else {
                            let dCol = gradientWorkspace.buffer(worker, count: pixels * kk)
                            multiply(m: pixels, n: kk, k: cout, a: dOut, aRowStride: cout, aColumnStride: 1, b: wt.baseAddress!, ldb: kk,
                                     c: dCol, ldc: kk, isa: isa)
                            dIn.update(repeating: 0, count: inputShape.count)
                            col2im(dCol, into: dIn)
                        }
                    }
                }
            }
        }
        weight.gradient.withUnsafeMutableBufferPointer { g in
            for worker in 0..<threads {
                let dw = partial + worker * weightCount
                for i in 0..<weightCount { g[i] += dw[i] }
            }
        }
        if let bias { accumulateBiasGradient(bias, gradient: gradientOutput, rows: batch * pixels) }
    }
}

extension Conv2D {
    /// The plain loop the fast path is tested against.
    public static func referenceForward(input: [Float], inputShape: FeatureShape, batch: Int, weight: [Float], bias: [Float]?,
                                        filters: Int, size: Int, stride: Int) -> [Float] {
        let pad = size / 2
        let oh = (inputShape.height + 2 * pad - size) / stride + 1
        let ow = (inputShape.width + 2 * pad - size) / stride + 1
        let c = inputShape.channels
        var out = [Float](repeating: 0, count: batch * oh * ow * filters)
        for n in 0..<batch {
            for oy in 0..<oh { for ox in 0..<ow { for co in 0..<filters {
                var sum: Float = bias?[co] ?? 0
                for ky in 0..<size { for kx in 0..<size {
                    let y = oy * stride + ky - pad, x = ox * stride + kx - pad
                    guard y >= 0, y < inputShape.height, x >= 0, x < inputShape.width else { continue }
                    for ci in 0..<c {
                        sum += input[((n * inputShape.height + y) * inputShape.width + x) * c + ci]
                            * weight[((ky * size + kx) * c + ci) * filters + co]
                    }
                } }
                out[((n * oh + oy) * ow + ox) * filters + co] = sum
            } } }
        }
        return out
    }
}

/// Direct kernels for a convolution with few input channels and output channels in multiples
/// of 16 (the first layer: 3 → 16). As an im2col GEMM its K is only k·k·C_in = 27, a shape
/// OpenBLAS runs slowly (detector-bench's per-layer breakdown shows it); here each output
/// pixel keeps its 16 output channels in one SIMD16 accumulator and adds k·k·C_in
/// broadcast-input x kernel-row products, reading the HWIO kernel rows w[ky, kx, ci, co..co+15] contiguously.
extension Conv2D {
    func directForward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, bias: UnsafePointer<Float>?) {
        let act = activation
        // act(acc + bias) for output channels co..co+15.
        @inline(__always) func finish(_ acc: SIMD16<Float>, _ co: Int) -> SIMD16<Float> {
            act.apply(bias.map { acc + load16($0 + co) } ?? acc)
        }
        // Legend: h, w, c input; oh, ow, f output height, width, channels; k kernel; s stride.
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow, f, k, s, pad) = (outputShape.height, outputShape.width, outputShape.channels, size, stride, padding)
        let imageCount = inputShape.count
        // Interior columns: every tap inside the image on x.
        let interior = interiorColumns(outputWidth: ow, inputWidth: w, size: k, stride: s, padding: pad)
        let (interiorLow, interiorHigh) = (interior.lowerBound, interior.upperBound)
        let isa = KernelISA.active
        weight.value.withUnsafeBufferPointer { kernel in
            let wk = kernel.baseAddress!
            parallelRanges(batch * oh) { _, rows in
                if isa == .avx512 {
                    ck_conv_direct_forward(input, output, wk, bias, act.kernelCode, h, w, c, oh, ow, f, k, s, pad,
                                           interiorLow, interiorHigh, rows.lowerBound, rows.upperBound)
                    return
                }
                for r in rows {
                    let n = r / oh, oy = r % oh
                    let image = input + n * imageCount
                    let yLow = max(0, pad - oy * s), yHigh = min(k, h + pad - oy * s)
                    var ox = 0
                    while ox < ow {
                        if k == 3 && ox >= interiorLow && ox + 4 <= interiorHigh {
                            // Four output pixels at once: four independent accumulator chains
                            // share each kernel-row load.
                            let out = output + ((n * oh + oy) * ow + ox) * f
                            var co = 0
                            while co < f {
                                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                                for ky in yLow..<yHigh {
                                    let src = image + ((oy * s + ky - pad) * w + ox * s - pad) * c
                                    let wRow = wk + ky * k * c * f + co
                                    for t in 0..<(3 * c) {
                                        // Tap t = kx·c + ci; pixel j reads src[j·s·c + t].
                                        let wv = load16(wRow + t * f)
                                        a0 += src[t] * wv
                                        a1 += src[s * c + t] * wv
                                        a2 += src[2 * s * c + t] * wv
                                        a3 += src[3 * s * c + t] * wv
                                    }
                                }
                                store16(finish(a0, co), out + co); store16(finish(a1, co), out + f + co)
                                store16(finish(a2, co), out + 2 * f + co); store16(finish(a3, co), out + 3 * f + co)
                                co += 16
                            }
                            ox += 4
                            continue
                        }
                        let out = output + ((n * oh + oy) * ow + ox) * f
                        var co = 0
                        while co < f {
                            store16(finish(directPixel(image, kernel: wk, oy: oy, ox: ox, co: co), co), out + co)
                            co += 16
                        }
                        ox += 1
                    }
                }
            }
        }
    }

    /// The convolution of one image at output (oy, ox) for channels co..co+15, before bias and
    /// activation, with the taps outside the image left out; summed in the order of the
    /// four-pixel path (ky, then kx and ci), so every output pixel is computed alike.
    @inline(__always)
    func directPixel(_ image: UnsafePointer<Float>, kernel wk: UnsafePointer<Float>, oy: Int, ox: Int, co: Int) -> SIMD16<Float> {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (f, k, s, pad) = (outputShape.channels, size, stride, padding)
        var acc = SIMD16<Float>()
        for ky in max(0, pad - oy * s)..<min(k, h + pad - oy * s) {
            for kx in max(0, pad - ox * s)..<min(k, w + pad - ox * s) {
                let src = image + ((oy * s + ky - pad) * w + ox * s + kx - pad) * c
                let wRow = wk + (ky * k + kx) * c * f + co
                for ci in 0..<c { acc += src[ci] * load16(wRow + ci * f) }
            }
        }
        return acc
    }

    /// ∂w[ky, kx, ci, co] += Σ_{n,oy,ox} in[oy·s + ky − p, ox·s + kx − p, ci] · ∂out[oy, ox, co]:
    /// each worker sums its rows into a private kernel-sized buffer, added at the end.
    func directWeightGradient(input: UnsafePointer<Float>, gradientOutput: UnsafePointer<Float>, batch: Int) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow, f, k, s, pad) = (outputShape.height, outputShape.width, outputShape.channels, size, stride, padding)
        let imageCount = inputShape.count
        let weightCount = weight.count
        let parts = partCount(batch * oh)
        for p in 0..<parts { gradientWorkspace.buffer(p, count: weightCount).update(repeating: 0, count: weightCount) }
        let interior = interiorColumns(outputWidth: ow, inputWidth: w, size: k, stride: s, padding: pad)
        let (interiorLow, interiorHigh) = (interior.lowerBound, interior.upperBound)
        let isa = KernelISA.active
        parallelRanges(batch * oh) { worker, rows in
            let dw = gradientWorkspace.buffer(worker, count: weightCount)
            if isa == .avx512 {
                ck_conv_direct_weight_gradient(input, gradientOutput, dw, h, w, c, oh, ow, f, k, s, pad,
                                               interiorLow, interiorHigh, rows.lowerBound, rows.upperBound)
                return
            }
            for r in rows {
                let n = r / oh, oy = r % oh
                let image = input + n * imageCount
                let yLow = max(0, pad - oy * s), yHigh = min(k, h + pad - oy * s)
                if k == 3 {
                    // Interior columns: for each kernel row and input channel, the three taps
                    // kx = 0, 1, 2 accumulate in registers over the whole row, then once into dw.
                    let gRow = gradientOutput + (n * oh + oy) * ow * f
                    var co = 0
                    while co < f {
                        for ky in yLow..<yHigh {
                            let srcRow = image + (oy * s + ky - pad) * w * c
                            for ci in 0..<c {
                                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>()
                                for ox in interiorLow..<interiorHigh {
                                    let gv = load16(gRow + ox * f + co)
                                    let x = srcRow + (ox * s - pad) * c + ci
                                    a0 += x[0] * gv
                                    a1 += x[c] * gv
                                    a2 += x[2 * c] * gv
                                }
                                let d = dw + (ky * k * c + ci) * f + co
                                store16(load16(d) + a0, d)
                                store16(load16(d + c * f) + a1, d + c * f)
                                store16(load16(d + 2 * c * f) + a2, d + 2 * c * f)
                            }
                        }
                        co += 16
                    }
                }
                for ox in 0..<ow {
                    if k == 3 && ox >= interiorLow && ox < interiorHigh { continue }
                    let g = gradientOutput + ((n * oh + oy) * ow + ox) * f
                    let xLow = max(0, pad - ox * s), xHigh = min(k, w + pad - ox * s)
                    var co = 0
                    while co < f {
                        let gv = load16(g + co)
                        for ky in yLow..<yHigh {
                            for kx in xLow..<xHigh {
                                let src = image + ((oy * s + ky - pad) * w + ox * s + kx - pad) * c
                                let dRow = dw + (ky * k + kx) * c * f + co
                                for ci in 0..<c {
                                    let d = dRow + ci * f
                                    store16(load16(d) + src[ci] * gv, d)
                                }
                            }
                        }
                        co += 16
                    }
                }
            }
        }
        weight.gradient.withUnsafeMutableBufferPointer { gw in
            for p in 0..<parts {
                let dw = gradientWorkspace.buffer(p, count: weightCount)
                for i in 0..<weightCount { gw[i] += dw[i] }
            }
        }
    }
}

/// The output columns of a convolution whose every tap lies inside the image on x (no padding
/// read): with input width w, kernel k, stride s, padding p and ow output columns, column ox
/// reads x = ox·s − p + kx for kx in 0..<k, so it is interior when ox·s − p ≥ 0 and
/// ox·s − p + k − 1 ≤ w − 1, i.e. ⌈p/s⌉ ≤ ox ≤ ⌊(w − k + p)/s⌋, clipped to 0..<ow; empty
/// (at the lower end) when there is none. (Swift's division truncates toward zero, not down,
/// when w − k + p < 0; the range is empty then all the same, since p ≥ 1 makes ⌈p/s⌉ ≥ 1.)
/// The direct and depthwise kernels run these columns without bounds checks on x, in blocks.
@inline(__always)
func interiorColumns(outputWidth ow: Int, inputWidth w: Int, size k: Int, stride s: Int, padding pad: Int) -> Range<Int> {
    let low = min(ow, (pad + s - 1) / s)
    let high = max(low, min(ow, (w - k + pad) / s + 1))
    return low..<high
}
