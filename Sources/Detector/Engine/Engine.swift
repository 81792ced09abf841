import Foundation
import Synchronization

/// The engine's process-wide settings: how many threads its parallel loops use.
///
/// The thread count N is the caller of a parallel loop plus N − 1 kept workers (`WorkerPool`).
/// Every layer splits its work into at most N parts (`parallelRanges`), and the layers that sum
/// per-part partial results (weight gradients, batch-norm statistics) size those buffers by N.
///
/// How N is chosen, first match wins:
/// 1. `Engine.setThreadCount(_:)` (the commands' `--threads N`), before the first parallel loop;
/// 2. the environment variable `DETECTOR_THREADS` (an integer in `threadCountRange`; the
///    commands refuse any other value, the library ignores it);
/// 3. the CPUs this process may run on (`sched_getaffinity`, so `taskset` and container CPU
///    sets count), else the online processors.
///
/// The process-wide count is fixed the first time a parallel loop reads it: a later
/// `setThreadCount` with another value throws `EngineError.threadCountFixed` (buffers and
/// partitions computed for one count must not meet loops run with another while a network is
/// running on another thread). `withThreadCount(_:_:)` runs a block with another count on the
/// current task or thread only (the benchmark's 1-and-2-thread rounds, the tests).
///
/// Determinism across N (tested in Tests/DetectorTests/Engine): for one N and one batch shape
/// every result is reproducible to the bit, because the partition depends on N and the shape
/// only (never on timing: chunk p always covers the same rows, whichever thread runs it). Across
/// N, inference (`forward(training: false)`) and the input gradients of the convolutions are the
/// same to the bit: each output value is computed by one thread, in the same order, whatever the
/// partition. Reductions over per-part partial sums are not: weight and bias gradients, and the
/// batch statistics of batch norm in training (so its training forward and its backward), are
/// summed in an order that depends on N and differ by rounding (relative 1e-6 or so).
public enum Engine {
    /// The thread counts the engine accepts.
    public static let threadCountRange = 1...256
    /// Upper bound of N, and of the chunk index a parallel loop hands out.
    public static var maximumThreadCount: Int { threadCountRange.upperBound }
    /// The environment variable that sets the default thread count.
    public static let environmentVariable = "DETECTOR_THREADS"

    /// The thread count parallel loops started on this task or thread use now: the count of the
    /// innermost `withThreadCount` block, else the process-wide count (which this fixes).
    public static var threadCount: Int { scopedThreadCount ?? processThreadCount() }

    /// Sets the process-wide thread count. Call it before any network runs: once a parallel
    /// loop has read the count it is fixed, and another value throws `.threadCountFixed`
    /// (the same value is accepted). Out-of-range values throw `.threadCountOutOfRange`.
    public static func setThreadCount(_ count: Int) throws(EngineError) {
        guard threadCountRange.contains(count) else { throw .threadCountOutOfRange(count, source: "the thread count") }
        var word = state.load(ordering: .acquiring)
        while true {
            if word & frozenBit != 0 {
                let current = word >> 1
                if current == count { return }
                throw .threadCountFixed(current: current, requested: count)
            }
            let (exchanged, original) = state.compareExchange(expected: word, desired: count << 1, ordering: .acquiringAndReleasing)
            if exchanged { return }
            word = original
        }
    }

    /// Runs `body` with `count` threads for the parallel loops it starts on the current task
    /// (or thread, outside a task), whatever the process-wide count; other tasks and threads are
    /// not affected. `count` must be in `threadCountRange` (a programming error otherwise).
    public static func withThreadCount<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        precondition(threadCountRange.contains(count), "thread count \(count) outside \(threadCountRange)")
        return try $scopedThreadCount.withValue(count, operation: body)
    }

    /// The count without `setThreadCount`: `DETECTOR_THREADS` when it holds a valid count, else
    /// `availableProcessorCount`.
    public static var defaultThreadCount: Int {
        (try? threadCount(environment: ProcessInfo.processInfo.environment)) ?? availableProcessorCount
    }

    /// `DETECTOR_THREADS` of `environment` as a thread count: nil when unset, an error naming
    /// the variable when it is not an integer in `threadCountRange` (surrounding spaces allowed).
    public static func threadCount(environment: [String: String]) throws(EngineError) -> Int? {
        guard let text = environment[environmentVariable] else { return nil }
        return try parseThreadCount(text, source: environmentVariable)
    }

    /// `text` as a thread count, or an error naming `source` (an option or a variable).
    public static func parseThreadCount(_ text: String, source: String) throws(EngineError) -> Int {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else { throw .threadCountNotANumber(text, source: source) }
        guard threadCountRange.contains(value) else { throw .threadCountOutOfRange(value, source: source) }
        return value
    }

    /// The CPUs this process may run on: the bits of its `sched_getaffinity` mask, else (no such
    /// call, or an error) the online processors; at least 1, at most `maximumThreadCount`.
    public static var availableProcessorCount: Int {
        let affinity = affinityCPUCount()
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        let count = affinity ?? (online > 0 ? online : 1)
        return min(max(count, 1), maximumThreadCount)
    }

    // MARK: - State

    /// The innermost `withThreadCount` of this task or thread.
    @TaskLocal static var scopedThreadCount: Int?

    /// The image lane this thread runs (`ImageLanes`: several threads running the same steps at
    /// once, each with one thread), nil outside one. `Workspace` gives each lane its own slot.
    @TaskLocal static var lane: Int?

    /// Runs `body` as lane `lane` (with `withThreadCount(1)` around the steps it runs).
    static func withLane<R>(_ lane: Int, _ body: () throws -> R) rethrows -> R {
        precondition(lane >= 0 && lane < maximumThreadCount, "lane \(lane) outside 0..<\(maximumThreadCount)")
        return try $lane.withValue(lane, operation: body)
    }

    /// count << 1 | frozen; 0 until the count is set or first read.
    private static let state = Atomic<Int>(0)
    private static let frozenBit = 1

    /// The process-wide count, fixed by this read: the set count, else the default.
    static func processThreadCount() -> Int {
        var word = state.load(ordering: .acquiring)
        while word & frozenBit == 0 {
            let count = word == 0 ? defaultThreadCount : word >> 1
            let (exchanged, original) = state.compareExchange(expected: word, desired: count << 1 | frozenBit, ordering: .acquiringAndReleasing)
            if exchanged { return count }
            word = original
        }
        return word >> 1
    }

    /// The popcount of `sched_getaffinity(0, ...)`, looked up by name: Glibc's Swift module does
    /// not export it (it is a _GNU_SOURCE declaration).
    private static func affinityCPUCount() -> Int? {
        typealias GetAffinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getaffinity") else { return nil }
        let getAffinity = unsafeBitCast(symbol, to: GetAffinity.self)
        // 4096 CPUs' worth of mask: the call fails with EINVAL when the kernel's mask is longer.
        var mask = [UInt64](repeating: 0, count: 64)
        let result = mask.withUnsafeMutableBytes { getAffinity(0, $0.count, $0.baseAddress!) }
        guard result == 0 else { return nil }
        let count = mask.reduce(0) { $0 + $1.nonzeroBitCount }
        return count > 0 ? count : nil
    }
}

/// A thread count that cannot be used.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    /// `source` (an option, a variable) gave a count outside `Engine.threadCountRange`.
    case threadCountOutOfRange(Int, source: String)
    /// `source` gave something that is not an integer.
    case threadCountNotANumber(String, source: String)
    /// The process-wide count was already fixed by a running engine.
    case threadCountFixed(current: Int, requested: Int)

    public var description: String {
        let range = "\(Engine.threadCountRange.lowerBound) to \(Engine.threadCountRange.upperBound)"
        switch self {
        case let .threadCountOutOfRange(value, source): return "\(source) must be \(range) threads (got \(value))"
        case let .threadCountNotANumber(text, source): return "\(source) must be an integer from \(range) (got \"\(text)\")"
        case let .threadCountFixed(current, requested):
            return "the engine already runs with \(current) threads; \(requested) must be set before the first network runs"
        }
    }
}
