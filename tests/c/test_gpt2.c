/* test_gpt2.c - GPT-2 kernels against naive loops, and a tiny hand-built model (safetensors
 * bytes made here) run through tg_gpt2_forward against a naive double-precision forward. */
#include <math.h>
#include <stdbool.h>
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#include <stdlib.h>

#include "tg_test.h"
#include "tokgeo/tokgeo.h"

#include "base/blas.h"    /* tg_sgemm */
#include "gpt2/kernels.h" /* the forward pass kernels */

static unsigned long long rng_state = 88172645463325252ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* ---------------------------------------------------------------- kernels */

static void test_expf(void) {
    double worst = 0;
    for (float x = -87.0f; x < 88.0f; x += 0.0137f) {
        double e = exp((double)x), r = fabs((double)tg_expf(x) - e) / e;
        if (r > worst) worst = r;
    }
    CHECK(worst < 4e-7);
    CHECK(tg_expf(-1000.0f) < 1.2e-38f && tg_expf(-1000.0f) >= 0.0f);
    CHECK(isfinite(tg_expf(1000.0f)));
    CHECK(tg_expf(0.0f) == 1.0f);
}

static void test_layernorm(void) {
    enum { R = 5, C = 37, LD = 41 };
    float x[R * LD], y[R * LD], w[C], b[C];
    for (int i = 0; i < R * LD; i++) x[i] = 3.0f + 2.0f * frand();
    for (int j = 0; j < C; j++) {
        w[j] = 1.0f + frand() * 0.5f;
        b[j] = frand();
    }
    float sc[R];
    tg_layernorm_f32(x, LD, R, C, w, b, 1e-5f, y, LD, sc);
    double worst = 0;
    for (int r = 0; r < R; r++) {
        double m = 0, v = 0;
        for (int j = 0; j < C; j++) m += x[r * LD + j];
        m /= C;
        for (int j = 0; j < C; j++) v += (x[r * LD + j] - m) * (x[r * LD + j] - m);
        v /= C;
        CHECK(fabs(sc[r] - sqrt(v + 1e-5)) < 1e-6 * sqrt(v + 1e-5));
        for (int j = 0; j < C; j++) {
            double ref = (x[r * LD + j] - m) / sqrt(v + 1e-5) * w[j] + b[j];
            double e = fabs(ref - y[r * LD + j]);
            if (e > worst) worst = e;
        }
    }
    CHECK(worst < 1e-5);
}

static void test_activations(void) {
    enum { N = 10001 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    if (!x || !y) {
        CHECK(0);
        free(x);
        free(y);
        return;
    }
    for (int i = 0; i < N; i++) x[i] = (float)(i - N / 2) * 0.003f; /* [-15, 15] */
    double worst = 0;
    tg_activation_f32(TG_GPT2_GELU_TANH, x, y, N);
    for (int i = 0; i < N; i++) {
        double v = x[i], ref = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        double e = fabs(ref - y[i]) / (fabs(ref) > 1 ? fabs(ref) : 1);
        if (e > worst) worst = e;
    }
    CHECK(worst < 1e-6);
    worst = 0;
    tg_activation_f32(TG_GPT2_GELU_ERF, x, y, N);
    for (int i = 0; i < N; i++) {
        double v = x[i], ref = 0.5 * v * (1 + erf(v / sqrt(2.0)));
        double e = fabs(ref - y[i]) / (fabs(ref) > 1 ? fabs(ref) : 1);
        if (e > worst) worst = e;
    }
    CHECK(worst < 1e-6);
    tg_activation_f32(TG_GPT2_RELU, x, x, N); /* in place */
    for (int i = 0; i < N; i++) CHECK(x[i] >= 0);
    free(x);
    free(y);
}

static void test_softmax(void) {
    float s[9] = {1000.0f, 999.0f, -3.0f, 5.0f, 0.0f, 2.0f, 7.0f, -1e30f, 4.0f}, p[9];
    tg_causal_softmax_row_f32(s, p, 2, 6, 9, true); /* keys 2..6 */
    double m = 7, z = 0;
    for (int j = 2; j <= 6; j++) z += exp((double)s[j] - m);
    for (int j = 0; j < 9; j++) {
        if (j < 2 || j > 6) {
            CHECK(p[j] == 0.0f);
            CHECK(s[j] == -INFINITY);
        } else {
            CHECK(fabs(p[j] - exp((double)s[j] - m) / z) < 1e-6);
        }
    }
    float r[2][3] = {{1000.0f, 1000.0f, 999.0f}, {-INFINITY, -INFINITY, -INFINITY}}, q[2][3];
    tg_softmax_rows_f32(&r[0][0], 3, 2, 3, &q[0][0], 3);
    double e = exp(-1.0), zz = 2 + e;
    CHECK(fabs(q[0][0] - 1 / zz) < 1e-7 && fabs(q[0][2] - e / zz) < 1e-7);
    CHECK(fabs(q[1][1] - 1.0 / 3) < 1e-7);
}

static void test_sgemm_strides(void) {
    enum { M = 7, N = 5, K = 6 };
    float a[K][M], b[N * 3][K], c[M][N + 2]; /* A stored transposed, B columns spaced by 3 rows */
    for (int i = 0; i < K; i++)
        for (int j = 0; j < M; j++) a[i][j] = frand();
    for (int i = 0; i < 3 * N; i++)
        for (int j = 0; j < K; j++) b[i][j] = frand();
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N + 2; j++) c[i][j] = 1.0f;
    /* C = 0.5 * A^T-view [M,K] @ B-view [K,N] + 1 * C, with A(i,k) = a[k][i], B(k,j) = b[3j][k] */
    tg_sgemm(M, N, K, 0.5f, &a[0][0], 1, M, &b[0][0], 1, 3 * K, 1.0f, &c[0][0], N + 2, 1, true);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ref = 1.0;
            for (int k = 0; k < K; k++) ref += 0.5 * a[k][i] * b[3 * j][k];
            CHECK(fabs(ref - c[i][j]) < 1e-5);
        }
    for (int i = 0; i < M; i++) CHECK(c[i][N] == 1.0f && c[i][N + 1] == 1.0f); /* untouched */
}

/* ---------------------------------------------------------------- tiny model */

enum { L_ = 2, H_ = 2, C_ = 6, D_ = 3, F_ = 10, V_ = 13, P_ = 6 };

typedef struct {
    char name[64];
    int ndim;
    int64_t shape[2];
    float *data;
} wt;

static wt W[4 + 12 * L_];
static int nW = 0;

static float *add_w(const char *name, int64_t d0, int64_t d1, float scale, float offset) {
    wt *t = &W[nW++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    t->data = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) t->data[i] = offset + scale * frand();
    return t->data;
}

static void free_weights(void) {
    for (int i = 0; i < nW; i++) free(W[i].data);
    nW = 0;
}

/* safetensors bytes of W (names prefixed or not); caller frees */
static unsigned char *build_st(size_t *size, const char *prefix) {
    char *hdr = malloc(16384);
    size_t at = 0, off = 0;
    at += (size_t)snprintf(hdr + at, 16384 - at, "{");
    for (int i = 0; i < nW; i++) {
        size_t nb = (size_t)W[i].shape[0] * (size_t)(W[i].ndim > 1 ? W[i].shape[1] : 1) * 4;
        if (W[i].ndim == 2)
            at += (size_t)snprintf(hdr + at, 16384 - at, "%s\"%s%s\":{\"dtype\":\"F32\",\"shape\":[%lld,%lld],\"data_offsets\":[%zu,%zu]}",
                                   i ? "," : "", prefix, W[i].name, (long long)W[i].shape[0], (long long)W[i].shape[1], off, off + nb);
        else
            at += (size_t)snprintf(hdr + at, 16384 - at, "%s\"%s%s\":{\"dtype\":\"F32\",\"shape\":[%lld],\"data_offsets\":[%zu,%zu]}",
                                   i ? "," : "", prefix, W[i].name, (long long)W[i].shape[0], off, off + nb);
        off += nb;
    }
    at += (size_t)snprintf(hdr + at, 16384 - at, "}");
    while (at % 8) hdr[at++] = ' ';
    *size = 8 + at + off;
    unsigned char *buf = malloc(*size);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)at >> (8 * i));
    memcpy(buf + 8, hdr, at);
    size_t p = 8 + at;
    for (int i = 0; i < nW; i++) {
        size_t nb = (size_t)W[i].shape[0] * (size_t)(W[i].ndim > 1 ? W[i].shape[1] : 1) * 4;
        memcpy(buf + p, W[i].data, nb);
        p += nb;
    }
    free(hdr);
    return buf;
}

typedef struct {
    float *wte, *wpe, *lnf_w, *lnf_b;
    float *ln1w[L_], *ln1b[L_], *aw[L_], *ab[L_], *pw[L_], *pb[L_], *ln2w[L_], *ln2b[L_], *fw[L_], *fb[L_], *mw[L_], *mb[L_];
} refw;

static void make_weights_ctx(refw *r, int n_ctx) {
    char nm[64];
    r->wte = add_w("wte.weight", V_, C_, 0.5f, 0);
    r->wpe = add_w("wpe.weight", n_ctx, C_, 0.5f, 0);
    for (int l = 0; l < L_; l++) {
#define W1(field, suffix, d0, d1, s, o) \
    snprintf(nm, sizeof nm, "h.%d." suffix, l); \
    r->field[l] = add_w(nm, d0, d1, s, o);
        W1(ln1w, "ln_1.weight", C_, 0, 0.3f, 1.0f)
        W1(ln1b, "ln_1.bias", C_, 0, 0.1f, 0)
        W1(aw, "attn.c_attn.weight", C_, 3 * C_, 0.5f, 0)
        W1(ab, "attn.c_attn.bias", 3 * C_, 0, 0.1f, 0)
        W1(pw, "attn.c_proj.weight", C_, C_, 0.5f, 0)
        W1(pb, "attn.c_proj.bias", C_, 0, 0.1f, 0)
        W1(ln2w, "ln_2.weight", C_, 0, 0.3f, 1.0f)
        W1(ln2b, "ln_2.bias", C_, 0, 0.1f, 0)
        W1(fw, "mlp.c_fc.weight", C_, F_, 0.5f, 0)
        W1(fb, "mlp.c_fc.bias", F_, 0, 0.1f, 0)
        W1(mw, "mlp.c_proj.weight", F_, C_, 0.5f, 0)
        W1(mb, "mlp.c_proj.bias", C_, 0, 0.1f, 0)
#undef W1
    }
    r->lnf_w = add_w("ln_f.weight", C_, 0, 0.3f, 1.0f);
    r->lnf_b = add_w("ln_f.bias", C_, 0, 0.1f, 0);
}

static void make_weights(refw *r) { make_weights_ctx(r, P_); }

static void ref_ln(const double *x, const float *w, const float *b, double *y) {
    double m = 0, v = 0;
    for (int j = 0; j < C_; j++) m += x[j];
    m /= C_;
    for (int j = 0; j < C_; j++) v += (x[j] - m) * (x[j] - m);
    v /= C_;
    for (int j = 0; j < C_; j++) y[j] = (x[j] - m) / sqrt(v + 1e-5) * w[j] + b[j];
}

/* naive forward of one unpadded sequence; returns logits [T, V] and resid_post of the last block */
static void ref_forward(const refw *r, const int64_t *ids, int T, double *logits, double *resid_last, double *pattern0) {
    double x[P_][C_], ln[P_][C_], qkv[P_][3 * C_], z[P_][C_], h[P_][F_];
    for (int t = 0; t < T; t++)
        for (int j = 0; j < C_; j++) x[t][j] = (double)r->wte[ids[t] * C_ + j] + r->wpe[t * C_ + j];
    for (int l = 0; l < L_; l++) {
        for (int t = 0; t < T; t++) {
            ref_ln(x[t], r->ln1w[l], r->ln1b[l], ln[t]);
            for (int o = 0; o < 3 * C_; o++) {
                double s = r->ab[l][o];
                for (int i = 0; i < C_; i++) s += ln[t][i] * r->aw[l][i * 3 * C_ + o];
                qkv[t][o] = s;
            }
        }
        for (int hh = 0; hh < H_; hh++)
            for (int t = 0; t < T; t++) {
                double sc[P_], mx = -1e300, sum = 0;
                for (int k = 0; k <= t; k++) {
                    double s = 0;
                    for (int d = 0; d < D_; d++) s += qkv[t][hh * D_ + d] * qkv[k][C_ + hh * D_ + d];
                    sc[k] = s / sqrt((double)D_);
                    if (sc[k] > mx) mx = sc[k];
                }
                for (int k = 0; k <= t; k++) sum += (sc[k] = exp(sc[k] - mx));
                for (int k = 0; k <= t; k++) {
                    sc[k] /= sum;
                    if (l == 0 && pattern0) pattern0[(hh * T + t) * T + k] = sc[k];
                }
                for (int d = 0; d < D_; d++) {
                    double s = 0;
                    for (int k = 0; k <= t; k++) s += sc[k] * qkv[k][2 * C_ + hh * D_ + d];
                    z[t][hh * D_ + d] = s;
                }
            }
        for (int t = 0; t < T; t++) {
            for (int o = 0; o < C_; o++) {
                double s = r->pb[l][o];
                for (int i = 0; i < C_; i++) s += z[t][i] * r->pw[l][i * C_ + o];
                x[t][o] += s;
            }
            ref_ln(x[t], r->ln2w[l], r->ln2b[l], ln[t]);
            for (int o = 0; o < F_; o++) {
                double s = r->fb[l][o];
                for (int i = 0; i < C_; i++) s += ln[t][i] * r->fw[l][i * F_ + o];
                h[t][o] = 0.5 * s * (1 + tanh(sqrt(2 / M_PI) * (s + 0.044715 * s * s * s)));
            }
            for (int o = 0; o < C_; o++) {
                double s = r->mb[l][o];
                for (int i = 0; i < F_; i++) s += h[t][i] * r->mw[l][i * C_ + o];
                x[t][o] += s;
            }
        }
    }
    for (int t = 0; t < T; t++) {
        for (int j = 0; j < C_; j++) resid_last[t * C_ + j] = x[t][j];
        ref_ln(x[t], r->lnf_w, r->lnf_b, ln[t]);
        for (int v = 0; v < V_; v++) {
            double s = 0;
            for (int j = 0; j < C_; j++) s += ln[t][j] * r->wte[v * C_ + j];
            logits[t * V_ + v] = s;
        }
    }
}

static const tg_gpt2_config tiny_cfg = {.n_layer = L_, .n_head = H_, .n_embd = C_, .n_ctx = P_, .n_vocab = V_,
                                        .n_inner = F_, .layer_norm_eps = 1e-5, .activation = TG_GPT2_GELU_TANH,
                                        .scale_attn_weights = true};

static void test_tiny_model(void) {
    refw r;
    make_weights(&r);
    size_t size;
    unsigned char *buf = build_st(&size, "transformer.");
    tg_safetensors *st = NULL;
    CHECK_OK(tg_st_open_buffer(buf, size, &st));
    tg_gpt2 *m = NULL;
    if (st) CHECK_OK(tg_gpt2_open_st(&tiny_cfg, &st, 1, &m));
    if (m == NULL) goto out;
    CHECK(tg_gpt2_owned_bytes(m) == 0);
    CHECK(tg_gpt2_tensor_count(m) == 4 + 12 * L_);

    /* batch of 3 rows, T = 6: unpadded, right-padded (len 4), left-padded (len 3) */
    enum { B = 3, T = 6 };
    int64_t ids[B * T] = {1, 5, 2, 12, 0, 7, /**/ 3, 4, 5, 6, 11, 11, /**/ 11, 11, 11, 8, 9, 10};
    int64_t start[B] = {0, 0, 3}, len[B] = {6, 4, 3};
    uint8_t want[TG_HOOK_COUNT * L_] = {0};
    for (int k = 0; k < TG_HOOK_COUNT; k++)
        for (int l = 0; l < L_; l++) want[k * L_ + l] = 1;
    tg_gpt2_plan plan;
    CHECK_OK(tg_gpt2_plan_make(&tiny_cfg, B, T, want, &plan));
    CHECK(plan.offset[TG_HOOK_LN_FINAL] == plan.offset[TG_HOOK_RESID_PRE] + plan.block_bytes[TG_HOOK_RESID_PRE]);
    float *arena = tg_alloc_aligned(plan.arena_bytes);
    CHECK_OK(tg_gpt2_forward(m, &plan, ids, start, len, arena));
    const float *logits = (const float *)((char *)arena + plan.offset[TG_HOOK_LOGITS]);
    const float *resid = (const float *)((char *)arena + plan.offset[TG_HOOK_RESID_POST]) + plan.layer_floats[TG_HOOK_RESID_POST];
    const float *pat0 = (const float *)((char *)arena + plan.offset[TG_HOOK_PATTERN]);
    const float *sc0 = (const float *)((char *)arena + plan.offset[TG_HOOK_ATTN_SCORES]);
    double worst = 0, worst_p = 0;
    for (int b = 0; b < B; b++) {
        double lg[P_ * V_], rs[P_ * C_], pt[H_ * P_ * P_];
        ref_forward(&r, ids + b * T + start[b], (int)len[b], lg, rs, pt);
        for (int t = 0; t < len[b]; t++) {
            size_t row = (size_t)(b * T + start[b] + t);
            for (int v = 0; v < V_; v++) worst = fmax(worst, fabs(lg[t * V_ + v] - logits[row * V_ + v]));
            for (int j = 0; j < C_; j++) worst = fmax(worst, fabs(rs[t * C_ + j] - resid[row * C_ + j]));
            for (int hh = 0; hh < H_; hh++)
                for (int k = 0; k < T; k++) {
                    size_t at = (((size_t)b * H_ + hh) * T + start[b] + t) * T + k;
                    int kk = k - (int)start[b];
                    bool allowed = kk >= 0 && kk <= t;
                    if (allowed) {
                        worst_p = fmax(worst_p, fabs(pt[(hh * len[b] + t) * len[b] + kk] - pat0[at]));
                        CHECK(isfinite(sc0[at]));
                    } else {
                        CHECK(pat0[at] == 0.0f);
                        CHECK(sc0[at] == -INFINITY);
                    }
                }
        }
    }
    CHECK(worst < 1e-4);
    CHECK(worst_p < 1e-5);
    /* early stop: only block 0's resid_post -> run_layers == 1, same values as in the full run */
    uint8_t want0[TG_HOOK_COUNT * L_] = {0};
    want0[TG_HOOK_RESID_POST * L_ + 0] = 1;
    tg_gpt2_plan p0;
    CHECK_OK(tg_gpt2_plan_make(&tiny_cfg, B, T, want0, &p0));
    CHECK(p0.run_layers == 1 && p0.block_bytes[TG_HOOK_RESID_POST] == (size_t)B * T * C_ * 4 && p0.arena_bytes < 512);
    float *a0 = tg_alloc_aligned(p0.arena_bytes);
    CHECK_OK(tg_gpt2_forward(m, &p0, ids, start, len, a0));
    const float *full0 = (const float *)((char *)arena + plan.offset[TG_HOOK_RESID_POST]);
    CHECK(memcmp(a0, full0, p0.block_bytes[TG_HOOK_RESID_POST]) == 0);
    /* bad inputs */
    int64_t bad_ids[B * T];
    memcpy(bad_ids, ids, sizeof ids);
    bad_ids[7] = V_;
    CHECK_STATUS(tg_gpt2_forward(m, &p0, bad_ids, start, len, a0), TG_ERR_INDEX);
    int64_t bad_len[B] = {6, 7, 3};
    CHECK_STATUS(tg_gpt2_forward(m, &p0, ids, start, bad_len, a0), TG_ERR_VALUE);
    int64_t bad_start[B] = {0, -1, 3};
    CHECK_STATUS(tg_gpt2_forward(m, &p0, ids, bad_start, len, a0), TG_ERR_VALUE);
    tg_gpt2_config wide = tiny_cfg; /* a plan for another width must be refused, not overrun */
    wide.n_inner = 2 * F_;
    tg_gpt2_plan pw;
    CHECK_OK(tg_gpt2_plan_make(&wide, B, T, want0, &pw));
    CHECK_STATUS(tg_gpt2_forward(m, &pw, ids, start, len, a0), TG_ERR_VALUE);
    tg_gpt2_plan_free(&pw);
    tg_gpt2_plan pbad;
    CHECK_STATUS(tg_gpt2_plan_make(&tiny_cfg, 1, P_ + 1, want, &pbad), TG_ERR_VALUE);
    CHECK_STATUS(tg_gpt2_plan_make(&tiny_cfg, SIZE_MAX / 2, P_, want, &pbad), TG_ERR_OVERFLOW);
    free(a0);
    tg_gpt2_plan_free(&p0);
    free(arena);
    tg_gpt2_plan_free(&plan);
out:
    tg_gpt2_close(m);
    free(buf);
    free_weights();
}

static void test_open_errors(void) {
    refw r;
    make_weights(&r);
    size_t size;
    unsigned char *buf = build_st(&size, "");
    tg_safetensors *st = NULL;
    tg_gpt2 *m = NULL;
    /* bare names load too */
    CHECK_OK(tg_st_open_buffer(buf, size, &st));
    if (st) CHECK_OK(tg_gpt2_open_st(&tiny_cfg, &st, 1, &m));
    tg_gpt2_close(m);
    /* a config with a different width: wte shape mismatch names the tensor */
    tg_gpt2_config c2 = tiny_cfg;
    c2.n_embd = 12;
    c2.n_head = 3;
    CHECK_OK(tg_st_open_buffer(buf, size, &st));
    if (st) {
        CHECK_STATUS(tg_gpt2_open_st(&c2, &st, 1, &m), TG_ERR_FORMAT);
        CHECK(strstr(tg_last_error(), "wte.weight") != NULL && strstr(tg_last_error(), "[13, 12]") != NULL);
    }
    /* fewer layers in the config than in the file */
    c2 = tiny_cfg;
    c2.n_layer = 1;
    CHECK_OK(tg_st_open_buffer(buf, size, &st));
    if (st) CHECK_STATUS(tg_gpt2_open_st(&c2, &st, 1, &m), TG_ERR_FORMAT);
    /* nonsense configs */
    c2 = tiny_cfg;
    c2.n_head = 4;
    CHECK_STATUS(tg_gpt2_config_check(&c2), TG_ERR_FORMAT);
    c2 = tiny_cfg;
    c2.layer_norm_eps = NAN;
    CHECK_STATUS(tg_gpt2_config_check(&c2), TG_ERR_FORMAT);
    c2 = tiny_cfg;
    c2.n_vocab = 0;
    CHECK_OK(tg_st_open_buffer(buf, size, &st));
    if (st) CHECK_STATUS(tg_gpt2_open_st(&c2, &st, 1, &m), TG_ERR_FORMAT); /* closes st itself */
    free(buf);
    free_weights();
}

/* T = 150 > 64: attention in 64-row BLIS blocks, one of which straddles a left-padded row's
 * first real token; the real tokens must match the same tokens run alone (T = 50). */
static void test_blocked_attention(void) {
    enum { NCTX = 160, T = 150, N1 = 50 };
    refw r;
    make_weights_ctx(&r, NCTX);
    size_t size;
    unsigned char *buf = build_st(&size, "transformer.");
    tg_safetensors *st = NULL;
    tg_gpt2 *m = NULL;
    tg_gpt2_config cfg = tiny_cfg;
    cfg.n_ctx = NCTX;
    CHECK_OK(tg_st_open_buffer(buf, size, &st));
    if (st) CHECK_OK(tg_gpt2_open_st(&cfg, &st, 1, &m));
    if (m == NULL) goto out;
    int64_t *ids = malloc(2 * T * sizeof *ids);
    for (int i = 0; i < 2 * T; i++) ids[i] = (i * 7 + 3) % V_;
    int64_t start[2] = {T - N1, 0}, len[2] = {N1, T};
    uint8_t want[TG_HOOK_COUNT * L_] = {0};
    want[TG_HOOK_LOGITS * L_] = 1;
    want[TG_HOOK_PATTERN * L_ + 1] = 1;
    tg_gpt2_plan p2, p1;
    CHECK_OK(tg_gpt2_plan_make(&cfg, 2, T, want, &p2));
    CHECK_OK(tg_gpt2_plan_make(&cfg, 1, N1, want, &p1));
    float *a2 = tg_alloc_aligned(p2.arena_bytes), *a1 = tg_alloc_aligned(p1.arena_bytes);
    int64_t s1[1] = {0}, l1[1] = {N1};
    CHECK_OK(tg_gpt2_forward(m, &p2, ids, start, len, a2));
    CHECK_OK(tg_gpt2_forward(m, &p1, ids + (T - N1), s1, l1, a1)); /* row 0's real tokens alone */
    const float *lg2 = (const float *)((char *)a2 + p2.offset[TG_HOOK_LOGITS]);
    const float *lg1 = (const float *)((char *)a1 + p1.offset[TG_HOOK_LOGITS]);
    double worst = 0;
    for (int t = 0; t < N1; t++)
        for (int v = 0; v < V_; v++) worst = fmax(worst, fabs(lg2[(size_t)(T - N1 + t) * V_ + v] - lg1[(size_t)t * V_ + v]));
    CHECK(worst < 1e-4);
    const float *pt = (const float *)((char *)a2 + p2.offset[TG_HOOK_PATTERN]);
    for (int h = 0; h < H_; h++) /* real query rows see no pad key; each row sums to 1 */
        for (int t = T - N1; t < T; t++) {
            double sum = 0;
            for (int k = 0; k < T; k++) {
                float w = pt[((size_t)h * T + t) * T + k];
                if (k < T - N1 || k > t) CHECK(w == 0.0f);
                sum += w;
            }
            CHECK(fabs(sum - 1) < 1e-5);
        }
    free(a1);
    free(a2);
    free(ids);
    tg_gpt2_plan_free(&p1);
    tg_gpt2_plan_free(&p2);
out:
    tg_gpt2_close(m);
    free(buf);
    free_weights();
}

/* the capture table: one slot size per kind, views inside their slot, q/k/v split of qkv */
static void test_capture_table(void) {
    const size_t B = 2, T = 5;
    uint8_t want[TG_HOOK_COUNT * L_];
    memset(want, 1, sizeof want);
    tg_gpt2_plan p;
    CHECK_OK(tg_gpt2_plan_make(&tiny_cfg, B, T, want, &p));
    size_t n = tg_gpt2_capture_count(), per_kind[TG_HOOK_COUNT] = {0};
    CHECK(n == 23 && tg_gpt2_capture_at(n) == NULL);
    for (size_t i = 0; i < n; i++) {
        const tg_gpt2_capture *r = tg_gpt2_capture_at(i);
        tg_gpt2_view v;
        CHECK_OK(tg_gpt2_capture_view(&p, i, &v));
        CHECK(r->per_block == !tg_gpt2_hook_is_global(r->kind));
        size_t last = v.offset; /* byte of the last element inside one slot */
        for (int a = 0; a < v.ndim; a++) last += (v.shape[a] - 1) * v.strides[a];
        CHECK(last + 4 <= p.layer_floats[r->kind] * 4);
        per_kind[r->kind]++;
    }
    for (int k = 0; k < TG_HOOK_COUNT; k++) CHECK(per_kind[k] >= 1);
    CHECK(per_kind[TG_HOOK_QKV] == 4 && strcmp(tg_gpt2_hook_name(TG_HOOK_QKV), "attn.hook_qkv") == 0);
    for (size_t i = 0; i < n; i++) {
        const tg_gpt2_capture *r = tg_gpt2_capture_at(i);
        if (strcmp(r->name, "attn.hook_k") != 0) continue;
        tg_gpt2_view v;
        CHECK_OK(tg_gpt2_capture_view(&p, i, &v));
        /* [B, T, H, D] with a token stride of 3C floats, starting C floats into the row */
        CHECK(v.ndim == 4 && v.shape[0] == B && v.shape[1] == T && v.shape[2] == H_ && v.shape[3] == C_ / H_);
        CHECK(v.strides[0] == T * 3 * C_ * 4 && v.strides[1] == 3 * C_ * 4 && v.strides[2] == (C_ / H_) * 4 && v.strides[3] == 4);
        CHECK(v.offset == C_ * 4);
    }
    tg_gpt2_view bad;
    CHECK_STATUS(tg_gpt2_capture_view(&p, n, &bad), TG_ERR_INDEX);
    tg_gpt2_plan_free(&p);
}

TG_TEST_MAIN(TG_CASE(test_expf), TG_CASE(test_layernorm), TG_CASE(test_activations), TG_CASE(test_softmax),
             TG_CASE(test_sgemm_strides), TG_CASE(test_tiny_model), TG_CASE(test_blocked_attention), TG_CASE(test_open_errors),
             TG_CASE(test_capture_table))
