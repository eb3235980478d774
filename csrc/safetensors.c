/* safetensors.c - TEMPORARY minimal reader implementing tg_safetensors.h so that the model
 * part can be built and tested before the real reader (safetensors branch) is merged.
 * The lead replaces this file with the safetensors part's implementation at merge time. */
#include "tg_safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_json.h"
#include "tg_mapfile.h"

struct tg_safetensors {
    tg_mapfile *map;
    tg_json_doc *doc;
    tg_st_tensor *tensors;
    size_t count;
    const tg_json *metadata;
};

static const char *const dtype_names[TG_ST_DTYPE_COUNT] = {
    "BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"};
static const size_t dtype_sizes[TG_ST_DTYPE_COUNT] = {1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};

const char *tg_st_dtype_name(tg_st_dtype d) {
    return ((int)d >= 0 && d < TG_ST_DTYPE_COUNT) ? dtype_names[d] : "?";
}
size_t tg_st_dtype_size(tg_st_dtype d) {
    return ((int)d >= 0 && d < TG_ST_DTYPE_COUNT) ? dtype_sizes[d] : 0;
}

static int cmp_offset(const void *a, const void *b) {
    const tg_st_tensor *x = a, *y = b;
    return x->file_offset < y->file_offset ? -1 : x->file_offset > y->file_offset;
}

static tg_status parse(tg_safetensors *st, const unsigned char *data, size_t size) {
    if (size >= 7 && memcmp(data, "version", 7) == 0)
        return tg_fail(TG_ERR_FORMAT, "this is a Git LFS pointer file, not safetensors data "
                                      "(fetch the real file with `git lfs pull`)");
    if (size < 8) return tg_fail(TG_ERR_FORMAT, "file of %zu bytes is too short for a safetensors header", size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | data[i];
    if (n > TG_ST_MAX_HEADER) return tg_fail(TG_ERR_FORMAT, "header length %llu exceeds the %llu-byte limit", (unsigned long long)n, (unsigned long long)TG_ST_MAX_HEADER);
    if (n > size - 8) return tg_fail(TG_ERR_FORMAT, "header length %llu runs past the end of the %zu-byte file (truncated?)", (unsigned long long)n, size);
    tg_status s = tg_json_parse((const char *)data + 8, (size_t)n, &st->doc);
    if (s != TG_OK) return tg_fail(TG_ERR_FORMAT, "header is not valid JSON: %s", tg_last_error());
    const tg_json *root = tg_json_root(st->doc);
    if (root->type != TG_JSON_OBJECT) return tg_fail(TG_ERR_FORMAT, "header is not a JSON object");
    size_t base = 8 + (size_t)n, buflen = size - base;
    st->tensors = calloc(root->u.object.count ? root->u.object.count : 1, sizeof *st->tensors);
    if (st->tensors == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < root->u.object.count; i++) {
        const tg_json_member *m = &root->u.object.members[i];
        if (strcmp(m->key, "__metadata__") == 0) {
            st->metadata = &m->value;
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(root->u.object.members[j].key, m->key) == 0) return tg_fail(TG_ERR_FORMAT, "tensor '%s' appears twice", m->key);
        tg_st_tensor *t = &st->tensors[st->count];
        t->name = m->key;
        const char *dt;
        size_t dl;
        if (!tg_json_as_string(tg_json_get(&m->value, "dtype"), &dt, &dl)) return tg_fail(TG_ERR_FORMAT, "tensor '%s': missing dtype", m->key);
        int k = -1;
        for (int d = 0; d < TG_ST_DTYPE_COUNT; d++)
            if (strcmp(dt, dtype_names[d]) == 0) k = d;
        if (k < 0) return tg_fail(TG_ERR_FORMAT, "tensor '%s': unknown dtype '%s'", m->key, dt);
        t->dtype = (tg_st_dtype)k;
        const tg_json *shape = tg_json_get(&m->value, "shape");
        if (shape == NULL || shape->type != TG_JSON_ARRAY || shape->u.array.count > TG_ST_MAX_NDIM)
            return tg_fail(TG_ERR_FORMAT, "tensor '%s': missing or bad shape", m->key);
        size_t numel = 1;
        t->ndim = (int)shape->u.array.count;
        for (size_t d = 0; d < shape->u.array.count; d++) {
            int64_t v;
            if (!tg_json_as_int64(&shape->u.array.items[d], &v) || v < 0 || !tg_mul_size(numel, (size_t)v, &numel))
                return tg_fail(TG_ERR_FORMAT, "tensor '%s': bad shape entry", m->key);
            t->shape[d] = v;
        }
        const tg_json *off = tg_json_get(&m->value, "data_offsets");
        int64_t b, e;
        if (off == NULL || off->type != TG_JSON_ARRAY || off->u.array.count != 2 || !tg_json_as_int64(&off->u.array.items[0], &b) ||
            !tg_json_as_int64(&off->u.array.items[1], &e) || b < 0 || e < b)
            return tg_fail(TG_ERR_FORMAT, "tensor '%s': missing or bad data_offsets", m->key);
        if ((uint64_t)e > buflen) return tg_fail(TG_ERR_FORMAT, "tensor '%s': data_offsets end %lld past the %zu-byte data buffer (truncated file?)", m->key, (long long)e, buflen);
        if (!tg_mul_size(numel, dtype_sizes[k], &t->nbytes) || t->nbytes != (size_t)(e - b))
            return tg_fail(TG_ERR_FORMAT, "tensor '%s': shape needs %zu bytes but data_offsets span %lld", m->key, t->nbytes, (long long)(e - b));
        t->file_offset = base + (size_t)b;
        t->data = data + t->file_offset;
        st->count++;
    }
    qsort(st->tensors, st->count, sizeof *st->tensors, cmp_offset);
    size_t at = base;
    for (size_t i = 0; i < st->count; i++) {
        if (st->tensors[i].file_offset != at)
            return tg_fail(TG_ERR_FORMAT, "tensor '%s': data at byte %zu %s the previous tensor's end %zu", st->tensors[i].name,
                           st->tensors[i].file_offset, st->tensors[i].file_offset < at ? "overlaps" : "leaves a gap after", at);
        at += st->tensors[i].nbytes;
    }
    if (at != size) return tg_fail(TG_ERR_FORMAT, "tensors cover %zu bytes of a %zu-byte file", at, size);
    return TG_OK;
}

static tg_status open_common(tg_mapfile *map, const void *data, size_t size, tg_safetensors **out) {
    tg_safetensors *st = calloc(1, sizeof *st);
    if (st == NULL) {
        tg_mapfile_close(map);
        return tg_fail(TG_ERR_NOMEM, "out of memory");
    }
    st->map = map;
    tg_status s = parse(st, data, size);
    if (s != TG_OK) {
        tg_st_close(st);
        return s;
    }
    *out = st;
    return TG_OK;
}

tg_status tg_st_open(const char *path, tg_safetensors **out) {
    *out = NULL;
    tg_mapfile *map;
    tg_status s = tg_mapfile_open(path, &map);
    if (s != TG_OK) return s;
    s = open_common(map, map->data, map->size, out);
    if (s != TG_OK) {
        char buf[900];
        snprintf(buf, sizeof buf, "%s", tg_last_error());
        return tg_fail(s, "%s: %s", path, buf);
    }
    return s;
}

tg_status tg_st_open_buffer(const void *data, size_t size, tg_safetensors **out) {
    *out = NULL;
    return open_common(NULL, data, size, out);
}

void tg_st_close(tg_safetensors *st) {
    if (st == NULL) return;
    free(st->tensors);
    tg_json_free(st->doc);
    tg_mapfile_close(st->map);
    free(st);
}

size_t tg_st_count(const tg_safetensors *st) { return st->count; }
const tg_st_tensor *tg_st_at(const tg_safetensors *st, size_t i) { return i < st->count ? &st->tensors[i] : NULL; }
const tg_st_tensor *tg_st_find(const tg_safetensors *st, const char *name) {
    for (size_t i = 0; i < st->count; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}
const char *tg_st_metadata(const tg_safetensors *st, const char *key) {
    const char *s;
    size_t n;
    if (st->metadata && tg_json_as_string(tg_json_get(st->metadata, key), &s, &n)) return s;
    return NULL;
}
