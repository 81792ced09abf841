import CommandSupport
import Detector
import Foundation

/// How one case ended. `value` and `error` carry a signature (the kind of result, numbers and
/// quoted text blanked) that the runner uses as a cheap coverage signal: an input that gives
/// a signature never seen before joins the corpus.
enum Outcome {
    case value(String)
    case error(String)
    /// Not a trap, but a broken contract: an error that is not the loader's typed error or
    /// does not name the file, or a value that violates the loader's documented guarantees.
    case failure(String)
}

/// One case as the target sees it: the bytes, and the same bytes already written to `path`
/// (the crash file, so the file-reading entry points read exactly the reproducer).
struct FuzzCase {
    var bytes: [UInt8]
    var path: String
    /// A folder of the target's own, for loaders that need a data set layout.
    var workFolder: String
    var index: Int
}

/// A loader under test: its seed inputs (valid files, each must load), the mutation format,
/// and the call that feeds it one input and checks the result.
struct FuzzTarget {
    var name: String
    var format: Mutator.Format
    var seeds: [[UInt8]]
    /// Largest input a mutation may produce (--max-input overrides it): big enough for the
    /// format's interesting sizes (a 300 x 300 image, the 500 KB shipped model, a config of
    /// 1000 layers, label files of thousands of lines), small enough to keep cases fast.
    var maximumInput: Int
    /// Prepares `workFolder` once before the first case.
    var prepare: (String) throws -> Void = { _ in }
    var run: (FuzzCase) -> Outcome
    /// Input classes known to crash, hang or fail today, skippable with --skip (exploration
    /// only: the tests skip nothing).
    var knownBugs: [String: @Sendable ([UInt8]) -> Bool] = [:]

    static let names = ["png", "safetensors", "config", "labels", "classes"]

    static func named(_ name: String) throws -> FuzzTarget {
        switch name {
        case "png": return try png()
        case "safetensors": return try safetensors()
        case "config": return try config()
        case "labels": return labels()
        case "classes": return classes()
        default: throw FuzzError("unknown target \(name)")
        }
    }
}

struct FuzzError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Checking results

/// The error is one of `allowed` (the loader's typed errors) and its description names
/// `source`; else a failure.
func typedError(_ error: Error, _ allowed: [Error.Type], naming source: String) -> Outcome {
    let type = Swift.type(of: error)
    guard allowed.contains(where: { ObjectIdentifier($0) == ObjectIdentifier(type) }) else {
        return .failure("untyped error \(type): \(error)")
    }
    let text = "\(error)"
    guard text.contains(source) else { return .failure("\(type) does not name the file \(source): \(text)") }
    return .error("\(type): " + signature(text.replacingOccurrences(of: source, with: "")))
}

/// A message with numbers and quoted text blanked, cut to a few words: equal for errors of the
/// same kind on different inputs.
func signature(_ text: String) -> String {
    var out = ""
    var quoted = false, lastDigit = false
    for c in text.prefix(200) {
        if c == "\"" { quoted.toggle(); if quoted { out.append("\"…\"") }; continue }
        if quoted { continue }
        if c.isNumber { if !lastDigit { out.append("#") }; lastDigit = true; continue }
        lastDigit = false
        out.append(c)
    }
    return String(out.prefix(90))
}

private func write(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

// MARK: - PNG

extension FuzzTarget {
    /// `PNG.decode` (on a Data slice with a non-zero start index every other case), `PNG.size`
    /// and, every 8th case, `PNG.read` of the file. A decoded image has width x height x 3
    /// bytes, `size` agrees with it, and a small one survives encode and decode unchanged.
    static func png() throws -> FuzzTarget {
        var rng = SplitMix64(seed: 7)
        var seeds: [[UInt8]] = []
        let image = Image(width: 7, height: 5, pixels: (0..<(7 * 5 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        seeds.append([UInt8](try PNG.encode(image)))
        for colorType in [0, 2, 3, 4, 6] as [UInt8] {
            for bitDepth in Mutator.validBitDepths[colorType]! {
                for interlaced in [false, true] {
                    seeds.append(Mutator.syntheticPNG(width: 9 + Int(bitDepth), height: 7, colorType: colorType, bitDepth: bitDepth,
                                                      interlaced: interlaced, transparency: interlaced == (bitDepth == 8), rng: &rng))
                }
            }
        }
        return FuzzTarget(name: "png", format: .png, seeds: seeds, maximumInput: 1 << 20, run: { c in
            let name = "fuzz.png"
            let data = c.index % 2 == 0 ? Data(c.bytes) : (Data([0, 0, 0]) + Data(c.bytes)).dropFirst(3)
            let size: (width: Int, height: Int)?
            do { size = try PNG.size(path: c.path) } catch {
                if case let .failure(message) = typedError(error, [ImageError.self], naming: c.path) { return .failure("PNG.size: " + message) }
                size = nil
            }
            if c.index % 8 == 0 {
                do { _ = try PNG.read(path: c.path) } catch {
                    if case let .failure(message) = typedError(error, [ImageError.self], naming: c.path) { return .failure("PNG.read: " + message) }
                }
            }
            let image: Image
            do { image = try PNG.decode(data, name: name) } catch { return typedError(error, [ImageError.self], naming: name) }
            guard image.width > 0, image.height > 0, image.pixels.count == image.width * image.height * 3 else {
                return .failure("decoded \(image.width) x \(image.height) with \(image.pixels.count) bytes, not width x height x 3")
            }
            if let size, size != (image.width, image.height) {
                return .failure("PNG.size says \(size.width) x \(size.height) but decode gives \(image.width) x \(image.height)")
            }
            // The same pixels in the other layout (for inputs whose image data is stored
            // deflate blocks, as synthesised): interlacing must not change the image.
            if image.width * image.height <= 65_536, let other = Mutator.otherInterlacing(c.bytes) {
                do {
                    guard try PNG.decode(Data(other), name: "other") == image else {
                        return .failure("the image decodes differently interlaced and not (Adam7 vs. plain rows of the same pixels)")
                    }
                } catch { return .failure("the image decodes, but not in the other interlacing: \(error)") }
            }
            if image.width * image.height <= 65_536 {
                do {
                    guard try PNG.decode(PNG.encode(image), name: "again") == image else { return .failure("encode then decode changes the image") }
                } catch { return .failure("a decoded image does not survive encode and decode: \(error)") }
            }
            // The kind of image (colour type, bit depth, interlacing, the chunk types) as the
            // outcome signature, so the corpus keeps one input of every kind that decodes.
            let chunks = Mutator.pngChunks(c.bytes) ?? []
            let header = chunks.first { $0.type == Array("IHDR".utf8) && $0.data.count == 13 }?.data ?? [UInt8](repeating: 0, count: 13)
            let types = Set(chunks.map { String(decoding: $0.type, as: UTF8.self) }).sorted().joined(separator: " ")
            return .value("image type \(header[9]) depth \(header[8]) interlace \(header[12]), \(types)")
        }, knownBugs: [
            // libpng allocates and zeroes a chunk's declared length (up to 2 GB) before finding
            // the data shorter: a 61-byte file costs 2 GB and more than a second.
            "huge-chunk": { bytes in
                var at = 8
                while at + 12 <= bytes.count {
                    let length = bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
                    if length > bytes.count - at - 12 { return length > 1 << 20 }
                    at += 12 + length
                }
                return false
            },
            // A 16-bit interlaced image decodes to wrong pixels (rows of the wrong pass): the
            // input itself, or the interlaced form the other-interlacing check decodes.
            "png16-interlaced": { bytes in
                guard let chunks = Mutator.pngChunks(bytes), let header = chunks.first, header.type == Array("IHDR".utf8),
                      header.data.count == 13, header.data[8] == 16 else { return false }
                return header.data[12] != 0 || Mutator.otherInterlacing(bytes) != nil
            },
        ])
    }
}

// MARK: - safetensors and model files

extension FuzzTarget {
    /// The network of Tests/DetectorTests/Fixtures/network_small.json: small enough that a
    /// mutated file loads in microseconds.
    static let smallConfigJSON = """
    {"name": "fuzz-small", "input": {"width": 16, "height": 12, "channels": 3}, "classes": ["a", "b"],
     "anchors": [[1.0, 1.0], [2.0, 1.5]],
     "layers": [{"type": "conv", "filters": 8, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
                {"type": "maxpool", "size": 2, "stride": 2},
                {"type": "separable", "filters": 16, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
                {"type": "maxpool", "size": 2, "stride": 2},
                {"type": "conv", "filters": 14, "size": 1, "stride": 1, "batchnorm": false, "activation": "linear"}]}
    """

    /// Every layer type and key, a loss section, negative (relative) layer indices.
    static let everyLayerConfigJSON = """
    {"name": "fuzz-every-layer", "input": {"width": 32, "height": 32, "channels": 3}, "classes": ["a", "b"],
     "anchors": [[1, 1], [2, 2]],
     "loss": {"coord": 1, "object": 5, "noobject": 1, "class": 1, "ignore_threshold": 0.6, "warmup_images": 0, "rescore": true},
     "layers": [{"type": "conv", "filters": 8, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
                {"type": "maxpool", "size": 2, "stride": 2},
                {"type": "depthwise", "size": 3, "stride": 1, "batchnorm": true, "activation": "relu6"},
                {"type": "pointwise", "filters": 8, "batchnorm": false, "activation": "relu"},
                {"type": "shortcut", "from": -3, "activation": "linear"},
                {"type": "route", "layers": [-1, -4]},
                {"type": "separable", "filters": 16, "size": 3, "stride": 2, "batchnorm": true, "activation": "leaky"},
                {"type": "maxpool", "size": 2, "stride": 1},
                {"type": "depthwise", "size": 5, "stride": 1, "batchnorm": false, "activation": "leaky"},
                {"type": "convolutional", "filters": 14, "size": 1, "stride": 1}]}
    """

    /// A models/ file of the repository (under the working directory or beside the binary).
    static func shippedFile(_ name: String) -> [UInt8]? {
        shippedFilePath(name).flatMap { FileManager.default.contents(atPath: $0) }.map { [UInt8]($0) }
    }

    /// Known bug classes of safetensors files: the header's own, and the config's (of the
    /// config in the metadata).
    static let safetensorsBugs: [String: @Sendable ([UInt8]) -> Bool] = {
        var bugs: [String: @Sendable ([UInt8]) -> Bool] = [
            // A shape whose element count overflows Int traps in decode's `shape.reduce(1, *)`.
            "shape-overflow": { bytes in
                guard let (header, _) = Mutator.safetensorsParts(bytes),
                      let object = (try? JSONSerialization.jsonObject(with: Data(header))) as? [String: Any] else { return false }
                return object.values.contains { entry in
                    guard let shape = (entry as? [String: Any])?["shape"] as? [Int] else { return false }
                    var product = 1
                    for d in shape + [8] {
                        let (p, overflow) = product.multipliedReportingOverflow(by: d)
                        if overflow { return true }
                        product = p
                    }
                    return false
                }
            },
        ]
        for (name, isConfigBug) in configBugs { bugs[name] = { bytes in configInSafetensors(bytes).map(isConfigBug) ?? false } }
        return bugs
    }()

    /// `SafetensorsFile.decode`; then, for a file that decodes, every tensor's values, the
    /// round trip through `encoded()`, and the file as a model: `loadNetwork` (the config in
    /// the metadata, `Network(config:)`, `Checkpoint.apply`) and Adam's state restored.
    static func safetensors() throws -> FuzzTarget {
        var seeds: [[UInt8]] = []
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("detector-fuzz-seeds-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for json in [smallConfigJSON, everyLayerConfigJSON] {
            let config = try ModelConfig.decode(Data(json.utf8), source: "seed")
            let network = try Network(config: config, seed: 1)
            let path = folder.appendingPathComponent("seed.safetensors").path
            try Checkpoint.save(parameters: network.parameters, configJSON: config.jsonString(), optimizer: Adam(parameters: network.parameters).state,
                                training: ["epoch": "3"], to: path)
            seeds.append([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
            try Checkpoint.save(parameters: network.parameters, configJSON: config.jsonString(), quantize: true, to: path)
            seeds.append([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        }
        // The shipped models: real sizes (a 256 x 256 network), F32 and int8.
        seeds += ["tiny-dsc-shapes.safetensors", "tiny-dsc-shapes-int8.safetensors"].compactMap(shippedFile)
        let dtypeSize: [StoredTensor.DType: Int] = [.f32: 4, .f16: 2, .i8: 1, .u8: 1]
        return FuzzTarget(name: "safetensors", format: .safetensors, seeds: seeds, maximumInput: 1 << 20, run: { c in
            let source = "fuzz.safetensors"
            let file: SafetensorsFile
            do { file = try SafetensorsFile.decode(Data(c.bytes), source: source) } catch {
                return typedError(error, [WeightsError.self], naming: source)
            }
            for (name, tensor) in file.tensors {
                guard tensor.shape.allSatisfy({ $0 >= 0 }), tensor.bytes.count == tensor.elementCount * dtypeSize[tensor.dtype]! else {
                    return .failure("tensor \(name): shape \(tensor.shape) of \(tensor.dtype) with \(tensor.bytes.count) bytes")
                }
                if tensor.floats.count != tensor.elementCount { return .failure("tensor \(name): \(tensor.floats.count) floats for shape \(tensor.shape)") }
            }
            do {
                let again = try SafetensorsFile.decode(file.encoded(), source: "again")
                guard again.tensors == file.tensors, again.metadata == file.metadata else { return .failure("encoded() then decode changes the file") }
            } catch { return .failure("a decoded file does not survive encoded() and decode: \(error)") }
            do {
                let network = try loadNetwork(path: c.path)
                var optimizer = ""
                if file.metadata["optimizer.step"] != nil {
                    let checkpoint = try Checkpoint.load(path: c.path)
                    if checkpoint.optimizerStep != nil { try checkpoint.restore(into: Adam(parameters: network.parameters)); optimizer = ", optimizer" }
                }
                let dtypes = Set(file.tensors.values.map(\.dtype.rawValue)).sorted().joined(separator: " ")
                return .value("network of \(network.config.layers.count) layers, \(dtypes)\(optimizer)")
            } catch {
                return typedError(error, [WeightsError.self, ConfigError.self], naming: c.path)
            }
        }, knownBugs: safetensorsBugs)
    }
}

// MARK: - Model configs

extension FuzzTarget {
    /// `ConfigFile.decode` (with two classes for a config that takes them from the data set),
    /// then `Network(config:seed:)`. A config that decodes survives its own `jsonString()`
    /// (decode gives back an equal config, as documented).
    static func config() throws -> FuzzTarget {
        var seeds = [smallConfigJSON, everyLayerConfigJSON].map { Array($0.utf8) }
        seeds += ["tiny-dsc.json", "tiny-dsc-shapes.json"].compactMap(shippedFile)
        return FuzzTarget(name: "config", format: .json, seeds: seeds, maximumInput: 256 << 10, run: { c in
            let source = "fuzz.json"
            let config: ModelConfig
            do {
                let file = try ConfigFile.decode(Data(c.bytes), source: source)
                config = try file.config(classes: file.classes ?? ["a", "b"], dataSet: "fuzz")
            } catch {
                return typedError(error, [ConfigError.self], naming: source)
            }
            do {
                guard try ModelConfig.decode(Data(config.jsonString().utf8), source: "again") == config else {
                    return .failure("decode of its own jsonString() gives a different config")
                }
            } catch { return .failure("its own jsonString() does not decode: \(error)") }
            do { _ = try Network(config: config, seed: 1) } catch {
                return typedError(error, [ConfigError.self], naming: "config")
            }
            return .value("network of " + Set(config.layers.map(\.typeName)).sorted().joined(separator: " "))
        }, knownBugs: configBugs)
    }

    /// Σ depth² over the arrays and objects of the text (by bytes, strings skipped): what
    /// decoding `JSONValue` costs, about 30 ns a unit (16 KB of arrays 118 deep: 60 million,
    /// 2 s), since each level tries Bool, Double and String first and every failed try builds
    /// an error with the whole coding path.
    static func nestingCost(_ bytes: [UInt8]) -> Int {
        var depth = 0, cost = 0, inString = false, escaped = false
        for c in bytes {
            if inString {
                if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inString = false }
                continue
            }
            switch c {
            case 0x22: inString = true
            case 0x5B, 0x7B: depth += 1; cost += depth * depth
            case 0x5D, 0x7D: depth -= 1
            default: break
            }
        }
        return cost
    }

    /// The model config in a safetensors file's metadata.
    static func configInSafetensors(_ bytes: [UInt8]) -> [UInt8]? {
        guard let (header, _) = Mutator.safetensorsParts(bytes),
              let object = (try? JSONSerialization.jsonObject(with: Data(header))) as? [String: Any],
              let config = (object["__metadata__"] as? [String: Any])?["config"] as? String else { return nil }
        return Array(config.utf8)
    }

    /// Known bug classes of config text (a crash, a hang), also reached through the config in a
    /// safetensors file's metadata.
    static let configBugs: [String: @Sendable ([UInt8]) -> Bool] = [
        // JSONValue decoding time grows with nodes x depth²: a few KB of nested arrays take seconds.
        "nested-json": { bytes in nestingCost(bytes) > 5_000_000 },
        // Products of strides and sizes that overflow Int, and networks too large to allocate.
        "huge-network": { bytes in
            guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else { return false }
            return isHugeNetwork(object)
        },
    ]

    /// More than 62 stride-2 layers (the total stride overflows), or a parameter count past
    /// 100 million, estimated from the JSON the way the network is built.
    static func isHugeNetwork(_ object: [String: Any]) -> Bool {
        guard let layers = object["layers"] as? [Any] else { return false }
        var strides = 0
        var channels = 3.0, parameters = 0.0
        for case let layer as [String: Any] in layers {
            let stride = (layer["stride"] as? Double) ?? 1, size = (layer["size"] as? Double) ?? 3
            let filters = (layer["filters"] as? Double) ?? channels
            if stride == 2 || (layer["type"] as? String == "maxpool" && (layer["stride"] as? Double ?? 2) >= 2) { strides += 1 }
            if abs(stride) > 1e6 || abs(size) > 1e6 || abs(filters) > 1e6 { return true }
            parameters += size * size * channels * (layer["type"] as? String == "depthwise" ? 1 : filters)
            if layer["filters"] != nil { channels = filters }
        }
        return strides > 62 || parameters > 1e8
    }
}

// MARK: - Label and class files

/// Three class names, one 4 x 4 image, its label file: the data set the file loaders see.
private func prepareDataSet(_ folder: String) throws {
    let fm = FileManager.default
    try fm.createDirectory(atPath: folder + "/images", withIntermediateDirectories: true)
    try fm.createDirectory(atPath: folder + "/labels", withIntermediateDirectories: true)
    try write(Array("a\nb\nc\n".utf8), to: folder + "/classes.txt")
    try PNG.write(Image(width: 4, height: 4), to: folder + "/images/a.png")
    try write(Array("0 0.5 0.5 0.5 0.5\n".utf8), to: folder + "/labels/a.txt")
}

/// Objects of a label file as parsed: a class in range, finite corners inside [0, 1].
private func checkObjects(_ objects: [LabeledObject], classCount: Int) -> String? {
    for o in objects {
        let b = o.box
        guard (0..<classCount).contains(o.classIndex) else { return "class \(o.classIndex) of \(classCount)" }
        guard [b.x1, b.y1, b.x2, b.y2].allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 }), b.x1 <= b.x2, b.y1 <= b.y2 else {
            return "box \(b) is not inside the image"
        }
    }
    return nil
}

/// A field of an accepted label file with a character that no number (as `Int` and `Float`
/// read them: digits, signs, point, exponent, `nan`, `inf`, hexadecimal) can have.
private func fieldNoNumberHas(_ text: String) -> String? {
    // A leading byte-order mark is not a field: the label reader skips it (documented).
    let text = text.unicodeScalars.first == "\u{FEFF}" ? String(String.UnicodeScalarView(text.unicodeScalars.dropFirst())) : text
    for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
        for field in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let ok = field.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0)) }
            if !ok { return String(field) }
        }
    }
    return nil
}

extension FuzzTarget {
    /// `parseLabels` and `readLabels` (of 3, 80 or 1 classes), and every 4th case
    /// `Dataset.load` of a data set with this label file (every 8th strict). Objects have a
    /// class in range and corners inside [0, 1], an accepted file has only numbers in its
    /// fields, and both readers agree when both succeed.
    static func labels() -> FuzzTarget {
        // Seed k is read with [3, 80, 1][k % 3] classes.
        let seeds = [
            "0 0.5 0.5 0.2 0.3\n1 0.1 0.9 0.05 0.05\n2 1 1 1 1\n",
            "  0\t0.25 0.75 0.5 0.5  \r\n\r\n79 0.000001 0.999999 1.00001 0.00001\r\n",
            "",
            "2 0.5 0.5 0.1 0.1",
            "0 1e-3 0.5 2e-3 0.99999",
        ].map { Array($0.utf8) }
        return FuzzTarget(name: "labels", format: .text, seeds: seeds, maximumInput: 64 << 10, prepare: prepareDataSet, run: { c in
            let source = "fuzz.txt"
            let classCount = [3, 80, 1][c.index % 3]
            let text = String(decoding: c.bytes, as: UTF8.self)
            let parsed: [LabeledObject]?
            do {
                parsed = try parseLabels(text, source: source, classCount: classCount)
                if let problem = checkObjects(parsed!, classCount: classCount) { return .failure("parseLabels: " + problem) }
                if let field = fieldNoNumberHas(text) { return .failure("parseLabels accepts the field \(field.debugDescription), which is not a number") }
            } catch {
                if case let .failure(message) = typedError(error, [LabelError.self], naming: source) { return .failure("parseLabels: " + message) }
                parsed = nil
            }
            let read: [LabeledObject]
            do { read = try readLabels(path: c.path, classCount: classCount) } catch {
                return typedError(error, [LabelError.self], naming: c.path)
            }
            if let problem = checkObjects(read, classCount: classCount) { return .failure("readLabels: " + problem) }
            if let parsed, parsed != read { return .failure("parseLabels and readLabels read different objects") }
            if c.index % 4 == 0 {
                do {
                    try write(c.bytes, to: c.workFolder + "/labels/a.txt")
                    let dataSet = try Dataset.load(path: c.workFolder, strict: c.index % 8 == 0)
                    if let item = dataSet.train.items.first, item.objects != read && classCount == 3 {
                        return .failure("Dataset.load reads other objects than readLabels")
                    }
                } catch {
                    return typedError(error, [DatasetError.self, LabelError.self], naming: c.workFolder)
                }
            }
            return .value("objects")
        }, knownBugs: [
            // Float("0.5\0xyz") reads 0.5: a field with a NUL byte passes as a number.
            "nul": { $0.contains(0) },
        ])
    }

    /// `Dataset.readClassNames`, and every 4th case `Dataset.load` of a data set with this
    /// classes.txt. Names are non-empty, trimmed and unique; both agree.
    static func classes() -> FuzzTarget {
        let seeds = ["circle\nsquare\ntriangle\n", "a\r\nb\r\n  c  \n\n", "only"].map { Array($0.utf8) }
        return FuzzTarget(name: "classes", format: .text, seeds: seeds, maximumInput: 64 << 10, prepare: prepareDataSet, run: { c in
            let names: [String]
            do { names = try Dataset.readClassNames(path: c.path) } catch {
                return typedError(error, [DatasetError.self], naming: c.path)
            }
            guard !names.isEmpty, Set(names).count == names.count,
                  names.allSatisfy({ !$0.isEmpty && $0 == $0.trimmingCharacters(in: .whitespacesAndNewlines) }) else {
                return .failure("class names \(names.map { $0.debugDescription }) are not non-empty, trimmed and unique")
            }
            if c.index % 4 == 0 {
                do {
                    try write(c.bytes, to: c.workFolder + "/classes.txt")
                    let dataSet = try Dataset.load(path: c.workFolder)
                    guard dataSet.classNames == names else { return .failure("Dataset.load reads other class names than readClassNames") }
                } catch {
                    return typedError(error, [DatasetError.self, LabelError.self], naming: c.workFolder)
                }
            }
            return .value("names")
        })
    }
}
