import CKernels
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

/// OpenBLAS runs single-threaded, whatever `Engine.threadCount` is. Inside the engine's parallel
/// loops (nearly every GEMM: Conv2D splits the batch, PointwiseConv2D the rows) each part calls
/// its own GEMM, and OpenBLAS threads there would only oversubscribe the cores. A GEMM that runs
/// alone (one part: Conv2D at batch 1, PointwiseConv2D below 128 rows) could use N OpenBLAS
/// threads, but it is not done, by decision: in OpenBLAS 0.3.21 (Debian's) the thread count is
/// one process-wide variable (`openblas_set_num_threads_local` came in 0.3.27), so raising it
/// for one call lets the GEMMs another thread runs inside a parallel loop go threaded too; its
/// idle threads keep polling with sched_yield for about 2^28 cycles (0.1 s) after each call,
/// competing with the engine's workers; and on tiny-dsc those GEMMs are small (the head's
/// 64x256x40 and the last pointwise layer's 64x256x256 at batch 1, 0.7 and 4.2 M
/// multiply-adds). A large alone GEMM would be better split by rows over the engine's own
/// threads (each output still computed by one thread), which keeps one pool and one spin policy.
let configureBLASOnce: Void = { openblas_set_num_threads(1) }()

/// C[m, n] = A[m, k] · B[k, n], all row-major and contiguous (lda = k, ldb = ldc = n), for n a
/// multiple of 16 and a small k: four rows of C at a time, 16 columns of each in a SIMD16
/// accumulator, A's values broadcast against rows of B. No packing, so for the pointwise
/// layers' skinny shapes (k of 16 to 64) it beats OpenBLAS, whose copies of A and B cost as
/// much as its kernel there (see `PointwiseConv2D.usesSmallGEMM`). On `.avx512`, the same
/// product by `ck_small_gemm` (eight rows at a time, one ZMM accumulator each). `isa` is read
/// by the caller before it splits rows between the cores (`KernelISA.active`).
func smallGEMM(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
               isa: KernelISA) {
    precondition(n % 16 == 0, "smallGEMM needs n a multiple of 16")
    if isa == .avx512 {
        ck_small_gemm(m, n, k, a, b, c)
        return
    }
    var i = 0
    while i + 4 <= m {
        let a0 = a + i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k
        var col = 0
        while col < n {
            var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
            for p in 0..<k {
                let bv = load16(b + p * n + col)
                c0 += a0[p] * bv
                c1 += a1[p] * bv
                c2 += a2[p] * bv
                c3 += a3[p] * bv
            }
            let out = c + i * n + col
            store16(c0, out); store16(c1, out + n); store16(c2, out + 2 * n); store16(c3, out + 3 * n)
            col += 16
        }
        i += 4
    }
    while i < m {
        let row = a + i * k
        var col = 0
        while col < n {
            var acc = SIMD16<Float>()
            for p in 0..<k { acc += row[p] * load16(b + p * n + col) }
            store16(acc, c + i * n + col)
            col += 16
        }
        i += 1
    }
}
