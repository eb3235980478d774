/* kernels.c - the element-wise and row-wise kernels of the GPT-2 forward pass (see
 * gpt2/kernels.h); the matrix products are BLIS calls through base/blas.h.  Loops are
 * written so that GCC vectorises them at -O2/-O3 with OpenMP simd (no libm calls in the hot
 * loops: tg_expf is a polynomial). */
#include "gpt2/kernels.h"

#include <math.h>
#include <string.h>

#include "base/internal.h"

/* Function multi-versioning: the element-wise loops below are compiled for AVX-512, AVX2+FMA
 * and baseline x86-64, chosen at load time (ifunc); elsewhere one portable version. */
#define TG_CLONES TG_TARGET_CLONES_GCC("arch=x86-64-v4", "arch=x86-64-v3", "default")

/* exp(x): Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6
 * minimax polynomial (Cephes expf coefficients), scaled by 2^n through the exponent bits.
 * n is kept in [-126, 127] by clamping x so no overflow or denormal arithmetic happens. */
static inline float expf_poly(float x) {
    x = x < -87.33654f ? -87.33654f : x;
    x = x > 88.0f ? 88.0f : x;
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = x * 1.44269504088896341f + shifter;
    union {
        float f;
        int32_t i;
    } u = {t};
    int32_t n = u.i - 0x4B400000;
    float fn = t - shifter;
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        int32_t i;
        float f;
    } s = {(n + 127) * (1 << 23)};
    return p * s.f;
}

float tg_expf(float x) { return expf_poly(x); }

TG_CLONES static float ln_row(const float *xr, size_t cols, const float *w, const float *b, float eps, float *yr) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (size_t j = 0; j < cols; j++) s += xr[j];
    const float mean = (float)((double)s / (double)cols);
    float v = 0.0f;
#pragma omp simd reduction(+ : v)
    for (size_t j = 0; j < cols; j++) {
        float d = xr[j] - mean;
        v += d * d;
    }
    const double sd = sqrt((double)v / (double)cols + (double)eps);
    const float inv = (float)(1.0 / sd);
#pragma omp simd
    for (size_t j = 0; j < cols; j++) yr[j] = (xr[j] - mean) * inv * w[j] + b[j];
    return (float)sd;
}

/* 0.5 x (1 + tanh(u)) == x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) */
TG_CLONES static void gelu_tanh_chunk(const float *x, float *y, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
        y[i] = v / (1.0f + expf_poly(-2.0f * u));
    }
}

TG_CLONES float tg_dot_f32(const float *a, const float *b, size_t n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

TG_CLONES void tg_axpy_f32(float alpha, const float *x, float *y, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void tg_layernorm_f32(const float *x, ptrdiff_t ldx, size_t rows, size_t cols, const float *w, const float *b,
                      float eps, float *y, ptrdiff_t ldy, float *scale) {
    const ptrdiff_t nrows = (ptrdiff_t)rows;
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
    for (ptrdiff_t r = 0; r < nrows; r++) {
        float sd = ln_row(x + r * ldx, cols, w, b, eps, y + r * ldy);
        if (scale) scale[r] = sd;
    }
}

void tg_layernorm_idx_f32(const float *x, size_t cols, const size_t *idx, size_t n, const float *w, const float *b,
                          float eps, float *y, float *scale) {
    const ptrdiff_t nn = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) if (n * cols > 32768)
    for (ptrdiff_t i = 0; i < nn; i++) {
        const size_t r = idx ? idx[i] : (size_t)i;
        float sd = ln_row(x + r * cols, cols, w, b, eps, y + r * cols);
        if (scale) scale[r] = sd;
    }
}

void tg_activation_serial_f32(tg_gpt2_activation act, const float *x, float *y, size_t n) {
    if (act == TG_GPT2_GELU_TANH) {
        gelu_tanh_chunk(x, y, n);
    } else if (act == TG_GPT2_GELU_ERF) {
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            y[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
        }
    } else {
#pragma omp simd
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}

void tg_activation_f32(tg_gpt2_activation act, const float *x, float *y, size_t n) {
    const ptrdiff_t nn = (ptrdiff_t)n;
    const ptrdiff_t chunk = 4096;
    const ptrdiff_t nchunks = (nn + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (ptrdiff_t c = 0; c < nchunks; c++) {
        ptrdiff_t lo = c * chunk, hi = lo + chunk < nn ? lo + chunk : nn;
        if (act == TG_GPT2_GELU_TANH) {
            gelu_tanh_chunk(x + lo, y + lo, (size_t)(hi - lo));
        } else if (act == TG_GPT2_GELU_ERF) {
            for (ptrdiff_t i = lo; i < hi; i++) {
                float v = x[i];
                y[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
            }
        } else {
#pragma omp simd
            for (ptrdiff_t i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        }
    }
}

void tg_softmax_rows_f32(const float *x, ptrdiff_t ldx, size_t rows, size_t n, float *y, ptrdiff_t ldy) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + (ptrdiff_t)r * ldx;
        float *yr = y + (ptrdiff_t)r * ldy;
        if (n == 0) continue;
        float m = xr[0];
        for (size_t j = 1; j < n; j++) m = xr[j] > m ? xr[j] : m;
        if (isinf(m) && m < 0) { /* every entry -inf: define the result as uniform */
            for (size_t j = 0; j < n; j++) yr[j] = 1.0f / (float)n;
            continue;
        }
        double s = 0.0;
        for (size_t j = 0; j < n; j++) {
            float e = (float)exp((double)(xr[j] - m));
            yr[j] = e;
            s += e;
        }
        const float inv = (float)(1.0 / s);
        for (size_t j = 0; j < n; j++) yr[j] *= inv;
    }
}

TG_CLONES void tg_causal_softmax_row_f32(float *s, float *p, size_t lo, size_t hi, size_t n, bool mask_scores) {
    float m = s[lo];
    for (size_t j = lo + 1; j <= hi; j++) m = s[j] > m ? s[j] : m;
    float sum = 0.0f;
    if (s != p) {
#pragma omp simd reduction(+ : sum)
        for (size_t j = lo; j <= hi; j++) {
            float e = expf_poly(s[j] - m);
            p[j] = e;
            sum += e;
        }
    } else {
#pragma omp simd reduction(+ : sum)
        for (size_t j = lo; j <= hi; j++) {
            float e = expf_poly(p[j] - m);
            p[j] = e;
            sum += e;
        }
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (size_t j = lo; j <= hi; j++) p[j] *= inv;
    for (size_t j = 0; j < lo; j++) p[j] = 0.0f;
    for (size_t j = hi + 1; j < n; j++) p[j] = 0.0f;
    if (mask_scores && s != p) {
        for (size_t j = 0; j < lo; j++) s[j] = -INFINITY;
        for (size_t j = hi + 1; j < n; j++) s[j] = -INFINITY;
    }
}

