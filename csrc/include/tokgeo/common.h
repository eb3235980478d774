/*
 * tokgeo/common.h - what every part of the tokgeo C API shares: status codes and the
 * thread-local error detail, strided float views (tg_view), the one thread-count setting
 * (our OpenMP loops and BLIS), the interrupt hook, and aligned allocation.
 *
 * Contract used across the core: a function that can fail returns tg_status; on failure
 * it has called tg_fail() (which records a human-readable detail for this thread) and
 * has freed everything it allocated, leaving its outputs untouched or zeroed as its
 * own comment says.  Nothing in the core calls exit(), abort() or assert() on input.
 */
#ifndef TG_COMMON_H
#define TG_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tg_status {
    TG_OK = 0,
    TG_ERR_NOMEM,       /* an allocation failed                      -> MemoryError          */
    TG_ERR_VALUE,       /* an argument has a bad value                -> InvalidInputError    */
    TG_ERR_TYPE,        /* an argument has a bad dtype / kind         -> TypeError subclass   */
    TG_ERR_INDEX,       /* an id or index is out of range             -> IndexError subclass  */
    TG_ERR_FORMAT,      /* a file or buffer is malformed              -> FormatError          */
    TG_ERR_IO,          /* the OS refused an I/O request              -> OSError subclass     */
    TG_ERR_OVERFLOW,    /* a size computation overflowed              -> OverflowError subcl. */
    TG_ERR_BUDGET,      /* the memory needed exceeds the budget       -> MemoryBudgetError    */
    TG_ERR_SPECIAL,     /* a disallowed special token in user text    -> SpecialTokenError    */
    TG_ERR_UNICODE,     /* text is not valid UTF-8                    -> UnicodeError subcl.  */
    TG_ERR_INTERRUPTED, /* the interrupt hook asked to stop (Ctrl-C)  -> KeyboardInterrupt    */
    TG_ERR_INTERNAL,    /* a bug in tokgeo                            -> TokgeoError          */
    TG_STATUS_COUNT
} tg_status;

/* Short stable name of a status ("TG_ERR_FORMAT"); never NULL. */
const char *tg_status_name(tg_status s);

/* Records a printf-style detail for the calling thread and returns `s` unchanged, so
 * failures read `return tg_fail(TG_ERR_FORMAT, "tensor %s: ...", name);`.
 * The message is truncated to 1023 bytes. */
tg_status tg_fail(tg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The detail recorded by the last tg_fail() on this thread ("" if none). Owned by the
 * thread; valid until the next tg_fail()/tg_clear_error() on the same thread. */
const char *tg_last_error(void);
void tg_clear_error(void);

/* ---- strided views (element strides, never byte strides) ---- */
#define TG_MAX_NDIM 8
typedef enum tg_dtype { TG_F32 = 1, TG_F64 = 2 } tg_dtype;

typedef struct tg_view {
    void *data;                      /* first element (may be followed by negative strides) */
    tg_dtype dtype;
    int ndim;                        /* 0..TG_MAX_NDIM */
    ptrdiff_t shape[TG_MAX_NDIM];    /* >= 0 */
    ptrdiff_t stride[TG_MAX_NDIM];   /* in elements; may be 0 (broadcast) or negative */
} tg_view;

static inline size_t tg_dtype_size(tg_dtype d) { return d == TG_F64 ? 8u : 4u; }

/* ---- threads: our OpenMP loops and BLIS share one setting ---- */
/* n <= 0 restores the default (the number of available cores). */
void tg_set_num_threads(int n);
int tg_get_num_threads(void);

/* The BLIS kernel set in use ("zen3", "haswell", "generic", ...) and the BLIS version.
 * On CPUs newer than the BLIS release tokgeo requests better kernels before the first BLIS
 * call (base/blis_select.c); TOKGEO_BLIS_ARCH=native or BLIS_ARCH_TYPE turn that off. */
const char *tg_blis_arch(void);
const char *tg_blis_version(void);

/* ---- cooperative interruption ----
 * Long loops call tg_interrupted() from the thread that entered the core (in OpenMP
 * regions: from the master thread only, publishing the answer through a shared flag).
 * It calls the hook installed by the embedding program (the Python binding installs one
 * that re-acquires the GIL and runs pending signal handlers) at most every ~20 ms, and
 * returns nonzero when the hook asks to stop; the caller then unwinds, frees what it
 * holds and returns TG_ERR_INTERRUPTED.  Without a hook it returns 0. */
typedef int (*tg_interrupt_fn)(void *ctx);
void tg_set_interrupt_hook(tg_interrupt_fn fn, void *ctx);
int tg_interrupted(void);

/* Aligned allocation for big buffers (64-byte aligned, size rounded up); the caller owns the
 * block and frees it with free().  Returns NULL when size is 0 or on failure. */
void *tg_alloc_aligned(size_t size);

#ifdef __cplusplus
}
#endif
#endif /* TG_COMMON_H */
