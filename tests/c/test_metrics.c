/* test_metrics.c - the metrics core without Python: special functions against closed forms,
 * row reductions on strided / negative / zero-stride views, all-pairs top-k and histogram
 * against brute force, t-tests against hand formulas, error statuses, interrupts. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "tg_test.h"
#include "tokgeo/tokgeo.h"

#include "base/blas.h" /* tg_bench_sgemm */

static int near(double got, double want, double rtol) {
    if (isnan(want)) return isnan(got);
    return fabs(got - want) <= rtol * fabs(want) + 1e-300;
}

static void test_special_closed_forms(void) {
    const double pi = 3.14159265358979323846;
    double ts[] = {-1e8, -30.0, -1.0, -1e-9, 1e-12, 0.5, 7.0};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        double t = ts[i];
        CHECK(near(tg_stdtr(1.0, t), t < -1 ? atan2(1.0, -t) / pi : 0.5 + atan(t) / pi, 1e-14));
        double s2 = sqrt(2.0 + t * t), lower2 = 1.0 / (s2 * (s2 + fabs(t))); /* df = 2, P(T < -|t|) */
        CHECK(near(tg_stdtr(2.0, t), t < 0 ? lower2 : 1.0 - lower2, 1e-14));
    }
    CHECK(tg_stdtr(3.0, 0.0) == 0.5);
    CHECK(isnan(tg_stdtr(0.0, 1.0)) && isnan(tg_stdtr(2.0, NAN)));
    CHECK(near(tg_stdtr(INFINITY, -1.0), 0.5 * erfc(1.0 / sqrt(2.0)), 1e-15));
    /* the quantile: closed forms for df = 1 (Cauchy) and df = 2, round trips, edges */
    double qs[] = {1e-12, 1e-5, 0.01, 0.3, 0.5 + 1e-9, 0.75, 0.99, 1.0 - 1e-9};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double q = qs[i];
        double c1 = q < 0.5 ? -1.0 / tan(pi * q) : (q < 0.75 ? tan(pi * (q - 0.5)) : 1.0 / tan(pi * (1.0 - q)));
        CHECK(near(tg_stdtri(1.0, q), c1, 1e-13));
        CHECK(near(tg_stdtri(2.0, q), 2.0 * (q - 0.5) / sqrt(2.0 * q * (1.0 - q)), 1e-13));
        CHECK(near(tg_stdtr(7.5, tg_stdtri(7.5, q)), q, 1e-13));
    }
    CHECK(tg_stdtri(3.0, 0.5) == 0.0 && tg_stdtri(3.0, 0.0) == -INFINITY && tg_stdtri(3.0, 1.0) == INFINITY);
    CHECK(isnan(tg_stdtri(3.0, 1.5)) && isnan(tg_stdtri(0.0, 0.3)) && isnan(tg_stdtri(NAN, 0.3)));
    double xs[] = {1e-200, 1e-9, 0.1, 0.5, 0.9, 1.0 - 1e-12};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        double x = xs[i];
        CHECK(near(tg_ibeta(1.0, 3.5, x), -expm1(3.5 * log1p(-x)), 1e-13));
        CHECK(near(tg_ibeta(2.5, 1.0, x), pow(x, 2.5), 1e-13));
        double w, w1;
        tg_ibeta_pair(4.0, 9.0, x, 1.0 - x, &w, &w1);
        CHECK(fabs(w + w1 - 1.0) < 1e-15);
    }
    CHECK(isnan(tg_ibeta(-1.0, 1.0, 0.5)) && isnan(tg_ibeta(1.0, 1.0, 2.0)));
    CHECK(tg_ibeta(2.0, 2.0, 0.0) == 0.0 && tg_ibeta(2.0, 2.0, 1.0) == 1.0);
    /* I_x(a, a) at x = 1/2 is exactly 1/2 by symmetry, for any a */
    CHECK(near(tg_ibeta(0.5, 0.5, 0.5), 0.5, 1e-15) && near(tg_ibeta(2.5e4, 2.5e4, 0.5), 0.5, 1e-13));
}

static void test_rowwise_strided_views(void) {
    /* a: 3 x 4 row-major; b: the same values read backwards through negative strides */
    double a[12], rev[12];
    for (int i = 0; i < 12; i++) a[i] = (double)(i % 5) - 1.5;
    for (int i = 0; i < 12; i++) rev[11 - i] = a[i];
    tg_view va = {a, TG_F64, 2, {3, 4}, {4, 1}};
    tg_view vb = {rev + 11, TG_F64, 2, {3, 4}, {-4, -1}};
    double out[3];
    size_t nz = 99;
    CHECK_OK(tg_rowwise(TG_ROW_COS, &va, &vb, out, &nz));
    for (int r = 0; r < 3; r++) CHECK(near(out[r], 1.0, 1e-15));
    CHECK(nz == 0);
    CHECK_OK(tg_rowwise(TG_ROW_EUCLID, &va, &vb, out, NULL));
    for (int r = 0; r < 3; r++) CHECK(out[r] == 0.0);
    /* zero-stride b: every row against one float32 vector */
    float af[12], one[4] = {1, 0, 0, 0};
    for (int i = 0; i < 12; i++) af[i] = (float)a[i];
    tg_view fa = {af, TG_F32, 2, {3, 4}, {4, 1}};
    tg_view fb = {one, TG_F32, 2, {3, 4}, {0, 1}};
    CHECK_OK(tg_rowwise(TG_ROW_DOT, &fa, &fb, out, NULL));
    for (int r = 0; r < 3; r++) CHECK(out[r] == (double)af[4 * r]);
    CHECK_OK(tg_rowwise(TG_ROW_NORM, &fa, NULL, out, NULL));
    for (int r = 0; r < 3; r++) {
        double s = 0;
        for (int j = 0; j < 4; j++) s += (double)af[4 * r + j] * af[4 * r + j];
        CHECK(near(out[r], sqrt(s), 1e-15));
    }
    /* zero vectors: NaN cosine, counted */
    double z[4] = {0, 0, 0, 0};
    tg_view vz = {z, TG_F64, 2, {3, 4}, {0, 1}};
    CHECK_OK(tg_rowwise(TG_ROW_ANGLE, &va, &vz, out, &nz));
    CHECK(nz == 3 && isnan(out[0]));
    /* errors */
    tg_view bad = va;
    bad.shape[1] = 3;
    CHECK_STATUS(tg_rowwise(TG_ROW_COS, &va, &bad, out, NULL), TG_ERR_VALUE);
    CHECK_STATUS(tg_rowwise(TG_ROW_COS, &va, &fa, out, NULL), TG_ERR_TYPE);
    bad = va;
    bad.dtype = (tg_dtype)7;
    CHECK_STATUS(tg_rowwise(TG_ROW_NORM, &bad, NULL, out, NULL), TG_ERR_TYPE);
    bad = va;
    bad.ndim = TG_MAX_NDIM + 1;
    CHECK_STATUS(tg_rowwise(TG_ROW_NORM, &bad, NULL, out, NULL), TG_ERR_VALUE);
    CHECK_STATUS(tg_rowwise((tg_rowop)42, &va, &va, out, NULL), TG_ERR_VALUE);
}

/* deterministic pseudo-random numbers in [-1, 1) */
static double rnd(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return ((double)((*s >> 8) & 0xffff) / 32768.0) - 1.0;
}

static void test_top_k_and_histogram_brute_force(void) {
    enum { N = 2100, D = 5, K = 4 }; /* two row blocks of 2048 */
    double *x = malloc(sizeof(double) * N * D);
    double *cos = malloc(sizeof(double) * N * N);
    int64_t *idx = malloc(sizeof(int64_t) * N * K);
    double *val = malloc(sizeof(double) * N * K);
    if (!x || !cos || !idx || !val) {
        CHECK(0);
        goto done;
    }
    unsigned seed = 42;
    for (int i = 0; i < N * D; i++) x[i] = rnd(&seed);
    /* stored transposed (column-major) to exercise the rs == 1 path */
    double *xt = malloc(sizeof(double) * N * D);
    if (!xt) {
        CHECK(0);
        goto done;
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) xt[j * N + i] = x[i * D + j];
    tg_view v = {xt, TG_F64, 2, {N, D}, {1, N}};
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double d = 0, na = 0, nb = 0;
            for (int c = 0; c < D; c++) {
                d += x[i * D + c] * x[j * D + c];
                na += x[i * D + c] * x[i * D + c];
                nb += x[j * D + c] * x[j * D + c];
            }
            cos[i * N + j] = d / sqrt(na * nb);
        }
    CHECK_OK(tg_top_k_similar(&v, NULL, K, true, idx, val, NULL));
    int bad = 0;
    for (int i = 0; i < N; i++) {
        /* brute force: the K best j != i */
        int used[K];
        for (int k = 0; k < K; k++) {
            int best = -1;
            for (int j = 0; j < N; j++) {
                if (j == i) continue;
                int taken = 0;
                for (int q = 0; q < k; q++) taken |= used[q] == j;
                if (!taken && (best < 0 || cos[i * N + j] > cos[i * N + best])) best = j;
            }
            used[k] = best;
            if (idx[i * K + k] != best || !near(val[i * K + k], cos[i * N + best], 1e-12)) bad++;
        }
    }
    CHECK(bad == 0);
    /* histogram of the upper triangle, 10 uniform bins on [-1, 1] */
    double edges[11];
    for (int e = 0; e <= 10; e++) edges[e] = -1.0 + e * 0.2;
    edges[10] = 1.0;
    int64_t counts[10], want[10] = {0};
    CHECK_OK(tg_similarity_histogram(&v, NULL, edges, 10, true, true, counts, NULL));
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            double c = cos[i * N + j];
            int b = 0;
            while (b < 9 && c >= edges[b + 1]) b++;
            want[b]++;
        }
    int64_t total = 0, diff = 0;
    for (int b = 0; b < 10; b++) {
        total += counts[b];
        diff += llabs(counts[b] - want[b]);
    }
    CHECK(total == (int64_t)N * (N - 1) / 2);
    CHECK(diff <= 2);
    CHECK_STATUS(tg_similarity_histogram(&v, NULL, edges, 0, true, true, counts, NULL), TG_ERR_VALUE);
    double bad_edges[3] = {0.0, -1.0, 1.0};
    CHECK_STATUS(tg_similarity_histogram(&v, NULL, bad_edges, 2, false, true, counts, NULL), TG_ERR_VALUE);
    tg_view w = {x, TG_F64, 2, {N, D - 1}, {D, 1}};
    CHECK_STATUS(tg_top_k_similar(&v, &w, K, false, idx, val, NULL), TG_ERR_VALUE);
    free(xt);
done:
    free(x);
    free(cos);
    free(idx);
    free(val);
}

static void test_cosine_matrix_copy_path(void) {
    /* a broadcast row (stride 0) forces the contiguous copy; float32 output */
    float row[3] = {1, 2, 2};
    tg_view a = {row, TG_F32, 2, {4, 3}, {0, 1}};
    float out[16];
    CHECK_OK(tg_cosine_matrix(&a, NULL, out, TG_F32, NULL));
    for (int i = 0; i < 16; i++) CHECK(fabsf(out[i] - 1.0f) < 1e-6f);
    double outd[16];
    float neg[6] = {1, 0, 0, -1, 0, 0};
    tg_view b = {neg + 3, TG_F32, 2, {2, 3}, {-3, 1}}; /* rows reversed */
    CHECK_OK(tg_cosine_matrix(&b, &a, outd, TG_F64, NULL));
    CHECK(near(outd[0], -1.0 / 3.0, 1e-6) && near(outd[4], 1.0 / 3.0, 1e-6));
}

static void test_ttests_by_hand(void) {
    double x[5] = {1, 2, 3, 4, 6}, y[4] = {2, 5, 7, 9};
    tg_view vx = {x, TG_F64, 1, {5}, {1}}, vy = {y, TG_F64, 1, {4}, {1}};
    double t, p, df, d;
    uint8_t fl;
    tg_ttest_out o = {&t, &p, &df, &d, &fl};
    CHECK_OK(tg_ttest_ind(&vx, &vy, true, TG_TWO_SIDED, false, &o));
    double m1 = 3.2, m2 = 5.75, v1 = 3.7, v2 = (3.75 * 3.75 + 0.75 * 0.75 + 1.25 * 1.25 + 3.25 * 3.25) / 3.0;
    double sp2 = (4 * v1 + 3 * v2) / 7.0;
    CHECK(near(t, (m1 - m2) / sqrt(sp2 * (1.0 / 5 + 1.0 / 4)), 1e-13) && df == 7.0);
    CHECK(near(p, 2.0 * tg_stdtr(7.0, -fabs(t)), 1e-15) && near(d, (m1 - m2) / sqrt(sp2), 1e-13));
    CHECK_OK(tg_ttest_ind(&vx, &vy, false, TG_LESS, false, &o));
    double vn1 = v1 / 5, vn2 = v2 / 4;
    CHECK(near(df, (vn1 + vn2) * (vn1 + vn2) / (vn1 * vn1 / 4 + vn2 * vn2 / 3), 1e-13));
    CHECK(near(p, tg_stdtr(df, t), 1e-15));
    double pm = 3.0;
    CHECK_OK(tg_ttest_1samp(&vx, &pm, TG_GREATER, false, &o));
    CHECK(near(t, 0.2 / sqrt(v1 / 5), 1e-13) && df == 4.0 && near(p, tg_stdtr(4.0, -t), 1e-15));
    /* NaN: propagate vs omit */
    double xn[5] = {1, 2, NAN, 4, 6};
    tg_view vn = {xn, TG_F64, 1, {5}, {1}};
    CHECK_OK(tg_ttest_1samp(&vn, &pm, TG_TWO_SIDED, false, &o));
    CHECK(isnan(t) && isnan(df) && (fl & TG_FLAG_NAN));
    CHECK_OK(tg_ttest_1samp(&vn, &pm, TG_TWO_SIDED, true, &o));
    CHECK(df == 3.0 && near(t, (13.0 / 4 - 3.0) / sqrt(((2.25 * 2.25 + 1.25 * 1.25 + 0.75 * 0.75 + 2.75 * 2.75) / 3) / 4), 1e-13));
    /* correlations: perfect rank agreement, Pearson of a line */
    double r, pr;
    CHECK_OK(tg_corr(TG_SPEARMAN, &vx, &vx, TG_TWO_SIDED, false, &r, &pr, &fl));
    CHECK(r == 1.0 && pr == 0.0);
    double lin[5] = {3, 5, 7, 9, 13};
    tg_view vl = {lin, TG_F64, 1, {5}, {1}};
    CHECK_OK(tg_corr(TG_PEARSON, &vx, &vl, TG_TWO_SIDED, false, &r, &pr, &fl));
    CHECK(near(r, 1.0, 1e-15));
    double c[3] = {2, 2, 2};
    tg_view vc = {c, TG_F64, 1, {3}, {1}}, v3 = {x, TG_F64, 1, {3}, {1}};
    CHECK_OK(tg_corr(TG_PEARSON, &v3, &vc, TG_TWO_SIDED, false, &r, &pr, &fl));
    CHECK(isnan(r) && (fl & TG_FLAG_CONSTANT));
    CHECK_STATUS(tg_corr(TG_PEARSON, &vx, &vy, TG_TWO_SIDED, false, &r, &pr, &fl), TG_ERR_VALUE);
    CHECK_STATUS(tg_ttest_rel(&vx, &vy, TG_TWO_SIDED, false, &o), TG_ERR_VALUE);
}

static void test_softmax_rows(void) {
    double x[6] = {1000, 0, -1000, 1, 1, 1};
    tg_view v = {x, TG_F64, 2, {2, 3}, {3, 1}};
    double out[6], h[2];
    CHECK_OK(tg_softmax(TG_SOFTMAX, &v, out, TG_F64, 1.0));
    CHECK(out[0] == 1.0 && out[1] == 0.0 && near(out[3], 1.0 / 3.0, 1e-15));
    CHECK_OK(tg_softmax(TG_LOG_SOFTMAX, &v, out, TG_F64, 1.0));
    CHECK(out[0] == 0.0 && out[2] == -2000.0);
    CHECK_OK(tg_softmax(TG_ENTROPY, &v, h, TG_F64, log(2.0)));
    CHECK(h[0] == 0.0 && near(h[1], log(3.0) / log(2.0), 1e-15));
    CHECK_STATUS(tg_softmax(TG_ENTROPY, &v, h, TG_F64, 0.0), TG_ERR_VALUE);
}

static int stop_now(void *ctx) {
    (*(int *)ctx)++;
    return 1;
}

static void test_interrupt(void) {
    enum { N = 1500, D = 8 };
    float *x = malloc(sizeof(float) * N * D);
    int64_t *idx = malloc(sizeof(int64_t) * N);
    double *val = malloc(sizeof(double) * N);
    if (!x || !idx || !val) {
        CHECK(0);
    } else {
        for (int i = 0; i < N * D; i++) x[i] = (float)(i % 7) - 3.0f;
        tg_view v = {x, TG_F32, 2, {N, D}, {D, 1}};
        int calls = 0;
        tg_set_interrupt_hook(stop_now, &calls);
        /* the hook is rate-limited to every ~20 ms: let 30 ms pass (C11 clock only) */
        struct timespec t0, t1;
        timespec_get(&t0, TIME_UTC);
        do timespec_get(&t1, TIME_UTC);
        while ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec) < 0.03);
        CHECK_STATUS(tg_top_k_similar(&v, NULL, 1, true, idx, val, NULL), TG_ERR_INTERRUPTED);
        CHECK(calls >= 1);
        tg_set_interrupt_hook(NULL, NULL);
        CHECK_OK(tg_top_k_similar(&v, NULL, 1, true, idx, val, NULL));
    }
    free(x);
    free(idx);
    free(val);
}

static void test_bench_helper(void) {
    double s = -1;
    CHECK_OK(tg_bench_sgemm(64, 32, 16, 2, &s));
    CHECK(s >= 0.0);
    CHECK_STATUS(tg_bench_sgemm(0, 32, 16, 1, &s), TG_ERR_VALUE);
}

TG_TEST_MAIN(TG_CASE(test_special_closed_forms), TG_CASE(test_rowwise_strided_views),
             TG_CASE(test_top_k_and_histogram_brute_force), TG_CASE(test_cosine_matrix_copy_path),
             TG_CASE(test_ttests_by_hand), TG_CASE(test_softmax_rows), TG_CASE(test_interrupt),
             TG_CASE(test_bench_helper))
