/*
 * gpt2/testing.h - entry points of the gpt2 part for tests and benchmarks, not API: the
 * Python binding exposes them as private _C functions (benchmarks/bench_model.py, the
 * softmax parity test), the C tests call them directly.
 */
#ifndef TG_GPT2_TESTING_H
#define TG_GPT2_TESTING_H

#include <stdbool.h>
#include <stddef.h>

#include "gpt2/kernels.h"
#include "tokgeo/gpt2.h"

/* Benchmark floor: runs only the matrix products of a forward pass of this shape (the
 * same BLIS calls with the same shapes and strides: the four projections per block, the
 * per-(batch, head) attention products over the causal blocks, and the logits when
 * with_logits) on scratch buffers, and stores the wall time in *seconds. */
tg_status tg_gpt2_time_products(const tg_gpt2_config *cfg, size_t batch, size_t seq, bool with_logits, double *seconds);

#endif /* TG_GPT2_TESTING_H */
