import Foundation

/// How well anchors fit a set of box shapes, both in grid-cell units (boxes after the
/// letterbox), compared the way the region loss assigns a box to an anchor: the IoU of the two
/// shapes centred at one point, IoU = min(w, w')·min(h, h') / (wh + w'h' − min(w, w')·min(h, h'))
/// (YOLOv2's "dimension clusters"; darknet's `bias_match`).
///
/// - `meanIoU`: the mean over the boxes of the IoU with their best anchor ("Avg IOU" of the
///   YOLOv2 paper's table 1, what k-means with distance 1 − IoU maximises).
/// - `bestPossibleRecall`: the fraction of boxes whose best anchor has IoU ≥ 0.5
///   (`iouThreshold`) with them. A YOLOv2 anchor's prediction starts as the anchor's own
///   shape, and the assignment gives every box its best anchor however poor, so this counts the
///   boxes whose prior would already count as a detection at mAP@0.5's IoU if centred right;
///   the others the head can only reach by learning large t_w, t_h (a factor of e^{|t|}).
///   It plays the part of YOLOv5's "BPR" (there: the fraction of boxes within a width and
///   height ratio of 4 of some anchor, the reach of its bounded wh decoding, which YOLOv2's
///   unbounded e^t does not have).
///
/// Shapes that are not finite and positive are left out; no boxes gives zeros.
public struct AnchorFit: Sendable, Equatable {
    public var meanIoU: Float
    public var bestPossibleRecall: Float
    public var boxCount: Int

    /// The IoU at which a box counts as fitted (mAP@0.5's).
    public static let iouThreshold: Float = 0.5

    public init(anchors: [Anchor], boxes: [(width: Float, height: Float)]) {
        let usable = boxes.filter { $0.width.isFinite && $0.height.isFinite && $0.width > 0 && $0.height > 0 }
        boxCount = usable.count
        guard !usable.isEmpty, !anchors.isEmpty else { meanIoU = 0; bestPossibleRecall = 0; return }
        var sum = 0.0, fitted = 0
        for box in usable {
            let best = anchors.map { AnchorFit.shapeIoU(box, ($0.width, $0.height)) }.max()!
            sum += Double(best)
            if best >= AnchorFit.iouThreshold { fitted += 1 }
        }
        meanIoU = Float(sum / Double(usable.count))
        bestPossibleRecall = Float(fitted) / Float(usable.count)
    }

    /// The IoU of two shapes centred at the same point.
    public static func shapeIoU(_ a: (width: Float, height: Float), _ b: (width: Float, height: Float)) -> Float {
        let inter = min(a.width, b.width) * min(a.height, b.height)
        return inter / (a.width * a.height + b.width * b.height - inter)
    }

    /// "IoU ≥ 0.5 for 97.3% of 1234 boxes, mean IoU 0.712".
    public var summary: String {
        String(format: "IoU ≥ 0.5 for %.1f%% of %d boxes, mean IoU %.3f", 100 * bestPossibleRecall, boxCount, meanIoU)
    }
}

/// The anchors a run trains with (autoanchor): the config's, unless they fit the training boxes
/// poorly and k-means on those boxes fits them better.
///
/// The rule, after YOLOv5's autoanchor (`check_anchors`: refit below a best-possible recall of
/// 0.98, keep the new anchors only if their recall is higher), with YOLOv2's IoU of shapes for
/// the fit (see `AnchorFit`):
/// 1. the config's anchors fit when at least 98% (`refitBelow`) of the boxes have an anchor of
///    IoU ≥ 0.5: they are kept, whatever k-means would give;
/// 2. otherwise k-means (`clusterAnchors`, the same number of anchors, the run's seed) proposes
///    anchors, rounded to 0.001 of a cell (as a config would hold them); they replace the
///    config's when they fit better by both measures: a best-possible recall and a mean IoU at
///    least as high, one of them higher. When k-means trades one for the other (it maximises
///    the mean IoU, not the recall), the user's anchors stay: there is no clear gain.
/// A threshold of 98% at IoU 0.5 is strict on purpose: it only asks for k-means, which takes
/// milliseconds and replaces anchors only when it does better. Hand-made anchors that fit a
/// data set reasonably (97% at IoU 0.5, mean 0.77, `models/tiny-dsc.json` on the synthetic
/// shapes) are refitted for a few points (99%, mean 0.81); aspect ratios the anchors do not
/// have (upright pedestrians, w ≈ 0.4 h, have IoU < 0.47 with any square anchor) or sizes
/// outside their range give a recall far below it.
/// The anchors are then the run's: stored in every checkpoint's config, so `detect` decodes
/// with them.
public struct AnchorChoice: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The config's fit well (rule 1).
        case configFits
        /// k-means' fit better and are used.
        case refitted
        /// The config's fit poorly, and k-means' no better.
        case clusteringNoBetter
        /// Fewer labelled boxes than anchors: nothing to measure or cluster.
        case tooFewBoxes
        /// Not checked (`TrainingOptions.autoAnchor` off).
        case off
        /// Resumed: the anchors the run started with (from its checkpoint).
        case resumed
        /// Not refitted: the run starts from trained weights whose head was trained with the
        /// config's anchors and is loaded (refitting would re-initialise it).
        case keptForWeights
    }

    public var outcome: Outcome
    /// The anchors to train with.
    public var anchors: [Anchor]
    public var configAnchors: [Anchor]
    /// The config's fit, and k-means' when it was run.
    public var configFit: AnchorFit?
    public var clusteredFit: AnchorFit?

    /// Rule 1's threshold on the best-possible recall.
    public static let refitBelow: Float = 0.98

    public init(outcome: Outcome, anchors: [Anchor], configAnchors: [Anchor], configFit: AnchorFit? = nil,
                clusteredFit: AnchorFit? = nil) {
        self.outcome = outcome; self.anchors = anchors; self.configAnchors = configAnchors
        self.configFit = configFit; self.clusteredFit = clusteredFit
    }

    /// Chooses between `configAnchors` and k-means on `boxes` (grid-cell units of a
    /// `gridWidth` x `gridHeight` grid) by the rule above.
    public static func choose(configAnchors: [Anchor], boxes: [(width: Float, height: Float)], gridWidth: Int, gridHeight: Int,
                              seed: UInt64) -> AnchorChoice {
        let configFit = AnchorFit(anchors: configAnchors, boxes: boxes)
        guard configFit.boxCount >= max(1, configAnchors.count) else {
            return AnchorChoice(outcome: .tooFewBoxes, anchors: configAnchors, configAnchors: configAnchors, configFit: configFit)
        }
        if configFit.bestPossibleRecall >= refitBelow {
            return AnchorChoice(outcome: .configFits, anchors: configAnchors, configAnchors: configAnchors, configFit: configFit)
        }
        let normalised = boxes.map { (width: $0.width / Float(gridWidth), height: $0.height / Float(gridHeight)) }
        let clustered = clusterAnchors(sizes: normalised, count: configAnchors.count, gridWidth: gridWidth,
                                       gridHeight: gridHeight, seed: seed).anchors
            .map { Anchor(width: roundedSide($0.width), height: roundedSide($0.height)) }
        let clusteredFit = AnchorFit(anchors: clustered, boxes: boxes)
        let better = clusteredFit.bestPossibleRecall >= configFit.bestPossibleRecall && clusteredFit.meanIoU >= configFit.meanIoU
            && (clusteredFit.bestPossibleRecall > configFit.bestPossibleRecall || clusteredFit.meanIoU > configFit.meanIoU)
        return AnchorChoice(outcome: better ? .refitted : .clusteringNoBetter, anchors: better ? clustered : configAnchors,
                            configAnchors: configAnchors, configFit: configFit, clusteredFit: clusteredFit)
    }

    /// A side rounded to 0.001 of a cell, within the config's bounds.
    static func roundedSide(_ x: Float) -> Float {
        min(max((x * 1000).rounded() / 1000, ConfigBounds.anchorSide.lowerBound), ConfigBounds.anchorSide.upperBound)
    }

    /// What a run says about its anchors at the start.
    public var message: String {
        let count = configAnchors.count
        let fit = configFit?.summary ?? ""
        let threshold = String(format: "%.0f%%", 100 * AnchorChoice.refitBelow)
        switch outcome {
        case .configFits:
            return "anchors: the config's \(count) fit the training boxes (\(fit)); kept"
        case .refitted:
            return "anchors: the config's \(count) fit under \(threshold) of the training boxes (\(fit)); k-means fits them better (\(clusteredFit?.summary ?? "")), so this run trains with \(anchorList(anchors)) (stored in its checkpoints' config; --no-autoanchor keeps the config's)"
        case .clusteringNoBetter:
            return "anchors: the config's \(count) fit under \(threshold) of the training boxes (\(fit)), and k-means fits them no better (\(clusteredFit?.summary ?? "")); kept"
        case .tooFewBoxes:
            return "anchors: \(configFit?.boxCount ?? 0) labelled box(es) for \(count) anchors, too few to check their fit; the config's kept"
        case .off:
            return "anchors: the config's, as asked (autoanchor off)" + (configFit.map { "; they fit the training boxes with \($0.summary)" } ?? "")
        case .keptForWeights:
            return "anchors: the config's \(count), kept: the head loaded from the trained weights was trained with them (refitting them would start it afresh); they fit the training boxes with \(fit)"
        case .resumed:
            return anchors == configAnchors
                ? "anchors: the config's, as the run started with"
                : "anchors: \(anchorList(anchors)), fitted at the start of the run (from its checkpoint; the config's were \(anchorList(configAnchors)))"
        }
    }
}

/// "[[0.31, 0.29], [1.2, 1.05]]", as a config's JSON holds anchors.
func anchorList(_ anchors: [Anchor]) -> String {
    "[" + anchors.map { "[\($0.width), \($0.height)]" }.joined(separator: ", ") + "]"
}

/// The training boxes' shapes in grid-cell units, as the loss sees them before augmentation:
/// each label mapped through its image's letterbox to the network input.
public func boxShapes(_ samples: [LoadedSample], config: ModelConfig) -> [(width: Float, height: Float)] {
    samples.flatMap { sample in
        letterboxedSizes(sample.objects, sourceWidth: sample.width, sourceHeight: sample.height,
                         networkWidth: config.inputWidth, networkHeight: config.inputHeight)
            .map { ($0.width * Float(config.gridWidth), $0.height * Float(config.gridHeight)) }
    }
}

/// The labelled boxes' sizes mapped through each image's letterbox to the network input,
/// normalised to it (what `clusterAnchors` takes, with the grid size), from the image files'
/// headers alone: no pixel is decoded.
public func letterboxedBoxSizes(_ items: [DatasetItem], networkWidth: Int, networkHeight: Int) throws -> [(width: Float, height: Float)] {
    var sizes: [(width: Float, height: Float)] = []
    for item in items {
        let header = try ImageFile.size(path: item.imagePath)
        sizes += letterboxedSizes(item.objects, sourceWidth: header.width, sourceHeight: header.height,
                                  networkWidth: networkWidth, networkHeight: networkHeight)
    }
    return sizes
}

/// Objects' sizes (normalised to an image of `sourceWidth` x `sourceHeight`) after the letterbox
/// to the network input, normalised to it.
func letterboxedSizes(_ objects: [LabeledObject], sourceWidth: Int, sourceHeight: Int,
                      networkWidth: Int, networkHeight: Int) -> [(width: Float, height: Float)] {
    let t = LetterboxTransform(sourceWidth: sourceWidth, sourceHeight: sourceHeight, targetWidth: networkWidth, targetHeight: networkHeight)
    return objects.map { object in
        let b = t.sourceNormalisedToNetworkNormalised(object.box)
        return (b.width, b.height)
    }
}
