/// The buffers of a training network: every step's output stays in memory until the next
/// forward pass, because backward reads it. Gradient buffers are two alternating ones for a
/// plain chain of steps, or one per step when the graph has merges (a step read by several
/// later steps collects their gradients, through `scratch`). The input is copied in, as
/// backward reads it after the caller's buffer may be gone.
///
/// Allocated once per batch size (`reserve`), for the largest batch seen; `memoryEstimate`
/// of `ModelConfig` counts at least this.
final class TrainingMemory {
    private let outputCounts: [Int]
    private let inputCount: Int
    private let hasMerges: Bool
    private(set) var batchCapacity = 0
    private(set) var activations: [UnsafeMutablePointer<Float>] = []
    private(set) var gradients: [UnsafeMutablePointer<Float>] = []
    private(set) var input: UnsafeMutablePointer<Float>?
    private(set) var scratch: UnsafeMutablePointer<Float>?
    private var inputGradientBuffer: UnsafeMutablePointer<Float>?

    /// `outputCounts`: values per image of each step's output, in order.
    init(outputCounts: [Int], inputCount: Int, hasMerges: Bool) {
        self.outputCounts = outputCounts
        self.inputCount = inputCount
        self.hasMerges = hasMerges
    }

    deinit { release() }

    private func release() {
        for b in activations { b.deallocate() }
        for b in Set(gradients) { b.deallocate() }
        input?.deallocate(); inputGradientBuffer?.deallocate(); scratch?.deallocate()
        activations = []; gradients = []; input = nil; inputGradientBuffer = nil; scratch = nil
        batchCapacity = 0
    }

    /// Allocates activations and gradients for `batch` images, unless a larger batch already has.
    func reserve(batch: Int) {
        guard batch > batchCapacity else { return }
        release()
        batchCapacity = batch
        activations = outputCounts.map { .allocate(capacity: batch * $0) }
        let largest = outputCounts.max() ?? 0
        if hasMerges {
            gradients = outputCounts.map { .allocate(capacity: batch * $0) }
            scratch = .allocate(capacity: batch * max(largest, inputCount))
        } else {
            let pair: [UnsafeMutablePointer<Float>] = [.allocate(capacity: batch * largest), .allocate(capacity: batch * largest)]
            gradients = outputCounts.indices.map { pair[$0 % 2] }
        }
        input = .allocate(capacity: batch * inputCount)
    }

    /// ∂L/∂input for the reserved batch, allocated on first use.
    var inputGradient: UnsafeMutablePointer<Float> {
        if let inputGradientBuffer { return inputGradientBuffer }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: batchCapacity * inputCount)
        inputGradientBuffer = buffer
        return buffer
    }
}

/// Which buffer each step of an inference pass writes. Nothing is kept for a backward pass,
/// so a step's output is needed only until its last reader has run: steps share buffers
/// ("slots") whose outputs are never needed at the same time. Walking the steps in order,
/// each takes the lowest-numbered free slot (a new one when none is free), and after it the
/// slots of the outputs it was the last to read are free again; a step never writes a slot it
/// reads. The network's output (the last step's) is never freed. A plain chain needs two
/// slots; a graph with routes more, while a branch is waiting.
struct InferenceMemoryPlan: Equatable {
    /// Slot of each step's output.
    let slots: [Int]
    /// Values per image each slot holds (the largest output put in it).
    let slotCounts: [Int]

    init<Kind>(_ nodes: [Node<Kind>]) {
        var lastReader = Array(nodes.indices)  // a step nobody reads is free as soon as it is written
        for (k, node) in nodes.enumerated() { for i in node.inputs where i >= 0 { lastReader[i] = max(lastReader[i], k) } }
        if let last = nodes.indices.last { lastReader[last] = Int.max }
        var slots = [Int](repeating: 0, count: nodes.count)
        var counts: [Int] = []
        var free: [Int] = []
        for (k, node) in nodes.enumerated() {
            let slot: Int
            if let first = free.min() {
                slot = first
                free.removeAll { $0 == first }
            } else {
                slot = counts.count
                counts.append(0)
            }
            slots[k] = slot
            counts[slot] = max(counts[slot], node.outputShape.count)
            for i in Set(node.inputs + [k]) where i >= 0 && lastReader[i] == k { free.append(slots[i]) }
        }
        self.slots = slots
        self.slotCounts = counts
    }

    /// Values per image over all slots.
    var totalCount: Int { slotCounts.reduce(0, +) }
}

/// The buffers of an inference network: the slots of its `InferenceMemoryPlan`, and an input
/// buffer for callers that let the network hold their input (`InferenceNetwork.forward(batch:fill:)`).
final class InferenceMemory {
    let plan: InferenceMemoryPlan
    private let inputCount: Int
    private var slotBatch = 0
    private var slots: [UnsafeMutablePointer<Float>] = []
    private var inputBatch = 0
    private var inputBuffer: UnsafeMutablePointer<Float>?

    init(plan: InferenceMemoryPlan, inputCount: Int) {
        self.plan = plan
        self.inputCount = inputCount
    }

    deinit {
        for s in slots { s.deallocate() }
        inputBuffer?.deallocate()
    }

    /// Allocates the slots for `batch` images, unless a larger batch already has.
    func reserve(batch: Int) {
        guard batch > slotBatch else { return }
        for s in slots { s.deallocate() }
        slots = plan.slotCounts.map { .allocate(capacity: batch * $0) }
        slotBatch = batch
    }

    /// Where step `k` writes its output (after `reserve`).
    func output(_ k: Int) -> UnsafeMutablePointer<Float> { slots[plan.slots[k]] }

    /// The input buffer for `batch` images, [batch, H, W, C] (contents undefined).
    func input(batch: Int) -> UnsafeMutablePointer<Float> {
        if batch > inputBatch {
            inputBuffer?.deallocate()
            inputBuffer = .allocate(capacity: batch * inputCount)
            inputBatch = batch
        }
        return inputBuffer!
    }
}
