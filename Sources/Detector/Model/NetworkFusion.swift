/// One rewrite of a graph: a single operation, or two consecutive ones of which the second is
/// the only reader of the first, replaced by one step, where `rewrite` gives one.
struct RewriteRule<Kind: StepKind> {
    enum Pattern {
        case single((Kind.Operation) -> Kind.Operation?)
        case pair((Kind.Operation, Kind.Operation) -> Kind.Operation?)
    }
    let pattern: Pattern
    /// Applied only in graphs without merges (shortcuts, routes).
    let plainChainsOnly: Bool
}

/// A table of rewrite rules applied in one left-to-right pass: at each node the rules are
/// tried in table order and the first that gives a step replaces the node (or the node and
/// the next one); a node no rule takes is kept. Inputs are remapped to the new indices (a
/// pair's two nodes both map to the step that replaced them). Every graph rewrite of the
/// toolkit is such a pass: the training fusions, batch-norm folding and the inference fusions.
struct RewritePass<Kind: StepKind> {
    let rules: [RewriteRule<Kind>]

    func apply(_ nodes: [Node<Kind>]) -> [Node<Kind>] {
        let merges = NetworkGraph.hasMerges(nodes)
        let rules = self.rules.filter { !($0.plainChainsOnly && merges) }
        if rules.isEmpty { return nodes }
        let readers = NetworkGraph.readerCounts(nodes)
        var out: [Node<Kind>] = []
        var remap = [Int](repeating: -1, count: nodes.count)
        func newIndex(_ old: Int) -> Int { old < 0 ? old : remap[old] }
        var k = 0
        while k < nodes.count {
            let inputs = nodes[k].inputs.map(newIndex)
            let (step, taken) = rewrite(at: k, nodes, readers: readers, rules: rules) ?? (nodes[k].step, 1)
            out.append(Node(step: step, inputs: inputs, layer: nodes[k].layer))
            for i in k..<(k + taken) { remap[i] = out.count - 1 }
            k += taken
        }
        return out
    }

    /// The step the first matching rule makes at node `k`, and how many nodes it replaces.
    private func rewrite(at k: Int, _ nodes: [Node<Kind>], readers: [Int],
                         rules: [RewriteRule<Kind>]) -> (Node<Kind>.Step, Int)? {
        guard case let .operation(first) = nodes[k].step else { return nil }
        for rule in rules {
            switch rule.pattern {
            case let .single(rewrite):
                if let step = rewrite(first) { return (.operation(step), 1) }
            case let .pair(rewrite):
                if k + 1 < nodes.count, case let .operation(second) = nodes[k + 1].step,
                   nodes[k + 1].inputs == [k], readers[k] == 1, let step = rewrite(first, second) {
                    return (.operation(step), 2)
                }
            }
        }
        return nil
    }
}

/// The rules.
extension RewriteRule {
    /// A convolution the direct kernels take, as a `DirectConv2D` (in either kind of graph: it
    /// is a `Layer`).
    static var directConvolution: Self {
        Self(pattern: .single { op in
            guard let conv = op as? Conv2D, DirectConv2D.applies(to: conv) else { return nil }
            return DirectConv2D(conv) as? Kind.Operation
        }, plainChainsOnly: false)
    }
}

extension RewriteRule where Kind == Trainable {
    /// A batch norm and the 2x2/2 max pool reading it as one `BatchNormMaxPool` (plain chains).
    static var batchNormMaxPool: Self {
        Self(pattern: .pair { first, second in
            guard let bn = first as? BatchNorm, let pool = second as? MaxPool2D, BatchNormMaxPool.canFuse(bn, pool) else { return nil }
            return BatchNormMaxPool(bn, pool)
        }, plainChainsOnly: true)
    }

    /// A convolution (`Conv2D` or `PointwiseConv2D`) and the batch norm reading it as one
    /// convolution with bias and the batch norm's activation (see `BatchNorm.folded(into:)`).
    static var batchNormFolding: Self {
        Self(pattern: .pair { first, second in
            guard let bn = second as? BatchNorm else { return nil }
            if let conv = first as? Conv2D { return bn.folded(into: conv) }
            if let pointwise = first as? PointwiseConv2D { return bn.folded(into: pointwise) }
            return nil
        }, plainChainsOnly: false)
    }
}

extension RewriteRule where Kind == InferenceOnly {
    /// A direct-kernel 3x3/1 convolution and the 2x2/2 max pool reading it as one `ConvMaxPool`.
    static var convolutionMaxPool: Self {
        Self(pattern: .pair { first, second in
            guard let conv = first as? Conv2D, let pool = second as? MaxPool2D, ConvMaxPool.canFuse(conv, pool) else { return nil }
            return ConvMaxPool(conv, pool)
        }, plainChainsOnly: true)
    }

    /// A pointwise convolution and the 2x2/2 max pool reading it as one `PointwiseMaxPool`.
    static var pointwiseMaxPool: Self {
        Self(pattern: .pair { first, second in
            guard let pointwise = first as? PointwiseConv2D, let pool = second as? MaxPool2D,
                  PointwiseMaxPool.canFuse(pointwise, pool) else { return nil }
            return PointwiseMaxPool(pointwise, pool)
        }, plainChainsOnly: true)
    }
}

extension RewritePass where Kind == Trainable {
    /// The steps a training network runs: each batch norm with the pool after it, the first
    /// convolution on its direct kernel.
    static var training: Self { Self(rules: [.batchNormMaxPool, .directConvolution]) }
    /// Every batch norm that follows a convolution folded into it (any graph). The batch norm
    /// of a `depthwise` layer stays: the engine's depthwise convolution has no bias.
    static var batchNormFolding: Self { Self(rules: [.batchNormFolding]) }
}

extension RewritePass where Kind == InferenceOnly {
    /// The steps an inference network runs, after folding: the first convolution and each
    /// pointwise one with the pool after it, the first convolution on its direct kernel.
    static var inference: Self { Self(rules: [.convolutionMaxPool, .pointwiseMaxPool, .directConvolution]) }
}

extension BatchNorm {
    /// y = a x + b per channel for inference: a = γ / √(running var + ε), b = β − a · running
    /// mean. Folding and the ONNX export both take their coefficients from here.
    var foldingCoefficients: (a: [Float], b: [Float]) {
        let c = inputShape.channels
        var a = [Float](repeating: 0, count: c), b = a
        for ch in 0..<c {
            a[ch] = scale.value[ch] / (runningVariance.value[ch] + epsilon).squareRoot()
            b[ch] = shift.value[ch] - a[ch] * runningMean.value[ch]
        }
        return (a, b)
    }

    /// `conv` then this batch norm as one convolution: w' = w · a per output channel (the last
    /// axis of HWIO), bias b, this batch norm's activation. Equals the two in inference mode up
    /// to rounding.
    func folded(into conv: Conv2D) -> Conv2D {
        let (a, b) = foldingCoefficients
        let c = inputShape.channels
        let f = Conv2D(name: conv.name, input: conv.inputShape, filters: c, size: conv.size, stride: conv.stride,
                       bias: true, activation: activation)
        for i in 0..<conv.weight.count { f.weight.value[i] = conv.weight.value[i] * a[i % c] }
        f.bias!.value = b
        return f
    }

    /// `pointwise` then this batch norm as one pointwise convolution ([C_in, C_out] kernel).
    func folded(into pointwise: PointwiseConv2D) -> PointwiseConv2D {
        let (a, b) = foldingCoefficients
        let c = inputShape.channels
        let f = PointwiseConv2D(name: pointwise.name, input: pointwise.inputShape, filters: c, bias: true, activation: activation)
        for i in 0..<pointwise.weight.count { f.weight.value[i] = pointwise.weight.value[i] * a[i % c] }
        f.bias!.value = b
        return f
    }
}
