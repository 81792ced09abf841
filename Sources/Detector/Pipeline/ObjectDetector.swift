import Foundation

/// The inference pipeline, one stage per step, each a plain value:
/// image → letterbox → network (batch norm folded) → head output → anchor decoding → NMS →
/// detections mapped back to the original image's pixels.
public final class ObjectDetector {
    public let config: ModelConfig
    let network: Network
    public var classNames: [String] { config.classes }

    /// A detector from a trained network (its batch norms are folded for inference).
    public init(network: Network) throws {
        self.config = network.config
        self.network = try network.foldedForInference()
    }

    /// A detector from a weights file (safetensors with the config in its metadata).
    public convenience init(modelPath: String) throws {
        let network = try loadNetwork(path: modelPath)
        try self.init(network: network)
    }

    /// Letterboxes `image` to the network input; returns the network input and the transform.
    public func preprocess(_ image: Image) -> (input: FloatImage, transform: LetterboxTransform) {
        let (input, transform) = letterbox(image, width: config.inputWidth, height: config.inputHeight)
        return (input, transform)
    }

    /// Raw head outputs for a batch of preprocessed inputs.
    public func headOutputs(_ inputs: [FloatImage]) -> [[Float]] {
        guard !inputs.isEmpty else { return [] }
        let per = config.inputWidth * config.inputHeight * 3
        var batch = [Float](repeating: 0, count: inputs.count * per)
        for (n, input) in inputs.enumerated() {
            batch.replaceSubrange((n * per)..<((n + 1) * per), with: input.pixels)
        }
        let layout = config.headLayout
        let out = batch.withUnsafeBufferPointer { network.forward($0.baseAddress!, batch: inputs.count, training: false) }
        return (0..<inputs.count).map { n in
            Array(UnsafeBufferPointer(start: out + n * layout.valuesPerImage, count: layout.valuesPerImage))
        }
    }

    /// Detections in normalised network-input coordinates, after NMS.
    public func detectNormalised(headOutput: [Float], options: NMSOptions) -> [Detection] {
        let predictions = decodePredictions(headOutput, layout: config.headLayout)
        let candidates = candidateDetections(predictions, scoreThreshold: options.scoreThreshold)
        return nonMaximumSuppression(candidates, options: options)
    }

    /// Detections in the original image's pixels (clipped to the image), best first.
    public func detect(_ image: Image, options: NMSOptions = NMSOptions()) -> [Detection] {
        detect([image], options: options)[0]
    }

    /// Runs a batch of images through the network at once.
    public func detect(_ images: [Image], options: NMSOptions = NMSOptions()) -> [[Detection]] {
        let prepared = images.map(preprocess)
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
