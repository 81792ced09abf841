import CKernels
import Foundation
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

/// The engine's matrix product: C = A · B (or C += A · B with `accumulate`), C [m, n] row-major
/// with row stride `ldc`, B [k, n] row-major with row stride `ldb`, and A's element (i, p) at
/// a[i · aRowStride + p · aColumnStride]: a stored matrix (aColumnStride 1) or, with the strides
/// swapped, its transpose (aRowStride 1), read in place either way.
///
/// On `.avx512`, `ck_gemm`: register tiles of up to 6 rows x 64 columns, any shape, each C value
/// one fused multiply-add chain over p in order, so splitting rows or columns between threads
/// never changes a bit. On `.avx2` (x86-64), `ck_gemm_avx2`: 6 x 16 tiles of 8-wide vectors, the
/// same chains, so the same bits as on `.avx512`; elsewhere `portableMultiply`. Our kernels are
/// used for every shape because they are faster than OpenBLAS at each shape the networks have:
/// on one core here `ck_gemm` runs at 125–165 GFLOP/s against OpenBLAS's 70–150 with its
/// SkylakeX kernel, and 22–32 with the Prescott (SSE3) kernel its run-time detection picks on
/// this machine's virtual CPU, whose model name it does not know (as it may on any VM); on the
/// AVX2 path tiny-dsc ran as fast or faster with `ck_gemm_avx2` than with OpenBLAS told to use
/// its Haswell kernel (`OPENBLAS_CORETYPE=Haswell`; batch-1 latency 1.6–1.7 against 2.1–2.3 ms).
/// `isa` is read by the caller before it splits work between the cores (`KernelISA.active`).
func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int,
              b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
              accumulate: Bool = false, isa: KernelISA) {
    guard m > 0, n > 0 else { return }
    if let kernel = ourKernel(isa) {
        (kernel == .avx512 ? ck_gemm : ck_gemm_avx2)(m, n, k, a, aRowStride, aColumnStride, b, ldb, c, ldc, accumulate ? 1 : 0)
        return
    }
    portableMultiply(m: m, n: n, k: k, a: a, aRowStride: aRowStride, aColumnStride: aColumnStride, b: b, ldb: ldb, c: c,
                     ldc: ldc, accumulate: accumulate)
}

/// `multiply` without our C kernels: `smallGEMM` for the skinny contiguous products, else
/// OpenBLAS. What the AVX2 path runs on other architectures, or with `DETECTOR_GEMM=blas`.
func portableMultiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int,
                      b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
    guard m > 0, n > 0 else { return }
    if aColumnStride == 1 {
        if !accumulate && aRowStride == k && ldb == n && ldc == n && PointwiseConv2D.usesSmallGEMM(n: n, k: k) {
            smallGEMM(m: m, n: n, k: k, a: a, b: b, c: c)
        } else {
            gemm(m: m, n: n, k: k, a: a, lda: aRowStride, b: b, ldb: ldb, beta: accumulate ? 1 : 0, c: c, ldc: ldc)
        }
    } else {
        precondition(aRowStride == 1, "multiply reads A or its transpose")
        gemm(transposeA: true, m: m, n: n, k: k, a: a, lda: aColumnStride, b: b, ldb: ldb, beta: accumulate ? 1 : 0,
             c: c, ldc: ldc)
    }
}

/// Whether the AVX2 path multiplies with `ck_gemm_avx2` (x86-64) rather than `smallGEMM` and
/// OpenBLAS. `DETECTOR_GEMM=blas` turns it off, to measure one against the other.
let usesAVX2GEMM: Bool = ProcessInfo.processInfo.environment["DETECTOR_GEMM"] != "blas"

/// Which of our C GEMMs `multiply` runs on `isa`'s path, nil for `portableMultiply`: the
/// products whose bits do not depend on how rows or columns are split.
func ourKernel(_ isa: KernelISA) -> KernelISA? {
    if isa == .avx512 { return .avx512 }
    #if arch(x86_64)
    if usesAVX2GEMM { return .avx2 }
    #endif
    return nil
}

/// The transpose of a row-major [rows, columns] matrix, row-major [columns, rows]: the B of a
/// product with a transposed weight matrix (∂in = ∂out · wᵀ), which `multiply` reads by rows.
func transposed(_ matrix: [Float], rows: Int, columns: Int) -> [Float] {
    precondition(matrix.count == rows * columns)
    var result = [Float](repeating: 0, count: matrix.count)
    matrix.withUnsafeBufferPointer { m in result.withUnsafeMutableBufferPointer { t in
        for r in 0..<rows { for col in 0..<columns { t[col * rows + r] = m[r * columns + col] } }
    } }
    return result
}

/// Runs a product whose C is written (not accumulated) on the engine's threads, each thread
/// computing a block of C on its own: blocks of rows when there are at least 64 per thread,
/// else blocks of columns (multiples of 16; only on our C kernels, `ourKernel`), so that a
/// batch-1 layer with 64 pixels still uses every core. Each C value is computed by one thread
/// whatever the split; on our kernels the bits do not depend on the thread count.
func parallelMultiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int,
                      b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, isa: KernelISA,
                      threads: Int = Engine.threadCount,
                      after: (_ rows: Range<Int>, _ columns: Range<Int>) -> Void = { _, _ in }) {
    let rowParts = partCount(m, parts: threads, minimumPerPart: 64)
    let vectors = (n + 15) / 16
    if rowParts >= threads || ourKernel(isa) == nil || vectors < 2 {
        parallelRanges(m, parts: threads, minimumPerPart: 64) { _, rows in
            multiply(m: rows.count, n: n, k: k, a: a + rows.lowerBound * aRowStride, aRowStride: aRowStride,
                     aColumnStride: aColumnStride, b: b, ldb: ldb, c: c + rows.lowerBound * ldc, ldc: ldc, isa: isa)
            after(rows, 0..<n)
        }
    } else {
        parallelRanges(vectors, parts: threads) { _, part in
            let columns = (16 * part.lowerBound)..<min(n, 16 * part.upperBound)
            multiply(m: m, n: columns.count, k: k, a: a, aRowStride: aRowStride, aColumnStride: aColumnStride,
                     b: b + columns.lowerBound, ldb: ldb, c: c + columns.lowerBound, ldc: ldc, isa: isa)
            after(0..<m, columns)
        }
    }
}

/// C[m, n] = A[m, k] · B[k, n], all row-major and contiguous (lda = k, ldb = ldc = n), for n a
/// multiple of 16 and a small k, on the AVX2 path: four rows of C at a time, 16 columns of each
/// in a SIMD16 accumulator, A's values broadcast against rows of B. No packing, so for the
/// pointwise layers' skinny shapes (k of 16 to 32) it beats OpenBLAS, whose copies of A and B
/// cost as much as its kernel there (see `PointwiseConv2D.usesSmallGEMM`). The AVX-512 path's
/// `ck_gemm` does the same product, with wider tiles, for every shape.
func smallGEMM(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
    precondition(n % 16 == 0, "smallGEMM needs n a multiple of 16")
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
