/* test_safetensors.c - the safetensors reader over files built in memory (tg_st_open_buffer),
 * plus a few real files for the path-based entry point. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tg_test.h"
#include "tokgeo/tokgeo.h"

/* A file: 8-byte LE length of `header`, `header`, then `data_len` bytes (byte i = i & 0xff). */
typedef struct buf {
    unsigned char *p;
    size_t n;
} buf;

static buf make_file_len(const char *header, size_t hl, uint64_t declared, size_t data_len) {
    buf b;
    b.n = 8 + hl + data_len;
    b.p = malloc(b.n ? b.n : 1);
    for (int i = 0; i < 8; i++) b.p[i] = (unsigned char)(declared >> (8 * i));
    memcpy(b.p + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) b.p[8 + hl + i] = (unsigned char)(i & 0xff);
    return b;
}

static buf make_file(const char *header, size_t data_len) {
    return make_file_len(header, strlen(header), strlen(header), data_len);
}

/* Opens b; expects TG_ERR_FORMAT with every `want` substring (NULL-terminated list). */
static void expect_format_v(buf b, const char *const *want, int line) {
    tg_safetensors *st = (tg_safetensors *)1;
    tg_status s = tg_st_open_buffer(b.p, b.n, &st);
    if (s != TG_ERR_FORMAT) {
        fprintf(stderr, "line %d: expected TG_ERR_FORMAT, got %s (%s)\n", line, tg_status_name(s), tg_last_error());
        tg_test_failures++;
    }
    CHECK(st == NULL);
    if (s == TG_OK) tg_st_close(st);
    for (size_t i = 0; want[i]; i++) {
        if (strstr(tg_last_error(), want[i]) == NULL) {
            fprintf(stderr, "line %d: message lacks \"%s\": %s\n", line, want[i], tg_last_error());
            tg_test_failures++;
        }
    }
    free(b.p);
}
#define EXPECT_FORMAT(b, ...)                                      \
    do {                                                           \
        const char *const _w[] = {__VA_ARGS__, NULL};              \
        expect_format_v((b), _w, __LINE__);                        \
    } while (0)

static void test_valid_file(void) {
    /* listed out of offset order, with unknown field, metadata, padding spaces after the JSON */
    const char *h =
        "{\"b\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32],\"extra\":1},"
        "\"__metadata__\":{\"format\":\"np\",\"k\":\"v\\u0000w\"},"
        "\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}   ";
    buf b = make_file(h, 32);
    tg_safetensors *st = NULL;
    CHECK_OK(tg_st_open_buffer(b.p, b.n, &st));
    if (st) {
        CHECK(tg_st_count(st) == 2);
        const tg_st_tensor *t0 = tg_st_at(st, 0), *t1 = tg_st_at(st, 1);
        CHECK(tg_st_at(st, 2) == NULL);
        CHECK(strcmp(t0->name, "a") == 0 && t0->dtype == TG_ST_I64 && t0->ndim == 1 && t0->shape[0] == 1);
        CHECK(t0->nbytes == 8 && t0->file_offset == 8 + strlen(h) && t0->data == b.p + 8 + strlen(h));
        CHECK(strcmp(t1->name, "b") == 0 && t1->dtype == TG_ST_F32 && t1->ndim == 2);
        CHECK(t1->shape[0] == 2 && t1->shape[1] == 3 && t1->nbytes == 24);
        CHECK((const unsigned char *)t1->data == b.p + 8 + strlen(h) + 8);
        CHECK(tg_st_find(st, "a") == t0 && tg_st_find(st, "b") == t1 && tg_st_find(st, "c") == NULL);
        CHECK(tg_st_find(st, "__metadata__") == NULL);
        CHECK(tg_st_metadata(st, "format") && strcmp(tg_st_metadata(st, "format"), "np") == 0);
        CHECK(tg_st_metadata(st, "nope") == NULL);
        CHECK(tg_st_metadata_count(st) == 2);
        const char *k, *v;
        size_t kl, vl;
        CHECK(tg_st_metadata_at(st, 1, &k, &kl, &v, &vl) && kl == 1 && vl == 3 && memcmp(v, "v\0w", 3) == 0);
        CHECK(!tg_st_metadata_at(st, 2, &k, &kl, &v, &vl));
        CHECK(tg_st_path(st) == NULL && tg_st_file_size(st) == b.n);
        tg_st_close(st);
    }
    free(b.p);
}

static void test_edge_shapes(void) {
    /* 0-d scalar, empty tensors sharing an offset (also with the next tensor), an empty file body */
    const char *h =
        "{\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
        "\"e1\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
        "\"e2\":{\"dtype\":\"U8\",\"shape\":[4,0,5],\"data_offsets\":[8,8]},"
        "\"x\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[8,10]},"
        "\"e3\":{\"dtype\":\"BOOL\",\"shape\":[0],\"data_offsets\":[10,10]}}";
    buf b = make_file(h, 10);
    tg_safetensors *st = NULL;
    CHECK_OK(tg_st_open_buffer(b.p, b.n, &st));
    if (st) {
        CHECK(tg_st_count(st) == 5);
        const tg_st_tensor *s = tg_st_find(st, "s");
        CHECK(s && s->ndim == 0 && s->nbytes == 8);
        CHECK(tg_st_find(st, "e2") && tg_st_find(st, "e2")->nbytes == 0);
        CHECK(tg_st_find(st, "e3") && tg_st_find(st, "e3")->dtype == TG_ST_BOOL);
        CHECK(tg_st_metadata_count(st) == 0 && tg_st_metadata(st, "x") == NULL);
        tg_st_close(st);
    }
    free(b.p);
    /* no tensors at all, metadata null */
    b = make_file("{\"__metadata__\":null}", 0);
    CHECK_OK(tg_st_open_buffer(b.p, b.n, &st));
    if (st) {
        CHECK(tg_st_count(st) == 0 && tg_st_find(st, "x") == NULL && tg_st_at(st, 0) == NULL);
        tg_st_close(st);
    }
    free(b.p);
    b = make_file("{}", 0);
    CHECK_OK(tg_st_open_buffer(b.p, b.n, &st));
    tg_st_close(st);
    free(b.p);
}

static void test_unaligned_is_accepted(void) {
    const char *h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}";
    buf b = make_file(h, 6);
    tg_safetensors *st = NULL;
    CHECK_OK(tg_st_open_buffer(b.p, b.n, &st));
    if (st) {
        const tg_st_tensor *t = tg_st_find(st, "b");
        CHECK(t && t->file_offset == 8 + strlen(h) + 2);
        tg_st_close(st);
    }
    free(b.p);
}

static void test_dtypes(void) {
    static const char *names[] = {"BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"};
    static const size_t sizes[] = {1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};
    CHECK(sizeof names / sizeof names[0] == TG_ST_DTYPE_COUNT);
    for (int d = 0; d < TG_ST_DTYPE_COUNT; d++) {
        tg_st_dtype got;
        CHECK(strcmp(tg_st_dtype_name((tg_st_dtype)d), names[d]) == 0);
        CHECK(tg_st_dtype_size((tg_st_dtype)d) == sizes[d]);
        CHECK(tg_st_dtype_from_name(names[d], &got) && got == (tg_st_dtype)d);
        char h[200];
        snprintf(h, sizeof h, "{\"t\":{\"dtype\":\"%s\",\"shape\":[3],\"data_offsets\":[0,%zu]}}", names[d], 3 * sizes[d]);
        buf b = make_file(h, 3 * sizes[d]);
        tg_safetensors *st = NULL;
        CHECK_OK(tg_st_open_buffer(b.p, b.n, &st));
        if (st) CHECK(tg_st_find(st, "t")->dtype == (tg_st_dtype)d);
        tg_st_close(st);
        free(b.p);
    }
    tg_st_dtype got;
    CHECK(!tg_st_dtype_from_name("F8_E4M3", &got) && !tg_st_dtype_from_name("f32", &got));
    CHECK(tg_st_dtype_size(TG_ST_DTYPE_COUNT) == 0);
}

#define T1(dtype, shape, offs) "{\"t\":{\"dtype\":" dtype ",\"shape\":" shape ",\"data_offsets\":" offs "}}"

static void test_rejects_header_structure(void) {
    /* empty, short, LFS pointer */
    buf b = {malloc(1), 0};
    EXPECT_FORMAT(b, "empty");
    b = make_file_len("", 0, 0, 0);
    b.n = 7;
    EXPECT_FORMAT(b, "7 bytes", "fewer than the 8-byte");
    const char *lfs = "version https://git-lfs.github.com/spec/v1\noid sha256:4b1b\nsize 548105171\n";
    b.n = strlen(lfs);
    b.p = malloc(b.n);
    memcpy(b.p, lfs, b.n);
    EXPECT_FORMAT(b, "Git LFS pointer", "git lfs pull", "548105171");
    b.n = 41; /* only the prefix */
    b.p = malloc(b.n);
    memcpy(b.p, lfs, b.n);
    EXPECT_FORMAT(b, "Git LFS pointer", "download the real");
    /* header length: over the cap, beyond the file, zero */
    b = make_file_len("{}", 2, TG_ST_MAX_HEADER + 1, 0);
    EXPECT_FORMAT(b, "header length 100000001", "limit");
    b = make_file_len("{}", 2, 3, 0);
    EXPECT_FORMAT(b, "header length 3 goes past the end", "expected at least 11 bytes", "has 10");
    b = make_file_len("{}", 2, UINT64_MAX, 0);
    EXPECT_FORMAT(b, "header length 18446744073709551615");
    b = make_file_len("{}", 2, 0, 0);
    EXPECT_FORMAT(b, "starting with '{'");
    /* what the 8 first bytes of a JSON or HTML file give */
    const char *json = "{\"weight_map\": {\"a\": \"model-00001.safetensors\"}}";
    b.n = strlen(json);
    b.p = malloc(b.n);
    memcpy(b.p, json, b.n);
    EXPECT_FORMAT(b, "JSON file", "index.json");
    /* not an object / leading blank / invalid JSON / invalid UTF-8 / trailing garbage */
    b = make_file("[1, 2]", 0);
    EXPECT_FORMAT(b, "starting with '{'", "0x5b");
    b = make_file(" {}", 0);
    EXPECT_FORMAT(b, "starting with '{'");
    b = make_file("{\"a\":", 0);
    EXPECT_FORMAT(b, "not valid UTF-8 JSON", "invalid JSON at byte");
    b = make_file("{\"\xff\":1}", 0);
    EXPECT_FORMAT(b, "not valid UTF-8 JSON", "UTF-8");
    b = make_file("{} x", 0);
    EXPECT_FORMAT(b, "not valid UTF-8 JSON", "trailing");
    b = make_file("{\"t\": 1}", 0);
    EXPECT_FORMAT(b, "tensor 't'", "must be an object", "a number");
}

static void test_rejects_tensor_fields(void) {
    buf b;
    b = make_file(T1("\"F8_E4M3\"", "[1]", "[0,1]"), 1);
    EXPECT_FORMAT(b, "tensor 't'", "unknown dtype 'F8_E4M3'");
    b = make_file(T1("\"f32\"", "[1]", "[0,4]"), 4);
    EXPECT_FORMAT(b, "unknown dtype 'f32'");
    b = make_file(T1("32", "[1]", "[0,4]"), 4);
    EXPECT_FORMAT(b, "dtype must be a string", "got 32");
    b = make_file(T1("\"F32\"", "[-1]", "[0,4]"), 4);
    EXPECT_FORMAT(b, "tensor 't'", "shape[0]", "non-negative", "got -1");
    b = make_file(T1("\"F32\"", "[1, 2.5]", "[0,4]"), 4);
    EXPECT_FORMAT(b, "shape[1]", "got 2.5");
    b = make_file(T1("\"F32\"", "[1, 99999999999999999999]", "[0,4]"), 4);
    EXPECT_FORMAT(b, "shape[1]");
    b = make_file(T1("\"F32\"", "3", "[0,4]"), 4);
    EXPECT_FORMAT(b, "shape must be an array");
    b = make_file(T1("\"F32\"", "[2,3]", "[0,20]"), 20);
    EXPECT_FORMAT(b, "tensor 't'", "shape [2, 3] of F32 needs 24 bytes", "[0, 20] span 20 bytes");
    b = make_file(T1("\"F32\"", "[4611686018427387904,4611686018427387904]", "[0,4]"), 4);
    EXPECT_FORMAT(b, "overflows");
    b = make_file(T1("\"F64\"", "[2305843009213693952]", "[0,4]"), 4);
    EXPECT_FORMAT(b, "overflows");
    /* empty, but the other dimensions would overflow the strides */
    b = make_file(T1("\"F32\"", "[0,4611686018427387904]", "[0,0]"), 0);
    EXPECT_FORMAT(b, "shape [0, 4611686018427387904] of F32 overflows");
    b = make_file(T1("\"U8\"", "[4,0,9223372036854775807]", "[0,0]"), 0);
    EXPECT_FORMAT(b, "overflows");
    b = make_file(T1("\"F32\"", "[1]", "[0]"), 4);
    EXPECT_FORMAT(b, "data_offsets must be an array [begin, end]");
    b = make_file(T1("\"F32\"", "[1]", "[-4,0]"), 4);
    EXPECT_FORMAT(b, "begin must be a non-negative integer, got -4");
    b = make_file(T1("\"F32\"", "[1]", "[4,0]"), 4);
    EXPECT_FORMAT(b, "end before they begin");
    b = make_file(T1("\"F32\"", "[1]", "[0,\"4\"]"), 4);
    EXPECT_FORMAT(b, "end must be a non-negative integer, got '4'");
    b = make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4);
    EXPECT_FORMAT(b, "missing \"data_offsets\"");
    b = make_file("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    EXPECT_FORMAT(b, "missing \"dtype\"");
    b = make_file("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4);
    EXPECT_FORMAT(b, "missing \"shape\"");
    b = make_file("{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    EXPECT_FORMAT(b, "duplicate field \"dtype\"");
    char h[600];
    snprintf(h, sizeof h, T1("\"U8\"", "[%s1]", "[0,1]"),
             "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,");
    b = make_file(h, 1);
    EXPECT_FORMAT(b, "33 dimensions");
    snprintf(h, sizeof h, T1("\"U8\"", "[%s1]", "[0,1]"),
             "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,");
    b = make_file(h, 1);
    tg_safetensors *st = NULL;
    CHECK_OK(tg_st_open_buffer(b.p, b.n, &st));
    if (st) CHECK(tg_st_at(st, 0)->ndim == 32);
    tg_st_close(st);
    free(b.p);
}

static void test_rejects_names_and_metadata(void) {
    buf b;
    b = make_file("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                  "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                  2);
    EXPECT_FORMAT(b, "tensor 'w'", "appears twice");
    b = make_file("{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    EXPECT_FORMAT(b, "tensor 'a\\x00b'", "NUL");
    b = make_file("{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"b\":\"2\"}}", 0);
    EXPECT_FORMAT(b, "__metadata__ appears twice");
    b = make_file("{\"__metadata__\":{\"a\":1}}", 0);
    EXPECT_FORMAT(b, "__metadata__ value of 'a' must be a string", "a number");
    b = make_file("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0);
    EXPECT_FORMAT(b, "key 'a' twice");
    b = make_file("{\"__metadata__\":[]}", 0);
    EXPECT_FORMAT(b, "__metadata__ must be an object");
    /* a control character and a quote in a name are escaped in the message */
    b = make_file("{\"x\\n'\\u00e9\":{\"dtype\":\"Q\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    EXPECT_FORMAT(b, "tensor 'x\\x0a\\'\xc3\xa9'");
    /* a very long name is cut */
    char h[2000];
    char name[1200];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(h, sizeof h, "{\"%s\":{\"dtype\":\"Q\",\"shape\":[1],\"data_offsets\":[0,1]}}", name);
    b = make_file(h, 1);
    EXPECT_FORMAT(b, "nnnn...'", "unknown dtype 'Q'");
}

static void test_rejects_offsets(void) {
    buf b;
    const char *two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,%d]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%d,%d]}}";
    char h[300];
    /* overlap */
    snprintf(h, sizeof h, two, 0, 8, 4, 8);
    b = make_file(h, 8);
    EXPECT_FORMAT(b, "tensor 'b'", "[4, 8] overlap", "tensor 'a' [0, 8]");
    /* identical offsets */
    snprintf(h, sizeof h, two, 0, 8, 0, 4);
    b = make_file(h, 8);
    EXPECT_FORMAT(b, "overlap");
    /* gap */
    snprintf(h, sizeof h, two, 0, 8, 12, 16);
    b = make_file(h, 16);
    EXPECT_FORMAT(b, "tensor 'b'", "gap of 4 unused bytes after offset 8");
    /* gap at the start */
    snprintf(h, sizeof h, two, 4, 12, 12, 16);
    b = make_file(h, 16);
    EXPECT_FORMAT(b, "tensor 'a'", "gap of 4");
    /* out of range (beyond the buffer, not contiguous) */
    snprintf(h, sizeof h, two, 0, 8, 1000, 1004);
    b = make_file(h, 12);
    EXPECT_FORMAT(b, "tensor 'b'", "[1000, 1004] are out of range", "12 bytes");
    /* truncated: the tiling is right, the file is short */
    snprintf(h, sizeof h, two, 0, 8, 8, 12);
    b = make_file(h, 12);
    size_t full = b.n;
    b.n -= 3;
    char want[200];
    snprintf(want, sizeof want, "truncated, expected %zu bytes but it has %zu", full, full - 3);
    EXPECT_FORMAT(b, "tensor 'b'", want);
    /* trailing bytes */
    snprintf(h, sizeof h, two, 0, 8, 8, 12);
    b = make_file(h, 15);
    EXPECT_FORMAT(b, "3 bytes after the last tensor");
    /* huge offsets do not overflow */
    b = make_file(T1("\"U8\"", "[0]", "[9223372036854775807,9223372036854775807]"), 0);
    EXPECT_FORMAT(b, "out of range");
    b = make_file(T1("\"U8\"", "[9223372036854775807]", "[0,9223372036854775807]"), 4);
    EXPECT_FORMAT(b, "truncated");
    b = make_file(T1("\"U8\"", "[9223372036854775806]", "[1,9223372036854775807]"), 4);
    EXPECT_FORMAT(b, "out of range");
}

/* Many tensors listed in a scrambled order, many metadata keys: the sorted name index finds
 * every one, and a duplicate far from its twin is still caught. */
static void test_many_entries(void) {
    const size_t n = 20000;
    size_t cap = n * 160 + 64, o = 0;
    char *h = malloc(cap);
    o += (size_t)snprintf(h + o, cap - o, "{\"__metadata__\":{");
    for (size_t i = 0; i < n; i++) o += (size_t)snprintf(h + o, cap - o, "%s\"key%zu\":\"%zu\"", i ? "," : "", i, i * 7);
    o += (size_t)snprintf(h + o, cap - o, "}");
    for (size_t k = 0; k < n; k++) {
        size_t i = (k * 7919) % n; /* a permutation: n and 7919 are coprime */
        o += (size_t)snprintf(h + o, cap - o, ",\"w.%zu\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}", i,
                              2 * i, 2 * i + 2);
    }
    o += (size_t)snprintf(h + o, cap - o, "}");
    buf b = make_file(h, 2 * n);
    tg_safetensors *st = NULL;
    CHECK_OK(tg_st_open_buffer(b.p, b.n, &st));
    if (st) {
        CHECK(tg_st_count(st) == n && tg_st_metadata_count(st) == n);
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            char name[32], want[32];
            snprintf(name, sizeof name, "w.%zu", i);
            const tg_st_tensor *t = tg_st_find(st, name);
            if (!t || t != tg_st_at(st, i) || strcmp(t->name, name) != 0) bad++;
            snprintf(name, sizeof name, "key%zu", i);
            snprintf(want, sizeof want, "%zu", i * 7);
            const char *v = tg_st_metadata(st, name);
            if (!v || strcmp(v, want) != 0) bad++;
        }
        CHECK(bad == 0);
        CHECK(tg_st_find(st, "w.") == NULL && tg_st_find(st, "w.20000") == NULL && tg_st_find(st, "") == NULL);
        tg_st_close(st);
    }
    free(b.p);
    /* the same with the first metadata key repeated at the very end of the metadata */
    char *dup = strstr(h, "}");
    size_t at = (size_t)(dup - h);
    char *h2 = malloc(o + 32);
    memcpy(h2, h, at);
    size_t o2 = at + (size_t)sprintf(h2 + at, ",\"key0\":\"x\"");
    memcpy(h2 + o2, h + at, o - at + 1);
    b = make_file(h2, 2 * n);
    EXPECT_FORMAT(b, "__metadata__ has the key 'key0' twice");
    free(h2);
    free(h);
}

static const char *tmpdir(void) {
    const char *t = getenv("TMPDIR");
    return (t && *t) ? t : "/tmp";
}

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static void test_paths_and_many_open(void) {
    char p1[512], p2[512], dir[512];
    snprintf(p1, sizeof p1, "%s/tg_st_test_%d_a.safetensors", tmpdir(), (int)getpid());
    snprintf(p2, sizeof p2, "%s/tg_st_test_%d_b.safetensors", tmpdir(), (int)getpid());
    snprintf(dir, sizeof dir, "%s/tg_st_test_%d_dir", tmpdir(), (int)getpid());
    buf b = make_file(T1("\"F32\"", "[2]", "[0,8]"), 8);
    CHECK(write_file(p1, b.p, b.n) == 0);
    CHECK(write_file(p2, b.p, b.n - 1) == 0);
    tg_safetensors *s[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) CHECK_OK(tg_st_open(p1, &s[i]));
    if (s[0] && s[1] && s[2]) {
        /* independent mappings */
        CHECK(tg_st_at(s[0], 0)->data != tg_st_at(s[1], 0)->data && tg_st_at(s[1], 0)->data != tg_st_at(s[2], 0)->data);
    }
    tg_safetensors *bad = NULL;
    CHECK_STATUS(tg_st_open(p2, &bad), TG_ERR_FORMAT);
    CHECK(strstr(tg_last_error(), p2) != NULL && strstr(tg_last_error(), "truncated") != NULL);
    for (int i = 0; i < 3; i++) {
        if (!s[i]) continue;
        const tg_st_tensor *t = tg_st_find(s[i], "t");
        CHECK(t && memcmp(t->data, b.p + b.n - 8, 8) == 0);
        CHECK(tg_st_path(s[i]) && strcmp(tg_st_path(s[i]), p1) == 0);
        CHECK(tg_st_file_size(s[i]) == b.n);
    }
    for (int i = 0; i < 3; i++) tg_st_close(s[i]);
    tg_st_close(NULL);
    char missing[600];
    snprintf(missing, sizeof missing, "%s.missing", p1);
    CHECK_STATUS(tg_st_open(missing, &bad), TG_ERR_IO);
    CHECK(bad == NULL && strstr(tg_last_error(), missing) != NULL);
    CHECK(mkdir(dir, 0700) == 0);
    CHECK_STATUS(tg_st_open(dir, &bad), TG_ERR_IO);
    CHECK(bad == NULL && strstr(tg_last_error(), "not a regular file") != NULL && strstr(tg_last_error(), "directory"));
    /* a FIFO is refused at once (opening one for reading without O_NONBLOCK waits for a writer) */
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s.fifo", p1);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_STATUS(tg_st_open(fifo, &bad), TG_ERR_IO);
    CHECK(bad == NULL && strstr(tg_last_error(), "FIFO") != NULL);
    unlink(fifo);
    CHECK_STATUS(tg_st_open("/dev/zero", &bad), TG_ERR_IO);
    CHECK(bad == NULL && strstr(tg_last_error(), "character device") != NULL);
    CHECK_STATUS(tg_st_open(NULL, &bad), TG_ERR_VALUE);
    CHECK_STATUS(tg_st_open_buffer(NULL, 3, &bad), TG_ERR_VALUE);
    CHECK_STATUS(tg_st_open_buffer(NULL, 0, &bad), TG_ERR_FORMAT);
    rmdir(dir);
    unlink(p1);
    unlink(p2);
    free(b.p);
}

/* A file truncated under its mapping by someone else: refused before a read (the size is
 * re-checked), and during a read the pages past the new end read as zeros instead of a
 * SIGBUS ending the process; the guard's end reports it (tg_st_guard_begin). */
static void test_truncated_under_the_mapping(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/tg_st_test_%d_trunc.safetensors", tmpdir(), (int)getpid());
    const size_t n = 3 * 4096; /* F32 [3072]: three pages of data */
    buf b = make_file(T1("\"F32\"", "[3072]", "[0,12288]"), n * 4 / 4);
    CHECK(write_file(p, b.p, b.n) == 0);
    const size_t head = b.n - n, keep = head + 100;
    /* 1. truncated before the read: refused by the size check */
    tg_safetensors *st = NULL;
    CHECK_OK(tg_st_open(p, &st));
    CHECK(truncate(p, (off_t)keep) == 0);
    CHECK_STATUS(tg_st_guard_begin(st), TG_ERR_IO);
    CHECK(strstr(tg_last_error(), p) != NULL && strstr(tg_last_error(), "shrank") != NULL);
    tg_st_close(st);
    /* 2. truncated while a guarded read runs: zeros, then TG_ERR_IO; refused afterwards */
    CHECK(write_file(p, b.p, b.n) == 0);
    st = NULL;
    CHECK_OK(tg_st_open(p, &st));
    if (st != NULL) {
        const tg_st_tensor *t = tg_st_find(st, "t");
        CHECK_OK(tg_st_guard_begin(st));
        CHECK(truncate(p, (off_t)keep) == 0);
        const volatile unsigned char *d = t->data;
        size_t nonzero_late = 0, same_early = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char v = d[i];
            if (i < 100 && v == (unsigned char)(i & 0xff)) same_early++;
            if (i >= 8192 && v != 0) nonzero_late++;
        }
        CHECK(same_early == 100 && nonzero_late == 0);
        CHECK_STATUS(tg_st_guard_end(st), TG_ERR_IO);
        CHECK(strstr(tg_last_error(), p) != NULL && strstr(tg_last_error(), "truncated") != NULL);
        CHECK_STATUS(tg_st_guard_begin(st), TG_ERR_IO); /* a broken mapping stays refused */
        tg_st_close(st);
    }
    /* 3. an intact file: begin and end pass, nesting included */
    CHECK(write_file(p, b.p, b.n) == 0);
    st = NULL;
    CHECK_OK(tg_st_open(p, &st));
    CHECK_OK(tg_st_guard_begin(st));
    CHECK_OK(tg_st_guard_begin(st));
    CHECK_OK(tg_st_guard_end(st));
    CHECK_OK(tg_st_guard_end(st));
    tg_st_close(st);
    unlink(p);
    free(b.p);
}

TG_TEST_MAIN(TG_CASE(test_valid_file), TG_CASE(test_edge_shapes), TG_CASE(test_unaligned_is_accepted),
             TG_CASE(test_dtypes), TG_CASE(test_rejects_header_structure), TG_CASE(test_rejects_tensor_fields),
             TG_CASE(test_rejects_names_and_metadata), TG_CASE(test_rejects_offsets),
             TG_CASE(test_many_entries), TG_CASE(test_paths_and_many_open),
             TG_CASE(test_truncated_under_the_mapping))
