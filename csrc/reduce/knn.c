/*
 * reduce/knn.c - exact k nearest neighbours of every row, for t-SNE's sparse affinities.
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

/* float64 search of the listed rows against all rows (step 3) */
static tg_status fallback_rows(const double *a, const double *sq, size_t n, size_t d, size_t k, tg_tsne_metric metric,
                               const size_t *rows, size_t m, size_t *nbr, double *dist) {
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
            const size_t i = rows[s + (size_t)t];
            const double *o = e + (size_t)t * n;
            tg_red_knn_row(o, n, i, k, hd + (size_t)tid * k, hi + (size_t)tid * k);
            for (size_t c = 0; c < k; c++) {
                nbr[i * k + c] = hi[(size_t)tid * k + c];
                dist[i * k + c] = hd[(size_t)tid * k + c];
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
        size_t *cnt = calloc(n, sizeof(size_t));
        if (!cnt) {
            st = tg_fail(TG_ERR_NOMEM, "t-SNE: out of memory for the neighbour search");
            goto done;
        }
        for (size_t t = 0; t < nfail; t++) cnt[fail[t]] = 1;
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (cnt[i]) fail[w++] = i;
        free(cnt);
        st = fallback_rows(a, sq, n, d, k, metric, fail, nfail, nbr, dist);
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
