/*
 * tokgeo/tokgeo.h - the whole public C API of the tokgeo core (no Python needed): the GPT-2
 * tokenizer, a validating safetensors reader, GPT-2's fp32 forward pass that captures any
 * activation into one arena, metrics on strided views, and PCA / t-SNE.
 *
 * Worked example: csrc/examples/quickstart.c, which ctest compiles and runs (excerpt; the
 * file has the error handling and the in-memory tiny model that `file` holds here):
 *
 *   #include "tokgeo/tokgeo.h"
 *
 *   TRY(tg_tokenizer_load(&tok, vocab, merges));
 *   TRY(tg_encode(tok, text, strlen(text), NULL, TG_ENC_OFFSETS, &ids));
 *   TRY(tg_st_open_buffer(file, size, &st));
 *   TRY(tg_gpt2_open_st(&cfg, &st, 1, &model)); // the model owns st from here on
 *   want[TG_HOOK_RESID_POST * L + 1] = 1;    // blocks.1.hook_resid_post
 *   want[TG_HOOK_LOGITS * L + 0] = 1;        // global hooks use layer slot 0
 *   TRY(tg_gpt2_plan_make(&cfg, 1, T, want, &plan));
 *   arena = tg_alloc_aligned(plan.arena_bytes);
 *   TRY(tg_gpt2_forward(model, &plan, ids64, &start, &length, arena));
 *   float *resid = arena + plan.offset[TG_HOOK_RESID_POST] / 4; // [1 layer][B=1, T, C]
 *   float *logits = arena + plan.offset[TG_HOOK_LOGITS] / 4;    // [B=1, T, V]
 *   tg_view a = {resid, TG_F32, 2, {(ptrdiff_t)T - 1, C}, {C, 1}};
 *   tg_view b = {resid + C, TG_F32, 2, {(ptrdiff_t)T - 1, C}, {C, 1}};
 *   TRY(tg_rowwise(TG_ROW_COS, &a, &b, cos, NULL));
 *   tg_view lv = {logits, TG_F32, 2, {(ptrdiff_t)T, (ptrdiff_t)V}, {(ptrdiff_t)V, 1}};
 *   TRY(tg_softmax(TG_ENTROPY, &lv, ent, TG_F64, 1.0));
 *   ...  free(arena); tg_gpt2_plan_free(&plan); tg_gpt2_close(model); tg_tokenizer_free(tok);
 *
 * Errors: every call that can fail returns tg_status and puts a human-readable detail in
 * tg_last_error().  Ownership: the caller owns every buffer it passes in; objects created
 * by the *_open and *_load functions are released by the matching *_close or *_free.
 * Nothing here calls exit/abort/assert on input.  Threads: tg_set_num_threads() drives our
 * OpenMP loops and BLIS together.
 *
 * Parts (each header opens with what its part does; sources in csrc/<part>/):
 *   tokgeo/common.h      status codes, errors, strided views, threads, interrupts, allocation
 *   tokgeo/tokenizer.h   GPT-2 byte-level BPE (pre-tokenizer scanner + merges)
 *   tokgeo/safetensors.h validating safetensors reader over a read-only mapping
 *   tokgeo/gpt2.h        GPT-2 weights (views) and the fp32 forward pass with captures
 *   tokgeo/metrics.h     geometry, statistics and softmax on strided views
 *   tokgeo/reduce.h      PCA (exact and randomized) and t-SNE
 * Internal headers (csrc/base/, the .h files in csrc/<part>/) are not API; csrc/README.md says who may
 * include whom.
 */
#ifndef TOKGEO_H
#define TOKGEO_H

#include "tokgeo/common.h"
#include "tokgeo/tokenizer.h"
#include "tokgeo/safetensors.h"
#include "tokgeo/gpt2.h"
#include "tokgeo/metrics.h"
#include "tokgeo/reduce.h"
#include "tokgeo/tokenizer.h"

#endif /* TOKGEO_H */
