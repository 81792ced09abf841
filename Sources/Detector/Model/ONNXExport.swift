import Foundation

/// A network that cannot be written as ONNX, naming the config layer.
public struct ONNXExportError: Error, CustomStringConvertible, Sendable, Equatable {
    public var layer: Int?
    public var reason: String
    public init(layer: Int?, reason: String) { self.layer = layer; self.reason = reason }
    public var description: String { "ONNX export: " + (layer.map { "layer \($0): " } ?? "") + reason }
}

/// The ONNX form of a network (README, "Exporting to ONNX"):
///
/// - input `images`: float32 [batch, C, H, W] (NCHW; C = 3, RGB in [0, 1] after `letterbox`),
///   the batch dimension symbolic ("batch"), H and W the config's;
/// - output `head`: float32 [batch, A·(5 + K), H/s, W/s] (s the network's total stride), the raw
///   head before any sigmoid or exp: channel a·(5 + K) + k of anchor a holds, for k = 0 … 4,
///   t_x, t_y, t_w, t_h, t_o, then the K class logits (`HeadLayout`'s order, NCHW instead of NHWC);
/// - batch norm folded into the convolution before it (w' = w γ/σ, b' = β − γ μ/σ), as the
///   engine runs it for inference; kernels [C_out, C_in / group, k, k], a depthwise convolution
///   a `Conv` with group = C;
/// - with `int8Kernels`, each folded kernel stored as int8 with one float scale per output
///   channel (symmetric, as `quantizePerChannel`) and dequantized by a `DequantizeLinear`
///   before its `Conv` (QDQ weights, about a quarter of the size; activations stay float32);
/// - `metadata_props`: the class names, the anchors, the stride, the pre-processing and the
///   head layout, the kernels' storage, and the whole model config.
public enum ONNXExport {
    /// IR version 8 (ONNX 1.10) and operator set 13: read by every ONNX Runtime since 1.10.
    public static let irVersion = 8
    public static let opsetVersion = 13
    public static let inputName = "images"
    public static let outputName = "head"
    public static let batchDimension = "batch"
    /// The version of this exporter's graph layout, in `producer_version`.
    public static let producerVersion = "1"

    /// The metadata a runtime needs to decode the head, in the order written.
    static func metadata(_ config: ModelConfig, int8Kernels: Bool) -> [(key: String, value: String)] {
        let anchors = config.anchors.map { "[\(plainNumber($0.width)), \(plainNumber($0.height))]" }.joined(separator: ", ")
        return [
            ("classes", JSONValue.array(config.classes.map { .string($0) }).text),
            ("anchors", "[\(anchors)]"),
            ("stride", String(config.stride)),
            ("input_layout", "images: float32 [batch, \(config.inputChannels), \(config.inputHeight), \(config.inputWidth)] NCHW, RGB in [0, 1]: the image scaled by min(W/w, H/h) with bilinear interpolation (align_corners=False), centred, the rest 0.5"),
            ("head_layout", "head: float32 [batch, \(config.headLayout.channels), \(config.gridHeight), \(config.gridWidth)]; channel a*(5+\(config.classes.count))+k of anchor a: k=0 t_x, 1 t_y, 2 t_w, 3 t_h, 4 t_o, 5.. class logits; box centre ((i + sigmoid(t_x)) / \(config.gridWidth), (j + sigmoid(t_y)) / \(config.gridHeight)), size (anchor_w exp(min(t_w, 10)) / \(config.gridWidth), anchor_h exp(min(t_h, 10)) / \(config.gridHeight)) as fractions of the input, score sigmoid(t_o) * softmax(logits)"),
            ("kernels", int8Kernels ? "int8, one float32 scale per output channel (DequantizeLinear, axis 0)" : "float32"),
            ("config", config.jsonString()),
        ]
    }
}

extension Network {
    /// `foldedForInference()` as ONNX (see `InferenceNetwork.onnxModel`).
    public func onnxModel(int8Kernels: Bool = false) throws -> Data {
        try foldedForInference().onnxModel(int8Kernels: int8Kernels)
    }

    /// Writes `onnxModel()` to `path` (see `InferenceNetwork.exportONNX`).
    public func exportONNX(to path: String, int8Kernels: Bool = false) throws {
        try foldedForInference().exportONNX(to: path, int8Kernels: int8Kernels)
    }
}

extension InferenceNetwork {
    /// This network as a serialized ONNX `ModelProto` (see `ONNXExport`): the same bytes for the
    /// same weights and config. Throws `ONNXExportError` for a step ONNX cannot represent
    /// (none of the layer types a config can hold).
    ///
    /// With `int8Kernels` the folded kernels are quantized per output channel. Folding scales
    /// each output channel by one factor a = γ/σ, and symmetric per-channel quantization
    /// commutes with that (round(w a / (|a| max|w| / 127)) = ±round(w / (max|w| / 127))), so for
    /// a network loaded from an int8 file this recovers the file's own int8 codes, and the
    /// ONNX model computes what the engine computes with that file.
    public func onnxModel(int8Kernels: Bool = false) throws -> Data {
        var graph = ONNXGraphBuilder(int8Kernels: int8Kernels)
        let nodes = plainNodes
        let readers = NetworkGraph.readerCounts(nodes)
        var tensor: [Int: String] = [-1: ONNXExport.inputName]
        var k = 0
        while k < nodes.count {
            let node = nodes[k]
            let inputs = node.inputs.map { tensor[$0]! }
            switch node.step {
            case let .operation(op):
                switch op {
                case let conv as Conv2D:
                    tensor[k] = graph.convolution(conv.name, input: inputs[0], weightValues: conv.weight.value, bias: conv.bias?.value,
                                                  kernelLayout: .hwio, size: conv.size, stride: conv.stride, padding: conv.padding,
                                                  inputChannels: conv.inputShape.channels, outputChannels: conv.outputShape.channels,
                                                  group: 1, activation: conv.activation)
                case let pointwise as PointwiseConv2D:
                    tensor[k] = graph.convolution(pointwise.name, input: inputs[0], weightValues: pointwise.weight.value, bias: pointwise.bias?.value,
                                                  kernelLayout: .hwio, size: 1, stride: 1, padding: 0,
                                                  inputChannels: pointwise.inputShape.channels, outputChannels: pointwise.outputShape.channels,
                                                  group: 1, activation: pointwise.activation)
                case let depthwise as DepthwiseConv2D:
                    // Folding leaves the batch norm after a depthwise convolution
                    // (the engine has no depthwise bias): folded here, per channel.
                    var batchNorm: BatchNorm?
                    if k + 1 < nodes.count, case let .operation(next) = nodes[k + 1].step, let bn = next as? BatchNorm,
                       nodes[k + 1].inputs == [k], readers[k] == 1 {
                        batchNorm = bn
                    }
                    let c = depthwise.inputShape.channels
                    var weight = depthwise.weight.value
                    var bias: [Float]?
                    if let bn = batchNorm {
                        let (a, b) = bn.foldingCoefficients
                        for i in weight.indices { weight[i] *= a[i % c] }
                        bias = b
                    }
                    let name = graph.convolution(depthwise.name, input: inputs[0], weightValues: weight, bias: bias,
                                                 kernelLayout: .hwc, size: depthwise.size, stride: depthwise.stride,
                                                 padding: depthwise.padding, inputChannels: c, outputChannels: c, group: c,
                                                 activation: batchNorm?.activation ?? .linear)
                    tensor[k] = name
                    if batchNorm != nil {
                        tensor[k + 1] = name
                        k += 1
                    }
                case is BatchNorm:
                    throw ONNXExportError(layer: node.layer, reason: "batch norm \(op.name) does not follow a convolution it can be folded into")
                case let activation as ActivationLayer:
                    tensor[k] = graph.activation(activation.activation, input: inputs[0], layerName: activation.name.layerPrefix)
                case let pool as MaxPool2D:
                    // Stride 1 keeps the size: windows past the bottom and right edges see only
                    // the pixels inside, which is MaxPool with k − 1 padding at the end (ONNX
                    // pads a max pool with −∞).
                    let end = pool.stride == 1 ? pool.size - 1 : 0
                    tensor[k] = graph.add("MaxPool", inputs: inputs, output: pool.name, attributes: [
                        .ints("kernel_shape", [pool.size, pool.size]), .ints("pads", [0, 0, end, end]),
                        .ints("strides", [pool.stride, pool.stride]),
                    ])
                default:
                    throw ONNXExportError(layer: node.layer, reason: "\(op.name) (\(type(of: op))) has no ONNX form")
                }
            case let .merge(route):
                switch route.kind {
                case let .add(activation):
                    let sum = graph.add("Add", inputs: inputs, output: route.name)
                    tensor[k] = graph.activation(activation, input: sum, layerName: route.name.layerPrefix)
                case .concatenate:
                    tensor[k] = graph.add("Concat", inputs: inputs, output: route.name, attributes: [.int("axis", 1)])
                }
            }
            k += 1
        }
        // The last tensor is read by no node: renaming its producer's output is safe.
        let last = tensor[nodes.count - 1]!
        guard let producer = graph.nodes.lastIndex(where: { $0.outputs == [last] }) else {
            throw ONNXExportError(layer: nil, reason: "the network computes nothing")
        }
        graph.nodes[producer].outputs = [ONNXExport.outputName]

        let c = config
        let batch = ONNXModel.Dimension.parameter(ONNXExport.batchDimension)
        let model = ONNXModel.Model(
            irVersion: ONNXExport.irVersion, opsetVersion: ONNXExport.opsetVersion,
            producerName: "detector train-detector", producerVersion: ONNXExport.producerVersion,
            documentation: "\(c.name): YOLOv2-style detector, \(c.classes.count) classes, \(c.anchors.count) anchors; raw head output, decode and NMS as README \"Exporting to ONNX\" describes",
            graph: ONNXModel.Graph(
                name: c.name, nodes: graph.nodes, initializers: graph.initializers,
                inputs: [ONNXModel.ValueInfo(name: ONNXExport.inputName,
                                             dimensions: [batch, .value(c.inputChannels), .value(c.inputHeight), .value(c.inputWidth)])],
                outputs: [ONNXModel.ValueInfo(name: ONNXExport.outputName,
                                              dimensions: [batch, .value(c.headLayout.channels), .value(c.gridHeight), .value(c.gridWidth)])]),
            metadata: ONNXExport.metadata(c, int8Kernels: int8Kernels))
        return Data(model.serialized())
    }

    /// Writes `onnxModel()` to `path` atomically (a temporary file, then rename); a failure is a
    /// `FileWriteError` naming `path`.
    public func exportONNX(to path: String, int8Kernels: Bool = false) throws {
        let data = try onnxModel(int8Kernels: int8Kernels)
        do {
            try writeAtomically(data, to: path)
        } catch let error as FileWriteError {
            throw error
        } catch {
            // writeAtomically's only unwrapped error: creating the destination's folder.
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            throw FileWriteError(path: path, reason: "cannot create the folder \(folder): \(error.localizedDescription)")
        }
    }
}

private extension String {
    /// "layers.3" of "layers.3.pointwise".
    var layerPrefix: String {
        let parts = split(separator: ".", maxSplits: 2)
        return parts.count >= 2 ? "\(parts[0]).\(parts[1])" : self
    }
}

/// The nodes and initializers of a graph being written; each node's name is its output's.
struct ONNXGraphBuilder {
    /// Kernels as int8 + a per-output-channel scale, dequantized in the graph.
    let int8Kernels: Bool
    var nodes: [ONNXModel.Node] = []
    var initializers: [ONNXModel.Tensor] = []
    private var haveRelu6Bounds = false

    init(int8Kernels: Bool) { self.int8Kernels = int8Kernels }

    /// The engine's kernel layouts: HWIO [k, k, C_in, C_out] (conv; a pointwise [C_in, C_out] is
    /// the same with k = 1) and HWC [k, k, C] (depthwise).
    enum KernelLayout { case hwio, hwc }

    /// Adds a node; returns its output's name.
    @discardableResult
    mutating func add(_ operatorType: String, inputs: [String], output: String, attributes: [ONNXModel.Attribute] = []) -> String {
        nodes.append(ONNXModel.Node(inputs: inputs, outputs: [output], name: output, operatorType: operatorType, attributes: attributes))
        return output
    }

    mutating func constant(_ name: String, dimensions: [Int], _ values: [Float]) -> String {
        initializers.append(ONNXModel.Tensor(name: name, dimensions: dimensions, floats: values))
        return name
    }

    /// A `Conv` (weight [C_out, C_in / group, k, k] from the engine's layout, symmetric padding
    /// `padding` as the engine's "same" convolution), then the activation.
    mutating func convolution(_ name: String, input: String, weightValues w: [Float], bias: [Float]?, kernelLayout: KernelLayout,
                              size k: Int, stride: Int, padding: Int, inputChannels: Int, outputChannels: Int, group: Int,
                              activation: Activation) -> String {
        let perGroup = inputChannels / group
        /// The engine's kernel as [C_out, C_in / group, k, k].
        func oihw<T>(_ values: [T]) -> [T] {
            var out = [T]()
            out.reserveCapacity(values.count)
            for co in 0..<outputChannels { for ci in 0..<perGroup { for ky in 0..<k { for kx in 0..<k {
                switch kernelLayout {
                case .hwio: out.append(values[((ky * k + kx) * inputChannels + ci) * outputChannels + co])
                case .hwc: out.append(values[(ky * k + kx) * outputChannels + co])
                }
            } } } }
            return out
        }
        let dimensions = [outputChannels, perGroup, k, k]
        let weight: String
        if int8Kernels {
            // Both layouts have the output channel last, the axis quantizePerChannel scales.
            let (q, scales) = quantizePerChannel(w, channels: outputChannels)
            initializers.append(ONNXModel.Tensor(name: "\(name).weight_quantized", dimensions: dimensions, int8: oihw(q)))
            let scale = constant("\(name).weight_scale", dimensions: [outputChannels], scales)
            initializers.append(ONNXModel.Tensor(name: "\(name).weight_zero_point", dimensions: [outputChannels],
                                                 int8: [Int8](repeating: 0, count: outputChannels)))
            weight = add("DequantizeLinear", inputs: ["\(name).weight_quantized", scale, "\(name).weight_zero_point"],
                         output: "\(name).weight", attributes: [.int("axis", 0)])
        } else {
            weight = constant("\(name).weight", dimensions: dimensions, oihw(w))
        }
        var inputs = [input, weight]
        if let bias { inputs.append(constant("\(name).bias", dimensions: [outputChannels], bias)) }
        var attributes: [ONNXModel.Attribute] = [.ints("kernel_shape", [k, k]), .ints("pads", [padding, padding, padding, padding]),
                                                 .ints("strides", [stride, stride])]
        if group > 1 { attributes.insert(.int("group", group), at: 0) }
        let output = add("Conv", inputs: inputs, output: name, attributes: attributes)
        return self.activation(activation, input: output, layerName: name.layerPrefix)
    }

    /// The activation on `input` (nothing for linear); returns the result's name.
    mutating func activation(_ activation: Activation, input: String, layerName: String) -> String {
        let output = "\(layerName).\(activation.rawValue)"
        switch activation {
        case .linear:
            return input
        case .leaky:
            return add("LeakyRelu", inputs: [input], output: output, attributes: [.float("alpha", Activation.leakySlope)])
        case .relu:
            return add("Relu", inputs: [input], output: output)
        case .relu6:
            // Clip's bounds are inputs since opset 11: two scalar initializers shared by all.
            if !haveRelu6Bounds {
                _ = constant("relu6.min", dimensions: [], [0])
                _ = constant("relu6.max", dimensions: [], [6])
                haveRelu6Bounds = true
            }
            return add("Clip", inputs: [input, "relu6.min", "relu6.max"], output: output)
        }
    }
}
