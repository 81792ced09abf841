import Foundation

extension Network {
    /// The network table: one row per config layer with its output shape, parameters and
    /// forward MFLOPs for one image, then the totals.
    public func table() -> String {
        var rows: [[String]] = [["#", "layer", "output", "params", "MFLOPs"]]
        let shapes = (try? config.layerShapes()) ?? []
        for (i, layer) in config.layers.enumerated() {
            let members = plainNodes.filter { $0.layer == i }
            let params = members.flatMap(\.parameters).filter(\.trainable).reduce(0) { $0 + $1.count }
            let macs = members.reduce(0) { $0 + $1.multiplyAccumulates }
            var kind = layer.typeName
            switch layer {
            case let .convolution(f, s, st, bn, act), let .separable(f, s, st, bn, act):
                kind += " \(s)x\(s)/\(st) \(f)" + (bn ? " bn" : "") + " \(act.rawValue)"
            case let .depthwise(s, st, bn, act):
                kind += " \(s)x\(s)/\(st)" + (bn ? " bn" : "") + " \(act.rawValue)"
            case let .pointwise(f, bn, act):
                kind += " \(f)" + (bn ? " bn" : "") + " \(act.rawValue)"
            case let .maxPool(s, st): kind += " \(s)x\(s)/\(st)"
            case let .shortcut(from, _): kind += " from \(from)"
            case let .route(list): kind += " \(list.map(String.init).joined(separator: ","))"
            }
            let shape = i < shapes.count ? shapes[i] : plainNodes[members.last.map { _ in 0 } ?? 0].outputShape
            rows.append([String(i), kind, "\(shape.height)x\(shape.width)x\(shape.channels)",
                         formatCount(params), macs == 0 ? "-" : String(format: "%.3f", Double(2 * macs) / 1e6)])
        }
        rows.append(["", "total", "\(inputShape.height)x\(inputShape.width)x\(inputShape.channels) in",
                     formatCount(parameterCount), String(format: "%.3f", Double(flopsPerImage) / 1e6)])
        let widths = (0..<5).map { c in rows.map { $0[c].count }.max()! }
        var out = "\(config.name): \(config.classes.count) classes, \(config.anchors.count) anchors, grid \(config.gridWidth)x\(config.gridHeight)\n"
        for (r, row) in rows.enumerated() {
            if r == rows.count - 1 { out += String(repeating: "-", count: widths.reduce(0, +) + 8) + "\n" }
            out += row.enumerated().map { c, cell in
                c == 1 || c == 2 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - cell.count) + cell
            }.joined(separator: "  ") + "\n"
        }
        out += "\(formatCount(parameterCount)) parameters, "
            + String(format: "%.3f GFLOPs per %dx%d image\n", Double(flopsPerImage) / 1e9, inputShape.width, inputShape.height)
        return out
    }
}

/// 125736 → "125,736".
func formatCount(_ n: Int) -> String {
    let digits = String(n)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(ch)
    }
    return out
}
