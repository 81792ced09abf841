import Foundation

/// A network for inference only: every batch norm that follows a convolution folded into it
/// (w' = w γ/σ per output channel, b' = β − γ μ/σ, σ from the running variance), the
/// inference-only fused steps (`ConvMaxPool`, `PointwiseMaxPool`) and the first convolution on
/// its direct kernel. It has no backward pass: its steps are `InferenceStep`s, and its
/// buffers are shared by steps whose outputs are never needed at once (`InferenceMemoryPlan`).
///
/// Built from a config and weights directly (`init(config:checkpoint:)`, `load(path:)`), or
/// from a training network (`Network.foldedForInference()`); both give the same steps and the
/// same outputs, bit for bit, for the same weights.
public final class InferenceNetwork {
    public let config: ModelConfig
    /// The steps as run: `plainNodes` rewritten by `RewritePass.inference`.
    let nodes: [Node<InferenceOnly>]
    /// The graph with batch norms folded, before the inference rewrites (one node per
    /// operation that remains: what the ONNX export writes).
    let plainNodes: [Node<InferenceOnly>]
    /// Every parameter the steps read, in a stable order (config layer, then operation).
    public let parameters: [Parameter]
    public let inputShape: FeatureShape
    let memory: InferenceMemory
    /// The buffers of the image-parallel schedule (see `forward(_:batch:)`).
    let lanes: ImageLanes

    /// When true, forward adds each step's time into `layerTimes` (see `Network.LayerTime`).
    public var recordsLayerTimes = false
    public internal(set) var layerTimes: [Network.LayerTime] = []
    public func resetLayerTimes() { layerTimes = nodes.map { Network.LayerTime(name: $0.name) } }

    /// The network of `config` with the weights of `checkpoint` (every tensor the config needs,
    /// with its shape, and no other: `Checkpoint.apply`'s checks and errors), built without a
    /// training network: the config's graph takes the weights, then is folded.
    public convenience init(config: ModelConfig, checkpoint: Checkpoint) throws {
        let plain = try NetworkGraph.build(config)
        try checkpoint.apply(to: plain.flatMap(\.parameters))
        self.init(config: config, trainingNodes: plain)
    }

    /// The network of a weights file (safetensors with the config in its metadata).
    public static func load(path: String) throws -> InferenceNetwork {
        let checkpoint = try Checkpoint.load(path: path)
        let config = try ModelConfig.decode(Data(checkpoint.configJSON.utf8), source: "\(path) (config in metadata)")
        return try InferenceNetwork(config: config, checkpoint: checkpoint)
    }

    /// The inference network of a config's graph `plain` (with its weights): batch norms
    /// folded, then the inference rewrites.
    convenience init(config: ModelConfig, trainingNodes plain: [Node<Trainable>]) {
        let folded = RewritePass.batchNormFolding.apply(plain)
        self.init(config: config, nodes: folded.map(Node<InferenceOnly>.init))
    }

    /// A network running `fusing(plain)`: by default `RewritePass.inference`.
    init(config: ModelConfig, nodes plain: [Node<InferenceOnly>],
         fusing: ([Node<InferenceOnly>]) -> [Node<InferenceOnly>] = RewritePass.inference.apply) {
        self.config = config
        self.plainNodes = plain
        let nodes = fusing(plain)
        self.nodes = nodes
        self.parameters = nodes.flatMap(\.parameters)
        self.inputShape = FeatureShape(height: config.inputHeight, width: config.inputWidth, channels: config.inputChannels)
        let plan = InferenceMemoryPlan(nodes)
        self.memory = InferenceMemory(plan: plan, inputCount: inputShape.count)
        self.lanes = ImageLanes(plan: plan)
        resetLayerTimes()
    }

    public var headLayout: HeadLayout { config.headLayout }
    public var outputShape: FeatureShape { nodes[nodes.count - 1].outputShape }
    /// Forward FLOPs for one image (2 per multiply-accumulate of the convolutions).
    public var flopsPerImage: Int { 2 * nodes.reduce(0) { $0 + $1.multiplyAccumulates } }
}
