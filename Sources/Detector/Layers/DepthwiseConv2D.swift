/// A depthwise k x k convolution (one filter per channel, MobileNet's), stride s, same padding
/// p = k / 2, no bias (a batch norm follows). Kernel layout `weight[ky, kx, c]`:
///
///     out[oy, ox, c] = Σ_{ky,kx} in[oy·s + ky − p, ox·s + kx − p, c] · w[ky, kx, c]
///
/// NHWC makes the innermost loop run across channels, contiguous in memory for input, output
/// and kernel alike, so it vectorises.
public final class DepthwiseConv2D: Layer {
    public let name: String
    public let inputShape: FeatureShape
    public let outputShape: FeatureShape
    public let size: Int
    public let stride: Int
    public let padding: Int
    public let weight: Parameter

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
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow, k, s, pad) = (outputShape.height, outputShape.width, size, stride, padding)
        weight.value.withUnsafeBufferPointer { kernel in
            let wk = kernel.baseAddress!
            parallelRanges(batch * oh, parts: engineThreads) { _, rows in
                for r in rows {
                    let n = r / oh, oy = r % oh
                    let image = input + n * inputShape.count
                    for ox in 0..<ow {
                        let out = output + ((n * oh + oy) * ow + ox) * c
                        out.update(repeating: 0, count: c)
                        for ky in 0..<k {
                            let y = oy * s + ky - pad
                            if y < 0 || y >= h { continue }
                            for kx in 0..<k {
                                let x = ox * s + kx - pad
                                if x < 0 || x >= w { continue }
                                let src = image + (y * w + x) * c
                                let wt = wk + (ky * k + kx) * c
                                for ch in 0..<c { out[ch] += src[ch] * wt[ch] }
                            }
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
        let weightCount = weight.count
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: weightCount * engineThreads)
        partial.initialize(repeating: 0, count: weightCount * engineThreads)
        defer { partial.deallocate() }
        weight.value.withUnsafeBufferPointer { kernel in
            let wk = kernel.baseAddress!
            // Parallel over images: each worker owns whole images of the input gradient, so the
            // scatter of overlapping windows never races.
            parallelRanges(batch, parts: engineThreads) { worker, images in
                let dw = partial + worker * weightCount
                for n in images {
                    let image = input + n * inputShape.count
                    let dIn = gradientInput.map { $0 + n * inputShape.count }
                    dIn?.update(repeating: 0, count: inputShape.count)
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let dOut = gradientOutput + ((n * oh + oy) * ow + ox) * c
                            for ky in 0..<k {
                                let y = oy * s + ky - pad
                                if y < 0 || y >= h { continue }
                                for kx in 0..<k {
                                    let x = ox * s + kx - pad
                                    if x < 0 || x >= w { continue }
                                    let offset = (y * w + x) * c
                                    let src = image + offset
                                    let dwt = dw + (ky * k + kx) * c
                                    for ch in 0..<c { dwt[ch] += dOut[ch] * src[ch] }
                                    if let dIn {
                                        let dst = dIn + offset
                                        let wt = wk + (ky * k + kx) * c
                                        for ch in 0..<c { dst[ch] += dOut[ch] * wt[ch] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        weight.gradient.withUnsafeMutableBufferPointer { g in
            for worker in 0..<engineThreads {
                let dw = partial + worker * weightCount
                for i in 0..<weightCount { g[i] += dw[i] }
            }
        }
    }
}
