"""Numeric edge cases the per-pair routines must handle as scipy does (issue 9): data at
extreme scales, the far tails of the t quantile, and out-of-range integer arguments."""

from __future__ import annotations

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
