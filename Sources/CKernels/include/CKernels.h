#ifndef CKERNELS_H
#define CKERNELS_H

/// AVX-512 versions of the engine's hot kernels (the Swift kernels are compiled for AVX2).
/// Every function below except `ck_avx512_usable` and `ck_gemm_avx2` executes AVX-512
/// instructions: call one only when `ck_avx512_usable()` returned 1 (Swift: `KernelISA.active == .avx512`).
///
/// Conventions, as in the Swift kernels they replace: NHWC activations, contiguous; counts and
/// indices are `ptrdiff_t` (Swift `Int`); a call covers the rows [rowBegin, rowEnd) of the
/// flattened (image, output row) order, so the Swift side splits rows between workers and each
/// worker calls the kernel on its own range. Sums are fused multiply-adds, taken per output in
/// the same order by every path of a kernel (interior blocks and edge pixels alike), so that
/// fused and unfused steps (`ConvMaxPool` against `Conv2D` then `MaxPool2D`) agree bit for bit.
///
/// Activation codes: 0 leaky (slope 0.1), 1 relu, 2 relu6, 3 linear.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the CPU has AVX-512 F, BW, DQ and VL and the operating system saves the ZMM and
/// mask registers (XCR0 bits 1, 2, 5, 6, 7), else 0.
int ck_avx512_usable(void);

/// `Conv2D`'s direct kernel (few input channels, f a multiple of 16), forward:
/// out[n, oy, ox, co] = act(Σ_{ky,kx,ci} in[n, oy·s + ky − pad, ox·s + kx − pad, ci] · w[ky, kx, ci, co] + b[co])
/// with the taps outside the image left out; w is HWIO; bias may be NULL (then b = 0).
/// Output columns [interiorLow, interiorHigh) have every tap inside the image on x.
void ck_conv_direct_forward(const float *input, float *output, const float *weight, const float *bias, int activation,
                            ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t f,
                            ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad, ptrdiff_t interiorLow, ptrdiff_t interiorHigh,
                            ptrdiff_t rowBegin, ptrdiff_t rowEnd);

/// `Conv2D`'s direct kernel, weight gradient over the rows [rowBegin, rowEnd):
/// dw[ky, kx, ci, co] += Σ_{n,oy,ox} in[n, oy·s + ky − pad, ox·s + kx − pad, ci] · gOut[n, oy, ox, co].
void ck_conv_direct_weight_gradient(const float *input, const float *gradientOutput, float *dw,
                                    ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t f,
                                    ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad, ptrdiff_t interiorLow, ptrdiff_t interiorHigh,
                                    ptrdiff_t rowBegin, ptrdiff_t rowEnd);

/// `ConvMaxPool`: a 3x3 stride-1 pad-1 direct convolution and the 2x2/2 max pool after it, over
/// the pooled rows [rowBegin, rowEnd) of batch·ph (h = 2·ph, w = 2·pw):
/// out[n, py, px, co] = act(max_{dy,dx} conv[n, 2py + dy, 2px + dx, co] + b[co]), each conv value
/// summed exactly as `ck_conv_direct_forward` sums it. bias must not be NULL.
void ck_conv_maxpool_forward(const float *input, float *output, const float *weight, const float *bias, int activation,
                             ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t ph, ptrdiff_t pw, ptrdiff_t f,
                             ptrdiff_t rowBegin, ptrdiff_t rowEnd);

/// `DepthwiseConv2D` forward (any c; c % 16 channels by masked loads):
/// out[n, oy, ox, ch] = Σ_{ky,kx} in[n, oy·s + ky − pad, ox·s + kx − pad, ch] · w[ky, kx, ch], summed over ky then kx.
void ck_depthwise_forward(const float *input, float *output, const float *weight,
                          ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                          ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad, ptrdiff_t interiorLow, ptrdiff_t interiorHigh,
                          ptrdiff_t rowBegin, ptrdiff_t rowEnd);

/// `DepthwiseConv2D` weight gradient over the output rows [rowBegin, rowEnd):
/// dw[ky, kx, ch] += Σ_{n,oy,ox} gOut[n, oy, ox, ch] · in[n, oy·s + ky − pad, ox·s + kx − pad, ch].
void ck_depthwise_weight_gradient(const float *input, const float *gradientOutput, float *dw,
                                  ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                                  ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad, ptrdiff_t interiorLow, ptrdiff_t interiorHigh,
                                  ptrdiff_t rowBegin, ptrdiff_t rowEnd);

/// `DepthwiseConv2D` input gradient for stride 1, gathered, over the input rows [rowBegin, rowEnd)
/// of batch·h (written, not accumulated):
/// dIn[n, y, x, ch] = Σ_{ky,kx} gOut[n, y + pad − ky, x + pad − kx, ch] · w[ky, kx, ch] over the taps inside the output.
void ck_depthwise_input_gradient_stride1(const float *gradientOutput, float *gradientInput, const float *weight,
                                         ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                                         ptrdiff_t k, ptrdiff_t pad, ptrdiff_t rowBegin, ptrdiff_t rowEnd);

/// `BatchNormMaxPool` forward over the pooled rows [rowBegin, rowEnd) of batch·oh (h = 2·oh,
/// w = 2·ow, c a multiple of 16): out[n, oy, ox, ch] = max over the 2x2 window of act(a[ch]·x + b[ch]),
/// the product and the sum rounded separately (as the Swift kernels do), the first maximum kept.
void ck_bn_maxpool_forward(const float *input, float *output, const float *a, const float *b, int act,
                           ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                           ptrdiff_t rowBegin, ptrdiff_t rowEnd);

/// `BatchNormMaxPool` backward, pass 1, over the pooled rows [rowBegin, rowEnd): adds Σ g and
/// Σ g·(x − mean) per channel to sums[0 ..< c] and sums[c ..< 2c], g being g_p·act'(u) at each
/// window's winner (the first input whose activation equals the pooled output) and 0 elsewhere;
/// act'(u) is 1 for u > 0, else `slope`. Float sums over blocks of 16 windows, added to the
/// doubles per block; `block` is scratch for 2c floats.
void ck_bn_maxpool_backward_sums(const float *input, const float *output, const float *gradientOutput,
                                 const float *a, const float *b, const float *mean, float slope, int act,
                                 ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                                 ptrdiff_t rowBegin, ptrdiff_t rowEnd, double *sums, float *block);

/// `BatchNormMaxPool` backward, pass 2: writes ∂x = k (g − meanG − x̂·meanGX), x̂ = (x − mean)·inverse,
/// for the four inputs of every window under the pooled rows [rowBegin, rowEnd).
void ck_bn_maxpool_backward_input(const float *input, const float *output, const float *gradientOutput, float *gradientInput,
                                  const float *a, const float *b, const float *mean, const float *inverse,
                                  const float *k, const float *meanG, const float *meanGX, float slope, int act,
                                  ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                                  ptrdiff_t rowBegin, ptrdiff_t rowEnd);

/// `BatchNorm`'s statistics over the rows [rowBegin, rowEnd) of an [rows, c] matrix (any c):
/// adds Σ (x − shift) and Σ (x − shift)² per channel to sums and squares, in floats over blocks
/// of 64 rows and in doubles across blocks; `block` is scratch for 2c floats.
void ck_shifted_moments(const float *input, const float *shift, ptrdiff_t c, ptrdiff_t rowBegin, ptrdiff_t rowEnd,
                        double *sums, double *squares, float *block);

/// The engine's matrix product (`multiply` in GEMM.swift): C = A · B, or C += A · B when
/// `accumulate` is nonzero, with C [m, n] row-major (row stride ldc), B [k, n] row-major (row
/// stride ldb), and A's element (i, p) at a[i·ars + p·acs], so that a stored matrix (ars = its
/// row stride, acs = 1) and its transpose (ars = 1, acs = its row stride) are both read in place.
/// Any m, n, k (columns beyond a multiple of 16 by masked loads and stores). Each C value is one
/// FMA chain over p = 0 ..< k in order, starting from 0 (or C's value): the same bits however
/// the caller splits rows or columns between threads.
void ck_gemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
             const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate);

/// `ck_gemm` in AVX2 + FMA (8-wide, 6 x 16 tiles), for the AVX2 path on x86-64 (the package's
/// Swift code already requires Haswell's instruction set there): the same contract and, each
/// value being the same FMA chain, the same bits as `ck_gemm`. An exception to the rule above:
/// it runs on any CPU the package runs on.
void ck_gemm_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                  const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate);

#ifdef __cplusplus
}
#endif

#endif
