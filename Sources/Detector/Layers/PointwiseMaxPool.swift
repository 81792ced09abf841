/// Inference only: a pointwise convolution (batch norm folded in: bias and activation) and the
/// 2x2/2 max pool after it, in one step. Each worker takes a block of pooled rows, computes the
/// product for the image rows under them into a small scratch buffer (still in its cache),
/// and writes only the pooled maximum with the bias and activation:
///
///     out[py, px, co] = act(max_{dy,dx ∈ {0,1}} (in[2py + dy, 2px + dx, :] · w[:, co]) + b[co])
///
/// which equals pooling act(product + b), as adding b and every activation here are
/// non-decreasing. Saves writing the full-size activation and reading it back (the tests
/// compare with `PointwiseConv2D` then `MaxPool2D`).
final class PointwiseMaxPool: InferenceStep {
    let pointwise: PointwiseConv2D
    let pool: MaxPool2D
    let name: String
    var inputShape: FeatureShape { pointwise.inputShape }
    var outputShape: FeatureShape { pool.outputShape }
    var parameters: [Parameter] { pointwise.parameters }
    var multiplyAccumulates: Int { pointwise.multiplyAccumulates }
    private let scratch = Workspace()

    static func canFuse(_ pointwise: PointwiseConv2D, _ pool: MaxPool2D) -> Bool {
        let s = pointwise.outputShape
        return pool.size == 2 && pool.stride == 2 && pool.inputShape == s && s.channels % 16 == 0
            && s.height % 2 == 0 && s.width % 2 == 0
    }

    init(_ pointwise: PointwiseConv2D, _ pool: MaxPool2D) {
        precondition(Self.canFuse(pointwise, pool), "\(pointwise.name) and \(pool.name) cannot be fused")
        self.pointwise = pointwise
        self.pool = pool
        name = fusedStepName(pointwise.name, pool.name)
    }

    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        let (h, w, cin) = (inputShape.height, inputShape.width, inputShape.channels)
        let (ph, pw, f) = (outputShape.height, outputShape.width, outputShape.channels)
        let act = pointwise.activation
        let biasValues = pointwise.bias?.value ?? [Float](repeating: 0, count: f)
        // Pooled rows per block: about 512 image pixels per product.
        let blockRows = max(1, 256 / w)
        precondition(h == 2 * ph)
        let isa = KernelISA.active
        pointwise.weight.value.withUnsafeBufferPointer { wv in biasValues.withUnsafeBufferPointer { bias in
            let weights = wv.baseAddress!, bk = bias.baseAddress!
            parallelRanges(batch * ph) { worker, rows in
                let buffer = scratch.buffer(worker, count: 2 * blockRows * w * f)
                var r = rows.lowerBound
                while r < rows.upperBound {
                    let end = min(r + blockRows, rows.upperBound)
                    // Pooled rows r..<end sit over image rows 2r..<2·end of the flattened
                    // (image, row) order, contiguous in NHWC since h = 2·ph.
                    let m = 2 * (end - r) * w
                    let a = input + 2 * r * w * cin
                    PointwiseConv2D.product(m: m, n: f, k: cin, a: a, b: weights, c: buffer, isa: isa)
                    for q in 0..<(end - r) {
                        let top = buffer + 2 * q * w * f, bottom = top + w * f
                        let out = output + (r + q) * pw * f
                        for px in 0..<pw {
                            var co = 0
                            while co < f {
                                let i = 2 * px * f + co
                                var m = load16(top + i)
                                let v1 = load16(top + i + f), v2 = load16(bottom + i), v3 = load16(bottom + i + f)
                                m.replace(with: v1, where: v1 .> m)
                                m.replace(with: v2, where: v2 .> m)
                                m.replace(with: v3, where: v3 .> m)
                                store16(act.apply(m + load16(bk + co)), out + px * f + co)
                                co += 16
                            }
                        }
                    }
                    r = end
                }
            }
        } }
    }
}
