import Foundation
import Testing
@testable import Detector

/// models/tiny-dsc.json with the synthetic shapes' classes: the network (it takes its
/// classes from the data set, so on its own it has none).
func shippedTinyDSC() throws -> ModelConfig {
    try ConfigFile.load(path: repositoryRoot.appendingPathComponent("models/tiny-dsc.json").path)
        .config(classes: SyntheticShapes.classNames, dataSet: "the synthetic shapes")
}

/// "The config is the architecture": a config without "classes" takes the
/// data set's and sizes its head from them; one that pins them refuses other classes; the
/// config stored is always complete.
@Suite struct ClassesFromDataSetTests {
    /// `tinyConfigJSON` without its classes and its head's filters.
    static let openJSON = tinyConfigJSON
        .replacingOccurrences(of: " \"classes\": [\"circle\", \"square\", \"triangle\"],\n", with: "")
        .replacingOccurrences(of: "{\"type\": \"conv\", \"filters\": 16, \"size\": 1", with: "{\"type\": \"conv\", \"size\": 1")

    func file(_ text: String) throws -> ConfigFile {
        try ConfigFile.decode(Data(text.utf8), source: "test.json")
    }

    @Test func theShippedDefaultTakesTheDataSetsClasses() throws {
        let file = try ConfigFile.load(path: repositoryRoot.appendingPathComponent("models/tiny-dsc.json").path)
        #expect(file.classes == nil && file.takesClassesFromDataSet)
        #expect(file.name == "tiny-dsc" && file.inputWidth == 256 && file.gridWidth == 8 && file.gridHeight == 8)
        #expect(file.anchors.map(\.width) == [0.6, 1.2, 2.0, 3.0, 4.5])
        let two = try file.config(classes: ["round", "angular"], dataSet: "set")
        #expect(two.classes == ["round", "angular"])
        #expect(two.layers.last == .convolution(filters: 35, size: 1, stride: 1, batchNorm: false, activation: .linear))
        #expect(two.headLayout.channels == 35)
        #expect(try Network(config: two, seed: 1).outputShape == FeatureShape(height: 8, width: 8, channels: 35))
        // What a checkpoint stores is complete: it decodes on its own, to the same config.
        let stored = two.jsonString()
        #expect(stored.contains("\"classes\": [\"round\", \"angular\"]") && stored.contains("\"filters\": 35"))
        #expect(try ModelConfig.decode(Data(stored.utf8), source: "metadata") == two)
        // The shipped shapes config still pins its classes.
        let shapes = try ConfigFile.load(path: repositoryRoot.appendingPathComponent("models/tiny-dsc-shapes.json").path)
        #expect(shapes.classes == SyntheticShapes.classNames)
    }

    @Test func aCompleteConfigIsNeededWhereNoDataSetIs() throws {
        let error = try #require(throws: ConfigError.self) {
            try ModelConfig.load(path: repositoryRoot.appendingPathComponent("models/tiny-dsc.json").path)
        }
        #expect(error.field == "classes" && error.reason.contains("takes its classes from the data set"), "\(error)")
        #expect(throws: ConfigError.self) { try ModelConfig.decode(Data(Self.openJSON.utf8), source: "metadata") }
    }

    @Test func aPinnedConfigRefusesOtherClasses() throws {
        let pinned = try file(tinyConfigJSON)
        #expect(pinned.classes == ["circle", "square", "triangle"])
        #expect(try pinned.config(classes: ["circle", "square", "triangle"], dataSet: "set") == ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "test.json"))
        for other in [["circle", "square"], ["square", "circle", "triangle"], ["a", "b", "c"]] {
            let error = try #require(throws: ConfigError.self) { try pinned.config(classes: other, dataSet: "data/x") }
            #expect(error.source == "test.json" && error.field == "classes", "\(error)")
            #expect(error.reason.contains("\(other)") && error.reason.contains("data/x") && error.reason.contains("[\"circle\", \"square\", \"triangle\"]"), "\(error)")
        }
    }

    @Test func theHeadFollowsTheClassesAndAnchors() throws {
        let open = try file(Self.openJSON)
        #expect(open.classes == nil && open.gridWidth == 8)
        for (classes, filters) in [(["a"], 12), (["a", "b", "c", "d"], 18), ((0..<80).map { "c\($0)" }, 170)] {
            let config = try open.config(classes: classes, dataSet: "set")
            #expect(config.layers.last == .convolution(filters: filters, size: 1, stride: 1, batchNorm: false, activation: .linear))
        }
        // A pinned config may leave the head's filters out too: anchors x (5 + classes).
        let pinnedOpenHead = tinyConfigJSON.replacingOccurrences(of: "{\"type\": \"conv\", \"filters\": 16, \"size\": 1", with: "{\"type\": \"conv\", \"size\": 1")
        #expect(try ModelConfig.decode(Data(pinnedOpenHead.utf8), source: "t") == ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "t"))
    }

    /// Leaving the classes out but giving the head's filters would pin their count: refused,
    /// as are class lists the data set cannot give and heads too large for the bounds.
    @Test func badClassSettingsAreRefusedNamingTheField() throws {
        let withFilters = Self.openJSON.replacingOccurrences(of: "{\"type\": \"conv\", \"size\": 1", with: "{\"type\": \"conv\", \"filters\": 16, \"size\": 1")
        let error = try #require(throws: ConfigError.self) { try file(withFilters) }
        #expect(error.layer == 7 && error.field == "filters" && error.reason.contains("leaves the head's filters out"), "\(error)")
        let empty = try #require(throws: ConfigError.self) {
            try file(tinyConfigJSON.replacingOccurrences(of: "[\"circle\", \"square\", \"triangle\"]", with: "[]"))
        }
        #expect(empty.field == "classes", "\(empty)")
        let open = try file(Self.openJSON)
        for (classes, field) in [([], "classes"), (["a", ""], "classes[1]"), (["a", "a"], "classes")] {
            let e = try #require(throws: ConfigError.self) { try open.config(classes: classes, dataSet: "set") }
            #expect(e.field == field, "\(e)")
        }
        // 2 anchors x (5 + 3000) filters is past the 4096 a layer may have: the classes are named.
        let many = try #require(throws: ConfigError.self) { try open.config(classes: (0..<3000).map { "c\($0)" }, dataSet: "set") }
        #expect(many.field == "classes" && many.reason.contains("6010"), "\(many)")
        // A conv that is not the head still needs its filters.
        let noFilters = Self.openJSON.replacingOccurrences(of: "{\"type\": \"conv\", \"filters\": 16, \"size\": 3", with: "{\"type\": \"conv\", \"size\": 3")
        let missing = try #require(throws: ConfigError.self) { try file(noFilters) }
        #expect(missing.layer == 0 && missing.field == "filters" && missing.reason == "missing", "\(missing)")
    }

    /// Fine-tuning's default: a trained model's architecture (layers, input, anchors, loss) with
    /// its classes left to the data set.
    @Test func aModelsArchitectureTakesOtherClasses() throws {
        let checkpoint = try Checkpoint.load(path: repositoryRoot.appendingPathComponent("models/tiny-dsc-shapes.safetensors").path)
        let trained = try ModelConfig.decode(Data(checkpoint.configJSON.utf8), source: "model")
        let file = try ConfigFile(architectureOf: trained, source: "model")
        #expect(file.classes == nil && file.anchors == trained.anchors)
        let config = try file.config(classes: ["round", "angular"], dataSet: "set")
        #expect(config.name == trained.name && config.anchors == trained.anchors && config.loss == trained.loss)
        #expect(Array(config.layers.dropLast()) == Array(trained.layers.dropLast()))
        #expect(config.layers.last == .convolution(filters: 35, size: 1, stride: 1, batchNorm: false, activation: .linear))
        // The same classes give back the model's own config.
        #expect(try file.config(classes: trained.classes, dataSet: "set") == trained)
        // A run's own config, pinned (resuming without --config).
        let own = ConfigFile(trained, source: "last.safetensors")
        #expect(own.classes == trained.classes)
        #expect(try own.config(classes: trained.classes, dataSet: "set") == trained)
    }
}
