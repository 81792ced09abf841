import Testing
import Detector

@Suite struct BoundingBoxTests {
    @Test func iouOfHandComputedPair() {
        let a = BoundingBox(x1: 0, y1: 0, x2: 2, y2: 2)
        let b = BoundingBox(x1: 1, y1: 1, x2: 3, y2: 3)
        // intersection 1, union 4 + 4 - 1 = 7
        #expect(abs(a.iou(with: b) - 1.0 / 7.0) < 1e-6)
        #expect(a.iou(with: a) == 1)
    }

    @Test func iouOfDisjointAndZeroAreaBoxesIsZero() {
        let a = BoundingBox(x1: 0, y1: 0, x2: 1, y2: 1)
        #expect(a.iou(with: BoundingBox(x1: 2, y1: 2, x2: 3, y2: 3)) == 0)
        let point = BoundingBox(x1: 0.5, y1: 0.5, x2: 0.5, y2: 0.5)
        #expect(point.iou(with: point) == 0)
        #expect(a.iou(with: point) == 0)
    }

    @Test func centreSizeRoundTrip() {
        let b = BoundingBox(centerX: 0.5, centerY: 0.25, width: 0.2, height: 0.1)
        #expect(abs(b.centerX - 0.5) < 1e-6 && abs(b.centerY - 0.25) < 1e-6)
        #expect(abs(b.width - 0.2) < 1e-6 && abs(b.height - 0.1) < 1e-6)
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func aBoxWithANonFiniteCornerIsNotFinite(bad: Float) {
        let good = BoundingBox(x1: -1e30, y1: 0, x2: 1e30, y2: .greatestFiniteMagnitude)
        #expect(good.isFinite)
        for corner in 0..<4 {
            var b = good
            switch corner {
            case 0: b.x1 = bad
            case 1: b.y1 = bad
            case 2: b.x2 = bad
            default: b.y2 = bad
            }
            #expect(!b.isFinite, "corner \(corner) = \(bad)")
        }
    }

    @Test func classNameFallsBackToOneWord() {
        let names = ["circle", "traffic light"]
        #expect(className(0, in: names) == "circle")
        #expect(className(1, in: names) == "traffic light")
        #expect(className(2, in: names) == "class2")
        #expect(className(-1, in: names) == "class-1")
        #expect(className(0, in: []) == "class0")
    }
}
