import Foundation
import Testing
import Detector

/// detect's pseudo-label lines (--save-txt) and COCO results objects (--coco), from
/// hand-computed cases.
@Suite struct LabelAndCOCOOutputTests {
    static let detections = [
        // 320 x 240: centre (64, 72) = (0.2, 0.3), size 64 x 96 = 0.2 x 0.4.
        Detection(box: BoundingBox(x1: 32, y1: 24, x2: 96, y2: 120), classIndex: 1, score: 0.87654),
        // Sticks out at the left and the bottom: clipped to x 0...40, y 200...240.
        Detection(box: BoundingBox(x1: -10, y1: 200, x2: 40, y2: 260), classIndex: 0, score: 0.5),
        // Clipped to nothing at the right edge: left out.
        Detection(box: BoundingBox(x1: 320, y1: 10, x2: 330, y2: 20), classIndex: 2, score: 0.9),
    ]

    @Test func labelLinesAreNormalisedYOLO() {
        #expect(yoloLabelText(Self.detections, width: 320, height: 240, includeScore: false)
                == "1 0.200000 0.300000 0.200000 0.400000\n0 0.062500 0.916667 0.125000 0.166667\n")
        #expect(yoloLabelText(Self.detections, width: 320, height: 240, includeScore: true)
                == "1 0.200000 0.300000 0.200000 0.400000 0.8765\n0 0.062500 0.916667 0.125000 0.166667 0.5000\n")
        #expect(yoloLabelText([], width: 320, height: 240, includeScore: true) == "")
    }

    /// What --save-txt writes is what the data loader reads: the same objects back (to the 6
    /// decimals written), and the same text as `formatLabels` of those objects. With
    /// --save-conf, the first five fields of each line are that too.
    @Test(arguments: [(320, 240), (256, 256), (97, 1013)])
    func labelLinesRoundTripThroughParseLabels(width: Int, height: Int) throws {
        var random = SplitMix64(seed: UInt64(width * height))
        let detections = (0..<20).map { _ -> Detection in
            let x = random.nextFloat(in: 0..<Float(width - 2)), y = random.nextFloat(in: 0..<Float(height - 2))
            let box = BoundingBox(x1: x, y1: y, x2: x + random.nextFloat(in: 1..<Float(width) - x),
                                  y2: y + random.nextFloat(in: 1..<Float(height) - y))
            return Detection(box: box, classIndex: random.nextInt(below: 3), score: random.nextUnitFloat())
        }
        let text = yoloLabelText(detections, width: width, height: height, includeScore: false)
        let objects = try parseLabels(text, source: "pseudo.txt", classCount: 3)
        #expect(objects.count == detections.count)
        for (object, d) in zip(objects, detections) {
            #expect(object.classIndex == d.classIndex)
            let expected = d.box.scaled(x: 1 / Float(width), y: 1 / Float(height))
            for (a, b) in [(object.box.x1, expected.x1), (object.box.y1, expected.y1), (object.box.x2, expected.x2), (object.box.y2, expected.y2)] {
                #expect(abs(a - b) < 2e-6, "\(object.box) \(expected)")
            }
        }
        #expect(formatLabels(objects) == text)
        let scored = yoloLabelText(detections, width: width, height: height, includeScore: true)
        let lines = scored.split(separator: "\n")
        #expect(lines.allSatisfy { $0.split(separator: " ").count == 6 })
        let firstFive = lines.map { $0.split(separator: " ").prefix(5).joined(separator: " ") + "\n" }.joined()
        #expect(firstFive == text)
        #expect(zip(lines, detections).allSatisfy { abs(Float(String($0.split(separator: " ")[5]))! - $1.score) <= 0.00005 })
    }

    /// COCO's box is [x, y, width, height] from the top-left corner, in pixels.
    @Test func cocoObjectConvertsTheBox() throws {
        let object = cocoResultObject(imageID: 42, categoryID: 17, detection: Self.detections[0])
        #expect(object == #"{"image_id": 42, "category_id": 17, "bbox": [32.000, 24.000, 64.000, 96.000], "score": 0.87654}"#)
        let d = Detection(box: BoundingBox(x1: 10.0625, y1: 0, x2: 110.5, y2: 220.25), classIndex: 0, score: 1)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(cocoResultObject(imageID: 0, categoryID: 1, detection: d).utf8)) as? [String: Any])
        #expect(parsed["bbox"] as? [Double] == [10.062, 0, 100.438, 220.25])   // 3 decimals, C's rounding of the exact values
        #expect(parsed["score"] as? Double == 1 && parsed["image_id"] as? Int == 0 && parsed["category_id"] as? Int == 1)
    }

    @Test func imageObjectAndArrays() throws {
        #expect(cocoImageObject(id: 3, path: "a \"b\".png", width: 320, height: 240)
                == #"{"id": 3, "file_name": "a \"b\".png", "width": 320, "height": 240}"#)
        #expect(jsonArrayLines([]) == "[]\n")
        #expect(jsonArrayLines(["1", "2"]) == "[\n1,\n2\n]\n")
    }
}
