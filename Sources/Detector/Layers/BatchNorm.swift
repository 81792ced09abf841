import CKernels
import Foundation

/// Batch normalisation (Ioffe & Szegedy 2015) over N·H·W per channel, fused with the
/// activation that follows it:
///
///     x̂ = (x − μ) / √(σ² + ε)        y = act(γ x̂ + β)
///
/// In training μ and σ² are the batch's (σ² biased) and the running averages move by
/// `momentum` (PyTorch's convention: r ← (1 − m) r + m · batch value, with the unbiased
/// variance); in inference the running statistics are used. Backward, with u = γ x̂ + β and
/// g = ∂L/∂u = ∂L/∂y · act'(y), over the M = N·H·W values of a channel:
///
///     ∂γ += Σ g x̂      ∂β += Σ g      ∂x = γ / (M √(σ² + ε)) · (M g − Σ g − x̂ Σ g x̂)
public final class BatchNorm: Layer {
    public let name: String
    public let inputShape: FeatureShape
    public var outputShape: FeatureShape { inputShape }
    public let activation: Activation
    public let epsilon: Float = 1e-5
    public let momentum: Float = 0.1
    public let scale: Parameter
    public let shift: Parameter
    public let runningMean: Parameter
    public let runningVariance: Parameter
    /// The batch statistics of the last training forward pass, for backward.
    private(set) var batchMean: [Float]
    private(set) var batchInverseDeviation: [Float]

    public init(name: String, input: FeatureShape, activation: Activation) {
        self.name = name
        self.inputShape = input
        self.activation = activation
        let c = input.channels
        scale = Parameter(name: "\(name).scale", shape: [c], value: [Float](repeating: 1, count: c))
        shift = Parameter(name: "\(name).shift", shape: [c], value: [Float](repeating: 0, count: c))
        runningMean = Parameter(name: "\(name).running_mean", shape: [c], value: [Float](repeating: 0, count: c), trainable: false)
        runningVariance = Parameter(name: "\(name).running_var", shape: [c], value: [Float](repeating: 1, count: c), trainable: false)
        batchMean = [Float](repeating: 0, count: c)
        batchInverseDeviation = [Float](repeating: 1, count: c)
    }

    public var parameters: [Parameter] { [scale, shift, runningMean, runningVariance] }
    public var multiplyAccumulates: Int { 0 }

    /// Per-channel Σ (x − K) and Σ (x − K)² over all rows in one pass over memory, shifted by the
    /// first row K (so the variance E[(x − K)²] − E[x − K]² does not cancel catastrophically),
    /// accumulated in Float over blocks of 64 rows and in Double across blocks.
    func shiftedMoments(_ input: UnsafePointer<Float>, rows: Int) -> (shift: [Float], sum: [Double], squares: [Double]) {
        let c = inputShape.channels
        let shift = Array(UnsafeBufferPointer(start: input, count: c))
        let parts = partCount(rows, minimumPerPart: 256)
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c * parts)
        partial.initialize(repeating: 0, count: 2 * c * parts)
        defer { partial.deallocate() }
        let isa = KernelISA.active
        shift.withUnsafeBufferPointer { k in
            parallelRanges(rows, minimumPerPart: 256) { worker, range in
                let sums = partial + worker * 2 * c, squares = sums + c
                let block = UnsafeMutablePointer<Float>.allocate(capacity: 2 * c)
                defer { block.deallocate() }
                if isa == .avx512 {
                    ck_shifted_moments(input, k.baseAddress!, c, range.lowerBound, range.upperBound, sums, squares, block)
                    return
                }
                var r = range.lowerBound
                while r < range.upperBound {
                    let end = min(r + 64, range.upperBound)
                    if c % 16 == 0 {
                        // 16 channels at a time over the block's rows, the sums in registers.
                        var ch = 0
                        while ch < c {
                            let shiftVector = load16(k.baseAddress! + ch)
                            var sum = SIMD16<Float>(), square = SIMD16<Float>()
                            for row in r..<end {
                                let d = load16(input + row * c + ch) - shiftVector
                                sum += d
                                square += d * d
                            }
                            store16(sum, block + ch)
                            store16(square, block + c + ch)
                            ch += 16
                        }
                    } else {
                        block.update(repeating: 0, count: 2 * c)
                        for row in r..<end {
                            let x = input + row * c
                            for ch in 0..<c { let d = x[ch] - k[ch]; block[ch] += d; block[c + ch] += d * d }
                        }
                    }
                    for ch in 0..<c { sums[ch] += Double(block[ch]); squares[ch] += Double(block[c + ch]) }
                    r = end
                }
            }
        }
        var sum = [Double](repeating: 0, count: c), squares = sum
        for p in 0..<parts { for ch in 0..<c { sum[ch] += partial[p * 2 * c + ch]; squares[ch] += partial[p * 2 * c + c + ch] } }
        return (shift, sum, squares)
    }

    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool) {
        let c = inputShape.channels
        let rows = batch * inputShape.height * inputShape.width
        let (a, b) = affine(input: input, rows: rows, training: training)
        let act = activation
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
            parallelRanges(rows, minimumPerPart: 256) { _, range in
                for row in range {
                    let x = input + row * c, y = output + row * c
                    switch act {
                    case .leaky:
                        for ch in 0..<c { let u = a[ch] * x[ch] + b[ch]; y[ch] = u > 0 ? u : Activation.leakySlope * u }
                    case .relu:
                        for ch in 0..<c { y[ch] = max(a[ch] * x[ch] + b[ch], 0) }
                    case .relu6:
                        for ch in 0..<c { y[ch] = min(max(a[ch] * x[ch] + b[ch], 0), 6) }
                    case .linear:
                        for ch in 0..<c { y[ch] = a[ch] * x[ch] + b[ch] }
                    }
                }
            }
        } }
    }

    /// The per-channel affine map u = a x + b of this pass: from the batch's statistics in
    /// training (which also moves the running averages and keeps the statistics for
    /// backward), from the running ones in inference.
    func affine(input: UnsafePointer<Float>, rows: Int, training: Bool) -> (a: [Float], b: [Float]) {
        let c = inputShape.channels
        var mean = [Float](repeating: 0, count: c)
        var inverse = [Float](repeating: 0, count: c)
        if training {
            let (shift, sum, squares) = shiftedMoments(input, rows: rows)
            let m = Double(rows)
            for ch in 0..<c {
                let shiftedMean = sum[ch] / m
                let sumSquares = max(squares[ch] - sum[ch] * shiftedMean, 0)   // Σ (x − μ)²
                mean[ch] = Float(Double(shift[ch]) + shiftedMean)
                let variance = Float(sumSquares / m)
                inverse[ch] = 1 / (variance + epsilon).squareRoot()
                let unbiased = rows > 1 ? Float(sumSquares / (m - 1)) : variance
                runningMean.value[ch] = (1 - momentum) * runningMean.value[ch] + momentum * mean[ch]
                runningVariance.value[ch] = (1 - momentum) * runningVariance.value[ch] + momentum * unbiased
            }
            batchMean = mean
            batchInverseDeviation = inverse
        } else {
            for ch in 0..<c {
                mean[ch] = runningMean.value[ch]
                inverse[ch] = 1 / (runningVariance.value[ch] + epsilon).squareRoot()
            }
        }
        // y = act(a x + b) with a = γ / σ, b = β − a μ.
        var a = [Float](repeating: 0, count: c), b = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            a[ch] = scale.value[ch] * inverse[ch]
            b[ch] = shift.value[ch] - a[ch] * mean[ch]
        }
        return (a, b)
    }

    public func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                         gradientOutput: UnsafeMutablePointer<Float>, gradientInput: UnsafeMutablePointer<Float>?,
                         batch: Int) {
        let c = inputShape.channels
        let rows = batch * inputShape.height * inputShape.width
        let act = activation
        let mean = batchMean, inverse = batchInverseDeviation
        // One pass: g = ∂L/∂y · act'(y) written in place, with Σ g and Σ g (x − μ) per channel.
        let parts = partCount(rows, minimumPerPart: 256)
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c * parts)
        partial.initialize(repeating: 0, count: 2 * c * parts)
        defer { partial.deallocate() }
        mean.withUnsafeBufferPointer { mu in
            parallelRanges(rows, minimumPerPart: 256) { worker, range in
                let sums = partial + worker * 2 * c
                let block = UnsafeMutablePointer<Float>.allocate(capacity: 2 * c)
                defer { block.deallocate() }
                var r = range.lowerBound
                while r < range.upperBound {
                    let end = min(r + 64, range.upperBound)
                    block.update(repeating: 0, count: 2 * c)
                    for row in r..<end {
                        let y = output + row * c, g = gradientOutput + row * c, x = input + row * c
                        switch act {
                        case .leaky:
                            for ch in 0..<c {
                                let v = y[ch] > 0 ? g[ch] : Activation.leakySlope * g[ch]
                                g[ch] = v; block[ch] += v; block[c + ch] += v * (x[ch] - mu[ch])
                            }
                        case .linear:
                            for ch in 0..<c { let v = g[ch]; block[ch] += v; block[c + ch] += v * (x[ch] - mu[ch]) }
                        default:
                            for ch in 0..<c {
                                let v = g[ch] * act.derivative(output: y[ch])
                                g[ch] = v; block[ch] += v; block[c + ch] += v * (x[ch] - mu[ch])
                            }
                        }
                    }
                    for ch in 0..<(2 * c) { sums[ch] += Double(block[ch]) }
                    r = end
                }
            }
        }
        let (k, meanG, meanGX) = finishBackward(partialSums: partial, parts: parts, rows: rows)
        guard let gradientInput else { return }
        k.withUnsafeBufferPointer { k in meanG.withUnsafeBufferPointer { mg in meanGX.withUnsafeBufferPointer { mgx in
            mean.withUnsafeBufferPointer { mu in inverse.withUnsafeBufferPointer { inv in
                parallelRanges(rows, minimumPerPart: 256) { _, range in
                    for row in range {
                        let g = gradientOutput + row * c, x = input + row * c, dx = gradientInput + row * c
                        for ch in 0..<c {
                            let xhat = (x[ch] - mu[ch]) * inv[ch]
                            dx[ch] = k[ch] * (g[ch] - mg[ch] - xhat * mgx[ch])
                        }
                    }
                }
            } }
        } } }
    }

    /// Adds ∂γ = Σ g x̂ and ∂β = Σ g from per-worker partial sums (`parts` blocks of
    /// [Σ g, Σ g (x − μ)] per channel, in Double) and returns what ∂x needs:
    /// ∂x = k (g − mean(g) − x̂ mean(g x̂)) with k = γ / σ.
    func finishBackward(partialSums partial: UnsafePointer<Double>, parts: Int, rows: Int) -> (k: [Float], meanG: [Float], meanGX: [Float]) {
        let c = inputShape.channels
        let inverse = batchInverseDeviation
        var sumG = [Double](repeating: 0, count: c), sumGX = sumG
        for p in 0..<parts {
            for ch in 0..<c {
                sumG[ch] += partial[p * 2 * c + ch]
                sumGX[ch] += partial[p * 2 * c + c + ch] * Double(inverse[ch])   // Σ g x̂
            }
        }
        var k = [Float](repeating: 0, count: c), meanG = k, meanGX = k
        for ch in 0..<c {
            scale.gradient[ch] += Float(sumGX[ch])
            shift.gradient[ch] += Float(sumG[ch])
            k[ch] = scale.value[ch] * inverse[ch]
            meanG[ch] = Float(sumG[ch] / Double(rows))
            meanGX[ch] = Float(sumGX[ch] / Double(rows))
        }
        return (k, meanG, meanGX)
    }
}
