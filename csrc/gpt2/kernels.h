/*
 * gpt2/kernels.h - the element-wise and row-wise kernels of the GPT-2 forward pass
 * (gpt2/kernels.c), internal to the gpt2 part.  The C tests include it to check each kernel
 * against a plain reference; the binding reaches tg_softmax_rows_f32 through gpt2/testing.h.
 * Matrix products go through base/blas.h (tg_sgemm).
 */
#ifndef TG_GPT2_KERNELS_H
#define TG_GPT2_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "tokgeo/gpt2.h"

/* y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * w + b for r < rows; biased variance;
 * x and y rows of `cols` floats at row strides ldx, ldy (may alias when equal); when scale
 * is not NULL, scale[r] = sqrt(var + eps). */
void tg_layernorm_f32(const float *x, ptrdiff_t ldx, size_t rows, size_t cols, const float *w, const float *b,
                      float eps, float *y, ptrdiff_t ldy, float *scale);
/* The same over a row list: for i < n, row r = idx[i] (idx == NULL: r = i) of x [*, cols]
 * and y [*, cols] (row stride cols; may alias), scale[r] when scale is not NULL.  Used to
 * normalise only the real tokens of a padded batch. */
void tg_layernorm_idx_f32(const float *x, size_t cols, const size_t *idx, size_t n, const float *w, const float *b,
                          float eps, float *y, float *scale);
/* y[i] = act(x[i]) for i < n (may alias). */
void tg_activation_f32(tg_gpt2_activation act, const float *x, float *y, size_t n);
/* The same on one thread, for n floats (a tile row inside a parallel region). */
void tg_activation_serial_f32(tg_gpt2_activation act, const float *x, float *y, size_t n);
/* exp(x) with ~2 ulp accuracy over the float range, vectorisable; exp(x < -87.3) ~ 1e-38. */
float tg_expf(float x);
/* Numerically stable softmax of each of `rows` rows of n floats (row stride ldx, ldy),
 * computed in double for the sum: y = exp(x - max) / sum. */
void tg_softmax_rows_f32(const float *x, ptrdiff_t ldx, size_t rows, size_t n, float *y, ptrdiff_t ldy);
/* Attention row: p[j] = softmax(s[lo..hi])[j] for lo <= j <= hi and 0 for the other j < n;
 * when mask_scores, also s[j] = -inf for j outside [lo, hi].  s and p may be the same row. */
void tg_causal_softmax_row_f32(float *s, float *p, size_t lo, size_t hi, size_t n, bool mask_scores);
/* sum_i a[i] b[i] (float accumulation, vectorised) and y[i] += alpha x[i], for n floats. */
float tg_dot_f32(const float *a, const float *b, size_t n);
void tg_axpy_f32(float alpha, const float *x, float *y, size_t n);

#endif /* TG_GPT2_KERNELS_H */
