import Foundation

/// What is wrong with a model config, and where.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var source: String
    /// Index in "layers", when the error is about one layer.
    public var layer: Int?
    public var field: String?
    public var reason: String

    public var description: String {
        var place = source
        if let layer { place += ": layer \(layer)" }
        if let field { place += ": \"\(field)\"" }
        return "\(place): \(reason)"
    }
}

/// One entry of the config's "layers" list.
public enum LayerConfig: Hashable, Sendable {
    /// A k x k convolution, optionally with batch norm (then without bias), then an activation.
    case convolution(filters: Int, size: Int, stride: Int, batchNorm: Bool, activation: Activation)
    /// Depthwise k x k then pointwise 1x1 (MobileNet's depthwise separable convolution), then
    /// batch norm and the activation.
    case separable(filters: Int, size: Int, stride: Int, batchNorm: Bool, activation: Activation)
    case maxPool(size: Int, stride: Int)
    /// Adds the output of an earlier layer (absolute index) to the previous layer's output.
    case shortcut(from: Int, activation: Activation)
    /// Concatenates the channels of earlier layers (absolute indices), for dense blocks.
    case route(layers: [Int])

    public var typeName: String {
        switch self {
        case .convolution: return "conv"
        case .separable: return "separable"
        case .maxPool: return "maxpool"
        case .shortcut: return "shortcut"
        case .route: return "route"
        }
    }
}

/// A network, as data: the JSON config is the one definition of a model (its layers, input
/// size, classes, anchors and loss settings). See README "Model config".
public struct ModelConfig: Hashable, Sendable {
    public var name: String
    public var inputWidth: Int
    public var inputHeight: Int
    public var inputChannels: Int
    public var classes: [String]
    public var anchors: [Anchor]
    public var layers: [LayerConfig]
    public var loss: RegionLossSettings

    /// Total downsampling factor (product of the strides).
    public var stride: Int {
        layers.reduce(1) { total, layer in
            switch layer {
            case let .convolution(_, _, s, _, _), let .separable(_, _, s, _, _), let .maxPool(_, s): return total * s
            default: return total
            }
        }
    }

    public var gridWidth: Int { inputWidth / stride }
    public var gridHeight: Int { inputHeight / stride }

    public var headLayout: HeadLayout {
        HeadLayout(gridWidth: gridWidth, gridHeight: gridHeight, anchors: anchors, classCount: classes.count)
    }

    public init(name: String, inputWidth: Int, inputHeight: Int, inputChannels: Int = 3, classes: [String],
                anchors: [Anchor], layers: [LayerConfig], loss: RegionLossSettings = RegionLossSettings()) {
        self.name = name; self.inputWidth = inputWidth; self.inputHeight = inputHeight
        self.inputChannels = inputChannels; self.classes = classes; self.anchors = anchors
        self.layers = layers; self.loss = loss
    }

    public static func load(path: String) throws -> ModelConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigError(source: path, reason: FileManager.default.fileExists(atPath: path)
                              ? "cannot read: \(error.localizedDescription)" : "no such file")
        }
        return try decode(data, source: path)
    }

    public static func decode(_ data: Data, source: String) throws -> ModelConfig {
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConfigError(source: source, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let root = json as? [String: Any] else {
            throw ConfigError(source: source, reason: "the config must be a JSON object")
        }
        var reader = FieldReader(source: source, layer: nil, object: root)
        try reader.rejectUnknown(["name", "input", "classes", "anchors", "layers", "loss"])
        let name = try reader.string("name", default: "model")
        guard let input = root["input"] as? [String: Any] else {
            throw ConfigError(source: source, field: "input", reason: "missing or not an object {\"width\", \"height\", \"channels\"}")
        }
        var inputReader = FieldReader(source: source, layer: nil, object: input, prefix: "input.")
        try inputReader.rejectUnknown(["width", "height", "channels"])
        let width = try inputReader.int("width")
        let height = try inputReader.int("height")
        let channels = try inputReader.int("channels", default: 3)
        guard channels == 3 else {
            throw ConfigError(source: source, field: "input.channels", reason: "must be 3 (RGB images), got \(channels)")
        }
        guard let classes = root["classes"] as? [String], !classes.isEmpty else {
            throw ConfigError(source: source, field: "classes", reason: "missing, empty, or not a list of names")
        }
        guard Set(classes).count == classes.count else {
            throw ConfigError(source: source, field: "classes", reason: "class names must be unique")
        }
        guard let anchorList = root["anchors"] as? [[Any]], !anchorList.isEmpty else {
            throw ConfigError(source: source, field: "anchors", reason: "missing, empty, or not a list of [width, height] pairs")
        }
        var anchors: [Anchor] = []
        for (i, pair) in anchorList.enumerated() {
            guard pair.count == 2, let w = (pair[0] as? NSNumber)?.floatValue, let h = (pair[1] as? NSNumber)?.floatValue,
                  w > 0, h > 0, w.isFinite, h.isFinite else {
                throw ConfigError(source: source, field: "anchors[\(i)]", reason: "must be [width, height] with positive numbers (grid-cell units)")
            }
            anchors.append(Anchor(width: w, height: h))
        }
        var loss = RegionLossSettings()
        if let lossObject = root["loss"] {
            guard let object = lossObject as? [String: Any] else {
                throw ConfigError(source: source, field: "loss", reason: "must be an object")
            }
            let unknown = Set(object.keys).subtracting(RegionLossSettings.keys)
            if let key = unknown.sorted().first {
                throw ConfigError(source: source, field: "loss.\(key)", reason: "unknown key (known: \(RegionLossSettings.keys.sorted().joined(separator: ", ")))")
            }
            do {
                loss = try JSONDecoder().decode(RegionLossSettings.self, from: JSONSerialization.data(withJSONObject: object))
            } catch {
                throw ConfigError(source: source, field: "loss", reason: "bad value (\(error))")
            }
        }
        guard let layerList = root["layers"] as? [[String: Any]], !layerList.isEmpty else {
            throw ConfigError(source: source, field: "layers", reason: "missing, empty, or not a list of objects")
        }
        var layers: [LayerConfig] = []
        for (index, object) in layerList.enumerated() {
            layers.append(try decodeLayer(object, index: index, source: source))
        }
        let config = ModelConfig(name: name, inputWidth: width, inputHeight: height, inputChannels: channels,
                                 classes: classes, anchors: anchors, layers: layers, loss: loss)
        try config.validate(source: source)
        return config
    }

    private static func decodeLayer(_ object: [String: Any], index: Int, source: String) throws -> LayerConfig {
        var r = FieldReader(source: source, layer: index, object: object)
        let type = try r.string("type")
        switch type {
        case "conv", "convolutional", "separable":
            try r.rejectUnknown(["type", "filters", "size", "stride", "batchnorm", "activation"])
            let filters = try r.int("filters"), size = try r.int("size", default: 3), stride = try r.int("stride", default: 1)
            let batchNorm = try r.bool("batchnorm", default: false)
            let activation = try r.activation("activation", default: .linear)
            guard filters > 0 else { throw r.error("filters", "must be positive, got \(filters)") }
            guard size > 0, size % 2 == 1 else { throw r.error("size", "must be an odd positive number, got \(size)") }
            guard stride == 1 || stride == 2 else { throw r.error("stride", "must be 1 or 2, got \(stride)") }
            return type == "separable"
                ? .separable(filters: filters, size: size, stride: stride, batchNorm: batchNorm, activation: activation)
                : .convolution(filters: filters, size: size, stride: stride, batchNorm: batchNorm, activation: activation)
        case "maxpool":
            try r.rejectUnknown(["type", "size", "stride"])
            let size = try r.int("size", default: 2), stride = try r.int("stride", default: 2)
            guard size >= 1 && size <= 3 else { throw r.error("size", "must be 1 to 3, got \(size)") }
            guard stride == 1 || stride == size else { throw r.error("stride", "must be 1 or equal to size, got \(stride)") }
            return .maxPool(size: size, stride: stride)
        case "shortcut":
            try r.rejectUnknown(["type", "from", "activation"])
            let from = try r.int("from")
            return .shortcut(from: from < 0 ? index + from : from, activation: try r.activation("activation", default: .linear))
        case "route":
            try r.rejectUnknown(["type", "layers"])
            guard let list = object["layers"] as? [Int], !list.isEmpty else {
                throw r.error("layers", "must be a non-empty list of layer indices")
            }
            return .route(layers: list.map { $0 < 0 ? index + $0 : $0 })
        default:
            throw r.error("type", "unknown layer type \"\(type)\" (known: conv, separable, maxpool, shortcut, route)")
        }
    }

    /// Shapes of every layer's output for one image; throws on impossible shapes.
    public func layerShapes(source: String = "config") throws -> [FeatureShape] {
        var shapes: [FeatureShape] = []
        var current = FeatureShape(height: inputHeight, width: inputWidth, channels: inputChannels)
        for (index, layer) in layers.enumerated() {
            func fail(_ field: String?, _ reason: String) -> ConfigError {
                ConfigError(source: source, layer: index, field: field, reason: reason)
            }
            switch layer {
            case let .convolution(filters, size, stride, _, _), let .separable(filters, size, stride, _, _):
                let pad = size / 2
                let h = (current.height + 2 * pad - size) / stride + 1, w = (current.width + 2 * pad - size) / stride + 1
                guard h >= 1, w >= 1 else { throw fail(nil, "input \(current) is too small for this layer") }
                current = FeatureShape(height: h, width: w, channels: filters)
            case let .maxPool(size, stride):
                if stride > 1 {
                    guard current.height >= size, current.width >= size else {
                        throw fail(nil, "input \(current) is too small to pool")
                    }
                    current = FeatureShape(height: (current.height - size) / stride + 1,
                                           width: (current.width - size) / stride + 1, channels: current.channels)
                }
            case let .shortcut(from, _):
                guard from >= 0 && from < index else {
                    throw fail("from", "must refer to an earlier layer (this is layer \(index), got \(from))")
                }
                guard shapes[from] == current else {
                    throw fail("from", "layer \(from) outputs \(shapes[from]) but the previous layer outputs \(current); a shortcut adds equal shapes")
                }
            case let .route(list):
                var channels = 0
                for from in list {
                    guard from >= 0 && from < index else {
                        throw fail("layers", "must refer to earlier layers (this is layer \(index), got \(from))")
                    }
                    guard shapes[from].height == shapes[list[0]].height, shapes[from].width == shapes[list[0]].width else {
                        throw fail("layers", "routed layers must have the same height and width (\(shapes[list[0]]) vs \(shapes[from]))")
                    }
                    channels += shapes[from].channels
                }
                current = FeatureShape(height: shapes[list[0]].height, width: shapes[list[0]].width, channels: channels)
            }
            shapes.append(current)
        }
        return shapes
    }

    func validate(source: String) throws {
        guard inputWidth > 0, inputHeight > 0, inputWidth <= 4096, inputHeight <= 4096 else {
            throw ConfigError(source: source, field: "input", reason: "width and height must be 1 to 4096, got \(inputWidth) x \(inputHeight)")
        }
        guard inputWidth % stride == 0, inputHeight % stride == 0 else {
            throw ConfigError(source: source, field: "input", reason: "width and height must be multiples of the network's stride \(stride), got \(inputWidth) x \(inputHeight)")
        }
        let shapes = try layerShapes(source: source)
        let last = layers.count - 1
        guard case let .convolution(filters, _, _, batchNorm, activation) = layers[last] else {
            throw ConfigError(source: source, layer: last, field: "type", reason: "the last layer (the detection head) must be a conv")
        }
        let expected = anchors.count * (5 + classes.count)
        guard filters == expected else {
            throw ConfigError(source: source, layer: last, field: "filters",
                              reason: "the head needs anchors x (5 + classes) = \(anchors.count) x (5 + \(classes.count)) = \(expected) filters, got \(filters)")
        }
        guard !batchNorm, activation == .linear else {
            throw ConfigError(source: source, layer: last, field: batchNorm ? "batchnorm" : "activation",
                              reason: "the head must be linear without batch norm (the loss applies the sigmoids and softmax)")
        }
        guard shapes[last].height == gridHeight, shapes[last].width == gridWidth else {
            throw ConfigError(source: source, layer: last, reason: "head output \(shapes[last]) does not match the grid \(gridWidth) x \(gridHeight)")
        }
    }

    /// The config as JSON, in the same format it is read from (and stored in the weights file).
    public func jsonString() -> String {
        func number(_ x: Float) -> String {
            x == x.rounded() && abs(x) < 1e7 ? String(Int(x)) : "\(x)"
        }
        func quoted(_ s: String) -> String {
            let data = try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
            let text = data.flatMap { String(data: $0, encoding: .utf8) } ?? "[\"\"]"
            return String(text.dropFirst().dropLast())
        }
        var lines: [String] = []
        lines.append("{\"name\": \(quoted(name)),")
        lines.append(" \"input\": {\"width\": \(inputWidth), \"height\": \(inputHeight), \"channels\": \(inputChannels)},")
        lines.append(" \"classes\": [\(classes.map(quoted).joined(separator: ", "))],")
        lines.append(" \"anchors\": [\(anchors.map { "[\(number($0.width)), \(number($0.height))]" }.joined(separator: ", "))],")
        lines.append(" \"loss\": {\"coord\": \(number(loss.coordScale)), \"object\": \(number(loss.objectScale)), \"noobject\": \(number(loss.noObjectScale)), \"class\": \(number(loss.classScale)), \"ignore_threshold\": \(number(loss.ignoreThreshold)), \"warmup_images\": \(loss.warmupImages), \"rescore\": \(loss.rescore)},")
        lines.append(" \"layers\": [")
        let entries = layers.map { layer -> String in
            switch layer {
            case let .convolution(f, s, st, bn, act), let .separable(f, s, st, bn, act):
                return "  {\"type\": \"\(layer.typeName)\", \"filters\": \(f), \"size\": \(s), \"stride\": \(st), \"batchnorm\": \(bn), \"activation\": \"\(act.rawValue)\"}"
            case let .maxPool(s, st):
                return "  {\"type\": \"maxpool\", \"size\": \(s), \"stride\": \(st)}"
            case let .shortcut(from, act):
                return "  {\"type\": \"shortcut\", \"from\": \(from), \"activation\": \"\(act.rawValue)\"}"
            case let .route(list):
                return "  {\"type\": \"route\", \"layers\": [\(list.map(String.init).joined(separator: ", "))]}"
            }
        }
        lines.append(entries.joined(separator: ",\n"))
        lines.append(" ]}")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Reads typed fields of one JSON object, with errors that name the field and the layer.
private struct FieldReader {
    let source: String
    let layer: Int?
    let object: [String: Any]
    var prefix = ""

    func error(_ field: String, _ reason: String) -> ConfigError {
        ConfigError(source: source, layer: layer, field: prefix + field, reason: reason)
    }

    func rejectUnknown(_ known: Set<String>) throws {
        if let key = Set(object.keys).subtracting(known).sorted().first {
            throw error(key, "unknown key (known here: \(known.sorted().joined(separator: ", ")))")
        }
    }

    func int(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let value = object[key] else {
            if let fallback { return fallback }
            throw error(key, "missing")
        }
        guard let number = value as? NSNumber, !isJSONBoolean(value),
              let int = Int(exactly: number.doubleValue) else {
            throw error(key, "must be an integer, got \(value)")
        }
        return int
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = object[key] else { return fallback }
        guard isJSONBoolean(value), let b = value as? Bool else {
            throw error(key, "must be true or false, got \(value)")
        }
        return b
    }

    func string(_ key: String, default fallback: String? = nil) throws -> String {
        guard let value = object[key] else {
            if let fallback { return fallback }
            throw error(key, "missing")
        }
        guard let s = value as? String else { throw error(key, "must be a string, got \(value)") }
        return s
    }

    func activation(_ key: String, default fallback: Activation) throws -> Activation {
        guard object[key] != nil else { return fallback }
        let name = try string(key)
        guard let activation = Activation(rawValue: name) else {
            throw error(key, "unknown activation \"\(name)\" (known: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return activation
    }
}

/// JSONSerialization gives true/false as a boolean NSNumber subclass, which also casts to Int;
/// the class tells them apart (on Linux and on Apple platforms alike).
func isJSONBoolean(_ value: Any) -> Bool {
    let typeName = String(describing: type(of: value))
    return typeName == "__NSCFBoolean" || typeName == "Bool"
}
