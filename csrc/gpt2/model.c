/* model.c - GPT-2 weights bound to safetensors mappings, capture plans, and the forward pass.
 *
 * Shapes in comments: B batch, T tokens, N = B*T, C n_embd, H heads, D = C/H, F n_inner,
 * V vocabulary.  Every activation is row-major [N, width]; attention works per (b, h) on
 * strided sub-matrices of the qkv buffer [N, 3C] and writes z [N, C] = [B, T, H, D]. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "tokgeo/gpt2.h"

#include "base/blas.h"
#include "base/internal.h"
#include "gpt2/kernels.h"
#include "gpt2/testing.h"

/* ------------------------------------------------------------------ config */

tg_status tg_gpt2_config_check(const tg_gpt2_config *c) {
    if (c == NULL) return tg_fail(TG_ERR_VALUE, "NULL config");
    const int64_t big = (int64_t)1 << 24; /* sizes beyond this are nonsense for GPT-2 */
#define CHECK_RANGE(field, lo, hi)                                                                      \
    if (c->field < (lo) || c->field > (hi))                                                             \
        return tg_fail(TG_ERR_FORMAT, "config: " #field " = %lld is out of range [%lld, %lld]", (long long)c->field, \
                       (long long)(lo), (long long)(hi));
    CHECK_RANGE(n_layer, 1, 4096)
    CHECK_RANGE(n_head, 1, 65536)
    CHECK_RANGE(n_embd, 1, big)
    CHECK_RANGE(n_ctx, 1, big)
    CHECK_RANGE(n_vocab, 1, (int64_t)1 << 31)
    CHECK_RANGE(n_inner, 1, (int64_t)1 << 28)
#undef CHECK_RANGE
    if (c->n_embd % c->n_head != 0)
        return tg_fail(TG_ERR_FORMAT, "config: n_embd = %lld is not divisible by n_head = %lld", (long long)c->n_embd,
                       (long long)c->n_head);
    if (!(c->layer_norm_eps > 0.0) || !isfinite(c->layer_norm_eps) || c->layer_norm_eps > 1.0)
        return tg_fail(TG_ERR_FORMAT, "config: layer_norm_epsilon = %g must be in (0, 1]", c->layer_norm_eps);
    if ((int)c->activation < 0 || c->activation > TG_GPT2_RELU)
        return tg_fail(TG_ERR_FORMAT, "config: unknown activation code %d", (int)c->activation);
    size_t t;
    if (!tg_mul3_size((size_t)c->n_vocab, (size_t)c->n_embd, 4, &t) || !tg_mul3_size((size_t)c->n_inner, (size_t)c->n_embd, 4, &t) ||
        !tg_mul3_size((size_t)c->n_embd, (size_t)c->n_embd, 12, &t) || !tg_mul3_size((size_t)c->n_ctx, (size_t)c->n_embd, 4, &t))
        return tg_fail(TG_ERR_FORMAT, "config: weight sizes overflow");
    return TG_OK;
}

/* ------------------------------------------------------------------ weights */

typedef struct rec {
    char *name;        /* canonical (no "transformer.") */
    const float *data;
    int ndim;
    int64_t shape[2];
    float *owned;      /* non-NULL when converted/copied */
} rec;

struct tg_gpt2 {
    tg_gpt2_config cfg;
    tg_safetensors **files;
    size_t n_files;
    rec *recs;
    size_t n_recs;
    size_t owned_bytes;
    tg_gpt2_layer *layers;
    tg_gpt2_weights w;
};

void tg_gpt2_close(tg_gpt2 *m) {
    if (m == NULL) return;
    for (size_t i = 0; i < m->n_recs; i++) {
        free(m->recs[i].name);
        free(m->recs[i].owned);
    }
    free(m->recs);
    for (size_t i = 0; i < m->n_files; i++) tg_st_close(m->files[i]);
    free(m->files);
    free(m->layers);
    free(m);
}

const tg_gpt2_config *tg_gpt2_get_config(const tg_gpt2 *m) { return &m->cfg; }
const tg_gpt2_weights *tg_gpt2_get_weights(const tg_gpt2 *m) { return &m->w; }
size_t tg_gpt2_owned_bytes(const tg_gpt2 *m) { return m->owned_bytes; }
size_t tg_gpt2_tensor_count(const tg_gpt2 *m) { return m->n_recs; }

tg_status tg_gpt2_tensor_at(const tg_gpt2 *m, size_t i, tg_gpt2_tensor *out) {
    if (i >= m->n_recs) return tg_fail(TG_ERR_INDEX, "tensor index %zu out of range (%zu tensors)", i, m->n_recs);
    const rec *r = &m->recs[i];
    out->name = r->name;
    out->data = r->data;
    out->ndim = r->ndim;
    out->shape[0] = r->shape[0];
    out->shape[1] = r->ndim > 1 ? r->shape[1] : 0;
    out->copied = r->owned != NULL;
    return TG_OK;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while ((mant & 0x400u) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Finds `name` with or without "transformer." in any file; NULL when absent. */
static tg_status find_tensor(tg_safetensors **files, size_t n, const char *name, const tg_st_tensor **out) {
    char pref[256];
    int k = snprintf(pref, sizeof pref, "transformer.%s", name);
    if (k < 0 || (size_t)k >= sizeof pref) return tg_fail(TG_ERR_INTERNAL, "tensor name too long");
    const tg_st_tensor *found = NULL;
    *out = NULL;
    for (size_t f = 0; f < n; f++) {
        const tg_st_tensor *a = tg_st_find(files[f], pref), *b = tg_st_find(files[f], name);
        const tg_st_tensor *c[2] = {a, b};
        for (int j = 0; j < 2; j++) {
            if (c[j] == NULL) continue;
            if (found != NULL)
                return tg_fail(TG_ERR_FORMAT, "tensor '%s' is stored twice (as '%s' and '%s'); keep one", name, found->name,
                               c[j]->name);
            found = c[j];
        }
    }
    *out = found;
    return TG_OK;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t at = 0;
    at += (size_t)snprintf(buf + at, cap - at, "[");
    for (int i = 0; i < ndim && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
}

/* Binds one tensor: checks shape, converts if needed, appends a rec.  Absent -> error unless
 * optional (then *data = NULL). */
static tg_status bind(tg_gpt2 *m, const char *name, int ndim, int64_t d0, int64_t d1, bool optional, const float **data) {
    *data = NULL;
    const tg_st_tensor *t = NULL;
    tg_status s = find_tensor(m->files, m->n_files, name, &t);
    if (s != TG_OK) return s;
    if (t == NULL) {
        if (optional) return TG_OK;
        return tg_fail(TG_ERR_FORMAT, "tensor '%s' (or 'transformer.%s') is missing from the checkpoint", name, name);
    }
    int64_t want[2] = {d0, d1};
    bool ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == want[i];
    if (!ok) {
        char e[96], a[200];
        shape_str(e, sizeof e, ndim, want);
        shape_str(a, sizeof a, t->ndim, t->shape);
        return tg_fail(TG_ERR_FORMAT, "tensor '%s': expected shape %s from the config, found %s", t->name, e, a);
    }
    size_t numel = t->nbytes / tg_st_dtype_size(t->dtype);
    rec r = {0};
    r.ndim = ndim;
    r.shape[0] = d0;
    r.shape[1] = ndim > 1 ? d1 : 0;
    if (t->dtype == TG_ST_F32 && ((uintptr_t)t->data % 4) == 0) {
        r.data = t->data;
    } else if (t->dtype == TG_ST_F32 || t->dtype == TG_ST_F16 || t->dtype == TG_ST_BF16 || t->dtype == TG_ST_F64) {
        size_t bytes;
        if (!tg_mul_size(numel, 4, &bytes)) return tg_fail(TG_ERR_OVERFLOW, "tensor '%s' too large", t->name);
        float *buf = tg_alloc_aligned(bytes ? bytes : 4);
        if (buf == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory converting tensor '%s' (%zu bytes)", t->name, bytes);
        const unsigned char *src = t->data;
        for (size_t i = 0; i < numel; i++) {
            if (t->dtype == TG_ST_F32) {
                memcpy(&buf[i], src + 4 * i, 4);
            } else if (t->dtype == TG_ST_F64) {
                double d;
                memcpy(&d, src + 8 * i, 8);
                buf[i] = (float)d;
            } else {
                uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
                if (t->dtype == TG_ST_F16) {
                    buf[i] = half_to_float(h);
                } else {
                    uint32_t bits = (uint32_t)h << 16;
                    memcpy(&buf[i], &bits, 4);
                }
            }
        }
        r.owned = buf;
        r.data = buf;
        m->owned_bytes += bytes;
    } else {
        return tg_fail(TG_ERR_FORMAT, "tensor '%s' has dtype %s; tokgeo reads F32, F16, BF16 or F64 weights", t->name,
                       tg_st_dtype_name(t->dtype));
    }
    r.name = malloc(strlen(name) + 1);
    if (r.name == NULL) {
        free(r.owned);
        return tg_fail(TG_ERR_NOMEM, "out of memory");
    }
    strcpy(r.name, name);
    m->recs[m->n_recs++] = r;
    *data = r.data;
    return TG_OK;
}

/* Rejects blocks the config does not have ("h.<n>." with n >= n_layer). */
static tg_status check_extra_blocks(const tg_gpt2 *m) {
    for (size_t f = 0; f < m->n_files; f++) {
        size_t n = tg_st_count(m->files[f]);
        for (size_t i = 0; i < n; i++) {
            const char *name = tg_st_at(m->files[f], i)->name;
            const char *p = strncmp(name, "transformer.", 12) == 0 ? name + 12 : name;
            if (strncmp(p, "h.", 2) != 0) continue;
            p += 2;
            long long idx = 0;
            int digits = 0;
            while (*p >= '0' && *p <= '9' && digits < 12) {
                idx = idx * 10 + (*p - '0');
                p++;
                digits++;
            }
            if (digits > 0 && *p == '.' && idx >= m->cfg.n_layer)
                return tg_fail(TG_ERR_FORMAT,
                               "tensor '%s' belongs to block %lld but the config has n_layer = %lld; the config does not "
                               "match the checkpoint",
                               name, idx, (long long)m->cfg.n_layer);
        }
    }
    return TG_OK;
}

static tg_status bind_all(tg_gpt2 *m) {
    const tg_gpt2_config *c = &m->cfg;
    const int64_t C = c->n_embd, F = c->n_inner, V = c->n_vocab;
    tg_status s;
    size_t nrec;
    if (!tg_mul_size((size_t)c->n_layer, 12, &nrec) || !tg_add_size(nrec, 6, &nrec))
        return tg_fail(TG_ERR_OVERFLOW, "too many layers");
    m->recs = calloc(nrec, sizeof *m->recs);
    m->layers = calloc((size_t)c->n_layer, sizeof *m->layers);
    if (m->recs == NULL || m->layers == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory");
    if ((s = check_extra_blocks(m)) != TG_OK) return s;
    if ((s = bind(m, "wte.weight", 2, V, C, false, &m->w.wte)) != TG_OK) return s;
    if ((s = bind(m, "wpe.weight", 2, c->n_ctx, C, false, &m->w.wpe)) != TG_OK) return s;
    char nm[96];
    for (int64_t l = 0; l < c->n_layer; l++) {
        tg_gpt2_layer *L = &m->layers[l];
        struct {
            const char *suffix;
            int ndim;
            int64_t d0, d1;
            const float **dst;
        } spec[12] = {
            {"ln_1.weight", 1, C, 0, &L->ln1_w},        {"ln_1.bias", 1, C, 0, &L->ln1_b},
            {"attn.c_attn.weight", 2, C, 3 * C, &L->attn_w}, {"attn.c_attn.bias", 1, 3 * C, 0, &L->attn_b},
            {"attn.c_proj.weight", 2, C, C, &L->proj_w}, {"attn.c_proj.bias", 1, C, 0, &L->proj_b},
            {"ln_2.weight", 1, C, 0, &L->ln2_w},        {"ln_2.bias", 1, C, 0, &L->ln2_b},
            {"mlp.c_fc.weight", 2, C, F, &L->fc_w},     {"mlp.c_fc.bias", 1, F, 0, &L->fc_b},
            {"mlp.c_proj.weight", 2, F, C, &L->fcproj_w}, {"mlp.c_proj.bias", 1, C, 0, &L->fcproj_b},
        };
        for (int j = 0; j < 12; j++) {
            snprintf(nm, sizeof nm, "h.%lld.%s", (long long)l, spec[j].suffix);
            if ((s = bind(m, nm, spec[j].ndim, spec[j].d0, spec[j].d1, false, spec[j].dst)) != TG_OK) return s;
        }
    }
    if ((s = bind(m, "ln_f.weight", 1, C, 0, false, &m->w.lnf_w)) != TG_OK) return s;
    if ((s = bind(m, "ln_f.bias", 1, C, 0, false, &m->w.lnf_b)) != TG_OK) return s;
    /* lm_head.weight is top-level in HF checkpoints; bind() also accepts a prefixed copy */
    const float *head = NULL;
    if ((s = bind(m, "lm_head.weight", 2, V, C, true, &head)) != TG_OK) return s;
    m->w.lm_head = m->w.wte;
    m->w.lm_head_tied = true;
    if (head != NULL) {
        size_t bytes = (size_t)V * (size_t)C * 4;
        if (memcmp(head, m->w.wte, bytes) == 0) { /* tied: drop the duplicate */
            rec *r = &m->recs[--m->n_recs];
            if (r->owned) m->owned_bytes -= bytes;
            free(r->owned);
            free(r->name);
            memset(r, 0, sizeof *r);
        } else {
            m->w.lm_head = head;
            m->w.lm_head_tied = false;
        }
    }
    m->w.layers = m->layers;
    return TG_OK;
}

tg_status tg_gpt2_open_st(const tg_gpt2_config *cfg, tg_safetensors **files, size_t n_files, tg_gpt2 **out) {
    *out = NULL;
    tg_status s = tg_gpt2_config_check(cfg);
    tg_gpt2 *m = NULL;
    if (s == TG_OK && n_files == 0) s = tg_fail(TG_ERR_VALUE, "no safetensors file given");
    if (s == TG_OK) {
        m = calloc(1, sizeof *m);
        if (m != NULL) m->files = calloc(n_files, sizeof *m->files);
        if (m == NULL || m->files == NULL) {
            free(m);
            m = NULL;
            s = tg_fail(TG_ERR_NOMEM, "out of memory");
        }
    }
    if (s != TG_OK) {
        for (size_t i = 0; i < n_files; i++) tg_st_close(files[i]);
        return s;
    }
    m->cfg = *cfg;
    for (size_t i = 0; i < n_files; i++) m->files[i] = files[i];
    m->n_files = n_files;
    size_t guarded = 0; /* binding converts non-F32 tensors: a read of the mapping */
    for (; guarded < n_files && s == TG_OK; guarded++) s = tg_st_guard_begin(files[guarded]);
    if (s != TG_OK) guarded--;
    if (s == TG_OK) s = bind_all(m);
    for (size_t i = 0; i < guarded; i++) {
        tg_status e = tg_st_guard_end(files[i]);
        if (s == TG_OK) s = e;
    }
    if (s != TG_OK) {
        tg_gpt2_close(m);
        return s;
    }
    *out = m;
    return TG_OK;
}

tg_status tg_gpt2_open(const tg_gpt2_config *cfg, const char *const *paths, size_t n_paths, tg_gpt2 **out) {
    *out = NULL;
    tg_status s = tg_gpt2_config_check(cfg);
    if (s != TG_OK) return s;
    if (n_paths == 0) return tg_fail(TG_ERR_VALUE, "no safetensors file given");
    tg_safetensors **files = calloc(n_paths, sizeof *files);
    if (files == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_paths; i++) {
        s = tg_st_open(paths[i], &files[i]);
        if (s != TG_OK) {
            for (size_t j = 0; j < i; j++) tg_st_close(files[j]);
            free(files);
            return s;
        }
    }
    s = tg_gpt2_open_st(cfg, files, n_paths, out);
    free(files);
    return s;
}

/* ------------------------------------------------------------------ plan */

/* THE capture table (see tg_gpt2.h): name, kind, per block, TransformerLens name, dims,
 * selected axis/index, what it holds. */
#define ROW(name, kind, blk, tl, nd, d0, d1, d2, d3, d4, sa, si, what) \
    {name, TG_HOOK_##kind, blk, tl, nd, {TG_DIM_##d0, TG_DIM_##d1, TG_DIM_##d2, TG_DIM_##d3, TG_DIM_##d4}, sa, si, what}
static const tg_gpt2_capture captures[] = {
    ROW("hook_embed", EMBED, false, true, 3, B, T, C, 1, 1, -1, 0, "wte[token]"),
    ROW("hook_pos_embed", POS_EMBED, false, true, 3, B, T, C, 1, 1, -1, 0, "wpe[position]"),
    ROW("hook_resid_pre", RESID_PRE, true, true, 3, B, T, C, 1, 1, -1, 0, "residual stream entering the block"),
    ROW("ln1.hook_scale", LN1_SCALE, true, true, 3, B, T, 1, 1, 1, -1, 0, "sqrt(var + eps) of ln_1's input"),
    ROW("ln1.hook_normalized", LN1, true, true, 3, B, T, C, 1, 1, -1, 0, "ln_1 output, after its weight and bias"),
    ROW("attn.hook_q", QKV, true, true, 5, B, T, 3, H, D, 2, 0, "queries (c_attn output, bias included)"),
    ROW("attn.hook_k", QKV, true, true, 5, B, T, 3, H, D, 2, 1, "keys"),
    ROW("attn.hook_v", QKV, true, true, 5, B, T, 3, H, D, 2, 2, "values"),
    ROW("attn.hook_qkv", QKV, true, false, 3, B, T, 3C, 1, 1, -1, 0, "the raw c_attn output q | k | v (HF layout)"),
    ROW("attn.hook_attn_scores", ATTN_SCORES, true, true, 4, B, H, T, T, 1, -1, 0, "q.k / sqrt(D); masked keys -inf"),
    ROW("attn.hook_pattern", PATTERN, true, true, 4, B, H, T, T, 1, -1, 0, "softmax of the scores; masked keys 0"),
    ROW("attn.hook_z", Z, true, true, 4, B, T, H, D, 1, -1, 0, "pattern @ v, before c_proj"),
    ROW("hook_attn_out", ATTN_OUT, true, true, 3, B, T, C, 1, 1, -1, 0, "attention output (c_proj, bias included)"),
    ROW("hook_resid_mid", RESID_MID, true, true, 3, B, T, C, 1, 1, -1, 0, "resid_pre + attn_out"),
    ROW("ln2.hook_scale", LN2_SCALE, true, true, 3, B, T, 1, 1, 1, -1, 0, "sqrt(var + eps) of ln_2's input"),
    ROW("ln2.hook_normalized", LN2, true, true, 3, B, T, C, 1, 1, -1, 0, "ln_2 output, after its weight and bias"),
    ROW("mlp.hook_pre", MLP_PRE, true, true, 3, B, T, F, 1, 1, -1, 0, "c_fc output"),
    ROW("mlp.hook_post", MLP_POST, true, true, 3, B, T, F, 1, 1, -1, 0, "activation of c_fc's output"),
    ROW("hook_mlp_out", MLP_OUT, true, true, 3, B, T, C, 1, 1, -1, 0, "MLP output (c_proj)"),
    ROW("hook_resid_post", RESID_POST, true, true, 3, B, T, C, 1, 1, -1, 0, "resid_mid + mlp_out"),
    ROW("ln_final.hook_scale", LNF_SCALE, false, true, 3, B, T, 1, 1, 1, -1, 0, "sqrt(var + eps) of ln_f's input"),
    ROW("ln_final.hook_normalized", LN_FINAL, false, true, 3, B, T, C, 1, 1, -1, 0, "ln_f output (after weight and bias)"),
    ROW("logits", LOGITS, false, true, 3, B, T, V, 1, 1, -1, 0, "logits"),
};
#undef ROW
#define N_CAPTURES (sizeof captures / sizeof captures[0])

size_t tg_gpt2_capture_count(void) { return N_CAPTURES; }

const tg_gpt2_capture *tg_gpt2_capture_at(size_t i) { return i < N_CAPTURES ? &captures[i] : NULL; }

const char *tg_gpt2_dim_symbol(tg_gpt2_dim d) {
    static const char *const sym[TG_DIM_COUNT] = {"1", "3", "B", "T", "C", "3C", "H", "D", "F", "V"};
    return ((int)d >= 0 && d < TG_DIM_COUNT) ? sym[d] : "?";
}

/* the first row of kind k: the whole slot (unselected) */
static const tg_gpt2_capture *kind_row(tg_gpt2_hook k) {
    for (size_t i = 0; i < N_CAPTURES; i++)
        if (captures[i].kind == k && captures[i].select_axis < 0) return &captures[i];
    return NULL;
}

const char *tg_gpt2_hook_name(tg_gpt2_hook k) {
    const tg_gpt2_capture *r = kind_row(k);
    return r != NULL ? r->name : "?";
}

bool tg_gpt2_hook_is_global(tg_gpt2_hook k) {
    const tg_gpt2_capture *r = kind_row(k);
    return r != NULL && !r->per_block;
}

static size_t dim_size(const tg_gpt2_config *c, size_t B, size_t T, tg_gpt2_dim d) {
    switch (d) {
    case TG_DIM_1: return 1;
    case TG_DIM_3: return 3;
    case TG_DIM_B: return B;
    case TG_DIM_T: return T;
    case TG_DIM_C: return (size_t)c->n_embd;
    case TG_DIM_3C: return 3 * (size_t)c->n_embd; /* n_embd <= 2^24 (config check) */
    case TG_DIM_H: return (size_t)c->n_head;
    case TG_DIM_D: return (size_t)(c->n_embd / c->n_head);
    case TG_DIM_F: return (size_t)c->n_inner;
    case TG_DIM_V: return (size_t)c->n_vocab;
    default: return 0;
    }
}

/* floats of one slot of kind k for a [B, T] run: the product of its row's dims */
static bool kind_floats(const tg_gpt2_config *c, tg_gpt2_hook k, size_t B, size_t T, size_t *out) {
    const tg_gpt2_capture *r = kind_row(k);
    if (r == NULL) return false;
    size_t n = 1;
    for (int a = 0; a < r->ndim; a++)
        if (!tg_mul_size(n, dim_size(c, B, T, r->dims[a]), &n)) return false;
    *out = n;
    return true;
}

tg_status tg_gpt2_capture_view(const tg_gpt2_plan *p, size_t i, tg_gpt2_view *out) {
    memset(out, 0, sizeof *out);
    if (p == NULL || i >= N_CAPTURES) return tg_fail(TG_ERR_INDEX, "no capture row %zu (the table has %zu)", i, N_CAPTURES);
    const tg_gpt2_capture *r = &captures[i];
    size_t size[TG_CAPTURE_MAX_DIMS], stride[TG_CAPTURE_MAX_DIMS], s = 4;
    for (int a = r->ndim - 1; a >= 0; a--) { /* row-major byte strides of dims */
        size[a] = dim_size(&p->cfg, p->batch, p->seq, r->dims[a]);
        stride[a] = s;
        if (!tg_mul_size(s, size[a], &s)) return tg_fail(TG_ERR_OVERFLOW, "capture %s: size overflow", r->name);
    }
    for (int a = 0; a < r->ndim; a++) {
        if (a == r->select_axis) {
            out->offset = (size_t)r->select_index * stride[a]; /* < the slot's bytes */
            continue;
        }
        out->shape[out->ndim] = size[a];
        out->strides[out->ndim] = stride[a];
        out->ndim++;
    }
    return TG_OK;
}

/* kinds that never need a scratch buffer (computed straight into the arena or skipped;
 * attn_out, mlp_pre and mlp_out live only in the products' tiles unless captured) */
static bool no_scratch(int k) {
    return k == TG_HOOK_ATTN_OUT || k == TG_HOOK_MLP_PRE || k == TG_HOOK_MLP_OUT || k == TG_HOOK_ATTN_SCORES || k == TG_HOOK_PATTERN || k == TG_HOOK_EMBED || k == TG_HOOK_POS_EMBED ||
           k == TG_HOOK_LOGITS || k == TG_HOOK_RESID_PRE || k == TG_HOOK_LN1_SCALE || k == TG_HOOK_LN2_SCALE ||
           k == TG_HOOK_LNF_SCALE;
}

void tg_gpt2_plan_free(tg_gpt2_plan *p) {
    if (p == NULL) return;
    free(p->slot);
    p->slot = NULL;
}

static bool round64(size_t x, size_t *out) {
    if (!tg_add_size(x, 63, out)) return false;
    *out &= ~(size_t)63;
    return true;
}

/* Packing of a padded batch: the row-wise work (LayerNorms, the four products of a block,
 * their epilogues, the logits) runs over the real tokens only, PACK_ROWS rows at a time:
 * a chunk of real rows is gathered into one contiguous input block, multiplied (one BLIS
 * call per TILE_COLS columns per thread, into a per-thread tile that stays in cache), and
 * the tile's epilogue (bias, activation, residual add) scatters it back to the [B, T, .]
 * buffers.  Without padding the products read their input in place and write straight into
 * the destination buffers, all rows in one call per DIRECT_COLS columns (the tile is then
 * the destination's own block; one pass packs each weight once, as an unchunked product). */
enum { PACK_ROWS = 512, TILE_COLS = 256, DIRECT_COLS = 1024 };

/* bytes (each rounded up to 64) of the row list [N], the gathered input [R, max(C, F)] and
 * the per-thread tiles [threads][R, cols], R = min(PACK_ROWS, N), cols = *tile_cols: TILE_COLS
 * or less when the widest product (3C, F, and V with logits) split over the threads is
 * narrower */
static bool pack_sizes(const tg_gpt2_config *c, size_t N, int threads, bool logits, size_t *rows_b, size_t *in_b,
                       size_t *tile_b, size_t *tile_cols) {
    const size_t R = N < PACK_ROWS ? N : PACK_ROWS, nt = (size_t)(threads < 1 ? 1 : threads);
    const size_t K = (size_t)(c->n_inner > c->n_embd ? c->n_inner : c->n_embd);
    size_t wmax = 3 * (size_t)c->n_embd;
    if ((size_t)c->n_inner > wmax) wmax = (size_t)c->n_inner;
    if (logits && (size_t)c->n_vocab > wmax) wmax = (size_t)c->n_vocab;
    size_t cols = (wmax + nt - 1) / nt;
    cols = (cols + 15) & ~(size_t)15;
    *tile_cols = cols < TILE_COLS ? cols : TILE_COLS;
    return tg_mul_size(N, sizeof(size_t), rows_b) && round64(*rows_b, rows_b) && tg_mul3_size(R, K, 4, in_b) &&
           round64(*in_b, in_b) && tg_mul3_size(R, *tile_cols * 4, nt, tile_b) && round64(*tile_b, tile_b);
}

tg_status tg_gpt2_plan_make(const tg_gpt2_config *c, size_t B, size_t T, const uint8_t *want, tg_gpt2_plan *out) {
    memset(out, 0, sizeof *out);
    tg_status s = tg_gpt2_config_check(c);
    if (s != TG_OK) return s;
    if (B == 0 || T == 0) return tg_fail(TG_ERR_VALUE, "empty input: batch %zu x %zu tokens", B, T);
    if (T > (size_t)c->n_ctx)
        return tg_fail(TG_ERR_VALUE, "input of %zu tokens is longer than the model's context n_ctx = %lld", T,
                       (long long)c->n_ctx);
    const size_t L = (size_t)c->n_layer;
    size_t nslots;
    if (!tg_mul_size(L, TG_HOOK_COUNT, &nslots)) return tg_fail(TG_ERR_OVERFLOW, "plan size overflow");
    out->slot = malloc(nslots * sizeof *out->slot);
    if (out->slot == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory");
    out->cfg = *c;
    out->batch = B;
    out->seq = T;
    out->n_layer = L;
    out->threads = tg_get_num_threads();
    size_t run = 0;
    for (int k = 0; k < TG_HOOK_COUNT; k++) {
        out->offset[k] = SIZE_MAX;
        for (size_t l = 0; l < L; l++) {
            bool g = tg_gpt2_hook_is_global((tg_gpt2_hook)k);
            bool w = want != NULL && want[(size_t)k * L + l] && (!g || l == 0);
            out->slot[(size_t)k * L + l] = w ? (int32_t)out->count[k] : -1;
            if (w) {
                out->count[k]++;
                if (!g && l + 1 > run) run = l + 1;
            }
        }
    }
    out->need_head = out->count[TG_HOOK_LN_FINAL] || out->count[TG_HOOK_LNF_SCALE] || out->count[TG_HOOK_LOGITS];
    if (out->need_head) run = L;
    out->run_layers = run;
    size_t at = 0;
    for (int k = 0; k < TG_HOOK_COUNT; k++) {
        if (!kind_floats(c, (tg_gpt2_hook)k, B, T, &out->layer_floats[k])) goto overflow;
        if (out->count[k] == 0) continue;
        if (!tg_mul3_size(out->count[k], out->layer_floats[k], 4, &out->block_bytes[k])) goto overflow;
        out->offset[k] = at;
        if (!tg_add_size(at, out->block_bytes[k], &at)) goto overflow;
        /* keep ln_final right after resid_pre (HF hidden_states as one array) */
        if (!(k == TG_HOOK_RESID_PRE && out->count[TG_HOOK_LN_FINAL]))
            if (!round64(at, &at)) goto overflow;
    }
    out->arena_bytes = at;
    /* scratch: one [N, width] buffer per kind that some computed layer does not capture */
    size_t N = B * T, C = (size_t)c->n_embd, scratch = 0;
    for (int k = 0; k < TG_HOOK_COUNT; k++) {
        if (no_scratch(k)) continue;
        bool needed = (k == TG_HOOK_LN_FINAL) ? (out->need_head && !out->count[k]) : (out->count[k] < run);
        if (!needed) continue;
        size_t b, r;
        if (!tg_mul_size(out->layer_floats[k], 4, &b) || !round64(b, &r) || !tg_add_size(scratch, r, &scratch))
            goto overflow;
    }
    {
        /* residual stream buffer + per-thread T x T attention buffer */
        size_t b, tt;
        if (!tg_mul3_size(N, C, 4, &b) || !tg_add_size(scratch, b, &scratch)) goto overflow;
        if (out->count[TG_HOOK_PATTERN] < run) {
            if (!tg_mul3_size(T, T, 4, &tt) || !round64(tt, &tt) || !tg_mul_size(tt, (size_t)out->threads, &tt) ||
                !tg_add_size(scratch, tt, &scratch))
                goto overflow;
        }
        /* packing (see pack_sizes): the real-row list, one gathered input chunk, and one
         * output tile per thread */
        size_t rows_b, in_b, tile_b, cols;
        if (!pack_sizes(c, N, out->threads, out->count[TG_HOOK_LOGITS] > 0, &rows_b, &in_b, &tile_b, &cols) || !tg_add_size(scratch, rows_b, &scratch) ||
            !tg_add_size(scratch, in_b, &scratch) || !tg_add_size(scratch, tile_b, &scratch))
            goto overflow;
        if (!tg_add_size(scratch, 64 * 16, &scratch)) goto overflow;
    }
    out->scratch_bytes = scratch;
    return TG_OK;
overflow:
    tg_gpt2_plan_free(out);
    memset(out, 0, sizeof *out);
    return tg_fail(TG_ERR_OVERFLOW, "the activations of a %zu x %zu batch do not fit in memory sizes", B, T);
}

/* ------------------------------------------------------------------ buffers */

#include <sys/mman.h>

void *tg_gpt2_alloc_buffer(size_t size) {
    if (size == 0) return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    if (size >= ((size_t)2 << 20)) (void)madvise(p, size, MADV_HUGEPAGE); /* advisory only */
#endif
    return p;
}

void tg_gpt2_free_buffer(void *p, size_t size) {
    if (p != NULL && size > 0) munmap(p, size);
}

/* ------------------------------------------------------------------ forward */

/* Inside a parallel region: this thread's contiguous share [*lo, *hi) of 0..dim, shares
 * rounded up to a multiple of align; returns the thread's number.  Split by the team we got,
 * not the one we asked for: OMP_DYNAMIC, OMP_THREAD_LIMIT and a call nested in another
 * parallel region (a model run from a signal handler that the interrupt poll runs) all give
 * fewer threads than num_threads(nt). */
static size_t team_share(size_t dim, size_t align, size_t *lo, size_t *hi) {
#ifdef _OPENMP
    const size_t t = (size_t)omp_get_thread_num(), team = (size_t)omp_get_num_threads();
#else
    const size_t t = 0, team = 1;
#endif
    size_t per = (dim + team - 1) / team;
    if (per % align) per += align - per % align;
    *lo = t * per < dim ? t * per : dim;
    *hi = *lo + per < dim ? *lo + per : dim;
    return t;
}

/* C[m,n] = A[m,k] @ B[k,n] + beta C, parallelised by us: the threads take contiguous column
 * ranges of C (row ranges when C is too narrow) and each calls single-threaded BLIS, in
 * chunks of about 2 GFLOP; the master polls for Ctrl-C between its chunks and the others
 * stop at their next chunk.  Why not BLIS's own threads: its barriers spin without ever
 * yielding, so on a busy machine (a notebook server, CI, a laptop running other work) a
 * descheduled BLIS thread made the others burn their time slices - 4x slower in our
 * measurements on 2 shared cores - while one OpenMP barrier per product (libgomp spins
 * briefly, then sleeps) costs nothing.  Splitting the columns of the weight matrix also
 * gives each thread its own part of B to pack. */
static tg_status gemm_par(size_t m, size_t n, size_t k, const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *b,
                          ptrdiff_t rsb, ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc, int threads) {
    const double flops = 2.0 * (double)m * (double)n * (double)(k ? k : 1);
    int nt = threads < 1 ? 1 : threads;
    if (flops < 4.0e6) nt = 1;
    const bool along_n = n >= (size_t)nt * 64 || n >= m;
    const size_t dim = along_n ? n : m, other = along_n ? m : n;
    if ((size_t)nt > dim) nt = (int)dim;
    size_t step = (size_t)(2.0e9 / (2.0 * (double)other * (double)(k ? k : 1)));
    if (step < 64) step = 64;
    atomic_int stop = 0;
#pragma omp parallel num_threads(nt)
    {
        size_t lo, hi;
        const size_t t = team_share(dim, along_n ? 16 : 1, &lo, &hi);
        for (size_t s0 = lo; s0 < hi; s0 += step) {
            if (s0 > lo && t == 0 && tg_interrupted()) atomic_store(&stop, 1);
            if (atomic_load(&stop)) break;
            const size_t len = hi - s0 < step ? hi - s0 : step;
            if (along_n)
                tg_sgemm(m, len, k, 1.0f, a, rsa, csa, b + (ptrdiff_t)s0 * csb, rsb, csb, beta, c + (ptrdiff_t)s0 * csc, rsc,
                         csc, true);
            else
                tg_sgemm(len, n, k, 1.0f, a + (ptrdiff_t)s0 * rsa, rsa, csa, b, rsb, csb, beta, c + (ptrdiff_t)s0 * rsc, rsc,
                         csc, true);
        }
    }
    return atomic_load(&stop) ? TG_ERR_INTERRUPTED : TG_OK;
}

typedef struct fw {
    const tg_gpt2 *m;
    const tg_gpt2_plan *p;
    float *arena;
    float *scratch[TG_HOOK_COUNT]; /* per-kind scratch for layers not captured */
    float *resid;                  /* scratch residual stream [N, C] */
    float *attn_buf;               /* [threads][T*T rounded] */
    size_t attn_stride;
    const int64_t *start, *length;
    const size_t *rows; /* [n_rows] flat indices b*T + t of the real tokens; NULL: all N rows */
    size_t n_rows;
    float *pack_in;     /* [min(PACK_ROWS, N), max(C, F)] gathered input rows */
    float *tiles;       /* [threads][min(PACK_ROWS, N) * tile_cols] */
    size_t tile_floats, tile_cols; /* tile_cols <= TILE_COLS: the widest tile a thread computes */
} fw;

/* Sets the pad rows of a [B, T, width] buffer to 0 (the documented value of every capture's
 * padded positions; the arena may be a reused mapping, so this is written, not assumed). */
static void zero_pads(const fw *f, float *buf, size_t width) {
    if (f->rows == NULL) return;
    const size_t T = f->p->seq;
    for (size_t b = 0; b < f->p->batch; b++) {
        const size_t st = (size_t)f->start[b], en = st + (size_t)f->length[b];
        float *row = buf + b * T * width;
        if (st > 0) memset(row, 0, st * width * sizeof *row);
        if (en < T) memset(row + en * width, 0, (T - en) * width * sizeof *row);
    }
}

typedef enum ep_kind {
    EP_STORE, /* out = product */
    EP_ACT,   /* raw = product (when raw != NULL); out = act(product) */
    EP_RESID  /* raw = product (when raw != NULL); out = resid + product */
} ep_kind;

typedef struct epilogue {
    ep_kind kind;
    float *out;          /* [N, W] */
    float *raw;          /* [N, W] or NULL: the product itself, for a capture */
    const float *resid;  /* EP_RESID: [N, W] */
    tg_gpt2_activation act;
} epilogue;

/* For every real row r: product[r, :] = bias + x[r, :] @ w (w [K, W] at element strides
 * rsw, csw; bias [W] or NULL), then the epilogue on it.  The products are BLIS calls of
 * min(PACK_ROWS, rows left) x tile_cols, the threads taking contiguous column ranges (each
 * packs its own part of w), bias first and the product accumulated onto it (beta = 1, the
 * order Hugging Face's addmm gives).  Interrupts are polled by the master between tiles. */
static tg_status product(const fw *f, size_t K, size_t W, const float *x, const float *w, ptrdiff_t rsw, ptrdiff_t csw,
                         const float *bias, const epilogue *ep) {
    const size_t nr = f->n_rows, *rows = f->rows;
    /* without packing, the product is accumulated in place in its destination block */
    float *direct = ep->kind == EP_STORE ? ep->out : (ep->raw ? ep->raw : ep->out);
    int nt = f->p->threads < 1 ? 1 : f->p->threads;
    if (2.0 * (double)nr * (double)W * (double)K < 4.0e6) nt = 1;
    atomic_int stop = 0;
    const size_t chunk = rows ? PACK_ROWS : (nr ? nr : 1);
    for (size_t r0 = 0; r0 < nr && !atomic_load(&stop); r0 += chunk) {
        const size_t m = nr - r0 < chunk ? nr - r0 : chunk;
        const float *A = x + r0 * K;
        if (rows) {
            const ptrdiff_t mm = (ptrdiff_t)m;
#pragma omp parallel for schedule(static) num_threads(nt) if (m * K > 65536)
            for (ptrdiff_t i = 0; i < mm; i++) memcpy(f->pack_in + (size_t)i * K, x + rows[r0 + (size_t)i] * K, K * 4);
            A = f->pack_in;
        }
#pragma omp parallel num_threads(nt)
        {
            size_t lo, hi;
            const size_t t = team_share(W, 16, &lo, &hi);
            float *tbuf = f->tiles + t * f->tile_floats;
            const size_t step = rows ? f->tile_cols : DIRECT_COLS;
            for (size_t c0 = lo; c0 < hi; c0 += step) {
                if (t == 0 && c0 > lo && tg_interrupted()) atomic_store(&stop, 1);
                if (atomic_load(&stop)) break;
                const size_t nb = hi - c0 < step ? hi - c0 : step;
                float *tile = rows ? tbuf : direct + r0 * W + c0;
                const size_t ldt = rows ? nb : W;
                for (size_t i = 0; i < m; i++) {
                    if (bias)
                        memcpy(tile + i * ldt, bias + c0, nb * 4);
                    else
                        memset(tile + i * ldt, 0, nb * 4);
                }
                tg_sgemm(m, nb, K, 1.0f, A, (ptrdiff_t)K, 1, w + (ptrdiff_t)c0 * csw, rsw, csw, 1.0f, tile, (ptrdiff_t)ldt, 1,
                         true);
                for (size_t i = 0; i < m; i++) {
                    const size_t r = rows ? rows[r0 + i] : r0 + i;
                    const float *pr = tile + i * ldt;
                    float *o = ep->out + r * W + c0;
                    if (ep->kind != EP_STORE && rows && ep->raw) memcpy(ep->raw + r * W + c0, pr, nb * 4);
                    if (ep->kind == EP_STORE) {
                        if (rows) memcpy(o, pr, nb * 4);
                    } else if (ep->kind == EP_ACT) {
                        tg_activation_serial_f32(ep->act, pr, o, nb);
                    } else {
                        const float *xr = ep->resid + r * W + c0;
#pragma omp simd
                        for (size_t j = 0; j < nb; j++) o[j] = xr[j] + pr[j];
                    }
                }
            }
        }
    }
    return atomic_load(&stop) ? TG_ERR_INTERRUPTED : TG_OK;
}

static float *dest(const fw *f, tg_gpt2_hook k, size_t l) {
    const tg_gpt2_plan *p = f->p;
    int32_t s = p->slot[(size_t)k * p->n_layer + (tg_gpt2_hook_is_global(k) ? 0 : l)];
    if (s < 0) return f->scratch[k];
    return (float *)((char *)f->arena + p->offset[k]) + (size_t)s * p->layer_floats[k];
}

static bool captured(const fw *f, tg_gpt2_hook k, size_t l) {
    const tg_gpt2_plan *p = f->p;
    return p->slot[(size_t)k * p->n_layer + (tg_gpt2_hook_is_global(k) ? 0 : l)] >= 0;
}

/* Attention of block l: qkv [N, 3C] -> scores/pattern [B, H, T, T] -> z [N, C]. */
static tg_status attention(const fw *f, size_t l, const float *qkv, float *z) {
    const tg_gpt2_config *c = &f->m->cfg;
    const size_t B = f->p->batch, T = f->p->seq, H = (size_t)c->n_head, C = (size_t)c->n_embd, D = C / H;
    const ptrdiff_t ld = (ptrdiff_t)(3 * C);
    float alpha = c->scale_attn_weights ? (float)(1.0 / sqrt((double)D)) : 1.0f;
    if (c->scale_attn_by_inverse_layer_idx) alpha /= (float)(l + 1);
    const bool cap_s = captured(f, TG_HOOK_ATTN_SCORES, l), cap_p = captured(f, TG_HOOK_PATTERN, l);
    float *S_all = cap_s ? dest(f, TG_HOOK_ATTN_SCORES, l) : NULL;
    float *P_all = cap_p ? dest(f, TG_HOOK_PATTERN, l) : NULL;
    const size_t TT = T * T, RB = 64, SMALL_T = 16;
    const ptrdiff_t ntasks = (ptrdiff_t)(B * H);
    atomic_int stop = 0;
#pragma omp parallel num_threads(f->p->threads)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        float *tbuf = f->attn_buf ? f->attn_buf + (size_t)tid * f->attn_stride : NULL;
#pragma omp for schedule(dynamic, 1)
        for (ptrdiff_t task = 0; task < ntasks; task++) {
            if (tid == 0 && tg_interrupted()) atomic_store(&stop, 1);
            if (atomic_load(&stop)) continue;
            const size_t b = (size_t)task / H, h = (size_t)task % H;
            const size_t st = (size_t)f->start[b], en = st + (size_t)f->length[b];
            const float *q = qkv + (ptrdiff_t)(b * T) * ld + (ptrdiff_t)(h * D);
            const float *k = q + C, *v = q + 2 * C;
            float *S = cap_s ? S_all + task * (ptrdiff_t)TT : (cap_p ? P_all + task * (ptrdiff_t)TT : tbuf);
            float *P = cap_p ? P_all + task * (ptrdiff_t)TT : (cap_s ? tbuf : S);
            float *zb = z + (ptrdiff_t)(b * T * C + h * D);
            /* pad query rows are not computed: their captured rows hold 0 */
            if (cap_s || cap_p) {
                for (size_t t = 0; t < T; t++) {
                    if (t >= st && t < en) continue;
                    if (cap_s) memset(S + t * T, 0, T * sizeof *S);
                    if (cap_p) memset(P + t * T, 0, T * sizeof *P);
                }
            }
            if (T <= SMALL_T) { /* short sequences: plain loops beat BLIS's per-call overhead */
                for (size_t t = st; t < en; t++) {
                    const size_t lo = st;
                    float *srow = S + t * T, *zrow = zb + (ptrdiff_t)(t * C);
                    for (size_t j = lo; j <= t; j++)
                        srow[j] = alpha * tg_dot_f32(q + (ptrdiff_t)t * ld, k + (ptrdiff_t)j * ld, D);
                    tg_causal_softmax_row_f32(srow, P + t * T, lo, t, T, cap_s);
                    memset(zrow, 0, D * sizeof *zrow);
                    for (size_t j = lo; j <= t; j++) tg_axpy_f32(P[t * T + j], v + (ptrdiff_t)j * ld, zrow, D);
                }
                continue;
            }
            for (size_t i0 = st; i0 < en; i0 += RB) {
                const size_t i1 = i0 + RB < en ? i0 + RB : en;
                const size_t kmin = st;
                /* S[i0:i1, kmin:i1] = alpha * Q[i0:i1] K[kmin:i1]^T */
                tg_sgemm(i1 - i0, i1 - kmin, D, alpha, q + (ptrdiff_t)i0 * ld, ld, 1, k + (ptrdiff_t)kmin * ld, 1, ld, 0.0f,
                         S + i0 * T + kmin, (ptrdiff_t)T, 1, true);
                for (size_t t = i0; t < i1; t++) {
                    tg_causal_softmax_row_f32(S + t * T, P + t * T, st, t, T, cap_s);
                }
                /* z[i0:i1, h] = P[i0:i1, kmin:i1] V[kmin:i1, h] */
                tg_sgemm(i1 - i0, D, i1 - kmin, 1.0f, P + i0 * T + kmin, (ptrdiff_t)T, 1, v + (ptrdiff_t)kmin * ld, ld, 1,
                         0.0f, zb + (ptrdiff_t)(i0 * C), (ptrdiff_t)C, 1, true);
            }
        }
    }
    return atomic_load(&stop) ? TG_ERR_INTERRUPTED : TG_OK;
}

static tg_status run(fw *f, const int64_t *ids) {
    const tg_gpt2 *m = f->m;
    const tg_gpt2_config *c = &m->cfg;
    const tg_gpt2_plan *p = f->p;
    const size_t T = p->seq, C = (size_t)c->n_embd, F = (size_t)c->n_inner, V = (size_t)c->n_vocab;
    const size_t *rows = f->rows, nr = f->n_rows;
    const float eps = (float)c->layer_norm_eps;
    tg_status s;

    /* embeddings of the real tokens: x = wte[id] + wpe[pos] */
    float *x = captured(f, TG_HOOK_RESID_PRE, 0) ? dest(f, TG_HOOK_RESID_PRE, 0) : f->resid;
    float *emb = captured(f, TG_HOOK_EMBED, 0) ? dest(f, TG_HOOK_EMBED, 0) : NULL;
    float *pos = captured(f, TG_HOOK_POS_EMBED, 0) ? dest(f, TG_HOOK_POS_EMBED, 0) : NULL;
    const ptrdiff_t NR = (ptrdiff_t)nr;
#pragma omp parallel for schedule(static) if (nr * C > 65536)
    for (ptrdiff_t k = 0; k < NR; k++) {
        const size_t i = rows ? rows[k] : (size_t)k;
        const size_t b = i / T, t = i % T, st = (size_t)f->start[b];
        const size_t ps = t < st ? t : t - st;
        const float *we = m->w.wte + (size_t)ids[i] * C, *wp = m->w.wpe + ps * C;
        float *xr = x + i * C;
#pragma omp simd
        for (size_t j = 0; j < C; j++) xr[j] = we[j] + wp[j];
        if (emb) memcpy(emb + i * C, we, C * 4);
        if (pos) memcpy(pos + i * C, wp, C * 4);
    }
    if (x != f->resid) zero_pads(f, x, C);
    if (emb) zero_pads(f, emb, C);
    if (pos) zero_pads(f, pos, C);

    for (size_t l = 0; l < p->run_layers; l++) {
        if (tg_interrupted()) return TG_ERR_INTERRUPTED;
        const tg_gpt2_layer *W = &m->layers[l];
        if (l > 0 && captured(f, TG_HOOK_RESID_PRE, l)) {
            float *d = dest(f, TG_HOOK_RESID_PRE, l);
            for (size_t k = 0; k < nr; k++) {
                const size_t i = rows ? rows[k] : k;
                memcpy(d + i * C, x + i * C, C * 4);
            }
            zero_pads(f, d, C);
            x = d;
        }
        float *ln1 = dest(f, TG_HOOK_LN1, l);
        float *sc1 = captured(f, TG_HOOK_LN1_SCALE, l) ? dest(f, TG_HOOK_LN1_SCALE, l) : NULL;
        tg_layernorm_idx_f32(x, C, rows, nr, W->ln1_w, W->ln1_b, eps, ln1, sc1);
        float *qkv = dest(f, TG_HOOK_QKV, l);
        epilogue e = {.kind = EP_STORE, .out = qkv};
        if ((s = product(f, C, 3 * C, ln1, W->attn_w, (ptrdiff_t)(3 * C), 1, W->attn_b, &e)) != TG_OK) return s;
        float *z = dest(f, TG_HOOK_Z, l);
        if ((s = attention(f, l, qkv, z)) != TG_OK) return s;
        /* resid_mid = resid_pre + (bias + z @ proj_w), the sum fused into the product's tile;
         * attn_out is kept only when captured */
        float *mid = dest(f, TG_HOOK_RESID_MID, l);
        float *ao = captured(f, TG_HOOK_ATTN_OUT, l) ? dest(f, TG_HOOK_ATTN_OUT, l) : NULL;
        e = (epilogue){.kind = EP_RESID, .out = mid, .raw = ao, .resid = x};
        if ((s = product(f, C, C, z, W->proj_w, (ptrdiff_t)C, 1, W->proj_b, &e)) != TG_OK) return s;
        float *ln2 = dest(f, TG_HOOK_LN2, l);
        float *sc2 = captured(f, TG_HOOK_LN2_SCALE, l) ? dest(f, TG_HOOK_LN2_SCALE, l) : NULL;
        tg_layernorm_idx_f32(mid, C, rows, nr, W->ln2_w, W->ln2_b, eps, ln2, sc2);
        /* mlp_post = act(bias + ln2 @ fc_w), the activation fused; mlp_pre kept when captured */
        float *hpre = captured(f, TG_HOOK_MLP_PRE, l) ? dest(f, TG_HOOK_MLP_PRE, l) : NULL;
        float *hpost = dest(f, TG_HOOK_MLP_POST, l);
        e = (epilogue){.kind = EP_ACT, .out = hpost, .raw = hpre, .act = c->activation};
        if ((s = product(f, C, F, ln2, W->fc_w, (ptrdiff_t)F, 1, W->fc_b, &e)) != TG_OK) return s;
        /* resid_post: into its slot, else into the scratch residual (x is dead by then) */
        float *out = captured(f, TG_HOOK_RESID_POST, l) ? dest(f, TG_HOOK_RESID_POST, l) : f->resid;
        float *mo = captured(f, TG_HOOK_MLP_OUT, l) ? dest(f, TG_HOOK_MLP_OUT, l) : NULL;
        e = (epilogue){.kind = EP_RESID, .out = out, .raw = mo, .resid = mid};
        if ((s = product(f, F, C, hpost, W->fcproj_w, (ptrdiff_t)C, 1, W->fcproj_b, &e)) != TG_OK) return s;
        /* captures' pad rows: 0 */
        if (captured(f, TG_HOOK_LN1, l)) zero_pads(f, ln1, C);
        if (sc1) zero_pads(f, sc1, 1);
        if (captured(f, TG_HOOK_QKV, l)) zero_pads(f, qkv, 3 * C);
        if (captured(f, TG_HOOK_Z, l)) zero_pads(f, z, C);
        if (ao) zero_pads(f, ao, C);
        if (captured(f, TG_HOOK_RESID_MID, l)) zero_pads(f, mid, C);
        if (captured(f, TG_HOOK_LN2, l)) zero_pads(f, ln2, C);
        if (sc2) zero_pads(f, sc2, 1);
        if (hpre) zero_pads(f, hpre, F);
        if (captured(f, TG_HOOK_MLP_POST, l)) zero_pads(f, hpost, F);
        if (mo) zero_pads(f, mo, C);
        if (out != f->resid) zero_pads(f, out, C);
        x = out;
    }
    if (!p->need_head) return TG_OK;
    float *lnf = dest(f, TG_HOOK_LN_FINAL, 0);
    float *scf = captured(f, TG_HOOK_LNF_SCALE, 0) ? dest(f, TG_HOOK_LNF_SCALE, 0) : NULL;
    tg_layernorm_idx_f32(x, C, rows, nr, m->w.lnf_w, m->w.lnf_b, eps, lnf, scf);
    if (captured(f, TG_HOOK_LN_FINAL, 0)) zero_pads(f, lnf, C);
    if (scf) zero_pads(f, scf, 1);
    if (captured(f, TG_HOOK_LOGITS, 0)) {
        float *lg = dest(f, TG_HOOK_LOGITS, 0);
        /* logits[r] = lnf[r] @ lm_head^T (lm_head [V, C] read through strides) */
        epilogue e = {.kind = EP_STORE, .out = lg};
        if ((s = product(f, C, V, lnf, m->w.lm_head, 1, (ptrdiff_t)C, NULL, &e)) != TG_OK) return s;
        zero_pads(f, lg, V);
    }
    return TG_OK;
}

tg_status tg_gpt2_forward(const tg_gpt2 *m, const tg_gpt2_plan *p, const int64_t *ids, const int64_t *start,
                          const int64_t *length, float *arena) {
    const tg_gpt2_config *c = &m->cfg;
    const tg_gpt2_config *pc = &p->cfg;
    if (p->slot == NULL || p->n_layer != (size_t)c->n_layer || p->seq > (size_t)c->n_ctx || pc->n_layer != c->n_layer ||
        pc->n_head != c->n_head || pc->n_embd != c->n_embd || pc->n_inner != c->n_inner || pc->n_vocab != c->n_vocab ||
        pc->n_ctx != c->n_ctx)
        return tg_fail(TG_ERR_VALUE, "the capture plan was made for another model");
    if (p->arena_bytes > 0 && (arena == NULL || ((uintptr_t)arena % 4) != 0))
        return tg_fail(TG_ERR_VALUE, "arena must be a 4-byte aligned buffer of %zu bytes", p->arena_bytes);
    const size_t B = p->batch, T = p->seq, N = B * T;
    for (size_t b = 0; b < B; b++) {
        if (start[b] < 0 || length[b] < 0 || (uint64_t)start[b] > T || (uint64_t)length[b] > T - (size_t)start[b])
            return tg_fail(TG_ERR_VALUE, "row %zu: real tokens [%lld, %lld + %lld) do not fit in %zu positions", b,
                           (long long)start[b], (long long)start[b], (long long)length[b], T);
    }
    for (size_t i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= c->n_vocab)
            return tg_fail(TG_ERR_INDEX, "token id %lld at [%zu, %zu] is outside the vocabulary [0, %lld)", (long long)ids[i],
                           i / T, i % T, (long long)c->n_vocab);
    /* one scratch block carved into the buffers the plan sized */
    fw f = {.m = m, .p = p, .arena = arena, .start = start, .length = length};
    if (p->threads != tg_get_num_threads())
        return tg_fail(TG_ERR_VALUE, "the thread count changed since the plan was made; make a new plan");
    unsigned char *scratch = tg_gpt2_alloc_buffer(p->scratch_bytes);
    if (scratch == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory allocating %zu bytes of working memory", p->scratch_bytes);
    size_t at = 0;
    for (int k = 0; k < TG_HOOK_COUNT; k++) {
        if (no_scratch(k)) continue;
        bool needed = (k == TG_HOOK_LN_FINAL) ? (p->need_head && !p->count[k]) : (p->count[k] < p->run_layers);
        if (!needed) continue;
        f.scratch[k] = (float *)(scratch + at);
        at += (p->layer_floats[k] * 4 + 63) & ~(size_t)63;
    }
    f.resid = (float *)(scratch + at);
    at += N * (size_t)c->n_embd * 4;
    if (p->count[TG_HOOK_PATTERN] < p->run_layers) {
        at = (at + 63) & ~(size_t)63;
        f.attn_stride = ((T * T * 4 + 63) & ~(size_t)63) / 4;
        f.attn_buf = (float *)(scratch + at);
        at += f.attn_stride * 4 * (size_t)p->threads;
    }
    {
        size_t rows_b = 0, in_b = 0, tile_b = 0;
        (void)pack_sizes(c, N, p->threads, p->count[TG_HOOK_LOGITS] > 0, &rows_b, &in_b, &tile_b, &f.tile_cols); /* checked by the plan */
        at = (at + 63) & ~(size_t)63;
        size_t *rows = (size_t *)(scratch + at);
        f.pack_in = (float *)(scratch + at + rows_b);
        f.tiles = (float *)(scratch + at + rows_b + in_b);
        f.tile_floats = tile_b / 4 / (size_t)(p->threads < 1 ? 1 : p->threads);
        size_t nr = 0;
        for (size_t b = 0; b < B; b++)
            for (size_t t = (size_t)start[b]; t < (size_t)(start[b] + length[b]); t++) rows[nr++] = b * T + t;
        f.rows = nr < N ? rows : NULL;
        f.n_rows = nr;
    }
    tg_status s = TG_OK;
    size_t guarded = 0; /* SIGBUS guard over the mapped weights (see tg_st_guard_begin) */
    for (; guarded < m->n_files && s == TG_OK; guarded++) s = tg_st_guard_begin(m->files[guarded]);
    if (s != TG_OK) guarded--; /* the failed begin holds nothing */
    if (s == TG_OK) s = run(&f, ids);
    for (size_t i = 0; i < guarded; i++) {
        tg_status e = tg_st_guard_end(m->files[i]);
        if (s == TG_OK) s = e;
    }
    tg_gpt2_free_buffer(scratch, p->scratch_bytes);
    return s;
}

/* ------------------------------------------------------------------ benchmark floor */

#include <time.h>

tg_status tg_gpt2_time_products(const tg_gpt2_config *c, size_t B, size_t T, bool with_logits, double *seconds) {
    *seconds = 0;
    tg_status s = tg_gpt2_config_check(c);
    if (s != TG_OK) return s;
    if (B == 0 || T == 0 || T > (size_t)c->n_ctx) return tg_fail(TG_ERR_VALUE, "bad batch shape %zu x %zu", B, T);
    const size_t N = B * T, C = (size_t)c->n_embd, F = (size_t)c->n_inner, V = (size_t)c->n_vocab, H = (size_t)c->n_head,
                 D = C / H;
    const int threads = tg_get_num_threads();
    size_t wbytes = 0, abytes = 0, tmp;
    /* one block's weights reused for every block; every product reads inputs that are never
     * overwritten (x, hin) so no value compounds across blocks (a chain of unnormalised
     * products would drift into denormals, which are very slow, and time nothing real) */
    if (!tg_mul_size(C, 3 * C + C + 2 * F, &wbytes) || !tg_mul_size(wbytes, 4, &wbytes)) return tg_fail(TG_ERR_OVERFLOW, "size");
    if (!tg_mul_size(N, 3 * C + C + C + F + F + C + C, &abytes) || !tg_mul_size(abytes, 4, &abytes))
        return tg_fail(TG_ERR_OVERFLOW, "size");
    size_t tt = T * T * 4 * (size_t)threads, lg = with_logits ? N * V * 4 : 0, head = with_logits ? V * C * 4 : 0;
    if (!tg_add_size(wbytes, abytes, &tmp) || !tg_add_size(tmp, tt + lg + head, &tmp)) return tg_fail(TG_ERR_OVERFLOW, "size");
    float *buf = tg_alloc_aligned(tmp);
    if (buf == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory (%zu bytes)", tmp);
    for (size_t i = 0; i < tmp / 4; i++) buf[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    float *wa = buf, *wp = wa + C * 3 * C, *wf = wp + C * C, *wm = wf + C * F;
    float *x = wm + F * C, *qkv = x + N * C, *z = qkv + N * 3 * C, *o = z + N * C, *hin = o + N * C, *h = hin + N * F;
    float *y = h + N * F, *att = y + N * C, *logits = att + T * T * (size_t)threads,
          *wte = logits + (with_logits ? N * V : 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int64_t l = 0; l < c->n_layer; l++) {
        gemm_par(N, 3 * C, C, x, (ptrdiff_t)C, 1, wa, (ptrdiff_t)(3 * C), 1, 0.0f, qkv, (ptrdiff_t)(3 * C), 1, threads);
        const ptrdiff_t ntasks = (ptrdiff_t)(B * H), ld = (ptrdiff_t)(3 * C);
#pragma omp parallel num_threads(threads)
        {
#ifdef _OPENMP
            float *S = att + (size_t)omp_get_thread_num() * T * T;
#else
            float *S = att;
#endif
#pragma omp for schedule(dynamic, 1)
            for (ptrdiff_t task = 0; task < ntasks; task++) {
                size_t b = (size_t)task / H, hh = (size_t)task % H;
                const float *q = qkv + (ptrdiff_t)(b * T) * ld + (ptrdiff_t)(hh * D), *k = q + C, *v = q + 2 * C;
                for (size_t i0 = 0; i0 < T; i0 += 64) {
                    size_t i1 = i0 + 64 < T ? i0 + 64 : T;
                    tg_sgemm(i1 - i0, i1, D, 0.125f, q + (ptrdiff_t)i0 * ld, ld, 1, k, 1, ld, 0.0f, S + i0 * T, (ptrdiff_t)T, 1, true);
                    tg_sgemm(i1 - i0, D, i1, 1.0f, S + i0 * T, (ptrdiff_t)T, 1, v, ld, 1, 0.0f, z + b * T * C + hh * D + i0 * C,
                             (ptrdiff_t)C, 1, true);
                }
            }
        }
        gemm_par(N, C, C, x, (ptrdiff_t)C, 1, wp, (ptrdiff_t)C, 1, 0.0f, o, (ptrdiff_t)C, 1, threads);
        gemm_par(N, F, C, x, (ptrdiff_t)C, 1, wf, (ptrdiff_t)F, 1, 0.0f, h, (ptrdiff_t)F, 1, threads);
        gemm_par(N, C, F, hin, (ptrdiff_t)F, 1, wm, (ptrdiff_t)C, 1, 0.0f, y, (ptrdiff_t)C, 1, threads);
    }
    if (with_logits) gemm_par(N, V, C, x, (ptrdiff_t)C, 1, wte, 1, (ptrdiff_t)C, 0.0f, logits, (ptrdiff_t)V, 1, threads);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(buf);
    *seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return TG_OK;
}
