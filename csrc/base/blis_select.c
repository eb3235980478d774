/*
 * blis_select.c - picks BLIS kernels on CPUs that BLIS 0.9 does not recognise.
 *
 * BLIS chooses its kernels once, at initialisation, from CPUID.  BLIS 0.9 (Debian 12,
 * Ubuntu 22.04/24.04) gets two common cases wrong:
 *   - AMD family 0x1A (Zen 5): it falls back to the "generic" reference kernels, which
 *     measured 2.4-3.5x slower than the zen3/skx kernels on the same machine
 *     (single-threaded sgemm/ssyrk/dsyrk).
 *   - Intel CPUs with AVX-512 whose brand string it cannot parse: it only takes its skx
 *     (AVX-512) kernels when it can count two 512-bit FMA units from the model name
 *     ("Xeon Gold 6148"), and cloud and virtual machines report names such as "Intel(R)
 *     Xeon(R) Processor" or "Intel(R) Xeon(R) CPU @ 2.20GHz" (as Colab's do), so it takes the AVX2
 *     haswell kernels.  On a 2-core Sapphire Rapids VM (benchmarks/results/model.md) skx
 *     ran single-threaded dgemm at 64 GFLOP/s against haswell's 42, sgemm at 128 against
 *     91.  (On parts with one 512-bit FMA unit, Xeon Bronze/Silver and some laptops, skx
 *     and haswell peak alike.)
 * Before the first BLIS call we therefore set BLIS_ARCH_TYPE (the documented override)
 * when, and only when: the user has not set it, the linked BLIS is a 0.x release, and the
 * CPU is one of those cases with the vector state its kernels need enabled by the OS.
 * AVX-512 (F, DQ, BW, VL) with ZMM state -> skx kernels; else (AMD only) AVX2 + FMA with YMM
 * state -> zen3 kernels.  Everything else is left to BLIS, and so is everything when
 * TOKGEO_BLIS_ARCH=native.  A kernel set is only requested when blis.h says the build
 * contains it (BLIS_CONFIG_*): BLIS aborts on an architecture id it was not built with.
 * It runs as a constructor (so before any BLIS call of a program linking the core) and
 * again, idempotently, from tg_set_num_threads().
 */
#include <blis.h>
#include <stdlib.h>
#include <string.h>

#include "base/blas.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#include <cpuid.h>
#include <stdio.h>

static unsigned long long read_xcr0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

__attribute__((constructor)) void tg_blis_select_arch(void) {
    static int done = 0; /* constructor, then tg_set_num_threads: before any parallel work */
    if (done) return;
    done = 1;
    if (getenv("BLIS_ARCH_TYPE") != NULL) return;
    const char *opt = getenv("TOKGEO_BLIS_ARCH");
    if (opt != NULL && strcmp(opt, "native") == 0) return;
    const char *ver = bli_info_get_version_str();
    if (ver == NULL || ver[0] != '0' || ver[1] != '.') return; /* BLIS >= 1.0 knows newer CPUs */
    unsigned int a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    const unsigned int max_leaf = a;
    char vendor[13];
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = '\0';
    const int amd = strcmp(vendor, "AuthenticAMD") == 0, intel = strcmp(vendor, "GenuineIntel") == 0;
    if ((!amd && !intel) || max_leaf < 7) return;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    unsigned int family = (a >> 8) & 0xF;
    if (family == 0xF) family += (a >> 20) & 0xFF;
    if (amd && family < 0x1A) return; /* BLIS 0.9 detects these itself */
    const int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx || !fma) return;
    const unsigned long long xcr0 = read_xcr0();
    const int ymm_ok = (xcr0 & 0x6) == 0x6, zmm_ok = (xcr0 & 0xE6) == 0xE6;
    unsigned int a7, b7, c7, d7;
    __cpuid_count(7, 0, a7, b7, c7, d7);
    (void)a7;
    (void)c7;
    (void)d7;
    const int avx2 = (b7 >> 5) & 1;
    const int avx512 = ((b7 >> 16) & 1) && ((b7 >> 17) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1); /* F DQ BW VL */
    int arch = -1;
#ifdef BLIS_CONFIG_SKX
    if (avx512 && zmm_ok) arch = (int)BLIS_ARCH_SKX;
#endif
    if (intel && arch < 0) return; /* without AVX-512, BLIS's own choice for Intel stands */
#ifdef BLIS_CONFIG_ZEN3
    if (arch < 0 && avx2 && ymm_ok) arch = (int)BLIS_ARCH_ZEN3;
#endif
#ifdef BLIS_CONFIG_HASWELL
    if (arch < 0 && avx2 && ymm_ok) arch = (int)BLIS_ARCH_HASWELL;
#endif
    (void)avx512;
    (void)avx2;
    (void)zmm_ok;
    (void)ymm_ok;
    if (arch < 0) return;
    char buf[16];
    snprintf(buf, sizeof buf, "%d", arch);
    setenv("BLIS_ARCH_TYPE", buf, 0);
}
#else
void tg_blis_select_arch(void) {}
#endif
