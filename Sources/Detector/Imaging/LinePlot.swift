import Foundation

/// A small line chart rendered to an `Image` (loss curves): one or more series against their
/// index (epoch 1...n), a log or linear left axis, an optional right axis from 0 to 1 (for
/// mAP), tick labels and a legend.
public struct LinePlot {
    public struct Series { var name: String; var values: [Float]; var secondary: Bool }
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logScale: Bool
    var series: [Series] = []

    public init(title: String, xLabel: String, yLabel: String, logScale: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.logScale = logScale
    }

    /// Adds a series; non-finite values (and non-positive ones on a log axis) leave gaps.
    public mutating func add(name: String, values: [Float], secondaryAxis: Bool = false) {
        series.append(Series(name: name, values: values, secondary: secondaryAxis))
    }

    public func render(width: Int = 800, height: Int = 480) -> Image {
        var image = Image(width: width, height: height, fill: (255, 255, 255))
        let gray = RGB(200, 200, 200), ink = RGB(40, 40, 40)
        let left = 70, right = series.contains { $0.secondary } ? 60 : 20, top = 34, bottom = 46
        let plotW = width - left - right, plotH = height - top - bottom
        // The title holds the model's name, any UTF-8: `Font.standard`. The other text is
        // this file's own ASCII (numbers, "epoch", the series' names) in the bitmap font,
        // whose fixed 6-pixel advance the legend's layout counts on.
        image.drawText(title, x: (width - textWidth(title, scale: 2, font: .standard)) / 2, y: 8, color: ink, scale: 2, font: .standard)
        let count = series.map(\.values.count).max() ?? 0
        let primary = series.filter { !$0.secondary }.flatMap(\.values).filter { $0.isFinite && (!logScale || $0 > 0) }
        guard count > 0, !primary.isEmpty else { return image }
        func transform(_ v: Float) -> Float { logScale ? log10(v) : v }
        var lo = transform(primary.min()!), hi = transform(primary.max()!)
        if logScale { lo = floor(lo); hi = ceil(hi) } else { lo = min(lo, 0) }
        if hi - lo < 1e-6 { hi = lo + 1 }
        func xPixel(_ i: Int) -> Int { left + (count <= 1 ? plotW / 2 : i * plotW / (count - 1)) }
        func yPixel(_ v: Float, secondary: Bool) -> Int {
            let f = secondary ? v : (transform(v) - lo) / (hi - lo)
            return top + plotH - Int((f * Float(plotH)).rounded())
        }
        // Grid and left tick labels.
        let ticks = logScale ? Int(hi - lo) : 5
        for k in 0...max(ticks, 1) {
            let f = Float(k) / Float(max(ticks, 1))
            let y = top + plotH - Int(f * Float(plotH))
            image.drawLine(x0: left, y0: y, x1: left + plotW, y1: y, color: gray)
            let value = lo + f * (hi - lo)
            let label = logScale ? formatTick(pow(10, value)) : formatTick(value)
            image.drawText(label, x: left - 6 - textWidth(label), y: y - 3, color: ink)
            if series.contains(where: { $0.secondary }) {
                image.drawText(String(format: "%.1f", f), x: left + plotW + 6, y: y - 3, color: ink)
            }
        }
        // x ticks: about 8 labelled epochs.
        let stepX = max(1, Int((Double(count) / 8).rounded(.up)))
        for i in stride(from: 0, to: count, by: stepX) {
            let x = xPixel(i)
            image.drawLine(x0: x, y0: top + plotH, x1: x, y1: top + plotH + 4, color: ink)
            let label = String(i + 1)
            image.drawText(label, x: x - textWidth(label) / 2, y: top + plotH + 8, color: ink)
        }
        image.drawLine(x0: left, y0: top, x1: left, y1: top + plotH, color: ink)
        image.drawLine(x0: left, y0: top + plotH, x1: left + plotW, y1: top + plotH, color: ink)
        image.drawText(xLabel, x: left + (plotW - textWidth(xLabel)) / 2, y: height - 16, color: ink)
        image.drawText(yLabel + (logScale ? " (log)" : ""), x: 4, y: top - 14, color: ink)
        if series.contains(where: { $0.secondary }) {
            let name = series.first { $0.secondary }!.name
            image.drawText(name, x: width - textWidth(name) - 4, y: top - 14, color: ink)
        }
        // Series, then the legend in the corner of the plot its lines cross least, on white.
        func color(_ k: Int) -> RGB { k == 0 ? RGB(20, 20, 20) : RGB.forClass(k - 1) }
        var points: [(Int, Int)] = []
        for (k, s) in series.enumerated() {
            var previous: (Int, Int)? = nil
            for (i, v) in s.values.enumerated() {
                guard v.isFinite, s.secondary || !logScale || v > 0 else { previous = nil; continue }
                let point = (xPixel(i), yPixel(s.secondary ? min(max(v, 0), 1) : v, secondary: s.secondary))
                if let p = previous {
                    image.drawLine(x0: p.0, y0: p.1, x1: point.0, y1: point.1, color: color(k), thickness: k == 0 ? 3 : 2)
                    // Sample the segment so a corner crossed by a long line counts it.
                    for t in 1...4 { points.append((p.0 + (point.0 - p.0) * t / 4, p.1 + (point.1 - p.1) * t / 4)) }
                } else {
                    points.append(point)
                    if count == 1 || s.values.count == 1 {
                        image.fillRectangle(x0: point.0 - 2, y0: point.1 - 2, x1: point.0 + 3, y1: point.1 + 3, color(k))
                    }
                }
                previous = point
            }
        }
        let legendW = 30 + (series.map { textWidth($0.name) }.max() ?? 0), legendH = 12 * series.count + 6
        let corners = [(left + plotW - legendW - 6, top + 6), (left + 8, top + 6),
                       (left + plotW - legendW - 6, top + plotH - legendH - 6), (left + 8, top + plotH - legendH - 6)]
        let (lx0, ly0) = corners[legendCorner(points: points, corners: corners, width: legendW, height: legendH)]
        image.fillRectangle(x0: lx0, y0: ly0, x1: lx0 + legendW, y1: ly0 + legendH, .white)
        image.drawRectangle(BoundingBox(x1: Float(lx0), y1: Float(ly0), x2: Float(lx0 + legendW), y2: Float(ly0 + legendH)), color: gray, thickness: 1)
        for (k, s) in series.enumerated() {
            let ly = ly0 + 4 + k * 12, lx = lx0 + 6
            image.fillRectangle(x0: lx, y0: ly + 2, x1: lx + 16, y1: ly + 5, color(k))
            image.drawText(s.name, x: lx + 22, y: ly, color: ink)
        }
        return image
    }
}

/// Which of `corners` (top-left points of a `width` x `height` box, in order of preference)
/// covers the fewest of `points`; the first among equals.
func legendCorner(points: [(Int, Int)], corners: [(Int, Int)], width: Int, height: Int) -> Int {
    let covered = corners.map { c in
        points.filter { $0.0 >= c.0 && $0.0 <= c.0 + width && $0.1 >= c.1 && $0.1 <= c.1 + height }.count
    }
    return covered.firstIndex(of: covered.min()!)!
}

func formatTick(_ v: Float) -> String {
    if v == 0 { return "0" }
    if abs(v) >= 1000 || abs(v) < 0.01 { return String(format: "%.0e", v) }
    if abs(v) >= 10 { return String(format: "%.0f", v) }
    return String(format: "%.2g", v)
}
