"""Slow NumPy twins of the C metrics kernels (used by the tests, readable as documentation).

Each function computes the same quantity as its counterpart in :mod:`tokgeo.metrics`
the obvious way, in float64 with NumPy (and pure Python for the incomplete beta function),
without the C core.  They follow the same conventions (shapes, NaN for zero vectors, the
scipy formulas for the tests) so the tests can compare the two across dtypes, shapes,
strides and memory orders.  Not part of the public API; imports NumPy and the standard
library only (tests/test_reference.py checks), so no scipy and no tokgeo needed.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]

__all__ = [
    "cosine_similarity",
    "angle",
    "euclidean",
    "norm",
    "path_length",
    "cumulative_path_length",
    "drift",
    "consecutive_angles",
    "cosine_similarity_matrix",
    "top_k_similar",
    "similarity_histogram",
    "ibeta",
    "stdtr",
    "ttest_ind",
    "ttest_1samp",
    "ttest_rel",
    "pearson",
    "spearman",
    "softmax",
    "log_softmax",
    "entropy",
]


def _f64(x: ArrayLike) -> F64:
    return np.asarray(x, dtype=np.float64)


# ---- geometry ------------------------------------------------------------------------------


def cosine_similarity(a: ArrayLike, b: ArrayLike, axis: int = -1) -> Any:
    x, y = np.broadcast_arrays(_f64(a), _f64(b))
    dot = np.sum(x * y, axis=axis)
    na = np.sqrt(np.sum(x * x, axis=axis))
    nb = np.sqrt(np.sum(y * y, axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = dot / (na * nb)
    c = np.where((na == 0) | (nb == 0), np.nan, c)
    return np.clip(c, -1.0, 1.0)


def angle(a: ArrayLike, b: ArrayLike, axis: int = -1, degrees: bool = True) -> Any:
    r = np.arccos(cosine_similarity(a, b, axis))
    return np.degrees(r) if degrees else r


def euclidean(a: ArrayLike, b: ArrayLike, axis: int = -1) -> Any:
    x, y = np.broadcast_arrays(_f64(a), _f64(b))
    return np.sqrt(np.sum((x - y) ** 2, axis=axis))


def norm(x: ArrayLike, axis: int = -1) -> Any:
    v = _f64(x)
    return np.sqrt(np.sum(v * v, axis=axis))


def path_length(x: ArrayLike, axis: int = 0, vector_axis: int = -1) -> F64:
    v = np.moveaxis(_f64(x), (axis, vector_axis), (0, -1))
    steps = [np.sqrt(np.sum((v[i] - v[i - 1]) ** 2, axis=-1)) for i in range(1, v.shape[0])]
    out = np.stack(steps) if steps else np.zeros((0,) + v.shape[1:-1])
    return _restore(out, x, axis, vector_axis)


def cumulative_path_length(x: ArrayLike, axis: int = 0, vector_axis: int = -1) -> F64:
    v = np.moveaxis(_f64(x), (axis, vector_axis), (0, -1))
    acc = np.zeros(v.shape[1:-1])
    rows = []
    for i in range(v.shape[0]):
        if i:
            acc = acc + np.sqrt(np.sum((v[i] - v[i - 1]) ** 2, axis=-1))
        rows.append(acc)
    out = np.stack(rows) if rows else np.zeros((0,) + v.shape[1:-1])
    return _restore(out, x, axis, vector_axis)


def drift(x: ArrayLike, axis: int = 0, vector_axis: int = -1) -> F64:
    v = np.moveaxis(_f64(x), (axis, vector_axis), (0, -1))
    rows = [np.sqrt(np.sum((v[i] - v[0]) ** 2, axis=-1)) for i in range(v.shape[0])]
    out = np.stack(rows) if rows else np.zeros((0,) + v.shape[1:-1])
    return _restore(out, x, axis, vector_axis)


def consecutive_angles(x: ArrayLike, axis: int = 0, vector_axis: int = -1, degrees: bool = True) -> F64:
    v = np.moveaxis(_f64(x), (axis, vector_axis), (0, -1))
    rows = [angle(v[i], v[i - 1], -1, degrees) for i in range(1, v.shape[0])]
    out = np.stack(rows) if rows else np.zeros((0,) + v.shape[1:-1])
    return _restore(out, x, axis, vector_axis)


def _restore(out: F64, x: ArrayLike, axis: int, vector_axis: int) -> F64:
    """Puts the step axis (now first) back where metrics.py leaves it."""
    nd = np.ndim(x)
    ax, vax = axis % nd, vector_axis % nd
    oax = ax - 1 if vax < ax else ax
    return np.moveaxis(out, 0, oax)


# ---- all pairs -----------------------------------------------------------------------------


def cosine_similarity_matrix(a: ArrayLike, b: Optional[ArrayLike] = None) -> F64:
    x = _f64(a)
    y = x if b is None else _f64(b)
    na = np.sqrt(np.sum(x * x, axis=1))
    nb = np.sqrt(np.sum(y * y, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (x @ y.T) / np.outer(na, nb)
    s[na == 0, :] = np.nan
    s[:, nb == 0] = np.nan
    return np.clip(s, -1.0, 1.0)


def top_k_similar(
    a: ArrayLike, b: Optional[ArrayLike] = None, k: int = 10, exclude_self: bool = True
) -> Tuple[NDArray[np.int64], F64]:
    s = cosine_similarity_matrix(a, b)
    if b is None and exclude_self:
        np.fill_diagonal(s, np.nan)
    idx = np.full((s.shape[0], k), -1, dtype=np.int64)
    val = np.full((s.shape[0], k), np.nan)
    for i, row in enumerate(s):
        cand = np.flatnonzero(~np.isnan(row))
        order = cand[np.lexsort((cand, -row[cand]))][:k]  # value desc, index asc
        idx[i, : len(order)] = order
        val[i, : len(order)] = row[order]
    return idx, val


def similarity_histogram(
    a: ArrayLike,
    b: Optional[ArrayLike] = None,
    bins: Any = 100,
    range: Tuple[float, float] = (-1.0, 1.0),
    exclude_diagonal: bool = True,
) -> Tuple[NDArray[np.int64], F64]:
    s = cosine_similarity_matrix(a, b)
    if b is None:
        vals = s[np.triu_indices(s.shape[0], 1 if exclude_diagonal else 0)]
    else:
        vals = s.ravel()
    vals = vals[~np.isnan(vals)]
    if isinstance(bins, (int, np.integer)):
        counts, edges = np.histogram(vals, bins=int(bins), range=range)
    else:
        counts, edges = np.histogram(vals, bins=np.asarray(bins, dtype=np.float64))
    return counts.astype(np.int64), edges


# ---- special functions (textbook continued fraction, pure Python) ------------------------


def ibeta(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) by the classical continued fraction."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - ibeta(b, a, 1.0 - x)
    lbeta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - lbeta) / a
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100000):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return front * h


def stdtr(df: float, t: float) -> float:
    """Student t CDF from :func:`ibeta`."""
    if math.isnan(df) or math.isnan(t) or df <= 0:
        return math.nan
    if math.isinf(t):
        return 0.0 if t < 0 else 1.0
    tail = 0.5 * ibeta(df / 2.0, 0.5, df / (df + t * t))
    return tail if t < 0 else 1.0 - tail


def _t_pvalue(t: float, df: float, alternative: str) -> float:
    if alternative == "less":
        return stdtr(df, t)
    if alternative == "greater":
        return stdtr(df, -t)
    return 2.0 * stdtr(df, -abs(t))


# ---- statistics (1-D samples; the tests loop over slices) --------------------------------


def ttest_ind(a: ArrayLike, b: ArrayLike, equal_var: bool = True, alternative: str = "two-sided") -> Tuple[float, float, float, float]:
    x, y = _f64(a), _f64(b)
    n1, n2 = x.size, y.size
    m1, m2 = x.mean(), y.mean()
    v1, v2 = x.var(ddof=1), y.var(ddof=1)
    if equal_var:
        df = n1 + n2 - 2.0
        sp2 = ((n1 - 1) * v1 + (n2 - 1) * v2) / df
        t = (m1 - m2) / math.sqrt(sp2 * (1.0 / n1 + 1.0 / n2))
        d = (m1 - m2) / math.sqrt(sp2)
    else:
        vn1, vn2 = v1 / n1, v2 / n2
        df = (vn1 + vn2) ** 2 / (vn1**2 / (n1 - 1) + vn2**2 / (n2 - 1))
        t = (m1 - m2) / math.sqrt(vn1 + vn2)
        d = (m1 - m2) / math.sqrt((v1 + v2) / 2.0)
    return t, _t_pvalue(t, df, alternative), df, d


def ttest_1samp(a: ArrayLike, popmean: float, alternative: str = "two-sided") -> Tuple[float, float, float, float]:
    x = _f64(a)
    n = x.size
    sd = x.std(ddof=1)
    t = (x.mean() - popmean) / (sd / math.sqrt(n))
    return t, _t_pvalue(t, n - 1.0, alternative), n - 1.0, (x.mean() - popmean) / sd


def ttest_rel(a: ArrayLike, b: ArrayLike, alternative: str = "two-sided") -> Tuple[float, float, float, float]:
    return ttest_1samp(_f64(a) - _f64(b), 0.0, alternative)


def _ranks(v: F64) -> F64:
    order = np.argsort(v, kind="stable")
    r = np.empty(v.size)
    sv = v[order]
    i = 0
    while i < v.size:
        j = i
        while j + 1 < v.size and sv[j + 1] == sv[i]:
            j += 1
        r[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return r


def pearson(x: ArrayLike, y: ArrayLike, alternative: str = "two-sided") -> Tuple[float, float]:
    u, v = _f64(x), _f64(y)
    n = u.size
    du, dv = u - u.mean(), v - v.mean()
    r = float(np.clip(np.sum(du * dv) / math.sqrt(np.sum(du * du) * np.sum(dv * dv)), -1, 1))
    if n == 2:
        return float(np.sign(r)), 1.0
    ab = n / 2.0 - 1.0
    if alternative == "two-sided":
        return r, 2.0 * (1.0 - ibeta(ab, ab, (abs(r) + 1.0) / 2.0))
    cdf = ibeta(ab, ab, (r + 1.0) / 2.0)
    return r, cdf if alternative == "less" else 1.0 - cdf


def spearman(x: ArrayLike, y: ArrayLike, alternative: str = "two-sided") -> Tuple[float, float]:
    u, v = _ranks(_f64(x)), _ranks(_f64(y))
    du, dv = u - u.mean(), v - v.mean()
    r = float(np.clip(np.sum(du * dv) / math.sqrt(np.sum(du * du) * np.sum(dv * dv)), -1, 1))
    dof = u.size - 2.0
    with np.errstate(divide="ignore"):
        t = r * math.sqrt(max(dof / ((r + 1.0) * (1.0 - r)), 0.0)) if abs(r) < 1 else math.copysign(math.inf, r)
    return r, (_t_pvalue(t, dof, alternative) if dof > 0 else math.nan)


# ---- softmax family -----------------------------------------------------------------------


def softmax(x: ArrayLike, axis: int = -1) -> F64:
    v = _f64(x)
    e = np.exp(v - np.max(v, axis=axis, keepdims=True))
    out: F64 = e / np.sum(e, axis=axis, keepdims=True)
    return out


def log_softmax(x: ArrayLike, axis: int = -1) -> F64:
    v = _f64(x)
    z = v - np.max(v, axis=axis, keepdims=True)
    out: F64 = z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    return out


def entropy(logits: ArrayLike, axis: int = -1, base: Optional[float] = None) -> Any:
    p = softmax(logits, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=axis)
    return h / math.log(base) if base else h
