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
    private var batchMean: [Float]
    private var batchInverseDeviation: [Float]

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

    /// Per-channel sums of `f(row)` over all rows, in Double, both cores.
    private func channelSums(rows: Int, _ body: (_ range: Range<Int>, _ sums: UnsafeMutablePointer<Double>) -> Void) -> [Double] {
        let c = inputShape.channels
        let parts = partCount(rows, minimumPerPart: 256)
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: c * parts)
        partial.initialize(repeating: 0, count: c * parts)
        defer { partial.deallocate() }
        parallelRanges(rows, minimumPerPart: 256) { worker, range in body(range, partial + worker * c) }
        var total = [Double](repeating: 0, count: c)
        for p in 0..<parts { for ch in 0..<c { total[ch] += partial[p * c + ch] } }
        return total
    }

    /// Sums of one row range into Double accumulators, through a Float block so the inner
    /// loop vectorises (blocks of 64 rows keep the Float rounding error small).
    @inline(__always)
    private static func accumulate(rows range: Range<Int>, channels c: Int, into sums: UnsafeMutablePointer<Double>,
                                   value: (_ row: Int, _ block: UnsafeMutablePointer<Float>) -> Void) {
        let block = UnsafeMutablePointer<Float>.allocate(capacity: c)
        defer { block.deallocate() }
        var r = range.lowerBound
        while r < range.upperBound {
            let end = min(r + 64, range.upperBound)
            block.update(repeating: 0, count: c)
            for row in r..<end { value(row, block) }
            for ch in 0..<c { sums[ch] += Double(block[ch]) }
            r = end
        }
    }

    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool) {
        let c = inputShape.channels
        let rows = batch * inputShape.height * inputShape.width
        var mean = [Float](repeating: 0, count: c)
        var inverse = [Float](repeating: 0, count: c)
        if training {
            let sums = channelSums(rows: rows) { range, s in
                BatchNorm.accumulate(rows: range, channels: c, into: s) { row, block in
                    let x = input + row * c
                    for ch in 0..<c { block[ch] += x[ch] }
                }
            }
            for ch in 0..<c { mean[ch] = Float(sums[ch] / Double(rows)) }
            let squares = mean.withUnsafeBufferPointer { mu in
                channelSums(rows: rows) { range, s in
                    BatchNorm.accumulate(rows: range, channels: c, into: s) { row, block in
                        let x = input + row * c
                        for ch in 0..<c { let d = x[ch] - mu[ch]; block[ch] += d * d }
                    }
                }
            }
            for ch in 0..<c {
                let variance = Float(squares[ch] / Double(rows))
                inverse[ch] = 1 / (variance + epsilon).squareRoot()
                let unbiased = rows > 1 ? Float(squares[ch] / Double(rows - 1)) : variance
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

    public func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                         gradientOutput: UnsafeMutablePointer<Float>, gradientInput: UnsafeMutablePointer<Float>?,
                         batch: Int) {
        let c = inputShape.channels
        let rows = batch * inputShape.height * inputShape.width
        let act = activation
        // g = ∂L/∂y · act'(y), in place.
        if act != .linear {
            parallelRanges(rows, minimumPerPart: 256) { _, range in
                for row in range {
                    let y = output + row * c, g = gradientOutput + row * c
                    for ch in 0..<c { g[ch] *= act.derivative(output: y[ch]) }
                }
            }
        }
        let mean = batchMean, inverse = batchInverseDeviation
        var sumG = [Double](), sumGX = [Double]()
        mean.withUnsafeBufferPointer { mu in inverse.withUnsafeBufferPointer { inv in
            sumG = channelSums(rows: rows) { range, s in
                BatchNorm.accumulate(rows: range, channels: c, into: s) { row, block in
                    let g = gradientOutput + row * c
                    for ch in 0..<c { block[ch] += g[ch] }
                }
            }
            sumGX = channelSums(rows: rows) { range, s in
                BatchNorm.accumulate(rows: range, channels: c, into: s) { row, block in
                    let g = gradientOutput + row * c, x = input + row * c
                    for ch in 0..<c { block[ch] += g[ch] * (x[ch] - mu[ch]) * inv[ch] }
                }
            }
        } }
        for ch in 0..<c {
            scale.gradient[ch] += Float(sumGX[ch])
            shift.gradient[ch] += Float(sumG[ch])
        }
        guard let gradientInput else { return }
        // ∂x = k (g − mean(g) − x̂ mean(g x̂)), k = γ / σ.
        var k = [Float](repeating: 0, count: c), meanG = k, meanGX = k
        for ch in 0..<c {
            k[ch] = scale.value[ch] * inverse[ch]
            meanG[ch] = Float(sumG[ch] / Double(rows))
            meanGX[ch] = Float(sumGX[ch] / Double(rows))
        }
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
}
