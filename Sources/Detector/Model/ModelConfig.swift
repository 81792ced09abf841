import Foundation

/// What is wrong with a model config, and where.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var source: String
    /// Index in "layers", when the error is about one layer.
    public var layer: Int?
    public var field: String?
    public var reason: String

    public init(source: String, layer: Int? = nil, field: String? = nil, reason: String) {
        self.source = source; self.layer = layer; self.field = field; self.reason = reason
    }

    public var description: String {
        var place = source
        if let layer { place += ": layer \(layer)" }
        if let field { place += ": \"\(field)\"" }
        return "\(place): \(reason)"
    }
}

/// One entry of the config's "layers" list. Indices of earlier layers are absolute (a negative
/// index in the JSON counts back from the layer that holds it, darknet style).
public enum LayerConfig: Hashable, Sendable {
    /// A k x k convolution, optionally with batch norm (then without bias), then an activation.
    case convolution(filters: Int, size: Int, stride: Int, batchNorm: Bool, activation: Activation)
    /// Depthwise k x k then pointwise 1x1 (MobileNet's depthwise separable convolution), then
    /// batch norm and the activation (no batch norm or activation between the two convolutions,
    /// as in ../shared/bench/tiny_dsc.py).
    case separable(filters: Int, size: Int, stride: Int, batchNorm: Bool, activation: Activation)
    /// A depthwise k x k convolution on its own (channels unchanged), then batch norm and activation.
    case depthwise(size: Int, stride: Int, batchNorm: Bool, activation: Activation)
    /// A 1x1 convolution on its own, then batch norm (or a bias) and activation.
    case pointwise(filters: Int, batchNorm: Bool, activation: Activation)
    case maxPool(size: Int, stride: Int)
    /// Adds the output of an earlier layer to the previous layer's output, then the activation.
    case shortcut(from: Int, activation: Activation)
    /// Concatenates the channels of earlier layers, in order (a dense block).
    case route(layers: [Int])

    public var typeName: String {
        switch self {
        case .convolution: return "conv"
        case .separable: return "separable"
        case .depthwise: return "depthwise"
        case .pointwise: return "pointwise"
        case .maxPool: return "maxpool"
        case .shortcut: return "shortcut"
        case .route: return "route"
        }
    }

    /// Downsampling factor of this layer.
    public var stride: Int {
        switch self {
        case let .convolution(_, _, s, _, _), let .separable(_, _, s, _, _), let .depthwise(_, s, _, _), let .maxPool(_, s): return s
        default: return 1
        }
    }

    /// The JSON object of this layer, keys as in the config format.
    var json: JSONValue {
        func number(_ x: Int) -> JSONValue { .number(Double(x)) }
        switch self {
        case let .convolution(f, s, st, bn, act), let .separable(f, s, st, bn, act):
            return .object(["type": .string(typeName), "filters": number(f), "size": number(s), "stride": number(st),
                            "batchnorm": .bool(bn), "activation": .string(act.rawValue)])
        case let .depthwise(s, st, bn, act):
            return .object(["type": .string(typeName), "size": number(s), "stride": number(st),
                            "batchnorm": .bool(bn), "activation": .string(act.rawValue)])
        case let .pointwise(f, bn, act):
            return .object(["type": .string(typeName), "filters": number(f), "batchnorm": .bool(bn), "activation": .string(act.rawValue)])
        case let .maxPool(s, st):
            return .object(["type": .string(typeName), "size": number(s), "stride": number(st)])
        case let .shortcut(from, act):
            return .object(["type": .string(typeName), "from": number(from), "activation": .string(act.rawValue)])
        case let .route(list):
            return .object(["type": .string(typeName), "layers": .array(list.map(number))])
        }
    }
}

/// A network, as data: the JSON config is the one definition of a model (its layers, input
/// size, classes, anchors and loss settings). Format (README "Model config"):
///
///     {"name": "tiny-dsc", "input": {"width": 256, "height": 256, "channels": 3},
///      "classes": ["circle", ...], "anchors": [[0.6, 0.6], ...],      // grid-cell units
///      "loss": {...RegionLossSettings.keys...},                          // optional
///      "layers": [{"type": "conv", "filters": 16, "size": 3, "stride": 1,
///                  "batchnorm": true, "activation": "leaky"}, ...]}
///
/// Layer types and keys (defaults in brackets): `conv` and `separable` {filters, size [3],
/// stride [1], batchnorm [false], activation [linear]}; `depthwise` {size [3], stride [1],
/// batchnorm, activation}; `pointwise` {filters, batchnorm, activation}; `maxpool` {size [2],
/// stride [2]}; `shortcut` {from, activation}; `route` {layers}. Activations: leaky (slope 0.1),
/// relu, relu6, linear. The last layer is the head: a conv with anchors x (5 + classes)
/// filters, linear, without batch norm.
///
/// Codable: decoding validates exactly like `decode(_:source:)` (throwing `ConfigError`), and
/// encoding writes the same format, so a config survives the trip through the weights file's
/// `__metadata__`.
public struct ModelConfig: Hashable, Sendable, Codable {
    public var name: String
    public var inputWidth: Int
    public var inputHeight: Int
    public var inputChannels: Int
    public var classes: [String]
    public var anchors: [Anchor]
    public var layers: [LayerConfig]
    public var loss: RegionLossSettings

    /// Total downsampling factor (product of the strides).
    public var stride: Int { layers.reduce(1) { $0 * $1.stride } }
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

    /// Decodes and validates a config; `source` names it in errors (a path, or "metadata").
    public static func decode(_ data: Data, source: String) throws -> ModelConfig {
        let json: JSONValue
        do { json = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw ConfigError(source: source, reason: "not valid JSON (\(error))")
        }
        return try ModelConfig(json: json, source: source)
    }

    public init(from decoder: Decoder) throws {
        try self.init(json: JSONValue(from: decoder), source: "config")
    }

    public func encode(to encoder: Encoder) throws {
        try json.encode(to: encoder)
    }

    init(json: JSONValue, source: String) throws {
        guard case let .object(root) = json else {
            throw ConfigError(source: source, reason: "the config must be a JSON object")
        }
        let reader = FieldReader(source: source, layer: nil, object: root)
        try reader.rejectUnknown(["name", "input", "classes", "anchors", "layers", "loss"])
        name = try reader.string("name", default: "model")
        guard case let .object(input)? = root["input"] else {
            throw ConfigError(source: source, field: "input", reason: "missing or not an object {\"width\", \"height\", \"channels\"}")
        }
        let inputReader = FieldReader(source: source, layer: nil, object: input, prefix: "input.")
        try inputReader.rejectUnknown(["width", "height", "channels"])
        inputWidth = try inputReader.int("width")
        inputHeight = try inputReader.int("height")
        inputChannels = try inputReader.int("channels", default: 3)
        guard inputChannels == 3 else {
            throw ConfigError(source: source, field: "input.channels", reason: "must be 3 (RGB images), got \(inputChannels)")
        }
        guard case let .array(classList)? = root["classes"], !classList.isEmpty else {
            throw ConfigError(source: source, field: "classes", reason: "missing, empty, or not a list of names")
        }
        classes = try classList.enumerated().map { i, value in
            guard case let .string(s) = value, !s.isEmpty else {
                throw ConfigError(source: source, field: "classes[\(i)]", reason: "must be a non-empty string")
            }
            return s
        }
        guard Set(classes).count == classes.count else {
            throw ConfigError(source: source, field: "classes", reason: "class names must be unique")
        }
        guard case let .array(anchorList)? = root["anchors"], !anchorList.isEmpty else {
            throw ConfigError(source: source, field: "anchors", reason: "missing, empty, or not a list of [width, height] pairs")
        }
        anchors = try anchorList.enumerated().map { i, value in
            guard case let .array(pair) = value, pair.count == 2, case let .number(w) = pair[0], case let .number(h) = pair[1],
                  w > 0, h > 0, w.isFinite, h.isFinite else {
                throw ConfigError(source: source, field: "anchors[\(i)]", reason: "must be [width, height] with positive numbers (grid-cell units)")
            }
            return Anchor(width: Float(w), height: Float(h))
        }
        loss = RegionLossSettings()
        if let lossValue = root["loss"] {
            guard case let .object(object) = lossValue else {
                throw ConfigError(source: source, field: "loss", reason: "must be an object")
            }
            if let key = Set(object.keys).subtracting(RegionLossSettings.keys).sorted().first {
                throw ConfigError(source: source, field: "loss.\(key)",
                                  reason: "unknown key (known: \(RegionLossSettings.keys.sorted().joined(separator: ", ")))")
            }
            do {
                loss = try JSONDecoder().decode(RegionLossSettings.self, from: JSONEncoder().encode(lossValue))
            } catch {
                throw ConfigError(source: source, field: "loss", reason: "bad value (\(error))")
            }
        }
        guard case let .array(layerList)? = root["layers"], !layerList.isEmpty else {
            throw ConfigError(source: source, field: "layers", reason: "missing, empty, or not a list of objects")
        }
        layers = try layerList.enumerated().map { index, value in
            guard case let .object(object) = value else {
                throw ConfigError(source: source, layer: index, reason: "must be an object")
            }
            return try ModelConfig.decodeLayer(object, index: index, source: source)
        }
        try validate(source: source)
    }

    private static func decodeLayer(_ object: [String: JSONValue], index: Int, source: String) throws -> LayerConfig {
        let r = FieldReader(source: source, layer: index, object: object)
        let type = try r.string("type")
        func size() throws -> Int {
            let size = try r.int("size", default: 3)
            guard size > 0, size % 2 == 1 else { throw r.error("size", "must be an odd positive number, got \(size)") }
            return size
        }
        func stride() throws -> Int {
            let stride = try r.int("stride", default: 1)
            guard stride == 1 || stride == 2 else { throw r.error("stride", "must be 1 or 2, got \(stride)") }
            return stride
        }
        func filters() throws -> Int {
            let filters = try r.int("filters")
            guard filters > 0 && filters <= 65536 else { throw r.error("filters", "must be 1 to 65536, got \(filters)") }
            return filters
        }
        switch type {
        case "conv", "convolutional", "separable":
            try r.rejectUnknown(["type", "filters", "size", "stride", "batchnorm", "activation"])
            let f = try filters(), s = try size(), st = try stride()
            let bn = try r.bool("batchnorm", default: false), act = try r.activation("activation", default: .linear)
            return type == "separable"
                ? .separable(filters: f, size: s, stride: st, batchNorm: bn, activation: act)
                : .convolution(filters: f, size: s, stride: st, batchNorm: bn, activation: act)
        case "depthwise":
            try r.rejectUnknown(["type", "size", "stride", "batchnorm", "activation"])
            return .depthwise(size: try size(), stride: try stride(), batchNorm: try r.bool("batchnorm", default: false),
                              activation: try r.activation("activation", default: .linear))
        case "pointwise":
            try r.rejectUnknown(["type", "filters", "batchnorm", "activation"])
            return .pointwise(filters: try filters(), batchNorm: try r.bool("batchnorm", default: false),
                              activation: try r.activation("activation", default: .linear))
        case "maxpool":
            try r.rejectUnknown(["type", "size", "stride"])
            let size = try r.int("size", default: 2), stride = try r.int("stride", default: 2)
            // k x k windows tiling the input (stride = size), or darknet's 2x2 stride 1 "same".
            guard (stride == size && (size == 2 || size == 3)) || (size == 2 && stride == 1) else {
                throw r.error("stride", "maxpool supports size 2 or 3 with stride = size, or size 2 stride 1; got size \(size) stride \(stride)")
            }
            return .maxPool(size: size, stride: stride)
        case "shortcut":
            try r.rejectUnknown(["type", "from", "activation"])
            let from = try r.int("from")
            return .shortcut(from: from < 0 ? index + from : from, activation: try r.activation("activation", default: .linear))
        case "route":
            try r.rejectUnknown(["type", "layers"])
            guard case let .array(list)? = object["layers"], !list.isEmpty else {
                throw r.error("layers", "must be a non-empty list of layer indices")
            }
            let indices = try list.map { value -> Int in
                guard case let .number(x) = value, let i = Int(exactly: x) else { throw r.error("layers", "must be integers, got \(value)") }
                return i < 0 ? index + i : i
            }
            return .route(layers: indices)
        default:
            throw r.error("type", "unknown layer type \"\(type)\" (known: conv, separable, depthwise, pointwise, maxpool, shortcut, route)")
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
            func convolved(size: Int, stride: Int, channels: Int) throws -> FeatureShape {
                let pad = size / 2
                let h = (current.height + 2 * pad - size) / stride + 1, w = (current.width + 2 * pad - size) / stride + 1
                guard h >= 1, w >= 1, current.height >= 1, current.width >= 1 else {
                    throw fail(nil, "input \(current) is too small for this layer")
                }
                return FeatureShape(height: h, width: w, channels: channels)
            }
            switch layer {
            case let .convolution(filters, size, stride, _, _), let .separable(filters, size, stride, _, _):
                current = try convolved(size: size, stride: stride, channels: filters)
            case let .depthwise(size, stride, _, _):
                current = try convolved(size: size, stride: stride, channels: current.channels)
            case let .pointwise(filters, _, _):
                current = FeatureShape(height: current.height, width: current.width, channels: filters)
            case let .maxPool(size, stride):
                if stride > 1 {
                    guard current.height >= size, current.width >= size else {
                        throw fail(nil, "input \(current) is too small to pool \(size)x\(size)")
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
            throw ConfigError(source: source, field: "input", reason: "width and height must be multiples of the network's total stride \(stride), got \(inputWidth) x \(inputHeight)")
        }
        let shapes = try layerShapes(source: source)
        let last = layers.count - 1
        guard case let .convolution(filters, _, _, batchNorm, activation) = layers[last] else {
            throw ConfigError(source: source, layer: last, field: "type", reason: "the last layer (the detection head) must be a conv, got \(layers[last].typeName)")
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

    /// The config as a JSON value (the format it is read from).
    var json: JSONValue {
        .object([
            "name": .string(name),
            "input": .object(["width": .number(Double(inputWidth)), "height": .number(Double(inputHeight)),
                              "channels": .number(Double(inputChannels))]),
            "classes": .array(classes.map(JSONValue.string)),
            "anchors": .array(anchors.map { .array([.number(shortest($0.width)), .number(shortest($0.height))]) }),
            "loss": .object([
                "coord": .number(shortest(loss.coordScale)), "object": .number(shortest(loss.objectScale)),
                "noobject": .number(shortest(loss.noObjectScale)), "class": .number(shortest(loss.classScale)),
                "ignore_threshold": .number(shortest(loss.ignoreThreshold)),
                "warmup_images": .number(Double(loss.warmupImages)), "rescore": .bool(loss.rescore)]),
            "layers": .array(layers.map(\.json)),
        ])
    }

    /// The config as JSON, in the same format it is read from (and stored in the weights file's
    /// `__metadata__`), one layer per line; `decode` of it gives back an equal config.
    public func jsonString() -> String {
        let root = json
        guard case let .object(fields) = root else { return root.text }
        let order = ["name", "input", "classes", "anchors", "loss"]
        var lines = order.compactMap { key in fields[key].map { "  \(JSONValue.string(key).text): \($0.text)" } }
        let layerLines = layers.map { "    " + $0.json.text(order: ["type", "filters", "size", "stride", "batchnorm", "activation", "from", "layers"]) }
        lines.append("  \"layers\": [\n" + layerLines.joined(separator: ",\n") + "\n  ]")
        return "{\n" + lines.joined(separator: ",\n") + "\n}\n"
    }
}

/// The Double whose shortest decimal form is the Float's (0.6f → 0.6, not 0.6000000238…), so
/// JSON written from Floats reads as typed.
private func shortest(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }

/// A parsed JSON document, so the config can be read field by field with errors that name the
/// layer and key, and written back.
enum JSONValue: Hashable, Sendable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let x = try? c.decode(Double.self) { self = .number(x) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(x): try c.encode(x)
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    var description: String { text }

    /// Compact JSON text; object keys in `order` first, then the rest sorted.
    func text(order: [String] = []) -> String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .number(x):
            return x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : "\(x)"
        case let .string(s): return jsonString(s)
        case let .array(a): return "[" + a.map { $0.text(order: order) }.joined(separator: ", ") + "]"
        case let .object(o):
            let keys = order.filter { o[$0] != nil } + o.keys.filter { !order.contains($0) }.sorted()
            return "{" + keys.map { "\(JSONValue.string($0).text): \(o[$0]!.text(order: order))" }.joined(separator: ", ") + "}"
        }
    }

    var text: String { text() }
}

/// Reads typed fields of one JSON object, with errors that name the field and the layer.
private struct FieldReader {
    let source: String
    let layer: Int?
    let object: [String: JSONValue]
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
        guard case let .number(x) = value, let int = Int(exactly: x) else {
            throw error(key, "must be an integer, got \(value)")
        }
        return int
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = object[key] else { return fallback }
        guard case let .bool(b) = value else { throw error(key, "must be true or false, got \(value)") }
        return b
    }

    func string(_ key: String, default fallback: String? = nil) throws -> String {
        guard let value = object[key] else {
            if let fallback { return fallback }
            throw error(key, "missing")
        }
        guard case let .string(s) = value else { throw error(key, "must be a string, got \(value)") }
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
