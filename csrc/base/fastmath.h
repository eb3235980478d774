/*
 * base/fastmath.h - small vectorisable math kernels shared by metrics/geometry.c and
 * reduce/tsne.c (internal, not public API).  Header-only: every function is static inline so
 * that it inlines into the caller's loop and picks up the caller's target_clones / optimize
 * attributes.
 */
#ifndef TG_FASTMATH_H
#define TG_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* Put on a caller whose loop over tg_exp_nonpos() should be if-converted by GCC (we never look
 * at FP exception flags; results are unchanged). */
#if defined(__GNUC__) && !defined(__clang__)
#define TG_NO_TRAP __attribute__((optimize("no-trapping-math")))
#else
#define TG_NO_TRAP
#endif

/* The kernels below carry no optimize attribute of their own: forced inline, they are compiled
 * with the options of the caller (GCC refuses a plain inline across an optimize-attribute
 * mismatch, e.g. into a TG_NO_TRAP or TG_HOT caller, and the loop would then not vectorise). */
#if defined(__GNUC__)
#define TG_ALWAYS_INLINE __attribute__((always_inline))
#else
#define TG_ALWAYS_INLINE
#endif

/* exp(x) for x <= 0 (x may be -inf), branch-free so that a loop over it vectorises: Cody-Waite
 * reduction x = k ln2 + r, |r| <= ln2/2, a degree-13 Taylor polynomial (truncation below
 * 1e-17 relative), and the scaling 2^k applied as two exact powers of two so that subnormal
 * results round once.  Within 2 ulp of the correctly rounded value over the whole range,
 * subnormals included (0 below -746, where exp rounds to 0).  NaN input is not supported. */
TG_ALWAYS_INLINE static inline double tg_exp_nonpos(double x) {
    const double log2e = 1.4426950408889634074, magic = 6755399441055744.0; /* 1.5 * 2^52 */
    const double ln2hi = 0x1.62e42fee00000p-1, ln2lo = 0x1.a39ef35793c76p-33;
    x = x < -746.0 ? -746.0 : x; /* e^-746 rounds to 0; also maps -inf */
    double kd = (x * log2e + magic) - magic; /* nearest integer, in [-1077, 0] */
    double r = (x - kd * ln2hi) - kd * ln2lo;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* 2^k = 2^k1 * 2^k2 with k1 = trunc(k/2), both >= -539: normal doubles built from bits */
    double k1 = (kd * 0.5 + magic) - magic, k2 = kd - k1;
    uint64_t b1, b2;
    double t1 = k1 + (4503599627370496.0 + 1023.0), t2 = k2 + (4503599627370496.0 + 1023.0);
    memcpy(&b1, &t1, 8);
    memcpy(&b2, &t2, 8);
    b1 <<= 52;
    b2 <<= 52;
    double s1, s2;
    memcpy(&s1, &b1, 8);
    memcpy(&s2, &b2, 8);
    return (p * s1) * s2;
}

#endif /* TG_FASTMATH_H */
