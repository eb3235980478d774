/*
 * base/json.h - a small, strict JSON reader (RFC 8259), internal to the core: it reads the
 * safetensors header (safetensors/reader.c) and the tokenizer vocabulary, encoder.json /
 * vocab.json (tokenizer/bpe.c).  config.json and model.safetensors.index.json are read by
 * the Python layer, not here.
 *
 * The whole document lives in one arena owned by tg_json_doc; every pointer handed out
 * (values, keys, strings) stays valid until tg_json_free().  Strings are decoded to UTF-8
 * and NUL-terminated (they may also contain NUL bytes: use the length).  Lone surrogate
 * escapes, invalid UTF-8, control characters in strings, trailing garbage, nesting deeper
 * than TG_JSON_MAX_DEPTH and numbers that are not JSON are TG_ERR_FORMAT with the byte
 * offset in the message.  Duplicate keys are kept in order; consumers that care (the
 * safetensors header) check for them.
 *
 *   tg_json_doc *doc;
 *   if (tg_json_parse(buf, len, &doc) != TG_OK) return ...;   // detail in tg_last_error()
 *   const tg_json *id = tg_json_get(tg_json_root(doc), "<|endoftext|>");   // encoder.json
 *   int64_t v; if (!tg_json_as_int64(id, &v)) ...;
 *   tg_json_free(doc);
 */
#ifndef TG_JSON_H
#define TG_JSON_H

#include "tokgeo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_JSON_MAX_DEPTH 64

typedef enum tg_json_type {
    TG_JSON_NULL,
    TG_JSON_FALSE,
    TG_JSON_TRUE,
    TG_JSON_NUMBER,
    TG_JSON_STRING,
    TG_JSON_ARRAY,
    TG_JSON_OBJECT
} tg_json_type;

typedef struct tg_json tg_json;
typedef struct tg_json_member tg_json_member;

struct tg_json {
    tg_json_type type;
    union {
        struct {
            double value;     /* nearest double */
            int64_t ivalue;   /* exact value when is_int */
            bool is_int;      /* written without fraction/exponent and fits int64 */
        } number;
        struct {
            const char *ptr;  /* decoded UTF-8, NUL-terminated */
            size_t len;
        } string;
        struct {
            tg_json *items;
            size_t count;
        } array;
        struct {
            tg_json_member *members;
            size_t count;
        } object;
    } u;
};

struct tg_json_member {
    const char *key;  /* decoded UTF-8, NUL-terminated */
    size_t key_len;
    tg_json value;
};

typedef struct tg_json_doc tg_json_doc;

/* Parses `len` bytes at `text` (no NUL terminator needed). On success *out owns the
 * document. On failure *out is NULL and nothing is leaked. */
tg_status tg_json_parse(const char *text, size_t len, tg_json_doc **out);
void tg_json_free(tg_json_doc *doc);
const tg_json *tg_json_root(const tg_json_doc *doc);

/* First member named `key` (NUL-terminated) of an object, or NULL (also when `obj` is
 * NULL or not an object). Linear time: for big objects iterate the members instead. */
const tg_json *tg_json_get(const tg_json *obj, const char *key);

/* Typed accessors: false (and *out untouched) when v is NULL or of another type. */
bool tg_json_as_int64(const tg_json *v, int64_t *out);  /* integers only */
bool tg_json_as_double(const tg_json *v, double *out);  /* any number */
bool tg_json_as_string(const tg_json *v, const char **ptr, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* TG_JSON_H */
