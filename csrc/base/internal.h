/*
 * base/internal.h - what every part of the core shares and nobody outside the core sees:
 * checked size arithmetic, the UTF-8 sequence check, the one function multi-versioning
 * macro, the strided-view row walker and the memory-budget rule.
 *
 * Included by the .c files of every part (csrc/<part>/) and by the C tests; never by a
 * public header (csrc/include/tokgeo/).  See csrc/README.md for who may include whom.
 */
#ifndef TG_BASE_INTERNAL_H
#define TG_BASE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokgeo/common.h"

/* ---- checked size arithmetic: false on overflow, *out untouched then ---- */
static inline bool tg_mul_size(size_t a, size_t b, size_t *out) {
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}
static inline bool tg_add_size(size_t a, size_t b, size_t *out) {
    size_t r;
    if (__builtin_add_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}
/* a*b*c */
static inline bool tg_mul3_size(size_t a, size_t b, size_t c, size_t *out) {
    size_t r;
    return tg_mul_size(a, b, &r) && tg_mul_size(r, c, out);
}

/* ---- UTF-8 ----
 * Length (1-4) of the well-formed UTF-8 sequence at s[0] with n >= 1 bytes available, or 0
 * when it is not one (overlong forms, surrogates and code points above U+10FFFF included). */
static inline size_t tg_utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

/* ---- function multi-versioning ----
 * TG_TARGET_CLONES("arch=x86-64-v3", "default") compiles a hot function once per listed
 * target and lets the loader pick one (GNU ifunc).  Only on x86-64 Linux with GCC >= 11 or
 * clang; elsewhere, under AddressSanitizer (ifunc resolvers run before ASan is set up), and
 * with -DTG_NO_CLONES it expands to nothing and the function is compiled once.  Each part
 * names its own targets at the use (gpt2 kernels: v4/v3/default; metrics row sums:
 * avx2/default; reduce: v3/default with FMA contraction, TG_HOT in reduce/internal.h).
 * TG_TARGET_CLONES_GCC is the same for GCC only: the gpt2 kernels and the metrics row sums
 * have only ever been built and checked with GCC's clones, so clang builds keep one version
 * of them. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 11) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(TG_NO_CLONES)
#define TG_HAVE_TARGET_CLONES 1
#define TG_TARGET_CLONES(...) __attribute__((target_clones(__VA_ARGS__)))
#else
#define TG_HAVE_TARGET_CLONES 0
#define TG_TARGET_CLONES(...)
#endif
#if TG_HAVE_TARGET_CLONES && !defined(__clang__)
#define TG_TARGET_CLONES_GCC(...) TG_TARGET_CLONES(__VA_ARGS__)
#else
#define TG_TARGET_CLONES_GCC(...)
#endif

/* ---- strided views: rows along the last axis ----
 * A view of shape [..., n] is a batch of rows of length n; rows are numbered in C order over
 * the outer shape (a 0-d view is one row of length 1). */

/* Checks that v is a float32/float64 view of at most TG_MAX_NDIM dimensions with
 * non-negative extents and data unless empty; *rows = product of the outer extents, *len =
 * the last extent.  TG_ERR_VALUE / TG_ERR_TYPE / TG_ERR_OVERFLOW naming `name`. (view.c) */
tg_status tg_view_rows(const tg_view *v, const char *name, size_t *rows, size_t *len);

/* Element offset of the first element of row r (r < rows of tg_view_rows). (view.c) */
ptrdiff_t tg_view_row_offset(const tg_view *v, size_t r);

/* Walks the rows of a view in C order without a division per row:
 *   tg_row_iter it; tg_row_iter_init(&it, v, r0);
 *   for (r = r0; r < r1; r++, tg_row_iter_next(&it)) use(base + it.off);  */
typedef struct tg_row_iter {
    const tg_view *v;
    ptrdiff_t idx[TG_MAX_NDIM];
    ptrdiff_t off; /* element offset of the current row */
} tg_row_iter;

static inline void tg_row_iter_init(tg_row_iter *it, const tg_view *v, size_t r) {
    it->v = v;
    it->off = tg_view_row_offset(v, r);
    for (int k = v->ndim - 2; k >= 0; k--) {
        size_t e = (size_t)v->shape[k];
        it->idx[k] = (ptrdiff_t)(r % e);
        r /= e;
    }
}

static inline void tg_row_iter_next(tg_row_iter *it) {
    const tg_view *v = it->v;
    for (int k = v->ndim - 2; k >= 0; k--) {
        it->off += v->stride[k];
        if (++it->idx[k] < v->shape[k]) return;
        it->off -= v->stride[k] * v->shape[k];
        it->idx[k] = 0;
    }
}

/* ---- memory (memory.c) ---- */

/* Physical memory of the machine in bytes (sysconf), or 0 when the OS does not say. */
size_t tg_physical_memory(void);

/* The one memory-budget rule of the core: refuses (TG_ERR_BUDGET, naming `what` and
 * ending with `hint`) a working set of `bytes` larger than half of the physical memory,
 * before allocating it: an over-committed allocation would otherwise be killed by the OS
 * when touched, taking a notebook kernel with it.  TG_OK when the memory size is unknown. */
tg_status tg_check_memory_budget(double bytes, const char *what, const char *hint);

#endif /* TG_BASE_INTERNAL_H */
