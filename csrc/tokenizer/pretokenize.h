/* pretokenize.h - internal: GPT-2's split pattern as an inline forward scanner, shared by
 * pretokenize.c (tg_pretoken_len) and bpe.c (the encode loop, where inlining matters).
 * The algorithm is described at the top of pretokenize.c. */
#ifndef TG_PRETOKENIZE_H
#define TG_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/unicode_tables.h"

/* Class of the (valid) character at s[0] (n > 0 bytes available); its length in *len. */
static inline unsigned char_class(const uint8_t *s, size_t n, size_t *len) {
    uint8_t c = s[0];
    if (c < 0x80) {
        *len = 1;
        return tg_uc_ascii[c];
    }
    uint32_t cp;
    size_t l;
    if (c < 0xE0) {
        l = 2;
        cp = c & 0x1Fu;
    } else if (c < 0xF0) {
        l = 3;
        cp = c & 0x0Fu;
    } else {
        l = 4;
        cp = c & 0x07u;
    }
    if (l > n) { /* cannot happen on checked input; stay in bounds anyway */
        *len = n;
        return TG_UC_OTHER;
    }
    for (size_t k = 1; k < l; k++) cp = (cp << 6) | (s[k] & 0x3Fu);
    *len = l;
    if (cp >= 0x110000) return TG_UC_OTHER;
    return tg_uc_class(cp);
}

#if defined(__SSE2__)
#include <emmintrin.h>
#define TG_SCAN_SSE2 1

/* Bit k is set when p[k] (16 bytes readable at p) is an ASCII character of class `cls`
 * (the classes of tg_uc_ascii: letters A-Z a-z, numbers 0-9, whitespace TAB..CR and ' ',
 * every other ASCII byte "other").  Bytes >= 0x80 never have their bit set.  Unsigned
 * range tests in signed SSE2: x - lo < len  <=>  (x - lo) ^ 0x80 < len ^ 0x80 (signed). */
static inline unsigned ascii_class_bits16(const uint8_t *p, unsigned cls) {
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i top = _mm_set1_epi8((char)0x80);
#define TG_IN_RANGE(x, lo, len) \
    _mm_cmplt_epi8(_mm_xor_si128(_mm_sub_epi8((x), _mm_set1_epi8((char)(lo))), top), _mm_set1_epi8((char)((len) ^ 0x80)))
    /* v | 0x20 folds A-Z onto a-z and maps no other byte into a-z */
    const __m128i letter = TG_IN_RANGE(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 26);
    const __m128i number = TG_IN_RANGE(v, '0', 10);
    const __m128i space = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), TG_IN_RANGE(v, '\t', 5));
#undef TG_IN_RANGE
    const unsigned ascii = ~(unsigned)_mm_movemask_epi8(v) & 0xFFFFu;
    switch (cls) {
    case TG_UC_LETTER: return (unsigned)_mm_movemask_epi8(letter);
    case TG_UC_NUMBER: return (unsigned)_mm_movemask_epi8(number);
    case TG_UC_SPACE: return (unsigned)_mm_movemask_epi8(space);
    default: return ascii & ~(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, number), space));
    }
}
#endif

/* End of the maximal run of class `cls` starting at i (i <= n).  With SSE2, 16 bytes are
 * classified at a time while the run stays ASCII; the first non-ASCII byte hands over to
 * the character-by-character loop (a letter such as 'é' may continue the run). */
static inline size_t run_end(const uint8_t *s, size_t i, size_t n, unsigned cls) {
#ifdef TG_SCAN_SSE2
    while (n - i >= 16) {
        unsigned in = ascii_class_bits16(s + i, cls);
        if (in == 0xFFFFu) {
            i += 16;
            continue;
        }
        i += (size_t)__builtin_ctz(~in);
        if (s[i] < 0x80) return i;
        break;
    }
#endif
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (tg_uc_ascii[c] != cls) break;
            i++;
        } else {
            size_t l;
            if (char_class(s + i, n - i, &l) != cls) break;
            i += l;
        }
    }
    return i;
}

static inline size_t tg_pretoken_len_inline(const uint8_t *s, size_t n) {
    if (n == 0) return 0;
    uint8_t c = s[0];
    if (c == '\'' && n >= 2) {
        uint8_t c1 = s[1];
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
        if (n >= 3) {
            uint8_t c2 = s[2];
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
        }
    }
    size_t l0;
    unsigned cls0 = char_class(s, n, &l0);
    if (c == ' ' && n >= 2) {
        size_t l1;
        unsigned cls1 = char_class(s + 1, n - 1, &l1);
        if (cls1 != TG_UC_SPACE) return run_end(s, 1 + l1, n, cls1);
    }
    if (cls0 != TG_UC_SPACE) return run_end(s, l0, n, cls0);
    /* whitespace run */
    size_t i = 0, last = 0;
    while (i < n) {
        size_t l;
        if (s[i] < 0x80) {
            if (tg_uc_ascii[s[i]] != TG_UC_SPACE) break;
            l = 1;
        } else if (char_class(s + i, n - i, &l) != TG_UC_SPACE) {
            break;
        }
        last = i;
        i += l;
    }
    if (i == n) return n;   /* \s+(?!\S) at the end of the text */
    if (last > 0) return last; /* \s+(?!\S) leaves the last whitespace character */
    return i;               /* a single whitespace character: \s+ */
}

#endif /* TG_PRETOKENIZE_H */
