/*
 * tokgeo/safetensors.h - validating reader of the safetensors format over a read-only mapping.
 *
 * Format: 8-byte little-endian header length N, N bytes of UTF-8 JSON header
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"k": "v"}}, then the byte buffer; offsets are relative to the buffer.
 *
 * Validation (each failure is TG_ERR_FORMAT naming the tensor and the offending value):
 * header length capped (TG_ST_MAX_HEADER) and within the file; header is a JSON object;
 * duplicate names rejected; dtype known; shape entries non-negative and their product times
 * the element size computed with checked arithmetic and equal to end - begin; offsets within
 * the buffer; tensors sorted by offset neither overlap nor leave gaps and cover the buffer
 * exactly; a Git LFS pointer file ("version https://git-lfs...") is recognised and reported
 * as such.  Tensors are not copied: `data` points into the mapping.
 *
 * Also: the header must start with '{' (no BOM or blank), `__metadata__` must be an object
 * of strings (or null), tensor names must not contain NUL, a tensor has at most
 * TG_ST_MAX_NDIM dimensions, and the file must end exactly where the last tensor ends
 * (a longer header than the file, or a shorter file than the header describes, is reported
 * with the expected and the actual size).  Unknown fields inside a tensor entry are
 * ignored, as the reference reader does; duplicate fields are rejected.
 *
 * Messages read "safetensors file '<path>': tensor '<name>': <what> <value>" (or
 * "safetensors buffer: ..." for tg_st_open_buffer); names and paths are quoted with
 * control characters and invalid UTF-8 escaped, so the message is always valid UTF-8.
 *
 * Ownership: tg_st_open* returns an object that owns the mapping (or, for _buffer, borrows
 * the caller's bytes, which must outlive it); every tg_st_tensor pointer and name stays
 * valid until tg_st_close().  Objects are independent: any number may be open at once,
 * and a const object may be read from several threads.  Nothing is copied but the
 * header's strings (names, metadata).
 *
 *   tg_safetensors *st;
 *   if (tg_st_open("model.safetensors", &st) != TG_OK) return ...;  // tg_last_error()
 *   const tg_st_tensor *w = tg_st_find(st, "wte.weight");
 *   if (w && w->dtype == TG_ST_F32 && w->ndim == 2) use((const float *)w->data, w->shape);
 *   tg_st_close(st);
 */
#ifndef TG_SAFETENSORS_H
#define TG_SAFETENSORS_H

#include "tokgeo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_ST_MAX_HEADER ((uint64_t)100000000) /* 100 MB, the reference reader's cap */
#define TG_ST_MAX_NDIM 32 /* NumPy 1.x's limit; deeper tensors are TG_ERR_FORMAT */

typedef enum tg_st_dtype {
    TG_ST_BOOL, TG_ST_U8, TG_ST_I8, TG_ST_I16, TG_ST_U16, TG_ST_F16, TG_ST_BF16,
    TG_ST_I32, TG_ST_U32, TG_ST_F32, TG_ST_F64, TG_ST_I64, TG_ST_U64,
    TG_ST_DTYPE_COUNT
} tg_st_dtype;

typedef struct tg_st_tensor {
    const char *name;                 /* NUL-terminated UTF-8 */
    tg_st_dtype dtype;
    int ndim;
    int64_t shape[TG_ST_MAX_NDIM];
    size_t nbytes;
    size_t file_offset;               /* absolute byte offset of the data in the file */
    const void *data;                 /* into the mapping; may be unaligned for its dtype */
} tg_st_tensor;

typedef struct tg_safetensors tg_safetensors;

/* On success *out owns the file's mapping; on failure *out is NULL and nothing leaks.
 * TG_ERR_IO / TG_ERR_VALUE from tg_mapfile_open when the path cannot be mapped (missing,
 * unreadable, a directory), TG_ERR_FORMAT for any malformed content, TG_ERR_NOMEM. */
tg_status tg_st_open(const char *path, tg_safetensors **out);
/* The same over `size` caller-owned bytes, which must stay valid and unchanged until
 * tg_st_close() (the tensors point into them). */
tg_status tg_st_open_buffer(const void *data, size_t size, tg_safetensors **out);
void tg_st_close(tg_safetensors *st); /* NULL is fine */

size_t tg_st_count(const tg_safetensors *st);
const tg_st_tensor *tg_st_at(const tg_safetensors *st, size_t i);    /* sorted by offset */
const tg_st_tensor *tg_st_find(const tg_safetensors *st, const char *name); /* or NULL */
const char *tg_st_metadata(const tg_safetensors *st, const char *key);       /* or NULL */
/* `__metadata__` entries in header order: count, then key/value of entry i (false if
 * i >= count).  Strings are NUL-terminated UTF-8 owned by st; *key_len / *value_len (may
 * be NULL) give their byte lengths, as values may contain NUL bytes. */
size_t tg_st_metadata_count(const tg_safetensors *st);
bool tg_st_metadata_at(const tg_safetensors *st, size_t i, const char **key, size_t *key_len,
                       const char **value, size_t *value_len);
/* The path given to tg_st_open (NUL-terminated copy owned by st), or NULL for a buffer. */
const char *tg_st_path(const tg_safetensors *st);
/* Size in bytes of the whole file / buffer. */
size_t tg_st_file_size(const tg_safetensors *st);
/* The truncation guard around reads of a file's tensor data by C code (the forward pass,
 * conversions): begin refuses (TG_ERR_IO naming the file) a file that shrank since it was
 * mapped or that an earlier guarded read found truncated; while held, a SIGBUS from a
 * page past the file's new end reads zeros instead of ending the process, and end then
 * returns TG_ERR_IO (discard what was computed).  Pair every begin that returned TG_OK
 * with one end.  Reads outside a guard (NumPy views of the tensors) are not covered: a
 * read past the new end still raises SIGBUS.  Buffers (tg_st_open_buffer): no-ops. */
tg_status tg_st_guard_begin(const tg_safetensors *st);
tg_status tg_st_guard_end(const tg_safetensors *st);
/* Parses a dtype name ("F32"); false if unknown. */
bool tg_st_dtype_from_name(const char *name, tg_st_dtype *out);
const char *tg_st_dtype_name(tg_st_dtype d);                                  /* "F32" */
size_t tg_st_dtype_size(tg_st_dtype d);                                        /* bytes */

#ifdef __cplusplus
}
#endif
#endif /* TG_SAFETENSORS_H */
