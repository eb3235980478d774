"""Small statistics the studies need on top of tokgeo.metrics: Student-t confidence bands,
Holm and Bonferroni corrections
(the t distribution itself is :func:`tokgeo.metrics.t_cdf` / :func:`tokgeo.metrics.t_ppf`, in C);
tests/test_studies_stats.py compares them with scipy.stats.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import metrics

__all__ = ["t_cdf", "t_ppf", "mean_ci", "holm", "bonferroni"]


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


def mean_ci(x: Any, confidence: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and the Student-t confidence interval of the mean along ``axis``, NaNs left out.

    Returns (mean, low, high): mean +- t_{(1+confidence)/2, n-1} * sd / sqrt(n), sd with
    ddof = 1 (:func:`tokgeo.metrics.t_ppf`); NaN where fewer than 2 values.
    """
    a = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(a)
    n = ok.sum(axis=axis)
    z = np.where(ok, a, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = z.sum(axis=axis) / n
        dev = np.where(ok, a - np.expand_dims(mean, axis), 0.0)
        sd = np.sqrt((dev**2).sum(axis=axis) / (n - 1))
        tq = np.asarray(metrics.t_ppf(0.5 + confidence / 2.0, np.maximum(n - 1, 1)), dtype=np.float64)
        half = np.where(n >= 2, tq * sd / np.sqrt(n), np.nan)
    mean = np.where(n >= 1, mean, np.nan)
    return mean, mean - half, mean + half


def holm(p: Any) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values of a family ``p`` [m] (NaN entries stay NaN and
    do not count in m): sort ascending, multiply the k-th smallest by m - k (k from 0),
    take the running maximum, clip at 1; the input order is kept.  Equals statsmodels'
    ``multipletests(method="holm")``.  Reject at level a where the adjusted p < a."""
    pv = np.asarray(p, dtype=np.float64)
    out = np.full(pv.shape, math.nan)
    ok = np.flatnonzero(np.isfinite(pv))
    m = ok.size
    if m:
        order = ok[np.argsort(pv[ok], kind="stable")]
        adj = np.maximum.accumulate(pv[order] * (m - np.arange(m)))
        out[order] = np.minimum(adj, 1.0)
    return out


def bonferroni(p: Any) -> np.ndarray:
    """Bonferroni-adjusted p-values: ``min(1, m p)`` with m the number of finite p-values."""
    pv = np.asarray(p, dtype=np.float64)
    out: np.ndarray = np.minimum(1.0, pv * int(np.isfinite(pv).sum()))
    return out
