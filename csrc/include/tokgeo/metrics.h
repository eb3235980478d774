/*
 * tokgeo/metrics.h - geometry, all-pairs similarity, statistics and softmax on strided views.
 *
 * Every routine reads float32 or float64 tg_view inputs through their element strides
 * (0 and negative strides included), accumulates in double precision (except the
 * all-pairs routines on float32, which run BLIS sgemm: float32 products and sums, then the
 * scaling in float32/double), and writes caller-owned, C-contiguous outputs.
 *
 * "Rows": most routines treat a view of shape [..., n] as a batch of rows along its LAST
 * axis (the binding moves the user's axis there, which is a free view in NumPy).  The
 * outer shape [...] may have any rank 0..7; outputs are laid out in C order over it.
 * A 0-d view is one row of length 1.
 *
 *   double out[3];
 *   tg_view a = {x, TG_F32, 2, {3, 768}, {768, 1}}, b = {y, TG_F32, 2, {3, 768}, {1, 3}};
 *   tg_rowwise(TG_ROW_COS, &a, &b, out, NULL);   // three cosines, b read transposed
 *
 * Long loops poll tg_interrupted() from the calling thread and return TG_ERR_INTERRUPTED.
 * On failure outputs may be partly written (they are caller-owned scratch until TG_OK).
 */
#ifndef TG_METRICS_H
#define TG_METRICS_H

#include "tokgeo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- special functions (metrics/special_functions.c) -------------------------------- */

/* Regularized incomplete beta: *w = I_x(a, b), *w1 = 1 - I_x(a, b) (typically ~1e-15 relative;
 * the accuracy map is in metrics/special_functions.c).
 * Pass y = 1 - x as accurately as you know it (it is used instead of the subtraction).
 * NaN for a <= 0, b <= 0, infinite a/b, x < 0, y < 0 or any NaN.  Either pointer may be NULL.
 * Pure function, thread-safe. */
void tg_ibeta_pair(double a, double b, double x, double y, double *w, double *w1);
double tg_ibeta(double a, double b, double x);  /* I_x(a, b)      (scipy.special.betainc)  */
double tg_ibetac(double a, double b, double x); /* 1 - I_x(a, b)  (scipy.special.betaincc) */
/* Student t CDF P(T <= t) with df > 0 degrees of freedom (scipy.special.stdtr); df = inf
 * gives the normal CDF; NaN for df <= 0 or NaN arguments. */
double tg_stdtr(double df, double t);
/* Its inverse: the t with tg_stdtr(df, t) == q (scipy.special.stdtrit / scipy.stats.t.ppf),
 * ~1e-13 relative over df in [1, 1e6], q in [1e-12, 1 - 1e-12] (tests/test_metrics_special.py),
 * and to 1e-10 against mpmath for any df > 0 in the far tails (q down to 1e-300; beyond DBL_MAX
 * the result is -inf / +inf);
 * -inf / +inf for q = 0 / 1, 0 for q = 1/2, NaN for q outside [0, 1], df <= 0 or NaN. */
double tg_stdtri(double df, double q);

/* ---- paired row reductions (metrics/geometry.c) ------------------------------------- */

typedef enum tg_rowop {
    TG_ROW_DOT = 0,   /* sum a*b                                                          */
    TG_ROW_COS,       /* a.b / (|a| |b|), clamped to [-1, 1]; NaN if |a| or |b| is 0       */
    TG_ROW_ANGLE,     /* acos of the clamped cosine, radians; NaN for zero vectors          */
    TG_ROW_EUCLID,    /* sqrt(sum (a-b)^2)                                                  */
    TG_ROW_NORM,      /* sqrt(sum a^2); b is ignored (may be NULL)                          */
    TG_ROW_OP_COUNT
} tg_rowop;

/* a, b: same dtype-independent shape [..., d] (ndim >= 1, dtypes may differ).  out: one
 * double per row (product of the outer shape), C order.  *n_zero (may be NULL) receives the
 * number of rows whose cosine/angle is NaN because a vector had zero norm.
 * d == 0 gives: dot 0, norm 0, euclid 0, cos/angle NaN (counted in n_zero). */
tg_status tg_rowwise(tg_rowop op, const tg_view *a, const tg_view *b, double *out, size_t *n_zero);

/* ---- softmax family along the last axis (metrics/geometry.c) ------------------------ */

typedef enum tg_softmax_kind { TG_SOFTMAX = 0, TG_LOG_SOFTMAX, TG_ENTROPY } tg_softmax_kind;

/* x: [..., n].  TG_SOFTMAX / TG_LOG_SOFTMAX write n values per row into out (C order,
 * out_dtype TG_F32 or TG_F64); TG_ENTROPY writes one value per row: the entropy of
 * softmax(x) in nats, divided by `log_base` (pass 1.0 for nats).  Computed from the max
 * shifted logits in double.  n == 0: softmax of an empty row is empty; entropy is 0.
 * Rows containing NaN or +inf, or only -inf, give NaN. */
tg_status tg_softmax(tg_softmax_kind kind, const tg_view *x, void *out, tg_dtype out_dtype, double log_base);

/* ---- all-pairs cosine similarity through BLIS gemm (metrics/geometry.c) ------------- */

/* a: [n, d], b: [m, d] (b NULL means b = a), same dtype.  Rows are multiplied with
 * bli_?gemm in blocks; views whose strides BLIS cannot take directly (zero, negative, or no
 * unit stride) are first copied once into a contiguous buffer of the same dtype.
 * Rows with zero norm give NaN similarities (counted in *n_zero_rows, may be NULL). */

/* out: [n, m] C-contiguous, out_dtype TG_F32 or TG_F64. */
tg_status tg_cosine_matrix(const tg_view *a, const tg_view *b, void *out, tg_dtype out_dtype, size_t *n_zero_rows);

/* The k most similar rows of b for every row of a: idx [n, k] (int64) and val [n, k]
 * (double), each row sorted by value descending, ties by index ascending.  exclude_self
 * (only meaningful when b is NULL) skips j == i.  b == NULL multiplies only the blocks on
 * and above the diagonal and offers each pair to both rows (half the flops).  NaN similarities are never selected;
 * when fewer than k candidates exist the remaining slots get index -1 and value NaN. */
tg_status tg_top_k_similar(const tg_view *a, const tg_view *b, size_t k, bool exclude_self, int64_t *idx,
                           double *val, size_t *n_zero_rows);

/* Histogram of all-pairs cosine similarities with numpy.histogram's semantics: bins are
 * [e_i, e_{i+1}) except the last, [e_{nb-1}, e_nb]; values outside [e_0, e_nb] and NaN are
 * not counted.  edges: nbins + 1 increasing doubles; uniform != 0 says they are
 * numpy.linspace edges (bin found arithmetically, then corrected against the edges exactly as
 * numpy does), otherwise a binary search.  b == NULL: each unordered pair i < j once
 * (i == j too when !exclude_diagonal); otherwise every (i, j).  counts: nbins int64, zeroed
 * here. */
tg_status tg_similarity_histogram(const tg_view *a, const tg_view *b, const double *edges, size_t nbins,
                                  bool uniform, bool exclude_diagonal, int64_t *counts, size_t *n_zero_rows);

/* ---- statistics (metrics/statistics.c) ---------------------------------------------- */

typedef enum tg_alternative { TG_TWO_SIDED = 0, TG_LESS = 1, TG_GREATER = 2 } tg_alternative;

/* Flags reported per row (bitwise or), so the binding can warn like scipy. */
#define TG_FLAG_CONSTANT 1u  /* a sample (or the differences) had zero variance / was constant */
#define TG_FLAG_SMALL 2u     /* too few observations for the statistic: result is NaN          */
#define TG_FLAG_NAN 4u       /* a NaN was met (propagated, or dropped with omit_nan)            */

/* Results of the t-tests, one double per row (C order over the outer shape).  cohen_d:
 *   ind, equal_var:  (mean_a - mean_b) / s_pooled,  s_pooled^2 = ((n1-1) v1 + (n2-1) v2)/(n1+n2-2)
 *   ind, Welch:      (mean_a - mean_b) / sqrt((v1 + v2) / 2)
 *   rel:             mean(a - b) / sd(a - b)          (d_z)
 *   1samp:           (mean - popmean) / sd            (sd with ddof = 1) */
typedef struct tg_ttest_out {
    double *statistic, *pvalue, *df, *cohen_d;
    uint8_t *flags; /* may be NULL */
} tg_ttest_out;

/* a: [..., n1], b: [..., n2] with the same outer shape; samples along the last axis.
 * omit_nan: NaNs are dropped per row (per pair for rel); otherwise a NaN makes the row NaN
 * (df stays n1+n2-2 / n-1 as scipy).  Semantics follow scipy.stats 1.17 ttest_ind /
 * ttest_rel / ttest_1samp, including n == 1 rows and zero variance (t = +-inf or NaN). */
tg_status tg_ttest_ind(const tg_view *a, const tg_view *b, bool equal_var, tg_alternative alt, bool omit_nan,
                       const tg_ttest_out *out);
tg_status tg_ttest_rel(const tg_view *a, const tg_view *b, tg_alternative alt, bool omit_nan, const tg_ttest_out *out);
/* popmean: one double per row (C order over the outer shape). */
tg_status tg_ttest_1samp(const tg_view *a, const double *popmean, tg_alternative alt, bool omit_nan,
                         const tg_ttest_out *out);

typedef enum tg_corr_method { TG_PEARSON = 0, TG_SPEARMAN = 1 } tg_corr_method;

/* x, y: [..., n] (same shape); one coefficient and p-value per row.  Pearson's p-value
 * uses the exact beta distribution of r (as scipy.stats.pearsonr), Spearman's the t
 * distribution with n - 2 df (as scipy.stats.spearmanr), with average ranks for ties.
 * omit_nan drops pairs where either value is NaN. */
tg_status tg_corr(tg_corr_method method, const tg_view *x, const tg_view *y, tg_alternative alt, bool omit_nan,
                  double *statistic, double *pvalue, uint8_t *flags);

#ifdef __cplusplus
}
#endif
#endif /* TG_METRICS_H */
