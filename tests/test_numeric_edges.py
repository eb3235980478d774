"""Numeric edge cases the per-pair routines must handle as scipy does (issue 9): data at
extreme scales, the far tails of the t quantile, and out-of-range integer arguments."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tokgeo
from tokgeo import metrics

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-150, 1e150, 1e160, 1e300])
def test_pearson_is_scale_free_like_scipy(scale: float) -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=20), rng.normal(size=20)
    ref = scipy_stats.pearsonr(a, b)
    got = metrics.pearson(a * scale, b * scale)
    assert np.isfinite(got.statistic)
    assert got.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert got.pvalue == pytest.approx(ref.pvalue, rel=1e-10)
    assert metrics.pearson(a * scale, a * scale).statistic == 1.0


@pytest.mark.parametrize("df", [1.0, 2.0])
@pytest.mark.parametrize("q", [1e-300, 1e-200, 1e-30, 1e-10, 0.01, 0.3, 0.7, 0.99, 1 - 1e-12])
def test_t_ppf_closed_forms_in_the_far_tails(q: float, df: float) -> None:
    ref = scipy_stats.t.ppf(q, df)
    got = metrics.t_ppf(q, df)
    assert got == pytest.approx(ref, rel=1e-12), (got, ref)
    # and it inverts the CDF where the CDF is representable
    if abs(got) < 1e150:
        assert metrics.t_cdf(got, df) == pytest.approx(q, rel=1e-11)


def test_t_ppf_cauchy_far_tail_value() -> None:
    # exact: -cot(pi * 1e-300) = -1 / (pi * 1e-300)
    assert metrics.t_ppf(1e-300, 1) == pytest.approx(-1.0 / (np.pi * 1e-300), rel=1e-14)


@pytest.mark.parametrize("pad_id", [2**70, -(2**64), 2**63])
def test_encode_batch_pad_id_out_of_range_is_a_tokgeo_error(pad_id: int) -> None:
    tok = tokgeo.Tokenizer.gpt2()
    with pytest.raises(tokgeo.InvalidInputError, match="pad_id"):
        tok.encode_batch(["a"], pad_id=pad_id)


@pytest.mark.parametrize("dtype,scale", [(np.float32, 1e-30), (np.float32, 1e-35), (np.float32, 1e38),
                                         (np.float64, 1e-100), (np.float64, 1e100)])
def test_all_pairs_cosine_at_extreme_scales(dtype: type, scale: float) -> None:
    """The all-pairs routines (one matrix product) agree with the per-pair definition at
    scales where the raw product under- or overflows."""
    rng = np.random.default_rng(5)
    x64 = rng.normal(size=(7, 24))
    x = (x64 * scale).astype(dtype)
    u = x.astype(np.float64) / scale
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    ref = u @ u.T  # numpy float64 on the rescaled data
    tol = 1e-6 if dtype == np.float32 else 1e-12
    got = metrics.cosine_similarity_matrix(x)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, ref, atol=tol)
    idx, val = metrics.top_k_similar(x, k=3)
    np.testing.assert_allclose(val, np.sort(np.where(np.eye(7, dtype=bool), -np.inf, ref), axis=1)[:, ::-1][:, :3],
                               atol=tol)
    counts, _ = metrics.similarity_histogram(x, bins=8)
    ref_counts, _ = np.histogram(ref[np.triu_indices(7, 1)], bins=8, range=(-1, 1))
    assert counts.sum() == ref_counts.sum() == 21
    assert np.abs(counts - ref_counts).sum() <= 2  # a value on a bin edge may round either way


def _scaled_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x [n, d] float64 -> (u, k): u = x * 2**k row by row (exact), max |u| of each row in [0.5, 1)."""
    k = -np.frexp(np.abs(x).max(axis=1))[1]
    return np.ldexp(x, k[:, None]), k


@pytest.mark.parametrize("scale", [1e-170, 1e-200, 1e-300, 1e-310, 1e170, 1e200, 1e300, "mixed"])
def test_float64_rows_beyond_1e160(scale: Any) -> None:
    """float64 norms, distances, cosines and angles (per pair and all pairs) of rows whose
    squares leave the double range, against numpy on the same rows scaled by powers of two
    (exact), where nothing under- or overflows.  Before: NaN (norm 0 or inf)."""
    rng = np.random.default_rng(11)
    x0 = rng.normal(size=(9, 33))
    if scale == "mixed":  # rows at 1e-300, 1e-200, ..., 1e300 in one set
        x = x0 * np.array([1e-300, 1e-200, 1e-100, 1.0, 1e100, 1e200, 1e300, 1e-250, 1e250])[:, None]
    else:
        x = x0 * scale
    y = x[::-1].copy()
    u, ku = _scaled_rows(x)
    un = u / np.linalg.norm(u, axis=1, keepdims=True)
    # all pairs
    ref = un @ un.T
    got = metrics.cosine_similarity_matrix(x, dtype=np.float64)
    np.testing.assert_allclose(got, ref, atol=1e-12)
    idx, val = metrics.top_k_similar(x, k=3)
    np.testing.assert_allclose(val, np.sort(np.where(np.eye(9, dtype=bool), -np.inf, ref), axis=1)[:, ::-1][:, :3],
                               atol=1e-12)
    counts, _ = metrics.similarity_histogram(x, bins=8)
    assert counts.sum() == 36
    # per pair
    vn = un[::-1]
    np.testing.assert_allclose(metrics.cosine_similarity(x, y), np.sum(un * vn, axis=1), atol=1e-13)
    np.testing.assert_allclose(metrics.angle(x, y), np.degrees(np.arccos(np.clip(np.sum(un * vn, axis=1), -1, 1))),
                               atol=2e-6)  # arccos near 1 (a row with itself) is ill-conditioned
    # norms: numpy's norm of the scaled rows = ours scaled by the same 2**k (exact)
    rtol = 1e-13 if scale == 1e-310 else 1e-14  # subnormal results keep fewer digits
    np.testing.assert_allclose(np.ldexp(metrics.norm(x), ku), np.linalg.norm(u, axis=1), rtol=rtol)
    if scale != "mixed":  # the same scale for both rows of a pair
        d, kd = _scaled_rows(np.concatenate([x, y], axis=1))
        h = d.shape[1] // 2
        np.testing.assert_allclose(np.ldexp(metrics.euclidean(x, y), kd), np.linalg.norm(d[:, :h] - d[:, h:], axis=1),
                                   rtol=rtol)
