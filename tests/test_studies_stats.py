"""The studies' own small statistics (t quantiles, CIs, effect sizes, correlations) vs scipy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from tokgeo import metrics
from tokgeo.studies import _stats
from tokgeo.studies._common import correlate, ttest
from tokgeo.studies.embedding import covariance_spectrum


def test_t_distribution_matches_scipy() -> None:
    for q, df in itertools.product([0.5, 0.6, 0.9, 0.975, 0.995, 0.999999, 0.01], [1, 2, 3.5, 10, 53, 1000, 1e6]):
        assert _stats.t_ppf(q, df) == pytest.approx(stats.t.ppf(q, df), rel=1e-8, abs=1e-10)
    for t, df in itertools.product([-50, -3, -0.1, 0, 0.3, 2, 7, 80], [1, 2, 5, 53, 1e4]):
        assert _stats.t_cdf(t, df) == pytest.approx(stats.t.cdf(t, df), abs=1e-10)
    assert math.isnan(_stats.t_ppf(1.0, 5)) and math.isnan(_stats.t_ppf(0.5, 0))
    assert _stats.t_cdf(math.inf, 3) == 1.0 and _stats.t_cdf(-math.inf, 3) == 0.0


def test_mean_ci() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4))
    m, lo, hi = _stats.mean_ci(x, 0.9)
    rlo, rhi = stats.t.interval(0.9, 19, loc=x.mean(0), scale=stats.sem(x, axis=0))
    np.testing.assert_allclose(lo, rlo, rtol=1e-10)
    np.testing.assert_allclose(hi, rhi, rtol=1e-10)
    m1, lo1, hi1 = _stats.mean_ci(x[:1])
    assert np.isnan(lo1).all() and np.isnan(hi1).all()


def test_lesson_statistics_match_scipy() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=50)
    y = 0.3 * x + rng.normal(size=50)
    y[3] = y[4]  # a tie for the ranks
    p, s = correlate(x, y), correlate(x, y, rank=True)
    ref_p, ref_s = stats.pearsonr(x, y), stats.spearmanr(x, y)
    assert p.statistic == pytest.approx(ref_p.statistic) and p.pvalue == pytest.approx(ref_p.pvalue, rel=1e-8)
    assert s.statistic == pytest.approx(ref_s.statistic) and s.pvalue == pytest.approx(ref_s.pvalue, rel=1e-8)
    t = ttest(x, y[:30])
    ref = stats.ttest_ind(x, y[:30])
    assert t.statistic == pytest.approx(ref.statistic) and t.pvalue == pytest.approx(ref.pvalue, rel=1e-8)
    assert t.df == 78
    pooled = math.sqrt((49 * x.var(ddof=1) + 29 * y[:30].var(ddof=1)) / 78)
    assert t.cohen_d == pytest.approx((x.mean() - y[:30].mean()) / pooled)
    assert math.isnan(correlate(x[:2], y[:2]).statistic)
    a = rng.normal(size=(5, 9))
    b = rng.normal(size=(5, 9))
    ref_ang = [np.degrees(np.arccos(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v))) for u, v in zip(a, b)]
    np.testing.assert_allclose(metrics.angle(a, b), ref_ang, atol=1e-9)
    np.testing.assert_allclose(metrics.angle(a, a), 0.0, atol=1e-5)
    np.testing.assert_allclose(metrics.angle(a, -a), 180.0, atol=1e-5)
    with pytest.warns(RuntimeWarning):
        assert np.isnan(metrics.angle(np.zeros(3), np.ones(3)))
    z = rng.normal(size=(4, 11))
    from scipy.special import softmax

    np.testing.assert_allclose(metrics.softmax(z), softmax(z, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(metrics.entropy(z), stats.entropy(softmax(z, axis=-1), axis=-1))


def test_covariance_spectrum_matches_numpy() -> None:
    rng = np.random.default_rng(4)
    for n, c, dt in [(500, 24, np.float32), (30, 64, np.float64)]:  # primal and dual (n < C)
        x = (rng.normal(size=(n, c)) * np.linspace(3, 0.1, c)).astype(dt)
        ref = np.maximum(np.linalg.eigvalsh(np.cov(x.astype(np.float64), rowvar=False))[::-1], 0.0)
        got = covariance_spectrum(x)
        assert got.shape == (c,)
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12 * ref[0])
