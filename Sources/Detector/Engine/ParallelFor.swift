import Dispatch

/// Runs `body(chunk)` for chunks 0..<count, in parallel on the engine's threads (serially for a
/// single chunk). The chunks go to `WorkerPool` when it is free, else (a loop nested in another,
/// or another thread's network running at the same time) to Dispatch. Either way chunk p does
/// the same work, so the results do not depend on which path or thread ran it.
@inline(__always)
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 {
        for i in 0..<count { body(i) }
    } else if WorkerPool.shared.run(count, body) {
        return
    } else {
        // concurrentPerform wants a @Sendable closure; the bodies here capture raw pointers into
        // disjoint ranges of buffers (each chunk writes only its own part), which the compiler
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

/// Splits 0..<total into `partCount(total, parts:minimumPerPart:)` contiguous ranges, part p
/// being total·p/n ..< total·(p+1)/n, and runs `body(part, range)` for them in parallel; `part`
/// numbers the ranges from 0 (below `parts`), so a part can own a private workspace slot or
/// partial sum. The partition depends on the arguments only.
@inline(__always)
func parallelRanges(_ total: Int, parts: Int = Engine.threadCount, minimumPerPart: Int = 1,
                    _ body: (_ worker: Int, _ range: Range<Int>) -> Void) {
    let n = partCount(total, parts: parts, minimumPerPart: minimumPerPart)
    if n <= 1 { body(0, 0..<total); return }
    parallelFor(n) { p in
        let lo = total * p / n, hi = total * (p + 1) / n
        if lo < hi { body(p, lo..<hi) }
    }
}

/// How many ranges `parallelRanges` uses for these arguments: min(parts, total / minimumPerPart),
/// at least 1. A layer that sizes per-part buffers calls this with the same arguments (and the
/// same thread count: `Engine.threadCount` does not change within one layer call, see `Engine`).
@inline(__always)
func partCount(_ total: Int, parts: Int = Engine.threadCount, minimumPerPart: Int = 1) -> Int {
    max(1, min(parts, total / max(minimumPerPart, 1)))
}
