/// A scratch buffer per part of a parallel loop (`parallelRanges`' `worker` index), grown on
/// demand and reused across steps. There is a slot for every part index a loop can hand out
/// (below `Engine.maximumThreadCount`), so a layer built under one thread count runs under any
/// other (a scoped `Engine.withThreadCount`); a slot's memory is allocated only when used. The
/// slots are raw memory (not a Swift array), so two parts growing their own slots at once do
/// not race. Image lanes (`ImageLanes`) run one step on several threads at once, each as one
/// part: each lane has the slot of its number.
final class Workspace: @unchecked Sendable {
    private let workers: Int
    private let buffers: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    private let sizes: UnsafeMutablePointer<Int>
    init(workers: Int = Engine.maximumThreadCount) {
        self.workers = workers
        buffers = .allocate(capacity: workers); buffers.initialize(repeating: nil, count: workers)
        sizes = .allocate(capacity: workers); sizes.initialize(repeating: 0, count: workers)
    }
    deinit {
        for w in 0..<workers { buffers[w]?.deallocate() }
        buffers.deallocate(); sizes.deallocate()
    }
    /// A buffer of at least `count` floats for `worker` (contents undefined). Inside an image
    /// lane (`Engine.lane`, where loops run on one thread, so `worker` is 0) the lane's slot.
    func buffer(_ worker: Int, count: Int) -> UnsafeMutablePointer<Float> {
        var worker = worker
        if let lane = Engine.lane {
            precondition(worker == 0, "an image lane runs its loops on one thread")
            worker = lane
        }
        precondition(worker < workers)
        if sizes[worker] < count {
            buffers[worker]?.deallocate()
            buffers[worker] = .allocate(capacity: count)
            sizes[worker] = count
        }
        return buffers[worker]!
    }
}
