import CKernels

/// A depthwise k x k convolution (one filter per channel, MobileNet's), stride s, same padding
/// p = k / 2, no bias (a batch norm follows). Kernel layout `weight[ky, kx, c]` (HWC, i.e.
/// PyTorch's [C, 1, k, k] transposed):
///
///     out[oy, ox, c] = Σ_{ky,kx} in[oy·s + ky − p, ox·s + kx − p, c] · w[ky, kx, c]
///     ∂w[ky, kx, c] += Σ_{n,oy,ox} ∂out[oy, ox, c] · in[oy·s + ky − p, ox·s + kx − p, c]
///     ∂in[y, x, c]   = Σ_{ky,kx: (y + p − ky) = oy·s, (x + p − kx) = ox·s} ∂out[oy, ox, c] · w[ky, kx, c]
///
/// NHWC makes the innermost loop run across channels, contiguous in memory for input, output
/// and kernel alike: the fast kernels accumulate 16 channels at a time in a `SIMD16<Float>`.
/// The input gradient is gathered (each input pixel sums its ≤ k² outputs), so rows can be
/// split between the cores without two workers writing the same value.
public final class DepthwiseConv2D: Layer {
    public let name: String
    public let inputShape: FeatureShape
    public let outputShape: FeatureShape
    public let size: Int
    public let stride: Int
    public let padding: Int
    public let weight: Parameter
    private let partialGradients = Workspace()

    public init(name: String, input: FeatureShape, size: Int, stride: Int) {
        self.name = name
        self.inputShape = input
        self.size = size
        self.stride = stride
        self.padding = size / 2
        outputShape = FeatureShape(height: (input.height + 2 * padding - size) / stride + 1,
                                   width: (input.width + 2 * padding - size) / stride + 1,
                                   channels: input.channels)
        weight = Parameter(name: "\(name).weight", shape: [size, size, input.channels],
                           value: [Float](repeating: 0, count: size * size * input.channels))
    }

    public var parameters: [Parameter] { [weight] }
    public var multiplyAccumulates: Int { outputShape.count * size * size }

    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool) {
        // Legend: h, w, c input height, width, channels; oh, ow output; k kernel; s stride.
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow, k, s, pad) = (outputShape.height, outputShape.width, size, stride, padding)
        let imageCount = inputShape.count
        let vectorEnd = c - c % 16
        // Interior columns (every tap inside on x), four pixels at a time: four independent
        // accumulator chains instead of one, the same sums in the same order (ky, then kx) as
        // the single-pixel loop below.
        let interior = interiorColumns(outputWidth: ow, inputWidth: w, size: k, stride: s, padding: pad)
        let (interiorLow, interiorHigh) = (interior.lowerBound, interior.upperBound)
        let isa = KernelISA.active
        weight.value.withUnsafeBufferPointer { kernel in
            let wk = kernel.baseAddress!
            parallelRanges(batch * oh, minimumPerPart: 1) { _, rows in
                if isa == .avx512 {
                    ck_depthwise_forward(input, output, wk, h, w, c, oh, ow, k, s, pad, interiorLow, interiorHigh,
                                         rows.lowerBound, rows.upperBound)
                    return
                }
                for r in rows {
                    let n = r / oh, oy = r % oh
                    let image = input + n * imageCount
                    let yLow = max(0, pad - oy * s), yHigh = min(k, h + pad - oy * s)
                    var ox = 0
                    while ox < ow {
                        if ox >= interiorLow && ox + 4 <= interiorHigh && vectorEnd == c {
                            let out = output + ((n * oh + oy) * ow + ox) * c
                            var ch = 0
                            while ch < c {
                                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                                for ky in yLow..<yHigh {
                                    let row = image + ((oy * s + ky - pad) * w + ox * s - pad) * c + ch
                                    let wRow = wk + ky * k * c + ch
                                    for kx in 0..<k {
                                        let wv = load16(wRow + kx * c)
                                        a0 += load16(row + kx * c) * wv
                                        a1 += load16(row + (s + kx) * c) * wv
                                        a2 += load16(row + (2 * s + kx) * c) * wv
                                        a3 += load16(row + (3 * s + kx) * c) * wv
                                    }
                                }
                                store16(a0, out + ch); store16(a1, out + c + ch)
                                store16(a2, out + 2 * c + ch); store16(a3, out + 3 * c + ch)
                                ch += 16
                            }
                            ox += 4
                            continue
                        }
                        defer { ox += 1 }
                        let out = output + ((n * oh + oy) * ow + ox) * c
                        let xLow = max(0, pad - ox * s), xHigh = min(k, w + pad - ox * s)
                        var ch = 0
                        while ch < vectorEnd {
                            var acc = SIMD16<Float>()
                            for ky in yLow..<yHigh {
                                let row = image + ((oy * s + ky - pad) * w + ox * s - pad) * c + ch
                                let wRow = wk + ky * k * c + ch
                                for kx in xLow..<xHigh {
                                    acc += load16(row + kx * c) * load16(wRow + kx * c)
                                }
                            }
                            store16(acc, out + ch)
                            ch += 16
                        }
                        while ch < c {
                            var acc: Float = 0
                            for ky in yLow..<yHigh {
                                for kx in xLow..<xHigh {
                                    acc += image[((oy * s + ky - pad) * w + ox * s + kx - pad) * c + ch] * wk[(ky * k + kx) * c + ch]
                                }
                            }
                            out[ch] = acc
                            ch += 1
                        }
                    }
                }
            }
        }
    }

    public func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                         gradientOutput: UnsafeMutablePointer<Float>, gradientInput: UnsafeMutablePointer<Float>?,
                         batch: Int) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow, k, s, pad) = (outputShape.height, outputShape.width, size, stride, padding)
        let imageCount = inputShape.count
        let vectorEnd = c - c % 16
        let weightCount = weight.count
        let dOut = UnsafePointer(gradientOutput)
        // ∂w: each worker sums its rows into a private k·k·c buffer; the buffers are added at the end.
        let parts = partCount(batch * oh)
        for p in 0..<parts { partialGradients.buffer(p, count: weightCount).update(repeating: 0, count: weightCount) }
        // Interior columns (every tap inside on x): on AVX2 for k = 3 only, where the three taps
        // of a kernel row accumulate in registers over the whole row, then once into dw.
        let interior = interiorColumns(outputWidth: ow, inputWidth: w, size: k, stride: s, padding: pad)
        let isa = KernelISA.active
        parallelRanges(batch * oh) { worker, rows in
            let dw = partialGradients.buffer(worker, count: weightCount)
            if isa == .avx512 {
                ck_depthwise_weight_gradient(input, dOut, dw, h, w, c, oh, ow, k, s, pad, interior.lowerBound, interior.upperBound,
                                             rows.lowerBound, rows.upperBound)
                return
            }
            let interiorLow = interior.lowerBound
            let interiorHigh = k == 3 ? interior.upperBound : interiorLow
            for r in rows {
                let n = r / oh, oy = r % oh
                let image = input + n * imageCount
                let yLow = max(0, pad - oy * s), yHigh = min(k, h + pad - oy * s)
                if interiorHigh > interiorLow {
                    let gRow = dOut + (n * oh + oy) * ow * c
                    for ky in yLow..<yHigh {
                        let srcRow = image + (oy * s + ky - pad) * w * c
                        let dwRow = dw + ky * k * c
                        var ch = 0
                        while ch < vectorEnd {
                            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>()
                            for ox in interiorLow..<interiorHigh {
                                let gv = load16(gRow + ox * c + ch)
                                let x = srcRow + (ox * s - pad) * c + ch
                                a0 += gv * load16(x)
                                a1 += gv * load16(x + c)
                                a2 += gv * load16(x + 2 * c)
                            }
                            store16(load16(dwRow + ch) + a0, dwRow + ch)
                            store16(load16(dwRow + c + ch) + a1, dwRow + c + ch)
                            store16(load16(dwRow + 2 * c + ch) + a2, dwRow + 2 * c + ch)
                            ch += 16
                        }
                        while ch < c {
                            var a0: Float = 0, a1: Float = 0, a2: Float = 0
                            for ox in interiorLow..<interiorHigh {
                                let gv = gRow[ox * c + ch]
                                let x = srcRow + (ox * s - pad) * c + ch
                                a0 += gv * x[0]; a1 += gv * x[c]; a2 += gv * x[2 * c]
                            }
                            dwRow[ch] += a0; dwRow[c + ch] += a1; dwRow[2 * c + ch] += a2
                            ch += 1
                        }
                    }
                }
                for ox in 0..<ow {
                    if ox >= interiorLow && ox < interiorHigh { continue }
                    let g = dOut + ((n * oh + oy) * ow + ox) * c
                    let xLow = max(0, pad - ox * s), xHigh = min(k, w + pad - ox * s)
                    for ky in yLow..<yHigh {
                        let row = image + ((oy * s + ky - pad) * w + ox * s - pad) * c
                        let dwRow = dw + ky * k * c
                        for kx in xLow..<xHigh {
                            let src = row + kx * c, dst = dwRow + kx * c
                            var ch = 0
                            while ch < vectorEnd {
                                store16(load16(dst + ch) + load16(g + ch) * load16(src + ch), dst + ch)
                                ch += 16
                            }
                            while ch < c { dst[ch] += g[ch] * src[ch]; ch += 1 }
                        }
                    }
                }
            }
        }
        weight.gradient.withUnsafeMutableBufferPointer { gw in
            for p in 0..<parts {
                let dw = partialGradients.buffer(p, count: weightCount)
                for i in 0..<weightCount { gw[i] += dw[i] }
            }
        }
        guard let gradientInput else { return }
        // ∂in, gathered: input pixel (y, x) receives from output (oy, ox) through tap
        // (ky, kx) = (y + p − oy·s, x + p − ox·s) when that lies inside the kernel.
        weight.value.withUnsafeBufferPointer { kernel in
            let wk = kernel.baseAddress!
            parallelRanges(batch * h) { _, rows in
                if isa == .avx512 && s == 1 {
                    ck_depthwise_input_gradient_stride1(dOut, gradientInput, wk, h, w, c, oh, ow, k, pad, rows.lowerBound, rows.upperBound)
                    return
                }
                for r in rows {
                    let n = r / h, y = r % h
                    let gImage = dOut + n * oh * ow * c
                    if s == 1 {
                        // Stride 1: output (oy, ox) = (y + p − ky, x + p − kx), valid for
                        // ky in kyLow...kyHigh and kx in kxLow...kxHigh; the sum stays in
                        // registers and is stored once.
                        let kyLow = max(0, y + pad - (oh - 1)), kyHigh = min(k - 1, y + pad)
                        for x in 0..<w {
                            let dst = gradientInput + n * imageCount + (y * w + x) * c
                            let kxLow = max(0, x + pad - (ow - 1)), kxHigh = min(k - 1, x + pad)
                            var ch = 0
                            while ch < vectorEnd {
                                var acc = SIMD16<Float>()
                                if kyLow <= kyHigh && kxLow <= kxHigh {
                                    for ky in kyLow...kyHigh {
                                        let gRow = gImage + ((y + pad - ky) * ow + x + pad) * c + ch
                                        let wRow = wk + ky * k * c + ch
                                        for kx in kxLow...kxHigh { acc += load16(gRow - kx * c) * load16(wRow + kx * c) }
                                    }
                                }
                                store16(acc, dst + ch)
                                ch += 16
                            }
                            while ch < c {
                                var acc: Float = 0
                                if kyLow <= kyHigh && kxLow <= kxHigh {
                                    for ky in kyLow...kyHigh {
                                        for kx in kxLow...kxHigh {
                                            acc += gImage[((y + pad - ky) * ow + x + pad - kx) * c + ch] * wk[(ky * k + kx) * c + ch]
                                        }
                                    }
                                }
                                dst[ch] = acc
                                ch += 1
                            }
                        }
                        continue
                    }
                    for x in 0..<w {
                        let dst = gradientInput + n * imageCount + (y * w + x) * c
                        var ch = 0
                        while ch < vectorEnd { store16(SIMD16<Float>(), dst + ch); ch += 16 }
                        while ch < c { dst[ch] = 0; ch += 1 }
                        for ky in 0..<k {
                            let t = y + pad - ky
                            // Stride 2 without integer division (it would cost more than the
                            // taps themselves).
                            if t < 0 || (s == 2 ? t & 1 != 0 : t % s != 0) { continue }
                            let oy = s == 2 ? t >> 1 : t / s
                            if oy >= oh { continue }
                            for kx in 0..<k {
                                let u = x + pad - kx
                                if u < 0 || (s == 2 ? u & 1 != 0 : u % s != 0) { continue }
                                let ox = s == 2 ? u >> 1 : u / s
                                if ox >= ow { continue }
                                let g = gImage + (oy * ow + ox) * c
                                let wt = wk + (ky * k + kx) * c
                                var ch = 0
                                while ch < vectorEnd {
                                    store16(load16(dst + ch) + load16(g + ch) * load16(wt + ch), dst + ch)
                                    ch += 16
                                }
                                while ch < c { dst[ch] += g[ch] * wt[ch]; ch += 1 }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension DepthwiseConv2D {
    /// The plain loop the fast kernel is tested against (forward).
    public static func referenceForward(input: [Float], inputShape: FeatureShape, batch: Int, weight: [Float],
                                        size: Int, stride: Int) -> [Float] {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let pad = size / 2
        let oh = (h + 2 * pad - size) / stride + 1, ow = (w + 2 * pad - size) / stride + 1
        var out = [Float](repeating: 0, count: batch * oh * ow * c)
        for n in 0..<batch { for oy in 0..<oh { for ox in 0..<ow { for ch in 0..<c {
            var sum: Float = 0
            for ky in 0..<size { for kx in 0..<size {
                let y = oy * stride + ky - pad, x = ox * stride + kx - pad
                guard y >= 0, y < h, x >= 0, x < w else { continue }
                sum += input[((n * h + y) * w + x) * c + ch] * weight[(ky * size + kx) * c + ch]
            } }
            out[((n * oh + oy) * ow + ox) * c + ch] = sum
        } } } }
        return out
    }

    /// The plain loop the fast kernel is tested against (backward): returns (∂input, ∂weight)
    /// for ∂output, by scattering each output's gradient over its window.
    public static func referenceBackward(input: [Float], inputShape: FeatureShape, batch: Int, weight: [Float],
                                         size: Int, stride: Int, gradientOutput: [Float]) -> (input: [Float], weight: [Float]) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let pad = size / 2
        let oh = (h + 2 * pad - size) / stride + 1, ow = (w + 2 * pad - size) / stride + 1
        var dIn = [Float](repeating: 0, count: input.count), dW = [Float](repeating: 0, count: weight.count)
        for n in 0..<batch { for oy in 0..<oh { for ox in 0..<ow { for ch in 0..<c {
            let g = gradientOutput[((n * oh + oy) * ow + ox) * c + ch]
            for ky in 0..<size { for kx in 0..<size {
                let y = oy * stride + ky - pad, x = ox * stride + kx - pad
                guard y >= 0, y < h, x >= 0, x < w else { continue }
                let i = ((n * h + y) * w + x) * c + ch, j = (ky * size + kx) * c + ch
                dIn[i] += g * weight[j]
                dW[j] += g * input[i]
            } }
        } } } }
        return (dIn, dW)
    }
}
