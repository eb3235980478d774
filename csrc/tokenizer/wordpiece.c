/* wordpiece.c - BERT's WordPiece tokenizer (tokgeo/tokenizer.h, "WordPiece"): the vocab.txt
 * loader, BERT's normaliser and basic pre-tokenizer, and greedy longest-match-first.
 *
 * Design notes.
 * - One pass per text segment: the segment's code points are normalised into a buffer of
 *   (code point, origin) pairs, where origin is the index of the input character it came
 *   from (Hugging Face's NormalizedString aligns each normalised character to the whole
 *   original character in the same way), then cut into words and each word matched.
 * - Normalisation follows tokenizers' BertNormalizer in its order: clean text (drop NUL,
 *   U+FFFD, Cc but tab/LF/CR, Cf, Co; White_Space -> ' '), CJK ideographs get a space on
 *   each side, strip accents (full canonical decomposition with canonical reordering, then
 *   drop Mn; reordering happens before the drop, as NFD then filter does), lower case per
 *   code point (no final-sigma context).  The character data is wordpiece_tables.h
 *   (Unicode 16.0, scripts/gen_unicode_tables.py --wordpiece).
 * - The vocabulary is a hash table of the token bytes (open addressing, FNV-1a); the
 *   longest-match loop only tries substrings no longer than the longest token.
 * - Special tokens ([UNK] [CLS] [SEP] [PAD] [MASK], those in the vocabulary) are matched
 *   in the raw text before normalisation when TG_WP_SPECIALS is set, as tokenizers'
 *   added-vocabulary does for BertWordPieceTokenizer / BertTokenizerFast.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "tokgeo/tokenizer.h"
#include "base/internal.h"
#include "base/mapfile.h"
#include "tokenizer/wordpiece_tables.h"

#define WP_MAX_TEXT_CHARS ((size_t)UINT32_MAX)

static const char *const special_names[TG_WP_N_SPECIAL] = {"[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"};

struct tg_wordpiece {
    char *pool;          /* token bytes, back to back          [pool_len]   */
    uint32_t *tok_off;   /* start of token i in pool            [n_vocab]    */
    uint32_t *tok_len;   /* its length in bytes                 [n_vocab]    */
    size_t n_vocab;
    uint32_t *slots;     /* hash table: id + 1, 0 = empty       [mask + 1]   */
    size_t mask;
    size_t max_token_len; /* longest token, bytes */
    int32_t special[TG_WP_N_SPECIAL];
    bool lowercase, strip_accents, clean_text, chinese;
    size_t max_chars;
};

/* ---------------------------------------------------------------- vocabulary */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int32_t lookup(const tg_wordpiece *wp, const char *s, size_t n) {
    if (n > wp->max_token_len) return -1;
    size_t i = (size_t)hash_bytes(s, n) & wp->mask;
    for (;;) {
        uint32_t v = wp->slots[i];
        if (v == 0) return -1;
        uint32_t id = v - 1;
        if (wp->tok_len[id] == n && memcmp(wp->pool + wp->tok_off[id], s, n) == 0) return (int32_t)id;
        i = (i + 1) & wp->mask;
    }
}

void tg_wordpiece_free(tg_wordpiece *wp) {
    if (!wp) return;
    free(wp->pool);
    free(wp->tok_off);
    free(wp->tok_len);
    free(wp->slots);
    free(wp);
}

static bool trailing_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

tg_status tg_wordpiece_load_buffer(tg_wordpiece **out, const char *data, size_t len, const char *name,
                                   const tg_wordpiece_opts *opts) {
    *out = NULL;
    if (!name) name = "vocab.txt";
    tg_wordpiece_opts o = opts ? *opts : (tg_wordpiece_opts){.lowercase = true, .strip_accents = -1};
    if (o.strip_accents < -1 || o.strip_accents > 1)
        return tg_fail(TG_ERR_VALUE, "strip_accents must be -1 (as lowercase), 0 or 1, got %d", o.strip_accents);
    if (len == 0 || data == NULL)
        return tg_fail(TG_ERR_FORMAT, "%s is empty: a WordPiece vocabulary has one token per line ([PAD], [UNK], ...)", name);
    if (len > UINT32_MAX) return tg_fail(TG_ERR_FORMAT, "%s is larger than 4 GiB", name);
    /* count lines */
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    if (data[len - 1] != '\n') lines++;
    if (lines > (size_t)TG_TOKENIZER_MAX_ID + 1)
        return tg_fail(TG_ERR_FORMAT, "%s has %zu lines; at most %d tokens are supported", name, lines,
                       TG_TOKENIZER_MAX_ID + 1);
    tg_wordpiece *wp = calloc(1, sizeof *wp);
    if (!wp) return tg_fail(TG_ERR_NOMEM, "out of memory");
    size_t cap = 16;
    while (cap < 2 * lines) cap *= 2;
    wp->mask = cap - 1;
    wp->pool = malloc(len);
    wp->tok_off = malloc(lines * sizeof *wp->tok_off);
    wp->tok_len = malloc(lines * sizeof *wp->tok_len);
    wp->slots = calloc(cap, sizeof *wp->slots);
    if (!wp->pool || !wp->tok_off || !wp->tok_len || !wp->slots) {
        tg_wordpiece_free(wp);
        return tg_fail(TG_ERR_NOMEM, "out of memory for a vocabulary of %zu lines", lines);
    }
    size_t pos = 0, used = 0, id = 0;
    tg_status st = TG_OK;
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl != NULL);
        size_t lineno = id + 1;
        while (n > 0 && trailing_space((unsigned char)line[n - 1])) n--;
        if (n == 0) {
            st = tg_fail(TG_ERR_FORMAT, "%s line %zu is empty: every line must hold one token", name, lineno);
            break;
        }
        if (tg_utf8_check((const uint8_t *)line, n, NULL) != TG_OK) {
            size_t bad = 0;
            while (bad < n && tg_utf8_len((const unsigned char *)line + bad, n - bad) != 0)
                bad += tg_utf8_len((const unsigned char *)line + bad, n - bad);
            st = tg_fail(TG_ERR_FORMAT, "%s line %zu is not UTF-8 (invalid byte 0x%02X at byte %zu of the line)", name,
                         lineno, (unsigned char)line[bad], bad);
            break;
        }
        size_t h = (size_t)hash_bytes(line, n) & wp->mask;
        bool dup = false;
        while (wp->slots[h] != 0) {
            uint32_t other = wp->slots[h] - 1;
            if (wp->tok_len[other] == n && memcmp(wp->pool + wp->tok_off[other], line, n) == 0) {
                st = tg_fail(TG_ERR_FORMAT, "%s line %zu: token \"%.*s\" is already on line %u (each token once)", name,
                             lineno, (int)(n > 200 ? 200 : n), line, other + 1);
                dup = true;
                break;
            }
            h = (h + 1) & wp->mask;
        }
        if (dup) break;
        memcpy(wp->pool + used, line, n);
        wp->tok_off[id] = (uint32_t)used;
        wp->tok_len[id] = (uint32_t)n;
        wp->slots[h] = (uint32_t)id + 1;
        used += n;
        if (n > wp->max_token_len) wp->max_token_len = n;
        id++;
    }
    if (st != TG_OK) {
        tg_wordpiece_free(wp);
        return st;
    }
    wp->n_vocab = id;
    const char *unk = o.unk_token ? o.unk_token : "[UNK]";
    for (int k = 0; k < TG_WP_N_SPECIAL; k++) {
        const char *s = k == TG_WP_UNK ? unk : special_names[k];
        wp->special[k] = lookup(wp, s, strlen(s));
    }
    if (wp->special[TG_WP_UNK] < 0) {
        st = tg_fail(TG_ERR_FORMAT,
                     "%s has no line \"%s\": a WordPiece vocabulary needs its unknown token (BERT's vocab.txt has "
                     "[UNK] on line 101)",
                     name, unk);
        tg_wordpiece_free(wp);
        return st;
    }
    wp->lowercase = o.lowercase;
    wp->strip_accents = o.strip_accents < 0 ? o.lowercase : o.strip_accents == 1;
    wp->clean_text = !o.no_clean_text;
    wp->chinese = !o.no_chinese_chars;
    wp->max_chars = o.max_input_chars_per_word ? o.max_input_chars_per_word : 100;
    *out = wp;
    return TG_OK;
}

tg_status tg_wordpiece_load(tg_wordpiece **out, const char *path, const tg_wordpiece_opts *opts) {
    *out = NULL;
    tg_mapfile *m = NULL;
    tg_status st = tg_mapfile_open(path, &m);
    if (st != TG_OK) return st;
    st = tg_wordpiece_load_buffer(out, (const char *)m->data, m->size, path, opts);
    tg_mapfile_close(m);
    return st;
}

size_t tg_wordpiece_vocab_size(const tg_wordpiece *wp) { return wp->n_vocab; }

bool tg_wordpiece_token(const tg_wordpiece *wp, int64_t id, const char **s, size_t *len) {
    if (id < 0 || (uint64_t)id >= wp->n_vocab) return false;
    *s = wp->pool + wp->tok_off[id];
    *len = wp->tok_len[id];
    return true;
}

int32_t tg_wordpiece_token_id(const tg_wordpiece *wp, const char *s, size_t len) { return lookup(wp, s, len); }

int32_t tg_wordpiece_special_id(const tg_wordpiece *wp, int which) {
    return (which >= 0 && which < TG_WP_N_SPECIAL) ? wp->special[which] : -1;
}

/* ---------------------------------------------------------------- text input */

/* Code points of a tg_text into a new array (*cps, caller frees). */
static tg_status read_text(const tg_text *t, uint32_t **cps, size_t *n) {
    *cps = NULL;
    *n = 0;
    if (t->len > WP_MAX_TEXT_CHARS) return tg_fail(TG_ERR_VALUE, "text too long: at most 2^32 - 1 code units");
    if (t->len && !t->data) return tg_fail(TG_ERR_VALUE, "text has no data");
    uint32_t *c = malloc((t->len ? t->len : 1) * sizeof *c);
    if (!c) return tg_fail(TG_ERR_NOMEM, "out of memory for a text of %zu code units", t->len);
    size_t k = 0;
    if (t->width == TG_TEXT_UTF8) {
        const unsigned char *s = t->data;
        for (size_t i = 0; i < t->len;) {
            size_t l = tg_utf8_len(s + i, t->len - i);
            if (l == 0) {
                free(c);
                return tg_fail(TG_ERR_UNICODE, "invalid UTF-8 byte 0x%02X at byte offset %zu", s[i], i);
            }
            uint32_t v = l == 1 ? s[i]
                         : l == 2 ? (uint32_t)(s[i] & 0x1F) << 6 | (s[i + 1] & 0x3F)
                         : l == 3 ? (uint32_t)(s[i] & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F)
                                  : (uint32_t)(s[i] & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3F) << 12 |
                                        (uint32_t)(s[i + 2] & 0x3F) << 6 | (s[i + 3] & 0x3F);
            c[k++] = v;
            i += l;
        }
    } else if (t->width == TG_TEXT_LATIN1 || t->width == TG_TEXT_UCS2 || t->width == TG_TEXT_UCS4) {
        for (size_t i = 0; i < t->len; i++) {
            uint32_t v = t->width == TG_TEXT_LATIN1 ? ((const uint8_t *)t->data)[i]
                         : t->width == TG_TEXT_UCS2 ? ((const uint16_t *)t->data)[i]
                                                    : ((const uint32_t *)t->data)[i];
            if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) {
                free(c);
                return tg_fail(TG_ERR_UNICODE, "code point U+%04X at index %zu cannot be encoded (surrogate or beyond U+10FFFF)",
                               (unsigned)v, i);
            }
            c[k++] = v;
        }
    } else {
        free(c);
        return tg_fail(TG_ERR_VALUE, "unknown text width %d", t->width);
    }
    *cps = c;
    *n = k;
    return TG_OK;
}

/* ---------------------------------------------------------------- normalisation */

typedef struct norm_buf {
    uint32_t *cp;   /* [n] normalised code points */
    uint32_t *orig; /* [n] index of the input character each came from */
    size_t n, cap;
} norm_buf;

static void norm_free(norm_buf *b) {
    free(b->cp);
    free(b->orig);
    memset(b, 0, sizeof *b);
}

static bool norm_push(norm_buf *b, uint32_t cp, uint32_t orig) {
    if (b->n == b->cap) {
        size_t nc;
        if (!tg_mul_size(b->cap ? b->cap : 32, 2, &nc) || nc > SIZE_MAX / sizeof(uint32_t)) return false;
        uint32_t *a = realloc(b->cp, nc * sizeof *a);
        if (!a) return false;
        b->cp = a;
        uint32_t *o = realloc(b->orig, nc * sizeof *o);
        if (!o) return false;
        b->orig = o;
        b->cap = nc;
    }
    b->cp[b->n] = cp;
    b->orig[b->n] = orig;
    b->n++;
    return true;
}

static const tg_wp_map *map_find(const tg_wp_map *m, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m[mid].cp < cp) lo = mid + 1;
        else hi = mid;
    }
    return (lo < n && m[lo].cp == cp) ? &m[lo] : NULL;
}

/* Full canonical decomposition of cp into d[0..4); returns the count. */
static size_t decompose(uint32_t cp, unsigned props, uint32_t d[4]) {
    if (!(props & TG_WP_NFD)) {
        d[0] = cp;
        return 1;
    }
    if (cp >= 0xAC00 && cp <= 0xD7A3) { /* Hangul syllables, Unicode 3.12 */
        uint32_t s = cp - 0xAC00, l = s / 588, v = (s % 588) / 28, t = s % 28;
        d[0] = 0x1100 + l;
        d[1] = 0x1161 + v;
        if (t == 0) return 2;
        d[2] = 0x11A7 + t;
        return 3;
    }
    const tg_wp_map *m = map_find(tg_wp_nfd_map, sizeof tg_wp_nfd_map / sizeof tg_wp_nfd_map[0], cp);
    if (!m) {
        d[0] = cp;
        return 1;
    }
    for (size_t i = 0; i < m->len; i++) d[i] = tg_wp_pool[m->off + i];
    return m->len;
}

static inline unsigned ccc_of(uint32_t cp) { return tg_wp_props(cp) >> 8; }

/* Normalises cps[a..b) (origins a..b-1) into out (which is emptied first). */
static tg_status normalize(const tg_wordpiece *wp, const uint32_t *cps, size_t a, size_t b, norm_buf *out,
                           norm_buf *tmp) {
    out->n = 0;
    tmp->n = 0;
    norm_buf *first = wp->strip_accents || wp->lowercase ? tmp : out;
    for (size_t i = a; i < b; i++) {
        uint32_t c = cps[i];
        unsigned p = tg_wp_props(c);
        if (wp->clean_text) {
            if (c == 0 || c == 0xFFFD || (p & TG_WP_DROP)) continue;
            if (p & TG_WP_SPACE) {
                c = ' ';
                p = tg_wp_props(c);
            }
        }
        bool cjk = wp->chinese && (p & TG_WP_CJK);
        if (cjk && !norm_push(first, ' ', (uint32_t)i)) goto nomem;
        uint32_t d[4];
        size_t k = wp->strip_accents ? decompose(c, p, d) : (d[0] = c, 1);
        for (size_t j = 0; j < k; j++) {
            if (!norm_push(first, d[j], (uint32_t)i)) goto nomem;
            if (!wp->strip_accents) continue;
            /* canonical reordering: a mark moves before marks of a higher class (stable) */
            unsigned cc = ccc_of(d[j]);
            if (cc == 0) continue;
            for (size_t q = first->n - 1; q > 0; q--) {
                unsigned pc = ccc_of(first->cp[q - 1]);
                if (pc == 0 || pc <= cc) break;
                uint32_t t0 = first->cp[q - 1], t1 = first->orig[q - 1];
                first->cp[q - 1] = first->cp[q];
                first->orig[q - 1] = first->orig[q];
                first->cp[q] = t0;
                first->orig[q] = t1;
            }
        }
        if (cjk && !norm_push(first, ' ', (uint32_t)i)) goto nomem;
    }
    if (first == out) return TG_OK;
    for (size_t i = 0; i < tmp->n; i++) {
        uint32_t c = tmp->cp[i];
        unsigned p = tg_wp_props(c);
        if (wp->strip_accents && (p & TG_WP_MN)) continue;
        if (wp->lowercase && (p & TG_WP_LOWER)) {
            const tg_wp_map *m = map_find(tg_wp_lower_map, sizeof tg_wp_lower_map / sizeof tg_wp_lower_map[0], c);
            if (m) {
                for (size_t j = 0; j < m->len; j++)
                    if (!norm_push(out, tg_wp_pool[m->off + j], tmp->orig[i])) goto nomem;
                continue;
            }
        }
        if (!norm_push(out, c, tmp->orig[i])) goto nomem;
    }
    return TG_OK;
nomem:
    return tg_fail(TG_ERR_NOMEM, "out of memory while normalising a text");
}

/* ---------------------------------------------------------------- output */

static tg_status tokens_push(tg_tokens *o, int32_t id, int64_t s, int64_t e, bool offsets) {
    if (o->n == o->cap || o->ids == NULL || (offsets && o->offsets == NULL)) {
        size_t nc = o->cap;
        if (o->n == o->cap && !tg_mul_size(nc ? nc : 16, 2, &nc)) return tg_fail(TG_ERR_OVERFLOW, "too many tokens");
        if (nc == 0) nc = 16;
        size_t b2;
        if (!tg_mul3_size(nc, 2, sizeof(int64_t), &b2)) return tg_fail(TG_ERR_OVERFLOW, "too many tokens");
        int32_t *ids = realloc(o->ids, nc * sizeof *ids);
        if (!ids) return tg_fail(TG_ERR_NOMEM, "out of memory for %zu tokens", nc);
        o->ids = ids;
        if (offsets || o->offsets) {
            int64_t *off = realloc(o->offsets, b2);
            if (!off) return tg_fail(TG_ERR_NOMEM, "out of memory for %zu tokens", nc);
            o->offsets = off;
        }
        o->cap = nc;
    }
    o->ids[o->n] = id;
    if (offsets) {
        o->offsets[2 * o->n] = s;
        o->offsets[2 * o->n + 1] = e;
    }
    o->n++;
    return TG_OK;
}

typedef struct enc_state {
    const tg_wordpiece *wp;
    int flags;
    const size_t *bstart; /* byte start of each input character [n + 1], NULL: char offsets */
    tg_tokens *out;
    norm_buf norm, tmp;
    char *word;           /* UTF-8 of the current word [word_cap]            */
    size_t *cb;           /* byte start of each char of the word [cb_cap]    */
    char *cand;           /* "##" + candidate substring [max_token_len + 2]  */
    size_t word_cap, cb_cap;
} enc_state;

static void state_free(enc_state *s) {
    norm_free(&s->norm);
    norm_free(&s->tmp);
    free(s->word);
    free(s->cb);
    free(s->cand);
}

static tg_status emit(enc_state *s, int32_t id, size_t orig_first, size_t orig_last) {
    bool off = (s->flags & TG_ENC_OFFSETS) != 0;
    int64_t a = (int64_t)orig_first, e = (int64_t)orig_last + 1;
    if (s->bstart) {
        a = (int64_t)s->bstart[orig_first];
        e = (int64_t)s->bstart[orig_last + 1];
    }
    return tokens_push(s->out, id, a, e, off);
}

static size_t utf8_put(uint32_t c, char *p) {
    if (c < 0x80) {
        p[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        p[0] = (char)(0xC0 | c >> 6);
        p[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        p[0] = (char)(0xE0 | c >> 12);
        p[1] = (char)(0x80 | (c >> 6 & 0x3F));
        p[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    p[0] = (char)(0xF0 | c >> 18);
    p[1] = (char)(0x80 | (c >> 12 & 0x3F));
    p[2] = (char)(0x80 | (c >> 6 & 0x3F));
    p[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* WordPiece of the normalised characters norm[a..b). */
static tg_status encode_word(enc_state *s, size_t a, size_t b) {
    const tg_wordpiece *wp = s->wp;
    const norm_buf *nb = &s->norm;
    size_t L = b - a;
    if (s->flags & TG_WP_WORDS) return tokens_push(s->out, -1, (int64_t)a, (int64_t)b, true);
    int32_t unk = wp->special[TG_WP_UNK];
    if (L > wp->max_chars) return emit(s, unk, nb->orig[a], nb->orig[b - 1]);
    size_t need;
    if (!tg_mul_size(L, 4, &need)) return tg_fail(TG_ERR_OVERFLOW, "word too long");
    if (need > s->word_cap) {
        char *w = realloc(s->word, need);
        if (!w) return tg_fail(TG_ERR_NOMEM, "out of memory");
        s->word = w;
        s->word_cap = need;
    }
    if (L + 1 > s->cb_cap) {
        size_t *c = realloc(s->cb, (L + 1) * sizeof *c);
        if (!c) return tg_fail(TG_ERR_NOMEM, "out of memory");
        s->cb = c;
        s->cb_cap = L + 1;
    }
    size_t pos = 0;
    for (size_t i = 0; i < L; i++) {
        s->cb[i] = pos;
        pos += utf8_put(nb->cp[a + i], s->word + pos);
    }
    s->cb[L] = pos;
    size_t first_tok = s->out->n;
    size_t start = 0;
    while (start < L) {
        size_t pre = start > 0 ? 2 : 0;
        int32_t found = -1;
        size_t end = L;
        for (; end > start; end--) {
            size_t bl = s->cb[end] - s->cb[start];
            if (bl + pre > wp->max_token_len) continue;
            const char *key = s->word + s->cb[start];
            if (pre) {
                memcpy(s->cand + 2, key, bl);
                key = s->cand;
            }
            found = lookup(wp, key, bl + pre);
            if (found >= 0) break;
        }
        if (found < 0) { /* the whole word is unknown */
            s->out->n = first_tok;
            return emit(s, unk, nb->orig[a], nb->orig[b - 1]);
        }
        tg_status st = emit(s, found, nb->orig[a + start], nb->orig[a + end - 1]);
        if (st != TG_OK) return st;
        start = end;
    }
    return TG_OK;
}

/* Normalises, splits and matches the input characters cps[a..b). */
static tg_status encode_segment(enc_state *s, const uint32_t *cps, size_t a, size_t b) {
    if (a == b) return TG_OK;
    tg_status st = normalize(s->wp, cps, a, b, &s->norm, &s->tmp);
    if (st != TG_OK) return st;
    const norm_buf *nb = &s->norm;
    size_t w0 = 0;
    bool in_word = false;
    for (size_t i = 0; i < nb->n; i++) {
        unsigned p = tg_wp_props(nb->cp[i]);
        if (p & (TG_WP_SPACE | TG_WP_PUNCT)) {
            if (in_word && (st = encode_word(s, w0, i)) != TG_OK) return st;
            in_word = false;
            if ((p & TG_WP_PUNCT) && (st = encode_word(s, i, i + 1)) != TG_OK) return st;
        } else if (!in_word) {
            in_word = true;
            w0 = i;
        }
    }
    if (in_word) return encode_word(s, w0, nb->n);
    return TG_OK;
}

/* Length of the special token (ASCII name) matching cps[i..n), or 0. */
static size_t special_at(const tg_wordpiece *wp, const uint32_t *cps, size_t i, size_t n, int32_t *id) {
    if (cps[i] != '[') return 0;
    for (int k = 0; k < TG_WP_N_SPECIAL; k++) {
        if (wp->special[k] < 0) continue;
        const char *name;
        size_t len;
        tg_wordpiece_token(wp, wp->special[k], &name, &len);
        if (len > n - i) continue;
        size_t j = 0;
        while (j < len && cps[i + j] == (unsigned char)name[j]) j++;
        if (j == len) {
            *id = wp->special[k];
            return len;
        }
    }
    return 0;
}

static tg_status encode_one(const tg_wordpiece *wp, const tg_text *text, int flags, tg_tokens *out) {
    out->n = 0;
    uint32_t *cps = NULL;
    size_t n = 0;
    size_t *bstart = NULL;
    enc_state s = {.wp = wp, .flags = flags, .out = out};
    tg_status st = read_text(text, &cps, &n);
    if (st != TG_OK) return st;
    if ((flags & TG_ENC_OFFSETS) && (flags & TG_ENC_CHAR_OFFSETS) != TG_ENC_CHAR_OFFSETS) {
        bstart = malloc((n + 1) * sizeof *bstart);
        if (!bstart) {
            st = tg_fail(TG_ERR_NOMEM, "out of memory");
            goto done;
        }
        size_t p = 0;
        for (size_t i = 0; i < n; i++) {
            bstart[i] = p;
            p += cps[i] < 0x80 ? 1 : cps[i] < 0x800 ? 2 : cps[i] < 0x10000 ? 3 : 4;
        }
        bstart[n] = p;
        s.bstart = bstart;
    }
    s.cand = malloc(wp->max_token_len + 2);
    if (!s.cand) {
        st = tg_fail(TG_ERR_NOMEM, "out of memory");
        goto done;
    }
    s.cand[0] = s.cand[1] = '#';
    bool add = (flags & TG_WP_ADD_SPECIAL) && !(flags & TG_WP_WORDS);
    if (add) {
        if (wp->special[TG_WP_CLS] < 0 || wp->special[TG_WP_SEP] < 0) {
            st = tg_fail(TG_ERR_VALUE, "the vocabulary has no [CLS] or no [SEP] token; encode without add_special_tokens");
            goto done;
        }
        if ((st = tokens_push(out, wp->special[TG_WP_CLS], 0, 0, (flags & TG_ENC_OFFSETS) != 0)) != TG_OK) goto done;
    }
    size_t seg = 0;
    for (size_t i = 0; i < n;) {
        int32_t id;
        size_t l = (flags & TG_WP_SPECIALS) && !(flags & TG_WP_WORDS) ? special_at(wp, cps, i, n, &id) : 0;
        if (l == 0) {
            i++;
            continue;
        }
        if ((st = encode_segment(&s, cps, seg, i)) != TG_OK) goto done;
        if ((st = emit(&s, id, i, i + l - 1)) != TG_OK) goto done;
        i += l;
        seg = i;
    }
    if ((st = encode_segment(&s, cps, seg, n)) != TG_OK) goto done;
    if (add) st = tokens_push(out, wp->special[TG_WP_SEP], 0, 0, (flags & TG_ENC_OFFSETS) != 0);
done:
    if (st != TG_OK) out->n = 0;
    state_free(&s);
    free(bstart);
    free(cps);
    return st;
}

tg_status tg_wordpiece_encode(const tg_wordpiece *wp, const tg_text *text, int flags, tg_tokens *out) {
    if (!wp || !text || !out) return tg_fail(TG_ERR_VALUE, "tg_wordpiece_encode: NULL argument");
    return encode_one(wp, text, flags, out);
}

tg_status tg_wordpiece_encode_batch(const tg_wordpiece *wp, const tg_text *texts, size_t n, int flags,
                                    tg_tokens *outs) {
    if (!wp || (n && (!texts || !outs))) return tg_fail(TG_ERR_VALUE, "tg_wordpiece_encode_batch: NULL argument");
    int nt = tg_get_num_threads();
    size_t total = 0;
    for (size_t i = 0; i < n && total < 65536; i++) total += texts[i].len;
    if (nt < 1 || total < 65536) nt = 1;
    if ((size_t)nt > n) nt = n > 0 ? (int)n : 1;
    tg_status err = TG_OK;
    size_t err_index = SIZE_MAX;
    char err_msg[1024] = "";
    /* texts at or past the lowest failure so far are skipped (0 after an interrupt); every
     * text before it is still encoded, so the reported index is the lowest whatever the timing */
    size_t limit = SIZE_MAX;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
#endif
    for (size_t i = 0; i < n; i++) {
        size_t cut;
#ifdef _OPENMP
#pragma omp atomic read
#endif
        cut = limit;
        if (i >= cut) continue;
        tg_status st;
#ifdef _OPENMP
        bool master = omp_get_thread_num() == 0;
#else
        bool master = true;
#endif
        if (master && tg_interrupted())
            st = tg_fail(TG_ERR_INTERRUPTED, "interrupted");
        else
            st = encode_one(wp, &texts[i], flags, &outs[i]);
        if (st != TG_OK) {
#ifdef _OPENMP
#pragma omp critical(tg_wp_batch_err)
#endif
            {
                size_t at = st == TG_ERR_INTERRUPTED ? 0 : i;
                if (at < limit) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
                    limit = at;
                }
                if (st == TG_ERR_INTERRUPTED ? err != TG_ERR_INTERRUPTED : (err != TG_ERR_INTERRUPTED && i < err_index)) {
                    err = st;
                    err_index = i;
                    snprintf(err_msg, sizeof err_msg, "%s", tg_last_error());
                }
            }
        }
    }
    if (err == TG_OK) return TG_OK;
    for (size_t i = 0; i < n; i++) outs[i].n = 0;
    if (err == TG_ERR_INTERRUPTED) return tg_fail(err, "interrupted");
    return tg_fail(err, "text %zu: %s", err_index, err_msg);
}

tg_status tg_wordpiece_normalize(const tg_wordpiece *wp, const tg_text *text, uint32_t **cps, uint32_t **origins,
                                 size_t *n) {
    *cps = NULL;
    *origins = NULL;
    *n = 0;
    uint32_t *in = NULL;
    size_t len = 0;
    tg_status st = read_text(text, &in, &len);
    if (st != TG_OK) return st;
    norm_buf out = {0}, tmp = {0};
    st = normalize(wp, in, 0, len, &out, &tmp);
    free(in);
    norm_free(&tmp);
    if (st != TG_OK) {
        norm_free(&out);
        return st;
    }
    if (out.n == 0) { /* callers get arrays they can free, never NULL on success */
        norm_free(&out);
        out.cp = malloc(sizeof *out.cp);
        out.orig = malloc(sizeof *out.orig);
        if (!out.cp || !out.orig) {
            norm_free(&out);
            return tg_fail(TG_ERR_NOMEM, "out of memory");
        }
    }
    *cps = out.cp;
    *origins = out.orig;
    *n = out.n;
    return TG_OK;
}
