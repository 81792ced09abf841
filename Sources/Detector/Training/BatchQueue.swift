import Foundation

/// Training batches made ahead on a background thread while the current one computes: a
/// bounded queue (`depth` batches ahead) between one producer and one consumer.
///
/// Contract:
/// - the producer thread calls `make(position, buffer)` for each position of `positions` in
///   order, each into one of `depth + 1` buffers of `floatsPerBatch` floats that the queue
///   owns (every float of the batch is the producer's to write); `next()` returns them in the
///   same order. What a batch holds is therefore whatever `make` computes for its position:
///   nothing depends on timing unless `make` does (the trainer's batches are a function of
///   (seed, epoch, image index), see `TrainingBatchMaker`);
/// - the batch `next()` returns (its `input` buffer) is the consumer's until the following
///   `next()` or `stop()`: then it is handed back for the producer to refill, so at most
///   `depth` batches are made ahead and memory is `depth + 1` batches;
/// - an error thrown by `make` is thrown by the `next()` that reaches its position, after the
///   batches before it; the producer makes nothing after it;
/// - `stop()` (also called when the queue is released) asks the producer to end, waits for the
///   batch it is making to finish, and returns once the thread has exited: no thread or buffer
///   outlives the queue. Stopping early (a time limit, an error in the step) is the same call.
final class BatchQueue<Labels>: @unchecked Sendable {
    /// One made batch: its position in `positions`, the `floatsPerBatch` input floats and what
    /// `make` returned (the labels).
    struct Batch {
        var position: Int
        var input: UnsafeMutablePointer<Float>
        var labels: Labels
    }

    /// The state shared with the producer thread (held by the thread's closure, so that the
    /// handle's deinit can stop it).
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        /// Buffers neither being filled, nor ready, nor lent to the consumer.
        var free: [UnsafeMutablePointer<Float>] = []
        /// Made batches in order, not yet taken.
        var ready: [(position: Int, input: UnsafeMutablePointer<Float>, labels: Result<Labels, Error>)] = []
        /// The buffer of the batch the consumer holds.
        var lent: UnsafeMutablePointer<Float>? = nil
        var cancelled = false
        /// The producer has returned (all made, an error, or cancelled).
        var finished = false
        var all: [UnsafeMutablePointer<Float>] = []
        deinit { for buffer in all { buffer.deallocate() } }
    }

    private let shared = Shared()
    /// The batches made ahead at most.
    let depth: Int

    /// Starts the producer thread. `depth` ≥ 1. `threads`, when given, counts the producer from
    /// before its thread starts until its last batch is made (before `stop()` returns).
    init(positions: Range<Int>, depth: Int, floatsPerBatch: Int, threads: ThreadCount? = nil,
         make: @escaping (_ position: Int, _ input: UnsafeMutablePointer<Float>) throws -> Labels) {
        precondition(depth >= 1 && floatsPerBatch >= 0, "a batch queue needs depth >= 1")
        self.depth = depth
        let shared = self.shared
        shared.all = (0...depth).map { _ in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, floatsPerBatch))
            buffer.initialize(repeating: 0, count: max(1, floatsPerBatch))
            return buffer
        }
        shared.free = shared.all
        threads?.threadStarted()
        let thread = Thread {
            BatchQueue.produce(positions, shared: shared, threads: threads, make: make)
        }
        thread.name = "detector-batches"
        thread.start()
    }

    deinit { stop() }

    private static func produce(_ positions: Range<Int>, shared: Shared, threads: ThreadCount?,
                                make: (Int, UnsafeMutablePointer<Float>) throws -> Labels) {
        let condition = shared.condition
        for position in positions {
            condition.lock()
            while shared.free.isEmpty && !shared.cancelled { condition.wait() }
            if shared.cancelled { condition.unlock(); break }
            let buffer = shared.free.removeLast()
            condition.unlock()
            let labels = Result { try make(position, buffer) }
            condition.lock()
            shared.ready.append((position, buffer, labels))
            condition.broadcast()
            condition.unlock()
            if case .failure = labels { break }
        }
        condition.lock()
        // Counted out before `stop()` can see `finished`: once it returns, the count is down.
        threads?.threadExited()
        shared.finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch in order, waiting for it if it is not made yet; nil after the last (or
    /// after `stop()`). Hands the previous batch's buffer back first. Throws `make`'s error at
    /// its position.
    func next() throws -> Batch? {
        let condition = shared.condition
        condition.lock()
        defer { condition.unlock() }
        if let lent = shared.lent {
            shared.free.append(lent)
            shared.lent = nil
            condition.broadcast()
        }
        while shared.ready.isEmpty && !shared.finished && !shared.cancelled { condition.wait() }
        guard !shared.cancelled, !shared.ready.isEmpty else { return nil }
        let item = shared.ready.removeFirst()
        shared.lent = item.input
        return Batch(position: item.position, input: item.input, labels: try item.labels.get())
    }

    /// Ends the producer (after the batch it is making) and waits until its thread has exited.
    /// Idempotent; `next()` returns nil afterwards.
    func stop() {
        let condition = shared.condition
        condition.lock()
        shared.cancelled = true
        condition.broadcast()
        while !shared.finished { condition.wait() }
        condition.unlock()
    }

}

/// Threads started and running, for checking that every producer ended (`BatchQueue`).
final class ThreadCount: @unchecked Sendable {
    private let lock = NSLock()
    private var counts = (started: 0, running: 0)
    var startedCount: Int { lock.withLock { counts.started } }
    var runningCount: Int { lock.withLock { counts.running } }
    func threadStarted() { lock.withLock { counts.started += 1; counts.running += 1 } }
    func threadExited() { lock.withLock { counts.running -= 1 } }
}
