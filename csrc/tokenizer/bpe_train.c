/* bpe_train.c - the byte-level BPE trainer (see tokgeo/tokenizer.h for what it computes).
 *
 * Layout
 *  - Counting: one open-addressing table per thread (pre-token bytes -> count, keys in an
 *    arena).  Texts are shared out between threads in groups of 16; a regular file in
 *    chunks that each thread reads itself (pread), a line belonging to the chunk it starts
 *    in; a pipe block by block.  At train the tables are folded into one word list by the
 *    threads together, each taking the words of one hash part (fold_tables).
 *  - Training: the distinct words laid end to end as "symbol slots" (id, prev, next, word)
 *    forming one doubly linked list per word; merged-away slots get id NONE.
 *    Pairs: a growable table (left, right, count, heap index, positions) found through a
 *    hash of left << 32 | right.  Positions are the slots of the pair's left symbol, kept
 *    in increasing order (checked and sorted before use), stale ones skipped by checking
 *    the two ids.  An indexed binary heap orders the pairs by (count desc, left, right).
 *  - A merge step changes only the pairs around the merged occurrences; their count
 *    changes are gathered during the step ("pending") and applied at its end one pair at a
 *    time, each followed by its sift, so every sift sees a valid heap.
 */

#include "tokgeo/tokenizer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/internal.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/pretokenize_cl100k.h"

#define NONE UINT32_MAX
#define FILE_BLOCK ((size_t)8 << 20)     /* a pipe is read in blocks of this size */
#define FILE_CHUNK_MIN ((uint64_t)64 << 10) /* a regular file in chunks of this size or more, */
#define FILE_CHUNK_MAX ((uint64_t)8 << 20)   /* and at most this size */

size_t tg_pretoken_len_pattern(int pattern, const uint8_t *s, size_t n) {
    return pattern == TG_PATTERN_CL100K ? tg_pretoken_len_cl100k(s, n) : tg_pretoken_len_inline(s, n);
}

/* ---------------------------------------------------------------- byte-level alphabet */

static bool printable_byte(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

/* GPT-2's bytes_to_unicode code point of byte b. */
static uint32_t byte_cp(unsigned b) {
    if (printable_byte(b)) return b;
    uint32_t k = 0;
    for (unsigned x = 0; x < b; x++) k += !printable_byte(x);
    return 256 + k;
}

/* The byte whose byte-level code point is cp, or -1. */
static int cp_byte(uint32_t cp) {
    if (cp < 256) return printable_byte(cp) ? (int)cp : -1;
    uint32_t k = cp - 256;
    for (unsigned x = 0; x < 256; x++)
        if (!printable_byte(x) && k-- == 0) return (int)x;
    return -1;
}

/* ---------------------------------------------------------------- hashing */

static inline uint64_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)n * 0xD6E8FEB86659FD93ull);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    for (size_t k = 0; i + k < n; k++) w |= (uint64_t)p[i + k] << (8 * k);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}

/* ---------------------------------------------------------------- word tables */

typedef struct wslot {
    uint64_t hash;
    uint64_t count;
    size_t off;
    uint32_t len; /* 0 = empty */
} wslot;

/* One per counting thread.  Each starts on its own cache line (the array is allocated
 * 64-aligned): the counters change at every pre-token, and tables sharing a line made the
 * threads wait on each other. */
typedef struct wtable {
    _Alignas(64) wslot *slots;
    size_t mask, used;
    uint8_t *arena;
    size_t arena_n, arena_cap;
    uint64_t total;  /* pre-tokens counted */
    uint8_t *u8;     /* UTF-8 scratch for tg_text inputs */
    size_t u8_cap;
    bool failed;     /* an allocation failed */
} wtable;

static void wtable_free(wtable *w) {
    free(w->slots);
    free(w->arena);
    free(w->u8);
    memset(w, 0, sizeof *w);
}

static bool wtable_init(wtable *w) {
    memset(w, 0, sizeof *w);
    w->slots = calloc(1024, sizeof *w->slots);
    if (!w->slots) return false;
    w->mask = 1023;
    return true;
}

static bool wtable_grow(wtable *w) {
    size_t cap = (w->mask + 1) * 2;
    if (cap > SIZE_MAX / sizeof(wslot)) return false;
    wslot *ns = calloc(cap, sizeof *ns);
    if (!ns) return false;
    for (size_t i = 0; i <= w->mask; i++) {
        wslot *s = &w->slots[i];
        if (!s->len) continue;
        size_t j = (size_t)s->hash & (cap - 1);
        while (ns[j].len) j = (j + 1) & (cap - 1);
        ns[j] = *s;
    }
    free(w->slots);
    w->slots = ns;
    w->mask = cap - 1;
    return true;
}

/* The slot holding p[0..n) (hash h), or the empty slot where it would go.  Reads only the
 * slots' keys (hash, len, off), never their counts. */
static inline wslot *wtable_probe(const wtable *w, const uint8_t *p, size_t n, uint64_t h) {
    size_t i = (size_t)h & w->mask;
    for (;;) {
        wslot *s = &w->slots[i];
        if (!s->len || (s->hash == h && s->len == n && memcmp(w->arena + s->off, p, n) == 0)) return s;
        i = (i + 1) & w->mask;
    }
}

/* Adds `count` occurrences of p[0..n) (n >= 1, n < 2^32) with hash h. */
static inline bool wtable_add(wtable *w, const uint8_t *p, size_t n, uint64_t h, uint64_t count) {
    wslot *found = wtable_probe(w, p, n, h);
    if (found->len) {
        found->count += count;
        return true;
    }
    size_t i = (size_t)(found - w->slots);
    if (w->arena_cap - w->arena_n < n) {
        size_t cap = w->arena_cap ? w->arena_cap : 1 << 16;
        while (cap - w->arena_n < n) {
            if (cap > SIZE_MAX / 2) return false;
            cap *= 2;
        }
        uint8_t *a = realloc(w->arena, cap);
        if (!a) return false;
        w->arena = a;
        w->arena_cap = cap;
    }
    memcpy(w->arena + w->arena_n, p, n);
    wslot *s = &w->slots[i];
    s->hash = h;
    s->count = count;
    s->off = w->arena_n;
    s->len = (uint32_t)n;
    w->arena_n += n;
    w->used++;
    if (w->used * 2 > w->mask + 1) return wtable_grow(w);
    return true;
}

/* Counts the pre-tokens of the valid UTF-8 text s[0..n). */
static bool count_text(wtable *w, int pattern, const uint8_t *s, size_t n) {
    size_t pos = 0;
    while (pos < n) {
        size_t l = pattern == TG_PATTERN_CL100K ? tg_pretoken_len_cl100k(s + pos, n - pos)
                                                 : tg_pretoken_len_inline(s + pos, n - pos);
        if (l >= UINT32_MAX) return false;
        if (!wtable_add(w, s + pos, l, hash_bytes(s + pos, l), 1)) return false;
        w->total++;
        pos += l;
    }
    return true;
}

/* Length of the longest valid UTF-8 prefix of s[0..n). */
static size_t utf8_valid_prefix(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        size_t l = tg_utf8_len(s + i, n - i);
        if (l == 0) return i;
        i += l;
    }
    return n;
}

/* ---------------------------------------------------------------- the trainer */

typedef struct pair_t {
    uint32_t left, right;
    int64_t count;
    int64_t pending; /* count change of the current merge step, applied at its end */
    int64_t heap; /* index in the heap, -1 when not in it */
    uint32_t *pos;
    uint32_t pos_n, pos_cap;
    bool dirty;
} pair_t;

struct tg_bpe_trainer {
    tg_bpe_train_opts o;
    int threads;
    wtable *tabs; /* [threads] */
    bool feed_failed, trained;
    bool spent; /* a train failed part-way: the counts were consumed */
    size_t n_words_final;
    uint64_t n_pretokens_final;
    /* vocabulary: token bytes */
    uint8_t *tok_bytes;
    size_t tok_bytes_n, tok_bytes_cap;
    size_t *tok_off;  /* [vocab_cap] */
    uint32_t *tok_len;
    size_t vocab_n, vocab_cap;
    uint32_t *vmap; /* id + 1 per slot, open addressing over token bytes */
    size_t vmap_mask;
    uint32_t byte_id[256];
    tg_bpe_merge *merges;
    size_t n_merges, merges_cap;
};

void tg_bpe_trainer_free(tg_bpe_trainer *t) {
    if (!t) return;
    if (t->tabs)
        for (int i = 0; i < t->threads; i++) wtable_free(&t->tabs[i]);
    free(t->tabs);
    free(t->tok_bytes);
    free(t->tok_off);
    free(t->tok_len);
    free(t->vmap);
    free(t->merges);
    free(t);
}

static uint32_t vocab_find(const tg_bpe_trainer *t, const uint8_t *p, size_t n) {
    size_t i = (size_t)hash_bytes(p, n) & t->vmap_mask;
    for (;;) {
        uint32_t v = t->vmap[i];
        if (!v) return NONE;
        uint32_t id = v - 1;
        if (t->tok_len[id] == n && memcmp(t->tok_bytes + t->tok_off[id], p, n) == 0) return id;
        i = (i + 1) & t->vmap_mask;
    }
}

static void vmap_put(tg_bpe_trainer *t, uint32_t id) {
    size_t i = (size_t)hash_bytes(t->tok_bytes + t->tok_off[id], t->tok_len[id]) & t->vmap_mask;
    while (t->vmap[i]) i = (i + 1) & t->vmap_mask;
    t->vmap[i] = id + 1;
}

/* Appends token p[0..n) (not yet present) and returns its id, or NONE on no memory. */
static uint32_t vocab_add(tg_bpe_trainer *t, const uint8_t *p, size_t n) {
    if (t->vocab_n == t->vocab_cap) {
        size_t cap = t->vocab_cap ? t->vocab_cap * 2 : 512;
        size_t *no = realloc(t->tok_off, cap * sizeof *no);
        if (!no) return NONE;
        t->tok_off = no;
        uint32_t *nl = realloc(t->tok_len, cap * sizeof *nl);
        if (!nl) return NONE;
        t->tok_len = nl;
        t->vocab_cap = cap;
    }
    if ((t->vocab_n + 1) * 2 > t->vmap_mask + 1) {
        size_t cap = (t->vmap_mask + 1) * 2;
        uint32_t *nm = calloc(cap, sizeof *nm);
        if (!nm) return NONE;
        free(t->vmap);
        t->vmap = nm;
        t->vmap_mask = cap - 1;
        for (size_t id = 0; id < t->vocab_n; id++) vmap_put(t, (uint32_t)id);
    }
    if (t->tok_bytes_cap - t->tok_bytes_n < n) {
        size_t cap = t->tok_bytes_cap ? t->tok_bytes_cap : 4096;
        while (cap - t->tok_bytes_n < n) cap *= 2;
        uint8_t *nb = realloc(t->tok_bytes, cap);
        if (!nb) return NONE;
        t->tok_bytes = nb;
        t->tok_bytes_cap = cap;
    }
    memcpy(t->tok_bytes + t->tok_bytes_n, p, n);
    uint32_t id = (uint32_t)t->vocab_n++;
    t->tok_off[id] = t->tok_bytes_n;
    t->tok_len[id] = (uint32_t)n;
    t->tok_bytes_n += n;
    vmap_put(t, id);
    return id;
}

tg_status tg_bpe_trainer_new(tg_bpe_trainer **out, const tg_bpe_train_opts *opts) {
    if (!out || !opts) return tg_fail(TG_ERR_VALUE, "tg_bpe_trainer_new: NULL argument");
    *out = NULL;
    if (opts->pattern != TG_PATTERN_GPT2 && opts->pattern != TG_PATTERN_CL100K)
        return tg_fail(TG_ERR_VALUE, "unknown pre-tokenizer pattern %d", opts->pattern);
    if (opts->n_special && !opts->special_tokens) return tg_fail(TG_ERR_VALUE, "special_tokens is NULL");
    size_t need;
    if (!tg_add_size(256, opts->n_special, &need) || opts->vocab_size < need)
        return tg_fail(TG_ERR_VALUE,
                       "vocab_size %zu is below the %zu tokens every byte-level vocabulary starts with "
                       "(256 bytes + %zu special tokens); ask for at least %zu",
                       opts->vocab_size, 256 + opts->n_special, opts->n_special, 256 + opts->n_special);
    if (opts->vocab_size > (size_t)TG_TOKENIZER_MAX_ID)
        return tg_fail(TG_ERR_VALUE, "vocab_size %zu is above tokgeo's limit of %d tokens", opts->vocab_size,
                       TG_TOKENIZER_MAX_ID);
    tg_bpe_trainer *t = calloc(1, sizeof *t);
    if (!t) return tg_fail(TG_ERR_NOMEM, "out of memory");
    t->o = *opts;
    t->o.special_tokens = NULL; /* not retained: the bytes are copied into the vocabulary */
    t->threads = opts->threads > 0 ? opts->threads : tg_get_num_threads();
    if (t->threads > 256) t->threads = 256;
    t->vmap = calloc(1024, sizeof *t->vmap);
    t->tabs = aligned_alloc(_Alignof(wtable), (size_t)t->threads * sizeof *t->tabs);
    if (!t->vmap || !t->tabs) goto nomem;
    memset(t->tabs, 0, (size_t)t->threads * sizeof *t->tabs);
    t->vmap_mask = 1023;
    for (int i = 0; i < t->threads; i++)
        if (!wtable_init(&t->tabs[i])) goto nomem;
    /* specials: byte-level strings decoded into bytes */
    for (size_t k = 0; k < opts->n_special; k++) {
        const uint8_t *s = (const uint8_t *)opts->special_tokens[k];
        size_t n = s ? strlen((const char *)s) : 0;
        if (n == 0) {
            tg_bpe_trainer_free(t);
            return tg_fail(TG_ERR_VALUE, "special token #%zu is empty", k);
        }
        uint8_t *buf = malloc(n);
        if (!buf) goto nomem;
        size_t nb = 0, i = 0;
        while (i < n) {
            size_t l = tg_utf8_len(s + i, n - i);
            uint32_t cp = 0;
            if (l == 1) cp = s[i];
            else if (l == 2) cp = ((s[i] & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
            int b = (l == 1 || l == 2) ? cp_byte(cp) : -1;
            if (b < 0) {
                free(buf);
                tg_bpe_trainer_free(t);
                if (l == 0) return tg_fail(TG_ERR_VALUE, "special token #%zu is not valid UTF-8 (byte %zu)", k, i);
                return tg_fail(TG_ERR_VALUE,
                               "special token #%zu \"%s\" has a character at byte %zu that is not in GPT-2's "
                               "byte-level alphabet (a space is written \"\\u0120\", i.e. 'G' with a dot); use "
                               "printable characters such as \"<|endoftext|>\" or \"[PAD]\"",
                               k, (const char *)s, i);
            }
            buf[nb++] = (uint8_t)b;
            i += l;
        }
        if (vocab_find(t, buf, nb) != NONE) {
            free(buf);
            tg_bpe_trainer_free(t);
            return tg_fail(TG_ERR_VALUE, "special token \"%s\" is given twice", (const char *)s);
        }
        uint32_t id = vocab_add(t, buf, nb);
        free(buf);
        if (id == NONE) goto nomem;
    }
    /* the bytes, ordered by their byte-level code points */
    for (uint32_t cp = 0; cp < 324; cp++) {
        int b = cp_byte(cp);
        if (b < 0) continue;
        uint8_t c = (uint8_t)b;
        uint32_t id = vocab_find(t, &c, 1);
        if (id == NONE) id = vocab_add(t, &c, 1);
        if (id == NONE) goto nomem;
        t->byte_id[b] = id;
    }
    *out = t;
    return TG_OK;
nomem:
    tg_bpe_trainer_free(t);
    return tg_fail(TG_ERR_NOMEM, "out of memory");
}

size_t tg_bpe_trainer_n_words(const tg_bpe_trainer *t) {
    if (t->trained) return t->n_words_final;
    size_t n = 0;
    for (int i = 0; i < t->threads; i++) n += t->tabs[i].used; /* an upper bound before merging */
    return n;
}

uint64_t tg_bpe_trainer_n_pretokens(const tg_bpe_trainer *t) {
    if (t->trained) return t->n_pretokens_final;
    uint64_t n = 0;
    for (int i = 0; i < t->threads; i++) n += t->tabs[i].total;
    return n;
}

/* ---------------------------------------------------------------- feeding */

static inline uint32_t unit_at(const tg_text *x, size_t i) {
    switch (x->width) {
    case TG_TEXT_LATIN1: return ((const uint8_t *)x->data)[i];
    case TG_TEXT_UCS2: return ((const uint16_t *)x->data)[i];
    default: return ((const uint32_t *)x->data)[i];
    }
}

/* UTF-8 of a tg_text into *s / *n (the text itself for UTF-8, else w->u8).  Returns 0, or
 * 1 + index of the bad code unit (surrogate / beyond U+10FFFF), or SIZE_MAX on no memory;
 * for UTF-8 input 1 + the offset of the first invalid byte. */
static size_t text_to_utf8(wtable *w, const tg_text *x, const uint8_t **s, size_t *n) {
    if (x->width == TG_TEXT_UTF8) {
        size_t v = utf8_valid_prefix(x->data, x->len);
        if (v != x->len) return v + 1;
        *s = x->data;
        *n = x->len;
        return 0;
    }
    size_t size = 0;
    for (size_t i = 0; i < x->len; i++) {
        uint32_t c = unit_at(x, i);
        if (c >= 0xD800 && (c <= 0xDFFF || c > 0x10FFFF)) return i + 1;
        size += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    }
    if (size > w->u8_cap) {
        uint8_t *p = realloc(w->u8, size);
        if (!p) return SIZE_MAX;
        w->u8 = p;
        w->u8_cap = size;
    }
    uint8_t *o = w->u8;
    for (size_t i = 0; i < x->len; i++) {
        uint32_t c = unit_at(x, i);
        if (c < 0x80) {
            *o++ = (uint8_t)c;
        } else if (c < 0x800) {
            *o++ = (uint8_t)(0xC0 | (c >> 6));
            *o++ = (uint8_t)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            *o++ = (uint8_t)(0xE0 | (c >> 12));
            *o++ = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (uint8_t)(0x80 | (c & 0x3F));
        } else {
            *o++ = (uint8_t)(0xF0 | (c >> 18));
            *o++ = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
            *o++ = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (uint8_t)(0x80 | (c & 0x3F));
        }
    }
    *s = w->u8;
    *n = size;
    return 0;
}

static int thread_num(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

tg_status tg_bpe_trainer_feed(tg_bpe_trainer *t, const tg_text *texts, size_t n) {
    if (!t || (!texts && n)) return tg_fail(TG_ERR_VALUE, "tg_bpe_trainer_feed: NULL argument");
    if (t->trained) return tg_fail(TG_ERR_VALUE, "this trainer has already trained; make a new one");
    for (size_t i = 0; i < n; i++) {
        int wd = texts[i].width;
        if (wd != TG_TEXT_UTF8 && wd != TG_TEXT_LATIN1 && wd != TG_TEXT_UCS2 && wd != TG_TEXT_UCS4)
            return tg_fail(TG_ERR_VALUE, "texts[%zu]: unknown width %d", i, wd);
        if (!texts[i].data && texts[i].len) return tg_fail(TG_ERR_VALUE, "texts[%zu]: NULL data", i);
    }
    size_t bad_i = SIZE_MAX, bad_at = 0; /* first failing text, and 1 + offset or SIZE_MAX (no memory) */
    /* texts at or past the lowest failure so far are skipped (0 after an interrupt); the ones
     * before it are still read, so the error names the lowest failing text whatever the timing */
    atomic_size_t limit = SIZE_MAX;
    atomic_int interrupted = 0;
    int nt = t->threads;
    if ((size_t)nt > n) nt = n > 0 ? (int)n : 1;
#pragma omp parallel num_threads(nt)
    {
        int tid = thread_num();
        wtable *w = &t->tabs[tid];
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < n; i++) {
            if (i >= atomic_load_explicit(&limit, memory_order_relaxed)) continue;
            if (tid == 0 && (i & 63) == 0 && tg_interrupted()) {
                atomic_store(&interrupted, 1);
                atomic_store(&limit, 0);
                continue;
            }
            const uint8_t *s = NULL;
            size_t len = 0;
            size_t r = text_to_utf8(w, &texts[i], &s, &len);
            if (r == 0 && !count_text(w, t->o.pattern, s, len)) r = SIZE_MAX;
            if (r != 0) {
#pragma omp critical(tg_bpe_feed_err)
                {
                    if (i < bad_i) {
                        bad_i = i;
                        bad_at = r;
                    }
                }
                size_t cur = atomic_load(&limit);
                while (i < cur && !atomic_compare_exchange_weak(&limit, &cur, i)) {
                }
            }
        }
    }
    if (bad_i != SIZE_MAX) {
        t->feed_failed = true;
        if (bad_at == SIZE_MAX) return tg_fail(TG_ERR_NOMEM, "out of memory while counting texts[%zu]", bad_i);
        if (texts[bad_i].width == TG_TEXT_UTF8)
            return tg_fail(TG_ERR_UNICODE, "texts[%zu] is not valid UTF-8 at byte %zu", bad_i, bad_at - 1);
        return tg_fail(TG_ERR_UNICODE,
                       "texts[%zu] has the code point U+%04X at index %zu, which UTF-8 cannot encode (a lone "
                       "surrogate); remove or replace it",
                       bad_i, (unsigned)unit_at(&texts[bad_i], bad_at - 1), bad_at - 1);
    }
    if (atomic_load(&interrupted)) {
        t->feed_failed = true;
        return tg_fail(TG_ERR_INTERRUPTED, "interrupted");
    }
    return TG_OK;
}

/* Counts the lines of s[0..n) (whole lines, the last may lack its "\n") into w.
 * Returns 0, 1 + offset of invalid UTF-8, or SIZE_MAX on no memory; *lines gets the
 * number of "\n" before the returned offset (or in the part). */
static size_t count_lines(wtable *w, int pattern, const uint8_t *s, size_t n, size_t *lines) {
    size_t v = utf8_valid_prefix(s, n);
    size_t nl = 0;
    size_t pos = 0;
    while (pos < v) {
        const uint8_t *e = memchr(s + pos, '\n', v - pos);
        size_t end = e ? (size_t)(e - s) + 1 : v;
        if (e) nl++;
        if (end > v) end = v;
        if (v == n || e) {
            if (!count_text(w, pattern, s + pos, end - pos)) return SIZE_MAX;
        }
        pos = end;
    }
    *lines = nl;
    return v == n ? 0 : v + 1;
}

static tg_status utf8_file_error(const char *path, uint64_t line, uint64_t off) {
    return tg_fail(TG_ERR_UNICODE,
                   "%s is not valid UTF-8: line %llu, byte offset %llu; re-encode the file as UTF-8 "
                   "(e.g. iconv -f latin1 -t utf-8)",
                   path, (unsigned long long)line, (unsigned long long)off);
}

/* ------------------------------------------------ a regular file: chunks read in parallel */

/* A thread's read buffer (owned by the thread, freed when its loop ends). */
typedef struct rbuf {
    uint8_t *p;
    size_t cap;
} rbuf;

/* What one chunk found: "\n" counted (before the invalid byte, if any), 1 + the file offset of
 * the first invalid UTF-8 byte (0: none), and 0, an errno of a failed read, or -1 (no memory). */
typedef struct fchunk {
    uint64_t lines, bad;
    int err;
} fchunk;

/* Reads up to n bytes at file offset off into b->p + at (growing the buffer); returns the count
 * (short only at the end of the file) or -1 with *err set. */
static ssize_t read_at(int fd, rbuf *b, size_t at, uint64_t off, size_t n, int *err) {
    size_t need;
    if (!tg_add_size(at, n, &need)) {
        *err = -1;
        return -1;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : need;
        while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            *err = -1;
            return -1;
        }
        b->p = np;
        b->cap = cap;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, b->p + at + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR) continue;
            *err = errno ? errno : EIO;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Counts the lines that start in the file's bytes [lo, hi) into w.  A line belongs to the
 * chunk it starts in, so the chunks of a file count every line once, whole, wherever a line
 * crosses a chunk boundary (it is read on to its "\n" or the end of the file). */
static void count_chunk(wtable *w, int pattern, int fd, uint64_t lo, uint64_t hi, rbuf *b, fchunk *r) {
    uint64_t from = lo ? lo - 1 : 0; /* the byte before lo tells whether a line starts at lo */
    ssize_t got = read_at(fd, b, 0, from, (size_t)(hi - from), &r->err);
    if (got <= 0) return;
    size_t start = 0, end = (size_t)got;
    if (lo) {
        const uint8_t *e = memchr(b->p, '\n', end);
        if (!e) return; /* no line starts here: an earlier chunk owns the line that covers it */
        start = (size_t)(e - b->p) + 1;
        if (start == end) return;
    }
    if ((uint64_t)got == hi - from) { /* the last line may run on past hi: read on in steps
                                         * of 4 KiB, doubling up to 1 MiB */
        size_t step = (size_t)4 << 10;
        while (b->p[end - 1] != '\n') {
            ssize_t more = read_at(fd, b, end, from + end, step, &r->err);
            if (more < 0) return;
            if (more == 0) break;
            if (step < ((size_t)1 << 20)) step *= 2;
            const uint8_t *e = memchr(b->p + end, '\n', (size_t)more);
            end = e ? (size_t)(e - b->p) + 1 : end + (size_t)more;
        }
    }
    size_t nl = 0;
    size_t res = count_lines(w, pattern, b->p + start, end - start, &nl);
    r->lines = nl;
    if (res == SIZE_MAX) r->err = -1;
    else if (res) r->bad = from + start + res;
}

static tg_status feed_regular(tg_bpe_trainer *t, int fd, uint64_t size, const char *path) {
    if (size == 0) return TG_OK;
    int nt = t->threads;
    /* about 32 chunks per thread, so that a thread that drew slow text is not waited for
     * long: the threads finish within a chunk's time of each other */
    uint64_t csize = size / ((uint64_t)nt * 32) + 1;
    if (csize < FILE_CHUNK_MIN) csize = FILE_CHUNK_MIN;
    if (csize > FILE_CHUNK_MAX) csize = FILE_CHUNK_MAX;
    uint64_t nc64 = (size + csize - 1) / csize;
    if (nc64 > SIZE_MAX / sizeof(fchunk)) return tg_fail(TG_ERR_OVERFLOW, "%s is too large", path);
    size_t nchunks = (size_t)nc64;
    if ((size_t)nt > nchunks) nt = (int)nchunks;
    fchunk *res = calloc(nchunks, sizeof *res);
    if (!res) return tg_fail(TG_ERR_NOMEM, "out of memory");
    /* chunks at or past the lowest failing one are skipped (all of them after an interrupt);
     * the ones before it are still counted, so the error names the first bad line */
    atomic_size_t limit = SIZE_MAX;
    atomic_int interrupted = 0;
#pragma omp parallel num_threads(nt)
    {
        int tid = thread_num();
        wtable *w = &t->tabs[tid];
        rbuf b = {NULL, 0};
#pragma omp for schedule(dynamic, 1)
        for (size_t j = 0; j < nchunks; j++) {
            if (j >= atomic_load_explicit(&limit, memory_order_relaxed)) continue;
            if (tid == 0 && tg_interrupted()) {
                atomic_store(&interrupted, 1);
                atomic_store(&limit, 0);
                continue;
            }
            uint64_t lo = (uint64_t)j * csize, hi = lo + csize < size ? lo + csize : size;
            count_chunk(w, t->o.pattern, fd, lo, hi, &b, &res[j]);
            if (res[j].err || res[j].bad) {
                size_t cur = atomic_load(&limit);
                while (j < cur && !atomic_compare_exchange_weak(&limit, &cur, j)) {
                }
            }
        }
        free(b.p);
    }
    tg_status st = TG_OK;
    if (atomic_load(&interrupted)) st = tg_fail(TG_ERR_INTERRUPTED, "interrupted");
    uint64_t lines = 0;
    for (size_t j = 0; j < nchunks && st == TG_OK; j++) {
        if (res[j].err == -1) st = tg_fail(TG_ERR_NOMEM, "out of memory while counting %s", path);
        else if (res[j].err) st = tg_fail(TG_ERR_IO, "cannot read %s: %s", path, strerror(res[j].err));
        else if (res[j].bad) st = utf8_file_error(path, lines + res[j].lines + 1, res[j].bad - 1);
        lines += res[j].lines;
    }
    free(res);
    return st;
}

/* ------------------------------------------------ a pipe or device: blocks read one by one */

static tg_status feed_stream(tg_bpe_trainer *t, int fd, const char *path) {
    size_t cap = FILE_BLOCK;
    uint8_t *buf = malloc(cap);
    if (!buf) return tg_fail(TG_ERR_NOMEM, "out of memory");
    size_t have = 0;      /* bytes in buf */
    uint64_t base = 0;    /* file offset of buf[0] */
    uint64_t lines_before = 0;
    bool eof = false;
    tg_status st = TG_OK;
    while (!eof || have > 0) {
        while (!eof && have < cap) {
            ssize_t r = read(fd, buf + have, cap - have);
            if (r < 0) {
                if (errno == EINTR) continue;
                st = tg_fail(TG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
                goto done;
            }
            if (r == 0) eof = true;
            have += (size_t)r;
        }
        if (tg_interrupted()) {
            st = tg_fail(TG_ERR_INTERRUPTED, "interrupted");
            goto done;
        }
        size_t end = have;
        if (!eof) {
            const uint8_t *nl = NULL;
            for (size_t i = have; i > 0; i--)
                if (buf[i - 1] == '\n') {
                    nl = buf + i - 1;
                    break;
                }
            if (!nl) { /* one line longer than the buffer: grow it */
                if (cap > SIZE_MAX / 2) {
                    st = tg_fail(TG_ERR_OVERFLOW, "%s: a line is too long", path);
                    goto done;
                }
                uint8_t *nb = realloc(buf, cap * 2);
                if (!nb) {
                    st = tg_fail(TG_ERR_NOMEM, "out of memory for a line of %s longer than %zu bytes", path, cap);
                    goto done;
                }
                buf = nb;
                cap *= 2;
                continue;
            }
            end = (size_t)(nl - buf) + 1;
        }
        /* split [0, end) into parts at line ends, one per thread */
        int nt = t->threads;
        if (end < ((size_t)1 << 16)) nt = 1;
        size_t cuts[257];
        cuts[0] = 0;
        for (int k = 1; k < nt; k++) {
            size_t c = end / (size_t)nt * (size_t)k;
            if (c < cuts[k - 1]) c = cuts[k - 1];
            const uint8_t *e = c < end ? memchr(buf + c, '\n', end - c) : NULL;
            cuts[k] = e ? (size_t)(e - buf) + 1 : end;
        }
        cuts[nt] = end;
        size_t res[256], nls[256];
#pragma omp parallel for num_threads(nt) schedule(static, 1)
        for (int k = 0; k < nt; k++) {
            nls[k] = 0;
            res[k] = count_lines(&t->tabs[thread_num()], t->o.pattern, buf + cuts[k], cuts[k + 1] - cuts[k], &nls[k]);
        }
        for (int k = 0; k < nt; k++) {
            if (res[k] == SIZE_MAX) {
                st = tg_fail(TG_ERR_NOMEM, "out of memory while counting %s", path);
                goto done;
            }
            if (res[k] != 0) {
                st = utf8_file_error(path, lines_before + nls[k] + 1, base + cuts[k] + res[k] - 1);
                goto done;
            }
            lines_before += nls[k];
        }
        memmove(buf, buf + end, have - end);
        have -= end;
        base += end;
    }
done:
    free(buf);
    return st;
}

tg_status tg_bpe_trainer_feed_file(tg_bpe_trainer *t, const char *path) {
    if (!t || !path) return tg_fail(TG_ERR_VALUE, "tg_bpe_trainer_feed_file: NULL argument");
    if (t->trained) return tg_fail(TG_ERR_VALUE, "this trainer has already trained; make a new one");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tg_fail(TG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat stb;
    tg_status st;
    if (fstat(fd, &stb) != 0) st = tg_fail(TG_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    else if (S_ISDIR(stb.st_mode)) st = tg_fail(TG_ERR_IO, "%s is a directory, not a text file", path);
    else if (S_ISREG(stb.st_mode)) st = feed_regular(t, fd, (uint64_t)stb.st_size, path);
    else st = feed_stream(t, fd, path);
    close(fd);
    if (st != TG_OK) t->feed_failed = true;
    return st;
}

/* ---------------------------------------------------------------- training */

typedef struct train_state {
    tg_bpe_trainer *t;
    /* symbols */
    uint32_t *id, *nx, *pv, *word;
    uint64_t *wcount;
    /* pairs */
    pair_t *pairs;
    size_t n_pairs, pairs_cap;
    uint32_t *pmap; /* pair index + 1 */
    size_t pmap_mask;
    uint32_t *heap;
    size_t heap_n, heap_cap;
    uint32_t *dirty;
    size_t dirty_n, dirty_cap;
    uint32_t cur; /* the pair being merged (its count changes are ignored) */
} train_state;

static inline uint64_t pair_key(uint32_t a, uint32_t b) { return ((uint64_t)a << 32) | b; }
static inline size_t pair_hash(uint64_t k) { return (size_t)((k * 0x9E3779B97F4A7C15ull) ^ ((k * 0x9E3779B97F4A7C15ull) >> 29)); }

static uint32_t pair_lookup(const train_state *S, uint32_t a, uint32_t b) {
    uint64_t k = pair_key(a, b);
    size_t i = pair_hash(k) & S->pmap_mask;
    for (;;) {
        uint32_t v = S->pmap[i];
        if (!v) return NONE;
        const pair_t *p = &S->pairs[v - 1];
        if (p->left == a && p->right == b) return v - 1;
        i = (i + 1) & S->pmap_mask;
    }
}

/* The pair (a, b), created when new; NONE on no memory. */
static uint32_t pair_get(train_state *S, uint32_t a, uint32_t b) {
    uint64_t k = pair_key(a, b);
    size_t i = pair_hash(k) & S->pmap_mask;
    for (;;) {
        uint32_t v = S->pmap[i];
        if (!v) break;
        const pair_t *p = &S->pairs[v - 1];
        if (p->left == a && p->right == b) return v - 1;
        i = (i + 1) & S->pmap_mask;
    }
    if (S->n_pairs >= NONE - 1) return NONE;
    if (S->n_pairs == S->pairs_cap) {
        size_t cap = S->pairs_cap ? S->pairs_cap * 2 : 4096;
        pair_t *np = realloc(S->pairs, cap * sizeof *np);
        if (!np) return NONE;
        S->pairs = np;
        S->pairs_cap = cap;
    }
    uint32_t idx = (uint32_t)S->n_pairs++;
    pair_t *p = &S->pairs[idx];
    memset(p, 0, sizeof *p);
    p->left = a;
    p->right = b;
    p->heap = -1;
    S->pmap[i] = idx + 1;
    if (S->n_pairs * 2 > S->pmap_mask + 1) {
        size_t cap = (S->pmap_mask + 1) * 2;
        uint32_t *nm = calloc(cap, sizeof *nm);
        if (!nm) return NONE;
        free(S->pmap);
        S->pmap = nm;
        S->pmap_mask = cap - 1;
        for (size_t j = 0; j < S->n_pairs; j++) {
            size_t h = pair_hash(pair_key(S->pairs[j].left, S->pairs[j].right)) & S->pmap_mask;
            while (S->pmap[h]) h = (h + 1) & S->pmap_mask;
            S->pmap[h] = (uint32_t)j + 1;
        }
    }
    return idx;
}

static bool pos_push(pair_t *p, uint32_t slot) {
    if (p->pos_n == p->pos_cap) {
        uint32_t cap = p->pos_cap ? p->pos_cap * 2 : 4;
        if (cap < p->pos_cap) return false;
        uint32_t *np = realloc(p->pos, (size_t)cap * sizeof *np);
        if (!np) return false;
        p->pos = np;
        p->pos_cap = cap;
    }
    p->pos[p->pos_n++] = slot;
    return true;
}

static bool mark_dirty(train_state *S, uint32_t pi) {
    pair_t *p = &S->pairs[pi];
    if (p->dirty) return true;
    if (S->dirty_n == S->dirty_cap) {
        size_t cap = S->dirty_cap ? S->dirty_cap * 2 : 1024;
        uint32_t *nd = realloc(S->dirty, cap * sizeof *nd);
        if (!nd) return false;
        S->dirty = nd;
        S->dirty_cap = cap;
    }
    S->dirty[S->dirty_n++] = pi;
    p->dirty = true;
    return true;
}

/* heap order: higher count first, then smaller left id, then smaller right id */
static inline bool better(const train_state *S, uint32_t x, uint32_t y) {
    const pair_t *a = &S->pairs[x], *b = &S->pairs[y];
    if (a->count != b->count) return a->count > b->count;
    if (a->left != b->left) return a->left < b->left;
    return a->right < b->right;
}

static void heap_place(train_state *S, size_t i, uint32_t pi) {
    S->heap[i] = pi;
    S->pairs[pi].heap = (int64_t)i;
}

static void sift_up(train_state *S, size_t i) {
    uint32_t pi = S->heap[i];
    while (i > 0) {
        size_t par = (i - 1) / 2;
        if (!better(S, pi, S->heap[par])) break;
        heap_place(S, i, S->heap[par]);
        i = par;
    }
    heap_place(S, i, pi);
}

static void sift_down(train_state *S, size_t i) {
    uint32_t pi = S->heap[i];
    size_t n = S->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && better(S, S->heap[c + 1], S->heap[c])) c++;
        if (!better(S, S->heap[c], pi)) break;
        heap_place(S, i, S->heap[c]);
        i = c;
    }
    heap_place(S, i, pi);
}

static bool heap_push(train_state *S, uint32_t pi) {
    if (S->heap_n == S->heap_cap) {
        size_t cap = S->heap_cap ? S->heap_cap * 2 : 4096;
        uint32_t *nh = realloc(S->heap, cap * sizeof *nh);
        if (!nh) return false;
        S->heap = nh;
        S->heap_cap = cap;
    }
    size_t i = S->heap_n++;
    heap_place(S, i, pi);
    sift_up(S, i);
    return true;
}

static void heap_remove(train_state *S, uint32_t pi) {
    int64_t h = S->pairs[pi].heap;
    if (h < 0) return;
    size_t i = (size_t)h;
    S->pairs[pi].heap = -1;
    uint32_t last = S->heap[--S->heap_n];
    if (i == S->heap_n) return;
    heap_place(S, i, last);
    sift_up(S, i);
    sift_down(S, (size_t)S->pairs[last].heap);
}

static void state_free(train_state *S) {
    free(S->id);
    free(S->nx);
    free(S->pv);
    free(S->word);
    free(S->wcount);
    for (size_t i = 0; i < S->n_pairs; i++) free(S->pairs[i].pos);
    free(S->pairs);
    free(S->pmap);
    free(S->heap);
    free(S->dirty);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* count change of pair (a, b) by delta; `slot` is a new position when delta > 0 */
static bool change(train_state *S, uint32_t a, uint32_t b, int64_t delta, uint32_t slot) {
    uint32_t pi = delta > 0 ? pair_get(S, a, b) : pair_lookup(S, a, b);
    if (pi == NONE) return delta <= 0; /* a decrement of an unknown pair cannot happen */
    if (pi == S->cur) return true;
    pair_t *p = &S->pairs[pi];
    p->pending += delta;
    if (delta > 0 && !pos_push(p, slot)) return false;
    return mark_dirty(S, pi);
}

static tg_status oom(train_state *S) {
    state_free(S);
    return tg_fail(TG_ERR_NOMEM, "out of memory while training");
}

/* The part (0..np) of a word's hash: its high half, so that the slot (the low bits) is
 * independent of the part. */
static inline int hash_part(uint64_t h, int np) { return (int)(((h >> 32) * (uint64_t)np) >> 32); }

static void free_parts(wtable *parts, int np) {
    if (!parts) return;
    for (int p = 0; p < np; p++) wtable_free(&parts[p]);
    free(parts);
}

/* Folds the counting tables tabs[1..nt) into tabs[0] without rebuilding a table, one thread
 * per part: thread p takes the words whose hash_part is p.  A word that tabs[0] has gets its
 * count added there (only thread p writes that slot; the others read only slots' keys); a
 * word it lacks goes into ovf[p] (zeroed, thread p's own).  Afterwards every word is in
 * exactly one of tabs[0], ovf[0..np).  The order of the words does not change the merges
 * (ties are broken by token ids).  Returns false when out of memory (the caller frees ovf). */
static bool fold_tables(wtable *tabs, int nt, wtable *ovf, int np) {
    atomic_int failed = 0;
#pragma omp parallel for num_threads(np) schedule(static, 1)
    for (int p = 0; p < np; p++) {
        wtable *w = &ovf[p];
        bool ok = wtable_init(w);
        for (int k = 1; k < nt && ok; k++) {
            const wtable *src = &tabs[k];
            for (size_t i = 0; i <= src->mask && src->slots && ok; i++) {
                const wslot *sl = &src->slots[i];
                if (!sl->len || hash_part(sl->hash, np) != p) continue;
                const uint8_t *key = src->arena + sl->off;
                wslot *home = wtable_probe(&tabs[0], key, sl->len, sl->hash);
                if (home->len) home->count += sl->count;
                else ok = wtable_add(w, key, sl->len, sl->hash, sl->count);
            }
        }
        if (!ok) atomic_store(&failed, 1);
    }
    return !atomic_load(&failed);
}

static tg_status train(tg_bpe_trainer *t);

tg_status tg_bpe_trainer_train(tg_bpe_trainer *t) {
    if (!t) return tg_fail(TG_ERR_VALUE, "tg_bpe_trainer_train: NULL argument");
    if (t->trained) return tg_fail(TG_ERR_VALUE, "this trainer has already trained; make a new one");
    if (t->feed_failed)
        return tg_fail(TG_ERR_VALUE, "a feed of this trainer failed, so its counts are incomplete; make a new one");
    if (t->spent)
        return tg_fail(TG_ERR_VALUE, "an earlier train of this trainer failed part-way and used up its counts; "
                                     "make a new one");
    tg_status st = train(t);
    if (st != TG_OK) t->spent = true;
    return st;
}

/* Consumes the counts (the thread tables) whatever happens. */
static tg_status train(tg_bpe_trainer *t) {
    /* 1. one word list: tabs[0], and with several counting threads the words it lacks, in
     * one table per part (fold_tables); the tables are laid out one after another. */
    uint64_t npre = 0;
    for (int k = 0; k < t->threads; k++) npre += t->tabs[k].total;
    int np = t->threads > 1 ? t->threads : 0;
    wtable *parts = aligned_alloc(_Alignof(wtable), (size_t)(np + 1) * sizeof *parts);
    if (!parts) return tg_fail(TG_ERR_NOMEM, "out of memory while merging word counts");
    memset(parts, 0, (size_t)(np + 1) * sizeof *parts);
    if (np && !fold_tables(t->tabs, t->threads, parts + 1, np)) {
        free_parts(parts, np + 1);
        return tg_fail(TG_ERR_NOMEM, "out of memory while merging word counts");
    }
    for (int k = 1; k < t->threads; k++) wtable_free(&t->tabs[k]);
    parts[0] = t->tabs[0]; /* moved: tabs[0] is left empty (and valid) below */
    if (!wtable_init(&t->tabs[0])) {
        free_parts(parts, np + 1);
        return tg_fail(TG_ERR_NOMEM, "out of memory");
    }
    np += 1;
    size_t nsym = 0, nwords = 0, most_words = 0, most_sym = 0;
    bool fits = true;
    for (int p = 0; p < np; p++) {
        fits = fits && tg_add_size(nsym, parts[p].arena_n, &nsym) && tg_add_size(nwords, parts[p].used, &nwords);
        if (parts[p].used > most_words) most_words = parts[p].used;
        if (parts[p].arena_n > most_sym) most_sym = parts[p].arena_n;
    }
    if (!fits) nsym = SIZE_MAX;
    if (nwords == 0 || nsym >= NONE || nwords >= NONE) {
        free_parts(parts, np);
        if (nwords == 0)
            return tg_fail(TG_ERR_VALUE, "the corpus is empty: no text was given, or every text was empty; "
                                         "train on at least one non-empty text");
        return tg_fail(TG_ERR_OVERFLOW, "the corpus has %zu bytes of distinct pre-tokens, above the 4 GiB limit", nsym);
    }
    t->n_words_final = nwords;
    t->n_pretokens_final = npre;
    train_state S;
    memset(&S, 0, sizeof S);
    S.t = t;
    S.cur = NONE;
    S.id = malloc(nsym * sizeof *S.id);
    S.nx = malloc(nsym * sizeof *S.nx);
    S.pv = malloc(nsym * sizeof *S.pv);
    S.word = malloc(nsym * sizeof *S.word);
    S.wcount = malloc(nwords * sizeof *S.wcount);
    S.pmap = calloc(1 << 16, sizeof *S.pmap);
    S.pmap_mask = (1 << 16) - 1;
    /* 2. symbols: slot = the part's base + the word's arena offset + index; words in arena
     * order, so every position list starts sorted */
    uint32_t *order = malloc(most_words * sizeof *order); /* a part's slot indices, by arena offset */
    uint32_t *at = malloc(most_sym * sizeof *at);
    if (!S.id || !S.nx || !S.pv || !S.word || !S.wcount || !S.pmap || !order || !at) {
        free(order);
        free(at);
        free_parts(parts, np);
        return oom(&S);
    }
    size_t wbase = 0, sbase = 0;
    for (int p = 0; p < np; p++) {
        const wtable *w = &parts[p];
        /* counting placement: offsets are unique and < arena_n, so a mark array sorts in O(n) */
        memset(at, 0xFF, w->arena_n * sizeof *at);
        for (size_t i = 0; i <= w->mask && w->slots; i++)
            if (w->slots[i].len) at[w->slots[i].off] = (uint32_t)i;
        size_t k = 0;
        for (size_t o = 0; o < w->arena_n; o++)
            if (at[o] != NONE) order[k++] = at[o];
        for (k = 0; k < w->used; k++) {
            const wslot *sl = &w->slots[order[k]];
            size_t word = wbase + k;
            S.wcount[word] = sl->count;
            for (size_t j = 0; j < sl->len; j++) {
                size_t q = sbase + sl->off + j;
                S.id[q] = t->byte_id[w->arena[sl->off + j]];
                S.word[q] = (uint32_t)word;
                S.pv[q] = j ? (uint32_t)(q - 1) : NONE;
                S.nx[q] = j + 1 < sl->len ? (uint32_t)(q + 1) : NONE;
            }
        }
        wbase += w->used;
        sbase += w->arena_n;
    }
    free(order);
    free(at);
    free_parts(parts, np);
    for (size_t q = 0; q < nsym; q++) {
        if (S.nx[q] == NONE) continue;
        uint32_t pi = pair_get(&S, S.id[q], S.id[S.nx[q]]);
        if (pi == NONE) return oom(&S);
        pair_t *p = &S.pairs[pi];
        p->count += (int64_t)S.wcount[S.word[q]];
        if (!pos_push(p, (uint32_t)q)) return oom(&S);
    }
    for (size_t pi = 0; pi < S.n_pairs; pi++)
        if (!heap_push(&S, (uint32_t)pi)) return oom(&S);
    /* 3. merges */
    uint64_t min_count = t->o.min_frequency > 0 ? t->o.min_frequency : 1;
    size_t steps = 0;
    uint8_t *tmp = NULL;
    size_t tmp_cap = 0;
    while (t->vocab_n < t->o.vocab_size && S.heap_n > 0) {
        if ((++steps & 255) == 0 && tg_interrupted()) {
            free(tmp);
            state_free(&S);
            t->feed_failed = true;
            return tg_fail(TG_ERR_INTERRUPTED, "interrupted");
        }
        uint32_t top = S.heap[0];
        pair_t *tp = &S.pairs[top];
        if (tp->count <= 0 || (uint64_t)tp->count < min_count) break;
        uint32_t a = tp->left, b = tp->right;
        size_t la = t->tok_len[a], lb = t->tok_len[b];
        if (la + lb > tmp_cap) {
            size_t cap = (la + lb) * 2;
            uint8_t *nt = realloc(tmp, cap);
            if (!nt) {
                free(tmp);
                return oom(&S);
            }
            tmp = nt;
            tmp_cap = cap;
        }
        memcpy(tmp, t->tok_bytes + t->tok_off[a], la);
        memcpy(tmp + la, t->tok_bytes + t->tok_off[b], lb);
        uint32_t m = vocab_find(t, tmp, la + lb);
        if (m == NONE) m = vocab_add(t, tmp, la + lb);
        if (m == NONE) {
            free(tmp);
            return oom(&S);
        }
        if (t->n_merges == t->merges_cap) {
            size_t cap = t->merges_cap ? t->merges_cap * 2 : 1024;
            tg_bpe_merge *nm = realloc(t->merges, cap * sizeof *nm);
            if (!nm) {
                free(tmp);
                return oom(&S);
            }
            t->merges = nm;
            t->merges_cap = cap;
        }
        t->merges[t->n_merges++] = (tg_bpe_merge){a, b, m, (uint32_t)t->vocab_n, (uint64_t)tp->count};
        heap_remove(&S, top);
        S.cur = top;
        uint32_t *pos = tp->pos;
        uint32_t npos = tp->pos_n;
        tp->pos = NULL;
        tp->pos_n = tp->pos_cap = 0;
        tp->count = 0;
        bool sorted = true;
        for (uint32_t k = 1; k < npos && sorted; k++) sorted = pos[k - 1] <= pos[k];
        if (!sorted) qsort(pos, npos, sizeof *pos, cmp_u32);
        bool ok = true;
        for (uint32_t k = 0; k < npos && ok; k++) {
            uint32_t p = pos[k];
            if (S.id[p] != a) continue;
            uint32_t q = S.nx[p];
            if (q == NONE || S.id[q] != b) continue;
            int64_t c = (int64_t)S.wcount[S.word[p]];
            uint32_t before = S.pv[p], after = S.nx[q];
            if (before != NONE) {
                ok = ok && change(&S, S.id[before], a, -c, 0);
                ok = ok && change(&S, S.id[before], m, c, before);
            }
            if (after != NONE) {
                ok = ok && change(&S, b, S.id[after], -c, 0);
                ok = ok && change(&S, m, S.id[after], c, p);
            }
            S.id[p] = m;
            S.id[q] = NONE;
            S.nx[p] = after;
            if (after != NONE) S.pv[after] = p;
        }
        free(pos);
        S.cur = NONE;
        if (!ok) {
            free(tmp);
            return oom(&S);
        }
        for (size_t k = 0; k < S.dirty_n; k++) {
            uint32_t pi = S.dirty[k];
            pair_t *p = &S.pairs[pi];
            p->dirty = false;
            /* one key changes at a time, so each sift sees a valid heap */
            p->count += p->pending;
            p->pending = 0;
            if (p->count < 0) {
                free(tmp);
                state_free(&S);
                return tg_fail(TG_ERR_INTERNAL, "BPE trainer: a pair count went negative (a bug in tokgeo)");
            }
            if (p->count == 0) {
                heap_remove(&S, pi);
                free(p->pos);
                p->pos = NULL;
                p->pos_n = p->pos_cap = 0;
            } else if (p->heap < 0) {
                if (!heap_push(&S, pi)) {
                    free(tmp);
                    return oom(&S);
                }
            } else {
                sift_up(&S, (size_t)p->heap);
                sift_down(&S, (size_t)p->heap);
            }
        }
        S.dirty_n = 0;
    }
    free(tmp);
    state_free(&S);
    t->trained = true;
    return TG_OK;
}

size_t tg_bpe_trainer_vocab_size(const tg_bpe_trainer *t) { return t->vocab_n; }

bool tg_bpe_trainer_token(const tg_bpe_trainer *t, size_t id, const uint8_t **bytes, size_t *len) {
    if (id >= t->vocab_n) return false;
    *bytes = t->tok_bytes + t->tok_off[id];
    *len = t->tok_len[id];
    return true;
}

size_t tg_bpe_trainer_n_merges(const tg_bpe_trainer *t) { return t->n_merges; }
const tg_bpe_merge *tg_bpe_trainer_merges(const tg_bpe_trainer *t) { return t->merges; }

/* ---------------------------------------------------------------- output */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool failed;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap - b->n < n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            cap *= 2;
        }
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

/* token `id` in byte-level form; JSON-escaped when `json` */
static void sb_token(sbuf *b, const tg_bpe_trainer *t, uint32_t id, bool json) {
    const uint8_t *s = t->tok_bytes + t->tok_off[id];
    for (size_t i = 0; i < t->tok_len[id]; i++) {
        uint32_t cp = byte_cp(s[i]);
        char u[4];
        size_t k = 0;
        if (json && (cp == '"' || cp == '\\')) u[k++] = '\\';
        if (cp < 0x80) {
            u[k++] = (char)cp;
        } else {
            u[k++] = (char)(0xC0 | (cp >> 6));
            u[k++] = (char)(0x80 | (cp & 0x3F));
        }
        sb_put(b, u, k);
    }
}

static tg_status not_trained(void) { return tg_fail(TG_ERR_VALUE, "the trainer has not trained yet (call train first)"); }

tg_status tg_bpe_trainer_vocab_json(const tg_bpe_trainer *t, char **buf, size_t *len) {
    if (!t || !buf || !len) return tg_fail(TG_ERR_VALUE, "tg_bpe_trainer_vocab_json: NULL argument");
    *buf = NULL;
    if (!t->trained) return not_trained();
    sbuf b = {0};
    sb_put(&b, "{", 1);
    for (size_t id = 0; id < t->vocab_n; id++) {
        char num[32];
        if (id) sb_put(&b, ",", 1);
        sb_put(&b, "\"", 1);
        sb_token(&b, t, (uint32_t)id, true);
        int k = snprintf(num, sizeof num, "\":%zu", id);
        sb_put(&b, num, (size_t)k);
    }
    sb_put(&b, "}", 1);
    if (b.failed) {
        free(b.p);
        return tg_fail(TG_ERR_NOMEM, "out of memory for vocab.json");
    }
    *buf = b.p;
    *len = b.n;
    return TG_OK;
}

tg_status tg_bpe_trainer_merges_txt(const tg_bpe_trainer *t, char **buf, size_t *len) {
    if (!t || !buf || !len) return tg_fail(TG_ERR_VALUE, "tg_bpe_trainer_merges_txt: NULL argument");
    *buf = NULL;
    if (!t->trained) return not_trained();
    sbuf b = {0};
    sb_put(&b, "#version: 0.2\n", 14);
    for (size_t i = 0; i < t->n_merges; i++) {
        sb_token(&b, t, t->merges[i].left, false);
        sb_put(&b, " ", 1);
        sb_token(&b, t, t->merges[i].right, false);
        sb_put(&b, "\n", 1);
    }
    if (b.failed) {
        free(b.p);
        return tg_fail(TG_ERR_NOMEM, "out of memory for merges.txt");
    }
    *buf = b.p;
    *len = b.n;
    return TG_OK;
}

/* Writes buf to a new temporary file in dir; its path into tmp (caller unlinks / renames).
 * The file is created with mode 0666 less the umask, as fopen and tokgeo's Python
 * atomic_write give, and is not fsync'd (neither is the Python side's): the rename keeps a
 * reader from ever seeing a partial file, which is the promise. */
static tg_status write_temp(const char *dir, const char *name, const char *buf, size_t len, char *tmp, size_t tmp_cap) {
    static atomic_uint serial = 0;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned tag = atomic_fetch_add(&serial, 1) * 2654435761u ^ (unsigned)ts.tv_nsec;
        int k = snprintf(tmp, tmp_cap, "%s/.%s.%ld-%08x.tmp", dir, name, (long)getpid(), tag);
        if (k < 0 || (size_t)k >= tmp_cap) {
            tmp[0] = '\0';
            return tg_fail(TG_ERR_VALUE, "output folder path too long: %s", dir);
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int e = errno;
        tmp[0] = '\0';
        return tg_fail(TG_ERR_IO, "cannot create a file in %s: %s", dir, strerror(e));
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return tg_fail(TG_ERR_IO, "cannot write %s/%s: %s", dir, name, strerror(e));
        }
        done += (size_t)w;
    }
    if (close(fd) != 0) return tg_fail(TG_ERR_IO, "cannot close %s/%s: %s", dir, name, strerror(errno));
    return TG_OK;
}

tg_status tg_bpe_trainer_save(const tg_bpe_trainer *t, const char *dir) {
    if (!t || !dir) return tg_fail(TG_ERR_VALUE, "tg_bpe_trainer_save: NULL argument");
    if (!t->trained) return not_trained();
    char *vj = NULL, *mt = NULL;
    size_t vl = 0, ml = 0;
    tg_status st = tg_bpe_trainer_vocab_json(t, &vj, &vl);
    if (st == TG_OK) st = tg_bpe_trainer_merges_txt(t, &mt, &ml);
    char tv[4096] = "", tm[4096] = "";
    if (st == TG_OK) st = write_temp(dir, "vocab.json", vj, vl, tv, sizeof tv);
    if (st == TG_OK) st = write_temp(dir, "merges.txt", mt, ml, tm, sizeof tm);
    free(vj);
    free(mt);
    char fv[4096], fm[4096];
    snprintf(fv, sizeof fv, "%s/vocab.json", dir);
    snprintf(fm, sizeof fm, "%s/merges.txt", dir);
    if (st == TG_OK && rename(tv, fv) != 0) st = tg_fail(TG_ERR_IO, "cannot write %s: %s", fv, strerror(errno));
    if (st == TG_OK) tv[0] = '\0';
    if (st == TG_OK && rename(tm, fm) != 0) st = tg_fail(TG_ERR_IO, "cannot write %s: %s", fm, strerror(errno));
    if (st == TG_OK) tm[0] = '\0';
    if (tv[0]) unlink(tv);
    if (tm[0]) unlink(tm);
    return st;
}

tg_status tg_bpe_trainer_tokenizer(const tg_bpe_trainer *t, tg_tokenizer **out) {
    if (!t || !out) return tg_fail(TG_ERR_VALUE, "tg_bpe_trainer_tokenizer: NULL argument");
    *out = NULL;
    char *vj = NULL, *mt = NULL;
    size_t vl = 0, ml = 0;
    tg_status st = tg_bpe_trainer_vocab_json(t, &vj, &vl);
    if (st == TG_OK) st = tg_bpe_trainer_merges_txt(t, &mt, &ml);
    if (st == TG_OK) {
        tg_tokenizer_opts lo = {.pattern = t->o.pattern, .rank_by_merged_id = false};
        st = tg_tokenizer_load_buffers_opts(out, vj, vl, "vocab.json (trained)", mt, ml, "merges.txt (trained)", &lo);
    }
    free(vj);
    free(mt);
    return st;
}
