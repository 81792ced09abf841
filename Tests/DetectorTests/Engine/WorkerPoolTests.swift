import Foundation
import Synchronization
import Testing
@testable import Detector

/// The engine's parallel loops and its thread-count setting.
@Suite struct WorkerPoolTests {
    /// Every chunk runs exactly once, for jobs smaller and larger than the thread count, on the
    /// pool (2 to 4096 chunks) and past it (Dispatch).
    @Test(arguments: [0, 1, 2, 3, 7, 64, 4096, 5000])
    func everyChunkRunsOnce(count: Int) {
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
        hits.initialize(repeating: 0, count: max(count, 1))
        defer { hits.deallocate() }
        for threads in [1, 2, 3] {
            Engine.withThreadCount(threads) {
                for round in 1...50 {
                    parallelFor(count) { hits[$0] += 1 }
                    #expect((0..<count).allSatisfy { hits[$0] == round }, "count \(count), round \(round)")
                }
                for i in 0..<count { hits[i] = 0 }
            }
        }
    }

    /// `parallelRanges` covers 0..<total exactly once, in `partCount` parts numbered below it,
    /// part p being total·p/n ..< total·(p+1)/n.
    @Test(arguments: [(0, 1), (1, 1), (5, 1), (100, 7), (1000, 64), (10_000, 256)])
    func rangesPartitionTheTotal(total: Int, minimumPerPart: Int) {
        for threads in [1, 2, 3, 8] {
            let n = partCount(total, parts: threads, minimumPerPart: minimumPerPart)
            #expect(n == max(1, min(threads, total / minimumPerPart)))
            let seen = Mutex([(Int, Range<Int>)]())
            parallelRanges(total, parts: threads, minimumPerPart: minimumPerPart) { part, range in
                seen.withLock { $0.append((part, range)) }
            }
            let parts = seen.withLock { $0 }.sorted { $0.0 < $1.0 }
            #expect(parts.allSatisfy { $0.0 < n })
            #expect(parts.flatMap { Array($0.1) } == Array(0..<total))
            for (p, range) in parts where n > 1 { #expect(range == total * p / n ..< total * (p + 1) / n) }
        }
    }

    /// A loop inside a loop's chunk (the pool is busy: Dispatch) and loops started from several
    /// threads at once (one gets the pool, the others Dispatch) still run every chunk once.
    @Test func nestedAndConcurrentLoops() {
        let total = Atomic<Int>(0)
        Engine.withThreadCount(3) {
            parallelFor(3) { _ in parallelFor(4) { _ in total.add(1, ordering: .relaxed) } }
        }
        #expect(total.load(ordering: .relaxed) == 12)
        let sums = Mutex([Int]())
        DispatchQueue.concurrentPerform(iterations: 4) { caller in
            var sum = 0
            for _ in 0..<200 {
                let part = UnsafeMutablePointer<Int>.allocate(capacity: 3)
                part.initialize(repeating: 0, count: 3)
                parallelFor(3) { p in part[p] = (caller + 1) * (p + 1) }
                sum += part[0] + part[1] + part[2]
                part.deallocate()
            }
            sums.withLock { $0.append(sum / 200 / (caller + 1)) }
        }
        #expect(sums.withLock { $0 } == [6, 6, 6, 6])
    }

    /// Work runs on other threads when there are several (the pool is really used).
    @Test func chunksRunOnSeveralThreads() {
        let threads = Mutex(Set<String>())
        Engine.withThreadCount(2) {
            for _ in 0..<200 {
                parallelFor(2) { _ in
                    let spin = Date().addingTimeInterval(0.0002)
                    while Date() < spin {}
                    threads.withLock { _ = $0.insert("\(pthread_self())") }
                }
            }
        }
        #expect(threads.withLock { $0.count } >= 2)
    }

    @Test func workspaceHasASlotForEveryPart() {
        let workspace = Workspace()
        let first = workspace.buffer(0, count: 10)
        let last = workspace.buffer(Engine.maximumThreadCount - 1, count: 10)
        #expect(first != last)
        first[9] = 1; last[9] = 2
        #expect(workspace.buffer(0, count: 5) == first && first[9] == 1)
    }
}

@Suite struct EngineThreadCountTests {
    @Test func parsesCountsAndNamesTheSource() throws {
        #expect(try Engine.parseThreadCount("3", source: "--threads") == 3)
        #expect(try Engine.parseThreadCount(" 256 ", source: "X") == 256)
        #expect(throws: EngineError.threadCountOutOfRange(0, source: "--threads")) { try Engine.parseThreadCount("0", source: "--threads") }
        #expect(throws: EngineError.threadCountOutOfRange(300, source: "--threads")) { try Engine.parseThreadCount("300", source: "--threads") }
        #expect(throws: EngineError.threadCountNotANumber("abc", source: "DETECTOR_THREADS")) { try Engine.parseThreadCount("abc", source: "DETECTOR_THREADS") }
        #expect(EngineError.threadCountOutOfRange(0, source: "--threads").description == "--threads must be 1 to 256 threads (got 0)")
        #expect(try Engine.threadCount(environment: [:]) == nil)
        #expect(try Engine.threadCount(environment: ["DETECTOR_THREADS": "5"]) == 5)
        #expect(throws: EngineError.threadCountNotANumber("", source: "DETECTOR_THREADS")) { try Engine.threadCount(environment: ["DETECTOR_THREADS": ""]) }
    }

    /// The processors this process may use, counted independently from /proc/self/status.
    @Test func availableProcessorsFollowTheAffinityMask() throws {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        let list = line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)
        let count = list.split(separator: ",").reduce(0) { sum, item in
            let ends = item.split(separator: "-").compactMap { Int($0) }
            return sum + (ends.count == 2 ? ends[1] - ends[0] + 1 : 1)
        }
        #expect(Engine.availableProcessorCount == min(count, Engine.maximumThreadCount))
    }

    /// A scoped count applies on its task only; the process-wide count, once a loop has read
    /// it, is fixed (the same value is accepted, another refused, out-of-range refused first).
    @Test func scopedAndFixedCounts() throws {
        let process = Engine.processThreadCount()
        #expect(Engine.threadCount == process)
        Engine.withThreadCount(3) {
            #expect(Engine.threadCount == 3)
            Engine.withThreadCount(1) { #expect(Engine.threadCount == 1) }
            let other = Mutex(0)
            let thread = Thread { other.withLock { $0 = Engine.threadCount } }
            thread.start()
            while thread.isExecuting || !thread.isFinished { usleep(1000) }
            #expect(other.withLock { $0 } == process)
        }
        try Engine.setThreadCount(process)
        let another = process == 1 ? 2 : 1
        #expect(throws: EngineError.threadCountFixed(current: process, requested: another)) { try Engine.setThreadCount(another) }
        #expect(throws: EngineError.threadCountOutOfRange(0, source: "the thread count")) { try Engine.setThreadCount(0) }
        #expect(Engine.threadCount == process)
    }
}
