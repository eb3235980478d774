/*
 * reduce/internal.h - helpers shared by reduce/linalg.c, pca.c and tsne.c (not public API).
 */
#ifndef TG_REDUCE_INTERNAL_H
#define TG_REDUCE_INTERNAL_H

#include <math.h>
#include <stdlib.h>

#include "base/internal.h"
#include "tokgeo/common.h"
#include "tokgeo/reduce.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Hot loops are compiled for x86-64-v3 (AVX2, FMA) too, picked at load time (see
 * TG_TARGET_CLONES in base/internal.h); GCC in ISO C mode does not contract a*b+c into FMA
 * unless told to, so the clones also get fp-contract=fast. */
#if TG_HAVE_TARGET_CLONES && !defined(__clang__)
#define TG_HOT TG_TARGET_CLONES("arch=x86-64-v3", "default") __attribute__((optimize("fp-contract=fast")))
#else
#define TG_HOT TG_TARGET_CLONES("arch=x86-64-v3", "default")
#endif

/* OpenMP's thread count for the next parallel region (1 without OpenMP), and the calling
 * thread's number in its team (0 without OpenMP): the sizes and indices of per-thread scratch. */
static inline int tg_red_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
static inline int tg_red_team_size(void) { /* threads in the current team (1 outside a region) */
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}
static inline int tg_red_thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Checks that v is a 2-D float32/float64 view with n >= min_rows rows and d >= 1 columns. */
static inline tg_status tg_red_check_matrix(const tg_view *v, const char *what, ptrdiff_t min_rows) {
    if (v == NULL || v->data == NULL) return tg_fail(TG_ERR_VALUE, "%s: no data", what);
    if (v->dtype != TG_F32 && v->dtype != TG_F64)
        return tg_fail(TG_ERR_TYPE, "%s: dtype must be float32 or float64", what);
    if (v->ndim != 2) return tg_fail(TG_ERR_VALUE, "%s must be 2-D [n, d], got %d dimension(s)", what, v->ndim);
    if (v->shape[0] < min_rows)
        return tg_fail(TG_ERR_VALUE, "%s needs at least %td rows (samples), got %td", what, min_rows, v->shape[0]);
    if (v->shape[1] < 1) return tg_fail(TG_ERR_VALUE, "%s needs at least 1 column (feature), got %td", what, v->shape[1]);
    size_t nd;
    if (!tg_mul_size((size_t)v->shape[0], (size_t)v->shape[1], &nd) || nd > (size_t)PTRDIFF_MAX / 8)
        return tg_fail(TG_ERR_OVERFLOW, "%s: %td x %td elements overflow", what, v->shape[0], v->shape[1]);
    return TG_OK;
}

/* Copies row i of a 2-D view into out[0..d-1] as doubles, subtracting mean (if non-NULL). */
static inline void tg_red_row(const tg_view *v, ptrdiff_t i, const double *mean, double *out) {
    const ptrdiff_t d = v->shape[1], s1 = v->stride[1];
    if (v->dtype == TG_F32) {
        const float *p = (const float *)v->data + i * v->stride[0];
        if (s1 == 1) {
            for (ptrdiff_t j = 0; j < d; j++) out[j] = (double)p[j];
        } else {
            for (ptrdiff_t j = 0; j < d; j++) out[j] = (double)p[j * s1];
        }
    } else {
        const double *p = (const double *)v->data + i * v->stride[0];
        if (s1 == 1) {
            for (ptrdiff_t j = 0; j < d; j++) out[j] = p[j];
        } else {
            for (ptrdiff_t j = 0; j < d; j++) out[j] = p[j * s1];
        }
    }
    if (mean)
        for (ptrdiff_t j = 0; j < d; j++) out[j] -= mean[j];
}

/* Returns the index of the first non-finite entry of row buffer r[0..d-1], or -1. */
static inline ptrdiff_t tg_red_first_nonfinite(const double *r, ptrdiff_t d) {
    double acc = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) acc += r[j] * 0.0; /* NaN iff some entry is inf/NaN */
    if (acc == 0.0) return -1;
    for (ptrdiff_t j = 0; j < d; j++)
        if (!isfinite(r[j])) return j;
    return -1;
}

/* The core's one memory-budget rule, tg_check_memory_budget() in base/internal.h (half of the
 * physical memory).  This name stays for the call sites in pca.c and tsne.c until the
 * branch rewriting them (issue 14) has landed; then they call the base function directly. */
static inline tg_status tg_red_check_budget(double bytes, const char *what, const char *hint) {
    return tg_check_memory_budget(bytes, what, hint);
}

/* ---- a small, fast, seedable generator (splitmix64 seeding + xoshiro256**) ---- */
typedef struct tg_rng {
    uint64_t s[4];
} tg_rng;

static inline uint64_t tg_rng_splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline void tg_rng_seed(tg_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = tg_rng_splitmix(&seed);
}
static inline uint64_t tg_rng_next(tg_rng *r) {
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t res = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return res;
}
/* uniform in (0, 1) */
static inline double tg_rng_uniform(tg_rng *r) {
    return ((double)(tg_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
/* standard normal (Box-Muller, one value per call; simple and reproducible) */
static inline double tg_rng_normal(tg_rng *r) {
    double u = tg_rng_uniform(r), v = tg_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Computes the squared Euclidean (or cosine) distances between `cnt` rows of `a` (an n x d
 * row-major double matrix) and all rows of `a`, into out[cnt * n], using a BLIS gemm for the
 * inner products.  The rows are rows[cnt][d] (read only: a + r0 * d for a range), row t being
 * row ids[t] of `a`, or r0 + t when ids is NULL.  sqnorm[n]: precomputed squared row norms.
 * Distances are clamped at 0; each row's own entry is set to 0.  Implemented in tsne.c. */
void tg_red_distance_block(const double *a, size_t n, size_t d, const double *sqnorm, const double *rows,
                           const size_t *ids, size_t r0, size_t cnt, tg_tsne_metric metric, double *out);

/* ---- top eigenpairs (reduce/linalg.c) ----
 * tg_red_eigh_top: the k (1 <= k <= n) largest eigenpairs of the symmetric a (n x n
 * row-major, lower triangle wins; destroyed: it holds the Householder reflectors after).
 * w [k] descending, vecs [k, n] row j = unit eigenvector of w[j], both caller-owned.
 * Tridiagonalisation as in tg_eigh, eigenvalues by QL without vectors (O(n^2)), vectors by
 * inverse iteration on T with re-orthogonalisation inside clusters (eigenvalues within
 * 1e-3 ||T||, as LAPACK's dstein), then k back-transforms: O(4/3 n^3 + 2 k n^2) instead of
 * tg_eigh's ~9 n^3.  Deterministic at any thread count.  TG_ERR_VALUE (k, NULL, a non-finite
 * entry), TG_ERR_OVERFLOW, TG_ERR_NOMEM, TG_ERR_INTERNAL (no convergence), TG_ERR_INTERRUPTED. */
tg_status tg_red_eigh_top(double *a, size_t n, size_t k, double *w, double *vecs);

/* ---- exact k nearest neighbours (reduce/knn.c) ----
 * tg_red_knn: a [n, d] row-major float64 (read only; cosine: rows of unit norm), sq [n] their
 * squared norms; for every row the k (1 <= k < n) nearest other rows, ascending by
 * (distance, index): nbr [n, k] indices and dist [n, k] distances (squared Euclidean, or
 * 1 - dot for cosine, clamped at 0), both caller-owned.  A float32 filter with a rigorous
 * error bound, a float64 re-rank of the candidates, float64 search of the rows the filter
 * cannot certify (their count in *n_fallback when non-NULL).  The same result at any thread
 * count.  TG_ERR_NOMEM, TG_ERR_OVERFLOW, TG_ERR_INTERRUPTED (Ctrl-C), TG_ERR_VALUE (bad k).
 * tg_red_knn_row: the k smallest of row[0 .. n) except index `self`, ascending by (value,
 * index), into hd [k] / hi [k] (caller's scratch). */
tg_status tg_red_knn(const double *a, const double *sq, size_t n, size_t d, size_t k, tg_tsne_metric metric,
                     size_t *nbr, double *dist, size_t *n_fallback);
void tg_red_knn_row(const double *row, size_t n, size_t self, size_t k, double *hd, size_t *hi);
/* tg_red_knn_approx: as tg_red_knn (same arguments, outputs and ordering of each row's
 * answer), but the neighbours are found by a forest of random-projection trees and rounds of
 * neighbours-of-neighbours (knn.c explains both), so a few may be missed (their place taken
 * by the next nearest found).  The trees' random choices come from `seed`; the result is the
 * same at any thread count.  A sample of 256 rows is checked against the exact search: below
 * 95% of their neighbours found, the answer is the exact search's (tg_red_knn).  *recall_out
 * (when non-NULL): the sample's recall (1 when n is one leaf).  Same errors as tg_red_knn. */
tg_status tg_red_knn_approx(const double *a, const double *sq, size_t n, size_t d, size_t k, tg_tsne_metric metric,
                            uint64_t seed, size_t *nbr, double *dist, double *recall_out);

/* ---- thread-count independent products (reduce/tiled_blas.c) ----
 * Row-major C[m x n] = alpha op(A) op(B) + beta C, op(A) m x k, op(B) k x n; element (i, p)
 * of op(A) is a[i * lda + p] (ta false) or a[p * lda + i] (ta true), likewise for B.  C is
 * cut into tiles of a size fixed by the shapes, each computed by a single-threaded BLIS
 * call, the tiles spread over OpenMP threads: bit-identical results at any thread count.
 * Must not be called from inside a parallel region of ours. */
void tg_red_dgemm(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha, const double *a, size_t lda,
                  const double *b, size_t ldb, double beta, double *c, size_t ldc);
void tg_red_sgemm(bool ta, bool tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                  const float *b, size_t ldb, float beta, float *c, size_t ldc);
/* The lower triangle of C[m x m] = alpha op(A) op(A)^T + beta C, op(A) m x k as above
 * (gemm tiles off the diagonal, syrk tiles on it).  The strict upper triangle is left
 * untouched. */
void tg_red_dsyrk_lower(bool ta, size_t m, size_t k, double alpha, const double *a, size_t lda, double beta, double *c,
                        size_t ldc);
void tg_red_ssyrk_lower(bool ta, size_t m, size_t k, float alpha, const float *a, size_t lda, float beta, float *c,
                        size_t ldc);

/* ---- FFT-accelerated interpolation for the 2-D t-SNE repulsion (reduce/tsne_fft.c) ----
 * A workspace for n points (2 <= n < 2^32) whose grids run on nthreads OpenMP threads;
 * created with tg_fitsne_new (*out owned by the caller, released with tg_fitsne_free, which
 * accepts NULL).  tg_fitsne_repulsion: y [n, 2] row-major (read only); writes
 * rep [n, 2] = sum_j w_ij^2 (y_i - y_j) and *z = sum_{i != j} w_ij, w_ij = 1 / (1 + |y_i - y_j|^2),
 * approximated on a grid (see the file's header; relative error ~1e-4 or better);
 * independent of the thread count.  TG_ERR_VALUE on a non-finite y, TG_ERR_NOMEM.
 * tg_fitsne_fft_block (tests): forward DFT of length L = 2^a 3^b of 8 sequences at once,
 * re / im [L][8] in place. */
typedef struct tg_fitsne tg_fitsne;
/* The widest bounding square (in embedding units) the grid covers at one box per unit or finer:
 * NB_MAX boxes per axis.  Past it the boxes would be wider than the kernel and the repulsion
 * wrong, so tg_tsne computes such iterations with Barnes-Hut instead (tg_fitsne_repulsion
 * itself never refuses a span). */
#define TG_FITSNE_MAX_SIDE 432.0
tg_status tg_fitsne_new(size_t n, int nthreads, tg_fitsne **out);
void tg_fitsne_free(tg_fitsne *f);
tg_status tg_fitsne_repulsion(tg_fitsne *f, const double *y, double *rep, double *z);
tg_status tg_fitsne_fft_block(size_t L, double *re, double *im);

#endif
