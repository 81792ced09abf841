import Foundation
import Testing
@testable import Detector

/// A config of `layers` (JSON objects, one per line from line 4) before a 1x1 head of
/// 2 x (5 + 2) = 14 filters, for input `width` x `height`.
func configText(width: Int = 64, height: Int = 64, layers: [String]) -> String {
    """
    {"name": "t", "input": {"width": \(width), "height": \(height), "channels": 3},
     "classes": ["a", "b"], "anchors": [[1, 1], [2, 2]],
     "layers": [
    \((layers + [#"{"type": "conv", "filters": 14, "size": 1, "stride": 1}"#]).joined(separator: ",\n"))]}
    """
}

/// A config that must be refused, and where the error must point.
struct RefusedConfig: CustomTestStringConvertible, Sendable {
    var name: String
    var text: String
    var layer: Int?
    var field: String?
    /// Words the reason must contain (the bound, what is wrong).
    var reason: [String]
    var testDescription: String { name }
}

/// `smallConfigJSON` with `replace` replaced by `with`, as a `RefusedConfig`.
func smallConfig(_ name: String, replace: String, with: String, layer: Int?, field: String?, reason: [String]) -> RefusedConfig {
    precondition(smallConfigJSON.contains(replace), "\(name): the replacement does not apply")
    return RefusedConfig(name: name, text: smallConfigJSON.replacingOccurrences(of: replace, with: with),
                         layer: layer, field: field, reason: reason)
}

@Suite struct ConfigBoundsTests {
    static let conv8 = #"{"type": "conv", "filters": 8, "size": 3, "stride": 1}"#

    func decode(_ text: String, memoryLimit: MemoryLimit = .unlimited) throws -> ModelConfig {
        try ModelConfig.decode(Data(text.utf8), source: "test.json", memoryLimit: memoryLimit)
    }

    func expectRefused(_ bad: RefusedConfig, memoryLimit: MemoryLimit = .unlimited, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let error = try #require(throws: ConfigError.self, sourceLocation: sourceLocation) { try decode(bad.text, memoryLimit: memoryLimit) }
        #expect(error.source == "test.json", sourceLocation: sourceLocation)
        #expect(error.layer == bad.layer, "\(error)", sourceLocation: sourceLocation)
        #expect(error.field == bad.field, "\(error)", sourceLocation: sourceLocation)
        for word in bad.reason {
            #expect(error.reason.contains(word), "\"\(word)\" not in: \(error)", sourceLocation: sourceLocation)
        }
        #expect(error.description.hasPrefix("test.json"), sourceLocation: sourceLocation)
        if let layer = bad.layer { #expect(error.description.contains("layer \(layer)"), sourceLocation: sourceLocation) }
        if let field = bad.field { #expect(error.description.contains("\"\(field)\""), sourceLocation: sourceLocation) }
    }

    // MARK: the fuzzing campaign's findings

    static let fuzzFindings: [RefusedConfig] = [
        // 2^63 overflowed the total stride; now the first layer past the input (256 → 512 at layer 8) is named.
        RefusedConfig(name: "64 stride-2 layers", width: 256, height: 256,
                      layers: Array(repeating: #"{"type": "conv", "filters": 8, "size": 3, "stride": 2}"#, count: 64),
                      layer: 8, field: "stride", reason: ["512", "256 x 256"]),
        RefusedConfig(name: "63 stride-2 depthwise layers", width: 64, height: 64,
                      layers: Array(repeating: #"{"type": "depthwise", "size": 3, "stride": 2}"#, count: 63),
                      layer: 6, field: "stride", reason: ["128"]),
        RefusedConfig(name: "size 3037000501 (size² overflows)", layers: [#"{"type": "conv", "filters": 8, "size": 3037000501}"#],
                      layer: 0, field: "size", reason: ["1 to 31", "3037000501"]),
        RefusedConfig(name: "size 99999", layers: [#"{"type": "separable", "filters": 8, "size": 99999}"#],
                      layer: 0, field: "size", reason: ["1 to 31"]),
        RefusedConfig(name: "depthwise size 33", layers: [conv8, #"{"type": "depthwise", "size": 33}"#],
                      layer: 1, field: "size", reason: ["1 to 31"]),
        RefusedConfig(name: "filters 65536", layers: [#"{"type": "conv", "filters": 65536, "size": 3}"#],
                      layer: 0, field: "filters", reason: ["1 to 4096", "65536"]),
        RefusedConfig(name: "pointwise filters 4097", layers: [#"{"type": "pointwise", "filters": 4097}"#],
                      layer: 0, field: "filters", reason: ["4096"]),
        RefusedConfig(name: "input 4096 x 4096", width: 4096, height: 4096, layers: [conv8],
                      layer: nil, field: "input.width", reason: ["1 to 2048", "4096"]),
        RefusedConfig(name: "input height 0", width: 64, height: 0, layers: [conv8],
                      layer: nil, field: "input.height", reason: ["1 to 2048"]),
        RefusedConfig(name: "10,000 layers", layers: Array(repeating: conv8, count: 9_999),
                      layer: nil, field: "layers", reason: ["1000", "10000"]),
        RefusedConfig(name: "a route repeating one layer 5000 times",
                      layers: [conv8, #"{"type": "route", "layers": ["# + Array(repeating: "0", count: 5000).joined(separator: ", ") + "]}"],
                      layer: 1, field: "layers", reason: ["64", "5000"]),
        RefusedConfig(name: "a route of 64 x 512 channels",
                      layers: [#"{"type": "conv", "filters": 512, "size": 1}"#,
                               #"{"type": "route", "layers": ["# + Array(repeating: "0", count: 64).joined(separator: ", ") + "]}"],
                      layer: 1, field: "layers", reason: ["32768", "16384"]),
        RefusedConfig(name: "route index 1e30", layers: [conv8, #"{"type": "route", "layers": [1e30]}"#],
                      layer: 1, field: "layers", reason: ["integers from -1000 to 1000"]),
        RefusedConfig(name: "shortcut from -1e30", layers: [conv8, conv8, #"{"type": "shortcut", "from": -1e30}"#],
                      layer: 2, field: "from", reason: ["-1000 to 1000"]),
        RefusedConfig(name: "shortcut from itself", layers: [conv8, #"{"type": "shortcut", "from": 1}"#],
                      layer: 1, field: "from", reason: ["earlier layer"]),
    ]

    @Test(arguments: fuzzFindings)
    func fuzzFindingsAreTypedErrors(_ bad: RefusedConfig) throws {
        try expectRefused(bad)
    }

    /// The same limits hold for a config built in code, which reaches `Network` without
    /// `decode`: a thrown error, not an overflow trap in `Conv2D` or a failed allocation.
    @Test func configsBuiltInCodeMeetTheSameBounds() throws {
        let head = LayerConfig.convolution(filters: 14, size: 1, stride: 1, batchNorm: false, activation: .linear)
        func config(_ layers: [LayerConfig], side: Int = 64) -> ModelConfig {
            ModelConfig(name: "code", inputWidth: side, inputHeight: side, classes: ["a", "b"],
                        anchors: [Anchor(width: 1, height: 1), Anchor(width: 2, height: 2)], layers: layers + [head])
        }
        let huge = config([.convolution(filters: 8, size: 3_037_000_501, stride: 1, batchNorm: false, activation: .linear)])
        let e1 = try #require(throws: ConfigError.self) { try Network(config: huge, seed: 1) }
        #expect(e1.layer == 0 && e1.field == "size")
        let wide = config([.pointwise(filters: 65536, batchNorm: false, activation: .linear)])
        let e2 = try #require(throws: ConfigError.self) { try Network(config: wide, seed: 1) }
        #expect(e2.layer == 0 && e2.field == "filters")
        let strided = config(Array(repeating: .maxPool(size: 2, stride: 2), count: 70))
        #expect(strided.stride == .max)  // saturates instead of trapping
        let e3 = try #require(throws: ConfigError.self) { try strided.layerShapes() }
        #expect(e3.field != nil && e3.layer != nil)
        let emptyRoute = config([.route(layers: [])])
        let e4 = try #require(throws: ConfigError.self) { try Network(config: emptyRoute, seed: 1) }
        #expect(e4.layer == 0 && e4.field == "layers")
        let big = config([], side: 4096)
        let e5 = try #require(throws: ConfigError.self) { try Network(config: big, seed: 1) }
        #expect(e5.field == "input")
    }

    /// Bounds are inclusive, and the sizes users really use stay valid.
    @Test func generousSizesStayValid() throws {
        // 1024 x 1024 input, 2048 filters, 31 x 31 kernels, a route at the channel bound.
        let text = configText(width: 1024, height: 1024, layers: [
            #"{"type": "conv", "filters": 16, "size": 31, "stride": 2}"#,
            #"{"type": "maxpool", "size": 2, "stride": 2}"#, #"{"type": "maxpool", "size": 2, "stride": 2}"#,
            #"{"type": "maxpool", "size": 2, "stride": 2}"#, #"{"type": "maxpool", "size": 2, "stride": 2}"#,
            #"{"type": "pointwise", "filters": 4096}"#,
            #"{"type": "depthwise", "size": 31}"#,
            #"{"type": "route", "layers": [-1, -1, -1, -1]}"#,
            #"{"type": "conv", "filters": 2048, "size": 3}"#,
        ])
        let config = try decode(text)
        #expect(config.stride == 32 && config.gridWidth == 32)
        #expect(try config.layerShapes()[7].channels == 16384)
        let full = configText(width: 2048, height: 2048, layers: Array(repeating: #"{"type": "maxpool", "size": 2, "stride": 2}"#, count: 11))
        #expect(try decode(full).gridWidth == 1)
        // A few hundred layers are fine; the bound is 1000.
        let deep = configText(width: 32, height: 32, layers: Array(repeating: #"{"type": "conv", "filters": 4, "size": 1}"#, count: 999))
        #expect(try decode(deep).layers.count == 1000)
    }

    // MARK: duplicate keys, at every level

    static let duplicates: [RefusedConfig] = [
        smallConfig("root", replace: "\"name\": \"small\",", with: "\"name\": \"small\", \"name\": \"other\",",
                    layer: nil, field: "name", reason: ["duplicate key \"name\"", "line 1"]),
        smallConfig("input", replace: "\"width\": 16,", with: "\"width\": 16, \"width\": 32,",
                    layer: nil, field: "input.width", reason: ["duplicate key \"width\""]),
        smallConfig("loss", replace: "\"name\": \"small\",", with: "\"name\": \"small\", \"loss\": {\"coord\": 1, \"object\": 5, \"coord\": 2},",
                    layer: nil, field: "loss.coord", reason: ["duplicate key \"coord\""]),
        smallConfig("a layer", replace: "\"filters\": 6, \"size\": 3,", with: "\"filters\": 6, \"size\": 3, \"size\": 5,",
                    layer: 2, field: "size", reason: ["duplicate key \"size\"", "line 6"]),
        smallConfig("the head", replace: "\"filters\": 14,", with: "\"filters\": 14, \"filters\": 14,",
                    layer: 8, field: "filters", reason: ["duplicate key \"filters\""]),
        smallConfig("an object inside a layer", replace: "{\"type\": \"route\", \"layers\": [-1, 5]}",
                    with: "{\"type\": \"route\", \"layers\": [-1, 5], \"x\": {\"k\": 1, \"k\": 2}}",
                    layer: 7, field: "x.k", reason: ["duplicate key \"k\""]),
        smallConfig("layers itself", replace: "\"name\": \"small\",", with: "\"name\": \"small\", \"layers\": [],",
                    layer: nil, field: "layers", reason: ["duplicate key \"layers\""]),
    ]

    @Test(arguments: duplicates)
    func duplicateKeysAreRefused(_ bad: RefusedConfig) throws {
        try expectRefused(bad)
    }

    @Test func duplicateKeyErrorsGiveLineAndColumn() throws {
        let text = smallConfigJSON.replacingOccurrences(of: "\"filters\": 6, \"size\": 3,", with: "\"filters\": 6, \"size\": 3, \"size\": 5,")
        let error = try #require(throws: ConfigError.self) { try decode(text) }
        // Line 6 is layer 2; its first "size" starts at column 39, the second at 50.
        #expect(error.line == 6 && error.column == 50)
        #expect(error.description.hasPrefix("test.json:6:50: layer 2: \"size\": duplicate key \"size\" (first given at line 6, column 39)"))
    }

    // MARK: numbers out of range

    static let numbers: [RefusedConfig] = [
        smallConfig("input width 1e400", replace: "\"width\": 16", with: "\"width\": 1e400",
                    layer: nil, field: "input.width", reason: ["1e400", "out of range"]),
        smallConfig("filters 1e400", replace: "\"filters\": 4,", with: "\"filters\": 1e400,",
                    layer: 0, field: "filters", reason: ["out of range"]),
        smallConfig("filters, 30 digits", replace: "\"filters\": 4,", with: "\"filters\": 123456789012345678901234567890,",
                    layer: 0, field: "filters", reason: ["from 1 to 4096"]),
        smallConfig("stride, 30 digits", replace: "\"size\": 3, \"stride\": 2,", with: "\"size\": 3, \"stride\": -123456789012345678901234567890,",
                    layer: 2, field: "stride", reason: ["from 1 to 2"]),
        smallConfig("a fractional size", replace: "\"filters\": 4, \"size\": 3", with: "\"filters\": 4, \"size\": 3.5",
                    layer: 0, field: "size", reason: ["integer"]),
        smallConfig("anchor 1e-400", replace: "\"anchors\": [[1, 1],", with: "\"anchors\": [[1, 1e-400],",
                    layer: nil, field: "anchors[0][1]", reason: ["too small"]),
        smallConfig("warm-up 1e30", replace: "\"name\": \"small\",", with: "\"name\": \"small\", \"loss\": {\"warmup_images\": 1e30},",
                    layer: nil, field: "loss.warmup_images", reason: ["0 to 1000000000"]),
        smallConfig("a weight beyond Float", replace: "\"name\": \"small\",", with: "\"name\": \"small\", \"loss\": {\"class\": 1e39},",
                    layer: nil, field: "loss.class", reason: ["0 to 1000"]),
    ]

    @Test(arguments: numbers)
    func numbersOutOfRangeNameTheirField(_ bad: RefusedConfig) throws {
        try expectRefused(bad)
    }

    // MARK: loss settings and anchors

    static let lossValues: [RefusedConfig] = [
        (#"{"coord": -1}"#, "loss.coord", "0 to 1000"), (#"{"object": -0.5}"#, "loss.object", "0 to 1000"),
        (#"{"noobject": 1001}"#, "loss.noobject", "0 to 1000"), (#"{"class": -1e-9}"#, "loss.class", "0 to 1000"),
        (#"{"ignore_threshold": 1.5}"#, "loss.ignore_threshold", "0 to 1"), (#"{"ignore_threshold": -0.1}"#, "loss.ignore_threshold", "0 to 1"),
        (#"{"warmup_images": -1}"#, "loss.warmup_images", "0 to 1000000000"), (#"{"warmup_images": 2.5}"#, "loss.warmup_images", "integer"),
        (#"{"rescore": 1}"#, "loss.rescore", "true or false"), (#"{"coord": "1"}"#, "loss.coord", "number"),
        (#"{"coord": 0, "object": 0, "noobject": 0, "class": 0}"#, "loss.coord", "all 0"),
        (#"[1]"#, "loss", "object"),
    ].map { loss, field, reason in
        smallConfig("loss \(loss)", replace: "\"name\": \"small\",", with: "\"name\": \"small\", \"loss\": \(loss),",
                    layer: nil, field: field, reason: [reason])
    }

    @Test(arguments: lossValues)
    func lossSettingsOutOfRangeAreRefused(_ bad: RefusedConfig) throws {
        try expectRefused(bad)
    }

    @Test func lossRangeEdgesAreAccepted() throws {
        let text = smallConfigJSON.replacingOccurrences(
            of: "\"name\": \"small\",",
            with: "\"name\": \"small\", \"loss\": {\"coord\": 0, \"object\": 1000, \"noobject\": 0, \"class\": 0.5, \"ignore_threshold\": 1, \"warmup_images\": 0, \"rescore\": false},")
        let loss = try decode(text).loss
        #expect(loss.coordScale == 0 && loss.objectScale == 1000 && loss.noObjectScale == 0 && loss.classScale == 0.5)
        #expect(loss.ignoreThreshold == 1 && loss.warmupImages == 0 && !loss.rescore)
        let zero = smallConfigJSON.replacingOccurrences(of: "\"name\": \"small\",", with: "\"name\": \"small\", \"loss\": {\"ignore_threshold\": 0},")
        #expect(try decode(zero).loss.ignoreThreshold == 0)
    }

    /// Settings made in code, including values JSON cannot spell (NaN, infinity).
    @Test func lossSettingsCheckTheirOwnRanges() throws {
        #expect(RegionLossSettings().invalidSetting == nil)
        let cases: [(WritableKeyPath<RegionLossSettings, Float>, Float, String)] = [
            (\.coordScale, .nan, "coord"), (\.objectScale, .infinity, "object"), (\.noObjectScale, -1, "noobject"),
            (\.classScale, 1e30, "class"), (\.ignoreThreshold, .nan, "ignore_threshold"), (\.ignoreThreshold, 1.01, "ignore_threshold"),
        ]
        for (path, value, key) in cases {
            var settings = RegionLossSettings()
            settings[keyPath: path] = value
            #expect(settings.invalidSetting?.key == key, "\(key) = \(value)")
        }
        var negative = RegionLossSettings()
        negative.warmupImages = -1
        #expect(negative.invalidSetting?.key == "warmup_images")
        // The Codable path checks too.
        let error = try #require(throws: DecodingError.self) {
            try JSONDecoder().decode(RegionLossSettings.self, from: Data(#"{"ignore_threshold": 2}"#.utf8))
        }
        #expect("\(error)".contains("ignore_threshold"))
        // A config made in code with bad settings or anchors fails validation naming them.
        var config = try decode(smallConfigJSON)
        config.loss.noObjectScale = -.infinity
        let e1 = try #require(throws: ConfigError.self) { try config.validate(source: "code", memoryLimit: .unlimited) }
        #expect(e1.field == "loss.noobject")
        config.loss = RegionLossSettings()
        config.anchors[1] = Anchor(width: .nan, height: 1)
        let e2 = try #require(throws: ConfigError.self) { try config.validate(source: "code", memoryLimit: .unlimited) }
        #expect(e2.field == "anchors[1]")
    }

    static let anchorValues: [RefusedConfig] = [
        "[0, 1]", "[1, -1]", "[1e39, 1]", "[1e-50, 1]", "[0.0005, 1]", "[1, 1001]", "[1, 1, 1]", "[\"1\", 1]", "1",
    ].map { anchor in
        smallConfig("anchor \(anchor)", replace: "\"anchors\": [[1, 1],", with: "\"anchors\": [\(anchor),",
                    layer: nil, field: "anchors[0]", reason: ["0.001 to 1000 grid cells"])
    }

    @Test(arguments: anchorValues)
    func anchorsOutOfRangeAreRefused(_ bad: RefusedConfig) throws {
        try expectRefused(bad)
    }

    @Test func anchorEdgesAreAccepted() throws {
        let text = smallConfigJSON.replacingOccurrences(of: "\"anchors\": [[1, 1],", with: "\"anchors\": [[0.001, 1000],")
        #expect(try decode(text).anchors[0] == Anchor(width: 0.001, height: 1000))
    }

    @Test func headSizeBoundsClassesAndAnchors() throws {
        let classes = (0..<3000).map { "\"c\($0)\"" }.joined(separator: ", ")
        let text = smallConfigJSON.replacingOccurrences(of: "\"classes\": [\"a\", \"b\"]", with: "\"classes\": [\(classes)]")
        try expectRefused(RefusedConfig(name: "3000 classes", text: text, layer: nil, field: "classes",
                                        reason: ["2 anchors x (5 + 3000 classes)", "6010", "4096"]))
    }

    // MARK: unknown keys, at every level

    static let unknownKeys: [RefusedConfig] = [
        smallConfig("root", replace: "\"name\": \"small\",", with: "\"name\": \"small\", \"extra\": 1,", layer: nil, field: "extra", reason: ["unknown key"]),
        smallConfig("input", replace: "\"channels\": 3}", with: "\"channels\": 3, \"depth\": 1}", layer: nil, field: "input.depth", reason: ["unknown key"]),
        smallConfig("loss", replace: "\"name\": \"small\",", with: "\"name\": \"small\", \"loss\": {\"coord\": 1, \"iou\": 1},",
                    layer: nil, field: "loss.iou", reason: ["unknown key"]),
        smallConfig("conv", replace: "{\"type\": \"conv\", \"filters\": 4,", with: "{\"type\": \"conv\", \"padding\": 1, \"filters\": 4,",
                    layer: 0, field: "padding", reason: ["unknown key"]),
        smallConfig("maxpool", replace: "{\"type\": \"maxpool\", \"size\": 2, \"stride\": 2}", with: "{\"type\": \"maxpool\", \"size\": 2, \"stride\": 2, \"padding\": 0}",
                    layer: 1, field: "padding", reason: ["unknown key"]),
        smallConfig("separable", replace: "{\"type\": \"separable\",", with: "{\"type\": \"separable\", \"groups\": 2,",
                    layer: 2, field: "groups", reason: ["unknown key"]),
        smallConfig("depthwise (a key of another type)", replace: "{\"type\": \"depthwise\",", with: "{\"type\": \"depthwise\", \"filters\": 6,",
                    layer: 4, field: "filters", reason: ["unknown key"]),
        smallConfig("shortcut", replace: "{\"type\": \"shortcut\",", with: "{\"type\": \"shortcut\", \"layers\": [1],",
                    layer: 5, field: "layers", reason: ["unknown key"]),
        smallConfig("pointwise", replace: "{\"type\": \"pointwise\",", with: "{\"type\": \"pointwise\", \"size\": 1,",
                    layer: 6, field: "size", reason: ["unknown key"]),
        smallConfig("route", replace: "{\"type\": \"route\",", with: "{\"type\": \"route\", \"from\": 1,",
                    layer: 7, field: "from", reason: ["unknown key"]),
    ]

    @Test(arguments: unknownKeys)
    func unknownKeysAreRefusedAtEveryLevel(_ bad: RefusedConfig) throws {
        try expectRefused(bad)
    }

    // MARK: files

    @Test func oversizedFilesAreRefusedWithoutReadingThemWhole() throws {
        let folder = try Fixtures.temporaryFolder("config-size")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("big.json").path
        try Data(repeating: 0x20, count: ConfigBounds.fileBytes + 1).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: ConfigError.self) { try ModelConfig.load(path: path) }
        #expect(error.source == path && error.reason.contains("16 MiB"))
        if FileManager.default.fileExists(atPath: "/dev/zero") {
            let zero = try #require(throws: ConfigError.self) { try ModelConfig.load(path: "/dev/zero") }
            #expect(zero.reason.contains("16 MiB"))
        }
    }

    @Test func everyShippedConfigStillLoads() throws {
        let models = repositoryRoot.appendingPathComponent("models")
        let names = try FileManager.default.contentsOfDirectory(atPath: models.path)
        #expect(names.contains("tiny-dsc.json"))
        for name in names where name.hasSuffix(".json") {
            _ = try ConfigFile.load(path: models.appendingPathComponent(name).path)
        }
        for name in names where name.hasSuffix(".safetensors") {
            let checkpoint = try Checkpoint.load(path: models.appendingPathComponent(name).path)
            _ = try ModelConfig.decode(Data(checkpoint.configJSON.utf8), source: name)
        }
    }
}

extension RefusedConfig {
    init(name: String, width: Int = 64, height: Int = 64, layers: [String], layer: Int?, field: String?, reason: [String]) {
        self.init(name: name, text: configText(width: width, height: height, layers: layers), layer: layer, field: field, reason: reason)
    }
}
