/* threads.c - one thread-count setting for our OpenMP loops and BLIS; interrupt hook. */
#include "tg_common.h"

#include <blis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- BLIS sub-configuration for CPUs that BLIS 0.9 does not recognise ----
 * BLIS picks its kernels at its first call from the CPU's vendor/family.  BLIS 0.9 knows
 * AMD families up to 0x19 (Zen 3/4); on later ones (Zen 5 is family 0x1A) it falls back to
 * the portable "generic" kernels, 5-7x slower than the AVX2/AVX-512 ones the CPU can run.
 * Before BLIS initialises (a constructor of this library) we therefore request, through
 * BLIS's own BLIS_ARCH_TYPE variable, the best sub-configuration that both the CPU
 * supports and this BLIS build contains (BLIS_CONFIG_* from blis.h describe the build the
 * header belongs to).  A BLIS_ARCH_TYPE the user set is never overridden, and BLIS 1.0 or
 * later is left to its own detection.  TOKGEO_BLIS_ARCH=native turns this off.  It lives
 * here because threads.c is linked into every program that uses the core. */
#if defined(__x86_64__) && defined(__GNUC__) && (defined(BLIS_FAMILY_X86_64) || defined(BLIS_FAMILY_AMD64))
#include <cpuid.h>

__attribute__((constructor)) static void tg_blis_pick_arch(void) {
    if (getenv("BLIS_ARCH_TYPE") != NULL) return;
    const char *opt = getenv("TOKGEO_BLIS_ARCH"); /* "native": leave BLIS to its own detection */
    if (opt != NULL && strcmp(opt, "native") == 0) return;
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

const char *tg_blis_arch(void) {
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

void tg_blis_select_arch(void); /* blis_arch.c: must run before the first BLIS call */

void tg_set_num_threads(int n) {
    tg_blis_select_arch();
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
