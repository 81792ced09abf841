import Foundation

/// The inference pipeline, one stage per step, each a plain value:
/// image → letterbox → network (batch norm folded) → head output → anchor decoding → NMS →
/// detections mapped back to the original image's pixels.
public final class ObjectDetector {
    public let config: ModelConfig
    let network: InferenceNetwork
    public var classNames: [String] { config.classes }

    /// A detector running `network`.
    public init(network: InferenceNetwork) {
        self.config = network.config
        self.network = network
    }

    /// A detector from a trained network (its batch norms are folded for inference).
    public convenience init(network: Network) {
        self.init(network: network.foldedForInference())
    }

    /// A detector from a weights file (safetensors with the config in its metadata), built
    /// for inference directly (no training network first).
    public convenience init(modelPath: String) throws {
        try self.init(network: InferenceNetwork.load(path: modelPath))
    }

    /// Letterboxes `image` to the network input; returns the network input and the transform.
    public func preprocess(_ image: Image) -> (input: FloatImage, transform: LetterboxTransform) {
        let (input, transform) = letterbox(image, width: config.inputWidth, height: config.inputHeight)
        return (input, transform)
    }

    /// Raw head outputs for a batch of preprocessed inputs (gathered into one batch, which the
    /// network reads in place).
    public func headOutputs(_ inputs: [FloatImage]) -> [[Float]] {
        guard !inputs.isEmpty else { return [] }
        let per = config.inputWidth * config.inputHeight * 3
        let out = network.forward(batch: inputs.count) { batch in
            for (n, input) in inputs.enumerated() {
                _ = UnsafeMutableBufferPointer(rebasing: batch[(n * per)..<((n + 1) * per)]).update(fromContentsOf: input.pixels)
            }
        }
        return headOutputs(out, count: inputs.count)
    }

    /// The head output of each of `count` images at `out`, as arrays.
    private func headOutputs(_ out: UnsafePointer<Float>, count: Int) -> [[Float]] {
        let values = config.headLayout.valuesPerImage
        return (0..<count).map { n in Array(UnsafeBufferPointer(start: out + n * values, count: values)) }
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
    ///
    /// Each image is letterboxed straight into the network's input buffer, in the NHWC layout
    /// the first step reads: the only write of the input before the network.
    public func detect(_ images: [Image], options: NMSOptions = NMSOptions()) -> [[Detection]] {
        guard !images.isEmpty else { return [] }
        let (width, height) = (config.inputWidth, config.inputHeight)
        let per = width * height * 3
        var transforms: [LetterboxTransform] = []
        let out = network.forward(batch: images.count) { batch in
            for (n, image) in images.enumerated() {
                let slice = UnsafeMutableBufferPointer(rebasing: batch[(n * per)..<((n + 1) * per)])
                transforms.append(letterbox(image, into: slice, width: width, height: height))
            }
        }
        return zip(headOutputs(out, count: images.count), transforms).map { output, transform in
            detectNormalised(headOutput: output, options: options).map { d in
                var d = d
                d.box = transform.normalisedNetworkToSourcePixels(d.box)
                return d
            }
        }
    }
}
