/* test_common.c - JSON reader, file mapping, status messages, checked arithmetic. */
#include <stdlib.h>

#include "tg_test.h"
#include "tokgeo/tokgeo.h"

#include "base/internal.h" /* checked arithmetic */
#include "base/json.h"
#include "base/mapfile.h"

static const tg_json *parse_ok(tg_json_doc **doc, const char *s) {
    CHECK_OK(tg_json_parse(s, strlen(s), doc));
    return tg_json_root(*doc);
}

static void test_json_values(void) {
    tg_json_doc *doc = NULL;
    const tg_json *r = parse_ok(&doc, " {\"a\": [1, -2, 3.5e2, true, false, null], \"s\": \"x\\u00e9\\ud83d\\ude00\\n\", \"big\": 9223372036854775807, \"neg\": -9223372036854775808, \"huge\": 1e400} ");
    if (doc == NULL) return;
    const tg_json *a = tg_json_get(r, "a");
    CHECK(a && a->type == TG_JSON_ARRAY && a->u.array.count == 6);
    int64_t v = 0;
    CHECK(tg_json_as_int64(&a->u.array.items[1], &v) && v == -2);
    double d = 0;
    CHECK(!tg_json_as_int64(&a->u.array.items[2], &v));
    CHECK(tg_json_as_double(&a->u.array.items[2], &d) && d == 350.0);
    CHECK(a->u.array.items[3].type == TG_JSON_TRUE && a->u.array.items[5].type == TG_JSON_NULL);
    const char *s;
    size_t n;
    CHECK(tg_json_as_string(tg_json_get(r, "s"), &s, &n));
    CHECK(n == 8 && memcmp(s, "x\xc3\xa9\xf0\x9f\x98\x80\n", 8) == 0);
    CHECK(tg_json_as_int64(tg_json_get(r, "big"), &v) && v == INT64_MAX);
    CHECK(tg_json_as_int64(tg_json_get(r, "neg"), &v) && v == INT64_MIN);
    CHECK(tg_json_get(r, "missing") == NULL);
    CHECK(tg_json_as_double(tg_json_get(r, "huge"), &d) && d > 1e308);
    tg_json_free(doc);
}

static void test_json_rejects(void) {
    static const char *bad[] = {
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"\\ud800\"", "\"\\udc00x\"", "\"a\x01\"",
        "\"\xff\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"", "tru", "[1] x", "{\"a\" 1}", "\"\\x\"", "nul",
        "1e", "[\"unterminated]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_json_doc *doc = (tg_json_doc *)1;
        tg_status st = tg_json_parse(bad[i], strlen(bad[i]), &doc);
        if (st != TG_ERR_FORMAT) fprintf(stderr, "accepted bad JSON #%zu: %s\n", i, bad[i]);
        CHECK(st == TG_ERR_FORMAT);
        CHECK(doc == NULL);
        CHECK(strstr(tg_last_error(), "invalid JSON at byte") != NULL);
    }
}

static void test_json_depth(void) {
    char buf[200];
    memset(buf, '[', 100);
    memset(buf + 100, ']', 100);
    tg_json_doc *doc = NULL;
    CHECK_STATUS(tg_json_parse(buf, 200, &doc), TG_ERR_FORMAT);
    CHECK(doc == NULL);
    CHECK_OK(tg_json_parse(buf + 40, 120, &doc));  /* 60 levels: accepted */
    tg_json_free(doc);
}

static void test_json_gpt2_vocab(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokgeo/data/gpt2/encoder.json", tg_test_root);
    tg_mapfile *m = NULL;
    CHECK_OK(tg_mapfile_open(path, &m));
    if (!m) return;
    tg_json_doc *doc = NULL;
    CHECK_OK(tg_json_parse((const char *)m->data, m->size, &doc));
    if (doc) {
        const tg_json *r = tg_json_root(doc);
        CHECK(r->type == TG_JSON_OBJECT && r->u.object.count == 50257);
        int64_t v = -1;
        CHECK(tg_json_as_int64(tg_json_get(r, "<|endoftext|>"), &v) && v == 50256);
        CHECK(tg_json_as_int64(tg_json_get(r, "\xc4\xa0her"), &v) && v == 607);  /* "Ġher" */
    }
    tg_json_free(doc);
    tg_mapfile_close(m);
}

static void test_mapfile_errors(void) {
    tg_mapfile *m = (tg_mapfile *)1;
    CHECK_STATUS(tg_mapfile_open("/nonexistent/tokgeo/file", &m), TG_ERR_IO);
    CHECK(m == NULL);
    CHECK(strstr(tg_last_error(), "/nonexistent/tokgeo/file") != NULL);
    /* not a regular file: an I/O error (Python: an OSError), as open() of a directory */
    CHECK_STATUS(tg_mapfile_open("/", &m), TG_ERR_IO);
    CHECK(m == NULL && strstr(tg_last_error(), "directory") != NULL);
}

static void test_arith_and_status(void) {
    size_t r = 7;
    CHECK(!tg_mul_size(SIZE_MAX / 2 + 1, 2, &r) && r == 7);
    CHECK(tg_mul_size(3, 5, &r) && r == 15);
    CHECK(!tg_add_size(SIZE_MAX, 1, &r));
    CHECK(!tg_mul3_size(1u << 31, 1u << 31, 1u << 3, &r) || sizeof(size_t) > 8);
    CHECK(strcmp(tg_status_name(TG_ERR_FORMAT), "TG_ERR_FORMAT") == 0);
    CHECK(strcmp(tg_status_name((tg_status)999), "TG_ERR_UNKNOWN") == 0);
    CHECK(tg_fail(TG_ERR_VALUE, "x=%d", 42) == TG_ERR_VALUE && strcmp(tg_last_error(), "x=42") == 0);
    tg_clear_error();
    CHECK(tg_last_error()[0] == '\0');
    void *p = tg_alloc_aligned(100);
    CHECK(p != NULL && ((uintptr_t)p & 63) == 0);
    free(p);
    CHECK(tg_alloc_aligned(0) == NULL);
}

TG_TEST_MAIN(TG_CASE(test_json_values), TG_CASE(test_json_rejects), TG_CASE(test_json_depth),
             TG_CASE(test_json_gpt2_vocab), TG_CASE(test_mapfile_errors), TG_CASE(test_arith_and_status))
