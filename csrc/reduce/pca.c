/*
 * pca.c - principal component analysis through the Gram matrix of the centred data.
 *
 * The data are read through the view's strides in bounded blocks (never copied whole),
 * converted to float64 (or, for the randomized method on float32 input, kept in float32
 * for BLIS ssyrk with a float64 accumulator every block), centred, and multiplied by BLIS.
 * The Gram matrix is formed over the longer axis, so it is m x m with m = min(n, d):
 *   n >= d (primal): G = Xc^T Xc  (d x d), components = eigenvectors of G;
 *   n <  d (dual):   G = Xc Xc^T  (n x n), components = Xc^T u / sigma.
 * See tokgeo/reduce.h for the contract.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
#pragma omp parallel for schedule(static) if (m * m > 65536)
            for (ptrdiff_t r = 0; r < (ptrdiff_t)m; r++)
                for (ptrdiff_t c = 0; c <= r; c++) G[(size_t)r * m + (size_t)c] += (double)Gf[(size_t)r * m + (size_t)c];
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
    /* top k: vecs[j] = U[l-1-j] Q */
    for (size_t j = 0; j < k; j++) {
        const double *u = B + (l - 1 - j) * l;
        double *out = vecs + j * m;
        vals[j] = w[l - 1 - j];
        memset(out, 0, sizeof(double) * m);
        for (size_t t = 0; t < l; t++) {
            const double c = u[t];
            const double *q = Q + t * m;
            for (size_t s = 0; s < m; s++) out[s] += c * q[s];
        }
    }
done:
    free(Q);
    free(Y);
    free(B);
    free(w);
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
