"""All-pairs cosine similarity (BLIS blocks): matrix, top-k, histogram; strides, Ctrl-C, GIL."""

from __future__ import annotations

import signal
import threading
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tokgeo
from tokgeo.reference import metrics as ref
from tokgeo import metrics as M
from tokgeo.errors import InvalidInputError, InvalidTypeError

pairwise = pytest.importorskip("sklearn.metrics.pairwise")


def views(x: np.ndarray):
    """Layouts of the same [n, d] matrix: in place for BLIS (C, F, row slices) and ones
    that take the copy path (negative strides, column steps, broadcast rows)."""
    yield "C", np.ascontiguousarray(x)
    yield "F", np.asfortranarray(x)
    big = np.zeros((2 * x.shape[0], x.shape[1] + 3), dtype=x.dtype)
    big[::2, : x.shape[1]] = x
    yield "row-strided", big[::2, : x.shape[1]]
    yield "negative", np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1]
    wide = np.zeros((x.shape[0], 2 * x.shape[1]), dtype=x.dtype)
    wide[:, ::2] = x
    yield "column-strided", wide[:, ::2]
    yield "transposed", np.ascontiguousarray(x.T).T


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_matrix_matches_sklearn_in_every_layout(dtype, rtol) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(37, 19)).astype(dtype)
    b = rng.normal(size=(700, 19)).astype(dtype)  # > one block of columns? no: many rows
    want_ab = pairwise.cosine_similarity(a.astype(float), b.astype(float))
    want_aa = pairwise.cosine_similarity(a.astype(float))
    for (_, x), (_, y) in zip(views(a), views(b)):
        got = M.cosine_similarity_matrix(x, y)
        assert got.dtype == dtype and got.shape == (37, 700)
        np.testing.assert_allclose(got, want_ab, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(M.cosine_similarity_matrix(x), want_aa, rtol=rtol, atol=rtol)
    assert M.cosine_similarity_matrix(a, b, dtype=np.float64).dtype == np.float64


def test_matrix_spans_several_blocks() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2600, 8))  # > 2048 rows per block: two row blocks
    got = M.cosine_similarity_matrix(a, a.copy())
    np.testing.assert_allclose(got, ref.cosine_similarity_matrix(a), rtol=1e-12, atol=1e-14)
    assert np.all(got <= 1.0) and np.all(got >= -1.0)


def test_top_k_matches_twin() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(600, 24))
    for name, x in views(a):
        idx, val = M.top_k_similar(x, k=7)
        ridx, rval = ref.top_k_similar(a, k=7)
        np.testing.assert_array_equal(idx, ridx, err_msg=name)
        np.testing.assert_allclose(val, rval, rtol=1e-12, atol=1e-14)
    b = rng.normal(size=(4500, 24))  # more than one 4096-row block of b
    idx, val = M.top_k_similar(a[:50], b, k=5)
    ridx, rval = ref.top_k_similar(a[:50], b, k=5)
    np.testing.assert_array_equal(idx, ridx)
    np.testing.assert_allclose(val, rval, rtol=1e-12)
    # keep self: each row is its own best match
    idx, val = M.top_k_similar(a, k=1, exclude_self=False)
    np.testing.assert_array_equal(idx[:, 0], np.arange(600))
    np.testing.assert_allclose(val[:, 0], 1.0, rtol=1e-14)


def test_top_k_float32_values_and_order() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(300, 64)).astype(np.float32)
    idx, val = M.top_k_similar(a, k=10)
    assert idx.dtype == np.int64 and val.dtype == np.float64
    s = pairwise.cosine_similarity(a.astype(float))
    np.testing.assert_allclose(val, np.take_along_axis(s, idx, axis=1), atol=2e-6)
    assert np.all(np.diff(val, axis=1) <= 0)
    assert not np.any(idx == np.arange(300)[:, None])


def test_top_k_ties_prefer_smaller_index_and_zero_rows() -> None:
    a = np.array([[1.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    with pytest.warns(M.ZeroVectorWarning):
        idx, val = M.top_k_similar(a, k=4)
    np.testing.assert_array_equal(idx[0], [1, 2, 4, -1])  # ties at 1.0 by index; zero row never
    np.testing.assert_allclose(val[0, :3], [1.0, 1.0, 0.0])
    assert np.isnan(val[0, 3])
    assert np.all(idx[3] == -1) and np.isnan(val[3]).all()


def test_histogram_matches_numpy() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(size=(400, 10))
    b = rng.normal(size=(150, 10))
    for bins in (10, 37):
        for x, y in ((a, None), (a, b)):
            counts, edges = M.similarity_histogram(x, y, bins=bins)
            rc, re = ref.similarity_histogram(x, y, bins=bins)
            np.testing.assert_array_equal(edges, re)
            assert counts.sum() == rc.sum()
            assert np.abs(counts - rc).sum() <= 2  # a value within 1e-16 of an edge may move
    counts, _ = M.similarity_histogram(a, bins=5, exclude_diagonal=False)
    assert counts.sum() == 400 * 401 // 2
    counts, _ = M.similarity_histogram(a, bins=5, range=(0.0, 0.5))
    rc, _ = ref.similarity_histogram(a, bins=5, range=(0.0, 0.5))
    assert np.abs(counts - rc).sum() <= 2
    edges = np.array([-1.0, -0.3, 0.0, 0.1, 1.0])
    counts, e = M.similarity_histogram(a, b, bins=edges)
    rc, _ = ref.similarity_histogram(a, b, bins=edges)
    np.testing.assert_array_equal(e, edges)
    assert np.abs(counts - rc).sum() <= 2


def test_histogram_edge_semantics_exact() -> None:
    # unit vectors whose cosines are exactly -1, -0.5, 0, 0.5, 1 (all inverse norms are 1):
    # numpy puts a value on an inner edge into the bin to its right and 1.0 into the last bin
    h = 0.5
    a = np.array([[1, 0, 0, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [h, h, h, h], [h, -h, h, h], [-h, h, h, h], [1, 0, 0, 0]])
    vals = (a @ a.T)[np.triu_indices(len(a), 1)]
    assert set(np.unique(vals)) <= {-1.0, -0.5, 0.0, 0.5, 1.0}
    for bins in (4, 8, 2):
        counts, _ = M.similarity_histogram(a, bins=bins)
        np.testing.assert_array_equal(counts, np.histogram(vals, bins=bins, range=(-1, 1))[0])
    for edges in ([-1.0, -0.5, 0.5, 1.0], [-0.5, 0.0, 0.5]):
        counts, _ = M.similarity_histogram(a, bins=edges)
        np.testing.assert_array_equal(counts, np.histogram(vals, bins=edges)[0])


def test_allpairs_bad_inputs() -> None:
    a = np.ones((3, 4))
    with pytest.raises(InvalidInputError, match="2-D"):
        M.cosine_similarity_matrix(np.ones(4))
    with pytest.raises(InvalidInputError, match="length"):
        M.top_k_similar(a, np.ones((2, 5)))
    with pytest.raises(InvalidInputError, match="candidate"):
        M.top_k_similar(a, k=3)  # only 2 others per row
    with pytest.raises(InvalidTypeError):
        M.top_k_similar(a, k=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="bins"):
        M.similarity_histogram(a, bins=0)
    with pytest.raises(InvalidInputError, match="range"):
        M.similarity_histogram(a, range=(1.0, -1.0))
    with pytest.raises(InvalidInputError, match="increasing"):
        M.similarity_histogram(a, bins=[0.0, -1.0, 1.0])
    with pytest.raises(InvalidTypeError, match="complex"):
        M.cosine_similarity_matrix(np.ones((2, 2), dtype=complex))
    assert M.top_k_similar(a, k=0)[0].shape == (3, 0)
    assert M.cosine_similarity_matrix(np.ones((0, 4))).shape == (0, 0)
    c, _ = M.similarity_histogram(np.ones((0, 4)), bins=3)
    assert c.tolist() == [0, 0, 0]
    with pytest.warns(M.ZeroVectorWarning):
        assert np.isnan(M.cosine_similarity_matrix(np.ones((2, 0)))).all()


def _slow_inputs():
    rng = np.random.default_rng(5)
    return rng.normal(size=(12000, 512)).astype(np.float32)  # ~150 GFlop: seconds of work


def test_ctrl_c_stops_top_k() -> None:
    # 24,000 rows (~600 GFlop): a quiet 2-core machine finishes 12,000 rows in ~0.3 s,
    # before the alarm, so the run must be long enough for the alarm to land inside it
    a = np.tile(_slow_inputs(), (2, 1))
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGALRM, raise_interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        t0 = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            M.top_k_similar(a, k=5)
        assert time.perf_counter() - t0 < 30
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    # the module still works afterwards
    idx, _ = M.top_k_similar(a[:20], k=1)
    assert idx.shape == (20, 1)


def test_gil_is_released_during_all_pairs() -> None:
    a = _slow_inputs()[:6000]
    done = threading.Event()
    def work():
        M.similarity_histogram(a, bins=10)
        done.set()
    th = threading.Thread(target=work)
    th.start()
    ticks = 0
    while not done.is_set():
        ticks += 1  # runs only if the worker released the GIL
        time.sleep(0.001)
    th.join()
    assert ticks > 10


def test_histogram_upper_triangle_across_many_blocks() -> None:
    # 4300 rows: 3 row blocks of 2048 and 2 column blocks of 4096, so the diagonal crosses
    # block boundaries; the NumPy side is computed in slices to bound memory
    rng = np.random.default_rng(6)
    a = rng.normal(size=(4300, 3))
    counts, edges = M.similarity_histogram(a, bins=16)
    want = np.zeros(16, dtype=np.int64)
    for i0 in range(0, 4300, 700):
        s = ref.cosine_similarity_matrix(a[i0 : i0 + 700], a)
        rows, cols = np.nonzero(np.arange(4300)[None, :] > np.arange(i0, i0 + s.shape[0])[:, None])
        want += np.histogram(s[rows, cols], bins=16, range=(-1, 1))[0]
    assert counts.sum() == 4300 * 4299 // 2 == want.sum()
    assert np.abs(counts - want).sum() <= 4


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), m=st.integers(2, 40), d=st.integers(1, 9), k=st.integers(0, 3),
       seed=st.integers(0, 2**31 - 1), layout=st.sampled_from(["C", "F", "row-strided", "negative", "column-strided"]),
       with_b=st.booleans())
def test_top_k_and_histogram_twins_hypothesis(n, m, d, k, seed, layout, with_b) -> None:
    rng = np.random.default_rng(seed)
    a0 = rng.normal(size=(n, d))
    b0 = rng.normal(size=(m, d)) if with_b else None
    a = dict(views(a0))[layout]
    b = dict(views(b0))[layout] if with_b else None
    cands = m if with_b else n - 1
    kk = min(k, cands)
    idx, val = M.top_k_similar(a, b, k=kk)
    ridx, rval = ref.top_k_similar(a0, b0, k=kk)
    np.testing.assert_allclose(val, rval, rtol=1e-12, atol=1e-14)
    # an index may differ from the twin's only where two candidates tie to rounding
    full = ref.cosine_similarity_matrix(a0, b0)
    for i, j in zip(*np.nonzero(idx != ridx)):
        assert idx[i, j] >= 0 and abs(full[i, idx[i, j]] - rval[i, j]) < 1e-13
    counts, _ = M.similarity_histogram(a, b, bins=7)
    rc, _ = ref.similarity_histogram(a0, b0, bins=7)
    assert counts.sum() == rc.sum() and np.abs(counts - rc).sum() <= 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_top_k_self_uses_both_triangles_across_blocks(dtype) -> None:
    # b=None multiplies only the blocks on/above the diagonal and feeds each pair to both
    # rows' heaps; 4300 rows span 3 row blocks and 2 column blocks
    rng = np.random.default_rng(7)
    a = rng.normal(size=(4300, 4)).astype(dtype)
    idx, val = M.top_k_similar(a, k=3)
    a64 = a.astype(np.float64)
    for i0 in range(0, 4300, 900):
        s = ref.cosine_similarity_matrix(a64[i0 : i0 + 900], a64)
        s[np.arange(s.shape[0]), np.arange(i0, i0 + s.shape[0])] = -np.inf
        best = np.argsort(-s, axis=1, kind="stable")[:, :3]
        bval = np.take_along_axis(s, best, axis=1)
        tol = 1e-12 if dtype == np.float64 else 2e-6
        np.testing.assert_allclose(val[i0 : i0 + 900], bval, rtol=0, atol=tol)
        got = np.take_along_axis(s, idx[i0 : i0 + 900], axis=1)  # what our picks are worth
        np.testing.assert_allclose(got, bval, rtol=0, atol=2 * tol)
    idx2, val2 = M.top_k_similar(a, a.copy(), k=4)  # the full (non-symmetric) path agrees
    np.testing.assert_allclose(val2[:, 1:], val, rtol=0, atol=1e-12 if dtype == np.float64 else 2e-6)


def test_nan_and_inf_rows_are_never_selected() -> None:
    rng = np.random.default_rng(8)
    a = rng.normal(size=(30, 5))
    a[3, 2] = np.nan
    a[7, 0] = np.inf
    idx, val = M.top_k_similar(a, k=4)
    assert not np.isin(idx, [3, 7]).any()
    assert np.all(idx[[3, 7]] == -1) and np.isnan(val[[3, 7]]).all()
    ok = np.setdiff1d(np.arange(30), [3, 7])
    ridx, rval = ref.top_k_similar(a[ok], k=4)
    np.testing.assert_array_equal(idx[ok], ok[ridx])
    counts, _ = M.similarity_histogram(a, bins=4)
    assert counts.sum() == 28 * 27 // 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matrix_of_a_set_with_itself_is_symmetric_across_blocks(dtype) -> None:
    rng = np.random.default_rng(9)
    a = rng.normal(size=(2600, 6)).astype(dtype)  # two row blocks; upper triangle mirrored
    got = M.cosine_similarity_matrix(a)
    np.testing.assert_array_equal(got, got.T)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(got, ref.cosine_similarity_matrix(a), rtol=0, atol=tol)
    other = M.cosine_similarity_matrix(a, dtype=np.float64 if dtype == np.float32 else np.float32)
    np.testing.assert_allclose(other, got, rtol=0, atol=2e-6)


def test_top_k_float32_against_other_set_with_near_ties() -> None:
    # float32 blocks go through a SIMD prefilter before the exact comparison; near-ties
    # (directions repeated with 1e-7 perturbations) must not lose candidates
    rng = np.random.default_rng(10)
    base = rng.normal(size=(40, 16))
    b = (np.repeat(base, 130, axis=0) * (1 + 1e-7 * rng.normal(size=(5200, 16)))).astype(np.float32)
    a = (base[:25] + 0.3 * rng.normal(size=(25, 16))).astype(np.float32)
    a = np.concatenate([a, -a, np.zeros((1, 16), np.float32)])
    with pytest.warns(M.ZeroVectorWarning):
        idx, val = M.top_k_similar(a, b, k=20)
    s = ref.cosine_similarity_matrix(a.astype(float), b.astype(float))
    best = -np.sort(-np.nan_to_num(s, nan=-np.inf), axis=1)[:, :20]
    np.testing.assert_allclose(val[:-1], best[:-1], rtol=0, atol=2e-6)
    picked = np.take_along_axis(s[:-1], idx[:-1], axis=1)
    np.testing.assert_allclose(picked, best[:-1], rtol=0, atol=2e-6)
    assert np.all(np.diff(val[:-1], axis=1) <= 0)
    assert np.all(idx[-1] == -1)


def test_matrix_memory_budget() -> None:
    from tokgeo.errors import MemoryBudgetError

    big = np.broadcast_to(np.float32(1.0), (50257, 768))  # no memory: a zero-stride view
    with pytest.raises(MemoryBudgetError, match="top_k_similar"):
        M.cosine_similarity_matrix(big)
    with pytest.raises(MemoryBudgetError):
        M.cosine_similarity_matrix(np.ones((30, 4)), max_bytes=1000)
    assert M.cosine_similarity_matrix(np.ones((30, 4)), max_bytes=None).shape == (30, 30)
