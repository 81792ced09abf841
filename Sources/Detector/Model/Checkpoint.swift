import Foundation

/// A model in one self-describing safetensors file: every parameter by name, the model config
/// JSON in `__metadata__["config"]`, and optionally the training state (Adam's moments as
/// tensors `optimizer.m.<name>` and `optimizer.v.<name>`, and metadata `optimizer.step`,
/// `epoch`, `images_seen`, ...) and of the moving average of the weights (tensors `ema.<name>`
/// and metadata `ema.updates`). The training state comes and goes as plain values
/// (`OptimizerState`, `MovingAverageState`), so this file knows nothing of the optimizer or
/// the average that produce them (Training's `Adam` and `ExponentialMovingAverage`, which
/// restore themselves from a loaded checkpoint). A quantized file stores
/// convolution kernels as I8 with a per-output-channel F32 scale `<name>.scale_q` and is
/// dequantized on load. An inference file (`export`) holds the weights only.
public struct Checkpoint: Sendable {
    public static let format = "detector-checkpoint-1"
    public var source: String
    public var configJSON: String
    /// Parameters by name, dequantized.
    public var parameters: [String: [Float]]
    public var shapes: [String: [Int]]
    public var training: [String: String]
    public var optimizerStep: Int?
    public var firstMoments: [String: [Float]] = [:]
    public var secondMoments: [String: [Float]] = [:]
    /// The moving average's values by parameter name (without the `ema.` prefix), and its
    /// update count; empty and nil when the file holds no moving average.
    public var emaValues: [String: [Float]] = [:]
    public var emaUpdates: Int?

    /// Prefix of the moving average's tensors: `ema.layers.0.conv.weight`, ...
    public static let movingAverageTensorPrefix = "ema."
    /// Metadata key of the moving average's update count.
    public static let movingAverageUpdatesKey = "ema.updates"

    /// Writes atomically. With `quantize`, kernels are stored as int8 (symmetric, per output
    /// channel: the last axis), everything else as F32, and no optimizer or moving-average
    /// state. With `optimizer`, its step as `optimizer.step` and its moments as
    /// `optimizer.m.<name>` and `optimizer.v.<name>`; with `ema`, its averaged values as
    /// `ema.<name>` and its count as `ema.updates`.
    public static func save(parameters: [Parameter], configJSON: String, optimizer: OptimizerState? = nil,
                            ema: MovingAverageState? = nil, training: [String: String] = [:],
                            quantize: Bool = false, to path: String) throws {
        var file = SafetensorsFile()
        file.metadata = training
        file.metadata["config"] = configJSON
        file.metadata["format"] = format
        for p in parameters {
            if quantize && p.role == .kernel {
                let (values, scales) = quantizePerChannel(p.value, channels: p.shape.last ?? 1)
                file.tensors[p.name] = StoredTensor(int8: values, shape: p.shape)
                file.tensors[p.name + ".scale_q"] = StoredTensor(scales, shape: [scales.count])
            } else {
                file.tensors[p.name] = StoredTensor(p.value, shape: p.shape)
            }
        }
        if let optimizer, !quantize {
            file.metadata["optimizer.step"] = String(optimizer.step)
            for (name, moments) in optimizer.moments {
                file.tensors["optimizer.m.\(name)"] = StoredTensor(moments.first, shape: moments.shape)
                file.tensors["optimizer.v.\(name)"] = StoredTensor(moments.second, shape: moments.shape)
            }
        }
        if let ema, !quantize {
            file.metadata[movingAverageUpdatesKey] = String(ema.updates)
            for (name, average) in ema.averages {
                file.tensors[movingAverageTensorPrefix + name] = StoredTensor(average.values, shape: average.shape)
            }
        }
        try file.write(to: path)
    }

    /// Reads a checkpoint and refuses (naming the file and the tensor or metadata key) what
    /// would load but cannot be right: besides everything `SafetensorsFile.decode` checks,
    /// - a `format` other than this toolkit's, and `optimizer.step`, `epoch`, `images_seen`
    ///   that are not non-negative integers or a `best_score` that is not a number;
    /// - parameters that are not all finite, a negative `running_var`, a U8 parameter;
    /// - an I8 tensor without a `<name>.scale_q` of one finite, positive F32 scale per output
    ///   channel (the last axis), or a scale without its I8 tensor;
    /// - Adam moments that are not all finite, a negative second moment, a moment without its
    ///   partner or its parameter or of another shape, or moments without `optimizer.step`;
    /// - a moving average (`ema.<name>`) that is not F32 or F16, not all finite, of another
    ///   shape than its parameter or without it, with a negative `running_var`, or without
    ///   `ema.updates` (a non-negative integer).
    public static func load(path: String) throws -> Checkpoint {
        let file = try SafetensorsFile.read(path: path)
        func fail(_ reason: String, tensor: String? = nil, field: String? = nil) -> WeightsError {
            WeightsError(file: path, tensor: tensor, field: field, reason: reason)
        }
        guard let config = file.metadata["config"] else {
            throw WeightsError(file: path, reason: "no model config in the metadata (not a model file of this toolkit?)")
        }
        if let stored = file.metadata["format"], stored != format {
            throw fail("is \"\(stored)\", but this toolkit reads \"\(format)\"", field: "__metadata__.format")
        }
        for key in ["optimizer.step", "epoch", "images_seen", movingAverageUpdatesKey] {
            if let text = file.metadata[key], (Int(text) ?? -1) < 0 {
                throw fail("is \"\(text)\", not a non-negative integer", field: "__metadata__.\(key)")
            }
        }
        if let text = file.metadata["best_score"], Float(text)?.isNaN ?? true {
            throw fail("is \"\(text)\", not a number", field: "__metadata__.best_score")
        }
        var checkpoint = Checkpoint(source: path, configJSON: config, parameters: [:], shapes: [:], training: file.metadata)
        checkpoint.optimizerStep = file.metadata["optimizer.step"].flatMap { Int($0) }
        checkpoint.emaUpdates = file.metadata[movingAverageUpdatesKey].flatMap { Int($0) }

        // In name order, so the first fault reported is the same on every run.
        for name in file.tensors.keys.sorted() {
            let tensor = file.tensors[name]!
            if name.hasSuffix(scaleSuffix) {
                let quantized = String(name.dropLast(scaleSuffix.count))
                guard file.tensors[quantized]?.dtype == .i8 else {
                    throw fail("a quantization scale without an I8 tensor \"\(quantized)\"", tensor: name)
                }
                continue  // checked with its I8 tensor
            }
            if let (isSecond, parameter) = momentParameter(name) {
                guard tensor.dtype == .f32 || tensor.dtype == .f16 else {
                    throw fail("\(tensor.dtype.rawValue), but optimizer state is stored as F32", tensor: name, field: "dtype")
                }
                guard let stored = file.tensors[parameter], isParameterName(parameter) else {
                    throw fail("optimizer state for \"\(parameter)\", which is not a parameter in this file", tensor: name)
                }
                guard tensor.shape == stored.shape else {
                    throw fail("shape \(tensor.shape), but its parameter \"\(parameter)\" has shape \(stored.shape)", tensor: name, field: "shape")
                }
                let partner = (isSecond ? "optimizer.m." : "optimizer.v.") + parameter
                guard file.tensors[partner] != nil else { throw fail("no matching \"\(partner)\"", tensor: name) }
                let values = tensor.floats
                try requireFinite(values, name, fail)
                if isSecond {
                    try requireNonNegative(values, name, "Adam's second moment (a running mean of squared gradients)", fail)
                    checkpoint.secondMoments[parameter] = values
                } else {
                    checkpoint.firstMoments[parameter] = values
                }
                continue
            }
            if name.hasPrefix(movingAverageTensorPrefix) {
                let parameter = String(name.dropFirst(movingAverageTensorPrefix.count))
                guard tensor.dtype == .f32 || tensor.dtype == .f16 else {
                    throw fail("\(tensor.dtype.rawValue), but a moving average is stored as F32", tensor: name, field: "dtype")
                }
                guard let stored = file.tensors[parameter], isParameterName(parameter) else {
                    throw fail("a moving average of \"\(parameter)\", which is not a parameter in this file", tensor: name)
                }
                guard tensor.shape == stored.shape else {
                    throw fail("shape \(tensor.shape), but its parameter \"\(parameter)\" has shape \(stored.shape)", tensor: name, field: "shape")
                }
                let values = tensor.floats
                try requireFinite(values, name, fail)
                if parameter.hasSuffix(".running_var") {
                    try requireNonNegative(values, name, "a moving average of a variance", fail)
                }
                checkpoint.emaValues[parameter] = values
                continue
            }
            let values: [Float]
            switch tensor.dtype {
            case .f32, .f16:
                values = tensor.floats
            case .u8:
                throw fail("U8 is not a dtype this toolkit stores parameters in (F32, F16, or I8 with a \(scaleSuffix) scale)", tensor: name, field: "dtype")
            case .i8:
                let scaleName = name + scaleSuffix
                guard let channels = tensor.shape.last else {
                    throw fail("a scalar I8 tensor: there is no output channel (last axis) to scale", tensor: name, field: "shape")
                }
                guard let scale = file.tensors[scaleName] else {
                    throw fail("I8 tensor without a matching \(scaleName)", tensor: name)
                }
                guard scale.dtype == .f32 || scale.dtype == .f16, scale.shape == [channels] else {
                    throw fail("\(scale.dtype.rawValue) of shape \(scale.shape), but the scales of \"\(name)\" (shape \(tensor.shape)) are F32 of shape [\(channels)]",
                               tensor: scaleName)
                }
                let scales = scale.floats
                if let i = scales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                    throw fail("value \(i) of \(scales.count) is \(scales[i]); a quantization scale must be finite and positive", tensor: scaleName)
                }
                values = tensor.floats.enumerated().map { $0.element * scales[$0.offset % channels] }
            }
            try requireFinite(values, name, fail)
            if name.hasSuffix(".running_var") {
                try requireNonNegative(values, name, "a variance", fail)
            }
            checkpoint.parameters[name] = values
            checkpoint.shapes[name] = tensor.shape
        }
        if !(checkpoint.firstMoments.isEmpty && checkpoint.secondMoments.isEmpty) && checkpoint.optimizerStep == nil {
            throw fail("missing, but the file holds optimizer moments", field: "__metadata__.optimizer.step")
        }
        if !checkpoint.emaValues.isEmpty && checkpoint.emaUpdates == nil {
            throw fail("missing, but the file holds a moving average (ema.* tensors)", field: "__metadata__.\(movingAverageUpdatesKey)")
        }
        return checkpoint
    }

    private static let scaleSuffix = ".scale_q"

    /// Whether a tensor name can be a parameter's: not optimizer or moving-average state, not
    /// a quantization scale.
    private static func isParameterName(_ name: String) -> Bool {
        momentParameter(name) == nil && !name.hasPrefix(movingAverageTensorPrefix) && !name.hasSuffix(scaleSuffix)
    }

    /// `optimizer.m.<p>` → (false, p); `optimizer.v.<p>` → (true, p); other names → nil.
    private static func momentParameter(_ name: String) -> (isSecond: Bool, parameter: String)? {
        if name.hasPrefix("optimizer.m.") { return (false, String(name.dropFirst("optimizer.m.".count))) }
        if name.hasPrefix("optimizer.v.") { return (true, String(name.dropFirst("optimizer.v.".count))) }
        return nil
    }

    private static func requireFinite(_ values: [Float], _ tensor: String, _ fail: (String, String?, String?) -> WeightsError) throws {
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw fail("value \(i) of \(values.count) is \(values[i]); weights and optimizer state must be finite (did training diverge?)", tensor, nil)
        }
    }

    private static func requireNonNegative(_ values: [Float], _ tensor: String, _ what: String,
                                           _ fail: (String, String?, String?) -> WeightsError) throws {
        if let i = values.firstIndex(where: { $0 < 0 }) {
            throw fail("value \(i) of \(values.count) is \(values[i]); \(what) cannot be negative", tensor, nil)
        }
    }

    /// Sets every parameter by name; every one must be present with its shape, and no tensor
    /// may be left over.
    public func apply(to parameters: [Parameter]) throws {
        for p in parameters {
            guard let values = self.parameters[p.name] else {
                throw WeightsError(file: source, tensor: p.name, reason: "missing (the config needs it)")
            }
            guard shapes[p.name] == p.shape else {
                throw WeightsError(file: source, tensor: p.name, reason: "shape \(shapes[p.name]!) in the file, but the config needs \(p.shape)")
            }
            p.value = values
        }
        let known = Set(parameters.map(\.name))
        if let extra = self.parameters.keys.sorted().first(where: { !known.contains($0) }) {
            throw WeightsError(file: source, tensor: extra, reason: "not a parameter of the model in the config")
        }
    }
}

/// An optimizer's state as a checkpoint stores it: the update count and, by parameter name,
/// the parameter's shape and Adam's first and second moments m and v (each of that shape).
public struct OptimizerState: Sendable, Equatable {
    public struct Moments: Sendable, Equatable {
        public var shape: [Int]
        public var first: [Float]
        public var second: [Float]
        public init(shape: [Int], first: [Float], second: [Float]) { self.shape = shape; self.first = first; self.second = second }
    }
    public var step: Int
    public var moments: [String: Moments]
    public init(step: Int, moments: [String: Moments]) { self.step = step; self.moments = moments }
}

/// A moving average of the weights as a checkpoint stores it: the update count and, by
/// parameter name (without the `ema.` prefix), the averaged values and the parameter's shape.
public struct MovingAverageState: Sendable, Equatable {
    public struct Average: Sendable, Equatable {
        public var shape: [Int]
        public var values: [Float]
        public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
    }
    public var updates: Int
    public var averages: [String: Average]
    public init(updates: Int, averages: [String: Average]) { self.updates = updates; self.averages = averages }
}

/// Symmetric int8 quantization per output channel (the last axis of a HWIO / [C_in, C_out]
/// kernel): scale = max |w| / 127, q = round(w / scale). The round-trip error is at most
/// scale / 2 per value.
public func quantizePerChannel(_ values: [Float], channels: Int) -> (values: [Int8], scales: [Float]) {
    var largest = [Float](repeating: 0, count: channels)
    for (i, v) in values.enumerated() { largest[i % channels] = max(largest[i % channels], abs(v)) }
    let scales = largest.map { $0 > 0 ? $0 / 127 : 1 }
    let q = values.enumerated().map { Int8(max(-127, min(127, ($0.element / scales[$0.offset % channels]).rounded()))) }
    return (q, scales)
}
