import Foundation
import Testing
@testable import Detector

/// The loss plot: where the legend goes, and that curves land where their values say.
@Suite struct LinePlotTests {
    @Test func legendTakesTheCornerItsLinesCrossLeast() {
        let corners = [(100, 10), (10, 10), (100, 100), (10, 100)]
        // Points in the top-right box: the top-left is the next preference and free.
        #expect(legendCorner(points: [(110, 20), (120, 30)], corners: corners, width: 50, height: 30) == 1)
        // Top-right, top-left and bottom-left crossed twice, bottom-right once.
        let points = [(110, 20), (115, 25), (20, 20), (25, 25), (20, 110), (30, 120), (110, 110)]
        #expect(legendCorner(points: points, corners: corners, width: 50, height: 30) == 2)
        // Nothing anywhere: the first.
        #expect(legendCorner(points: [], corners: corners, width: 50, height: 30) == 0)
    }

    /// A series flat near the top (across both top corners) and one flat near the bottom for
    /// the first half only (across the bottom-left corner): the legend goes bottom right, in
    /// a white box, and the curves land at their values.
    @Test func legendAvoidsTheCurves() {
        var plot = LinePlot(title: "t", xLabel: "epoch", yLabel: "loss")
        plot.add(name: "total", values: [10] + [Float](repeating: 9.5, count: 39))
        plot.add(name: "val mAP@0.5", values: (0..<40).map { $0 < 20 ? 0.05 : .nan }, secondaryAxis: true)
        let image = plot.render()
        // 800 x 480 with a right axis: plot x 70...740, y 34...434 (linear 0...10, the largest
        // value; mAP 0...1).
        // 9.5 is at y = 434 − 380 = 54, 0.05 at y = 414. Legend 95 x 30 (the longest name,
        // 65 px, + 30), corners inset by 6 (8 on the left); its first swatch, the total's
        // black, 6 px in and 2 down.
        #expect(image.pixel(x: 400, y: 54) == RGB(20, 20, 20))
        #expect(image.pixel(x: 200, y: 414) == RGB.forClass(0))
        let corners = [(639, 40), (78, 40), (639, 398), (78, 398)]
        let swatch = corners.map { image.pixel(x: $0.0 + 6 + 8, y: $0.1 + 4 + 3) == RGB(20, 20, 20) }
        #expect(swatch == [false, false, true, false])
        #expect(image.pixel(x: 639 + 50, y: 398 + 20) == .white)   // the box is filled
    }
}
