import Foundation
import Testing
@testable import Detector

/// What `evaluateDetections` gives beyond the mAP: per-class counts, precision and recall at the
/// operating threshold, the 101-point precision curves, the confusion matrix; checked by hand,
/// against pycocotools, and against each other over seeded random cases.
@Suite struct EvaluationDetailTests {
    func truth(_ k: Int, _ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> LabeledObject {
        LabeledObject(classIndex: k, box: BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2))
    }
    func detection(_ k: Int, _ s: Float, _ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> Detection {
        Detection(box: BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2), classIndex: k, score: s)
    }

    /// One image, three classes, every kind of cell at score >= 0.25:
    /// object 0 (class 0) found by its class (0.9) and again by a class-1 duplicate (0.6, a
    /// false positive: the object is taken); object 1 (class 1) found only as class 2 (0.8, a
    /// confusion); object 2 (class 2) found only below the threshold (0.1, a miss); a class-0
    /// box on nothing (0.7, a false positive).
    @Test func confusionMatrixByHand() {
        let gt = [truth(0, 0, 0, 10, 10), truth(1, 20, 0, 30, 10), truth(2, 40, 0, 50, 10)]
        let dets = [detection(0, 0.9, 0, 0, 10, 10), detection(1, 0.6, 0, 0, 10, 10), detection(2, 0.8, 20, 0, 30, 10),
                    detection(2, 0.1, 40, 0, 50, 10), detection(0, 0.7, 100, 100, 110, 110)]
        let r = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 3, scoreThreshold: 0.25)
        let m = r.confusionMatrix
        #expect(m.counts == [[1, 0, 0, 0],   // true circle: found
                             [0, 0, 1, 0],   // true class 1: predicted as class 2
                             [0, 0, 0, 1],   // true class 2: missed (its box scores 0.1)
                             [1, 1, 0, 0]])  // background: the box on nothing, the duplicate
        #expect(m.background == 3 && m.scoreThreshold == 0.25 && m.iouThreshold == 0.5)
        #expect(m.rowNormalised[0] == [1, 0, 0, 0] && m.rowNormalised[3] == [0.5, 0.5, 0, 0])
        // The table's numbers at the threshold.
        #expect(r.classes.map(\.instances) == [1, 1, 1] && r.classes.map(\.images) == [1, 1, 1])
        #expect(r.classes.map(\.thresholdedDetections) == [2, 1, 1] && r.classes.map(\.truePositives) == [1, 0, 0])
        #expect(r.classes.map(\.precision) == [0.5, 0, 0] && r.classes.map(\.recall) == [1, 0, 0])
        #expect(r.truePositiveCount == 1 && r.thresholdedDetectionCount == 4)
    }

    /// The right class is matched first: a wrong-class box overlapping the object more (IoU
    /// 0.9, scoring higher) does not take it from a right-class box at IoU 0.6. Ultralytics'
    /// class-agnostic matching would count a confusion and a background false positive.
    @Test func confusionMatrixMatchesTheRightClassFirst() {
        let gt = [truth(0, 0, 0, 100, 100)]
        let dets = [detection(1, 0.95, 0, 0, 100, 90), detection(0, 0.5, 0, 0, 100, 60)]
        let m = ConfusionMatrix([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 2, scoreThreshold: 0.25)
        #expect(m.counts == [[1, 0, 0], [0, 0, 0], [0, 1, 0]])
        // Without the right-class box the wrong one is a confusion.
        let alone = ConfusionMatrix([EvaluationImage(detections: [dets[0]], groundTruth: gt)], classCount: 2, scoreThreshold: 0.25)
        #expect(alone.counts == [[0, 1, 0], [0, 0, 0], [0, 0, 0]])
        // Below IoU 0.5 it is a false positive and the object a miss; out-of-range classes are left out.
        let far = ConfusionMatrix([EvaluationImage(detections: [detection(1, 0.9, 0, 0, 100, 40), detection(7, 0.9, 0, 0, 100, 100)],
                                                   groundTruth: gt + [truth(5, 0, 0, 1, 1)])], classCount: 2, scoreThreshold: 0.25)
        #expect(far.counts == [[0, 0, 1], [0, 0, 0], [0, 1, 0]])
    }

    /// A class without instances: no AP, no recall, no curve (nil, never NaN), left out of the
    /// means; its detections still count as false positives in precision and the matrix.
    @Test func classWithoutInstances() {
        let gt = [truth(0, 0, 0, 10, 10)]
        let dets = [detection(0, 0.9, 0, 0, 10, 10), detection(1, 0.8, 50, 50, 60, 60)]
        let r = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 2, scoreThreshold: 0.25)
        let ghost = r.classes[1]
        #expect(ghost.instances == 0 && ghost.images == 0 && ghost.ap50 == nil && ghost.ap50to95 == nil)
        #expect(ghost.recall == nil && ghost.precisionAtRecall == nil && ghost.precision == 0 && ghost.thresholdedDetections == 1)
        #expect(r.mAP50 == 1 && r.meanPrecisionAtRecall == [Float](repeating: 1, count: 101))
        #expect(r.precision == 0.5 && r.confusionMatrix.counts[2] == [0, 1, 0])
        #expect(r.confusionMatrix.rowNormalised[1] == nil)
        // A class with instances and no box at the threshold has no precision (not 0/0).
        let missed = evaluateDetections([EvaluationImage(detections: [detection(0, 0.1, 0, 0, 10, 10)], groundTruth: gt)], classCount: 1, scoreThreshold: 0.25)
        #expect(missed.classes[0].precision == nil && missed.classes[0].recall == 0 && missed.classes[0].ap50 == 1)
    }

    /// The curve by hand: 2 objects, detections TP (0.9), FP (0.8), TP (0.7). Precision after
    /// each: 1, 1/2, 2/3; recall 1/2, 1/2, 1; the envelope 1, 2/3, 2/3. Recall levels up to 0.5
    /// take 1, those above 2/3.
    @Test func precisionCurveByHand() {
        let gt = [truth(0, 0, 0, 10, 10), truth(0, 20, 0, 30, 10)]
        let dets = [detection(0, 0.9, 0, 0, 10, 10), detection(0, 0.8, 50, 0, 60, 10), detection(0, 0.7, 20, 0, 30, 10)]
        let r = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt)], classCount: 1)
        let curve = try! #require(r.classes[0].precisionAtRecall)
        #expect(curve.count == 101)
        #expect(curve[0...50].allSatisfy { $0 == 1 } && curve[51...].allSatisfy { $0 == Float(2.0 / 3.0) })
        #expect(abs(r.mAP50 - (51 + 50 * 2.0 / 3.0) / 101) < 1e-6)
        #expect(recallLevels.count == 101 && recallLevels[30] == 0.3 && recallLevels[100] == 1)
    }

    /// Seeded random images: the pieces agree with each other. The matrix's diagonal is the
    /// per-class true positives, its rows add up to the instances and its class columns to the
    /// detections at the threshold; AP is the mean of the curve, mAP the mean curve's mean.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func piecesAgree(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let classes = 4
        var images: [EvaluationImage] = []
        for _ in 0..<6 {
            var gt: [LabeledObject] = [], dets: [Detection] = []
            for _ in 0..<Int(rng.next() % 8) {
                let k = Int(rng.next() % 3)  // class 3 never has objects
                let x = rng.nextFloat(in: 0..<150), y = rng.nextFloat(in: 0..<150), w = rng.nextFloat(in: 8..<50), h = rng.nextFloat(in: 8..<50)
                gt.append(truth(k, x, y, x + w, y + h))
                for _ in 0..<Int(rng.next() % 3) {
                    let j = rng.nextFloat(in: -0.3..<0.3)
                    let dk = rng.nextUnitFloat() < 0.8 ? k : Int(rng.next() % UInt64(classes))
                    dets.append(detection(dk, (rng.nextFloat(in: 0..<1) * 20).rounded() / 20, x + j * w, y + j * h, x + w, y + h))
                }
            }
            for _ in 0..<Int(rng.next() % 3) {
                let x = rng.nextFloat(in: 0..<150), y = rng.nextFloat(in: 0..<150)
                dets.append(detection(Int(rng.next() % UInt64(classes)), rng.nextUnitFloat(), x, y, x + 20, y + 20))
            }
            images.append(EvaluationImage(detections: dets, groundTruth: gt))
        }
        for threshold: Float in [0, 0.25, 0.5, 0.9] {
            let r = evaluateDetections(images, classCount: classes, scoreThreshold: threshold)
            let m = r.confusionMatrix.counts
            for (k, c) in r.classes.enumerated() {
                #expect(m[k][k] == c.truePositives)
                #expect(m[k].reduce(0, +) == c.instances)
                #expect(m.map { $0[k] }.reduce(0, +) == c.thresholdedDetections)
                #expect(c.thresholdedDetections == images.flatMap(\.detections).filter { $0.classIndex == k && $0.score >= threshold }.count)
                if let curve = c.precisionAtRecall, let ap = c.ap50 {
                    #expect(abs(curve.reduce(0, +) / 101 - ap) < 1e-5)
                    #expect(zip(curve, curve.dropFirst()).allSatisfy { $0 >= $1 }, "the envelope never rises")
                    #expect(c.recall == Float(c.truePositives) / Float(c.instances))
                } else {
                    #expect(c.instances == 0 && c.ap50 == nil && c.recall == nil)
                }
            }
            #expect(r.truePositiveCount == r.classes.reduce(0) { $0 + $1.truePositives })
            #expect(m[classes][classes] == 0)
            #expect(abs(r.meanPrecisionAtRecall.reduce(0, +) / 101 - r.mAP50) < 1e-5)
        }
    }

    // MARK: - pycocotools

    struct CocoCase: Decodable {
        struct Img: Decodable { var ground_truth: [[Float]]; var detections: [[Float]] }
        struct AtThreshold: Decodable { var score: Float; var true_positives: [Int]; var detections: [Int] }
        var name: String; var classes: Int; var images: [Img]
        var per_class_pr_curve50: [[Double]?]
        var per_class_true_positives50: [Int]; var per_class_detections: [Int]
        var at_threshold: AtThreshold
    }
    struct CocoFixture: Decodable { var cases: [CocoCase] }

    /// scripts/cocoeval_fixture.py: the 101 interpolated precisions per class at IoU 0.5
    /// (pycocotools' eval["precision"][0, :, k]), and per class the detections and the matched
    /// ones over all boxes and over those scoring >= 0.5 (COCOeval on those alone).
    @Test(arguments: ["random", "boundary"])
    func curvesAndCountsMatchPycocotools(name: String) throws {
        let fixture = try JSONDecoder().decode(CocoFixture.self, from: Fixtures.data("cocoeval_case.json"))
        let c = try #require(fixture.cases.first { $0.name == name })
        let images = c.images.map { img in
            EvaluationImage(detections: img.detections.map { detection(Int($0[0]), $0[1], $0[2], $0[3], $0[4], $0[5]) },
                            groundTruth: img.ground_truth.map { truth(Int($0[0]), $0[1], $0[2], $0[3], $0[4]) })
        }
        let all = evaluateDetections(images, classCount: c.classes)
        for k in 0..<c.classes {
            let ours = all.classes[k].precisionAtRecall
            #expect((ours == nil) == (c.per_class_pr_curve50[k] == nil), "class \(k)")
            if let ours, let theirs = c.per_class_pr_curve50[k] {
                #expect(ours.count == theirs.count)
                for (a, b) in zip(ours, theirs) { #expect(abs(Double(a) - b) < 1e-6, "class \(k)") }
            }
            #expect(all.classes[k].truePositives == c.per_class_true_positives50[k], "class \(k)")
            #expect(all.classes[k].thresholdedDetections == c.per_class_detections[k], "class \(k)")
        }
        let at = evaluateDetections(images, classCount: c.classes, scoreThreshold: c.at_threshold.score)
        #expect(at.classes.map(\.truePositives) == c.at_threshold.true_positives)
        #expect(at.classes.map(\.thresholdedDetections) == c.at_threshold.detections)
        #expect(at.confusionMatrix.counts.indices.dropLast().map { at.confusionMatrix.counts[$0][$0] } == c.at_threshold.true_positives)
    }

    // MARK: - The report

    func reportCase() -> EvaluationReport {
        let gt = [truth(0, 0, 0, 10, 10), truth(0, 20, 0, 30, 10)]
        let dets = [detection(0, 0.9, 0, 0, 10, 10), detection(2, 0.8, 50, 50, 60, 60)]
        let r = evaluateDetections([EvaluationImage(detections: dets, groundTruth: gt), EvaluationImage(detections: [], groundTruth: [])],
                         classCount: 3, scoreThreshold: 0.25)
        return EvaluationReport(model: "m.safetensors", data: "set", split: "val", classNames: ["circle", "square", "triangle"],
                                nmsIoUThreshold: 0.45, apScoreThreshold: 0.005, seconds: 0.5, result: r)
    }

    @Test func tableSaysNoInstancesInsteadOfNaN() {
        let lines = reportCase().textLines()
        let text = lines.joined(separator: "\n")
        #expect(!text.lowercased().contains("nan"), "\(text)")
        #expect(lines[0] == "m.safetensors on set, split val: 2 images, 2 instances (0.5 s)")
        #expect(lines.contains("class     images  instances       P       R   AP@0.5  AP@[.5:.95]"), "\(text)")
        #expect(lines.contains("all            2          2   0.500   0.500    0.505        0.505"), "\(text)")
        #expect(lines.contains("circle         1          2   1.000   0.500    0.505        0.505"), "\(text)")
        #expect(lines.contains("square         0          0  no instances"), "\(text)")
        #expect(lines.contains("triangle       0          0  no instances (1 boxes at score >= 0.25, all false positives)"), "\(text)")
        #expect(text.contains("(2 without instances left out, as COCO leaves them out)"), "\(text)")
    }

    @Test func jsonHasNullNotNaNAndEverything() throws {
        let text = reportCase().jsonText
        #expect(!text.lowercased().contains("nan") && !text.contains("inf"), "\(text)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        // One of two objects found first: precision 1 up to recall 0.5, 51 of the 101 levels.
        #expect(abs((object["mAP50"] as? Double ?? 0) - 51.0 / 101) < 1e-6)
        #expect(object["split"] as? String == "val" && object["images"] as? Int == 2)
        #expect(object["conf"] as? Double == 0.25 && object["nms_iou"] as? Double == 0.45 && object["match_iou"] as? Double == 0.5)
        let classes = try #require(object["classes"] as? [[String: Any]])
        #expect(classes.map { $0["name"] as? String } == ["circle", "square", "triangle"])
        #expect(classes[0]["instances"] as? Int == 2 && classes[0]["precision"] as? Double == 1 && classes[0]["recall"] as? Double == 0.5)
        #expect((classes[0]["pr_curve"] as? [Double])?.count == 101)
        for key in ["AP50", "AP50_95", "recall", "pr_curve", "precision"] { #expect(classes[1][key] is NSNull, "\(key)") }
        #expect(classes[2]["precision"] as? Double == 0 && classes[2]["AP50"] is NSNull)
        let confusion = try #require(object["confusion_matrix"] as? [String: Any])
        #expect(confusion["rows"] as? String == "true" && confusion["columns"] as? String == "predicted")
        #expect(confusion["labels"] as? [String] == ["circle", "square", "triangle", "background"])
        #expect(confusion["counts"] as? [[Int]] == [[1, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]])
        let curve = try #require(object["pr_curve"] as? [String: Any])
        #expect((curve["recall"] as? [Double])?.count == 101 && (curve["all"] as? [Double])?.count == 101)
        #expect((object["mAP_by_iou"] as? [Double])?.count == 10)
    }

    /// With no instances at all nothing is a number that is not one.
    @Test func reportWithoutAnyInstances() throws {
        let r = evaluateDetections([EvaluationImage(detections: [detection(0, 0.9, 0, 0, 10, 10)], groundTruth: [])], classCount: 1, scoreThreshold: 0.25)
        let report = EvaluationReport(model: "m", data: "d", split: "train", splitNote: "no validation split: evaluating the training split",
                                      classNames: ["a"], nmsIoUThreshold: 0.45, apScoreThreshold: 0.005, seconds: 0, result: r)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.jsonText.utf8)) as? [String: Any])
        #expect(object["mAP50"] is NSNull && object["recall"] is NSNull && (object["pr_curve"] as? [String: Any])?["all"] is NSNull)
        let lines = report.textLines()
        #expect(lines[1] == "no validation split: evaluating the training split")
        #expect(lines.contains("all         1          0   0.000       -        -            -"), "\(lines)")
    }
}
