/// A skip connection: the output of earlier layers, merged.
///
/// - `.add(activation)` (darknet's `shortcut`): y = act(a + b) for two inputs of equal shape;
///   backward ∂a += g, ∂b += g with g = ∂L/∂y · act'(y).
/// - `.concatenate` (darknet's `route`, a dense block): the channels of the inputs, in order,
///   side by side at every pixel (NHWC); backward hands each input its slice of ∂L/∂y.
///
/// Unlike a `Layer` it reads several inputs, so backward *adds* into each input's gradient
/// (the network zeroes a gradient buffer before the first contribution): an output may feed
/// a later layer and a route at once.
public final class Route {
    public enum Kind: Hashable, Sendable { case add(Activation), concatenate }
    public let name: String
    public let kind: Kind
    public let inputShapes: [FeatureShape]
    public let outputShape: FeatureShape

    public init(name: String, kind: Kind, inputShapes: [FeatureShape]) {
        precondition(!inputShapes.isEmpty, "\(name): a route needs inputs")
        self.name = name; self.kind = kind; self.inputShapes = inputShapes
        switch kind {
        case .add:
            precondition(inputShapes.count == 2 && inputShapes[0] == inputShapes[1], "\(name): add needs two equal shapes")
            outputShape = inputShapes[0]
        case .concatenate:
            outputShape = FeatureShape(height: inputShapes[0].height, width: inputShapes[0].width,
                                       channels: inputShapes.reduce(0) { $0 + $1.channels })
        }
    }

    public func forward(inputs: [UnsafePointer<Float>], output: UnsafeMutablePointer<Float>, batch: Int) {
        let pixels = batch * outputShape.height * outputShape.width
        switch kind {
        case let .add(act):
            let a = inputs[0], b = inputs[1]
            parallelRanges(batch * outputShape.count, minimumPerPart: 4096) { _, range in
                for i in range { output[i] = act.apply(a[i] + b[i]) }
            }
        case .concatenate:
            let total = outputShape.channels
            var offset = 0
            for (k, shape) in inputShapes.enumerated() {
                let source = inputs[k], c = shape.channels, start = offset
                parallelRanges(pixels, minimumPerPart: 256) { _, range in
                    for p in range { (output + p * total + start).update(from: source + p * c, count: c) }
                }
                offset += c
            }
        }
    }

    /// Adds this route's share of ∂L/∂output into each input's gradient.
    public func backward(output: UnsafePointer<Float>, gradientOutput: UnsafePointer<Float>,
                         gradientInputs: [UnsafeMutablePointer<Float>], batch: Int) {
        let pixels = batch * outputShape.height * outputShape.width
        switch kind {
        case let .add(act):
            let da = gradientInputs[0], db = gradientInputs[1]
            parallelRanges(batch * outputShape.count, minimumPerPart: 4096) { _, range in
                for i in range {
                    let g = gradientOutput[i] * act.derivative(output: output[i])
                    da[i] += g
                    db[i] += g
                }
            }
        case .concatenate:
            let total = outputShape.channels
            var offset = 0
            for (k, shape) in inputShapes.enumerated() {
                let destination = gradientInputs[k], c = shape.channels, start = offset
                parallelRanges(pixels, minimumPerPart: 256) { _, range in
                    for p in range {
                        let src = gradientOutput + p * total + start, dst = destination + p * c
                        for ch in 0..<c { dst[ch] += src[ch] }
                    }
                }
                offset += c
            }
        }
    }
}
