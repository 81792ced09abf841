/// The shape of one image's activation, NHWC without the N.
public struct FeatureShape: Hashable, Sendable, CustomStringConvertible {
    public var height: Int
    public var width: Int
    public var channels: Int
    public init(height: Int, width: Int, channels: Int) {
        self.height = height; self.width = width; self.channels = channels
    }
    /// Values per image.
    public var count: Int { height * width * channels }
    public var description: String { "\(height)x\(width)x\(channels)" }
}

/// One step of inference: reads one input buffer, writes one output buffer, and has no
/// backward pass. Every `Layer` is one (its inference is `forward(training: false)`); the
/// steps that exist only for inference (`ConvMaxPool`, `PointwiseMaxPool`, which never
/// store what a backward pass would need) are nothing more, so an `InferenceNetwork` can hold
/// them and a training `Network`, which holds only `Layer`s, cannot.
///
/// Buffers are the network's: a batch of `batch` images, NHWC, contiguous.
public protocol InferenceStep: AnyObject {
    var name: String { get }
    var inputShape: FeatureShape { get }
    var outputShape: FeatureShape { get }
    var parameters: [Parameter] { get }
    /// Multiply-accumulates per image of the forward pass (FLOPs are twice this).
    var multiplyAccumulates: Int { get }
    /// The inference forward pass (batch norm from its running statistics, nothing recorded
    /// for a backward pass): reads `input`, writes `output`.
    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int)
}

/// One trainable step of the network's computation, with its forward and backward pass.
///
/// `forward` reads `input` and writes `output`. `backward` reads the same `input` and `output`
/// (which the network keeps from the forward pass), the gradient of the loss with respect to
/// `output`, *accumulates* into its parameters' gradients, and, when `gradientInput` is not
/// nil, writes (overwrites) the gradient with respect to `input`. Backward may overwrite
/// `gradientOutput` (it is the network's scratch: the activation derivative is applied in place).
///
/// Naming: parameters are called `layers.<config index>.<part>.<tensor>`, e.g.
/// `layers.2.depthwise.weight`, `layers.2.bn.running_var`, `layers.11.conv.bias`; these are
/// the safetensors tensor names.
public protocol Layer: InferenceStep {
    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool)
    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  gradientOutput: UnsafeMutablePointer<Float>, gradientInput: UnsafeMutablePointer<Float>?,
                  batch: Int)
}

extension Layer {
    /// A layer's inference is its forward pass in inference mode.
    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        forward(input: input, output: output, batch: batch, training: false)
    }
}

/// The name of a fused step: "layers.0.bn" and "layers.1.maxpool" give "layers.0.bn+1.maxpool".
func fusedStepName(_ first: String, _ second: String) -> String {
    first + "+" + second.split(separator: ".").dropFirst().joined(separator: ".")
}

/// ∂b += Σ over rows of the gradient (per channel).
func accumulateBiasGradient(_ bias: Parameter, gradient: UnsafePointer<Float>, rows: Int) {
    let c = bias.count
    bias.gradient.withUnsafeMutableBufferPointer { g in
        var block = [Float](repeating: 0, count: c)
        var r = 0
        while r < rows {
            let end = min(r + 256, rows)
            for ch in 0..<c { block[ch] = 0 }
            for row in r..<end { let d = gradient + row * c; for ch in 0..<c { block[ch] += d[ch] } }
            for ch in 0..<c { g[ch] += block[ch] }
            r = end
        }
    }
}
