/// An anchor box shape in grid-cell units (YOLOv2 convention: 1.0 = one cell = 32 input pixels
/// for a network that downsamples by 32).
public struct Anchor: Hashable, Codable, Sendable {
    public var width: Float
    public var height: Float
    public init(width: Float, height: Float) { self.width = width; self.height = height }
}

/// Where each raw value of the detection head lives, for one image.
///
/// The head is the network's last layer, NHWC like every tensor of the engine: for grid row j
/// (0 ..< gridHeight) and column i (0 ..< gridWidth), the `anchors.count · (5 + classCount)`
/// channels are grouped by anchor, and inside an anchor's group the order is
///
///     t_x, t_y, t_w, t_h, t_o, z_0, ..., z_{C-1}
///
/// (darknet's region-layer order). So the value `k` of anchor `a` in cell (i, j) is at
/// `((j · gridWidth + i) · anchors.count + a) · (5 + classCount) + k`.
public struct HeadLayout: Hashable, Sendable {
    public var gridWidth: Int
    public var gridHeight: Int
    public var anchors: [Anchor]
    public var classCount: Int

    public init(gridWidth: Int, gridHeight: Int, anchors: [Anchor], classCount: Int) {
        self.gridWidth = gridWidth; self.gridHeight = gridHeight
        self.anchors = anchors; self.classCount = classCount
    }

    /// 5 + classCount.
    public var valuesPerAnchor: Int { 5 + classCount }
    /// Channels of the head: anchors · (5 + classCount).
    public var channels: Int { anchors.count * valuesPerAnchor }
    /// Values of one image's head output.
    public var valuesPerImage: Int { gridWidth * gridHeight * channels }

    /// Index of value 0 (t_x) of `anchor` in cell (`column`, `row`) of one image's output.
    @inline(__always)
    public func offset(column: Int, row: Int, anchor: Int) -> Int {
        ((row * gridWidth + column) * anchors.count + anchor) * valuesPerAnchor
    }
}
