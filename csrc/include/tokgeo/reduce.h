/*
 * tokgeo/reduce.h - dimensionality reductions: PCA (covariance eigenstructure, exact or
 * randomized), t-SNE (exact and Barnes-Hut), trustworthiness, and the dense symmetric
 * eigensolver they rest on.
 *
 * Inputs are tg_view matrices [n, d] (float32 or float64, any element strides, including
 * zero and negative ones); they are read through their strides, never copied whole: the
 * routines convert bounded row blocks to float64 as they go.  Every output buffer is owned
 * by the caller, row-major and contiguous.  All accumulation is in double, except inside the
 * float32 Gram-matrix products of PCA described below (summed in double every block).
 *
 * Threads: our OpenMP loops follow tg_set_num_threads(); BLIS is only called single-threaded,
 * on tiles that those loops share out (never nested inside another of our parallel
 * regions).  Long loops poll tg_interrupted() from the calling thread
 * and return TG_ERR_INTERRUPTED, having freed everything.
 *
 * Reproducibility: tg_eigh and the exact PCA are deterministic.  The randomized PCA
 * depends only on its seed.  t-SNE is deterministic given its inputs.  None of them depends
 * on the thread count or on the size of the OpenMP team actually granted: our own loops
 * give each per-point sum a fixed order whichever thread computes it and add global sums
 * serially, and every BLIS product is cut into tiles fixed by the shapes, each computed by
 * a single-threaded BLIS call (reduce/tiled_blas.c), so no output entry depends on how BLIS would
 * have split the work; the one exception, the float32 Gram matrix of exact PCA on large
 * input, is one BLIS ssyrk call on BLIS's native path, which never splits an entry's sum
 * (tiled_blas.c).  Hot loops are compiled twice (baseline and x86-64-v3): machines
 * with and without AVX2 differ in the last bits.
 */
#ifndef TG_REDUCE_H
#define TG_REDUCE_H

#include "tokgeo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- dense symmetric eigensolver ----------------------------------------------------
 * a: n x n row-major, symmetric (both triangles read; the lower one wins where they
 * differ).  On TG_OK: w[0..n-1] holds the eigenvalues in ascending order and row i of `a`
 * holds the unit eigenvector of w[i] (i.e. a = V^T).  Householder tridiagonalisation,
 * accumulated with blocked reflectors (BLIS gemm), then implicit QL with Wilkinson shifts
 * whose rotations are recorded and applied in batches, in cache blocks, by all threads.
 * O(n^3) time; extra memory O(32 n) plus a rotation buffer of at most 24 MB.  Fails with TG_ERR_VALUE on a non-finite
 * entry, TG_ERR_INTERNAL if QL does not converge (never observed), TG_ERR_INTERRUPTED.
 * On failure `a` and `w` hold unspecified values. */
tg_status tg_eigh(double *a, size_t n, double *w);

/* Orthonormalises the k rows of q (k x m row-major, k <= m) in place: modified
 * Gram-Schmidt, run twice.  A row that is (numerically) dependent on the previous ones is
 * replaced by a deterministic unit vector orthogonal to them.  Returns TG_ERR_VALUE if
 * k > m. */
tg_status tg_orthonormalize_rows(double *q, size_t k, size_t m);

/* ---- PCA -------------------------------------------------------------------------------
 * Principal components of x [n, d]: eigenvectors of the sample covariance
 * C = Xc^T Xc / (n - 1) (Xc = x minus its column means, or x itself if !center),
 * eigenvalues = explained variances (ddof = 1, like numpy.cov and sklearn's
 * explained_variance_).
 *
 * Method: the Gram matrix of the centred data is formed over its longer axis, so its
 * size is m = min(n, d) (m x m doubles); for n < d the dual (n x n) problem is solved and
 * the components are recovered as Xc^T u / sigma.
 *   TG_PCA_EXACT: Gram in float64 (row blocks converted to double, BLIS dsyrk), then for
 *     2k <= m only the top k eigenpairs (Householder tridiagonalisation, eigenvalues by QL,
 *     eigenvectors by inverse iteration re-orthogonalised within clusters of close
 *     eigenvalues, k back-transforms), else the full eigendecomposition (tg_eigh); either
 *     agrees with LAPACK to ~1e-12 relative.
 *     Large float32 input (n >= d >= 256, 2k <= d, n d^2 >= TG_PCA_MIXED_MIN_MADDS, e.g.
 *     a vocabulary's embeddings) takes a faster route to the same eigenvalues: the subspace
 *     from a float32 Gram matrix of the data minus its first block's mean (BLIS ssyrk, twice
 *     the rate of dsyrk, one call per 4,096-row block, summed in float64), then a float64
 *     Rayleigh-Ritz step on the data (Y = Xc V, eigenpairs of Y^T Y).  Eigenvalues agree with
 *     the float64 route's to ~1e-13 relative (their error is the square of the subspace's),
 *     components to a few 1e-7 (measured 1e-8 to 9e-8 on decaying spectra, 3.6e-7 on
 *     isotropic noise); mean and total variance are float64 sums.  It falls back to the
 *     float64 Gram (same bits as for float64 input) when its error estimate for an
 *     eigenvalue exceeds 1e-10 relative (spectra spanning many decades within the top k,
 *     close eigenvalues at k, null directions) or when the first block's mean is far from
 *     the data's (n |mean - shift|^2 > the centred trace).  Convert the input to float64 to
 *     keep the float64 Gram throughout.
 *   TG_PCA_RANDOMIZED: the same Gram (for float32 input its blocks are multiplied in
 *     float32 by BLIS ssyrk and accumulated in float64 every 1024 rows: relative error
 *     ~1e-6, far below what the randomized approximation itself allows), then the
 *     randomized range finder of Halko, Martinsson & Tropp (2011) on the Gram matrix:
 *     Gaussian test matrix with k + n_oversamples columns, n_iter power iterations each
 *     followed by re-orthonormalisation, Rayleigh-Ritz on the small projected matrix.
 *
 * Sign convention (both methods): in each component the entry of largest absolute
 * value is positive (the first such entry if several tie).  This is the rule
 * sklearn >= 1.5 applies to PCA.components_.
 *
 * Outputs (caller-allocated, may not alias): eigenvalues[k] descending; components[k*d]
 * row-major (row j = component j, unit norm); mean[d] (zeros if !center); *total_variance
 * = trace of C (so eigenvalues[j] / total_variance is the explained variance ratio).
 * Requirements: n >= 2, d >= 1, 1 <= k <= min(n, d) (for !center, n >= 1 suffices but
 * the ddof = 1 normalisation still divides by n - 1, so n >= 2 is required too); every
 * entry finite.  Errors: TG_ERR_VALUE (shape, k, non-finite entry, with the position),
 * TG_ERR_TYPE (dtype), TG_ERR_OVERFLOW, TG_ERR_NOMEM, TG_ERR_INTERRUPTED. */
typedef enum tg_pca_method { TG_PCA_EXACT = 0, TG_PCA_RANDOMIZED = 1 } tg_pca_method;

/* n d^2 (multiply-adds of the Gram matrix, 2^33: ~0.2 s of dsyrk) from which exact PCA of float32
 * input takes the float32-Gram + float64 Rayleigh-Ritz route described above. */
#define TG_PCA_MIXED_MIN_MADDS 8589934592.0

typedef struct tg_pca_options {
    tg_pca_method method;
    bool center;          /* subtract the column means (true for PCA) */
    uint64_t seed;        /* randomized only */
    size_t n_oversamples; /* randomized only; 10 is a good default */
    size_t n_iter;        /* randomized only: power iterations; 7 is a good default */
} tg_pca_options;

tg_status tg_pca(const tg_view *x, size_t k, const tg_pca_options *opt, double *eigenvalues,
                 double *components, double *mean, double *total_variance);

/* out[n*k] = (x - mean) @ components^T: x [n, d] view, mean[d] (NULL: no centring),
 * components[k*d] row-major.  Float64 accumulation.  TG_ERR_VALUE on shape mismatch. */
tg_status tg_pca_transform(const tg_view *x, const double *mean, const double *components,
                           size_t k, double *out);

/* ---- t-SNE --------------------------------------------------------------------------------
 * Embeds x [n, d] into y [n, dim] minimising KL(P || Q) (van der Maaten & Hinton 2008).
 *
 * P: conditional Gaussians calibrated per point (a bracketed Newton search on log beta) so
 * that the entropy (natural log) equals log(perplexity) within 1e-10 (sklearn's bisection
 * stops at 1e-5; at most 100 steps), symmetrised and normalised:
 * p_ij = (p_j|i + p_i|j) / sum (exact: entries floored at DBL_EPSILON, like sklearn).  Input distances: squared Euclidean
 * (metric EUCLIDEAN, as sklearn does) or cosine distance 1 - cos (metric COSINE).
 *   exact:      all n - 1 other points, P dense (n^2 float32 values, after n^2 doubles while
 *               it is built), gradient O(n^2) per iteration.
 *   Barnes-Hut: the floor(3 * perplexity + 1) nearest neighbours (exact, or approximate:
 *               see `neighbors` below), P sparse, repulsion by a quadtree with opening angle
 *               `angle` (a cell of side w at distance r from the point is summarised when
 *               w / r < angle and the point is not inside it).  dim must be 2.
 * Q: Student-t with dof = max(dim - 1, 1).
 * Optimiser (the schedule sklearn uses): gradient descent with momentum 0.5 for
 * `exaggeration_iter` iterations with P multiplied by `early_exaggeration`, then momentum
 * 0.8, each phase starting from zero momentum and unit gains; per-coordinate gains (+0.2 when the gradient changes sign against the update,
 * x0.8 otherwise, floor 0.01).  Every 50 iterations (and at the last one) the KL divergence
 * and the gradient norm are evaluated; the run stops early when the gradient norm falls
 * below min_grad_norm, or (after the exaggeration phase) when the KL has not improved for
 * more than n_iter_without_progress iterations.
 *
 * y: in = initial embedding [n*dim] (e.g. scaled PCA); out = final embedding.
 * *kl: KL divergence evaluated at the last iteration (for Barnes-Hut with the tree's
 * estimate of the normaliser), *n_iter: index of the last iteration run (like sklearn's
 * n_iter_).  The caller chooses perplexity < n (see the Python layer for the rule).
 * Errors: TG_ERR_VALUE (n < 4, bad parameter, non-finite input, exact with n > 50000),
 * TG_ERR_TYPE, TG_ERR_OVERFLOW, TG_ERR_NOMEM, TG_ERR_INTERRUPTED. */
typedef enum tg_tsne_method { TG_TSNE_EXACT = 0, TG_TSNE_BARNES_HUT = 1, TG_TSNE_FFT = 2 } tg_tsne_method;
typedef enum tg_tsne_metric { TG_METRIC_EUCLIDEAN = 0, TG_METRIC_COSINE = 1 } tg_tsne_metric;
/* How Barnes-Hut and FFT find the neighbours of each point: exactly (a float32 filter with a
 * rigorous error bound, then float64; O(n^2 d)), or approximately (a forest of random-
 * projection trees and a neighbours-of-neighbours round, then float64 distances of the
 * candidates: 6-7 s instead of 25-44 s for 50,257 x 768 on one core, 99.0% of the exact
 * affinity graph's edges and 99.7% of its mass on embedding-like data, printed by
 * benchmarks/bench_reduce.py; when 256 rows checked exactly show less than 95% of their
 * neighbours found, the exact search runs instead).  Both are deterministic at any thread
 * count; the approximate search also depends on `seed`. */
typedef enum tg_tsne_neighbors { TG_NEIGHBORS_EXACT = 0, TG_NEIGHBORS_APPROX = 1 } tg_tsne_neighbors;

typedef struct tg_tsne_options {
    tg_tsne_method method;
    tg_tsne_metric metric;
    size_t dim;                     /* embedding dimension (2 for Barnes-Hut and FFT) */
    double perplexity;              /* > 0 and < n */
    double early_exaggeration;      /* 12 */
    size_t exaggeration_iter;       /* 250 */
    double learning_rate;           /* > 0 (sklearn's "auto": max(n / exaggeration / 4, 50)) */
    size_t max_iter;                /* total iterations, >= exaggeration_iter */
    size_t n_iter_without_progress; /* 300 */
    double min_grad_norm;           /* 1e-7 */
    double angle;                   /* Barnes-Hut opening angle, 0.5 (unused by the others) */
    tg_tsne_neighbors neighbors;    /* Barnes-Hut and FFT: exact (0, the default) or approximate */
    uint64_t seed;                  /* the approximate neighbour search's random trees */
} tg_tsne_options;

tg_status tg_tsne(const tg_view *x, const tg_tsne_options *opt, double *y, double *kl,
                  size_t *n_iter);

/* The symmetrised t-SNE affinities of x with the options' method/metric/perplexity, as a
 * CSR matrix, for tests and inspection.  *indptr (n + 1), *indices (nnz) and *values (nnz)
 * are allocated here (malloc) and owned by the caller (free()).  The exact method gives
 * every off-diagonal entry. */
tg_status tg_tsne_affinities(const tg_view *x, const tg_tsne_options *opt, size_t **indptr,
                             size_t **indices, double **values);

/* Trustworthiness of an embedding (Venna & Kaski; the definition sklearn implements):
 * T = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in NN_k^emb(i)} max(0, r(i, j) - k)
 * where r(i, j) is the rank of j among i's neighbours in x by Euclidean distance
 * (1 = nearest; ties broken by index).  x [n, d], emb [n, e]; requires k >= 1 and
 * k < n / 2.  Exact distances (no dot-product trick), O(n^2 (d + e + k)). */
tg_status tg_trustworthiness(const tg_view *x, const tg_view *emb, size_t k, double *out);

#ifdef __cplusplus
}
#endif
#endif /* TG_REDUCE_H */
