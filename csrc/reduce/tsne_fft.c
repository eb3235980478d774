/*
 * tsne_fft.c - the repulsive half of the 2-D t-SNE gradient by FFT-accelerated
 * interpolation (Linderman et al., "Fast interpolation-based t-SNE", 2019; the method
 * FIt-SNE and openTSNE's "fft" implement).  Internal: declared in reduce/internal.h, used
 * by tsne.c.
 *
 * For points y_i in the plane and w_ij = 1 / (1 + |y_i - y_j|^2), t-SNE needs
 *     Z = sum_{i != j} w_ij          and   r_i = sum_j w_ij^2 (y_i - y_j).
 * With K(a, b) = w(a, b)^2 and y~ = y - c (c the centre of the points' bounding square):
 *     phi_t(i) = sum_j K(y_i, y_j) q_t(j),   q = {1, x~, y~, x~^2 + y~^2},
 *     r_i = (x~_i phi_1 - phi_2, y~_i phi_1 - phi_3),
 *     Z   = sum_i [(1 + |y~_i|^2) phi_1 - 2 (x~_i phi_2 + y~_i phi_3) + phi_4] - n
 * (w = K (1 + d^2) and d^2 = |y~_i|^2 - 2 y~_i.y~_j + |y~_j|^2; the -n removes i == j).
 *
 * The four sums come from one kernel on a grid:
 *   1. The bounding square is cut into nb x nb boxes of side w_box, with 3 equispaced
 *      interpolation nodes per box and axis (at 1/6, 1/2, 5/6 of the box): M = 3 nb nodes
 *      per axis, node spacing h = w_box / 3, w_box = s / nb for the square's side s.
 *      nb = 64 while s <= 64, else the smallest nb = 8 2^a 3^b >= s (w_box <= 1; openTSNE:
 *      at least 50 boxes, at most one unit of length each), at most NB_MAX = 432 (coarser
 *      boxes beyond, larger errors: tg_tsne computes iterations whose square is wider than
 *      TG_FITSNE_MAX_SIDE with Barnes-Hut; such spans come from heavily duplicated inputs,
 *      e.g. 46,000 identical rows).  nb = 8 2^a 3^b keeps the FFT length L = 2 M = 48 2^a 3^b to radices 2, 3,
 *      4 and M, L to multiples of the block width.
 *   2. Each point's charges are spread onto the 3 x 3 nodes of its box with the Lagrange
 *      weights of its position (serially, in point order: the sums do not depend on the
 *      thread count); charges {1, x~} go to the real and imaginary parts of grid A,
 *      {y~, |y~|^2} to grid B.
 *   3. Each grid is convolved with K sampled at node offsets: a circulant L x L embedding
 *      (L = 2 M), 2-D FFT, product with the kernel's transform (real: K is even, so the
 *      real and imaginary parts of a grid are convolved independently), inverse FFT (the
 *      kernel's transform is made anew each call: h changes with the extent).  The transform along rows, the product and the inverse along rows are fused
 *      per block of rows (see "the grids" below), so that the padded L x L spectrum is
 *      never stored.
 *   4. The node potentials are interpolated back to the points with the same weights.
 *
 * The FFT is ours (FFTW is GPL; tokgeo is MIT): a Stockham autosort, decimation in
 * frequency, radices 4, 2 and 3, on blocks of VL = 8 transforms at once (each element a
 * vector of 8 lanes, split real / imaginary), so that every butterfly is a vector operation
 * over the lanes.  Blocks are dealt to threads, each computed the same way by whoever takes
 * it, so results do not depend on the thread count.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reduce/internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define VL 8          /* transforms per scratch block (lanes) */
#define NB_MIN 64     /* boxes per axis at least */
#define NB_MAX ((size_t)TG_FITSNE_MAX_SIDE) /* boxes per axis at most (432 = 16 * 27): L <= 2592, 270 MB of grids at most */
#define MAX_STAGES 40 /* radix stages of one transform (L <= 2^40) */

/* ---------------------------------------------------------------- 1-D plan */

typedef struct fft_plan {
    size_t L;
    int nst;
    int radix[MAX_STAGES];
    size_t tw_off[MAX_STAGES]; /* offset of stage s's twiddles in twr / twi */
    double *twr, *twi;         /* per stage: for j < m, u = 1..p-1: exp(-2 pi i j u / n) */
} fft_plan;

static void plan_free(fft_plan *p) {
    free(p->twr);
    free(p->twi);
    memset(p, 0, sizeof *p);
}

/* L must be 2^a 3^b >= 2.  Returns TG_OK or TG_ERR_NOMEM / TG_ERR_VALUE. */
static tg_status plan_make(fft_plan *p, size_t L) {
    memset(p, 0, sizeof *p);
    p->L = L;
    size_t n = L, total = 0;
    while (n > 1) {
        int r = n % 4 == 0 ? 4 : n % 2 == 0 ? 2 : n % 3 == 0 ? 3 : 0;
        if (r == 0 || p->nst == MAX_STAGES) return tg_fail(TG_ERR_VALUE, "t-SNE FFT: length %zu is not 2^a 3^b", L);
        p->radix[p->nst] = r;
        p->tw_off[p->nst] = total;
        total += (size_t)(r - 1) * (n / (size_t)r);
        p->nst++;
        n /= (size_t)r;
    }
    p->twr = malloc(sizeof(double) * (total ? total : 1));
    p->twi = malloc(sizeof(double) * (total ? total : 1));
    if (!p->twr || !p->twi) {
        plan_free(p);
        return tg_fail(TG_ERR_NOMEM, "t-SNE FFT: out of memory");
    }
    n = L;
    for (int s = 0; s < p->nst; s++) {
        const size_t r = (size_t)p->radix[s], m = n / r;
        double *wr = p->twr + p->tw_off[s], *wi = p->twi + p->tw_off[s];
        for (size_t j = 0; j < m; j++)
            for (size_t u = 1; u < r; u++) {
                /* angle reduced exactly in integers first: j u mod n */
                const double ang = -2.0 * M_PI * (double)((j * u) % n) / (double)n;
                wr[j * (r - 1) + u - 1] = cos(ang);
                wi[j * (r - 1) + u - 1] = sin(ang);
            }
        n = m;
    }
    return TG_OK;
}

/* ---------------------------------------------------------------- 1-D transforms on a block
 * x and y: [L][VL] real and imaginary parts each (xr, xi, yr, yi).  Forward transform
 * (sign -1), unnormalised; the inverse is the forward transform with the real and imaginary
 * parts exchanged on the way in and out.  Returns the buffer pair holding the result (0: x,
 * 1: y). */
typedef double v4d __attribute__((vector_size(32))); /* half an element: an element is VL = 8 lanes = 2 v4d */
#define BCAST(x) ((v4d){(x), (x), (x), (x)})

TG_HOT static int block_fft(const fft_plan *p, double *xr, double *xi, double *yr, double *yi) {
    size_t n = p->L, s = 1;
    int in_y = 0;
    for (int st = 0; st < p->nst; st++) {
        const size_t r = (size_t)p->radix[st], m = n / r;
        const double *twr = p->twr + p->tw_off[st], *twi = p->twi + p->tw_off[st];
        const v4d *ar = (const v4d *)(in_y ? yr : xr), *ai = (const v4d *)(in_y ? yi : xi);
        v4d *br = (v4d *)(in_y ? xr : yr), *bi = (v4d *)(in_y ? xi : yi);
        const size_t s2 = 2 * s; /* v4d per row of elements */
        for (size_t j = 0; j < m; j++) {
            const double *wr = twr + j * (r - 1), *wi = twi + j * (r - 1);
            if (r == 4) {
                const v4d w1r = BCAST(wr[0]), w1i = BCAST(wi[0]), w2r = BCAST(wr[1]);
                const v4d w2i = BCAST(wi[1]), w3r = BCAST(wr[2]), w3i = BCAST(wi[2]);
                const v4d *a0r = ar + s2 * j, *a1r = ar + s2 * (j + m), *a2r = ar + s2 * (j + 2 * m), *a3r = ar + s2 * (j + 3 * m);
                const v4d *a0i = ai + s2 * j, *a1i = ai + s2 * (j + m), *a2i = ai + s2 * (j + 2 * m), *a3i = ai + s2 * (j + 3 * m);
                v4d *o0r = br + s2 * (4 * j), *o1r = o0r + s2, *o2r = o1r + s2, *o3r = o2r + s2;
                v4d *o0i = bi + s2 * (4 * j), *o1i = o0i + s2, *o2i = o1i + s2, *o3i = o2i + s2;
                for (size_t q = 0; q < s2; q++) {
                    const v4d t0r = a0r[q] + a2r[q], t0i = a0i[q] + a2i[q];
                    const v4d t1r = a0r[q] - a2r[q], t1i = a0i[q] - a2i[q];
                    const v4d t2r = a1r[q] + a3r[q], t2i = a1i[q] + a3i[q];
                    const v4d t3r = a1i[q] - a3i[q], t3i = a3r[q] - a1r[q]; /* (a1 - a3) (-i) */
                    const v4d y1r = t1r + t3r, y1i = t1i + t3i;
                    const v4d y2r = t0r - t2r, y2i = t0i - t2i;
                    const v4d y3r = t1r - t3r, y3i = t1i - t3i;
                    o0r[q] = t0r + t2r;
                    o0i[q] = t0i + t2i;
                    o1r[q] = y1r * w1r - y1i * w1i;
                    o1i[q] = y1r * w1i + y1i * w1r;
                    o2r[q] = y2r * w2r - y2i * w2i;
                    o2i[q] = y2r * w2i + y2i * w2r;
                    o3r[q] = y3r * w3r - y3i * w3i;
                    o3i[q] = y3r * w3i + y3i * w3r;
                }
            } else if (r == 2) {
                const v4d w1r = BCAST(wr[0]), w1i = BCAST(wi[0]);
                const v4d *a0r = ar + s2 * j, *a1r = ar + s2 * (j + m), *a0i = ai + s2 * j, *a1i = ai + s2 * (j + m);
                v4d *o0r = br + s2 * (2 * j), *o1r = o0r + s2, *o0i = bi + s2 * (2 * j), *o1i = o0i + s2;
                for (size_t q = 0; q < s2; q++) {
                    const v4d dr = a0r[q] - a1r[q], di = a0i[q] - a1i[q];
                    o0r[q] = a0r[q] + a1r[q];
                    o0i[q] = a0i[q] + a1i[q];
                    o1r[q] = dr * w1r - di * w1i;
                    o1i[q] = dr * w1i + di * w1r;
                }
            } else { /* r == 3: X1 = m - i c d, X2 = m + i c d, c = sin(2 pi / 3) */
                const v4d c3 = BCAST(0.86602540378443864676), hf = BCAST(0.5);
                const v4d w1r = BCAST(wr[0]), w1i = BCAST(wi[0]), w2r = BCAST(wr[1]), w2i = BCAST(wi[1]);
                const v4d *a0r = ar + s2 * j, *a1r = ar + s2 * (j + m), *a2r = ar + s2 * (j + 2 * m);
                const v4d *a0i = ai + s2 * j, *a1i = ai + s2 * (j + m), *a2i = ai + s2 * (j + 2 * m);
                v4d *o0r = br + s2 * (3 * j), *o1r = o0r + s2, *o2r = o1r + s2;
                v4d *o0i = bi + s2 * (3 * j), *o1i = o0i + s2, *o2i = o1i + s2;
                for (size_t q = 0; q < s2; q++) {
                    const v4d sr = a1r[q] + a2r[q], si = a1i[q] + a2i[q];
                    const v4d dr = a1r[q] - a2r[q], di = a1i[q] - a2i[q];
                    const v4d mr = a0r[q] - hf * sr, mi = a0i[q] - hf * si;
                    const v4d y1r = mr + c3 * di, y1i = mi - c3 * dr;
                    const v4d y2r = mr - c3 * di, y2i = mi + c3 * dr;
                    o0r[q] = a0r[q] + sr;
                    o0i[q] = a0i[q] + si;
                    o1r[q] = y1r * w1r - y1i * w1i;
                    o1i[q] = y1r * w1i + y1i * w1r;
                    o2r[q] = y2r * w2r - y2i * w2i;
                    o2i[q] = y2r * w2i + y2i * w2r;
                }
            }
        }
        in_y = !in_y;
        n = m;
        s *= r;
    }
    return in_y;
}

/* ---------------------------------------------------------------- the grids
 * A grid of M x M nodes (M a multiple of VL) lives in an L x M array (L = 2 M rows: the
 * circulant padding along axis 0) stored by column blocks: element (row r, column c) at
 * [(c / VL) * L + r] * VL + c % VL, so that a column block is exactly one [L][VL] block for
 * the transform along axis 0, in place.  The transform along axis 1 (rows, also padded to
 * L) never materialises: a block of VL rows is gathered (an 8 x 8 transpose per column
 * block), transformed, multiplied by the kernel's transform, transformed back and its first
 * M columns scattered back, all in the thread's scratch.  The kernel's transform is kept as
 * [L / VL][L][VL]: row block, column, row within the block. */

static inline size_t node_at(size_t L, size_t r, size_t c) { return ((c / VL) * L + r) * VL + c % VL; }

/* Axis-0 transform of column block b of (re, im), in place; inverse: exchange re and im;
 * keep: rows written back when the result lands in the scratch (the others are left as the
 * transform's input or output: undefined). */
static void axis0_block(const fft_plan *p, double *re, double *im, size_t b, int inverse, size_t keep, double *scr) {
    const size_t L = p->L;
    double *xr = (inverse ? im : re) + b * L * VL, *xi = (inverse ? re : im) + b * L * VL;
    double *yr = scr, *yi = scr + L * VL;
    if (block_fft(p, xr, xi, yr, yi)) {
        memcpy(xr, yr, sizeof(double) * keep * VL);
        memcpy(xi, yi, sizeof(double) * keep * VL);
    }
}

/* Rows r0 .. r0 + VL of src [columns < M, blocked], zero-padded to L columns, into dst
 * [L][VL] (lane = row): an 8 x 8 transpose per column block. */
static void gather_one(size_t L, size_t M, const double *src, size_t r0, double *dst) {
    for (size_t cb = 0; cb < M / VL; cb++) {
        const double *sp = src + (cb * L + r0) * VL;
        for (size_t k = 0; k < VL; k++)
            for (size_t v = 0; v < VL; v++) dst[(cb * VL + v) * VL + k] = sp[k * VL + v];
    }
    memset(dst + M * VL, 0, sizeof(double) * (L - M) * VL);
}

static void gather_rows(size_t L, size_t M, const double *re, const double *im, size_t r0, double *xr, double *xi) {
    gather_one(L, M, re, r0, xr);
    gather_one(L, M, im, r0, xi);
}

static void scatter_rows(size_t L, size_t M, double *re, double *im, size_t r0, const double *xr, const double *xi) {
    for (size_t cb = 0; cb < M / VL; cb++) {
        double *dr = re + (cb * L + r0) * VL, *di = im + (cb * L + r0) * VL;
        for (size_t k = 0; k < VL; k++)
            for (size_t v = 0; v < VL; v++) {
                dr[k * VL + v] = xr[(cb * VL + v) * VL + k];
                di[k * VL + v] = xi[(cb * VL + v) * VL + k];
            }
    }
}

/* Row block rb of one grid after its axis-0 transform: along axis 1, times the kernel's
 * transform, back along axis 1 (the inverse by exchanging re and im). */
TG_HOT static void row_block_convolve(const fft_plan *p, size_t M, const double *khat, double *re, double *im, size_t rb,
                                      double *scr) {
    const size_t L = p->L;
    double *xr = scr, *xi = scr + L * VL, *yr = scr + 2 * L * VL, *yi = scr + 3 * L * VL;
    gather_rows(L, M, re, im, rb * VL, xr, xi);
    const int in_y = block_fft(p, xr, xi, yr, yi);
    double *rr = in_y ? yr : xr, *ri = in_y ? yi : xi, *or_ = in_y ? xr : yr, *oi = in_y ? xi : yi;
    const double *k = khat + rb * L * VL;
    for (size_t t = 0; t < L * VL; t++) {
        rr[t] *= k[t];
        ri[t] *= k[t];
    }
    /* inverse: (im, re) in, (im, re) out */
    const int back = block_fft(p, ri, rr, oi, or_);
    scatter_rows(L, M, re, im, rb * VL, back ? or_ : rr, back ? oi : ri);
}

/* ---------------------------------------------------------------- the repulsion */

struct tg_fitsne {
    size_t n;
    int nthreads;
    fft_plan plan;  /* for L = plan.L (0: none yet) */
    size_t M;       /* nodes per axis */
    double *khat;   /* [L / VL][L][VL] real transform of the kernel, divided by L^2 */
    double *kr;     /* L x L work grid for the kernel's transform (blocked by columns) */
    double *ar, *ai, *br, *bi; /* the two complex grids, L x M each (blocked, see above) */
    double *scratch;           /* nthreads * 4 L VL */
    size_t cap;                /* L the arrays were allocated for */
    uint64_t *cell;            /* n: each point's first node, column << 32 | row */
    double *wts;               /* n * 6: x weights then y weights */
};

/* The grid-sized arrays (reallocated together when L grows). */
static void free_grids(tg_fitsne *f) {
    free(f->khat);
    free(f->kr);
    free(f->ar);
    free(f->ai);
    free(f->br);
    free(f->bi);
    free(f->scratch);
    f->khat = f->kr = f->ar = f->ai = f->br = f->bi = f->scratch = NULL;
    f->cap = 0;
}

void tg_fitsne_free(tg_fitsne *f) {
    if (!f) return;
    plan_free(&f->plan);
    free_grids(f);
    free(f->cell);
    free(f->wts);
    free(f);
}

tg_status tg_fitsne_new(size_t n, int nthreads, tg_fitsne **out) {
    *out = NULL;
    if (n < 2 || n > UINT32_MAX) return tg_fail(TG_ERR_VALUE, "FFT t-SNE: needs 2 .. 2^32-1 points, got %zu", n);
    tg_fitsne *f = calloc(1, sizeof *f);
    if (!f) return tg_fail(TG_ERR_NOMEM, "FFT t-SNE: out of memory");
    f->n = n;
    f->nthreads = nthreads < 1 ? 1 : nthreads;
    f->cell = malloc(sizeof(uint64_t) * n);
    f->wts = malloc(sizeof(double) * 6 * n);
    if (!f->cell || !f->wts) {
        tg_fitsne_free(f);
        return tg_fail(TG_ERR_NOMEM, "FFT t-SNE: out of memory");
    }
    *out = f;
    return TG_OK;
}

/* Makes the grids and plan ready for M nodes per axis (reallocating only when L grows). */
static tg_status ensure_grid(tg_fitsne *f, size_t M) {
    const size_t L = 2 * M;
    if (f->plan.L == L) return TG_OK;
    plan_free(&f->plan);
    f->M = M;
    tg_status st = plan_make(&f->plan, L);
    if (st != TG_OK) return st;
    if (L > f->cap) { /* L <= 6 NB_MAX: no overflow below */
        free_grids(f);
        f->khat = tg_alloc_aligned(sizeof(double) * L * L);
        f->kr = tg_alloc_aligned(sizeof(double) * L * L);
        f->ar = tg_alloc_aligned(sizeof(double) * L * M);
        f->ai = tg_alloc_aligned(sizeof(double) * L * M);
        f->br = tg_alloc_aligned(sizeof(double) * L * M);
        f->bi = tg_alloc_aligned(sizeof(double) * L * M);
        f->scratch = tg_alloc_aligned(sizeof(double) * (size_t)f->nthreads * 4 * L * VL);
        if (!f->khat || !f->kr || !f->ar || !f->ai || !f->br || !f->bi || !f->scratch) {
            plan_free(&f->plan);
            return tg_fail(TG_ERR_NOMEM, "FFT t-SNE: out of memory for %zu x %zu grids", L, L);
        }
        f->cap = L;
    }
    return TG_OK;
}

static double *thread_scratch(tg_fitsne *f) {
#ifdef _OPENMP
    return f->scratch + (size_t)omp_get_thread_num() * 4 * f->plan.L * VL;
#else
    return f->scratch;
#endif
}

/* The transform of K(d) = 1 / (1 + d^2)^2 at node offsets (h du, h dv), circulant over L,
 * divided by L^2 (the inverse transform's normalisation), into khat.  K is real and even
 * along both axes, so every 1-D transform of it is real: two blocks go through one complex
 * transform (one as the real part, one as the imaginary part) and come out as its real
 * and imaginary parts.  kr (L x L, blocked by columns) holds the work. */
static void make_kernel(tg_fitsne *f, double h) {
    const fft_plan *p = &f->plan;
    const size_t L = p->L, M = f->M;
    double *kr = f->kr;
    for (size_t r = 0; r < L; r++) {
        const double dr = h * (double)(r <= M ? r : L - r);
        for (size_t c = 0; c < L; c++) {
            const double dc = h * (double)(c <= M ? c : L - c);
            const double w = 1.0 / (1.0 + dr * dr + dc * dc);
            kr[node_at(L, r, c)] = w * w;
        }
    }
    const ptrdiff_t half = (ptrdiff_t)(L / VL / 2); /* L / VL is even: L = 6 nb, 8 | nb */
    const double scale = 1.0 / ((double)L * (double)L);
    double *khat = f->khat;
#pragma omp parallel num_threads(f->nthreads)
    {
        double *scr = thread_scratch(f);
        double *xr = scr, *xi = scr + L * VL, *yr = scr + 2 * L * VL, *yi = scr + 3 * L * VL;
#pragma omp for schedule(static)
        for (ptrdiff_t b = 0; b < half; b++) { /* column blocks b and b + half, along axis 0 */
            double *ra = kr + (size_t)b * L * VL, *rb = kr + (size_t)(b + half) * L * VL;
            if (block_fft(p, ra, rb, yr, yi)) {
                memcpy(ra, yr, sizeof(double) * L * VL);
                memcpy(rb, yi, sizeof(double) * L * VL);
            }
        }
#pragma omp for schedule(static)
        for (ptrdiff_t b = 0; b < half; b++) { /* row blocks b and b + half, along axis 1 */
            gather_one(L, L, kr, (size_t)b * VL, xr);
            gather_one(L, L, kr, (size_t)(b + half) * VL, xi);
            const int in_y = block_fft(p, xr, xi, yr, yi);
            const double *re = in_y ? yr : xr, *im = in_y ? yi : xi;
            double *da = khat + (size_t)b * L * VL, *db = khat + (size_t)(b + half) * L * VL;
            for (size_t t = 0; t < L * VL; t++) {
                da[t] = re[t] * scale;
                db[t] = im[t] * scale;
            }
        }
    }
}

/* Convolves both grids with the kernel (threads over column blocks, then row blocks). */
static void convolve(tg_fitsne *f) {
    const fft_plan *p = &f->plan;
    const size_t L = p->L, M = f->M;
    const ptrdiff_t ncb = (ptrdiff_t)(M / VL), nrb = (ptrdiff_t)(L / VL);
    double *g[4] = {f->ar, f->ai, f->br, f->bi};
#pragma omp parallel num_threads(f->nthreads)
    {
        double *scr = thread_scratch(f);
#pragma omp for schedule(static)
        for (ptrdiff_t t = 0; t < 2 * ncb; t++) {
            double *re = g[2 * (t / ncb)], *im = g[2 * (t / ncb) + 1];
            const size_t b = (size_t)(t % ncb);
            memset(re + (b * L + M) * VL, 0, sizeof(double) * (L - M) * VL); /* the padding rows */
            memset(im + (b * L + M) * VL, 0, sizeof(double) * (L - M) * VL);
            axis0_block(p, re, im, b, 0, L, scr);
        }
#pragma omp for schedule(static)
        for (ptrdiff_t rb = 0; rb < nrb; rb++) {
            row_block_convolve(p, M, f->khat, f->ar, f->ai, (size_t)rb, scr);
            row_block_convolve(p, M, f->khat, f->br, f->bi, (size_t)rb, scr);
        }
#pragma omp for schedule(static)
        for (ptrdiff_t t = 0; t < 2 * ncb; t++)
            axis0_block(p, g[2 * (t / ncb)], g[2 * (t / ncb) + 1], (size_t)(t % ncb), 1, M, scr);
    }
}

static size_t smooth_at_least(size_t v) { /* smallest 8 * 2^a * 3^b >= v */
    size_t best = SIZE_MAX;
    for (size_t p3 = 8; p3 < 4 * v + 32; p3 *= 3) {
        size_t x = p3;
        while (x < v) x *= 2;
        if (x < best) best = x;
    }
    return best;
}

/* Lagrange weights of the nodes at 1/6, 1/2, 5/6 for t in [0, 1]. */
static inline void lagrange3(double t, double *w) {
    const double a = t - 1.0 / 6.0, b = t - 0.5, c = t - 5.0 / 6.0;
    w[0] = 4.5 * b * c;
    w[1] = -9.0 * a * c;
    w[2] = 4.5 * a * b;
}

tg_status tg_fitsne_repulsion(tg_fitsne *f, const double *y, double *rep, double *zsum) {
    const size_t n = f->n;
    double x0 = y[0], x1 = y[0], y0 = y[1], y1 = y[1];
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        const double u = y[2 * i], v = y[2 * i + 1];
        finite &= isfinite(u) && isfinite(v);
        x0 = u < x0 ? u : x0;
        x1 = u > x1 ? u : x1;
        y0 = v < y0 ? v : y0;
        y1 = v > y1 ? v : y1;
    }
    if (!finite || !isfinite(x1 - x0) || !isfinite(y1 - y0))
        return tg_fail(TG_ERR_VALUE, "t-SNE diverged (non-finite embedding); try a smaller learning_rate");
    const double cx = 0.5 * (x0 + x1), cy = 0.5 * (y0 + y1);
    double side = fmax(x1 - x0, y1 - y0);
    side = side * (1.0 + 1e-9) + 1e-12; /* every point strictly inside */
    /* boxes: at least NB_MIN, else one per unit of length rounded up to 8 2^a 3^b; the
     * square is always cut exactly (w_box = side / nb <= 1, so the grid moves with the
     * points' extent; a fixed w_box = 1 left the interpolation error in place from one
     * iteration to the next and slowed the expansion: KL 1.69 instead of 1.64 at N = 10,000) */
    size_t nb = NB_MIN;
    if (side > (double)NB_MAX)
        nb = NB_MAX;
    else if (side > (double)NB_MIN)
        nb = smooth_at_least((size_t)ceil(side));
    if (nb > NB_MAX) nb = NB_MAX;
    const double wbox = side / (double)nb;
    const size_t M = 3 * nb, L = 2 * M;
    const double h = wbox / 3.0, half = 0.5 * (double)nb * wbox;
    tg_status st = ensure_grid(f, M);
    if (st != TG_OK) return st;
    make_kernel(f, h);

    /* 1. weights and cells */
    const double gx0 = cx - half, gy0 = cy - half, inv_w = 1.0 / wbox;
    for (size_t i = 0; i < n; i++) {
        double u = (y[2 * i] - gx0) * inv_w, v = (y[2 * i + 1] - gy0) * inv_w;
        size_t bx = (size_t)fmax(0.0, floor(u)), by = (size_t)fmax(0.0, floor(v));
        if (bx >= nb) bx = nb - 1;
        if (by >= nb) by = nb - 1;
        lagrange3(u - (double)bx, f->wts + 6 * i);
        lagrange3(v - (double)by, f->wts + 6 * i + 3);
        f->cell[i] = (uint64_t)(3 * bx) << 32 | (uint64_t)(3 * by); /* first node: column, row */
    }
    /* 2. spread: rows (y nodes) and columns (x nodes) < M */
    double *ar = f->ar, *ai = f->ai, *br = f->br, *bi = f->bi;
    for (size_t cb = 0; cb < M / VL; cb++) {
        memset(ar + cb * L * VL, 0, sizeof(double) * M * VL);
        memset(ai + cb * L * VL, 0, sizeof(double) * M * VL);
        memset(br + cb * L * VL, 0, sizeof(double) * M * VL);
        memset(bi + cb * L * VL, 0, sizeof(double) * M * VL);
    }
    for (size_t i = 0; i < n; i++) {
        const double xt = y[2 * i] - cx, yt = y[2 * i + 1] - cy, r2 = xt * xt + yt * yt;
        const double *wx = f->wts + 6 * i, *wy = wx + 3;
        const size_t gx = f->cell[i] >> 32, gy = f->cell[i] & 0xffffffffu;
        for (size_t a = 0; a < 3; a++) {
            const size_t g0 = node_at(L, gy, gx + a);
            for (size_t b = 0; b < 3; b++) {
                const size_t g = g0 + b * VL;
                const double w = wy[b] * wx[a];
                ar[g] += w;
                ai[g] += w * xt;
                br[g] += w * yt;
                bi[g] += w * r2;
            }
        }
    }
    /* 3. convolve both grids */
    convolve(f);
    /* 4. interpolate back; per-point terms of Z summed serially */
    double z = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double xt = y[2 * i] - cx, yt = y[2 * i + 1] - cy;
        const double *wx = f->wts + 6 * i, *wy = wx + 3;
        const size_t gx = f->cell[i] >> 32, gy = f->cell[i] & 0xffffffffu;
        double p1 = 0, p2 = 0, p3 = 0, p4 = 0;
        for (size_t a = 0; a < 3; a++) {
            const size_t g0 = node_at(L, gy, gx + a);
            for (size_t b = 0; b < 3; b++) {
                const size_t g = g0 + b * VL;
                const double w = wy[b] * wx[a];
                p1 += w * ar[g];
                p2 += w * ai[g];
                p3 += w * br[g];
                p4 += w * bi[g];
            }
        }
        rep[2 * i] = xt * p1 - p2;
        rep[2 * i + 1] = yt * p1 - p3;
        z += (1.0 + xt * xt + yt * yt) * p1 - 2.0 * (xt * p2 + yt * p3) + p4;
    }
    *zsum = z - (double)n;
    return TG_OK;
}

/* For the C tests: the forward 1-D transform of length L (2^a 3^b) of VL sequences at once,
 * re / im [L][VL] in place.  Returns TG_OK or the plan's error. */
tg_status tg_fitsne_fft_block(size_t L, double *re, double *im) {
    fft_plan p;
    tg_status st = plan_make(&p, L);
    if (st != TG_OK) return st;
    double *buf = tg_alloc_aligned(sizeof(double) * 4 * L * VL); /* the transform needs 64-byte alignment */
    if (!buf) {
        plan_free(&p);
        return tg_fail(TG_ERR_NOMEM, "t-SNE FFT: out of memory");
    }
    memcpy(buf, re, sizeof(double) * L * VL);
    memcpy(buf + L * VL, im, sizeof(double) * L * VL);
    const int in_y = block_fft(&p, buf, buf + L * VL, buf + 2 * L * VL, buf + 3 * L * VL);
    memcpy(re, buf + (in_y ? 2 : 0) * L * VL, sizeof(double) * L * VL);
    memcpy(im, buf + (in_y ? 3 : 1) * L * VL, sizeof(double) * L * VL);
    free(buf);
    plan_free(&p);
    return TG_OK;
}
