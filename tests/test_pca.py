"""PCA and the symmetric eigensolver: parity with numpy.linalg.eigh, numpy.cov and
sklearn.decomposition.PCA, the sign convention, strided inputs, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import tokgeo
from tokgeo import _C
from tokgeo._reduce import pca
from tokgeo.reference.reduce import eigh_reference, flip_signs, pca_reference
from tokgeo.errors import InvalidInputError, InvalidTypeError, MemoryBudgetError

sklearn_decomposition = pytest.importorskip("sklearn.decomposition")


def decaying_data(n: int, d: int, seed: int = 0, rate: float = 0.8, dtype: type = np.float64) -> np.ndarray:
    """Samples with a well-separated, geometrically decaying spectrum, randomly rotated."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scales = rate ** np.arange(d)
    return ((rng.standard_normal((n, d)) * scales) @ q.T + rng.standard_normal(d) * 3).astype(dtype)


# ----------------------------------------------------------------------------- eigh


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 257])
def test_eigh_matches_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n))
    a = a + a.T
    w, v = _C._eigh(a)
    w0, v0 = eigh_reference(a)
    scale = np.abs(w0).max()
    assert np.abs(w - w0).max() <= 1e-12 * scale
    # eigenvectors: residual and orthonormality (signs and degenerate bases may differ)
    assert np.abs(a @ v.T - v.T * w).max() <= 1e-12 * scale
    assert np.abs(v @ v.T - np.eye(n)).max() <= 1e-12
    # distinct eigenvalues (random matrix): the vectors match numpy up to sign
    dots = np.abs(np.sum(v * v0, axis=1))
    assert np.all(np.abs(dots - 1) < 1e-8)


def test_eigh_degenerate_and_special() -> None:
    n = 40
    a = np.ones((n, n)) + 2 * np.eye(n)  # eigenvalue 2 (n-1 times) and n + 2
    w, v = _C._eigh(a)
    assert np.allclose(w[:-1], 2.0, rtol=0, atol=1e-13) and abs(w[-1] - (n + 2)) < 1e-12
    assert np.abs(v @ v.T - np.eye(n)).max() < 1e-13
    w, v = _C._eigh(np.zeros((5, 5)))
    assert np.all(w == 0) and np.allclose(v @ v.T, np.eye(5))
    w, v = _C._eigh(np.diag([3.0, -1.0, 2.0]))
    assert np.array_equal(w, [-1.0, 2.0, 3.0])
    with pytest.raises(InvalidInputError, match="not finite"):
        _C._eigh(np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(InvalidInputError, match="square"):
        _C._eigh(np.zeros((2, 3)))


@pytest.mark.slow
def test_eigh_gpt2_xl_width_accuracy() -> None:
    """d = 1600 (GPT-2 XL width): eigenvalues within 1e-10 relative of LAPACK."""
    d = 1600
    x = decaying_data(d + 200, d, seed=3, rate=0.995)
    c = np.cov(x.T)
    w, v = _C._eigh(c)
    w0, _ = np.linalg.eigh(c)
    assert np.abs(w - w0).max() <= 1e-10 * w0[-1]
    top = v[-50:]
    assert np.abs(c @ top.T - top.T * w[-50:]).max() <= 1e-10 * w0[-1]
    assert np.abs(top @ v.T - np.eye(d)[-50:]).max() <= 1e-10


# ----------------------------------------------------------------------------- PCA parity


@pytest.mark.parametrize("shape", [(200, 30), (30, 200), (2, 5), (50, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pca_exact_matches_numpy_and_sklearn(shape: tuple[int, int], dtype: type) -> None:
    n, d = shape
    x = decaying_data(n, d, seed=n + d, dtype=dtype)
    k = min(n, d) - (1 if n < d else 0)  # in the dual case the last eigenvalue is ~0
    k = max(k, 1)
    res = pca(x, k, method="exact")
    ref = pca_reference(x, k)
    scale = ref["eigenvalues"][0]
    np.testing.assert_allclose(res.eigenvalues, ref["eigenvalues"], rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(res.components, ref["components"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(res.mean, ref["mean"], rtol=1e-12, atol=1e-12 * np.abs(x).max())
    assert res.total_variance == pytest.approx(float(ref["total_variance"]), rel=1e-12)
    np.testing.assert_allclose(res.projection, ref["projection"], rtol=0, atol=1e-8 * np.sqrt(scale) * 10)
    sk = sklearn_decomposition.PCA(n_components=k, svd_solver="full").fit(x.astype(np.float64))
    np.testing.assert_allclose(res.eigenvalues, sk.explained_variance_, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(res.explained_variance_ratio, sk.explained_variance_ratio_, rtol=0, atol=1e-9)
    # same sign convention as sklearn >= 1.5, so the components agree without flipping
    np.testing.assert_allclose(res.components, sk.components_, rtol=0, atol=1e-7)
    np.testing.assert_allclose(res.projection, sk.transform(x.astype(np.float64)), rtol=0, atol=1e-7 * np.sqrt(scale) * 10)


def test_sign_convention_holds_and_is_deterministic() -> None:
    x = decaying_data(300, 40, seed=5)
    for method in ("exact", "randomized"):
        r1 = pca(x, 10, method=method)
        r2 = pca(x, 10, method=method)
        assert np.array_equal(r1.components, r2.components) and np.array_equal(r1.eigenvalues, r2.eigenvalues)
        idx = np.argmax(np.abs(r1.components), axis=1)
        assert np.all(r1.components[np.arange(10), idx] > 0)
        np.testing.assert_array_equal(flip_signs(r1.components), r1.components)
    # negating the data keeps the components (the convention does not depend on the input's sign)
    r3 = pca(-x, 10, method="exact")
    np.testing.assert_allclose(r3.components, pca(x, 10, method="exact").components, atol=1e-10)


def test_eigenvectors_are_orthonormal_and_eigen() -> None:
    x = decaying_data(120, 25, seed=9)
    r = pca(x, method="exact")
    assert r.n_components == 25
    np.testing.assert_allclose(r.components @ r.components.T, np.eye(25), atol=1e-12)
    c = np.cov(x.T)
    np.testing.assert_allclose(c @ r.components.T, r.components.T * r.eigenvalues, atol=1e-10 * r.eigenvalues[0])
    assert np.all(np.diff(r.eigenvalues) <= 0)
    assert r.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-12)


def test_center_false_uses_second_moment() -> None:
    x = decaying_data(80, 6, seed=2)
    r = pca(x, 3, center=False, method="exact")
    w, v = np.linalg.eigh(x.T @ x / (len(x) - 1))
    np.testing.assert_allclose(r.eigenvalues, w[::-1][:3], rtol=1e-12)
    np.testing.assert_allclose(r.components, flip_signs(v[:, ::-1][:, :3].T), atol=1e-10)
    assert np.all(r.mean == 0)
    np.testing.assert_allclose(r.projection, x @ r.components.T, atol=1e-10)


# ----------------------------------------------------------------------------- randomized


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3000, 200), (150, 900)])
def test_randomized_matches_exact_on_decaying_spectrum(dtype: type, shape: tuple[int, int]) -> None:
    x = decaying_data(*shape, seed=1, rate=0.9, dtype=dtype)
    ex = pca(x, 20, method="exact")
    rnd = pca(x, 20, method="randomized", random_state=3)
    assert rnd.method == "randomized"
    tol = 1e-5 if dtype == np.float32 else 1e-9  # float32 products in the Gram matrix
    np.testing.assert_allclose(rnd.eigenvalues, ex.eigenvalues, rtol=tol)
    dots = np.abs(np.sum(rnd.components * ex.components, axis=1))
    assert np.all(dots > 1 - tol)
    np.testing.assert_allclose(rnd.components, ex.components, atol=np.sqrt(tol) * 10)
    assert rnd.total_variance == pytest.approx(ex.total_variance, rel=tol)
    # and against sklearn's randomized solver (same spectrum, its own randomness)
    sk = sklearn_decomposition.PCA(20, svd_solver="randomized", random_state=0).fit(x)
    np.testing.assert_allclose(rnd.eigenvalues, sk.explained_variance_, rtol=max(tol, 1e-5))


def test_randomized_seed_controls_result() -> None:
    x = decaying_data(400, 60, seed=4, rate=0.97)
    a = pca(x, 5, method="randomized", random_state=1, n_iter=0)
    b = pca(x, 5, method="randomized", random_state=1, n_iter=0)
    c = pca(x, 5, method="randomized", random_state=2, n_iter=0)
    assert np.array_equal(a.components, b.components)
    assert not np.array_equal(a.components, c.components)
    g = pca(x, 5, method="randomized", random_state=np.random.default_rng(0))
    assert g.components.shape == (5, 60)


def test_auto_method_choice() -> None:
    """Issue 14: exact wherever min(n, d) <= 4096 (gpt2 and gpt2-xl widths), randomized past it."""
    from tokgeo._reduce import _choose_pca_method

    assert pca(decaying_data(100, 20), 3).method == "exact"
    assert pca(decaying_data(700, 600, rate=0.99), 10).method == "exact"
    assert _choose_pca_method(50257, 768, 50) == "exact"
    assert _choose_pca_method(50257, 1600, 50) == "exact"
    assert _choose_pca_method(50257, 4096, 50) == "exact"
    assert _choose_pca_method(50257, 4097, 50) == "randomized"
    assert _choose_pca_method(5000, 5000, 4500) == "exact"  # nearly all components


def test_auto_is_exact_and_matches_numpy_eigh_where_randomized_does_not() -> None:
    """The default (exact) agrees with numpy.linalg.eigh to 1e-12 relative on a slowly
    decaying spectrum where the randomized method (like sklearn's, same oversampling and
    iterations) is off by far more."""
    x = decaying_data(3000, 600, seed=13, rate=0.995, dtype=np.float32)
    ref = pca_reference(x, 50)
    auto = pca(x, 50)
    assert auto.method == "exact"
    np.testing.assert_allclose(auto.eigenvalues, ref["eigenvalues"], rtol=1e-12)
    rnd = pca(x, 50, method="randomized")
    sk = sklearn_decomposition.PCA(50, svd_solver="randomized", n_oversamples=10, iterated_power=7, random_state=0).fit(x)
    err_r = np.max(np.abs(rnd.eigenvalues - ref["eigenvalues"]) / ref["eigenvalues"])
    err_sk = np.max(np.abs(sk.explained_variance_ - ref["eigenvalues"]) / ref["eigenvalues"])
    assert err_r > 1e-6 and err_sk > 1e-6  # the approximation is visible on this spectrum
    assert err_r <= 2.0 * err_sk  # and ours is no worse than sklearn's (measured: same order)


def test_center_false_ddof0_is_the_lessons_covariance() -> None:
    """Sigma = E^T E / N (uncentred, divided by N) with center=False, ddof=0."""
    x = decaying_data(90, 7, seed=3)
    r = pca(x, 4, center=False, ddof=0)
    w, v = np.linalg.eigh(x.T @ x / len(x))
    np.testing.assert_allclose(r.eigenvalues, w[::-1][:4], rtol=1e-12)
    np.testing.assert_allclose(r.total_variance, np.trace(x.T @ x) / len(x), rtol=1e-12)
    np.testing.assert_allclose(r.components, flip_signs(v[:, ::-1][:, :4].T), atol=1e-10)
    np.testing.assert_allclose(r.explained_variance_ratio, w[::-1][:4] / w.sum(), rtol=1e-12)
    assert not r.centered and r.ddof == 0
    c = pca(x, 4, ddof=0)  # centred, 1/N: numpy.cov(bias=True)
    np.testing.assert_allclose(c.eigenvalues, np.linalg.eigvalsh(np.cov(x.T, bias=True))[::-1][:4], rtol=1e-12)
    with pytest.raises(InvalidInputError, match="ddof"):
        pca(x, 2, ddof=90)


# ----------------------------------------------------------------------------- layouts and dtypes


def test_strided_views_need_no_copy_and_agree() -> None:
    base = decaying_data(400, 60, seed=7)
    variants = {
        "C": base[:200, :30],
        "F": np.asfortranarray(base[:200, :30]),
        "sliced": base[:400:2, :60:2],
        "negative": base[::-1, ::-1][:200, :30],
        "transposed": np.ascontiguousarray(base[:30, :200]).T,
        "float32": base[:200, :30].astype(np.float32),
    }
    for name, x in variants.items():
        ref = pca_reference(x, 5)
        r = pca(x, 5, method="exact")
        tol = 1e-6 if x.dtype == np.float32 else 1e-10
        np.testing.assert_allclose(r.eigenvalues, ref["eigenvalues"], rtol=tol, err_msg=name)
        np.testing.assert_allclose(r.components, ref["components"], atol=tol * 100, err_msg=name)


def test_other_dtypes_are_converted_to_float64() -> None:
    rng = np.random.default_rng(0)
    xi = rng.integers(-50, 50, size=(60, 8)).astype(np.int32)
    r = pca(xi, 3)
    ref = pca_reference(xi.astype(np.float64), 3)
    np.testing.assert_allclose(r.eigenvalues, ref["eigenvalues"], rtol=1e-12)
    rb = pca(xi > 0, 2)
    np.testing.assert_allclose(rb.eigenvalues, pca_reference((xi > 0).astype(np.float64), 2)["eigenvalues"], rtol=1e-12)
    big_endian = xi.astype(">f8")
    np.testing.assert_allclose(pca(big_endian, 3).eigenvalues, ref["eigenvalues"], rtol=1e-12)
    r16 = pca(xi.astype(np.float16), 3)
    np.testing.assert_allclose(r16.eigenvalues, ref["eigenvalues"], rtol=1e-12)
    assert pca([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]], 1).components.shape == (1, 2)


def test_transform_new_data() -> None:
    x = decaying_data(100, 12, seed=8)
    r = pca(x, 4)
    new = decaying_data(7, 12, seed=9)
    np.testing.assert_allclose(r.transform(new), (new - r.mean) @ r.components.T, atol=1e-10)
    np.testing.assert_allclose(r.transform(x), r.projection, atol=1e-12)
    assert r.transform(new[:0]).shape == (0, 4)
    with pytest.raises(InvalidInputError, match="12"):
        r.transform(new[:, :5])


@pytest.mark.parametrize("shape,k,dtype", [((600, 80), 10, np.float64), ((600, 80), 60, np.float64),
                                           ((4000, 500), 40, np.float32)])
def test_results_identical_across_thread_counts(shape: tuple[int, int], k: int, dtype: type) -> None:
    """Both exact paths (top k only: 2k <= min(n, d); all eigenvectors otherwise)."""
    x = decaying_data(*shape, seed=10, rate=0.99, dtype=dtype)
    before = tokgeo.get_num_threads()
    try:
        tokgeo.set_num_threads(1)
        a = pca(x, k, method="exact")
        tokgeo.set_num_threads(2)
        b = pca(x, k, method="exact")
    finally:
        tokgeo.set_num_threads(before)
    assert np.array_equal(a.components, b.components) and np.array_equal(a.eigenvalues, b.eigenvalues)


@pytest.mark.parametrize("shape", [(3000, 300), (300, 700)])
def test_both_methods_bit_identical_across_thread_counts(shape: tuple[int, int]) -> None:
    """Shapes large enough for BLIS to split its products among threads (the old code
    differed at 1e-14 there): fixed tiles, each by one single-threaded BLIS call."""
    x = decaying_data(*shape, seed=12, dtype=np.float32)
    before = tokgeo.get_num_threads()
    res = {}
    try:
        for t in (1, 2, 3):
            tokgeo.set_num_threads(t)
            res[t] = [pca(x, 20, method=m) for m in ("exact", "randomized")]
            res[t].append(_C._eigh(np.cov(x[:400, :300].T)))
    finally:
        tokgeo.set_num_threads(before)
    for t in (2, 3):
        for a, b in zip(res[1][:2], res[t][:2]):
            assert np.array_equal(a.components, b.components) and np.array_equal(a.eigenvalues, b.eigenvalues)
            assert a.projection is not None and b.projection is not None
            assert np.array_equal(a.projection, b.projection)
        assert np.array_equal(res[1][2][0], res[t][2][0]) and np.array_equal(res[1][2][1], res[t][2][1])


# ----------------------------------------------------------------------------- top-k exact path
# With 2k <= min(n, d) the exact method computes only k eigenvectors (tridiagonalisation,
# eigenvalues by QL, vectors by inverse iteration on the tridiagonal matrix, re-orthogonalised
# inside clusters of close eigenvalues, then k back-transforms) instead of all of them.


def _check_top_k(x: np.ndarray, k: int, atol_vec: float = 1e-9) -> None:
    res = pca(x, k, method="exact")
    c = np.cov(x.astype(np.float64), rowvar=False)
    w, v = np.linalg.eigh(c)
    w, v = w[::-1], v[:, ::-1]
    scale = w[0]
    np.testing.assert_allclose(res.eigenvalues, w[:k], rtol=0, atol=1e-12 * scale)
    comp = res.components
    np.testing.assert_allclose(comp @ comp.T, np.eye(k), rtol=0, atol=1e-12)
    # every component is an eigenvector: C v = lambda v to the solver's backward error
    resid = np.abs(c @ comp.T - comp.T * res.eigenvalues).max()
    assert resid < 1e-11 * scale, resid
    # the spanned subspace is numpy's wherever the eigenvalue k+1 is separated from k
    if w[k - 1] - w[k] > 1e-6 * scale:
        p_ours, p_np = comp.T @ comp, v[:, :k] @ v[:, :k].T
        np.testing.assert_allclose(p_ours, p_np, rtol=0, atol=atol_vec)


@pytest.mark.parametrize("shape,k", [((2000, 300), 20), ((300, 2000), 25), ((5000, 768), 50), ((400, 64), 32)])
def test_top_k_exact_matches_numpy(shape: tuple[int, int], k: int) -> None:
    x = decaying_data(*shape, seed=shape[0] + k, rate=0.97, dtype=np.float32)
    _check_top_k(x, k)
    ref = pca_reference(x, k)  # and the components themselves, with the sign convention
    np.testing.assert_allclose(pca(x, k, method="exact").components, ref["components"], rtol=0, atol=1e-8)


def test_top_k_exact_with_repeated_and_close_eigenvalues() -> None:
    """Eigenvalues repeated exactly (a 3-fold and a 2-fold one at the top) and pairs 1e-9
    apart: the vectors inside each cluster must still come out orthonormal and eigen."""
    rng = np.random.default_rng(4)
    n, d = 3000, 120
    u, _ = np.linalg.qr(rng.standard_normal((n, d)))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.concatenate([[9.0, 9.0, 9.0, 7.0, 7.0], 5.0 + 1e-9 * np.arange(6), np.linspace(4.0, 0.1, d - 11)])
    x = (u * s) @ q.T * np.sqrt(n - 1)  # centred columns up to rounding: covariance = Q diag(s^2) Q^T
    x -= x.mean(0)
    _check_top_k(x, 11)
    _check_top_k(x, 30)


def test_top_k_exact_inside_a_cluster_of_zero_eigenvalues() -> None:
    """Rank 6 data in 80 dimensions: components 7..20 lie in the null space (eigenvalue 0)."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 80))
    res = pca(x, 20, method="exact")
    comp = res.components
    np.testing.assert_allclose(comp @ comp.T, np.eye(20), rtol=0, atol=1e-12)
    c = np.cov(x, rowvar=False)
    w = np.linalg.eigvalsh(c)[::-1]
    np.testing.assert_allclose(res.eigenvalues, w[:20], rtol=0, atol=1e-12 * w[0])
    assert np.abs(c @ comp.T - comp.T * res.eigenvalues).max() < 1e-11 * w[0]


# ----------------------------------------------------------------------------- bad input


def test_bad_inputs_raise_clear_errors() -> None:
    x = decaying_data(20, 5)
    with pytest.raises(InvalidInputError, match="at least 2 samples"):
        pca(x[:1])
    with pytest.raises(InvalidInputError, match="at least 2 samples"):
        pca(np.zeros((0, 3)))
    with pytest.raises(InvalidInputError, match="at least 1 feature"):
        pca(np.zeros((4, 0)))
    with pytest.raises(InvalidInputError, match="2-D"):
        pca(np.zeros((2, 3, 4)))
    with pytest.raises(InvalidInputError, match="2-D"):
        pca(np.zeros(5))
    with pytest.raises(InvalidInputError, match="between 1 and min"):
        pca(x, 6)
    with pytest.raises(InvalidInputError, match="between 1 and min"):
        pca(x, 0)
    with pytest.raises(InvalidTypeError):
        pca(x, 2.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="method"):
        pca(x, 2, method="svd")  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="complex"):
        pca(x.astype(complex))
    with pytest.raises(InvalidTypeError, match="numeric"):
        pca(np.array([["a", "b"], ["c", "d"]]))
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(InvalidInputError, match=r"x\[3, 2\] is NaN"):
        pca(bad)
    bad[3, 2] = np.inf
    with pytest.raises(InvalidInputError, match="infinite"):
        pca(bad, method="randomized")
    with pytest.raises(InvalidInputError):
        pca(x, 2, random_state=-1)
    # errors are ValueErrors for code that does not know tokgeo
    with pytest.raises(ValueError):
        pca(x[:1])


def test_memory_budget_is_checked_before_allocating() -> None:
    """A 200,000 x 200,000 input (a zero-stride view: no memory) would need a 320 GB Gram
    matrix: refused up front with MemoryBudgetError instead of being killed by the OS."""
    huge = np.broadcast_to(np.float32(1.0), (200_000, 200_000))
    with pytest.raises(MemoryBudgetError, match="GB"):
        pca(huge, 2)
    assert pca(decaying_data(10, 3), 1).n_components == 1  # nothing left broken


def test_projection_false_skips_only_the_projection() -> None:
    x = decaying_data(300, 40, seed=5)
    full = pca(x, 10, method="exact")
    lean = pca(x, 10, method="exact", projection=False)
    assert lean.projection is None and full.projection is not None
    assert np.array_equal(lean.components, full.components) and np.array_equal(lean.eigenvalues, full.eigenvalues)
    assert np.array_equal(lean.mean, full.mean)
    np.testing.assert_allclose(lean.transform(x), full.projection, rtol=0, atol=1e-12)
    ref = pca_reference(x, 10)
    np.testing.assert_allclose(lean.eigenvalues, ref["eigenvalues"], rtol=1e-10)


@pytest.mark.parametrize("seed", [3, 5])
def test_exact_pca_of_rank_deficient_data(seed: int) -> None:
    """Fewer samples than dimensions plus repeated rows: a cluster of zero eigenvalues in
    the 768 x 768 covariance.  The QL iteration used to stop with "did not converge" here
    (its deflation test was only relative, and 0 + 0 never bounds a rounding-size e)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((600, 768)) @ rng.standard_normal((768, 768)) * 0.05
    x = x.astype(np.float32)
    x[rng.choice(600, 90, replace=False)] = x.mean(0)
    res = pca(x, 50, method="exact")
    ref = np.linalg.eigvalsh(np.cov(x.astype(np.float64), rowvar=False))[::-1][:50]
    np.testing.assert_allclose(res.explained_variance, ref, rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-30, 1e-35, 1e-25, 1e25, 1e30, 1e35])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_randomized_pca_at_extreme_scales_matches_sklearn(dtype: type, scale: float) -> None:
    """The randomized method scales float32 input like the exact method's float64 products do:
    eigenvalues, axes, mean and projection match sklearn's exact PCA of the data divided by
    the scale (then scaled back); before, float32 at 1e-30 gave eigenvalues 0 and at 1e30
    'not finite'."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(3)
    x0 = rng.normal(size=(400, 24)) * (2.0 ** -np.arange(24) * 4.0)  # a well separated spectrum
    x = (x0 * scale).astype(dtype)
    u = x.astype(np.float64) / scale
    ref = PCA(3, svd_solver="full").fit(u)
    for method in ("randomized", "exact"):
        r = pca(x, 3, method=method, random_state=0)
        ev = np.asarray(r.eigenvalues)
        assert np.all(np.isfinite(ev)) and r.method == method
        np.testing.assert_allclose(ev / scale**2, ref.explained_variance_, rtol=1e-5)
        np.testing.assert_allclose(np.abs(np.sum(np.asarray(r.components) * ref.components_, axis=1)), 1.0, atol=1e-5)
        np.testing.assert_allclose(np.asarray(r.mean) / scale, ref.mean_, rtol=1e-5, atol=1e-6 * np.abs(ref.mean_).max())
        np.testing.assert_allclose(np.asarray(r.explained_variance_ratio), ref.explained_variance_ratio_, rtol=1e-5)
        proj = np.abs(np.asarray(r.projection) / scale)
        np.testing.assert_allclose(proj, np.abs(ref.transform(u)), rtol=1e-4, atol=1e-4 * np.abs(ref.transform(u)).max())


# ----------------------------------------------------------------------------- large float32 input
# n d^2 >= 2^33 with float32 input (a vocabulary's embeddings): the subspace comes from a float32
# Gram matrix, then a float64 Rayleigh-Ritz step on the data (tokgeo/reduce.h).  16,000 x 768 is
# the smallest GPT-2-wide input past the rule.

LARGE = (16000, 768)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.mark.parametrize("rate", [0.995, 0.97])
def test_large_float32_exact_matches_numpy_eigh(rate: float) -> None:
    """Eigenvalues as the float64 route's (measured 2e-15 / 3e-15 relative), mean and total
    variance as float64 sums, orthonormal components within 1e-7 of numpy's (measured 1e-8)."""
    x = decaying_data(*LARGE, seed=5, rate=rate, dtype=np.float32)  # column means ~3, spread ~1
    ref = pca_reference(x, 40)
    r = pca(x, 40)
    assert r.method == "exact"
    assert _rel(r.eigenvalues, ref["eigenvalues"]) < 1e-11
    np.testing.assert_allclose(r.mean, ref["mean"], rtol=1e-12, atol=1e-12 * np.abs(x).max())
    assert r.total_variance == pytest.approx(float(ref["total_variance"]), rel=1e-12)
    np.testing.assert_allclose(r.components @ r.components.T, np.eye(40), rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.components, ref["components"], rtol=0, atol=1e-7)
    assert r.projection is not None
    scale = np.sqrt(ref["eigenvalues"][0])
    np.testing.assert_allclose(r.projection, ref["projection"], rtol=0, atol=1e-6 * scale)


def test_large_float32_embedding_like_spectrum() -> None:
    """Slowly decaying (1/j) spectrum with clusters, as bench_reduce's W_E stand-in: eigenvalues
    to 1e-11 relative (measured 2.4e-13 at 50,257 x 768), components to 5e-7 (measured 9e-8)."""
    rng = np.random.default_rng(0)
    n, d = LARGE
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    x = (rng.standard_normal((n, d), dtype=np.float32) / np.sqrt(1.0 + np.arange(d, dtype=np.float32))) @ q.T.astype(np.float32)
    x += (rng.standard_normal((20, d)).astype(np.float32) * 0.3)[rng.integers(0, 20, n)]
    ref = pca_reference(x, 50)
    r = pca(x, 50, projection=False)
    assert _rel(r.eigenvalues, ref["eigenvalues"]) < 1e-11
    np.testing.assert_allclose(r.components, ref["components"], rtol=0, atol=5e-7)


def test_large_float32_graded_spectrum_falls_back_to_float64() -> None:
    """A spectrum spanning 8 decades inside the top 40 (0.8 per component): a float32 Gram matrix
    cannot locate the small components (forced, its Ritz values were off by 5e-3 relative and the
    first 20 components by 2e-6); the error estimate sends it to the float64 route, as accurate
    as numpy's own (measured 1e-15 of the top eigenvalue, components 2e-13)."""
    x = decaying_data(*LARGE, seed=5, rate=0.8, dtype=np.float32)
    ref = pca_reference(x, 40)
    r = pca(x, 40)
    w0 = ref["eigenvalues"]
    np.testing.assert_allclose(r.eigenvalues, w0, rtol=0, atol=1e-13 * w0[0])
    np.testing.assert_allclose(r.components[:20], ref["components"][:20], rtol=0, atol=1e-10)


def test_large_float32_mean_not_represented_by_first_block_falls_back() -> None:
    """Sorted data whose first block's mean is far from the whole mean (shifted by it, the
    float32 products would lose the subspace: components off by 7e-4 when forced): the float64
    route, whose components agree with numpy's to 1e-10 (measured 2e-11)."""
    x = decaying_data(*LARGE, seed=6, rate=0.97, dtype=np.float32)
    x[:4000] += 40.0
    ref = pca_reference(x, 20)
    r = pca(x, 20)
    w0 = ref["eigenvalues"]
    np.testing.assert_allclose(r.eigenvalues, w0, rtol=0, atol=1e-13 * w0[0])
    np.testing.assert_allclose(r.components, ref["components"], rtol=0, atol=1e-10)


def test_large_float32_bit_identical_across_threads_and_layouts() -> None:
    """The float32 Gram matrix is one BLIS ssyrk per block threaded by BLIS, which never splits
    the sum: the same bits at 1, 2 and 3 threads, and for a strided (copied) view."""
    x = decaying_data(*LARGE, seed=7, rate=0.97, dtype=np.float32)
    before = tokgeo.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            tokgeo.set_num_threads(t)
            outs.append(pca(x, 30))
        tokgeo.set_num_threads(2)
        outs.append(pca(np.asfortranarray(x), 30))
    finally:
        tokgeo.set_num_threads(before)
    for o in outs[1:]:
        assert np.array_equal(o.eigenvalues, outs[0].eigenvalues)
        assert np.array_equal(o.components, outs[0].components)
        assert o.projection is not None and outs[0].projection is not None
        assert np.array_equal(o.projection, outs[0].projection)
        assert np.array_equal(o.mean, outs[0].mean) and o.total_variance == outs[0].total_variance


def test_large_float32_nonfinite_entry_is_reported() -> None:
    x = decaying_data(*LARGE, seed=8, dtype=np.float32)
    x[12345, 67] = np.nan
    with pytest.raises(InvalidInputError, match=r"x\[12345, 67\] is NaN"):
        pca(x, 10)
    x[12345, 67] = 1.0
    x[9000, 5] = np.inf
    with pytest.raises(InvalidInputError, match=r"x\[9000, 5\] is infinite"):
        pca(x, 10)
