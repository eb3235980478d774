/* fuzz_tokenizer.c - libFuzzer target for the tokenizer: the vocabulary / merges loader and
 * the encoder (single and batch), under ASan + UBSan.
 *
 * Input layout: the first byte picks what to fuzz, the rest is the payload.
 *   0: loader - payload "vocab JSON \x00 merges text"; when it loads, encode the payload
 *      with it and check the round trip.
 *   1: encoder - payload is text for GPT-2's tokenizer (loaded once from the repository's
 *      tokgeo/data/gpt2; the root is found from __FILE__ or $TOKGEO_ROOT); byte 2 of the
 *      input picks the special-token mode.
 *   2: batch - payload split at '\n' into texts, encoded as one batch.
 *   3, 4: the payload as UCS-2 / UCS-4 code units (tg_encode_text): surrogates and values
 *      beyond U+10FFFF must be refused, anything else encoded with code point offsets
 *      that tile [0, length).
 * Checked invariants (a violation traps): the ids decode to exactly the input bytes,
 * byte offsets tile the input, failures leave nothing allocated.
 *
 * Build and run:
 *   cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DTOKGEO_FUZZ=ON -DTOKGEO_BUILD_PYTHON=OFF
 *   cmake --build build/fuzz && build/fuzz/fuzz_tokenizer -max_total_time=60 fuzz/corpus/fuzz_tokenizer
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokgeo/tokgeo.h"

static tg_tokenizer *gpt2 = NULL;

static void load_gpt2(void) {
    static int tried = 0;
    if (tried) return;
    tried = 1;
    char root[4096];
    const char *env = getenv("TOKGEO_ROOT");
    if (env) {
        snprintf(root, sizeof root, "%s", env);
    } else {
        snprintf(root, sizeof root, "%s", __FILE__);
        char *slash = strrchr(root, '/');
        if (slash) *slash = '\0'; /* .../fuzz */
        slash = strrchr(root, '/');
        if (slash) *slash = '\0'; /* repository root */
        else snprintf(root, sizeof root, ".");
    }
    char v[4200], m[4200];
    snprintf(v, sizeof v, "%s/tokgeo/data/gpt2/encoder.json", root);
    snprintf(m, sizeof m, "%s/tokgeo/data/gpt2/vocab.bpe", root);
    if (tg_tokenizer_load(&gpt2, v, m) != TG_OK) {
        fprintf(stderr, "fuzz_tokenizer: cannot load GPT-2 vocabulary (%s); set TOKGEO_ROOT\n", tg_last_error());
        __builtin_trap();
    }
}

static void check_round_trip(const tg_tokenizer *t, const uint8_t *s, size_t n, const tg_tokens *out, bool offsets) {
    int64_t *ids = malloc((out->n ? out->n : 1) * sizeof *ids);
    if (!ids) return;
    for (size_t i = 0; i < out->n; i++) ids[i] = out->ids[i];
    size_t size = 0;
    if (tg_decode_size(t, ids, out->n, &size) != TG_OK || size != n) __builtin_trap();
    uint8_t *buf = malloc(size ? size : 1);
    if (buf) {
        if (tg_decode(t, ids, out->n, buf) != TG_OK || (n && memcmp(buf, s, n) != 0)) __builtin_trap();
        free(buf);
    }
    free(ids);
    if (offsets) {
        int64_t pos = 0;
        for (size_t i = 0; i < out->n; i++) {
            if (out->offsets[2 * i] != pos || out->offsets[2 * i + 1] <= pos) __builtin_trap();
            pos = out->offsets[2 * i + 1];
        }
        if (pos != (int64_t)n) __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    uint8_t mode = data[0] % 5;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    if (mode == 0) {
        const uint8_t *sep = memchr(p, 0, n);
        if (!sep) return 0;
        size_t vlen = (size_t)(sep - p);
        tg_tokenizer *t = NULL;
        if (tg_tokenizer_load_buffers(&t, (const char *)p, vlen, "vocab", (const char *)sep + 1, n - vlen - 1, "merges") != TG_OK) {
            if (t != NULL) __builtin_trap();
            return 0;
        }
        tg_tokens out = {0};
        /* special tokens are left as text, so every input byte must come back */
        if (tg_encode(t, (const char *)p, n, NULL, TG_ENC_OFFSETS, &out) == TG_OK)
            check_round_trip(t, p, n, &out, true);
        tg_tokens_free(&out);
        tg_tokenizer_free(t);
        return 0;
    }
    load_gpt2();
    uint8_t special = (uint8_t)(p[0] % 3);
    p++;
    n--;
    if (mode == 3 || mode == 4) {
        size_t width = mode == 3 ? 2 : 4, units = n / width;
        void *buf = malloc(units ? units * width : 1);
        if (!buf) return 0;
        memcpy(buf, p, units * width);
        tg_text text = {buf, units, (int)width};
        tg_tokens out = {0};
        if (tg_encode_text(gpt2, &text, &special, TG_ENC_CHAR_OFFSETS, &out) == TG_OK) {
            int64_t end = 0;
            for (size_t i = 0; i < out.n; i++) {
                int64_t s0 = out.offsets[2 * i], e0 = out.offsets[2 * i + 1];
                if (s0 < 0 || e0 <= s0 || e0 > (int64_t)units || s0 > end) __builtin_trap();
                if (e0 > end) end = e0;
            }
            if (special == TG_SPECIAL_TEXT && end != (int64_t)units) __builtin_trap();
        } else if (out.n != 0) {
            __builtin_trap();
        }
        tg_tokens_free(&out);
        free(buf);
        return 0;
    }
    if (mode == 1) {
        tg_tokens out = {0};
        tg_status st = tg_encode(gpt2, (const char *)p, n, &special, (special & 1) ? TG_ENC_CHAR_OFFSETS : TG_ENC_OFFSETS, &out);
        if (st == TG_OK && special == TG_SPECIAL_TEXT) check_round_trip(gpt2, p, n, &out, true);
        if (st == TG_OK && special == TG_SPECIAL_ALLOW) check_round_trip(gpt2, p, n, &out, false);
        if (st != TG_OK && out.n != 0) __builtin_trap();
        tg_tokens_free(&out);
        return 0;
    }
    /* batch */
    size_t count = 0;
    const char *texts[64];
    size_t lens[64];
    size_t start = 0;
    for (size_t i = 0; i <= n && count < 64; i++) {
        if (i == n || p[i] == '\n') {
            texts[count] = (const char *)p + start;
            lens[count] = i - start;
            count++;
            start = i + 1;
        }
    }
    tg_batch *b = NULL;
    if (tg_encode_batch(gpt2, texts, lens, count, &special, TG_ENC_CHAR_OFFSETS, &b) == TG_OK) {
        size_t T = tg_batch_max_length(b);
        size_t cells = count * (T ? T : 1);
        int64_t *ids = malloc(cells * sizeof *ids), *offs = malloc(2 * cells * sizeof *offs), *lengths = malloc(count * sizeof *lengths);
        uint8_t *mask = malloc(cells);
        if (ids && offs && lengths && mask) {
            if (tg_batch_fill(b, T, 50256, (n & 1) != 0, ids, mask, lengths, offs) != TG_OK) __builtin_trap();
            for (size_t i = 0; i < count; i++)
                if ((size_t)lengths[i] != tg_batch_length(b, i) || (size_t)lengths[i] > T) __builtin_trap();
        }
        free(ids);
        free(offs);
        free(lengths);
        free(mask);
        tg_batch_free(b);
    } else if (b != NULL) {
        __builtin_trap();
    }
    return 0;
}
