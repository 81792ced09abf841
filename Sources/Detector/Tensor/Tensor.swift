/// A dense Float tensor. Layout convention of the whole engine: NHWC (batch, rows, columns,
/// channels), channels fastest. A pointwise convolution is then one GEMM of
/// [N·H·W, C_in] x [C_in, C_out], and depthwise kernels vectorise across channels.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not hold \(data.count) values")
        self.shape = shape; self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { data.count }
}
