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
    }

    /// JSON keys accepted under "loss" (a config decoder rejects any other).
    public static let keys: Set<String> = Set(CodingKeys.allCases.map(\.rawValue))
}
