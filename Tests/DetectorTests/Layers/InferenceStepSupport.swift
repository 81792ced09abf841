import Testing
@testable import Detector

/// Runs an inference step's forward pass on an array (the `run` of steps without a backward pass).
func infer(_ step: any InferenceStep, _ input: [Float], batch: Int) -> [Float] {
    var out = [Float](repeating: 0, count: batch * step.outputShape.count)
    input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in
        step.forward(input: i.baseAddress!, output: o.baseAddress!, batch: batch)
    } }
    return out
}
