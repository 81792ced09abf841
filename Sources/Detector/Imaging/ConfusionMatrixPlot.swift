/// A confusion matrix as a picture: one square per (true, predicted) pair of the classes and
/// the background, rows true (labelled on the left), columns predicted (labelled on top), as
/// `ConfusionMatrix` holds them. Each square's colour is its row-normalised share (white 0 to
/// dark blue 1, matplotlib's "Blues", which Ultralytics' plot uses), so a row shows where that
/// class's objects went; the number in it is the count. Zero counts are left blank; the row
/// of a class without instances stays white and says "no instances".
///
/// Squares are 16 to 72 pixels, smaller only when there are so many classes that the picture
/// would pass 4000 pixels a side; below 9 pixels the class names are left out, below the
/// width of a count the counts. Column names are written upwards when they do not fit their
/// square across.
public struct ConfusionMatrixPlot {
    public var title: String
    public var classNames: [String]
    public var matrix: ConfusionMatrix

    public init(_ matrix: ConfusionMatrix, classNames: [String], title: String) {
        self.matrix = matrix; self.classNames = classNames; self.title = title
    }

    /// Row and column labels: the class names, then "background".
    var labels: [String] {
        (0..<matrix.classCount).map { className($0, in: classNames) } + ["background"]
    }

    /// matplotlib's "Blues" between its ends: (247, 251, 255) at 0 to (8, 48, 107) at 1, through
    /// (107, 174, 214) at one half.
    static func blues(_ v: Float) -> RGB {
        let stops: [(Float, Float, Float)] = [(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)]
        let t = min(max(v.isFinite ? v : 0, 0), 1) * Float(stops.count - 1)
        let i = min(Int(t), stops.count - 2), f = t - Float(i)
        func mix(_ a: Float, _ b: Float) -> UInt8 { UInt8((a + (b - a) * f).rounded()) }
        return RGB(mix(stops[i].0, stops[i + 1].0), mix(stops[i].1, stops[i + 1].1), mix(stops[i].2, stops[i + 1].2))
    }

    /// Where things go: the squares' side, the grid's top-left corner, the picture's size.
    struct Layout {
        var cell, left, top, width, height: Int
        var showNames: Bool
        /// Column names across (else upwards).
        var across: Bool
        var names: [String]
        /// The centre of the square of row t, column p.
        func centre(_ t: Int, _ p: Int) -> (x: Int, y: Int) { (left + p * cell + cell / 2, top + t * cell + cell / 2) }
    }

    func layout() -> Layout {
        let n = matrix.counts.count
        let cell = max(2, min(72, max(16, 560 / max(n, 1)), 4000 / max(n, 1)))
        let showNames = cell >= 9
        let names = labels.map { fittedText($0, width: 150) }
        let nameWidth = showNames ? (names.map { textWidth($0) }.max() ?? 0) : 0
        // Column names across when every one fits its square, else upwards.
        let across = names.allSatisfy { textWidth($0) <= cell - 2 }
        let columnLabelHeight = showNames ? (across ? textHeight() : nameWidth) : 0
        let left = 40 + nameWidth + 8
        let top = 60 + 22 + columnLabelHeight + 8
        return Layout(cell: cell, left: left, top: top, width: max(left + n * cell + 30, 620), height: top + n * cell + 60,
                      showNames: showNames, across: across, names: names)
    }

    public func render() -> Image {
        let n = matrix.counts.count
        let ink = RGB(40, 40, 40), lines = RGB(225, 225, 225)
        let layout = layout()
        let (cell, left, top, width, height) = (layout.cell, layout.left, layout.top, layout.width, layout.height)
        let (showNames, across, names) = (layout.showNames, layout.across, layout.names)
        var image = Image(width: width, height: height, fill: (255, 255, 255))

        let titleLine = fittedText(title, width: width - 16, scale: 2)
        image.drawText(titleLine, x: (width - textWidth(titleLine, scale: 2)) / 2, y: 10, color: ink, scale: 2)
        let subtitle = String(format: "counts at score >= %.2f, IoU %.2f; colour: share of the row (true class)",
                              matrix.scoreThreshold, matrix.iouThreshold)
        image.drawText(fittedText(subtitle, width: width - 16), x: (width - textWidth(fittedText(subtitle, width: width - 16))) / 2,
                       y: 34, color: ink)
        // Axis titles: "predicted" over the columns, "true" up the left.
        let gridWidth = n * cell
        image.drawText("predicted", x: left + (gridWidth - textWidth("predicted", scale: 2)) / 2, y: 60, color: ink, scale: 2)
        image.drawTextUpwards("true", x: 10, y: top + (gridWidth - textWidth("true", scale: 2)) / 2, color: ink, scale: 2)

        let shares = matrix.rowNormalised
        for t in 0..<n {
            for p in 0..<n {
                let x = left + p * cell, y = top + t * cell
                let fill = shares[t].map { ConfusionMatrixPlot.blues($0[p]) } ?? .white
                image.fillRectangle(x0: x, y0: y, x1: x + cell, y1: y + cell, fill)
                let count = matrix.counts[t][p]
                let text = String(count)
                if count != 0 && textWidth(text) <= cell - 2 && textHeight() <= cell - 2 {
                    image.drawText(text, x: x + (cell - textWidth(text)) / 2, y: y + (cell - 7) / 2,
                                   color: fill.luminance > 140 ? ink : .white)
                }
            }
        }
        // A class without objects says so across its (white) row.
        let empty = "no instances"
        for t in 0..<(n - 1) where shares[t] == nil && textWidth(empty) <= gridWidth - 4 && textHeight() <= cell - 2 {
            image.drawText(empty, x: left + (gridWidth - textWidth(empty)) / 2, y: top + t * cell + (cell - 7) / 2, color: RGB(130, 130, 130))
        }
        // Cell borders, and a heavier line before the background row and column.
        for k in 0...n {
            let color = k == n - 1 ? ink : lines
            image.drawLine(x0: left, y0: top + k * cell, x1: left + gridWidth, y1: top + k * cell, color: color)
            image.drawLine(x0: left + k * cell, y0: top, x1: left + k * cell, y1: top + gridWidth, color: color)
        }
        image.drawRectangle(BoundingBox(x1: Float(left), y1: Float(top), x2: Float(left + gridWidth + 1), y2: Float(top + gridWidth + 1)),
                            color: ink, thickness: 1)
        if showNames {
            for (k, name) in names.enumerated() {
                image.drawText(name, x: left - 6 - textWidth(name), y: top + k * cell + (cell - 7) / 2, color: ink)
                if across {
                    image.drawText(name, x: left + k * cell + (cell - textWidth(name)) / 2, y: top - 6 - textHeight(), color: ink)
                } else {
                    image.drawTextUpwards(name, x: left + k * cell + (cell - textHeight()) / 2, y: top - 6 - textWidth(name), color: ink)
                }
            }
        }
        // The colour scale.
        let scaleY = top + gridWidth + 24, scaleWidth = min(300, width - left - 80)
        image.drawText("0", x: left, y: scaleY + 14, color: ink)
        for i in 0..<scaleWidth {
            let c = ConfusionMatrixPlot.blues(Float(i) / Float(max(scaleWidth - 1, 1)))
            image.fillRectangle(x0: left + i, y0: scaleY, x1: left + i + 1, y1: scaleY + 10, c)
        }
        image.drawText("1", x: left + scaleWidth - textWidth("1"), y: scaleY + 14, color: ink)
        image.drawText("share of the row", x: left + scaleWidth + 10, y: scaleY + 1, color: ink)
        return image
    }
}
