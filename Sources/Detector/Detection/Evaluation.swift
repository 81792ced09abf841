import Foundation

/// mAP of `network` on `samples`, through the inference pipeline (batch norm folded,
/// letterbox, decode, NMS with IoU `nmsIoUThreshold` (`detect`'s 0.45) and at most 100 boxes
/// per image), boxes compared in the original images' pixels. The score threshold is low
/// (0.005) as mAP integrates over all thresholds (Ultralytics validates at 0.001). Precision,
/// recall and the confusion matrix are counted at `operatingThreshold`, the score at which
/// `detect` reports boxes (0.25), so they describe what a user of `detect` sees.
///
/// Samples held at the network's size (`loadSamples(_:networkWidth:networkHeight:)`) are fed
/// `LoadedSample.networkInput`, the letterbox's output rounded to 8 bits (each value within
/// 0.5/255 of their originals' input), and its transform maps boxes back to the original's pixels.
public func evaluateModel(_ network: Network, on samples: [LoadedSample], scoreThreshold: Float = 0.005,
                          operatingThreshold: Float = NMSOptions().scoreThreshold,
                          nmsIoUThreshold: Float = NMSOptions().iouThreshold) throws -> EvaluationResult {
    let detector = ObjectDetector(network: network)
    var images: [EvaluationImage] = []
    let step = 32
    let options = NMSOptions(scoreThreshold: min(scoreThreshold, operatingThreshold), iouThreshold: nmsIoUThreshold, maximumDetections: 100)
    for start in stride(from: 0, to: samples.count, by: step) {
        let chunk = Array(samples[start..<min(start + step, samples.count)])
        let detections = try detector.detect(chunk, options: options)
        for (sample, found) in zip(chunk, detections) {
            images.append(EvaluationImage(detections: found, groundTruth: sample.objectsInPixels))
        }
    }
    return evaluateDetections(images, classCount: network.config.classes.count, scoreThreshold: operatingThreshold)
}

/// A sample that cannot feed the network: resized at load for another input size.
public struct SampleSizeError: Error, CustomStringConvertible, Sendable {
    public var name: String
    public var description: String
}

extension ObjectDetector {
    /// `detect(_:options:)` for loaded samples: the same stages, from `networkInput` (the
    /// letterbox's values, rounded to 8 bits for a resized sample) to boxes in the original
    /// image's pixels, clipped.
    public func detect(_ samples: [LoadedSample], options: NMSOptions = NMSOptions()) throws -> [[Detection]] {
        let (w, h) = (config.inputWidth, config.inputHeight)
        if let wrong = samples.first(where: { !$0.canFeed(width: w, height: h) }) {
            throw SampleSizeError(name: wrong.name, description: "\(wrong.name) was resized at load for another network input size than this model's \(w)x\(h); load it again for this model")
        }
        let prepared = samples.map { $0.networkInput(width: w, height: h) }
        let outputs = headOutputs(prepared.map(\.input))
        return zip(outputs, prepared).map { output, p in
            detectNormalised(headOutput: output, options: options).map { d in
                var d = d
                d.box = p.transform.normalisedNetworkToSourcePixels(d.box)
                return d
            }
        }
    }
}

extension LoadedSample {
    /// The labels in the original image's pixels (what evaluation compares detections with).
    public var objectsInPixels: [LabeledObject] {
        objects.map { LabeledObject(classIndex: $0.classIndex, box: $0.box.scaled(x: Float(width), y: Float(height))) }
    }
}
