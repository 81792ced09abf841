/// Adam (Kingma & Ba 2015), as PyTorch's `torch.optim.Adam`:
///
///     m ← β₁ m + (1 − β₁) g        v ← β₂ v + (1 − β₂) g²
///     θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
///
/// with optional L2 weight decay (g ← g + λ θ, PyTorch's `weight_decay`) on convolution kernels
/// only (names ending in `.weight`; never biases or batch norm), and optional clipping of the
/// global gradient norm before the step. Non-trainable parameters (running statistics) are
/// never touched.
public final class Adam {
    public let parameters: [Parameter]
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float = 0
    /// Clip the global L2 norm of all gradients to this before the step; nil: no clipping.
    public var maximumGradientNorm: Float? = nil
    /// Steps taken.
    public private(set) var stepCount = 0
    /// First and second moments, by parameter name.
    public private(set) var firstMoments: [String: [Float]] = [:]
    public private(set) var secondMoments: [String: [Float]] = [:]

    public init(parameters: [Parameter], learningRate: Float = 1e-3) {
        self.parameters = parameters.filter(\.trainable)
        self.learningRate = learningRate
        for p in self.parameters {
            firstMoments[p.name] = [Float](repeating: 0, count: p.count)
            secondMoments[p.name] = [Float](repeating: 0, count: p.count)
        }
    }

    /// The global L2 norm of the gradients.
    public func gradientNorm() -> Float {
        var sum: Double = 0
        for p in parameters { for g in p.gradient { sum += Double(g) * Double(g) } }
        return Float(sum.squareRoot())
    }

    /// One update from the gradients currently in the parameters.
    public func step() {
        stepCount += 1
        var clip: Float = 1
        if let limit = maximumGradientNorm {
            let norm = gradientNorm()
            if norm > limit { clip = limit / norm }
        }
        let t = Float(stepCount)
        let correction1 = 1 - pow(beta1, t), correction2 = 1 - pow(beta2, t)
        let (b1, b2, eps, lr) = (beta1, beta2, epsilon, learningRate)
        for p in parameters {
            let decay = p.name.hasSuffix(".weight") ? weightDecay : 0
            p.value.withUnsafeMutableBufferPointer { theta in
                p.gradient.withUnsafeBufferPointer { grad in
                    firstMoments[p.name]!.withUnsafeMutableBufferPointer { m in
                        secondMoments[p.name]!.withUnsafeMutableBufferPointer { v in
                            for i in 0..<theta.count {
                                let g = grad[i] * clip + decay * theta[i]
                                m[i] = b1 * m[i] + (1 - b1) * g
                                v[i] = b2 * v[i] + (1 - b2) * g * g
                                let mHat = m[i] / correction1, vHat = v[i] / correction2
                                theta[i] -= lr * mHat / (vHat.squareRoot() + eps)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Replaces the state (moments and step count), e.g. from a checkpoint. Every trainable
    /// parameter must have both moments of its size.
    public func restore(step: Int, firstMoments m: [String: [Float]], secondMoments v: [String: [Float]]) throws {
        for p in parameters {
            guard let pm = m[p.name], let pv = v[p.name], pm.count == p.count, pv.count == p.count else {
                throw TrainingError(reason: "optimizer state for \(p.name) is missing or has the wrong size")
            }
        }
        self.stepCount = step
        for p in parameters { firstMoments[p.name] = m[p.name]; secondMoments[p.name] = v[p.name] }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
