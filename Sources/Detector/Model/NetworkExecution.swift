import Foundation

/// Runs `nodes` in order on a batch: operation k reads the output of its input (`input` for
/// −1) and writes `output(k)`; a merge reads all of its inputs. With `times`, adds each step's
/// wall time into `times[k].forwardSeconds`. Both networks' forward passes are this loop.
@inline(__always)
func runForward<Kind>(_ nodes: [Node<Kind>], input: UnsafePointer<Float>, output: (Int) -> UnsafeMutablePointer<Float>,
                      batch: Int, times: UnsafeMutablePointer<Network.LayerTime>?,
                      _ run: (Kind.Operation, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
    func source(_ index: Int) -> UnsafePointer<Float> { index < 0 ? input : UnsafePointer(output(index)) }
    for (k, node) in nodes.enumerated() {
        let start = times != nil ? DispatchTime.now().uptimeNanoseconds : 0
        switch node.step {
        case let .operation(op): run(op, source(node.inputs[0]), output(k))
        case let .merge(m): m.forward(inputs: node.inputs.map(source), output: output(k), batch: batch)
        }
        if let times { times[k].forwardSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
    }
}

/// `body` with the layer-time table to add into, or nil when not `recording`.
@inline(__always)
func withLayerTimes(recording: Bool, _ times: inout [Network.LayerTime], _ body: (UnsafeMutablePointer<Network.LayerTime>?) -> Void) {
    guard recording else { return body(nil) }
    times.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}

extension Network {
    /// Runs the network on `batch` images at `input` ([batch, H, W, C], NHWC; copied in, as
    /// backward reads it). Returns a pointer to the head output ([batch, gridH, gridW,
    /// anchors·(5 + classes)]), valid until the next forward pass.
    @discardableResult
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        memory.reserve(batch: batch)
        currentBatch = batch
        trainedForward = training
        let copy = memory.input!
        copy.update(from: input, count: batch * inputShape.count)
        let activations = memory.activations
        withLayerTimes(recording: recordsLayerTimes, &layerTimes) { times in
            runForward(nodes, input: copy, output: { activations[$0] }, batch: batch, times: times) { op, x, y in
                op.forward(input: x, output: y, batch: batch, training: training)
            }
        }
        return UnsafePointer(activations[nodes.count - 1])
    }

    /// Forward pass on a tensor [N, H, W, C]; returns the head output as a tensor.
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.shape.count == 4 && Array(input.shape[1...]) == [inputShape.height, inputShape.width, inputShape.channels],
                     "input shape \(input.shape) does not match the network input \(inputShape)")
        let batch = input.shape[0]
        let out = input.data.withUnsafeBufferPointer { forward($0.baseAddress!, batch: batch, training: training) }
        let shape = outputShape
        return Tensor(shape: [batch, shape.height, shape.width, shape.channels],
                      data: Array(UnsafeBufferPointer(start: out, count: batch * shape.count)))
    }

    /// Backward pass for the last training forward pass: accumulates every parameter's
    /// gradient from ∂L/∂output (same layout as the head output). With `inputGradient`, also
    /// returns ∂L/∂input.
    @discardableResult
    public func backward(_ gradientOutput: UnsafePointer<Float>, inputGradient wantInput: Bool = false) -> Tensor? {
        precondition(trainedForward, "backward needs a forward pass with training: true")
        let batch = currentBatch
        let last = nodes.count - 1
        let gradients = memory.gradients
        let activations = memory.activations
        func pointer(_ index: Int) -> UnsafeMutablePointer<Float> { index < 0 ? memory.input! : activations[index] }
        if hasMerges {
            for k in nodes.indices where consumers[k] > 1 || k == last {
                gradients[k].update(repeating: 0, count: batch * nodes[k].outputShape.count)
            }
        }
        gradients[last].update(from: gradientOutput, count: batch * nodes[last].outputShape.count)
        let inputGradient = wantInput ? memory.inputGradient : nil
        withLayerTimes(recording: recordsLayerTimes, &layerTimes) { times in
            for k in stride(from: last, through: 0, by: -1) {
                let node = nodes[k]
                let start = times != nil ? DispatchTime.now().uptimeNanoseconds : 0
                switch node.step {
                case let .operation(op):
                    let source = node.inputs[0]
                    let target = source >= 0 ? gradients[source] : inputGradient
                    let accumulate = hasMerges && source >= 0 && consumers[source] > 1
                    let destination = accumulate ? memory.scratch! : target
                    op.backward(input: pointer(source), output: activations[k], gradientOutput: gradients[k],
                                gradientInput: destination, batch: batch)
                    if accumulate, let target {
                        let scratch = memory.scratch!
                        let count = batch * op.inputShape.count
                        for i in 0..<count { target[i] += scratch[i] }
                    }
                case let .merge(m):
                    // Inputs read only by this merge start from zero; shared ones were zeroed above.
                    for i in node.inputs where consumers[i] == 1 {
                        gradients[i].update(repeating: 0, count: batch * nodes[i].outputShape.count)
                    }
                    m.backward(output: activations[k], gradientOutput: gradients[k],
                               gradientInputs: node.inputs.map { gradients[$0] }, batch: batch)
                }
                if let times { times[k].backwardSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
            }
        }
        guard let inputGradient else { return nil }
        return Tensor(shape: [batch, inputShape.height, inputShape.width, inputShape.channels],
                      data: Array(UnsafeBufferPointer(start: inputGradient, count: batch * inputShape.count)))
    }

    @discardableResult
    public func backward(_ gradientOutput: Tensor, inputGradient: Bool = false) -> Tensor? {
        precondition(gradientOutput.count == currentBatch * outputShape.count, "gradient does not match the last forward pass")
        return gradientOutput.data.withUnsafeBufferPointer { backward($0.baseAddress!, inputGradient: inputGradient) }
    }
}

extension InferenceNetwork {
    /// Runs the network on `batch` images at `input` ([batch, H, W, C], NHWC), read in place
    /// (nothing is copied: no backward pass reads it later). Returns a pointer to the head
    /// output ([batch, gridH, gridW, anchors·(5 + classes)]), valid until the next forward pass.
    ///
    /// With N threads and a batch of at least 2N images (or a multiple of N), the images are
    /// shared out instead of each step's rows: each thread runs the whole network on its images,
    /// one at a time, on buffers of its own (`ImageLanes`), so an image's activations stay in
    /// that core's cache from step to step and no step waits for the others. Each output value
    /// is computed the same way either way (the kernels' bits do not depend on the split), so
    /// the two schedules give the same bits; `recordsLayerTimes` keeps the per-step schedule,
    /// whose steps can be timed one by one.
    @discardableResult
    public func forward(_ input: UnsafePointer<Float>, batch: Int) -> UnsafePointer<Float> {
        let threads = Engine.threadCount
        if !recordsLayerTimes && ImageLanes.applies(batch: batch, threads: threads) {
            return lanes.run(nodes, input: input, inputCount: inputShape.count, outputCount: outputShape.count,
                             batch: batch, threads: threads)
        }
        memory.reserve(batch: batch)
        let memory = self.memory
        withLayerTimes(recording: recordsLayerTimes, &layerTimes) { times in
            runForward(nodes, input: input, output: memory.output, batch: batch, times: times) { op, x, y in
                op.forward(input: x, output: y, batch: batch)
            }
        }
        return UnsafePointer(memory.output(nodes.count - 1))
    }

    /// Lets `fill` write the batch's input straight into the network's own input buffer
    /// ([batch, H, W, C], NHWC: what the first step reads; every value must be written), then
    /// runs the network on it. Returns the head output as `forward(_:batch:)` does.
    @discardableResult
    public func forward(batch: Int, fill: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows -> UnsafePointer<Float> {
        let input = memory.input(batch: batch)
        try fill(UnsafeMutableBufferPointer(start: input, count: batch * inputShape.count))
        return forward(input, batch: batch)
    }

    /// Forward pass on a tensor [N, H, W, C]; returns the head output as a tensor.
    public func forward(_ input: Tensor) -> Tensor {
        precondition(input.shape.count == 4 && Array(input.shape[1...]) == [inputShape.height, inputShape.width, inputShape.channels],
                     "input shape \(input.shape) does not match the network input \(inputShape)")
        let batch = input.shape[0]
        let out = input.data.withUnsafeBufferPointer { forward($0.baseAddress!, batch: batch) }
        let shape = outputShape
        return Tensor(shape: [batch, shape.height, shape.width, shape.channels],
                      data: Array(UnsafeBufferPointer(start: out, count: batch * shape.count)))
    }
}

/// The image-parallel schedule of `InferenceNetwork.forward`: lane p (one per thread) runs every
/// step on its own images with one thread (`Engine.withThreadCount(1)`), its activations in
/// buffers of its own (an `InferenceMemory` for one image), and its steps' scratch in the
/// workspace slot of its lane (`Engine.lane`); each image's head output is copied into the
/// batch's output buffer, which the lanes hold (the per-step schedule's buffers for the whole
/// batch are never needed). The caller's kernel path (`KernelISA.active`) is bound in every
/// lane, so a test's path reaches the worker threads too.
final class ImageLanes {
    private let plan: InferenceMemoryPlan
    private var memories: [InferenceMemory] = []
    private var output: UnsafeMutablePointer<Float>?
    private var outputCapacity = 0

    init(plan: InferenceMemoryPlan) { self.plan = plan }

    deinit { output?.deallocate() }

    /// Whether `batch` images are shared out between `threads` lanes: more than one thread,
    /// and every lane busy to the end within one image (a multiple of the thread count, or at
    /// least two images per lane).
    static func applies(batch: Int, threads: Int) -> Bool {
        threads > 1 && batch >= threads && (batch % threads == 0 || batch >= 2 * threads)
    }

    /// Runs the batch; returns its head output ([batch, gridH, gridW, A·(5 + K)]), valid until
    /// the next call.
    func run(_ nodes: [Node<InferenceOnly>], input: UnsafePointer<Float>, inputCount: Int, outputCount: Int,
             batch: Int, threads: Int) -> UnsafePointer<Float> {
        if batch * outputCount > outputCapacity {
            output?.deallocate()
            output = .allocate(capacity: batch * outputCount)
            outputCapacity = batch * outputCount
        }
        let output = self.output!
        while memories.count < threads {
            let memory = InferenceMemory(plan: plan, inputCount: inputCount)
            memory.reserve(batch: 1)
            memories.append(memory)
        }
        let memories = self.memories
        let isa = KernelISA.active
        let last = nodes.count - 1
        parallelRanges(batch, parts: threads) { lane, images in
            Engine.withLane(lane) { Engine.withThreadCount(1) { KernelISA.withActive(isa) {
                let memory = memories[lane]
                for n in images {
                    runForward(nodes, input: input + n * inputCount, output: memory.output, batch: 1, times: nil) { op, x, y in
                        op.forward(input: x, output: y, batch: 1)
                    }
                    (output + n * outputCount).update(from: memory.output(last), count: outputCount)
                }
            } } }
        }
        return UnsafePointer(output)
    }
}
