import Foundation

/// A model in one self-describing safetensors file: every parameter by name, the model config
/// JSON in `__metadata__["config"]`, and optionally the training state (Adam's moments as
/// tensors `optimizer.m.<name>` and `optimizer.v.<name>`, and metadata `optimizer.step`,
/// `epoch`, `images_seen`, ...). A quantized file stores convolution kernels as I8 with a
/// per-output-channel F32 scale `<name>.scale_q` and is dequantized on load.
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

    /// Writes atomically. With `quantize`, kernels are stored as int8 (symmetric, per output
    /// channel: the last axis), everything else as F32, and no optimizer state.
    public static func save(parameters: [Parameter], configJSON: String, optimizer: Adam? = nil,
                            training: [String: String] = [:], quantize: Bool = false, to path: String) throws {
        var file = SafetensorsFile()
        file.metadata = training
        file.metadata["config"] = configJSON
        file.metadata["format"] = format
        for p in parameters {
            if quantize && p.name.hasSuffix(".weight") {
                let (values, scales) = quantizePerChannel(p.value, channels: p.shape.last ?? 1)
                file.tensors[p.name] = StoredTensor(int8: values, shape: p.shape)
                file.tensors[p.name + ".scale_q"] = StoredTensor(scales, shape: [scales.count])
            } else {
                file.tensors[p.name] = StoredTensor(p.value, shape: p.shape)
            }
        }
        if let optimizer, !quantize {
            file.metadata["optimizer.step"] = String(optimizer.stepCount)
            for p in optimizer.parameters {
                file.tensors["optimizer.m.\(p.name)"] = StoredTensor(optimizer.firstMoments[p.name]!, shape: p.shape)
                file.tensors["optimizer.v.\(p.name)"] = StoredTensor(optimizer.secondMoments[p.name]!, shape: p.shape)
            }
        }
        try file.write(to: path)
    }

    public static func load(path: String) throws -> Checkpoint {
        let file = try SafetensorsFile.read(path: path)
        guard let config = file.metadata["config"] else {
            throw WeightsError(file: path, reason: "no model config in the metadata (not a model file of this toolkit?)")
        }
        var checkpoint = Checkpoint(source: path, configJSON: config, parameters: [:], shapes: [:], training: file.metadata)
        if let step = file.metadata["optimizer.step"] { checkpoint.optimizerStep = Int(step) }
        for (name, tensor) in file.tensors where !name.hasSuffix(".scale_q") {
            if name.hasPrefix("optimizer.m.") {
                checkpoint.firstMoments[String(name.dropFirst("optimizer.m.".count))] = tensor.floats
            } else if name.hasPrefix("optimizer.v.") {
                checkpoint.secondMoments[String(name.dropFirst("optimizer.v.".count))] = tensor.floats
            } else if tensor.dtype == .i8 {
                guard let scales = file.tensors[name + ".scale_q"]?.floats, let channels = tensor.shape.last, scales.count == channels else {
                    throw WeightsError(file: path, tensor: name, reason: "int8 tensor without a matching \(name).scale_q")
                }
                checkpoint.parameters[name] = tensor.floats.enumerated().map { $0.element * scales[$0.offset % channels] }
                checkpoint.shapes[name] = tensor.shape
            } else {
                checkpoint.parameters[name] = tensor.floats
                checkpoint.shapes[name] = tensor.shape
            }
        }
        return checkpoint
    }

    /// Sets every parameter by name; every one must be present with its shape, and no tensor
    /// may be left over.
    public func apply(to parameters: [Parameter]) throws {
        for p in parameters {
            guard let values = self.parameters[p.name] else {
                throw WeightsError(file: source, tensor: p.name, reason: "missing (the config needs it)")
            }
            guard shapes[p.name] == p.shape else {
                throw WeightsError(file: source, tensor: p.name, reason: "shape \(shapes[p.name]!) but the config needs \(p.shape)")
            }
            p.value = values
        }
        let known = Set(parameters.map(\.name))
        if let extra = self.parameters.keys.sorted().first(where: { !known.contains($0) }) {
            throw WeightsError(file: source, tensor: extra, reason: "not a parameter of the model in the config")
        }
    }

    /// Restores Adam's state saved with the weights.
    public func restore(into optimizer: Adam) throws {
        guard let step = optimizerStep else {
            throw WeightsError(file: source, reason: "no optimizer state (a quantized or inference-only file cannot resume training)")
        }
        do { try optimizer.restore(step: step, firstMoments: firstMoments, secondMoments: secondMoments) } catch {
            throw WeightsError(file: source, reason: "\(error)")
        }
    }
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
