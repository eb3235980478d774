/* kernels.c - the element-wise and row-wise kernels of the GPT-2 forward pass, and the one
 * BLIS entry point.  Loops are written so that GCC vectorises them at -O2/-O3 with
 * OpenMP simd (no libm calls in the hot loops: tg_expf is a polynomial). */
#include <blis.h>
#include <math.h>
#include <string.h>

#include "tg_gpt2.h"

/* Function multi-versioning: the element-wise loops below are compiled for AVX-512, AVX2+FMA
 * and baseline x86-64, chosen at load time (GCC ifunc); elsewhere one portable version. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__linux__)
#define TG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TG_CLONES
#endif

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

void tg_sgemm(size_t m, size_t n, size_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *b,
              ptrdiff_t rsb, ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc, bool single_thread) {
    if (m == 0 || n == 0) return;
    rntm_t rntm = BLIS_RNTM_INITIALIZER; /* default-initialised: single-threaded */
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k, &alpha, (float *)a, (inc_t)rsa,
                 (inc_t)csa, (float *)b, (inc_t)rsb, (inc_t)csb, &beta, c, (inc_t)rsc, (inc_t)csc, NULL,
                 single_thread ? &rntm : NULL);
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

/* ---- BLIS sub-configuration for CPUs that BLIS 0.9 does not recognise ----
 * BLIS picks its kernels at its first call from the CPU's vendor/family.  BLIS 0.9 knows
 * AMD families up to 0x19 (Zen 3/4); on later ones (Zen 5 is family 0x1A) it falls back to
 * the portable "generic" kernels, 5-7x slower than the AVX2/AVX-512 ones the CPU can run.
 * Before BLIS initialises (a constructor of this library) we therefore request, through
 * BLIS's own BLIS_ARCH_TYPE variable, the best sub-configuration that both the CPU
 * supports and this BLIS build contains (BLIS_CONFIG_* from blis.h describe the build the
 * header belongs to).  A BLIS_ARCH_TYPE the user set is never overridden, and BLIS 1.0 or
 * later is left to its own detection. */
#if defined(__x86_64__) && defined(__GNUC__) && (defined(BLIS_FAMILY_X86_64) || defined(BLIS_FAMILY_AMD64))
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void tg_blis_pick_arch(void) {
    if (getenv("BLIS_ARCH_TYPE") != NULL) return;
    /* only BLIS 0.x lacks these CPUs; later releases may know them (and pick better) */
    const char *version = bli_info_get_version_str();
    if (version == NULL || strncmp(version, "0.", 2) != 0) return;
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    const bool amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u; /* "AuthenticAMD" */
    if (!amd || !__get_cpuid(1, &a, &b, &c, &d)) return;
    unsigned family = (a >> 8) & 0xf;
    if (family == 0xf) family += (a >> 20) & 0xff;
    if (family <= 0x19) return; /* BLIS 0.9 selects these itself */
    __builtin_cpu_init();
    int arch = -1;
#ifdef BLIS_CONFIG_SKX
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
        arch = BLIS_ARCH_SKX;
#endif
#ifdef BLIS_CONFIG_ZEN3
    if (arch < 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) arch = BLIS_ARCH_ZEN3;
#endif
#ifdef BLIS_CONFIG_HASWELL
    if (arch < 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) arch = BLIS_ARCH_HASWELL;
#endif
    if (arch < 0) return;
    char buf[16];
    snprintf(buf, sizeof buf, "%d", arch);
    setenv("BLIS_ARCH_TYPE", buf, 0);
}
#endif
