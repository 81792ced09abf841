/// The settings of the YOLOv2 region loss (darknet's `[region]` section), stored in the model
/// config under `"loss"`. Every key is optional in JSON; the defaults are these.
///
///     "loss": {"coord": 1, "object": 5, "noobject": 1, "class": 1,
///              "ignore_threshold": 0.6, "warmup_images": 12800, "rescore": true}
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

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case coordScale = "coord", objectScale = "object", noObjectScale = "noobject"
        case classScale = "class", ignoreThreshold = "ignore_threshold"
        case warmupImages = "warmup_images", rescore
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
        if let (key, reason) = invalidSetting, let codingKey = CodingKeys(rawValue: key) {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [codingKey], debugDescription: "\"\(key)\": \(reason)"))
        }
    }

    /// JSON keys accepted under "loss" (a config decoder rejects any other).
    public static let keys: Set<String> = Set(CodingKeys.allCases.map(\.rawValue))

    /// Each of the four weights λ: finite and in this range. 0 turns a term off; above 1000 a
    /// term only swamps the others (darknet's largest default is 5).
    public static let weightRange: ClosedRange<Float> = 0...1000
    /// The IoU above which an anchor is not penalised as background: an IoU, so in [0, 1].
    public static let ignoreThresholdRange: ClosedRange<Float> = 0...1
    /// Warm-up length in images: 0 (off) to a billion (far past any training run here).
    public static let warmupImagesRange: ClosedRange<Int> = 0...1_000_000_000

    /// The first setting out of its range, as its JSON key and what is wrong; nil when every
    /// setting is usable (finite weights in `weightRange`, not all 0; `ignoreThreshold` in
    /// [0, 1]; `warmupImages` in `warmupImagesRange`).
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
        return nil
    }
}
