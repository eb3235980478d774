/*
 * quickstart.c - the worked example of tokgeo/tokgeo.h, compiled and run by ctest
 * (test "quickstart"): tokenize a sentence with the GPT-2 vocabulary, run a tiny GPT-2 whose
 * weights are made here in memory (no download), capture one block's residual stream and
 * the logits, and measure them with the metrics.
 *
 *   quickstart <dir with encoder.json and vocab.bpe>      (ctest passes tokgeo/data/gpt2)
 *
 * It checks what it prints (cosines within [-1, 1], entropies within [0, log V]) and exits
 * non-zero with the core's message when a call fails.  Every object it creates it frees.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokgeo/tokgeo.h"

#define TRY(call)                                                                           \
    do {                                                                                    \
        tg_status st_ = (call);                                                             \
        if (st_ != TG_OK) {                                                                 \
            fprintf(stderr, "%s: %s: %s\n", #call, tg_status_name(st_), tg_last_error()); \
            goto done;                                                                      \
        }                                                                                   \
    } while (0)

/* ---- a tiny GPT-2 as safetensors bytes: 2 blocks, 2 heads, width 16, GPT-2's vocabulary ---- */

enum { L = 2, H = 2, C = 16, F = 64, NCTX = 64 };

typedef struct spec {
    char name[40];
    int64_t d0, d1; /* d1 == 0: 1-D */
    float fill;     /* 0: small pseudo-random values; else this constant (LayerNorm gains) */
} spec;

static size_t make_specs(int64_t V, spec *s) {
    size_t n = 0;
    s[n++] = (spec){"wte.weight", V, C, 0};
    s[n++] = (spec){"wpe.weight", NCTX, C, 0};
    for (int l = 0; l < L; l++) {
        const struct { const char *suffix; int64_t d0, d1; float fill; } t[12] = {
            {"ln_1.weight", C, 0, 1}, {"ln_1.bias", C, 0, 0}, {"attn.c_attn.weight", C, 3 * C, 0},
            {"attn.c_attn.bias", 3 * C, 0, 0}, {"attn.c_proj.weight", C, C, 0}, {"attn.c_proj.bias", C, 0, 0},
            {"ln_2.weight", C, 0, 1}, {"ln_2.bias", C, 0, 0}, {"mlp.c_fc.weight", C, F, 0},
            {"mlp.c_fc.bias", F, 0, 0}, {"mlp.c_proj.weight", F, C, 0}, {"mlp.c_proj.bias", C, 0, 0},
        };
        for (int j = 0; j < 12; j++) {
            snprintf(s[n].name, sizeof s[n].name, "h.%d.%s", l, t[j].suffix);
            s[n].d0 = t[j].d0, s[n].d1 = t[j].d1, s[n].fill = t[j].fill;
            n++;
        }
    }
    s[n++] = (spec){"ln_f.weight", C, 0, 1};
    s[n++] = (spec){"ln_f.bias", C, 0, 0};
    return n;
}

/* 8-byte little-endian header length, JSON header, then the float32 data; malloc'ed. */
static unsigned char *make_safetensors(int64_t V, size_t *size) {
    spec s[2 + 12 * L + 2];
    size_t n = make_specs(V, s), data = 0, hl = 0;
    char *json = malloc(8192);
    if (json == NULL) return NULL;
    hl += (size_t)snprintf(json + hl, 8192 - hl, "{");
    for (size_t i = 0; i < n; i++) {
        size_t bytes = (size_t)s[i].d0 * (size_t)(s[i].d1 ? s[i].d1 : 1) * 4;
        if (s[i].d1)
            hl += (size_t)snprintf(json + hl, 8192 - hl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld,%lld],\"data_offsets\":[%zu,%zu]}",
                                   i ? "," : "", s[i].name, (long long)s[i].d0, (long long)s[i].d1, data, data + bytes);
        else
            hl += (size_t)snprintf(json + hl, 8192 - hl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld],\"data_offsets\":[%zu,%zu]}",
                                   i ? "," : "", s[i].name, (long long)s[i].d0, data, data + bytes);
        data += bytes;
    }
    hl += (size_t)snprintf(json + hl, 8192 - hl, "}");
    while (hl % 8) json[hl++] = ' '; /* keeps the data 8-byte aligned: weights stay in place */
    unsigned char *buf = malloc(8 + hl + data);
    if (buf != NULL) {
        for (int b = 0; b < 8; b++) buf[b] = (unsigned char)((uint64_t)hl >> (8 * b));
        memcpy(buf + 8, json, hl);
        float *w = (float *)(void *)(buf + 8 + hl);
        uint64_t x = 88172645463325252ull;
        for (size_t i = 0, k = 0; i < n; i++)
            for (int64_t e = 0; e < s[i].d0 * (s[i].d1 ? s[i].d1 : 1); e++, k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                w[k] = s[i].fill != 0 ? s[i].fill : (float)((double)(x >> 11) / 9007199254740992.0 - 0.5) * 0.4f;
            }
        *size = 8 + hl + data;
    }
    free(json);
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <dir with encoder.json and vocab.bpe>\n", argv[0]);
        return 2;
    }
    int rc = 1;
    char vocab[4096], merges[4096];
    snprintf(vocab, sizeof vocab, "%s/encoder.json", argv[1]);
    snprintf(merges, sizeof merges, "%s/vocab.bpe", argv[1]);
    tg_tokenizer *tok = NULL;
    tg_tokens ids = {0};
    unsigned char *file = NULL;
    tg_gpt2 *model = NULL;
    tg_gpt2_plan plan = {0};
    float *arena = NULL;
    int64_t *ids64 = NULL;

    /* 1. Tokenize (identical to tiktoken's "gpt2" encoding). */
    TRY(tg_tokenizer_load(&tok, vocab, merges));
    const char *text = "The cat sat on the mat.";
    TRY(tg_encode(tok, text, strlen(text), NULL, TG_ENC_OFFSETS, &ids));
    printf("%zu tokens:", ids.n);
    for (size_t i = 0; i < ids.n; i++)
        printf(" %d='%.*s'", ids.ids[i], (int)(ids.offsets[2 * i + 1] - ids.offsets[2 * i]), text + ids.offsets[2 * i]);
    printf("\n");

    /* 2. Open a model: weights are views into the (here: in-memory) safetensors bytes. */
    const int64_t V = (int64_t)tg_tokenizer_n_vocab(tok);
    size_t size = 0;
    file = make_safetensors(V, &size);
    if (file == NULL) goto done;
    tg_safetensors *st;
    TRY(tg_st_open_buffer(file, size, &st));
    tg_gpt2_config cfg = {.n_layer = L, .n_head = H, .n_embd = C, .n_ctx = NCTX, .n_vocab = V, .n_inner = F,
                          .layer_norm_eps = 1e-5, .activation = TG_GPT2_GELU_TANH, .scale_attn_weights = true};
    TRY(tg_gpt2_open_st(&cfg, &st, 1, &model)); /* the model owns st from here on */

    /* 3. Plan the captures, run the forward pass into one arena. */
    const size_t T = ids.n;
    uint8_t want[TG_HOOK_COUNT * L] = {0};   /* [hook][layer] */
    want[TG_HOOK_RESID_POST * L + 1] = 1;    /* blocks.1.hook_resid_post */
    want[TG_HOOK_LOGITS * L + 0] = 1;        /* global hooks use layer slot 0 */
    TRY(tg_gpt2_plan_make(&cfg, 1, T, want, &plan));
    arena = tg_alloc_aligned(plan.arena_bytes);
    ids64 = malloc(T * sizeof *ids64);
    if (arena == NULL || ids64 == NULL) goto done;
    for (size_t t = 0; t < T; t++) ids64[t] = ids.ids[t];
    const int64_t start = 0, length = (int64_t)T;
    TRY(tg_gpt2_forward(model, &plan, ids64, &start, &length, arena));
    float *resid = arena + plan.offset[TG_HOOK_RESID_POST] / 4; /* [1 layer][B=1, T, C] */
    float *logits = arena + plan.offset[TG_HOOK_LOGITS] / 4;    /* [B=1, T, V] */

    /* 4. Metrics read any strided view: cosine of each token's residual with the next one's,
     *    and the entropy of each next-token distribution (nats). */
    double cos[64], ent[64];
    tg_view a = {resid, TG_F32, 2, {(ptrdiff_t)T - 1, C}, {C, 1}};
    tg_view b = {resid + C, TG_F32, 2, {(ptrdiff_t)T - 1, C}, {C, 1}};
    TRY(tg_rowwise(TG_ROW_COS, &a, &b, cos, NULL));
    tg_view lv = {logits, TG_F32, 2, {(ptrdiff_t)T, (ptrdiff_t)V}, {(ptrdiff_t)V, 1}};
    TRY(tg_softmax(TG_ENTROPY, &lv, ent, TG_F64, 1.0));
    for (size_t t = 0; t < T; t++) {
        if (t + 1 < T) printf("cos(resid[%zu], resid[%zu]) = %+.4f   ", t, t + 1, cos[t]);
        else printf("%42s", "");
        printf("entropy(next | %zu) = %.3f nats\n", t, ent[t]);
        if ((t + 1 < T && !(fabs(cos[t]) <= 1.0)) || !(ent[t] >= 0.0 && ent[t] <= log((double)V) + 1e-9)) {
            fprintf(stderr, "value out of range at token %zu\n", t);
            goto done;
        }
    }
    rc = 0;
done:
    free(ids64);
    free(arena);
    tg_gpt2_plan_free(&plan);
    tg_gpt2_close(model);
    free(file); /* after the model: its weights pointed into these bytes */
    tg_tokens_free(&ids);
    tg_tokenizer_free(tok);
    return rc;
}
