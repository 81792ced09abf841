import Foundation
import Testing
import Detector

@Suite struct MetricsTests {
    func truth(_ k: Int, _ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> LabeledObject {
        LabeledObject(classIndex: k, box: BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2))
    }
    func detection(_ k: Int, _ s: Float, _ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> Detection {
        Detection(box: BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2), classIndex: k, score: s)
    }

    @Test func perfectDetectionsScoreOne() {
        let gt = [truth(0, 0, 0, 10, 10), truth(1, 20, 20, 40, 40)]
        let result = evaluate([EvaluationImage(detections: gt.map { detection($0.classIndex, 0.9, $0.box.x1, $0.box.y1, $0.box.x2, $0.box.y2) },
                                               groundTruth: gt)], classCount: 3)
        #expect(result.mAP50 == 1 && result.mAP50to95 == 1)
        #expect(result.perClassAP50[0] == 1 && result.perClassAP50[1] == 1 && result.perClassAP50[2] == nil)
        #expect(result.precision == 1 && result.recall == 1)
    }

    /// Two boxes; a false positive ranks first, then both true positives. Precision at the
    /// detections: 0, 1/2, 2/3 at recall 0, 1/2, 1; the envelope is 2/3 everywhere, so
    /// AP = 101 · (2/3) / 101 = 2/3.
    @Test func falsePositiveRankedFirst() {
        let gt = [truth(0, 0, 0, 10, 10), truth(0, 50, 50, 60, 60)]
        let dets = [detection(0, 0.9, 100, 100, 110, 110), detection(0, 0.8, 0, 0, 10, 10), detection(0, 0.7, 50, 50, 60, 60)]
        let r = evaluate([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 1)
        #expect(abs(r.mAP50 - 2.0 / 3.0) < 1e-6)
        #expect(abs(r.precision - 2.0 / 3.0) < 1e-6 && r.recall == 1)
    }

    /// One of two boxes found: precision 1 up to recall 1/2, nothing after: recall points
    /// 0, 0.01, ..., 0.50 (51 of 101) read precision 1, so AP = 51/101.
    @Test func missedBoxHalvesRecall() {
        let gt = [truth(0, 0, 0, 10, 10), truth(0, 50, 50, 60, 60)]
        let r = evaluate([EvaluationImage(detections: [detection(0, 0.9, 0, 0, 10, 10)], groundTruth: gt)], classCount: 1)
        #expect(abs(r.mAP50 - 51.0 / 101.0) < 1e-6)
    }

    /// A box of IoU exactly 0.6 counts at thresholds 0.50, 0.55 and 0.60 (IoU ≥ threshold, both
    /// 0.6 in double precision as in pycocotools): 3 of the 10 COCO thresholds.
    @Test func iouThresholdsOfCOCO() {
        let gt = [truth(0, 0, 0, 10, 10)]
        let r = evaluate([EvaluationImage(detections: [detection(0, 0.9, 0, 0, 10, 6)], groundTruth: gt)], classCount: 1)
        #expect(r.mAP50 == 1)
        #expect(abs(r.mAP50to95 - 0.3) < 1e-6)
    }

    @Test func duplicateDetectionIsAFalsePositive() {
        let gt = [truth(0, 0, 0, 10, 10)]
        let dets = [detection(0, 0.9, 0, 0, 10, 10), detection(0, 0.8, 0, 0, 10, 10)]
        let r = evaluate([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 1)
        #expect(r.mAP50 == 1)          // the duplicate ranks after full recall
        #expect(r.precision == 0.5)
    }

    /// scripts/cocoeval_fixture.py: pycocotools' COCOeval on 6 images, 3 classes.
    @Test func matchesPycocotools() throws {
        struct Case: Decodable {
            struct Img: Decodable { var ground_truth: [[Float]]; var detections: [[Float]] }
            var classes: Int; var images: [Img]; var map50_95: Float; var map50: Float
            var per_class_ap50: [Float?]; var per_class_ap50_95: [Float?]
        }
        let c = try JSONDecoder().decode(Case.self, from: Fixtures.data("cocoeval_case.json"))
        let images = c.images.map { img in
            EvaluationImage(detections: img.detections.map { detection(Int($0[0]), $0[1], $0[2], $0[3], $0[4], $0[5]) },
                            groundTruth: img.ground_truth.map { truth(Int($0[0]), $0[1], $0[2], $0[3], $0[4]) })
        }
        let r = evaluate(images, classCount: c.classes)
        #expect(abs(r.mAP50 - c.map50) < 1e-4)
        #expect(abs(r.mAP50to95 - c.map50_95) < 1e-4)
        for k in 0..<c.classes {
            #expect(abs((r.perClassAP50[k] ?? -1) - (c.per_class_ap50[k] ?? -1)) < 1e-4)
            #expect(abs((r.perClassAP50to95[k] ?? -1) - (c.per_class_ap50_95[k] ?? -1)) < 1e-4)
        }
    }
}

@Suite struct DetectionOutputTests {
    @Test func textLinesAreClassScoreAndPixelBox() {
        let d = Detection(box: BoundingBox(x1: 10.04, y1: 20.06, x2: 110.5, y2: 220.25), classIndex: 1, score: 0.87654)
        #expect(detectionTextLines([d], classNames: ["circle", "square"]) == ["square 0.877 10.0 20.1 110.5 220.2"])
    }

    @Test func jsonLineHasTheFixedKeysAndEscapes() throws {
        let d = Detection(box: BoundingBox(x1: 1, y1: 2, x2: 3, y2: 4), classIndex: 0, score: 0.5)
        let line = detectionJSONLine(image: "a \"b\"\\c.png", width: 640, height: 480, detections: [d], classNames: ["circle"])
        #expect(line == #"{"image": "a \"b\"\\c.png", "width": 640, "height": 480, "detections": [{"class": "circle", "class_id": 0, "score": 0.5000, "box": [1.0, 2.0, 3.0, 4.0]}]}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(parsed?["image"] as? String == "a \"b\"\\c.png")
    }
}
