import Testing
import Detector

/// Central finite differences for a `Layer`: L = Σ out ⊙ R with a fixed random R,
/// accumulated in Double; compares ∂L/∂input and ∂L/∂parameter from `backward` with
/// (L(x + ε) − L(x − ε)) / 2ε at every entry (the shapes are tiny).
struct GradientCheck {
    var epsilon: Float = 1e-2
    var tolerance: Float = 2e-3

    func loss(_ op: Layer, input: [Float], batch: Int, weights r: [Float]) -> Double {
        var out = [Float](repeating: 0, count: batch * op.outputShape.count)
        input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in
            op.forward(input: i.baseAddress!, output: o.baseAddress!, batch: batch, training: true)
        } }
        var total = 0.0
        for k in out.indices { total += Double(out[k]) * Double(r[k]) }
        return total
    }

    /// Returns the largest mismatch found, relative to max(1, |numeric|), and records an issue
    /// for each entry above `tolerance`.
    @discardableResult
    func check(_ op: Layer, input: [Float], batch: Int, seed: UInt64 = 99,
               sourceLocation: SourceLocation = #_sourceLocation) -> Float {
        var rng = SplitMix64(seed: seed)
        let r = (0..<(batch * op.outputShape.count)).map { _ in rng.nextFloat(in: -1..<1) }
        // Analytic gradients.
        for p in op.parameters { p.zeroGradient() }
        var out = [Float](repeating: 0, count: r.count)
        var gradIn = [Float](repeating: 0, count: input.count)
        var gradOut = r
        input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in
            op.forward(input: i.baseAddress!, output: o.baseAddress!, batch: batch, training: true)
            gradOut.withUnsafeMutableBufferPointer { g in gradIn.withUnsafeMutableBufferPointer { gi in
                op.backward(input: i.baseAddress!, output: UnsafePointer(o.baseAddress!), gradientOutput: g.baseAddress!,
                            gradientInput: gi.baseAddress!, batch: batch)
            } }
        } }
        var worst: Float = 0
        func compare(_ analytic: Float, _ numeric: Double, _ what: String) {
            let error = abs(analytic - Float(numeric)) / max(1, Float(abs(numeric)))
            worst = max(worst, error)
            if error > tolerance {
                Issue.record("\(op.name) \(what): analytic \(analytic), numeric \(numeric)", sourceLocation: sourceLocation)
            }
        }
        for k in input.indices {
            var plus = input, minus = input
            plus[k] += epsilon; minus[k] -= epsilon
            let numeric = (loss(op, input: plus, batch: batch, weights: r) - loss(op, input: minus, batch: batch, weights: r)) / Double(2 * epsilon)
            compare(gradIn[k], numeric, "∂input[\(k)]")
        }
        for p in op.parameters where p.trainable {
            let analytic = p.gradient
            for k in 0..<p.count {
                let saved = p.value[k]
                p.value[k] = saved + epsilon
                let lp = loss(op, input: input, batch: batch, weights: r)
                p.value[k] = saved - epsilon
                let lm = loss(op, input: input, batch: batch, weights: r)
                p.value[k] = saved
                compare(analytic[k], (lp - lm) / Double(2 * epsilon), "∂\(p.name)[\(k)]")
            }
        }
        return worst
    }
}

func randomValues(_ count: Int, seed: UInt64, range: Range<Float> = -1..<1) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in rng.nextFloat(in: range) }
}

func randomize(_ op: Layer, seed: UInt64) {
    var rng = SplitMix64(seed: seed)
    for p in op.parameters where p.trainable {
        for k in 0..<p.count { p.value[k] = rng.nextFloat(in: -0.5..<0.5) + (p.name.hasSuffix("scale") ? 1 : 0) }
    }
}

/// Runs an operation's forward pass on an array.
func run(_ op: Layer, _ input: [Float], batch: Int, training: Bool = true) -> [Float] {
    var out = [Float](repeating: 0, count: batch * op.outputShape.count)
    input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in
        op.forward(input: i.baseAddress!, output: o.baseAddress!, batch: batch, training: training)
    } }
    return out
}

/// Runs backward once (parameter gradients zeroed first); returns ∂input and each trainable
/// parameter's gradient.
func backward(_ op: Layer, input: [Float], output: [Float], gradientOutput: [Float], batch: Int) -> ([Float], [[Float]]) {
    for p in op.parameters { p.zeroGradient() }
    var gradIn = [Float](repeating: 0, count: input.count)
    var gradOut = gradientOutput
    input.withUnsafeBufferPointer { i in output.withUnsafeBufferPointer { o in
        gradOut.withUnsafeMutableBufferPointer { g in gradIn.withUnsafeMutableBufferPointer { gi in
            op.backward(input: i.baseAddress!, output: o.baseAddress!, gradientOutput: g.baseAddress!,
                        gradientInput: gi.baseAddress!, batch: batch)
        } }
    } }
    return (gradIn, op.parameters.filter(\.trainable).map(\.gradient))
}

func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
