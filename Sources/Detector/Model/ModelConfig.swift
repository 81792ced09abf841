import Foundation

/// What is wrong with a model config, and where: the file (or "metadata"), the line and
/// column when the JSON text itself is at fault, the layer, and the field.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var source: String
    /// 1-based position in the JSON text, for syntax errors, duplicate keys and numbers out of range.
    public var line: Int?
    public var column: Int?
    /// Index in "layers", when the error is about one layer.
    public var layer: Int?
    public var field: String?
    public var reason: String

    public init(source: String, line: Int? = nil, column: Int? = nil, layer: Int? = nil, field: String? = nil, reason: String) {
        self.source = source; self.line = line; self.column = column
        self.layer = layer; self.field = field; self.reason = reason
    }

    /// `source:line:column: layer N: "field": reason`, the parts that are known.
    public var description: String {
        var place = source
        if let line { place += ":\(line)" + (column.map { ":\($0)" } ?? "") }
        if let layer { place += ": layer \(layer)" }
        if let field { place += ": \"\(field)\"" }
        return "\(place): \(reason)"
    }

    /// The error for a JSON text that did not parse, placed by the path the parser was at:
    /// `layers[3].size` is layer 3, field "size"; `loss.coord` is field "loss.coord".
    init(_ error: JSONParseError, source: String) {
        var path = error.path[...]
        var layer: Int?
        if path.count >= 2, path[path.startIndex] == .key("layers"), case let .index(i) = path[path.startIndex + 1] {
            layer = i
            path = path.dropFirst(2)
        }
        var field = ""
        for component in path {
            switch component {
            case let .key(k): field += field.isEmpty ? k : "." + k
            case let .index(i): field += "[\(i)]"
            }
        }
        self.init(source: source, line: error.line, column: error.column, layer: layer,
                  field: field.isEmpty ? nil : field, reason: error.reason)
    }
}

/// One entry of the config's "layers" list. Indices of earlier layers are absolute (a negative
/// index in the JSON counts back from the layer that holds it, darknet style).
public enum LayerConfig: Hashable, Sendable {
    /// A k x k convolution, optionally with batch norm (then without bias), then an activation.
    case convolution(filters: Int, size: Int, stride: Int, batchNorm: Bool, activation: Activation)
    /// Depthwise k x k then pointwise 1x1 (MobileNet's depthwise separable convolution), then
    /// batch norm and the activation (no batch norm or activation between the two convolutions:
    /// the architecture the PyTorch reference of the tests, scripts/torch_network_fixture.py,
    /// builds too).
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
///                                           // "classes" left out: the data set's (`ConfigFile`)
///      "loss": {...RegionLossSettings.keys...},                          // optional
///      "layers": [{"type": "conv", "filters": 16, "size": 3, "stride": 1,
///                  "batchnorm": true, "activation": "leaky"}, ...]}
///
/// Layer types and keys (defaults in brackets): `conv` and `separable` {filters, size [3],
/// stride [1], batchnorm [false], activation [linear]}; `depthwise` {size [3], stride [1],
/// batchnorm, activation}; `pointwise` {filters, batchnorm, activation}; `maxpool` {size [2],
/// stride [2]}; `shortcut` {from, activation}; `route` {layers}. Activations: leaky (slope 0.1),
/// relu, relu6, linear. The last layer is the head: a conv with anchors x (5 + classes)
/// filters, linear, without batch norm; its "filters" may be left out (they are then that
/// product), and must be when the config leaves its classes to the data set.
///
/// A `ModelConfig` is always complete: its classes are known and its head sized for them. A
/// config file that takes its classes from the data set is a `ConfigFile` until the data set
/// is known (`ConfigFile.config(classes:dataSet:)`); what a run stores in its checkpoints is
/// the complete config it trained.
///
/// Every number is held to `ConfigBounds` (input sides, layer count, kernel sizes, filters,
/// channels, route lengths, anchors) and the loss settings to `RegionLossSettings`' ranges;
/// the memory for one image is estimated before anything is allocated (`MemoryEstimate`).
///
/// Codable: decoding validates like `decode(_:source:)` (throwing `ConfigError`), except that
/// duplicate keys are the decoder's to resolve; encoding writes the same format, so a config
/// survives the trip through the weights file's `__metadata__` (which is read with `decode`).
public struct ModelConfig: Hashable, Sendable, Codable {
    public var name: String
    public var inputWidth: Int
    public var inputHeight: Int
    public var inputChannels: Int
    public var classes: [String]
    public var anchors: [Anchor]
    public var layers: [LayerConfig]
    public var loss: RegionLossSettings

    /// Total downsampling factor (product of the strides); Int.max if that overflows (only a
    /// config that failed validation can get there: `layerShapes` bounds it by the input).
    public var stride: Int {
        layers.reduce(1) { total, layer in
            let (product, overflow) = total.multipliedReportingOverflow(by: max(layer.stride, 1))
            return overflow ? .max : product
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

    /// Reads and validates a complete config file (see `decode`); one that takes its classes
    /// from the data set is read with `ConfigFile.load`.
    public static func load(path: String, memoryLimit: MemoryLimit? = nil) throws -> ModelConfig {
        try decode(readFile(path: path), source: path, memoryLimit: memoryLimit)
    }

    /// The bytes of a config file, at most one past `ConfigBounds.fileBytes` (so that a huge
    /// file, or /dev/zero, is refused without being read).
    static func readFile(path: String) throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw ConfigError(source: path, reason: "no such file") }
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            return try handle.read(upToCount: ConfigBounds.fileBytes + 1) ?? Data()
        } catch {
            throw ConfigError(source: path, reason: "cannot read: \(error.localizedDescription)")
        }
    }

    /// Decodes and validates a config; `source` names it in errors (a path, or "metadata").
    ///
    /// The text is parsed strictly (`JSONValue.parse`: duplicate keys and numbers out of range
    /// are errors with their line and column), then every field is checked against
    /// `ConfigBounds`, the shapes are worked out layer by layer, and the memory needed to run
    /// the network on one image is compared with `memoryLimit` (default `MemoryLimit.machine()`:
    /// $DETECTOR_MEMORY_LIMIT or the physical memory). For a training batch, check
    /// `checkMemory(batch:limit:source:)` as well.
    ///
    /// The config must be complete: name its classes (a model file's always does). One that
    /// leaves them to the data set is an error here; read it with `ConfigFile.decode`.
    public static func decode(_ data: Data, source: String, memoryLimit: MemoryLimit? = nil) throws -> ModelConfig {
        try ModelConfig(json: parseJSON(data, source: source), source: source, memoryLimit: memoryLimit ?? MemoryLimit.machine())
    }

    /// The JSON of a config's text, strictly parsed, at most `ConfigBounds.fileBytes`.
    static func parseJSON(_ data: Data, source: String) throws -> JSONValue {
        guard data.count <= ConfigBounds.fileBytes else {
            throw ConfigError(source: source, reason: "larger than \(ConfigBounds.fileBytes >> 20) MiB; a model config is a few kilobytes of JSON")
        }
        do { return try JSONValue.parse(Array(data)) } catch { throw ConfigError(error, source: source) }
    }

    /// Decodes through any `Decoder` (e.g. a config inside a test fixture), validating as
    /// `decode` does; duplicate keys are the decoder's to resolve here.
    public init(from decoder: Decoder) throws {
        try self.init(json: JSONValue(from: decoder), source: "config", memoryLimit: MemoryLimit.machine())
    }

    public func encode(to encoder: Encoder) throws {
        try json.encode(to: encoder)
    }

    /// `dataSetClasses`: the classes for a config that leaves "classes" out (the data set's,
    /// `ConfigFile.config(classes:dataSet:)`); nil: the config must name them. A config without
    /// "classes" must leave its head's "filters" out too (they follow from the data set);
    /// any config may leave them out, and then they are anchors x (5 + classes).
    init(json: JSONValue, source: String, memoryLimit: MemoryLimit, dataSetClasses: [String]? = nil) throws {
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
        inputWidth = try inputReader.int("width", in: ConfigBounds.inputSide)
        inputHeight = try inputReader.int("height", in: ConfigBounds.inputSide)
        inputChannels = try inputReader.int("channels", in: 1...64, default: 3)
        guard inputChannels == 3 else {
            throw ConfigError(source: source, field: "input.channels", reason: "must be 3 (RGB images), got \(inputChannels)")
        }
        let pinsClasses = root["classes"] != nil
        if pinsClasses {
            guard case let .array(classList)? = root["classes"], !classList.isEmpty else {
                throw ConfigError(source: source, field: "classes", reason: "empty, or not a list of names (leave \"classes\" out to take the data set's)")
            }
            classes = try classList.enumerated().map { i, value in
                guard case let .string(s) = value, !s.isEmpty else {
                    throw ConfigError(source: source, field: "classes[\(i)]", reason: "must be a non-empty string")
                }
                return s
            }
        } else {
            guard let dataSetClasses else {
                throw ConfigError(source: source, field: "classes",
                                  reason: "missing: this config takes its classes from the data set it is trained on (train-detector --data DIR, whose classes.txt names them); a model file's config must name them")
            }
            guard !dataSetClasses.isEmpty else {
                throw ConfigError(source: source, field: "classes", reason: "the data set names no classes")
            }
            if let i = dataSetClasses.firstIndex(where: \.isEmpty) {
                throw ConfigError(source: source, field: "classes[\(i)]", reason: "the data set's class \(i) has an empty name")
            }
            classes = dataSetClasses
        }
        guard Set(classes).count == classes.count else {
            throw ConfigError(source: source, field: "classes", reason: "class names must be unique")
        }
        guard case let .array(anchorList)? = root["anchors"], !anchorList.isEmpty else {
            throw ConfigError(source: source, field: "anchors", reason: "missing, empty, or not a list of [width, height] pairs")
        }
        anchors = try anchorList.enumerated().map { i, value in
            let range = ConfigBounds.anchorSide
            // Checked as Floats, the type they are used in: 1e39 becomes infinity and 1e-50
            // becomes 0, both outside the range.
            guard case let .array(pair) = value, pair.count == 2, case let .number(w) = pair[0], case let .number(h) = pair[1],
                  range.contains(Float(w)), range.contains(Float(h)) else {
                throw ConfigError(source: source, field: "anchors[\(i)]",
                                  reason: "must be [width, height], each from \(plainNumber(range.lowerBound)) to \(plainNumber(range.upperBound)) grid cells, got \(value)")
            }
            return Anchor(width: Float(w), height: Float(h))
        }
        try ModelConfig.checkHeadSize(anchors: anchors.count, classes: classes.count, source: source)
        loss = RegionLossSettings()
        if let lossValue = root["loss"] {
            guard case let .object(object) = lossValue else {
                throw ConfigError(source: source, field: "loss", reason: "must be an object")
            }
            let r = FieldReader(source: source, layer: nil, object: object, prefix: "loss.")
            try r.rejectUnknown(RegionLossSettings.keys.union(RegionLossSettings.recipeKeys))
            let weights = RegionLossSettings.weightRange
            loss.coordScale = try r.float("coord", in: weights, default: loss.coordScale)
            loss.objectScale = try r.float("object", in: weights, default: loss.objectScale)
            loss.noObjectScale = try r.float("noobject", in: weights, default: loss.noObjectScale)
            loss.classScale = try r.float("class", in: weights, default: loss.classScale)
            loss.ignoreThreshold = try r.float("ignore_threshold", in: RegionLossSettings.ignoreThresholdRange, default: loss.ignoreThreshold)
            loss.warmupImages = try r.int("warmup_images", in: RegionLossSettings.warmupImagesRange, default: loss.warmupImages)
            loss.rescore = try r.bool("rescore", default: loss.rescore)
            try loss.readRecipeKeys(from: object, source: source)
        }
        guard case let .array(layerList)? = root["layers"], !layerList.isEmpty else {
            throw ConfigError(source: source, field: "layers", reason: "missing, empty, or not a list of objects")
        }
        guard ConfigBounds.layerCount.contains(layerList.count) else {
            throw ConfigError(source: source, field: "layers", reason: "at most \(ConfigBounds.layerCount.upperBound) layers, got \(layerList.count)")
        }
        // The head (the last layer) may leave its filters out: anchors x (5 + classes). A config
        // that takes its classes from the data set must: a number there would pin their count.
        let head = layerList.count - 1
        let headFilters = anchors.count * (5 + classes.count)  // bounded by checkHeadSize
        if !pinsClasses, case let .object(object) = layerList[head], object["filters"] != nil {
            throw ConfigError(source: source, layer: head, field: "filters",
                              reason: "a config that takes its classes from the data set leaves the head's filters out: they are anchors x (5 + classes), which the data set decides")
        }
        layers = try layerList.enumerated().map { index, value in
            guard case let .object(object) = value else {
                throw ConfigError(source: source, layer: index, reason: "must be an object")
            }
            let layer = try ModelConfig.decodeLayer(object, index: index, source: source,
                                                    defaultFilters: index == head ? headFilters : nil)
            if let (field, reason) = layer.invalidField(index: index) {
                throw ConfigError(source: source, layer: index, field: field, reason: reason)
            }
            return layer
        }
        try validate(source: source, memoryLimit: memoryLimit)
    }

    /// `defaultFilters`: the filters of a conv that leaves them out (the head's); nil: required.
    private static func decodeLayer(_ object: [String: JSONValue], index: Int, source: String,
                                    defaultFilters: Int? = nil) throws -> LayerConfig {
        let r = FieldReader(source: source, layer: index, object: object)
        let type = try r.string("type")
        // Ranges here make a number far out of range (1e30, a 30-digit integer) an error that
        // names its field; the finer rules (odd sizes, maxpool pairs) are `invalidField`'s.
        func size() throws -> Int { try r.int("size", in: ConfigBounds.kernelSize, default: 3) }
        func stride() throws -> Int { try r.int("stride", in: 1...2, default: 1) }
        func filters() throws -> Int { try r.int("filters", in: ConfigBounds.filters) }
        func convFilters() throws -> Int {
            guard type != "separable", object["filters"] == nil, let defaultFilters else { return try filters() }
            return defaultFilters
        }
        let reach = -ConfigBounds.layerCount.upperBound...ConfigBounds.layerCount.upperBound
        switch type {
        case "conv", "convolutional", "separable":
            try r.rejectUnknown(["type", "filters", "size", "stride", "batchnorm", "activation"])
            let f = try convFilters(), s = try size(), st = try stride()
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
            return .maxPool(size: try r.int("size", in: 2...3, default: 2), stride: try r.int("stride", in: 1...3, default: 2))
        case "shortcut":
            try r.rejectUnknown(["type", "from", "activation"])
            let from = try r.int("from", in: reach)
            return .shortcut(from: from < 0 ? index + from : from, activation: try r.activation("activation", default: .linear))
        case "route":
            try r.rejectUnknown(["type", "layers"])
            guard case let .array(list)? = object["layers"], !list.isEmpty else {
                throw r.error("layers", "must be a non-empty list of layer indices")
            }
            guard ConfigBounds.routeInputs.contains(list.count) else {
                throw r.error("layers", "a route concatenates at most \(ConfigBounds.routeInputs.upperBound) layers, got a list of \(list.count)")
            }
            let indices = try list.map { value -> Int in
                guard case let .number(x) = value, x == x.rounded(), Double(reach.lowerBound) <= x, x <= Double(reach.upperBound) else {
                    throw r.error("layers", "must be integers from \(reach.lowerBound) to \(reach.upperBound) (layer indices; negative counts back), got \(value)")
                }
                let i = Int(x)
                return i < 0 ? index + i : i
            }
            return .route(layers: indices)
        default:
            throw r.error("type", "unknown layer type \"\(type)\" (known: conv, separable, depthwise, pointwise, maxpool, shortcut, route)")
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
            // The recipe keys only when they differ from their defaults, so the config of a
            // darknet-style model reads (and is stored) as before.
            "loss": .object([
                "coord": .number(shortest(loss.coordScale)), "object": .number(shortest(loss.objectScale)),
                "noobject": .number(shortest(loss.noObjectScale)), "class": .number(shortest(loss.classScale)),
                "ignore_threshold": .number(shortest(loss.ignoreThreshold)),
                "warmup_images": .number(Double(loss.warmupImages)), "rescore": .bool(loss.rescore),
            ].merging(loss.recipeJSON) { first, _ in first }),
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

/// `x` as typed in a config: 1000 rather than 1000.0, 0.001 rather than 0.0010000000474974513.
func plainNumber(_ x: Float) -> String { x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : "\(x)" }

/// The Double whose shortest decimal form is the Float's (0.6f → 0.6, not 0.6000000238…), so
/// JSON written from Floats reads as typed.
private func shortest(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }

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

    /// An integer in `range`. The range is checked on the Double, before any conversion, so
    /// 1e30 or a 30-digit integer is "out of range", never a trap or "not an integer".
    func int(_ key: String, in range: ClosedRange<Int>, default fallback: Int? = nil) throws -> Int {
        guard let value = object[key] else {
            if let fallback { return fallback }
            throw error(key, "missing")
        }
        guard case let .number(x) = value, x == x.rounded() else {
            throw error(key, "must be an integer, got \(value)")
        }
        guard Double(range.lowerBound) <= x && x <= Double(range.upperBound) else {
            throw error(key, "must be from \(range.lowerBound) to \(range.upperBound), got \(value)")
        }
        return Int(x)
    }

    /// A number in `range`, checked as the Float it becomes (a Double beyond 3.4e38 becomes
    /// infinity, outside any range).
    func float(_ key: String, in range: ClosedRange<Float>, default fallback: Float) throws -> Float {
        guard let value = object[key] else { return fallback }
        guard case let .number(x) = value else { throw error(key, "must be a number, got \(value)") }
        guard range.contains(Float(x)) else {
            throw error(key, "must be from \(plainNumber(range.lowerBound)) to \(plainNumber(range.upperBound)), got \(value)")
        }
        return Float(x)
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
