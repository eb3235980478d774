/* test_reduce.c - eigensolver, PCA, t-SNE and trustworthiness in plain C (run under
 * ASan/UBSan by scripts/c-tests.sh): known answers, strided views, every error path. */
#include <math.h>
#include <stdlib.h>

#include "tg_test.h"
#include "tokgeo/tokgeo.h"
#include "reduce/internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static double frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(*s >> 11) / 9007199254740992.0) * 2.0 - 1.0;
}

static tg_view view2(void *data, tg_dtype dt, ptrdiff_t n, ptrdiff_t d, ptrdiff_t s0, ptrdiff_t s1) {
    tg_view v;
    memset(&v, 0, sizeof v);
    v.data = data;
    v.dtype = dt;
    v.ndim = 2;
    v.shape[0] = n;
    v.shape[1] = d;
    v.stride[0] = s0;
    v.stride[1] = s1;
    return v;
}

/* max |A v_i - w_i v_i| and max |V V^T - I| for eigenvectors in rows of V */
static void eig_residuals(const double *a, const double *V, const double *w, size_t n, double *res, double *orth) {
    *res = 0;
    *orth = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < n; r++) {
            double s = 0;
            for (size_t c = 0; c < n; c++) s += a[r * n + c] * V[i * n + c];
            *res = fmax(*res, fabs(s - w[i] * V[i * n + r]));
        }
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t c = 0; c < n; c++) s += V[i * n + c] * V[j * n + c];
            *orth = fmax(*orth, fabs(s - (i == j ? 1.0 : 0.0)));
        }
    }
}

static void test_eigh_known(void) {
    /* tridiagonal Toeplitz (2 on the diagonal, -1 off it): w_k = 2 - 2 cos(k pi / (n + 1)) */
    for (size_t n = 1; n <= 40; n += 13) {
        double *a = calloc(n * n, sizeof(double)), *a0 = calloc(n * n, sizeof(double)), *w = calloc(n, sizeof(double));
        for (size_t i = 0; i < n; i++) {
            a[i * n + i] = 2;
            if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = -1;
        }
        memcpy(a0, a, n * n * sizeof(double));
        CHECK_OK(tg_eigh(a, n, w));
        for (size_t k = 0; k < n; k++) CHECK(fabs(w[k] - (2.0 - 2.0 * cos((double)(k + 1) * 3.14159265358979323846 / (double)(n + 1)))) < 1e-13);
        double res, orth;
        eig_residuals(a0, a, w, n, &res, &orth);
        CHECK(res < 1e-13 && orth < 1e-13);
        free(a);
        free(a0);
        free(w);
    }
    /* repeated eigenvalues (identity + rank one) and the zero matrix */
    size_t n = 17;
    double *a = calloc(n * n, sizeof(double)), *a0 = calloc(n * n, sizeof(double)), *w = calloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) a[i * n + j] = (i == j ? 3.0 : 0.0) + 1.0;
    memcpy(a0, a, n * n * sizeof(double));
    CHECK_OK(tg_eigh(a, n, w));
    for (size_t k = 0; k + 1 < n; k++) CHECK(fabs(w[k] - 3.0) < 1e-13);
    CHECK(fabs(w[n - 1] - (3.0 + (double)n)) < 1e-12);
    double res, orth;
    eig_residuals(a0, a, w, n, &res, &orth);
    CHECK(res < 1e-12 && orth < 1e-13);
    memset(a, 0, n * n * sizeof(double));
    CHECK_OK(tg_eigh(a, n, w));
    for (size_t k = 0; k < n; k++) CHECK(w[k] == 0.0);
    /* random symmetric */
    uint64_t s = 7;
    n = 60;
    double *b = calloc(n * n, sizeof(double)), *b0 = calloc(n * n, sizeof(double)), *wb = calloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) b[i * n + j] = b[j * n + i] = frand(&s);
    memcpy(b0, b, n * n * sizeof(double));
    CHECK_OK(tg_eigh(b, n, wb));
    eig_residuals(b0, b, wb, n, &res, &orth);
    CHECK(res < 1e-12 && orth < 1e-13);
    for (size_t k = 0; k + 1 < n; k++) CHECK(wb[k] <= wb[k + 1]);
    /* non-finite entry */
    b[5 * n + 3] = NAN;
    CHECK_STATUS(tg_eigh(b, n, wb), TG_ERR_VALUE);
    CHECK(strstr(tg_last_error(), "not finite") != NULL);
    free(a);
    free(a0);
    free(w);
    free(b);
    free(b0);
    free(wb);
}

static void test_orthonormalize(void) {
    double q[3 * 4] = {1, 1, 0, 0, 2, 2, 0, 0, 0, 1, 1, 0}; /* row 1 dependent on row 0 */
    CHECK_OK(tg_orthonormalize_rows(q, 3, 4));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int c = 0; c < 4; c++) s += q[i * 4 + c] * q[j * 4 + c];
            CHECK(fabs(s - (i == j)) < 1e-14);
        }
    CHECK_STATUS(tg_orthonormalize_rows(q, 5, 4), TG_ERR_VALUE);
}

/* points on a line a + t b (plus nothing else): one component = b/|b|, variance var(t)|b|^2 */
static void test_pca_line_and_views(void) {
    enum { N = 50, D = 4 };
    double x[N * D], t[N];
    const double b[D] = {-1, 2, 0.5, -3}, a[D] = {1, 2, 3, 4};
    uint64_t s = 3;
    double mt = 0;
    for (int i = 0; i < N; i++) {
        t[i] = frand(&s);
        mt += t[i];
    }
    mt /= N;
    double vt = 0, bb = 0;
    for (int i = 0; i < N; i++) vt += (t[i] - mt) * (t[i] - mt);
    vt /= N - 1;
    for (int c = 0; c < D; c++) bb += b[c] * b[c];
    for (int i = 0; i < N; i++)
        for (int c = 0; c < D; c++) x[i * D + c] = a[c] + t[i] * b[c];
    tg_pca_options opt = {TG_PCA_EXACT, true, 0, 10, 7};
    double ev[2], comp[2 * D], mean[D], tv;
    tg_view v = view2(x, TG_F64, N, D, D, 1);
    CHECK_OK(tg_pca(&v, 2, &opt, ev, comp, mean, &tv));
    CHECK(fabs(ev[0] - vt * bb) < 1e-12 * vt * bb);
    CHECK(fabs(ev[1]) < 1e-12 * vt * bb);
    CHECK(fabs(tv - vt * bb) < 1e-12 * tv);
    /* sign convention: largest |entry| (b[3] = -3) positive -> component = -b/|b| */
    for (int c = 0; c < D; c++) CHECK(fabs(comp[c] + b[c] / sqrt(bb)) < 1e-12);
    for (int c = 0; c < D; c++) CHECK(fabs(mean[c] - (a[c] + mt * b[c])) < 1e-12);
    /* the same data reversed (negative row stride) and as float32 Fortran order */
    double ev2[2], comp2[2 * D], mean2[D], tv2;
    tg_view rv = view2(x + (N - 1) * D, TG_F64, N, D, -D, 1);
    CHECK_OK(tg_pca(&rv, 2, &opt, ev2, comp2, mean2, &tv2));
    CHECK(fabs(ev2[0] - ev[0]) < 1e-12 * ev[0]);
    for (int c = 0; c < D; c++) CHECK(fabs(comp2[c] - comp[c]) < 1e-12);
    float xf[N * D];
    for (int i = 0; i < N; i++)
        for (int c = 0; c < D; c++) xf[c * N + i] = (float)x[i * D + c];
    tg_view fv = view2(xf, TG_F32, N, D, 1, N);
    opt.method = TG_PCA_RANDOMIZED;
    CHECK_OK(tg_pca(&fv, 1, &opt, ev2, comp2, mean2, &tv2));
    CHECK(fabs(ev2[0] - ev[0]) < 1e-5 * ev[0]);
    for (int c = 0; c < D; c++) CHECK(fabs(comp2[c] - comp[c]) < 1e-5);
    /* projection */
    double proj[N];
    CHECK_OK(tg_pca_transform(&v, mean, comp, 1, proj));
    for (int i = 0; i < N; i++) CHECK(fabs(proj[i] + (t[i] - mt) * sqrt(bb)) < 1e-12);
    /* the dual path (n < d): 3 samples in 5 dimensions */
    double y[3 * 5] = {1, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 1};
    double ey[2], cy[2 * 5], my[5], tvy;
    tg_view yv = view2(y, TG_F64, 3, 5, 5, 1);
    opt.method = TG_PCA_EXACT;
    CHECK_OK(tg_pca(&yv, 2, &opt, ey, cy, my, &tvy));
    double tr = 0;
    for (int c = 0; c < 5; c++) {
        double m = (y[c] + y[5 + c] + y[10 + c]) / 3, s2 = 0;
        for (int i = 0; i < 3; i++) s2 += (y[i * 5 + c] - m) * (y[i * 5 + c] - m);
        tr += s2 / 2;
    }
    CHECK(fabs(ey[0] + ey[1] - tr) < 1e-12 * tr); /* rank 2: two eigenvalues carry the trace */
    CHECK(fabs(tvy - tr) < 1e-12 * tr);
}

/* Exact PCA of large float32 input (n d^2 >= TG_PCA_MIXED_MIN_MADDS): the float32 Gram
 * matrix + float64 Rayleigh-Ritz route, against the float64 route on the same values as
 * doubles.  Data: a geometric spectrum (rate per component) in random directions, column
 * means ~5.  A graded spectrum (rate 0.6) takes the fallback: bit-identical to float64 input. */
static void pca_f32_case(double rate, bool expect_fallback) {
    enum { N = 16384, D = 768, K = 24, DW = D + 5 };
    float *xf = malloc(sizeof(float) * N * DW);
    double *xd = malloc(sizeof(double) * N * D);
    double *ev = malloc(sizeof(double) * K), *evd = malloc(sizeof(double) * K), *ev2 = malloc(sizeof(double) * K);
    double *comp = malloc(sizeof(double) * K * D), *compd = malloc(sizeof(double) * K * D);
    double *comp2 = malloc(sizeof(double) * K * D);
    double *mean = malloc(sizeof(double) * D), *meand = malloc(sizeof(double) * D), *mean2 = malloc(sizeof(double) * D);
    double *dirs = malloc(sizeof(double) * 8 * D);
    CHECK(xf && xd && ev && evd && ev2 && comp && compd && comp2 && mean && meand && mean2 && dirs);
    uint64_t s = 11;
    for (int t = 0; t < 8 * D; t++) dirs[t] = frand(&s);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < D; c++) {
            /* coordinate c: scale rate^c, a noise floor, and a periodic pattern (8 fixed rows) */
            const double z = frand(&s) * pow(rate, (double)c) + 0.01 * frand(&s);
            xf[(size_t)i * DW + c] = (float)(5.0 + z + 0.3 * dirs[(size_t)(c % 8) * D + (size_t)(i % D)]);
        }
    for (int i = 0; i < N; i++)
        for (int c = 0; c < D; c++) xd[(size_t)i * D + c] = (double)xf[(size_t)i * DW + c];
    tg_pca_options opt = {TG_PCA_EXACT, true, 0, 10, 7};
    double tv, tvd, tv2;
    tg_view vf = view2(xf, TG_F32, N, D, DW, 1), vd = view2(xd, TG_F64, N, D, D, 1);
    CHECK_OK(tg_pca(&vf, K, &opt, ev, comp, mean, &tv));
    CHECK_OK(tg_pca(&vd, K, &opt, evd, compd, meand, &tvd));
    bool same = memcmp(ev, evd, sizeof(double) * K) == 0 && memcmp(comp, compd, sizeof(double) * K * D) == 0;
    CHECK(same == expect_fallback);
    double e_ev = 0, e_comp = 0, e_mean = 0;
    for (int j = 0; j < K; j++) e_ev = fmax(e_ev, fabs(ev[j] - evd[j]) / evd[j]);
    for (int t = 0; t < K * D; t++) e_comp = fmax(e_comp, fabs(comp[t] - compd[t]));
    for (int c = 0; c < D; c++) e_mean = fmax(e_mean, fabs(mean[c] - meand[c]) / fabs(meand[c]));
    CHECK(e_ev < 1e-11);
    CHECK(e_comp < 1e-6);
    CHECK(e_mean < 1e-13);
    CHECK(fabs(tv - tvd) < 1e-12 * tvd);
    /* the same values through a column stride of 1 in a Fortran-ordered copy: the same bits */
    float *xt = malloc(sizeof(float) * N * D);
    CHECK(xt != NULL);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < D; c++) xt[(size_t)c * N + (size_t)i] = xf[(size_t)i * DW + c];
    tg_view vt = view2(xt, TG_F32, N, D, 1, N);
    CHECK_OK(tg_pca(&vt, K, &opt, ev2, comp2, mean2, &tv2));
    CHECK(memcmp(ev, ev2, sizeof(double) * K) == 0 && memcmp(comp, comp2, sizeof(double) * K * D) == 0);
    CHECK(tv == tv2);
    /* a NaN deep inside is reported at its position */
    xf[(size_t)12001 * DW + 17] = NAN;
    CHECK_STATUS(tg_pca(&vf, K, &opt, ev, comp, mean, &tv), TG_ERR_VALUE);
    CHECK(strstr(tg_last_error(), "x[12001, 17] is NaN") != NULL);
    free(xt);
    free(xf);
    free(xd);
    free(ev);
    free(evd);
    free(ev2);
    free(comp);
    free(compd);
    free(comp2);
    free(mean);
    free(meand);
    free(mean2);
    free(dirs);
}

static void test_pca_float32_large(void) {
    pca_f32_case(0.97, false);
    pca_f32_case(0.6, true);
}

static void test_pca_errors(void) {
    double x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    double ev[4], comp[16], mean[4], tv;
    tg_pca_options opt = {TG_PCA_EXACT, true, 0, 10, 7};
    tg_view v = view2(x, TG_F64, 1, 4, 4, 1);
    CHECK_STATUS(tg_pca(&v, 1, &opt, ev, comp, mean, &tv), TG_ERR_VALUE); /* one sample */
    v = view2(x, TG_F64, 2, 4, 4, 1);
    CHECK_STATUS(tg_pca(&v, 3, &opt, ev, comp, mean, &tv), TG_ERR_VALUE); /* k > min(n, d) */
    CHECK_STATUS(tg_pca(&v, 0, &opt, ev, comp, mean, &tv), TG_ERR_VALUE);
    v.ndim = 3;
    CHECK_STATUS(tg_pca(&v, 1, &opt, ev, comp, mean, &tv), TG_ERR_VALUE);
    v.ndim = 2;
    v.dtype = (tg_dtype)7;
    CHECK_STATUS(tg_pca(&v, 1, &opt, ev, comp, mean, &tv), TG_ERR_TYPE);
    v.dtype = TG_F64;
    x[6] = INFINITY;
    CHECK_STATUS(tg_pca(&v, 1, &opt, ev, comp, mean, &tv), TG_ERR_VALUE);
    CHECK(strstr(tg_last_error(), "x[1, 2] is infinite") != NULL);
    v.shape[1] = 0;
    CHECK_STATUS(tg_pca(&v, 1, &opt, ev, comp, mean, &tv), TG_ERR_VALUE);
}

/* two well-separated clusters of 20 points in 5-D */
static void make_clusters(double *x, int n, int d) {
    uint64_t s = 11;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < d; c++) x[i * d + c] = (i < n / 2 ? 10.0 : -10.0) * (c == 0) + frand(&s);
}

static void test_tsne_runs(void) {
    enum { N = 40, D = 5 };
    double x[N * D], y[N * 2], y2[N * 2], y0[N * 2];
    make_clusters(x, N, D);
    uint64_t s = 5;
    for (int i = 0; i < N * 2; i++) y0[i] = 1e-4 * frand(&s);
    tg_view v = view2(x, TG_F64, N, D, D, 1);
    tg_tsne_options opt = {TG_TSNE_EXACT, TG_METRIC_EUCLIDEAN, 2, 5.0, 4.0, 100, 10.0, 500, 300, 1e-7, 0.5, TG_NEIGHBORS_EXACT, 0};
    for (int m = 0; m < 3; m++) {
        opt.method = m == 2 ? TG_TSNE_FFT : m ? TG_TSNE_BARNES_HUT : TG_TSNE_EXACT;
        double kl = -1, kl2 = -1;
        size_t it = 0, it2 = 0;
        memcpy(y, y0, sizeof y);
        CHECK_OK(tg_tsne(&v, &opt, y, &kl, &it));
        memcpy(y2, y0, sizeof y);
        CHECK_OK(tg_tsne(&v, &opt, y2, &kl2, &it2));
        CHECK(memcmp(y, y2, sizeof y) == 0 && kl == kl2 && it == it2); /* reproducible */
        CHECK(kl > 0 && kl < 1 && it > 100 && it < 500);
        /* the clusters separate: every point's nearest neighbour in y is in its cluster */
        int ok = 1;
        for (int i = 0; i < N; i++) {
            int best = -1;
            double bd = INFINITY;
            for (int j = 0; j < N; j++) {
                double dd = hypot(y[2 * i] - y[2 * j], y[2 * i + 1] - y[2 * j + 1]);
                if (j != i && dd < bd) {
                    bd = dd;
                    best = j;
                }
            }
            ok &= (best >= N / 2) == (i >= N / 2);
        }
        CHECK(ok);
        double tw = 0;
        tg_view ev = view2(y, TG_F64, N, 2, 2, 1);
        CHECK_OK(tg_trustworthiness(&v, &ev, 5, &tw));
        CHECK(tw > 0.8 && tw <= 1.0);
    }
    /* cosine metric and a 3-D exact embedding run too */
    opt.method = TG_TSNE_EXACT;
    opt.metric = TG_METRIC_COSINE;
    opt.dim = 3;
    double y3[N * 3];
    for (int i = 0; i < N * 3; i++) y3[i] = 1e-4 * frand(&s);
    double kl;
    size_t it;
    opt.max_iter = 60;
    CHECK_OK(tg_tsne(&v, &opt, y3, &kl, &it));
    CHECK(isfinite(kl) && it == 59);
}

static void test_tsne_affinities_and_errors(void) {
    enum { N = 30, D = 3 };
    double x[N * D];
    make_clusters(x, N, D);
    tg_view v = view2(x, TG_F64, N, D, D, 1);
    tg_tsne_options opt = {TG_TSNE_BARNES_HUT, TG_METRIC_EUCLIDEAN, 2, 4.0, 12.0, 250, 50.0, 300, 300, 1e-7, 0.5, TG_NEIGHBORS_EXACT, 0};
    for (int m = 0; m < 2; m++) {
        opt.method = m ? TG_TSNE_EXACT : TG_TSNE_BARNES_HUT;
        size_t *ip = NULL, *ix = NULL;
        double *val = NULL;
        CHECK_OK(tg_tsne_affinities(&v, &opt, &ip, &ix, &val));
        if (!ip) continue;
        double sum = 0;
        int sym = 1;
        for (size_t i = 0; i < N; i++)
            for (size_t p = ip[i]; p < ip[i + 1]; p++) {
                sum += val[p];
                CHECK(ix[p] != i);
                /* symmetric: find (j, i) */
                size_t j = ix[p];
                int found = 0;
                for (size_t q = ip[j]; q < ip[j + 1]; q++)
                    if (ix[q] == i) found = fabs(val[q] - val[p]) < 1e-15;
                sym &= found;
            }
        CHECK(sym);
        CHECK(fabs(sum - 1.0) < 1e-12);
        if (m == 1) CHECK(ip[N] == N * (N - 1));
        free(ip);
        free(ix);
        free(val);
    }
    double y[N * 2] = {0};
    double kl;
    size_t it;
    opt.method = TG_TSNE_BARNES_HUT;
    opt.perplexity = 30.0; /* >= n */
    CHECK_STATUS(tg_tsne(&v, &opt, y, &kl, &it), TG_ERR_VALUE);
    opt.perplexity = 5.0;
    opt.dim = 3;
    CHECK_STATUS(tg_tsne(&v, &opt, y, &kl, &it), TG_ERR_VALUE);
    opt.dim = 2;
    opt.learning_rate = -1;
    CHECK_STATUS(tg_tsne(&v, &opt, y, &kl, &it), TG_ERR_VALUE);
    opt.learning_rate = 50;
    tg_view small = view2(x, TG_F64, 3, D, D, 1);
    CHECK_STATUS(tg_tsne(&small, &opt, y, &kl, &it), TG_ERR_VALUE);
    y[3] = NAN;
    CHECK_STATUS(tg_tsne(&v, &opt, y, &kl, &it), TG_ERR_VALUE);
    y[3] = 0;
    x[4] = NAN;
    CHECK_STATUS(tg_tsne(&v, &opt, y, &kl, &it), TG_ERR_VALUE);
    CHECK(strstr(tg_last_error(), "x[1, 1] is NaN") != NULL);
    double tw;
    tg_view e = view2(y, TG_F64, N, 2, 2, 1);
    CHECK_STATUS(tg_trustworthiness(&v, &e, 15, &tw), TG_ERR_VALUE); /* k >= n / 2 */
    x[4] = 0;
    /* an embedding equal to the data is perfectly trustworthy */
    CHECK_OK(tg_trustworthiness(&v, &v, 5, &tw));
    CHECK(tw == 1.0);
}

/* The block FFT against a direct DFT (long double sums) for lengths 2^a 3^b, 8 lanes. */
static void test_fft_block(void) {
    static const size_t lens[] = {2, 3, 4, 6, 8, 9, 12, 16, 18, 27, 48, 81, 96, 324, 486, 512};
    uint64_t s = 11;
    for (size_t t = 0; t < sizeof lens / sizeof lens[0]; t++) {
        const size_t L = lens[t];
        double *re = malloc(sizeof(double) * L * 8), *im = malloc(sizeof(double) * L * 8);
        double *r0 = malloc(sizeof(double) * L * 8), *i0 = malloc(sizeof(double) * L * 8);
        for (size_t e = 0; e < L * 8; e++) {
            r0[e] = re[e] = frand(&s);
            i0[e] = im[e] = frand(&s);
        }
        CHECK_OK(tg_fitsne_fft_block(L, re, im));
        double worst = 0.0;
        for (size_t v = 0; v < 8; v++)
            for (size_t k = 0; k < L; k++) {
                long double sr = 0, si = 0;
                for (size_t j = 0; j < L; j++) {
                    long double ang = -2.0L * 3.14159265358979323846264338327950288L * (long double)((j * k) % L) / (long double)L;
                    long double c = cosl(ang), sn = sinl(ang);
                    sr += r0[j * 8 + v] * c - i0[j * 8 + v] * sn;
                    si += r0[j * 8 + v] * sn + i0[j * 8 + v] * c;
                }
                double e = fmax(fabs(re[k * 8 + v] - (double)sr), fabs(im[k * 8 + v] - (double)si));
                worst = fmax(worst, e / sqrt((double)L));
            }
        CHECK(worst < 1e-13);
        if (!(worst < 1e-13)) fprintf(stderr, "  L = %zu: max error %g\n", L, worst);
        free(re);
        free(im);
        free(r0);
        free(i0);
    }
    double re[8 * 5], im[8 * 5];
    memset(re, 0, sizeof re);
    memset(im, 0, sizeof im);
    CHECK_STATUS(tg_fitsne_fft_block(5, re, im), TG_ERR_VALUE); /* 5 is not 2^a 3^b */
}

/* The interpolated repulsion and normaliser against the direct O(n^2) sums, for a compact
 * cloud (fewer than 54 units across: box side below 1), a wide one (one box per unit) and
 * a wider one. */
static void test_fitsne_repulsion(void) {
    enum { N = 3000 };
    static double y[N * 2], rep[N * 2];
    static const double spans[] = {0.01, 8.0, 120.0, 300.0};
    /* relative errors of openTSNE 1.0.4's default grid on these clouds: Z 6e-5, 4e-3, 2e-2;
     * repulsion 6e-4, 2.5e-2, 4.4e-2 (span 8, 120, 300) */
    static const double tol_z[] = {1e-4, 1e-4, 1e-2, 5e-2}, tol_r[] = {1e-3, 1e-3, 5e-2, 1e-1};
    uint64_t s = 3;
    for (size_t c = 0; c < sizeof spans / sizeof spans[0]; c++) {
        for (int i = 0; i < N; i++) { /* three blobs and a uniform background */
            double cx = (i % 4) * 0.25 * spans[c], spread = i % 4 == 3 ? 0.5 * spans[c] : 0.05 * spans[c];
            y[2 * i] = cx + spread * frand(&s);
            y[2 * i + 1] = 0.3 * spans[c] * (i % 3) + spread * frand(&s);
        }
        tg_fitsne *f = NULL;
        CHECK_OK(tg_fitsne_new(N, 2, &f));
        double z = 0;
        CHECK_OK(tg_fitsne_repulsion(f, y, rep, &z));
        double zref = 0, num = 0, den = 0;
        for (int i = 0; i < N; i++) {
            double rx = 0, ry = 0;
            for (int j = 0; j < N; j++) {
                if (j == i) continue;
                double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
                double w = 1.0 / (1.0 + dx * dx + dy * dy);
                zref += w;
                rx += w * w * dx;
                ry += w * w * dy;
            }
            num += (rep[2 * i] - rx) * (rep[2 * i] - rx) + (rep[2 * i + 1] - ry) * (rep[2 * i + 1] - ry);
            den += rx * rx + ry * ry;
        }
        const double ez = fabs(z - zref) / zref, er = sqrt(num / den);
        CHECK(ez < tol_z[c] && er < tol_r[c]);
        if (!(ez < tol_z[c] && er < tol_r[c])) fprintf(stderr, "  span %g: Z rel. error %g, repulsion rel. error %g\n", spans[c], ez, er);
        /* the same result with one thread */
        static double rep1[N * 2];
        tg_fitsne *g = NULL;
        double z1 = 0;
        CHECK_OK(tg_fitsne_new(N, 1, &g));
        CHECK_OK(tg_fitsne_repulsion(g, y, rep1, &z1));
        CHECK(z1 == z && memcmp(rep1, rep, sizeof rep) == 0);
        tg_fitsne_free(g);
        tg_fitsne_free(f);
    }
    tg_fitsne *f = NULL;
    CHECK_STATUS(tg_fitsne_new(1, 1, &f), TG_ERR_VALUE);
    CHECK(f == NULL);
    CHECK_OK(tg_fitsne_new(4, 1, &f));
    double bad[8] = {0, 0, 1, 1, NAN, 0, 2, 2}, r[8], z;
    CHECK_STATUS(tg_fitsne_repulsion(f, bad, r, &z), TG_ERR_VALUE);
    tg_fitsne_free(f);
    tg_fitsne_free(NULL);
}

/* The k nearest neighbours (reduce/knn.c) against a long-double brute force: the same
 * distances (to 1e-12 of the scale), and for untied data the same indices in the same
 * order; with 30% copies of one row (ties at distance 0, rows the float filter cannot
 * certify), every returned neighbour is one of the k nearest.  Offset data (1e4 from the
 * origin), cosine, k = n - 1, the same bits with 1 and 2 threads, bad k. */
typedef struct kref {
    long double d;
    size_t j;
} kref;
static int kref_cmp(const void *pa, const void *pb) {
    const kref *a = pa, *b = pb;
    if (a->d != b->d) return a->d < b->d ? -1 : 1;
    return (a->j > b->j) - (a->j < b->j);
}
/* Rows 7, 10, 13, ... (a share dup_frac of n) become copies of row 1; cosine: rows scaled to
 * unit norm; sq [n] gets the squared norms. */
static void copies_and_norms(double *a, double *sq, size_t n, size_t d, double dup_frac, tg_tsne_metric metric) {
    for (size_t i = 0; i < (size_t)(dup_frac * (double)n); i++)
        if (1 + 3 * (i + 2) < n) memcpy(a + (1 + 3 * (i + 2)) * d, a + d, sizeof(double) * d);
    for (size_t i = 0; i < n; i++) {
        double t = 0;
        for (size_t c = 0; c < d; c++) t += a[i * d + c] * a[i * d + c];
        if (metric == TG_METRIC_COSINE) {
            for (size_t c = 0; c < d; c++) a[i * d + c] /= sqrt(t);
            t = 1.0;
        }
        sq[i] = t;
    }
}

static void knn_case(size_t n, size_t d, size_t k, double offset, double dup_frac, tg_tsne_metric metric,
                     size_t want_fallback_min) {
    double *a = malloc(sizeof(double) * n * d), *sq = malloc(sizeof(double) * n);
    size_t *nbr = malloc(sizeof(size_t) * n * k), *nbr1 = malloc(sizeof(size_t) * n * k);
    double *dist = malloc(sizeof(double) * n * k), *dist1 = malloc(sizeof(double) * n * k);
    kref *ref = malloc(sizeof(kref) * n);
    uint64_t s = 11 + n + d;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < d; c++) a[i * d + c] = offset + ((i % 5) == 0 ? 3.0 : 1.0) * frand(&s);
    copies_and_norms(a, sq, n, d, dup_frac, metric);
    size_t nfb = 0, nfb1 = 0;
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    CHECK_OK(tg_red_knn(a, sq, n, d, k, metric, nbr, dist, &nfb));
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    CHECK_OK(tg_red_knn(a, sq, n, d, k, metric, nbr1, dist1, &nfb1));
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    CHECK(nfb == nfb1 && memcmp(nbr, nbr1, sizeof(size_t) * n * k) == 0 && memcmp(dist, dist1, sizeof(double) * n * k) == 0);
    CHECK(nfb >= want_fallback_min);
    size_t bad_order = 0, bad_dist = 0;
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        long double scale = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            long double t = 0;
            if (metric == TG_METRIC_COSINE) {
                for (size_t c = 0; c < d; c++) t += (long double)a[i * d + c] * a[j * d + c];
                t = 1.0L - t;
                if (t < 0) t = 0;
            } else {
                for (size_t c = 0; c < d; c++) {
                    long double u = (long double)a[i * d + c] - a[j * d + c];
                    t += u * u;
                }
            }
            ref[m].d = t;
            ref[m].j = j;
            m++;
        }
        qsort(ref, m, sizeof(kref), kref_cmp);
        scale = metric == TG_METRIC_COSINE ? 1.0L : ref[m - 1].d;
        for (size_t q = 0; q < k; q++) {
            if (fabsl((long double)dist[i * k + q] - ref[q].d) > 1e-12L * scale) bad_dist++;
            if (dup_frac == 0 && nbr[i * k + q] != ref[q].j) bad_order++;
        }
        if (dup_frac > 0) /* every returned neighbour's true distance is at most the k-th's */
            for (size_t q = 0; q < k; q++) {
                size_t j = nbr[i * k + q];
                long double t = 0;
                for (size_t c = 0; c < d; c++) {
                    long double u = (long double)a[i * d + c] - a[j * d + c];
                    t += u * u;
                }
                if (j == i || t > ref[k - 1].d + 1e-12L * scale) bad_order++;
            }
    }
    CHECK(bad_dist == 0 && bad_order == 0);
    if (bad_dist || bad_order || nfb < want_fallback_min)
        fprintf(stderr, "  n %zu d %zu k %zu offset %g dup %g metric %d: %zu distances, %zu neighbours wrong, %zu fallback rows\n",
                n, d, k, offset, dup_frac, (int)metric, bad_dist, bad_order, nfb);
    free(a);
    free(sq);
    free(nbr);
    free(nbr1);
    free(dist);
    free(dist1);
    free(ref);
}

static void test_knn(void) {
    knn_case(1200, 40, 91, 0.0, 0.0, TG_METRIC_EUCLIDEAN, 0);   /* 5 blocks: row and column passes */
    knn_case(700, 300, 31, 1e4, 0.0, TG_METRIC_EUCLIDEAN, 0);   /* far from the origin */
    knn_case(900, 24, 91, 0.0, 0.0, TG_METRIC_COSINE, 0);
    knn_case(900, 16, 91, 0.0, 0.3, TG_METRIC_EUCLIDEAN, 200); /* 270 copies: their rows fall back */
    knn_case(40, 5, 39, 0.0, 0.0, TG_METRIC_EUCLIDEAN, 0);      /* k = n - 1: every row kept */
    knn_case(2, 3, 1, 0.0, 0.0, TG_METRIC_EUCLIDEAN, 0);
    { /* row 0 at the origin, the others on a shell of radii 1 + 1e-9 j: float32 cannot order
       * them (they are 1e-9 apart, its rounding is 6e-8), so the filter must not certify row 0 */
        enum { N = 400, Dm = 12, K = 40 };
        static double x[N * Dm], q2[N], dd[N * K];
        static size_t nb[N * K];
        uint64_t s = 5;
        for (size_t j = 1; j < N; j++) {
            double t = 0;
            for (size_t c = 0; c < Dm; c++) {
                x[j * Dm + c] = frand(&s);
                t += x[j * Dm + c] * x[j * Dm + c];
            }
            for (size_t c = 0; c < Dm; c++) x[j * Dm + c] *= (1.0 + 1e-9 * (double)j) / sqrt(t);
        }
        for (size_t j = 0; j < N; j++) {
            q2[j] = 0;
            for (size_t c = 0; c < Dm; c++) q2[j] += x[j * Dm + c] * x[j * Dm + c];
        }
        size_t nfb = 0;
        CHECK_OK(tg_red_knn(x, q2, N, Dm, K, TG_METRIC_EUCLIDEAN, nb, dd, &nfb));
        CHECK(nfb >= 1);
        int ordered = 1;
        for (size_t q = 0; q < K; q++) ordered &= nb[q] == q + 1;
        CHECK(ordered);
    }
    double a[6] = {0, 0, 0, 1, 1, 1}, sq[2] = {0, 3}, dist[2];
    size_t nbr[2];
    CHECK_STATUS(tg_red_knn(a, sq, 2, 3, 0, TG_METRIC_EUCLIDEAN, nbr, dist, NULL), TG_ERR_VALUE);
    CHECK_STATUS(tg_red_knn(a, sq, 2, 3, 2, TG_METRIC_EUCLIDEAN, nbr, dist, NULL), TG_ERR_VALUE);
}

/* The approximate search against the exact one (tested above against long double): the
 * share of the exact neighbours it finds, the same bits at 1 and 2 threads, its distances
 * those of the returned rows, ascending, no self, no repeats. */
static void knn_approx_case(size_t n, size_t d, size_t k, double dup_frac, tg_tsne_metric metric, double min_recall) {
    double *a = malloc(sizeof(double) * n * d), *sq = malloc(sizeof(double) * n);
    size_t *nb = malloc(sizeof(size_t) * n * k), *nb1 = malloc(sizeof(size_t) * n * k), *ne = malloc(sizeof(size_t) * n * k);
    double *dd = malloc(sizeof(double) * n * k), *dd1 = malloc(sizeof(double) * n * k), *de = malloc(sizeof(double) * n * k);
    unsigned char *seen = calloc(n, 1);
    CHECK(a && sq && nb && nb1 && ne && dd && dd1 && de && seen);
    if (!(a && sq && nb && nb1 && ne && dd && dd1 && de && seen)) goto out;
    uint64_t s = 21;
    for (size_t i = 0; i < n; i++) /* 8 clusters with a decaying spectrum */
        for (size_t c = 0; c < d; c++) a[i * d + c] = 4.0 * (double)((i * 7 + c) % 8 == 0) * (double)(i % 8) + frand(&s) / (1.0 + (double)c);
    copies_and_norms(a, sq, n, d, dup_frac, metric);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    double rec = 0.0;
    CHECK_OK(tg_red_knn_approx(a, sq, n, d, k, metric, 7, nb, dd, &rec));
    CHECK(rec >= 0.95); /* the sample check accepted the forest's answer */
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    CHECK_OK(tg_red_knn_approx(a, sq, n, d, k, metric, 7, nb1, dd1, NULL));
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    CHECK(memcmp(nb, nb1, sizeof(size_t) * n * k) == 0 && memcmp(dd, dd1, sizeof(double) * n * k) == 0);
    CHECK_OK(tg_red_knn(a, sq, n, d, k, metric, ne, de, NULL));
    size_t found = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t q = 0; q < k; q++) {
            const size_t j = nb[i * k + q];
            if (j >= n || j == i || seen[j]) bad++;
            if (j < n) seen[j] = 1;
            if (q && dd[i * k + q] < dd[i * k + q - 1]) bad++;
            long double t = 0;
            for (size_t c = 0; c < d && j < n; c++) {
                const long double u = (long double)a[i * d + c] - a[j * d + c];
                t += metric == TG_METRIC_COSINE ? (long double)a[i * d + c] * a[j * d + c] : u * u;
            }
            if (metric == TG_METRIC_COSINE) t = t < 1.0L ? 1.0L - t : 0.0L;
            if (fabsl((long double)dd[i * k + q] - t) > 1e-12L * (metric == TG_METRIC_COSINE ? 1.0L : de[i * k + k - 1] + 1.0L)) bad++;
            /* a neighbour as near as the exact k-th counts as found (ties among copies) */
            if (dd[i * k + q] <= de[i * k + k - 1] * (1.0 + 1e-12) + 1e-300) found++;
        }
        for (size_t q = 0; q < k; q++)
            if (nb[i * k + q] < n) seen[nb[i * k + q]] = 0;
    }
    const double recall = (double)found / (double)(n * k);
    CHECK(bad == 0 && recall >= min_recall);
    if (bad || recall < min_recall)
        fprintf(stderr, "  approx n %zu d %zu k %zu dup %g metric %d: recall %.4f, %zu bad entries\n", n, d, k, dup_frac,
                (int)metric, recall, bad);
out:
    free(a);
    free(sq);
    free(nb);
    free(nb1);
    free(ne);
    free(dd);
    free(dd1);
    free(de);
    free(seen);
}

static void test_knn_approx(void) {
    knn_approx_case(3000, 32, 91, 0.0, TG_METRIC_EUCLIDEAN, 0.97);
    knn_approx_case(2000, 24, 31, 0.0, TG_METRIC_COSINE, 0.97);
    knn_approx_case(1500, 16, 91, 0.3, TG_METRIC_EUCLIDEAN, 0.97); /* 450 copies of row 1 */
    knn_approx_case(200, 8, 199, 0.0, TG_METRIC_EUCLIDEAN, 1.0);   /* one leaf: the exact search */
    knn_approx_case(300, 8, 299, 0.0, TG_METRIC_EUCLIDEAN, 1.0);   /* k = n - 1 past one leaf */
    { /* isotropic noise in 64 dimensions: the forest finds too few; the sample check sees it
       * and the answer is the exact search's, bit for bit */
        enum { N = 8000, Dm = 64, K = 31 };
        double *x = malloc(sizeof(double) * N * Dm), *q2 = malloc(sizeof(double) * N);
        double *d1 = malloc(sizeof(double) * N * K), *d2 = malloc(sizeof(double) * N * K);
        size_t *n1 = malloc(sizeof(size_t) * N * K), *n2 = malloc(sizeof(size_t) * N * K);
        CHECK(x && q2 && d1 && d2 && n1 && n2);
        if (x && q2 && d1 && d2 && n1 && n2) {
            uint64_t s = 99;
            for (size_t i = 0; i < (size_t)N * Dm; i++) x[i] = frand(&s);
            copies_and_norms(x, q2, N, Dm, 0.0, TG_METRIC_EUCLIDEAN);
            double recall = 2.0;
            CHECK_OK(tg_red_knn_approx(x, q2, N, Dm, K, TG_METRIC_EUCLIDEAN, 3, n1, d1, &recall));
            CHECK_OK(tg_red_knn(x, q2, N, Dm, K, TG_METRIC_EUCLIDEAN, n2, d2, NULL));
            CHECK(recall < 0.95);
            if (!(recall < 0.95)) fprintf(stderr, "  isotropic noise: sample recall %.3f\n", recall);
            CHECK(memcmp(n1, n2, sizeof(size_t) * N * K) == 0 && memcmp(d1, d2, sizeof(double) * N * K) == 0);
        }
        free(x);
        free(q2);
        free(d1);
        free(d2);
        free(n1);
        free(n2);
    }
    double a[6] = {0, 0, 0, 1, 1, 1}, sq[2] = {0, 3}, dist[2];
    size_t nbr[2];
    CHECK_STATUS(tg_red_knn_approx(a, sq, 2, 3, 0, TG_METRIC_EUCLIDEAN, 0, nbr, dist, NULL), TG_ERR_VALUE);
    CHECK_STATUS(tg_red_knn_approx(a, sq, 2, 3, 2, TG_METRIC_EUCLIDEAN, 0, nbr, dist, NULL), TG_ERR_VALUE);
}

TG_TEST_MAIN(TG_CASE(test_eigh_known), TG_CASE(test_orthonormalize), TG_CASE(test_pca_line_and_views),
             TG_CASE(test_pca_float32_large),
             TG_CASE(test_pca_errors), TG_CASE(test_tsne_runs), TG_CASE(test_tsne_affinities_and_errors),
             TG_CASE(test_fft_block), TG_CASE(test_fitsne_repulsion), TG_CASE(test_knn),
             TG_CASE(test_knn_approx))
