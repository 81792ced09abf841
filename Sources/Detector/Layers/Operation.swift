import Dispatch

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

/// One step of the network's computation, with its forward and backward pass.
///
/// Buffers are the network's: a batch of `batch` images, NHWC, contiguous. `forward` reads
/// `input` and writes `output`. `backward` reads the same `input` and `output` (which the
/// network keeps from the forward pass), the gradient of the loss with respect to `output`,
/// *accumulates* into its parameters' gradients, and, when `gradientInput` is not nil,
/// writes (overwrites) the gradient with respect to `input`.
public protocol Operation: AnyObject {
    var name: String { get }
    var inputShape: FeatureShape { get }
    var outputShape: FeatureShape { get }
    var parameters: [Parameter] { get }
    /// Multiply-accumulates per image of the forward pass (FLOPs are twice this).
    var multiplyAccumulates: Int { get }
    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool)
    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  gradientOutput: UnsafeMutablePointer<Float>, gradientInput: UnsafeMutablePointer<Float>?,
                  batch: Int)
}

/// Point-wise nonlinearities. Each derivative is computed from the activation's *output*, so
/// backward does not need the pre-activation values: leaky and relu are positive exactly where
/// their input is, relu6 is in (0, 6) exactly where its slope is 1.
public enum Activation: String, Codable, Sendable, CaseIterable {
    case leaky, relu, relu6, linear

    /// Slope of leaky ReLU for negative inputs (darknet's 0.1).
    public static let leakySlope: Float = 0.1

    @inline(__always)
    public func apply(_ x: Float) -> Float {
        switch self {
        case .leaky: return x > 0 ? x : Activation.leakySlope * x
        case .relu: return max(x, 0)
        case .relu6: return min(max(x, 0), 6)
        case .linear: return x
        }
    }

    /// dy/dx as a function of y = apply(x).
    @inline(__always)
    public func derivative(output y: Float) -> Float {
        switch self {
        case .leaky: return y > 0 ? 1 : Activation.leakySlope
        case .relu: return y > 0 ? 1 : 0
        case .relu6: return (y > 0 && y < 6) ? 1 : 0
        case .linear: return 1
        }
    }
}

/// Runs `body(chunk)` for chunks 0..<count on both cores (or serially for a single chunk).
@inline(__always)
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 {
        for i in 0..<count { body(i) }
    } else {
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
}

/// Splits 0..<total into at most `parts` contiguous ranges (each at least `minimumPerPart`
/// long) and runs `body(worker, range)` for them in parallel; `worker` numbers the ranges
/// from 0, so a worker can own a private workspace or partial sum.
@inline(__always)
func parallelRanges(_ total: Int, parts: Int = engineThreads, minimumPerPart: Int = 1,
                    _ body: (_ worker: Int, _ range: Range<Int>) -> Void) {
    let n = partCount(total, parts: parts, minimumPerPart: minimumPerPart)
    if n <= 1 { body(0, 0..<total); return }
    parallelFor(n) { p in
        let lo = total * p / n, hi = total * (p + 1) / n
        if lo < hi { body(p, lo..<hi) }
    }
}

/// How many ranges `parallelRanges` uses for these arguments.
@inline(__always)
func partCount(_ total: Int, parts: Int = engineThreads, minimumPerPart: Int = 1) -> Int {
    max(1, min(parts, total / max(minimumPerPart, 1)))
}

/// Number of workers used by the engine's own parallel loops.
let engineThreads = 2

/// y ← act(y + b) over `rows` rows of `channels` values (b optional), both cores.
func addBiasAndActivate(_ values: UnsafeMutablePointer<Float>, rows: Int, channels c: Int,
                        bias: UnsafePointer<Float>?, activation act: Activation) {
    if bias == nil && act == .linear { return }
    parallelRanges(rows, minimumPerPart: 256) { _, range in
        for row in range {
            let y = values + row * c
            if let b = bias { for ch in 0..<c { y[ch] += b[ch] } }
            switch act {
            case .leaky: for ch in 0..<c { y[ch] = y[ch] > 0 ? y[ch] : Activation.leakySlope * y[ch] }
            case .relu: for ch in 0..<c { y[ch] = max(y[ch], 0) }
            case .relu6: for ch in 0..<c { y[ch] = min(max(y[ch], 0), 6) }
            case .linear: break
            }
        }
    }
}

/// ∂L/∂u ← ∂L/∂y · act'(y) in place, for y = act(u).
func multiplyByActivationDerivative(_ gradient: UnsafeMutablePointer<Float>, output: UnsafePointer<Float>,
                                    count: Int, activation act: Activation) {
    if act == .linear { return }
    parallelRanges(count, minimumPerPart: 4096) { _, range in
        for i in range { gradient[i] *= act.derivative(output: output[i]) }
    }
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
