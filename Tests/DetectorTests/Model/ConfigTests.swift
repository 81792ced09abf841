import Foundation
import Testing
import Detector

/// A small valid config: stride 4, 16 x 8 input → grid 4 x 2, head 2 x (5 + 2) = 14 filters.
let smallConfigJSON = """
{"name": "small", "input": {"width": 16, "height": 8, "channels": 3},
 "classes": ["a", "b"], "anchors": [[1, 1], [2.5, 1.5]],
 "layers": [
  {"type": "conv", "filters": 4, "size": 3, "stride": 1, "batchnorm": true, "activation": "leaky"},
  {"type": "maxpool", "size": 2, "stride": 2},
  {"type": "separable", "filters": 6, "size": 3, "stride": 2, "batchnorm": true, "activation": "relu6"},
  {"type": "maxpool", "size": 2, "stride": 1},
  {"type": "depthwise", "size": 3, "stride": 1, "batchnorm": false, "activation": "relu"},
  {"type": "shortcut", "from": -2, "activation": "linear"},
  {"type": "pointwise", "filters": 3, "batchnorm": true, "activation": "leaky"},
  {"type": "route", "layers": [-1, 5]},
  {"type": "conv", "filters": 14, "size": 1, "stride": 1, "batchnorm": false, "activation": "linear"}]}
"""

struct BadConfig: CustomTestStringConvertible, Sendable {
    var replace: String, with: String
    var layer: Int?, field: String?
    var testDescription: String { "\(replace) → \(with)" }
}

@Suite struct ConfigTests {
    func decode(_ text: String) throws -> ModelConfig {
        try ModelConfig.decode(Data(text.utf8), source: "test.json")
    }

    @Test func shippedTinyDSCDecodesAsTheIssueDefines() throws {
        // It takes its classes from the data set; with the synthetic shapes' it is the issue's network.
        let config = try shippedTinyDSC()
        #expect(config.name == "tiny-dsc" && config.classes == ["circle", "square", "triangle"])
        #expect(config.anchors.map(\.width) == [0.6, 1.2, 2.0, 3.0, 4.5])
        #expect(config.layers.count == 12 && config.stride == 32 && config.gridWidth == 8)
        #expect(config.layers[2] == .separable(filters: 32, size: 3, stride: 1, batchNorm: true, activation: .leaky))
        #expect(config.layers[11] == .convolution(filters: 40, size: 1, stride: 1, batchNorm: false, activation: .linear))
        // Darknet's region loss but for cross-entropy objectness (README, "Choosing the model and the recipe").
        var loss = RegionLossSettings()
        loss.objectnessLoss = .crossEntropy
        #expect(config.loss == loss)
        #expect(config.headLayout.channels == 40)
    }

    @Test func smallConfigShapes() throws {
        let config = try decode(smallConfigJSON)
        #expect(config.stride == 4 && config.gridWidth == 4 && config.gridHeight == 2)
        // Relative indices become absolute: shortcut -2 at layer 5 → 3, route [-1, 5] at 7 → [6, 5].
        #expect(config.layers[5] == .shortcut(from: 3, activation: .linear))
        #expect(config.layers[7] == .route(layers: [6, 5]))
        let shapes = try config.layerShapes()
        #expect(shapes.map(\.description) == ["8x16x4", "4x8x4", "2x4x6", "2x4x6", "2x4x6", "2x4x6", "2x4x3", "2x4x9", "2x4x14"])
    }

    @Test(arguments: [smallConfigJSON, try! shippedTinyDSC().jsonString()])
    func roundTripsThroughJSONStringAndCodable(_ text: String) throws {
        var config = try decode(text)
        config.loss.objectScale = 2.5
        config.loss.rescore = false
        let again = try decode(config.jsonString())
        #expect(again == config)
        let coded = try JSONDecoder().decode(ModelConfig.self, from: JSONEncoder().encode(config))
        #expect(coded == config)
        #expect(config.jsonString().contains("[0.6, 0.6]") || config.name == "small")
    }

    static let badConfigs: [BadConfig] = [
        BadConfig(replace: "\"separable\"", with: "\"sepparable\"", layer: 2, field: "type"),
        BadConfig(replace: "\"size\": 3, \"stride\": 2,", with: "\"size\": 3, \"strde\": 2,", layer: 2, field: "strde"),
        BadConfig(replace: "\"relu6\"", with: "\"swish\"", layer: 2, field: "activation"),
        BadConfig(replace: "\"filters\": 14", with: "\"filters\": 15", layer: 8, field: "filters"),
        BadConfig(replace: "\"width\": 16", with: "\"width\": 18", layer: nil, field: "input"),
        BadConfig(replace: "\"from\": -2", with: "\"from\": 6", layer: 5, field: "from"),
        BadConfig(replace: "\"layers\": [-1, 5]", with: "\"layers\": [-1, 8]", layer: 7, field: "layers"),
        BadConfig(replace: "{\"type\": \"conv\", \"filters\": 4,", with: "{\"type\": \"conv\",", layer: 0, field: "filters"),
        BadConfig(replace: "\"filters\": 4, \"size\": 3", with: "\"filters\": 4, \"size\": 4", layer: 0, field: "size"),
        BadConfig(replace: "\"batchnorm\": true, \"activation\": \"leaky\"},\n  {\"type\": \"maxpool\"",
                  with: "\"batchnorm\": 1, \"activation\": \"leaky\"},\n  {\"type\": \"maxpool\"", layer: 0, field: "batchnorm"),
        BadConfig(replace: "\"size\": 2, \"stride\": 1", with: "\"size\": 3, \"stride\": 1", layer: 3, field: "stride"),
        BadConfig(replace: "\"anchors\": [[1, 1],", with: "\"anchors\": [[1, -1],", layer: nil, field: "anchors[0]"),
        BadConfig(replace: "\"name\": \"small\",", with: "\"name\": \"small\", \"loss\": {\"objct\": 2},", layer: nil, field: "loss.objct"),
        BadConfig(replace: "\"name\": \"small\",", with: "\"name\": \"small\", \"loss\": {\"object\": \"x\"},", layer: nil, field: "loss.object"),
        BadConfig(replace: "\"name\": \"small\",", with: "\"name\": \"small\", \"extra\": 1,", layer: nil, field: "extra"),
        BadConfig(replace: "\"classes\": [\"a\", \"b\"]", with: "\"classes\": []", layer: nil, field: "classes"),
        // The last layer must be the linear head.
        BadConfig(replace: "\"filters\": 14, \"size\": 1, \"stride\": 1, \"batchnorm\": false, \"activation\": \"linear\"",
                  with: "\"filters\": 14, \"size\": 1, \"stride\": 1, \"batchnorm\": false, \"activation\": \"leaky\"", layer: 8, field: "activation"),
    ]

    @Test(arguments: badConfigs)
    func rejectsWithTypedErrorNamingLayerAndField(_ bad: BadConfig) throws {
        #expect(smallConfigJSON.contains(bad.replace), "test case does not apply")
        let text = smallConfigJSON.replacingOccurrences(of: bad.replace, with: bad.with)
        let error = try #require(throws: ConfigError.self) { try decode(text) }
        #expect(error.layer == bad.layer)
        #expect(error.field == bad.field)
        #expect(error.source == "test.json")
        #expect(error.description.hasPrefix("test.json"))
    }

    @Test func rejectsBrokenJSONAndMissingFile() throws {
        #expect(throws: ConfigError.self) { try decode("{\"name\": ") }
        let error = try #require(throws: ConfigError.self) { try ModelConfig.load(path: "/nonexistent/model.json") }
        #expect(error.description.contains("no such file"))
    }

    /// Shapes that cannot meet: a shortcut adding 8x16x4 to 2x4x6, a route of 2x4 and 8x16 maps.
    @Test func rejectsImpossibleShapes() throws {
        let shortcut = smallConfigJSON.replacingOccurrences(of: "\"from\": -2", with: "\"from\": 0")
        let e1 = try #require(throws: ConfigError.self) { try decode(shortcut) }
        #expect(e1.layer == 5 && e1.field == "from" && e1.reason.contains("8x16x4"))
        let route = smallConfigJSON.replacingOccurrences(of: "\"layers\": [-1, 5]", with: "\"layers\": [-1, 0]")
        let e2 = try #require(throws: ConfigError.self) { try decode(route) }
        #expect(e2.layer == 7 && e2.field == "layers")
    }
}
