/*
 * tiled_blas.c - matrix products for the reductions whose bits do not depend on the
 * number of threads.
 *
 * BLIS splits a product among its threads in a way that depends on the thread count, and
 * for small or thin shapes (its "sup" path) different splits hand the same output entry to
 * different micro-kernels (edge kernels accumulate in a different order), so 1 and 2
 * threads differed in the last bit (measured: 8e-16 in tg_eigh's eigenvectors at n = 300,
 * 1e-14 in a PCA projection), which t-SNE then amplified into a different map.
 *
 * Here the output is cut into tiles whose sizes depend only on the shapes, each tile is
 * computed by one single-threaded BLIS call (an explicit rntm with one thread), and the
 * tiles are dealt to OpenMP threads.  Each output entry is therefore always computed by
 * the same call on the same operands, whichever thread runs it and however many threads
 * the team has (including an OpenMP team smaller than asked for).  The reduction (k)
 * dimension is never split.  Packing costs a little more than in one multithreaded call
 * (each tile packs its own panels): with tiles of 128 x 512 and k >= 64 it is a few percent.
 */
#include <blis.h>
#include <stdlib.h>

#include "reduce/internal.h"

/* TILE_SYRK: a 768-wide Gram matrix (GPT-2 small's width) is 2 x 2 tiles, two diagonal syrk
 * tiles and one gemm tile of equal work, so 2 threads split it evenly (256 gave 6 tiles of 4.5
 * units, split 2.5 / 2: at 2 threads the PCA Gram matrix took 0.47-0.54 s against 0.37-0.40 s,
 * 50,257 x 768, Zen 4). */
enum { TILE_M = 128, TILE_N = 512, TILE_SYRK = 384 };
/* below this many multiply-adds a product is one single-threaded call */
#define SMALL_PRODUCT 262144.0

static void one_thread(rntm_t *r) {
    rntm_t init = BLIS_RNTM_INITIALIZER;
    *r = init;
    bli_rntm_set_num_threads(1, r);
}

/* Element (i, p) of op(A) lives at a + i * lda + p (no transpose) or a + p * lda + i. */
#define TG_DEFINE_GEMM(NAME, T, BLIFN)                                                                                 \
    void NAME(bool ta, bool tb, size_t m, size_t n, size_t k, T alpha, const T *a, size_t lda, const T *b, size_t ldb, \
              T beta, T *c, size_t ldc) {                                                                              \
        if (m == 0 || n == 0) return;                                                                                  \
        const trans_t bta = ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, btb = tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;    \
        const bool small = (double)m * (double)n * (double)k < SMALL_PRODUCT;                                          \
        const size_t tm = small ? m : TILE_M, tn = small ? n : TILE_N;                                                 \
        const size_t nti = (m + tm - 1) / tm, ntj = (n + tn - 1) / tn;                                                 \
        const ptrdiff_t ntiles = (ptrdiff_t)(nti * ntj);                                                               \
        _Pragma("omp parallel for schedule(dynamic, 1) if (ntiles > 1)") for (ptrdiff_t t = 0; t < ntiles; t++) {      \
            const size_t i0 = (size_t)t / ntj * tm, j0 = (size_t)t % ntj * tn;                                         \
            const size_t mi = m - i0 < tm ? m - i0 : tm, nj = n - j0 < tn ? n - j0 : tn;                               \
            const T *at = ta ? a + i0 : a + i0 * lda;                                                                  \
            const T *bt = tb ? b + j0 * ldb : b + j0;                                                                  \
            rntm_t rntm;                                                                                               \
            one_thread(&rntm);                                                                                         \
            T al = alpha, be = beta;                                                                                   \
            BLIFN(bta, btb, (dim_t)mi, (dim_t)nj, (dim_t)k, &al, (T *)at, (inc_t)lda, 1, (T *)bt, (inc_t)ldb, 1, &be,  \
                  c + i0 * ldc + j0, (inc_t)ldc, 1, NULL, &rntm);                                                      \
        }                                                                                                              \
    }

TG_DEFINE_GEMM(tg_red_dgemm, double, bli_dgemm_ex)
TG_DEFINE_GEMM(tg_red_sgemm, float, bli_sgemm_ex)

/* Lower triangle of C: tiles (I, J) with I >= J of TILE_SYRK squares; tile (I, J) is
 * op(A)[I] op(A)[J]^T, with op(A) rows at a + i * lda (ta false: A is m x k) or a + i
 * (ta true: A is k x m).  Off-diagonal tiles are gemm calls; diagonal tiles are syrk calls,
 * which compute only their lower triangle (to BLIS's micro-tile), so the strict upper
 * triangle of C is never written. */
#define TG_DEFINE_SYRK(NAME, T, GEMMFN, SYRKFN)                                                                         \
    void NAME(bool ta, size_t m, size_t k, T alpha, const T *a, size_t lda, T beta, T *c, size_t ldc) {               \
        if (m == 0) return;                                                                                            \
        const bool small = (double)m * (double)m * (double)k < 2.0 * SMALL_PRODUCT;                                    \
        const size_t ts = small ? m : TILE_SYRK;                                                                       \
        const size_t nt = (m + ts - 1) / ts;                                                                           \
        const ptrdiff_t ntiles = (ptrdiff_t)(nt * (nt + 1) / 2);                                                       \
        _Pragma("omp parallel for schedule(dynamic, 1) if (ntiles > 1)") for (ptrdiff_t t = 0; t < ntiles; t++) {      \
            size_t I = 0, rem = (size_t)t; /* t -> (I, J), J <= I, row by row */                                       \
            while (rem > I) {                                                                                          \
                rem -= I + 1;                                                                                          \
                I++;                                                                                                   \
            }                                                                                                          \
            const size_t J = rem, i0 = I * ts, j0 = J * ts;                                                            \
            const size_t mi = m - i0 < ts ? m - i0 : ts, nj = m - j0 < ts ? m - j0 : ts;                               \
            const T *ai = ta ? a + i0 : a + i0 * lda, *aj = ta ? a + j0 : a + j0 * lda;                                \
            rntm_t rntm;                                                                                               \
            one_thread(&rntm);                                                                                         \
            T al = alpha, be = beta;                                                                                   \
            if (I == J) { /* op(A)[I] is mi x k: element (i, p) at ai[p * lda + i] (ta) or ai[i * lda + p] */          \
                SYRKFN(BLIS_LOWER, BLIS_NO_TRANSPOSE, (dim_t)mi, (dim_t)k, &al, (T *)ai, ta ? 1 : (inc_t)lda,            \
                       ta ? (inc_t)lda : 1, &be, c + i0 * ldc + i0, (inc_t)ldc, 1, NULL, &rntm);                         \
                continue;                                                                                              \
            }                                                                                                          \
            /* A^T A: op(A)[I] = rows of A^T = columns of A -> (A_I)^T A_J */                                          \
            GEMMFN(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, ta ? BLIS_NO_TRANSPOSE : BLIS_TRANSPOSE, (dim_t)mi,         \
                   (dim_t)nj, (dim_t)k, &al, (T *)ai, (inc_t)lda, 1, (T *)aj, (inc_t)lda, 1, &be, c + i0 * ldc + j0,    \
                   (inc_t)ldc, 1, NULL, &rntm);                                                                        \
        }                                                                                                              \
    }

TG_DEFINE_SYRK(tg_red_dsyrk_lower, double, bli_dgemm_ex, bli_dsyrk_ex)
TG_DEFINE_SYRK(tg_red_ssyrk_lower, float, bli_sgemm_ex, bli_ssyrk_ex)
