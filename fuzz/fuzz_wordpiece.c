/* fuzz_wordpiece.c - libFuzzer target for BERT's WordPiece: the vocab.txt loader and the
 * encoder, under ASan + UBSan.
 *
 * Input layout: byte 0 picks the options (bit 0 lowercase, bits 1-2 strip_accents -1/0/1,
 * bit 3 TG_WP_SPECIALS, bit 4 TG_WP_ADD_SPECIAL, bit 5 byte offsets instead of code
 * points, bit 6 the text as UCS-4 code units), then "vocab \x00 text".  When the vocabulary
 * loads, the text is encoded singly and as a two-text batch.
 * Checked invariants (a violation traps): a failed load leaves *out NULL; a failed encode
 * leaves n == 0; ids are in the vocabulary; offsets are non-decreasing starts, each
 * [start, end) non-empty and inside the text (but [CLS]/[SEP]'s [0, 0)); the batch gives
 * the same tokens as the single call; normalize's origins are non-decreasing in range.
 *
 *   cmake --build build/fuzz && build/fuzz/fuzz_wordpiece -max_total_time=60 fuzz/corpus/fuzz_wordpiece
 */
#include <stdlib.h>
#include <string.h>

#include "tokgeo/tokgeo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    uint8_t opt = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    const uint8_t *sep = memchr(p, 0, n);
    if (!sep) return 0;
    size_t vlen = (size_t)(sep - p);
    tg_wordpiece_opts o = {.lowercase = opt & 1, .strip_accents = (int)((opt >> 1) & 3) % 3 - 1,
                           .max_input_chars_per_word = 1 + (size_t)(opt >> 4)};
    tg_wordpiece *wp = (tg_wordpiece *)1;
    if (tg_wordpiece_load_buffer(&wp, (const char *)p, vlen, "fuzz", &o) != TG_OK) {
        if (wp != NULL) __builtin_trap();
        return 0;
    }
    const uint8_t *text = sep + 1;
    size_t tlen = n - vlen - 1;
    int flags = ((opt & 8) ? TG_WP_SPECIALS : 0) | ((opt & 16) ? TG_WP_ADD_SPECIAL : 0) |
                ((opt & 32) ? TG_ENC_OFFSETS : TG_ENC_CHAR_OFFSETS);
    tg_text t = {text, tlen, TG_TEXT_UTF8};
    uint32_t *u4 = NULL;
    size_t units = tlen; /* in the unit of the offsets when code points */
    if (opt & 64) {
        units = tlen / 4;
        u4 = malloc(units ? units * 4 : 1);
        if (!u4) goto out;
        memcpy(u4, text, units * 4);
        t = (tg_text){u4, units, TG_TEXT_UCS4};
    }
    tg_tokens one = {0};
    tg_status st = tg_wordpiece_encode(wp, &t, flags, &one);
    if (st != TG_OK) {
        if (one.n != 0) __builtin_trap();
    } else {
        size_t nv = tg_wordpiece_vocab_size(wp);
        for (size_t i = 0; i < one.n; i++) {
            if (one.ids[i] < 0 || (size_t)one.ids[i] >= nv) __builtin_trap();
            int64_t s = one.offsets[2 * i], e = one.offsets[2 * i + 1];
            if (s == 0 && e == 0) continue; /* [CLS] / [SEP] */
            if (s < 0 || e <= s || (size_t)e > ((flags & TG_ENC_CHAR_OFFSETS) == TG_ENC_CHAR_OFFSETS ? units : tlen * 4))
                __builtin_trap();
        }
        tg_text two[2] = {t, t};
        tg_tokens outs[2] = {{0}};
        if (tg_wordpiece_encode_batch(wp, two, 2, flags, outs) != TG_OK) __builtin_trap();
        for (int k = 0; k < 2; k++) {
            if (outs[k].n != one.n || (one.n && memcmp(outs[k].ids, one.ids, one.n * sizeof *one.ids) != 0)) __builtin_trap();
            tg_tokens_free(&outs[k]);
        }
        uint32_t *cps, *orig;
        size_t nn;
        if (tg_wordpiece_normalize(wp, &t, &cps, &orig, &nn) != TG_OK) __builtin_trap();
        for (size_t i = 0; i < nn; i++)
            if (orig[i] >= units || cps[i] > 0x10FFFF) __builtin_trap();
        free(cps);
        free(orig);
    }
    tg_tokens_free(&one);
out:
    free(u4);
    tg_wordpiece_free(wp);
    return 0;
}
