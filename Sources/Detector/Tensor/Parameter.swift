/// A named tensor of the model: trainable weights (kernels, biases, batch norm scale and shift)
/// with their gradient, or a non-trainable buffer (batch norm running mean and variance).
///
/// A reference type so that a layer, the optimizer and the checkpoint writer all see the same
/// storage. Backward passes *accumulate* into `gradient`; `zeroGradient()` is a separate step.
public final class Parameter: @unchecked Sendable {
    /// Unique within a model, e.g. `layers.2.pointwise.weight`; the safetensors tensor name.
    public let name: String
    public let shape: [Int]
    public var value: [Float]
    public var gradient: [Float]
    /// False for buffers that the optimizer must not touch (running statistics).
    public let trainable: Bool

    public init(name: String, shape: [Int], value: [Float], trainable: Bool = true) {
        precondition(shape.reduce(1, *) == value.count, "\(name): shape \(shape) does not hold \(value.count) values")
        self.name = name; self.shape = shape; self.value = value; self.trainable = trainable
        self.gradient = [Float](repeating: 0, count: trainable ? value.count : 0)
    }

    public var count: Int { value.count }

    public func zeroGradient() {
        guard !gradient.isEmpty else { return }
        gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
