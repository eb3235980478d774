/* pretokenize_cl100k.h - internal: GPT-4's cl100k_base split pattern as an inline forward
 * scanner (shared by the byte-level BPE encoder in bpe.c and the BPE trainer).
 *
 * The pattern, as tiktoken 0.14 publishes it for cl100k_base:
 *   '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+
 *   |\s++$|\s*[\r\n]|\s+(?!\S)|\s
 * An ordered alternation; with one class per character (unicode_tables.h: letter, number,
 * White_Space, other) the first alternative that matches at a position reads:
 *   1. an apostrophe then s d m t, or ll ve re, in any case (Unicode simple case folding,
 *      so U+017F LATIN SMALL LETTER LONG S counts as an s);
 *   2. one optional character that is not CR, LF, a letter or a number, then a maximal
 *      letter run (the prefix is possessive: a prefix not followed by a letter fails);
 *   3. one to three numbers;
 *   4. an optional ' ' then a maximal run of "other" characters, then any CR / LF run;
 *   5. a whitespace run that reaches the end of the text: all of it;
 *   6. a whitespace run holding CR or LF: up to and including its last CR / LF;
 *   7. a whitespace run of two or more characters: all but its last character;
 *   8. one whitespace character.
 * Every character is looked at a bounded number of times: linear time, constant stack. */
#ifndef TG_PRETOKENIZE_CL100K_H
#define TG_PRETOKENIZE_CL100K_H

#include "tokenizer/pretokenize.h"

static inline int tg_cl100k_fold(uint8_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Length of the cl100k pre-token at s[0] in the valid UTF-8 stretch s[0..n), n > 0. */
static inline size_t tg_pretoken_len_cl100k(const uint8_t *s, size_t n) {
    if (n == 0) return 0;
    uint8_t c = s[0];
    if (c == '\'' && n >= 2) {
        int c1 = tg_cl100k_fold(s[1]);
        if (c1 == 's' || c1 == 'd' || c1 == 'm' || c1 == 't') return 2;
        if (s[1] == 0xC5 && n >= 3 && s[2] == 0xBF) return 3; /* U+017F folds to s */
        if (n >= 3) {
            int c2 = tg_cl100k_fold(s[2]);
            if ((c1 == 'l' && c2 == 'l') || (c1 == 'v' && c2 == 'e') || (c1 == 'r' && c2 == 'e')) return 3;
        }
    }
    size_t l0;
    unsigned cls0 = char_class(s, n, &l0);
    /* 2. [^\r\n\p{L}\p{N}]?+\p{L}++ */
    if (cls0 == TG_UC_LETTER) return run_end(s, l0, n, TG_UC_LETTER);
    if (cls0 != TG_UC_NUMBER && c != '\r' && c != '\n' && l0 < n) {
        size_t l1;
        if (char_class(s + l0, n - l0, &l1) == TG_UC_LETTER) return run_end(s, l0 + l1, n, TG_UC_LETTER);
    }
    /* 3. \p{N}{1,3}+ */
    if (cls0 == TG_UC_NUMBER) {
        size_t i = l0;
        for (int k = 1; k < 3 && i < n; k++) {
            size_t l;
            if (char_class(s + i, n - i, &l) != TG_UC_NUMBER) break;
            i += l;
        }
        return i;
    }
    /* 4. ' ?[^\s\p{L}\p{N}]++[\r\n]*+' */
    size_t start = n;
    if (cls0 == TG_UC_OTHER) {
        start = 0;
    } else if (c == ' ' && n >= 2) {
        size_t l1;
        if (char_class(s + 1, n - 1, &l1) == TG_UC_OTHER) start = 1;
    }
    if (start < n) {
        size_t l;
        char_class(s + start, n - start, &l);
        size_t i = run_end(s, start + l, n, TG_UC_OTHER);
        while (i < n && (s[i] == '\r' || s[i] == '\n')) i++;
        return i;
    }
    /* 5-8: whitespace */
    size_t i = 0, last = 0, last_crlf = SIZE_MAX;
    while (i < n) {
        size_t l;
        if (s[i] < 0x80) {
            if (tg_uc_ascii[s[i]] != TG_UC_SPACE) break;
            l = 1;
            if (s[i] == '\r' || s[i] == '\n') last_crlf = i;
        } else if (char_class(s + i, n - i, &l) != TG_UC_SPACE) {
            break;
        }
        last = i;
        i += l;
    }
    if (i == 0) return l0;               /* not reached for valid input: cls0 is SPACE here */
    if (i == n) return n;                /* \s++$ */
    if (last_crlf != SIZE_MAX) return last_crlf + 1; /* \s*[\r\n] */
    if (last > 0) return last;           /* \s+(?!\S) */
    return i;                            /* \s */
}

#endif /* TG_PRETOKENIZE_CL100K_H */
