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
#include "tokgeo/tokenizer.h"

#include <string.h>

#include "tokenizer/pretokenize.h"

tg_status tg_utf8_check(const uint8_t *s, size_t n, bool *is_ascii) {
    size_t i = 0;
    bool ascii = true;
    while (i < n) {
        /* ASCII: 32 bytes at a time, then 8 */
        while (i + 32 <= n) {
            uint64_t w[4];
            memcpy(w, s + i, 32);
            if ((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ull) break;
            i += 32;
        }
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

size_t tg_pretoken_len(const uint8_t *s, size_t n) { return tg_pretoken_len_inline(s, n); }
