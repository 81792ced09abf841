/// Adam (Kingma & Ba 2015), as PyTorch's `torch.optim.Adam`:
///
///     m ← β₁ m + (1 − β₁) g        v ← β₂ v + (1 − β₂) g²
///     θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
///
/// with two optional weight decays, both on convolution kernels only (`decays(_:)`: the
/// parameters whose `role` is `.kernel`, the regular, depthwise, pointwise and head kernels;
/// never biases or batch norm's γ (`.scale`) and β (`.shift`), as Ultralytics' parameter
/// groups):
///
/// - `weightDecay`: L2 in the gradient, g ← g + λ θ (PyTorch's `Adam(weight_decay:)`); Adam's
///   normalisation then scales the decay down where gradients are large;
/// - `decoupledWeightDecay`: AdamW (Loshchilov & Hutter 2019, PyTorch's `AdamW`), the kernel
///   shrunk before the Adam update, θ ← θ − lr · λ θ, independent of the gradient's size.
///
/// and optional clipping of the global gradient norm before the step. Both decays are 0 by
/// default, and a decay of 0 skips its arithmetic, so the default step is the plain Adam step.
/// Non-trainable parameters (running statistics) are never touched.
public final class Adam {
    public let parameters: [Parameter]
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// L2 weight decay λ added to the gradient of kernels (coupled; see the type).
    public var weightDecay: Float = 0
    /// AdamW's decoupled weight decay λ: kernels shrink by lr · λ θ each step (see the type).
    /// Ultralytics' default is 5e-4 (its `weight_decay`, with SGD or AdamW).
    public var decoupledWeightDecay: Float = 0
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

    /// Whether the weight decays apply to `parameter`: convolution kernels (`.weight`) only.
    public static func decays(_ parameter: Parameter) -> Bool { parameter.role == .kernel }

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
            let decays = Adam.decays(p)
            let decay = decays ? weightDecay : 0
            // AdamW: θ ← θ (1 − lr λ) before the moment update (PyTorch's `param.mul_(1 - lr * wd)`).
            let shrink = decays && decoupledWeightDecay != 0 ? 1 - lr * decoupledWeightDecay : 1
            if shrink != 1 {
                p.value.withUnsafeMutableBufferPointer { theta in for i in 0..<theta.count { theta[i] *= shrink } }
            }
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

    /// The state a checkpoint stores: the step count and every parameter's moments.
    public var state: OptimizerState {
        OptimizerState(step: stepCount, moments: Dictionary(uniqueKeysWithValues: parameters.map {
            ($0.name, OptimizerState.Moments(shape: $0.shape, first: firstMoments[$0.name]!, second: secondMoments[$0.name]!))
        }))
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

extension Checkpoint {
    /// Restores Adam's state saved with the weights.
    public func restore(into optimizer: Adam) throws {
        guard let step = optimizerStep else {
            throw WeightsError(file: source, reason: "no optimizer state (a quantized or inference-only file cannot resume training)")
        }
        do { try optimizer.restore(step: step, firstMoments: firstMoments, secondMoments: secondMoments) } catch {
            throw WeightsError(file: source, reason: "\(error)")
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
