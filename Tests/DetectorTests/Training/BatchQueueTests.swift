import Foundation
import Testing
@testable import Detector

/// The batch queue alone: order and contents, the depth bound, errors, stopping early and on
/// release (the producer thread always ends, and nothing is made after).
@Suite struct BatchQueueTests {
    /// Counts calls of the producer and how far it got ahead of the consumer.
    final class Log: @unchecked Sendable {
        let lock = NSLock()
        var made: [Int] = []
        var taken = 0
        var largestLead = 0
        func make(_ position: Int) { lock.withLock { made.append(position); largestLead = max(largestLead, made.count - taken) } }
        func take() { lock.withLock { taken += 1 } }
        var madeCount: Int { lock.withLock { made.count } }
    }

    /// Every float of batch `position` is position · 1000 + offset (so the buffers' reuse shows).
    static func fill(_ position: Int, _ buffer: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { buffer[i] = Float(position * 1000 + i) }
    }

    @Test(arguments: [1, 2]) func batchesComeInOrderAndAtMostDepthAhead(depth: Int) throws {
        let log = Log(), threads = ThreadCount()
        let floats = 37
        let queue = BatchQueue<String>(positions: 3..<23, depth: depth, floatsPerBatch: floats, threads: threads) { p, buffer, _ in
            log.make(p)
            Self.fill(p, buffer, count: floats)
            return "batch \(p)"
        }
        var seen: [Int] = []
        while let batch = try queue.next() {
            log.take()
            #expect(batch.labels == "batch \(batch.position)")
            #expect((0..<floats).allSatisfy { batch.input[$0] == Float(batch.position * 1000 + $0) }, "batch \(batch.position)")
            seen.append(batch.position)
            Thread.sleep(forTimeInterval: 0.002)  // a slow consumer: the producer fills the queue and waits
        }
        #expect(seen == Array(3..<23))
        #expect(log.made.sorted() == Array(3..<23), "each made once")
        // Made while the consumer holds one: at most `depth` not yet taken, plus the one held.
        #expect(log.largestLead <= depth + 1)
        #expect(try queue.next() == nil)
        queue.stop()
        #expect(threads.startedCount == 1 && threads.runningCount == 0)
    }

    struct Failure: Error, Equatable { var position: Int }

    /// An error at position 5: batches 0–4 first, then the error, then nothing; the producer
    /// has ended, having made at most `depth` batches beyond it.
    @Test func anErrorComesAtItsPositionAndEndsTheProducer() throws {
        let log = Log(), threads = ThreadCount()
        let queue = BatchQueue<Int>(positions: 0..<50, depth: 2, floatsPerBatch: 4, threads: threads) { p, _, _ in
            log.make(p)
            if p == 5 { throw Failure(position: p) }
            return p
        }
        for expected in 0..<5 { #expect(try queue.next()?.labels == expected) }
        #expect(throws: Failure(position: 5)) { try queue.next() }
        #expect(try queue.next() == nil)
        queue.stop()
        #expect(log.made.sorted().prefix(6) == [0, 1, 2, 3, 4, 5] && log.made.count <= 6 + 2)
        #expect(Set(log.made).count == log.made.count, "each made once")
        #expect(threads.runningCount == 0)
    }

    /// Stopping after two batches of 1000 (a time limit, an error in the step): stop returns
    /// with the producer ended, having made at most depth + 1 more than taken.
    @Test func stoppingEarlyEndsTheProducer() throws {
        let log = Log(), threads = ThreadCount()
        let queue = BatchQueue<Int>(positions: 0..<1000, depth: 2, floatsPerBatch: 4, threads: threads) { p, _, _ in
            log.make(p)
            return p
        }
        _ = try queue.next()
        _ = try queue.next()
        queue.stop()
        #expect(threads.runningCount == 0)
        let made = log.madeCount
        #expect(made >= 2 && made <= 2 + 2 + 1)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(log.madeCount == made, "nothing made after stop")
        #expect(try queue.next() == nil)
        queue.stop()  // idempotent
    }

    /// A queue released without `stop` (the consumer threw): its deinit stops the producer, which
    /// was waiting for a free buffer.
    @Test func releasingTheQueueEndsTheProducer() throws {
        let log = Log(), threads = ThreadCount()
        do {
            let queue = BatchQueue<Int>(positions: 0..<1000, depth: 1, floatsPerBatch: 4, threads: threads) { p, _, _ in
                log.make(p)
                return p
            }
            _ = try queue.next()
            Thread.sleep(forTimeInterval: 0.02)  // the producer is now blocked on a full queue
        }
        #expect(threads.startedCount == 1 && threads.runningCount == 0)
        #expect(log.madeCount <= 3)
    }

    /// A producer that is slow (a busy machine): the consumer makes the batches nobody has
    /// started itself, each position exactly once and in order, with the same contents.
    @Test func theConsumerMakesWhatTheProducerHasNotStarted() throws {
        final class Makers: @unchecked Sendable {
            let lock = NSLock()
            var byConsumer: [Int] = [], byProducer: [Int] = []
        }
        let makers = Makers()
        let queue = BatchQueue<Int>(positions: 0..<12, depth: 1, floatsPerBatch: 3) { p, buffer, byConsumer in
            if !byConsumer { Thread.sleep(forTimeInterval: 0.03) }
            makers.lock.withLock { if byConsumer { makers.byConsumer.append(p) } else { makers.byProducer.append(p) } }
            Self.fill(p, buffer, count: 3)
            return p
        }
        var seen: [Int] = []
        while let batch = try queue.next() {
            #expect(batch.labels == batch.position && (0..<3).allSatisfy { batch.input[$0] == Float(batch.position * 1000 + $0) })
            seen.append(batch.position)
        }
        queue.stop()
        #expect(seen == Array(0..<12))
        #expect(!makers.byConsumer.isEmpty, "the fast consumer did not wait for every batch")
        #expect((makers.byConsumer + makers.byProducer).sorted() == Array(0..<12), "each made once")
    }

    /// A slow batch, whoever makes it: the consumer waits for the producer's (no busy loop, no
    /// lost wake-up) or makes its own.
    @Test func slowBatchesAreWaitedFor() throws {
        let queue = BatchQueue<Int>(positions: 0..<5, depth: 2, floatsPerBatch: 1) { p, _, _ in
            Thread.sleep(forTimeInterval: 0.01)
            return p * p
        }
        var squares: [Int] = []
        while let batch = try queue.next() { squares.append(batch.labels) }
        #expect(squares == [0, 1, 4, 9, 16])
    }
}
