/* statistics.c - t-tests and correlations, one test per row of a strided view, following the
 * formulas (and the IEEE edge cases: n == 1, zero variance) of scipy.stats 1.17. */
#include "tokgeo/metrics.h"

#include "base/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TG_PAR_MIN_WORK (1 << 20) /* see geometry.c */

static inline double ld(const void *p, tg_dtype dt, ptrdiff_t off) {
    return dt == TG_F32 ? (double)((const float *)p)[off] : ((const double *)p)[off];
}

static size_t stat_chunk(size_t len) {
    size_t c = (size_t)1 << 21;
    c = len ? c / len : c;
    return c < 16 ? 16 : c;
}

static ptrdiff_t row_stride(const tg_view *v) { return v->ndim ? v->stride[v->ndim - 1] : 0; }

static tg_status same_outer(const tg_view *a, const tg_view *b) {
    if (a->ndim != b->ndim) return tg_fail(TG_ERR_VALUE, "the two samples have different ranks (%d, %d)", a->ndim, b->ndim);
    for (int k = 0; k + 1 < a->ndim; k++)
        if (a->shape[k] != b->shape[k])
            return tg_fail(TG_ERR_VALUE, "the two samples differ in extent along dimension %d (%td vs %td)", k,
                           a->shape[k], b->shape[k]);
    return TG_OK;
}

/* p-value of a t statistic with df degrees of freedom (scipy's _get_pvalue, symmetric). */
static double t_pvalue(double t, double df, tg_alternative alt) {
    switch (alt) {
    case TG_LESS: return tg_stdtr(df, t);
    case TG_GREATER: return tg_stdtr(df, -t);
    default: return 2.0 * tg_stdtr(df, -fabs(t));
    }
}

/* Mean and sum of squared deviations of one sample (two passes). */
typedef struct {
    double n, mean, var; /* var with ddof = 1, computed as scipy: m2 / n * (n / (n - 1)) */
    bool nan, constant;
} moments;

static moments sample_moments(const void *p, tg_dtype dt, ptrdiff_t s, size_t len, bool omit) {
    moments m = {0, 0, 0, false, true};
    double sum = 0.0, first = NAN;
    size_t cnt = 0;
    for (size_t i = 0; i < len; i++) {
        double v = ld(p, dt, (ptrdiff_t)i * s);
        if (isnan(v)) {
            m.nan = true;
            if (omit) continue;
        }
        if (cnt == 0) first = v;
        else if (v != first) m.constant = false;
        sum += v;
        cnt++;
    }
    m.n = (double)cnt;
    m.mean = sum / m.n;
    double ss = 0.0;
    for (size_t i = 0; i < len; i++) {
        double v = ld(p, dt, (ptrdiff_t)i * s);
        if (omit && isnan(v)) continue;
        double d = v - m.mean;
        ss += d * d;
    }
    m.var = ss / m.n * (m.n / (m.n - 1.0));
    return m;
}

static void put(const tg_ttest_out *o, size_t r, double t, double p, double df, double d, unsigned flags) {
    o->statistic[r] = t;
    o->pvalue[r] = p;
    o->df[r] = df;
    o->cohen_d[r] = d;
    if (o->flags) o->flags[r] = (uint8_t)flags;
}

static tg_status check_out(const tg_ttest_out *o, size_t rows) {
    if (o == NULL || (rows > 0 && (!o->statistic || !o->pvalue || !o->df || !o->cohen_d)))
        return tg_fail(TG_ERR_VALUE, "NULL output");
    return TG_OK;
}

static void ttest_ind_row(const tg_view *a, const tg_view *b, size_t r, size_t n1, size_t n2, bool equal_var,
                          tg_alternative alt, bool omit, const tg_ttest_out *o) {
    const char *pa = (const char *)a->data + tg_view_row_offset(a, r) * (ptrdiff_t)tg_dtype_size(a->dtype);
    const char *pb = (const char *)b->data + tg_view_row_offset(b, r) * (ptrdiff_t)tg_dtype_size(b->dtype);
    moments x = sample_moments(pa, a->dtype, row_stride(a), n1, omit);
    moments y = sample_moments(pb, b->dtype, row_stride(b), n2, omit);
    unsigned flags = (x.nan || y.nan) ? TG_FLAG_NAN : 0u;
    if ((!omit && (x.nan || y.nan)) || x.n == 0 || y.n == 0) {
        /* scipy's nan_policy machinery: every output NaN, df included */
        put(o, r, NAN, NAN, NAN, NAN, flags | ((x.n == 0 || y.n == 0) ? TG_FLAG_SMALL : 0u));
        return;
    }
    double df, denom, d;
    double diff = x.mean - y.mean;
    if (equal_var) {
        double v1 = x.n == 1 ? 0.0 : x.var, v2 = y.n == 1 ? 0.0 : y.var;
        df = x.n + y.n - 2.0;
        double svar = ((x.n - 1.0) * v1 + (y.n - 1.0) * v2) / df;
        denom = sqrt(svar * (1.0 / x.n + 1.0 / y.n));
        d = diff / sqrt(svar);
    } else {
        double vn1 = x.var / x.n, vn2 = y.var / y.n;
        df = (vn1 + vn2) * (vn1 + vn2) / (vn1 * vn1 / (x.n - 1.0) + vn2 * vn2 / (y.n - 1.0));
        if (isnan(df)) df = 1.0;
        denom = sqrt(vn1 + vn2);
        d = diff / sqrt((x.var + y.var) / 2.0);
    }
    double t = diff / denom;
    if (denom == 0.0) flags |= TG_FLAG_CONSTANT;
    if (isnan(denom) || df == 0.0) flags |= TG_FLAG_SMALL;
    put(o, r, t, t_pvalue(t, df, alt), df, d, flags);
}

/* One-sample test on values v_i = a_i (- b_i when b != NULL, pairs dropped on NaN with omit). */
static void ttest_1_row(const tg_view *a, const tg_view *b, size_t r, size_t n, double popmean, tg_alternative alt,
                        bool omit, const tg_ttest_out *o) {
    const char *pa = (const char *)a->data + tg_view_row_offset(a, r) * (ptrdiff_t)tg_dtype_size(a->dtype);
    const char *pb = b ? (const char *)b->data + tg_view_row_offset(b, r) * (ptrdiff_t)tg_dtype_size(b->dtype) : NULL;
    ptrdiff_t sa = row_stride(a), sb = b ? row_stride(b) : 0;
    double sum = 0.0, first = NAN;
    size_t cnt = 0;
    bool nan = false, constant = true;
    for (size_t i = 0; i < n; i++) {
        double v = ld(pa, a->dtype, (ptrdiff_t)i * sa);
        if (pb) v -= ld(pb, b->dtype, (ptrdiff_t)i * sb);
        if (isnan(v)) {
            nan = true;
            if (omit) continue;
        }
        if (cnt == 0) first = v;
        else if (v != first) constant = false;
        sum += v;
        cnt++;
    }
    unsigned flags = nan ? TG_FLAG_NAN : 0u;
    if ((nan && !omit) || cnt == 0) {
        put(o, r, NAN, NAN, NAN, NAN, flags | (cnt == 0 ? TG_FLAG_SMALL : 0u));
        return;
    }
    double dn = (double)cnt, mean = sum / dn, ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = ld(pa, a->dtype, (ptrdiff_t)i * sa);
        if (pb) v -= ld(pb, b->dtype, (ptrdiff_t)i * sb);
        if (omit && isnan(v)) continue;
        double dv = v - mean;
        ss += dv * dv;
    }
    double var = ss / dn * (dn / (dn - 1.0));
    double diff = mean - popmean;
    double denom = sqrt(var / dn);
    double t = diff / denom;
    double df = dn - 1.0;
    (void)constant;
    if (denom == 0.0) flags |= TG_FLAG_CONSTANT;
    if (cnt < 2) flags |= TG_FLAG_SMALL;
    put(o, r, t, t_pvalue(t, df, alt), df, diff / sqrt(var), flags);
}

tg_status tg_ttest_ind(const tg_view *a, const tg_view *b, bool equal_var, tg_alternative alt, bool omit_nan,
                       const tg_ttest_out *out) {
    size_t rows, n1, rows_b, n2;
    tg_status st = tg_view_rows(a, "a", &rows, &n1);
    if (st == TG_OK) st = tg_view_rows(b, "b", &rows_b, &n2);
    if (st == TG_OK) st = same_outer(a, b);
    if (st == TG_OK) st = check_out(out, rows);
    if (st != TG_OK) return st;
    size_t chunk = stat_chunk(n1 + n2);
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        long long lr0 = (long long)r0, lr1 = (long long)(rows - r0 < chunk ? rows : r0 + chunk);
#pragma omp parallel for schedule(static) if ((lr1 - lr0) * (long long)(n1 + n2 + 8) > TG_PAR_MIN_WORK)
        for (long long r = lr0; r < lr1; r++) ttest_ind_row(a, b, (size_t)r, n1, n2, equal_var, alt, omit_nan, out);
        if ((size_t)lr1 < rows && tg_interrupted()) return tg_fail(TG_ERR_INTERRUPTED, "interrupted");
    }
    return TG_OK;
}

static tg_status ttest_1_driver(const tg_view *a, const tg_view *b, const double *popmean, tg_alternative alt,
                                bool omit_nan, const tg_ttest_out *out) {
    size_t rows, n, rows_b, n_b;
    tg_status st = tg_view_rows(a, "a", &rows, &n);
    if (st == TG_OK && b) {
        st = tg_view_rows(b, "b", &rows_b, &n_b);
        if (st == TG_OK) st = same_outer(a, b);
        if (st == TG_OK && n_b != n)
            st = tg_fail(TG_ERR_VALUE, "paired samples must have the same length (%zu vs %zu)", n, n_b);
    }
    if (st == TG_OK) st = check_out(out, rows);
    if (st == TG_OK && !b && rows > 0 && popmean == NULL) st = tg_fail(TG_ERR_VALUE, "NULL popmean");
    if (st != TG_OK) return st;
    size_t chunk = stat_chunk(n);
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        long long lr0 = (long long)r0, lr1 = (long long)(rows - r0 < chunk ? rows : r0 + chunk);
#pragma omp parallel for schedule(static) if ((lr1 - lr0) * (long long)(n + 8) > TG_PAR_MIN_WORK)
        for (long long r = lr0; r < lr1; r++)
            ttest_1_row(a, b, (size_t)r, n, b ? 0.0 : popmean[r], alt, omit_nan, out);
        if ((size_t)lr1 < rows && tg_interrupted()) return tg_fail(TG_ERR_INTERRUPTED, "interrupted");
    }
    return TG_OK;
}

tg_status tg_ttest_rel(const tg_view *a, const tg_view *b, tg_alternative alt, bool omit_nan, const tg_ttest_out *out) {
    if (b == NULL) return tg_fail(TG_ERR_VALUE, "missing second sample");
    return ttest_1_driver(a, b, NULL, alt, omit_nan, out);
}

tg_status tg_ttest_1samp(const tg_view *a, const double *popmean, tg_alternative alt, bool omit_nan,
                         const tg_ttest_out *out) {
    return ttest_1_driver(a, NULL, popmean, alt, omit_nan, out);
}

/* ---- correlations ----------------------------------------------------------------------- */

typedef struct {
    double v;
    size_t i;
} rank_item;

static int rank_cmp(const void *x, const void *y) {
    const rank_item *p = x, *q = y;
    if (p->v < q->v) return -1;
    if (p->v > q->v) return 1;
    return (p->i > q->i) - (p->i < q->i);
}

/* Average ranks (1-based) of v[0..n) in place; items is scratch of n entries. */
static void average_ranks(double *v, size_t n, rank_item *items) {
    for (size_t i = 0; i < n; i++) {
        items[i].v = v[i];
        items[i].i = i;
    }
    qsort(items, n, sizeof *items, rank_cmp);
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && items[j].v == items[i].v) j++;
        double rank = 0.5 * ((double)i + 1.0 + (double)j); /* mean of i+1 .. j */
        for (size_t k = i; k < j; k++) v[items[k].i] = rank;
        i = j;
    }
}

/* Pearson r of x[0..n), y[0..n) (two passes, double), clipped to [-1, 1]; *constant set when
 * either sample has all-equal values (r is NaN then). */
static double pearson_r(const double *x, const double *y, size_t n, bool *constant) {
    bool cx = true, cy = true;
    double sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != x[0]) cx = false;
        if (y[i] != y[0]) cy = false;
        sx += x[i];
        sy += y[i];
    }
    *constant = cx || cy;
    if (*constant) return NAN;
    double mx = sx / (double)n, my = sy / (double)n, sxx = 0, syy = 0, sxy = 0, ax = 0, ay = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
        ax = fmax(ax, fabs(dx));
        ay = fmax(ay, fabs(dy));
    }
    /* r does not depend on the scales: when the squares would over- or underflow (data near
     * 1e160 or 1e-200 gave NaN), sum the deviations divided by their largest magnitude */
    const double lo = 1e-140, hi = 1e140;
    if (isfinite(ax) && isfinite(ay) && ax > 0 && ay > 0 && (ax < lo || ax > hi || ay < lo || ay > hi)) {
        sxx = syy = sxy = 0;
        for (size_t i = 0; i < n; i++) {
            double dx = (x[i] - mx) / ax, dy = (y[i] - my) / ay;
            sxx += dx * dx;
            syy += dy * dy;
            sxy += dx * dy;
        }
    }
    /* sqrt(sxx * syy) is exact for identical samples (sqrt(fl(s*s)) == s), so perfectly
     * (anti)correlated data give exactly +-1 as numpy.corrcoef does; the split form only
     * when the product over/underflows. */
    double prod = sxx * syy;
    double den = (isfinite(prod) && prod > 0.0) ? sqrt(prod) : sqrt(sxx) * sqrt(syy);
    double r = sxy / den;
    if (r > 1.0) r = 1.0;
    else if (r < -1.0) r = -1.0;
    return r;
}

static void corr_row(tg_corr_method method, const tg_view *x, const tg_view *y, size_t r, size_t n, tg_alternative alt,
                     bool omit, double *xs, double *ys, rank_item *items, double *stat, double *pval, uint8_t *flags) {
    const char *px = (const char *)x->data + tg_view_row_offset(x, r) * (ptrdiff_t)tg_dtype_size(x->dtype);
    const char *py = (const char *)y->data + tg_view_row_offset(y, r) * (ptrdiff_t)tg_dtype_size(y->dtype);
    ptrdiff_t sx = row_stride(x), sy = row_stride(y);
    size_t cnt = 0;
    bool nan = false;
    for (size_t i = 0; i < n; i++) {
        double u = ld(px, x->dtype, (ptrdiff_t)i * sx), v = ld(py, y->dtype, (ptrdiff_t)i * sy);
        if (isnan(u) || isnan(v)) {
            nan = true;
            if (omit) continue;
        }
        xs[cnt] = u;
        ys[cnt] = v;
        cnt++;
    }
    unsigned fl = nan ? TG_FLAG_NAN : 0u;
    double rr = NAN, p = NAN;
    if (nan && !omit) {
        /* propagate */
    } else if (cnt < 2) {
        fl |= TG_FLAG_SMALL;
    } else {
        bool constant = false;
        if (method == TG_SPEARMAN) {
            /* constant check on the raw values, as scipy does before ranking */
            bool cx = true, cy = true;
            for (size_t i = 1; i < cnt; i++) {
                if (xs[i] != xs[0]) cx = false;
                if (ys[i] != ys[0]) cy = false;
            }
            if (cx || cy) constant = true;
            else {
                average_ranks(xs, cnt, items);
                average_ranks(ys, cnt, items);
                rr = pearson_r(xs, ys, cnt, &constant);
            }
        } else {
            rr = pearson_r(xs, ys, cnt, &constant);
        }
        if (constant) {
            fl |= TG_FLAG_CONSTANT;
            rr = NAN;
        } else if (method == TG_PEARSON) {
            if (cnt == 2) {
                rr = rr > 0 ? 1.0 : -1.0; /* scipy: exactly +-1 and p = 1 for n == 2 */
                p = 1.0;
            } else {
                double ab = (double)cnt / 2.0 - 1.0, w, w1;
                double xx = alt == TG_TWO_SIDED ? (fabs(rr) + 1.0) / 2.0 : (rr + 1.0) / 2.0;
                tg_ibeta_pair(ab, ab, xx, 1.0 - xx, &w, &w1);
                p = alt == TG_TWO_SIDED ? 2.0 * w1 : (alt == TG_LESS ? w : w1);
            }
        } else {
            double dof = (double)cnt - 2.0;
            double q = dof / ((rr + 1.0) * (1.0 - rr));
            if (q < 0) q = 0; /* numpy .clip(0); NaN stays NaN */
            double t = rr * sqrt(q);
            p = dof > 0 ? t_pvalue(t, dof, alt) : NAN;
        }
    }
    stat[r] = rr;
    pval[r] = p;
    if (flags) flags[r] = (uint8_t)fl;
}

tg_status tg_corr(tg_corr_method method, const tg_view *x, const tg_view *y, tg_alternative alt, bool omit_nan,
                  double *statistic, double *pvalue, uint8_t *flags) {
    size_t rows, n, rows_y, n_y;
    if (method != TG_PEARSON && method != TG_SPEARMAN) return tg_fail(TG_ERR_VALUE, "unknown correlation method");
    tg_status st = tg_view_rows(x, "x", &rows, &n);
    if (st == TG_OK) st = tg_view_rows(y, "y", &rows_y, &n_y);
    if (st == TG_OK) st = same_outer(x, y);
    if (st == TG_OK && n != n_y) st = tg_fail(TG_ERR_VALUE, "x and y must have the same length (%zu vs %zu)", n, n_y);
    if (st == TG_OK && rows > 0 && (!statistic || !pvalue)) st = tg_fail(TG_ERR_VALUE, "NULL output");
    if (st != TG_OK) return st;
    if (rows == 0) return TG_OK;
    size_t per = n ? n : 1, bytes;
    if (!tg_mul_size(per, 2 * sizeof(double) + sizeof(rank_item), &bytes))
        return tg_fail(TG_ERR_OVERFLOW, "rows too long");
    size_t chunk = stat_chunk(n);
    int failed = 0;
    for (size_t r0 = 0; r0 < rows && !failed; r0 += chunk) {
        long long lr0 = (long long)r0, lr1 = (long long)(rows - r0 < chunk ? rows : r0 + chunk);
#pragma omp parallel if ((lr1 - lr0) * (long long)(n + 8) > TG_PAR_MIN_WORK)
        {
            char *scratch = malloc(bytes);
            if (scratch == NULL) {
#pragma omp atomic write
                failed = 1;
            }
            double *xs = (double *)scratch, *ys = xs + per;
            rank_item *items = (rank_item *)(ys + per);
#pragma omp for schedule(static)
            for (long long r = lr0; r < lr1; r++)
                if (scratch) corr_row(method, x, y, (size_t)r, n, alt, omit_nan, xs, ys, items, statistic, pvalue, flags);
            free(scratch);
        }
        if (failed) return tg_fail(TG_ERR_NOMEM, "cannot allocate %zu bytes of scratch per thread", bytes);
        if ((size_t)lr1 < rows && tg_interrupted()) return tg_fail(TG_ERR_INTERRUPTED, "interrupted");
    }
    return TG_OK;
}
