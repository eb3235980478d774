"""t-SNE and trustworthiness: affinities and optimiser against the NumPy twins, quality
against sklearn.manifold.TSNE on the same data, reproducibility, small samples, Ctrl-C,
bad input."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import warnings

import numpy as np
import pytest

import tokgeo
from tokgeo import _C
from tokgeo._reduce import TSNE_APPROX_MIN_SAMPLES, TSNE_FFT_MIN_SAMPLES, trustworthiness, tsne
from tokgeo.reference.reduce import joint_probabilities_reference, trustworthiness_reference, tsne_reference
from tokgeo.errors import InvalidInputError, InvalidTypeError

manifold = pytest.importorskip("sklearn.manifold")


def blobs(n: int, d: int = 20, centers: int = 6, seed: int = 0, std: float = 2.0) -> np.ndarray:
    """Clustered data: `centers` Gaussian blobs with centres drawn in [-10, 10]^d."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(-10, 10, size=(centers, d))
    lab = np.arange(n) % centers
    return c[lab] + std * rng.standard_normal((n, d))


def dense_from_csr(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    p = np.zeros((n, n))
    rows = np.repeat(np.arange(n), np.diff(indptr))
    p[rows, indices] = values
    return p


# ----------------------------------------------------------------------------- affinities


@pytest.mark.parametrize("method", ["exact", "barnes_hut"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_affinities_match_numpy_twin(method: str, metric: str) -> None:
    x = blobs(120, d=8, seed=1)
    perp = 10.0
    ip, ix, v = _C._tsne_affinities(x, 1 if method == "barnes_hut" else 0, 1 if metric == "cosine" else 0, perp)
    p = dense_from_csr(ip, ix, v, len(x))
    ref = joint_probabilities_reference(x, perp, method=method, metric=metric)
    np.testing.assert_allclose(p, ref, rtol=1e-9, atol=1e-15)
    assert p.sum() == pytest.approx(1.0, abs=1e-9)  # exact: entries floored at eps, like sklearn
    np.testing.assert_array_equal(p, p.T)


def test_affinities_match_sklearn() -> None:
    """sklearn computes the distances in float32 and stops its bisection when the entropy is
    within 1e-5 of log(perplexity) (we go to 1e-10), so its P is accurate to ~1e-4 relative."""
    from sklearn.manifold import _t_sne  # private, but the reference definition of P
    from sklearn.metrics import pairwise_distances
    from sklearn.neighbors import NearestNeighbors
    from scipy.spatial.distance import squareform

    x = blobs(150, d=10, seed=2)
    perp = 15.0
    d2 = pairwise_distances(x, squared=True)
    p_sk = squareform(_t_sne._joint_probabilities(d2, perp, 0))
    p = dense_from_csr(*_C._tsne_affinities(x, 0, 0, perp), len(x))
    np.testing.assert_allclose(p, p_sk, rtol=1e-3, atol=1e-12)
    k = int(3 * perp + 1)
    knn = NearestNeighbors(n_neighbors=k).fit(x).kneighbors_graph(mode="distance")
    knn.data **= 2
    p_sk_bh = _t_sne._joint_probabilities_nn(knn, perp, 0).toarray()
    p_bh = dense_from_csr(*_C._tsne_affinities(x, 1, 0, perp), len(x))
    np.testing.assert_allclose(p_bh, p_sk_bh, rtol=1e-3, atol=1e-10)


# ----------------------------------------------------------------------------- optimiser vs twin


def test_exact_optimiser_matches_numpy_twin() -> None:
    """The C optimiser = the NumPy twin, iteration for iteration (P rounded to float32 as the
    C stores it).  t-SNE is chaotic, so only the first iterations can agree tightly."""
    x = blobs(60, d=5, seed=3)
    perp = 8.0
    p = joint_probabilities_reference(x, perp).astype(np.float32).astype(np.float64)
    y0 = np.random.default_rng(0).standard_normal((60, 2)) * 1e-4
    for iters in (1, 5, 15):
        y, kl, nit = _C._tsne(x, y0, 0, 0, perp, 12.0, 250, 50.0, iters, 300, 0.0, 0.5)
        yr, klr = tsne_reference(p, y0, learning_rate=50.0, max_iter=iters)
        assert nit == iters - 1
        np.testing.assert_allclose(y, yr, rtol=1e-7, atol=1e-9 * np.abs(yr).max())
        assert kl == pytest.approx(klr, rel=1e-7)
    # the plain phase (no exaggeration, momentum 0.8) too
    y, kl, _ = _C._tsne(x, y0, 0, 0, perp, 1.0, 0, 20.0, 10, 300, 0.0, 0.5)
    yr, klr = tsne_reference(p, y0, learning_rate=20.0, max_iter=10, early_exaggeration=1.0, exaggeration_iter=0)
    np.testing.assert_allclose(y, yr, rtol=1e-7, atol=1e-9 * np.abs(yr).max())
    assert kl == pytest.approx(klr, rel=1e-7)


def test_barnes_hut_with_zero_angle_is_exact_on_sparse_p() -> None:
    """angle=0 opens every cell: the BH repulsion is then exact, so the first iterations
    follow the NumPy twin run on the sparse (kNN) P."""
    x = blobs(80, d=6, seed=4)
    perp = 6.0
    p = joint_probabilities_reference(x, perp, method="barnes_hut").astype(np.float32).astype(np.float64)
    y0 = np.random.default_rng(1).standard_normal((80, 2)) * 1e-4
    y, kl, _ = _C._tsne(x, y0, 1, 0, perp, 12.0, 250, 50.0, 8, 300, 0.0, 0.0)
    yr, klr = tsne_reference(p, y0, learning_rate=50.0, max_iter=8)
    np.testing.assert_allclose(y, yr, rtol=1e-7, atol=1e-9 * np.abs(yr).max())
    assert kl == pytest.approx(klr, rel=1e-6)


# ----------------------------------------------------------------------------- quality vs sklearn


@pytest.mark.slow
@pytest.mark.parametrize("method,n", [("exact", 300), ("barnes_hut", 600), ("fft", 600)])
def test_quality_matches_sklearn(method: str, n: int) -> None:
    x = blobs(n, d=20, seed=5)
    ours = tsne(x, method=method, random_state=0)
    sk = manifold.TSNE(method="exact" if method == "exact" else "barnes_hut", random_state=0, init="pca", perplexity=30.0)
    emb = sk.fit_transform(x)
    assert ours.embedding.shape == (n, 2)
    # final KL within 5% (relative) of sklearn's on the same data and perplexity
    assert abs(ours.kl_divergence - sk.kl_divergence_) <= 0.05 * sk.kl_divergence_
    t_ours = trustworthiness(x, ours.embedding, 5)
    t_sk = manifold.trustworthiness(x, emb, n_neighbors=5)
    # At least as good, up to 0.002.  Why a slack at all: sklearn optimises in float32 and we in
    # float64, and t-SNE's dynamics are chaotic, so the two final layouts differ like two runs
    # from different random inits.  On this data, over 4 random inits, trustworthiness had
    # mean 0.9761 (std 0.0006) for tokgeo and 0.9763 (std 0.0005) for sklearn 1.9 (BH, n=600):
    # 0.002 is about 3.5 run-to-run standard deviations, far below a real quality loss.
    assert t_ours >= t_sk - 0.002
    assert t_ours > 0.9


def lesson_like(n: int, seed: int, d: int = 768) -> np.ndarray:
    """Word-embedding-like data: rank-8 structure plus isotropic noise, d = 768."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 8)) @ rng.standard_normal((8, d))
    return (z + 2.0 * rng.standard_normal((n, d))).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("method,n,perplexity", [("exact", 30, 9.0), ("exact", 52, 17.0), ("barnes_hut", 52, 17.0), ("barnes_hut", 200, 30.0)])
def test_small_n_mean_kl_matches_sklearn(method: str, n: int, perplexity: float) -> None:
    """Issue 9: at the lesson's size (52 words, perplexity 17) the mean KL over 8 seeds was
    0.80 vs sklearn's 0.67, because the optimiser kept its momentum and gains across the end
    of the exaggeration phase (sklearn restarts them); maps were ~4-10x more spread and ran
    to max_iter.  Now, over 10 data/seed draws, the mean KL may exceed sklearn's by at most
    3 standard errors of the paired per-seed difference.  Measured after the fix on this data
    (12 draws): N=52 exact 0.444 vs 0.455, BH 0.447 vs 0.446 (paired sd 0.027-0.029, i.e. a
    standard error of ~2% of the KL); N=30 0.368 vs 0.369 (sd 0.07); N=200 0.978 vs 0.975
    (sd 0.014).  Before the fix, on 52 points in 6 blobs, tokgeo's mean KL was 7x sklearn's."""
    ours, theirs = [], []
    for s in range(10):
        x = lesson_like(n, s)
        ours.append(tsne(x, perplexity=perplexity, method=method, random_state=s).kl_divergence)
        sk = manifold.TSNE(perplexity=perplexity, method=method, random_state=s, init="pca").fit(x)
        theirs.append(sk.kl_divergence_)
    a, b = np.array(ours), np.array(theirs)
    se = float(np.std(a - b, ddof=1)) / np.sqrt(len(a))
    assert a.mean() <= b.mean() + 3.0 * se, (a.mean(), b.mean(), se)


@pytest.mark.slow
def test_fft_matches_opentsne_fft() -> None:
    """The FFT-accelerated gradient against the reference implementation of the same method:
    openTSNE's ``negative_gradient_method="fft"`` with its schedule (learning rate N / 12,
    250 exaggerated + 500 plain iterations), the same data, KL computed the same way
    (openTSNE's P, all-pairs Q).  Ours may not be worse by more than 5%; measured on this
    data (N = 3,000, openTSNE 1.0.4): KL 2.735 vs 2.720 (+0.6%), trustworthiness of the
    first 1,000 points 0.917 vs 0.910."""
    openTSNE = pytest.importorskip("openTSNE")
    n = 3000
    x = lesson_like(n, 0, d=50)
    theirs = openTSNE.TSNE(perplexity=30, n_iter=500, negative_gradient_method="fft", n_jobs=1, random_state=0).fit(x)
    p = theirs.affinities.P.tocsr()
    ours = tsne(x, method="fft", random_state=0, max_iter=750, learning_rate=n / 12)
    assert ours.method == "fft" and ours.n_iter == 749

    def kl(y: np.ndarray) -> float:
        y = np.asarray(y, dtype=np.float64)
        rows, cols = p.nonzero()
        vals = np.asarray(p[rows, cols]).ravel()
        d2 = ((y[rows] - y[cols]) ** 2).sum(1)
        sq = (y * y).sum(1)
        z = float((1.0 / (1.0 + np.maximum(sq[:, None] + sq[None, :] - 2.0 * y @ y.T, 0.0))).sum()) - n
        return float((vals * np.log(vals)).sum() + (vals * np.log1p(d2)).sum() + np.log(z))

    k_ours, k_theirs = kl(ours.embedding), kl(np.asarray(theirs))
    assert k_ours <= 1.05 * k_theirs, (k_ours, k_theirs)
    assert trustworthiness(x[:1000], ours.embedding[:1000], 5) >= trustworthiness(x[:1000], np.asarray(theirs)[:1000], 5) - 0.01


def test_auto_method_rule() -> None:
    from tokgeo.metrics import choose_tsne_method

    assert choose_tsne_method(4) == "barnes_hut"
    assert choose_tsne_method(TSNE_FFT_MIN_SAMPLES - 1) == "barnes_hut"
    assert choose_tsne_method(TSNE_FFT_MIN_SAMPLES) == "fft"
    assert choose_tsne_method(50_257) == "fft"
    small = tsne(blobs(100, d=5, seed=1), max_iter=250)
    assert small.method == "barnes_hut"
    assert np.array_equal(small.embedding, tsne(blobs(100, d=5, seed=1), max_iter=250, method="barnes_hut").embedding)
    big = lesson_like(TSNE_FFT_MIN_SAMPLES, 3, d=10)
    a = tsne(big, max_iter=260)
    assert a.method == "fft"
    assert np.array_equal(a.embedding, tsne(big, max_iter=260, method="fft").embedding)
    with pytest.raises(InvalidInputError, match="n_components=2 only"):
        tsne(big[:50], n_components=3, method="fft")


def test_fft_past_the_grid_is_barnes_hut() -> None:
    """An FFT iteration whose bounding square is wider than the grid covers at one box per
    unit (TG_FITSNE_MAX_SIDE = 432) is computed with Barnes-Hut: its 432 boxes would be wider
    than the kernel (the first tokgeo-mini's whole vocabulary, 46,161 identical rows, spread to 4,500
    units and the grid's Z went negative).  Started 2,000 units wide, every iteration is past
    the grid, so the run is Barnes-Hut's to the bit."""
    x = blobs(1500, d=8, seed=3)
    init = np.random.default_rng(0).uniform(-1000.0, 1000.0, size=(1500, 2))
    a = tsne(x, init=init, max_iter=60, method="fft", random_state=0)
    b = tsne(x, init=init, max_iter=60, method="barnes_hut", random_state=0)
    assert float(np.ptp(a.embedding, axis=0).min()) > 432.0
    assert np.array_equal(a.embedding, b.embedding) and a.kl_divergence == b.kl_divergence
    # a compact start stays on the grid: the two differ
    c = tsne(x, init=init * 1e-4, max_iter=60, method="fft", random_state=0)
    d = tsne(x, init=init * 1e-4, max_iter=60, method="barnes_hut", random_state=0)
    assert not np.array_equal(c.embedding, d.embedding)


def with_duplicates(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """lesson_like data where 15% of the rows are exact copies of the data mean: the copies
    are every other point's nearest neighbours, all at one distance (as the 310 identical rows
    among the first 2000 of the first tokgeo-mini's W_E, which are near the centre)."""
    x = lesson_like(n, seed)
    dup = np.random.default_rng(seed + 100).choice(n, int(0.15 * n), replace=False)
    x[dup] = x.mean(axis=0)
    return x, dup


def test_affinities_with_duplicate_rows_are_finite() -> None:
    """With 90 copies among a point's k = 91 nearest neighbours, all at one distance, the
    entropy cannot fall to log(30): beta grew until every exp(-d beta) underflowed and P was
    NaN (then "t-SNE diverged at iteration 49").  The beta -> inf limit is the uniform
    distribution over the tied neighbours."""
    x, dup = with_duplicates(600, 0)
    ip, ix, v = _C._tsne_affinities(x, 1, 0, 30.0)
    p = dense_from_csr(ip, ix, v, len(x))
    assert np.isfinite(p).all() and (p >= 0).all()
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_array_equal(p, p.T)
    # a point that is not a copy puts its whole conditional mass on the tied copies (uniform
    # over those whose computed distance is the smallest), so its joint P on the copies is
    # >= sum_j p_{j|i} / (2n) = 1 / (2n)
    other = np.setdiff1d(np.arange(len(x)), dup)[0]
    assert p[other, dup].sum() >= 1.0 / (2 * len(x)) * (1 - 1e-9)


# ----------------------------------------------------------------------------- approximate neighbours


def spectrum_like(n: int, d: int, seed: int) -> np.ndarray:
    """Embedding-like rows: a decaying spectrum 1 / sqrt(1 + i), randomly rotated, plus 20
    clusters (the data of benchmarks/bench_reduce.py)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    x = (rng.standard_normal((n, d)) / np.sqrt(1.0 + np.arange(d))) @ q.T
    return (x + 0.3 * rng.standard_normal((20, d))[rng.integers(0, 20, n)]).astype(np.float32)


def edge_recall(x: np.ndarray, metric: int = 0, seed: int = 0) -> tuple[float, float, np.ndarray]:
    """(share of the exact affinity graph's edges the approximate one has, share of P's mass
    on them, the approximate P dense)."""
    n = len(x)
    exact = dense_from_csr(*_C._tsne_affinities(x, 2, metric, 30.0, 0, 0), n)
    approx = dense_from_csr(*_C._tsne_affinities(x, 2, metric, 30.0, 1, seed), n)
    both = (exact > 0) & (approx > 0)
    return both.sum() / (exact > 0).sum(), exact[both].sum() / exact.sum(), approx


@pytest.mark.parametrize("metric", [0, 1])
def test_approximate_neighbours_find_the_exact_graph(metric: int) -> None:
    """The approximate search (random-projection forest + one neighbours-of-neighbours round)
    against the exact search, which is tested against sklearn and long double: on 6,000 x 96
    embedding-like rows it finds >= 99% of the affinity graph's edges and >= 99.9% of P's mass
    (measured: 0.9989 / 0.99992 Euclidean, 0.9988 / 0.99993 cosine); P stays a symmetric
    distribution."""
    x = spectrum_like(6000, 96, seed=3)
    edges, mass, p = edge_recall(x, metric)
    assert edges >= 0.99 and mass >= 0.999, (edges, mass)
    assert np.isfinite(p).all() and p.sum() == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_array_equal(p, p.T)


def test_approximate_search_falls_back_on_structureless_data() -> None:
    """Isotropic noise of 64 dimensions has no structure for the trees to follow (the forest
    finds well under 95% of the neighbours of 8,000 points): the sample check sees it and P
    is the exact search's, bit for bit."""
    x = np.random.default_rng(12).standard_normal((8000, 64))
    exact = _C._tsne_affinities(x, 2, 0, 30.0, 0, 0)
    approx = _C._tsne_affinities(x, 2, 0, 30.0, 1, 0)
    assert all(np.array_equal(u, v) for u, v in zip(exact, approx))


def test_approximate_neighbours_with_duplicate_rows() -> None:
    """15% of the rows identical (as untrained tokens in a W_E): the forest cannot split the
    copies by direction, splits them by index, and P stays finite with the copies' mass.
    (Which of the equidistant copies become neighbours differs from the exact search's
    lowest-index choice, so edge recall is no measure here; the C test counts a neighbour
    as found when it is as near as the exact k-th, and finds >= 97% with copies.)"""
    x, dup = with_duplicates(3000, 1)
    _, _, p = edge_recall(x)
    assert np.isfinite(p).all() and p.sum() == pytest.approx(1.0, abs=1e-9)
    other = np.setdiff1d(np.arange(len(x)), dup)[0]
    assert p[other, dup].sum() >= 1.0 / (2 * len(x)) * (1 - 1e-9)


def test_approximate_neighbours_same_bits_at_any_thread_count() -> None:
    x = spectrum_like(2500, 40, seed=4)
    before = tokgeo.get_num_threads()
    try:
        out = []
        for t in (1, 2, 3):
            tokgeo.set_num_threads(t)
            out.append(tsne(x, neighbors="approximate", random_state=5, max_iter=260).embedding)
    finally:
        tokgeo.set_num_threads(before)
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[0], out[2])
    a = _C._tsne_affinities(x, 2, 0, 30.0, 1, 5)
    b = _C._tsne_affinities(x, 2, 0, 30.0, 1, 6)  # another forest
    assert all(np.array_equal(u, v) for u, v in zip(a, _C._tsne_affinities(x, 2, 0, 30.0, 1, 5)))
    assert not all(np.array_equal(u, v) for u, v in zip(a, b))


def test_approximate_neighbours_reach_the_exact_quality() -> None:
    """The same t-SNE with either search: KL (on the exact P, computed the same way) within 1%
    and trustworthiness within 0.002."""
    x = spectrum_like(4000, 64, seed=8)
    ex = tsne(x, neighbors="exact", max_iter=500)
    ap = tsne(x, neighbors="approximate", max_iter=500)
    assert ex.neighbors == "exact" and ap.neighbors == "approximate"
    ip, ix, v = _C._tsne_affinities(x, 2, 0, 30.0, 0, 0)

    def kl(y: np.ndarray) -> float:
        rows = np.repeat(np.arange(len(y)), np.diff(ip))
        d2 = ((y[rows] - y[ix]) ** 2).sum(1)
        sq = (y * y).sum(1)
        z = (1.0 / (1.0 + np.maximum(sq[:, None] + sq[None, :] - 2 * y @ y.T, 0))).sum() - len(y)
        return float((v * np.log(v)).sum() + (v * np.log1p(d2)).sum() + np.log(z))

    assert kl(ap.embedding) <= 1.01 * kl(ex.embedding), (kl(ap.embedding), kl(ex.embedding))
    t_ex, t_ap = trustworthiness(x, ex.embedding, 5), trustworthiness(x, ap.embedding, 5)
    assert t_ap >= t_ex - 0.002, (t_ap, t_ex)


def test_auto_neighbours_rule() -> None:
    from tokgeo.metrics import choose_tsne_neighbors

    assert choose_tsne_neighbors(TSNE_APPROX_MIN_SAMPLES - 1) == "exact"
    assert choose_tsne_neighbors(TSNE_APPROX_MIN_SAMPLES) == "approximate"
    assert choose_tsne_neighbors(50_257) == "approximate"
    x = blobs(120, d=5, seed=2)
    assert tsne(x, max_iter=250).neighbors == "exact"
    assert tsne(x, method="exact", neighbors="approximate", max_iter=250).neighbors == "exact"  # all pairs
    with pytest.raises(InvalidInputError, match="neighbors must be 'auto', 'exact' or 'approximate'"):
        tsne(x, neighbors="annoy")  # type: ignore[arg-type]


@pytest.mark.slow
def test_barnes_hut_with_duplicate_rows_matches_sklearn() -> None:
    """Barnes-Hut on data with 15% duplicate rows runs (it diverged before), ends with a KL
    at most 10% above sklearn's BH (one-sided: lower is better), and puts the copies at (nearly) one point.  Not the 5% of
    test_quality_matches_sklearn, because the two objectives differ here: for a point whose
    target perplexity is out of reach (its nearest neighbours all tied), sklearn's sum of
    exp(-d beta) underflows to 0 and its conditional row becomes all zeros, where ours is the
    beta -> inf limit (uniform over the tied neighbours).  Measured (seeds 0, 1, 2): ours
    1.233, 1.260, 1.256; sklearn 1.402, 1.464, 1.165 (ours -12%, -14%, +7.8%).  The copies
    spread over 4.7-6.0% of the embedding's extent (sklearn's over 4-11%)."""
    x, dup = with_duplicates(600, 0)
    ours = tsne(x, method="barnes_hut", random_state=0)
    sk = manifold.TSNE(method="barnes_hut", random_state=0, init="pca", perplexity=30.0).fit(x)
    assert np.isfinite(ours.embedding).all()
    assert ours.kl_divergence <= 1.10 * sk.kl_divergence_, (ours.kl_divergence, sk.kl_divergence_)
    e = ours.embedding
    spread = float(np.abs(e[dup] - e[dup].mean(axis=0)).max())
    assert spread <= 0.10 * float(np.ptp(e, axis=0).max()), spread


# ----------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("method", ["exact", "barnes_hut", "fft"])
def test_same_seed_same_bits(method: str) -> None:
    x = blobs(150, d=10, seed=6)
    a = tsne(x, method=method, random_state=3, max_iter=300, init="random")
    b = tsne(x, method=method, random_state=3, max_iter=300, init="random")
    c = tsne(x, method=method, random_state=4, max_iter=300, init="random")
    assert np.array_equal(a.embedding, b.embedding) and a.kl_divergence == b.kl_divergence
    assert not np.array_equal(a.embedding, c.embedding)
    d = tsne(x, method=method, max_iter=300)  # None -> the fixed seed 0: reproducible
    e = tsne(x, method=method, max_iter=300)
    assert np.array_equal(d.embedding, e.embedding)


@pytest.mark.parametrize("method", ["exact", "barnes_hut", "fft"])
def test_result_does_not_depend_on_thread_count(method: str) -> None:
    x = blobs(300, d=10, seed=7)
    before = tokgeo.get_num_threads()
    try:
        tokgeo.set_num_threads(1)
        a = tsne(x, method=method, random_state=0, max_iter=300)
        tokgeo.set_num_threads(2)
        b = tsne(x, method=method, random_state=0, max_iter=300)
        tokgeo.set_num_threads(3)  # an odd count, more threads than cores
        c = tsne(x, method=method, random_state=0, max_iter=300)
    finally:
        tokgeo.set_num_threads(before)
    assert np.array_equal(a.embedding, b.embedding) and np.array_equal(a.embedding, c.embedding)


WIDE_THREADS_SCRIPT = """
import sys, numpy as np, tokgeo
from tokgeo._reduce import tsne
rng = np.random.default_rng(11)
x = rng.standard_normal((300, 600)).astype(np.float32)
x[:, :5] *= 5.0
tokgeo.set_num_threads(int(sys.argv[1]))
out = [tsne(x, method=m, init=i, random_state=2, max_iter=300).embedding for m in ("exact", "barnes_hut", "fft") for i in ("pca", "random")]
sys.stdout.write(np.concatenate(out).tobytes().hex())
"""


def test_wide_input_same_bits_at_any_thread_count_and_team_size() -> None:
    """Issue 9: with the PCA init on 300 x 600 data, 1 and 2 threads used to differ by up to
    268 (the PCA's BLIS products differed at 1e-14 and t-SNE amplified it).  Every method and
    init must give the same bits at 1, 2 and 3 threads, and when OpenMP hands us a smaller team
    than asked for (OMP_THREAD_LIMIT=1 with set_num_threads(2))."""
    import subprocess
    import sys

    def run(threads: int, env_extra: dict[str, str]) -> str:
        env = dict(os.environ, **env_extra)
        env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(tokgeo.__file__))), env.get("PYTHONPATH", "")])
        # cwd outside the checkout: `python -c` puts the cwd first on sys.path
        out = subprocess.run([sys.executable, "-c", WIDE_THREADS_SCRIPT, str(threads)], env=env, capture_output=True,
                             text=True, cwd=tempfile.gettempdir())
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    one = run(1, {})
    assert len(one) == 2 * 6 * 300 * 2 * 8  # 3 methods x 2 inits, 300 x 2 float64 as hex
    assert run(2, {}) == one
    assert run(3, {}) == one
    assert run(2, {"OMP_THREAD_LIMIT": "1"}) == one


# ----------------------------------------------------------------------------- small samples, layouts


def test_small_sample_lowers_perplexity_with_warning() -> None:
    x = blobs(54, d=768, centers=3, seed=8)  # 54 sentences x GPT-2 width
    with pytest.warns(UserWarning, match=r"using perplexity=17\.67"):
        r = tsne(x, random_state=0)
    assert r.perplexity_used == pytest.approx(53 / 3)
    assert r.embedding.shape == (54, 2) and np.all(np.isfinite(r.embedding))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r2 = tsne(x, perplexity=10.0, method="exact", max_iter=300)
    assert r2.perplexity_used == 10.0
    with pytest.warns(UserWarning):
        r3 = tsne(x[:4], method="exact", max_iter=250)
    assert r3.perplexity_used == 1.0


def test_strided_and_float32_inputs_agree() -> None:
    base = blobs(200, d=12, seed=9)
    x = base[::2]
    ref = tsne(np.ascontiguousarray(x), method="exact", max_iter=260, init="random")
    reversed_copy = np.ascontiguousarray(x[::-1])
    for variant in (x, np.asfortranarray(x), reversed_copy[::-1], reversed_copy[::-1, ::-1][:, ::-1]):
        assert np.array_equal(variant, x)
        r = tsne(variant, method="exact", max_iter=260, init="random")
        np.testing.assert_allclose(r.embedding, ref.embedding, rtol=1e-9, atol=1e-9)
    r32 = tsne(x.astype(np.float32), method="exact", max_iter=260, init="random")
    assert r32.embedding.shape == (100, 2)


def test_cosine_metric_and_exact_3d() -> None:
    x = blobs(120, d=16, seed=10)
    r = tsne(x, metric="cosine", max_iter=400, random_state=0)
    assert trustworthiness(x, r.embedding) > 0.85
    r3 = tsne(x, n_components=3, method="exact", max_iter=300)
    assert r3.embedding.shape == (120, 3) and np.isfinite(r3.kl_divergence)


@pytest.mark.usefixtures("python_sigint_handler")
def test_ctrl_c_interrupts() -> None:
    x = blobs(2000, d=10, seed=11)
    pid = os.getpid()
    timer = threading.Timer(0.5, lambda: os.kill(pid, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            tsne(x, method="exact", max_iter=100000, min_grad_norm=0.0, n_iter_without_progress=100000)
    finally:
        timer.cancel()
    # and the next call still works
    assert tsne(x[:50], perplexity=10.0, method="exact", max_iter=250).embedding.shape == (50, 2)


def test_gil_is_released_during_the_c_call() -> None:
    """Another Python thread keeps running while t-SNE computes."""
    x = blobs(800, d=10, seed=13)
    ticks = 0
    done = threading.Event()

    def work() -> None:
        tsne(x, method="exact", max_iter=400, perplexity=20.0)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
        done.wait(0.001)
    t.join()
    assert ticks > 50  # the run lasts well over 0.1 s; with the GIL held we would see a handful


# ----------------------------------------------------------------------------- trustworthiness


def test_trustworthiness_matches_sklearn_and_twin() -> None:
    rng = np.random.default_rng(12)
    x = rng.standard_normal((150, 9))
    for emb in (x[:, :2], rng.standard_normal((150, 2)), x @ rng.standard_normal((9, 3))):
        for k in (1, 5, 20):
            ours = trustworthiness(x, emb, k)
            assert ours == pytest.approx(manifold.trustworthiness(x, emb, n_neighbors=k), abs=1e-12)
            assert ours == pytest.approx(trustworthiness_reference(x, emb, k), abs=1e-12)
    assert trustworthiness(x, x) == 1.0
    x32 = x.astype(np.float32)
    assert trustworthiness(x32[::-1], x32[::-1, :2].copy(order="F"), 5) == pytest.approx(
        trustworthiness_reference(x32[::-1], x32[::-1, :2], 5), abs=1e-12
    )


def test_trustworthiness_bad_input() -> None:
    x = np.zeros((10, 3))
    with pytest.raises(InvalidInputError, match="n_samples / 2"):
        trustworthiness(x, x[:, :2], 5)
    with pytest.raises(InvalidInputError, match="match"):
        trustworthiness(x, x[:9, :2], 2)
    with pytest.raises(InvalidTypeError):
        trustworthiness(x, x[:, :2], 2.0)  # type: ignore[arg-type]
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        trustworthiness(bad, x[:, :2], 2)


# ----------------------------------------------------------------------------- bad input


def test_tsne_bad_inputs() -> None:
    x = blobs(30, d=4)
    with pytest.raises(InvalidInputError, match="at least 4 samples"):
        tsne(x[:3])
    with pytest.raises(InvalidInputError, match="at least"):
        tsne(np.zeros((0, 4)))
    with pytest.raises(InvalidInputError, match="2-D"):
        tsne(x[0])
    with pytest.raises(InvalidInputError, match="method"):
        tsne(x, method="fast")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="n_components=2 only"):
        tsne(x, n_components=3)
    with pytest.raises(InvalidInputError, match="perplexity"):
        tsne(x, perplexity=-1)
    with pytest.raises(InvalidInputError, match="learning_rate"):
        tsne(x, learning_rate=-5.0)
    with pytest.raises(InvalidInputError, match="angle"):
        tsne(x, angle=1.5)
    with pytest.raises(InvalidInputError, match="early_exaggeration"):
        tsne(x, early_exaggeration=0)
    with pytest.raises(InvalidInputError, match="init array"):
        tsne(x, perplexity=5.0, init=np.zeros((29, 2)))
    with pytest.raises(InvalidInputError, match="metric"):
        tsne(x, metric="manhattan")  # type: ignore[arg-type]
    bad = x.copy()
    bad[7, 1] = np.inf
    with pytest.raises(InvalidInputError, match=r"x\[7, 1\] is infinite"):
        tsne(bad, perplexity=5.0, init="random")
    with pytest.raises(InvalidInputError, match="zero variance"):
        tsne(np.ones((10, 3)), perplexity=2.0)
    zero_row = x.copy()
    zero_row[3] = 0
    with pytest.raises(InvalidInputError, match="all zeros"):
        tsne(zero_row, perplexity=5.0, metric="cosine", init="random")
