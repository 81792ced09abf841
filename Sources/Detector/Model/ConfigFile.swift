import Foundation

/// A model config as its file gives it, before the data set is known: the architecture, and
/// either the classes the file pins or none, when it takes them from the data set it is
/// trained on ("the config is the architecture").
///
/// A file that leaves "classes" out must leave its head's "filters" out too;
/// `config(classes:dataSet:)` fills both in, the filters as anchors x (5 + classes) (YOLOv2's
/// region head: per anchor t_x, t_y, t_w, t_h, t_o and one logit per class). A file that names
/// its classes is trained only on a data set with exactly those, in that order (class k is
/// line k of classes.txt), as before. The config a run stores in its checkpoints is the complete
/// `ModelConfig` it trained, so `detect` needs nothing but the model file.
///
/// Decoding checks everything `ModelConfig.decode` checks; for a file without classes the
/// checks that depend on their number (the head's size, the memory) are made with one stand-in
/// class, and again for the data set's classes.
public struct ConfigFile: Sendable {
    /// Where the config comes from, for messages: a path, or "PATH (config in metadata)".
    public let source: String
    /// The classes the file pins; nil when it takes the data set's.
    public let classes: [String]?
    /// The file's config with its classes, or with the stand-in class: for what does not
    /// depend on the classes (the input, the grid, the anchors, every layer but the head).
    let architecture: ModelConfig
    let json: JSONValue
    let memoryLimit: MemoryLimit

    /// The stand-in class of a file that takes its classes from the data set (never trained).
    static let standInClasses = ["(the data set's classes)"]

    public var name: String { architecture.name }
    public var inputWidth: Int { architecture.inputWidth }
    public var inputHeight: Int { architecture.inputHeight }
    public var gridWidth: Int { architecture.gridWidth }
    public var gridHeight: Int { architecture.gridHeight }
    public var anchors: [Anchor] { architecture.anchors }
    /// True when the classes come from the data set.
    public var takesClassesFromDataSet: Bool { classes == nil }

    /// Reads and validates a config file (`ModelConfig.load`'s limits and checks).
    public static func load(path: String, memoryLimit: MemoryLimit? = nil) throws -> ConfigFile {
        try decode(ModelConfig.readFile(path: path), source: path, memoryLimit: memoryLimit)
    }

    /// Decodes and validates a config's text; `source` names it in errors.
    public static func decode(_ data: Data, source: String, memoryLimit: MemoryLimit? = nil) throws -> ConfigFile {
        try ConfigFile(json: ModelConfig.parseJSON(data, source: source), source: source,
                       memoryLimit: memoryLimit ?? MemoryLimit.machine())
    }

    init(json: JSONValue, source: String, memoryLimit: MemoryLimit) throws {
        var pins = true
        if case let .object(root) = json { pins = root["classes"] != nil }
        architecture = try ModelConfig(json: json, source: source, memoryLimit: memoryLimit,
                                       dataSetClasses: pins ? nil : ConfigFile.standInClasses)
        classes = pins ? architecture.classes : nil
        self.json = json
        self.source = source
        self.memoryLimit = memoryLimit
    }

    /// A complete config as a file that pins its classes (a checkpoint's, to resume its run).
    public init(_ config: ModelConfig, source: String) {
        architecture = config
        classes = config.classes
        json = config.json
        self.source = source
        memoryLimit = .unlimited  // `config` is built and checked already; nothing is decoded again
    }

    /// The architecture of a complete config (a trained model's) with its classes left to the
    /// data set: the same layers, input, anchors and loss, the head sized for the data set's
    /// classes (`train-detector --weights MODEL` without `--config`).
    public init(architectureOf config: ModelConfig, source: String, memoryLimit: MemoryLimit? = nil) throws {
        guard case var .object(root) = config.json, case var .array(layers)? = root["layers"],
              let last = layers.indices.last, case var .object(head) = layers[last] else {
            throw ConfigError(source: source, reason: "not a config with layers")
        }
        head["filters"] = nil
        layers[last] = .object(head)
        root["layers"] = .array(layers)
        root["classes"] = nil
        try self.init(json: .object(root), source: source, memoryLimit: memoryLimit ?? MemoryLimit.machine())
    }

    /// The config to train on a data set whose classes are `names` (`dataSet` names the data set
    /// in errors): the file's with these classes and its head sized for them, or, when the file
    /// pins its classes, the file's own, if they are these.
    public func config(classes names: [String], dataSet: String) throws -> ModelConfig {
        guard let classes else {
            return try ModelConfig(json: json, source: source, memoryLimit: memoryLimit, dataSetClasses: names)
        }
        guard classes == names else {
            throw ConfigError(source: source, field: "classes",
                              reason: "the config pins the classes \(classes), but the data set \(dataSet) has \(names); train with a config that leaves \"classes\" and the head's \"filters\" out (such as models/tiny-dsc.json) to take the data set's")
        }
        return architecture
    }
}
