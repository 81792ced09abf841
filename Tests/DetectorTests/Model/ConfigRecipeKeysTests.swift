import Foundation
import Testing
@testable import Detector

/// The loss's recipe keys (`assign`, `multi_anchor_threshold`, `objectness_loss`) read from a
/// config, refused with the field named when wrong, and written back only when not default.
@Suite struct ConfigRecipeKeysTests {
    static func config(loss: String) -> String {
        tinyConfigJSON.replacingOccurrences(of: "\"anchors\": [[1.5, 1.5], [3.0, 3.0]],",
                                            with: "\"anchors\": [[1.5, 1.5], [3.0, 3.0]], \"loss\": {\(loss)},")
    }

    @Test func recipeKeysAreReadAndSurviveTheRoundTrip() throws {
        let text = Self.config(loss: "\"assign\": \"multi\", \"multi_anchor_threshold\": 0.3, \"objectness_loss\": \"bce\"")
        let config = try ModelConfig.decode(Data(text.utf8), source: "r.json")
        #expect(config.loss.assignment == .multi)
        #expect(config.loss.multiAnchorThreshold == 0.3)
        #expect(config.loss.objectnessLoss == .crossEntropy)
        let again = try ModelConfig.decode(Data(config.jsonString().utf8), source: "again")
        #expect(again.loss == config.loss)
        #expect(config.jsonString().contains("\"objectness_loss\": \"bce\"") || config.jsonString().contains("\"objectness_loss\":\"bce\""))
    }

    @Test func defaultsAreNotWritten() throws {
        let config = try ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "t.json")
        let text = config.jsonString()
        #expect(!text.contains("assign") && !text.contains("objectness_loss") && !text.contains("multi_anchor_threshold"))
    }

    @Test(arguments: [
        ("\"assign\": \"all\"", "loss.assign"),
        ("\"assign\": 1", "loss.assign"),
        ("\"objectness_loss\": \"focal\"", "loss.objectness_loss"),
        ("\"multi_anchor_threshold\": 1.5", "loss.multi_anchor_threshold"),
        ("\"multi_anchor_threshold\": \"high\"", "loss.multi_anchor_threshold"),
    ])
    func wrongValuesNameTheField(loss: String, field: String) throws {
        #expect { try ModelConfig.decode(Data(Self.config(loss: loss).utf8), source: "bad.json") } throws: { error in
            "\(error)".contains(field) && "\(error)".hasPrefix("bad.json")
        }
    }
}
