import Foundation

/// Writes the pictures Ultralytics users look at after validation, `folder/pr_curve.png`
/// (`PRCurvePlot`) and `folder/confusion_matrix.png` (`ConfusionMatrixPlot`), each atomically
/// (the folder is created when missing). Returns their paths. Both come from `result` alone,
/// so a caller that has evaluated already (the trainer's validation) draws them without
/// detecting again.
@discardableResult
public func writeEvaluationPlots(_ result: EvaluationResult, classNames: [String], to folder: String, title: String) throws -> [String] {
    let prPath = folder + "/pr_curve.png", confusionPath = folder + "/confusion_matrix.png"
    try PNG.write(PRCurvePlot(result, classNames: classNames, title: title).render(), to: prPath)
    try PNG.write(ConfusionMatrixPlot(result.confusionMatrix, classNames: classNames, title: title).render(), to: confusionPath)
    return [prPath, confusionPath]
}

/// What `train-detector evaluate` prints: an `EvaluationResult` with what it was measured on
/// and how, as a table (`textLines`) or one JSON object (`jsonText`).
public struct EvaluationReport {
    public var model: String
    public var data: String
    public var split: String
    /// Why this split, when it was chosen rather than asked for.
    public var splitNote: String?
    public var classNames: [String]
    public var nmsIoUThreshold: Float
    /// The score from which detections enter the AP (`evaluateModel`'s `scoreThreshold`).
    public var apScoreThreshold: Float
    public var maximumDetections: Int
    public var seconds: Double
    /// The pictures written (`writeEvaluationPlots`), if any.
    public var plots: [String]
    public var result: EvaluationResult

    public init(model: String, data: String, split: String, splitNote: String? = nil, classNames: [String],
                nmsIoUThreshold: Float, apScoreThreshold: Float, maximumDetections: Int = 100, seconds: Double,
                plots: [String] = [], result: EvaluationResult) {
        self.model = model; self.data = data; self.split = split; self.splitNote = splitNote
        self.classNames = classNames; self.nmsIoUThreshold = nmsIoUThreshold; self.apScoreThreshold = apScoreThreshold
        self.maximumDetections = maximumDetections; self.seconds = seconds; self.plots = plots; self.result = result
    }

    /// The matching IoU of precision, recall and the confusion matrix (AP@0.5's).
    public static let matchingIoU = 0.5

    func name(_ k: Int) -> String { className(k, in: classNames) }

    /// Ultralytics' validation table: one row for all classes, then one per class (images
    /// holding the class, instances, precision and recall at the operating threshold, AP@0.5,
    /// AP@[.5:.95]); a class without instances says so; a precision without any detection of
    /// the class at the threshold is "-". The lines before say what was measured and how, the
    /// lines after what "all" means and where the pictures went.
    public func textLines() -> [String] {
        let r = result
        let conf = String(format: "%.2f", r.scoreThreshold)
        var lines: [String] = []
        lines.append(String(format: "%@ on %@, split %@: %d images, %d instances (%.1f s)",
                            model, data, split, r.imageCount, r.groundTruthCount, seconds))
        if let splitNote { lines.append(splitNote) }
        lines.append(String(format: "NMS IoU %.2f, at most %d boxes per image; AP over every box scoring >= %@; P, R and the confusion matrix at score >= %@ (--conf); a box matches an object at IoU >= 0.5",
                            nmsIoUThreshold, maximumDetections, String(format: "%g", apScoreThreshold), conf))
        lines.append("")
        let nameWidth = max(5, min(40, (0..<r.classes.count).map { name($0).count }.max() ?? 0))
        func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
            s.count >= width ? s : right ? s + String(repeating: " ", count: width - s.count) : String(repeating: " ", count: width - s.count) + s
        }
        func value(_ v: Float?) -> String { v.map { String(format: "%.3f", $0) } ?? "-" }
        func row(_ name: String, _ cells: [String]) -> String {
            let widths = [6, 9, 6, 6, 7, 11]
            return pad(name, nameWidth, right: true) + zip(cells, widths).map { "  " + pad($0, $1) }.joined()
        }
        lines.append(row("class", ["images", "instances", "P", "R", "AP@0.5", "AP@[.5:.95]"]))
        let withInstances = r.classes.filter { $0.instances > 0 }.count
        lines.append(row("all", [String(r.imageCount), String(r.groundTruthCount),
                                 value(r.thresholdedDetectionCount == 0 ? nil : r.precision),
                                 value(r.groundTruthCount == 0 ? nil : r.recall),
                                 withInstances == 0 ? "-" : value(r.mAP50), withInstances == 0 ? "-" : value(r.mAP50to95)]))
        var noDetections = false
        for (k, c) in r.classes.enumerated() {
            let label = name(k).count > nameWidth ? String(name(k).prefix(nameWidth - 2)) + ".." : name(k)
            if c.instances == 0 {
                let extra = c.thresholdedDetections == 0 ? "" : " (\(c.thresholdedDetections) boxes at score >= \(conf), all false positives)"
                lines.append(pad(label, nameWidth, right: true) + "  " + pad("0", 6) + "  " + pad("0", 9) + "  no instances" + extra)
                continue
            }
            if c.precision == nil { noDetections = true }
            lines.append(row(label, [String(c.images), String(c.instances), value(c.precision), value(c.recall), value(c.ap50), value(c.ap50to95)]))
        }
        lines.append("")
        var notes = "all: AP is the mean over the classes with instances"
        if withInstances < r.classes.count {
            notes += " (\(r.classes.count - withInstances) without instances left out, as COCO leaves them out)"
        }
        notes += "; P and R count the boxes of every class together (\(r.truePositiveCount) of \(r.thresholdedDetectionCount) boxes at score >= \(conf) match an object)"
        lines.append(notes)
        if noDetections { lines.append("P -: the class has no box at score >= \(conf)") }
        if !plots.isEmpty { lines.append("plots: " + plots.joined(separator: ", ")) }
        return lines
    }

    /// One JSON object (keys in a fixed order; numbers with 6 decimals, the curves' with 4;
    /// `null` for what a class without instances, or without detections, does not have):
    ///
    ///     model, data, split, split_note, images, instances, seconds
    ///     conf, nms_iou, match_iou, ap_score_threshold, max_det
    ///     mAP50, mAP50_95, mAP75, mAP_by_iou [10: IoU 0.50 ... 0.95]
    ///     precision, recall, true_positives, detections_at_conf, detections
    ///     classes: [{class_id, name, images, instances, AP50, AP50_95, precision, recall,
    ///                true_positives, detections_at_conf, pr_curve [101] or null}]
    ///     pr_curve: {iou, recall [101: 0, 0.01, ..., 1], all [101]}
    ///     confusion_matrix: {rows: "true", columns: "predicted", labels [classes..., background],
    ///                        conf, iou, counts [[classes + 1] x (classes + 1)]}
    ///     plots: [paths]
    public var jsonText: String {
        let r = result
        func number(_ v: Double?, _ decimals: Int = 6) -> String {
            guard let v, v.isFinite else { return "null" }
            return String(format: "%.\(decimals)f", v)
        }
        func number(_ v: Float?, _ decimals: Int = 6) -> String { number(v.map(Double.init), decimals) }
        func array(_ values: [String]) -> String { "[" + values.joined(separator: ", ") + "]" }
        func object(_ pairs: [(String, String)]) -> String {
            "{" + pairs.map { jsonString($0.0) + ": " + $0.1 }.joined(separator: ", ") + "}"
        }
        let withInstances = r.classes.contains { $0.instances > 0 }
        let classes = r.classes.enumerated().map { k, c in
            object([("class_id", String(k)), ("name", jsonString(name(k))), ("images", String(c.images)),
                    ("instances", String(c.instances)), ("AP50", number(c.ap50)), ("AP50_95", number(c.ap50to95)),
                    ("precision", number(c.precision)), ("recall", number(c.recall)),
                    ("true_positives", String(c.truePositives)), ("detections_at_conf", String(c.thresholdedDetections)),
                    ("pr_curve", c.precisionAtRecall.map { array($0.map { number($0, 4) }) } ?? "null")])
        }
        let m = r.confusionMatrix
        let confusion = object([
            ("rows", jsonString("true")), ("columns", jsonString("predicted")),
            ("labels", array(((0..<m.classCount).map { name($0) } + ["background"]).map(jsonString))),
            ("conf", number(m.scoreThreshold)), ("iou", number(m.iouThreshold)),
            ("counts", array(m.counts.map { array($0.map(String.init)) })),
        ])
        let curve = object([("iou", number(EvaluationReport.matchingIoU)),
                            ("recall", array(recallLevels.map { number($0, 2) })),
                            ("all", withInstances ? array(r.meanPrecisionAtRecall.map { number($0, 4) }) : "null")])
        return object([
            ("model", jsonString(model)), ("data", jsonString(data)), ("split", jsonString(split)),
            ("split_note", splitNote.map(jsonString) ?? "null"),
            ("images", String(r.imageCount)), ("instances", String(r.groundTruthCount)), ("seconds", number(seconds, 3)),
            ("conf", number(r.scoreThreshold)), ("nms_iou", number(nmsIoUThreshold)), ("match_iou", number(EvaluationReport.matchingIoU)),
            ("ap_score_threshold", number(apScoreThreshold)), ("max_det", String(maximumDetections)),
            ("mAP50", withInstances ? number(r.mAP50) : "null"), ("mAP50_95", withInstances ? number(r.mAP50to95) : "null"),
            ("mAP75", withInstances ? number(r.mAP75) : "null"),
            ("mAP_by_iou", withInstances ? array(r.mAPByIoUThreshold.map { number($0) }) : "null"),
            ("precision", r.thresholdedDetectionCount == 0 ? "null" : number(r.precision)),
            ("recall", r.groundTruthCount == 0 ? "null" : number(r.recall)),
            ("true_positives", String(r.truePositiveCount)), ("detections_at_conf", String(r.thresholdedDetectionCount)),
            ("detections", String(r.detectionCount)),
            ("classes", array(classes)), ("pr_curve", curve), ("confusion_matrix", confusion),
            ("plots", array(plots.map(jsonString))),
        ])
    }
}
