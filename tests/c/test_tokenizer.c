/* test_tokenizer.c - the GPT-2 tokenizer core: pre-tokenizer pieces, ids (checked against
 * tiktoken's gpt2 encoding when written), special tokens, offsets, batches, decoding,
 * long runs and malformed vocabulary files.  argv[1] is the repository root. */
#include <stdlib.h>

#include "tg_test.h"
#include "tokgeo/tokgeo.h"

static tg_tokenizer *gpt2 = NULL;

static void load_gpt2(void) {
    char v[4096], m[4096];
    snprintf(v, sizeof v, "%s/tokgeo/data/gpt2/encoder.json", tg_test_root);
    snprintf(m, sizeof m, "%s/tokgeo/data/gpt2/vocab.bpe", tg_test_root);
    CHECK_OK(tg_tokenizer_load(&gpt2, v, m));
}

/* pieces of GPT-2's split pattern, as Python's `regex` module finds them */
static void check_pieces(const char *s, const char *const *want, size_t nwant) {
    size_t n = strlen(s), pos = 0, k = 0;
    while (pos < n) {
        size_t l = tg_pretoken_len((const uint8_t *)s + pos, n - pos);
        CHECK(l >= 1 && l <= n - pos);
        if (l == 0) return;
        CHECK(k < nwant);
        if (k < nwant && (strlen(want[k]) != l || memcmp(want[k], s + pos, l) != 0))
            fprintf(stderr, "piece %zu of \"%s\": got \"%.*s\", want \"%s\"\n", k, s, (int)l, s + pos, want[k]), tg_test_failures++;
        pos += l;
        k++;
    }
    CHECK(k == nwant);
}

static void test_pretokenizer(void) {
    static const char *a[] = {"I", "'m", " you", "'ll", " '", "s", " x"};
    check_pieces("I'm you'll 's x", a, 7);
    static const char *b[] = {" ", " a", "\t", "\t", "b", "\n\n ", " c", "  "};
    check_pieces("  a\t\tb\n\n  c  ", b, 8);
    static const char *c[] = {"x", " !!?", " 123", "abc"};
    check_pieces("x !!? 123abc", c, 4);
    static const char *d[] = {"\xe6\x97\xa5\xe6\x9c\xac", " \xf0\x9f\x98\x80", "\xc2\xa0", "x"}; /* 日本 😀 NBSP x */
    check_pieces("\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\xc2\xa0x", d, 4);
}

static void test_utf8_check(void) {
    bool ascii = false;
    CHECK_OK(tg_utf8_check((const uint8_t *)"plain ascii text here", 21, &ascii));
    CHECK(ascii);
    CHECK_OK(tg_utf8_check((const uint8_t *)"caf\xc3\xa9 \xf0\x9f\x98\x80", 10, &ascii));
    CHECK(!ascii);
    static const char *bad[] = {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\x80", "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_STATUS(tg_utf8_check((const uint8_t *)bad[i], strlen(bad[i]), NULL), TG_ERR_UNICODE);
    /* one bad byte at every offset of an ASCII run (the check reads 32 and 8 bytes at a time) */
    uint8_t buf[100];
    for (size_t k = 0; k < sizeof buf; k++) {
        memset(buf, 'a', sizeof buf);
        buf[k] = 0xFF;
        CHECK_STATUS(tg_utf8_check(buf, sizeof buf, NULL), TG_ERR_UNICODE);
        char want[32];
        snprintf(want, sizeof want, "at byte %zu:", k);
        CHECK(strstr(tg_last_error(), want) != NULL);
        buf[k] = 'b';
        CHECK_OK(tg_utf8_check(buf, sizeof buf, &ascii));
        CHECK(ascii);
    }
}

static void check_ids(const char *text, const int32_t *want, size_t n, const uint8_t *modes) {
    tg_tokens out = {0};
    CHECK_OK(tg_encode(gpt2, text, strlen(text), modes, TG_ENC_OFFSETS, &out));
    CHECK(out.n == n);
    for (size_t i = 0; i < n && i < out.n; i++) CHECK(out.ids[i] == want[i]);
    /* byte offsets tile the text */
    size_t pos = 0;
    for (size_t i = 0; i < out.n; i++) {
        CHECK(out.offsets[2 * i] == (int64_t)pos);
        pos = (size_t)out.offsets[2 * i + 1];
    }
    CHECK(pos == strlen(text));
    /* decode gives the text back */
    int64_t ids64[256];
    for (size_t i = 0; i < out.n && i < 256; i++) ids64[i] = out.ids[i];
    size_t size = 0;
    CHECK_OK(tg_decode_size(gpt2, ids64, out.n, &size));
    CHECK(size == strlen(text));
    uint8_t *buf = malloc(size + 1);
    if (buf) {
        CHECK_OK(tg_decode(gpt2, ids64, out.n, buf));
        CHECK(memcmp(buf, text, size) == 0);
        free(buf);
    }
    tg_tokens_free(&out);
}

static void test_known_ids(void) {
    if (!gpt2) return;
    CHECK(tg_tokenizer_n_vocab(gpt2) == 50257);
    CHECK(tg_tokenizer_eot_id(gpt2) == 50256);
    CHECK(tg_tokenizer_n_special(gpt2) == 1);
    /* ids from tiktoken's gpt2 encoding */
    static const int32_t a[] = {3347, 2921, 607, 1492, 1497};
    check_ids("She gave her book away", a, 5, NULL);
    static const int32_t b[] = {15496, 11, 995, 0, 314, 1101, 994, 13};
    check_ids("Hello, world! I'm here.", b, 8, NULL);
    static const int32_t c[] = {40533, 157, 118, 123, 782, 16049, 157, 119, 229, 83, 10545, 245, 98, 17312, 105, 45739, 252, 30325, 222};
    check_ids("Ti\xe1\xba\xbfng Vi\xe1\xbb\x87t \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80", c, 19, NULL);
    static const int32_t d[] = {220, 257, 197, 197, 65, 628, 220, 269, 220, 220};
    check_ids("  a\t\tb\n\n  c  ", d, 10, NULL);
    int32_t e[25];
    for (int i = 0; i < 25; i++) e[i] = 24794; /* "aaaa" */
    char hundred_a[101];
    memset(hundred_a, 'a', 100);
    hundred_a[100] = '\0';
    check_ids(hundred_a, e, 25, NULL); /* > 48 bytes: the heap merge loop */
}

static void test_special_modes(void) {
    if (!gpt2) return;
    const char *text = "<|endoftext|>x";
    uint8_t allow = TG_SPECIAL_ALLOW, forbid = TG_SPECIAL_FORBID, plain = TG_SPECIAL_TEXT;
    static const int32_t want[] = {50256, 87};
    check_ids(text, want, 2, &allow);
    tg_tokens out = {0};
    CHECK_STATUS(tg_encode(gpt2, text, strlen(text), &forbid, 0, &out), TG_ERR_SPECIAL);
    CHECK(strstr(tg_last_error(), "<|endoftext|>") != NULL);
    CHECK(out.n == 0);
    CHECK_OK(tg_encode(gpt2, text, strlen(text), &plain, 0, &out));
    CHECK(out.n == 8 && out.ids[0] == 27); /* "<" as text */
    CHECK_OK(tg_encode(gpt2, text, strlen(text), NULL, 0, &out));
    CHECK(out.n == 8);
    /* an empty text (even a NULL pointer with length 0) in every mode */
    CHECK_OK(tg_encode(gpt2, NULL, 0, &forbid, TG_ENC_CHAR_OFFSETS, &out));
    CHECK(out.n == 0);
    CHECK_OK(tg_encode(gpt2, "", 0, &allow, 0, &out));
    CHECK(out.n == 0);
    tg_tokens_free(&out);
}

static void test_char_offsets(void) {
    if (!gpt2) return;
    /* "a" + U+9FA5 (3 bytes, split into byte tokens) + "b" */
    const char *text = "a\xe9\xbe\xa5 b";
    tg_tokens out = {0};
    CHECK_OK(tg_encode(gpt2, text, strlen(text), NULL, TG_ENC_CHAR_OFFSETS, &out));
    CHECK(out.n >= 3);
    for (size_t i = 0; i < out.n; i++) {
        int64_t s = out.offsets[2 * i], e = out.offsets[2 * i + 1];
        CHECK(s >= 0 && e > s && e <= 4);
    }
    CHECK(out.offsets[2 * (out.n - 1)] == 2 && out.offsets[2 * (out.n - 1) + 1] == 4); /* " b" */
    tg_tokens_free(&out);
}

static void test_code_unit_texts(void) {
    if (!gpt2) return;
    /* "héllo 日😀" as Latin-1 (first 5), UCS-2 (first 7) and UCS-4 (all 8) code units */
    static const uint32_t cps[] = {'h', 0xE9, 'l', 'l', 'o', ' ', 0x65E5, 0x1F600};
    const char *utf8 = "h\xc3\xa9llo \xe6\x97\xa5\xf0\x9f\x98\x80";
    uint8_t l1[8];
    uint16_t u2[8];
    for (int i = 0; i < 8; i++) {
        l1[i] = (uint8_t)cps[i];
        u2[i] = (uint16_t)cps[i];
    }
    size_t prefix_bytes[] = {6, 10, 14}; /* UTF-8 bytes of the first 5, 7 and 8 characters */
    tg_text texts[3] = {{l1, 5, TG_TEXT_LATIN1}, {u2, 7, TG_TEXT_UCS2}, {cps, 8, TG_TEXT_UCS4}};
    for (int k = 0; k < 3; k++) {
        tg_tokens a = {0}, b = {0};
        CHECK_OK(tg_encode_text(gpt2, &texts[k], NULL, TG_ENC_CHAR_OFFSETS, &a));
        CHECK_OK(tg_encode(gpt2, utf8, prefix_bytes[k], NULL, TG_ENC_CHAR_OFFSETS, &b));
        CHECK(a.n == b.n && a.n > 0);
        for (size_t i = 0; i < a.n && i < b.n; i++)
            CHECK(a.ids[i] == b.ids[i] && a.offsets[2 * i] == b.offsets[2 * i] && a.offsets[2 * i + 1] == b.offsets[2 * i + 1]);
        tg_tokens_free(&a);
        tg_tokens_free(&b);
    }
    uint16_t sur[3] = {'a', 0xD800, 'b'};
    tg_text bad = {sur, 3, TG_TEXT_UCS2};
    tg_tokens out = {0};
    CHECK_STATUS(tg_encode_text(gpt2, &bad, NULL, 0, &out), TG_ERR_UNICODE);
    CHECK(strstr(tg_last_error(), "U+D800 at character 1") != NULL);
    uint32_t big[1] = {0x110000};
    tg_text bad2 = {big, 1, TG_TEXT_UCS4};
    CHECK_STATUS(tg_encode_text(gpt2, &bad2, NULL, 0, &out), TG_ERR_UNICODE);
    tg_batch *bt = NULL;
    tg_text two[2] = {{l1, 5, TG_TEXT_LATIN1}, {sur, 3, TG_TEXT_UCS2}};
    CHECK_STATUS(tg_encode_batch_texts(gpt2, two, 2, NULL, 0, &bt), TG_ERR_UNICODE);
    CHECK(bt == NULL && strstr(tg_last_error(), "text 1") != NULL);
    CHECK_OK(tg_encode_batch_texts(gpt2, texts, 3, NULL, TG_ENC_OFFSETS, &bt));
    CHECK(tg_batch_count(bt) == 3);
    tg_batch_free(bt);
    tg_tokens_free(&out);
}

static void test_batch(void) {
    if (!gpt2) return;
    const char *texts[] = {"She gave her book away", "", "Hello, world! I'm here."};
    size_t lens[3] = {22, 0, 23};
    tg_batch *b = NULL;
    CHECK_OK(tg_encode_batch(gpt2, texts, lens, 3, NULL, TG_ENC_OFFSETS, &b));
    if (!b) return;
    CHECK(tg_batch_count(b) == 3 && tg_batch_max_length(b) == 8);
    CHECK(tg_batch_length(b, 0) == 5 && tg_batch_length(b, 1) == 0 && tg_batch_length(b, 2) == 8);
    int64_t ids[24], lengths[3], offs[48];
    uint8_t mask[24];
    CHECK_OK(tg_batch_fill(b, 8, 50256, true, ids, mask, lengths, offs));
    CHECK(ids[0] == 50256 && ids[3] == 3347 && ids[7] == 1497 && mask[2] == 0 && mask[3] == 1);
    CHECK(ids[8] == 50256 && mask[15] == 0 && lengths[1] == 0 && offs[16] == -1);
    CHECK(ids[16] == 15496 && lengths[2] == 8);
    CHECK_STATUS(tg_batch_fill(b, 7, 0, false, ids, mask, lengths, NULL), TG_ERR_VALUE);
    tg_batch_free(b);
    const char *bad[] = {"fine", "not \xff fine"};
    size_t bl[2] = {4, 10};
    b = (tg_batch *)1;
    CHECK_STATUS(tg_encode_batch(gpt2, bad, bl, 2, NULL, 0, &b), TG_ERR_UNICODE);
    CHECK(b == NULL);
    CHECK(strstr(tg_last_error(), "text 1") != NULL);
}

static void test_decode_errors(void) {
    if (!gpt2) return;
    int64_t ids[] = {0, 50257};
    size_t size;
    CHECK_STATUS(tg_decode_size(gpt2, ids, 2, &size), TG_ERR_INDEX);
    ids[1] = -5;
    CHECK_STATUS(tg_decode_size(gpt2, ids, 2, &size), TG_ERR_INDEX);
    const uint8_t *bytes;
    size_t len;
    CHECK(tg_tokenizer_token_bytes(gpt2, 607, &bytes, &len) && len == 4 && memcmp(bytes, " her", 4) == 0);
    char bl[8];
    CHECK(tg_bytes_to_byte_level(bytes, len, bl) == 5 && memcmp(bl, "\xc4\xa0her", 5) == 0);
}

static void test_long_runs(void) {
    if (!gpt2) return;
    size_t n = 1000000;
    char *s = malloc(n);
    if (!s) return;
    const char fills[] = {' ', '\n', 'a', '\'', '7'};
    for (size_t f = 0; f < sizeof fills; f++) {
        memset(s, fills[f], n);
        tg_tokens out = {0};
        CHECK_OK(tg_encode(gpt2, s, n, NULL, TG_ENC_OFFSETS, &out));
        CHECK(out.n > 0 && out.offsets[2 * out.n - 1] == (int64_t)n);
        tg_tokens_free(&out);
    }
    free(s);
}

static tg_status load_mem(const char *vocab, const char *merges, tg_tokenizer **t) {
    return tg_tokenizer_load_buffers(t, vocab, strlen(vocab), "v.json", merges, strlen(merges), "m.txt");
}

/* a vocabulary of the 256 byte tokens (GPT-2 alphabet) plus `extra` entries */
static char *byte_vocab(const char *extra) {
    size_t cap = 8192 + strlen(extra);
    char *v = malloc(cap);
    if (!v) return NULL;
    size_t o = (size_t)snprintf(v, cap, "{");
    for (int b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        char bl[4];
        size_t k = tg_bytes_to_byte_level(&byte, 1, bl);
        bool esc = (bl[0] == '"' || bl[0] == '\\');
        o += (size_t)snprintf(v + o, cap - o, "%s\"%s%.*s\": %d", b ? ", " : "", esc ? "\\" : "", (int)k, bl, b);
    }
    snprintf(v + o, cap - o, "%s}", extra);
    return v;
}

static void test_malformed_files(void) {
    tg_tokenizer *t = (tg_tokenizer *)1;
    char *v = byte_vocab(", \"he\": 256, \"ll\": 257");
    if (!v) return;
    CHECK_OK(load_mem(v, "#version: 0.2\nh e\nl l\n\n", &t));
    tg_tokenizer_free(t);
    struct {
        const char *merges;
        const char *needle;
    } bad[] = {
        {"h e\nh x\n", "m.txt line 2"},
        {"h e\n\nl l\n", "m.txt line 2: blank line"},
        {"h  e\n", "line 1: expected two tokens"},
        {"h e\nh e\n", "line 2: this merge appeared"},
        {"he e\n", "line 1: the merged token"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = (tg_tokenizer *)1;
        CHECK_STATUS(load_mem(v, bad[i].merges, &t), TG_ERR_FORMAT);
        CHECK(t == NULL);
        if (!strstr(tg_last_error(), bad[i].needle)) fprintf(stderr, "message: %s\n", tg_last_error()), tg_test_failures++;
    }
    free(v);
    t = (tg_tokenizer *)1;
    CHECK_STATUS(load_mem("{\"a\": 1", "", &t), TG_ERR_FORMAT);
    CHECK(strstr(tg_last_error(), "v.json: invalid JSON at byte") != NULL);
    CHECK_STATUS(load_mem("{\"a\": 0}", "", &t), TG_ERR_FORMAT);
    CHECK_STATUS(tg_tokenizer_load(&t, "/nonexistent/vocab.json", "/nonexistent/merges.txt"), TG_ERR_IO);
    CHECK(t == NULL);
}

TG_TEST_MAIN(TG_CASE(load_gpt2), TG_CASE(test_pretokenizer), TG_CASE(test_utf8_check), TG_CASE(test_known_ids),
             TG_CASE(test_special_modes), TG_CASE(test_char_offsets), TG_CASE(test_code_unit_texts), TG_CASE(test_batch), TG_CASE(test_decode_errors),
             TG_CASE(test_long_runs), TG_CASE(test_malformed_files))

/* runs last: frees the shared tokenizer so leak detection stays meaningful */
__attribute__((destructor)) static void free_gpt2(void) { tg_tokenizer_free(gpt2); }
