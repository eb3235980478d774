"""Slow NumPy twins of the C reductions (PCA, t-SNE, trustworthiness), used by the tests.

Each function states the C routine it mirrors.  They favour clarity over speed and memory
(everything is dense, O(n^2)).  Not public API.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "eigh_reference",
    "pca_reference",
    "joint_probabilities_reference",
    "tsne_reference",
    "trustworthiness_reference",
]


def eigh_reference(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tg_eigh: eigenvalues ascending and eigenvectors as ROWS, via numpy.linalg.eigh."""
    w, v = np.linalg.eigh(np.asarray(a, dtype=np.float64))
    return w, v.T.copy()


def flip_signs(components: np.ndarray) -> np.ndarray:
    """The sign convention: in each row the entry of largest |value| (first on ties) is positive."""
    c = np.array(components, dtype=np.float64)
    idx = np.argmax(np.abs(c), axis=1)
    signs = np.sign(c[np.arange(c.shape[0]), idx])
    signs[signs == 0] = 1.0
    out: np.ndarray = c * signs[:, None]
    return out


def pca_reference(x: np.ndarray, k: int, center: bool = True) -> dict[str, np.ndarray]:
    """tg_pca + tg_pca_transform: covariance (ddof=1) eigendecomposition with numpy."""
    a = np.asarray(x, dtype=np.float64)
    mean = a.mean(axis=0) if center else np.zeros(a.shape[1])
    xc = a - mean
    cov = xc.T @ xc / (a.shape[0] - 1)
    w, v = np.linalg.eigh(cov)
    order = np.argsort(w)[::-1][:k]
    comp = flip_signs(v[:, order].T)
    return {
        "eigenvalues": w[order],
        "components": comp,
        "mean": mean,
        "total_variance": np.array(np.trace(cov)),
        "projection": xc @ comp.T,
    }


def _sq_distances(a: np.ndarray, metric: str) -> np.ndarray:
    if metric == "cosine":
        u = a / np.linalg.norm(a, axis=1, keepdims=True)
        d = np.maximum(1.0 - u @ u.T, 0.0)
    else:
        sq = (a * a).sum(axis=1)
        d = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (a @ a.T), 0.0)
    np.fill_diagonal(d, 0.0)
    out: np.ndarray = d
    return out


def _calibrate(dist: np.ndarray, perplexity: float) -> np.ndarray:
    """Per row: beta such that the entropy of exp(-beta d) / sum is log(perplexity) (within
    1e-10), by bracketed Newton steps on t = log(beta) from beta = 1 / mean(d), as the C code does."""
    n = dist.shape[0]
    mean_d = dist.mean(axis=1)
    with np.errstate(divide="ignore"):
        t = np.where((mean_d > 0) & np.isfinite(mean_d), -np.log(mean_d), 0.0)
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    target = np.log(perplexity)
    active = np.ones(n, dtype=bool)
    p = np.zeros_like(dist)
    for _ in range(100):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        beta = np.exp(t[rows])
        d = dist[rows]
        e = np.exp(-d * beta[:, None])
        s = e.sum(axis=1)
        s = np.where(s == 0, 1e-8, s)
        mean = (d * e).sum(axis=1) / s
        h = np.log(s) + beta * mean
        diff = h - target
        p[rows] = e / s[:, None]
        done = np.abs(diff) <= 1e-10
        up = diff > 0
        lo[rows] = np.where(up, t[rows], lo[rows])
        hi[rows] = np.where(up, hi[rows], t[rows])
        var = (d * d * e).sum(axis=1) / s - mean * mean
        with np.errstate(divide="ignore", invalid="ignore"):
            nxt = np.where(var > 0, t[rows] + diff / (beta * beta * var), np.nan)
        open_side = np.isinf(lo[rows]) | np.isinf(hi[rows])
        nxt = np.where(open_side, np.clip(nxt, t[rows] - 3.0, t[rows] + 3.0), nxt)
        ok = (nxt > lo[rows]) & (nxt < hi[rows])
        both = np.isfinite(lo[rows]) & np.isfinite(hi[rows])
        fallback = np.where(both, 0.5 * (lo[rows] + hi[rows]), np.where(up, t[rows] + np.log(2.0), t[rows] - np.log(2.0)))
        t[rows] = np.where(ok, nxt, fallback)
        active[rows[done]] = False
    return p


def joint_probabilities_reference(x: np.ndarray, perplexity: float, method: str = "exact", metric: str = "euclidean") -> np.ndarray:
    """tg_tsne_affinities as a dense [n, n] matrix (zero diagonal, sums to 1).

    exact: all pairs, entries floored at float64 eps like sklearn; barnes_hut: the
    floor(3 * perplexity + 1) nearest neighbours (ties by index), zero elsewhere."""
    a = np.asarray(x, dtype=np.float64)
    n = a.shape[0]
    d = _sq_distances(a, metric)
    if method == "exact":
        off = ~np.eye(n, dtype=bool)
        cand = d[off].reshape(n, n - 1)
        pc = np.zeros((n, n))
        pc[off] = _calibrate(cand, perplexity).ravel()
        p = pc + pc.T
        p = p / p.sum()
        p = np.maximum(p, np.finfo(np.float64).eps)
        np.fill_diagonal(p, 0.0)
        out: np.ndarray = p
        return out
    k = min(n - 1, int(np.floor(3.0 * perplexity + 1.0)))
    d2 = d.copy()
    np.fill_diagonal(d2, np.inf)
    idx = np.lexsort((np.broadcast_to(np.arange(n), (n, n)), d2), axis=1)[:, :k]
    cand = np.take_along_axis(d2, idx, axis=1)
    pk = _calibrate(cand, perplexity)
    pc = np.zeros((n, n))
    np.put_along_axis(pc, idx, pk, axis=1)
    p = pc + pc.T
    out = np.asarray(p / p.sum(), dtype=np.float64)
    return out


def tsne_reference(
    p: np.ndarray,
    y0: np.ndarray,
    *,
    learning_rate: float,
    max_iter: int,
    early_exaggeration: float = 12.0,
    exaggeration_iter: int = 250,
) -> tuple[np.ndarray, float]:
    """tg_tsne (exact gradient, dof 1, the sklearn schedule: momentum and gains restart when
    the exaggeration ends) on a given dense P [n, n]; no early stopping.  Returns (embedding, KL at the last iteration)."""
    y = np.array(y0, dtype=np.float64)
    upd = np.zeros_like(y)
    gains = np.ones_like(y)
    kl = np.nan
    off = ~np.eye(y.shape[0], dtype=bool)
    for it in range(max_iter):
        ex = early_exaggeration if it < exaggeration_iter else 1.0
        mom = 0.5 if it < exaggeration_iter else 0.8
        if it == exaggeration_iter:  # the second phase restarts the optimiser (sklearn)
            upd = np.zeros_like(y)
            gains = np.ones_like(y)
        diff = y[:, None, :] - y[None, :, :]
        u = 1.0 / (1.0 + (diff**2).sum(-1))
        np.fill_diagonal(u, 0.0)
        z = u.sum()
        q = u / z
        pe = ex * p
        grad = 4.0 * ((pe - q) * u)[:, :, None].__mul__(diff).sum(1)
        nz = off & (pe > 0)
        kl = float((pe[nz] * np.log(pe[nz] / q[nz])).sum())
        inc = upd * grad < 0
        gains = np.where(inc, gains + 0.2, gains * 0.8)
        gains = np.maximum(gains, 0.01)
        grad = grad * gains
        upd = mom * upd - learning_rate * grad
        y = y + upd
    return y, kl


def trustworthiness_reference(x: np.ndarray, emb: np.ndarray, k: int) -> float:
    """tg_trustworthiness with exact Euclidean distances and index tie-breaking."""
    a = np.asarray(x, dtype=np.float64)
    e = np.asarray(emb, dtype=np.float64)
    n = a.shape[0]
    dx = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    de = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dx, np.inf)
    np.fill_diagonal(de, np.inf)
    order_x = np.argsort(dx, axis=1, kind="stable")
    rank = np.empty((n, n), dtype=np.int64)
    np.put_along_axis(rank, order_x, np.arange(1, n + 1)[None, :].repeat(n, 0), axis=1)
    nn_e = np.argsort(de, axis=1, kind="stable")[:, :k]
    r = np.take_along_axis(rank, nn_e, axis=1) - k
    t = r[r > 0].sum()
    return float(1.0 - t * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))
