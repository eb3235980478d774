/*
 * reduce/knn.c - k nearest neighbours of every row, for t-SNE's sparse affinities: the exact
 * search (tg_red_knn, here first) and an approximate one for large n (tg_red_knn_approx,
 * at the end).
 *
 * A float64 search (one dgemm over all pairs, the previous method) costs 2 n^2 d flops at
 * float64 speed: 98 s for 50,257 x 768 on one core here.  This one gets the same answer for
 * a quarter of that:
 *
 *   1. Filter in float32, each pair once.  The rows (centred, Euclidean; as given, cosine)
 *      are rounded to float32 and the products of row block I (256 rows) with the rows
 *      before its end come from one thread-independent sgemm (tg_red_sgemm: half of the
 *      n^2 d products, at float32 speed).  For each pair the float distance d~ gives a lower
 *      bound L = d~ - delta of the float64 distance d, with the rigorous error bound
 *          delta_ij = c |x_i| |x_j| + 1e-12 (sq_i + sq_j),   c = f (dims + 4) 2^-24 1.02
 *      (f = 2 for squared Euclidean, 1 for 1 - cos; |x| the centred norms): the float
 *      rounding of the inputs and of a dims-term dot product, whatever the summation order,
 *      plus a float64 slack.  Row i keeps the k2 = k + 32 smallest (L, j) in a heap: pairs
 *      within block I through row i's own products, pairs with earlier blocks through
 *      block I's columns (each heap is written by one thread in each pass, so the kept set
 *      does not depend on the thread count).
 *   2. Certify and re-rank in float64.  U = L + 2 delta is an upper bound of d, so the k-th
 *      smallest U among the kept, B, bounds the k-th nearest distance from above; when
 *      the heap holds every point (n - 1 <= k2) or its largest L exceeds B, no point left
 *      out can be among the k nearest.  The kept points with L <= B get their distance in
 *      float64 (direct differences, translation invariant) and the k smallest (distance,
 *      index) are the answer.
 *   3. Rows that fail the certificate (more than k2 points within the bounds' width of the
 *      k-th distance, as with many identical rows) are searched again in float64 against
 *      all rows (dgemm), as before.
 *
 * Distances: squared Euclidean, or 1 - dot for rows of unit norm (cosine), both clamped at 0.
 * Ties: by index, as the float64 search.
 */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "base/blas.h"
#include "reduce/internal.h"

/* max-heap on (dist, idx) of size k: root is the worst kept neighbour */
static inline int worse(double da, size_t ia, double db, size_t ib) { return da > db || (da == db && ia > ib); }
static void heap_sift_down(double *hd, size_t *hi, size_t k, size_t pos) {
    for (;;) {
        size_t l = 2 * pos + 1, r = l + 1, m = pos;
        if (l < k && worse(hd[l], hi[l], hd[m], hi[m])) m = l;
        if (r < k && worse(hd[r], hi[r], hd[m], hi[m])) m = r;
        if (m == pos) return;
        double td = hd[m];
        hd[m] = hd[pos];
        hd[pos] = td;
        size_t ti = hi[m];
        hi[m] = hi[pos];
        hi[pos] = ti;
        pos = m;
    }
}
void tg_red_knn_row(const double *row, size_t n, size_t self, size_t k, double *hd, size_t *hi) {
    size_t cnt = 0;
    for (size_t j = 0; j < n; j++) {
        if (j == self) continue;
        double v = row[j];
        if (cnt < k) {
            hd[cnt] = v;
            hi[cnt] = j;
            cnt++;
            if (cnt == k)
                for (size_t p = k / 2 + 1; p-- > 0;) heap_sift_down(hd, hi, k, p);
        } else if (worse(hd[0], hi[0], v, j)) {
            hd[0] = v;
            hi[0] = j;
            heap_sift_down(hd, hi, k, 0);
        }
    }
    /* heap sort ascending */
    for (size_t end = k; end > 1; end--) {
        double td = hd[0];
        hd[0] = hd[end - 1];
        hd[end - 1] = td;
        size_t ti = hi[0];
        hi[0] = hi[end - 1];
        hi[end - 1] = ti;
        heap_sift_down(hd, hi, end - 1, 0);
    }
}

enum { KNN_BLOCK = 256, KNN_EXTRA = 32, KNN_COLS = 64 };

typedef struct knn_heaps {
    size_t n, k2;
    double *l;   /* [n][k2] lower bounds, max-heap per row on (l, idx) */
    size_t *j;   /* [n][k2] */
    uint32_t *cnt; /* [n] */
} knn_heaps;

static inline void kpush(knn_heaps *h, size_t i, double lv, size_t jv) {
    const size_t k2 = h->k2;
    double *l = h->l + i * k2;
    size_t *j = h->j + i * k2;
    uint32_t c = h->cnt[i];
    if (c < k2) {
        l[c] = lv;
        j[c] = jv;
        h->cnt[i] = ++c;
        if (c == k2)
            for (size_t p = k2 / 2 + 1; p-- > 0;) heap_sift_down(l, j, k2, p);
    } else if (worse(l[0], j[0], lv, jv)) {
        l[0] = lv;
        j[0] = jv;
        heap_sift_down(l, j, k2, 0);
    }
}

typedef struct dpair {
    double d;
    size_t j;
} dpair;

static int dpair_cmp(const void *pa, const void *pb) {
    const dpair *a = pa, *b = pb;
    if (a->d != b->d) return a->d < b->d ? -1 : 1;
    return (a->j > b->j) - (a->j < b->j);
}

static int size_cmp(const void *pa, const void *pb) {
    const size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return (a > b) - (a < b);
}

static int dbl_cmp(const void *pa, const void *pb) {
    const double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* float64 distance of two rows; eight explicit partial sums (the loop vectorises without
 * reassociation, and the order, hence the bits, is fixed) */
TG_HOT static double exact_distance(const double *ai, const double *aj, size_t d, tg_tsne_metric metric) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const size_t d8 = d & ~(size_t)7;
    double s = 0.0;
    if (metric == TG_METRIC_COSINE) {
        for (size_t p = 0; p < d8; p += 8)
            for (size_t v = 0; v < 8; v++) acc[v] += ai[p + v] * aj[p + v];
        for (size_t p = d8; p < d; p++) s += ai[p] * aj[p];
    } else {
        for (size_t p = 0; p < d8; p += 8)
            for (size_t v = 0; v < 8; v++) {
                const double t = ai[p + v] - aj[p + v];
                acc[v] += t * t;
            }
        for (size_t p = d8; p < d; p++) {
            const double t = ai[p] - aj[p];
            s += t * t;
        }
    }
    s += ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    return metric == TG_METRIC_COSINE ? fmax(1.0 - s, 0.0) : s;
}

/* The heap's admission threshold: its worst kept L, or +inf while it is not full.  A pair
 * with L above it cannot enter; one at or below it gets the exact test in kpush. */
static inline double kthreshold(const knn_heaps *h, size_t i) {
    return h->cnt[i] == h->k2 ? h->l[i * h->k2] : INFINITY;
}

/* Both scans compute L for SCAN pairs at a time into a small array (a loop the compiler
 * vectorises), then offer kpush only the pairs at or below the heap's threshold.  The
 * threshold only falls while a heap is filled, so the pairs skipped were never admissible:
 * the heaps end exactly as when every pair is offered. */
enum { SCAN = 32 };

/* heap i gets (i, j) for j in [0, n_cols), j != i, from its row of products */
TG_HOT static void row_scan(knn_heaps *h, size_t i, const float *row, size_t n_cols, const double *p, const double *q,
                            const double *nx, double beta) {
    const double pi = p[i], qi = q[i];
    double lv[SCAN];
    for (size_t j0 = 0; j0 < n_cols; j0 += SCAN) {
        const size_t m = n_cols - j0 < SCAN ? n_cols - j0 : SCAN;
        for (size_t t = 0; t < m; t++) lv[t] = pi + p[j0 + t] + beta * (double)row[j0 + t] - qi * nx[j0 + t];
        double thr = kthreshold(h, i);
        for (size_t t = 0; t < m; t++) {
            if (lv[t] > thr || j0 + t == i) continue;
            kpush(h, i, lv[t], j0 + t);
            thr = kthreshold(h, i);
        }
    }
}

/* heaps j0 .. j1-1 (j1 - j0 <= KNN_COLS) get (j, i) for the rows i in [r0, r1), from D [r1 - r0][ld] */
TG_HOT static void col_scan(knn_heaps *h, size_t j0, size_t j1, const float *D, size_t ld, size_t r0, size_t r1,
                            const double *p, const double *q, const double *nx, double beta) {
    double thr[KNN_COLS], lv[KNN_COLS];
    const size_t m = j1 - j0;
    for (size_t t = 0; t < m; t++) thr[t] = kthreshold(h, j0 + t);
    for (size_t i = r0; i < r1; i++) {
        const float *row = D + (i - r0) * ld + j0;
        const double pi = p[i], ni = nx[i];
        for (size_t t = 0; t < m; t++) lv[t] = pi + p[j0 + t] + beta * (double)row[t] - q[j0 + t] * ni;
        for (size_t t = 0; t < m; t++) {
            if (lv[t] > thr[t]) continue;
            kpush(h, j0 + t, lv[t], i);
            thr[t] = kthreshold(h, j0 + t);
        }
    }
}

/* row pass of block [r0, r1): heap i gets (i, j) for j < r1, j != i, from D [rows][r1] */
static void row_pass(knn_heaps *h, const float *D, size_t r0, size_t r1, const double *p, const double *q,
                     const double *nx, double beta) {
#pragma omp parallel for schedule(dynamic, 8)
    for (ptrdiff_t ii = 0; ii < (ptrdiff_t)(r1 - r0); ii++)
        row_scan(h, r0 + (size_t)ii, D + (size_t)ii * r1, r1, p, q, nx, beta);
}

/* column pass of block [r0, r1): heap j (j < r0) gets (j, i) for the block's rows i */
static void col_pass(knn_heaps *h, const float *D, size_t r0, size_t r1, const double *p, const double *q,
                     const double *nx, double beta) {
    const size_t ngroups = (r0 + KNN_COLS - 1) / KNN_COLS;
#pragma omp parallel for schedule(dynamic, 1)
    for (ptrdiff_t g = 0; g < (ptrdiff_t)ngroups; g++) {
        const size_t j0 = (size_t)g * KNN_COLS, j1 = j0 + KNN_COLS < r0 ? j0 + KNN_COLS : r0;
        col_scan(h, j0, j1, D, r1, r0, r1, p, q, nx, beta);
    }
}

/* float64 search of the listed rows against all rows (step 3).  The answer for rows[s] goes
 * to row rows[s] of nbr/dist ([n, k]), or to row s when compact ([m, k]). */
static tg_status fallback_rows(const double *a, const double *sq, size_t n, size_t d, size_t k, tg_tsne_metric metric,
                               const size_t *rows, size_t m, size_t *nbr, double *dist, bool compact) {
    const size_t bs = KNN_BLOCK < m ? KNN_BLOCK : m;
    const int T = tg_red_max_threads();
    double *g = malloc(sizeof(double) * bs * d);
    double *e = malloc(sizeof(double) * bs * n);
    double *hd = malloc(sizeof(double) * (size_t)T * k);
    size_t *hi = malloc(sizeof(size_t) * (size_t)T * k);
    tg_status st = TG_OK;
    if (!g || !e || !hd || !hi) {
        st = tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory for the neighbour search");
        goto done;
    }
    for (size_t s = 0; s < m; s += bs) {
        if (tg_interrupted()) {
            st = TG_ERR_INTERRUPTED;
            goto done;
        }
        const size_t cnt = s + bs < m ? bs : m - s;
        for (size_t t = 0; t < cnt; t++) memcpy(g + t * d, a + rows[s + t] * d, sizeof(double) * d);
        tg_red_distance_block(a, n, d, sq, g, rows + s, 0, cnt, metric, e);
#pragma omp parallel for schedule(dynamic, 4)
        for (ptrdiff_t t = 0; t < (ptrdiff_t)cnt; t++) {
            const int tid = tg_red_thread_id();
            const size_t i = rows[s + (size_t)t], r = compact ? s + (size_t)t : i;
            const double *o = e + (size_t)t * n;
            tg_red_knn_row(o, n, i, k, hd + (size_t)tid * k, hi + (size_t)tid * k);
            for (size_t c = 0; c < k; c++) {
                nbr[r * k + c] = hi[(size_t)tid * k + c];
                dist[r * k + c] = hd[(size_t)tid * k + c];
            }
        }
    }
done:
    free(g);
    free(e);
    free(hd);
    free(hi);
    return st;
}

tg_status tg_red_knn(const double *a, const double *sq, size_t n, size_t d, size_t k, tg_tsne_metric metric,
                     size_t *nbr, double *dist, size_t *n_fallback) {
    if (n < 2 || k < 1 || k > n - 1) return tg_fail(TG_ERR_VALUE, "kNN: need 1 <= k (%zu) < n (%zu)", k, n);
    if (n > UINT32_MAX) return tg_fail(TG_ERR_OVERFLOW, "kNN: more than 2^32 rows");
    const size_t k2 = k + KNN_EXTRA < n - 1 ? k + KNN_EXTRA : n - 1;
    const size_t bs = KNN_BLOCK < n ? KNN_BLOCK : n;
    size_t nd, nk2, dn;
    if (!tg_mul_size(n, d, &nd) || !tg_mul_size(n, k2, &nk2) || !tg_mul_size(bs, n, &dn) || nd > SIZE_MAX / 8 ||
        nk2 > SIZE_MAX / 8 || dn > SIZE_MAX / 4)
        return tg_fail(TG_ERR_OVERFLOW, "kNN: %zu x %zu input too large", n, d);
    tg_status st = tg_red_check_budget((double)nd * 4.0 + (double)nk2 * 20.0 + (double)dn * 4.0,
                                       "the t-SNE neighbour search", "use fewer samples");
    if (st != TG_OK) return st;
    knn_heaps h = {n, k2, NULL, NULL, NULL};
    float *af = tg_alloc_aligned(sizeof(float) * nd);
    float *D = tg_alloc_aligned(sizeof(float) * dn);
    double *mean = calloc(d, sizeof(double));
    double *p = malloc(sizeof(double) * n), *q = malloc(sizeof(double) * n), *nx = malloc(sizeof(double) * n);
    size_t *fail = malloc(sizeof(size_t) * n);
    h.l = malloc(sizeof(double) * nk2);
    h.j = malloc(sizeof(size_t) * nk2);
    h.cnt = calloc(n, sizeof(uint32_t));
    const int T = tg_red_max_threads();
    double *scr = malloc(sizeof(double) * (size_t)T * k2);
    dpair *prs = malloc(sizeof(dpair) * (size_t)T * k2);
    size_t nfail = 0;
    if (!af || !D || !mean || !p || !q || !nx || !fail || !h.l || !h.j || !h.cnt || !scr || !prs) {
        st = tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory for the neighbour search (%zu x %zu)", n, d);
        goto done;
    }
    const int cosine = metric == TG_METRIC_COSINE;
    if (!cosine) { /* column means, serial per column: the same bits at any thread count */
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < d; c++) mean[c] += a[i * d + c];
        for (size_t c = 0; c < d; c++) mean[c] /= (double)n;
    }
    const double f = cosine ? 1.0 : 2.0;
    const double cbound = f * ((double)d + 4.0) * 0x1p-24 * 1.02;
#pragma omp parallel for schedule(static)
    for (ptrdiff_t ii = 0; ii < (ptrdiff_t)n; ii++) {
        const size_t i = (size_t)ii;
        double s = 0.0;
        for (size_t c = 0; c < d; c++) {
            const double x = a[i * d + c] - mean[c];
            af[i * d + c] = (float)x;
            s += x * x;
        }
        const double slack = 1e-12 * sq[i];
        nx[i] = sqrt(s);
        q[i] = cbound * nx[i];
        p[i] = (cosine ? 0.5 : s) - slack; /* d~ = p_i + p_j + beta dot~ (+ the slacks) */
    }
    const double beta = cosine ? -1.0 : -2.0;
    /* 1. filter */
    for (size_t r0 = 0; r0 < n; r0 += bs) {
        if (tg_interrupted()) {
            st = TG_ERR_INTERRUPTED;
            goto done;
        }
        const size_t r1 = r0 + bs < n ? r0 + bs : n;
        tg_red_sgemm(false, true, r1 - r0, r1, d, 1.0f, af + r0 * d, d, af, d, 0.0f, D, r1);
        row_pass(&h, D, r0, r1, p, q, nx, beta);
        if (r0 > 0) col_pass(&h, D, r0, r1, p, q, nx, beta);
    }
    /* 2. certify and re-rank */
#pragma omp parallel for schedule(dynamic, 32)
    for (ptrdiff_t ii = 0; ii < (ptrdiff_t)n; ii++) {
        const size_t i = (size_t)ii;
        const int tid = tg_red_thread_id();
        double *u = scr + (size_t)tid * k2;
        dpair *pr = prs + (size_t)tid * k2;
        const double *l = h.l + i * k2;
        const size_t *jj = h.j + i * k2;
        const size_t c = h.cnt[i];
        for (size_t t = 0; t < c; t++) u[t] = l[t] + 2.0 * (q[i] * nx[jj[t]] + 1e-12 * (sq[i] + sq[jj[t]]));
        qsort(u, c, sizeof(double), dbl_cmp);
        const double B = u[k - 1];
        const int full = c == k2 && k2 < n - 1;
        if (full && !(l[0] > B)) { /* l[0]: the heap's largest lower bound */
            size_t slot;
#pragma omp atomic capture
            slot = nfail++;
            fail[slot] = i;
            continue;
        }
        size_t m = 0;
        for (size_t t = 0; t < c; t++)
            if (l[t] <= B) {
                pr[m].d = exact_distance(a + i * d, a + (size_t)jj[t] * d, d, metric);
                pr[m].j = jj[t];
                m++;
            }
        qsort(pr, m, sizeof(dpair), dpair_cmp);
        for (size_t t = 0; t < k; t++) {
            nbr[i * k + t] = pr[t].j;
            dist[i * k + t] = pr[t].d;
        }
    }
    /* 3. the rows the filter could not certify, in float64 (sorted: the same order at any
     *    thread count, although each row's answer does not depend on it) */
    if (nfail) {
        qsort(fail, nfail, sizeof(size_t), size_cmp);
        st = fallback_rows(a, sq, n, d, k, metric, fail, nfail, nbr, dist, false);
    }
done:
    if (n_fallback) *n_fallback = nfail;
    free(af);
    free(D);
    free(mean);
    free(p);
    free(q);
    free(nx);
    free(fail);
    free(h.l);
    free(h.j);
    free(h.cnt);
    free(scr);
    free(prs);
    return st;
}

/* ======================================================================================
 * Approximate k nearest neighbours, for t-SNE at large n (tg_red_knn_approx).
 *
 * The exact search above costs n^2 d products and n^2 heap tests: 25-44 s for 50,257 x 768
 * on one core here, most of a t-SNE of that size.  This one computes at most
 * n (AK_TREES * (AK_LEAF - 1) + AK_M * AK_M2 * AK_PASSES), some 4,700 n, distances instead:
 *
 *   1. A forest of AK_TREES random-projection trees over the float32 rows (centred for
 *      Euclidean).  A node is split at the median of the projections on the difference of
 *      two of its rows drawn at random (as Annoy and PyNNDescent choose directions), ties
 *      by index, until it holds at most AK_LEAF rows.  Every pair within a leaf is a
 *      candidate: one single-threaded syrk per leaf, leaves spread over the threads.
 *   2. AK_PASSES rounds of "a neighbour's neighbour is probably a neighbour" (the local join
 *      of NN-descent, Dong et al. 2011, in its gather form): row i is offered the AK_M2
 *      nearest kept of each of its own AK_M nearest kept, from a snapshot of the lists
 *      taken before the round.  Rows go in the first tree's leaf order, so that rows
 *      processed one after the other share most candidates (in cache).
 *   3. The k2 = k + AK_EXTRA kept candidates of each row get their float64 distance (as
 *      the exact search's re-rank) and the k smallest (distance, index) are the answer.
 *
 * Each row's heap is written by one thread per phase and is offered its candidates in an
 * order fixed by the seed and the data (trees in order, then the rounds), so the result is
 * the same at any thread count.  The trees' random choices come from `seed` alone.
 * Rows whose heap holds fewer than k candidates (k beyond a leaf's size) are searched
 * exactly (fallback_rows).  Then 256 rows drawn from the seed are searched exactly too: when
 * the approximate answer holds fewer than 95% of their neighbours, the data are too hard for
 * the forest (isotropic noise: the PCA-50 of a random-weight W_E gave 53%) and the exact
 * search runs for every row instead.  Measured on embedding-like data of 50,257 x 768 (perplexity 30,
 * k = 91): 99.0% of the exact affinity graph's edges found, 99.7% of P's mass, in 6-7 s
 * instead of 25-44 s on one core (tests/test_tsne.py and tests/c/test_reduce.c check the
 * recall on smaller data; benchmarks/bench_reduce.py prints it at 50,257).
 * ====================================================================================== */

enum { AK_LEAF = 256, AK_TREES = 16, AK_PASSES = 1, AK_M = 16, AK_M2 = 40, AK_EXTRA = 16, AK_CHECK = 256 };
#define AK_MIN_RECALL 0.95

/* The approximate search keeps its candidates in the exact search's heaps (knn_heaps, kpush,
 * kthreshold), with approximate distances in place of lower bounds; kpush does not look for
 * repeats, so every candidate is first checked against the marks ak_mark leaves. */

/* marks heap i's members in stamp [n] with `mark` (the thread's, fresh for each use) */
static inline void ak_mark(const knn_heaps *h, size_t i, size_t *stamp, size_t mark) {
    stamp[i] = mark;
    const size_t *j = h->j + i * h->k2;
    for (uint32_t t = 0; t < h->cnt[i]; t++) stamp[j[t]] = mark;
}

typedef struct projv {
    float v;
    uint32_t i;
} projv;

/* float32 dot product in a fixed order: 32 partial sums (four vector registers, so that the
 * loop is not bound by the latency of one chain of additions) */
TG_HOT static float ak_dot(const float *x, const float *y, size_t d) {
    float acc[32] = {0};
    const size_t d32 = d & ~(size_t)31;
    for (size_t p = 0; p < d32; p += 32)
        for (size_t v = 0; v < 32; v++) acc[v] += x[p + v] * y[p + v];
    float s = 0.0f;
    for (size_t p = d32; p < d; p++) s += x[p] * y[p];
    for (size_t v = 0; v < 8; v++) acc[v] = (acc[v] + acc[v + 16]) + (acc[v + 8] + acc[v + 24]);
    return s + (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])));
}

static inline int projv_less(projv a, projv b) { return a.v < b.v || (a.v == b.v && a.i < b.i); }

/* Rearranges pv[0 .. m) so that pv[h] is the element of rank h by (v, i), smaller ones before
 * it and larger after (Hoare's selection with a median-of-three pivot; deterministic). */
static void ak_select(projv *pv, size_t m, size_t h) {
    size_t lo = 0, hi = m - 1;
    while (hi > lo) {
        const size_t mid = lo + (hi - lo) / 2;
        if (projv_less(pv[mid], pv[lo])) { projv t = pv[mid]; pv[mid] = pv[lo]; pv[lo] = t; }
        if (projv_less(pv[hi], pv[lo])) { projv t = pv[hi]; pv[hi] = pv[lo]; pv[lo] = t; }
        if (projv_less(pv[hi], pv[mid])) { projv t = pv[hi]; pv[hi] = pv[mid]; pv[mid] = t; }
        const projv piv = pv[mid];
        size_t i = lo, j = hi;
        for (;;) {
            while (projv_less(pv[i], piv)) i++;
            while (projv_less(piv, pv[j])) j--;
            if (i >= j) break;
            projv t = pv[i];
            pv[i] = pv[j];
            pv[j] = t;
            i++;
            j--;
        }
        /* [lo, j] <= piv <= [j + 1, hi] */
        if (h <= j) hi = j;
        else lo = j + 1;
    }
}

/* One tree: perm [n] (out) holds the rows leaf after leaf; leaves [nleaf_max + 1] (out) the
 * leaf boundaries in perm, *nleaf their count.  pv [n] and w [d] are scratch. */
static void ak_tree(const float *x, size_t n, size_t d, uint64_t seed, uint32_t *perm, size_t *leaves, size_t *nleaf,
                    projv *pv, float *w, size_t *stack) {
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    size_t top = 0, nl = 0;
    stack[top++] = 0;
    stack[top++] = n;
    while (top) {
        const size_t e = stack[--top], s = stack[--top], m = e - s;
        if (m <= AK_LEAF) {
            leaves[nl++] = s;
            continue;
        }
        const size_t a = s + (size_t)(tg_rng_next(&rng) % m);
        size_t b = s + (size_t)(tg_rng_next(&rng) % (m - 1));
        if (b >= a) b++;
        const float *xa = x + (size_t)perm[a] * d, *xb = x + (size_t)perm[b] * d;
        for (size_t c = 0; c < d; c++) w[c] = xa[c] - xb[c];
        for (size_t t = s; t < e; t++) {
            pv[t - s].v = ak_dot(x + (size_t)perm[t] * d, w, d);
            pv[t - s].i = perm[t];
        }
        /* the halves below and above the median by (projection, index): equal projections,
         * as for duplicate rows, split by index */
        ak_select(pv, m, m / 2);
        for (size_t t = s; t < e; t++) perm[t] = pv[t - s].i;
        const size_t mid = s + m / 2;
        /* the right half first, so that leaves come out left to right */
        stack[top++] = mid;
        stack[top++] = e;
        stack[top++] = s;
        stack[top++] = mid;
    }
    leaves[nl] = n;
    *nleaf = nl;
}

/* every pair of one leaf, rows[0 .. m): G [AK_LEAF][d], D [AK_LEAF][AK_LEAF], dv [AK_LEAF]
 * and stamp [n] scratch, *mark the thread's stamp counter.  Row r is offered its leaf-mates
 * in the leaf's order, skipping those its heap already holds. */
static void ak_leaf(knn_heaps *h, const float *x, const double *sqf, size_t d, tg_tsne_metric metric,
                    const uint32_t *rows, size_t m, float *G, float *D, double *dv, size_t *stamp, size_t *mark) {
    for (size_t t = 0; t < m; t++) memcpy(G + t * d, x + (size_t)rows[t] * d, sizeof(float) * d);
    tg_ssyrk_lower(m, d, 1.0f, G, (ptrdiff_t)d, 1, 0.0f, D, (ptrdiff_t)m, 1, 1);
    const int cosine = metric == TG_METRIC_COSINE;
    for (size_t r = 0; r < m; r++) {
        const size_t i = rows[r];
        /* D holds the lower triangle: (r, c) at D[r][c] for c < r, at D[c][r] for c > r */
        for (size_t c = 0; c < m; c++) {
            if (c == r) continue;
            const double dot = (double)(c < r ? D[r * m + c] : D[c * m + r]);
            dv[c] = cosine ? 1.0 - dot : sqf[i] + sqf[rows[c]] - 2.0 * dot;
        }
        const size_t mk = ++*mark;
        ak_mark(h, i, stamp, mk);
        double thr = kthreshold(h, i);
        for (size_t c = 0; c < m; c++) {
            if (c == r || dv[c] > thr) continue;
            const size_t j = rows[c];
            if (stamp[j] == mk) continue;
            kpush(h, i, dv[c], j);
            thr = kthreshold(h, i);
        }
    }
}

/* heap i as a list nearest first into out [k2] (its count returned); scratch pr [k2] */
static size_t ak_sorted(const knn_heaps *h, size_t i, size_t *out, dpair *pr) {
    const size_t c = h->cnt[i];
    for (size_t t = 0; t < c; t++) {
        pr[t].d = h->l[i * h->k2 + t];
        pr[t].j = h->j[i * h->k2 + t];
    }
    qsort(pr, c, sizeof(dpair), dpair_cmp);
    for (size_t t = 0; t < c; t++) out[t] = pr[t].j;
    return c;
}

tg_status tg_red_knn_approx(const double *a, const double *sq, size_t n, size_t d, size_t k, tg_tsne_metric metric,
                            uint64_t seed, size_t *nbr, double *dist, double *recall_out) {
    if (recall_out) *recall_out = 1.0;
    if (n < 2 || k < 1 || k > n - 1) return tg_fail(TG_ERR_VALUE, "kNN: need 1 <= k (%zu) < n (%zu)", k, n);
    if (n > UINT32_MAX) return tg_fail(TG_ERR_OVERFLOW, "kNN: more than 2^32 rows");
    if (n <= AK_LEAF + 1) return tg_red_knn(a, sq, n, d, k, metric, nbr, dist, NULL); /* one leaf: all pairs */
    const size_t k2 = k + AK_EXTRA < n - 1 ? k + AK_EXTRA : n - 1;
    const size_t m1 = AK_M < k2 ? AK_M : k2, m2 = AK_M2 < k2 ? AK_M2 : k2;
    const int T = tg_red_max_threads();
    size_t nd, nk2, tn, nt, ld;
    if (!tg_mul_size(n, d, &nd) || !tg_mul_size(n, k2, &nk2) || !tg_mul_size((size_t)T, n, &tn) ||
        !tg_mul_size(n, AK_TREES, &nt) || !tg_mul_size((size_t)T * AK_LEAF, d, &ld) || nd > SIZE_MAX / 8 ||
        nk2 > SIZE_MAX / 16 || tn > SIZE_MAX / 16 || nt > SIZE_MAX / 8 || ld > SIZE_MAX / 8)
        return tg_fail(TG_ERR_OVERFLOW, "kNN: %zu x %zu input too large", n, d);
    /* float32 rows, heaps, trees, snapshot, and per thread: leaf buffers, stamps, projections */
    const double bytes = (double)nd * 4.0 + (double)nk2 * 16.0 + (double)nt * 4.0 + (double)n * (double)m2 * 8.0 +
                         (double)T * ((double)AK_LEAF * (double)(d + AK_LEAF) * 4.0 + (double)n * 16.0);
    tg_status st = tg_red_check_budget(bytes, "the approximate t-SNE neighbour search", "use fewer samples");
    if (st != TG_OK) return st;
    knn_heaps h = {n, k2, NULL, NULL, NULL};
    float *xf = tg_alloc_aligned(sizeof(float) * nd);
    double *sqf = malloc(sizeof(double) * n), *mean = calloc(d, sizeof(double));
    h.l = malloc(sizeof(double) * nk2);
    h.j = malloc(sizeof(size_t) * nk2);
    h.cnt = calloc(n, sizeof(uint32_t));
    /* trees: AK_TREES permutations and leaf lists, built in parallel (each from its own seed) */
    uint32_t *perm = malloc(sizeof(uint32_t) * nt);
    const size_t maxleaf = n / (AK_LEAF / 2) + 2;
    size_t *leaves = malloc(sizeof(size_t) * (maxleaf + 1) * AK_TREES), *nleaf = calloc(AK_TREES, sizeof(size_t));
    projv *pv = malloc(sizeof(projv) * tn);
    float *w = malloc(sizeof(float) * d * (size_t)T);
    size_t *stack = malloc(sizeof(size_t) * 256 * (size_t)T);
    float *G = tg_alloc_aligned(sizeof(float) * ld);
    float *D = tg_alloc_aligned(sizeof(float) * AK_LEAF * AK_LEAF * (size_t)T);
    size_t *snap = malloc(sizeof(size_t) * n * m2); /* the lists' snapshot for a round */
    size_t *stamp = calloc(tn, sizeof(size_t));
    size_t *cand = malloc(sizeof(size_t) * m1 * m2 * (size_t)T);
    dpair *prs = malloc(sizeof(dpair) * k2 * (size_t)T);
    size_t *lst = malloc(sizeof(size_t) * k2 * (size_t)T);
    double *dvs = malloc(sizeof(double) * AK_LEAF * (size_t)T);
    size_t *shortr = malloc(sizeof(size_t) * n), nshort = 0; /* rows with fewer than k candidates */
    unsigned char *seen = malloc(n);
    size_t *marks = calloc((size_t)T * 8, sizeof(size_t)); /* each thread's stamp counter, a cache line apart */
    bool redo_exact = false; /* the check failed: the exact search answers, after the frees below */
    if (!xf || !sqf || !mean || !h.l || !h.j || !h.cnt || !perm || !leaves || !nleaf || !pv || !w || !stack || !G ||
        !D || !snap || !stamp || !cand || !prs || !lst || !dvs || !marks || !shortr || !seen) {
        st = tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory for the neighbour search (%zu x %zu)", n, d);
        goto done;
    }
    const int cosine = metric == TG_METRIC_COSINE;
    if (!cosine) {
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < d; c++) mean[c] += a[i * d + c];
        for (size_t c = 0; c < d; c++) mean[c] /= (double)n;
    }
#pragma omp parallel for schedule(static)
    for (ptrdiff_t ii = 0; ii < (ptrdiff_t)n; ii++) {
        const size_t i = (size_t)ii;
        double s = 0.0;
        for (size_t c = 0; c < d; c++) {
            const float v = (float)(a[i * d + c] - mean[c]);
            xf[i * d + c] = v;
            s += (double)v * (double)v;
        }
        sqf[i] = s;
    }
    /* 1. the forest */
    {
        uint64_t sm = seed ^ 0x6b6e6e666f726573ull; /* "knnfores" */
        uint64_t tree_seed[AK_TREES];
        for (size_t t = 0; t < AK_TREES; t++) tree_seed[t] = tg_rng_splitmix(&sm);
#pragma omp parallel for schedule(dynamic, 1)
        for (ptrdiff_t tt = 0; tt < (ptrdiff_t)AK_TREES; tt++) {
            const size_t t = (size_t)tt, tid = (size_t)tg_red_thread_id();
            ak_tree(xf, n, d, tree_seed[t], perm + t * n, leaves + t * (maxleaf + 1), nleaf + t, pv + tid * n,
                    w + tid * d, stack + tid * 256);
        }
    }
    for (size_t t = 0; t < AK_TREES; t++) {
        if (tg_interrupted()) {
            st = TG_ERR_INTERRUPTED;
            goto done;
        }
        const size_t *lv = leaves + t * (maxleaf + 1);
        const uint32_t *pt = perm + t * n;
#pragma omp parallel for schedule(dynamic, 4)
        for (ptrdiff_t ll = 0; ll < (ptrdiff_t)nleaf[t]; ll++) {
            const size_t tid = (size_t)tg_red_thread_id(), l = (size_t)ll;
            ak_leaf(&h, xf, sqf, d, metric, pt + lv[l], lv[l + 1] - lv[l], G + tid * AK_LEAF * d,
                    D + tid * AK_LEAF * AK_LEAF, dvs + tid * AK_LEAF, stamp + tid * n, marks + tid * 8);
        }
    }
    /* 2. neighbours of neighbours */
    for (size_t pass = 0; pass < AK_PASSES; pass++) {
        if (tg_interrupted()) {
            st = TG_ERR_INTERRUPTED;
            goto done;
        }
#pragma omp parallel for schedule(dynamic, 64)
        for (ptrdiff_t ii = 0; ii < (ptrdiff_t)n; ii++) {
            const size_t i = (size_t)ii, tid = (size_t)tg_red_thread_id();
            size_t *l = lst + tid * k2;
            const size_t c = ak_sorted(&h, i, l, prs + tid * k2);
            for (size_t t = 0; t < m2; t++) snap[i * m2 + t] = t < c ? l[t] : i;
        }
#pragma omp parallel for schedule(dynamic, 64)
        for (ptrdiff_t ii = 0; ii < (ptrdiff_t)n; ii++) {
            const size_t i = perm[ii], tid = (size_t)tg_red_thread_id();
            size_t *st_ = stamp + tid * n, *cd = cand + tid * m1 * m2;
            const size_t mark = ++marks[tid * 8];
            ak_mark(&h, i, st_, mark);
            size_t nc = 0;
            for (size_t p = 0; p < m1; p++) {
                const size_t j = snap[i * m2 + p];
                for (size_t q = 0; q < m2; q++) {
                    const size_t c = snap[j * m2 + q];
                    if (st_[c] == mark) continue;
                    st_[c] = mark;
                    cd[nc++] = c;
                }
            }
            const float *xi = xf + i * d;
            for (size_t t = 0; t < nc; t++) {
                const size_t j = cd[t];
                const double dot = (double)ak_dot(xi, xf + j * d, d);
                kpush(&h, i, cosine ? 1.0 - dot : sqf[i] + sqf[j] - 2.0 * dot, j);
            }
        }
    }
    /* 3. float64 re-rank */
#pragma omp parallel for schedule(dynamic, 32)
    for (ptrdiff_t ii = 0; ii < (ptrdiff_t)n; ii++) {
        const size_t i = perm[ii], tid = (size_t)tg_red_thread_id();
        dpair *pr = prs + tid * k2;
        const size_t c = h.cnt[i];
        if (c < k) { /* fewer candidates than neighbours wanted (k beyond a leaf): searched exactly below */
            size_t slot;
#pragma omp atomic capture
            slot = nshort++;
            shortr[slot] = i;
            continue;
        }
        for (size_t t = 0; t < c; t++) {
            const size_t j = h.j[i * k2 + t];
            pr[t].d = exact_distance(a + i * d, a + j * d, d, metric);
            pr[t].j = j;
        }
        qsort(pr, c, sizeof(dpair), dpair_cmp);
        for (size_t t = 0; t < k; t++) {
            nbr[i * k + t] = pr[t].j;
            dist[i * k + t] = pr[t].d;
        }
    }
    if (nshort) { /* sorted, so that the same calls are made at any thread count */
        qsort(shortr, nshort, sizeof(size_t), size_cmp);
        st = fallback_rows(a, sq, n, d, k, metric, shortr, nshort, nbr, dist, false);
    }
    /* 4. the check: a sample of AK_CHECK rows (drawn from the seed) searched exactly; when the
     *    approximate answer holds fewer than AK_MIN_RECALL of their neighbours (neighbours as
     *    near as the exact k-th count, for ties), the data are too hard for the forest (e.g.
     *    isotropic noise of high intrinsic dimension) and every row is searched exactly. */
    if (st == TG_OK) {
        const size_t m = n < AK_CHECK ? n : AK_CHECK;
        size_t *rows = malloc(sizeof(size_t) * m), *en = malloc(sizeof(size_t) * m * k);
        double *ed = malloc(sizeof(double) * m * k);
        if (!rows || !en || !ed) {
            st = tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory for the neighbour search");
        } else {
            tg_rng rng;
            tg_rng_seed(&rng, seed ^ 0x636865636bull);
            memset(seen, 0, n);
            size_t got = 0;
            while (got < m) { /* distinct rows, sorted below */
                const size_t i = (size_t)(tg_rng_next(&rng) % n);
                if (!seen[i]) {
                    seen[i] = 1;
                    rows[got++] = i;
                }
            }
            qsort(rows, m, sizeof(size_t), size_cmp);
            st = fallback_rows(a, sq, n, d, k, metric, rows, m, en, ed, true);
            size_t found = 0;
            for (size_t s = 0; s < m && st == TG_OK; s++) {
                const double kth = ed[s * k + k - 1];
                for (size_t q = 0; q < k; q++) found += dist[rows[s] * k + q] <= kth + 1e-12 * (fabs(kth) + 1e-300);
            }
            const double recall = (double)found / (double)(m * k);
            if (recall_out) *recall_out = recall;
            redo_exact = st == TG_OK && recall < AK_MIN_RECALL;
        }
        free(rows);
        free(en);
        free(ed);
    }
done:
    free(xf);
    free(sqf);
    free(mean);
    free(h.l);
    free(h.j);
    free(h.cnt);
    free(perm);
    free(leaves);
    free(nleaf);
    free(pv);
    free(w);
    free(stack);
    free(G);
    free(D);
    free(snap);
    free(stamp);
    free(cand);
    free(prs);
    free(lst);
    free(dvs);
    free(marks);
    free(shortr);
    free(seen);
    if (redo_exact) st = tg_red_knn(a, sq, n, d, k, metric, nbr, dist, NULL);
    return st;
}
