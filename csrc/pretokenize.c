/* pretokenize.c - UTF-8 checking and GPT-2's split pattern as a forward scanner.
 *
 * The pattern  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * is an ordered alternation, so at each position the first alternative that matches wins
 * and the greedy runs take as much as they can.  With one class per character
 * (letter / number / space / other, see unicode_tables.h) that reads:
 *
 *   - an apostrophe followed by s t m d, or by re ve ll (lower case): 2 or 3 bytes;
 *   - an optional ' ' (U+0020 only) then a maximal run of letters, or of numbers, or of
 *     "other" characters, whichever class the first character after the ' ' has;
 *   - otherwise a maximal whitespace run; if it ends the text, all of it; if a non-space
 *     follows and the run has more than one character, all but its last character
 *     (\s+(?!\S) backtracks one character, leaving that one to prefix the next word);
 *     a single whitespace character before a non-space is matched by the final \s+.
 *
 * Each step looks at every character once, so a million spaces, letters or apostrophes
 * take linear time and constant stack.
 */
#include "tg_tokenizer.h"

#include <string.h>

#include "unicode_tables.h"

tg_status tg_utf8_check(const uint8_t *s, size_t n, bool *is_ascii) {
    size_t i = 0;
    bool ascii = true;
    while (i < n) {
        /* 8 ASCII bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        ascii = false;
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07u;
        } else {
            return tg_fail(TG_ERR_UNICODE, "invalid UTF-8 at byte %zu: byte 0x%02X cannot start a character", i, c);
        }
        if (n - i - 1 < need) return tg_fail(TG_ERR_UNICODE, "invalid UTF-8 at byte %zu: truncated character", i);
        for (size_t k = 1; k <= need; k++) {
            uint8_t d = s[i + k];
            if ((d & 0xC0) != 0x80)
                return tg_fail(TG_ERR_UNICODE, "invalid UTF-8 at byte %zu: byte 0x%02X is not a continuation byte", i + k, d);
            cp = (cp << 6) | (d & 0x3Fu);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return tg_fail(TG_ERR_UNICODE, "invalid UTF-8 at byte %zu: overlong or out-of-range character", i);
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return tg_fail(TG_ERR_UNICODE, "invalid UTF-8 at byte %zu: surrogate U+%04X", i, (unsigned)cp);
        i += need + 1;
    }
    if (is_ascii) *is_ascii = ascii;
    return TG_OK;
}

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

/* End of the maximal run of class `cls` starting at i. */
static inline size_t run_end(const uint8_t *s, size_t i, size_t n, unsigned cls) {
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

size_t tg_pretoken_len(const uint8_t *s, size_t n) {
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
