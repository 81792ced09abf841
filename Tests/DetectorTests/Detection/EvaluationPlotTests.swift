import Foundation
import Testing
@testable import Detector

/// The precision–recall curve and confusion matrix pictures: what is drawn where, the legend's
/// cap for many classes, the size for many classes, and the files.
@Suite struct EvaluationPlotTests {
    /// `classCount` classes, the first `found` of them with two objects each found exactly,
    /// the rest without instances; one false positive of class 0 scoring 0.5.
    func result(classCount: Int, found: Int) -> EvaluationResult {
        var gt: [LabeledObject] = [], dets: [Detection] = []
        for k in 0..<found {
            for j in 0..<2 {
                let box = BoundingBox(x1: Float(k * 30), y1: Float(j * 30), x2: Float(k * 30 + 20), y2: Float(j * 30 + 20))
                gt.append(LabeledObject(classIndex: k, box: box))
                dets.append(Detection(box: box, classIndex: k, score: 0.9))
            }
        }
        dets.append(Detection(box: BoundingBox(x1: 0, y1: 500, x2: 10, y2: 510), classIndex: 0, score: 0.5))
        return evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: classCount, scoreThreshold: 0.25)
    }

    func names(_ n: Int) -> [String] { (0..<n).map { "class-\($0)" } }

    func colours(_ image: Image) -> Set<RGB> {
        var set = Set<RGB>()
        for y in 0..<image.height { for x in 0..<image.width { set.insert(image.pixel(x: x, y: y)) } }
        return set
    }

    @Test func prCurveDrawsTheMeanAtPrecisionOne() {
        let plot = PRCurvePlot(result(classCount: 3, found: 2), classNames: names(3), title: "t")
        let image = plot.render(width: 900, height: 600)
        #expect(image.width == 900 && image.height == 600)
        // Every class found exactly: precision 1 at every recall, the top edge of the plot.
        let (left, top, side) = PRCurvePlot.plotArea(width: 900, height: 600)
        #expect(image.pixel(x: left + side / 2, y: top) == PRCurvePlot.meanColor)
        #expect(image.pixel(x: left + side / 2, y: top + side / 2) != PRCurvePlot.meanColor)
        // The two classes with instances have their colours; the one without has no curve.
        let used = colours(image)
        #expect(used.contains(RGB.forClass(0)) && used.contains(RGB.forClass(1)) && !used.contains(RGB.forClass(2)))
    }

    /// Past `maximumLegendClasses` the classes are gray: no class colour anywhere.
    @Test func prCurveCapsTheLegend() {
        let many = PRCurvePlot.maximumLegendClasses + 5
        let image = PRCurvePlot(result(classCount: many, found: many), classNames: names(many), title: "t").render()
        let used = colours(image)
        #expect(used.contains(PRCurvePlot.meanColor))
        for k in 0..<10 { #expect(!used.contains(RGB.forClass(k)), "class colour \(k)") }
        // At the cap they are still coloured.
        let capped = PRCurvePlot(result(classCount: 20, found: 20), classNames: names(20), title: "t").render()
        #expect(colours(capped).contains(RGB.forClass(9)))
    }

    @Test func confusionMatrixColoursRowShares() {
        let r = result(classCount: 3, found: 2)
        #expect(r.confusionMatrix.counts == [[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
        let plot = ConfusionMatrixPlot(r.confusionMatrix, classNames: names(3), title: "t")
        let image = plot.render(), layout = plot.layout()
        #expect(image.width == layout.width && image.height == layout.height && layout.showNames && layout.across)
        func colour(_ t: Int, _ p: Int) -> RGB {
            // Beside the centre, clear of the count's digits.
            let c = layout.centre(t, p)
            return image.pixel(x: c.x - layout.cell / 2 + 3, y: c.y - layout.cell / 2 + 3)
        }
        #expect(colour(0, 0) == ConfusionMatrixPlot.blues(1) && colour(1, 1) == ConfusionMatrixPlot.blues(1))
        #expect(colour(0, 1) == ConfusionMatrixPlot.blues(0))
        // The background row: its one false positive is all of it.
        #expect(colour(3, 0) == ConfusionMatrixPlot.blues(1) && colour(3, 1) == ConfusionMatrixPlot.blues(0))
        // A class without instances: a white row.
        #expect(colour(2, 0) == .white && colour(2, 2) == .white)
        // The count is written in the square (white on dark).
        let c = layout.centre(0, 0)
        var white = 0
        for y in (c.y - 6)...(c.y + 6) { for x in (c.x - 6)...(c.x + 6) where image.pixel(x: x, y: y) == .white { white += 1 } }
        #expect(white > 0)
    }

    @Test func bluesEnds() {
        #expect(ConfusionMatrixPlot.blues(0) == RGB(247, 251, 255) && ConfusionMatrixPlot.blues(1) == RGB(8, 48, 107))
        #expect(ConfusionMatrixPlot.blues(0.5) == RGB(107, 174, 214))
        #expect(ConfusionMatrixPlot.blues(.nan) == ConfusionMatrixPlot.blues(0) && ConfusionMatrixPlot.blues(7) == ConfusionMatrixPlot.blues(1))
    }

    /// COCO's 80 classes keep their names (upwards); a thousand fit the drawing limit.
    @Test(arguments: [1, 80, 1000])
    func confusionMatrixSizes(classes: Int) {
        let matrix = ConfusionMatrix([], classCount: classes, scoreThreshold: 0.25)
        let plot = ConfusionMatrixPlot(matrix, classNames: names(classes), title: "t")
        let layout = plot.layout()
        #expect(layout.width * layout.height <= maximumRenderPixels)
        #expect(layout.showNames == (classes <= 80))
        if classes == 80 { #expect(!layout.across) }
        let image = plot.render()
        #expect(image.width == layout.width)
    }

    @Test func longNamesAreCut() {
        #expect(fittedText("abcdefgh", width: textWidth("abcdefgh")) == "abcdefgh")
        #expect(fittedText("abcdefgh", width: textWidth("abcd..")) == "abcd..")
        #expect(fittedText("abcdefgh", width: 1) == "")
        let long = String(repeating: "x", count: 200)
        let layout = ConfusionMatrixPlot(ConfusionMatrix([], classCount: 2, scoreThreshold: 0.25), classNames: [long, "b"], title: "t").layout()
        #expect(layout.names[0].hasSuffix("..") && textWidth(layout.names[0]) <= 150)
    }

    /// Upwards text is the horizontal text turned a quarter anticlockwise: the pixel (u, v)
    /// of the text drawn across lands at (x + v, y + width − 1 − u).
    @Test func upwardsTextIsRotated() {
        let text = "Ig"
        let w = textWidth(text), h = textHeight()
        var across = Image(width: w, height: h, fill: (255, 255, 255))
        across.drawText(text, x: 0, y: 0, color: .black)
        var upwards = Image(width: h + 6, height: w + 6, fill: (255, 255, 255))
        upwards.drawTextUpwards(text, x: 3, y: 2, color: .black)
        var inked = 0
        for v in 0..<h {
            for u in 0..<w {
                #expect(upwards.pixel(x: 3 + v, y: 2 + w - 1 - u) == across.pixel(x: u, y: v), "(\(u), \(v))")
                if across.pixel(x: u, y: v) == .black { inked += 1 }
            }
        }
        #expect(inked > 0 && colours(upwards) == [.white, .black])
    }

    @Test func writesBothPlotsAtomically() throws {
        let folder = try Fixtures.temporaryFolder("eval-plots").appendingPathComponent("new/plots").path
        let paths = try writeEvaluationPlots(result(classCount: 3, found: 3), classNames: names(3), to: folder, title: "model on val")
        #expect(paths == [folder + "/pr_curve.png", folder + "/confusion_matrix.png"])
        for path in paths {
            let image = try PNG.read(path: path)
            #expect(image.width > 500 && image.height > 400)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["confusion_matrix.png", "pr_curve.png"])
    }
}
