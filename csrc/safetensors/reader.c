/*
 * reader.c - validating safetensors reader (see tokgeo/safetensors.h for the contract).
 *
 * Design notes:
 * - The file is mapped read-only (tg_mapfile) and never copied; tensors point into it.
 * - The header is parsed by the strict JSON reader (base/json.h) and the document is kept:
 *   tensor names and metadata strings point into its arena, so nothing else is allocated
 *   per tensor but the tg_st_tensor array and a name index.
 * - Validation follows the reference reader's rules (8-byte LE length, <= 100 MB, header
 *   starting with '{', dtype/shape/offsets per tensor, offsets sorted by (begin, end) tiling
 *   the data buffer exactly) and is stricter where it costs nothing and prevents confusion:
 *   duplicate tensor names and duplicate fields are rejected instead of "last one wins".
 * - Every size is computed with tg_mul_size / tg_add_size; JSON integers are int64 and are
 *   checked non-negative before they are converted to size_t.
 * - Messages quote names and paths through quote(), which escapes control characters and
 *   invalid UTF-8 and bounds the length, so the Python binding can always decode them.
 */
#include "tokgeo/safetensors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "base/json.h"
#include "base/mapfile.h"

/* Name indexes: arrays of (key, length, index) sorted with qsort; the key pointer travels
 * with the entry so the comparator needs no context (qsort_r is not portable). */
typedef struct keyed {
    const char *key;
    size_t len;
    size_t idx;
} keyed;

struct tg_safetensors {
    tg_mapfile *map;            /* NULL for a borrowed buffer */
    const unsigned char *base;  /* whole file */
    size_t size;
    char *path;                 /* copy, or NULL */
    tg_json_doc *doc;           /* owns names and metadata strings */
    const tg_json *metadata;    /* an object, or NULL */
    tg_st_tensor *tensors;      /* sorted by (begin, end) */
    size_t count;
    keyed *by_name;             /* (name, length, index into tensors), sorted by name */
};

static const struct {
    const char *name;
    size_t size;
} dtype_info[TG_ST_DTYPE_COUNT] = {
    [TG_ST_BOOL] = {"BOOL", 1}, [TG_ST_U8] = {"U8", 1},   [TG_ST_I8] = {"I8", 1},
    [TG_ST_I16] = {"I16", 2},   [TG_ST_U16] = {"U16", 2}, [TG_ST_F16] = {"F16", 2},
    [TG_ST_BF16] = {"BF16", 2}, [TG_ST_I32] = {"I32", 4}, [TG_ST_U32] = {"U32", 4},
    [TG_ST_F32] = {"F32", 4},   [TG_ST_F64] = {"F64", 8}, [TG_ST_I64] = {"I64", 8},
    [TG_ST_U64] = {"U64", 8},
};

const char *tg_st_dtype_name(tg_st_dtype d) {
    if ((int)d < 0 || d >= TG_ST_DTYPE_COUNT) return "?";
    return dtype_info[d].name;
}

size_t tg_st_dtype_size(tg_st_dtype d) {
    if ((int)d < 0 || d >= TG_ST_DTYPE_COUNT) return 0;
    return dtype_info[d].size;
}

bool tg_st_dtype_from_name(const char *name, tg_st_dtype *out) {
    if (name == NULL) return false;
    for (int d = 0; d < TG_ST_DTYPE_COUNT; d++) {
        if (strcmp(name, dtype_info[d].name) == 0) {
            *out = (tg_st_dtype)d;
            return true;
        }
    }
    return false;
}

/* ---- messages ---- */


#define QUOTE_CAP 256 /* bytes of a quoted name or path, quotes and escapes included */

/* Writes 'text' into dst[QUOTE_CAP]: single-quoted, control characters, quotes, backslashes
 * and invalid UTF-8 escaped, cut (with "...") so that the result fits.  Always valid UTF-8. */
static void quote(char dst[QUOTE_CAP], const char *text, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0, i = 0;
    dst[o++] = '\'';
    while (i < len) {
        char piece[8];
        size_t pn;
        size_t n = tg_utf8_len(s + i, len - i);
        if (n == 1 && s[i] >= 0x20 && s[i] != 0x7F && s[i] != '\'' && s[i] != '\\') {
            piece[0] = (char)s[i];
            pn = 1;
        } else if (n == 1 && (s[i] == '\'' || s[i] == '\\')) {
            piece[0] = '\\';
            piece[1] = (char)s[i];
            pn = 2;
        } else if (n > 1) {
            memcpy(piece, s + i, n);
            pn = n;
        } else {
            n = 1;
            piece[0] = '\\';
            piece[1] = 'x';
            piece[2] = hex[s[i] >> 4];
            piece[3] = hex[s[i] & 15];
            pn = 4;
        }
        /* keep room for "..." + quote + NUL */
        if (o + pn + 5 > QUOTE_CAP) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(dst + o, piece, pn);
        o += pn;
        i += n;
    }
    dst[o++] = '\'';
    dst[o] = '\0';
}

typedef struct ctx {
    char where[QUOTE_CAP + 32]; /* "safetensors file '<path>'" or "safetensors buffer" */
} ctx;

static tg_status ffail(const ctx *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static tg_status ffail(const ctx *c, const char *fmt, ...) {
    char body[768];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    if (n < 0) body[0] = '\0';
    return tg_fail(TG_ERR_FORMAT, "%s: %s", c->where, body);
}

/* A tensor failure: "tensor '<name>': <what>". */
static tg_status tfail(const ctx *c, const char *name, size_t name_len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static tg_status tfail(const ctx *c, const char *name, size_t name_len, const char *fmt, ...) {
    char q[QUOTE_CAP], body[480];
    quote(q, name, name_len);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    if (n < 0) body[0] = '\0';
    return ffail(c, "tensor %s: %s", q, body);
}

/* "[1, 2, 3]" of a shape, bounded. */
static void shape_str(char *dst, size_t cap, const int64_t *shape, int ndim) {
    size_t o = 0;
    int w = snprintf(dst, cap, "[");
    o = (size_t)w;
    for (int i = 0; i < ndim && o + 24 < cap; i++) {
        w = snprintf(dst + o, cap - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
        if (w < 0) break;
        o += (size_t)w;
    }
    if (o + 2 < cap) snprintf(dst + o, cap - o, "]");
}

/* ---- the parser ---- */

static void st_free(tg_safetensors *st) {
    if (st == NULL) return;
    free(st->by_name);
    free(st->tensors);
    tg_json_free(st->doc);
    tg_mapfile_close(st->map);
    free(st->path);
    free(st);
}

void tg_st_close(tg_safetensors *st) { st_free(st); }

#define LFS_PREFIX "version https://git-lfs.github.com/spec/"

/* Recognises a Git LFS pointer and reports it with the size of the real object. */
static tg_status check_lfs(const ctx *c, const unsigned char *s, size_t n) {
    size_t pl = sizeof LFS_PREFIX - 1;
    if (n < pl || memcmp(s, LFS_PREFIX, pl) != 0) return TG_OK;
    /* find "\nsize <digits>" within the (small) pointer file */
    unsigned long long real = 0;
    bool have = false;
    size_t lim = n < 1024 ? n : 1024;
    for (size_t i = 0; i + 6 < lim; i++) {
        if (s[i] == '\n' && memcmp(s + i + 1, "size ", 5) == 0) {
            size_t j = i + 6;
            while (j < lim && s[j] >= '0' && s[j] <= '9' && real < 100000000000000000ULL) {
                real = real * 10 + (unsigned long long)(s[j] - '0');
                have = true;
                j++;
            }
            break;
        }
    }
    if (have)
        return ffail(c,
                     "this is a Git LFS pointer (%zu bytes), not the weights (the real file has %llu bytes): "
                     "run `git lfs install && git lfs pull` in the cloned repository, or download the real "
                     "file (e.g. with huggingface_hub)",
                     n, real);
    return ffail(c,
                 "this is a Git LFS pointer (%zu bytes), not the weights: run `git lfs install && git lfs "
                 "pull` in the cloned repository, or download the real file (e.g. with huggingface_hub)",
                 n);
}

/* A hint for a file that is clearly not safetensors, from its first bytes. */
static const char *content_hint(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n && i < 64 && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++;
    if (i < n && s[i] == '{')
        return " (it looks like a JSON file, e.g. model.safetensors.index.json or config.json; "
               "pass a .safetensors file)";
    if (i < n && s[i] == '<')
        return " (it looks like an HTML/XML page, e.g. an error page saved by a failed download; "
               "download the file again)";
    if (n >= 2 && s[0] == 'P' && s[1] == 'K')
        return " (it looks like a zip archive, e.g. a PyTorch .bin/.pt checkpoint; tokgeo reads "
               "safetensors only)";
    if (n >= 2 && s[0] == 0x80 && s[1] >= 2 && s[1] <= 5)
        return " (it looks like a Python pickle, e.g. a PyTorch checkpoint; tokgeo reads safetensors only)";
    return "";
}

static int cmp_offsets(const void *a, const void *b) {
    const tg_st_tensor *x = a, *y = b;
    size_t xb = x->file_offset, yb = y->file_offset;
    if (xb != yb) return xb < yb ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
    if (c != 0) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Integer in [0, INT64_MAX] from a JSON value. */
static bool as_nonneg(const tg_json *v, int64_t *out) {
    int64_t x;
    if (!tg_json_as_int64(v, &x) || x < 0) return false;
    *out = x;
    return true;
}

static const char *json_type_name(const tg_json *v) {
    switch (v->type) {
    case TG_JSON_NULL: return "null";
    case TG_JSON_FALSE:
    case TG_JSON_TRUE: return "a boolean";
    case TG_JSON_NUMBER: return "a number";
    case TG_JSON_STRING: return "a string";
    case TG_JSON_ARRAY: return "an array";
    case TG_JSON_OBJECT: return "an object";
    }
    return "?";
}

/* A short rendering of a JSON scalar for messages (numbers and strings). */
static void value_str(char dst[QUOTE_CAP], const tg_json *v) {
    if (v->type == TG_JSON_NUMBER) {
        if (v->u.number.is_int)
            snprintf(dst, QUOTE_CAP, "%lld", (long long)v->u.number.ivalue);
        else
            snprintf(dst, QUOTE_CAP, "%.17g", v->u.number.value);
    } else if (v->type == TG_JSON_STRING) {
        quote(dst, v->u.string.ptr, v->u.string.len);
    } else {
        snprintf(dst, QUOTE_CAP, "%s", json_type_name(v));
    }
}

static tg_status parse_tensor(const ctx *c, const tg_json_member *m, size_t buf_size, tg_st_tensor *t) {
    const char *nm = m->key;
    size_t nl = m->key_len;
    const tg_json *v = &m->value;
    if (memchr(nm, '\0', nl) != NULL) return tfail(c, nm, nl, "the name contains a NUL character");
    if (v->type != TG_JSON_OBJECT)
        return tfail(c, nm, nl, "entry must be an object with dtype, shape and data_offsets, got %s",
                     json_type_name(v));
    const tg_json *dtype = NULL, *shape = NULL, *offs = NULL;
    for (size_t i = 0; i < v->u.object.count; i++) {
        const tg_json_member *f = &v->u.object.members[i];
        const tg_json **slot = NULL;
        if (f->key_len == 5 && memcmp(f->key, "dtype", 5) == 0) slot = &dtype;
        else if (f->key_len == 5 && memcmp(f->key, "shape", 5) == 0) slot = &shape;
        else if (f->key_len == 12 && memcmp(f->key, "data_offsets", 12) == 0) slot = &offs;
        if (slot == NULL) continue; /* unknown fields are ignored, like the reference reader */
        if (*slot != NULL) return tfail(c, nm, nl, "duplicate field \"%s\"", f->key);
        *slot = &f->value;
    }
    if (dtype == NULL) return tfail(c, nm, nl, "missing \"dtype\"");
    if (shape == NULL) return tfail(c, nm, nl, "missing \"shape\"");
    if (offs == NULL) return tfail(c, nm, nl, "missing \"data_offsets\"");

    char vs[QUOTE_CAP];
    const char *ds;
    size_t dl;
    if (!tg_json_as_string(dtype, &ds, &dl)) {
        value_str(vs, dtype);
        return tfail(c, nm, nl, "dtype must be a string such as \"F32\", got %s", vs);
    }
    if (memchr(ds, '\0', dl) != NULL || !tg_st_dtype_from_name(ds, &t->dtype)) {
        quote(vs, ds, dl);
        return tfail(c, nm, nl,
                     "unknown dtype %s (tokgeo reads BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, "
                     "F64, I64, U64)",
                     vs);
    }
    if (shape->type != TG_JSON_ARRAY)
        return tfail(c, nm, nl, "shape must be an array of non-negative integers, got %s", json_type_name(shape));
    size_t nd = shape->u.array.count;
    if (nd > TG_ST_MAX_NDIM)
        return tfail(c, nm, nl, "shape has %zu dimensions, more than the %d tokgeo supports", nd, TG_ST_MAX_NDIM);
    t->ndim = (int)nd;
    /* The product of the non-zero dimensions times the item size must fit a ptrdiff_t even
     * when another dimension is 0: strides are computed from it (NumPy refuses it too). */
    size_t prod = 1;
    bool overflow = false, empty = false;
    for (size_t i = 0; i < nd; i++) {
        int64_t d;
        if (!as_nonneg(&shape->u.array.items[i], &d)) {
            value_str(vs, &shape->u.array.items[i]);
            return tfail(c, nm, nl, "shape[%zu] must be a non-negative integer, got %s", i, vs);
        }
        t->shape[i] = d;
        if (d == 0) empty = true;
        else if (!overflow && ((uint64_t)d > SIZE_MAX || !tg_mul_size(prod, (size_t)d, &prod))) overflow = true;
    }
    char shp[200];
    size_t es = tg_st_dtype_size(t->dtype);
    size_t span = 0;
    if (overflow || !tg_mul_size(prod, es, &span) || span > (size_t)PTRDIFF_MAX) {
        shape_str(shp, sizeof shp, t->shape, t->ndim);
        return tfail(c, nm, nl, "shape %s of %s overflows the address space", shp, tg_st_dtype_name(t->dtype));
    }
    size_t nbytes = empty ? 0 : span;
    if (offs->type != TG_JSON_ARRAY || offs->u.array.count != 2)
        return tfail(c, nm, nl, "data_offsets must be an array [begin, end] of two integers, got %s",
                     offs->type == TG_JSON_ARRAY ? "an array of another length" : json_type_name(offs));
    int64_t b, e;
    if (!as_nonneg(&offs->u.array.items[0], &b)) {
        value_str(vs, &offs->u.array.items[0]);
        return tfail(c, nm, nl, "data_offsets begin must be a non-negative integer, got %s", vs);
    }
    if (!as_nonneg(&offs->u.array.items[1], &e)) {
        value_str(vs, &offs->u.array.items[1]);
        return tfail(c, nm, nl, "data_offsets end must be a non-negative integer, got %s", vs);
    }
    if (e < b) return tfail(c, nm, nl, "data_offsets [%lld, %lld] end before they begin", (long long)b, (long long)e);
    if ((uint64_t)(e - b) != (uint64_t)nbytes || (uint64_t)nbytes > (uint64_t)INT64_MAX) {
        shape_str(shp, sizeof shp, t->shape, t->ndim);
        return tfail(c, nm, nl,
                     "shape %s of %s needs %zu bytes but data_offsets [%lld, %lld] span %lld bytes", shp,
                     tg_st_dtype_name(t->dtype), nbytes, (long long)b, (long long)e, (long long)(e - b));
    }
    t->name = nm;
    t->nbytes = nbytes;
    /* begin relative to the buffer for now (checked against buf_size after sorting); it is
     * kept in file_offset only if it fits a size_t */
    if ((uint64_t)b > SIZE_MAX)
        return tfail(c, nm, nl, "data_offsets [%lld, %lld] are beyond the data buffer (%zu bytes)", (long long)b,
                     (long long)e, buf_size);
    t->file_offset = (size_t)b;
    return TG_OK;
}

static tg_status parse_metadata(const ctx *c, const tg_json *v) {
    if (v->type == TG_JSON_NULL) return TG_OK;
    if (v->type != TG_JSON_OBJECT)
        return ffail(c, "__metadata__ must be an object of string values, got %s", json_type_name(v));
    size_t n = v->u.object.count;
    const tg_json_member *mem = v->u.object.members;
    char q[QUOTE_CAP];
    for (size_t i = 0; i < n; i++) {
        if (mem[i].value.type != TG_JSON_STRING) {
            quote(q, mem[i].key, mem[i].key_len);
            return ffail(c, "__metadata__ value of %s must be a string, got %s", q, json_type_name(&mem[i].value));
        }
    }
    if (n < 2) return TG_OK;
    /* duplicate keys: sort an index (a header may hold millions of keys: no quadratic scan) */
    keyed *idx = calloc(n, sizeof *idx);
    if (idx == NULL) return tg_fail(TG_ERR_NOMEM, "%s: out of memory checking __metadata__", c->where);
    for (size_t i = 0; i < n; i++) idx[i] = (keyed){mem[i].key, mem[i].key_len, i};
    qsort(idx, n, sizeof *idx, cmp_keyed);
    tg_status r = TG_OK;
    for (size_t i = 1; i < n; i++) {
        if (cmp_keyed(&idx[i - 1], &idx[i]) == 0) {
            quote(q, idx[i].key, idx[i].len);
            r = ffail(c, "__metadata__ has the key %s twice", q);
            break;
        }
    }
    free(idx);
    return r;
}

static void index_names(tg_safetensors *st) {
    for (size_t i = 0; i < st->count; i++) st->by_name[i] = (keyed){st->tensors[i].name, strlen(st->tensors[i].name), i};
    if (st->count > 1) qsort(st->by_name, st->count, sizeof *st->by_name, cmp_keyed);
}

static tg_status parse(const ctx *c, tg_safetensors *st) {
    const unsigned char *s = st->base;
    size_t size = st->size;
    if (size == 0)
        return ffail(c, "the file is empty (0 bytes), not a safetensors file (an interrupted download?)");
    tg_status r = check_lfs(c, s, size);
    if (r != TG_OK) return r;
    if (size < 8)
        return ffail(c, "the file has %zu bytes, fewer than the 8-byte header length of a safetensors file%s",
                     size, content_hint(s, size));
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | s[i];
    if (n > TG_ST_MAX_HEADER)
        return ffail(c, "header length %llu is larger than the %llu-byte limit: not a safetensors file, or a corrupted one%s",
                     (unsigned long long)n, (unsigned long long)TG_ST_MAX_HEADER, content_hint(s, size));
    size_t hl = (size_t)n;
    if (hl > size - 8)
        return ffail(c,
                     "header length %zu goes past the end of the file (expected at least %zu bytes, the file has "
                     "%zu): the file is truncated or not safetensors%s",
                     hl, hl + 8, size, content_hint(s, size));
    if (hl == 0 || s[8] != '{')
        return ffail(c, "the header must be a JSON object starting with '{' (header length %zu, first byte 0x%02x)",
                     hl, hl ? s[8] : 0);
    r = tg_json_parse((const char *)s + 8, hl, &st->doc);
    if (r != TG_OK) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", tg_last_error());
        if (r != TG_ERR_FORMAT) return tg_fail(r, "%s: %s", c->where, detail);
        return ffail(c, "the header is not valid UTF-8 JSON: %s", detail);
    }
    const tg_json *root = tg_json_root(st->doc);
    if (root->type != TG_JSON_OBJECT) return ffail(c, "the header must be a JSON object, got %s", json_type_name(root));

    size_t buf_size = size - 8 - hl;
    size_t ntensors = 0;
    bool seen_meta = false;
    for (size_t i = 0; i < root->u.object.count; i++) {
        const tg_json_member *m = &root->u.object.members[i];
        if (m->key_len == 12 && memcmp(m->key, "__metadata__", 12) == 0) {
            if (seen_meta) return ffail(c, "__metadata__ appears twice in the header");
            seen_meta = true;
            if ((r = parse_metadata(c, &m->value)) != TG_OK) return r;
            st->metadata = m->value.type == TG_JSON_OBJECT ? &m->value : NULL;
        } else {
            ntensors++;
        }
    }
    st->count = ntensors;
    if (ntensors > 0) {
        st->tensors = calloc(ntensors, sizeof *st->tensors);
        st->by_name = calloc(ntensors, sizeof *st->by_name);
        if (st->tensors == NULL || st->by_name == NULL)
            return tg_fail(TG_ERR_NOMEM, "%s: out of memory for %zu tensors", c->where, ntensors);
    }
    size_t k = 0;
    for (size_t i = 0; i < root->u.object.count; i++) {
        const tg_json_member *m = &root->u.object.members[i];
        if (m->key_len == 12 && memcmp(m->key, "__metadata__", 12) == 0) continue;
        if ((r = parse_tensor(c, m, buf_size, &st->tensors[k])) != TG_OK) return r;
        k++;
    }

    /* names: sorted index, duplicates rejected */
    index_names(st);
    for (size_t i = 1; i < ntensors; i++) {
        if (cmp_keyed(&st->by_name[i - 1], &st->by_name[i]) == 0)
            return tfail(c, st->by_name[i].key, st->by_name[i].len, "the name appears twice in the header");
    }

    /* offsets: sorted by (begin, end) they must tile [0, buf_size) exactly */
    if (ntensors > 1) qsort(st->tensors, ntensors, sizeof *st->tensors, cmp_offsets);
    size_t expected = 0; /* end of the previous tensor */
    for (size_t i = 0; i < ntensors; i++) {
        tg_st_tensor *t = &st->tensors[i];
        size_t b = t->file_offset, e;
        if (!tg_add_size(b, t->nbytes, &e))
            return tfail(c, t->name, strlen(t->name), "data_offsets beginning at %zu overflow the address space", b);
        if (b < expected) {
            const tg_st_tensor *p = &st->tensors[i - 1];
            char q[QUOTE_CAP];
            quote(q, p->name, strlen(p->name));
            return tfail(c, t->name, strlen(t->name),
                         "data_offsets [%zu, %zu] overlap those of tensor %s [%zu, %zu]", b, e, q, p->file_offset,
                         p->file_offset + p->nbytes);
        }
        if (b > expected) {
            if (e > buf_size)
                return tfail(c, t->name, strlen(t->name),
                             "data_offsets [%zu, %zu] are out of range: the data buffer has %zu bytes", b, e,
                             buf_size);
            return tfail(c, t->name, strlen(t->name),
                         "data_offsets [%zu, %zu] leave a gap of %zu unused bytes after offset %zu", b, e,
                         b - expected, expected);
        }
        expected = e;
    }
    size_t data_start = 8 + hl;
    if (expected > buf_size) {
        const tg_st_tensor *t = &st->tensors[ntensors - 1];
        size_t want = SIZE_MAX;
        (void)tg_add_size(expected, data_start, &want);
        return tfail(c, t->name, strlen(t->name),
                     "data_offsets [%zu, %zu] go past the end of the data buffer (%zu bytes): the file is truncated, "
                     "expected %zu bytes but it has %zu (download it again)",
                     t->file_offset, t->file_offset + t->nbytes, buf_size, want, size);
    }
    if (expected < buf_size)
        return ffail(c,
                     "%zu bytes after the last tensor are not described by the header (the tensors end at byte %zu "
                     "of the file, which has %zu): corrupted or not a safetensors file",
                     buf_size - expected, expected + data_start, size);
    for (size_t i = 0; i < ntensors; i++) {
        tg_st_tensor *t = &st->tensors[i];
        t->file_offset += data_start;
        t->data = s + t->file_offset;
    }
    /* the sort moved the tensors: rebuild the name index */
    index_names(st);
    return TG_OK;
}

static tg_status open_common(tg_safetensors *st, const ctx *c, tg_safetensors **out) {
    tg_status r = parse(c, st);
    if (r != TG_OK) {
        st_free(st);
        return r;
    }
    *out = st;
    return TG_OK;
}

tg_status tg_st_open(const char *path, tg_safetensors **out) {
    if (out == NULL) return tg_fail(TG_ERR_VALUE, "tg_st_open: NULL output pointer");
    *out = NULL;
    if (path == NULL) return tg_fail(TG_ERR_VALUE, "tg_st_open: NULL path");
    tg_safetensors *st = calloc(1, sizeof *st);
    if (st == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory opening a safetensors file");
    size_t pl = strlen(path);
    st->path = malloc(pl + 1);
    if (st->path == NULL) {
        free(st);
        return tg_fail(TG_ERR_NOMEM, "out of memory opening a safetensors file");
    }
    memcpy(st->path, path, pl + 1);
    tg_status r = tg_mapfile_open(path, &st->map);
    if (r != TG_OK) {
        st_free(st);
        return r;
    }
    st->base = st->map->data;
    st->size = st->map->size;
    ctx c;
    char q[QUOTE_CAP];
    quote(q, path, pl);
    snprintf(c.where, sizeof c.where, "safetensors file %s", q);
    return open_common(st, &c, out);
}

tg_status tg_st_open_buffer(const void *data, size_t size, tg_safetensors **out) {
    if (out == NULL) return tg_fail(TG_ERR_VALUE, "tg_st_open_buffer: NULL output pointer");
    *out = NULL;
    if (data == NULL && size != 0) return tg_fail(TG_ERR_VALUE, "tg_st_open_buffer: NULL data");
    tg_safetensors *st = calloc(1, sizeof *st);
    if (st == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory opening a safetensors buffer");
    st->base = data;
    st->size = size;
    ctx c;
    snprintf(c.where, sizeof c.where, "safetensors buffer");
    return open_common(st, &c, out);
}

/* ---- queries ---- */

size_t tg_st_count(const tg_safetensors *st) { return st ? st->count : 0; }

const tg_st_tensor *tg_st_at(const tg_safetensors *st, size_t i) {
    if (st == NULL || i >= st->count) return NULL;
    return &st->tensors[i];
}

const tg_st_tensor *tg_st_find(const tg_safetensors *st, const char *name) {
    if (st == NULL || name == NULL || st->count == 0) return NULL;
    keyed k = {name, strlen(name), 0};
    const keyed *hit = bsearch(&k, st->by_name, st->count, sizeof *st->by_name, cmp_keyed);
    return hit ? &st->tensors[hit->idx] : NULL;
}

const char *tg_st_metadata(const tg_safetensors *st, const char *key) {
    if (st == NULL || st->metadata == NULL || key == NULL) return NULL;
    const tg_json *v = tg_json_get(st->metadata, key);
    return v ? v->u.string.ptr : NULL;
}

size_t tg_st_metadata_count(const tg_safetensors *st) {
    return (st && st->metadata) ? st->metadata->u.object.count : 0;
}

bool tg_st_metadata_at(const tg_safetensors *st, size_t i, const char **key, size_t *key_len, const char **value,
                       size_t *value_len) {
    if (i >= tg_st_metadata_count(st)) return false;
    const tg_json_member *m = &st->metadata->u.object.members[i];
    if (key) *key = m->key;
    if (key_len) *key_len = m->key_len;
    if (value) *value = m->value.u.string.ptr;
    if (value_len) *value_len = m->value.u.string.len;
    return true;
}

const char *tg_st_path(const tg_safetensors *st) { return st ? st->path : NULL; }

size_t tg_st_file_size(const tg_safetensors *st) { return st ? st->size : 0; }

tg_status tg_st_guard_begin(const tg_safetensors *st) { return st ? tg_mapfile_guard_begin(st->map) : TG_OK; }

tg_status tg_st_guard_end(const tg_safetensors *st) { return st ? tg_mapfile_guard_end(st->map) : TG_OK; }
