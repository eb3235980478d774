/*
 * tokgeo/gpt2.h - GPT-2 weights as views into safetensors mappings, and the fp32 forward pass
 * that writes the requested activations ("captures") into one caller-owned arena.
 *
 * Worked example (errors shortened):
 *
 *   tg_gpt2_config cfg = {.n_layer = 12, .n_head = 12, .n_embd = 768, .n_ctx = 1024,
 *                         .n_vocab = 50257, .n_inner = 3072, .layer_norm_eps = 1e-5,
 *                         .activation = TG_GPT2_GELU_TANH, .scale_attn_weights = true};
 *   const char *files[] = {"gpt2/model.safetensors"};
 *   tg_gpt2 *m;  tg_gpt2_open(&cfg, files, 1, &m);
 *
 *   uint8_t want[TG_HOOK_COUNT * 12] = {0};          // [hook][layer]
 *   want[TG_HOOK_RESID_POST * 12 + 5] = 1;           // blocks.5.hook_resid_post
 *   want[TG_HOOK_LOGITS * 12 + 0] = 1;               // global hooks use layer slot 0
 *   tg_gpt2_plan plan;  tg_gpt2_plan_make(&cfg, B, T, want, &plan);
 *   float *arena = tg_alloc_aligned(plan.arena_bytes);
 *   tg_gpt2_forward(m, &plan, ids, starts, lengths, arena);
 *   float *resid5 = arena + plan.offset[TG_HOOK_RESID_POST] / 4;     // [B, T, n_embd]
 *   ...  free(arena); tg_gpt2_plan_free(&plan); tg_gpt2_close(m);
 *
 * Arena layout (hook-kind-major): for each captured kind k, in the order of tg_gpt2_hook,
 * one block [count[k], <per-layer shape>] of float32 starting at byte offset[k]
 * (64-byte aligned); slot[k * n_layer + l] is the index of layer l inside the block, or -1.
 * So the captured layers of one kind are a single strided array [count, B, T, ...].
 * TG_HOOK_LN_FINAL directly follows TG_HOOK_RESID_PRE when both are captured and the
 * resid_pre block has no tail padding, so that Hugging Face's hidden_states
 * (resid_pre of every block, then ln_f of the last residual) is one [L+1, B, T, C] array.
 *
 * Per-layer slot shapes (B batch, T tokens, C n_embd, H n_head, D = C/H, F n_inner, V n_vocab;
 * the capture table below is the authority, with every name and view):
 *   RESID_PRE, LN1, Z, ATTN_OUT, RESID_MID, LN2, MLP_OUT, RESID_POST   [B, T, C]
 *   QKV          [B, T, 3C]   (q = [..., 0:C], k = [..., C:2C], v = [..., 2C:3C]; head h of q
 *                             is q[..., h*D:(h+1)*D], exactly the c_attn output of HF)
 *   ATTN_SCORES  [B, H, T, T] (q.k / sqrt(D) for allowed keys, -inf for masked keys)
 *   PATTERN      [B, H, T, T] (softmax over allowed keys, 0 for masked keys)
 *   MLP_PRE, MLP_POST [B, T, F]
 *   LN1_SCALE, LN2_SCALE [B, T] (the LayerNorm's sqrt(var + eps), TransformerLens' hook_scale)
 * Global shapes: EMBED, POS_EMBED, LN_FINAL [B, T, C]; LNF_SCALE [B, T]; LOGITS [B, T, V].
 *
 * Padding: row b holds its real tokens at [start[b], start[b] + length[b]); the tokens before
 * start[b] are left padding, those after are right padding.  Row b is cut in two causal
 * segments, [0, start[b]) and [start[b], T): a token attends to the keys of its own
 * segment up to itself and its position id is its index inside the segment.  Real tokens
 * therefore get exactly the activations they get when their sentence is run alone.  Pads
 * are not computed: the row-wise work (LayerNorms, products, activations, adds, logits) runs
 * over the real tokens only, gathered in chunks of at most 512 rows, and attention skips pad
 * query rows.  Every capture holds 0 at its padded positions ([b, t] with t outside the real
 * range; for ATTN_SCORES and PATTERN the whole query row [b, h, t, :] of a pad t is 0, while
 * a real query row keeps -inf / 0 for its masked keys).  Scratch for this is in
 * scratch_bytes.
 *
 * Threads: BLIS and our OpenMP loops use tg_get_num_threads(); attention runs one
 * (batch, head) pair per OpenMP task with single-threaded BLIS calls inside.
 * Interrupts: tg_interrupted() is polled between layers, between row chunks of the large
 * products and inside the attention loop (master thread); the forward then returns
 * TG_ERR_INTERRUPTED with the arena partly written.
 */
#ifndef TG_GPT2_H
#define TG_GPT2_H

#include "tokgeo/common.h"
#include "tokgeo/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tg_gpt2_activation {
    TG_GPT2_GELU_TANH = 0, /* "gelu_new" / "gelu_pytorch_tanh": GPT-2's tanh approximation */
    TG_GPT2_GELU_ERF = 1,  /* "gelu" (exact, erf) */
    TG_GPT2_RELU = 2       /* "relu" */
} tg_gpt2_activation;

typedef struct tg_gpt2_config {
    int64_t n_layer;       /* >= 1 */
    int64_t n_head;        /* >= 1, divides n_embd */
    int64_t n_embd;        /* >= 1 */
    int64_t n_ctx;         /* n_positions: rows of wpe, the longest input */
    int64_t n_vocab;       /* rows of wte */
    int64_t n_inner;       /* MLP width (HF: n_inner or 4 * n_embd when null) */
    double layer_norm_eps; /* > 0 */
    tg_gpt2_activation activation;
    bool scale_attn_weights;              /* divide scores by sqrt(d_head) (GPT-2: true) */
    bool scale_attn_by_inverse_layer_idx; /* also divide by layer index + 1 (GPT-2: false) */
} tg_gpt2_config;

/* TG_OK when every field is in range (and the sizes the forward derives from it fit in
 * size_t); otherwise TG_ERR_FORMAT naming the field (configs come from files). */
tg_status tg_gpt2_config_check(const tg_gpt2_config *cfg);

/* Weights of one block.  Every pointer is float32, 4-byte aligned, row-major, either into
 * a read-only file mapping or into a buffer the model owns (converted from F16/BF16/F64,
 * or copied because the file's F32 data was not 4-byte aligned).  Conv1D layout [in, out]
 * as stored by Hugging Face: y = x @ W + b. */
typedef struct tg_gpt2_layer {
    const float *ln1_w, *ln1_b;       /* [C] */
    const float *attn_w, *attn_b;     /* [C, 3C], [3C]   (c_attn) */
    const float *proj_w, *proj_b;     /* [C, C], [C]     (attn.c_proj) */
    const float *ln2_w, *ln2_b;       /* [C] */
    const float *fc_w, *fc_b;         /* [C, F], [F]     (mlp.c_fc) */
    const float *fcproj_w, *fcproj_b; /* [F, C], [C]     (mlp.c_proj) */
} tg_gpt2_layer;

typedef struct tg_gpt2_weights {
    const float *wte;     /* [V, C] */
    const float *wpe;     /* [n_ctx, C] */
    const float *lnf_w, *lnf_b; /* [C] */
    const float *lm_head; /* [V, C]: == wte when tied (or absent), else the file's lm_head */
    bool lm_head_tied;
    const tg_gpt2_layer *layers; /* [n_layer] */
} tg_gpt2_weights;

typedef struct tg_gpt2 tg_gpt2;

/* Opens the safetensors files (one, or the shards of a split checkpoint) and binds every
 * tensor of the GPT-2 architecture described by cfg.  Names are looked up with and
 * without the "transformer." prefix (a tensor present under both is an error); the legacy
 * buffers "h.N.attn.bias" / "h.N.attn.masked_bias" and tensors of other heads are
 * ignored; a block index >= n_layer is an error (the config does not match the file).
 * "lm_head.weight", when present, is compared with wte: equal bytes -> tied (wte is used);
 * different -> untied, and the logits use lm_head.weight.  Shapes must match cfg exactly
 * (TG_ERR_FORMAT naming the tensor, the expected and the actual shape).  F32 data is used
 * in place (zero copy) when 4-byte aligned, else copied; F16, BF16 and F64 are converted
 * once to float32 buffers owned by the model; other dtypes are TG_ERR_FORMAT.
 * On success *out owns the mappings; on failure nothing is leaked and *out is NULL. */
tg_status tg_gpt2_open(const tg_gpt2_config *cfg, const char *const *paths, size_t n_paths, tg_gpt2 **out);

/* The same over readers the caller opened; the model takes ownership of files[0..n) in
 * every case (it closes them itself when it fails). */
tg_status tg_gpt2_open_st(const tg_gpt2_config *cfg, tg_safetensors **files, size_t n_files, tg_gpt2 **out);

void tg_gpt2_close(tg_gpt2 *m);
const tg_gpt2_config *tg_gpt2_get_config(const tg_gpt2 *m);
const tg_gpt2_weights *tg_gpt2_get_weights(const tg_gpt2 *m);
/* Bytes of float32 buffers the model allocated (conversions and realignment copies). */
size_t tg_gpt2_owned_bytes(const tg_gpt2 *m);

/* ---- named tensors (for bindings that expose weights as arrays) ---- */
typedef struct tg_gpt2_tensor {
    const char *name;      /* Hugging Face name without "transformer.", e.g. "h.0.attn.c_attn.weight" */
    const float *data;
    int ndim;              /* 1 or 2 */
    int64_t shape[2];
    bool copied;           /* true when the data lives in a model-owned buffer */
} tg_gpt2_tensor;
size_t tg_gpt2_tensor_count(const tg_gpt2 *m);
/* i < tg_gpt2_tensor_count(m); the name stays valid until tg_gpt2_close(). */
tg_status tg_gpt2_tensor_at(const tg_gpt2 *m, size_t i, tg_gpt2_tensor *out);

/* ---- capture plan ---- */
typedef enum tg_gpt2_hook {
    /* per-layer kinds */
    TG_HOOK_RESID_PRE = 0,
    TG_HOOK_LN_FINAL,   /* global: placed here so that it follows RESID_PRE in the arena */
    TG_HOOK_LN1,
    TG_HOOK_QKV,
    TG_HOOK_ATTN_SCORES,
    TG_HOOK_PATTERN,
    TG_HOOK_Z,
    TG_HOOK_ATTN_OUT,
    TG_HOOK_RESID_MID,
    TG_HOOK_LN2,
    TG_HOOK_MLP_PRE,
    TG_HOOK_MLP_POST,
    TG_HOOK_MLP_OUT,
    TG_HOOK_RESID_POST,
    TG_HOOK_LN1_SCALE,  /* sqrt(var + eps) of ln_1's input, [B, T] */
    TG_HOOK_LN2_SCALE,  /* the same for ln_2 */
    TG_HOOK_LNF_SCALE,  /* global: the same for ln_f */
    TG_HOOK_EMBED,      /* global */
    TG_HOOK_POS_EMBED,  /* global */
    TG_HOOK_LOGITS,     /* global */
    TG_HOOK_COUNT
} tg_gpt2_hook;

/* true for the kinds that exist once per run rather than once per block */
bool tg_gpt2_hook_is_global(tg_gpt2_hook k);
/* TransformerLens name of the kind's whole slot ("hook_resid_pre", "attn.hook_qkv",
 * "logits", ...; per-block names without "blocks.{l}."), "?" for a bad kind. */
const char *tg_gpt2_hook_name(tg_gpt2_hook k);

/* ---- the capture table: THE owner of the capture layout ----
 * One row per name a capture can be read by.  Per captured layer, the slot of kind `kind`
 * holds the floats of `dims` in row-major order (symbols: B batch, T tokens, C n_embd,
 * H n_head, D = C / H, F n_inner, V n_vocab; 1 and 3 are constants).  The row's array is
 * that slot viewed as `dims`, except that when select_axis >= 0 that axis is fixed at
 * select_index and dropped: q, k and v are index 0, 1, 2 of axis 2 of the qkv slot seen
 * as [B, T, 3, H, D], i.e. [B, T, H, D] views with a token stride of 3C floats.  Every
 * row of one kind has the same product of dims (the slot size).  `transformer_lens` is
 * false for names TransformerLens does not have (the raw [B, T, 3C] "attn.hook_qkv"). */
typedef enum tg_gpt2_dim {
    TG_DIM_1 = 0, TG_DIM_3, TG_DIM_B, TG_DIM_T, TG_DIM_C, TG_DIM_3C, TG_DIM_H, TG_DIM_D, TG_DIM_F, TG_DIM_V,
    TG_DIM_COUNT
} tg_gpt2_dim;
#define TG_CAPTURE_MAX_DIMS 5
typedef struct tg_gpt2_capture {
    const char *name;      /* e.g. "attn.hook_q" (per-block: after "blocks.{l}."), "logits" */
    tg_gpt2_hook kind;     /* the arena block holding it */
    bool per_block;        /* false: one per run (global kinds) */
    bool transformer_lens; /* a TransformerLens hook name */
    int ndim;              /* axes of dims, <= TG_CAPTURE_MAX_DIMS */
    tg_gpt2_dim dims[TG_CAPTURE_MAX_DIMS];
    int select_axis;       /* -1, or the axis of dims fixed at select_index */
    int select_index;
    const char *what;      /* one line: what the values are */
} tg_gpt2_capture;
/* Rows of the table, in the order a cache lists them (globals before the first block,
 * then per block, then the final LayerNorm and the logits). */
size_t tg_gpt2_capture_count(void);
/* Row i (static storage), NULL when i >= tg_gpt2_capture_count(). */
const tg_gpt2_capture *tg_gpt2_capture_at(size_t i);
/* The symbol's letter(s) for messages and docs: "B", "3C", ...; "?" for a bad symbol. */
const char *tg_gpt2_dim_symbol(tg_gpt2_dim d);

typedef struct tg_gpt2_plan {
    size_t batch, seq;                 /* B, T */
    size_t n_layer;
    size_t offset[TG_HOOK_COUNT];      /* byte offset of the kind's block; SIZE_MAX if absent */
    size_t count[TG_HOOK_COUNT];       /* layers captured (globals: 0 or 1) */
    size_t layer_floats[TG_HOOK_COUNT];/* floats of one layer's slot ([B, T, ...]) */
    size_t block_bytes[TG_HOOK_COUNT]; /* count * layer_floats * 4 */
    int32_t *slot;                     /* [TG_HOOK_COUNT * n_layer]; -1 when not captured */
    size_t arena_bytes;                /* sum of the blocks, each rounded up to 64 bytes */
    size_t scratch_bytes;              /* working memory the forward allocates itself */
    size_t run_layers;                 /* blocks to compute (stops after the last needed) */
    bool need_head;                    /* ln_f (and maybe logits) needed */
    int threads;                       /* thread count the scratch was sized for */
    tg_gpt2_config cfg;                /* the config the layout was computed for */
} tg_gpt2_plan;

/* Computes the arena layout for a [batch, seq] run capturing want[k * n_layer + l] != 0
 * (for global kinds only want[k * n_layer + 0] is read).  batch >= 1, 1 <= seq <= n_ctx.
 * All sizes use checked arithmetic (TG_ERR_OVERFLOW).  On success *out owns `slot`
 * (release with tg_gpt2_plan_free); on failure *out is zeroed. */
tg_status tg_gpt2_plan_make(const tg_gpt2_config *cfg, size_t batch, size_t seq, const uint8_t *want, tg_gpt2_plan *out);
void tg_gpt2_plan_free(tg_gpt2_plan *p);

/* The array of capture row i under plan p: ndim axes (the row's dims minus the selected
 * one), their sizes and byte strides, and the byte offset of element 0 inside one slot of
 * the row's kind (so layer l's array starts at offset[kind] + slot * layer_floats[kind] * 4
 * + out->offset).  TG_ERR_INDEX for a bad row. */
typedef struct tg_gpt2_view {
    int ndim;
    size_t shape[TG_CAPTURE_MAX_DIMS];
    size_t strides[TG_CAPTURE_MAX_DIMS]; /* bytes */
    size_t offset;                       /* bytes */
} tg_gpt2_view;
tg_status tg_gpt2_capture_view(const tg_gpt2_plan *p, size_t i, tg_gpt2_view *out);

/* Runs the forward pass.  ids: [B, T] row-major token ids in [0, n_vocab) (every entry is
 * checked, pads included, though pads are not computed); start, length: [B] with 0 <= start,
 * start + length <= T (see "Padding" above).  Writes every float of every captured block
 * of `arena`, pad positions included (0; see "Padding") (plan->arena_bytes bytes, 4-byte
 * aligned at least, caller-owned; 64-byte
 * alignment is best).  Allocates plan->scratch_bytes of working memory and frees it before
 * returning.  TG_ERR_INDEX for a bad id, TG_ERR_VALUE for bad start/length or a plan made
 * for another config, TG_ERR_NOMEM, TG_ERR_INTERRUPTED. */
tg_status tg_gpt2_forward(const tg_gpt2 *m, const tg_gpt2_plan *plan, const int64_t *ids, const int64_t *start,
                          const int64_t *length, float *arena);

/* Big zero-filled buffers for arenas and scratch: an anonymous mapping (transparent huge
 * pages requested where the OS offers them, which cuts page-fault time on first touch),
 * 64-byte aligned.  NULL on failure or size 0.  Release with tg_gpt2_free_buffer(p, size). */
void *tg_gpt2_alloc_buffer(size_t size);
void tg_gpt2_free_buffer(void *p, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* TG_GPT2_H */
