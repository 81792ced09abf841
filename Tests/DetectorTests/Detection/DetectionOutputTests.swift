import Foundation
import Testing
import Detector

@Suite struct DetectionOutputTests {
    @Test func textLinesAreClassScoreAndPixelBox() {
        let detections = [
            Detection(box: BoundingBox(x1: 10.04, y1: 20.06, x2: 110.5, y2: 220.25), classIndex: 1, score: 0.87654),
            Detection(box: BoundingBox(x1: 0, y1: 0, x2: 255.96, y2: 1), classIndex: 0, score: 1),
            Detection(box: BoundingBox(x1: 3, y1: 4, x2: 5, y2: 6), classIndex: 7, score: 0.0004),
        ]
        // 220.25 is exact in binary: a tie, printed as C rounds it (to even: 220.2).
        #expect(detectionTextLines(detections, classNames: ["circle", "square"]) == [
            "square 0.877 10.0 20.1 110.5 220.2",
            "circle 1.000 0.0 0.0 256.0 1.0",
            "class7 0.000 3.0 4.0 5.0 6.0",
        ])
        #expect(detectionTextLines([], classNames: ["circle"]).isEmpty)
    }

    /// A box clamped at the edge can carry −0 or −0.04; it prints as 0.0, not -0.0.
    @Test func negativeZeroPrintsAsZero() {
        let d = Detection(box: BoundingBox(x1: -0.0, y1: -0.04, x2: -1.5, y2: 2), classIndex: 0, score: 0.5)
        #expect(detectionTextLines([d], classNames: ["circle"]) == ["circle 0.500 0.0 0.0 -1.5 2.0"])
    }

    @Test func jsonLineHasTheFixedKeysInOrder() throws {
        let d = [Detection(box: BoundingBox(x1: 1, y1: 2, x2: 3.25, y2: 4.06), classIndex: 0, score: 0.5),
                 Detection(box: BoundingBox(x1: 10, y1: 20, x2: 30, y2: 40), classIndex: 2, score: 0.12345)]
        let line = detectionJSONLine(image: "samples/images/000001.png", width: 640, height: 480, detections: d,
                                     classNames: ["circle", "square", "triangle"])
        #expect(line == #"{"image": "samples/images/000001.png", "width": 640, "height": 480, "detections": [{"class": "circle", "class_id": 0, "score": 0.5000, "box": [1.0, 2.0, 3.2, 4.1]}, {"class": "triangle", "class_id": 2, "score": 0.1235, "box": [10.0, 20.0, 30.0, 40.0]}]}"#)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(parsed["width"] as? Int == 640 && parsed["height"] as? Int == 480)
        let items = try #require(parsed["detections"] as? [[String: Any]])
        #expect(items.count == 2 && items[1]["class"] as? String == "triangle" && items[1]["class_id"] as? Int == 2)
        #expect(items[0]["box"] as? [Double] == [1, 2, 3.2, 4.1])
    }

    @Test func jsonLineWithoutDetections() {
        #expect(detectionJSONLine(image: "a.png", width: 1, height: 2, detections: [], classNames: [])
                == #"{"image": "a.png", "width": 1, "height": 2, "detections": []}"#)
    }

    /// Quotes, backslashes and control characters are escaped; other Unicode stays as UTF-8.
    /// JSONSerialization reads every string back to the original.
    @Test(arguments: [
        (#"a "b"\c.png"#, #""a \"b\"\\c.png""#),
        ("C:\\images\\x.png", #""C:\\images\\x.png""#),
        ("tab\there\nnew\u{1}.png", #""tab\there\nnew\u0001.png""#),
        ("café/日本.png", #""café/日本.png""#),
    ])
    func jsonLineEscapesStrings(path: String, escaped: String) throws {
        let d = Detection(box: BoundingBox(x1: 1, y1: 2, x2: 3, y2: 4), classIndex: 0, score: 0.5)
        let name = "a \"quoted\" \\ class"
        let line = detectionJSONLine(image: path, width: 640, height: 480, detections: [d], classNames: [name])
        #expect(line.hasPrefix("{\"image\": \(escaped), \"width\": 640"))
        #expect(line.contains(#"{"class": "a \"quoted\" \\ class", "class_id": 0"#))
        #expect(!line.contains("\n"))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(parsed["image"] as? String == path)
        let items = try #require(parsed["detections"] as? [[String: Any]])
        #expect(items.first?["class"] as? String == name)
    }

    /// JSON has no NaN or infinity: such a number is written as null, so the line still parses.
    @Test func nonFiniteNumbersAreNull() throws {
        let d = Detection(box: BoundingBox(x1: .nan, y1: 0, x2: .infinity, y2: 4), classIndex: 0, score: .nan)
        let line = detectionJSONLine(image: "x.png", width: 8, height: 8, detections: [d], classNames: ["circle"])
        #expect(line.hasSuffix(#""score": null, "box": [null, 0.0, null, 4.0]}]}"#))
        #expect(try JSONSerialization.jsonObject(with: Data(line.utf8)) is [String: Any])
    }
}
