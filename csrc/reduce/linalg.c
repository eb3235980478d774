/*
 * linalg.c - the dense symmetric eigensolver and row orthonormalisation used by the
 * reductions (PCA, the randomized range finder, t-SNE's PCA initialisation).
 *
 * tg_eigh:
 *   1. Householder tridiagonalisation A = Q T Q^T on the lower triangle.  Each step's rank-2
 *      update is deferred and fused with the next step's symmetric matrix-vector product, so
 *      the trailing triangle is streamed once per step; its rows are cut into a fixed number
 *      of chunks of equal area, shared among threads.
 *      Reflector j is stored in row j of `a`, right of the diagonal.
 *   2. Q^T is accumulated in place (backward, M <- M H_j, in blocks of 32 reflectors applied
 *      as I - V T^T V^T with two BLIS gemms), row i of `a` becoming column i of Q.
 *   3. Implicit QL with Wilkinson shifts on T (the textbook tql2/tqli iteration).  The
 *      Givens rotations of one sweep are recorded, then applied to the rows of `a` in column
 *      blocks that stay in cache, the blocks shared among threads.  Rows of `a` end as the
 *      eigenvectors.
 *   4. Eigenpairs sorted ascending.
 * Determinism: every row update and dot product runs in a fixed order whatever the thread
 * count, so results do not depend on it.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


#include "reduce/internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Row chunks of one tridiagonalisation step: a fixed number (by the block's size, never by
 * the thread count), so that every sum is taken in the same order whatever the team. */
enum { TRI_CHUNKS = 8 };

/* One tridiagonalisation step on rows [r0, r1) of the trailing block (rows and columns >= c0),
 * lower triangle only: applies the pending rank-2 update a -= pv pw^T + pw pv^T (zero vectors
 * before the first step leave `a` as it is) to a[r][c0..r], copies the updated a[r][c0] to
 * col[r] (the next step's column), and accumulates y = A v from the lower triangle (v indexed
 * from c0): row r's own sum into y[r], its transposed terms into y[c0..r).  y[c0..r1) must be
 * zero on entry.  Eight explicit partial sums per row: the loop vectorises and its order
 * (hence the bits) is fixed. */
TG_HOT static void tridiag_rows(double *a, size_t n, size_t c0, size_t r0, size_t r1, const double *pv,
                                const double *pw, const double *v, double *col, double *y) {
    double *restrict yc = y + c0;
    const double *restrict vv = v;
    const double *restrict pvc = pv + c0, *restrict pwc = pw + c0;
    for (size_t r = r0; r < r1; r++) {
        double *restrict row = a + r * n + c0;
        const size_t len = r - c0, len8 = len & ~(size_t)7; /* len entries left of the diagonal */
        const double vr = vv[len], pr = pv[r], wr = pw[r];
        double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        double s = 0.0;
        for (size_t k = 0; k < len8; k += 8)
            for (size_t u = 0; u < 8; u++) {
                const double x = row[k + u] - (pr * pwc[k + u] + wr * pvc[k + u]);
                row[k + u] = x;
                acc[u] += x * vv[k + u];
                yc[k + u] += x * vr;
            }
        for (size_t k = len8; k <= len; k++) { /* the tail and the diagonal (k = len) */
            const double x = row[k] - (pr * pwc[k] + wr * pvc[k]);
            row[k] = x;
            s += x * vv[k];
            if (k < len) yc[k] += x * vr;
        }
        s += ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        yc[len] += s;
        col[r] = row[0];
    }
}

/* y <- (I - tau v v^T) y for v, y of length len: one Householder reflector on one vector.
 * Eight explicit partial sums for the dot product: the loop vectorises, in a fixed order. */
TG_HOT static void reflect(const double *restrict v, double *restrict y, size_t len, double tau) {
    const size_t len8 = len & ~(size_t)7;
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t t = 0; t < len8; t += 8)
        for (size_t u = 0; u < 8; u++) acc[u] += v[t + u] * y[t + u];
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (size_t t = len8; t < len; t++) s += v[t] * y[t];
    s *= tau;
    for (size_t t = 0; t < len; t++) y[t] -= s * v[t];
}

/* Applies rotations rot[t] (t = 0..count-1) on row pairs (idx[t], idx[t]+1) of the n x n
 * row-major matrix a: new_i = c a_i - s a_{i+1}, new_{i+1} = s a_i + c a_{i+1}. */
TG_HOT static void apply_rotations(double *a, size_t n, const size_t *idx, const double *cs, const double *sn,
                                   size_t count) {
    enum { B = 64 };
    const ptrdiff_t nblocks = (ptrdiff_t)((n + B - 1) / B);
#pragma omp parallel for schedule(static) if (count * n > 200000 && nblocks > 1)
    for (ptrdiff_t blk = 0; blk < nblocks; blk++) {
        const size_t k0 = (size_t)blk * B;
        const size_t len = n - k0 < B ? n - k0 : B;
        for (size_t t = 0; t < count; t++) {
            double *x = a + idx[t] * n + k0;
            double *y = x + n;
            const double c = cs[t], s = sn[t];
            for (size_t k = 0; k < len; k++) {
                double xi = x[k], yi = y[k];
                y[k] = s * xi + c * yi;
                x[k] = c * xi - s * yi;
            }
        }
    }
}

/* Checks the size of a (n x n; `who` names the caller in the message), symmetrises it from
 * its lower triangle and checks that it is finite. */
static tg_status symmetrize_checked(double *a, size_t n, const char *who) {
    size_t nn;
    if (!tg_mul_size(n, n, &nn) || nn > SIZE_MAX / sizeof(double) || n > SIZE_MAX / 16)
        return tg_fail(TG_ERR_OVERFLOW, "%s: n = %zu too large", who, n);
    for (size_t r = 0; r < n; r++) {
        for (size_t c = 0; c < r; c++) a[c * n + r] = a[r * n + c];
        for (size_t c = 0; c <= r; c++)
            if (!isfinite(a[r * n + c]))
                return tg_fail(TG_ERR_VALUE, "eigendecomposition: matrix entry (%zu, %zu) is not finite", r, c);
    }
    return TG_OK;
}

/* Householder tridiagonalisation of the symmetric a (n x n, both triangles on entry, n >= 2):
 * A = Q T Q^T, Q = H_0 H_1 ... H_{n-3}, H_j = I - tau[j] v_j v_j^T.  Out: d[n] the diagonal of
 * T, e[n] its off-diagonal (e[n-1] = 0), tau[n-2], and v_j in row j of `a` at columns j+1..n-1
 * (its first entry, 1, stored); the rest of `a` is left as scratch.  Only the lower triangle
 * of the trailing block is updated, and each step's rank-2 update is deferred and fused with
 * the next step's symmetric matrix-vector product, so the block is streamed once per step
 * (half of it).  buf: 4n doubles of scratch.  TG_ERR_INTERRUPTED possible. */
static tg_status tridiagonalize(double *a, size_t n, double *d, double *e, double *tau, double *buf) {
    double *pv = buf, *pw = buf + n, *v = buf + 2 * n, *p = buf + 3 * n;
    size_t ybn;
    if (!tg_mul_size(TRI_CHUNKS + 1, n, &ybn) || ybn > SIZE_MAX / sizeof(double))
        return tg_fail(TG_ERR_OVERFLOW, "eigendecomposition: n = %zu too large", n);
    double *yb = malloc(ybn * sizeof(double)); /* TRI_CHUNKS partial products, then the saved column */
    if (!yb) return tg_fail(TG_ERR_NOMEM, "eigendecomposition: out of memory (n = %zu)", n);
    double *col = yb + (size_t)TRI_CHUNKS * n;
    memset(pv, 0, sizeof(double) * 2 * n); /* pv, pw: no update is pending before the first step */
    int pending = 0;
    for (size_t j = 0; j + 2 < n; j++) {
        if (tg_interrupted()) {
            free(yb);
            return TG_ERR_INTERRUPTED;
        }
        /* column j, rows j..n-1, with every update applied: p[j..n) */
        if (pending)
            for (size_t r = j; r < n; r++) p[r] = col[r] - (pv[r] * pw[j] + pw[r] * pv[j]);
        else
            for (size_t r = j; r < n; r++) p[r] = a[r * n + j];
        d[j] = p[j];
        const size_t c0 = j + 1, len = n - c0;
        const double *x = p + c0;
        double alpha = x[0], xnorm2 = 0.0, scale = 0.0;
        for (size_t k = 1; k < len; k++) scale = fmax(scale, fabs(x[k]));
        if (scale > 0.0) {
            for (size_t k = 1; k < len; k++) {
                double t = x[k] / scale;
                xnorm2 += t * t;
            }
        }
        double t_j, beta;
        v[0] = 1.0;
        if (scale == 0.0) {
            t_j = 0.0;
            beta = alpha;
            for (size_t k = 1; k < len; k++) v[k] = 0.0;
        } else {
            double xnorm = scale * sqrt(xnorm2);
            beta = -copysign(hypot(alpha, xnorm), alpha);
            t_j = (beta - alpha) / beta;
            double inv = 1.0 / (alpha - beta);
            for (size_t k = 1; k < len; k++) v[k] = x[k] * inv;
        }
        e[j] = beta;
        tau[j] = t_j;
        memcpy(a + j * n + c0, v, sizeof(double) * len); /* store the reflector */
        /* the pending update of the block's lower triangle, fused with y = A v */
        const size_t nch = len > 256 ? TRI_CHUNKS : 1;
        size_t bound[TRI_CHUNKS + 1]; /* rows of chunk q: [bound[q], bound[q + 1]), equal areas */
        bound[0] = c0;
        for (size_t q = 1; q < nch; q++) {
            size_t b = c0 + (size_t)((double)len * sqrt((double)q / (double)nch));
            bound[q] = b < bound[q - 1] ? bound[q - 1] : b > n ? n : b;
        }
        bound[nch] = n;
#pragma omp parallel for schedule(static) if (nch > 1)
        for (ptrdiff_t q = 0; q < (ptrdiff_t)nch; q++) {
            double *yq = yb + (size_t)q * n;
            const size_t q0 = bound[q], q1 = bound[q + 1];
            memset(yq + c0, 0, sizeof(double) * (q1 - c0));
            tridiag_rows(a, n, c0, q0, q1, pv, pw, v, col, yq);
        }
        for (size_t i = c0; i < n; i++) { /* p = tau * sum of the chunks' parts, in chunk order */
            double sum = 0.0;
            for (size_t q = 0; q < nch; q++)
                if (i < bound[q + 1]) sum += yb[q * n + i];
            p[i] = t_j * sum;
        }
        double dot = 0.0;
        for (size_t k = 0; k < len; k++) dot += p[c0 + k] * v[k];
        const double K = 0.5 * t_j * dot;
        for (size_t k = 0; k < len; k++) {
            pv[c0 + k] = v[k];
            pw[c0 + k] = p[c0 + k] - K * v[k];
        }
        pending = 1;
    }
    {
        const size_t j = n - 2;
        if (pending) {
            d[j] = col[j] - 2.0 * pv[j] * pw[j];
            e[j] = col[j + 1] - (pv[j + 1] * pw[j] + pw[j + 1] * pv[j]);
            d[j + 1] = a[(j + 1) * n + j + 1] - 2.0 * pv[j + 1] * pw[j + 1];
        } else {
            d[j] = a[j * n + j];
            e[j] = a[(j + 1) * n + j];
            d[j + 1] = a[(j + 1) * n + j + 1];
        }
        e[j + 1] = 0.0;
    }
    free(yb);
    return TG_OK;
}

/* max_i |d[i]| + |e[i]| of the tridiagonal (d[n], e[n], e[n-1] unused): a bound on its norm. */
static double tridiag_norm(const double *d, const double *e, size_t n) {
    double t = 0.0;
    for (size_t i = 0; i < n; i++) t = fmax(t, fabs(d[i]) + (i + 1 < n ? fabs(e[i]) : 0.0));
    return t;
}

/* Rotations of the QL sweeps, recorded and applied to the rows of an n x n matrix in batches. */
typedef struct rot_batch {
    double *a;  /* n x n, rows rotated */
    size_t n, count, cap;
    size_t *idx;
    double *c, *s;
} rot_batch;

/* Implicit QL with Wilkinson shifts on the tridiagonal (d[n], e[n], e[n-1] = 0): d becomes
 * the eigenvalues (unsorted), e is destroyed.  With rb, every rotation is also applied to
 * the rows of rb->a (batched); rb == NULL computes the eigenvalues alone (O(n^2)).
 * Deflation: e[m] is negligible relative to its neighbours (|d[m]| + |d[m+1]|) or, as in
 * EISPACK's tql2, to the norm of the tridiagonal matrix.  The second test matters for a
 * cluster of (near-)zero eigenvalues (rank-deficient data: fewer samples than dimensions,
 * repeated rows), where d[m] = d[m+1] = 0 and the relative test can never pass; it changes
 * no eigenvalue by more than DBL_EPSILON * ||T||, the backward error of the whole solver.
 * Without rb, T is first scaled by a power of two (exact) to a norm in [0.5, 1), so that
 * sqrt(f^2 + g^2) can stand for hypot (half the time): no square can overflow, and one
 * underflows only for entries below 1e-154 ||T||, whose rounding stays far below the
 * solver's DBL_EPSILON ||T||.  The eigenvalues are scaled back at the end. */
static tg_status ql_iterate(double *d, double *e, size_t n, rot_batch *rb) {
    double tnorm = tridiag_norm(d, e, n);
    const bool scaled = rb == NULL && tnorm > 0.0 && isfinite(tnorm);
    int ex = 0;
    if (scaled) {
        (void)frexp(tnorm, &ex);
        for (size_t i = 0; i < n; i++) {
            d[i] = ldexp(d[i], -ex);
            e[i] = ldexp(e[i], -ex);
        }
        tnorm = ldexp(tnorm, -ex);
    }
#define TG_QL_HYPOT(a, b) (scaled ? sqrt((a) * (a) + (b) * (b)) : hypot((a), (b)))
    for (size_t l = 0; l < n; l++) {
        if (tg_interrupted()) return TG_ERR_INTERRUPTED;
        int iter = 0;
        size_t m;
        do {
            for (m = l; m + 1 < n; m++) {
                double dd = fabs(d[m]) + fabs(d[m + 1]);
                if (fabs(e[m]) <= DBL_EPSILON * dd || fabs(e[m]) <= DBL_EPSILON * tnorm) break;
            }
            if (m != l) {
                if (iter++ == 60)
                    return tg_fail(TG_ERR_INTERNAL, "eigendecomposition: QL iteration did not converge (eigenvalue %zu)", l);
                if (rb && rb->count + n > rb->cap) { /* a sweep has fewer than n rotations */
                    apply_rotations(rb->a, rb->n, rb->idx, rb->c, rb->s, rb->count);
                    rb->count = 0;
                }
                double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
                double r = TG_QL_HYPOT(g, 1.0);
                g = d[m] - d[l] + e[l] / (g + copysign(r, g));
                double s = 1.0, c = 1.0, p = 0.0;
                int underflow = 0;
                for (size_t i = m; i-- > l;) {
                    double f = s * e[i], b = c * e[i];
                    r = TG_QL_HYPOT(f, g);
                    e[i + 1] = r;
                    if (r == 0.0) {
                        d[i + 1] -= p;
                        e[m] = 0.0;
                        underflow = 1;
                        break;
                    }
                    s = f / r;
                    c = g / r;
                    g = d[i + 1] - p;
                    r = (d[i] - g) * s + 2.0 * c * b;
                    p = s * r;
                    d[i + 1] = g + p;
                    g = c * r - b;
                    if (rb) {
                        rb->idx[rb->count] = i;
                        rb->c[rb->count] = c;
                        rb->s[rb->count] = s;
                        rb->count++;
                    }
                }
                if (underflow) continue;
                d[l] -= p;
                e[l] = g;
                e[m] = 0.0;
            }
        } while (m != l);
    }
#undef TG_QL_HYPOT
    if (scaled)
        for (size_t i = 0; i < n; i++) d[i] = ldexp(d[i], ex);
    if (rb) {
        apply_rotations(rb->a, rb->n, rb->idx, rb->c, rb->s, rb->count);
        rb->count = 0;
    }
    return TG_OK;
}

tg_status tg_eigh(double *a, size_t n, double *w) {
    if (n == 0) return TG_OK;
    if (a == NULL || w == NULL) return tg_fail(TG_ERR_VALUE, "tg_eigh: NULL buffer");
    tg_status st = symmetrize_checked(a, n, "tg_eigh");
    if (st != TG_OK) return st;
    if (n == 1) {
        w[0] = a[0];
        a[0] = 1.0;
        return TG_OK;
    }
    double *buf = malloc(sizeof(double) * 6 * n);
    if (!buf) return tg_fail(TG_ERR_NOMEM, "tg_eigh: out of memory (n = %zu)", n);
    double *d = w, *e = buf, *tau = buf + n;
    st = tridiagonalize(a, n, d, e, tau, buf + 2 * n);
    if (st != TG_OK) goto done;

    /* ---- 2. accumulate Q^T in place ---- */
    for (size_t r = n - 2; r < n; r++) {
        memset(a + r * n, 0, sizeof(double) * n);
        a[r * n + r] = 1.0;
    }
    /* reflectors 0 .. n-3, in blocks of NB from the last block down: M <- M (I - V T^T V^T) */
    {
        enum { NB = 32 };
        const size_t nref = n - 2;
        size_t nblk_rows;
        if (!tg_mul_size(n, NB, &nblk_rows)) {
            st = tg_fail(TG_ERR_OVERFLOW, "tg_eigh: n too large");
            goto done;
        }
        double *V = malloc(sizeof(double) * nblk_rows);
        double *W = malloc(sizeof(double) * nblk_rows);
        double *T = malloc(sizeof(double) * NB * NB);
        if (!V || !W || !T) {
            free(V);
            free(W);
            free(T);
            st = tg_fail(TG_ERR_NOMEM, "tg_eigh: out of memory (n = %zu)", n);
            goto done;
        }
        size_t j1 = nref;
        while (j1 > 0) {
            if (tg_interrupted()) {
                free(V);
                free(W);
                free(T);
                st = TG_ERR_INTERRUPTED;
                goto done;
            }
            const size_t j0 = j1 > NB ? j1 - NB : 0, nb = j1 - j0;
            const size_t c0 = j0 + 1, L = n - c0;
            /* V (L x nb, row-major): column t = reflector j0 + t, unit entry at row t */
            for (size_t r = 0; r < L; r++)
                for (size_t t = 0; t < nb; t++) {
                    const size_t jr = j0 + t; /* reflector index; its vector starts at global jr + 1 */
                    const size_t g = c0 + r;
                    double val = 0.0;
                    if (g == jr + 1)
                        val = 1.0;
                    else if (g > jr + 1)
                        val = a[jr * n + g];
                    V[r * nb + t] = val;
                }
            for (size_t t = 0; t < nb; t++) {
                memset(a + (j0 + t) * n, 0, sizeof(double) * n);
                a[(j0 + t) * n + j0 + t] = 1.0;
            }
            /* T (nb x nb upper triangular): H_j0 ... H_j1-1 = I - V T V^T */
            memset(T, 0, sizeof(double) * NB * NB);
            for (size_t i = 0; i < nb; i++) {
                const double ti = tau[j0 + i];
                T[i * NB + i] = ti;
                if (i == 0) continue;
                double w[NB];
                for (size_t q = 0; q < i; q++) {
                    double sum = 0.0;
                    for (size_t r = i; r < L; r++) sum += V[r * nb + q] * V[r * nb + i];
                    w[q] = -ti * sum;
                }
                for (size_t q = 0; q < i; q++) {
                    double sum = 0.0;
                    for (size_t u = q; u < i; u++) sum += T[q * NB + u] * w[u];
                    T[q * NB + i] = sum;
                }
            }
            /* W = M_sub V  (L x nb);  W <- W T^T;  M_sub -= W V^T */
            double *Msub = a + c0 * n + c0;
            tg_red_dgemm(false, false, L, nb, L, 1.0, Msub, n, V, nb, 0.0, W, nb);
            for (size_t r = 0; r < L; r++) {
                double tmp[NB];
                double *wr = W + r * nb;
                for (size_t c = 0; c < nb; c++) {
                    double sum = 0.0;
                    for (size_t u = c; u < nb; u++) sum += wr[u] * T[c * NB + u]; /* (W T^T)[r][c] = sum_u W[r][u] T[c][u] */
                    tmp[c] = sum;
                }
                memcpy(wr, tmp, sizeof(double) * nb);
            }
            tg_red_dgemm(false, true, L, L, nb, -1.0, W, nb, V, nb, 1.0, Msub, n);
            j1 = j0;
        }
        free(V);
        free(W);
        free(T);
    }

    /* ---- 3. implicit QL ----
     * The rotations only depend on (d, e), so many sweeps are recorded first and applied to
     * the rows of `a` together: one parallel region per batch (not one per sweep), each
     * thread taking all the batch's rotations through its own cache-sized column blocks. */
    {
        size_t cap = n * n < ((size_t)1 << 20) ? n * n : ((size_t)1 << 20);
        if (cap < n) cap = n;
        rot_batch rb = {.a = a, .n = n, .cap = cap};
        rb.idx = malloc(sizeof(size_t) * cap);
        rb.c = malloc(sizeof(double) * cap);
        rb.s = malloc(sizeof(double) * cap);
        if (!rb.idx || !rb.c || !rb.s)
            st = tg_fail(TG_ERR_NOMEM, "tg_eigh: out of memory (n = %zu)", n);
        else
            st = ql_iterate(d, e, n, &rb);
        free(rb.idx);
        free(rb.c);
        free(rb.s);
        if (st != TG_OK) goto done;
    }

    /* ---- 4. sort ascending (selection sort; n row swaps) ---- */
    for (size_t i = 0; i + 1 < n; i++) {
        size_t best = i;
        for (size_t k = i + 1; k < n; k++)
            if (d[k] < d[best]) best = k;
        if (best != i) {
            double t = d[i];
            d[i] = d[best];
            d[best] = t;
            double *x = a + i * n, *y = a + best * n;
            for (size_t k = 0; k < n; k++) {
                double u = x[k];
                x[k] = y[k];
                y[k] = u;
            }
        }
    }
done:
    free(buf);
    return st;
}

/* Solves (T - lam I) x = b in place (b becomes x) for the tridiagonal T (d[n], e[n-1]) by
 * Gaussian elimination with partial pivoting; a pivot that is (numerically) zero is
 * replaced by `tiny`, as in LAPACK's dlagtf/dlagts, so a shift equal to an eigenvalue works.
 * u: 3n doubles and m: n doubles of scratch, piv: n flags. */
static void tridiag_shifted_solve(const double *d, const double *e, size_t n, double lam, double tiny, double *u,
                                  double *m, unsigned char *piv, double *b) {
    double *u0 = u, *u1 = u + n, *u2 = u + 2 * n;
    double diag = d[0] - lam, sup = n > 1 ? e[0] : 0.0;
    for (size_t i = 0; i + 1 < n; i++) {
        const double sub = e[i], nd = d[i + 1] - lam, ns = i + 2 < n ? e[i + 1] : 0.0;
        if (fabs(diag) >= fabs(sub)) { /* the leftover row is the pivot */
            if (fabs(diag) < tiny) diag = copysign(tiny, diag);
            piv[i] = 0;
            m[i] = sub / diag;
            u0[i] = diag;
            u1[i] = sup;
            u2[i] = 0.0;
            diag = nd - m[i] * sup;
            sup = ns;
        } else { /* row i+1 is the pivot */
            piv[i] = 1;
            m[i] = diag / sub;
            u0[i] = sub;
            u1[i] = nd;
            u2[i] = ns;
            diag = sup - m[i] * nd;
            sup = -m[i] * ns;
        }
    }
    if (fabs(diag) < tiny) diag = copysign(tiny, diag);
    u0[n - 1] = diag;
    for (size_t i = 0; i + 1 < n; i++) {
        if (piv[i]) {
            double t = b[i];
            b[i] = b[i + 1];
            b[i + 1] = t;
        }
        b[i + 1] -= m[i] * b[i];
    }
    b[n - 1] /= u0[n - 1];
    if (n > 1) b[n - 2] = (b[n - 2] - u1[n - 2] * b[n - 1]) / u0[n - 2];
    for (size_t i = n - 2; i-- > 0;) b[i] = (b[i] - u1[i] * b[i + 1] - u2[i] * b[i + 2]) / u0[i];
}

/* Scales x (n) to unit 2-norm; returns false if it is zero or not finite. */
static bool normalize(double *x, size_t n) {
    double mx = 0.0;
    for (size_t t = 0; t < n; t++) mx = fmax(mx, fabs(x[t]));
    if (!(mx > 0.0) || !isfinite(mx)) return false;
    double ss = 0.0;
    for (size_t t = 0; t < n; t++) {
        x[t] /= mx;
        ss += x[t] * x[t];
    }
    const double inv = 1.0 / sqrt(ss);
    for (size_t t = 0; t < n; t++) x[t] *= inv;
    return true;
}

tg_status tg_red_eigh_top(double *a, size_t n, size_t k, double *w, double *vecs) {
    if (a == NULL || w == NULL || vecs == NULL) return tg_fail(TG_ERR_VALUE, "tg_red_eigh_top: NULL buffer");
    if (k < 1 || k > n) return tg_fail(TG_ERR_VALUE, "tg_red_eigh_top: k = %zu outside 1..%zu", k, n);
    tg_status st = symmetrize_checked(a, n, "tg_red_eigh_top");
    if (st != TG_OK) return st;
    if (n == 1) {
        w[0] = a[0];
        vecs[0] = 1.0;
        return TG_OK;
    }
    /* d, e, tau, 4n tridiagonalisation scratch, then (d, e) copies, 3n + n solver scratch */
    double *buf = malloc(sizeof(double) * 13 * n);
    unsigned char *piv = malloc(n);
    if (!buf || !piv) {
        st = tg_fail(TG_ERR_NOMEM, "tg_red_eigh_top: out of memory (n = %zu)", n);
        goto done;
    }
    double *d = buf, *e = buf + n, *tau = buf + 2 * n, *dq = buf + 7 * n, *eq = buf + 8 * n;
    double *lu = buf + 9 * n, *mult = buf + 12 * n;
    st = tridiagonalize(a, n, d, e, tau, buf + 3 * n);
    if (st != TG_OK) goto done;

    /* eigenvalues of T alone (QL without vectors), the k largest in descending order */
    memcpy(dq, d, sizeof(double) * n);
    memcpy(eq, e, sizeof(double) * n);
    st = ql_iterate(dq, eq, n, NULL);
    if (st != TG_OK) goto done;
    for (size_t j = 0; j < k; j++) { /* partial selection sort: k passes */
        size_t best = j;
        for (size_t t = j + 1; t < n; t++)
            if (dq[t] > dq[best]) best = t;
        double x = dq[j];
        dq[j] = dq[best];
        dq[best] = x;
        w[j] = dq[j];
    }

    /* eigenvectors of T by inverse iteration on the scaled matrix T / tnorm.  Eigenvalues
     * closer than 1e-3 ||T|| to the previous one form a cluster (as in LAPACK's dstein):
     * each iterate is orthogonalised against the cluster's earlier vectors, which keeps
     * the vectors of close or repeated eigenvalues orthogonal.  Start vectors come from a
     * fixed seed, so the result is deterministic. */
    double tnorm = tridiag_norm(d, e, n);
    if (!(tnorm > 0.0)) tnorm = 1.0;
    for (size_t i = 0; i < n; i++) {
        dq[i] = d[i] / tnorm;
        eq[i] = e[i] / tnorm;
    }
    const double tiny = DBL_EPSILON, sep = 1e-3;
    tg_rng rng;
    tg_rng_seed(&rng, 0x5eed7a1eULL);
    size_t cluster0 = 0;
    for (size_t j = 0; j < k; j++) {
        if (tg_interrupted()) {
            st = TG_ERR_INTERRUPTED;
            goto done;
        }
        const double lam = w[j] / tnorm;
        if (j > 0 && (w[j - 1] - w[j]) / tnorm > sep) cluster0 = j;
        double *x = vecs + j * n;
        for (size_t t = 0; t < n; t++) x[t] = tg_rng_uniform(&rng) - 0.5;
        bool ok = normalize(x, n);
        for (int it = 0; ok && it < 4; it++) {
            tridiag_shifted_solve(dq, eq, n, lam, tiny, lu, mult, piv, x);
            for (int pass = 0; pass < 2; pass++)
                for (size_t q = cluster0; q < j; q++) {
                    const double *y = vecs + q * n;
                    double dot = 0.0;
                    for (size_t t = 0; t < n; t++) dot += x[t] * y[t];
                    for (size_t t = 0; t < n; t++) x[t] -= dot * y[t];
                }
            ok = normalize(x, n);
        }
        if (!ok) {
            st = tg_fail(TG_ERR_INTERNAL, "eigendecomposition: inverse iteration failed for eigenvalue %zu", j);
            goto done;
        }
    }

    /* back to the original basis: x <- H_0 H_1 ... H_{n-3} x, each vector by itself */
#pragma omp parallel for schedule(static) if (k * n * n > 2000000)
    for (ptrdiff_t jj = 0; jj < (ptrdiff_t)k; jj++) {
        double *x = vecs + (size_t)jj * n;
        for (size_t r = n - 2; r-- > 0;) reflect(a + r * n + r + 1, x + r + 1, n - r - 1, tau[r]);
    }
done:
    free(buf);
    free(piv);
    return st;
}

tg_status tg_orthonormalize_rows(double *q, size_t k, size_t m) {
    if (k > m) return tg_fail(TG_ERR_VALUE, "orthonormalize: %zu rows cannot be orthonormal in dimension %zu", k, m);
    size_t next_basis = 0;
    for (size_t i = 0; i < k; i++) {
        double *qi = q + i * m;
        double n0 = 0.0;
        for (size_t t = 0; t < m; t++) n0 += qi[t] * qi[t];
        n0 = sqrt(n0);
        for (int attempt = 0;; attempt++) {
            for (int pass = 0; pass < 2; pass++) {
                for (size_t j = 0; j < i; j++) {
                    const double *qj = q + j * m;
                    double dot = 0.0;
                    for (size_t t = 0; t < m; t++) dot += qi[t] * qj[t];
                    for (size_t t = 0; t < m; t++) qi[t] -= dot * qj[t];
                }
            }
            double nr = 0.0;
            for (size_t t = 0; t < m; t++) nr += qi[t] * qi[t];
            nr = sqrt(nr);
            if (nr > 1e-10 * n0 && nr > 0.0 && isfinite(nr)) {
                for (size_t t = 0; t < m; t++) qi[t] /= nr;
                break;
            }
            if ((size_t)attempt > m) return tg_fail(TG_ERR_INTERNAL, "orthonormalize: no completion found");
            /* dependent row: restart from the next standard basis vector */
            memset(qi, 0, sizeof(double) * m);
            qi[next_basis % m] = 1.0;
            next_basis++;
            n0 = 1.0;
        }
    }
    return TG_OK;
}
