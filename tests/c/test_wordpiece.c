/* test_wordpiece.c - BERT WordPiece in C (tokgeo/tokenizer.h, "WordPiece"): a hand-made
 * vocabulary with expected tokens worked out by hand from BERT's rules, byte and code
 * point offsets, code-unit texts, batches, and every loader error (run under ASan/UBSan by
 * scripts/c-tests.sh, so the failure paths are also checked for leaks). */
#include <stdlib.h>

#include "tg_test.h"
#include "tokgeo/tokgeo.h"

static const char VOCAB[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n" /* 0..4 */
    "un\nuna\n##aff\n##able\n##ffable\n"   /* 5..9 */
    "hello\n,\n!\ncafe\n世\n"              /* 10..14 */
    "Cafe\n##s\ni\n";                      /* 15..17 */

static tg_wordpiece *load(bool lowercase, int strip) {
    tg_wordpiece_opts o = {.lowercase = lowercase, .strip_accents = strip};
    tg_wordpiece *wp = NULL;
    CHECK_OK(tg_wordpiece_load_buffer(&wp, VOCAB, sizeof VOCAB - 1, "test", &o));
    return wp;
}

static void check(tg_wordpiece *wp, const char *text, int flags, const int32_t *want, size_t n,
                  const int64_t *want_off) {
    if (!wp) return;
    tg_text t = {text, strlen(text), TG_TEXT_UTF8};
    tg_tokens out = {0};
    CHECK_OK(tg_wordpiece_encode(wp, &t, flags, &out));
    CHECK(out.n == n);
    for (size_t i = 0; i < n && i < out.n; i++) {
        CHECK(out.ids[i] == want[i]);
        if (want_off) {
            CHECK(out.offsets[2 * i] == want_off[2 * i]);
            CHECK(out.offsets[2 * i + 1] == want_off[2 * i + 1]);
        }
    }
    tg_tokens_free(&out);
}

static void test_uncased(void) {
    tg_wordpiece *wp = load(true, -1);
    /* "Unaffable, hellos!" -> una ##ffable , hello ##s !  (longest match first) */
    const int32_t a[] = {6, 9, 11, 10, 16, 12};
    const int64_t ao[] = {0, 3, 3, 9, 9, 10, 11, 16, 16, 17, 17, 18};
    check(wp, "Unaffable, hellos!", TG_ENC_CHAR_OFFSETS, a, 6, ao);
    /* accents stripped, CJK split, special token in the text, [CLS]/[SEP] added:
     * "Café世[MASK]" -> [CLS] cafe 世 [MASK] [SEP]; bytes: é is 2, 世 3 */
    const int32_t b[] = {2, 13, 14, 4, 3};
    const int64_t bo[] = {0, 0, 0, 5, 5, 8, 8, 14, 0, 0};
    check(wp, "Caf\xc3\xa9\xe4\xb8\x96[MASK]", TG_ENC_OFFSETS | TG_WP_SPECIALS | TG_WP_ADD_SPECIAL, b, 5, bo);
    /* without TG_WP_SPECIALS "[MASK]" is text: [ mask ] -> [UNK] for each piece but the
     * punctuation ones, which are not in the vocabulary either */
    const int32_t c[] = {1, 1, 1};
    check(wp, "[MASK]", 0, c, 3, NULL);
    /* control characters and zero-width characters vanish, "\xc4\xb0" (I with dot) is i */
    const int32_t d[] = {10, 17};
    check(wp, "hel\x01lo\xe2\x80\x8b \xc4\xb0", TG_ENC_CHAR_OFFSETS, d, 2, (const int64_t[]){0, 6, 8, 9});
    /* a word that cannot be covered is one [UNK] over the whole word */
    const int32_t e[] = {1, 12};
    check(wp, "unzzz!", TG_ENC_CHAR_OFFSETS, e, 2, (const int64_t[]){0, 5, 5, 6});
    tg_wordpiece_free(wp);
}

static void test_cased_and_long_words(void) {
    tg_wordpiece *wp = load(false, -1);
    const int32_t a[] = {15, 1}; /* cased: Cafe kept, "café" keeps its accent and is unknown */
    check(wp, "Cafe caf\xc3\xa9", 0, a, 2, NULL);
    tg_wordpiece_free(wp);
    wp = load(false, 1); /* cased with accents stripped */
    const int32_t b[] = {15, 13};
    check(wp, "Caf\xc3\xa9 cafe\xcc\x81", 0, b, 2, NULL);
    tg_wordpiece_free(wp);
    /* max_input_chars_per_word counts characters: 3 x "una" = 9 chars with limit 9 is
     * matched, 10 is [UNK] */
    tg_wordpiece_opts o = {.lowercase = true, .strip_accents = -1, .max_input_chars_per_word = 9};
    CHECK_OK(tg_wordpiece_load_buffer(&wp, VOCAB, sizeof VOCAB - 1, NULL, &o));
    const int32_t c[] = {1};
    check(wp, "unaunaunau", 0, c, 1, NULL);
    tg_wordpiece_free(wp);
}

static void test_code_units_and_batch(void) {
    tg_wordpiece *wp = load(true, -1);
    if (!wp) return;
    const uint16_t u2[] = {'H', 'e', 'l', 'l', 'o', 0x4E16};
    const uint32_t u4[] = {'u', 'n', 0x1F600};
    tg_text texts[3] = {{u2, 6, TG_TEXT_UCS2}, {u4, 3, TG_TEXT_UCS4}, {"hello", 5, TG_TEXT_UTF8}};
    tg_tokens outs[3] = {{0}};
    CHECK_OK(tg_wordpiece_encode_batch(wp, texts, 3, TG_ENC_CHAR_OFFSETS, outs));
    CHECK(outs[0].n == 2 && outs[0].ids[0] == 10 && outs[0].ids[1] == 14 && outs[0].offsets[2] == 5);
    CHECK(outs[1].n == 1 && outs[1].ids[0] == 1 && outs[1].offsets[1] == 3); /* "un😀" is one unknown word */
    CHECK(outs[2].n == 1 && outs[2].ids[0] == 10);
    /* a surrogate in UCS-2 fails the batch, naming the text */
    const uint16_t bad[] = {'a', 0xD800};
    texts[1] = (tg_text){bad, 2, TG_TEXT_UCS2};
    CHECK_STATUS(tg_wordpiece_encode_batch(wp, texts, 3, 0, outs), TG_ERR_UNICODE);
    CHECK(strstr(tg_last_error(), "text 1") != NULL);
    CHECK(outs[0].n == 0 && outs[2].n == 0);
    for (int i = 0; i < 3; i++) tg_tokens_free(&outs[i]);
    /* invalid UTF-8 */
    tg_tokens out = {0};
    tg_text t = {"ab\xff", 3, TG_TEXT_UTF8};
    CHECK_STATUS(tg_wordpiece_encode(wp, &t, 0, &out), TG_ERR_UNICODE);
    CHECK(out.n == 0);
    tg_tokens_free(&out);
    /* normalisation alone: "A世" -> "a 世 " with origins 0 1 1 1 */
    uint32_t *cps, *orig;
    size_t n;
    tg_text t2 = {"A\xe4\xb8\x96", 4, TG_TEXT_UTF8};
    CHECK_OK(tg_wordpiece_normalize(wp, &t2, &cps, &orig, &n));
    CHECK(n == 4 && cps[0] == 'a' && cps[1] == ' ' && cps[2] == 0x4E16 && cps[3] == ' ' && orig[0] == 0 && orig[3] == 1);
    free(cps);
    free(orig);
    /* lookups */
    const char *s;
    size_t l;
    CHECK(tg_wordpiece_vocab_size(wp) == 18);
    CHECK(tg_wordpiece_token(wp, 7, &s, &l) && l == 5 && memcmp(s, "##aff", 5) == 0);
    CHECK(!tg_wordpiece_token(wp, 18, &s, &l) && !tg_wordpiece_token(wp, -1, &s, &l));
    CHECK(tg_wordpiece_token_id(wp, "##s", 3) == 16 && tg_wordpiece_token_id(wp, "nope", 4) == -1);
    CHECK(tg_wordpiece_special_id(wp, TG_WP_MASK) == 4 && tg_wordpiece_special_id(wp, 99) == -1);
    tg_wordpiece_free(wp);
}

static void expect_format(const char *data, const char *what) {
    tg_wordpiece *wp = (tg_wordpiece *)1;
    CHECK_STATUS(tg_wordpiece_load_buffer(&wp, data, strlen(data), "v.txt", NULL), TG_ERR_FORMAT);
    CHECK(wp == NULL);
    if (!strstr(tg_last_error(), what)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", tg_last_error(), what);
        tg_test_failures++;
    }
}

static void test_loader_errors(void) {
    expect_format("", "empty");
    expect_format("[UNK]\na\nb\na\n", "line 4");
    expect_format("[PAD]\na\n", "[UNK]");
    expect_format("[UNK]\na\xc3\n", "line 2 is not UTF-8");
    expect_format("[UNK]\n\na\n", "line 2 is empty");
    tg_wordpiece *wp = NULL;
    CHECK_STATUS(tg_wordpiece_load(&wp, "/nonexistent/vocab.txt", NULL), TG_ERR_IO);
    CHECK(wp == NULL);
    tg_wordpiece_opts o = {.strip_accents = 7};
    CHECK_STATUS(tg_wordpiece_load_buffer(&wp, "[UNK]\n", 6, NULL, &o), TG_ERR_VALUE);
    /* a vocabulary without [CLS] cannot add special tokens */
    CHECK_OK(tg_wordpiece_load_buffer(&wp, "[UNK]\na\n", 8, NULL, NULL));
    tg_tokens out = {0};
    tg_text t = {"a", 1, TG_TEXT_UTF8};
    CHECK_STATUS(tg_wordpiece_encode(wp, &t, TG_WP_ADD_SPECIAL, &out), TG_ERR_VALUE);
    CHECK_OK(tg_wordpiece_encode(wp, &t, 0, &out));
    CHECK(out.n == 1 && out.ids[0] == 1);
    tg_tokens_free(&out);
    tg_wordpiece_free(wp);
    tg_wordpiece_free(NULL);
}

TG_TEST_MAIN(TG_CASE(test_uncased), TG_CASE(test_cased_and_long_words), TG_CASE(test_code_units_and_batch),
             TG_CASE(test_loader_errors))
