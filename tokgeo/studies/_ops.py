"""The measurements the studies make, in one place (row-wise angles, cosine matrices,
correlations, t-tests, PCA, t-SNE, softmax/entropy)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from ._stats import t_cdf

__all__ = [
    "angles_deg",
    "cosine_matrix",
    "row_norms",
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
    """Angle in degrees between matching rows of a and b ([..., C] -> [...])."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    # atan2(|x cross y|, x.y) in any dimension: accurate for small and large angles
    dot = np.sum(x * y, axis=-1)
    nx = np.linalg.norm(x, axis=-1)
    ny = np.linalg.norm(y, axis=-1)
    cross = np.sqrt(np.maximum((nx * ny) ** 2 - dot**2, 0.0))
    out = np.degrees(np.arctan2(cross, dot))
    return np.where((nx == 0) | (ny == 0), np.nan, out)


def cosine_matrix(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarity of every row of x [n, C] with every row of y [m, C] -> [n, m]."""
    a = np.asarray(x, dtype=np.float64)
    b = a if y is None else np.asarray(y, dtype=np.float64)
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.clip(an @ bn.T, -1.0, 1.0)


def row_norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis, in float64."""
    return np.linalg.norm(np.asarray(x, dtype=np.float64), axis=-1)


@dataclass(frozen=True)
class TTest:
    t: float
    df: float
    p: float


@dataclass(frozen=True)
class Correlation:
    r: float
    p: float
    n: int


def _corr_p(r: float, n: int) -> float:
    if n < 3 or math.isnan(r):
        return math.nan
    if abs(r) >= 1.0:
        return 0.0
    t = r * math.sqrt((n - 2) / (1.0 - r * r))
    return 2.0 * t_cdf(-abs(t), n - 2)


def pearson(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Pearson's r with the two-sided p-value (t with n-2 degrees of freedom)."""
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    n = a.size
    if n < 2:
        return Correlation(math.nan, math.nan, n)
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    r = float(a @ b) / den if den > 0 else math.nan
    r = max(-1.0, min(1.0, r)) if not math.isnan(r) else r
    return Correlation(r, _corr_p(r, n), n)


def _rank(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(v.size, dtype=np.float64)
    sv = v[order]
    i = 0
    while i < v.size:
        j = i
        while j + 1 < v.size and sv[j + 1] == sv[i]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Spearman's rho (Pearson on average ranks) with the t-approximation p-value."""
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    c = pearson(_rank(a), _rank(b))
    return c


def ttest_ind(a: np.ndarray, b: np.ndarray) -> TTest:
    """Student's independent two-sample t-test (equal variances), two-sided."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    nx, ny = x.size, y.size
    df = nx + ny - 2
    if nx < 2 or ny < 2:
        return TTest(math.nan, float(df), math.nan)
    sp = ((nx - 1) * x.var(ddof=1) + (ny - 1) * y.var(ddof=1)) / df
    se = math.sqrt(sp * (1.0 / nx + 1.0 / ny))
    if se == 0:
        return TTest(math.nan, float(df), math.nan)
    t = float((x.mean() - y.mean()) / se)
    return TTest(t, float(df), 2.0 * t_cdf(-abs(t), df))


def covariance_spectrum(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Eigenvalues (descending) of the sample covariance (ddof 1) of the rows of x [n, C].

    The C x C covariance is accumulated in float64 over chunks of rows, so a float32
    embedding matrix (50257 x 1600 for gpt2-xl) is never copied whole.
    """
    a = np.asarray(x)
    n, c = a.shape
    if n < 2:
        raise InvalidInputError("the covariance needs at least 2 rows")
    mean = np.zeros(c)
    for i in range(0, n, chunk):
        mean += a[i : i + chunk].sum(axis=0, dtype=np.float64)
    mean /= n
    cov = np.zeros((c, c))
    for i in range(0, n, chunk):
        d = a[i : i + chunk].astype(np.float64) - mean
        cov += d.T @ d
    cov /= n - 1
    w = np.linalg.eigvalsh(cov)[::-1]
    return np.maximum(w, 0.0)


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
    a = np.asarray(z, dtype=np.float64)
    m = a.max(axis=-1, keepdims=True)
    e = np.exp(a - m)
    return e / e.sum(axis=-1, keepdims=True)


def entropy_nats(p: np.ndarray) -> np.ndarray:
    a = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(a > 0, a * np.log(a), 0.0)
    return -terms.sum(axis=-1)
