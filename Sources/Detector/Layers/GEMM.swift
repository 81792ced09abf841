import COpenBLAS

/// Row-major single-precision GEMM through OpenBLAS:
/// C[m, n] = alpha · op(A) · op(B) + beta · C, with op(A) [m, k] and op(B) [k, n].
/// `lda`, `ldb`, `ldc` are the row strides of the matrices as stored.
@inline(__always)
func gemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
          alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}

/// The engine splits work across the two cores itself (each worker calls a single-threaded
/// GEMM on its own rows), so OpenBLAS must not start threads of its own.
let configureBLASOnce: Void = { openblas_set_num_threads(1) }()

/// A workspace per worker, grown on demand and reused across steps. The slots are raw memory
/// (not a Swift array), so two workers growing their own slots at once do not race.
final class Workspace: @unchecked Sendable {
    private let workers: Int
    private let buffers: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    private let sizes: UnsafeMutablePointer<Int>
    init(workers: Int) {
        self.workers = workers
        buffers = .allocate(capacity: workers); buffers.initialize(repeating: nil, count: workers)
        sizes = .allocate(capacity: workers); sizes.initialize(repeating: 0, count: workers)
    }
    deinit {
        for w in 0..<workers { buffers[w]?.deallocate() }
        buffers.deallocate(); sizes.deallocate()
    }
    /// A buffer of at least `count` floats for `worker` (contents undefined).
    func buffer(_ worker: Int, count: Int) -> UnsafeMutablePointer<Float> {
        precondition(worker < workers)
        if sizes[worker] < count {
            buffers[worker]?.deallocate()
            buffers[worker] = .allocate(capacity: count)
            sizes[worker] = count
        }
        return buffers[worker]!
    }
}
