/* geometry.c - paired row reductions (cosine, angle, distances, norms), softmax family and
 * the blocked all-pairs cosine engine (BLIS gemm through base/blas.h + streaming consumers:
 * matrix, top-k, histogram).  See tokgeo/metrics.h for the contracts. */
#include "tokgeo/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/blas.h"
#include "base/fastmath.h"
#include "base/internal.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- views ------------------------------------------------------------------------------ */

static ptrdiff_t last_stride(const tg_view *v) { return v->ndim ? v->stride[v->ndim - 1] : 0; }

/* Static share [*lo, *hi) of rows [r0, r1) for the calling OpenMP thread. */
static void thread_share(size_t r0, size_t r1, size_t *lo, size_t *hi) {
#ifdef _OPENMP
    size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
#else
    size_t nt = 1, t = 0;
#endif
    size_t n = r1 - r0, q = n / nt, rem = n % nt;
    *lo = r0 + t * q + (t < rem ? t : rem);
    *hi = *lo + q + (t < rem ? 1 : 0);
}

/* Below this many element operations a loop stays on one thread: an OpenMP fork/join costs
 * microseconds on a quiet machine but milliseconds when the cores are oversubscribed. */
#define TG_PAR_MIN_WORK (1 << 20)

/* Rows processed between two interrupt polls. */
static size_t chunk_rows(size_t len) {
    size_t c = (size_t)1 << 22;
    c = len ? c / len : c;
    return c < 16 ? 16 : c;
}

/* ---- paired row reductions -------------------------------------------------------------- */

/* Sums for one row: r[0] = dot or squared distance or squared norm, r[1] = |a|^2, r[2] = |b|^2.
 * Four independent accumulators keep the adds pipelined (and make the order deterministic). */
/* AVX2 clone of the contiguous kernels where the toolchain can dispatch at load time. */
#define TG_SIMD_CLONES TG_TARGET_CLONES_GCC("avx2", "default")

#define DEFINE_ROW_SUMS(T, SUF)                                                                   \
    static inline void row_sums_##SUF##_s(int op, const T *a, ptrdiff_t sa, const T *b, ptrdiff_t sb, \
                                          size_t n, double r[3]) {                                 \
        double p0 = 0, p1 = 0, p2 = 0, p3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;                     \
        double u0 = 0, u1 = 0, u2 = 0, u3 = 0;                                                     \
        size_t i = 0;                                                                              \
        if (op == TG_ROW_COS || op == TG_ROW_ANGLE) {                                              \
            for (; i + 4 <= n; i += 4) {                                                           \
                double x0 = a[(ptrdiff_t)i * sa], x1 = a[(ptrdiff_t)(i + 1) * sa];                 \
                double x2 = a[(ptrdiff_t)(i + 2) * sa], x3 = a[(ptrdiff_t)(i + 3) * sa];           \
                double y0 = b[(ptrdiff_t)i * sb], y1 = b[(ptrdiff_t)(i + 1) * sb];                 \
                double y2 = b[(ptrdiff_t)(i + 2) * sb], y3 = b[(ptrdiff_t)(i + 3) * sb];           \
                p0 += x0 * y0; p1 += x1 * y1; p2 += x2 * y2; p3 += x3 * y3;                        \
                q0 += x0 * x0; q1 += x1 * x1; q2 += x2 * x2; q3 += x3 * x3;                        \
                u0 += y0 * y0; u1 += y1 * y1; u2 += y2 * y2; u3 += y3 * y3;                        \
            }                                                                                      \
            for (; i < n; i++) {                                                                   \
                double x = a[(ptrdiff_t)i * sa], y = b[(ptrdiff_t)i * sb];                         \
                p0 += x * y; q0 += x * x; u0 += y * y;                                             \
            }                                                                                      \
        } else if (op == TG_ROW_DOT) {                                                             \
            for (; i + 4 <= n; i += 4) {                                                           \
                p0 += (double)a[(ptrdiff_t)i * sa] * (double)b[(ptrdiff_t)i * sb];                 \
                p1 += (double)a[(ptrdiff_t)(i + 1) * sa] * (double)b[(ptrdiff_t)(i + 1) * sb];     \
                p2 += (double)a[(ptrdiff_t)(i + 2) * sa] * (double)b[(ptrdiff_t)(i + 2) * sb];     \
                p3 += (double)a[(ptrdiff_t)(i + 3) * sa] * (double)b[(ptrdiff_t)(i + 3) * sb];     \
            }                                                                                      \
            for (; i < n; i++) p0 += (double)a[(ptrdiff_t)i * sa] * (double)b[(ptrdiff_t)i * sb];  \
        } else if (op == TG_ROW_EUCLID) {                                                          \
            for (; i + 4 <= n; i += 4) {                                                           \
                double d0 = (double)a[(ptrdiff_t)i * sa] - (double)b[(ptrdiff_t)i * sb];           \
                double d1 = (double)a[(ptrdiff_t)(i + 1) * sa] - (double)b[(ptrdiff_t)(i + 1) * sb]; \
                double d2 = (double)a[(ptrdiff_t)(i + 2) * sa] - (double)b[(ptrdiff_t)(i + 2) * sb]; \
                double d3 = (double)a[(ptrdiff_t)(i + 3) * sa] - (double)b[(ptrdiff_t)(i + 3) * sb]; \
                p0 += d0 * d0; p1 += d1 * d1; p2 += d2 * d2; p3 += d3 * d3;                        \
            }                                                                                      \
            for (; i < n; i++) {                                                                   \
                double d = (double)a[(ptrdiff_t)i * sa] - (double)b[(ptrdiff_t)i * sb];            \
                p0 += d * d;                                                                       \
            }                                                                                      \
        } else { /* norm */                                                                        \
            for (; i + 4 <= n; i += 4) {                                                           \
                double x0 = a[(ptrdiff_t)i * sa], x1 = a[(ptrdiff_t)(i + 1) * sa];                 \
                double x2 = a[(ptrdiff_t)(i + 2) * sa], x3 = a[(ptrdiff_t)(i + 3) * sa];           \
                p0 += x0 * x0; p1 += x1 * x1; p2 += x2 * x2; p3 += x3 * x3;                        \
            }                                                                                      \
            for (; i < n; i++) {                                                                   \
                double x = a[(ptrdiff_t)i * sa];                                                   \
                p0 += x * x;                                                                       \
            }                                                                                      \
        }                                                                                          \
        r[0] = (p0 + p1) + (p2 + p3);                                                              \
        r[1] = (q0 + q1) + (q2 + q3);                                                              \
        r[2] = (u0 + u1) + (u2 + u3);                                                              \
    }                                                                                              \
    /* Unit strides: 8 independent lanes per sum, which the compiler turns into SIMD without \
     * reassociating anything (same result on every ISA: no FMA contraction in C11 mode). */ \
    TG_SIMD_CLONES static void row_sums_##SUF##_c(int op, const T *restrict a, const T *restrict b, size_t n, \
                                                  double r[3]) {                                    \
        double p[8] = {0}, q[8] = {0}, u[8] = {0};                                                 \
        size_t i = 0, m = n & ~(size_t)7;                                                          \
        if (op == TG_ROW_COS || op == TG_ROW_ANGLE) {                                              \
            for (; i < m; i += 8)                                                                  \
                for (int k = 0; k < 8; k++) {                                                      \
                    double x = a[i + k], y = b[i + k];                                             \
                    p[k] += x * y; q[k] += x * x; u[k] += y * y;                                   \
                }                                                                                  \
            for (; i < n; i++) {                                                                   \
                double x = a[i], y = b[i];                                                         \
                p[0] += x * y; q[0] += x * x; u[0] += y * y;                                       \
            }                                                                                      \
        } else if (op == TG_ROW_DOT) {                                                             \
            for (; i < m; i += 8)                                                                  \
                for (int k = 0; k < 8; k++) p[k] += (double)a[i + k] * (double)b[i + k];           \
            for (; i < n; i++) p[0] += (double)a[i] * (double)b[i];                                \
        } else if (op == TG_ROW_EUCLID) {                                                          \
            for (; i < m; i += 8)                                                                  \
                for (int k = 0; k < 8; k++) {                                                      \
                    double d = (double)a[i + k] - (double)b[i + k];                                \
                    p[k] += d * d;                                                                 \
                }                                                                                  \
            for (; i < n; i++) {                                                                   \
                double d = (double)a[i] - (double)b[i];                                            \
                p[0] += d * d;                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            for (; i < m; i += 8)                                                                  \
                for (int k = 0; k < 8; k++) p[k] += (double)a[i + k] * (double)a[i + k];           \
            for (; i < n; i++) p[0] += (double)a[i] * (double)a[i];                                \
        }                                                                                          \
        r[0] = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));                 \
        r[1] = ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));                 \
        r[2] = ((u[0] + u[1]) + (u[2] + u[3])) + ((u[4] + u[5]) + (u[6] + u[7]));                 \
    }                                                                                              \
    static void row_sums_##SUF(int op, const T *a, ptrdiff_t sa, const T *b, ptrdiff_t sb, size_t n, \
                               double r[3]) {                                                      \
        if (sa == 1 && (sb == 1 || op == TG_ROW_NORM))                                             \
            row_sums_##SUF##_c(op, a, op == TG_ROW_NORM ? a : b, n, r);                            \
        else                                                                                       \
            row_sums_##SUF##_s(op, a, sa, b, sb, n, r);                                            \
    }

DEFINE_ROW_SUMS(float, f32)
DEFINE_ROW_SUMS(double, f64)

/* float64 rows whose squares leave the double range (|x| beyond ~1e+-154: norms, distances
 * and cosines of rows near 1e-160 or 1e160 came out 0, inf or NaN) are summed again scaled by
 * powers of two (exact), so that the largest |x| is in [1, 2); the sums come back with the
 * scales in ka / kb (x * 2^ka) for finish_row_scaled.  float32 rows never need it: their
 * squares are summed in double. */
static bool sums_unsafe(int op, const double r[3]) {
    const double lo = 0x1p-960, hi = 0x1p960;
#define TG_OUT(v) (!((v) >= lo && (v) <= hi))
    switch (op) {
    case TG_ROW_DOT: return false; /* the products' own range is the answer's */
    case TG_ROW_COS:
    case TG_ROW_ANGLE: return TG_OUT(r[1]) || TG_OUT(r[2]) || !isfinite(r[0]);
    default: return TG_OUT(r[0]); /* norm, euclid (0 included: a zero row costs one more pass) */
    }
#undef TG_OUT
}

static int scale_exponent(double m) { return (m > 0.0 && isfinite(m)) ? -ilogb(m) : 0; }

static void row_sums_f64_scaled(int op, const double *a, ptrdiff_t sa, const double *b, ptrdiff_t sb, size_t n,
                                double r[3], int *ka, int *kb) {
    double ma = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; i++) {
        ma = fmax(ma, fabs(a[(ptrdiff_t)i * sa]));
        if (op != TG_ROW_NORM) mb = fmax(mb, fabs(b[(ptrdiff_t)i * sb]));
    }
    if (op == TG_ROW_EUCLID) ma = mb = fmax(ma, mb); /* one scale for the difference */
    *ka = scale_exponent(ma);
    *kb = scale_exponent(mb);
    double p = 0.0, q = 0.0, u = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double x = ldexp(a[(ptrdiff_t)i * sa], *ka);
        if (op == TG_ROW_NORM) {
            p += x * x;
            continue;
        }
        const double y = ldexp(b[(ptrdiff_t)i * sb], *kb);
        if (op == TG_ROW_EUCLID) {
            p += (x - y) * (x - y);
        } else {
            p += x * y;
            q += x * x;
            u += y * y;
        }
    }
    r[0] = p;
    r[1] = q;
    r[2] = u;
}

static double finish_row(int op, const double r[3], size_t *nz) {
    switch (op) {
    case TG_ROW_DOT: return r[0];
    case TG_ROW_EUCLID:
    case TG_ROW_NORM: return sqrt(r[0]);
    default: {
        if (r[1] == 0.0 || r[2] == 0.0) {
            (*nz)++;
            return NAN;
        }
        double c = r[0] / (sqrt(r[1]) * sqrt(r[2]));
        if (c > 1.0) c = 1.0;
        else if (c < -1.0) c = -1.0;
        return op == TG_ROW_ANGLE ? acos(c) : c;
    }
    }
}

tg_status tg_rowwise(tg_rowop op, const tg_view *a, const tg_view *b, double *out, size_t *n_zero) {
    if ((int)op < 0 || op >= TG_ROW_OP_COUNT) return tg_fail(TG_ERR_VALUE, "unknown row operation %d", (int)op);
    size_t rows, len, rows_b, len_b;
    tg_status st = tg_view_rows(a, "a", &rows, &len);
    if (st != TG_OK) return st;
    if (op == TG_ROW_NORM) {
        b = a;
    } else {
        st = tg_view_rows(b, "b", &rows_b, &len_b);
        if (st != TG_OK) return st;
        if (a->ndim != b->ndim) return tg_fail(TG_ERR_VALUE, "a and b have different ranks (%d, %d)", a->ndim, b->ndim);
        for (int k = 0; k < a->ndim; k++)
            if (a->shape[k] != b->shape[k])
                return tg_fail(TG_ERR_VALUE, "a and b differ in extent along dimension %d (%td vs %td)", k,
                               a->shape[k], b->shape[k]);
        if (a->dtype != b->dtype) return tg_fail(TG_ERR_TYPE, "a and b must have the same dtype");
    }
    if (rows > 0 && out == NULL) return tg_fail(TG_ERR_VALUE, "NULL output");
    size_t nz = 0;
    const ptrdiff_t sa = last_stride(a), sb = last_stride(b);
    const size_t chunk = chunk_rows(len);
    const int f32 = a->dtype == TG_F32;
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        size_t r1 = rows - r0 < chunk ? rows : r0 + chunk;
        size_t cnt = 0;
#pragma omp parallel reduction(+ : cnt) if ((r1 - r0) * (len + 8) > TG_PAR_MIN_WORK)
        {
            size_t lo, hi;
            thread_share(r0, r1, &lo, &hi);
            tg_row_iter ia, ib;
            if (lo < hi) {
                tg_row_iter_init(&ia, a, lo);
                tg_row_iter_init(&ib, b, lo);
            }
            for (size_t r = lo; r < hi; r++) {
                double s[3];
                if (f32)
                    row_sums_f32((int)op, (const float *)a->data + ia.off, sa, (const float *)b->data + ib.off, sb, len, s);
                else
                    row_sums_f64((int)op, (const double *)a->data + ia.off, sa, (const double *)b->data + ib.off, sb, len,
                                 s);
                if (!f32 && sums_unsafe((int)op, s)) {
                    int ka, kb;
                    row_sums_f64_scaled((int)op, (const double *)a->data + ia.off, sa, (const double *)b->data + ib.off, sb,
                                        len, s, &ka, &kb);
                    out[r] = finish_row((int)op, s, &cnt);
                    if (op == TG_ROW_NORM || op == TG_ROW_EUCLID) out[r] = ldexp(out[r], -ka); /* cosines: scale-free */
                } else {
                    out[r] = finish_row((int)op, s, &cnt);
                }
                tg_row_iter_next(&ia);
                tg_row_iter_next(&ib);
            }
        }
        nz += cnt;
        if (r1 < rows && tg_interrupted()) return tg_fail(TG_ERR_INTERRUPTED, "interrupted");
    }
    if (n_zero) *n_zero = nz;
    return TG_OK;
}

/* ---- softmax family --------------------------------------------------------------------- */

#define SM_CHUNK 256

TG_NO_TRAP TG_SIMD_CLONES static void exp_nonpos_block(const double *restrict z, double *restrict e, size_t n) {
    for (size_t i = 0; i < n; i++) e[i] = tg_exp_nonpos(z[i]);
}

/* One row of the softmax family: pass 1 max, pass 2 exp and sums (in chunks through a
 * small buffer so that the exponentials vectorize whatever the stride), pass 3 output. */
#define DEFINE_SOFTMAX_ROW(T, SUF)                                                                 \
    static void softmax_row_##SUF(int kind, const T *x, ptrdiff_t s, size_t n, double *tmp_out,    \
                                  void *out, tg_dtype odt, double log_base) {                      \
        double m = -INFINITY;                                                                      \
        int bad = 0;                                                                               \
        for (size_t i = 0; i < n; i++) {                                                           \
            double v = x[(ptrdiff_t)i * s];                                                        \
            if (isnan(v) || v == INFINITY) bad = 1;                                                \
            if (v > m) m = v;                                                                      \
        }                                                                                          \
        if (n > 0 && m == -INFINITY) bad = 1;                                                      \
        if (bad) {                                                                                 \
            if (kind == TG_ENTROPY) *tmp_out = NAN;                                                \
            else                                                                                   \
                for (size_t i = 0; i < n; i++) {                                                   \
                    if (odt == TG_F32) ((float *)out)[i] = NAN;                                    \
                    else ((double *)out)[i] = NAN;                                                 \
                }                                                                                  \
            return;                                                                                \
        }                                                                                          \
        double zb[SM_CHUNK], eb[SM_CHUNK];                                                         \
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, ez = 0.0;                                           \
        bool keep = kind == TG_SOFTMAX && odt == TG_F64; /* exp(z) kept in the output */          \
        for (size_t c0 = 0; c0 < n; c0 += SM_CHUNK) {                                              \
            size_t c = n - c0 < SM_CHUNK ? n - c0 : SM_CHUNK, q = 0;                               \
            for (size_t i = 0; i < c; i++) zb[i] = (double)x[(ptrdiff_t)(c0 + i) * s] - m;        \
            double *e = keep ? (double *)out + c0 : eb;                                            \
            exp_nonpos_block(zb, e, c);                                                            \
            for (; q + 4 <= c; q += 4) {                                                           \
                s0 += e[q]; s1 += e[q + 1]; s2 += e[q + 2]; s3 += e[q + 3];                        \
            }                                                                                      \
            for (; q < c; q++) s0 += e[q];                                                         \
            if (kind == TG_ENTROPY)                                                                \
                for (size_t i = 0; i < c; i++)                                                     \
                    if (e[i] != 0.0) ez += e[i] * zb[i]; /* 0 * -inf would be NaN */               \
        }                                                                                          \
        double sum = (s0 + s1) + (s2 + s3);                                                        \
        if (kind == TG_ENTROPY) {                                                                  \
            *tmp_out = n == 0 ? 0.0 : (log(sum) - ez / sum) / log_base;                            \
            return;                                                                                \
        }                                                                                          \
        double inv = 1.0 / sum, ls = log(sum);                                                     \
        if (keep) {                                                                                \
            double *o = (double *)out;                                                             \
            for (size_t i = 0; i < n; i++) o[i] *= inv;                                            \
            return;                                                                                \
        }                                                                                          \
        for (size_t c0 = 0; c0 < n; c0 += SM_CHUNK) {                                              \
            size_t c = n - c0 < SM_CHUNK ? n - c0 : SM_CHUNK;                                      \
            for (size_t i = 0; i < c; i++) zb[i] = (double)x[(ptrdiff_t)(c0 + i) * s] - m;        \
            if (kind == TG_SOFTMAX) exp_nonpos_block(zb, eb, c);                                   \
            for (size_t i = 0; i < c; i++) {                                                       \
                double v = kind == TG_SOFTMAX ? eb[i] * inv : zb[i] - ls;                          \
                if (odt == TG_F32) ((float *)out)[c0 + i] = (float)v;                              \
                else ((double *)out)[c0 + i] = v;                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_SOFTMAX_ROW(float, f32)
DEFINE_SOFTMAX_ROW(double, f64)

tg_status tg_softmax(tg_softmax_kind kind, const tg_view *x, void *out, tg_dtype out_dtype, double log_base) {
    size_t rows, len, total;
    tg_status st = tg_view_rows(x, "x", &rows, &len);
    if (st != TG_OK) return st;
    if (kind != TG_SOFTMAX && kind != TG_LOG_SOFTMAX && kind != TG_ENTROPY)
        return tg_fail(TG_ERR_VALUE, "unknown softmax kind %d", (int)kind);
    if (out_dtype != TG_F32 && out_dtype != TG_F64) return tg_fail(TG_ERR_TYPE, "output dtype must be float32/float64");
    if (kind == TG_ENTROPY && out_dtype != TG_F64) return tg_fail(TG_ERR_TYPE, "entropy output must be float64");
    if (!(log_base > 0.0) || isinf(log_base)) return tg_fail(TG_ERR_VALUE, "log of the entropy base must be finite and > 0");
    if (!tg_mul_size(rows, len, &total)) return tg_fail(TG_ERR_OVERFLOW, "output too large");
    if ((kind == TG_ENTROPY ? rows : total) > 0 && out == NULL) return tg_fail(TG_ERR_VALUE, "NULL output");
    const ptrdiff_t s = last_stride(x);
    const size_t chunk = chunk_rows(len);
    const size_t es = tg_dtype_size(out_dtype);
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        size_t r1 = rows - r0 < chunk ? rows : r0 + chunk;
        long long lr0 = (long long)r0, lr1 = (long long)r1;
#pragma omp parallel for schedule(static) if ((r1 - r0) * (len + 8) > TG_PAR_MIN_WORK)
        for (long long rr = lr0; rr < lr1; rr++) {
            size_t r = (size_t)rr;
            ptrdiff_t o = tg_view_row_offset(x, r);
            double *hout = kind == TG_ENTROPY ? (double *)out + r : NULL;
            void *vout = kind == TG_ENTROPY ? NULL : (char *)out + r * len * es;
            double dummy;
            if (x->dtype == TG_F32)
                softmax_row_f32((int)kind, (const float *)x->data + o, s, len, hout ? hout : &dummy, vout, out_dtype,
                                log_base);
            else
                softmax_row_f64((int)kind, (const double *)x->data + o, s, len, hout ? hout : &dummy, vout, out_dtype,
                                log_base);
        }
        if (r1 < rows && tg_interrupted()) return tg_fail(TG_ERR_INTERRUPTED, "interrupted");
    }
    return TG_OK;
}

/* ---- all-pairs engine ------------------------------------------------------------------- */

#define AP_MB 2048 /* rows of a per gemm call (smaller blocks cost BLIS up to half its rate) */
#define AP_NB 4096 /* rows of b per gemm call (block of C: 32 MB in float32) */

typedef struct ap_operand {
    tg_dtype dtype;
    size_t n, d;
    const char *base; /* element (0, 0) */
    ptrdiff_t rs, cs; /* element strides BLIS accepts */
    void *copy;       /* owned contiguous copy, or NULL */
    double *inv;      /* 1 / |row|, NaN for zero rows (owned) */
    float *invf;      /* the same in float, for the top-k prefilter (owned) */
    bool prefilter;   /* every finite inverse norm is within [1e-30, 1e30] (float-safe) */
} ap_operand;

static void ap_release(ap_operand *o) {
    free(o->copy);
    free(o->inv);
    free(o->invf);
    o->copy = NULL;
    o->inv = NULL;
    o->invf = NULL;
}

/* Validates a 2-D view, computes inverse row norms and decides whether BLIS can read the
 * view in place (one unit stride, the other at least the extent) or needs a copy. */
static tg_status ap_prepare(const tg_view *v, const char *name, ap_operand *o, size_t *n_zero) {
    memset(o, 0, sizeof *o);
    if (v == NULL || v->ndim != 2) return tg_fail(TG_ERR_VALUE, "%s must be a 2-D array [n, d]", name);
    size_t rows, len;
    tg_status st = tg_view_rows(v, name, &rows, &len);
    if (st != TG_OK) return st;
    o->dtype = v->dtype;
    o->n = rows;
    o->d = len;
    if (rows == 0) return TG_OK;
    size_t bytes;
    if (!tg_mul_size(rows, sizeof(double), &bytes)) return tg_fail(TG_ERR_OVERFLOW, "%s: too many rows", name);
    o->inv = malloc(bytes);
    if (o->inv == NULL) return tg_fail(TG_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, bytes);
    st = tg_rowwise(TG_ROW_NORM, v, NULL, o->inv, NULL);
    if (st != TG_OK) {
        ap_release(o);
        return st;
    }
    o->invf = malloc(rows * sizeof(float)); /* rows * 8 did not overflow above */
    if (o->invf == NULL) {
        ap_release(o);
        return tg_fail(TG_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, rows * sizeof(float));
    }
    size_t nz = 0;
    /* Rows whose norm is far from 1 (1e-30 or 3e38 in float32, 1e-160 or 1e160 in float64)
     * would under- or overflow inside the product (cosine 0 on the diagonal, NaN): then the
     * rows are copied scaled by a power of two to norm in [1, 2) - exact, so rows already in
     * range give the same bits - and their inverse norms scaled back.  Decided on the norms
     * themselves (1 / norm overflows for a subnormal norm). */
    const int lim = v->dtype == TG_F32 ? 50 : 450;
    bool rescale = false;
    for (size_t i = 0; i < rows && !rescale && len > 0; i++) {
        double r = o->inv[i];
        if (isfinite(r) && r > 0.0 && (ilogb(r) > lim || ilogb(r) < -lim)) rescale = true;
    }
    int *kexp = NULL; /* row i of the copy is row i times 2^kexp[i] */
    if (rescale) {
        kexp = calloc(rows, sizeof *kexp);
        if (kexp == NULL) {
            ap_release(o);
            return tg_fail(TG_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, rows * sizeof *kexp);
        }
    }
    o->prefilter = true;
    for (size_t i = 0; i < rows; i++) {
        double nrm = o->inv[i];
        if (nrm == 0.0) nz++;
        if (rescale && isfinite(nrm) && nrm > 0.0) {
            kexp[i] = -ilogb(nrm);
            nrm = ldexp(nrm, kexp[i]); /* the copy's norm, in [1, 2) */
        }
        o->inv[i] = nrm == 0.0 ? NAN : 1.0 / nrm; /* inf/NaN norms give NaN/0 similarities */
        o->invf[i] = (float)o->inv[i];
        if (o->inv[i] < 1e-30 || o->inv[i] > 1e30) o->prefilter = false; /* float-safe range */
    }
    if (n_zero) *n_zero += nz;
    if (len == 0) return TG_OK; /* no products at all: every similarity is NaN (kexp is NULL) */
    ptrdiff_t rs = v->stride[0], cs = v->stride[1];
    if (rows == 1) rs = cs == 1 ? (ptrdiff_t)len : 1;
    if (len == 1) cs = rs == 1 ? (ptrdiff_t)rows : 1;
    bool direct = (cs == 1 && rs >= (ptrdiff_t)len) || (rs == 1 && cs >= (ptrdiff_t)rows);
    if (direct && !rescale) {
        o->base = (const char *)v->data;
        o->rs = rs;
        o->cs = cs;
        return TG_OK;
    }
    size_t es = tg_dtype_size(v->dtype);
    if (!tg_mul3_size(rows, len, es, &bytes)) {
        free(kexp);
        ap_release(o);
        return tg_fail(TG_ERR_OVERFLOW, "%s: too large to copy", name);
    }
    o->copy = tg_alloc_aligned(bytes);
    if (o->copy == NULL) {
        free(kexp);
        ap_release(o);
        return tg_fail(TG_ERR_NOMEM, "%s: cannot allocate %zu bytes for a contiguous copy", name, bytes);
    }
    for (size_t i = 0; i < rows; i++) {
        const char *src = (const char *)v->data + v->stride[0] * (ptrdiff_t)i * (ptrdiff_t)es;
        int k = 0; /* row i is multiplied by 2^k (its inverse norm is already the copy's) */
        if (kexp != NULL) k = kexp[i];
        if (v->dtype == TG_F32) {
            float *dst = (float *)o->copy + i * len;
            for (size_t j = 0; j < len; j++) dst[j] = (float)ldexp((double)((const float *)src)[v->stride[1] * (ptrdiff_t)j], k);
        } else {
            double *dst = (double *)o->copy + i * len;
            for (size_t j = 0; j < len; j++) dst[j] = ldexp(((const double *)src)[v->stride[1] * (ptrdiff_t)j], k);
        }
    }
    free(kexp);
    o->base = (const char *)o->copy;
    o->rs = (ptrdiff_t)len;
    o->cs = 1;
    return TG_OK;
}

/* Prepares the operands of an all-pairs product: a, and b (or B = A when b is NULL, sharing
 * A's buffers: release only A then).  On failure nothing is left allocated. */
static tg_status ap_prepare_pair(const tg_view *a, const tg_view *b, ap_operand *A, ap_operand *B, size_t *nz) {
    tg_status st = ap_prepare(a, "a", A, nz);
    if (st != TG_OK) return st;
    if (b == NULL) {
        *B = *A;
        return TG_OK;
    }
    if (b->dtype != a->dtype) {
        ap_release(A);
        return tg_fail(TG_ERR_TYPE, "a and b must have the same dtype");
    }
    st = ap_prepare(b, "b", B, nz);
    if (st != TG_OK) {
        ap_release(A);
        return st;
    }
    if (B->d != A->d) {
        ap_release(A);
        ap_release(B);
        return tg_fail(TG_ERR_VALUE, "a has %zu columns but b has %zu: rows must have the same length", A->d, B->d);
    }
    return TG_OK;
}

/* A block of similarities c[i, j] (raw dot products, row stride ldc) for global rows
 * i0.., columns j0..; the consumer scales them by inva[i] * invb[j]. */
typedef struct ap_block {
    const void *c;
    size_t ldc, i0, mb, j0, nb;
} ap_block;

typedef void (*ap_consume_fn)(void *ctx, const ap_block *blk, const ap_operand *A, const ap_operand *B);

/* One block product C = A[i0:i0+mb] B[j0:j0+nb]^T.  BLIS threads split the columns (jc
 * loop): each thread packs its own slab of B and sweeps all mb rows, which keeps blocks of a
 * few hundred rows efficient (BLIS's automatic split would cut mb across threads and pay
 * a barrier per small micro-panel). */
static void ap_gemm(const ap_operand *A, const ap_operand *B, size_t i0, size_t mb, size_t j0, size_t nb, void *c,
                    size_t ldc) {
    size_t es = tg_dtype_size(A->dtype);
    const char *pa = A->base + (ptrdiff_t)i0 * A->rs * (ptrdiff_t)es;
    const char *pb = B->base + (ptrdiff_t)j0 * B->rs * (ptrdiff_t)es;
    int nt = tg_get_num_threads();
    if (nt < 1) nt = 1;
    tg_gemm(A->dtype, TG_BLAS_N, TG_BLAS_T, mb, nb, A->d, 1.0, pa, A->rs, A->cs, pb, B->rs, B->cs, 0.0, c,
            (ptrdiff_t)ldc, 1, nt);
}

/* Drives the blocks.  direct_out (optional, compute dtype, row stride m): gemm writes there.
 * upper: only blocks that intersect j >= i (the consumer filters within a block). */
static tg_status ap_run(const ap_operand *A, const ap_operand *B, bool upper, void *direct_out, ap_consume_fn fn,
                        void *ctx) {
    size_t n = A->n, m = B->n;
    if (n == 0 || m == 0) return TG_OK;
    size_t es = tg_dtype_size(A->dtype);
    size_t nbmax = direct_out ? m : (m < AP_NB ? m : AP_NB);
    void *cbuf = NULL;
    if (A->d > 0 && direct_out == NULL) {
        size_t bytes;
        if (!tg_mul3_size(AP_MB < n ? AP_MB : n, nbmax, es, &bytes)) return tg_fail(TG_ERR_OVERFLOW, "block too large");
        cbuf = tg_alloc_aligned(bytes);
        if (cbuf == NULL) return tg_fail(TG_ERR_NOMEM, "cannot allocate %zu bytes for a block of similarities", bytes);
    }
    tg_status st = TG_OK;
    for (size_t i0 = 0; i0 < n && st == TG_OK; i0 += AP_MB) {
        size_t mb = n - i0 < AP_MB ? n - i0 : AP_MB;
        size_t jstart = upper ? i0 : 0; /* the row block's own diagonal onwards */
        for (size_t j0 = jstart; j0 < m; j0 += nbmax) {
            size_t nb = m - j0 < nbmax ? m - j0 : nbmax;
            ap_block blk = {NULL, 0, i0, mb, j0, nb};
            if (A->d > 0) {
                void *c = direct_out ? (char *)direct_out + (i0 * m + j0) * es : cbuf;
                size_t ldc = direct_out ? m : nb;
                ap_gemm(A, B, i0, mb, j0, nb, c, ldc);
                blk.c = c;
                blk.ldc = ldc;
            }
            fn(ctx, &blk, A, B);
            if (tg_interrupted()) {
                st = tg_fail(TG_ERR_INTERRUPTED, "interrupted");
                break;
            }
        }
    }
    free(cbuf);
    return st;
}

static inline double ap_value(const ap_block *blk, tg_dtype dt, size_t li, size_t lj, double ra, const double *invb) {
    if (blk->c == NULL) return NAN; /* d == 0 */
    double raw = dt == TG_F32 ? (double)((const float *)blk->c)[li * blk->ldc + lj]
                              : ((const double *)blk->c)[li * blk->ldc + lj];
    double v = raw * ra * invb[blk->j0 + lj];
    if (v > 1.0) v = 1.0;
    else if (v < -1.0) v = -1.0;
    return v;
}

/* -- matrix -- */
typedef struct {
    void *out;
    tg_dtype odt;
    size_t m;
} mat_ctx;

static void consume_matrix(void *vctx, const ap_block *blk, const ap_operand *A, const ap_operand *B) {
    mat_ctx *ctx = vctx;
    long long mb = (long long)blk->mb;
#pragma omp parallel for schedule(static) if (blk->mb * blk->nb > (TG_PAR_MIN_WORK >> 2))
    for (long long li = 0; li < mb; li++) {
        size_t gi = blk->i0 + (size_t)li;
        double ra = A->inv[gi];
        for (size_t lj = 0; lj < blk->nb; lj++) {
            double v = ap_value(blk, A->dtype, (size_t)li, lj, ra, B->inv);
            size_t o = gi * ctx->m + blk->j0 + lj;
            if (ctx->odt == TG_F32) ((float *)ctx->out)[o] = (float)v;
            else ((double *)ctx->out)[o] = v;
        }
    }
}

/* b == NULL: blocks on and above the diagonal only; each value (i, j >= i) is written to
 * (i, j) and mirrored to (j, i).  Mirror targets are strictly below the diagonal, which no
 * row of any block reads, so the rows can run in parallel (and gemm never writes there:
 * later blocks start at their own diagonal). */
static void consume_matrix_sym(void *vctx, const ap_block *blk, const ap_operand *A, const ap_operand *B) {
    mat_ctx *ctx = vctx;
    long long mb = (long long)blk->mb;
#pragma omp parallel for schedule(static) if (blk->mb * blk->nb > (TG_PAR_MIN_WORK >> 2))
    for (long long li = 0; li < mb; li++) {
        size_t gi = blk->i0 + (size_t)li;
        double ra = A->inv[gi];
        size_t lj = gi > blk->j0 ? gi - blk->j0 : 0;
        for (; lj < blk->nb; lj++) {
            double v = ap_value(blk, A->dtype, (size_t)li, lj, ra, B->inv);
            size_t gj = blk->j0 + lj;
            size_t o = gi * ctx->m + gj, t = gj * ctx->m + gi;
            if (ctx->odt == TG_F32) {
                ((float *)ctx->out)[o] = (float)v;
                ((float *)ctx->out)[t] = (float)v;
            } else {
                ((double *)ctx->out)[o] = v;
                ((double *)ctx->out)[t] = v;
            }
        }
    }
}

tg_status tg_cosine_matrix(const tg_view *a, const tg_view *b, void *out, tg_dtype out_dtype, size_t *n_zero_rows) {
    ap_operand A, B;
    size_t nz = 0;
    if (out_dtype != TG_F32 && out_dtype != TG_F64) return tg_fail(TG_ERR_TYPE, "output dtype must be float32/float64");
    tg_status st = ap_prepare_pair(a, b, &A, &B, &nz);
    if (st != TG_OK) return st;
    size_t cells = 0;
    if (!tg_mul_size(A.n, B.n, &cells)) st = tg_fail(TG_ERR_OVERFLOW, "output too large");
    else if (cells > 0 && out == NULL) st = tg_fail(TG_ERR_VALUE, "NULL output");
    if (st == TG_OK) {
        mat_ctx ctx = {out, out_dtype, B.n};
        /* gemm straight into the output when it has the compute dtype; scaled in place */
        void *direct = out_dtype == A.dtype ? out : NULL;
        st = b == NULL ? ap_run(&A, &A, true, direct, consume_matrix_sym, &ctx)
                       : ap_run(&A, &B, false, direct, consume_matrix, &ctx);
    }
    if (b != NULL) ap_release(&B);
    ap_release(&A);
    if (st == TG_OK && n_zero_rows) *n_zero_rows = nz;
    return st;
}

/* -- top-k -- */
typedef struct {
    int64_t *idx;
    double *val;
    size_t k;
    bool exclude_self;
} topk_ctx;

/* worse(x, y): x ranks below y (smaller value, or equal value and larger index). */
static inline bool topk_worse(double vx, int64_t ix, double vy, int64_t iy) {
    return vx < vy || (vx == vy && ix > iy);
}

static void topk_sift_down(double *v, int64_t *ix, size_t k, size_t p) {
    for (;;) {
        size_t l = 2 * p + 1, r = l + 1, w = p;
        if (l < k && topk_worse(v[l], ix[l], v[w], ix[w])) w = l;
        if (r < k && topk_worse(v[r], ix[r], v[w], ix[w])) w = r;
        if (w == p) return;
        double tv = v[p];
        v[p] = v[w];
        v[w] = tv;
        int64_t ti = ix[p];
        ix[p] = ix[w];
        ix[w] = ti;
        p = w;
    }
}

/* (v, ix) ranks above the heap's root (the worst kept entry)?  NaN never does. */
static inline bool topk_better(double v, int64_t ix, const double *hv, const int64_t *hi) {
    return v > hv[0] || (v == hv[0] && ix < hi[0]);
}

static inline void topk_offer(topk_ctx *ctx, size_t owner, double v, int64_t ix) {
    double *hv = ctx->val + owner * ctx->k;
    int64_t *hi = ctx->idx + owner * ctx->k;
    if (!topk_better(v, ix, hv, hi)) return;
    hv[0] = v;
    hi[0] = ix;
    topk_sift_down(hv, hi, ctx->k, 0);
}

/* Prefilter for float32 blocks.  A raw product c (float) becomes v = c * ra * invb; with the
 * heap's root thr it can only enter when c * invb >= thr / ra.  In float, c * invbf is within
 * ~1.2e-7 (relative) of c * invb, so comparing against thr / ra lowered by 1e-6 (relative)
 * and 1e-30 (absolute) never drops a candidate; the survivors take the exact double path.
 * -inf disables the filter (heap not full yet, thr <= -1 where clamping matters, or a scale
 * outside [1e-30, 1e30]). */
static inline float topk_float_threshold(double thr, double scale) {
    if (!(thr > -1.0) || !(scale >= 1e-30 && scale <= 1e30)) return -INFINITY;
    double t = thr / scale;
    return (float)(t - fabs(t) * 1e-6 - 1e-30);
}

#define TOPK_LANES 16

/* Offers the values of block row li, columns [lj, nb), to row heap gi. */
static void topk_scan_row(topk_ctx *ctx, const ap_block *blk, const ap_operand *A, const ap_operand *B, size_t li,
                          size_t lj) {
    size_t gi = blk->i0 + li;
    double ra = A->inv[gi];
    if (isnan(ra)) return;
    const double *hv = ctx->val + gi * ctx->k;
    if (A->dtype == TG_F32 && B->prefilter) {
        const float *crow = (const float *)blk->c + li * blk->ldc;
        const float *ib = B->invf + blk->j0;
        float tf = topk_float_threshold(hv[0], ra);
        for (; lj + TOPK_LANES <= blk->nb; lj += TOPK_LANES) {
            int any = 0;
            for (int q = 0; q < TOPK_LANES; q++) any |= crow[lj + q] * ib[lj + q] >= tf;
            if (!any) continue; /* NaN products compare false: they never enter either */
            for (size_t q = lj; q < lj + TOPK_LANES; q++) {
                size_t gj = blk->j0 + q;
                if (ctx->exclude_self && gj == gi) continue;
                topk_offer(ctx, gi, ap_value(blk, A->dtype, li, q, ra, B->inv), (int64_t)gj);
            }
            tf = topk_float_threshold(hv[0], ra);
        }
    }
    for (; lj < blk->nb; lj++) {
        size_t gj = blk->j0 + lj;
        if (ctx->exclude_self && gj == gi) continue;
        topk_offer(ctx, gi, ap_value(blk, A->dtype, li, lj, ra, B->inv), (int64_t)gj);
    }
}

static void consume_topk(void *vctx, const ap_block *blk, const ap_operand *A, const ap_operand *B) {
    topk_ctx *ctx = vctx;
    if (blk->c == NULL) return; /* d == 0: everything NaN, nothing selected */
    long long mb = (long long)blk->mb;
#pragma omp parallel for schedule(static) if (blk->mb * blk->nb > (TG_PAR_MIN_WORK >> 2))
    for (long long li = 0; li < mb; li++) topk_scan_row(ctx, blk, A, B, (size_t)li, 0);
}

/* b == NULL: only blocks on or above the diagonal are multiplied (half the flops) and each
 * pair i < j feeds both heaps.  Pass 1 (threads own rows) offers (v, j) to row i's heap;
 * pass 2 (threads own columns) offers (v, i) to column j's heap.  Heaps now receive indices
 * in no particular order, so the full (value desc, index asc) comparison decides. */
#define TOPK_COL_CHUNK 256

static void consume_topk_sym(void *vctx, const ap_block *blk, const ap_operand *A, const ap_operand *B) {
    topk_ctx *ctx = vctx;
    if (blk->c == NULL) return;
    long long mb = (long long)blk->mb;
    bool par = blk->mb * blk->nb > (TG_PAR_MIN_WORK >> 2);
    /* pass 1: row heaps, pairs with j > i (j >= i when self is kept) */
#pragma omp parallel for schedule(static) if (par)
    for (long long li = 0; li < mb; li++) {
        size_t gi = blk->i0 + (size_t)li;
        size_t first = ctx->exclude_self ? gi + 1 : gi;
        topk_scan_row(ctx, blk, A, B, (size_t)li, first > blk->j0 ? first - blk->j0 : 0);
    }
    /* pass 2: column heaps, pairs with i < j; a thread owns a chunk of columns and reads the
     * block row by row (contiguous), with one float threshold per column */
    long long nchunks = (long long)((blk->nb + TOPK_COL_CHUNK - 1) / TOPK_COL_CHUNK);
    bool pre = A->dtype == TG_F32 && A->prefilter;
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (long long cb = 0; cb < nchunks; cb++) {
        size_t c0 = (size_t)cb * TOPK_COL_CHUNK;
        size_t c1 = c0 + TOPK_COL_CHUNK < blk->nb ? c0 + TOPK_COL_CHUNK : blk->nb;
        float colt[TOPK_COL_CHUNK];
        for (size_t q = c0; q < c1; q++) {
            size_t gj = blk->j0 + q;
            colt[q - c0] = pre ? topk_float_threshold(ctx->val[gj * ctx->k], B->inv[gj]) : -INFINITY;
        }
        for (size_t li = 0; li < blk->mb; li++) {
            size_t gi = blk->i0 + li;
            double ra = A->inv[gi];
            if (isnan(ra)) continue;
            size_t lj = gi + 1 > blk->j0 + c0 ? gi + 1 - blk->j0 : c0; /* only j > i */
            if (pre) { /* A->prefilter: ra is within [1e-30, 1e30], exact enough as a float */
                const float *crow = (const float *)blk->c + li * blk->ldc;
                float raf = (float)ra;
                for (; lj + TOPK_LANES <= c1; lj += TOPK_LANES) {
                    int any = 0;
                    for (int q = 0; q < TOPK_LANES; q++) any |= crow[lj + q] * raf >= colt[lj + q - c0];
                    if (!any) continue;
                    for (size_t q = lj; q < lj + TOPK_LANES; q++) {
                        size_t gj = blk->j0 + q;
                        topk_offer(ctx, gj, ap_value(blk, A->dtype, li, q, ra, B->inv), (int64_t)gi);
                        colt[q - c0] = topk_float_threshold(ctx->val[gj * ctx->k], B->inv[gj]);
                    }
                }
            }
            for (; lj < c1; lj++) {
                size_t gj = blk->j0 + lj;
                topk_offer(ctx, gj, ap_value(blk, A->dtype, li, lj, ra, B->inv), (int64_t)gi);
                if (pre) colt[lj - c0] = topk_float_threshold(ctx->val[gj * ctx->k], B->inv[gj]);
            }
        }
    }
}

static int topk_cmp(const void *x, const void *y) {
    const struct {
        double v;
        int64_t i;
    } *p = x, *q = y;
    if (p->v > q->v) return -1;
    if (p->v < q->v) return 1;
    return (p->i > q->i) - (p->i < q->i);
}

tg_status tg_top_k_similar(const tg_view *a, const tg_view *b, size_t k, bool exclude_self, int64_t *idx,
                           double *val, size_t *n_zero_rows) {
    ap_operand A, B;
    size_t nz = 0;
    tg_status st = ap_prepare_pair(a, b, &A, &B, &nz);
    if (st != TG_OK) return st;
    size_t cells = 0;
    if (!tg_mul_size(A.n, k, &cells)) st = tg_fail(TG_ERR_OVERFLOW, "output too large");
    else if (cells > 0 && (idx == NULL || val == NULL)) st = tg_fail(TG_ERR_VALUE, "NULL output");
    if (st == TG_OK && cells > 0) {
        for (size_t c = 0; c < cells; c++) {
            val[c] = -INFINITY;
            idx[c] = -1;
        }
        topk_ctx ctx = {idx, val, k, exclude_self && b == NULL};
        st = b == NULL ? ap_run(&A, &A, true, NULL, consume_topk_sym, &ctx) : ap_run(&A, &B, false, NULL, consume_topk, &ctx);
        if (st == TG_OK) {
            struct {
                double v;
                int64_t i;
            } *tmp = malloc(k * sizeof *tmp);
            if (tmp == NULL) st = tg_fail(TG_ERR_NOMEM, "cannot allocate the top-k sort buffer");
            for (size_t r = 0; st == TG_OK && r < A.n; r++) {
                for (size_t c = 0; c < k; c++) {
                    tmp[c].v = val[r * k + c];
                    tmp[c].i = idx[r * k + c];
                }
                qsort(tmp, k, sizeof *tmp, topk_cmp);
                for (size_t c = 0; c < k; c++) {
                    bool empty = tmp[c].i < 0;
                    val[r * k + c] = empty ? NAN : tmp[c].v;
                    idx[r * k + c] = empty ? -1 : tmp[c].i;
                }
            }
            free(tmp);
        }
    }
    if (b != NULL) ap_release(&B);
    ap_release(&A);
    if (st == TG_OK && n_zero_rows) *n_zero_rows = nz;
    return st;
}

/* -- histogram -- */
typedef struct {
    const double *edges;
    size_t nbins;
    bool uniform, sym, exclude_diag;
    double lo, hi, norm;
    int64_t *local; /* [nthreads][nbins] */
    int nthreads;
} hist_ctx;

static inline size_t hist_bin(const hist_ctx *h, double v) {
    size_t nb = h->nbins;
    if (h->uniform) {
        /* numpy.histogram's arithmetic index, then its correction against the edges */
        double f = (v - h->lo) * h->norm;
        size_t i = f >= (double)nb ? nb : (size_t)f;
        if (i == nb) i = nb - 1;
        if (v < h->edges[i]) i--;
        else if (i != nb - 1 && v >= h->edges[i + 1]) i++;
        return i;
    }
    if (v == h->edges[nb]) return nb - 1;
    size_t lo = 0, hi = nb; /* edges[lo] <= v < edges[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->edges[mid] <= v) lo = mid;
        else hi = mid;
    }
    return lo;
}

static void consume_hist(void *vctx, const ap_block *blk, const ap_operand *A, const ap_operand *B) {
    hist_ctx *ctx = vctx;
    if (blk->c == NULL) return;
    long long mb = (long long)blk->mb;
#pragma omp parallel num_threads(ctx->nthreads) if (blk->mb * blk->nb > (TG_PAR_MIN_WORK >> 2))
    {
#ifdef _OPENMP
        int t = omp_get_thread_num();
#else
        int t = 0;
#endif
        int64_t *cnt = ctx->local + (size_t)t * ctx->nbins;
#pragma omp for schedule(static)
        for (long long li = 0; li < mb; li++) {
            size_t gi = blk->i0 + (size_t)li;
            double ra = A->inv[gi];
            if (isnan(ra)) continue;
            size_t lj = 0;
            if (ctx->sym) {
                size_t first = ctx->exclude_diag ? gi + 1 : gi; /* global j to start from */
                if (first > blk->j0) lj = first - blk->j0;
            }
            for (; lj < blk->nb; lj++) {
                double v = ap_value(blk, A->dtype, (size_t)li, lj, ra, B->inv);
                if (!(v >= ctx->lo && v <= ctx->hi)) continue;
                cnt[hist_bin(ctx, v)]++;
            }
        }
    }
}

tg_status tg_similarity_histogram(const tg_view *a, const tg_view *b, const double *edges, size_t nbins,
                                  bool uniform, bool exclude_diagonal, int64_t *counts, size_t *n_zero_rows) {
    if (nbins == 0 || edges == NULL || counts == NULL) return tg_fail(TG_ERR_VALUE, "need at least one bin");
    for (size_t i = 0; i <= nbins; i++)
        if (!isfinite(edges[i]) || (i > 0 && !(edges[i] >= edges[i - 1])))
            return tg_fail(TG_ERR_VALUE, "bin edges must be finite and increasing");
    if (!(edges[nbins] > edges[0])) return tg_fail(TG_ERR_VALUE, "the histogram range must have positive width");
    ap_operand A, B;
    size_t nz = 0;
    tg_status st = ap_prepare_pair(a, b, &A, &B, &nz);
    if (st != TG_OK) return st;
    int nt = tg_get_num_threads();
    if (nt < 1) nt = 1;
    size_t bytes;
    int64_t *local = NULL;
    if (!tg_mul3_size((size_t)nt, nbins, sizeof(int64_t), &bytes)) st = tg_fail(TG_ERR_OVERFLOW, "too many bins");
    else if ((local = calloc(1, bytes)) == NULL) st = tg_fail(TG_ERR_NOMEM, "cannot allocate %zu bytes of counts", bytes);
    if (st == TG_OK) {
        hist_ctx ctx = {edges, nbins, uniform, b == NULL, exclude_diagonal, edges[0], edges[nbins], 0.0, local, nt};
        ctx.norm = (double)nbins / (edges[nbins] - edges[0]);
        st = ap_run(&A, &B, b == NULL, NULL, consume_hist, &ctx);
        if (st == TG_OK) {
            memset(counts, 0, nbins * sizeof(int64_t));
            for (int t = 0; t < nt; t++)
                for (size_t i = 0; i < nbins; i++) counts[i] += local[(size_t)t * nbins + i];
        }
    }
    free(local);
    if (b != NULL) ap_release(&B);
    ap_release(&A);
    if (st == TG_OK && n_zero_rows) *n_zero_rows = nz;
    return st;
}
