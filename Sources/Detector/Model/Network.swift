import Foundation

/// One step of the network: an operation reading one earlier output, or a merge of several.
/// Input index −1 is the network's input.
struct Node {
    enum Step { case operation(Layer), merge(Route) }
    let step: Step
    let inputs: [Int]
    /// Index of the config layer this node belongs to.
    let layer: Int

    var outputShape: FeatureShape {
        switch step {
        case let .operation(op): return op.outputShape
        case let .merge(m): return m.outputShape
        }
    }
    var name: String {
        switch step {
        case let .operation(op): return op.name
        case let .merge(m): return m.name
        }
    }
    var multiplyAccumulates: Int {
        if case let .operation(op) = step { return op.multiplyAccumulates }
        return 0
    }
    var parameters: [Parameter] {
        if case let .operation(op) = step { return op.parameters }
        return []
    }
}

/// A network built from a `ModelConfig`: forward and backward over a batch, NHWC.
///
/// Activations are allocated once per batch size and reused; every operation's output stays
/// in memory until the next forward pass, because backward reads it. Gradient buffers are two
/// alternating ones for a plain chain of layers, or one per step when the config has
/// shortcuts or routes (a step read by several later steps collects their gradients).
public final class Network {
    public let config: ModelConfig
    /// The steps as run: `plainNodes` with each batch norm and the 2x2/2 max pool after it
    /// fused into one `BatchNormMaxPool` where possible (plain chains only).
    let nodes: [Node]
    /// One node per operation of the config (a conv, its batch norm, a pool, ...).
    let plainNodes: [Node]
    /// Every parameter and buffer, in a stable order (config layer, then operation).
    public let parameters: [Parameter]
    public let inputShape: FeatureShape
    private let consumers: [Int]
    private let hasMerges: Bool

    private var batchCapacity = 0
    private var activations: [UnsafeMutablePointer<Float>] = []
    private var gradients: [UnsafeMutablePointer<Float>] = []
    private var inputBuffer: UnsafeMutablePointer<Float>?
    private var inputGradient: UnsafeMutablePointer<Float>?
    private var scratch: UnsafeMutablePointer<Float>?
    private var currentBatch = 0
    private var trainedForward = false

    /// Wall time spent in one step of the network (a layer, a batch norm, a route), summed
    /// over the passes since the last `resetLayerTimes()`.
    public struct LayerTime: Sendable {
        public var name: String
        public var forwardSeconds: Double = 0
        public var backwardSeconds: Double = 0
    }
    /// When true, forward and backward add each step's time into `layerTimes` (for the
    /// benchmark's per-layer breakdown; off by default, the clock reads cost ~50 ns a step).
    public var recordsLayerTimes = false
    public private(set) var layerTimes: [LayerTime] = []
    public func resetLayerTimes() { layerTimes = nodes.map { LayerTime(name: $0.name) } }

    /// A new network with Glorot-normal kernels from `seed`, zero biases, batch norm scale 1,
    /// shift 0, running mean 0 and variance 1.
    public convenience init(config: ModelConfig, seed: UInt64) throws {
        try self.init(config: config, nodes: Network.build(config))
        var rng = SplitMix64(seed: seed)
        for p in parameters where p.role == .kernel {
            // Glorot & Bengio 2010: std = √(2 / (fan_in + fan_out)); for a depthwise kernel
            // each filter sees one channel, so fan_in = fan_out = k·k.
            let fanIn: Int, fanOut: Int
            switch p.shape.count {
            case 4: fanIn = p.shape[0] * p.shape[1] * p.shape[2]; fanOut = p.shape[0] * p.shape[1] * p.shape[3]
            case 3: fanIn = p.shape[0] * p.shape[1]; fanOut = fanIn
            default: fanIn = p.shape[0]; fanOut = p.shape[1]
            }
            let std = (2 / Float(fanIn + fanOut)).squareRoot()
            for i in 0..<p.count { p.value[i] = std * rng.nextGaussian() }
        }
    }

    /// A network running `fusing(plain)`: by default each batch norm and its pool as one
    /// training step (`fused`).
    init(config: ModelConfig, nodes plain: [Node], fusing: ([Node]) -> [Node] = Network.fused) throws {
        self.config = config
        self.plainNodes = plain
        let nodes = fusing(plain)
        self.nodes = nodes
        self.parameters = nodes.flatMap(\.parameters)
        self.inputShape = FeatureShape(height: config.inputHeight, width: config.inputWidth, channels: config.inputChannels)
        self.consumers = Network.readerCounts(nodes)
        self.hasMerges = nodes.contains { if case .merge = $0.step { return true } else { return false } }
        resetLayerTimes()
    }

    /// How many later nodes read each node's output.
    static func readerCounts(_ nodes: [Node]) -> [Int] {
        var counts = [Int](repeating: 0, count: nodes.count)
        for node in nodes { for i in node.inputs where i >= 0 { counts[i] += 1 } }
        return counts
    }

    deinit { release() }

    private func release() {
        for b in activations { b.deallocate() }
        for b in Set(gradients) { b.deallocate() }
        inputBuffer?.deallocate(); inputGradient?.deallocate(); scratch?.deallocate()
        activations = []; gradients = []; inputBuffer = nil; inputGradient = nil; scratch = nil
        batchCapacity = 0
    }

    /// Allocates activations and gradients for `batch` images, once per batch size.
    private func reserve(batch: Int) {
        guard batch > batchCapacity else { return }
        release()
        batchCapacity = batch
        activations = nodes.map { .allocate(capacity: batch * $0.outputShape.count) }
        let largest = nodes.map(\.outputShape.count).max() ?? 0
        if hasMerges {
            gradients = nodes.map { .allocate(capacity: batch * $0.outputShape.count) }
            scratch = .allocate(capacity: batch * max(largest, inputShape.count))
        } else {
            let pair: [UnsafeMutablePointer<Float>] = [.allocate(capacity: batch * largest), .allocate(capacity: batch * largest)]
            gradients = nodes.indices.map { pair[$0 % 2] }
        }
        inputBuffer = .allocate(capacity: batch * inputShape.count)
    }

    static func build(_ config: ModelConfig) throws -> [Node] {
        let shapes = try config.layerShapes()
        var nodes: [Node] = []
        var layerOutput: [Int] = []  // node index of each config layer's output
        var current = FeatureShape(height: config.inputHeight, width: config.inputWidth, channels: config.inputChannels)
        var previous = -1
        func add(_ op: Layer, layer: Int) {
            nodes.append(Node(step: .operation(op), inputs: [previous], layer: layer))
            previous = nodes.count - 1
            current = op.outputShape
        }
        for (i, layer) in config.layers.enumerated() {
            let prefix = "layers.\(i)"
            switch layer {
            case let .convolution(filters, size, stride, batchNorm, activation):
                let conv = Conv2D(name: "\(prefix).conv", input: current, filters: filters, size: size, stride: stride,
                                  bias: !batchNorm, activation: batchNorm ? .linear : activation)
                add(conv, layer: i)
                if batchNorm { add(BatchNorm(name: "\(prefix).bn", input: current, activation: activation), layer: i) }
            case let .separable(filters, size, stride, batchNorm, activation):
                add(DepthwiseConv2D(name: "\(prefix).depthwise", input: current, size: size, stride: stride), layer: i)
                add(PointwiseConv2D(name: "\(prefix).pointwise", input: current, filters: filters, bias: !batchNorm,
                                    activation: batchNorm ? .linear : activation), layer: i)
                if batchNorm { add(BatchNorm(name: "\(prefix).bn", input: current, activation: activation), layer: i) }
            case let .depthwise(size, stride, batchNorm, activation):
                add(DepthwiseConv2D(name: "\(prefix).depthwise", input: current, size: size, stride: stride), layer: i)
                if batchNorm {
                    add(BatchNorm(name: "\(prefix).bn", input: current, activation: activation), layer: i)
                } else if activation != .linear {
                    add(ActivationLayer(name: "\(prefix).activation", input: current, activation: activation), layer: i)
                }
            case let .pointwise(filters, batchNorm, activation):
                add(PointwiseConv2D(name: "\(prefix).pointwise", input: current, filters: filters, bias: !batchNorm,
                                    activation: batchNorm ? .linear : activation), layer: i)
                if batchNorm { add(BatchNorm(name: "\(prefix).bn", input: current, activation: activation), layer: i) }
            case let .maxPool(size, stride):
                add(MaxPool2D(name: "\(prefix).maxpool", input: current, size: size, stride: stride), layer: i)
            case let .shortcut(from, activation):
                let merge = Route(name: "\(prefix).shortcut", kind: .add(activation), inputShapes: [current, shapes[from]])
                nodes.append(Node(step: .merge(merge), inputs: [previous, layerOutput[from]], layer: i))
                previous = nodes.count - 1
            case let .route(list):
                let merge = Route(name: "\(prefix).route", kind: .concatenate, inputShapes: list.map { shapes[$0] })
                nodes.append(Node(step: .merge(merge), inputs: list.map { layerOutput[$0] }, layer: i))
                previous = nodes.count - 1
                current = merge.outputShape
            }
            layerOutput.append(previous)
            assert(nodes[previous].outputShape == shapes[i])
        }
        return nodes
    }

    /// `nodes` with every batch norm whose only reader is a 2x2 max pool of stride 2 fused
    /// with it (when `BatchNormMaxPool.canFuse`); unchanged when the config has merges.
    static func fused(_ nodes: [Node]) -> [Node] {
        fusingPairs(nodes) { first, second in
            guard let bn = first as? BatchNorm, let pool = second as? MaxPool2D, BatchNormMaxPool.canFuse(bn, pool) else { return nil }
            return BatchNormMaxPool(bn, pool)
        }
    }

    /// `nodes` with each pair of consecutive operations, the second the only reader of the
    /// first, replaced by `fuse(first, second)` where that gives a step; plain chains only
    /// (with merges the nodes are returned unchanged).
    static func fusingPairs(_ nodes: [Node], _ fuse: (Layer, Layer) -> Layer?) -> [Node] {
        if nodes.contains(where: { if case .merge = $0.step { return true } else { return false } }) { return nodes }
        let readers = readerCounts(nodes)
        var out: [Node] = []
        var remap: [Int: Int] = [-1: -1]
        var k = 0
        while k < nodes.count {
            let inputs = nodes[k].inputs.map { remap[$0]! }
            if k + 1 < nodes.count, case let .operation(first) = nodes[k].step, case let .operation(second) = nodes[k + 1].step,
               nodes[k + 1].inputs == [k], readers[k] == 1, let step = fuse(first, second) {
                out.append(Node(step: .operation(step), inputs: inputs, layer: nodes[k].layer))
                remap[k] = out.count - 1
                remap[k + 1] = out.count - 1
                k += 2
            } else {
                out.append(Node(step: nodes[k].step, inputs: inputs, layer: nodes[k].layer))
                remap[k] = out.count - 1
                k += 1
            }
        }
        return out
    }

    public var headLayout: HeadLayout { config.headLayout }
    public var outputShape: FeatureShape { nodes[nodes.count - 1].outputShape }

    /// Trainable parameters (batch norm scale and shift counted, running statistics not).
    public var parameterCount: Int { parameters.filter(\.trainable).reduce(0) { $0 + $1.count } }
    /// Forward FLOPs for one image (2 per multiply-accumulate of the convolutions).
    public var flopsPerImage: Int { 2 * nodes.reduce(0) { $0 + $1.multiplyAccumulates } }

    public func zeroGradients() { for p in parameters { p.zeroGradient() } }

    private func pointer(_ index: Int) -> UnsafeMutablePointer<Float> { index < 0 ? inputBuffer! : activations[index] }

    /// Runs the network on `batch` images at `input` ([batch, H, W, C], NHWC). Returns a pointer
    /// to the head output ([batch, gridH, gridW, anchors·(5 + classes)]), valid until the next
    /// forward pass.
    @discardableResult
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        reserve(batch: batch)
        currentBatch = batch
        trainedForward = training
        inputBuffer!.update(from: input, count: batch * inputShape.count)
        for (k, node) in nodes.enumerated() {
            let start = recordsLayerTimes ? DispatchTime.now().uptimeNanoseconds : 0
            defer { if recordsLayerTimes { layerTimes[k].forwardSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 } }
            switch node.step {
            case let .operation(op):
                op.forward(input: pointer(node.inputs[0]), output: activations[k], batch: batch, training: training)
            case let .merge(m):
                m.forward(inputs: node.inputs.map { UnsafePointer(pointer($0)) }, output: activations[k], batch: batch)
            }
        }
        return UnsafePointer(activations[nodes.count - 1])
    }

    /// Forward pass on a tensor [N, H, W, C]; returns the head output as a tensor.
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.shape.count == 4 && Array(input.shape[1...]) == [inputShape.height, inputShape.width, inputShape.channels],
                     "input shape \(input.shape) does not match the network input \(inputShape)")
        let batch = input.shape[0]
        let out = input.data.withUnsafeBufferPointer { forward($0.baseAddress!, batch: batch, training: training) }
        let shape = outputShape
        return Tensor(shape: [batch, shape.height, shape.width, shape.channels],
                      data: Array(UnsafeBufferPointer(start: out, count: batch * shape.count)))
    }

    /// Backward pass for the last training forward pass: accumulates every parameter's
    /// gradient from ∂L/∂output (same layout as the head output). With `inputGradient`, also
    /// returns ∂L/∂input.
    @discardableResult
    public func backward(_ gradientOutput: UnsafePointer<Float>, inputGradient wantInput: Bool = false) -> Tensor? {
        precondition(trainedForward, "backward needs a forward pass with training: true")
        let batch = currentBatch
        let last = nodes.count - 1
        if hasMerges {
            for k in nodes.indices where consumers[k] > 1 || k == last {
                gradients[k].update(repeating: 0, count: batch * nodes[k].outputShape.count)
            }
        }
        gradients[last].update(from: gradientOutput, count: batch * nodes[last].outputShape.count)
        if wantInput && inputGradient == nil { inputGradient = .allocate(capacity: batchCapacity * inputShape.count) }
        for k in stride(from: last, through: 0, by: -1) {
            let node = nodes[k]
            let start = recordsLayerTimes ? DispatchTime.now().uptimeNanoseconds : 0
            defer { if recordsLayerTimes { layerTimes[k].backwardSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 } }
            switch node.step {
            case let .operation(op):
                let source = node.inputs[0]
                var target: UnsafeMutablePointer<Float>? = nil
                if source >= 0 { target = gradients[source] } else if wantInput { target = inputGradient }
                let accumulate = hasMerges && source >= 0 && consumers[source] > 1
                let destination = accumulate ? scratch! : target
                op.backward(input: pointer(source), output: activations[k], gradientOutput: gradients[k],
                            gradientInput: destination, batch: batch)
                if accumulate, let target {
                    let count = batch * op.inputShape.count
                    for i in 0..<count { target[i] += scratch![i] }
                }
            case let .merge(m):
                // Inputs read only by this merge start from zero; shared ones were zeroed above.
                for i in node.inputs where consumers[i] == 1 {
                    gradients[i].update(repeating: 0, count: batch * nodes[i].outputShape.count)
                }
                m.backward(output: activations[k], gradientOutput: gradients[k],
                           gradientInputs: node.inputs.map { gradients[$0] }, batch: batch)
            }
        }
        guard wantInput, let g = inputGradient else { return nil }
        return Tensor(shape: [batch, inputShape.height, inputShape.width, inputShape.channels],
                      data: Array(UnsafeBufferPointer(start: g, count: batch * inputShape.count)))
    }

    @discardableResult
    public func backward(_ gradientOutput: Tensor, inputGradient: Bool = false) -> Tensor? {
        precondition(gradientOutput.count == currentBatch * outputShape.count, "gradient does not match the last forward pass")
        return gradientOutput.data.withUnsafeBufferPointer { backward($0.baseAddress!, inputGradient: inputGradient) }
    }

    /// The same function for inference with every batch norm folded into the convolution
    /// before it: w' = w γ/σ per output channel, b' = β − γ μ/σ (σ from the running variance).
    /// One pass less over memory per layer; outputs equal `forward(training: false)`.
    public func foldedForInference() throws -> Network {
        let nodes = plainNodes
        let consumers = Network.readerCounts(nodes)
        var folded: [Node] = []
        var index = 0
        var remap: [Int: Int] = [-1: -1]
        while index < nodes.count {
            let node = nodes[index]
            if case let .operation(op) = node.step, index + 1 < nodes.count,
               case let .operation(next) = nodes[index + 1].step, let bn = next as? BatchNorm,
               nodes[index + 1].inputs == [index], consumers[index] == 1 {
                let c = bn.inputShape.channels
                var a = [Float](repeating: 0, count: c), b = a
                for ch in 0..<c {
                    a[ch] = bn.scale.value[ch] / (bn.runningVariance.value[ch] + bn.epsilon).squareRoot()
                    b[ch] = bn.shift.value[ch] - a[ch] * bn.runningMean.value[ch]
                }
                let replacement: Layer
                if let conv = op as? Conv2D {
                    let f = Conv2D(name: conv.name, input: conv.inputShape, filters: c, size: conv.size, stride: conv.stride,
                                   bias: true, activation: bn.activation)
                    for i in 0..<conv.weight.count { f.weight.value[i] = conv.weight.value[i] * a[i % c] }
                    f.bias!.value = b
                    replacement = f
                } else if let pw = op as? PointwiseConv2D {
                    let f = PointwiseConv2D(name: pw.name, input: pw.inputShape, filters: c, bias: true, activation: bn.activation)
                    for i in 0..<pw.weight.count { f.weight.value[i] = pw.weight.value[i] * a[i % c] }
                    f.bias!.value = b
                    replacement = f
                } else {
                    folded.append(Node(step: node.step, inputs: node.inputs.map { remap[$0]! }, layer: node.layer))
                    remap[index] = folded.count - 1
                    index += 1
                    continue
                }
                folded.append(Node(step: .operation(replacement), inputs: node.inputs.map { remap[$0]! }, layer: node.layer))
                remap[index] = folded.count - 1
                remap[index + 1] = folded.count - 1
                index += 2
            } else {
                folded.append(Node(step: node.step, inputs: node.inputs.map { remap[$0]! }, layer: node.layer))
                remap[index] = folded.count - 1
                index += 1
            }
        }
        return try Network(config: config, nodes: folded, fusing: Network.fusedForInference)
    }

    /// `nodes` with each direct-kernel first convolution and each pointwise convolution run
    /// with the 2x2/2 max pool reading it as one step (`ConvMaxPool`, `PointwiseMaxPool`;
    /// inference only), in plain chains.
    static func fusedForInference(_ nodes: [Node]) -> [Node] {
        fusingPairs(nodes) { first, second in
            guard let pool = second as? MaxPool2D else { return nil }
            if let conv = first as? Conv2D, ConvMaxPool.canFuse(conv, pool) { return ConvMaxPool(conv, pool) }
            if let pointwise = first as? PointwiseConv2D, PointwiseMaxPool.canFuse(pointwise, pool) { return PointwiseMaxPool(pointwise, pool) }
            return nil
        }
    }

    /// Sets every parameter from `values` by name; throws if a name is missing or a size differs.
    public func load(_ values: [String: [Float]], source: String) throws {
        for p in parameters {
            guard let v = values[p.name] else {
                throw ConfigError(source: source, reason: "missing tensor \"\(p.name)\"")
            }
            guard v.count == p.count else {
                throw ConfigError(source: source, reason: "tensor \"\(p.name)\" has \(v.count) values, the model needs \(p.count) (shape \(p.shape))")
            }
            p.value = v
        }
    }
}

