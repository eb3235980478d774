/*
 * pca.c - principal component analysis through the Gram matrix of the centred data.
 *
 * The data are read through the view's strides in bounded blocks (never copied whole),
 * converted to float64 (or, for the randomized method on float32 input, kept in float32
 * for BLIS ssyrk with a float64 accumulator every block), centred, and multiplied by BLIS.
 * Exact PCA of large float32 input finds the subspace from a float32 Gram matrix and the
 * eigenpairs by a float64 Rayleigh-Ritz step on the data (exact_mixed below).
 * The Gram matrix is formed over the longer axis, so it is m x m with m = min(n, d):
 *   n >= d (primal): G = Xc^T Xc  (d x d), components = eigenvectors of G;
 *   n <  d (dual):   G = Xc Xc^T  (n x n), components = Xc^T u / sigma.
 * See tokgeo/reduce.h for the contract.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/blas.h"
#include "reduce/internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Rows in one converted block: about 16 MB of doubles, between 64 and 4096 rows. */
static size_t block_rows(size_t width) {
    size_t b = (size_t)(16u << 20) / (8u * (width ? width : 1));
    if (b < 64) b = 64;
    if (b > 4096) b = 4096;
    return b;
}

/* Converts rows [r0, r0+cnt) of x (minus mean) into dst (cnt x d row-major double). */
static void convert_rows(const tg_view *x, size_t r0, size_t cnt, const double *mean, double *dst) {
    const size_t d = (size_t)x->shape[1];
#pragma omp parallel for schedule(static) if (cnt * d > 65536)
    for (ptrdiff_t i = 0; i < (ptrdiff_t)cnt; i++) tg_red_row(x, (ptrdiff_t)(r0 + (size_t)i), mean, dst + (size_t)i * d);
}

/* Converts column block [c0, c0+cnt) of all n rows of x (minus mean) into dst (n x cnt). */
static void convert_cols(const tg_view *x, size_t c0, size_t cnt, const double *mean, double *dst) {
    const ptrdiff_t n = x->shape[0];
    const ptrdiff_t s0 = x->stride[0], s1 = x->stride[1];
#pragma omp parallel for schedule(static) if ((size_t)n * cnt > 65536)
    for (ptrdiff_t i = 0; i < n; i++) {
        double *out = dst + (size_t)i * cnt;
        if (x->dtype == TG_F32) {
            const float *p = (const float *)x->data + i * s0 + (ptrdiff_t)c0 * s1;
            for (size_t c = 0; c < cnt; c++) out[c] = (double)p[(ptrdiff_t)c * s1];
        } else {
            const double *p = (const double *)x->data + i * s0 + (ptrdiff_t)c0 * s1;
            for (size_t c = 0; c < cnt; c++) out[c] = p[(ptrdiff_t)c * s1];
        }
        if (mean)
            for (size_t c = 0; c < cnt; c++) out[c] -= mean[c0 + c];
    }
}

/* Column means (if mean != NULL) and a finiteness check in one pass.  The threads split the
 * columns, and each column is summed over the rows in row order, so the bits do not depend
 * on the thread count.  A non-finite entry is reported at its first position in row-major
 * order. */
static tg_status mean_and_check(const tg_view *x, double *mean) {
    const ptrdiff_t n = x->shape[0], d = x->shape[1], s0 = x->stride[0], s1 = x->stride[1];
    if (mean) memset(mean, 0, sizeof(double) * (size_t)d);
    ptrdiff_t bad_i = PTRDIFF_MAX, bad_j = 0;
    int stop = 0;
#pragma omp parallel if ((size_t)n * (size_t)d > 262144)
    {
        const ptrdiff_t nt = (ptrdiff_t)tg_red_team_size(), t = (ptrdiff_t)tg_red_thread_id();
        const ptrdiff_t j0 = d * t / nt, j1 = d * (t + 1) / nt;
        ptrdiff_t my_i = PTRDIFF_MAX, my_j = 0;
        for (ptrdiff_t i = 0; i < n && j1 > j0; i++) {
            if ((i & 1023) == 1023) {
                if (t == 0 && tg_interrupted()) {
#pragma omp atomic write
                    stop = 1;
                }
                int halt;
#pragma omp atomic read
                halt = stop;
                if (halt) break;
            }
            double *mu = mean;
            if (x->dtype == TG_F32) {
                const float *p = (const float *)x->data + i * s0;
                for (ptrdiff_t j = j0; j < j1; j++) {
                    const double v = (double)p[j * s1];
                    if (!isfinite(v) && my_i == PTRDIFF_MAX) {
                        my_i = i;
                        my_j = j;
                    }
                    if (mu) mu[j] += v;
                }
            } else {
                const double *p = (const double *)x->data + i * s0;
                for (ptrdiff_t j = j0; j < j1; j++) {
                    const double v = p[j * s1];
                    if (!isfinite(v) && my_i == PTRDIFF_MAX) {
                        my_i = i;
                        my_j = j;
                    }
                    if (mu) mu[j] += v;
                }
            }
            if (my_i != PTRDIFF_MAX) break; /* this thread's first bad entry; later rows cannot be earlier */
        }
#pragma omp critical(tg_pca_bad)
        if (my_i < bad_i || (my_i == bad_i && my_i != PTRDIFF_MAX && my_j < bad_j)) {
            bad_i = my_i;
            bad_j = my_j;
        }
    }
    if (stop) return TG_ERR_INTERRUPTED;
    if (bad_i != PTRDIFF_MAX) {
        const double v = x->dtype == TG_F32 ? (double)((const float *)x->data)[bad_i * s0 + bad_j * s1]
                                            : ((const double *)x->data)[bad_i * s0 + bad_j * s1];
        return tg_fail(TG_ERR_VALUE, "x[%td, %td] is %s; PCA needs finite values (drop or impute NaN/inf first)", bad_i,
                       bad_j, isnan(v) ? "NaN" : "infinite");
    }
    if (mean)
        for (ptrdiff_t j = 0; j < d; j++) mean[j] /= (double)n;
    return TG_OK;
}

/* G[r][c] += Gf[r][c] for c <= r (m x m, row-major): a block's float32 Gram matrix summed
 * into the float64 one. */
static void add_lower_f32(double *G, const float *Gf, size_t m) {
#pragma omp parallel for schedule(static) if (m * m > 65536)
    for (ptrdiff_t r = 0; r < (ptrdiff_t)m; r++)
        for (ptrdiff_t c = 0; c <= r; c++) G[(size_t)r * m + (size_t)c] += (double)Gf[(size_t)r * m + (size_t)c];
}

/* G (m x m, lower triangle accumulated, then mirrored) = Gram matrix of the centred data
 * over its longer axis.  f32 selects float32 products per block (randomized, float32 input). */
static tg_status gram(const tg_view *x, const double *mean, bool f32, double *G) {
    const size_t n = (size_t)x->shape[0], d = (size_t)x->shape[1];
    const bool primal = n >= d;
    const size_t m = primal ? d : n, len = primal ? n : d;
    size_t bs = f32 ? 1024 : block_rows(m);
    if (bs > len) bs = len;
    size_t bufn;
    if (!tg_mul_size(bs, m, &bufn)) return tg_fail(TG_ERR_OVERFLOW, "PCA: block size overflows");
    double *blk = tg_alloc_aligned(bufn * sizeof(double));
    float *blkf = NULL, *Gf = NULL;
    tg_status st = TG_OK;
    if (f32) {
        blkf = tg_alloc_aligned(bufn * sizeof(float));
        Gf = tg_alloc_aligned(m * m * sizeof(float));
    }
    if (!blk || (f32 && (!blkf || !Gf))) {
        st = tg_fail(TG_ERR_NOMEM, "PCA: out of memory for a %zu x %zu block", bs, m);
        goto done;
    }
    memset(G, 0, sizeof(double) * m * m);
    for (size_t b0 = 0; b0 < len; b0 += bs) {
        if (tg_interrupted()) {
            st = TG_ERR_INTERRUPTED;
            goto done;
        }
        const size_t cnt = len - b0 < bs ? len - b0 : bs;
        if (primal)
            convert_rows(x, b0, cnt, mean, blk); /* cnt x d */
        else
            convert_cols(x, b0, cnt, mean, blk); /* n x cnt */
        /* primal: G += B^T B with B cnt x m; dual: G += B B^T with B m x cnt */
        const size_t rs = primal ? m : cnt;
        if (f32) {
            const size_t tot = cnt * m;
            for (size_t t = 0; t < tot; t++) blkf[t] = (float)blk[t];
            tg_red_ssyrk_lower(primal, m, cnt, 1.0f, blkf, rs, 0.0f, Gf, m);
            add_lower_f32(G, Gf, m);
        } else {
            tg_red_dsyrk_lower(primal, m, cnt, 1.0, blk, rs, 1.0, G, m);
        }
    }
    for (size_t r = 0; r < m; r++)
        for (size_t c = 0; c < r; c++) G[c * m + r] = G[r * m + c];
done:
    free(blk);
    free(blkf);
    free(Gf);
    return st;
}

/* vals[j] = w[l-1-j] and vecs[j] = U[l-1-j] Q for j < k: the top k Ritz pairs, from the
 * eigenpairs (w ascending [l], U rows [l, l]) of the l x l projected matrix and the basis
 * Q [l, m] it was projected on; vecs [k, m]. */
static void ritz_vectors(const double *U, const double *w, const double *Q, size_t l, size_t k, size_t m,
                         double *vals, double *vecs) {
    for (size_t j = 0; j < k; j++) {
        const double *u = U + (l - 1 - j) * l;
        double *out = vecs + j * m;
        vals[j] = w[l - 1 - j];
        memset(out, 0, sizeof(double) * m);
        for (size_t t = 0; t < l; t++) {
            const double c = u[t];
            const double *q = Q + t * m;
            for (size_t s = 0; s < m; s++) out[s] += c * q[s];
        }
    }
}

/* Top-k eigenpairs of the symmetric m x m matrix G by the randomized range finder.
 * vals[k] descending, vecs[k*m] rows. */
static tg_status randomized_eig(const double *G, size_t m, size_t k, const tg_pca_options *opt, double *vals,
                                double *vecs) {
    size_t l = k + opt->n_oversamples;
    if (l > m) l = m;
    tg_status st = TG_OK;
    double *Q = malloc(sizeof(double) * l * m);
    double *Y = malloc(sizeof(double) * l * m);
    double *B = malloc(sizeof(double) * l * l);
    double *w = malloc(sizeof(double) * l);
    if (!Q || !Y || !B || !w) {
        st = tg_fail(TG_ERR_NOMEM, "randomized PCA: out of memory");
        goto done;
    }
    tg_rng rng;
    tg_rng_seed(&rng, opt->seed);
    for (size_t t = 0; t < l * m; t++) Q[t] = tg_rng_normal(&rng);
    /* Y = Q G (rows of Y span G's range restricted to Q) */
    for (size_t it = 0; it <= opt->n_iter; it++) {
        if (tg_interrupted()) {
            st = TG_ERR_INTERRUPTED;
            goto done;
        }
        tg_red_dgemm(false, false, l, m, m, 1.0, Q, m, G, m, 0.0, Y, m);
        st = tg_orthonormalize_rows(Y, l, m);
        if (st != TG_OK) goto done;
        double *t = Q;
        Q = Y;
        Y = t;
    }
    /* Rayleigh-Ritz: B = Q G Q^T */
    tg_red_dgemm(false, false, l, m, m, 1.0, Q, m, G, m, 0.0, Y, m);
    tg_red_dgemm(false, true, l, l, m, 1.0, Y, m, Q, m, 0.0, B, l);
    for (size_t r = 0; r < l; r++)
        for (size_t c = 0; c < r; c++) B[r * l + c] = B[c * l + r] = 0.5 * (B[r * l + c] + B[c * l + r]);
    st = tg_eigh(B, l, w);
    if (st != TG_OK) goto done;
    ritz_vectors(B, w, Q, l, k, m, vals, vecs);
done:
    free(Q);
    free(Y);
    free(B);
    free(w);
    return st;
}

/* Adds the sums and sums of squares of w <= 64 columns of cnt float32 rows (row stride ld),
 * minus shift[w], to s[w] and q[w], in float64, row by row. */
TG_HOT static void colsum_chunk(const float *b, size_t cnt, size_t ld, size_t w, const double *shift, double *s,
                                double *q) {
    double ls[64] = {0}, lq[64] = {0};
    for (size_t i = 0; i < cnt; i++) {
        const float *r = b + i * ld;
        for (size_t j = 0; j < w; j++) {
            const double v = (double)r[j] - shift[j];
            ls[j] += v;
            lq[j] += v * v;
        }
    }
    for (size_t j = 0; j < w; j++) {
        s[j] += ls[j];
        q[j] += lq[j];
    }
}

/* Adds the column sums and sums of squares of (b - shift) to sum[d] and sq[d] in float64;
 * b: cnt x d row-major float32 with row stride ld, shift[d].  The threads split the columns
 * and each column's block sum is formed in row order and then added, so the bits do not
 * depend on the thread count. */
static void colsums(const float *b, size_t cnt, size_t d, size_t ld, const double *shift, double *sum, double *sq) {
    const ptrdiff_t nchunks = (ptrdiff_t)((d + 63) / 64);
#pragma omp parallel for schedule(static) if (cnt * d > 65536)
    for (ptrdiff_t c = 0; c < nchunks; c++) {
        const size_t j0 = (size_t)c * 64;
        colsum_chunk(b + j0, cnt, ld, j0 + 64 < d ? 64 : d - j0, shift + j0, sum + j0, sq + j0);
    }
}

/* Rows [b0, b0 + cnt) of the float32 view x as a row-major block: *blk points into x itself
 * (direct: unit column stride) or into `copy` (cnt x d), and *ld is its row stride. */
static void f32_block(const tg_view *x, bool direct, size_t b0, size_t cnt, float *copy, const float **blk, size_t *ld) {
    const size_t d = (size_t)x->shape[1];
    const ptrdiff_t s0 = x->stride[0], s1 = x->stride[1];
    if (direct) {
        *blk = (const float *)x->data + (ptrdiff_t)b0 * s0;
        *ld = (size_t)s0;
        return;
    }
#pragma omp parallel for schedule(static) if (cnt * d > 65536)
    for (ptrdiff_t i = 0; i < (ptrdiff_t)cnt; i++) {
        const float *p = (const float *)x->data + ((ptrdiff_t)b0 + i) * s0;
        float *o = copy + (size_t)i * d;
        for (size_t j = 0; j < d; j++) o[j] = p[(ptrdiff_t)j * s1];
    }
    *blk = copy;
    *ld = d;
}

/* The exact route for large float32 input (primal, 2k <= d; see tokgeo/reduce.h).
 *
 * Pass 1 reads x once, in blocks of at most MIXED_BLOCK rows: the float32 Gram matrix of
 * x - s (one BLIS ssyrk per block, accumulated in float64 after each block) and, in float64,
 * the column sums and sums of squares of x - s.  The shift s is the first block's mean
 * rounded to float32 (0 without centring); each block is shifted into a copy before the
 * product, so that the float32 products see centred-sized values whatever the mean (it costs
 * ~1% of the time; unshifted, a mean as large as the spread made the eigenvalues' error 30x).
 * The centred Gram matrix is then G - n (mu - s)(mu - s)^T, mu the float64 mean, and its top k
 * eigenvectors V [k, d] span the principal subspace to float32 accuracy.
 * Pass 2 reads x again in float64, centred: Y = Xc V^T and B = Y^T Y, both in float64; the
 * eigenpairs of B (Rayleigh-Ritz) give the eigenvalues of the float64 covariance with an error
 * of the order of the square of the subspace's (measured 2.4e-13 relative on 50,257 x 768,
 * against ~3e-7 for the float32 Gram matrix alone), the components are V rotated by B's
 * eigenvectors, and the trace is the float64 sum of squares.
 * If the data's mean is still far from s (n |mu - s|^2 > the centred trace: the first block
 * did not represent the rest), or if the estimated error of an eigenvalue exceeds
 * MIXED_MAX_ERROR relative (below), *done = false and the caller takes the float64 route. */
enum { MIXED_BLOCK = 4096 };
#define MIXED_MAX_ERROR 1e-10

static tg_status exact_mixed(const tg_view *x, size_t k, bool center, double *eigenvalues, double *components,
                             double *mean, double *total_variance, bool *done) {
    const size_t n = (size_t)x->shape[0], d = (size_t)x->shape[1], m = d;
    const bool direct = x->stride[1] == 1 && x->stride[0] >= x->shape[1];
    const size_t nb1 = (n + MIXED_BLOCK - 1) / MIXED_BLOCK, bs1 = (n + nb1 - 1) / nb1; /* even blocks */
    size_t bs2 = block_rows(d);
    if (bs2 > n) bs2 = n;
    *done = false;
    tg_status st = TG_OK;
    float *Gf = tg_alloc_aligned(m * m * sizeof(float));
    double *G = tg_alloc_aligned(m * m * sizeof(double));
    double *sum = calloc(d, sizeof(double)), *sq = calloc(d, sizeof(double)), *shift = calloc(d, sizeof(double));
    float *shiftf = calloc(d, sizeof(float));
    double *w = malloc(sizeof(double) * (k + 1));
    double *V = malloc(sizeof(double) * (k + 1) * d);
    double *B = calloc(k * k, sizeof(double));
    double *wb = malloc(sizeof(double) * k);
    float *copy = tg_alloc_aligned(bs1 * d * sizeof(float));
    double *blk = NULL, *Y = NULL;
    if (!Gf || !G || !sum || !sq || !shift || !shiftf || !w || !V || !B || !wb || !copy) {
        st = tg_fail(TG_ERR_NOMEM, "PCA: out of memory for the %zu x %zu Gram matrix", m, m);
        goto done;
    }
    const float *b;
    size_t ld;
    if (center) { /* the shift: the first block's mean, rounded to float32 */
        f32_block(x, direct, 0, bs1, copy, &b, &ld);
        colsums(b, bs1, d, ld, shift, sum, sq);
        for (size_t j = 0; j < d; j++) {
            shiftf[j] = (float)(sum[j] / (double)bs1);
            shift[j] = (double)shiftf[j];
        }
        memset(sum, 0, d * sizeof(double));
        memset(sq, 0, d * sizeof(double));
    }
    memset(G, 0, m * m * sizeof(double));
    for (size_t b0 = 0; b0 < n; b0 += bs1) {
        if (tg_interrupted()) {
            st = TG_ERR_INTERRUPTED;
            goto done;
        }
        const size_t cnt = n - b0 < bs1 ? n - b0 : bs1;
        f32_block(x, direct, b0, cnt, copy, &b, &ld);
        colsums(b, cnt, d, ld, shift, sum, sq); /* first: ssyrk then packs the block from cache */
        if (center) { /* x - s into the copy (in place when b is the copy) */
            const float *src = b;
            const size_t lds = ld;
#pragma omp parallel for schedule(static) if (cnt * d > 65536)
            for (ptrdiff_t i = 0; i < (ptrdiff_t)cnt; i++) {
                const float *p = src + (size_t)i * lds;
                float *o = copy + (size_t)i * d;
                for (size_t j = 0; j < d; j++) o[j] = p[j] - shiftf[j];
            }
            b = copy;
            ld = d;
        }
        /* one BLIS call split by BLIS itself: the same bits at any thread count (base/blas.h);
         * the fixed tiles of tg_red_ssyrk_lower cost 15-20% on this shape (0.38-0.42 against
         * 0.32-0.34 s for 50,257 x 768 at 1 thread, Zen 4) */
        tg_ssyrk_lower(m, cnt, 1.0f, b, 1, (ptrdiff_t)ld, 0.0f, Gf, (ptrdiff_t)m, 1, tg_red_max_threads());
        add_lower_f32(G, Gf, m);
    }
    for (size_t j = 0; j < d; j++)
        if (!isfinite(sum[j]) || !isfinite(sq[j])) { /* a NaN or inf entry (finite floats cannot overflow these) */
            st = mean_and_check(x, NULL);            /* reports the first one, in row-major order */
            if (st == TG_OK) st = tg_fail(TG_ERR_INTERNAL, "PCA: column %zu sums to a non-finite value", j);
            goto done;
        }
    /* sum[j] = n (mu_j - s_j); dev2 = n |mu - s|^2; trace = sum of (x - mu)^2 */
    double dev2 = 0.0, trace = 0.0;
    for (size_t j = 0; j < d; j++) {
        mean[j] = center ? shift[j] + sum[j] / (double)n : 0.0;
        if (center) dev2 += sum[j] * sum[j] / (double)n;
        trace += sq[j];
    }
    trace -= dev2;
    if (center && !(dev2 <= trace)) goto done; /* *done stays false: the float64 route */
    if (center)
        for (size_t r = 0; r < m; r++)
            for (size_t c = 0; c <= r; c++) G[r * m + c] -= sum[r] * sum[c] / (double)n;
    st = tg_red_eigh_top(G, m, k + 1, w, V); /* V [k, d] (the first k rows): the subspace; w [k + 1] */
    if (st != TG_OK) goto done;

    blk = tg_alloc_aligned(bs2 * d * sizeof(double));
    Y = malloc(sizeof(double) * bs2 * k);
    if (!blk || !Y) {
        st = tg_fail(TG_ERR_NOMEM, "PCA: out of memory for a %zu x %zu block", bs2, d);
        goto done;
    }
    for (size_t b0 = 0; b0 < n; b0 += bs2) {
        if (tg_interrupted()) {
            st = TG_ERR_INTERRUPTED;
            goto done;
        }
        const size_t cnt = n - b0 < bs2 ? n - b0 : bs2;
        convert_rows(x, b0, cnt, center ? mean : NULL, blk);
        tg_red_dgemm(false, true, cnt, k, d, 1.0, blk, d, V, d, 0.0, Y, k); /* Y = Xc V^T, cnt x k */
        tg_red_dsyrk_lower(true, k, cnt, 1.0, Y, k, 1.0, B, k);            /* B += Y^T Y */
    }
    st = tg_eigh(B, k, wb); /* ascending; row i of B = eigenvector of wb[i] */
    if (st != TG_OK) goto done;
    /* The Ritz value theta_j errs by about sum_i E_ji^2 / (lambda_j - lambda_i) over the
     * eigenvalues i > k, E the float32 Gram matrix's error, whose diagonal term in direction j
     * shows as w_j - theta_j.  est = d (w_j - theta_j)^2 / (theta_j - w_k) / theta_j
     * overestimated the actual relative error 7-100x in every case measured (float32 data
     * with geometric spectra, 0.995 to 0.8 per component, and embedding-like data); past
     * MIXED_MAX_ERROR (spectra spanning many orders of magnitude within the top k, close
     * eigenvalues at the boundary, null directions) the caller takes the float64 route. */
    for (size_t j = 0; j < k; j++) {
        const double th = wb[k - 1 - j], gap = th - w[k];
        const double est = (double)d * (w[j] - th) * (w[j] - th) / gap / th;
        if (!(th > 0.0 && gap > 0.0 && est <= MIXED_MAX_ERROR)) goto done; /* *done stays false */
    }
    const double denom = (double)(n - 1);
    *total_variance = trace / denom;
    ritz_vectors(B, wb, V, k, k, d, eigenvalues, components);
    for (size_t j = 0; j < k; j++) eigenvalues[j] /= denom;
    *done = true;
done:
    free(Gf);
    free(G);
    free(sum);
    free(sq);
    free(shift);
    free(shiftf);
    free(w);
    free(V);
    free(B);
    free(wb);
    free(copy);
    free(blk);
    free(Y);
    return st;
}

static void flip_signs(double *comp, size_t k, size_t d) {
    for (size_t j = 0; j < k; j++) {
        double *v = comp + j * d;
        size_t best = 0;
        double bv = -1.0;
        for (size_t t = 0; t < d; t++)
            if (fabs(v[t]) > bv) {
                bv = fabs(v[t]);
                best = t;
            }
        if (v[best] < 0)
            for (size_t t = 0; t < d; t++) v[t] = -v[t];
    }
}

tg_status tg_pca(const tg_view *x, size_t k, const tg_pca_options *opt, double *eigenvalues, double *components,
                 double *mean, double *total_variance) {
    tg_status st = tg_red_check_matrix(x, "PCA input x", 2);
    if (st != TG_OK) return st;
    if (!opt || !eigenvalues || !components || !mean || !total_variance) return tg_fail(TG_ERR_VALUE, "PCA: NULL output");
    const size_t n = (size_t)x->shape[0], d = (size_t)x->shape[1];
    const size_t m = n < d ? n : d;
    if (k < 1 || k > m)
        return tg_fail(TG_ERR_VALUE, "n_components = %zu must be between 1 and min(n_samples, n_features) = %zu", k, m);
    if (opt->method != TG_PCA_EXACT && opt->method != TG_PCA_RANDOMIZED)
        return tg_fail(TG_ERR_VALUE, "PCA: unknown method %d", (int)opt->method);
    size_t mm;
    if (!tg_mul_size(m, m, &mm) || mm > SIZE_MAX / 8) return tg_fail(TG_ERR_OVERFLOW, "PCA: %zu x %zu Gram matrix overflows", m, m);
    st = tg_red_check_budget((double)mm * 8.0 * (opt->method == TG_PCA_EXACT ? 1.0 : 1.5), "PCA's Gram matrix (min(n, d)^2 doubles)",
                             "reduce the number of samples or features (for example, PCA a random subset of rows)");
    if (st != TG_OK) return st;
    if (opt->method == TG_PCA_EXACT && x->dtype == TG_F32 && n >= d && d >= 256 && 2 * k <= m &&
        (double)n * (double)d * (double)d >= TG_PCA_MIXED_MIN_MADDS) {
        bool done = false;
        st = exact_mixed(x, k, opt->center, eigenvalues, components, mean, total_variance, &done);
        if (st != TG_OK) return st;
        if (done) {
            flip_signs(components, k, d);
            return TG_OK;
        }
    }
    double *G = tg_alloc_aligned(mm * sizeof(double));
    double *w = malloc(sizeof(double) * m);
    double *vecs = NULL;
    if (!G || !w) {
        st = tg_fail(TG_ERR_NOMEM, "PCA: out of memory for the %zu x %zu Gram matrix (%.1f MB)", m, m, (double)mm * 8e-6);
        goto done;
    }
    st = mean_and_check(x, opt->center ? mean : NULL);
    if (st != TG_OK) goto done;
    if (!opt->center) memset(mean, 0, sizeof(double) * d);
    const bool f32 = opt->method == TG_PCA_RANDOMIZED && x->dtype == TG_F32;
    st = gram(x, opt->center ? mean : NULL, f32, G);
    if (st != TG_OK) goto done;
    double trace = 0.0;
    for (size_t t = 0; t < m; t++) trace += G[t * m + t];
    const double denom = (double)(n - 1);
    *total_variance = trace / denom;

    /* top-k eigenvectors of G as rows of `vecs` (k x m), eigenvalues of G in w[0..k-1] */
    if (opt->method == TG_PCA_EXACT && 2 * k <= m) {
        /* a few components (the common case, e.g. 50 of 768): only those eigenvectors */
        vecs = malloc(sizeof(double) * k * m);
        if (!vecs) {
            st = tg_fail(TG_ERR_NOMEM, "PCA: out of memory");
            goto done;
        }
        st = tg_red_eigh_top(G, m, k, w, vecs);
        if (st != TG_OK) goto done;
    } else if (opt->method == TG_PCA_EXACT) {
        st = tg_eigh(G, m, w);
        if (st != TG_OK) goto done;
        vecs = G; /* descending order: reverse rows and eigenvalues */
        for (size_t j = 0; j < m / 2; j++) {
            const size_t src = m - 1 - j;
            double *a = G + j * m, *b = G + src * m;
            for (size_t t = 0; t < m; t++) {
                double u = a[t];
                a[t] = b[t];
                b[t] = u;
            }
            double u = w[j];
            w[j] = w[src];
            w[src] = u;
        }
    } else {
        vecs = malloc(sizeof(double) * k * m);
        if (!vecs) {
            st = tg_fail(TG_ERR_NOMEM, "PCA: out of memory");
            goto done;
        }
        st = randomized_eig(G, m, k, opt, w, vecs);
        if (st != TG_OK) goto done;
    }
    for (size_t j = 0; j < k; j++) eigenvalues[j] = w[j] / denom;

    if (n >= d) {
        memcpy(components, vecs, sizeof(double) * k * d);
    } else {
        /* V = U Xc / sigma, accumulated over row blocks of x */
        memset(components, 0, sizeof(double) * k * d);
        size_t bs = block_rows(d);
        if (bs > n) bs = n;
        double *blk = tg_alloc_aligned(bs * d * sizeof(double));
        if (!blk) {
            st = tg_fail(TG_ERR_NOMEM, "PCA: out of memory");
            goto done;
        }
        for (size_t b0 = 0; b0 < n; b0 += bs) {
            const size_t cnt = n - b0 < bs ? n - b0 : bs;
            convert_rows(x, b0, cnt, opt->center ? mean : NULL, blk);
            tg_red_dgemm(false, false, k, d, cnt, 1.0, vecs + b0, m, blk, d, 1.0, components, d);
        }
        free(blk);
        const double smax = sqrt(fmax(w[0], 0.0));
        for (size_t j = 0; j < k; j++) {
            const double s = sqrt(fmax(w[j], 0.0));
            double *v = components + j * d;
            if (!(s > 1e-10 * smax) || s == 0.0)
                memset(v, 0, sizeof(double) * d); /* null direction: completed below */
            else
                for (size_t t = 0; t < d; t++) v[t] /= s;
        }
        st = tg_orthonormalize_rows(components, k, d);
        if (st != TG_OK) goto done;
    }
    flip_signs(components, k, d);
done:
    if (vecs != G) free(vecs);
    free(G);
    free(w);
    return st;
}

tg_status tg_pca_transform(const tg_view *x, const double *mean, const double *components, size_t k, double *out) {
    tg_status st = tg_red_check_matrix(x, "x", 1);
    if (st != TG_OK) return st;
    if (!components || !out || k == 0) return tg_fail(TG_ERR_VALUE, "PCA transform: no components");
    const size_t n = (size_t)x->shape[0], d = (size_t)x->shape[1];
    size_t bs = block_rows(d);
    if (bs > n) bs = n;
    double *blk = tg_alloc_aligned(bs * d * sizeof(double));
    if (!blk) return tg_fail(TG_ERR_NOMEM, "PCA transform: out of memory");
    for (size_t b0 = 0; b0 < n; b0 += bs) {
        if (tg_interrupted()) {
            free(blk);
            return TG_ERR_INTERRUPTED;
        }
        const size_t cnt = n - b0 < bs ? n - b0 : bs;
        convert_rows(x, b0, cnt, mean, blk);
        tg_red_dgemm(false, true, cnt, k, d, 1.0, blk, d, components, d, 0.0, out + b0 * k, k);
    }
    free(blk);
    return TG_OK;
}
