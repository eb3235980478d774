"""The measurements the studies make, in one place (row-wise angles, cosine matrices,
correlations, t-tests, PCA, t-SNE, softmax/entropy)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import metrics

from ..errors import InvalidInputError

__all__ = [
    "angles_deg",
    "cosine_matrix",
    "row_norms",
    "step_lengths",
    "pearson",
    "spearman",
    "ttest_ind",
    "TTest",
    "Correlation",
    "pca",
    "covariance_spectrum",
    "tsne",
    "softmax",
    "entropy_nats",
]


def angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between matching rows of a and b ([..., C] -> [...]); NaN (with
    tokgeo's ZeroVectorWarning) for a zero vector.  tokgeo.metrics.angle."""
    return np.asarray(metrics.angle(a, b, axis=-1, degrees=True), dtype=np.float64)


def cosine_matrix(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarity of every row of x [n, C] with every row of y [m, C] -> [n, m]
    (float64 result; tokgeo.metrics.cosine_similarity_matrix, BLIS)."""
    return np.asarray(metrics.cosine_similarity_matrix(x, y, dtype=np.float64))


def row_norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis, in float64 (tokgeo.metrics.norm)."""
    return np.asarray(metrics.norm(x, axis=-1), dtype=np.float64)


def step_lengths(x: np.ndarray) -> np.ndarray:
    """``|x[l] - x[l-1]|`` along the first axis of x [L+1, ..., C] -> [L, ...]
    (tokgeo.metrics.path_length, float64)."""
    return np.asarray(metrics.path_length(x, axis=0, vector_axis=-1))


@dataclass(frozen=True)
class TTest:
    t: float
    df: float
    p: float
    cohen_d: float


@dataclass(frozen=True)
class Correlation:
    r: float
    p: float
    n: int


def _corr(fn: Any, x: np.ndarray, y: np.ndarray) -> Correlation:
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    n = int(a.size)
    if n < 3:  # no p-value below 3 pairs
        return Correlation(math.nan, math.nan, n)
    with warnings.catch_warnings():
        # a constant sample gives NaN: the result says so, the warning would repeat per layer
        warnings.simplefilter("ignore", metrics.ConstantInputWarning)
        r = fn(a, b)
    return Correlation(float(r.statistic), float(r.pvalue), n)


def pearson(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Pearson's r with the two-sided p-value (tokgeo.metrics.pearson; scipy's pearsonr)."""
    return _corr(metrics.pearson, x, y)


def spearman(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Spearman's rho with the t-approximation p-value (tokgeo.metrics.spearman)."""
    return _corr(metrics.spearman, x, y)


def ttest_ind(a: np.ndarray, b: np.ndarray) -> TTest:
    """Student's independent two-sample t-test (equal variances), two-sided, with Cohen's d
    over the pooled SD (tokgeo.metrics.ttest_ind)."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.size < 2 or y.size < 2:
        return TTest(math.nan, float(x.size + y.size - 2), math.nan, math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.ConstantInputWarning)
        r = metrics.ttest_ind(x, y)
    return TTest(float(r.statistic), float(r.df), float(r.pvalue), float(r.cohen_d))


def covariance_spectrum(x: np.ndarray) -> np.ndarray:
    """Eigenvalues (descending, >= 0) of the sample covariance (ddof 1) of the rows of x [n, C].

    tokgeo's exact C PCA with every component and no projection: the C x C covariance is
    accumulated in float64 over bounded row blocks, so a float32 embedding matrix
    (50257 x 1600 for gpt2-xl) is never copied whole.  When n < C the covariance has rank
    < n and the PCA gives n eigenvalues; the remaining C - n are returned as 0.
    """
    from .._reduce import pca as _pca

    a = np.asarray(x)
    n, c = a.shape
    if n < 2:
        raise InvalidInputError("the covariance needs at least 2 rows")
    ev = np.asarray(_pca(a, method="exact", projection=False).eigenvalues)
    w = np.zeros(c)
    w[: ev.shape[0]] = np.maximum(ev, 0.0)
    return w


def pca(x: np.ndarray, n_components: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top principal axes of the rows of x [n, C] (tokgeo's C PCA).

    Returns (components [k, C] unit rows, largest-magnitude entry positive; explained
    variance ratio [k]; mean [C]).
    """
    from .._reduce import pca as _pca

    r = _pca(x, n_components, random_state=seed)
    return np.asarray(r.components), np.asarray(r.explained_variance_ratio), np.asarray(r.mean)


def tsne(x: np.ndarray, *, perplexity: float, seed: int) -> np.ndarray:
    """2-D t-SNE map of the rows of x (tokgeo's C t-SNE; sklearn's schedule)."""
    from .._reduce import tsne as _tsne

    return np.asarray(_tsne(np.asarray(x, dtype=np.float64), 2, perplexity=perplexity, random_state=seed).embedding)


def softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities from logits along the last axis (tokgeo.metrics.softmax, float64)."""
    return np.asarray(metrics.softmax(z, axis=-1))


def entropy_nats(logits: np.ndarray) -> np.ndarray:
    """Entropy in nats of softmax(logits) along the last axis (tokgeo.metrics.entropy)."""
    return np.asarray(metrics.entropy(logits, axis=-1))
