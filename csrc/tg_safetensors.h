/*
 * tg_safetensors.h - validating reader of the safetensors format over a read-only mapping.
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
 * Ownership: tg_st_open* returns an object that owns the mapping (or, for _buffer, borrows
 * the caller's bytes, which must outlive it); every tg_st_tensor pointer and name stays
 * valid until tg_st_close().
 */
#ifndef TG_SAFETENSORS_H
#define TG_SAFETENSORS_H

#include "tg_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_ST_MAX_HEADER ((uint64_t)100 * 1024 * 1024) /* 100 MB, as the reference reader */
#define TG_ST_MAX_NDIM 8

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

tg_status tg_st_open(const char *path, tg_safetensors **out);
tg_status tg_st_open_buffer(const void *data, size_t size, tg_safetensors **out);
void tg_st_close(tg_safetensors *st);

size_t tg_st_count(const tg_safetensors *st);
const tg_st_tensor *tg_st_at(const tg_safetensors *st, size_t i);    /* sorted by offset */
const tg_st_tensor *tg_st_find(const tg_safetensors *st, const char *name); /* or NULL */
const char *tg_st_metadata(const tg_safetensors *st, const char *key);       /* or NULL */
const char *tg_st_dtype_name(tg_st_dtype d);                                  /* "F32" */
size_t tg_st_dtype_size(tg_st_dtype d);                                        /* bytes */

#ifdef __cplusplus
}
#endif
#endif /* TG_SAFETENSORS_H */
