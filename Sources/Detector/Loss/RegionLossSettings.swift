/// Which anchors of a box's cell are responsible for it (`RegionLoss.responsibleAnchors`).
public enum AnchorAssignment: String, Codable, Hashable, Sendable, CaseIterable {
    /// The one anchor whose shape best matches the box's (darknet's YOLOv2 `bias_match`).
    case best
    /// The best anchor and every other anchor whose shape IoU with the box is above
    /// `multiAnchorThreshold` (YOLOv3+ style; AlexeyAB's `iou_thresh`, Turi Create's 0.7).
    case multi
}

/// The function of σ(t_o) that the objectness and no-object terms apply.
public enum ObjectnessLoss: String, Codable, Hashable, Sendable, CaseIterable {
    /// ½ λ (σ(t_o) − target)²: darknet's region layer (its delta λ (target − σ) times σ′).
    case squaredError = "mse"
    /// λ · BCE(σ(t_o), target) = λ [softplus(t_o) − target · t_o]: YOLOv3+, Ultralytics, Turi
    /// Create. Its gradient λ (σ − target) does not vanish when σ saturates on the wrong side.
    case crossEntropy = "bce"
}

/// The settings of the YOLOv2 region loss (darknet's `[region]` section), stored in the model
/// config under `"loss"`. Every key is optional in JSON; the defaults are these.
///
///     "loss": {"coord": 1, "object": 5, "noobject": 1, "class": 1,
///              "ignore_threshold": 0.6, "warmup_images": 12800, "rescore": true}
///
/// Training-recipe options (from YOLOv3 and later), each off by default so that the default loss is
/// darknet's, bit for bit:
///
///     "assign": "best" | "multi", "multi_anchor_threshold": 0.5, "objectness_loss": "mse" | "bce"
public struct RegionLossSettings: Codable, Hashable, Sendable {
    /// λ_coord: weight of the coordinate term.
    public var coordScale: Float = 1
    /// λ_obj: weight of the objectness term on responsible anchors.
    public var objectScale: Float = 5
    /// λ_noobj: weight of the no-object term.
    public var noObjectScale: Float = 1
    /// λ_cls: weight of the class cross-entropy.
    public var classScale: Float = 1
    /// An anchor whose decoded box overlaps some ground truth by more than this adds no
    /// no-object loss.
    public var ignoreThreshold: Float = 0.6
    /// The warm-up prior (pull every anchor towards its own shape and the cell centre) is on
    /// while fewer than this many images have been seen.
    public var warmupImages: Int = 12800
    /// Objectness target: the IoU of the prediction with its box (true, darknet's rescore) or 1.
    public var rescore: Bool = true
    /// One responsible anchor per box (`.best`, darknet) or several (`.multi`).
    public var assignment: AnchorAssignment = .best
    /// With `.multi`: an anchor other than the best is responsible too when the IoU of its shape
    /// with the box's (both centred) is above this; unused with `.best`.
    public var multiAnchorThreshold: Float = 0.5
    /// Squared error on σ(t_o) (darknet) or binary cross-entropy on the logit, for both the
    /// objectness and the no-object term.
    public var objectnessLoss: ObjectnessLoss = .squaredError

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case coordScale = "coord", objectScale = "object", noObjectScale = "noobject"
        case classScale = "class", ignoreThreshold = "ignore_threshold"
        case warmupImages = "warmup_images", rescore
        case assignment = "assign", multiAnchorThreshold = "multi_anchor_threshold", objectnessLoss = "objectness_loss"
    }

    /// Decodes and checks the ranges (`invalidSetting`), throwing `DecodingError.dataCorrupted`
    /// that names the key.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = RegionLossSettings()
        coordScale = try c.decodeIfPresent(Float.self, forKey: .coordScale) ?? defaults.coordScale
        objectScale = try c.decodeIfPresent(Float.self, forKey: .objectScale) ?? defaults.objectScale
        noObjectScale = try c.decodeIfPresent(Float.self, forKey: .noObjectScale) ?? defaults.noObjectScale
        classScale = try c.decodeIfPresent(Float.self, forKey: .classScale) ?? defaults.classScale
        ignoreThreshold = try c.decodeIfPresent(Float.self, forKey: .ignoreThreshold) ?? defaults.ignoreThreshold
        warmupImages = try c.decodeIfPresent(Int.self, forKey: .warmupImages) ?? defaults.warmupImages
        rescore = try c.decodeIfPresent(Bool.self, forKey: .rescore) ?? defaults.rescore
        assignment = try Self.decodeChoice(c, .assignment) ?? defaults.assignment
        multiAnchorThreshold = try c.decodeIfPresent(Float.self, forKey: .multiAnchorThreshold) ?? defaults.multiAnchorThreshold
        objectnessLoss = try Self.decodeChoice(c, .objectnessLoss) ?? defaults.objectnessLoss
        if let (key, reason) = invalidSetting, let codingKey = CodingKeys(rawValue: key) {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [codingKey], debugDescription: "\"\(key)\": \(reason)"))
        }
    }

    /// A string that must be one of a choice's names; the error names the key and the choices.
    private static func decodeChoice<T: RawRepresentable & CaseIterable>(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> T?
        where T.RawValue == String {
        guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let value = T(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [key], debugDescription: "\"\(key.rawValue)\": \(choiceReason(T.self, text))"))
        }
        return value
    }

    /// "must be one of "a", "b", got "x"": the message for an unknown choice.
    public static func choiceReason<T: RawRepresentable & CaseIterable>(_ type: T.Type, _ text: String) -> String where T.RawValue == String {
        "must be one of \(T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), got \"\(text)\""
    }

    /// JSON keys that `ModelConfig` reads under "loss" today (darknet's settings); a config
    /// decoder rejects any other. The recipe keys (`recipeKeys`) are not in it until
    /// `ModelConfig` reads them, so that a config naming one is refused rather than silently
    /// trained with the default.
    public static let keys: Set<String> = ["coord", "object", "noobject", "class", "ignore_threshold", "warmup_images", "rescore"]
    /// The training-recipe keys: "assign" (a string, `AnchorAssignment`), "multi_anchor_threshold"
    /// (a number in `multiAnchorThresholdRange`), "objectness_loss" (a string, `ObjectnessLoss`).
    public static let recipeKeys: Set<String> = [CodingKeys.assignment.rawValue, CodingKeys.multiAnchorThreshold.rawValue,
                                                 CodingKeys.objectnessLoss.rawValue]

    /// Each of the four weights λ: finite and in this range. 0 turns a term off; above 1000 a
    /// term only swamps the others (darknet's largest default is 5).
    public static let weightRange: ClosedRange<Float> = 0...1000
    /// The IoU above which an anchor is not penalised as background: an IoU, so in [0, 1].
    public static let ignoreThresholdRange: ClosedRange<Float> = 0...1
    /// Warm-up length in images: 0 (off) to a billion (far past any training run here).
    public static let warmupImagesRange: ClosedRange<Int> = 0...1_000_000_000
    /// A shape IoU, so in [0, 1]: 0 makes every anchor of the cell responsible (every shape IoU
    /// is positive), 1 makes `.multi` the same as `.best` (no IoU is above 1).
    public static let multiAnchorThresholdRange: ClosedRange<Float> = 0...1

    /// The first setting out of its range, as its JSON key and what is wrong; nil when every
    /// setting is usable (finite weights in `weightRange`, not all 0; `ignoreThreshold` in
    /// [0, 1]; `warmupImages` in `warmupImagesRange`; `multiAnchorThreshold` in [0, 1]).
    public var invalidSetting: (key: String, reason: String)? {
        let weights: [(CodingKeys, Float)] = [(.coordScale, coordScale), (.objectScale, objectScale),
                                              (.noObjectScale, noObjectScale), (.classScale, classScale)]
        let w = Self.weightRange
        for (key, value) in weights where !(value.isFinite && w.contains(value)) {
            return (key.rawValue, "a loss weight must be a number from \(plainNumber(w.lowerBound)) to \(plainNumber(w.upperBound)), got \(value)")
        }
        if weights.allSatisfy({ $0.1 == 0 }) {
            return (CodingKeys.coordScale.rawValue, "the loss weights coord, object, noobject and class are all 0: nothing would be learned")
        }
        let t = Self.ignoreThresholdRange
        if !t.contains(ignoreThreshold) {  // false for NaN too
            return (CodingKeys.ignoreThreshold.rawValue, "an IoU threshold must be from \(plainNumber(t.lowerBound)) to \(plainNumber(t.upperBound)), got \(ignoreThreshold)")
        }
        let n = Self.warmupImagesRange
        if !n.contains(warmupImages) {
            return (CodingKeys.warmupImages.rawValue, "must be a whole number of images from \(n.lowerBound) to \(n.upperBound), got \(warmupImages)")
        }
        let m = Self.multiAnchorThresholdRange
        if !m.contains(multiAnchorThreshold) {  // checked whatever the assignment: a config is right or wrong as written
            return (CodingKeys.multiAnchorThreshold.rawValue, "an IoU threshold must be from \(plainNumber(m.lowerBound)) to \(plainNumber(m.upperBound)), got \(multiAnchorThreshold)")
        }
        return nil
    }
}

// MARK: The recipe keys in a config's JSON

extension RegionLossSettings {
    /// Reads the recipe keys (`recipeKeys`) from a config's "loss" object, leaving a key that is
    /// absent at its current value; an error names the field as `loss.<key>`. For `ModelConfig`
    /// to call beside its reading of the darknet keys (unknown keys are its to reject).
    mutating func readRecipeKeys(from object: [String: JSONValue], source: String) throws {
        func fail(_ key: CodingKeys, _ reason: String) -> ConfigError {
            ConfigError(source: source, field: "loss.\(key.rawValue)", reason: reason)
        }
        func choice<T: RawRepresentable & CaseIterable>(_ key: CodingKeys, _ current: T) throws -> T where T.RawValue == String {
            guard let value = object[key.rawValue] else { return current }
            guard case let .string(text) = value else {
                throw fail(key, "must be one of \(T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), got \(value)")
            }
            guard let parsed = T(rawValue: text) else { throw fail(key, Self.choiceReason(T.self, text)) }
            return parsed
        }
        assignment = try choice(.assignment, assignment)
        objectnessLoss = try choice(.objectnessLoss, objectnessLoss)
        if let value = object[CodingKeys.multiAnchorThreshold.rawValue] {
            let range = Self.multiAnchorThresholdRange
            // Checked as the Float it becomes (a Double beyond 3.4e38 becomes infinity).
            guard case let .number(x) = value, range.contains(Float(x)) else {
                throw fail(.multiAnchorThreshold, "must be a number from \(plainNumber(range.lowerBound)) to \(plainNumber(range.upperBound)), got \(value)")
            }
            multiAnchorThreshold = Float(x)
        }
    }

    /// The recipe keys whose value is not the default, for `ModelConfig`'s JSON: a config with
    /// the defaults is written exactly as before these options existed (same text in
    /// checkpoints), and one that sets them survives the trip through a checkpoint.
    var recipeJSON: [String: JSONValue] {
        let defaults = RegionLossSettings()
        var fields: [String: JSONValue] = [:]
        if assignment != defaults.assignment { fields[CodingKeys.assignment.rawValue] = .string(assignment.rawValue) }
        if multiAnchorThreshold != defaults.multiAnchorThreshold {
            fields[CodingKeys.multiAnchorThreshold.rawValue] = .number(Double("\(multiAnchorThreshold)") ?? Double(multiAnchorThreshold))
        }
        if objectnessLoss != defaults.objectnessLoss { fields[CodingKeys.objectnessLoss.rawValue] = .string(objectnessLoss.rawValue) }
        return fields
    }
}
