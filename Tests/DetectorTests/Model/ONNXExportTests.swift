import Foundation
import Testing
@testable import Detector

/// Tests/DetectorTests/Fixtures/onnx_cases.json, written by scripts/onnx_fixture.py: ONNX
/// Runtime's head output (NCHW) for our exported files on a fixed input.
struct ONNXFixture: Decodable {
    struct Case: Decodable {
        var name: String
        /// The model file exported, relative to the repository.
        var model: String
        var onnx_bytes: Int
        var onnx_fnv1a64: String
        /// Options of `train-detector export` besides `--format onnx` (["--int8"]).
        var options: [String]?
        var batch: Int
        var shape: [Int]
        var head_f32le_base64: String

        /// ONNX Runtime's output, NCHW.
        var head: [Float] {
            guard let data = Data(base64Encoded: head_f32le_base64) else { return [] }
            return littleEndianFloats(Array(data))
        }
    }
    var cases: [Case]

    static func load() throws -> ONNXFixture {
        try JSONDecoder().decode(ONNXFixture.self, from: Fixtures.data("onnx_cases.json"))
    }
}

/// Float32 values from their little-endian bytes.
func littleEndianFloats(_ bytes: [UInt8]) -> [Float] {
    stride(from: 0, to: bytes.count - 3, by: 4).map { i -> Float in
        var bits = UInt32(bytes[i])
        bits |= UInt32(bytes[i + 1]) << 8
        bits |= UInt32(bytes[i + 2]) << 16
        bits |= UInt32(bytes[i + 3]) << 24
        return Float(bitPattern: bits)
    }
}

/// FNV-1a, 64 bits (the script's digest of the exported file), as 16 hex digits.
func fnv1a64(_ bytes: Data) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// The script's fixed input, exact in Float: ((3x + 5y + 7c + 11n) mod 17) / 16, one
/// FloatImage (HWC) per image.
func onnxFixtureInput(batch: Int, width: Int, height: Int) -> [FloatImage] {
    (0..<batch).map { n in
        var pixels = [Float](repeating: 0, count: width * height * 3)
        for y in 0..<height { for x in 0..<width { for c in 0..<3 {
            pixels[(y * width + x) * 3 + c] = Float((3 * x + 5 * y + 7 * c + 11 * n) % 17) / 16
        } } }
        return FloatImage(width: width, height: height, pixels: pixels)
    }
}

@Suite struct ONNXExportTests {
    static let routesModel = Fixtures.url("onnx_routes.safetensors").path

    func modelPath(_ c: ONNXFixture.Case) -> String {
        c.name == "routes" ? Self.routesModel : repositoryRoot.appendingPathComponent(c.model).path
    }

    /// The encoder is deterministic and stable: the export of the committed small model is,
    /// byte for byte, the file ONNX Runtime ran (and onnx.checker accepted) in the script.
    @Test func exportOfTheRoutesModelIsTheCommittedFile() throws {
        let network = try loadNetwork(path: Self.routesModel)
        let bytes = try network.onnxModel()
        #expect(bytes == (try Fixtures.data("onnx_routes.onnx")),
                "the export differs from Fixtures/onnx_routes.onnx: if the change is meant, run scripts/onnx_fixture.py")
        #expect(try network.onnxModel() == bytes)
        #expect(try loadNetwork(path: Self.routesModel).onnxModel() == bytes)
    }

    /// Our engine's head (ObjectDetector, batch norm folded, the inference fusions) against ONNX
    /// Runtime's on the exported file: every value within 1e-4. The ONNX output is NCHW,
    /// head[n, a·(5 + K) + k, j, i]; ours is HeadLayout's NHWC offset (j·W + i)·A·(5 + K) + a·(5 + K) + k,
    /// so the comparison also checks the documented layout.
    @Test(arguments: ["routes", "shipped", "shipped-int8", "shipped-int8-qdq"])
    func engineHeadMatchesONNXRuntime(name: String) throws {
        let fixture = try #require(try ONNXFixture.load().cases.first { $0.name == name })
        let path = modelPath(fixture)
        let network = try loadNetwork(path: path)
        let exported = try network.onnxModel(int8Kernels: fixture.options == ["--int8"])
        #expect(exported.count == fixture.onnx_bytes && fnv1a64(exported) == fixture.onnx_fnv1a64,
                "\(name): the export of \(fixture.model) is not the file the fixture was made from (\(exported.count) bytes, \(fnv1a64(exported))): run scripts/onnx_fixture.py")

        let config = network.config
        let layout = config.headLayout
        #expect(fixture.shape == [fixture.batch, layout.channels, layout.gridHeight, layout.gridWidth])
        let expected = fixture.head
        #expect(expected.count == fixture.shape.reduce(1, *))
        let detector = ObjectDetector(network: network)
        let heads = detector.headOutputs(onnxFixtureInput(batch: fixture.batch, width: config.inputWidth, height: config.inputHeight))
        var worst: Float = 0
        var ours = [Float](repeating: 0, count: expected.count)
        for n in 0..<fixture.batch {
            for j in 0..<layout.gridHeight { for i in 0..<layout.gridWidth { for a in 0..<layout.anchors.count {
                for k in 0..<layout.valuesPerAnchor {
                    let channel = a * layout.valuesPerAnchor + k
                    let onnx = ((n * layout.channels + channel) * layout.gridHeight + j) * layout.gridWidth + i
                    ours[onnx] = heads[n][layout.offset(column: i, row: j, anchor: a) + k]
                }
            } } }
        }
        for (a, b) in zip(ours, expected) { worst = max(worst, abs(a - b)) }
        let scale = expected.map(abs).max() ?? 0
        #expect(scale > 1, "\(name): a head of all small values would prove little")
        #expect(worst <= 1e-4, "\(name): worst difference from ONNX Runtime \(worst) (largest |value| \(scale))")
    }

    /// What the file says about itself: the IR version and operator set, the input and output
    /// with the symbolic batch, batch norm folded (no BatchNormalization), a depthwise
    /// convolution as a grouped Conv, the stride-1 pool padded at the end only, the metadata.
    @Test func theGraphAsTheReadmeDescribesIt() throws {
        let network = try loadNetwork(path: Self.routesModel)
        let model = try ProtobufFields(Array(try network.onnxModel()))
        #expect(model.integers(1) == [ONNXExport.irVersion])
        #expect(try model.messages(8).map { $0.integers(2) } == [[13]])
        let graph = try #require(try model.messages(7).first)
        func dimensions(_ info: ProtobufFields) throws -> [String] {
            let shape = try #require(try info.messages(2).first?.messages(1).first?.messages(2).first)
            return try shape.messages(1).map { $0.string(2) ?? String($0.integers(1)[0]) }
        }
        let input = try #require(try graph.messages(11).first), output = try #require(try graph.messages(12).first)
        let (inputDimensions, outputDimensions) = (try dimensions(input), try dimensions(output))
        #expect(input.string(1) == "images" && inputDimensions == ["batch", "3", "72", "96"])
        #expect(output.string(1) == "head" && outputDimensions == ["batch", "14", "3", "4"])

        let nodes = try graph.messages(1)
        let kinds = nodes.compactMap { $0.string(4) }
        #expect(!kinds.contains("BatchNormalization"))
        #expect(Set(kinds) == ["Conv", "LeakyRelu", "Relu", "Clip", "MaxPool", "Add", "Concat"])
        // Nothing reads `head`; the last node writes it.
        #expect(nodes.last?.strings(2) == ["head"] && !nodes.contains { $0.strings(1).contains("head") })
        func attributes(_ node: ProtobufFields) throws -> [String: [Int]] {
            Dictionary(uniqueKeysWithValues: try node.messages(5).map { ($0.string(1) ?? "", $0.integers(3) + $0.integers(8)) })
        }
        let depthwise = try #require(nodes.first { $0.string(3) == "layers.4.depthwise" })
        #expect(try attributes(depthwise) == ["group": [8], "kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [2, 2]])
        #expect(depthwise.strings(1) == ["layers.3.relu", "layers.4.depthwise.weight", "layers.4.depthwise.bias"])
        let samePool = try #require(nodes.first { $0.string(3) == "layers.1.maxpool" })
        #expect(try attributes(samePool) == ["kernel_shape": [2, 2], "pads": [0, 0, 1, 1], "strides": [1, 1]])
        let tiledPool = try #require(nodes.first { $0.string(3) == "layers.10.maxpool" })
        #expect(try attributes(tiledPool) == ["kernel_shape": [3, 3], "pads": [0, 0, 0, 0], "strides": [3, 3]])
        let route = try #require(nodes.first { $0.string(4) == "Concat" })
        let routeAttributes = try attributes(route)
        #expect(route.strings(1) == ["layers.5.leaky", "layers.6.leaky"] && routeAttributes == ["axis": [1]])

        let metadata = Dictionary(uniqueKeysWithValues: try model.messages(14).map { ($0.string(1) ?? "", $0.string(2) ?? "") })
        #expect(metadata["classes"] == "[\"a\", \"b\"]")
        #expect(metadata["anchors"] == "[[1, 1.5], [2.5, 2]]")
        #expect(metadata["stride"] == "24")
        #expect(try ModelConfig.decode(Data((metadata["config"] ?? "").utf8), source: "metadata") == network.config)
    }

    /// The folded kernels, by hand: a 1-channel depthwise 3x3 with batch norm γ = 2, β = 1,
    /// μ = 0.5, σ² = 3 gives w' = w · 2/√(3 + 1e-5), b' = 1 − 0.5 · 2/√(3 + 1e-5); the conv
    /// weight goes from HWIO to OIHW.
    @Test func batchNormFoldingAndKernelLayouts() throws {
        let config = try ModelConfig.decode(Data("""
        {"name": "fold", "input": {"width": 32, "height": 32, "channels": 3}, "classes": ["a"], "anchors": [[1, 1]],
         "layers": [{"type": "conv", "filters": 1, "size": 3, "stride": 2, "batchnorm": false, "activation": "linear"},
                    {"type": "depthwise", "size": 3, "stride": 2, "batchnorm": true, "activation": "leaky"},
                    {"type": "maxpool", "size": 2, "stride": 2},
                    {"type": "maxpool", "size": 2, "stride": 2},
                    {"type": "maxpool", "size": 2, "stride": 2},
                    {"type": "conv", "filters": 6, "size": 1, "stride": 1, "batchnorm": false, "activation": "linear"}]}
        """.utf8), source: "fold")
        let network = try Network(config: config, seed: 3)
        func parameter(_ name: String) throws -> Parameter { try #require(network.parameters.first { $0.name == name }) }
        try parameter("layers.1.bn.scale").value = [2]
        try parameter("layers.1.bn.shift").value = [1]
        try parameter("layers.1.bn.running_mean").value = [0.5]
        try parameter("layers.1.bn.running_var").value = [3]
        let model = try ProtobufFields(Array(try network.onnxModel()))
        let graph = try #require(try model.messages(7).first)
        var initializers: [String: (dims: [Int], values: [Float])] = [:]
        for t in try graph.messages(5) {
            guard case let .bytes(raw)? = t.fields.first(where: { $0.number == 9 })?.value else { continue }
            let values = littleEndianFloats(raw)
            initializers[t.string(8) ?? ""] = (t.integers(1), values)
        }
        let a = Float(2) / (Float(3) + 1e-5).squareRoot()
        let depthwise = try #require(initializers["layers.1.depthwise.weight"])
        #expect(depthwise.dims == [1, 1, 3, 3])
        #expect(depthwise.values == (try parameter("layers.1.depthwise.weight")).value.map { $0 * a })
        #expect(initializers["layers.1.depthwise.bias"]?.values == [1 - a * 0.5])
        let conv = try #require(initializers["layers.0.conv.weight"])
        let hwio = try parameter("layers.0.conv.weight").value   // [3, 3, 3, 1]
        #expect(conv.dims == [1, 3, 3, 3])
        for ci in 0..<3 { for ky in 0..<3 { for kx in 0..<3 {
            #expect(conv.values[(ci * 3 + ky) * 3 + kx] == hwio[(ky * 3 + kx) * 3 + ci])
        } } }
        let head = try #require(initializers["layers.5.conv.weight"])
        let io = try parameter("layers.5.conv.weight").value   // [1, 1, 1, 6]
        #expect(head.dims == [6, 1, 1, 1] && head.values == io)
    }

    /// Steps ONNX cannot take are refused with the layer named; no config builds them (every
    /// layer type exports: the routes model has them all), so they are made by hand here.
    @Test func stepsWithoutAnONNXFormAreRefusedNamingTheLayer() throws {
        let config = try ModelConfig.decode(Data("""
        {"name": "odd", "input": {"width": 32, "height": 32, "channels": 3}, "classes": ["a"], "anchors": [[1, 1]],
         "layers": [{"type": "conv", "filters": 6, "size": 3, "stride": 2, "batchnorm": true, "activation": "leaky"},
                    {"type": "maxpool", "size": 2, "stride": 2}, {"type": "maxpool", "size": 2, "stride": 2},
                    {"type": "maxpool", "size": 2, "stride": 2}, {"type": "maxpool", "size": 2, "stride": 2},
                    {"type": "conv", "filters": 6, "size": 1, "stride": 1, "batchnorm": false, "activation": "linear"}]}
        """.utf8), source: "odd")
        // A batch norm that reads the input directly: nothing to fold it into.
        let lone = BatchNorm(name: "layers.0.bn", input: network32, activation: .leaky)
        let withLone = try Network(config: config, nodes: [Node(step: .operation(lone), inputs: [-1], layer: 0)], fusing: { $0 })
        #expect(throws: ONNXExportError(layer: 0, reason: "batch norm layers.0.bn does not follow a convolution it can be folded into")) {
            try withLone.onnxModel()
        }
        // An inference-only fused step where a plain one belongs.
        let conv = Conv2D(name: "layers.0.conv", input: network32, filters: 16, size: 3, stride: 1, bias: true, activation: .leaky)
        let pool = MaxPool2D(name: "layers.1.maxpool", input: conv.outputShape, size: 2, stride: 2)
        let fusedNodes: [Node<InferenceOnly>] = [Node(step: .operation(ConvMaxPool(conv, pool)), inputs: [-1], layer: 0)]
        let withFused = InferenceNetwork(config: config, nodes: fusedNodes, fusing: { $0 })
        let error = try #require(throws: ONNXExportError.self) { try withFused.onnxModel() }
        #expect(error.layer == 0 && error.description.hasPrefix("ONNX export: layer 0: ") && error.reason.contains("no ONNX form"))
    }

    let network32 = FeatureShape(height: 32, width: 32, channels: 3)

    /// The initializers of an exported model: dimensions, data type and raw bytes by name.
    func initializers(_ data: Data) throws -> [String: (dims: [Int], type: Int, raw: [UInt8])] {
        let graph = try #require(try ProtobufFields(Array(data)).messages(7).first)
        var out: [String: (dims: [Int], type: Int, raw: [UInt8])] = [:]
        for t in try graph.messages(5) {
            guard case let .bytes(raw)? = t.fields.first(where: { $0.number == 9 })?.value else { continue }
            out[t.string(8) ?? ""] = (t.integers(1), t.integers(2).first ?? 0, raw)
        }
        return out
    }

    /// --int8 in ONNX quantizes the folded kernels per output channel; for a network read from an
    /// int8 file that gives back the file's own int8 codes (folding scales each output channel
    /// by γ/σ > 0 here, and per-channel quantization does not see such a factor), laid out
    /// [C_out, C_in / group, k, k], with zero points 0; and the file is smaller (the shipped
    /// model's by more than 3x).
    @Test func int8KernelsAreTheInt8FilesOwnCodes() throws {
        let folder = try Fixtures.temporaryFolder("onnx-int8")
        let float = try loadNetwork(path: Self.routesModel)
        let int8Path = folder.appendingPathComponent("q.safetensors").path
        try Checkpoint.save(parameters: float.parameters, configJSON: float.config.jsonString(), quantize: true, to: int8Path)
        let stored = try SafetensorsFile.read(path: int8Path).tensors
        let exported = try loadNetwork(path: int8Path).onnxModel(int8Kernels: true)
        let tensors = try initializers(exported)
        var checked = 0
        for (name, file) in stored where name.hasSuffix(".weight") {
            let prefix = String(name.dropLast(".weight".count))
            let onnx = try #require(tensors[prefix + ".weight_quantized"], "\(prefix)")
            #expect(onnx.type == 3)   // INT8
            let codes = file.bytes.map { Int8(bitPattern: $0) }
            // The engine's layouts: conv HWIO, depthwise HWC, pointwise [C_in, C_out].
            let shape = file.shape
            let (k, cin, cout) = shape.count == 4 ? (shape[0], shape[2], shape[3]) : shape.count == 3 ? (shape[0], 1, shape[2]) : (1, shape[0], shape[1])
            #expect(onnx.dims == [cout, cin, k, k], "\(prefix)")
            var expected: [Int8] = []
            for co in 0..<cout { for ci in 0..<cin { for ky in 0..<k { for kx in 0..<k {
                expected.append(shape.count == 3 ? codes[(ky * k + kx) * cout + co] : codes[((ky * k + kx) * cin + ci) * cout + co])
            } } } }
            #expect(onnx.raw.map { Int8(bitPattern: $0) } == expected, "\(prefix)")
            #expect(tensors[prefix + ".weight_zero_point"].map { $0.raw == [UInt8](repeating: 0, count: cout) && $0.type == 3 } == true)
            #expect(tensors[prefix + ".weight_scale"]?.dims == [cout])
            checked += 1
        }
        #expect(checked == 10)
        #expect(tensors.keys.allSatisfy { !$0.hasSuffix(".weight") })   // no float kernel left
        #expect(exported.count < (try float.onnxModel()).count)   // this small model is mostly names and metadata
        let fixture = try ONNXFixture.load().cases
        let sizes = Dictionary(uniqueKeysWithValues: fixture.map { ($0.name, $0.onnx_bytes) })
        #expect(try #require(sizes["shipped-int8-qdq"]) * 3 < (try #require(sizes["shipped"])))
    }

    /// Written atomically: a folder that cannot be created is an error naming the path, and
    /// no partial file is left where one could be.
    @Test func writingIsAtomicAndFailuresNameThePath() throws {
        let network = try loadNetwork(path: Self.routesModel)
        let folder = try Fixtures.temporaryFolder("onnx-write")
        let blocker = folder.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        let error = try #require(throws: FileWriteError.self) { try network.exportONNX(to: blocker.appendingPathComponent("m.onnx").path) }
        #expect(error.description.hasPrefix(blocker.appendingPathComponent("m.onnx").path + ": cannot write: cannot create the folder "))
        let target = folder.appendingPathComponent("m.onnx")
        try network.exportONNX(to: target.path)
        #expect(try Data(contentsOf: target) == (try network.onnxModel()))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["file", "m.onnx"])
    }
}

/// `train-detector export --format onnx`, from the built binary.
@Suite struct ONNXExportCommandTests {
    @Test func exportsOnnxByFormatOrByExtension() throws {
        let folder = try Fixtures.temporaryFolder("onnx-cmd")
        let model = ONNXExportTests.routesModel
        let expected = try Fixtures.data("onnx_routes.onnx")
        let explicit = folder.appendingPathComponent("a.bin").path
        let r = try runCommand("train-detector", ["export", model, "--format", "onnx", "--out", explicit])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("ONNX opset 13") && r.out.contains("input images [batch, 3, 72, 96]") && r.out.contains("output head [batch, 14, 3, 4]"), "\(r.out)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: explicit)) == expected)
        // .onnx picks the format; --format safetensors overrides the extension.
        let byName = folder.appendingPathComponent("b.ONNX").path
        #expect(try runCommand("train-detector", ["export", model, "--out", byName]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: byName)) == expected)
        let forced = folder.appendingPathComponent("c.onnx").path
        #expect(try runCommand("train-detector", ["export", model, "--format", "safetensors", "--out", forced]).status == 0)
        #expect(try Checkpoint.load(path: forced).parameters.count == (try Checkpoint.load(path: model)).parameters.count)
        // An int8 model file exports too (kernels dequantized), and gives the int8 model's head.
        let int8 = folder.appendingPathComponent("q.safetensors").path
        #expect(try runCommand("train-detector", ["export", model, "--int8", "--out", int8]).status == 0)
        let int8Onnx = folder.appendingPathComponent("q.onnx").path
        #expect(try runCommand("train-detector", ["export", int8, "--out", int8Onnx]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: int8Onnx)) == (try loadNetwork(path: int8).onnxModel()))
        // --int8: int8 kernels and DequantizeLinear (QDQ), from a float or an int8 file alike.
        let qdq = folder.appendingPathComponent("qdq.onnx").path
        let q = try runCommand("train-detector", ["export", int8, "--int8", "--out", qdq])
        #expect(q.status == 0 && q.out.contains("int8 kernels, ONNX opset 13"), "\(q.out) \(q.err)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: qdq)) == (try loadNetwork(path: model).onnxModel(int8Kernels: true)))
    }

    @Test func badInputExitsOneWithAMessageAndWritesNothing() throws {
        let folder = try Fixtures.temporaryFolder("onnx-cmd-bad")
        let model = ONNXExportTests.routesModel
        let out = folder.appendingPathComponent("m.onnx").path
        let cases: [([String], String)] = [
            (["export", model, "--format", "tflite", "--out", out], "tflite"),
            (["export", Fixtures.url("png_rgb8.png").path, "--format", "onnx", "--out", out], "png_rgb8.png"),
            (["export", folder.appendingPathComponent("missing.safetensors").path, "--out", out], "no such file"),
            (["export", model, "--out", folder.appendingPathComponent("m.onnx/inside.onnx").path], "inside.onnx"),
        ]
        for (arguments, message) in cases {
            if arguments.last == folder.appendingPathComponent("m.onnx/inside.onnx").path {
                try Data().write(to: URL(fileURLWithPath: out))   // a file where a folder would have to be
            }
            let r = try runCommand("train-detector", arguments)
            #expect(r.status == 1 && r.err.contains(message), "\(arguments): status \(r.status), \(r.err)")
            #expect(r.out.isEmpty, "\(arguments): \(r.out)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)).isEmpty)   // only the empty blocker
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["m.onnx"])
    }
}
