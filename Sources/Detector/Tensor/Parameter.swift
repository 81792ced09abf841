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

    /// What a parameter is to initialisation, the optimizer and the int8 export, read from its
    /// name: the layers name every convolution kernel (regular, depthwise, pointwise)
    /// `<layer>.weight` and everything else by what it is (`.bias`, batch norm's `.scale`,
    /// `.shift`, `.running_mean`, `.running_var`).
    public enum Role: Sendable, Hashable {
        /// A convolution kernel: Glorot-initialised, weight-decayed by AdamW, stored as int8
        /// by a quantised export.
        case kernel
        /// A value per output channel (bias, batch norm scale, shift and running statistics):
        /// initialised to its constant, never decayed, always stored as F32.
        case perChannel
    }

    /// `.kernel` when the name ends in `.weight`, else `.perChannel`.
    public var role: Role { name.hasSuffix(".weight") ? .kernel : .perChannel }

    public func zeroGradient() {
        guard !gradient.isEmpty else { return }
        gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
