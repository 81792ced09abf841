import Foundation

/// A trained model to start a run from (`TrainingOptions.weights`, `train-detector --weights`):
/// its tensors (a checkpoint or an exported model; int8 kernels dequantized by
/// `Checkpoint.load`) and the config it was trained with.
public struct WeightsFile: Sendable {
    public let path: String
    public let checkpoint: Checkpoint
    /// The config stored in the file (the classes and anchors its head was trained for).
    public let config: ModelConfig

    public static func read(path: String) throws -> WeightsFile {
        let checkpoint = try Checkpoint.load(path: path)
        let config = try ModelConfig.decode(Data(checkpoint.configJSON.utf8), source: "\(path) (config in metadata)")
        return WeightsFile(path: path, checkpoint: checkpoint, config: config)
    }
}

/// What starting from a trained model takes from it, tensor by tensor (fine-tuning). Weights
/// only: the optimizer's moments, the epoch and the schedule start afresh (continuing a run is
/// `resume`).
///
/// The rules:
/// 1. a config layer (the tensors `layers.<i>.*`) is loaded whole or not at all: when the file
///    holds every one of its tensors under the same name with the same shape. A batch norm's
///    scale, shift and running mean and variance describe the outputs of its own layer's
///    kernel, so they are loaded with it or not at all (and the kernel not without them);
/// 2. the head (the last layer) is loaded only when the file's config has the same classes, in
///    the same order, and the same anchors: its filters are, per anchor, t_x, t_y, t_w and t_h
///    (the last two relative to the anchor's shape), t_o and one logit per class, so for other
///    classes or anchors they would predict the wrong things even where the shapes agree. Then
///    it keeps its initialisation, as for any new data set;
/// 3. tensors of the file that the network has no tensor of that name for (a deeper model's
///    layers) are left unused.
/// `load` refuses a file of which no tensor fits: its architecture is another.
public struct WeightTransfer: Sendable, Equatable {
    /// A tensor of the network that keeps its initialisation.
    public struct NewTensor: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        /// The shape of the file's tensor of that name; nil: the file has none.
        public var fileShape: [Int]?
    }

    /// Why the head starts afresh, when it does for a reason other than its tensors' shapes.
    public enum HeadChange: Sendable, Equatable {
        case classes(file: [String], now: [String])
        case anchors(file: [Anchor], now: [Anchor])
    }

    /// The weights file.
    public var source: String
    /// The tensors taken from the file, in the network's order.
    public var loaded: [String]
    /// The tensors that keep their initialisation, in the network's order.
    public var new: [NewTensor]
    /// Set when the head starts afresh because the file's head was trained for other classes or
    /// anchors (checked in that order).
    public var headChange: HeadChange?
    /// The file's tensors of names the network does not have, sorted.
    public var unused: [String]
    /// The config's last layer, the head.
    public var headLayer: Int

    /// Every tensor of the network.
    public var tensorCount: Int { loaded.count + new.count }

    /// Which of `parameters` (the network's names and shapes, for `config`) the file gives, by
    /// the rules above; nothing is changed.
    public init(from file: WeightsFile, into config: ModelConfig, parameters: [(name: String, shape: [Int])]) {
        source = file.path
        let shapes = file.checkpoint.shapes
        let head = config.layers.count - 1
        headLayer = head
        if file.config.classes != config.classes {
            headChange = .classes(file: file.config.classes, now: config.classes)
        } else if file.config.anchors != config.anchors {
            headChange = .anchors(file: file.config.anchors, now: config.anchors)
        }
        // Rule 1: the layers whose every tensor fits (rule 2: the head only for its own task).
        var fits: [Int: Bool] = [:]
        for p in parameters {
            let layer = WeightTransfer.layerIndex(p.name) ?? -1
            let tensorFits = shapes[p.name] == p.shape && !(layer == head && headChange != nil)
            fits[layer] = (fits[layer] ?? true) && tensorFits
        }
        loaded = []
        new = []
        for p in parameters {
            if fits[WeightTransfer.layerIndex(p.name) ?? -1] == true {
                loaded.append(p.name)
            } else {
                new.append(NewTensor(name: p.name, shape: p.shape, fileShape: shapes[p.name]))
            }
        }
        let names = Set(parameters.map(\.name))
        unused = shapes.keys.filter { !names.contains($0) }.sorted()
    }

    /// Whether the head (the last config layer) is among the tensors loaded.
    public var loadsHead: Bool { loaded.contains { WeightTransfer.layerIndex($0) == headLayer } }

    /// The config layer of a tensor name `layers.<i>.<part>.<tensor>`.
    static func layerIndex(_ name: String) -> Int? {
        let parts = name.split(separator: ".", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "layers" else { return nil }
        return Int(parts[1])
    }

    /// Sets `network`'s tensors from `file` by the rules above and returns what was loaded;
    /// throws when nothing of the file fits the network.
    public static func load(_ file: WeightsFile, into network: Network) throws -> WeightTransfer {
        let transfer = WeightTransfer(from: file, into: network.config, parameters: network.parameters.map { ($0.name, $0.shape) })
        guard !transfer.loaded.isEmpty else {
            let first = transfer.new.first.map { " (first: \(describe($0)))" } ?? ""
            throw WeightsError(file: file.path,
                               reason: "none of the network's \(transfer.tensorCount) tensors fits this file's\(first): it holds another architecture (\(file.config.name), \(file.config.layers.count) layers; the network has \(network.config.layers.count)). Starting from trained weights needs a model whose layers are the config's")
        }
        let values = file.checkpoint.parameters
        let names = Set(transfer.loaded)
        for p in network.parameters where names.contains(p.name) { p.value = values[p.name]! }
        return transfer
    }

    /// "layers.11.conv.weight [1,1,256,35] (file has [1,1,256,40])".
    static func describe(_ tensor: NewTensor) -> String {
        let what: String
        switch tensor.fileShape {
        case nil: what = "not in the file"
        case tensor.shape?: what = "fits, but not the rest of its layer"
        case let other?: what = "file has \(shapeText(other))"
        }
        return "\(tensor.name) \(shapeText(tensor.shape)) (\(what))"
    }

    static func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ",") + "]" }

    /// One line for the log: "loaded 35 of 37 tensors from FILE; new: ... (the head, for the
    /// classes [...]; the file's were trained for [...])".
    public var summary: String {
        var text = "loaded \(loaded.count) of \(tensorCount) tensors from \(source)"
        if !new.isEmpty {
            let head = new.count > 12 ? Array(new.prefix(10)) : new
            text += "; new: " + head.map { tensor -> String in
                // The head's tensors that fit in shape start afresh for the reason given after.
                tensor.fileShape == tensor.shape && headChange != nil ? "\(tensor.name) \(WeightTransfer.shapeText(tensor.shape))"
                    : WeightTransfer.describe(tensor)
            }.joined(separator: ", ")
            if head.count < new.count { text += ", and \(new.count - head.count) more" }
        }
        switch headChange {
        case let .classes(file, now)?:
            text += " (the head re-initialised for the classes \(list(now)); the file's was trained for \(list(file)))"
        case let .anchors(file, now)?:
            text += " (the head re-initialised for the anchors \(anchorList(now)); the file's was trained for \(anchorList(file)))"
        case nil: break
        }
        if !unused.isEmpty {
            let shown = unused.prefix(4).joined(separator: ", ")
            text += "; not used: \(unused.count) tensor(s) of the file (\(shown)\(unused.count > 4 ? ", ..." : ""))"
        }
        return text
    }

    private func list(_ names: [String]) -> String { "[" + names.joined(separator: ", ") + "]" }
}
