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

    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool) {
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
