/// The precision–recall curves of an evaluation, as Ultralytics' PR_curve.png shows them:
/// recall on x, precision on y, both 0 to 1, one thin line per class and a thick one for the
/// mean over the classes with instances, and a legend beside the plot with each class's AP.
///
/// The points are COCO's interpolated precision at IoU 0.5 at the 101 recall levels 0, 0.01,
/// ..., 1 (`ClassEvaluation.precisionAtRecall`), the values whose mean is the AP, so the area
/// under a curve is its AP@0.5. A curve drops to 0 past the highest recall its class reaches.
///
/// Up to `maximumLegendClasses` classes each get a colour (the ten of `RGB.forClass`, dashed
/// the second time round) and a legend line, "name 0.951" or "name: no instances" for a class
/// without ground truth (it has no curve). With more classes, their curves are drawn in light
/// gray and the legend names only the mean and how many classes are gray (the values are in
/// `evaluate --json`), as Ultralytics draws every class only below 21.
public struct PRCurvePlot {
    public static let maximumLegendClasses = 20

    public var title: String
    public var classNames: [String]
    /// Per class: its AP@0.5 and its 101 precisions (nil without instances).
    public var curves: [(ap50: Float?, precision: [Float]?)]
    /// The mean curve and its mAP@0.5.
    public var meanCurve: [Float]
    public var mAP50: Float

    public init(_ result: EvaluationResult, classNames: [String], title: String) {
        self.title = title
        self.classNames = classNames
        curves = result.classes.map { ($0.ap50, $0.precisionAtRecall) }
        meanCurve = result.meanPrecisionAtRecall
        mAP50 = result.mAP50
    }

    /// A class's name (`className(_:in:)`).
    func name(_ k: Int) -> String { className(k, in: classNames) }

    /// The square plot's top-left corner and side, left of the legend.
    static func plotArea(width: Int, height: Int) -> (left: Int, top: Int, side: Int) {
        let legendWidth = min(300, width / 3)
        let left = 60, top = 50, bottom = 50, right = legendWidth + 30
        return (left, top, max(10, min(width - left - right, height - top - bottom)))
    }

    /// The mean curve's colour (the class curves take `RGB.forClass`).
    static let meanColor = RGB(31, 82, 180)

    public func render(width: Int = 900, height: Int = 600) -> Image {
        var image = Image(width: width, height: height, fill: (255, 255, 255))
        let ink = RGB(40, 40, 40), grid = RGB(215, 215, 215), meanColor = PRCurvePlot.meanColor
        let (left, top, side) = PRCurvePlot.plotArea(width: width, height: height)
        let titleLine = fittedText(title, width: width - 16, scale: 2)
        image.drawText(titleLine, x: (width - textWidth(titleLine, scale: 2)) / 2, y: 10, color: ink, scale: 2)
        let subtitle = "precision-recall at IoU 0.5 (COCO's 101-point interpolation)"
        image.drawText(subtitle, x: left + (side - textWidth(subtitle)) / 2, y: top - 14, color: ink)

        func xPixel(_ r: Double) -> Int { left + Int((r * Double(side - 1)).rounded()) }
        func yPixel(_ p: Float) -> Int { top + side - 1 - Int((Double(min(max(p, 0), 1)) * Double(side - 1)).rounded()) }
        for k in 0...5 {
            let f = Double(k) / 5
            let label = k == 0 ? "0" : k == 5 ? "1" : String(format: "%.1f", f)
            image.drawLine(x0: xPixel(f), y0: top, x1: xPixel(f), y1: top + side - 1, color: grid)
            image.drawLine(x0: left, y0: yPixel(Float(f)), x1: left + side - 1, y1: yPixel(Float(f)), color: grid)
            image.drawText(label, x: xPixel(f) - textWidth(label) / 2, y: top + side + 6, color: ink)
            image.drawText(label, x: left - 8 - textWidth(label), y: yPixel(Float(f)) - 3, color: ink)
        }
        image.drawRectangle(BoundingBox(x1: Float(left), y1: Float(top), x2: Float(left + side), y2: Float(top + side)), color: ink, thickness: 1)
        image.drawText("recall", x: left + (side - textWidth("recall", scale: 2)) / 2, y: top + side + 22, color: ink, scale: 2)
        image.drawTextUpwards("precision", x: 12, y: top + (side - textWidth("precision", scale: 2)) / 2, color: ink, scale: 2)

        let coloured = curves.count <= PRCurvePlot.maximumLegendClasses
        func color(_ k: Int) -> RGB { coloured ? RGB.forClass(k) : RGB(200, 200, 200) }
        func drawCurve(_ values: [Float], color: RGB, thickness: Int, dashed: Bool) {
            for i in 1..<min(values.count, recallLevels.count) where !dashed || i % 4 < 2 {
                image.drawLine(x0: xPixel(recallLevels[i - 1]), y0: yPixel(values[i - 1]), x1: xPixel(recallLevels[i]),
                               y1: yPixel(values[i]), color: color, thickness: thickness)
            }
        }
        for (k, curve) in curves.enumerated() {
            if let precision = curve.precision { drawCurve(precision, color: color(k), thickness: coloured ? 2 : 1, dashed: coloured && k >= 10) }
        }
        if curves.contains(where: { $0.precision != nil }) { drawCurve(meanCurve, color: meanColor, thickness: 4, dashed: false) }

        // The legend, beside the plot.
        let lx = left + side + 20, lineHeight = 14
        var ly = top
        func entry(_ text: String, color: RGB, sample: RGB?, thickness: Int = 2, dashed: Bool = false) {
            if let sample {
                for x in stride(from: lx, to: lx + 18, by: 1) where !dashed || (x - lx) % 8 < 4 {
                    image.fillRectangle(x0: x, y0: ly + 4 - thickness / 2, x1: x + 1, y1: ly + 4 - thickness / 2 + thickness, sample)
                }
            }
            image.drawText(fittedText(text, width: width - lx - 26), x: lx + 24, y: ly, color: color)
            ly += lineHeight
        }
        let hasInstances = curves.contains { $0.precision != nil }
        entry(hasInstances ? String(format: "all classes %.3f mAP@0.5", mAP50) : "all classes: no instances", color: ink,
              sample: meanColor, thickness: 4)
        if coloured {
            for (k, curve) in curves.enumerated() {
                if let ap = curve.ap50, curve.precision != nil {
                    entry(String(format: "%@ %.3f", name(k), ap), color: ink, sample: color(k), dashed: k >= 10)
                } else {
                    entry("\(name(k)): no instances", color: RGB(130, 130, 130), sample: nil)
                }
            }
        } else {
            let drawn = curves.filter { $0.precision != nil }.count
            entry("\(drawn) classes (gray)", color: ink, sample: color(0))
            if drawn < curves.count { entry("\(curves.count - drawn) classes without instances", color: RGB(130, 130, 130), sample: nil) }
            entry("per-class AP: evaluate --json", color: RGB(130, 130, 130), sample: nil)
        }
        return image
    }
}
