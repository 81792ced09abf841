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

/// y ← act(y + b) over `rows` rows of `channels` values (b optional), on the engine's threads.
func addBiasAndActivate(_ values: UnsafeMutablePointer<Float>, rows: Int, channels c: Int,
                        bias: UnsafePointer<Float>?, activation act: Activation) {
    if bias == nil && act == .linear { return }
    parallelRanges(rows, minimumPerPart: 256) { _, range in
        addBiasAndActivate(values, rows: range, channels: c, bias: bias, activation: act)
    }
}

/// The same on the rows `range` only (and of them the channels `columns`, all by default), on
/// the calling thread (for a worker finishing the block it has just computed, while it is in
/// its cache). With c a multiple of 16, `columns` must start and end on multiples of 16 too.
func addBiasAndActivate(_ values: UnsafeMutablePointer<Float>, rows range: Range<Int>, columns: Range<Int>? = nil,
                        channels c: Int, bias: UnsafePointer<Float>?, activation act: Activation) {
    if bias == nil && act == .linear { return }
    let columns = columns ?? 0..<c
    if c % 16 == 0 {
        precondition(columns.lowerBound % 16 == 0 && columns.upperBound % 16 == 0, "column blocks of 16")
        for row in range {
            let y = values + row * c
            var ch = columns.lowerBound
            while ch < columns.upperBound {
                var v = load16(y + ch)
                if let b = bias { v += load16(b + ch) }
                store16(act.apply(v), y + ch)
                ch += 16
            }
        }
        return
    }
    for row in range {
        let y = values + row * c
        if let b = bias { for ch in columns { y[ch] += b[ch] } }
        switch act {
        case .leaky: for ch in columns { y[ch] = y[ch] > 0 ? y[ch] : Activation.leakySlope * y[ch] }
        case .relu: for ch in columns { y[ch] = max(y[ch], 0) }
        case .relu6: for ch in columns { y[ch] = min(max(y[ch], 0), 6) }
        case .linear: break
        }
    }
}

extension Activation {
    /// The activation on 16 values (the same results as the scalar one).
    @inline(__always)
    func apply(_ u: SIMD16<Float>) -> SIMD16<Float> {
        switch self {
        case .leaky: return (u * Activation.leakySlope).replacing(with: u, where: u .> 0)
        case .relu: return SIMD16<Float>(repeating: 0).replacing(with: u, where: u .> 0)
        case .relu6:
            let low = SIMD16<Float>(repeating: 0).replacing(with: u, where: u .> 0)
            return low.replacing(with: SIMD16<Float>(repeating: 6), where: low .> 6)
        case .linear: return u
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

/// An activation on its own (after a convolution without batch norm), with the bias of that
/// convolution already added.
public final class ActivationLayer: Layer {
    public let name: String
    public let inputShape: FeatureShape
    public var outputShape: FeatureShape { inputShape }
    public let activation: Activation
    public var parameters: [Parameter] { [] }
    public var multiplyAccumulates: Int { 0 }

    public init(name: String, input: FeatureShape, activation: Activation) {
        self.name = name; self.inputShape = input; self.activation = activation
    }

    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool) {
        let count = batch * inputShape.count, act = activation
        parallelRanges(count, minimumPerPart: 4096) { _, range in
            for i in range { output[i] = act.apply(input[i]) }
        }
    }

    public func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                         gradientOutput: UnsafeMutablePointer<Float>, gradientInput: UnsafeMutablePointer<Float>?,
                         batch: Int) {
        guard let gradientInput else { return }
        let count = batch * inputShape.count, act = activation
        parallelRanges(count, minimumPerPart: 4096) { _, range in
            for i in range { gradientInput[i] = gradientOutput[i] * act.derivative(output: output[i]) }
        }
    }
}
