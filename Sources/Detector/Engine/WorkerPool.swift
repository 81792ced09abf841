import Foundation
import Synchronization

/// The engine's threads: the caller of a parallel loop and up to `Engine.maximumThreadCount` − 1
/// kept workers, started on first use and kept for the process.
///
/// A job is `count` chunks of one body. Chunks are claimed, not assigned: the caller and every
/// worker take the next unclaimed chunk with one atomic add until none is left, so a worker that
/// the OS has not scheduled yet (more runnable threads than cores, e.g. while other programs run)
/// holds nothing up: the caller runs its chunks itself. Which thread runs a chunk never changes
/// what the chunk computes (chunk p always covers the same data), so results do not depend on it.
///
/// Waiting, on both sides, spins briefly and then parks on a condition variable. After a job a
/// worker polls for the next one for `workerSpinPolls` loads (about 20 µs here: a forward pass
/// starts its next layer within that, and a parked worker costs a wake-up of ~5–50 µs), then
/// sleeps. A caller whose chunks are done while a worker still runs one polls `callerSpinPolls`
/// loads (a few µs), then sleeps until the last chunk's thread signals. The thread this replaces
/// (`WorkerPair`) spun unboundedly in the caller, which under oversubscription burnt the rest of
/// a time slice (milliseconds) every time the worker was descheduled.
///
/// The job word packs generation (high 32 bits), chunk count (16 bits) and next chunk (16 bits).
/// The caller publishes a job by storing a new generation with count and next = 0 (after
/// writing `job` and `remaining`); a claim is `word += 1` and owns chunk `next` of the word's
/// generation when next < count. A thread that read generation g but whose add lands after the
/// next job's store has claimed a chunk of that next job, which is as good: it runs what the
/// word says, and the caller of a job returns only after `remaining` reaches 0, so `job` is stable
/// while any of its chunks can run. Each thread fails at most one claim per generation, so
/// `next` stays below 2^16 for count ≤ `maximumChunks`.
///
/// Sleeping is race-free (a Dekker pair, all four accesses sequentially consistent): a worker
/// counts itself in `sleepers` and re-checks the word under the mutex before waiting, and a
/// caller that stored a new word and then sees sleepers signals under the same mutex; likewise
/// `callerParked` and `remaining` for the caller's wait.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()
    /// The largest job the pool takes (larger ones go to Dispatch).
    static let maximumChunks = 4096
    static let workerSpinPolls = 20_000
    static let callerSpinPolls = 4_000

    private let word = Atomic<UInt64>(0)
    private let remaining = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    private let callerParked = Atomic<Bool>(false)
    /// The running job's body; written only by the caller that holds `busy`, between jobs.
    private var job: ((Int) -> Void)?
    /// The last generation published; the caller's (under `busy`).
    private var generation: UInt64 = 0
    /// Workers started; the caller's (under `busy`).
    private var started = 0
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workPosted = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let jobDone = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(workPosted, nil)
        pthread_cond_init(jobDone, nil)
    }

    /// Runs `body(chunk)` for every chunk in 0..<count on this thread and up to count − 1
    /// workers, returning when all are done; false (nothing run) when the pool is running
    /// another job (a nested or concurrent loop) or count is outside 2...maximumChunks.
    func run(_ count: Int, _ body: (Int) -> Void) -> Bool {
        guard count >= 2, count <= Self.maximumChunks,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        startWorkers(min(count, Engine.maximumThreadCount) - 1)
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            remaining.store(count, ordering: .relaxed)
            generation &+= 1
            word.store(generation << 32 | UInt64(count) << 16, ordering: .sequentiallyConsistent)
            wake(count - 1)
            while true {
                let old = word.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
                let next = Int(old & 0xffff)
                guard next < count else { break }
                escapable(next)
                remaining.subtract(1, ordering: .sequentiallyConsistent)
            }
            waitForChunks()
            job = nil
        }
        busy.store(false, ordering: .releasing)
        return true
    }

    private func startWorkers(_ wanted: Int) {
        while started < wanted {
            let seen = generation
            let thread = Thread { [unowned self] in self.workerLoop(seen: seen) }
            thread.name = "detector-worker-\(started + 1)"
            thread.start()
            started += 1
        }
    }

    private func wake(_ wanted: Int) {
        let asleep = sleepers.load(ordering: .sequentiallyConsistent)
        guard asleep > 0 else { return }
        pthread_mutex_lock(mutex)
        for _ in 0..<min(wanted, asleep) { pthread_cond_signal(workPosted) }
        pthread_mutex_unlock(mutex)
    }

    private func waitForChunks() {
        var polls = 0
        while remaining.load(ordering: .acquiring) != 0 {
            polls += 1
            if polls < Self.callerSpinPolls { continue }
            pthread_mutex_lock(mutex)
            callerParked.store(true, ordering: .sequentiallyConsistent)
            while remaining.load(ordering: .sequentiallyConsistent) != 0 { pthread_cond_wait(jobDone, mutex) }
            callerParked.store(false, ordering: .sequentiallyConsistent)
            pthread_mutex_unlock(mutex)
        }
    }

    /// `seen`: the last generation this worker has taken part in (or was started after).
    private func workerLoop(seen start: UInt64) {
        var seen = start
        while true {
            var polls = 0
            while word.load(ordering: .acquiring) >> 32 == seen {
                polls += 1
                if polls < Self.workerSpinPolls { continue }
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while word.load(ordering: .sequentiallyConsistent) >> 32 == seen { pthread_cond_wait(workPosted, mutex) }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
                polls = 0
            }
            while true {
                let old = word.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
                guard old & 0xffff < (old >> 16) & 0xffff else { seen = old >> 32; break }
                runChunk(Int(old & 0xffff))
                if remaining.subtract(1, ordering: .sequentiallyConsistent).newValue == 0,
                   callerParked.load(ordering: .sequentiallyConsistent) {
                    pthread_mutex_lock(mutex)
                    pthread_cond_signal(jobDone)
                    pthread_mutex_unlock(mutex)
                }
            }
        }
    }

    /// Not inlined so that this thread's copy of the closure is released before the chunk is
    /// counted done (`withoutActuallyEscaping` checks that no copy outlives the caller's call).
    @inline(never)
    private func runChunk(_ chunk: Int) { job!(chunk) }
}
