/*
 * tsne.c - t-SNE (exact and Barnes-Hut) and trustworthiness.  Contract in tokgeo/reduce.h.
 *
 * Layout of one run:
 *   1. x is converted once to a float64 working copy A [n, d] (every pair of rows is
 *      visited, so it is read many times; cosine rows are normalised here).
 *   2. Input distances come in row blocks from one BLIS gemm per block
 *      (|a|^2 + |b|^2 - 2 a.b, clamped at 0, as sklearn computes them), and each row's
 *      Gaussian is calibrated by a bracketed Newton search (rows in parallel).
 *        exact:      P dense, stored as a symmetric float32 n x n array;
 *        Barnes-Hut: the K = floor(3 perplexity + 1) nearest neighbours per row, P as CSR.
 *   3. Gradient descent with momentum and gains; gradient:
 *        exact: per-row sums over all j != i (each pair is visited twice, but no scattered
 *          writes: measured faster than the i < j half with per-thread scatter buffers, and
 *          each row's sum runs in a fixed order whoever computes it), rows dealt dynamically
 *          to threads, the normaliser added serially -> independent of the thread count.
 *        Barnes-Hut: attraction from the sparse P per row; repulsion from a quadtree built
 *          every iteration (serially, points partitioned in place so that every cell owns a
 *          contiguous run of a permutation); traversal per point in tree order, in parallel;
 *          per-point sums and the normaliser added serially -> independent of thread count.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reduce/internal.h"
#include "base/fastmath.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define PERP_TOL 1e-10 /* sklearn stops at 1e-5; Newton gets here in one or two more steps */
#define PERP_STEPS 100

/* ---------------------------------------------------------------- input and distances */

/* Converts x to a row-major float64 copy (cosine: rows normalised) and squared norms.
 * Fails on non-finite entries (and zero rows for cosine). */
static tg_status working_copy(const tg_view *x, tg_tsne_metric metric, double **out_a, double **out_sq) {
    const size_t n = (size_t)x->shape[0], d = (size_t)x->shape[1];
    size_t nd;
    if (!tg_mul_size(n, d, &nd) || nd > SIZE_MAX / 8) return tg_fail(TG_ERR_OVERFLOW, "t-SNE: input too large");
    double *a = tg_alloc_aligned(nd * sizeof(double));
    double *sq = malloc(sizeof(double) * n);
    if (!a || !sq) {
        free(a);
        free(sq);
        return tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory for a %zu x %zu float64 working copy", n, d);
    }
    for (size_t i = 0; i < n; i++) {
        double *r = a + i * d;
        tg_red_row(x, (ptrdiff_t)i, NULL, r);
        ptrdiff_t bad = tg_red_first_nonfinite(r, (ptrdiff_t)d);
        if (bad >= 0) {
            tg_status st = tg_fail(TG_ERR_VALUE, "x[%zu, %td] is %s; t-SNE needs finite values", i, bad,
                                   isnan(r[bad]) ? "NaN" : "infinite");
            free(a);
            free(sq);
            return st;
        }
        double s = 0.0;
        for (size_t j = 0; j < d; j++) s += r[j] * r[j];
        if (metric == TG_METRIC_COSINE) {
            if (!(s > 0.0)) {
                free(a);
                free(sq);
                return tg_fail(TG_ERR_VALUE, "x row %zu is all zeros: its cosine distance is undefined", i);
            }
            double inv = 1.0 / sqrt(s);
            for (size_t j = 0; j < d; j++) r[j] *= inv;
            s = 1.0;
        }
        sq[i] = s;
    }
    *out_a = a;
    *out_sq = sq;
    return TG_OK;
}

void tg_red_distance_block(const double *a, size_t n, size_t d, const double *sqnorm, const double *rows,
                           const size_t *ids, size_t r0, size_t cnt, tg_tsne_metric metric, double *out) {
    tg_red_dgemm(false, true, cnt, n, d, 1.0, rows, d, a, d, 0.0, out, n);
#pragma omp parallel for schedule(static) if (cnt * n > 65536)
    for (ptrdiff_t ii = 0; ii < (ptrdiff_t)cnt; ii++) {
        double *o = out + (size_t)ii * n;
        const size_t i = ids ? ids[ii] : r0 + (size_t)ii;
        if (metric == TG_METRIC_COSINE) {
            for (size_t j = 0; j < n; j++) o[j] = fmax(1.0 - o[j], 0.0);
        } else {
            const double si = sqnorm[i];
            for (size_t j = 0; j < n; j++) o[j] = fmax(si + sqnorm[j] - 2.0 * o[j], 0.0);
        }
        o[i] = 0.0;
    }
}

/* log(x) for 1 <= x < inf, branch-free so that loops over it vectorise: x = m 2^e with
 * m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, odd series
 * to s^21 (truncation < 1e-19).  Max error a few ulp; used for the KL divergence. */
static inline double log_ge1(double x) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    uint64_t ebits = (bits >> 52) | 0x4330000000000000ull; /* 2^52 + biased exponent */
    double e;
    memcpy(&e, &ebits, sizeof e);
    e -= 4503599627370496.0 + 1023.0;
    uint64_t mbits = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
    double m;
    memcpy(&m, &mbits, sizeof m);
    const double big = m > 1.4142135623730951 ? 1.0 : 0.0;
    m *= 1.0 - 0.5 * big;
    e += big;
    const double sv = (m - 1.0) / (m + 1.0), z = sv * sv;
    double p = 1.0 / 21.0;
    p = p * z + 1.0 / 19.0;
    p = p * z + 1.0 / 17.0;
    p = p * z + 1.0 / 15.0;
    p = p * z + 1.0 / 13.0;
    p = p * z + 1.0 / 11.0;
    p = p * z + 1.0 / 9.0;
    p = p * z + 1.0 / 7.0;
    p = p * z + 1.0 / 5.0;
    p = p * z + 1.0 / 3.0;
    p = p * z + 1.0;
    return e * 0.6931471805599453 + 2.0 * sv * p;
}

/* Solves for beta over dist[0..cnt) (see calibrate); returns beta, the final sum of
 * exp(-dist * beta) (1e-8 if it was 0, as sklearn) and that sum as computed (*raw_out). */
TG_HOT static void calibrate_beta(const double *dist, size_t cnt, double perplexity, double *beta_out, double *sum_out,
                                  double *raw_out) {
    const double target = log(perplexity);
    double mean_d = 0.0;
    for (size_t j = 0; j < cnt; j++) mean_d += dist[j];
    mean_d /= (double)cnt;
    /* start at beta = 1 / mean distance (a nearly flat Gaussian), not sklearn's beta = 1 */
    double t = mean_d > 0.0 && isfinite(mean_d) ? -log(mean_d) : 0.0, lo = -INFINITY, hi = INFINITY;
    double sum = 1.0, raw = 1.0, beta_eval = 1.0;
    for (int step = 0; step < PERP_STEPS; step++) {
        const double beta = exp(t);
        double s = 0.0, sd = 0.0, sd2 = 0.0;
#pragma omp simd reduction(+ : s, sd, sd2)
        for (size_t j = 0; j < cnt; j++) {
            double v = tg_exp_nonpos(-dist[j] * beta);
            double dv = dist[j] * v;
            s += v;
            sd += dv;
            sd2 += dist[j] * dv;
        }
        beta_eval = beta;
        raw = s;
        sum = s == 0.0 ? 1e-8 : s;
        const double mean = sd / sum;
        const double h = log(sum) + beta * mean;
        const double diff = h - target;
        if (fabs(diff) <= PERP_TOL) break;
        if (diff > 0)
            lo = t; /* entropy too high: beta must grow */
        else
            hi = t;
        const double var = sd2 / sum - mean * mean;
        double next = NAN;
        if (var > 0.0) next = t + diff / (beta * beta * var);
        /* fmin / fmax drop a NaN: a NaN step becomes t - 3, rejected below (bisection or doubling) */
        if (lo == -INFINITY || hi == INFINITY) next = fmin(fmax(next, t - 3.0), t + 3.0);
        if (!(next > lo && next < hi)) {
            if (lo > -INFINITY && hi < INFINITY)
                next = 0.5 * (lo + hi);
            else
                next = diff > 0 ? t + 0.6931471805599453 : t - 0.6931471805599453;
        }
        /* beta = e^t stays finite: an infinite beta would make 0 * beta = NaN for a zero distance.
         * Reached only when the target is out of reach (see calibrate), where p is already the
         * limit. */
        t = fmin(next, 700.0);
    }
    *beta_out = beta_eval;
    *sum_out = sum;
    *raw_out = raw;
}

/* Conditional Gaussian over cnt distances dist[] (self excluded by the caller), written to
 * p[] (sums to 1), with beta = 1 / (2 sigma^2) chosen so that the entropy (natural log) is
 * log(perplexity) within PERP_TOL.  The entropy H decreases monotonically in beta; we solve
 * in t = log(beta) from beta = 1 / mean(d) by Newton steps (dH/dt = -beta^2 Var_p(d)),
 * at most 3 in t while the bracket is open on one side, safeguarded by the bracket: a step
 * leaving it is replaced by bisection (or by doubling / halving beta while one side is still
 * open).  This is the fixed point sklearn's bisection approaches (it stops within 1e-5 of the
 * target entropy; we go to 1e-10), in ~6 steps instead of ~30.
 *
 * When m >= perplexity of the distances tie at the minimum (e.g. a point whose k nearest
 * neighbours are all copies of one duplicated row, so all at one distance), H >= log(m) for
 * every beta: the target is out of reach and beta grows until exp(-dist * beta) underflows,
 * the sum became 0 (p = 0: an all-zero conditional row, as sklearn's) or subnormal (p =
 * 0 * inf = NaN: "t-SNE diverged").  Then we solve again on
 * dist - min(dist): p and H are unchanged by a common shift of the distances (it cancels in
 * the normalisation), but the nearest terms are now exp(0) = 1, so the sum stays >= 1 and p
 * tends to the uniform distribution over the tied nearest neighbours, the beta -> inf limit.
 * The shift is taken only on that rare path so that results on other data are bit-identical
 * to the unshifted solve. */
TG_HOT static void calibrate(const double *dist, size_t cnt, double perplexity, double *p) {
    double beta, sum, raw;
    calibrate_beta(dist, cnt, perplexity, &beta, &sum, &raw);
    if (raw < 1e-200) {
        double dmin = INFINITY;
        for (size_t j = 0; j < cnt; j++) dmin = fmin(dmin, dist[j]);
        for (size_t j = 0; j < cnt; j++) p[j] = dist[j] - dmin; /* p[] as scratch */
        calibrate_beta(p, cnt, perplexity, &beta, &sum, &raw);
        const double inv = 1.0 / sum;
        for (size_t j = 0; j < cnt; j++) p[j] = tg_exp_nonpos(-p[j] * beta) * inv;
        return;
    }
    const double inv = 1.0 / sum;
#pragma omp simd
    for (size_t j = 0; j < cnt; j++) p[j] = tg_exp_nonpos(-dist[j] * beta) * inv;
}

/* Rows of distance blocks: about 32 MB per block. */
static size_t dist_block_rows(size_t n) {
    size_t b = (size_t)(4u << 20) / (n ? n : 1);
    if (b < 16) b = 16;
    if (b > n) b = n;
    return b;
}

/* exact: conditional P (n x n, diagonal 0) */
static tg_status conditional_dense(const double *a, const double *sq, size_t n, size_t d, const tg_tsne_options *opt,
                                   double *pc) {
    const size_t bs = dist_block_rows(n);
    double *dist = malloc(sizeof(double) * bs * n);
    double *scratch = malloc(sizeof(double) * (size_t)tg_red_max_threads() * 2 * n);
    if (!dist || !scratch) {
        free(dist);
        free(scratch);
        return tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory for distance blocks");
    }
    for (size_t r0 = 0; r0 < n; r0 += bs) {
        if (tg_interrupted()) {
            free(dist);
            free(scratch);
            return TG_ERR_INTERRUPTED;
        }
        const size_t r1 = r0 + bs < n ? r0 + bs : n;
        tg_red_distance_block(a, n, d, sq, a + r0 * d, NULL, r0, r1 - r0, opt->metric, dist);
#pragma omp parallel for schedule(dynamic, 4)
        for (ptrdiff_t ii = 0; ii < (ptrdiff_t)(r1 - r0); ii++) {
            const size_t i = r0 + (size_t)ii;
            double *dd = scratch + (size_t)tg_red_thread_id() * 2 * n, *pp = dd + n;
            const double *row = dist + (size_t)ii * n;
            size_t c = 0;
            for (size_t j = 0; j < n; j++)
                if (j != i) dd[c++] = row[j];
            calibrate(dd, n - 1, opt->perplexity, pp);
            double *o = pc + i * n;
            c = 0;
            for (size_t j = 0; j < n; j++) o[j] = j == i ? 0.0 : pp[c++];
        }
    }
    free(dist);
    free(scratch);
    return TG_OK;
}

typedef struct csr {
    size_t n, nnz;
    size_t *indptr, *indices;
    double *values;
} csr;

static void csr_free(csr *c) {
    free(c->indptr);
    free(c->indices);
    free(c->values);
    memset(c, 0, sizeof *c);
}

/* Barnes-Hut / FFT affinities: the exact k nearest neighbours (reduce/knn.c), calibration,
 * symmetrisation, normalised to sum 1. */
static tg_status sparse_affinities(const double *a, const double *sq, size_t n, size_t d, const tg_tsne_options *opt,
                                   csr *out) {
    size_t k = (size_t)floor(3.0 * opt->perplexity + 1.0);
    if (k > n - 1) k = n - 1;
    if (k < 1) k = 1;
    tg_status st = TG_OK;
    const int T = tg_red_max_threads();
    size_t nk;
    if (!tg_mul_size(n, k, &nk)) return tg_fail(TG_ERR_OVERFLOW, "t-SNE: n * k overflows");
    size_t *nbr = malloc(sizeof(size_t) * nk);
    double *pc = malloc(sizeof(double) * nk);
    double *hd = malloc(sizeof(double) * (size_t)T * 2 * k);
    size_t *cnt = calloc(n + 1, sizeof(size_t));
    size_t *ci = NULL;
    double *cv = NULL;
    memset(out, 0, sizeof *out);
    if (!nbr || !pc || !hd || !cnt) {
        st = tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory for the neighbour graph");
        goto done;
    }
    st = opt->neighbors == TG_NEIGHBORS_APPROX ? tg_red_knn_approx(a, sq, n, d, k, opt->metric, opt->seed, nbr, pc, NULL)
                                               : tg_red_knn(a, sq, n, d, k, opt->metric, nbr, pc, NULL);
    if (st != TG_OK) goto done;
#pragma omp parallel for schedule(dynamic, 64)
    for (ptrdiff_t ii = 0; ii < (ptrdiff_t)n; ii++) {
        const size_t i = (size_t)ii, t = (size_t)tg_red_thread_id();
        double *dd = hd + t * 2 * k;
        memcpy(dd, pc + i * k, sizeof(double) * k);
        calibrate(dd, k, opt->perplexity, dd + k);
        memcpy(pc + i * k, dd + k, sizeof(double) * k);
    }
    /* symmetrise: row i gets its own k entries plus (i <- j) for each j having i as neighbour */
    for (size_t i = 0; i < n; i++) {
        cnt[i + 1] += k;
        for (size_t q = 0; q < k; q++) cnt[nbr[i * k + q] + 1]++;
    }
    for (size_t i = 0; i < n; i++) cnt[i + 1] += cnt[i];
    const size_t tot = cnt[n];
    ci = malloc(sizeof(size_t) * tot);
    cv = malloc(sizeof(double) * tot);
    out->indptr = malloc(sizeof(size_t) * (n + 1));
    if (!ci || !cv || !out->indptr) {
        st = tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory for the affinity matrix");
        goto done;
    }
    {
        size_t *fill = out->indptr; /* temporary cursor */
        memcpy(fill, cnt, sizeof(size_t) * n);
        for (size_t i = 0; i < n; i++)
            for (size_t q = 0; q < k; q++) {
                size_t j = nbr[i * k + q];
                double v = pc[i * k + q];
                ci[fill[i]] = j;
                cv[fill[i]++] = v;
                ci[fill[j]] = i;
                cv[fill[j]++] = v;
            }
    }
    /* sort each row by column (insertion sort: rows are short), merge duplicates, compact */
    double total = 0.0;
    size_t w = 0;
    out->indptr[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t s = cnt[i], e = cnt[i + 1];
        for (size_t p = s + 1; p < e; p++) {
            size_t cj = ci[p];
            double cvv = cv[p];
            size_t q = p;
            while (q > s && ci[q - 1] > cj) {
                ci[q] = ci[q - 1];
                cv[q] = cv[q - 1];
                q--;
            }
            ci[q] = cj;
            cv[q] = cvv;
        }
        for (size_t p = s; p < e; p++) {
            if (w > out->indptr[i] && ci[w - 1] == ci[p])
                cv[w - 1] += cv[p];
            else {
                ci[w] = ci[p];
                cv[w] = cv[p];
                w++;
            }
        }
        out->indptr[i + 1] = w;
    }
    for (size_t p = 0; p < w; p++) total += cv[p];
    if (!(total > 0.0)) total = DBL_EPSILON;
    for (size_t p = 0; p < w; p++) cv[p] /= total;
    out->n = n;
    out->nnz = w;
    out->indices = ci; /* capacity >= nnz (duplicates merged in place) */
    out->values = cv;
    ci = NULL;
    cv = NULL;
done:
    if (st != TG_OK) csr_free(out);
    free(nbr);
    free(pc);
    free(hd);
    free(cnt);
    free(ci);
    free(cv);
    return st;
}

static tg_status check_options(const tg_view *x, const tg_tsne_options *opt, bool for_affinities) {
    tg_status st = tg_red_check_matrix(x, "t-SNE input x", 4);
    if (st != TG_OK) return st;
    const size_t n = (size_t)x->shape[0];
    if (opt->method != TG_TSNE_EXACT && opt->method != TG_TSNE_BARNES_HUT && opt->method != TG_TSNE_FFT)
        return tg_fail(TG_ERR_VALUE, "t-SNE: unknown method %d", (int)opt->method);
    if (opt->metric != TG_METRIC_EUCLIDEAN && opt->metric != TG_METRIC_COSINE)
        return tg_fail(TG_ERR_VALUE, "t-SNE: unknown metric %d", (int)opt->metric);
    if (opt->neighbors != TG_NEIGHBORS_EXACT && opt->neighbors != TG_NEIGHBORS_APPROX)
        return tg_fail(TG_ERR_VALUE, "t-SNE: unknown neighbour search %d", (int)opt->neighbors);
    if (!(opt->perplexity >= 1.0) || !(opt->perplexity < (double)n))
        return tg_fail(TG_ERR_VALUE, "perplexity must be >= 1 and < n_samples (%zu), got %g", n, opt->perplexity);
    if (opt->method != TG_TSNE_EXACT && n > (size_t)INT32_MAX / 8)
        return tg_fail(TG_ERR_VALUE, "%s t-SNE supports at most %d points, got %zu",
                       opt->method == TG_TSNE_FFT ? "FFT" : "Barnes-Hut", INT32_MAX / 8, n);
    if (opt->method == TG_TSNE_EXACT && n > 50000)
        return tg_fail(TG_ERR_VALUE, "exact t-SNE on %zu points would need %zu x %zu matrices; use method=\"barnes_hut\"",
                       n, n, n);
    if (for_affinities) return TG_OK;
    if (opt->dim < 1 || opt->dim > 16) return tg_fail(TG_ERR_VALUE, "t-SNE: n_components must be 1..16, got %zu", opt->dim);
    if (opt->method != TG_TSNE_EXACT && opt->dim != 2)
        return tg_fail(TG_ERR_VALUE, "%s t-SNE supports n_components=2 only (got %zu); use method=\"exact\"",
                       opt->method == TG_TSNE_FFT ? "FFT" : "Barnes-Hut", opt->dim);
    if (!(opt->learning_rate > 0.0) || !isfinite(opt->learning_rate))
        return tg_fail(TG_ERR_VALUE, "learning_rate must be > 0, got %g", opt->learning_rate);
    if (!(opt->early_exaggeration >= 1.0) || !isfinite(opt->early_exaggeration))
        return tg_fail(TG_ERR_VALUE, "early_exaggeration must be >= 1, got %g", opt->early_exaggeration);
    if (!(opt->angle >= 0.0) || !(opt->angle <= 1.0)) return tg_fail(TG_ERR_VALUE, "angle must be in [0, 1], got %g", opt->angle);
    if (!(opt->min_grad_norm >= 0.0)) return tg_fail(TG_ERR_VALUE, "min_grad_norm must be >= 0");
    if (opt->max_iter < 1) return tg_fail(TG_ERR_VALUE, "max_iter must be >= 1");
    return TG_OK;
}

tg_status tg_tsne_affinities(const tg_view *x, const tg_tsne_options *opt, size_t **indptr, size_t **indices,
                             double **values) {
    if (!opt || !indptr || !indices || !values) return tg_fail(TG_ERR_VALUE, "t-SNE affinities: NULL argument");
    *indptr = NULL;
    *indices = NULL;
    *values = NULL;
    tg_status st = check_options(x, opt, true);
    if (st != TG_OK) return st;
    const size_t n = (size_t)x->shape[0], d = (size_t)x->shape[1];
    double *a = NULL, *sq = NULL;
    st = working_copy(x, opt->metric, &a, &sq);
    if (st != TG_OK) return st;
    if (opt->method != TG_TSNE_EXACT) {
        csr c;
        st = sparse_affinities(a, sq, n, d, opt, &c);
        if (st == TG_OK) {
            *indptr = c.indptr;
            *indices = c.indices;
            *values = c.values;
        }
    } else {
        size_t nn;
        double *pc = NULL;
        size_t *ip = NULL, *ix = NULL;
        double *v = NULL;
        if (!tg_mul_size(n, n, &nn)) {
            st = tg_fail(TG_ERR_OVERFLOW, "t-SNE: n^2 overflows");
            goto ex_done;
        }
        st = tg_red_check_budget((double)nn * 24.0, "exact t-SNE affinities (n^2 entries)", "use method=\"barnes_hut\"");
        if (st != TG_OK) goto ex_done;
        pc = malloc(sizeof(double) * nn);
        ip = malloc(sizeof(size_t) * (n + 1));
        ix = malloc(sizeof(size_t) * (nn - n));
        v = malloc(sizeof(double) * (nn - n));
        if (!pc || !ip || !ix || !v) {
            st = tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory");
            goto ex_done;
        }
        st = conditional_dense(a, sq, n, d, opt, pc);
        if (st != TG_OK) goto ex_done;
        double sum = 0.0;
        for (size_t t = 0; t < nn; t++) sum += pc[t];
        sum *= 2.0;
        size_t w = 0;
        ip[0] = 0;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n; j++) {
                if (j == i) continue;
                ix[w] = j;
                v[w++] = fmax((pc[i * n + j] + pc[j * n + i]) / sum, DBL_EPSILON);
            }
            ip[i + 1] = w;
        }
        *indptr = ip;
        *indices = ix;
        *values = v;
        ip = NULL;
        ix = NULL;
        v = NULL;
    ex_done:
        free(pc);
        free(ip);
        free(ix);
        free(v);
    }
    free(a);
    free(sq);
    return st;
}

/* ---------------------------------------------------------------- gradients */

typedef struct exact_state {
    size_t n, dim;
    float *P;      /* n x n, symmetric, zero diagonal */
    double plogp;  /* sum_{i != j} p log p */
    double *acc;   /* 6 n doubles: per-row sums */
} exact_state;

/* dim 2, dof 1, whole row i (no scatter): out = {ax, ay, rx, ry, z, sum p log u}.
 * Written with 4-lane vector types so that the five running sums stay in registers (the
 * auto-vectoriser interleaved two iterations and spilled them); lanes are added in a fixed
 * order at the end, so the result does not depend on who computes the row. */
typedef double tg_v4d __attribute__((vector_size(32)));
typedef float tg_v4f __attribute__((vector_size(16)));

TG_HOT static void exact_row_full_2d(const exact_state *s, const double *yx, const double *yy, size_t i, int want_kl,
                                     double *out) {
    const size_t n = s->n;
    const float *p = s->P + i * n;
    const double xi = yx[i], yi = yy[i];
    const tg_v4d vxi = {xi, xi, xi, xi}, vyi = {yi, yi, yi, yi}, one = {1.0, 1.0, 1.0, 1.0};
    tg_v4d ax = {0, 0, 0, 0}, ay = ax, rx = ax, ry = ax, z = ax;
    double spl = 0.0;
    size_t j = 0;
    /* the diagonal entry has p = 0 and would add u = 1 to z: excluded by subtracting it below */
    for (; j + 4 <= n; j += 4) {
        tg_v4d vx, vy;
        tg_v4f pf;
        memcpy(&vx, yx + j, sizeof vx);
        memcpy(&vy, yy + j, sizeof vy);
        memcpy(&pf, p + j, sizeof pf);
        const tg_v4d pj = __builtin_convertvector(pf, tg_v4d);
        const tg_v4d dx = vxi - vx, dy = vyi - vy;
        const tg_v4d u = one / (one + dx * dx + dy * dy);
        const tg_v4d pu = pj * u, uu = u * u;
        ax += pu * dx;
        ay += pu * dy;
        rx += uu * dx;
        ry += uu * dy;
        z += u;
    }
    double sax = (ax[0] + ax[1]) + (ax[2] + ax[3]), say = (ay[0] + ay[1]) + (ay[2] + ay[3]);
    double srx = (rx[0] + rx[1]) + (rx[2] + rx[3]), sry = (ry[0] + ry[1]) + (ry[2] + ry[3]);
    double sz = (z[0] + z[1]) + (z[2] + z[3]);
    for (; j < n; j++) {
        double dx = xi - yx[j], dy = yi - yy[j];
        double u = 1.0 / (1.0 + dx * dx + dy * dy);
        double pu = (double)p[j] * u, uu = u * u;
        sax += pu * dx;
        say += pu * dy;
        srx += uu * dx;
        sry += uu * dy;
        sz += u;
    }
    sz -= 1.0; /* j == i: dx = dy = 0, u = 1 (and p = 0, so nothing else) */
    if (want_kl) { /* p[i] = 0, so k == i adds nothing */
#pragma omp simd reduction(+ : spl)
        for (size_t k = 0; k < n; k++) {
            double dx = xi - yx[k], dy = yi - yy[k];
            spl -= (double)p[k] * log_ge1(1.0 + dx * dx + dy * dy);
        }
    }
    out[0] = sax;
    out[1] = say;
    out[2] = srx;
    out[3] = sry;
    out[4] = sz;
    out[5] = spl;
}

/* grad[n*dim] for exaggeration ex; returns KL (if want_kl) through *kl. */
static void exact_gradient(exact_state *s, const double *y, double *yx, double *yy, double ex, double *grad, int want_kl,
                           double *kl) {
    const size_t n = s->n, dim = s->dim;
    if (dim == 2) {
        for (size_t i = 0; i < n; i++) {
            yx[i] = y[2 * i];
            yy[i] = y[2 * i + 1];
        }
        double *rows = s->acc; /* 6 n */
#pragma omp parallel for schedule(dynamic, 16)
        for (ptrdiff_t ii = 0; ii < (ptrdiff_t)n; ii++) exact_row_full_2d(s, yx, yy, (size_t)ii, want_kl, rows + 6 * (size_t)ii);
        double Z = 0.0, pl = 0.0;
        for (size_t i = 0; i < n; i++) {
            Z += rows[6 * i + 4];
            pl += rows[6 * i + 5];
        }
        const double invZ = 1.0 / Z;
        for (size_t i = 0; i < n; i++) {
            const double *r = rows + 6 * i;
            grad[2 * i] = 4.0 * (ex * r[0] - r[2] * invZ);
            grad[2 * i + 1] = 4.0 * (ex * r[1] - r[3] * invZ);
        }
        if (want_kl) *kl = ex * (s->plogp + log(ex)) - ex * pl + ex * log(Z);
        return;
    }
    /* generic dimension: per-row full sums (dof = max(dim - 1, 1)) */
    const double alpha = dim > 1 ? (double)(dim - 1) : 1.0, expo = (alpha + 1.0) / 2.0;
    double *zrow = s->acc; /* n: z_i ; n: sum_j p log w */
#pragma omp parallel for schedule(dynamic, 16)
    for (ptrdiff_t ii = 0; ii < (ptrdiff_t)n; ii++) {
        const size_t i = (size_t)ii;
        double at[16] = {0}, rt[16] = {0};
        double z = 0.0, pl = 0.0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double d2 = 0.0;
            for (size_t c = 0; c < dim; c++) {
                double df = y[i * dim + c] - y[j * dim + c];
                d2 += df * df;
            }
            double u = 1.0 / (1.0 + d2 / alpha);
            double w = alpha == 1.0 ? u : pow(u, expo);
            double pij = (double)(i < j ? s->P[i * n + j] : s->P[j * n + i]);
            for (size_t c = 0; c < dim; c++) {
                double df = y[i * dim + c] - y[j * dim + c];
                at[c] += pij * u * df;
                rt[c] += w * u * df;
            }
            z += w;
            if (want_kl) pl += pij * log(w);
        }
        for (size_t c = 0; c < dim; c++) {
            grad[i * dim + c] = at[c];
            grad[n * dim + i * dim + c] = rt[c]; /* second half of grad used as scratch */
        }
        zrow[i] = z;
        zrow[n + i] = pl;
    }
    double Z = 0.0, pl = 0.0;
    for (size_t i = 0; i < n; i++) {
        Z += zrow[i];
        pl += zrow[n + i];
    }
    const double c = 2.0 * (alpha + 1.0) / alpha;
    for (size_t t = 0; t < n * dim; t++) grad[t] = c * (ex * grad[t] - grad[n * dim + t] / Z);
    if (want_kl) *kl = ex * (s->plogp + log(ex)) - ex * pl + ex * log(Z);
}

/* ---- Barnes-Hut quadtree ----
 * Nodes are 32 bytes (two per cache line).  Cell geometry (centre, half side) is passed down
 * during the build and kept in a side array only for the rare opening angles > 0.7, where a
 * cell containing the point itself could otherwise pass the criterion (for angle <= 1/sqrt(2)
 * it cannot: the point is then within sqrt(2) side of the centre of mass). */
typedef struct qnode {
    double mx, my;  /* centre of mass */
    float w2;       /* squared side of the cell */
    uint32_t cnt;   /* points in the cell */
    uint32_t child; /* index of the first of 4 children; 0 for a leaf */
    uint32_t start; /* points perm[start .. start + cnt) */
} qnode;

typedef struct qbox {
    double cx, cy, half;
} qbox;

typedef struct bh_state {
    size_t n;
    csr P;          /* double precision (kept for the KL constant) */
    uint32_t *pidx; /* compact copy of P for the gradient: row pointers, columns, values */
    size_t *pptr;
    float *pval;
    double plogp;
    size_t *perm;
    qnode *nodes;
    qbox *boxes;
    size_t cap, count;
    double *rep; /* 2 n */
    double *z;   /* n */
    double *pl;  /* n: sum_j p log u per row */
    double angle;
} bh_state;

#define QT_MAX_DEPTH 48

static size_t partition_by(size_t *perm, size_t s, size_t e, const double *y, int axis, double pivot) {
    /* points with coordinate < pivot first; returns the split */
    size_t i = s, j = e;
    while (i < j) {
        if (y[2 * perm[i] + (size_t)axis] < pivot)
            i++;
        else {
            j--;
            size_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
    }
    return i;
}

static tg_status qt_build(bh_state *b, const double *y, size_t node, double cx, double cy, double half, int depth) {
    qnode *q = &b->nodes[node];
    b->boxes[node].cx = cx;
    b->boxes[node].cy = cy;
    b->boxes[node].half = half;
    q->w2 = (float)(4.0 * half * half);
    const size_t s = q->start, e = s + q->cnt;
    if (e - s <= 1 || depth >= QT_MAX_DEPTH || half <= 1e-12 * (fabs(cx) + fabs(cy) + 1e-300)) {
        double mx = 0, my = 0;
        for (size_t t = s; t < e; t++) {
            mx += y[2 * b->perm[t]];
            my += y[2 * b->perm[t] + 1];
        }
        q->mx = e > s ? mx / (double)(e - s) : cx;
        q->my = e > s ? my / (double)(e - s) : cy;
        q->child = 0;
        return TG_OK;
    }
    if (b->count + 4 > b->cap) {
        size_t nc = b->cap * 2;
        if (nc > UINT32_MAX) return tg_fail(TG_ERR_OVERFLOW, "t-SNE: quadtree too large");
        qnode *nn = realloc(b->nodes, sizeof(qnode) * nc);
        if (!nn) return tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory for the quadtree");
        b->nodes = nn;
        qbox *nb = realloc(b->boxes, sizeof(qbox) * nc);
        if (!nb) return tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory for the quadtree");
        b->boxes = nb;
        b->cap = nc;
    }
    const double h = half * 0.5;
    size_t mid = partition_by(b->perm, s, e, y, 1, cy);
    size_t m0 = partition_by(b->perm, s, mid, y, 0, cx);
    size_t m1 = partition_by(b->perm, mid, e, y, 0, cx);
    const size_t c = b->count;
    b->count += 4;
    b->nodes[node].child = (uint32_t)c;
    const size_t bounds[5] = {s, m0, mid, m1, e};
    double mx = 0, my = 0;
    for (int k = 0; k < 4; k++) {
        qnode *ch = &b->nodes[c + (size_t)k];
        ch->start = (uint32_t)bounds[k];
        ch->cnt = (uint32_t)(bounds[k + 1] - bounds[k]);
        ch->child = 0;
        const double ccx = cx + ((k & 1) ? h : -h), ccy = cy + ((k & 2) ? h : -h);
        if (ch->cnt == 0) {
            ch->mx = ccx;
            ch->my = ccy;
            ch->w2 = (float)(4.0 * h * h);
            b->boxes[c + (size_t)k] = (qbox){ccx, ccy, h};
            continue;
        }
        tg_status st = qt_build(b, y, c + (size_t)k, ccx, ccy, h, depth + 1);
        if (st != TG_OK) return st;
        const qnode *cd = &b->nodes[c + (size_t)k];
        mx += cd->mx * (double)cd->cnt;
        my += cd->my * (double)cd->cnt;
    }
    q = &b->nodes[node];
    q->mx = mx / (double)(e - s);
    q->my = my / (double)(e - s);
    return TG_OK;
}

TG_HOT static void bh_repulsion_point(const bh_state *b, const double *y, size_t i, double theta2, int check_inside,
                                      double *orx, double *ory, double *oz) {
    uint32_t stack[4 * QT_MAX_DEPTH + 8];
    size_t sp = 0;
    stack[sp++] = 0;
    const double xi = y[2 * i], yi = y[2 * i + 1];
    double rx = 0, ry = 0, z = 0;
    const qnode *nodes = b->nodes;
    while (sp) {
        const uint32_t id = stack[--sp];
        const qnode *q = &nodes[id];
        if (q->cnt == 0) continue;
        if (q->child == 0) {
            for (size_t t = q->start; t < (size_t)q->start + q->cnt; t++) {
                size_t j = b->perm[t];
                if (j == i) continue;
                double dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
                double u = 1.0 / (1.0 + dx * dx + dy * dy);
                z += u;
                rx += u * u * dx;
                ry += u * u * dy;
            }
            continue;
        }
        double dx = xi - q->mx, dy = yi - q->my;
        double d2 = dx * dx + dy * dy;
        int open = !((double)q->w2 < theta2 * d2);
        if (!open && check_inside) {
            const qbox *bx = &b->boxes[id];
            open = fabs(xi - bx->cx) <= bx->half && fabs(yi - bx->cy) <= bx->half;
        }
        if (!open) {
            double u = 1.0 / (1.0 + d2);
            double cu = (double)q->cnt * u;
            z += cu;
            rx += cu * u * dx;
            ry += cu * u * dy;
        } else {
            stack[sp++] = q->child + 3;
            stack[sp++] = q->child + 2;
            stack[sp++] = q->child + 1;
            stack[sp++] = q->child;
        }
    }
    *orx = rx;
    *ory = ry;
    *oz = z;
}

/* Attraction sum_j p_ij w_ij (y_i - y_j) into grad [n, 2] and, if want_kl, b->pl[i] =
 * -sum_j p_ij log(1 + d_ij^2); rows in parallel, each summed in a fixed order. */
/* Attraction on point (xi, yi) from its cnt entries of P (columns idx, values val): the sums
 * of p u (dx, dy) into g[0..2), u = 1 / (1 + dx^2 + dy^2).  Four partial sums, so that the
 * loop runs four neighbours at a time (gathers and vector division on v3). */
TG_HOT static void attract_row(const uint32_t *idx, const float *val, size_t cnt, const double *y, double xi,
                               double yi, double *g) {
    typedef double v4d __attribute__((vector_size(32)));
    v4d ax = {0, 0, 0, 0}, ay = {0, 0, 0, 0};
    const v4d one = {1, 1, 1, 1};
    size_t p = 0;
    for (; p + 4 <= cnt; p += 4) {
        const size_t j0 = idx[p], j1 = idx[p + 1], j2 = idx[p + 2], j3 = idx[p + 3];
        const v4d dx = {xi - y[2 * j0], xi - y[2 * j1], xi - y[2 * j2], xi - y[2 * j3]};
        const v4d dy = {yi - y[2 * j0 + 1], yi - y[2 * j1 + 1], yi - y[2 * j2 + 1], yi - y[2 * j3 + 1]};
        const v4d pv = {(double)val[p], (double)val[p + 1], (double)val[p + 2], (double)val[p + 3]};
        const v4d pu = pv / (one + dx * dx + dy * dy);
        ax += pu * dx;
        ay += pu * dy;
    }
    for (; p < cnt; p++) {
        const size_t j = idx[p];
        const double dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
        const double pu = (double)val[p] / (1.0 + dx * dx + dy * dy);
        ax[0] += pu * dx;
        ay[0] += pu * dy;
    }
    g[0] = (ax[0] + ax[1]) + (ax[2] + ax[3]);
    g[1] = (ay[0] + ay[1]) + (ay[2] + ay[3]);
}

static void bh_attraction(bh_state *b, const double *y, int want_kl, double *grad) {
    const size_t n = b->n;
    /* attraction, in row order so that P streams from memory */
#pragma omp parallel for schedule(dynamic, 256)
    for (ptrdiff_t ii = 0; ii < (ptrdiff_t)n; ii++) {
        const size_t i = (size_t)ii;
        const double xi = y[2 * i], yi = y[2 * i + 1];
        const size_t p0 = b->pptr[i], p1 = b->pptr[i + 1];
        attract_row(b->pidx + p0, b->pval + p0, p1 - p0, y, xi, yi, grad + 2 * i);
        double pl = 0;
        if (want_kl) /* the KL's P log(1 / u) part, every 50 iterations */
            for (size_t p = p0; p < p1; p++) {
                const size_t j = b->pidx[p];
                double dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
                pl -= (double)b->pval[p] * log_ge1(1.0 + dx * dx + dy * dy);
            }
        b->pl[i] = pl;
    }
}

/* the bounding box of the 2-D points y [n, 2] */
static void bounds(const double *y, size_t n, double *x0, double *x1, double *y0, double *y1) {
    double a = y[0], b = y[0], c = y[1], d = y[1];
    for (size_t i = 1; i < n; i++) {
        a = y[2 * i] < a ? y[2 * i] : a;
        b = y[2 * i] > b ? y[2 * i] : b;
        c = y[2 * i + 1] < c ? y[2 * i + 1] : c;
        d = y[2 * i + 1] > d ? y[2 * i + 1] : d;
    }
    *x0 = a;
    *x1 = b;
    *y0 = c;
    *y1 = d;
}

static tg_status bh_gradient(bh_state *b, const double *y, double ex, double *grad, int want_kl, double *kl) {
    const size_t n = b->n;
    double x0, x1, y0, y1; /* bounding square */
    bounds(y, n, &x0, &x1, &y0, &y1);
    double half = 0.5 * fmax(x1 - x0, y1 - y0);
    half = half * (1.0 + 1e-6) + 1e-12;
    b->count = 1;
    qnode *root = &b->nodes[0];
    root->start = 0;
    root->cnt = (uint32_t)n;
    root->child = 0;
    tg_status st = qt_build(b, y, 0, 0.5 * (x0 + x1), 0.5 * (y0 + y1), half, 0);
    if (st != TG_OK) return st;
    const double theta2 = b->angle * b->angle;
    const int check_inside = b->angle > 0.7;
#pragma omp parallel for schedule(dynamic, 64)
    for (ptrdiff_t q = 0; q < (ptrdiff_t)n; q++) {
        const size_t i = b->perm[q];
        double rx, ry, z;
        bh_repulsion_point(b, y, i, theta2, check_inside, &rx, &ry, &z);
        b->rep[2 * i] = rx;
        b->rep[2 * i + 1] = ry;
        b->z[i] = z;
    }
    bh_attraction(b, y, want_kl, grad);
    double Z = 0.0, pl = 0.0;
    for (size_t i = 0; i < n; i++) {
        Z += b->z[i];
        pl += b->pl[i];
    }
    const double invZ = 1.0 / Z;
    for (size_t t = 0; t < 2 * n; t++) grad[t] = 4.0 * (ex * grad[t] - b->rep[t] * invZ);
    if (want_kl) *kl = ex * (b->plogp + log(ex)) - ex * pl + ex * log(Z);
    return TG_OK;
}

/* The same gradient with the repulsion from the FFT-accelerated interpolation (tsne_fft.c). */
static tg_status fft_gradient(bh_state *b, tg_fitsne *f, const double *y, double ex, double *grad, int want_kl,
                              double *kl) {
    const size_t n = b->n;
    double x0, x1, y0, y1;
    bounds(y, n, &x0, &x1, &y0, &y1);
    /* wider than the grid covers at one box per unit: Barnes-Hut for this iteration (its
     * accuracy does not depend on the span; a NaN falls through to the grid's check) */
    if (fmax(x1 - x0, y1 - y0) > TG_FITSNE_MAX_SIDE) return bh_gradient(b, y, ex, grad, want_kl, kl);
    double Z = 0.0, pl = 0.0;
    tg_status st = tg_fitsne_repulsion(f, y, b->rep, &Z);
    if (st != TG_OK) return st;
    if (!(Z > 0.0) || !isfinite(Z))
        return tg_fail(TG_ERR_VALUE, "FFT t-SNE: the normaliser Z is %g (the embedding collapsed or diverged); "
                                     "try method=\"barnes_hut\" or a smaller learning_rate", Z);
    bh_attraction(b, y, want_kl, grad);
    for (size_t i = 0; i < n; i++) pl += b->pl[i];
    const double invZ = 1.0 / Z;
    for (size_t t = 0; t < 2 * n; t++) grad[t] = 4.0 * (ex * grad[t] - b->rep[t] * invZ);
    if (want_kl) *kl = ex * (b->plogp + log(ex)) - ex * pl + ex * log(Z);
    return TG_OK;
}

/* ---------------------------------------------------------------- optimiser */

tg_status tg_tsne(const tg_view *x, const tg_tsne_options *opt, double *y, double *kl, size_t *n_iter) {
    if (!opt || !y || !kl || !n_iter) return tg_fail(TG_ERR_VALUE, "t-SNE: NULL argument");
    tg_status st = check_options(x, opt, false);
    if (st != TG_OK) return st;
    const size_t n = (size_t)x->shape[0], d = (size_t)x->shape[1], dim = opt->dim;
    const size_t nd = n * dim;
    for (size_t t = 0; t < nd; t++)
        if (!isfinite(y[t])) return tg_fail(TG_ERR_VALUE, "t-SNE: the initial embedding has a non-finite value");
    double *a = NULL, *sq = NULL, *grad = NULL, *upd = NULL, *gains = NULL, *yx = NULL, *yy = NULL;
    exact_state es;
    bh_state bs;
    tg_fitsne *fs = NULL;
    memset(&es, 0, sizeof es);
    memset(&bs, 0, sizeof bs);
    st = working_copy(x, opt->metric, &a, &sq);
    if (st != TG_OK) return st;
    grad = malloc(sizeof(double) * 2 * nd);
    upd = calloc(nd, sizeof(double));
    gains = malloc(sizeof(double) * nd);
    if (!grad || !upd || !gains) {
        st = tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory");
        goto done;
    }
    for (size_t t = 0; t < nd; t++) gains[t] = 1.0;

    if (opt->method == TG_TSNE_EXACT) {
        size_t nn = n * n; /* n <= 50000 checked */
        st = tg_red_check_budget((double)nn * 12.0, "exact t-SNE (n^2 affinities)", "use method=\"barnes_hut\"");
        if (st != TG_OK) goto done;
        double *pc = malloc(sizeof(double) * nn);
        es.P = malloc(sizeof(float) * nn);
        es.n = n;
        es.dim = dim;
        es.acc = malloc(sizeof(double) * 6 * n);
        yx = malloc(sizeof(double) * n);
        yy = malloc(sizeof(double) * n);
        if (!pc || !es.P || !es.acc || !yx || !yy) {
            free(pc);
            st = tg_fail(TG_ERR_NOMEM, "exact t-SNE: out of memory for %zu x %zu affinities; use method=\"barnes_hut\"", n, n);
            goto done;
        }
        st = conditional_dense(a, sq, n, d, opt, pc);
        if (st != TG_OK) {
            free(pc);
            goto done;
        }
        double sum = 0.0;
        for (size_t t = 0; t < nn; t++) sum += pc[t];
        sum *= 2.0;
        double plp = 0.0;
        for (size_t i = 0; i < n; i++) {
            es.P[i * n + i] = 0.0f;
            for (size_t j = i + 1; j < n; j++) {
                double p = fmax((pc[i * n + j] + pc[j * n + i]) / sum, DBL_EPSILON);
                float pf = (float)p;
                es.P[i * n + j] = pf;
                es.P[j * n + i] = pf;
                plp += 2.0 * (double)pf * log((double)pf);
            }
        }
        es.plogp = plp;
        free(pc);
    } else {
        st = sparse_affinities(a, sq, n, d, opt, &bs.P);
        if (st != TG_OK) goto done;
        bs.n = n;
        bs.angle = opt->angle;
        /* the quadtree for Barnes-Hut, and for FFT iterations wider than the grid covers */
        bs.perm = malloc(sizeof(size_t) * n);
        bs.cap = 4 * n + 64;
        bs.nodes = malloc(sizeof(qnode) * bs.cap);
        bs.boxes = malloc(sizeof(qbox) * bs.cap);
        if (opt->method == TG_TSNE_FFT) {
            st = tg_fitsne_new(n, tg_red_max_threads(), &fs);
            if (st != TG_OK) goto done;
        }
        bs.pptr = malloc(sizeof(size_t) * (n + 1));
        bs.pidx = malloc(sizeof(uint32_t) * (bs.P.nnz ? bs.P.nnz : 1));
        bs.pval = malloc(sizeof(float) * (bs.P.nnz ? bs.P.nnz : 1));
        bs.rep = malloc(sizeof(double) * 2 * n);
        bs.z = malloc(sizeof(double) * n);
        bs.pl = malloc(sizeof(double) * n);
        if (!bs.perm || !bs.nodes || !bs.boxes || !bs.pptr || !bs.pidx || !bs.pval || !bs.rep || !bs.z || !bs.pl) {
            st = tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory");
            goto done;
        }
        /* compact P for the gradient; P values in float32 (relative rounding 6e-8) */
        memcpy(bs.pptr, bs.P.indptr, sizeof(size_t) * (n + 1));
        for (size_t p = 0; p < bs.P.nnz; p++) {
            bs.pidx[p] = (uint32_t)bs.P.indices[p];
            bs.pval[p] = (float)bs.P.values[p];
        }
        double plp = 0.0;
        for (size_t p = 0; p < bs.P.nnz; p++)
            if (bs.pval[p] > 0) plp += (double)bs.pval[p] * log((double)bs.pval[p]);
        bs.plogp = plp;
        if (bs.perm)
            for (size_t i = 0; i < n; i++) bs.perm[i] = i;
    }
    free(a);
    a = NULL;

    /* two phases, as sklearn's optimiser: exaggerated (momentum 0.5), then plain (0.8) */
    const size_t n_check = 50;
    size_t exag_end = opt->exaggeration_iter < opt->max_iter ? opt->exaggeration_iter : opt->max_iter;
    size_t it = 0, last = 0;
    double err = 0.0;
    for (int phase = 0; phase < 2; phase++) {
        const size_t end = phase == 0 ? exag_end : opt->max_iter;
        const double ex = phase == 0 ? opt->early_exaggeration : 1.0;
        const double mom = phase == 0 ? 0.5 : 0.8;
        const size_t nwp = phase == 0 ? exag_end : opt->n_iter_without_progress;
        double best = DBL_MAX;
        size_t best_it = it;
        /* Each phase starts the optimiser afresh (no momentum, unit gains), as sklearn's two
         * calls of _gradient_descent do.  Carrying the exaggerated phase's momentum over
         * flung small maps apart when the exaggeration stopped (N = 52: spread ~10x, KL 7x
         * sklearn's, every run to max_iter). */
        memset(upd, 0, sizeof(double) * nd);
        for (size_t t = 0; t < nd; t++) gains[t] = 1.0;
        for (; it < end; it++) {
            if (tg_interrupted()) {
                st = TG_ERR_INTERRUPTED;
                goto done;
            }
            const int check = (it + 1) % n_check == 0;
            const int want_kl = check || it + 1 == end;
            if (opt->method == TG_TSNE_EXACT) {
                exact_gradient(&es, y, yx, yy, ex, grad, want_kl, &err);
            } else {
                st = opt->method == TG_TSNE_FFT ? fft_gradient(&bs, fs, y, ex, grad, want_kl, &err)
                                                : bh_gradient(&bs, y, ex, grad, want_kl, &err);
                if (st != TG_OK) goto done;
            }
            double gn2 = 0.0;
            for (size_t t = 0; t < nd; t++) {
                double g = grad[t];
                if (upd[t] * g < 0.0)
                    gains[t] += 0.2;
                else
                    gains[t] *= 0.8;
                if (gains[t] < 0.01) gains[t] = 0.01;
                g *= gains[t];
                gn2 += g * g;
                upd[t] = mom * upd[t] - opt->learning_rate * g;
                y[t] += upd[t];
            }
            last = it;
            if (check) {
                if (!isfinite(gn2)) {
                    st = tg_fail(TG_ERR_VALUE, "t-SNE diverged at iteration %zu (try a smaller learning_rate)", it);
                    goto done;
                }
                if (err < best) {
                    best = err;
                    best_it = it;
                } else if (it - best_it > nwp) {
                    it++;
                    break;
                }
                if (sqrt(gn2) <= opt->min_grad_norm) {
                    it++;
                    break;
                }
            }
        }
        if (phase == 0 && it < exag_end) it = last + 1;
    }
    for (size_t t = 0; t < nd; t++)
        if (!isfinite(y[t])) {
            st = tg_fail(TG_ERR_VALUE, "t-SNE diverged (non-finite embedding); try a smaller learning_rate");
            goto done;
        }
    *kl = err;
    *n_iter = last;
done:
    free(a);
    free(sq);
    free(grad);
    free(upd);
    free(gains);
    free(yx);
    free(yy);
    free(es.P);
    free(es.acc);
    csr_free(&bs.P);
    free(bs.perm);
    free(bs.nodes);
    free(bs.boxes);
    free(bs.pptr);
    free(bs.pidx);
    free(bs.pval);
    free(bs.rep);
    free(bs.z);
    free(bs.pl);
    tg_fitsne_free(fs);
    return st;
}

/* ---------------------------------------------------------------- trustworthiness */

tg_status tg_trustworthiness(const tg_view *x, const tg_view *emb, size_t k, double *out) {
    tg_status st = tg_red_check_matrix(x, "x", 2);
    if (st != TG_OK) return st;
    st = tg_red_check_matrix(emb, "embedding", 2);
    if (st != TG_OK) return st;
    if (!out) return tg_fail(TG_ERR_VALUE, "trustworthiness: NULL output");
    const size_t n = (size_t)x->shape[0], d = (size_t)x->shape[1], e = (size_t)emb->shape[1];
    if (emb->shape[0] != x->shape[0])
        return tg_fail(TG_ERR_VALUE, "x has %zu rows but the embedding has %td; they must describe the same samples", n,
                       emb->shape[0]);
    if (k < 1 || 2 * k >= n)
        return tg_fail(TG_ERR_VALUE, "n_neighbors (%zu) must be >= 1 and less than n_samples / 2 (%zu / 2)", k, n);
    double *a = NULL, *sq = NULL, *eb = NULL, *dist = NULL, *scratch = NULL;
    size_t *idx = NULL;
    st = working_copy(x, TG_METRIC_EUCLIDEAN, &a, &sq);
    if (st != TG_OK) return st;
    const int T = tg_red_max_threads();
    const size_t bs = dist_block_rows(n);
    eb = malloc(sizeof(double) * n * e);
    dist = malloc(sizeof(double) * bs * n);
    scratch = malloc(sizeof(double) * (size_t)T * (n + 2 * k));
    idx = malloc(sizeof(size_t) * (size_t)T * k);
    if (!eb || !dist || !scratch || !idx) {
        st = tg_fail(TG_ERR_NOMEM, "trustworthiness: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        tg_red_row(emb, (ptrdiff_t)i, NULL, eb + i * e);
        if (tg_red_first_nonfinite(eb + i * e, (ptrdiff_t)e) >= 0) {
            st = tg_fail(TG_ERR_VALUE, "embedding row %zu has a non-finite value", i);
            goto done;
        }
    }
    unsigned long long total = 0;
    for (size_t r0 = 0; r0 < n; r0 += bs) {
        if (tg_interrupted()) {
            st = TG_ERR_INTERRUPTED;
            goto done;
        }
        const size_t r1 = r0 + bs < n ? r0 + bs : n;
        tg_red_distance_block(a, n, d, sq, a + r0 * d, NULL, r0, r1 - r0, TG_METRIC_EUCLIDEAN, dist);
        unsigned long long part = 0;
#pragma omp parallel for schedule(dynamic, 8) reduction(+ : part)
        for (ptrdiff_t ii = 0; ii < (ptrdiff_t)(r1 - r0); ii++) {
            const size_t i = r0 + (size_t)ii, t = (size_t)tg_red_thread_id();
            double *ed = scratch + t * (n + 2 * k), *hd = ed + n;
            size_t *hi = idx + t * k;
            const double *ei = eb + i * e;
            for (size_t j = 0; j < n; j++) {
                double s = 0.0;
                for (size_t c = 0; c < e; c++) {
                    double df = ei[c] - eb[j * e + c];
                    s += df * df;
                }
                ed[j] = s;
            }
            tg_red_knn_row(ed, n, i, k, hd, hi);
            const double *row = dist + (size_t)ii * n;
            for (size_t q = 0; q < k; q++) {
                const size_t j = hi[q];
                const double dj = row[j];
                size_t rank = 1;
                for (size_t l = 0; l < n; l++) {
                    if (l == i) continue;
                    if (row[l] < dj || (row[l] == dj && l < j)) rank++;
                }
                if (rank > k) part += rank - k;
            }
        }
        total += part;
    }
    {
        const double nd = (double)n, kd = (double)k;
        *out = 1.0 - (2.0 / (nd * kd * (2.0 * nd - 3.0 * kd - 1.0))) * (double)total;
    }
done:
    free(a);
    free(sq);
    free(eb);
    free(dist);
    free(scratch);
    free(idx);
    return st;
}
