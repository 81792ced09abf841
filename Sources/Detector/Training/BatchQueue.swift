import Foundation

/// Training batches made ahead on a background thread while the current one computes: a
/// bounded queue (`depth` batches ahead) between one producer and one consumer, in which the
/// consumer makes a batch itself when the producer has not started it yet.
///
/// Contract:
/// - each position of `positions` is made exactly once, by `make(position, buffer, byConsumer)`,
///   into one of `depth + 1` buffers of `floatsPerBatch` floats that the queue owns (every
///   float is `make`'s to write), and `next()` returns them in order. What a batch holds is
///   whatever `make` computes for its position, whoever makes it: nothing depends on timing
///   unless `make` does (the trainer's batches are a function of (seed, epoch, image index),
///   see `TrainingBatchMaker`);
/// - the producer thread claims positions in order and makes them (`byConsumer` false). It
///   runs at the lowest scheduling priority (nice 19, on Linux a per-thread value), so that it
///   takes the cores only when the step leaves them idle instead of slowing the step down;
/// - a `next()` whose batch is neither made nor claimed claims and makes it on the calling
///   thread (`byConsumer` true: the step is waiting, every core may be used), so a producer
///   starved by a busy machine never makes training slower than making each batch in its step;
/// - the batch `next()` returns (its `input` buffer) is the consumer's until the following
///   `next()` or `stop()`, then goes back for refilling: at most `depth` batches are made ahead,
///   and memory is `depth + 1` batches;
/// - an error thrown by `make` is thrown by the `next()` that reaches its position, after the
///   batches before it; then the producer stops (having made at most `depth` batches beyond),
///   and `next()` returns nil;
/// - `stop()` (also called when the queue is released) asks the producer to end, waits for the
///   batch it is making to finish, and returns once the producer is done: no work outlives the
///   queue. Stopping early (a time limit, an error in the step) is the same call.
final class BatchQueue<Labels>: @unchecked Sendable {
    /// One made batch: its position in `positions`, the `floatsPerBatch` input floats and what
    /// `make` returned (the labels).
    struct Batch {
        var position: Int
        var input: UnsafeMutablePointer<Float>
        var labels: Labels
    }

    typealias Make = (_ position: Int, _ input: UnsafeMutablePointer<Float>, _ byConsumer: Bool) throws -> Labels

    /// The state shared with the producer thread (held by the thread's closure, so that the
    /// handle's deinit can stop it). Every field under `condition`.
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        let end: Int
        /// The next position nobody has claimed.
        var unclaimed: Int
        /// The position the consumer's next `next()` returns.
        var wanted: Int
        /// Buffers neither being filled, nor ready, nor lent to the consumer.
        var free: [UnsafeMutablePointer<Float>] = []
        /// Batches the producer made, in order, not yet taken.
        var ready: [(position: Int, input: UnsafeMutablePointer<Float>, labels: Result<Labels, Error>)] = []
        /// The buffer of the batch the consumer holds.
        var lent: UnsafeMutablePointer<Float>? = nil
        /// `stop()`, or an error was thrown: nothing more is claimed or returned.
        var cancelled = false
        /// The producer has returned (all claimed, an error, or cancelled).
        var finished = false
        var all: [UnsafeMutablePointer<Float>] = []
        init(_ positions: Range<Int>) { unclaimed = positions.lowerBound; wanted = positions.lowerBound; end = positions.upperBound }
        deinit { for buffer in all { buffer.deallocate() } }
    }

    private let shared: Shared
    private let make: Make
    /// The batches made ahead at most.
    let depth: Int

    /// Starts the producer thread. `depth` ≥ 1. `threads`, when given, counts the producer from
    /// before its thread starts until it is done (before `stop()` returns).
    init(positions: Range<Int>, depth: Int, floatsPerBatch: Int, threads: ThreadCount? = nil, make: @escaping Make) {
        precondition(depth >= 1 && floatsPerBatch >= 0, "a batch queue needs depth >= 1")
        self.depth = depth
        self.make = make
        let shared = Shared(positions)
        self.shared = shared
        shared.all = (0...depth).map { _ in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, floatsPerBatch))
            buffer.initialize(repeating: 0, count: max(1, floatsPerBatch))
            return buffer
        }
        shared.free = shared.all
        threads?.threadStarted()
        let thread = Thread {
            #if os(Linux)
            // who = 0 is the calling thread on Linux (nice values are per thread there).
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
            #endif
            BatchQueue.produce(shared: shared, threads: threads, make: make)
        }
        thread.name = "detector-batches"
        thread.start()
    }

    deinit { stop() }

    private static func produce(shared: Shared, threads: ThreadCount?, make: Make) {
        let condition = shared.condition
        while true {
            condition.lock()
            while shared.free.isEmpty && !shared.cancelled && shared.unclaimed < shared.end { condition.wait() }
            guard !shared.cancelled, shared.unclaimed < shared.end else { condition.unlock(); break }
            let position = shared.unclaimed
            shared.unclaimed += 1
            let buffer = shared.free.removeLast()
            condition.unlock()
            let labels = Result { try make(position, buffer, false) }
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

    /// The next batch in order: the producer's when made, made here when nobody has claimed it
    /// yet, else waited for; nil after the last (or after `stop()` or an error). Hands the
    /// previous batch's buffer back first. Throws `make`'s error at its position.
    func next() throws -> Batch? {
        let condition = shared.condition
        condition.lock()
        defer { condition.unlock() }
        if let lent = shared.lent {
            shared.free.append(lent)
            shared.lent = nil
            condition.broadcast()
        }
        // The batch at `position` in `input`, or `make`'s error, which cancels the queue.
        func handOver(_ position: Int, _ input: UnsafeMutablePointer<Float>, _ labels: Result<Labels, Error>) throws -> Batch {
            do {
                return Batch(position: position, input: input, labels: try labels.get())
            } catch {
                shared.cancelled = true
                condition.broadcast()
                throw error
            }
        }
        while true {
            guard !shared.cancelled, shared.wanted < shared.end else { return nil }
            if let first = shared.ready.first, first.position == shared.wanted {
                shared.ready.removeFirst()
                shared.wanted += 1
                shared.lent = first.input
                return try handOver(first.position, first.input, first.labels)
            }
            if shared.unclaimed == shared.wanted, let buffer = shared.free.popLast() {
                // Nobody has started it (and so nothing after it is ready): made here.
                let position = shared.wanted
                shared.unclaimed += 1
                shared.wanted += 1
                shared.lent = buffer
                condition.unlock()
                let labels = Result { try make(position, buffer, true) }
                condition.lock()
                return try handOver(position, buffer, labels)
            }
            condition.wait()
        }
    }

    /// Ends the producer (after the batch it is making) and waits until it is done.
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
