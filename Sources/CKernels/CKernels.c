// AVX-512 kernels; see include/CKernels.h for each function's contract. Every function that
// executes AVX-512 carries CK_TARGET, so this file compiles for the package's baseline CPU and
// the instructions run only where `ck_avx512_usable` said they may.
#include "CKernels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#define CK_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define CK_INLINE static inline __attribute__((always_inline)) CK_TARGET

static inline ptrdiff_t ck_min(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }
static inline ptrdiff_t ck_max(ptrdiff_t a, ptrdiff_t b) { return a > b ? a : b; }

/// Reads XCR0 (the register enables the OS has set) without needing the XSAVE target feature.
static unsigned long long ck_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

int ck_avx512_usable(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    if (!(ecx & (1u << 27))) return 0;                 // OSXSAVE: xgetbv is usable
    // XCR0: SSE (1), AVX (2), opmask (5), ZMM0-15 upper halves (6), ZMM16-31 (7).
    const unsigned long long needed = (1u << 1) | (1u << 2) | (1u << 5) | (1u << 6) | (1u << 7);
    if ((ck_xcr0() & needed) != needed) return 0;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    const unsigned int f = 1u << 16, dq = 1u << 17, bw = 1u << 30, vl = 1u << 31;
    if ((ebx & (f | dq | bw | vl)) != (f | dq | bw | vl)) return 0;
    __cpuid(1, eax, ebx, ecx, edx);
    if (!(ecx & (1u << 12))) return 0;                 // FMA
    return 1;
}

/// The activation on 16 values, as `Activation.apply(_: SIMD16<Float>)`: leaky u > 0 ? u : 0.1u,
/// relu u > 0 ? u : 0, relu6 min(relu, 6) (by comparisons, as the Swift version), linear u.
CK_INLINE __m512 ck_act(__m512 u, int act) {
    const __m512 zero = _mm512_setzero_ps();
    switch (act) {
    case 0: {
        __mmask16 positive = _mm512_cmp_ps_mask(u, zero, _CMP_GT_OQ);
        return _mm512_mask_blend_ps(positive, _mm512_mul_ps(u, _mm512_set1_ps(0.1f)), u);
    }
    case 1:
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(u, zero, _CMP_GT_OQ), u);
    case 2: {
        __m512 low = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(u, zero, _CMP_GT_OQ), u);
        const __m512 six = _mm512_set1_ps(6);
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(low, six, _CMP_GT_OQ), low, six);
    }
    default:
        return u;
    }
}

/// b where b > a, else a (`replacing(with: b, where: b .> a)`).
CK_INLINE __m512 ck_maximum(__m512 a, __m512 b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(b, a, _CMP_GT_OQ), a, b);
}

/// Mask of the channels [ch, min(ch + 16, c)).
CK_INLINE __mmask16 ck_mask(ptrdiff_t ch, ptrdiff_t c) {
    ptrdiff_t left = c - ch;
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

/* ---------------------------------------------------------------- direct convolution */

/// One output pixel's 16 channels from co, taps outside the image left out, summed over ky,
/// then kx, then ci.
CK_INLINE __m512 ck_conv_pixel(const float *image, const float *wk, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                               ptrdiff_t f, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
                               ptrdiff_t oy, ptrdiff_t ox, ptrdiff_t co) {
    __m512 acc = _mm512_setzero_ps();
    ptrdiff_t yl = ck_max(0, pad - oy * s), yh = ck_min(k, h + pad - oy * s);
    ptrdiff_t xl = ck_max(0, pad - ox * s), xh = ck_min(k, w + pad - ox * s);
    for (ptrdiff_t ky = yl; ky < yh; ky++) {
        for (ptrdiff_t kx = xl; kx < xh; kx++) {
            const float *src = image + ((oy * s + ky - pad) * w + ox * s + kx - pad) * c;
            const float *wRow = wk + (ky * k + kx) * c * f + co;
            for (ptrdiff_t ci = 0; ci < c; ci++)
                acc = _mm512_fmadd_ps(_mm512_set1_ps(src[ci]), _mm512_loadu_ps(wRow + ci * f), acc);
        }
    }
    return acc;
}

CK_INLINE __m512 ck_finish(__m512 acc, const float *bias, ptrdiff_t co, int act) {
    if (bias) acc = _mm512_add_ps(acc, _mm512_loadu_ps(bias + co));
    return ck_act(acc, act);
}

/// P interior output pixels (ox .. ox + P − 1, every tap inside on x): P accumulator chains
/// share each kernel-row load. Tap t = kx·c + ci; pixel j reads src[j·s·c + t]. T = k·c taps per
/// kernel row (a literal at the call for the common 3x3 on 3 channels, so the loop unrolls).
CK_INLINE void ck_conv_block(const float *image, const float *wk, float *out, const float *bias, int act,
                             ptrdiff_t w, ptrdiff_t c, ptrdiff_t f, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
                             ptrdiff_t yl, ptrdiff_t yh, ptrdiff_t oy, ptrdiff_t ox, const int P, const ptrdiff_t T) {
    for (ptrdiff_t co = 0; co < f; co += 16) {
        __m512 acc[8];
        for (int j = 0; j < P; j++) acc[j] = _mm512_setzero_ps();
        for (ptrdiff_t ky = yl; ky < yh; ky++) {
            const float *src = image + ((oy * s + ky - pad) * w + ox * s - pad) * c;
            const float *wRow = wk + ky * k * c * f + co;
            for (ptrdiff_t t = 0; t < T; t++) {
                __m512 wv = _mm512_loadu_ps(wRow + t * f);
                for (int j = 0; j < P; j++)
                    acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(src[j * s * c + t]), wv, acc[j]);
            }
        }
        for (int j = 0; j < P; j++) _mm512_storeu_ps(out + j * f + co, ck_finish(acc[j], bias, co, act));
    }
}

/// `ck_conv_block` with T a literal for 9 taps per kernel row (3x3 on 3 channels).
#define CK_CONV_BLOCK(P)                                                                                           \
    do {                                                                                                           \
        if (k * c == 9) ck_conv_block(image, weight, out, bias, act, w, c, f, k, s, pad, yl, yh, oy, ox, P, 9);   \
        else ck_conv_block(image, weight, out, bias, act, w, c, f, k, s, pad, yl, yh, oy, ox, P, k * c);          \
    } while (0)

CK_TARGET
void ck_conv_direct_forward(const float *input, float *output, const float *weight, const float *bias, int act,
                            ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t f,
                            ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad, ptrdiff_t interiorLow, ptrdiff_t interiorHigh,
                            ptrdiff_t rowBegin, ptrdiff_t rowEnd) {
    for (ptrdiff_t r = rowBegin; r < rowEnd; r++) {
        ptrdiff_t n = r / oh, oy = r % oh;
        const float *image = input + n * h * w * c;
        ptrdiff_t yl = ck_max(0, pad - oy * s), yh = ck_min(k, h + pad - oy * s);
        ptrdiff_t ox = 0;
        while (ox < ow) {
            float *out = output + ((n * oh + oy) * ow + ox) * f;
            // (Blocks of 16 pixels were measured slower than 8 here: 570 against 510 µs per image.)
            if (ox >= interiorLow && ox + 8 <= interiorHigh) {
                CK_CONV_BLOCK(8);
                ox += 8;
            } else if (ox >= interiorLow && ox + 4 <= interiorHigh) {
                CK_CONV_BLOCK(4);
                ox += 4;
            } else {
                for (ptrdiff_t co = 0; co < f; co += 16)
                    _mm512_storeu_ps(out + co, ck_finish(ck_conv_pixel(image, weight, h, w, c, f, k, s, pad, oy, ox, co), bias, co, act));
                ox += 1;
            }
        }
    }
}

/// Interior columns of one kernel row for T = k·c taps: T accumulators (16 output channels
/// each) over the columns, one gradient load per column, added to dw once.
CK_INLINE void ck_conv_wgrad_interior(const float *srcRow, const float *gRow, float *dwRow,
                                      ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t s, ptrdiff_t c, ptrdiff_t f, ptrdiff_t pad,
                                      const int T) {
    __m512 acc[24];
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (ptrdiff_t ox = lo; ox < hi; ox++) {
        __m512 gv = _mm512_loadu_ps(gRow + ox * f);
        const float *x = srcRow + (ox * s - pad) * c;
        for (int t = 0; t < T; t++) acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(x[t]), gv, acc[t]);
    }
    for (int t = 0; t < T; t++) {
        float *d = dwRow + t * f;
        _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), acc[t]));
    }
}

CK_TARGET
void ck_conv_direct_weight_gradient(const float *input, const float *gradientOutput, float *dw,
                                    ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t f,
                                    ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad, ptrdiff_t interiorLow, ptrdiff_t interiorHigh,
                                    ptrdiff_t rowBegin, ptrdiff_t rowEnd) {
    const ptrdiff_t taps = k * c;
    for (ptrdiff_t r = rowBegin; r < rowEnd; r++) {
        ptrdiff_t n = r / oh, oy = r % oh;
        const float *image = input + n * h * w * c;
        ptrdiff_t yl = ck_max(0, pad - oy * s), yh = ck_min(k, h + pad - oy * s);
        const float *gRowBase = gradientOutput + (n * oh + oy) * ow * f;
        if (interiorHigh > interiorLow) {
            for (ptrdiff_t co = 0; co < f; co += 16) {
                for (ptrdiff_t ky = yl; ky < yh; ky++) {
                    const float *srcRow = image + (oy * s + ky - pad) * w * c;
                    float *dwRow = dw + ky * taps * f + co;
                    const float *gRow = gRowBase + co;
                    switch (taps) {
#define CK_TAPS(T) case T: ck_conv_wgrad_interior(srcRow, gRow, dwRow, interiorLow, interiorHigh, s, c, f, pad, T); break;
                    CK_TAPS(1) CK_TAPS(2) CK_TAPS(3) CK_TAPS(4) CK_TAPS(5) CK_TAPS(6) CK_TAPS(7) CK_TAPS(8)
                    CK_TAPS(9) CK_TAPS(10) CK_TAPS(11) CK_TAPS(12) CK_TAPS(13) CK_TAPS(14) CK_TAPS(15) CK_TAPS(16)
                    CK_TAPS(17) CK_TAPS(18) CK_TAPS(19) CK_TAPS(20) CK_TAPS(21) CK_TAPS(22) CK_TAPS(23) CK_TAPS(24)
#undef CK_TAPS
                    default:
                        // Many taps (k·c > 24): one accumulator per tap, a pass over the row each.
                        for (ptrdiff_t t = 0; t < taps; t++) {
                            __m512 acc = _mm512_setzero_ps();
                            for (ptrdiff_t ox = interiorLow; ox < interiorHigh; ox++)
                                acc = _mm512_fmadd_ps(_mm512_set1_ps(srcRow[(ox * s - pad) * c + t]),
                                                      _mm512_loadu_ps(gRow + ox * f), acc);
                            float *d = dwRow + t * f;
                            _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), acc));
                        }
                    }
                }
            }
        }
        for (ptrdiff_t ox = 0; ox < ow; ox++) {
            if (ox >= interiorLow && ox < interiorHigh) continue;
            const float *g = gRowBase + ox * f;
            ptrdiff_t xl = ck_max(0, pad - ox * s), xh = ck_min(k, w + pad - ox * s);
            for (ptrdiff_t co = 0; co < f; co += 16) {
                __m512 gv = _mm512_loadu_ps(g + co);
                for (ptrdiff_t ky = yl; ky < yh; ky++) {
                    for (ptrdiff_t kx = xl; kx < xh; kx++) {
                        const float *src = image + ((oy * s + ky - pad) * w + ox * s + kx - pad) * c;
                        float *dRow = dw + (ky * k + kx) * c * f + co;
                        for (ptrdiff_t ci = 0; ci < c; ci++) {
                            float *d = dRow + ci * f;
                            _mm512_storeu_ps(d, _mm512_fmadd_ps(_mm512_set1_ps(src[ci]), gv, _mm512_loadu_ps(d)));
                        }
                    }
                }
            }
        }
    }
}

/* ---------------------------------------------------------------- convolution + max pool */

/// P pooled outputs side by side (conv output rows top, top + 1 and columns left ..< left + 2P,
/// every tap inside): 4P accumulator chains share each kernel-row load. T = 3c taps per row.
CK_INLINE void ck_conv_pool_block(const float *image, const float *weight, float *out, const float *bias, int act,
                                  ptrdiff_t w, ptrdiff_t c, ptrdiff_t f, ptrdiff_t top, ptrdiff_t left,
                                  const int P, const ptrdiff_t T) {
    for (ptrdiff_t co = 0; co < f; co += 16) {
        __m512 a0[8], a1[8];
        for (int j = 0; j < 2 * P; j++) { a0[j] = _mm512_setzero_ps(); a1[j] = _mm512_setzero_ps(); }
        for (ptrdiff_t ky = 0; ky < 3; ky++) {
            const float *src0 = image + ((top + ky - 1) * w + left - 1) * c;
            const float *src1 = src0 + w * c;
            const float *wRow = weight + ky * T * f + co;
            for (ptrdiff_t t = 0; t < T; t++) {
                __m512 wv = _mm512_loadu_ps(wRow + t * f);
                for (int j = 0; j < 2 * P; j++) {
                    a0[j] = _mm512_fmadd_ps(_mm512_set1_ps(src0[j * c + t]), wv, a0[j]);
                    a1[j] = _mm512_fmadd_ps(_mm512_set1_ps(src1[j * c + t]), wv, a1[j]);
                }
            }
        }
        __m512 b = _mm512_loadu_ps(bias + co);
        for (int q = 0; q < P; q++) {
            __m512 m = ck_maximum(ck_maximum(a0[2 * q], a0[2 * q + 1]), ck_maximum(a1[2 * q], a1[2 * q + 1]));
            _mm512_storeu_ps(out + q * f + co, ck_act(_mm512_add_ps(m, b), act));
        }
    }
}

#define CK_CONV_POOL_BLOCK(P)                                                                                  \
    do {                                                                                                       \
        if (taps == 9) ck_conv_pool_block(image, weight, out, bias, act, w, c, f, top, left, P, 9);            \
        else ck_conv_pool_block(image, weight, out, bias, act, w, c, f, top, left, P, taps);                   \
    } while (0)

CK_TARGET
void ck_conv_maxpool_forward(const float *input, float *output, const float *weight, const float *bias, int act,
                             ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t ph, ptrdiff_t pw, ptrdiff_t f,
                             ptrdiff_t rowBegin, ptrdiff_t rowEnd) {
    const ptrdiff_t k = 3, s = 1, pad = 1, taps = 3 * c;
    for (ptrdiff_t r = rowBegin; r < rowEnd; r++) {
        ptrdiff_t n = r / ph, py = r % ph;
        const float *image = input + n * h * w * c;
        ptrdiff_t top = 2 * py;
        int rowsInside = top >= 1 && top + 2 < h;
        ptrdiff_t px = 0;
        while (px < pw) {
            ptrdiff_t left = 2 * px;
            float *out = output + ((n * ph + py) * pw + px) * f;
            if (rowsInside && left >= 1 && left + 8 < w) {
                CK_CONV_POOL_BLOCK(4);
                px += 4;
                continue;
            }
            if (rowsInside && left >= 1 && left + 4 < w) {
                CK_CONV_POOL_BLOCK(2);
                px += 2;
                continue;
            }
            if (rowsInside && left >= 1 && left + 2 < w) {
                CK_CONV_POOL_BLOCK(1);
                px += 1;
                continue;
            }
            // An edge window: some taps outside the image, left out pixel by pixel.
            for (ptrdiff_t co = 0; co < f; co += 16) {
                __m512 a00 = ck_conv_pixel(image, weight, h, w, c, f, k, s, pad, top, left, co);
                __m512 a01 = ck_conv_pixel(image, weight, h, w, c, f, k, s, pad, top, left + 1, co);
                __m512 a10 = ck_conv_pixel(image, weight, h, w, c, f, k, s, pad, top + 1, left, co);
                __m512 a11 = ck_conv_pixel(image, weight, h, w, c, f, k, s, pad, top + 1, left + 1, co);
                __m512 m = ck_maximum(ck_maximum(a00, a01), ck_maximum(a10, a11));
                _mm512_storeu_ps(out + co, ck_act(_mm512_add_ps(m, _mm512_loadu_ps(bias + co)), act));
            }
            px += 1;
        }
    }
}

/* ---------------------------------------------------------------- depthwise convolution */

/// P interior output pixels of a depthwise convolution, all channels, summed over ky then kx.
CK_INLINE void ck_depthwise_block(const float *image, const float *wk, float *out,
                                  ptrdiff_t w, ptrdiff_t c, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
                                  ptrdiff_t yl, ptrdiff_t yh, ptrdiff_t oy, ptrdiff_t ox, const int P) {
    for (ptrdiff_t ch = 0; ch < c; ch += 16) {
        __mmask16 m = ck_mask(ch, c);
        __m512 acc[8];
        for (int j = 0; j < P; j++) acc[j] = _mm512_setzero_ps();
        for (ptrdiff_t ky = yl; ky < yh; ky++) {
            const float *row = image + ((oy * s + ky - pad) * w + ox * s - pad) * c + ch;
            const float *wRow = wk + ky * k * c + ch;
            for (ptrdiff_t kx = 0; kx < k; kx++) {
                __m512 wv = _mm512_maskz_loadu_ps(m, wRow + kx * c);
                for (int j = 0; j < P; j++)
                    acc[j] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row + (j * s + kx) * c), wv, acc[j]);
            }
        }
        for (int j = 0; j < P; j++) _mm512_mask_storeu_ps(out + j * c + ch, m, acc[j]);
    }
}

CK_TARGET
void ck_depthwise_forward(const float *input, float *output, const float *weight,
                          ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                          ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad, ptrdiff_t interiorLow, ptrdiff_t interiorHigh,
                          ptrdiff_t rowBegin, ptrdiff_t rowEnd) {
    for (ptrdiff_t r = rowBegin; r < rowEnd; r++) {
        ptrdiff_t n = r / oh, oy = r % oh;
        const float *image = input + n * h * w * c;
        ptrdiff_t yl = ck_max(0, pad - oy * s), yh = ck_min(k, h + pad - oy * s);
        ptrdiff_t ox = 0;
        while (ox < ow) {
            float *out = output + ((n * oh + oy) * ow + ox) * c;
            if (ox >= interiorLow && ox + 8 <= interiorHigh) {
                ck_depthwise_block(image, weight, out, w, c, k, s, pad, yl, yh, oy, ox, 8);
                ox += 8;
            } else if (ox >= interiorLow && ox + 4 <= interiorHigh) {
                ck_depthwise_block(image, weight, out, w, c, k, s, pad, yl, yh, oy, ox, 4);
                ox += 4;
            } else {
                ptrdiff_t xl = ck_max(0, pad - ox * s), xh = ck_min(k, w + pad - ox * s);
                for (ptrdiff_t ch = 0; ch < c; ch += 16) {
                    __mmask16 m = ck_mask(ch, c);
                    __m512 acc = _mm512_setzero_ps();
                    for (ptrdiff_t ky = yl; ky < yh; ky++) {
                        const float *row = image + ((oy * s + ky - pad) * w + ox * s - pad) * c + ch;
                        const float *wRow = weight + ky * k * c + ch;
                        for (ptrdiff_t kx = xl; kx < xh; kx++)
                            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row + kx * c), _mm512_maskz_loadu_ps(m, wRow + kx * c), acc);
                    }
                    _mm512_mask_storeu_ps(out + ch, m, acc);
                }
                ox += 1;
            }
        }
    }
}

CK_INLINE void ck_add_masked(float *d, __mmask16 m, __m512 v) {
    _mm512_mask_storeu_ps(d, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d), v));
}

CK_TARGET
void ck_depthwise_weight_gradient(const float *input, const float *gradientOutput, float *dw,
                                  ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                                  ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad, ptrdiff_t interiorLow, ptrdiff_t interiorHigh,
                                  ptrdiff_t rowBegin, ptrdiff_t rowEnd) {
    for (ptrdiff_t r = rowBegin; r < rowEnd; r++) {
        ptrdiff_t n = r / oh, oy = r % oh;
        const float *image = input + n * h * w * c;
        ptrdiff_t yl = ck_max(0, pad - oy * s), yh = ck_min(k, h + pad - oy * s);
        const float *gRow = gradientOutput + (n * oh + oy) * ow * c;
        if (interiorHigh > interiorLow) {
            // Interior columns: a kernel row's taps accumulate in registers over the whole row
            // (three chains for k = 3, one pass per tap otherwise), then once into dw.
            for (ptrdiff_t ky = yl; ky < yh; ky++) {
                const float *srcRow = image + (oy * s + ky - pad) * w * c;
                float *dwRow = dw + ky * k * c;
                for (ptrdiff_t ch = 0; ch < c; ch += 16) {
                    __mmask16 m = ck_mask(ch, c);
                    if (k == 3) {
                        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0;
                        for (ptrdiff_t ox = interiorLow; ox < interiorHigh; ox++) {
                            __m512 gv = _mm512_maskz_loadu_ps(m, gRow + ox * c + ch);
                            const float *x = srcRow + (ox * s - pad) * c + ch;
                            a0 = _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(m, x), a0);
                            a1 = _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(m, x + c), a1);
                            a2 = _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(m, x + 2 * c), a2);
                        }
                        ck_add_masked(dwRow + ch, m, a0);
                        ck_add_masked(dwRow + c + ch, m, a1);
                        ck_add_masked(dwRow + 2 * c + ch, m, a2);
                    } else {
                        for (ptrdiff_t kx = 0; kx < k; kx++) {
                            __m512 a = _mm512_setzero_ps();
                            for (ptrdiff_t ox = interiorLow; ox < interiorHigh; ox++)
                                a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, gRow + ox * c + ch),
                                                    _mm512_maskz_loadu_ps(m, srcRow + (ox * s - pad + kx) * c + ch), a);
                            ck_add_masked(dwRow + kx * c + ch, m, a);
                        }
                    }
                }
            }
        }
        for (ptrdiff_t ox = 0; ox < ow; ox++) {
            if (ox >= interiorLow && ox < interiorHigh) continue;
            const float *g = gRow + ox * c;
            ptrdiff_t xl = ck_max(0, pad - ox * s), xh = ck_min(k, w + pad - ox * s);
            for (ptrdiff_t ky = yl; ky < yh; ky++) {
                const float *row = image + ((oy * s + ky - pad) * w + ox * s - pad) * c;
                float *dwRow = dw + ky * k * c;
                for (ptrdiff_t kx = xl; kx < xh; kx++) {
                    const float *src = row + kx * c;
                    float *dst = dwRow + kx * c;
                    for (ptrdiff_t ch = 0; ch < c; ch += 16) {
                        __mmask16 m = ck_mask(ch, c);
                        _mm512_mask_storeu_ps(dst + ch, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, g + ch),
                                                                           _mm512_maskz_loadu_ps(m, src + ch),
                                                                           _mm512_maskz_loadu_ps(m, dst + ch)));
                    }
                }
            }
        }
    }
}

CK_TARGET
void ck_depthwise_input_gradient_stride1(const float *gradientOutput, float *gradientInput, const float *weight,
                                         ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                                         ptrdiff_t k, ptrdiff_t pad, ptrdiff_t rowBegin, ptrdiff_t rowEnd) {
    for (ptrdiff_t r = rowBegin; r < rowEnd; r++) {
        ptrdiff_t n = r / h, y = r % h;
        const float *gImage = gradientOutput + n * oh * ow * c;
        float *dRow = gradientInput + (n * h + y) * w * c;
        // Output (oy, ox) = (y + pad − ky, x + pad − kx) is inside for ky in [kyLow, kyHigh].
        ptrdiff_t kyLow = ck_max(0, y + pad - (oh - 1)), kyHigh = ck_min(k - 1, y + pad);
        // Columns whose every kx is inside: k − 1 − pad <= x <= ow − 1 − pad.
        ptrdiff_t xInteriorLow = ck_max(0, k - 1 - pad), xInteriorHigh = ck_min(w, ow - pad);
        ptrdiff_t x = 0;
        while (x < w) {
            float *dst = dRow + x * c;
            if (x >= xInteriorLow && x + 4 <= xInteriorHigh) {
                // Four pixels, four independent chains, the same order (ky, then kx) as below.
                for (ptrdiff_t ch = 0; ch < c; ch += 16) {
                    __mmask16 m = ck_mask(ch, c);
                    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                    for (ptrdiff_t ky = kyLow; ky <= kyHigh; ky++) {
                        const float *gRow = gImage + ((y + pad - ky) * ow + x + pad) * c + ch;
                        const float *wRow = weight + ky * k * c + ch;
                        for (ptrdiff_t kx = 0; kx < k; kx++) {
                            __m512 wv = _mm512_maskz_loadu_ps(m, wRow + kx * c);
                            const float *g = gRow - kx * c;
                            a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, g), wv, a0);
                            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, g + c), wv, a1);
                            a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, g + 2 * c), wv, a2);
                            a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, g + 3 * c), wv, a3);
                        }
                    }
                    _mm512_mask_storeu_ps(dst + ch, m, a0);
                    _mm512_mask_storeu_ps(dst + c + ch, m, a1);
                    _mm512_mask_storeu_ps(dst + 2 * c + ch, m, a2);
                    _mm512_mask_storeu_ps(dst + 3 * c + ch, m, a3);
                }
                x += 4;
                continue;
            }
            ptrdiff_t kxLow = ck_max(0, x + pad - (ow - 1)), kxHigh = ck_min(k - 1, x + pad);
            for (ptrdiff_t ch = 0; ch < c; ch += 16) {
                __mmask16 m = ck_mask(ch, c);
                __m512 acc = _mm512_setzero_ps();
                for (ptrdiff_t ky = kyLow; ky <= kyHigh; ky++) {
                    const float *gRow = gImage + ((y + pad - ky) * ow + x + pad) * c + ch;
                    const float *wRow = weight + ky * k * c + ch;
                    for (ptrdiff_t kx = kxLow; kx <= kxHigh; kx++)
                        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, gRow - kx * c), _mm512_maskz_loadu_ps(m, wRow + kx * c), acc);
                }
                _mm512_mask_storeu_ps(dst + ch, m, acc);
            }
            x += 1;
        }
    }
}


/* ---------------------------------------------------------------- batch norm + max pool */

/// u = a·x + b (a multiply, then an add: the Swift kernels' rounding, never fused, so the
/// winners recomputed by backward are those of the forward pass on either path).
CK_INLINE __m512 ck_affine(__m512 a, __m512 x, __m512 b) { return _mm512_add_ps(_mm512_mul_ps(a, x), b); }

CK_TARGET
void ck_bn_maxpool_forward(const float *input, float *output, const float *a, const float *b, int act,
                           ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                           ptrdiff_t rowBegin, ptrdiff_t rowEnd) {
    const ptrdiff_t offsets[4] = {0, c, w * c, (w + 1) * c};
    for (ptrdiff_t r = rowBegin; r < rowEnd; r++) {
        ptrdiff_t n = r / oh, oy = r % oh;
        for (ptrdiff_t ox = 0; ox < ow; ox++) {
            float *out = output + ((n * oh + oy) * ow + ox) * c;
            const float *p0 = input + ((n * h + 2 * oy) * w + 2 * ox) * c;
            for (ptrdiff_t ch = 0; ch < c; ch += 16) {
                __m512 av = _mm512_loadu_ps(a + ch), bv = _mm512_loadu_ps(b + ch);
                __m512 best = ck_act(ck_affine(av, _mm512_loadu_ps(p0 + ch), bv), act);
                for (int j = 1; j < 4; j++) {
                    __m512 y = ck_act(ck_affine(av, _mm512_loadu_ps(p0 + offsets[j] + ch), bv), act);
                    best = ck_maximum(best, y);
                }
                _mm512_storeu_ps(out + ch, best);
            }
        }
    }
}

/// The gradient reaching u at each of a window's four inputs (16 channels): g_p · act'(u) at
/// the winner (the first input whose activation equals the pooled output), 0 elsewhere.
CK_INLINE void ck_bn_window(const float *p0, const ptrdiff_t *offsets, __m512 best, __m512 gp, __m512 av, __m512 bv,
                            __m512 slope, int act, __m512 x[4], __m512 g[4]) {
    __mmask16 taken = 0;
    const __m512 zero = _mm512_setzero_ps();
    __m512 gs = _mm512_mul_ps(gp, slope);
    for (int j = 0; j < 4; j++) {
        x[j] = _mm512_loadu_ps(p0 + offsets[j]);
        __m512 u = ck_affine(av, x[j], bv);
        __mmask16 hit = _mm512_cmp_ps_mask(ck_act(u, act), best, _CMP_EQ_OQ) & (__mmask16)~taken;
        taken |= hit;
        __m512 gj = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(u, zero, _CMP_GT_OQ), gs, gp);
        g[j] = _mm512_maskz_mov_ps(hit, gj);
    }
}

CK_TARGET
void ck_bn_maxpool_backward_sums(const float *input, const float *output, const float *gradientOutput,
                                 const float *a, const float *b, const float *mean, float slope, int act,
                                 ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                                 ptrdiff_t rowBegin, ptrdiff_t rowEnd, double *sums, float *block) {
    const ptrdiff_t offsets[4] = {0, c, w * c, (w + 1) * c};
    const __m512 slopes = _mm512_set1_ps(slope);
    for (ptrdiff_t r = rowBegin; r < rowEnd; r++) {
        ptrdiff_t n = r / oh, oy = r % oh;
        for (ptrdiff_t ox = 0; ox < ow; ox += 16) {
            ptrdiff_t end = ck_min(ox + 16, ow);
            for (ptrdiff_t ch = 0; ch < c; ch += 16) {
                __m512 muv = _mm512_loadu_ps(mean + ch), av = _mm512_loadu_ps(a + ch), bv = _mm512_loadu_ps(b + ch);
                __m512 sumG = _mm512_setzero_ps(), sumGX = _mm512_setzero_ps();
                for (ptrdiff_t x0 = ox; x0 < end; x0++) {
                    ptrdiff_t o = ((n * oh + oy) * ow + x0) * c + ch;
                    const float *p0 = input + ((n * h + 2 * oy) * w + 2 * x0) * c + ch;
                    __m512 x[4], g[4];
                    ck_bn_window(p0, offsets, _mm512_loadu_ps(output + o), _mm512_loadu_ps(gradientOutput + o), av, bv, slopes, act, x, g);
                    for (int j = 0; j < 4; j++) {
                        sumG = _mm512_add_ps(sumG, g[j]);
                        sumGX = _mm512_fmadd_ps(g[j], _mm512_sub_ps(x[j], muv), sumGX);
                    }
                }
                _mm512_storeu_ps(block + ch, sumG);
                _mm512_storeu_ps(block + c + ch, sumGX);
            }
            for (ptrdiff_t i = 0; i < 2 * c; i++) sums[i] += (double)block[i];
        }
    }
}

CK_TARGET
void ck_bn_maxpool_backward_input(const float *input, const float *output, const float *gradientOutput, float *gradientInput,
                                  const float *a, const float *b, const float *mean, const float *inverse,
                                  const float *k, const float *meanG, const float *meanGX, float slope, int act,
                                  ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                                  ptrdiff_t rowBegin, ptrdiff_t rowEnd) {
    const ptrdiff_t offsets[4] = {0, c, w * c, (w + 1) * c};
    const __m512 slopes = _mm512_set1_ps(slope);
    for (ptrdiff_t r = rowBegin; r < rowEnd; r++) {
        ptrdiff_t n = r / oh, oy = r % oh;
        for (ptrdiff_t ox = 0; ox < ow; ox++) {
            ptrdiff_t o = ((n * oh + oy) * ow + ox) * c;
            ptrdiff_t i0 = ((n * h + 2 * oy) * w + 2 * ox) * c;
            for (ptrdiff_t ch = 0; ch < c; ch += 16) {
                __m512 kv = _mm512_loadu_ps(k + ch), mgv = _mm512_loadu_ps(meanG + ch), mgxv = _mm512_loadu_ps(meanGX + ch);
                __m512 muv = _mm512_loadu_ps(mean + ch), invv = _mm512_loadu_ps(inverse + ch);
                __m512 x[4], g[4];
                ck_bn_window(input + i0 + ch, offsets, _mm512_loadu_ps(output + o + ch), _mm512_loadu_ps(gradientOutput + o + ch),
                             _mm512_loadu_ps(a + ch), _mm512_loadu_ps(b + ch), slopes, act, x, g);
                for (int j = 0; j < 4; j++) {
                    __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(x[j], muv), invv);
                    // k (g − mean(g) − x̂ mean(g x̂))
                    __m512 d = _mm512_mul_ps(kv, _mm512_fnmadd_ps(xhat, mgxv, _mm512_sub_ps(g[j], mgv)));
                    _mm512_storeu_ps(gradientInput + i0 + offsets[j] + ch, d);
                }
            }
        }
    }
}

/* ---------------------------------------------------------------- batch-norm statistics */

CK_TARGET
void ck_shifted_moments(const float *input, const float *shift, ptrdiff_t c, ptrdiff_t rowBegin, ptrdiff_t rowEnd,
                        double *sums, double *squares, float *block) {
    for (ptrdiff_t r = rowBegin; r < rowEnd; r += 64) {
        ptrdiff_t end = ck_min(r + 64, rowEnd);
        for (ptrdiff_t ch = 0; ch < c; ch += 16) {
            __mmask16 m = ck_mask(ch, c);
            __m512 k = _mm512_maskz_loadu_ps(m, shift + ch);
            __m512 sum = _mm512_setzero_ps(), square = _mm512_setzero_ps();
            for (ptrdiff_t row = r; row < end; row++) {
                __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, input + row * c + ch), k);
                sum = _mm512_add_ps(sum, d);
                square = _mm512_fmadd_ps(d, d, square);
            }
            _mm512_mask_storeu_ps(block + ch, m, sum);
            _mm512_mask_storeu_ps(block + c + ch, m, square);
        }
        for (ptrdiff_t ch = 0; ch < c; ch++) { sums[ch] += (double)block[ch]; squares[ch] += (double)block[c + ch]; }
    }
}

/* ---------------------------------------------------------------- GEMM */

/// R rows x V vectors (16 columns each; the last one masked by `last`) of C, over p < k:
/// A's (i, p) at a[i·ars + p·acs], B's row p at b + p·ldb. Each C value is one FMA chain over p
/// in order, from 0 or (accumulate) from its value in C, so the tiling does not change a bit.
CK_INLINE void ck_gemm_tile(ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                            const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate,
                            __mmask16 last, const int R, const int V) {
    __m512 acc[12][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            const float *cv = c + r * ldc + 16 * v;
            if (accumulate) acc[r][v] = v == V - 1 ? _mm512_maskz_loadu_ps(last, cv) : _mm512_loadu_ps(cv);
            else acc[r][v] = _mm512_setzero_ps();
        }
    for (ptrdiff_t p = 0; p < k; p++) {
        const float *bp = b + p * ldb;
        __m512 bv[4];
        for (int v = 0; v < V; v++) bv[v] = v == V - 1 ? _mm512_maskz_loadu_ps(last, bp + 16 * v) : _mm512_loadu_ps(bp + 16 * v);
        const float *ap = a + p * acs;
        for (int r = 0; r < R; r++) {
            const __m512 av = _mm512_set1_ps(ap[r * ars]);
            for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            float *cv = c + r * ldc + 16 * v;
            if (v == V - 1) _mm512_mask_storeu_ps(cv, last, acc[r][v]);
            else _mm512_storeu_ps(cv, acc[r][v]);
        }
}

/// Rows [0, m) of one column panel: tiles of R rows, then of 4, 2 and 1.
#define CK_PANEL(R, V)                                                                                           \
    do {                                                                                                         \
        ptrdiff_t i = 0;                                                                                         \
        for (; i + R <= m; i += R) ck_gemm_tile(k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, accumulate, last, R, V); \
        for (; i + 4 <= m; i += 4) ck_gemm_tile(k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, accumulate, last, 4, V); \
        for (; i + 2 <= m; i += 2) ck_gemm_tile(k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, accumulate, last, 2, V); \
        for (; i < m; i++) ck_gemm_tile(k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, accumulate, last, 1, V); \
    } while (0)

/// One panel of `cols` ≤ 64 columns. The tile keeps 24 accumulators (12 for one vector) in the
/// 32 ZMM registers, beside the panel's B vectors: 6 rows of 64 columns, 8 of 48, 12 of 32.
CK_TARGET static void ck_gemm_panel(ptrdiff_t m, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                                    const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate,
                                    ptrdiff_t cols) {
    const __mmask16 last = (__mmask16)(cols % 16 == 0 ? 0xFFFF : (1u << (cols % 16)) - 1);
    switch ((cols + 15) / 16) {
    case 4: CK_PANEL(6, 4); break;
    case 3: CK_PANEL(8, 3); break;
    case 2: CK_PANEL(12, 2); break;
    default: CK_PANEL(12, 1); break;
    }
}

/// The blocking both GEMMs share: blocks of KC inner steps and MC rows, so that a block of A (at
/// most 192 x 256 floats) and a panel of B (256 x its width) stay in the L2 cache while the
/// tiles sweep them; a later block of p continues each C value's chain from C. `panel` does
/// `panelColumns` columns (fewer at the right edge). No vector code of its own.
typedef void (*ck_gemm_panel_fn)(ptrdiff_t m, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                                 const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate, ptrdiff_t cols);

static void ck_gemm_blocks(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                           const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate,
                           ptrdiff_t panelColumns, ck_gemm_panel_fn panel) {
    const ptrdiff_t KC = 256, MC = 192;
    if (k == 0) {
        if (!accumulate) for (ptrdiff_t i = 0; i < m; i++) for (ptrdiff_t j = 0; j < n; j++) c[i * ldc + j] = 0;
        return;
    }
    for (ptrdiff_t p0 = 0; p0 < k; p0 += KC) {
        const ptrdiff_t kc = ck_min(KC, k - p0);
        const int chained = accumulate || p0 > 0;
        for (ptrdiff_t i0 = 0; i0 < m; i0 += MC) {
            const ptrdiff_t mc = ck_min(MC, m - i0);
            for (ptrdiff_t j0 = 0; j0 < n; j0 += panelColumns)
                panel(mc, kc, a + i0 * ars + p0 * acs, ars, acs, b + p0 * ldb + j0, ldb, c + i0 * ldc + j0, ldc, chained,
                      ck_min(panelColumns, n - j0));
        }
    }
}

void ck_gemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
             const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    ck_gemm_blocks(m, n, k, a, ars, acs, b, ldb, c, ldc, accumulate, 64, ck_gemm_panel);
}

/* ---------------------------------------------------------------- GEMM, AVX2 */

#define CK_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define CK_INLINE_AVX2 static inline __attribute__((always_inline)) CK_TARGET_AVX2

/// `ck_gemm_tile` in 8-wide vectors: R rows x V vectors of C (the last one masked by `last`),
/// each value one FMA chain over p in order, so the AVX2 and AVX-512 products agree bit for bit.
CK_INLINE_AVX2 void ck_gemm_tile_avx2(ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                                      const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate,
                                      __m256i last, const int R, const int V) {
    __m256 acc[6][2];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            const float *cv = c + r * ldc + 8 * v;
            if (accumulate) acc[r][v] = v == V - 1 ? _mm256_maskload_ps(cv, last) : _mm256_loadu_ps(cv);
            else acc[r][v] = _mm256_setzero_ps();
        }
    for (ptrdiff_t p = 0; p < k; p++) {
        const float *bp = b + p * ldb;
        __m256 bv[2];
        for (int v = 0; v < V; v++) bv[v] = v == V - 1 ? _mm256_maskload_ps(bp + 8 * v, last) : _mm256_loadu_ps(bp + 8 * v);
        const float *ap = a + p * acs;
        for (int r = 0; r < R; r++) {
            const __m256 av = _mm256_broadcast_ss(ap + r * ars);
            for (int v = 0; v < V; v++) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            float *cv = c + r * ldc + 8 * v;
            if (v == V - 1) _mm256_maskstore_ps(cv, last, acc[r][v]);
            else _mm256_storeu_ps(cv, acc[r][v]);
        }
}

#define CK_PANEL_AVX2(V)                                                                                              \
    do {                                                                                                              \
        ptrdiff_t i = 0;                                                                                              \
        for (; i + 6 <= m; i += 6) ck_gemm_tile_avx2(k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, accumulate, last, 6, V); \
        for (; i + 4 <= m; i += 4) ck_gemm_tile_avx2(k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, accumulate, last, 4, V); \
        for (; i + 2 <= m; i += 2) ck_gemm_tile_avx2(k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, accumulate, last, 2, V); \
        for (; i < m; i++) ck_gemm_tile_avx2(k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, accumulate, last, 1, V); \
    } while (0)

/// One panel of `cols` ≤ 16 columns: 6 rows x 2 vectors, 12 accumulators beside the two B
/// vectors and the broadcast in the 16 YMM registers (the classic Haswell tile).
CK_TARGET_AVX2 static void ck_gemm_panel_avx2(ptrdiff_t m, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                                              const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate,
                                              ptrdiff_t cols) {
    const ptrdiff_t tail = cols % 8 == 0 ? 8 : cols % 8;
    const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    if (cols > 8) CK_PANEL_AVX2(2);
    else CK_PANEL_AVX2(1);
}

void ck_gemm_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                  const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    ck_gemm_blocks(m, n, k, a, ars, acs, b, ldb, c, ldc, accumulate, 16, ck_gemm_panel_avx2);
}

#else
// Not x86-64: no AVX-512; the kernels are never called (the Swift side checks ck_avx512_usable).
#include <stdlib.h>
int ck_avx512_usable(void) { return 0; }
#define CK_UNAVAILABLE { abort(); }
void ck_conv_direct_forward(const float *i, float *o, const float *wt, const float *b, int a, ptrdiff_t h, ptrdiff_t w,
                            ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t f, ptrdiff_t k, ptrdiff_t s, ptrdiff_t p,
                            ptrdiff_t il, ptrdiff_t ih, ptrdiff_t rb, ptrdiff_t re) CK_UNAVAILABLE
void ck_conv_direct_weight_gradient(const float *i, const float *g, float *d, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                                    ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t f, ptrdiff_t k, ptrdiff_t s, ptrdiff_t p,
                                    ptrdiff_t il, ptrdiff_t ih, ptrdiff_t rb, ptrdiff_t re) CK_UNAVAILABLE
void ck_conv_maxpool_forward(const float *i, float *o, const float *wt, const float *b, int a, ptrdiff_t h, ptrdiff_t w,
                             ptrdiff_t c, ptrdiff_t ph, ptrdiff_t pw, ptrdiff_t f, ptrdiff_t rb, ptrdiff_t re) CK_UNAVAILABLE
void ck_depthwise_forward(const float *i, float *o, const float *wt, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh,
                          ptrdiff_t ow, ptrdiff_t k, ptrdiff_t s, ptrdiff_t p, ptrdiff_t il, ptrdiff_t ih, ptrdiff_t rb,
                          ptrdiff_t re) CK_UNAVAILABLE
void ck_depthwise_weight_gradient(const float *i, const float *g, float *d, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                                  ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t k, ptrdiff_t s, ptrdiff_t p, ptrdiff_t il,
                                  ptrdiff_t ih, ptrdiff_t rb, ptrdiff_t re) CK_UNAVAILABLE
void ck_depthwise_input_gradient_stride1(const float *g, float *d, const float *wt, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                                         ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t k, ptrdiff_t p, ptrdiff_t rb,
                                         ptrdiff_t re) CK_UNAVAILABLE
void ck_bn_maxpool_forward(const float *i, float *o, const float *a, const float *b, int act, ptrdiff_t h, ptrdiff_t w,
                           ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t rb, ptrdiff_t re) CK_UNAVAILABLE
void ck_bn_maxpool_backward_sums(const float *i, const float *o, const float *g, const float *a, const float *b,
                                 const float *mu, float s, int act, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh,
                                 ptrdiff_t ow, ptrdiff_t rb, ptrdiff_t re, double *sums, float *block) CK_UNAVAILABLE
void ck_bn_maxpool_backward_input(const float *i, const float *o, const float *g, float *d, const float *a, const float *b,
                                  const float *mu, const float *inv, const float *k, const float *mg, const float *mgx,
                                  float s, int act, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t oh, ptrdiff_t ow,
                                  ptrdiff_t rb, ptrdiff_t re) CK_UNAVAILABLE
void ck_shifted_moments(const float *i, const float *k, ptrdiff_t c, ptrdiff_t rb, ptrdiff_t re, double *s, double *q,
                        float *block) CK_UNAVAILABLE
void ck_gemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs, const float *b,
             ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) CK_UNAVAILABLE
void ck_gemm_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs, const float *b,
                  ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) CK_UNAVAILABLE
#endif
