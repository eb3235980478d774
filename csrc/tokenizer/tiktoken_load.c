/* tiktoken_load.c - a byte-level BPE tokenizer from a tiktoken rank file (cl100k_base).
 *
 * A .tiktoken file holds one "base64(token bytes) rank" line per token; the rank is also
 * the token's id.  tiktoken's encoder merges, in a pre-token, the adjacent pair of parts
 * whose concatenation has the lowest rank (leftmost on ties), and takes a pre-token that
 * is itself a token whole.  The same tokenizer in tokgeo's engine: every split (A, B) of
 * every token T into two tokens becomes a merge A B -> T whose rank is T's id
 * (tg_tokenizer_opts.rank_by_merged_id), so the pair map holds exactly the pairs tiktoken
 * can merge.  The vocabulary and merges are written in GPT-2's file forms in memory and
 * loaded by tg_tokenizer_load_buffers_opts.
 */
#include "tokgeo/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mapfile.h"

static int b64_value(uint8_t c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes base64 s[0..n) into out (n * 3 / 4 bytes of room); returns the length or -1. */
static long b64_decode(const uint8_t *s, size_t n, uint8_t *out) {
    if (n == 0 || n % 4 != 0) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else {
                if (pad) return -1;
                v[k] = b64_value(s[i + k]);
                if (v[k] < 0) return -1;
            }
        }
        uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) | (uint32_t)v[3];
        out[o++] = (uint8_t)(w >> 16);
        if (pad < 2) out[o++] = (uint8_t)(w >> 8);
        if (pad < 1) out[o++] = (uint8_t)w;
    }
    return (long)o;
}

static bool printable_byte(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

typedef struct obuf {
    char *p;
    size_t n, cap;
    bool failed;
} obuf;

static void ob_put(obuf *b, const void *s, size_t n) {
    if (b->failed) return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        while (cap - b->n < n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void ob_byte_level(obuf *b, const uint32_t *cp_table, const uint8_t *s, size_t n, bool json) {
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = cp_table[s[i]];
        char u[3];
        size_t k = 0;
        if (json && (cp == '"' || cp == '\\')) u[k++] = '\\';
        if (cp < 0x80) {
            u[k++] = (char)cp;
        } else {
            u[k++] = (char)(0xC0 | (cp >> 6));
            u[k++] = (char)(0x80 | (cp & 0x3F));
        }
        ob_put(b, u, k);
    }
}

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    return h ^ (h >> 31);
}

typedef struct tok_entry {
    size_t off;
    uint32_t len;
    uint32_t rank;
} tok_entry;

tg_status tg_tokenizer_load_tiktoken_buffer(tg_tokenizer **out, const char *data, size_t len, const char *name,
                                            const char *const *special_tokens, const int32_t *special_ids,
                                            size_t n_special, int pattern) {
    if (!out) return tg_fail(TG_ERR_VALUE, "tg_tokenizer_load_tiktoken_buffer: NULL output");
    *out = NULL;
    if (!data && len) return tg_fail(TG_ERR_VALUE, "tg_tokenizer_load_tiktoken_buffer: NULL buffer");
    if (!name) name = "tiktoken ranks";
    uint32_t cp_table[256]; /* GPT-2's bytes_to_unicode */
    for (unsigned b = 0, k = 0; b < 256; b++) cp_table[b] = printable_byte(b) ? b : 256 + k++;
    const uint8_t *s = (const uint8_t *)data;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += s[i] == '\n';
    lines++;
    tok_entry *toks = malloc(lines * sizeof *toks);
    uint8_t *bytes = malloc(len / 4 * 3 + 4);
    size_t hcap = 16;
    while (hcap < lines * 2) hcap *= 2;
    uint32_t *hmap = calloc(hcap, sizeof *hmap); /* index + 1 */
    obuf vj = {0}, mt = {0};
    tg_status st = TG_OK;
    if (!toks || !bytes || !hmap) {
        st = tg_fail(TG_ERR_NOMEM, "out of memory reading %s", name);
        goto done;
    }
    size_t nt = 0, nb = 0, pos = 0, line = 0;
    uint32_t max_rank = 0;
    while (pos < len) {
        size_t e = pos;
        while (e < len && s[e] != '\n') e++;
        size_t next = e < len ? e + 1 : e;
        line++;
        size_t le = e;
        if (le > pos && s[le - 1] == '\r') le--;
        if (le == pos) {
            pos = next;
            continue;
        }
        const uint8_t *sp = memchr(s + pos, ' ', le - pos);
        if (!sp || sp == s + pos || sp + 1 == s + le) {
            st = tg_fail(TG_ERR_FORMAT, "%s line %zu: expected \"<base64 token> <rank>\"", name, line);
            goto done;
        }
        long tl = b64_decode(s + pos, (size_t)(sp - (s + pos)), bytes + nb);
        if (tl <= 0) {
            st = tg_fail(TG_ERR_FORMAT, "%s line %zu: the token is not valid base64", name, line);
            goto done;
        }
        uint64_t rank = 0;
        for (const uint8_t *q = sp + 1; q < s + le; q++) {
            if (*q < '0' || *q > '9' || rank > TG_TOKENIZER_MAX_ID) {
                st = tg_fail(TG_ERR_FORMAT, "%s line %zu: the rank must be an integer in [0, %d]", name, line,
                             TG_TOKENIZER_MAX_ID);
                goto done;
            }
            rank = rank * 10 + (uint64_t)(*q - '0');
        }
        if (rank > TG_TOKENIZER_MAX_ID) {
            st = tg_fail(TG_ERR_FORMAT, "%s line %zu: rank %llu is above %d", name, line, (unsigned long long)rank,
                         TG_TOKENIZER_MAX_ID);
            goto done;
        }
        size_t h = (size_t)hash_bytes(bytes + nb, (size_t)tl) & (hcap - 1);
        while (hmap[h]) {
            const tok_entry *o = &toks[hmap[h] - 1];
            if (o->len == (uint32_t)tl && memcmp(bytes + o->off, bytes + nb, (size_t)tl) == 0) {
                st = tg_fail(TG_ERR_FORMAT, "%s line %zu: this token already appeared (rank %u)", name, line, o->rank);
                goto done;
            }
            h = (h + 1) & (hcap - 1);
        }
        hmap[h] = (uint32_t)nt + 1;
        toks[nt++] = (tok_entry){nb, (uint32_t)tl, (uint32_t)rank};
        if (rank > max_rank) max_rank = (uint32_t)rank;
        nb += (size_t)tl;
        pos = next;
    }
    if (nt < 256) {
        st = tg_fail(TG_ERR_FORMAT, "%s: %zu tokens; a byte-level rank file has at least the 256 byte tokens", name, nt);
        goto done;
    }
    /* vocab.json, then merges (every split of every token into two tokens) */
    ob_put(&vj, "{", 1);
    for (size_t i = 0; i < nt; i++) {
        char num[24];
        if (i) ob_put(&vj, ",", 1);
        ob_put(&vj, "\"", 1);
        ob_byte_level(&vj, cp_table, bytes + toks[i].off, toks[i].len, true);
        int k = snprintf(num, sizeof num, "\":%u", toks[i].rank);
        ob_put(&vj, num, (size_t)k);
    }
    for (size_t i = 0; i < n_special; i++) {
        char num[24];
        ob_put(&vj, ",\"", 2);
        const char *sp = special_tokens[i];
        for (const char *c = sp; *c; c++) {
            if (*c == '"' || *c == '\\') ob_put(&vj, "\\", 1);
            ob_put(&vj, c, 1);
        }
        int k = snprintf(num, sizeof num, "\":%d", (int)special_ids[i]);
        ob_put(&vj, num, (size_t)k);
    }
    ob_put(&vj, "}", 1);
    ob_put(&mt, "#version: tiktoken ranks\n", 25);
    for (size_t i = 0; i < nt; i++) {
        const uint8_t *t = bytes + toks[i].off;
        uint32_t tl = toks[i].len;
        for (uint32_t k = 1; k < tl; k++) {
            bool found[2] = {false, false};
            const uint8_t *part[2] = {t, t + k};
            uint32_t plen[2] = {k, tl - k};
            for (int p = 0; p < 2; p++) {
                size_t h = (size_t)hash_bytes(part[p], plen[p]) & (hcap - 1);
                while (hmap[h]) {
                    const tok_entry *o = &toks[hmap[h] - 1];
                    if (o->len == plen[p] && memcmp(bytes + o->off, part[p], plen[p]) == 0) {
                        found[p] = true;
                        break;
                    }
                    h = (h + 1) & (hcap - 1);
                }
            }
            if (!found[0] || !found[1]) continue;
            ob_byte_level(&mt, cp_table, part[0], plen[0], false);
            ob_put(&mt, " ", 1);
            ob_byte_level(&mt, cp_table, part[1], plen[1], false);
            ob_put(&mt, "\n", 1);
        }
    }
    if (vj.failed || mt.failed) {
        st = tg_fail(TG_ERR_NOMEM, "out of memory building the tokenizer from %s", name);
        goto done;
    }
    tg_tokenizer_opts o = {.pattern = pattern, .rank_by_merged_id = true};
    st = tg_tokenizer_load_buffers_opts(out, vj.p, vj.n, name, mt.p, mt.n, name, &o);
done:
    free(toks);
    free(bytes);
    free(hmap);
    free(vj.p);
    free(mt.p);
    return st;
}

tg_status tg_tokenizer_load_tiktoken(tg_tokenizer **out, const char *path, const char *const *special_tokens,
                                     const int32_t *special_ids, size_t n_special, int pattern) {
    if (!out || !path) return tg_fail(TG_ERR_VALUE, "tg_tokenizer_load_tiktoken: NULL argument");
    *out = NULL;
    tg_mapfile *m = NULL;
    tg_status st = tg_mapfile_open(path, &m);
    if (st != TG_OK) return st;
    st = tg_tokenizer_load_tiktoken_buffer(out, (const char *)m->data, m->size, path, special_tokens, special_ids,
                                           n_special, pattern);
    tg_mapfile_close(m);
    return st;
}
