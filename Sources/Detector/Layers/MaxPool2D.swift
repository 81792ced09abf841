/// Max pooling over k x k windows with stride s. With s > 1 the windows tile the input
/// (output ⌊(H − k)/s⌋ + 1, PyTorch's `MaxPool2d(k, s)`); with s = 1 the output keeps the input
/// size and windows reaching past the bottom or right edge see only the pixels inside
/// (darknet's `maxpool size=2 stride=1`). Forward records which input won each output, and
/// backward routes the gradient there (ties go to the first in row-major window order).
public final class MaxPool2D: Layer {
    public let name: String
    public let inputShape: FeatureShape
    public let outputShape: FeatureShape
    public let size: Int
    public let stride: Int
    /// For each output value, the offset of the winning input value within its image.
    private var winners: [Int32] = []

    public init(name: String, input: FeatureShape, size: Int, stride: Int) {
        self.name = name
        self.inputShape = input
        self.size = size
        self.stride = stride
        if stride == 1 {
            outputShape = input
        } else {
            outputShape = FeatureShape(height: (input.height - size) / stride + 1,
                                       width: (input.width - size) / stride + 1, channels: input.channels)
        }
    }

    public var parameters: [Parameter] { [] }
    public var multiplyAccumulates: Int { 0 }

    /// Windows that tile the input (stride = size) take the SIMD path, which records nothing:
    /// backward finds each window's winner again by comparing the inputs with the output.
    var tiles: Bool { stride == size }

    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool) {
        if tiles { return forwardTiled(input: input, output: output, batch: batch) }
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow, k, s) = (outputShape.height, outputShape.width, size, stride)
        if training && winners.count != batch * outputShape.count {
            winners = [Int32](repeating: 0, count: batch * outputShape.count)
        }
        winners.withUnsafeMutableBufferPointer { winnerBuffer in
            let record = training ? winnerBuffer.baseAddress : nil
            parallelRanges(batch * oh, minimumPerPart: 1) { _, rows in
                for r in rows {
                    let n = r / oh, oy = r % oh
                    let image = input + n * inputShape.count
                    for ox in 0..<ow {
                        let o = ((n * oh + oy) * ow + ox) * c
                        let out = output + o
                        let win = record.map { $0 + o }
                        let y0 = oy * s, x0 = ox * s
                        // Start from the window's top-left value, always inside the image.
                        let first = (y0 * w + x0) * c
                        for ch in 0..<c { out[ch] = image[first + ch]; win?[ch] = Int32(first + ch) }
                        for ky in 0..<k {
                            let y = y0 + ky
                            if y >= h { break }
                            for kx in 0..<k where ky > 0 || kx > 0 {
                                let x = x0 + kx
                                if x >= w { break }
                                let base = (y * w + x) * c
                                if let win {
                                    for ch in 0..<c where image[base + ch] > out[ch] {
                                        out[ch] = image[base + ch]; win[ch] = Int32(base + ch)
                                    }
                                } else {
                                    for ch in 0..<c { out[ch] = max(out[ch], image[base + ch]) }
                                }
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
        guard let gradientInput else { return }
        if tiles { return backwardTiled(input: input, output: output, gradientOutput: gradientOutput, gradientInput: gradientInput, batch: batch) }
        precondition(winners.count == batch * outputShape.count, "\(name): backward without a training forward pass")
        winners.withUnsafeBufferPointer { win in
            parallelRanges(batch) { _, images in
                for n in images {
                    let dIn = gradientInput + n * inputShape.count
                    dIn.update(repeating: 0, count: inputShape.count)
                    let base = n * outputShape.count
                    for i in 0..<outputShape.count { dIn[Int(win[base + i])] += gradientOutput[base + i] }
                }
            }
        }
    }
}

extension MaxPool2D {
    /// out[oy, ox, c] = max over the k x k window at (oy·k, ox·k), 16 channels at a time.
    func forwardTiled(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        let (w, c) = (inputShape.width, inputShape.channels)
        let (oh, ow, k) = (outputShape.height, outputShape.width, size)
        let vectorEnd = c - c % 16
        let imageCount = inputShape.count
        parallelRanges(batch * oh) { _, rows in
            for r in rows {
                let n = r / oh, oy = r % oh
                let image = input + n * imageCount
                for ox in 0..<ow {
                    let out = output + ((n * oh + oy) * ow + ox) * c
                    let corner = image + (oy * k * w + ox * k) * c
                    var ch = 0
                    while ch < vectorEnd {
                        var m = load16(corner + ch)
                        for ky in 0..<k {
                            for kx in 0..<k where ky > 0 || kx > 0 {
                                // A compare and blend: the standard library's pointwiseMax
                                // is a scalar loop here (it honours NaN ordering lane by lane).
                                let v = load16(corner + (ky * w + kx) * c + ch)
                                m.replace(with: v, where: v .> m)
                            }
                        }
                        store16(m, out + ch)
                        ch += 16
                    }
                    while ch < c {
                        var m = corner[ch]
                        for ky in 0..<k { for kx in 0..<k { m = max(m, corner[(ky * w + kx) * c + ch]) } }
                        out[ch] = m
                        ch += 1
                    }
                }
            }
        }
    }

    /// Routes each output's gradient to the first input of its window (row-major order) that
    /// equals the output, the same winner the recorded path picks; every other input gets 0.
    func backwardTiled(input: UnsafePointer<Float>, output: UnsafePointer<Float>, gradientOutput: UnsafePointer<Float>,
                       gradientInput: UnsafeMutablePointer<Float>, batch: Int) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow, k) = (outputShape.height, outputShape.width, size)
        let vectorEnd = c - c % 16
        let imageCount = inputShape.count
        if h % k != 0 || w % k != 0 { gradientInput.update(repeating: 0, count: batch * imageCount) }
        parallelRanges(batch * oh) { _, rows in
            for r in rows {
                let n = r / oh, oy = r % oh
                for ox in 0..<ow {
                    let o = ((n * oh + oy) * ow + ox) * c
                    let base = n * imageCount + (oy * k * w + ox * k) * c
                    let corner = input + base, dCorner = gradientInput + base
                    var ch = 0
                    while ch < vectorEnd {
                        let best = load16(output + o + ch), g = load16(gradientOutput + o + ch)
                        var taken = SIMDMask<SIMD16<Int32>>(repeating: false)
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let offset = (ky * w + kx) * c + ch
                                let hit = (load16(corner + offset) .== best) .& .!taken
                                store16(SIMD16<Float>(repeating: 0).replacing(with: g, where: hit), dCorner + offset)
                                taken = taken .| hit
                            }
                        }
                        ch += 16
                    }
                    while ch < c {
                        var taken = false
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let offset = (ky * w + kx) * c + ch
                                let hit = !taken && corner[offset] == output[o + ch]
                                dCorner[offset] = hit ? gradientOutput[o + ch] : 0
                                taken = taken || hit
                            }
                        }
                        ch += 1
                    }
                }
            }
        }
    }
}

extension MaxPool2D {
    /// The plain loops the fast kernels are tested against: the maximum of each window (clipped
    /// at the bottom and right edges) and, for ∂output, ∂input with each output's gradient on
    /// the first maximal input of its window in row-major order.
    public static func reference(input: [Float], inputShape: FeatureShape, batch: Int, size k: Int, stride s: Int,
                                 gradientOutput: [Float]) -> (output: [Float], gradientInput: [Float]) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let oh = s == 1 ? h : (h - k) / s + 1, ow = s == 1 ? w : (w - k) / s + 1
        var out = [Float](repeating: 0, count: batch * oh * ow * c)
        var dIn = [Float](repeating: 0, count: input.count)
        for n in 0..<batch { for oy in 0..<oh { for ox in 0..<ow { for ch in 0..<c {
            var best = -Float.infinity, winner = -1
            for ky in 0..<k { for kx in 0..<k {
                let y = oy * s + ky, x = ox * s + kx
                guard y < h, x < w else { continue }
                let i = ((n * h + y) * w + x) * c + ch
                if input[i] > best { best = input[i]; winner = i }
            } }
            let o = ((n * oh + oy) * ow + ox) * c + ch
            out[o] = best
            dIn[winner] += gradientOutput[o]
        } } } }
        return (out, dIn)
    }
}
