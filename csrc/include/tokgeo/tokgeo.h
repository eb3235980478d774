/*
 * tokgeo.h - the whole public C API of the tokgeo core (no Python needed).
 *
 * A worked example (error handling shortened; every call returns tg_status and puts a
 * human-readable detail in tg_last_error() on failure):
 *
 *   #include "tokgeo/tokgeo.h"
 *
 *   tg_tokenizer *tok;
 *   tg_tokenizer_load(&tok, "tokgeo/data/gpt2/encoder.json", "tokgeo/data/gpt2/vocab.bpe");
 *   ... encode text into caller-owned id buffers ...
 *
 *   tg_gpt2 *model;                                 // weights: views into a read-only mmap
 *   tg_gpt2_open(&cfg, (const char *[]){"gpt2/model.safetensors"}, 1, &model);
 *   ... tg_gpt2_plan_make() sizes the arena for the captures you want, tg_gpt2_forward() fills it ...
 *
 *   double cos;  // metrics read any strided float32/float64 view (tg_view)
 *
 * Ownership: the caller owns every buffer it passes in; objects created by the *_open and *_load
 * are released by the matching *_close or *_free.  Nothing here calls exit/abort/assert on
 * input.  Threads: tg_set_num_threads() drives our OpenMP loops and BLIS together.
 *
 * Sections (each header documents its own functions):
 *   tg_common.h      status codes, errors, checked arithmetic, views, threads, interrupts
 *   tg_json.h        strict JSON reader
 *   tg_mapfile.h     read-only file mapping
 *   tg_tokenizer.h   GPT-2 byte-level BPE (pre-tokenizer scanner + merges)
 *   tg_safetensors.h validating safetensors reader over a read-only mapping
 *   tg_gpt2.h        GPT-2 weights (views) and the fp32 forward pass with captures
 *   tg_metrics.h     geometry, statistics and softmax on strided views
 *   tg_reduce.h      PCA (covariance eigenstructure, randomized) and t-SNE
 */
#ifndef TOKGEO_H
#define TOKGEO_H

#include "tokgeo/common.h"
#include "base/json.h"
#include "base/mapfile.h"
#include "tokgeo/tokenizer.h"
#include "tokgeo/safetensors.h"
#include "tokgeo/gpt2.h"
#include "tokgeo/metrics.h"
#include "tokgeo/reduce.h"

#endif /* TOKGEO_H */
