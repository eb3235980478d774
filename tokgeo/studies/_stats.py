"""Small statistics the studies need on top of tokgeo.metrics: Student-t confidence bands
(the t distribution itself is :func:`tokgeo.metrics.t_cdf` / :func:`tokgeo.metrics.t_ppf`, in C);
tests/test_studies_stats.py compares them with scipy.stats.
"""

from __future__ import annotations

import math

import numpy as np

from .. import metrics

__all__ = ["t_cdf", "t_ppf", "mean_ci"]


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` > 0 degrees of freedom (NaN otherwise)."""
    return float(metrics.t_cdf(t, df))


def t_ppf(q: float, df: float) -> float:
    """The quantile of Student's t: the t with ``t_cdf(t, df) == q``.

    Only for 0 < q < 1 (NaN otherwise, including q = 0 and 1 where
    :func:`tokgeo.metrics.t_ppf` gives -inf / +inf): a confidence band needs a finite value."""
    if not 0.0 < q < 1.0:
        return math.nan
    return float(metrics.t_ppf(q, df))


def mean_ci(x: np.ndarray, confidence: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and the Student-t confidence interval of the mean along ``axis``.

    Returns (mean, low, high); NaN where fewer than 2 values.  The interval is
    mean +- t_{(1+confidence)/2, n-1} * sd / sqrt(n) (sd with n - 1).
    """
    a = np.asarray(x, dtype=np.float64)
    n = a.shape[axis]
    mean = a.mean(axis=axis)
    if n < 2:
        nan = np.full_like(mean, np.nan)
        return mean, nan, nan.copy()
    sem = a.std(axis=axis, ddof=1) / math.sqrt(n)
    half = t_ppf(0.5 + confidence / 2.0, n - 1) * sem
    return mean, mean - half, mean + half
