import Dispatch
import Foundation
import Synchronization

/// The shape of one image's activation, NHWC without the N.
public struct FeatureShape: Hashable, Sendable, CustomStringConvertible {
    public var height: Int
    public var width: Int
    public var channels: Int
    public init(height: Int, width: Int, channels: Int) {
        self.height = height; self.width = width; self.channels = channels
    }
    /// Values per image.
    public var count: Int { height * width * channels }
    public var description: String { "\(height)x\(width)x\(channels)" }
}

/// One step of inference: reads one input buffer, writes one output buffer, and has no
/// backward pass. Every `Layer` is one (its inference is `forward(training: false)`); the
/// steps that exist only for inference (`ConvMaxPool`, `PointwiseMaxPool`, which never
/// store what a backward pass would need) are nothing more, so an `InferenceNetwork` can hold
/// them and a training `Network`, which holds only `Layer`s, cannot.
///
/// Buffers are the network's: a batch of `batch` images, NHWC, contiguous.
public protocol InferenceStep: AnyObject {
    var name: String { get }
    var inputShape: FeatureShape { get }
    var outputShape: FeatureShape { get }
    var parameters: [Parameter] { get }
    /// Multiply-accumulates per image of the forward pass (FLOPs are twice this).
    var multiplyAccumulates: Int { get }
    /// The inference forward pass (batch norm from its running statistics, nothing recorded
    /// for a backward pass): reads `input`, writes `output`.
    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int)
}

/// One trainable step of the network's computation, with its forward and backward pass.
///
/// `forward` reads `input` and writes `output`. `backward` reads the same `input` and `output`
/// (which the network keeps from the forward pass), the gradient of the loss with respect to
/// `output`, *accumulates* into its parameters' gradients, and, when `gradientInput` is not
/// nil, writes (overwrites) the gradient with respect to `input`. Backward may overwrite
/// `gradientOutput` (it is the network's scratch: the activation derivative is applied in place).
///
/// Naming: parameters are called `layers.<config index>.<part>.<tensor>`, e.g.
/// `layers.2.depthwise.weight`, `layers.2.bn.running_var`, `layers.11.conv.bias`; these are
/// the safetensors tensor names.
public protocol Layer: InferenceStep {
    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, training: Bool)
    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  gradientOutput: UnsafeMutablePointer<Float>, gradientInput: UnsafeMutablePointer<Float>?,
                  batch: Int)
}

extension Layer {
    /// A layer's inference is its forward pass in inference mode.
    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        forward(input: input, output: output, batch: batch, training: false)
    }
}

/// Runs `body(chunk)` for chunks 0..<count on both cores (or serially for a single chunk).
/// Two chunks go to `WorkerPair` (this thread and one kept worker) when it is free, else to
/// Dispatch.
@inline(__always)
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 {
        for i in 0..<count { body(i) }
    } else if count == 2 && WorkerPair.shared.run(body) {
        return
    } else {
        // concurrentPerform wants a @Sendable closure; the bodies here capture raw pointers into
        // disjoint ranges of buffers (each worker writes only its own part), which the compiler
        // cannot prove, so the promise is made in this one place.
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
        }
    }
}

/// A value the engine promises to use safely across threads (see `parallelFor`).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Splits 0..<total into at most `parts` contiguous ranges (each at least `minimumPerPart`
/// long) and runs `body(worker, range)` for them in parallel; `worker` numbers the ranges
/// from 0, so a worker can own a private workspace or partial sum.
@inline(__always)
func parallelRanges(_ total: Int, parts: Int = engineThreads, minimumPerPart: Int = 1,
                    _ body: (_ worker: Int, _ range: Range<Int>) -> Void) {
    let n = partCount(total, parts: parts, minimumPerPart: minimumPerPart)
    if n <= 1 { body(0, 0..<total); return }
    parallelFor(n) { p in
        let lo = total * p / n, hi = total * (p + 1) / n
        if lo < hi { body(p, lo..<hi) }
    }
}

/// How many ranges `parallelRanges` uses for these arguments.
@inline(__always)
func partCount(_ total: Int, parts: Int = engineThreads, minimumPerPart: Int = 1) -> Int {
    max(1, min(parts, total / max(minimumPerPart, 1)))
}

/// The name of a fused step: "layers.0.bn" and "layers.1.maxpool" give "layers.0.bn+1.maxpool".
func fusedStepName(_ first: String, _ second: String) -> String {
    first + "+" + second.split(separator: ".").dropFirst().joined(separator: ".")
}

/// Number of workers used by the engine's own parallel loops.
let engineThreads = 2

/// ∂b += Σ over rows of the gradient (per channel).
func accumulateBiasGradient(_ bias: Parameter, gradient: UnsafePointer<Float>, rows: Int) {
    let c = bias.count
    bias.gradient.withUnsafeMutableBufferPointer { g in
        var block = [Float](repeating: 0, count: c)
        var r = 0
        while r < rows {
            let end = min(r + 256, rows)
            for ch in 0..<c { block[ch] = 0 }
            for row in r..<end { let d = gradient + row * c; for ch in 0..<c { block[ch] += d[ch] } }
            for ch in 0..<c { g[ch] += block[ch] }
            r = end
        }
    }
}

/// The second core for the engine's two-way loops: one thread kept for the process, which
/// spins for a while after each job and then sleeps on a condition variable. Dispatch's
/// `concurrentPerform` wakes a sleeping pool thread for every call (about 7 µs here), which
/// at batch 1 is paid by each of some 20 steps of a forward pass.
///
/// Jobs are posted by generation numbers: the caller stores the job, increments `posted`
/// (release), runs chunk 0 itself and spins until `finished` reaches its generation; the
/// worker sees the new generation (acquire), runs chunk 1 and publishes `finished`. A
/// caller that finds the pair busy (a nested or concurrent loop) gets false and uses Dispatch.
/// Sleeping is race-free: the worker announces it under the mutex and re-checks `posted`
/// before waiting, and a caller that sees the announcement signals under the same mutex
/// (both sides' accesses sequentially consistent).
final class WorkerPair: @unchecked Sendable {
    static let shared = WorkerPair()
    private let posted = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleeping = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Polls of `posted` before the worker sleeps (tens of microseconds).
    private let spinLimit = 50_000

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "detector-worker"
        thread.start()
    }

    private func loop() {
        var seen = 0
        while true {
            var spins = 0
            while posted.load(ordering: .sequentiallyConsistent) == seen {
                spins += 1
                if spins < spinLimit { continue }
                pthread_mutex_lock(mutex)
                sleeping.store(true, ordering: .sequentiallyConsistent)
                while posted.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(condition, mutex) }
                sleeping.store(false, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
            }
            seen = posted.load(ordering: .acquiring)
            job!(1)
            finished.store(seen, ordering: .releasing)
        }
    }

    /// Runs `body(0)` on this thread and `body(1)` on the worker, returning when both are
    /// done; false (nothing run) when the pair is already in use.
    func run(_ body: (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            let generation = posted.add(1, ordering: .sequentiallyConsistent).newValue
            if sleeping.load(ordering: .sequentiallyConsistent) {
                pthread_mutex_lock(mutex)
                pthread_cond_signal(condition)
                pthread_mutex_unlock(mutex)
            }
            escapable(0)
            while finished.load(ordering: .acquiring) != generation {}
            job = nil
        }
        busy.store(false, ordering: .releasing)
        return true
    }
}
