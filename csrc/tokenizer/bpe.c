/* bpe.c - GPT-2 byte-level BPE: vocabulary and merges loading, the merge loop, the
 * per-thread caches, encode / batch encode / decode (see tokgeo/tokenizer.h).
 *
 * Design notes
 *  - Tokens are byte strings; the byte-level alphabet (GPT-2's bytes_to_unicode) only
 *    matters when reading the files and when showing tokens ("Ġher").
 *  - Two open-addressing hash maps built at load time and read-only afterwards:
 *    bytes -> id (every token) and (left id, right id) -> (rank, merged id).
 *  - The merge loop for a pre-token of n bytes: n <= SMALL_BPE uses arrays and a linear
 *    scan for the lowest rank per merge (fast for the short words that dominate text);
 *    longer pre-tokens use a binary heap of (rank, position) over a linked list, with
 *    stale heap entries skipped when popped (a rank names one pair, so an entry is live
 *    exactly when the pair now at its position still has its rank).  Both merge the
 *    lowest rank, leftmost on ties, so both give the reference result.
 *  - Each thread that encodes borrows a "work" object from the tokenizer's pool (mutex
 *    protected): scratch arrays plus a bounded cache pre-token bytes -> ids (cleared
 *    when full), so concurrent encodes never share mutable state.
 */
#include "tokgeo/tokenizer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/pretokenize.h"
#include "base/internal.h"
#include "base/json.h"
#include "base/mapfile.h"
#include "tokenizer/pretokenize_cl100k.h"

#define FLAG_MERGED 1u  /* produced by a merge line */
#define FLAG_SPECIAL 2u /* a special token: never produced by BPE */
#define FLAG_SELF 4u    /* BPE of its own bytes gives exactly this token */
#define FLAG_LEAD0 8u   /* its first byte starts a UTF-8 character */
#define NONE32 UINT32_MAX
#define SMALL_BPE 48
#define POOL_MAX 16
#define CACHE_SLOTS (1u << 15)
#define CACHE_MAX_ENTRIES (1u << 14)
#define CACHE_KEY_BYTES (1u << 19)
#define CACHE_IDS (1u << 17)
#define CACHE_MAX_KEY 128

/* ---------------------------------------------------------------- byte-level alphabet */

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68
 * bytes to U+0100.. in byte order. */
static uint32_t byte_to_cp(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) return b;
    uint32_t n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) n++;
    return 256 + n;
}

static uint32_t b2u_table[256];
static int16_t u2b_table[324];
static pthread_once_t alphabet_once = PTHREAD_ONCE_INIT;

static void alphabet_init(void) {
    for (int i = 0; i < 324; i++) u2b_table[i] = -1;
    for (int b = 0; b < 256; b++) {
        uint32_t cp = byte_to_cp((uint8_t)b);
        b2u_table[b] = cp;
        u2b_table[cp] = (int16_t)b;
    }
}

size_t tg_bytes_to_byte_level(const uint8_t *bytes, size_t len, char *buf) {
    pthread_once(&alphabet_once, alphabet_init);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = b2u_table[bytes[i]];
        if (cp < 0x80) {
            buf[o++] = (char)cp;
        } else {
            buf[o++] = (char)(0xC0 | (cp >> 6));
            buf[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return o;
}

/* Decodes the byte-level string s[0..n) (valid UTF-8) into bytes at out (n bytes of room).
 * Returns the byte count, or (size_t)-1 with *bad the offending code point. */
static size_t byte_level_decode(const uint8_t *s, size_t n, uint8_t *out, uint32_t *bad) {
    size_t o = 0, i = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint32_t cp;
        size_t l;
        if (c < 0x80) {
            cp = c;
            l = 1;
        } else if (c < 0xE0) {
            cp = c & 0x1Fu;
            l = 2;
        } else if (c < 0xF0) {
            cp = c & 0x0Fu;
            l = 3;
        } else {
            cp = c & 0x07u;
            l = 4;
        }
        if (l > n - i) {
            *bad = 0xFFFD;
            return (size_t)-1;
        }
        for (size_t k = 1; k < l; k++) cp = (cp << 6) | (s[i + k] & 0x3Fu);
        if (cp >= 324 || u2b_table[cp] < 0) {
            *bad = cp;
            return (size_t)-1;
        }
        out[o++] = (uint8_t)u2b_table[cp];
        i += l;
    }
    return o;
}

/* ---------------------------------------------------------------- hashing */

/* The first min(n, 8) bytes of p as a little-endian word, zero-padded.  `avail` >= n is
 * how many bytes may be read at p (one 8-byte load when there are 8). */
static inline uint64_t first_word(const uint8_t *p, size_t n, size_t avail) {
    uint64_t w = 0;
    if (avail >= 8) {
        memcpy(&w, p, 8);
        if (n < 8) w &= (UINT64_C(1) << (8 * n)) - 1;
        return w;
    }
    for (size_t i = 0; i < n && i < 8; i++) w |= (uint64_t)p[i] << (8 * i);
    return w;
}

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    return x;
}

/* Hash of p[0..n) whose first word is w (first_word).  Keys of up to 8 bytes (most
 * pre-tokens) take one multiply, whose best-mixed top bits are folded onto the low bits
 * the tables index with: it sits on the encoder's critical path, lookup after lookup. */
static inline uint64_t hash_key(const uint8_t *p, size_t n, uint64_t w) {
    uint64_t h = w ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull);
    if (n <= 8) {
        h *= 0xD6E8FEB86659FD93ull;
        return h ^ (h >> 43);
    }
    for (size_t i = 8; i < n; i += 8) {
        uint64_t x = first_word(p + i, n - i, n - i);
        h = (h ^ x) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 29;
    }
    return mix64(h);
}

typedef struct pair_slot {
    uint64_t key; /* left << 32 | right; UINT64_MAX = empty */
    uint32_t rank;
    uint32_t merged;
} pair_slot;

#define SLOT_SELF 0x80000000u /* in vocab_slot.len: the token has FLAG_SELF (set by finish) */

typedef struct vocab_slot {
    uint64_t word; /* first_word of the token: decides tokens of <= 8 bytes without memcmp */
    uint32_t id1;  /* id + 1; 0 = empty */
    uint32_t len;  /* byte length (< SLOT_SELF), | SLOT_SELF: the encoder's shortcut needs no second load */
} vocab_slot;

typedef struct tg_work tg_work;

struct tg_tokenizer {
    size_t n_vocab;
    size_t *tok_off;   /* [n_vocab] into bytes */
    uint32_t *tok_len; /* [n_vocab]; 0 = no such id */
    uint32_t *tok_leads; /* [n_vocab] bytes that start a UTF-8 character (not 10xxxxxx) */
    uint8_t *tok_flags;
    uint8_t *bytes;
    uint32_t byte_id[256];
    vocab_slot *vmap;
    size_t vmap_mask;
    pair_slot *pmap;
    size_t pmap_mask;
    unsigned pmap_shift;
    size_t n_special;
    int32_t *special_ids;
    int32_t eot;
    int pattern;            /* tg_tokenizer_opts */
    bool rank_by_merged_id;
    pthread_mutex_t pool_lock;
    tg_work *pool[POOL_MAX];
    size_t pool_n;
};

/* Id of the token p[0..n) with first word w and hash h, or NONE32.  With `self`, only a
 * token that BPE of its own bytes gives whole (FLAG_SELF): the encoder's whole-pre-token
 * shortcut in one probe (the flag sits in the slot, so no second load). */
static inline uint32_t vocab_find_key(const tg_tokenizer *t, const uint8_t *p, size_t n, uint64_t w, uint64_t h,
                                      bool self) {
    if (n >= SLOT_SELF) return NONE32; /* no token is that long (load_vocab) */
    const uint32_t keep = self ? UINT32_MAX : ~SLOT_SELF, want = (uint32_t)n | (self ? SLOT_SELF : 0u);
    size_t i = (size_t)h & t->vmap_mask;
    for (;;) {
        const vocab_slot *sl = &t->vmap[i];
        if (sl->id1 == 0) return NONE32;
        if (sl->word == w && (sl->len & keep) == want) {
            uint32_t id = sl->id1 - 1;
            if (n <= 8 || memcmp(t->bytes + t->tok_off[id] + 8, p + 8, n - 8) == 0) return id;
        }
        i = (i + 1) & t->vmap_mask;
    }
}

static inline uint32_t vocab_find(const tg_tokenizer *t, const uint8_t *p, size_t n) {
    uint64_t w = first_word(p, n, n);
    return vocab_find_key(t, p, n, w, hash_key(p, n, w), false);
}

static inline uint32_t pair_find(const tg_tokenizer *t, uint32_t a, uint32_t b, uint32_t *merged) {
    uint64_t key = ((uint64_t)a << 32) | b;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> t->pmap_shift);
    for (;;) {
        const pair_slot *sl = &t->pmap[i];
        if (sl->key == key) {
            *merged = sl->merged;
            return sl->rank;
        }
        if (sl->key == UINT64_MAX) return NONE32;
        i = (i + 1) & t->pmap_mask;
    }
}

/* ---------------------------------------------------------------- per-thread work */

typedef struct cache_slot {
    uint64_t hash;
    uint32_t key_off;
    uint32_t val_off;
    uint16_t key_len; /* 0 = empty */
    uint16_t n_ids;
} cache_slot;

struct tg_work {
    /* merge scratch, capacity `cap` symbols */
    size_t cap;
    uint32_t *ids, *ranks, *merged, *next, *prev;
    uint64_t *heap;
    size_t heap_cap;
    size_t res_n; /* result: ids[0..res_n) after bpe() */
    /* cache */
    cache_slot *slots;
    uint8_t *keys;
    uint32_t *vals;
    size_t keys_used, vals_used, entries;
    /* UTF-8 form of a tg_text given as code units */
    uint8_t *u8;
    size_t u8_cap;
};

typedef struct enc_ctx {
    bool poll;              /* may call tg_interrupted() (the calling thread) */
    bool interrupted;       /* out: tg_interrupted() fired on this thread */
    atomic_size_t *limit;   /* a batch's abandon limit (texts at or past it are not needed), or NULL */
    size_t index;           /* the batch index of the text being encoded (with limit) */
    unsigned counter;
} enc_ctx;

/* True when the encode should stop with TG_ERR_INTERRUPTED: Ctrl-C on this thread
 * (c->interrupted is set), or -- in a batch -- a text before this one failed, so this one's
 * result is not needed (c->interrupted stays false: the caller abandons the text without
 * reporting it; the failure that lowered the limit is reported instead). */
static bool should_stop(enc_ctx *c) {
    if (c->limit && c->index >= atomic_load_explicit(c->limit, memory_order_relaxed)) return true;
    if (c->poll && tg_interrupted()) {
        c->interrupted = true;
        if (c->limit) atomic_store(c->limit, 0);
        return true;
    }
    return false;
}

static void work_free(tg_work *w) {
    if (!w) return;
    free(w->ids);
    free(w->ranks);
    free(w->merged);
    free(w->next);
    free(w->prev);
    free(w->heap);
    free(w->slots);
    free(w->keys);
    free(w->vals);
    free(w->u8);
    free(w);
}

static tg_work *work_new(void) {
    tg_work *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->slots = calloc(CACHE_SLOTS, sizeof *w->slots);
    w->keys = malloc(CACHE_KEY_BYTES);
    w->vals = malloc(CACHE_IDS * sizeof *w->vals);
    if (!w->slots || !w->keys || !w->vals) {
        work_free(w);
        return NULL;
    }
    return w;
}

static tg_status work_reserve(tg_work *w, size_t n) {
    if (n <= w->cap) return TG_OK;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < n) {
        if (cap > SIZE_MAX / 2) return tg_fail(TG_ERR_OVERFLOW, "pre-token too long");
        cap *= 2;
    }
    size_t bytes;
    if (!tg_mul_size(cap, sizeof(uint32_t), &bytes)) return tg_fail(TG_ERR_OVERFLOW, "pre-token too long");
    uint32_t **arrs[5] = {&w->ids, &w->ranks, &w->merged, &w->next, &w->prev};
    for (int k = 0; k < 5; k++) {
        uint32_t *p = realloc(*arrs[k], bytes);
        if (!p) return tg_fail(TG_ERR_NOMEM, "out of memory for a pre-token of %zu bytes", n);
        *arrs[k] = p;
    }
    w->cap = cap;
    return TG_OK;
}

static tg_work *pool_acquire(const tg_tokenizer *ct) {
    tg_tokenizer *t = (tg_tokenizer *)ct; /* the pool is the one mutable part, under its lock */
    tg_work *w = NULL;
    pthread_mutex_lock(&t->pool_lock);
    if (t->pool_n > 0) w = t->pool[--t->pool_n];
    pthread_mutex_unlock(&t->pool_lock);
    if (!w) w = work_new();
    return w;
}

static void pool_release(const tg_tokenizer *ct, tg_work *w) {
    if (!w) return;
    if (w->cap > ((size_t)1 << 16)) { /* do not keep the scratch of a giant pre-token */
        uint32_t **arrs[5] = {&w->ids, &w->ranks, &w->merged, &w->next, &w->prev};
        for (int k = 0; k < 5; k++) {
            free(*arrs[k]);
            *arrs[k] = NULL;
        }
        free(w->heap);
        w->heap = NULL;
        w->cap = w->heap_cap = 0;
    }
    if (w->u8_cap > ((size_t)1 << 22)) {
        free(w->u8);
        w->u8 = NULL;
        w->u8_cap = 0;
    }
    tg_tokenizer *t = (tg_tokenizer *)ct;
    pthread_mutex_lock(&t->pool_lock);
    if (t->pool_n < POOL_MAX) {
        t->pool[t->pool_n++] = w;
        w = NULL;
    }
    pthread_mutex_unlock(&t->pool_lock);
    work_free(w);
}

/* ---------------------------------------------------------------- the merge loop */

static inline void heap_push(uint64_t *h, size_t *n, uint64_t v) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static inline uint64_t heap_pop(uint64_t *h, size_t *n) {
    uint64_t top = h[0];
    uint64_t v = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
    }
    if (m > 0) h[i] = v;
    return top;
}

/* BPE of s[0..n) (n >= 1) into w->ids[0..w->res_n). */
static tg_status bpe(const tg_tokenizer *t, tg_work *w, const uint8_t *s, size_t n, enc_ctx *ctx) {
    if (n >= NONE32) return tg_fail(TG_ERR_VALUE, "a single pre-token of %zu bytes is longer than the 4 GiB limit", n);
    tg_status st = work_reserve(w, n);
    if (st != TG_OK) return st;
    uint32_t *ids = w->ids;
    for (size_t i = 0; i < n; i++) ids[i] = t->byte_id[s[i]];
    if (n <= SMALL_BPE) {
        uint32_t *ranks = w->ranks, *merged = w->merged;
        size_t m = n;
        for (size_t i = 0; i + 1 < m; i++) ranks[i] = pair_find(t, ids[i], ids[i + 1], &merged[i]);
        while (m > 1) {
            uint32_t best = NONE32;
            size_t bi = 0;
            for (size_t i = 0; i + 1 < m; i++)
                if (ranks[i] < best) {
                    best = ranks[i];
                    bi = i;
                }
            if (best == NONE32) break;
            ids[bi] = merged[bi];
            size_t tail = m - bi - 2; /* elements after bi+1 */
            memmove(ids + bi + 1, ids + bi + 2, tail * sizeof *ids);
            memmove(ranks + bi + 1, ranks + bi + 2, (tail > 0 ? tail - 1 : 0) * sizeof *ranks);
            memmove(merged + bi + 1, merged + bi + 2, (tail > 0 ? tail - 1 : 0) * sizeof *merged);
            m--;
            if (bi > 0) ranks[bi - 1] = pair_find(t, ids[bi - 1], ids[bi], &merged[bi - 1]);
            if (bi + 1 < m) ranks[bi] = pair_find(t, ids[bi], ids[bi + 1], &merged[bi]);
        }
        w->res_n = m;
        return TG_OK;
    }
    /* heap + linked list */
    size_t hcap;
    if (!tg_mul_size(n, 3, &hcap)) return tg_fail(TG_ERR_OVERFLOW, "pre-token too long");
    if (hcap > w->heap_cap) {
        size_t bytes;
        if (!tg_mul_size(hcap, sizeof(uint64_t), &bytes)) return tg_fail(TG_ERR_OVERFLOW, "pre-token too long");
        uint64_t *h = realloc(w->heap, bytes);
        if (!h) return tg_fail(TG_ERR_NOMEM, "out of memory for a pre-token of %zu bytes", n);
        w->heap = h;
        w->heap_cap = hcap;
    }
    uint32_t *next = w->next, *prev = w->prev;
    uint64_t *heap = w->heap;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        next[i] = (i + 1 < n) ? (uint32_t)(i + 1) : NONE32;
        prev[i] = i > 0 ? (uint32_t)(i - 1) : NONE32;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        uint32_t mg;
        uint32_t r = pair_find(t, ids[i], ids[i + 1], &mg);
        if (r != NONE32) heap_push(heap, &hn, ((uint64_t)r << 32) | i);
    }
    unsigned iter = 0;
    while (hn > 0) {
        if ((++iter & 0xFFFFu) == 0 && should_stop(ctx)) return tg_fail(TG_ERR_INTERRUPTED, "interrupted");
        uint64_t e = heap_pop(heap, &hn);
        uint32_t r = (uint32_t)(e >> 32), pos = (uint32_t)e;
        if (ids[pos] == NONE32) continue;
        uint32_t nx = next[pos];
        if (nx == NONE32) continue;
        uint32_t mg = NONE32;
        if (pair_find(t, ids[pos], ids[nx], &mg) != r) continue;
        ids[pos] = mg;
        ids[nx] = NONE32;
        uint32_t nn = next[nx];
        next[pos] = nn;
        if (nn != NONE32) prev[nn] = pos;
        uint32_t pv = prev[pos];
        uint32_t m2;
        if (pv != NONE32) {
            uint32_t rr = pair_find(t, ids[pv], ids[pos], &m2);
            if (rr != NONE32) heap_push(heap, &hn, ((uint64_t)rr << 32) | pv);
        }
        if (nn != NONE32) {
            uint32_t rr = pair_find(t, ids[pos], ids[nn], &m2);
            if (rr != NONE32) heap_push(heap, &hn, ((uint64_t)rr << 32) | pos);
        }
    }
    size_t m = 0;
    for (size_t i = 0; i != NONE32 && i < n; i = next[i]) ids[m++] = ids[i];
    w->res_n = m;
    return TG_OK;
}

/* ---------------------------------------------------------------- cache */

static inline cache_slot *cache_find(tg_work *w, const uint8_t *s, size_t n, uint64_t h) {
    size_t i = (size_t)h & (CACHE_SLOTS - 1);
    for (;;) {
        cache_slot *sl = &w->slots[i];
        if (sl->key_len == 0) return NULL;
        if (sl->hash == h && sl->key_len == n && memcmp(w->keys + sl->key_off, s, n) == 0) return sl;
        i = (i + 1) & (CACHE_SLOTS - 1);
    }
}

static inline void cache_insert(tg_work *w, const uint8_t *s, size_t n, uint64_t h, const uint32_t *ids, size_t k) {
    if (n == 0 || n > CACHE_MAX_KEY || k > n) return;
    if (w->entries >= CACHE_MAX_ENTRIES || w->keys_used + n > CACHE_KEY_BYTES || w->vals_used + k > CACHE_IDS) {
        memset(w->slots, 0, CACHE_SLOTS * sizeof *w->slots);
        w->entries = w->keys_used = w->vals_used = 0;
    }
    size_t i = (size_t)h & (CACHE_SLOTS - 1);
    while (w->slots[i].key_len != 0) i = (i + 1) & (CACHE_SLOTS - 1);
    cache_slot *sl = &w->slots[i];
    memcpy(w->keys + w->keys_used, s, n);
    memcpy(w->vals + w->vals_used, ids, k * sizeof *ids);
    sl->hash = h;
    sl->key_off = (uint32_t)w->keys_used;
    sl->val_off = (uint32_t)w->vals_used;
    sl->key_len = (uint16_t)n;
    sl->n_ids = (uint16_t)k;
    w->keys_used += n;
    w->vals_used += k;
    w->entries++;
}

/* ---------------------------------------------------------------- encoding */

void tg_tokens_free(tg_tokens *t) {
    if (!t) return;
    free(t->ids);
    free(t->offsets);
    t->ids = NULL;
    t->offsets = NULL;
    t->n = t->cap = 0;
}

/* Invariant: ids (and offsets, when not NULL) hold `cap` entries. */
static tg_status tokens_reserve(tg_tokens *o, size_t extra, bool offsets) {
    size_t need;
    if (!tg_add_size(o->n, extra, &need)) return tg_fail(TG_ERR_OVERFLOW, "too many tokens");
    bool grow = need > o->cap || o->ids == NULL;
    if (!grow && (!offsets || o->offsets)) return TG_OK;
    size_t cap = o->cap;
    if (grow) {
        cap = cap ? cap : 256;
        while (cap < need) {
            if (cap > SIZE_MAX / 32) return tg_fail(TG_ERR_OVERFLOW, "too many tokens");
            cap *= 2;
        }
        int32_t *ids = realloc(o->ids, cap * sizeof *ids);
        if (!ids) return tg_fail(TG_ERR_NOMEM, "out of memory for %zu tokens", cap);
        o->ids = ids;
    }
    if (offsets || o->offsets) {
        int64_t *off = realloc(o->offsets, cap * 2 * sizeof *off);
        if (!off) return tg_fail(TG_ERR_NOMEM, "out of memory for %zu token offsets", cap);
        o->offsets = off;
    }
    o->cap = cap;
    return TG_OK;
}

/* Appends the tokens of pre-token s[0..n) (avail bytes readable at s). */
static inline tg_status emit_piece(const tg_tokenizer *t, tg_work *w, const uint8_t *s, size_t n, size_t avail,
                                   tg_tokens *o, enc_ctx *ctx) {
    if (o->cap - o->n < n) {
        tg_status st = tokens_reserve(o, n, false);
        if (st != TG_OK) return st;
    }
    if (n == 1) {
        o->ids[o->n++] = (int32_t)t->byte_id[s[0]];
        return TG_OK;
    }
    uint64_t fw = first_word(s, n, avail);
    uint64_t h = hash_key(s, n, fw);
    uint32_t id = vocab_find_key(t, s, n, fw, h, true);
    if (id != NONE32) {
        o->ids[o->n++] = (int32_t)id;
        return TG_OK;
    }
    const uint32_t *res;
    size_t k;
    cache_slot *sl = n <= CACHE_MAX_KEY ? cache_find(w, s, n, h) : NULL;
    if (sl) {
        res = w->vals + sl->val_off;
        k = sl->n_ids;
    } else {
        tg_status st = bpe(t, w, s, n, ctx);
        if (st != TG_OK) return st;
        res = w->ids;
        k = w->res_n;
        cache_insert(w, s, n, h, res, k);
    }
    for (size_t i = 0; i < k; i++) o->ids[o->n++] = (int32_t)res[i];
    return TG_OK;
}

static tg_status encode_segment(const tg_tokenizer *t, tg_work *w, const uint8_t *s, size_t text_len, size_t start,
                                size_t end, tg_tokens *o, enc_ctx *ctx) {
    size_t pos = start;
    while (pos < end) {
        size_t l = t->pattern ? tg_pretoken_len_cl100k(s + pos, end - pos) : tg_pretoken_len_inline(s + pos, end - pos);
        tg_status st = emit_piece(t, w, s + pos, l, text_len - pos, o, ctx);
        if (st != TG_OK) return st;
        pos += l;
        if ((++ctx->counter & 0x3FFu) == 0 && should_stop(ctx)) return tg_fail(TG_ERR_INTERRUPTED, "interrupted");
    }
    return TG_OK;
}

/* Offsets of ids[0..n) into off[0..2n), computed from the tokens alone: bytes are running
 * sums of token lengths; code points count the bytes that start a character.  A token
 * starting inside a character belongs to that character (start = the count so far - 1);
 * its end is the number of characters started before its end. */
static void fill_offsets(const tg_tokenizer *t, const int32_t *ids, size_t n, bool chars, int64_t *off) {
    int64_t pos = 0;
    if (!chars) {
        for (size_t i = 0; i < n; i++) {
            off[2 * i] = pos;
            pos += t->tok_len[ids[i]];
            off[2 * i + 1] = pos;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t id = (uint32_t)ids[i];
        off[2 * i] = pos - ((t->tok_flags[id] & FLAG_LEAD0) ? 0 : 1);
        pos += t->tok_leads[id];
        off[2 * i + 1] = pos;
    }
}

static size_t count_chars(const uint8_t *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += (s[i] & 0xC0) != 0x80;
    return c;
}


/* Appends the tokens of text s[0..n) to o; on failure o->n is restored.  `valid`: s is
 * known to be valid UTF-8 (made by text_utf8), otherwise it is checked first. */
static tg_status encode_text(const tg_tokenizer *t, tg_work *w, const uint8_t *s, size_t n, bool valid,
                             const uint8_t *modes, int flags, tg_tokens *o, enc_ctx *ctx) {
    size_t base_n = o->n;
    bool offsets = (flags & TG_ENC_OFFSETS) != 0;
    tg_status st = valid ? TG_OK : tg_utf8_check(s, n, NULL);
    if (st != TG_OK) return st;
    /* room for a typical text (about 4 bytes per token) up front: fewer regrowths */
    st = tokens_reserve(o, n / 4 + 16, false);
    if (st != TG_OK) return st;
    /* next occurrence of each special token that is not plain text (n if none) */
    size_t nsp = modes ? t->n_special : 0;
    size_t next_at[8];
    size_t *nexts = next_at;
    if (nsp > 8) {
        nexts = malloc(nsp * sizeof *nexts);
        if (!nexts) return tg_fail(TG_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < nsp; k++) nexts[k] = SIZE_MAX; /* not searched yet */
    /* like tiktoken: a forbidden special token anywhere is an error before any work */
    size_t first_bad = SIZE_MAX, bad_k = 0;
    for (size_t k = 0; k < nsp; k++) {
        int32_t sid = t->special_ids[k];
        if (modes[k] != TG_SPECIAL_FORBID || n < t->tok_len[sid]) continue;
        const uint8_t *f = memmem(s, n, t->bytes + t->tok_off[sid], t->tok_len[sid]);
        if (f && (size_t)(f - s) < first_bad) {
            first_bad = (size_t)(f - s);
            bad_k = k;
        }
    }
    if (first_bad != SIZE_MAX) {
        int32_t sid = t->special_ids[bad_k];
        st = tg_fail(TG_ERR_SPECIAL, "the text contains the special token '%.*s' at character %zu",
                     (int)t->tok_len[sid], (const char *)(t->bytes + t->tok_off[sid]), count_chars(s, first_bad));
        goto fail;
    }
    bool any_special = false;
    for (size_t k = 0; k < nsp; k++) any_special |= modes[k] == TG_SPECIAL_ALLOW;
    size_t pos = 0;
    while (pos < n) {
        size_t seg_end = n;
        size_t which = SIZE_MAX;
        if (any_special) {
            for (size_t k = 0; k < nsp; k++) {
                if (modes[k] != TG_SPECIAL_ALLOW) continue;
                int32_t sid = t->special_ids[k];
                size_t sl = t->tok_len[sid];
                if (nexts[k] == SIZE_MAX || nexts[k] < pos) {
                    const uint8_t *f = memmem(s + pos, n - pos, t->bytes + t->tok_off[sid], sl);
                    nexts[k] = f ? (size_t)(f - s) : n;
                }
                size_t at = nexts[k];
                if (at >= n) continue;
                /* leftmost; the longest on a tie */
                if (at < seg_end || (at == seg_end && which != SIZE_MAX && sl > t->tok_len[t->special_ids[which]])) {
                    seg_end = at;
                    which = k;
                }
            }
        }
        st = encode_segment(t, w, s, n, pos, seg_end, o, ctx);
        if (st != TG_OK) goto fail;
        if (which == SIZE_MAX) break;
        int32_t sid = t->special_ids[which];
        size_t sl = t->tok_len[sid];
        st = tokens_reserve(o, 1, false);
        if (st != TG_OK) goto fail;
        o->ids[o->n++] = sid;
        pos = seg_end + sl;
    }
    if (nexts != next_at) free(nexts);
    if (offsets) {
        st = tokens_reserve(o, 0, true);
        if (st != TG_OK) goto fail;
        fill_offsets(t, o->ids + base_n, o->n - base_n, (flags & TG_ENC_CHAR_OFFSETS) == TG_ENC_CHAR_OFFSETS,
                     o->offsets + 2 * base_n);
    }
    return TG_OK;
fail:
    if (nexts != next_at) free(nexts);
    o->n = base_n;
    return st;
}

/* UTF-8 of code units (Latin-1, UCS-2 or UCS-4 strings, as Python stores them).  Two
 * passes, each written so the compiler vectorizes it: the size (branch-free counts of the
 * units needing 2, 3, 4 bytes, with any surrogate or value past U+10FFFF flagged), then
 * the conversion, which copies 16 ASCII units at a time and encodes the others one by one.
 * The result is valid UTF-8 by construction, so encode_text need not check it again. */
#define TG_DEFINE_UNITS_TO_UTF8(NAME, T)                                                               \
    static tg_status NAME(const T *u, size_t len, tg_work *w, size_t *out_n) {                         \
        size_t extra = 0;                                                                              \
        uint32_t bad = 0;                                                                              \
        for (size_t i = 0; i < len; i++) {                                                             \
            uint32_t c = u[i];                                                                         \
            extra += (size_t)(c >= 0x80) + (size_t)(c >= 0x800) + (size_t)(c >= 0x10000);              \
            bad |= (uint32_t)((c - 0xD800u) < 0x800u) | (uint32_t)(c > 0x10FFFFu);                     \
        }                                                                                              \
        if (bad) {                                                                                     \
            for (size_t i = 0; i < len; i++) {                                                         \
                uint32_t c = u[i];                                                                     \
                if (c >= 0xD800 && c <= 0xDFFF)                                                        \
                    return tg_fail(TG_ERR_UNICODE, "lone surrogate U+%04X at character %zu, which UTF-8 " \
                                   "cannot encode; remove or replace it", (unsigned)c, i);              \
                if (c > 0x10FFFF)                                                                      \
                    return tg_fail(TG_ERR_UNICODE, "code point 0x%X at character %zu is beyond U+10FFFF", \
                                   (unsigned)c, i);                                                    \
            }                                                                                          \
        }                                                                                              \
        if (len > SIZE_MAX / 4) return tg_fail(TG_ERR_OVERFLOW, "text of %zu characters is too long", len);   \
        size_t size = len + extra; /* <= 4 * len: len units of at most 4 bytes */                      \
        if (size > w->u8_cap) {                                                                        \
            uint8_t *p = realloc(w->u8, size ? size : 1);                                              \
            if (!p) return tg_fail(TG_ERR_NOMEM, "out of memory for %zu bytes of text", size);         \
            w->u8 = p;                                                                                 \
            w->u8_cap = size;                                                                          \
        }                                                                                              \
        uint8_t *o = w->u8;                                                                            \
        size_t i = 0, block_end = 0;                                                                   \
        while (i < len) {                                                                              \
            /* a block of 16 units is copied at once when all are ASCII, else encoded one by one */   \
            if (i >= block_end && i + 16 <= len) {                                                     \
                uint32_t any = 0;                                                                      \
                for (size_t k = 0; k < 16; k++) any |= u[i + k];                                       \
                if (any < 0x80) {                                                                      \
                    for (size_t k = 0; k < 16; k++) o[k] = (uint8_t)u[i + k];                          \
                    o += 16;                                                                           \
                    i += 16;                                                                           \
                    continue;                                                                          \
                }                                                                                      \
                block_end = i + 16;                                                                    \
            }                                                                                          \
            uint32_t c = u[i++];                                                                       \
            if (c < 0x80) {                                                                            \
                *o++ = (uint8_t)c;                                                                     \
            } else if (c < 0x800) {                                                                    \
                *o++ = (uint8_t)(0xC0 | (c >> 6));                                                     \
                *o++ = (uint8_t)(0x80 | (c & 0x3F));                                                   \
            } else if (c < 0x10000) {                                                                  \
                *o++ = (uint8_t)(0xE0 | (c >> 12));                                                    \
                *o++ = (uint8_t)(0x80 | ((c >> 6) & 0x3F));                                            \
                *o++ = (uint8_t)(0x80 | (c & 0x3F));                                                   \
            } else {                                                                                   \
                *o++ = (uint8_t)(0xF0 | (c >> 18));                                                    \
                *o++ = (uint8_t)(0x80 | ((c >> 12) & 0x3F));                                           \
                *o++ = (uint8_t)(0x80 | ((c >> 6) & 0x3F));                                            \
                *o++ = (uint8_t)(0x80 | (c & 0x3F));                                                   \
            }                                                                                          \
        }                                                                                              \
        *out_n = size;                                                                                 \
        return TG_OK;                                                                                  \
    }

TG_DEFINE_UNITS_TO_UTF8(latin1_to_utf8, uint8_t)
TG_DEFINE_UNITS_TO_UTF8(ucs2_to_utf8, uint16_t)
TG_DEFINE_UNITS_TO_UTF8(ucs4_to_utf8, uint32_t)
#undef TG_DEFINE_UNITS_TO_UTF8

/* The UTF-8 bytes of `t` (pointing into the caller's data for UTF-8, else into w->u8);
 * *valid tells whether they are known valid (converted here) or must still be checked. */
static tg_status text_utf8(const tg_text *t, tg_work *w, const uint8_t **s, size_t *n, bool *valid) {
    *valid = false;
    if (t->width == TG_TEXT_UTF8) {
        *s = t->data;
        *n = t->len;
        return TG_OK;
    }
    tg_status st;
    switch (t->width) {
    case TG_TEXT_LATIN1: st = latin1_to_utf8(t->data, t->len, w, n); break;
    case TG_TEXT_UCS2: st = ucs2_to_utf8(t->data, t->len, w, n); break;
    case TG_TEXT_UCS4: st = ucs4_to_utf8(t->data, t->len, w, n); break;
    default: return tg_fail(TG_ERR_VALUE, "tg_text: unknown width %d", t->width);
    }
    if (st != TG_OK) return st;
    *s = w->u8;
    *valid = true;
    return TG_OK;
}

static tg_status encode_any(const tg_tokenizer *tok, tg_work *w, const tg_text *text, const uint8_t *modes, int flags,
                            tg_tokens *o, enc_ctx *ctx) {
    const uint8_t *s = NULL;
    size_t n = 0;
    bool valid = false;
    tg_status st = text_utf8(text, w, &s, &n, &valid);
    if (st != TG_OK) return st;
    return encode_text(tok, w, s, n, valid, modes, flags, o, ctx);
}

tg_status tg_encode_text(const tg_tokenizer *tok, const tg_text *text, const uint8_t *special_modes, int flags,
                         tg_tokens *out) {
    if (!tok || !out || !text || (!text->data && text->len)) return tg_fail(TG_ERR_VALUE, "tg_encode_text: NULL argument");
    out->n = 0;
    tg_work *w = pool_acquire(tok);
    if (!w) return tg_fail(TG_ERR_NOMEM, "out of memory for the encoder's work space");
    enc_ctx ctx = {.poll = true};
    tg_status st = encode_any(tok, w, text, special_modes, flags, out, &ctx);
    pool_release(tok, w);
    return st;
}

tg_status tg_encode(const tg_tokenizer *tok, const char *text, size_t len, const uint8_t *special_modes, int flags,
                    tg_tokens *out) {
    if (!tok || !out || (!text && len)) return tg_fail(TG_ERR_VALUE, "tg_encode: NULL argument");
    out->n = 0;
    tg_work *w = pool_acquire(tok);
    if (!w) return tg_fail(TG_ERR_NOMEM, "out of memory for the encoder's work space");
    enc_ctx ctx = {.poll = true};
    tg_status st = encode_text(tok, w, (const uint8_t *)text, len, false, special_modes, flags, out, &ctx);
    pool_release(tok, w);
    return st;
}

/* ---------------------------------------------------------------- batches */

struct tg_batch {
    const tg_tokenizer *tok;
    size_t n, max_len;
    int flags;
    size_t *start, *len;
    int *owner;
    int nbufs;
    tg_tokens *bufs;
};

void tg_batch_free(tg_batch *b) {
    if (!b) return;
    if (b->bufs)
        for (int i = 0; i < b->nbufs; i++) tg_tokens_free(&b->bufs[i]);
    free(b->bufs);
    free(b->start);
    free(b->len);
    free(b->owner);
    free(b);
}

size_t tg_batch_count(const tg_batch *b) { return b ? b->n : 0; }
size_t tg_batch_length(const tg_batch *b, size_t i) { return (b && i < b->n) ? b->len[i] : 0; }
size_t tg_batch_max_length(const tg_batch *b) { return b ? b->max_len : 0; }

/* Runs fn(ctx, tid) for tid = 0..nt-1: tid 0 on the calling thread, the others on threads
 * made for this call and joined before returning.  Threads that cannot be made are simply
 * not there (the callers share work dynamically, or give a missing thread's share to
 * tid 0), so this cannot fail.  Returns how many threads ran.
 * Why not OpenMP: a batch is one short parallel region; libgomp's workers spin-wait at
 * its barrier and, when the machine is busy, take CPU time from the very thread they wait
 * for (on a loaded 2-core machine 2 threads ran 3-4x slower than 1).  Threads that block
 * in pthread_join cost nothing while they wait; creating them costs tens of microseconds,
 * and batches below TEAM_MIN_BYTES run on the calling thread alone. */
#define TEAM_MAX 64
#define TEAM_MIN_BYTES 65536

typedef struct team_arg {
    void (*fn)(void *, int);
    void *ctx;
    int tid;
} team_arg;

static void *team_main(void *p) {
    team_arg *a = p;
    a->fn(a->ctx, a->tid);
    return NULL;
}

static int team_run(int nt, void (*fn)(void *, int), void *ctx) {
    if (nt > TEAM_MAX) nt = TEAM_MAX;
    pthread_t th[TEAM_MAX];
    team_arg args[TEAM_MAX];
    int made = 0;
    for (int k = 1; k < nt; k++) {
        args[made] = (team_arg){.fn = fn, .ctx = ctx, .tid = made + 1};
        if (pthread_create(&th[made], NULL, team_main, &args[made]) != 0) break;
        made++;
    }
    fn(ctx, 0);
    for (int k = 0; k < made; k++) pthread_join(th[k], NULL);
    return made + 1;
}

#define BATCH_CHUNK 4 /* texts taken at a time from the shared counter */

typedef struct batch_job {
    const tg_tokenizer *tok;
    const char *const *utf8;
    const size_t *lens;
    const tg_text *texts; /* either utf8/lens or texts */
    size_t n;
    const uint8_t *modes;
    int flags;
    tg_batch *b;
    atomic_size_t next;
    atomic_size_t limit; /* the lowest failing index so far (0 on an interrupt), SIZE_MAX if none */
    pthread_mutex_t err_lock;
    tg_status err;
    size_t err_index;
    char err_msg[1024];
} batch_job;

/* Records that text i failed with st (TG_ERR_INTERRUPTED: Ctrl-C).  Texts past the lowest
 * failure are abandoned; every text before it is still encoded, so the batch reports the
 * lowest failing index whatever the threads' timing. */
static void batch_error(batch_job *j, tg_status st, size_t i) {
    size_t cut = st == TG_ERR_INTERRUPTED ? 0 : i;
    size_t cur = atomic_load(&j->limit);
    while (cut < cur && !atomic_compare_exchange_weak(&j->limit, &cur, cut)) {
    }
    pthread_mutex_lock(&j->err_lock);
    /* an interrupt wins; otherwise the failing text with the lowest index */
    if (st == TG_ERR_INTERRUPTED ? j->err != TG_ERR_INTERRUPTED : (j->err != TG_ERR_INTERRUPTED && i < j->err_index)) {
        j->err = st;
        j->err_index = i;
        snprintf(j->err_msg, sizeof j->err_msg, "%s", tg_last_error());
    }
    pthread_mutex_unlock(&j->err_lock);
}

static void batch_worker(void *p, int tid) {
    batch_job *j = p;
    tg_batch *b = j->b;
    tg_work *w = pool_acquire(j->tok);
    enc_ctx ctx = {.poll = tid == 0, .limit = &j->limit};
    /* a private buffer per thread: the threads' outputs never share cache lines while growing */
    tg_tokens mine = {0};
    bool done = false;
    while (!done) {
        size_t i0 = atomic_fetch_add_explicit(&j->next, BATCH_CHUNK, memory_order_relaxed);
        if (i0 >= j->n) break;
        size_t i1 = j->n - i0 < BATCH_CHUNK ? j->n : i0 + BATCH_CHUNK;
        for (size_t i = i0; i < i1; i++) {
            /* chunks are taken in index order: past the limit, so is every later one */
            if (i >= atomic_load_explicit(&j->limit, memory_order_relaxed)) {
                done = true;
                break;
            }
            tg_status st;
            ctx.index = i;
            if (!w) {
                st = tg_fail(TG_ERR_NOMEM, "out of memory for the encoder's work space");
            } else if (tid == 0 && tg_interrupted()) {
                ctx.interrupted = true;
                st = tg_fail(TG_ERR_INTERRUPTED, "interrupted");
            } else {
                size_t base = mine.n;
                tg_text one = j->texts ? j->texts[i]
                                       : (tg_text){.data = j->utf8[i], .len = j->lens[i], .width = TG_TEXT_UTF8};
                /* offsets are computed from the ids by tg_batch_fill */
                st = encode_any(j->tok, w, &one, j->modes, j->flags & ~TG_ENC_CHAR_OFFSETS, &mine, &ctx);
                if (st == TG_OK) {
                    b->start[i] = base;
                    b->len[i] = mine.n - base;
                    b->owner[i] = tid;
                }
            }
            if (st != TG_OK) {
                /* abandoned because an earlier text failed: that failure is the one reported */
                if (!(st == TG_ERR_INTERRUPTED && !ctx.interrupted)) batch_error(j, st, i);
                done = true;
                break;
            }
        }
    }
    pool_release(j->tok, w);
    b->bufs[tid] = mine;
}

/* Either utf8/lens or texts is given. */
static tg_status encode_batch(const tg_tokenizer *tok, const char *const *utf8, const size_t *lens,
                              const tg_text *texts, size_t n, const uint8_t *special_modes, int flags, tg_batch **out) {
    int nt = tg_get_num_threads();
    if (nt < 1) nt = 1;
    if (nt > TEAM_MAX) nt = TEAM_MAX;
    if ((size_t)nt > n) nt = n > 0 ? (int)n : 1;
    /* a small batch is done before a thread team would have started */
    size_t total = 0;
    for (size_t i = 0; i < n && total < TEAM_MIN_BYTES; i++) total += texts ? texts[i].len : lens[i];
    if (total < TEAM_MIN_BYTES) nt = 1;
    tg_batch *b = calloc(1, sizeof *b);
    if (!b) return tg_fail(TG_ERR_NOMEM, "out of memory");
    b->tok = tok;
    b->n = n;
    b->flags = flags;
    b->nbufs = nt;
    size_t nn = n ? n : 1;
    b->start = calloc(nn, sizeof *b->start);
    b->len = calloc(nn, sizeof *b->len);
    b->owner = calloc(nn, sizeof *b->owner);
    b->bufs = calloc((size_t)nt, sizeof *b->bufs);
    if (!b->start || !b->len || !b->owner || !b->bufs) {
        tg_batch_free(b);
        return tg_fail(TG_ERR_NOMEM, "out of memory for a batch of %zu texts", n);
    }
    batch_job j = {.tok = tok, .utf8 = utf8, .lens = lens, .texts = texts, .n = n, .modes = special_modes,
                   .flags = flags, .b = b, .err = TG_OK, .err_index = SIZE_MAX};
    atomic_init(&j.next, 0);
    atomic_init(&j.limit, SIZE_MAX);
    if (pthread_mutex_init(&j.err_lock, NULL) != 0) {
        tg_batch_free(b);
        return tg_fail(TG_ERR_NOMEM, "cannot create a mutex");
    }
    team_run(nt, batch_worker, &j);
    pthread_mutex_destroy(&j.err_lock);
    if (j.err != TG_OK) {
        tg_batch_free(b);
        if (j.err == TG_ERR_INTERRUPTED) return tg_fail(j.err, "interrupted");
        return tg_fail(j.err, "text %zu: %s", j.err_index, j.err_msg);
    }
    size_t mx = 0;
    for (size_t i = 0; i < n; i++)
        if (b->len[i] > mx) mx = b->len[i];
    b->max_len = mx;
    *out = b;
    return TG_OK;
}

tg_status tg_encode_batch(const tg_tokenizer *tok, const char *const *texts, const size_t *lens, size_t n,
                          const uint8_t *special_modes, int flags, tg_batch **out) {
    if (!out) return tg_fail(TG_ERR_VALUE, "tg_encode_batch: NULL output");
    *out = NULL;
    if (!tok || (n && (!texts || !lens))) return tg_fail(TG_ERR_VALUE, "tg_encode_batch: NULL argument");
    return encode_batch(tok, texts, lens, NULL, n, special_modes, flags, out);
}

tg_status tg_encode_batch_texts(const tg_tokenizer *tok, const tg_text *texts, size_t n, const uint8_t *special_modes,
                                int flags, tg_batch **out) {
    if (!out) return tg_fail(TG_ERR_VALUE, "tg_encode_batch_texts: NULL output");
    *out = NULL;
    if (!tok || (n && !texts)) return tg_fail(TG_ERR_VALUE, "tg_encode_batch_texts: NULL argument");
    return encode_batch(tok, NULL, NULL, texts, n, special_modes, flags, out);
}

typedef struct fill_job {
    const tg_batch *b;
    size_t T;
    int64_t pad_id;
    bool pad_left;
    int64_t *ids;
    uint8_t *mask;
    int64_t *lengths;
    int64_t *offsets;
    int nt;
    atomic_size_t next;
} fill_job;

#define FILL_CHUNK 64 /* rows taken at a time */

static void fill_rows(void *p, int tid) {
    (void)tid;
    fill_job *f = p;
    const tg_batch *b = f->b;
    size_t T = f->T, n = b->n;
    for (;;) {
        size_t r0 = atomic_fetch_add_explicit(&f->next, FILL_CHUNK, memory_order_relaxed);
        if (r0 >= n) break;
        size_t r1 = n - r0 < FILL_CHUNK ? n : r0 + FILL_CHUNK;
        for (size_t i = r0; i < r1; i++) {
            size_t L = b->len[i];
            const int32_t *src = b->bufs[b->owner[i]].ids + b->start[i];
            size_t col = f->pad_left ? T - L : 0; /* tokens in columns [col, col + L) */
            if (f->ids) {
                int64_t *row = f->ids + i * T;
                for (size_t k = 0; k < col; k++) row[k] = f->pad_id;
                for (size_t k = 0; k < L; k++) row[col + k] = src[k];
                for (size_t k = col + L; k < T; k++) row[k] = f->pad_id;
            }
            if (f->mask) {
                uint8_t *mrow = f->mask + i * T;
                memset(mrow, 0, T);
                memset(mrow + col, 1, L);
            }
            if (f->offsets) {
                int64_t *orow = f->offsets + 2 * i * T;
                for (size_t k = 0; k < 2 * col; k++) orow[k] = -1;
                fill_offsets(b->tok, src, L, (b->flags & TG_ENC_CHAR_OFFSETS) == TG_ENC_CHAR_OFFSETS, orow + 2 * col);
                for (size_t k = 2 * (col + L); k < 2 * T; k++) orow[k] = -1;
            }
            if (f->lengths) f->lengths[i] = (int64_t)L;
        }
    }
}

tg_status tg_batch_fill(const tg_batch *b, size_t T, int64_t pad_id, bool pad_left, int64_t *ids, uint8_t *mask,
                        int64_t *lengths, int64_t *offsets) {
    if (!b) return tg_fail(TG_ERR_VALUE, "tg_batch_fill: NULL batch");
    if (T < b->max_len) return tg_fail(TG_ERR_VALUE, "tg_batch_fill: %zu columns for %zu tokens", T, b->max_len);
    if (offsets && !(b->flags & TG_ENC_OFFSETS)) return tg_fail(TG_ERR_VALUE, "tg_batch_fill: offsets were not computed");
    fill_job f = {.b = b, .T = T, .pad_id = pad_id, .pad_left = pad_left, .ids = ids, .mask = mask,
                  .lengths = lengths, .offsets = offsets};
    atomic_init(&f.next, 0);
    /* the writes are memory-bound: a second thread only pays off on big outputs */
    size_t cells = b->n * T; /* <= the caller's array sizes, which fit in memory */
    team_run(cells > ((size_t)1 << 20) ? b->nbufs : 1, fill_rows, &f);
    return TG_OK;
}

tg_status tg_offsets_from_ids(const tg_tokenizer *tok, const int64_t *ids, size_t n, bool chars, int64_t *off) {
    int64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t id = ids[i];
        if (id < 0 || (uint64_t)id >= tok->n_vocab || tok->tok_len[id] == 0)
            return tg_fail(TG_ERR_INDEX, "token id %lld at position %zu is not in the vocabulary", (long long)id, i);
        if (chars) {
            off[2 * i] = pos - ((tok->tok_flags[id] & FLAG_LEAD0) ? 0 : 1);
            pos += tok->tok_leads[id];
        } else {
            off[2 * i] = pos;
            pos += tok->tok_len[id];
        }
        off[2 * i + 1] = pos;
    }
    return TG_OK;
}

/* ---------------------------------------------------------------- decoding */

tg_status tg_decode_size(const tg_tokenizer *tok, const int64_t *ids, size_t n, size_t *size) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t id = ids[i];
        if (id < 0 || (uint64_t)id >= tok->n_vocab || tok->tok_len[id] == 0)
            return tg_fail(TG_ERR_INDEX, "token id %lld at position %zu is not in the vocabulary (valid ids: 0..%zu)",
                           (long long)id, i, tok->n_vocab - 1);
        if (!tg_add_size(total, tok->tok_len[id], &total)) return tg_fail(TG_ERR_OVERFLOW, "decoded text too long");
    }
    *size = total;
    return TG_OK;
}

tg_status tg_decode(const tg_tokenizer *tok, const int64_t *ids, size_t n, uint8_t *buf) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t id = ids[i];
        if (id < 0 || (uint64_t)id >= tok->n_vocab || tok->tok_len[id] == 0)
            return tg_fail(TG_ERR_INDEX, "token id %lld at position %zu is not in the vocabulary", (long long)id, i);
        memcpy(buf + o, tok->bytes + tok->tok_off[id], tok->tok_len[id]);
        o += tok->tok_len[id];
    }
    return TG_OK;
}

/* ---------------------------------------------------------------- accessors */

size_t tg_tokenizer_n_vocab(const tg_tokenizer *tok) { return tok->n_vocab; }
int32_t tg_tokenizer_eot_id(const tg_tokenizer *tok) { return tok->eot; }
size_t tg_tokenizer_n_special(const tg_tokenizer *tok) { return tok->n_special; }

bool tg_tokenizer_special(const tg_tokenizer *tok, size_t i, const uint8_t **bytes, size_t *len, int32_t *id) {
    if (i >= tok->n_special) return false;
    int32_t sid = tok->special_ids[i];
    if (bytes) *bytes = tok->bytes + tok->tok_off[sid];
    if (len) *len = tok->tok_len[sid];
    if (id) *id = sid;
    return true;
}

bool tg_tokenizer_token_bytes(const tg_tokenizer *tok, int64_t id, const uint8_t **bytes, size_t *len) {
    if (id < 0 || (uint64_t)id >= tok->n_vocab || tok->tok_len[id] == 0) return false;
    *bytes = tok->bytes + tok->tok_off[id];
    *len = tok->tok_len[id];
    return true;
}

/* ---------------------------------------------------------------- loading */

void tg_tokenizer_free(tg_tokenizer *t) {
    if (!t) return;
    for (size_t i = 0; i < t->pool_n; i++) work_free(t->pool[i]);
    pthread_mutex_destroy(&t->pool_lock);
    free(t->tok_off);
    free(t->tok_len);
    free(t->tok_leads);
    free(t->tok_flags);
    free(t->bytes);
    free(t->vmap);
    free(t->pmap);
    free(t->special_ids);
    free(t);
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

static void show_token(char *dst, size_t cap, const uint8_t *s, size_t n) {
    /* a short printable excerpt for error messages */
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != 0x7F && c != '"' && c != '\\')
            dst[o++] = (char)c;
        else
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02X", c);
    }
    if (o >= cap) o = cap - 1;
    dst[o] = '\0';
}

/* Re-raises the current detail as `code` prefixed with `name` (the detail is copied
 * first: tg_fail writes the buffer tg_last_error points to). */
static tg_status prefix_error(tg_status code, const char *name) {
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", tg_last_error());
    return tg_fail(code, "%s: %s", name, detail);
}

static tg_status load_vocab(tg_tokenizer *t, const char *text, size_t len, const char *name) {
    tg_json_doc *doc = NULL;
    tg_status st = tg_json_parse(text, len, &doc);
    if (st != TG_OK) return prefix_error(TG_ERR_FORMAT, name);
    const tg_json *root = tg_json_root(doc);
    if (root->type != TG_JSON_OBJECT) {
        tg_json_free(doc);
        return tg_fail(TG_ERR_FORMAT, "%s: expected a JSON object {token: id}", name);
    }
    size_t count = root->u.object.count;
    if (count < 256) {
        tg_json_free(doc);
        return tg_fail(TG_ERR_FORMAT, "%s: %zu tokens; a byte-level vocabulary needs at least the 256 byte tokens", name, count);
    }
    char shown[120];
    int64_t max_id = -1;
    size_t total_bytes = 0;
    for (size_t i = 0; i < count; i++) {
        const tg_json_member *m = &root->u.object.members[i];
        int64_t id;
        show_token(shown, sizeof shown, (const uint8_t *)m->key, m->key_len);
        if (!tg_json_as_int64(&m->value, &id) || id < 0 || id > TG_TOKENIZER_MAX_ID) {
            tg_json_free(doc);
            return tg_fail(TG_ERR_FORMAT, "%s: token #%zu \"%s\": the id must be an integer in [0, %d]", name, i, shown,
                           TG_TOKENIZER_MAX_ID);
        }
        if (m->key_len == 0) {
            tg_json_free(doc);
            return tg_fail(TG_ERR_FORMAT, "%s: token #%zu is the empty string", name, i);
        }
        if (id > max_id) max_id = id;
        total_bytes += m->key_len; /* decoded bytes <= UTF-8 length; bounded by the file size */
    }
    t->n_vocab = (size_t)max_id + 1;
    t->tok_off = calloc(t->n_vocab, sizeof *t->tok_off);
    t->tok_len = calloc(t->n_vocab, sizeof *t->tok_len);
    t->tok_flags = calloc(t->n_vocab, 1);
    t->tok_leads = calloc(t->n_vocab, sizeof *t->tok_leads);
    t->bytes = malloc(total_bytes);
    size_t vcap = pow2_at_least(count * 2);
    t->vmap = calloc(vcap, sizeof *t->vmap);
    t->vmap_mask = vcap - 1;
    if (!t->tok_off || !t->tok_len || !t->tok_leads || !t->tok_flags || !t->bytes || !t->vmap) {
        tg_json_free(doc);
        return tg_fail(TG_ERR_NOMEM, "%s: out of memory", name);
    }
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        const tg_json_member *m = &root->u.object.members[i];
        int64_t id;
        tg_json_as_int64(&m->value, &id);
        uint32_t bad = 0;
        size_t nb = byte_level_decode((const uint8_t *)m->key, m->key_len, t->bytes + used, &bad);
        show_token(shown, sizeof shown, (const uint8_t *)m->key, m->key_len);
        if (nb == (size_t)-1) {
            tg_json_free(doc);
            return tg_fail(TG_ERR_FORMAT,
                           "%s: token #%zu \"%s\" has the character U+%04X, which is not in GPT-2's byte-level alphabet",
                           name, i, shown, (unsigned)bad);
        }
        if (t->tok_len[id] != 0) {
            tg_json_free(doc);
            return tg_fail(TG_ERR_FORMAT, "%s: token #%zu \"%s\" reuses id %lld", name, i, shown, (long long)id);
        }
        if (nb >= SLOT_SELF) {
            tg_json_free(doc);
            return tg_fail(TG_ERR_FORMAT, "%s: token #%zu \"%s\" is %zu bytes long (at most %u)", name, i, shown, nb,
                           SLOT_SELF - 1);
        }
        uint64_t fw = first_word(t->bytes + used, nb, nb);
        uint64_t h = hash_key(t->bytes + used, nb, fw);
        if (vocab_find_key(t, t->bytes + used, nb, fw, h, false) != NONE32) {
            tg_json_free(doc);
            return tg_fail(TG_ERR_FORMAT, "%s: token #%zu \"%s\" appears twice", name, i, shown);
        }
        t->tok_off[id] = used;
        t->tok_len[id] = (uint32_t)nb;
        for (size_t k = 0; k < nb; k++) t->tok_leads[id] += (t->bytes[used + k] & 0xC0) != 0x80;
        if ((t->bytes[used] & 0xC0) != 0x80) t->tok_flags[id] |= FLAG_LEAD0;
        size_t j = (size_t)h & t->vmap_mask;
        while (t->vmap[j].id1 != 0) j = (j + 1) & t->vmap_mask;
        t->vmap[j].word = fw;
        t->vmap[j].len = (uint32_t)nb;
        t->vmap[j].id1 = (uint32_t)id + 1;
        used += nb;
    }
    tg_json_free(doc);
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        uint32_t id = vocab_find(t, &c, 1);
        if (id == NONE32) return tg_fail(TG_ERR_FORMAT, "%s: no token for the byte 0x%02X (a byte-level vocabulary needs all 256)", name, b);
        t->byte_id[b] = id;
    }
    return TG_OK;
}

static tg_status merges_fail(const char *name, size_t line, const char *what) {
    return tg_fail(TG_ERR_FORMAT, "%s line %zu: %s", name, line, what);
}

static tg_status load_merges(tg_tokenizer *t, const char *text, size_t len, const char *name) {
    const uint8_t *s = (const uint8_t *)text;
    tg_status st = tg_utf8_check(s, len, NULL);
    if (st != TG_OK) return prefix_error(TG_ERR_FORMAT, name);
    /* every merge line holds one space and ends with a newline (but the last): the
     * smaller count bounds the number of merges, so blank lines cost no memory */
    size_t lines = 1, spaces = 0;
    for (size_t i = 0; i < len; i++) {
        lines += s[i] == '\n';
        spaces += s[i] == ' ';
    }
    size_t most = lines < spaces ? lines : spaces;
    size_t pcap = pow2_at_least(most * 2 + 2);
    t->pmap = malloc(pcap * sizeof *t->pmap);
    if (!t->pmap) return tg_fail(TG_ERR_NOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < pcap; i++) t->pmap[i].key = UINT64_MAX;
    t->pmap_mask = pcap - 1;
    unsigned bits = 0;
    while (((size_t)1 << bits) < pcap) bits++;
    t->pmap_shift = 64 - bits;
    uint8_t *buf = malloc(len + 1);
    if (!buf) return tg_fail(TG_ERR_NOMEM, "%s: out of memory", name);
    size_t pos = 0, line = 0, rank = 0, blank_line = 0;
    char shown[120];
    while (pos < len) {
        size_t e = pos;
        while (e < len && s[e] != '\n') e++;
        size_t next = e < len ? e + 1 : e;
        line++;
        size_t le = e;
        if (le > pos && s[le - 1] == '\r') le--;
        if (line == 1 && le - pos >= 8 && memcmp(s + pos, "#version", 8) == 0) {
            pos = next;
            continue;
        }
        if (le == pos) {
            if (!blank_line) blank_line = line;
            pos = next;
            continue;
        }
        if (blank_line) {
            free(buf);
            return merges_fail(name, blank_line, "blank line before the last merge");
        }
        const uint8_t *sp = memchr(s + pos, ' ', le - pos);
        if (!sp || sp == s + pos || sp + 1 == s + le || memchr(sp + 1, ' ', (size_t)(s + le - sp - 1))) {
            free(buf);
            return merges_fail(name, line, "expected two tokens separated by one space");
        }
        uint32_t bad = 0, ids[2];
        size_t nb[2];
        const uint8_t *part[2] = {s + pos, sp + 1};
        size_t plen[2] = {(size_t)(sp - s) - pos, (size_t)(s + le - sp - 1)};
        size_t off = 0;
        for (int k = 0; k < 2; k++) {
            nb[k] = byte_level_decode(part[k], plen[k], buf + off, &bad);
            if (nb[k] == (size_t)-1) {
                free(buf);
                char what[160];
                snprintf(what, sizeof what, "character U+%04X is not in GPT-2's byte-level alphabet", (unsigned)bad);
                return merges_fail(name, line, what);
            }
            ids[k] = vocab_find(t, buf + off, nb[k]);
            if (ids[k] == NONE32) {
                free(buf);
                char what[200];
                show_token(shown, sizeof shown, part[k], plen[k]);
                snprintf(what, sizeof what, "token \"%s\" is not in the vocabulary", shown);
                return merges_fail(name, line, what);
            }
            off += nb[k];
        }
        uint32_t merged = vocab_find(t, buf, off);
        if (merged == NONE32) {
            free(buf);
            char what[200];
            show_token(shown, sizeof shown, s + pos, le - pos);
            snprintf(what, sizeof what, "the merged token of \"%s\" is not in the vocabulary", shown);
            return merges_fail(name, line, what);
        }
        uint64_t key = ((uint64_t)ids[0] << 32) | ids[1];
        size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> t->pmap_shift);
        while (t->pmap[j].key != UINT64_MAX && t->pmap[j].key != key) j = (j + 1) & t->pmap_mask;
        if (t->pmap[j].key == key) {
            free(buf);
            return merges_fail(name, line, "this merge appeared on an earlier line");
        }
        t->pmap[j].key = key;
        t->pmap[j].rank = t->rank_by_merged_id ? merged : (uint32_t)rank;
        rank++;
        t->pmap[j].merged = merged;
        t->tok_flags[merged] |= FLAG_MERGED;
        pos = next;
    }
    free(buf);
    return TG_OK;
}

static tg_status finish(tg_tokenizer *t) {
    /* specials: "<|...|>" entries that no merge produces */
    size_t ns = 0;
    t->eot = -1;
    for (size_t id = 0; id < t->n_vocab; id++) {
        size_t l = t->tok_len[id];
        const uint8_t *b = t->bytes + t->tok_off[id];
        if (l == 13 && memcmp(b, "<|endoftext|>", 13) == 0) t->eot = (int32_t)id;
        if (l >= 4 && !(t->tok_flags[id] & FLAG_MERGED) && b[0] == '<' && b[1] == '|' && b[l - 2] == '|' && b[l - 1] == '>') {
            t->tok_flags[id] |= FLAG_SPECIAL;
            ns++;
        }
    }
    t->special_ids = malloc((ns ? ns : 1) * sizeof *t->special_ids);
    if (!t->special_ids) return tg_fail(TG_ERR_NOMEM, "out of memory");
    t->n_special = 0;
    for (size_t id = 0; id < t->n_vocab; id++)
        if (t->tok_flags[id] & FLAG_SPECIAL) t->special_ids[t->n_special++] = (int32_t)id;
    /* which tokens BPE reproduces from their own bytes (the whole-pre-token shortcut) */
    tg_work *w = work_new();
    if (!w) return tg_fail(TG_ERR_NOMEM, "out of memory");
    enc_ctx ctx = {.poll = false};
    for (size_t id = 0; id < t->n_vocab; id++) {
        size_t l = t->tok_len[id];
        if (l == 0 || (t->tok_flags[id] & FLAG_SPECIAL)) continue;
        if (l == 1 || t->rank_by_merged_id) {
            t->tok_flags[id] |= FLAG_SELF;
            continue;
        }
        tg_status st = bpe(t, w, t->bytes + t->tok_off[id], l, &ctx);
        if (st != TG_OK) {
            work_free(w);
            return st;
        }
        if (w->res_n == 1 && w->ids[0] == id) t->tok_flags[id] |= FLAG_SELF;
    }
    work_free(w);
    for (size_t i = 0; i <= t->vmap_mask; i++)
        if (t->vmap[i].id1 != 0 && (t->tok_flags[t->vmap[i].id1 - 1] & FLAG_SELF)) t->vmap[i].len |= SLOT_SELF;
    return TG_OK;
}

tg_status tg_tokenizer_load_buffers(tg_tokenizer **out, const char *vocab, size_t vocab_len, const char *vocab_name,
                                    const char *merges, size_t merges_len, const char *merges_name) {
    return tg_tokenizer_load_buffers_opts(out, vocab, vocab_len, vocab_name, merges, merges_len, merges_name, NULL);
}

int tg_tokenizer_pattern(const tg_tokenizer *tok) { return tok->pattern; }

tg_status tg_tokenizer_load_buffers_opts(tg_tokenizer **out, const char *vocab, size_t vocab_len,
                                         const char *vocab_name, const char *merges, size_t merges_len,
                                         const char *merges_name, const tg_tokenizer_opts *opts) {
    if (!out) return tg_fail(TG_ERR_VALUE, "tg_tokenizer_load_buffers: NULL output");
    if (opts && opts->pattern != 0 && opts->pattern != 1) return tg_fail(TG_ERR_VALUE, "unknown split pattern %d", opts->pattern);
    *out = NULL;
    if ((!vocab && vocab_len) || (!merges && merges_len)) return tg_fail(TG_ERR_VALUE, "tg_tokenizer_load_buffers: NULL buffer");
    pthread_once(&alphabet_once, alphabet_init);
    if (!vocab_name) vocab_name = "vocab";
    if (!merges_name) merges_name = "merges";
    tg_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return tg_fail(TG_ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&t->pool_lock, NULL) != 0) {
        free(t);
        return tg_fail(TG_ERR_NOMEM, "cannot create a mutex");
    }
    if (opts) {
        t->pattern = opts->pattern;
        t->rank_by_merged_id = opts->rank_by_merged_id;
    }
    tg_status st = load_vocab(t, vocab ? vocab : "", vocab_len, vocab_name);
    if (st == TG_OK) st = load_merges(t, merges ? merges : "", merges_len, merges_name);
    if (st == TG_OK) st = finish(t);
    if (st != TG_OK) {
        tg_tokenizer_free(t);
        return st;
    }
    *out = t;
    return TG_OK;
}

tg_status tg_tokenizer_load(tg_tokenizer **out, const char *vocab_path, const char *merges_path) {
    if (!out) return tg_fail(TG_ERR_VALUE, "tg_tokenizer_load: NULL output");
    *out = NULL;
    if (!vocab_path || !merges_path) return tg_fail(TG_ERR_VALUE, "tg_tokenizer_load: NULL path");
    tg_mapfile *vm = NULL, *mm = NULL;
    tg_status st = tg_mapfile_open(vocab_path, &vm);
    if (st != TG_OK) return st;
    st = tg_mapfile_open(merges_path, &mm);
    if (st != TG_OK) {
        tg_mapfile_close(vm);
        return st;
    }
    st = tg_tokenizer_load_buffers(out, (const char *)vm->data, vm->size, vocab_path, (const char *)mm->data, mm->size,
                                   merges_path);
    tg_mapfile_close(vm);
    tg_mapfile_close(mm);
    return st;
}
