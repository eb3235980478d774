/* blas.c - the wrappers of base/blas.h over BLIS's typed API, the BLIS thread setting and
 * version queries, and the sgemm benchmark.  Kernel selection on new CPUs: blis_select.c. */
#include "base/blas.h"

#include <blis.h>
#include <stdlib.h>
#include <time.h>

#include "base/internal.h"

const char *tg_blis_arch(void) {
    bli_init();
    return bli_arch_string(bli_arch_query_id());
}

const char *tg_blis_version(void) { return bli_info_get_version_str(); }

void tg_blas_set_num_threads(int n) { bli_thread_set_num_threads((dim_t)n); }

static trans_t blis_trans(tg_blas_trans t) { return t == TG_BLAS_T ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE; }

void tg_gemm(tg_dtype dtype, tg_blas_trans ta, tg_blas_trans tb, size_t m, size_t n, size_t k, double alpha,
             const void *a, ptrdiff_t rsa, ptrdiff_t csa, const void *b, ptrdiff_t rsb, ptrdiff_t csb, double beta,
             void *c, ptrdiff_t rsc, ptrdiff_t csc, int threads) {
    rntm_t rntm = BLIS_RNTM_INITIALIZER; /* default-initialised: single-threaded */
    if (threads > 1) bli_rntm_set_ways((dim_t)threads, 1, 1, 1, 1, &rntm);
    rntm_t *r = threads >= 1 ? &rntm : NULL; /* NULL: the global setting */
    if (dtype == TG_F32) {
        float al = (float)alpha, be = (float)beta;
        bli_sgemm_ex(blis_trans(ta), blis_trans(tb), (dim_t)m, (dim_t)n, (dim_t)k, &al, (float *)a, (inc_t)rsa,
                     (inc_t)csa, (float *)b, (inc_t)rsb, (inc_t)csb, &be, (float *)c, (inc_t)rsc, (inc_t)csc, NULL, r);
    } else {
        bli_dgemm_ex(blis_trans(ta), blis_trans(tb), (dim_t)m, (dim_t)n, (dim_t)k, &alpha, (double *)a, (inc_t)rsa,
                     (inc_t)csa, (double *)b, (inc_t)rsb, (inc_t)csb, &beta, (double *)c, (inc_t)rsc, (inc_t)csc, NULL,
                     r);
    }
}

void tg_sgemm(size_t m, size_t n, size_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *b,
              ptrdiff_t rsb, ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc, bool single_thread) {
    if (m == 0 || n == 0) return;
    tg_gemm(TG_F32, TG_BLAS_N, TG_BLAS_N, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc,
            single_thread ? 1 : 0);
}

void tg_ssyrk_lower(size_t m, size_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa, float beta, float *c,
                    ptrdiff_t rsc, ptrdiff_t csc, int threads) {
    if (m == 0) return;
    rntm_t rntm = BLIS_RNTM_INITIALIZER; /* default-initialised: single-threaded */
    if (threads > 1) bli_rntm_set_num_threads((dim_t)threads, &rntm);
    bli_ssyrk_ex(BLIS_LOWER, BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)k, &alpha, (float *)a, (inc_t)rsa, (inc_t)csa, &beta, c,
                 (inc_t)rsc, (inc_t)csc, NULL, &rntm);
}

tg_status tg_bench_sgemm(size_t m, size_t n, size_t k, int reps, double *seconds) {
    size_t ba, bb, bc;
    if (m == 0 || n == 0 || k == 0 || reps < 1) return tg_fail(TG_ERR_VALUE, "m, n, k and reps must be positive");
    if (!tg_mul3_size(m, k, sizeof(float), &ba) || !tg_mul3_size(k, n, sizeof(float), &bb) ||
        !tg_mul3_size(m, n, sizeof(float), &bc))
        return tg_fail(TG_ERR_OVERFLOW, "sizes too large");
    float *A = tg_alloc_aligned(ba), *B = tg_alloc_aligned(bb), *C = tg_alloc_aligned(bc);
    if (!A || !B || !C) {
        free(A);
        free(B);
        free(C);
        return tg_fail(TG_ERR_NOMEM, "cannot allocate the benchmark matrices");
    }
    for (size_t i = 0; i < m * k; i++) A[i] = (float)((i * 7919u) % 1000u) * 1e-3f;
    for (size_t i = 0; i < k * n; i++) B[i] = (float)((i * 104729u) % 1000u) * 1e-3f;
    float one = 1.0f, zero = 0.0f;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 0; r < reps; r++)
        bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k, &one, A, (inc_t)k, 1, B, (inc_t)n,
                  1, &zero, C, (inc_t)n, 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    free(A);
    free(B);
    free(C);
    return TG_OK;
}
