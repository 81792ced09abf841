import Foundation

/// What the operations of a graph are: `Trainable` graphs hold `Layer`s (forward and
/// backward), `InferenceOnly` graphs any `InferenceStep`. A training `Network` runs
/// `Node<Trainable>`s and an `InferenceNetwork` `Node<InferenceOnly>`s, so a step without a
/// backward pass cannot end up in a network that trains.
protocol StepKind {
    associatedtype Operation
    /// The operation seen as an inference step (its name, shapes, parameters).
    static func step(_ operation: Operation) -> any InferenceStep
}

enum Trainable: StepKind {
    static func step(_ operation: any Layer) -> any InferenceStep { operation }
}

enum InferenceOnly: StepKind {
    static func step(_ operation: any InferenceStep) -> any InferenceStep { operation }
}

/// One step of the network: an operation reading one earlier output, or a merge of several.
/// Input index −1 is the network's input.
struct Node<Kind: StepKind> {
    enum Step { case operation(Kind.Operation), merge(Route) }
    let step: Step
    let inputs: [Int]
    /// Index of the config layer this node belongs to.
    let layer: Int

    /// The operation as an inference step; nil for a merge.
    var operation: (any InferenceStep)? {
        if case let .operation(op) = step { return Kind.step(op) }
        return nil
    }
    var outputShape: FeatureShape {
        switch step {
        case let .operation(op): return Kind.step(op).outputShape
        case let .merge(m): return m.outputShape
        }
    }
    var name: String {
        switch step {
        case let .operation(op): return Kind.step(op).name
        case let .merge(m): return m.name
        }
    }
    var multiplyAccumulates: Int { operation?.multiplyAccumulates ?? 0 }
    var parameters: [Parameter] { operation?.parameters ?? [] }
    var isMerge: Bool { if case .merge = step { return true } else { return false } }
}

extension Node where Kind == InferenceOnly {
    /// The same node, its layer seen as an inference step.
    init(_ node: Node<Trainable>) {
        switch node.step {
        case let .operation(op): step = .operation(op)
        case let .merge(m): step = .merge(m)
        }
        inputs = node.inputs
        layer = node.layer
    }
}

/// The graph of a config, and what the other passes read of a graph.
enum NetworkGraph {
    /// One node per operation of the config (a conv, its batch norm, a pool, ...), in order,
    /// with zero parameters: the graph both networks start from (the training network then
    /// draws its kernels, the inference network loads them), before any rewrite.
    static func build(_ config: ModelConfig) throws -> [Node<Trainable>] {
        let shapes = try config.layerShapes()
        var nodes: [Node<Trainable>] = []
        var layerOutput: [Int] = []  // node index of each config layer's output
        var current = FeatureShape(height: config.inputHeight, width: config.inputWidth, channels: config.inputChannels)
        var previous = -1
        func add(_ op: any Layer, layer: Int) {
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

    /// How many later nodes read each node's output.
    static func readerCounts<Kind>(_ nodes: [Node<Kind>]) -> [Int] {
        var counts = [Int](repeating: 0, count: nodes.count)
        for node in nodes { for i in node.inputs where i >= 0 { counts[i] += 1 } }
        return counts
    }

    /// Whether any node merges several outputs (a shortcut or a route).
    static func hasMerges<Kind>(_ nodes: [Node<Kind>]) -> Bool { nodes.contains(where: \.isMerge) }
}
