/*
 * base/blas.h - the core's doorway to BLIS (internal).  base/blas.c and
 * base/blis_select.c are meant to be the only files that include <blis.h>; every part calls
 * BLIS through these wrappers.  (Still calling BLIS directly, to be moved once the branches
 * editing them have landed: reduce/pca.c, reduce/linalg.c, reduce/tsne.c; see csrc/README.md.)
 *
 * Matrices are given by a pointer to their first element and element strides (row stride,
 * column stride), as BLIS's "typed API" takes them; any strides, negative ones excluded.
 */
#ifndef TG_BASE_BLAS_H
#define TG_BASE_BLAS_H

#include <stdbool.h>
#include <stddef.h>

#include "tokgeo/common.h"

/* Requests better BLIS kernels on CPUs newer than the BLIS release (blis_select.c); runs by
 * itself before main() and from tg_set_num_threads(); idempotent. */
void tg_blis_select_arch(void);

/* Sets the number of threads BLIS uses for calls made with threads == 0 below. */
void tg_blas_set_num_threads(int n);

typedef enum tg_blas_trans { TG_BLAS_N = 0, TG_BLAS_T = 1 } tg_blas_trans;

/* C[m, n] = alpha * op(A) @ op(B) + beta * C, op(A) [m, k], op(B) [k, n], in float32 (dtype
 * TG_F32: a, b, c are float *) or float64 (TG_F64: double *).  threads: 0 = the setting of
 * tg_set_num_threads(); 1 = this call single-threaded (for calls inside our own OpenMP
 * regions); n > 1 = n threads, all on the jc loop (each packs its own slab of B). */
void tg_gemm(tg_dtype dtype, tg_blas_trans ta, tg_blas_trans tb, size_t m, size_t n, size_t k, double alpha,
             const void *a, ptrdiff_t rsa, ptrdiff_t csa, const void *b, ptrdiff_t rsb, ptrdiff_t csb, double beta,
             void *c, ptrdiff_t rsc, ptrdiff_t csc, int threads);

/* C[m, n] = alpha * A[m, k] @ B[k, n] + beta * C in float32, any element strides.
 * single_thread: run BLIS on one thread (for calls inside our OpenMP regions). */
void tg_sgemm(size_t m, size_t n, size_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *b,
              ptrdiff_t rsb, ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc, bool single_thread);

/* Lower triangle (diagonal included) of C[m, m] = alpha * A[m, k] @ A^T + beta * C in
 * float32, any element strides; the strict upper triangle is not written.  threads <= 1:
 * single-threaded (for calls inside our OpenMP regions); more: BLIS splits the product among
 * that many threads itself.  Its native (non-"sup") path cuts the output into whole
 * micro-tiles and never splits the k loop, so each entry is the same micro-kernel sum at any
 * thread count: the same bits at 1, 2 and 3 threads for m, k >= 256 (exact PCA's float32 Gram
 * matrix; tests/test_pca.py, test_large_float32_bit_identical_across_threads_and_layouts). */
void tg_ssyrk_lower(size_t m, size_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa, float beta, float *c,
                    ptrdiff_t rsc, ptrdiff_t csc, int threads);

/* Benchmark entry point (the reference rate for the all-pairs routines): times `reps` plain
 * sgemm calls C[m,n] = A[m,k] B[k,n] on internal buffers; *seconds: wall time of the calls.
 * TG_ERR_VALUE for a zero size or reps < 1, TG_ERR_OVERFLOW, TG_ERR_NOMEM. */
tg_status tg_bench_sgemm(size_t m, size_t n, size_t k, int reps, double *seconds);

#endif /* TG_BASE_BLAS_H */
