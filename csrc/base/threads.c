/* threads.c - one thread-count setting for our OpenMP loops and BLIS; interrupt hook. */
#include "tokgeo/common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/blas.h"

static atomic_int tg_threads = 0; /* 0: not set yet */

static int default_threads(void) {
#ifdef _OPENMP
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
#else
    return 1;
#endif
}

void tg_set_num_threads(int n) {
    tg_blis_select_arch();
    if (n <= 0) n = default_threads();
    atomic_store(&tg_threads, n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    tg_blas_set_num_threads(n);
}

int tg_get_num_threads(void) {
    int n = atomic_load(&tg_threads);
    if (n == 0) {
        tg_set_num_threads(0);
        n = atomic_load(&tg_threads);
    }
    return n;
}

static tg_interrupt_fn hook_fn = NULL;
static void *hook_ctx = NULL;
static _Thread_local double last_check = 0.0;

void tg_set_interrupt_hook(tg_interrupt_fn fn, void *ctx) {
    hook_fn = fn;
    hook_ctx = ctx;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int tg_interrupted(void) {
    if (hook_fn == NULL) return 0;
    double t = now_seconds();
    if (t - last_check < 0.02) return 0;
    last_check = t;
    return hook_fn(hook_ctx) != 0;
}
