/* threads.c - one thread-count setting for our OpenMP loops and BLIS; interrupt hook. */
#include "tg_common.h"

#include <blis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) && defined(TOKGEO_BLIS_HAS_ZEN3)
#include <cpuid.h>
#endif

/* BLIS picks its kernels once, at its initialisation, from the CPU (or from the
 * BLIS_ARCH_TYPE environment variable, a numeric arch_t id).  BLIS 0.9 does not know AMD
 * CPUs after Zen 4 (family 0x1A and later) and falls back to "generic" kernels, several
 * times slower.  On such CPUs, when the user has not chosen (BLIS_ARCH_TYPE unset,
 * TOKGEO_BLIS_ARCH not "native"), the BLIS is 0.x and was built with the zen3 kernels
 * (checked at configure time), and the CPU has AVX2 and FMA, we ask for zen3.  This must
 * run before the first BLIS call of the process; every entry that touches BLIS settles it
 * through tg_set_num_threads(), which the Python module calls at import. */
static void choose_blis_arch(void) {
#if defined(__x86_64__) && defined(TOKGEO_BLIS_HAS_ZEN3)
    if (getenv("BLIS_ARCH_TYPE") != NULL) return;
    const char *opt = getenv("TOKGEO_BLIS_ARCH");
    if (opt != NULL && strcmp(opt, "native") == 0) return;
    const char *ver = bli_info_get_version_str();
    if (ver == NULL || ver[0] != '0' || ver[1] != '.') return;
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    if (!(b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u)) return; /* AuthenticAMD */
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    unsigned base = (a >> 8) & 0xfu;
    unsigned family = base == 0xfu ? base + ((a >> 20) & 0xffu) : base;
    if (family <= 0x19u) return;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return;
    char id[16];
    snprintf(id, sizeof id, "%d", (int)BLIS_ARCH_ZEN3);
    setenv("BLIS_ARCH_TYPE", id, 0);
#endif
}

static pthread_once_t blis_arch_once = PTHREAD_ONCE_INIT;

const char *tg_blis_arch(void) {
    pthread_once(&blis_arch_once, choose_blis_arch);
    bli_init();
    return bli_arch_string(bli_arch_query_id());
}

const char *tg_blis_version(void) { return bli_info_get_version_str(); }

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
    pthread_once(&blis_arch_once, choose_blis_arch);
    if (n <= 0) n = default_threads();
    atomic_store(&tg_threads, n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    bli_thread_set_num_threads((dim_t)n);
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
