import CKernels

/// Inference only: a 3x3 stride-1 convolution with few input channels (the network's first
/// layer, batch norm folded in: bias and activation) and the 2x2/2 max pool after it, in one
/// pass. Each pooled output takes the four convolution outputs of its window into four
/// register accumulators and stores only their maximum, so the full-size activation (16 MB
/// per 256 x 256 image for 16 filters) is never written or read back.
///
///     out[py, px, co] = act(max_{dy,dx ∈ {0,1}} conv[2py + dy, 2px + dx, co] + b[co])
///
/// which equals pooling act(conv + b) because adding b and every activation here are
/// non-decreasing. The sums are taken in the order of `Conv2D`'s direct kernel, so the
/// result is that of `DirectConv2D` then `MaxPool2D` (the tests compare).
final class ConvMaxPool: InferenceStep {
    let conv: Conv2D
    let pool: MaxPool2D
    let name: String
    var inputShape: FeatureShape { conv.inputShape }
    var outputShape: FeatureShape { pool.outputShape }
    var parameters: [Parameter] { conv.parameters }
    var multiplyAccumulates: Int { conv.multiplyAccumulates }

    static func canFuse(_ conv: Conv2D, _ pool: MaxPool2D) -> Bool {
        let s = conv.outputShape
        return DirectConv2D.applies(to: conv) && conv.size == 3 && conv.stride == 1 && pool.size == 2 && pool.stride == 2
            && pool.inputShape == s && s.height % 2 == 0 && s.width % 2 == 0
    }

    init(_ conv: Conv2D, _ pool: MaxPool2D) {
        precondition(Self.canFuse(conv, pool), "\(conv.name) and \(pool.name) cannot be fused")
        self.conv = conv
        self.pool = pool
        name = fusedStepName(conv.name, pool.name)
    }

    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (ph, pw, f) = (outputShape.height, outputShape.width, outputShape.channels)
        let act = conv.activation
        let biasValues = conv.bias?.value ?? [Float](repeating: 0, count: f)
        let imageCount = inputShape.count
        let isa = KernelISA.active
        conv.weight.value.withUnsafeBufferPointer { kernel in biasValues.withUnsafeBufferPointer { bias in
            let wk = kernel.baseAddress!, bk = bias.baseAddress!
            @inline(__always) func maximum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: b .> a) }
            parallelRanges(batch * ph) { _, rows in
                if isa == .avx512 {
                    ck_conv_maxpool_forward(input, output, wk, bk, act.kernelCode, h, w, c, ph, pw, f, rows.lowerBound, rows.upperBound)
                    return
                }
                for r in rows {
                    let n = r / ph, py = r % ph
                    let image = input + n * imageCount
                    let top = 2 * py
                    let rowsInside = top >= 1 && top + 2 < h
                    for px in 0..<pw {
                        let left = 2 * px
                        let out = output + ((n * ph + py) * pw + px) * f
                        var co = 0
                        while co < f {
                            var a00 = SIMD16<Float>(), a01 = SIMD16<Float>(), a10 = SIMD16<Float>(), a11 = SIMD16<Float>()
                            if rowsInside && left >= 1 && left + 2 < w {
                                // The window's four outputs: two rows, two columns, every tap inside.
                                for ky in 0..<3 {
                                    let src0 = image + ((top + ky - 1) * w + left - 1) * c
                                    let src1 = src0 + w * c
                                    let wRow = wk + ky * 3 * c * f + co
                                    for t in 0..<(3 * c) {
                                        let wv = load16(wRow + t * f)
                                        a00 += src0[t] * wv
                                        a01 += src0[c + t] * wv
                                        a10 += src1[t] * wv
                                        a11 += src1[c + t] * wv
                                    }
                                }
                            } else {
                                a00 = conv.directPixel(image, kernel: wk, oy: top, ox: left, co: co)
                                a01 = conv.directPixel(image, kernel: wk, oy: top, ox: left + 1, co: co)
                                a10 = conv.directPixel(image, kernel: wk, oy: top + 1, ox: left, co: co)
                                a11 = conv.directPixel(image, kernel: wk, oy: top + 1, ox: left + 1, co: co)
                            }
                            let m = maximum(maximum(a00, a01), maximum(a10, a11))
                            store16(act.apply(m + load16(bk + co)), out + co)
                            co += 16
                        }
                    }
                }
            }
        } }
    }
}
