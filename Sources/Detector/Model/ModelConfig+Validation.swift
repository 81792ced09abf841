import Foundation

/// The bounds every config is held to (README "Model config"). Generous for a tiny-detector
/// toolkit: 640 x 640 and 1024 x 1024 inputs, a few hundred layers and 1024-2048 filters are
/// all well inside. With them no shape product can overflow: the largest activation is
/// 2048 · 2048 · 16384 < 2^37 values and the largest kernel 31 · 31 · 16384 · 4096 < 2^36, so
/// only the memory estimate, which multiplies by the batch, needs saturating arithmetic.
public enum ConfigBounds {
    /// Input width and height, pixels.
    public static let inputSide = 1...2048
    /// Entries of "layers".
    public static let layerCount = 1...1000
    /// Kernel size of conv, separable and depthwise layers (odd: "same" padding is size / 2).
    /// 31 is the largest in use anywhere (RepLKNet's 31 x 31 depthwise kernels).
    public static let kernelSize = 1...31
    /// Filters of one conv, separable or pointwise layer (the head's included).
    public static let filters = 1...4096
    /// Channels of any layer's output: a route concatenating several layers may exceed
    /// `filters`, but not this.
    public static let channels = 1...16384
    /// Layers one route concatenates.
    public static let routeInputs = 1...64
    /// Anchor width and height, grid cells (as Float both ends are exact enough).
    public static let anchorSide: ClosedRange<Float> = 0.001...1000
    /// Size of a config file (a config is a few kilobytes).
    public static let fileBytes = 16 << 20
}

extension LayerConfig {
    /// The first field of this layer (the `index`-th) that breaks a rule on its own, with the
    /// reason; nil if there is none. Decoding checks it for each layer as read, and
    /// `layerShapes` again, so a config built in code is held to the same rules.
    func invalidField(index: Int) -> (field: String, reason: String)? {
        func kernel(_ size: Int) -> (String, String)? {
            let b = ConfigBounds.kernelSize
            guard b.contains(size), size % 2 == 1 else {
                return ("size", "must be an odd number from \(b.lowerBound) to \(b.upperBound), got \(size)")
            }
            return nil
        }
        func stride(_ stride: Int) -> (String, String)? {
            stride == 1 || stride == 2 ? nil : ("stride", "must be 1 or 2, got \(stride)")
        }
        func filters(_ filters: Int) -> (String, String)? {
            let b = ConfigBounds.filters
            return b.contains(filters) ? nil : ("filters", "must be from \(b.lowerBound) to \(b.upperBound), got \(filters)")
        }
        switch self {
        case let .convolution(f, size, s, _, _), let .separable(f, size, s, _, _):
            return filters(f) ?? kernel(size) ?? stride(s)
        case let .depthwise(size, s, _, _):
            return kernel(size) ?? stride(s)
        case let .pointwise(f, _, _):
            return filters(f)
        case let .maxPool(size, s):
            // k x k windows tiling the input (stride = size), or darknet's 2x2 stride 1 "same".
            guard (s == size && (size == 2 || size == 3)) || (size == 2 && s == 1) else {
                return ("stride", "maxpool supports size 2 or 3 with stride = size, or size 2 stride 1; got size \(size) stride \(s)")
            }
            return nil
        case let .shortcut(from, _):
            return from >= 0 && from < index ? nil : ("from", "must refer to an earlier layer (this is layer \(index), got \(from))")
        case let .route(list):
            let b = ConfigBounds.routeInputs
            guard b.contains(list.count) else {
                return ("layers", "a route concatenates \(b.lowerBound) to \(b.upperBound) layers, got a list of \(list.count)")
            }
            if let from = list.first(where: { $0 < 0 || $0 >= index }) {
                return ("layers", "must refer to earlier layers (this is layer \(index), got \(from))")
            }
            return nil
        }
    }
}

extension ModelConfig {
    /// The head has anchors x (5 + classes) filters, so both counts are bounded through it;
    /// checked before the layers, so a config with 1000 classes hears about its classes, not
    /// about the head's filters.
    static func checkHeadSize(anchors: Int, classes: Int, source: String) throws {
        let (perAnchor, o1) = classes.addingReportingOverflow(5)
        let (filters, o2) = anchors.multipliedReportingOverflow(by: perAnchor)
        let bound = ConfigBounds.filters.upperBound
        guard !o1, !o2, filters <= bound else {
            throw ConfigError(source: source, field: "classes",
                              reason: "\(anchors) anchors x (5 + \(classes) classes) need a head of \(o1 || o2 ? "more than \(bound)" : String(filters)) filters; a layer has at most \(bound) (use fewer anchors or classes)")
        }
    }

    /// Shapes of every layer's output for one image; throws on impossible shapes and on any
    /// value outside `ConfigBounds` (so a config built in code cannot reach an overflow or an
    /// absurd allocation through `Network` either).
    public func layerShapes(source: String = "config") throws -> [FeatureShape] {
        let side = ConfigBounds.inputSide
        guard side.contains(inputWidth), side.contains(inputHeight) else {
            throw ConfigError(source: source, field: "input",
                              reason: "width and height must be \(side.lowerBound) to \(side.upperBound) pixels, got \(inputWidth) x \(inputHeight)")
        }
        guard (1...64).contains(inputChannels) else {
            throw ConfigError(source: source, field: "input.channels", reason: "must be 1 to 64, got \(inputChannels)")
        }
        guard ConfigBounds.layerCount.contains(layers.count) else {
            throw ConfigError(source: source, field: "layers",
                              reason: "must have \(ConfigBounds.layerCount.lowerBound) to \(ConfigBounds.layerCount.upperBound) layers, got \(layers.count)")
        }
        var shapes: [FeatureShape] = []
        var current = FeatureShape(height: inputHeight, width: inputWidth, channels: inputChannels)
        var totalStride = 1
        for (index, layer) in layers.enumerated() {
            func fail(_ field: String?, _ reason: String) -> ConfigError {
                ConfigError(source: source, layer: index, field: field, reason: reason)
            }
            if let (field, reason) = layer.invalidField(index: index) { throw fail(field, reason) }
            // Bounded by the input side, so it cannot overflow (63 stride-2 layers would).
            totalStride *= layer.stride
            if totalStride > min(inputWidth, inputHeight) {
                throw fail("stride", "the network's total stride reaches \(totalStride) at this layer, more than the input \(inputWidth) x \(inputHeight) (whose sides must be multiples of it)")
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
                guard shapes[from] == current else {
                    throw fail("from", "layer \(from) outputs \(shapes[from]) but the previous layer outputs \(current); a shortcut adds equal shapes")
                }
            case let .route(list):
                var channels = 0
                let first = shapes[list[0]]
                for from in list {
                    guard shapes[from].height == first.height, shapes[from].width == first.width else {
                        throw fail("layers", "routed layers must have the same height and width (\(first) vs \(shapes[from]))")
                    }
                    channels += shapes[from].channels  // at most 64 · 16384
                }
                guard ConfigBounds.channels.contains(channels) else {
                    throw fail("layers", "the route's output would have \(channels) channels, more than \(ConfigBounds.channels.upperBound)")
                }
                current = FeatureShape(height: first.height, width: first.width, channels: channels)
            }
            shapes.append(current)
        }
        return shapes
    }

    /// Everything `layerShapes` checks, then the rules that involve the whole config: the
    /// input a multiple of the total stride, the head, the anchors and loss settings (for a
    /// config built in code: decoding has checked them as read), and the memory for one image.
    func validate(source: String, memoryLimit: MemoryLimit) throws {
        let shapes = try layerShapes(source: source)
        guard inputWidth % stride == 0, inputHeight % stride == 0 else {
            throw ConfigError(source: source, field: "input", reason: "width and height must be multiples of the network's total stride \(stride), got \(inputWidth) x \(inputHeight)")
        }
        try ModelConfig.checkHeadSize(anchors: anchors.count, classes: classes.count, source: source)
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
        let side = ConfigBounds.anchorSide
        if let i = anchors.firstIndex(where: { !side.contains($0.width) || !side.contains($0.height) }) {  // NaN fails too
            throw ConfigError(source: source, field: "anchors[\(i)]",
                              reason: "width and height must be from \(plainNumber(side.lowerBound)) to \(plainNumber(side.upperBound)) grid cells, got \(anchors[i].width) x \(anchors[i].height)")
        }
        if let (key, reason) = loss.invalidSetting {
            throw ConfigError(source: source, field: "loss.\(key)", reason: reason)
        }
        try checkMemory(batch: 1, limit: memoryLimit, source: source)
    }
}

// MARK: - Memory

/// The memory a network built from a config takes, in bytes, estimated from the config alone
/// (before anything is allocated) after what `Network` and the trainer allocate:
///
/// - parameters: every weight, bias and batch-norm value with its gradient and Adam's two
///   moments, 4 floats each (`parameterCount` is the values alone);
/// - activations, for `batch` images: every step's output (conv, batch norm, pool, ...),
///   the gradient buffers of backward (two alternating ones for a plain chain, one per step
///   and a scratch one when there are shortcuts or routes), the input batch twice (the
///   network's copy and the trainer's) and its gradient, the pools' recorded winners, and
///   twice the head output for the loss;
/// - workspace, independent of the batch: each conv's im2col matrix and its gradient per
///   worker thread, and the per-worker partial sums of weight gradients.
///
/// Inference (`detect`) needs less (no Adam moments) but allocates the same buffers, so the
/// estimate is an upper bound there. Sums saturate at Int.max instead of overflowing.
public struct MemoryEstimate: Sendable, Equatable, CustomStringConvertible {
    public var batch: Int
    /// Parameter values (weights, biases, batch-norm scale, shift and running statistics).
    public var parameterCount: Int
    public var parameterBytes: Int
    public var activationBytes: Int
    public var workspaceBytes: Int
    /// The config layer that takes the most bytes (parameters, activations and workspace).
    public var largestLayer: Int
    public var largestLayerBytes: Int

    public var totalBytes: Int { saturatingSum(parameterBytes, activationBytes, workspaceBytes) }

    public var description: String {
        "\(formatBytes(totalBytes)) for a batch of \(batch) (parameters with gradients and Adam moments \(formatBytes(parameterBytes)), "
            + "activations and their gradients \(formatBytes(activationBytes)), workspace \(formatBytes(workspaceBytes)))"
    }
}

/// How much memory a network may take: `ModelConfig.decode` refuses a config whose estimate
/// (`MemoryEstimate`) for one image is larger, and `checkMemory(batch:limit:source:)` one for
/// a training batch. Injectable, so tests need not depend on the machine.
public struct MemoryLimit: Sendable, Equatable, CustomStringConvertible {
    public var bytes: Int
    /// Where the number comes from, for messages: "physical memory", "DETECTOR_MEMORY_LIMIT", ...
    public var origin: String

    public init(bytes: Int, origin: String) {
        self.bytes = bytes; self.origin = origin
    }

    public static let unlimited = MemoryLimit(bytes: .max, origin: "no limit")

    public var description: String {
        bytes == .max ? "no limit" : "\(formatBytes(bytes)) (\(origin))"
    }

    /// The machine's physical memory, sysconf(_SC_PHYS_PAGES) · sysconf(_SC_PAGESIZE); nil if
    /// the system does not say.
    public static var physicalMemory: Int? {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return nil }
        let (bytes, overflow) = pages.multipliedReportingOverflow(by: pageSize)
        return overflow ? .max : bytes
    }

    /// `DETECTOR_MEMORY_LIMIT` from `environment` when set (bytes, or a number with K, M, G or
    /// T for KiB ... TiB, e.g. "8G"), else the physical memory, else no limit. Throws if the
    /// variable is set but not such a size.
    public static func machine(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MemoryLimit {
        let name = "DETECTOR_MEMORY_LIMIT"
        if let text = environment[name], !text.isEmpty {
            guard let bytes = parseByteCount(text) else {
                throw ConfigError(source: name, reason: "must be a size in bytes, or with K, M, G or T (e.g. 8G), got \"\(text)\"")
            }
            return MemoryLimit(bytes: bytes, origin: name)
        }
        if let bytes = physicalMemory {
            return MemoryLimit(bytes: bytes, origin: "this machine's physical memory; set DETECTOR_MEMORY_LIMIT to change it")
        }
        return .unlimited
    }

    /// "123", "512K", "8G", "1.5T" (binary units) → bytes; nil for anything else.
    static func parseByteCount(_ text: String) -> Int? {
        let units: [Character: Double] = ["K": 0x1p10, "M": 0x1p20, "G": 0x1p30, "T": 0x1p40]
        var number = text.trimmingCharacters(in: .whitespaces).uppercased()
        if number.hasSuffix("B") { number.removeLast() }
        var scale: Double = 1
        if let last = number.last, let unit = units[last] { scale = unit; number.removeLast() }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(number), value.isFinite, value > 0, value * scale < 9e18 else { return nil }
        return Int(value * scale)
    }
}

extension ModelConfig {
    /// The memory estimate for `batch` images (see `MemoryEstimate`); throws if the config
    /// itself is invalid (`layerShapes`).
    public func memoryEstimate(batch: Int) throws -> MemoryEstimate {
        let shapes = try layerShapes()
        let input = FeatureShape(height: inputHeight, width: inputWidth, channels: inputChannels)
        var parameters = 0          // values
        var stepOutputs = 0         // per image, summed over the network's steps
        var largestStep = 0
        var winners = 0             // per image, max pools that record where each maximum was
        var workspace = 0           // floats
        var hasMerges = false
        var perLayer: [Int] = []    // bytes per config layer, for `largestLayer`
        let b = max(batch, 0)
        for (index, layer) in layers.enumerated() {
            let before = index == 0 ? input : shapes[index - 1]
            let out = shapes[index], c = before.channels
            var layerParameters = 0, steps: [Int] = [], layerWorkspace = 0
            switch layer {
            case let .convolution(f, k, s, bn, _):
                let weights = k * k * c * f
                layerParameters = weights + (bn ? 4 * f : f)
                steps = [out.count] + (bn ? [out.count] : [])
                // Backward's two per-worker partial sums, and the direct kernel's two buffers.
                layerWorkspace = 4 * weights
                // im2col and its gradient, one of each per worker (2), for one image; none for
                // 1x1 stride 1, nor for the direct kernel (`DirectConv2D.applies`) on the
                // network input, whose gradient training never asks for.
                let direct = f % 16 == 0 && c <= 8 && k > 1
                if !(k == 1 && s == 1) && !(direct && index == 0) {
                    layerWorkspace += 4 * out.height * out.width * k * k * c
                }
            case let .separable(f, k, _, bn, _):
                let depthwise = k * k * c, pointwise = c * f
                layerParameters = depthwise + pointwise + (bn ? 4 * f : f)
                steps = [out.height * out.width * c, out.count] + (bn ? [out.count] : [])
                layerWorkspace = 2 * depthwise + 3 * pointwise  // partial sums; the transposed kernel
            case let .depthwise(k, _, bn, activation):
                layerParameters = k * k * c + (bn ? 4 * c : 0)
                steps = [out.count] + (bn || activation != .linear ? [out.count] : [])
                layerWorkspace = 2 * k * k * c
            case let .pointwise(f, bn, _):
                layerParameters = c * f + (bn ? 4 * f : f)
                steps = [out.count] + (bn ? [out.count] : [])
                layerWorkspace = 3 * c * f
            case let .maxPool(size, s):
                steps = [out.count]
                if s != size { winners += out.count }
            case .shortcut, .route:
                steps = [out.count]
                hasMerges = true
            }
            parameters += layerParameters
            stepOutputs += steps.reduce(0, +)
            largestStep = max(largestStep, steps.max() ?? 0)
            workspace += layerWorkspace
            // Per layer, for naming the largest: its parameters (x 4), its outputs and their
            // gradients for the batch, its workspace.
            perLayer.append(saturatingSum(saturatingProduct(16, layerParameters),
                                          saturatingProduct(8, b, steps.reduce(0, +)),
                                          saturatingProduct(4, layerWorkspace)))
        }
        let gradients = hasMerges ? stepOutputs + max(largestStep, input.count) : 2 * largestStep
        let head = shapes.last?.count ?? 0
        let perImage = stepOutputs + gradients + winners + 3 * input.count + 2 * head
        let largest = perLayer.indices.max { perLayer[$0] < perLayer[$1] } ?? 0
        return MemoryEstimate(batch: batch, parameterCount: parameters,
                              parameterBytes: saturatingProduct(16, parameters),
                              activationBytes: saturatingProduct(4, b, perImage),
                              workspaceBytes: saturatingProduct(4, workspace),
                              largestLayer: largest, largestLayerBytes: perLayer.isEmpty ? 0 : perLayer[largest])
    }

    /// Throws a `ConfigError` with the estimate when running the network on `batch` images
    /// would need more memory than `limit`, naming the layer that takes the most.
    public func checkMemory(batch: Int, limit: MemoryLimit, source: String) throws {
        let estimate = try memoryEstimate(batch: batch)
        guard estimate.totalBytes > limit.bytes else { return }
        let index = estimate.largestLayer
        let output = (try? layerShapes(source: source)[index].description) ?? "?"
        throw ConfigError(source: source, layer: index,
                          reason: "the network needs about \(estimate), more than the memory limit \(limit); the largest part is this layer "
                              + "(\(layers[index].typeName), output \(output), \(formatBytes(estimate.largestLayerBytes))): use a smaller input, fewer filters or a smaller batch")
    }
}

/// a · b · ..., or Int.max when that overflows (all factors non-negative).
func saturatingProduct(_ factors: Int...) -> Int {
    var product = 1
    for f in factors {
        let (p, overflow) = product.multipliedReportingOverflow(by: f)
        if overflow { return .max }
        product = p
    }
    return product
}

/// a + b + ..., or Int.max when that overflows (all terms non-negative).
func saturatingSum(_ terms: Int...) -> Int {
    var sum = 0
    for t in terms {
        let (s, overflow) = sum.addingReportingOverflow(t)
        if overflow { return .max }
        sum = s
    }
    return sum
}

/// 1536 → "1.5 KiB"; Int.max → "more than 8 EiB".
func formatBytes(_ bytes: Int) -> String {
    if bytes == .max { return "more than 8 EiB" }
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes), unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f", value) + " " + units[unit]
}
