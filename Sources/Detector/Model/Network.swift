import Foundation

/// A network built from a `ModelConfig` for training: forward and backward over a batch, NHWC.
///
/// Made of parts, one file each: the config's graph (`NetworkGraph`), the rewrites run on it
/// (`NetworkFusion`: fused steps, the direct first convolution), the buffers
/// (`TrainingMemory`, NetworkMemory.swift) and the passes (NetworkExecution.swift). It runs
/// only `Layer`s, each with its backward pass; `foldedForInference()` gives the
/// `InferenceNetwork` of the same weights.
public final class Network {
    public let config: ModelConfig
    /// The steps as run: `plainNodes` rewritten by `RewritePass.training` (each batch norm and
    /// the 2x2/2 max pool after it as one `BatchNormMaxPool` in plain chains, the first
    /// convolution as a `DirectConv2D`).
    let nodes: [Node<Trainable>]
    /// One node per operation of the config (a conv, its batch norm, a pool, ...).
    let plainNodes: [Node<Trainable>]
    /// Every parameter and buffer, in a stable order (config layer, then operation).
    public let parameters: [Parameter]
    public let inputShape: FeatureShape
    /// How many later steps read each step's output.
    let consumers: [Int]
    let hasMerges: Bool
    let memory: TrainingMemory
    var currentBatch = 0
    var trainedForward = false

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
    public internal(set) var layerTimes: [LayerTime] = []
    public func resetLayerTimes() { layerTimes = nodes.map { LayerTime(name: $0.name) } }

    /// A new network with Glorot-normal kernels from `seed`, zero biases, batch norm scale 1,
    /// shift 0, running mean 0 and variance 1.
    public convenience init(config: ModelConfig, seed: UInt64) throws {
        try self.init(config: config, nodes: NetworkGraph.build(config))
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

    /// A network running `fusing(plain)`: by default `RewritePass.training`.
    init(config: ModelConfig, nodes plain: [Node<Trainable>],
         fusing: ([Node<Trainable>]) -> [Node<Trainable>] = RewritePass.training.apply) throws {
        self.config = config
        self.plainNodes = plain
        let nodes = fusing(plain)
        self.nodes = nodes
        self.parameters = nodes.flatMap(\.parameters)
        self.inputShape = FeatureShape(height: config.inputHeight, width: config.inputWidth, channels: config.inputChannels)
        self.consumers = NetworkGraph.readerCounts(nodes)
        self.hasMerges = NetworkGraph.hasMerges(nodes)
        self.memory = TrainingMemory(outputCounts: nodes.map(\.outputShape.count), inputCount: inputShape.count, hasMerges: hasMerges)
        resetLayerTimes()
    }

    public var headLayout: HeadLayout { config.headLayout }
    public var outputShape: FeatureShape { nodes[nodes.count - 1].outputShape }

    /// Trainable parameters (batch norm scale and shift counted, running statistics not).
    public var parameterCount: Int { parameters.filter(\.trainable).reduce(0) { $0 + $1.count } }
    /// Forward FLOPs for one image (2 per multiply-accumulate of the convolutions).
    public var flopsPerImage: Int { 2 * nodes.reduce(0) { $0 + $1.multiplyAccumulates } }

    public func zeroGradients() { for p in parameters { p.zeroGradient() } }

    /// The same function for inference with every batch norm that follows a convolution
    /// folded into it (`RewritePass.batchNormFolding`), then the inference-only fused steps;
    /// outputs equal `forward(training: false)` up to rounding. The folded network shares
    /// this one's parameters where nothing was folded (depthwise kernels, their batch norms).
    public func foldedForInference() -> InferenceNetwork {
        InferenceNetwork(config: config, trainingNodes: plainNodes)
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
