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
    /// Ground-truth boxes 10 px square side by side on one row, all of class 0.
    func row(_ count: Int) -> [LabeledObject] {
        (0..<count).map { truth(0, Float($0) * 20, 0, Float($0) * 20 + 10, 10) }
    }
    func found(_ t: LabeledObject, _ score: Float) -> Detection {
        Detection(box: t.box, classIndex: t.classIndex, score: score)
    }
    let miss = Detection(box: BoundingBox(x1: 500, y1: 500, x2: 510, y2: 510), classIndex: 0, score: 0)

    @Test func cocoThresholdsAreNumpysLinspace() {
        // np.linspace(.5, .95, 10): 0.8999999999999999 in place of 0.9.
        #expect(cocoIoUThresholds == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95])
    }

    @Test func perfectDetectionsScoreOne() {
        let gt = [truth(0, 0, 0, 10, 10), truth(1, 20, 20, 40, 40)]
        let result = evaluateDetections([EvaluationImage(detections: gt.map { found($0, 0.9) }, groundTruth: gt)], classCount: 3)
        #expect(result.mAP50 == 1 && result.mAP50to95 == 1 && result.mAP75 == 1)
        #expect(result.mAPByIoUThreshold == [Float](repeating: 1, count: 10))
        #expect(result.perClassAP50 == [1, 1, nil] && result.perClassAP50to95 == [1, 1, nil])
        #expect(result.precision == 1 && result.recall == 1 && result.truePositiveCount == 2)
    }

    /// Two boxes; a false positive ranks first, then both true positives. Precision after each
    /// detection: 0, 1/2, 2/3 at recall 0, 1/2, 1; the envelope is 2/3 everywhere, so
    /// AP = 101 · (2/3) / 101 = 2/3.
    @Test func falsePositiveRankedFirst() {
        let gt = row(2)
        let dets = [detection(0, 0.9, 100, 100, 110, 110), found(gt[0], 0.8), found(gt[1], 0.7)]
        let r = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 1)
        #expect(abs(r.mAP50 - 2.0 / 3.0) < 1e-6)
        #expect(abs(r.precision - 2.0 / 3.0) < 1e-6 && r.recall == 1)
    }

    /// One of two boxes found: precision 1 up to recall 1/2, nothing after: recall points
    /// 0, 0.01, ..., 0.50 (51 of 101) read precision 1, so AP = 51/101.
    @Test func missedBoxHalvesRecall() {
        let gt = row(2)
        let r = evaluateDetections([EvaluationImage(detections: [found(gt[0], 0.9)], groundTruth: gt)], classCount: 1)
        #expect(abs(r.mAP50 - 51.0 / 101.0) < 1e-6)
        #expect(r.precision == 1 && r.recall == 0.5)
    }

    /// TP, FP, TP over two boxes: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1. The envelope is
    /// 1, 2/3, 2/3: recall points 0 ... 0.50 (51) read 1, points 0.51 ... 1 (50) read 2/3:
    /// AP = (51 + 50 · 2/3) / 101 = 0.834983.
    @Test func precisionEnvelopeFromTheRight() {
        let gt = row(2)
        let dets = [found(gt[0], 0.9), detection(0, 0.8, 300, 300, 310, 310), found(gt[1], 0.7)]
        let r = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 1)
        #expect(abs(r.mAP50 - (51 + 50 * 2.0 / 3.0) / 101) < 1e-6)
    }

    /// Ten boxes, the first three found first, then misses: recall 3/10 is reached, which in
    /// double precision equals the 31st recall point 30 · 0.01, so AP = 31/101.
    @Test func recallExactlyOnARecallPoint() {
        let gt = row(10)
        let dets = gt.prefix(3).map { found($0, 0.9) } + [miss, miss]
        let r = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 1)
        #expect(abs(r.mAP50 - 31.0 / 101.0) < 1e-6)
        #expect(abs(r.precision - 0.6) < 1e-6 && abs(r.recall - 0.3) < 1e-6)
    }

    /// IoU ≥ threshold, both in double precision as pycocotools has them: a box of IoU exactly
    /// 0.6 (6000 / 10000) counts at 0.50, 0.55 and 0.60, 3 of the 10 thresholds; one of IoU
    /// exactly 0.9 counts at 0.8999999999999999 too, 9 of 10.
    @Test func iouOnTheCOCOThresholds() {
        let gt = [truth(0, 0, 0, 100, 100)]
        let r60 = evaluateDetections([EvaluationImage(detections: [detection(0, 0.9, 0, 0, 100, 60)], groundTruth: gt)], classCount: 1)
        #expect(r60.mAP50 == 1)
        #expect(r60.mAPByIoUThreshold == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(abs(r60.mAP50to95 - 0.3) < 1e-6)
        let r90 = evaluateDetections([EvaluationImage(detections: [detection(0, 0.9, 0, 0, 100, 90)], groundTruth: gt)], classCount: 1)
        #expect(r90.mAPByIoUThreshold == [1, 1, 1, 1, 1, 1, 1, 1, 1, 0])
        let r75 = evaluateDetections([EvaluationImage(detections: [detection(0, 0.9, 0, 0, 100, 75)], groundTruth: gt)], classCount: 1)
        #expect(r75.mAP75 == 1 && abs(r75.mAP50to95 - 0.6) < 1e-6)
    }

    @Test func duplicateDetectionIsAFalsePositive() {
        let gt = [truth(0, 0, 0, 10, 10)]
        let dets = [detection(0, 0.9, 0, 0, 10, 10), detection(0, 0.8, 0, 0, 10, 10)]
        let r = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 1)
        #expect(r.mAP50 == 1)          // the duplicate ranks after full recall
        #expect(r.precision == 0.5 && r.truePositiveCount == 1)
    }

    /// A detection matches the unmatched box of highest IoU, not the first above threshold.
    @Test func matchesTheBestUnmatchedBox() {
        let gt = [truth(0, 0, 0, 100, 100), truth(0, 0, 0, 100, 80)]
        // IoU 0.7 with the first, 0.875 with the second: takes the second; then the exact copy
        // of the first finds it free.
        let dets = [detection(0, 0.9, 0, 0, 100, 70), detection(0, 0.8, 0, 0, 100, 100)]
        let r = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 1)
        #expect(r.mAP50 == 1 && r.recall == 1)
    }

    /// Detections are ranked over all images together: a false positive in image 2 scoring
    /// above the true positive of image 1 gives precision 0 then 1/2 at recall 1, AP 1/2.
    @Test func rankingSpansImages() {
        let gt = [truth(0, 0, 0, 10, 10)]
        let images = [EvaluationImage(detections: [found(gt[0], 0.5)], groundTruth: gt),
                      EvaluationImage(detections: [detection(0, 0.9, 0, 0, 10, 10)], groundTruth: [])]
        let r = evaluateDetections(images, classCount: 1)
        #expect(abs(r.mAP50 - 0.5) < 1e-6)
        // Swap the scores: the true positive first, AP 1.
        let swapped = [EvaluationImage(detections: [found(gt[0], 0.9)], groundTruth: gt),
                       EvaluationImage(detections: [detection(0, 0.5, 0, 0, 10, 10)], groundTruth: [])]
        #expect(evaluateDetections(swapped, classCount: 1).mAP50 == 1)
    }

    /// A class with detections but no ground truth has no AP and stays out of the mean; a class
    /// with ground truth and no detection has AP 0 and counts. Wrong-class detections are false
    /// positives of their class.
    @Test func classesWithoutGroundTruthOrDetections() {
        let gt = [truth(0, 0, 0, 10, 10), truth(1, 20, 0, 30, 10)]
        let dets = [found(gt[0], 0.9), detection(2, 0.8, 20, 0, 30, 10)]
        let r = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 3)
        #expect(r.perClassAP50 == [1, 0, nil])
        #expect(r.mAP50 == 0.5 && r.mAP50to95 == 0.5)
        #expect(r.precision == 0.5 && r.recall == 0.5)
        #expect(r.groundTruthCount == 2 && r.detectionCount == 2)
    }

    /// Precision and recall count only detections at or above the score threshold; AP uses all.
    @Test func precisionAndRecallAtAScoreThreshold() {
        let gt = row(3)
        let dets = [found(gt[0], 0.9), detection(0, 0.6, 300, 0, 310, 10), found(gt[1], 0.5), found(gt[2], 0.1)]
        let all = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 1)
        #expect(all.truePositiveCount == 3 && all.thresholdedDetectionCount == 4)
        #expect(all.precision == 0.75 && all.recall == 1)
        let at = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 1, scoreThreshold: 0.5)
        #expect(at.scoreThreshold == 0.5 && at.truePositiveCount == 2 && at.thresholdedDetectionCount == 3)
        #expect(abs(at.precision - 2.0 / 3.0) < 1e-6 && abs(at.recall - 2.0 / 3.0) < 1e-6)
        #expect(at.mAP50 == all.mAP50)
        // precision 1, 1/2, 2/3, 3/4 at recall 1/3, 1/3, 2/3, 1: envelope 1, 3/4, 3/4, 3/4:
        // points 0 ... 0.33 (34) read 1, the other 67 read 3/4.
        #expect(abs(all.mAP50 - (34 + 67 * 0.75) / 101) < 1e-6)
    }

    @Test func nothingToEvaluate() {
        let r = evaluateDetections([], classCount: 2)
        #expect(r.mAP50 == 0 && r.mAP50to95 == 0 && r.perClassAP50 == [nil, nil])
        #expect(r.precision == 0 && r.recall == 0)
        let missed = evaluateDetections([EvaluationImage(detections: [], groundTruth: row(2))], classCount: 1)
        #expect(missed.mAP50 == 0 && missed.perClassAP50 == [0] && missed.recall == 0)
    }

    /// Boxes and scores are the same in any unit: normalised and pixel boxes agree.
    @Test func unitsDoNotMatter() {
        let gt = [truth(0, 10, 20, 50, 60), truth(1, 60, 10, 90, 40)]
        let dets = [detection(0, 0.8, 12, 22, 52, 58), detection(1, 0.7, 58, 14, 92, 44), detection(1, 0.9, 0, 0, 20, 20)]
        let pixels = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 2)
        let scale: (BoundingBox) -> BoundingBox = { $0.scaled(x: 1 / 128, y: 1 / 128) }
        let normalised = evaluateDetections([EvaluationImage(
            detections: dets.map { Detection(box: scale($0.box), classIndex: $0.classIndex, score: $0.score) },
            groundTruth: gt.map { LabeledObject(classIndex: $0.classIndex, box: scale($0.box)) })], classCount: 2)
        #expect(pixels.mAPByIoUThreshold == normalised.mAPByIoUThreshold)
        #expect(pixels.mAP50to95 > 0 && pixels.mAP50to95 < 1)
    }

    struct CocoCase: Decodable {
        struct Img: Decodable { var ground_truth: [[Float]]; var detections: [[Float]] }
        var name: String; var classes: Int; var images: [Img]
        var map50_95: Float; var map50: Float; var map_by_threshold: [Float?]
        var per_class_ap50: [Float?]; var per_class_ap50_95: [Float?]
        var ground_truths: Int; var detections: Int
    }
    struct CocoFixture: Decodable { var cases: [CocoCase] }

    /// scripts/cocoeval_fixture.py: pycocotools' COCOeval on a seeded random case (5 images,
    /// 4 classes, one without ground truth, score ties, duplicates) and on integer boxes whose
    /// IoUs land exactly on the COCO thresholds.
    @Test(arguments: ["random", "boundary"])
    func matchesPycocotools(name: String) throws {
        let fixture = try JSONDecoder().decode(CocoFixture.self, from: Fixtures.data("cocoeval_case.json"))
        let c = try #require(fixture.cases.first { $0.name == name })
        let images = c.images.map { img in
            EvaluationImage(detections: img.detections.map { detection(Int($0[0]), $0[1], $0[2], $0[3], $0[4], $0[5]) },
                            groundTruth: img.ground_truth.map { truth(Int($0[0]), $0[1], $0[2], $0[3], $0[4]) })
        }
        let r = evaluateDetections(images, classCount: c.classes)
        #expect(r.groundTruthCount == c.ground_truths && r.detectionCount == c.detections)
        #expect(abs(r.mAP50 - c.map50) < 1e-4)
        #expect(abs(r.mAP50to95 - c.map50_95) < 1e-4)
        for t in 0..<10 { #expect(abs(r.mAPByIoUThreshold[t] - (c.map_by_threshold[t] ?? 0)) < 1e-4, "threshold \(t)") }
        for k in 0..<c.classes {
            #expect((r.perClassAP50[k] == nil) == (c.per_class_ap50[k] == nil))
            #expect(abs((r.perClassAP50[k] ?? -1) - (c.per_class_ap50[k] ?? -1)) < 1e-4, "class \(k)")
            #expect(abs((r.perClassAP50to95[k] ?? -1) - (c.per_class_ap50_95[k] ?? -1)) < 1e-4, "class \(k)")
        }
    }
}
