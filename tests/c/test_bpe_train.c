/* test_bpe_train.c - the BPE trainer core: hand-computed merges (overlaps merge left to
 * right, the tie-break), special tokens, files (lines, invalid UTF-8 with line and
 * offset; a file read in chunks by several threads), bad options, saving and loading the result.  argv[1] is the repository root. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "tg_test.h"
#include "tokgeo/tokgeo.h"

static tg_bpe_trainer *train_texts(const char *const *texts, size_t n, size_t vocab, uint64_t min_freq, int threads) {
    tg_bpe_train_opts o = {.vocab_size = vocab, .min_frequency = min_freq, .threads = threads};
    tg_bpe_trainer *t = NULL;
    CHECK_OK(tg_bpe_trainer_new(&t, &o));
    if (!t) return NULL;
    tg_text tx[16];
    for (size_t i = 0; i < n; i++) tx[i] = (tg_text){.data = texts[i], .len = strlen(texts[i]), .width = TG_TEXT_UTF8};
    CHECK_OK(tg_bpe_trainer_feed(t, tx, n));
    CHECK_OK(tg_bpe_trainer_train(t));
    return t;
}

static void test_overlaps_merge_left_to_right(void) {
    const char *texts[] = {"aaaa"};
    tg_bpe_trainer *t = train_texts(texts, 1, 300, 1, 1);
    if (!t) return;
    /* 'a' is byte 0x61, id 0x61 - 0x21 = 64 in the byte-level order */
    CHECK(tg_bpe_trainer_n_merges(t) == 2);
    const tg_bpe_merge *m = tg_bpe_trainer_merges(t);
    CHECK(m[0].left == 64 && m[0].right == 64 && m[0].merged == 256 && m[0].count == 3 && m[0].vocab_size == 257);
    CHECK(m[1].left == 256 && m[1].right == 256 && m[1].merged == 257 && m[1].count == 1);
    const uint8_t *b;
    size_t l;
    CHECK(tg_bpe_trainer_token(t, 257, &b, &l) && l == 4 && memcmp(b, "aaaa", 4) == 0);
    tg_bpe_trainer_free(t);
}

static void test_tie_break(void) {
    /* "ab" and "cd" both occur twice: (a, b) has the smaller ids and goes first */
    const char *texts[] = {"cd ab cd ab"};
    tg_bpe_trainer *t = train_texts(texts, 1, 258, 2, 2);
    if (!t) return;
    const tg_bpe_merge *m = tg_bpe_trainer_merges(t);
    CHECK(tg_bpe_trainer_n_merges(t) == 2);
    CHECK(m[0].left == 'a' - 0x21 && m[0].right == 'b' - 0x21);
    CHECK(m[1].left == 'c' - 0x21 && m[1].right == 'd' - 0x21);
    /* min_frequency stops before pairs seen once */
    tg_bpe_trainer_free(t);
    const char *once[] = {"xy"};
    t = train_texts(once, 1, 400, 2, 1);
    if (t) CHECK(tg_bpe_trainer_n_merges(t) == 0 && tg_bpe_trainer_vocab_size(t) == 256);
    tg_bpe_trainer_free(t);
}

static void test_files_and_tokenizer(void) {
    char dir[] = "/tmp/tg_bpe_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/corpus.txt", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    for (int i = 0; i < 200; i++) fputs("the cat sat on the mat\nthe dog ate the hat\n", f);
    fclose(f);
    const char *specials[] = {"<|endoftext|>"};
    tg_bpe_train_opts o = {.vocab_size = 300, .min_frequency = 2, .special_tokens = specials, .n_special = 1, .threads = 2};
    tg_bpe_trainer *t = NULL;
    CHECK_OK(tg_bpe_trainer_new(&t, &o));
    if (!t) return;
    CHECK_OK(tg_bpe_trainer_feed_file(t, path));
    CHECK(tg_bpe_trainer_n_pretokens(t) == 200 * 13);
    CHECK_OK(tg_bpe_trainer_train(t));
    CHECK(tg_bpe_trainer_n_words(t) == 10); /* the, " the", " cat", " sat", " on", " mat", "\n", " dog", " ate", " hat" */
    CHECK_OK(tg_bpe_trainer_save(t, dir));
    tg_tokenizer *tok = NULL;
    CHECK_OK(tg_bpe_trainer_tokenizer(t, &tok));
    char vp[300], mp[300];
    snprintf(vp, sizeof vp, "%s/vocab.json", dir);
    snprintf(mp, sizeof mp, "%s/merges.txt", dir);
    tg_tokenizer *tok2 = NULL;
    CHECK_OK(tg_tokenizer_load(&tok2, vp, mp));
    if (tok && tok2) {
        tg_tokens a = {0}, b = {0};
        const char *s = "the cat ate the hat";
        CHECK_OK(tg_encode(tok, s, strlen(s), NULL, 0, &a));
        CHECK_OK(tg_encode(tok2, s, strlen(s), NULL, 0, &b));
        CHECK(a.n == b.n && a.n > 0 && memcmp(a.ids, b.ids, a.n * sizeof *a.ids) == 0);
        CHECK(a.n == 5); /* every word of the corpus is one token by now */
        CHECK(tg_tokenizer_eot_id(tok) == 0);
        tg_tokens_free(&a);
        tg_tokens_free(&b);
    }
    tg_tokenizer_free(tok);
    tg_tokenizer_free(tok2);
    /* a second train is refused */
    CHECK_STATUS(tg_bpe_trainer_train(t), TG_ERR_VALUE);
    tg_bpe_trainer_free(t);
    /* invalid UTF-8 on line 2 at byte 9 */
    f = fopen(path, "wb");
    if (!f) return;
    fputs("line one\nab\xC3(\n", f);
    fclose(f);
    t = NULL;
    CHECK_OK(tg_bpe_trainer_new(&t, &o));
    if (t) {
        CHECK_STATUS(tg_bpe_trainer_feed_file(t, path), TG_ERR_UNICODE);
        CHECK(strstr(tg_last_error(), "line 2, byte offset 11") != NULL);
        CHECK_STATUS(tg_bpe_trainer_train(t), TG_ERR_VALUE);
        tg_bpe_trainer_free(t);
    }
    unlink(vp);
    unlink(mp);
    unlink(path);
    rmdir(dir);
}

/* A file of ~2 MB read in 64 KiB chunks by 3 threads (lines across chunk boundaries, one
 * line longer than nine chunks, multi-byte characters) counts what the same lines fed as
 * texts count; a bad byte past the first chunks is named by line and offset. */
static void test_file_in_chunks(void) {
    char dir[] = "/tmp/tg_bpe_chunks_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/corpus.txt", dir);
    static const char *const words[] = {"the", " cat", " Vi\xe1\xbb\x87t", " \xe4\xb8\xad\xe6\x96\x87", " 42", "\t", "  "};
    size_t cap = (size_t)3 << 20, n = 0;
    char *data = malloc(cap);
    size_t *starts = malloc(sizeof *starts * 200000);
    CHECK(data && starts);
    if (!data || !starts) {
        free(data);
        free(starts);
        return;
    }
    size_t nlines = 0;
    unsigned r = 12345;
    while (n < ((size_t)2 << 20)) {
        starts[nlines++] = n;
        if (nlines == 100) { /* one line of ~1 MB: over many whole chunks */
            while (n < ((size_t)1 << 20)) n += (size_t)snprintf(data + n, cap - n, " spans");
        } else {
            r = r * 1103515245u + 12345u;
            for (unsigned k = 0; k < 1 + (r >> 16) % 9; k++) {
                const char *w = words[(r >> (k % 13)) % 7];
                memcpy(data + n, w, strlen(w));
                n += strlen(w);
            }
        }
        data[n++] = '\n';
    }
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
    tg_text *tx = malloc(sizeof *tx * nlines);
    CHECK(tx != NULL);
    tg_bpe_train_opts o1 = {.vocab_size = 400, .min_frequency = 2, .threads = 1};
    tg_bpe_train_opts o3 = {.vocab_size = 400, .min_frequency = 2, .threads = 3};
    tg_bpe_trainer *a = NULL, *b = NULL;
    CHECK_OK(tg_bpe_trainer_new(&a, &o1));
    CHECK_OK(tg_bpe_trainer_new(&b, &o3));
    if (tx && a && b) {
        for (size_t i = 0; i < nlines; i++) {
            size_t end = i + 1 < nlines ? starts[i + 1] : n;
            tx[i] = (tg_text){.data = data + starts[i], .len = end - starts[i], .width = TG_TEXT_UTF8};
        }
        CHECK_OK(tg_bpe_trainer_feed(a, tx, nlines));
        CHECK_OK(tg_bpe_trainer_feed_file(b, path));
        CHECK_OK(tg_bpe_trainer_train(a));
        CHECK_OK(tg_bpe_trainer_train(b));
        CHECK(tg_bpe_trainer_n_words(a) == tg_bpe_trainer_n_words(b));
        CHECK(tg_bpe_trainer_n_pretokens(a) == tg_bpe_trainer_n_pretokens(b));
        size_t m = tg_bpe_trainer_n_merges(a);
        CHECK(m > 50 && m == tg_bpe_trainer_n_merges(b));
        if (m == tg_bpe_trainer_n_merges(b))
            CHECK(memcmp(tg_bpe_trainer_merges(a), tg_bpe_trainer_merges(b), m * sizeof(tg_bpe_merge)) == 0);
    }
    tg_bpe_trainer_free(a);
    tg_bpe_trainer_free(b);
    /* a bad byte at the start of line 5000 */
    size_t at = starts[4999];
    data[at] = (char)0xFF;
    f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
    b = NULL;
    CHECK_OK(tg_bpe_trainer_new(&b, &o3));
    if (b) {
        char want[64];
        snprintf(want, sizeof want, "line 5000, byte offset %zu;", at);
        CHECK_STATUS(tg_bpe_trainer_feed_file(b, path), TG_ERR_UNICODE);
        CHECK(strstr(tg_last_error(), want) != NULL);
        tg_bpe_trainer_free(b);
    }
    free(tx);
    free(data);
    free(starts);
    unlink(path);
    rmdir(dir);
}

static void test_bad_options(void) {
    tg_bpe_trainer *t = NULL;
    tg_bpe_train_opts o = {.vocab_size = 255};
    CHECK_STATUS(tg_bpe_trainer_new(&t, &o), TG_ERR_VALUE);
    CHECK(t == NULL);
    const char *sp[] = {"<a>", "bad token"};
    o = (tg_bpe_train_opts){.vocab_size = 300, .special_tokens = sp, .n_special = 2};
    CHECK_STATUS(tg_bpe_trainer_new(&t, &o), TG_ERR_VALUE);
    const char *dup[] = {"<a>", "<a>"};
    o.special_tokens = dup;
    CHECK_STATUS(tg_bpe_trainer_new(&t, &o), TG_ERR_VALUE);
    o = (tg_bpe_train_opts){.vocab_size = 300, .pattern = 7};
    CHECK_STATUS(tg_bpe_trainer_new(&t, &o), TG_ERR_VALUE);
    o.pattern = TG_PATTERN_GPT2;
    CHECK_OK(tg_bpe_trainer_new(&t, &o));
    if (!t) return;
    CHECK_STATUS(tg_bpe_trainer_train(t), TG_ERR_VALUE); /* empty corpus */
    tg_text bad = {.data = "ab\xFF", .len = 3, .width = TG_TEXT_UTF8};
    tg_bpe_trainer_free(t);
    CHECK_OK(tg_bpe_trainer_new(&t, &o));
    if (!t) return;
    CHECK_STATUS(tg_bpe_trainer_feed(t, &bad, 1), TG_ERR_UNICODE);
    CHECK(strstr(tg_last_error(), "texts[0] is not valid UTF-8 at byte 2") != NULL);
    CHECK_STATUS(tg_bpe_trainer_feed_file(t, "/nonexistent/file.txt"), TG_ERR_IO);
    tg_bpe_trainer_free(t);
}

static void test_cl100k_pieces(void) {
    struct { const char *text; size_t n; const char *pieces[8]; } cases[] = {
        {"I'M here", 3, {"I", "'M", " here"}},
        {"  \n\nfoo", 2, {"  \n\n", "foo"}},
        {"x 12345", 4, {"x", " ", "123", "45"}},
        {"(hello)..\n", 2, {"(hello", ")..\n"}},
        {"a  \n  ", 2, {"a", "  \n  "}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const uint8_t *s = (const uint8_t *)cases[c].text;
        size_t n = strlen(cases[c].text), pos = 0, k = 0;
        while (pos < n && k < 8) {
            size_t l = tg_pretoken_len_pattern(TG_PATTERN_CL100K, s + pos, n - pos);
            CHECK(l >= 1);
            if (l == 0) break;
            if (k < cases[c].n && (strlen(cases[c].pieces[k]) != l || memcmp(cases[c].pieces[k], s + pos, l) != 0)) {
                fprintf(stderr, "cl100k piece %zu of case %zu: \"%.*s\"\n", k, c, (int)l, s + pos);
                tg_test_failures++;
            }
            pos += l;
            k++;
        }
        CHECK(k == cases[c].n);
    }
}

int main(int argc, char **argv) {
    static const tg_test_case cases[] = {
        {"overlaps_merge_left_to_right", test_overlaps_merge_left_to_right},
        {"tie_break", test_tie_break},
        {"files_and_tokenizer", test_files_and_tokenizer},
        {"file_in_chunks", test_file_in_chunks},
        {"bad_options", test_bad_options},
        {"cl100k_pieces", test_cl100k_pieces},
    };
    return tg_test_run(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
