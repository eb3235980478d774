"""Dimensionality reductions: PCA, t-SNE and the trustworthiness score.

All three run in tokgeo's C core (BLIS for the matrix products, OpenMP for the loops) with
the GIL released; Ctrl-C stops them.  They are re-exported by :mod:`tokgeo.metrics`.

Input arrays
------------
``x`` is a 2-D array ``[n_samples, n_features]`` (anything :func:`numpy.asarray` accepts).
float32 and float64 arrays are read **in place** through their strides: C or Fortran order,
slices, transposes and negative strides cost no copy.  Every other dtype (integers, bool,
float16, longdouble) is converted to float64 first, and so are byte-swapped or misaligned
arrays.  Complex input is refused.  All arithmetic accumulates in float64 and every result
is float64.

Reproducibility
---------------
The exact PCA is deterministic.  Randomized PCA and t-SNE depend only on ``random_state``;
``random_state=None`` means the fixed seed 0, so repeated calls give identical results.  Use
``random_state=numpy.random.default_rng()`` or any int for other draws.  t-SNE with the
same seed gives bitwise-identical embeddings at any number of threads
(:func:`tokgeo.set_num_threads`), for every method, init and neighbour search (the
approximate search's random trees are drawn from ``random_state``), and PCA gives identical bits
too: every per-point sum runs in a fixed order whichever thread computes it, global sums
are added serially, and every BLIS product (input distances, Gram matrices, the
eigensolver's updates) is cut into tiles whose size depends only on the shapes, each
computed by one single-threaded BLIS call.  A different BLIS build or CPU (e.g. with or
without AVX2) changes the last bits, which t-SNE's chaotic optimisation can amplify into a
visibly different, equally good layout.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Literal, Union

import numpy as np

from . import _C
from ._util import check_seed
from .errors import InvalidInputError, InvalidTypeError

__all__ = ["PCAResult", "TSNEResult", "pca", "tsne", "trustworthiness"]

RandomState = Union[int, np.integer, np.random.Generator, np.random.RandomState, None]


def _as_matrix(x: object, name: str, min_rows: int = 1) -> np.ndarray:
    """float32/float64 2-D array readable by the core, copying only when it must."""
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise InvalidTypeError(f"{name} is complex ({arr.dtype}); pass the real part or the magnitude explicitly")
    if arr.dtype.kind not in "fiub":
        raise InvalidTypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = " (use x.reshape(-1, x.shape[-1]) to stack tokens as rows)" if arr.ndim > 2 else " (reshape it to [n_samples, n_features])"
        raise InvalidInputError(f"{name} must be 2-D [n_samples, n_features], got shape {arr.shape}{hint}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    elif not arr.dtype.isnative or not arr.flags.aligned or any(s % arr.itemsize for s in arr.strides):
        arr = np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C")
    if arr.shape[0] < min_rows:
        raise InvalidInputError(f"{name} needs at least {min_rows} samples (rows), got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise InvalidInputError(f"{name} needs at least 1 feature (column), got shape {arr.shape}")
    return arr


def _seed(random_state: RandomState) -> int:
    if random_state is None:
        return 0
    if isinstance(random_state, (bool, np.bool_)):
        raise InvalidTypeError("random_state must be an int, a numpy Generator/RandomState or None")
    if isinstance(random_state, (int, np.integer)):
        return check_seed(random_state, "random_state") & 0xFFFFFFFFFFFFFFFF
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    raise InvalidTypeError(f"random_state must be an int, a numpy Generator/RandomState or None, got {type(random_state).__name__}")


# --------------------------------------------------------------------------- PCA


@dataclass(frozen=True)
class PCAResult:
    """The principal components of ``x`` [n, d] and its projection on them.

    Attributes:
        components: [k, d] unit vectors, row ``j`` is the ``j``-th principal axis.  Sign
            convention: in every row the entry of largest absolute value is positive (the
            first one on ties) -- the rule sklearn >= 1.5 applies to ``PCA.components_``.
        eigenvalues: [k] variances along the components (eigenvalues of the sample
            covariance with ``ddof=1``, like :func:`numpy.cov` and sklearn's
            ``explained_variance_``), descending.  Units: squared units of ``x``.
        explained_variance_ratio: [k] ``eigenvalues / total_variance``.
        total_variance: trace of the sample covariance (sum of all d variances).
        mean: [d] the column means that were subtracted (zeros if ``center=False``).
        centered: whether the means were subtracted (``False``: uncentred second moment).
        ddof: the covariance divisor was ``n - ddof``.
        projection: [n, k] ``(x - mean) @ components.T``, the coordinates of each sample;
            ``None`` when :func:`pca` was called with ``projection=False`` (then
            :meth:`transform` computes it on demand).
        method: ``"exact"`` or ``"randomized"``, the method actually used.
    """

    components: np.ndarray
    eigenvalues: np.ndarray
    explained_variance_ratio: np.ndarray
    total_variance: float
    mean: np.ndarray
    projection: np.ndarray | None
    method: str
    centered: bool = field(default=True)
    ddof: int = field(default=1)

    @property
    def n_components(self) -> int:
        """Number of components k."""
        return int(self.components.shape[0])

    @property
    def explained_variance(self) -> np.ndarray:
        """Alias of :attr:`eigenvalues` (sklearn's name)."""
        return self.eigenvalues

    def transform(self, x: object) -> np.ndarray:
        """Projects new samples ``x`` [m, d] on the components: ``(x - mean) @ components.T`` -> [m, k]."""
        arr = _as_matrix(x, "x", min_rows=0)
        if arr.shape[1] != self.components.shape[1]:
            raise InvalidInputError(
                f"x has {arr.shape[1]} features but this PCA was fitted on {self.components.shape[1]}; "
                "pass data of the same width"
            )
        return _C._pca_transform(arr, self.mean if self.centered else None, self.components)


EXACT_PCA_MAX_WIDTH = 4096
"""``method="auto"`` diagonalises exactly when ``min(n, d)`` is at most this."""


def _choose_pca_method(n: int, d: int, k: int) -> str:
    """The ``method="auto"`` rule of :func:`pca` (see its docstring)."""
    m = min(n, d)
    return "exact" if (m <= EXACT_PCA_MAX_WIDTH or k > 0.8 * m) else "randomized"


def pca(
    x: object,
    n_components: int | None = None,
    *,
    method: Literal["auto", "exact", "randomized"] = "auto",
    center: bool = True,
    ddof: int = 1,
    random_state: RandomState = None,
    n_oversamples: int = 10,
    n_iter: int = 7,
    projection: bool = True,
) -> PCAResult:
    """Principal component analysis of ``x`` [n_samples, n_features].

    Args:
        x: the samples as rows, e.g. token embeddings ``[n_tokens, d_model]``.
        n_components: k, the number of components to keep (default: ``min(n, d)``).
        method: ``"exact"`` forms the covariance (its Gram matrix over the longer axis,
            ``min(n, d)`` square) in float64 with BLIS and diagonalises it (only the top k
            eigenvectors, by inverse iteration on its tridiagonal form, when
            ``2k <= min(n, d)``; all of them otherwise); it agrees with
            :func:`numpy.linalg.eigh` to ~1e-12 relative.  Large float32 input
            (``n >= d >= 256``, ``2k <= d``, ``n * d**2 >= 2**33``, e.g. a vocabulary's
            embeddings) takes a faster route to the same eigenvalues: the subspace from a
            float32 Gram matrix (float32 products run at twice float64's rate), then a
            float64 Rayleigh-Ritz step on the data.  Its eigenvalues agree with numpy's to
            ~1e-13 relative (their error is the square of the subspace's), mean and total
            variance are float64 sums as on the other route, and the components agree to
            a few 1e-7 (unit vectors; measured 1e-8 to 9e-8 on decaying spectra, 3.6e-7 on
            isotropic noise, whose eigenvalues are ~1e-3 apart).  Where its own error estimate
            exceeds 1e-10 relative (spectra spanning many decades within the top k, close
            eigenvalues at k) it falls back to the float64 Gram matrix.  Pass float64
            input to keep the float64 Gram matrix throughout.  ``"randomized"`` forms the
            same matrix (float32 products accumulated in float64 every 1024 rows when x is
            float32) and finds the top k eigenpairs with the randomized range finder of
            Halko, Martinsson & Tropp (``n_oversamples`` extra vectors, ``n_iter`` power
            iterations with re-orthonormalisation); it is faster when k is small, and its
            accuracy depends on the spectrum: on GPT-2-like embeddings (50,257 x 768, top 50)
            its eigenvalues are off by up to ~1.5e-2 relative, as sklearn's randomized PCA
            with the same oversampling and iterations (~1e-2); the exact method's error is
            ~1e-14.  ``"auto"`` (the size rule): exact when ``min(n, d) <= 4096``
            (:data:`EXACT_PCA_MAX_WIDTH`; the Gram matrix is then at most 128 MB and its
            diagonalisation a few seconds; at 50,257 x 768 the exact route costs about 1.6x
            the randomized one in CPU time) or when ``k > 0.8 * min(n, d)``; randomized
            otherwise.
        center: subtract the column means first (PCA, the default).  ``False`` analyses the
            uncentred second moment ``x.T @ x / (n - ddof)`` instead: with ``ddof=0`` that is
            ``E^T E / N``, the covariance as the embedding lesson defines it.
        ddof: the divisor of the covariance is ``n - ddof`` (1: the sample covariance, as
            :func:`numpy.cov` and sklearn; 0: ``1 / n``).  Scales eigenvalues and
            ``total_variance``; ratios, components and projections do not change.
        random_state: seed of the randomized method (see the module notes; None = 0).
        n_oversamples, n_iter: randomized method parameters.
        projection: also project x on the components (``PCAResult.projection`` [n, k]).
            ``False`` skips that pass (and its n x k float64 array) when only the axes or
            the spectrum are wanted; ``result.transform(x)`` still gives it later.

    Returns:
        :class:`PCAResult` with components [k, d], eigenvalues [k], explained variance
        ratio [k], mean [d] and the projection [n, k] (or ``None``, see ``projection``).

    Raises:
        InvalidInputError: fewer than 2 samples, k outside ``1..min(n, d)``, NaN or inf in x.
        InvalidTypeError: non-numeric or complex x.
    """
    arr = _as_matrix(x, "x", min_rows=2)
    n, d = arr.shape
    m = min(n, d)
    k = m if n_components is None else n_components
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InvalidTypeError(f"n_components must be an int or None, got {type(n_components).__name__}")
    k = int(k)
    if not 1 <= k <= m:
        raise InvalidInputError(f"n_components={k} must be between 1 and min(n_samples, n_features) = {m} for x of shape {arr.shape}")
    if method not in ("auto", "exact", "randomized"):
        raise InvalidInputError(f"method must be 'auto', 'exact' or 'randomized', got {method!r}")
    if isinstance(n_oversamples, bool) or not isinstance(n_oversamples, (int, np.integer)) or n_oversamples < 0:
        raise InvalidInputError(f"n_oversamples must be an int >= 0, got {n_oversamples!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 0:
        raise InvalidInputError(f"n_iter must be an int >= 0, got {n_iter!r}")
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or not 0 <= ddof < n:
        raise InvalidInputError(f"ddof must be an int with 0 <= ddof < n_samples ({n}), got {ddof!r}")
    chosen = _choose_pca_method(n, d, k) if method == "auto" else method
    seed = _seed(random_state)
    # The randomized method keeps float32 input in float32 products, whose squares under- or
    # overflow for |x| beyond ~1e+-19 (1e-30 gave eigenvalues 0, 1e30 "not finite"); such
    # input is scaled by a power of two so that max |x| is in [0.5, 1) - exact, and
    # undone exactly on the results - as the exact method's float64 products need not.
    # Input in [2^-40, 2^40] is passed as is (same bits as before).
    shift = 0
    if chosen == "randomized" and arr.dtype == np.float32 and arr.size:
        # the values once: a zero-stride axis (a broadcast view) repeats them, so read one slice
        distinct = arr[tuple(slice(0, 1) if st == 0 else slice(None) for st in arr.strides)]
        amax = max(float(distinct.max()), -float(distinct.min()))  # no temporary copy
        if amax > 0.0 and not 2.0**-40 <= amax <= 2.0**40:
            shift = -int(np.frexp(amax)[1])
            arr = np.ldexp(arr, shift).astype(np.float32, copy=False)
    ev, comp, mean, tv = _C._pca(arr, k, 1 if chosen == "randomized" else 0, bool(center), seed, int(n_oversamples), int(n_iter))
    if ddof != 1:  # the core divides by n - 1
        scale = (n - 1) / (n - int(ddof))
        ev = ev * scale
        tv = tv * scale
    proj = _C._pca_transform(arr, mean if center else None, comp) if projection else None
    if shift:
        ev, tv = np.ldexp(ev, -2 * shift), float(np.ldexp(tv, -2 * shift))
        proj = None if proj is None else np.ldexp(proj, -shift)
        mean = np.ldexp(mean, -shift)
    ratio = ev / tv if tv > 0 else np.zeros_like(ev)
    return PCAResult(
        components=comp,
        eigenvalues=ev,
        explained_variance_ratio=ratio,
        total_variance=float(tv),
        mean=mean,
        projection=proj,
        method=chosen,
        centered=bool(center),
        ddof=int(ddof),
    )


# --------------------------------------------------------------------------- t-SNE


@dataclass(frozen=True)
class TSNEResult:
    """A t-SNE embedding.

    Attributes:
        embedding: [n, n_components] float64 coordinates (arbitrary units, only relative
            positions matter).
        kl_divergence: KL(P || Q) at the last iteration (nats; for Barnes-Hut and FFT with
            their estimate of Q's normaliser), comparable to sklearn's ``kl_divergence_``.
        n_iter: index of the last iteration run (sklearn's ``n_iter_``).
        perplexity_used: the perplexity actually used (lowered for small samples).
        method: ``"exact"``, ``"barnes_hut"`` or ``"fft"``: the method actually used
            (``"auto"`` resolved, see :func:`choose_tsne_method`).
        learning_rate: the learning rate actually used.
        neighbors: ``"exact"`` or ``"approximate"``: the neighbour search asked for
            (``"auto"`` resolved, see :func:`choose_tsne_neighbors`; ``"exact"`` for
            ``method="exact"``, which uses all pairs).  ``"approximate"`` includes the case
            where its sample check failed and the exact search gave the answer.
    """

    embedding: np.ndarray
    kl_divergence: float
    n_iter: int
    perplexity_used: float
    method: str
    learning_rate: float
    neighbors: str = "exact"


def _pca_init(arr: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    n, d = arr.shape
    k = min(n_components, n, d)
    res = pca(arr, k, method="exact" if min(n, d) <= 2000 else "randomized", random_state=seed)
    y = res.projection
    assert y is not None  # pca() projects unless projection=False (invariant, not input)
    if k < n_components:  # fewer features than output dimensions: pad with small noise
        rng = np.random.default_rng(seed)
        y = np.hstack([y, rng.standard_normal((n, n_components - k)) * 1e-4])
    std = float(np.std(y[:, 0]))
    if not std > 0:
        raise InvalidInputError("init='pca' failed: the data have zero variance along the first principal axis (all samples identical?)")
    return np.asarray(y / std * 1e-4)


#: From this many samples on, ``method="auto"`` uses the FFT-accelerated gradient: below it
#: Barnes-Hut's tree is faster per iteration, above it the grid (whose cost depends on the
#: embedding's extent, not on n) wins.  Measured (1 thread, 750 iterations, 50-d clustered
#: data): N = 2,000 BH 2.1 s / FFT 3.3 s; 5,000: 6.5 / 6.5 s; 10,000: 15.1 / 10.2 s.
TSNE_FFT_MIN_SAMPLES = 8_000


def choose_tsne_method(n_samples: int) -> Literal["barnes_hut", "fft"]:
    """The gradient method ``tsne(method="auto")`` uses for ``n_samples`` points.

    ``"barnes_hut"`` below :data:`TSNE_FFT_MIN_SAMPLES` (8,000) samples, ``"fft"`` from there
    on: the faster of the two (they cross near 5,000 on 2 cores).  Both reach the same KL
    divergence within a few per cent (at N = 10,000: 1.641 and 1.639 with a learning rate of
    N / 12; 1.678 and 1.643 with sklearn's N / 48 after 750 iterations).
    """
    return "fft" if int(n_samples) >= TSNE_FFT_MIN_SAMPLES else "barnes_hut"


TSNE_APPROX_MIN_SAMPLES = 20_000


def choose_tsne_neighbors(n_samples: int) -> Literal["exact", "approximate"]:
    """The neighbour search ``tsne(neighbors="auto")`` uses for ``n_samples`` points.

    ``"exact"`` below :data:`TSNE_APPROX_MIN_SAMPLES` (20,000) samples, where it costs a few
    seconds at most (1.7 s at 10,000 x 768 on one core); ``"approximate"`` from there on,
    where the exact search's n^2 d products dominate the run (25-44 s of a t-SNE of
    50,257 x 768 on one core, against 6-7 s approximate).  The approximate search (a forest
    of 16 random-projection trees with leaves of at most 256 rows, then one round of
    neighbours-of-neighbours, then the distances of the kept candidates in float64) found
    99.0% of the exact affinity graph's edges, holding 99.7% of P's mass, on
    embedding-like data of 50,257 x 768 (``benchmarks/bench_reduce.py`` prints it).  It
    checks itself: 256 rows drawn from the seed are also searched exactly, and when the
    approximate answer holds fewer than 95% of their neighbours (data without structure,
    such as isotropic noise: the PCA-50 of a random-weight W_E gave 53%) every row is
    searched exactly instead, so the result is never worse than that check allows.
    """
    return "approximate" if int(n_samples) >= TSNE_APPROX_MIN_SAMPLES else "exact"


def tsne(
    x: object,
    n_components: int = 2,
    perplexity: float = 30.0,
    *,
    method: Literal["auto", "barnes_hut", "fft", "exact"] = "auto",
    early_exaggeration: float = 12.0,
    learning_rate: float | Literal["auto"] = "auto",
    max_iter: int = 1000,
    init: Literal["pca", "random"] | np.ndarray = "pca",
    random_state: RandomState = None,
    angle: float = 0.5,
    metric: Literal["euclidean", "cosine"] = "euclidean",
    n_iter_without_progress: int = 300,
    min_grad_norm: float = 1e-7,
    neighbors: Literal["auto", "exact", "approximate"] = "auto",
) -> TSNEResult:
    """t-SNE embedding of ``x`` [n_samples, n_features] (van der Maaten & Hinton, 2008).

    Follows sklearn's ``TSNE`` (same defaults and optimisation schedule): each point's
    Gaussian calibrated to the perplexity (entropy within 1e-10 nats); 250 iterations of early exaggeration with
    momentum 0.5, then momentum 0.8, the optimiser restarting (no momentum, unit gains) when
    the exaggeration ends as sklearn's does; per-coordinate gains; ``learning_rate="auto"`` is
    ``max(n / early_exaggeration / 4, 50)``; ``init="pca"`` scales the PCA projection so
    that the first coordinate has standard deviation 1e-4.

    Args:
        x: samples as rows.
        n_components: output dimension (Barnes-Hut, FFT and so "auto": 2 only; exact: 1..16).
        perplexity: effective number of neighbours.  It must be below ``n_samples``; in
            addition it is lowered, with a :class:`UserWarning`, to ``(n_samples - 1) / 3``
            when larger, so that the ``3 * perplexity`` neighbours Barnes-Hut uses exist
            and the calibration stays meaningful (e.g. 54 sentences -> 17.67).
        method: how the gradient's repulsion over all pairs is computed.  ``"auto"``
            (default) picks by size, see :func:`choose_tsne_method`.  ``"barnes_hut"``:
            quadtree with opening ``angle``, O(n log n) per iteration.  ``"fft"``:
            FFT-accelerated interpolation on a grid (Linderman et al. 2019, as FIt-SNE and
            openTSNE's ``"fft"``: 3 interpolation nodes per box and axis, one box per unit of
            embedding length, at least 64 boxes), O(n) plus an FFT of the grid per
            iteration; its error in the repulsion equals openTSNE's (~1e-2 relative at
            spans of ~100).  Both use sparse P from the ``floor(3 * perplexity + 1)``
            nearest neighbours (see ``neighbors``).  ``"exact"``: all pairs, O(n^2),
            any ``n_components`` up to 16.
        neighbors: how Barnes-Hut and FFT find those neighbours.  ``"exact"``: a blocked
            float32 BLIS search with a rigorous error bound, then float64 (O(n^2 d)).
            ``"approximate"``: random-projection trees and a neighbours-of-neighbours round
            (at most about 4,700 distances per point), seeded by ``random_state``; a few neighbours may be
            missed, their place taken by the next nearest found; when a 256-row sample
            checked exactly shows less than 95% found, the exact search runs instead.
            ``"auto"`` (default):
            exact below 20,000 samples, approximate from there on, see
            :func:`choose_tsne_neighbors` for the rule and the measured recall.  Both are
            deterministic at any thread count.
        metric: ``"euclidean"`` (squared distances in P, as sklearn) or ``"cosine"``
            (``1 - cos``, unsquared).
        max_iter: total iterations (>= 250 like sklearn, or fewer to shorten the
            exaggeration phase too).
        init: ``"pca"``, ``"random"`` (N(0, 1e-4^2)), or an array [n, n_components].
        random_state: seed (None = 0); see the module notes on reproducibility.

    Returns:
        :class:`TSNEResult` (embedding [n, n_components], kl_divergence, n_iter,
        perplexity_used).

    Raises:
        InvalidInputError: fewer than 4 samples, NaN/inf, bad parameters.
    """
    arr = _as_matrix(x, "x", min_rows=1)
    n = arr.shape[0]
    if n < 4:
        raise InvalidInputError(f"t-SNE needs at least 4 samples, got {n}; with so few points plot them directly")
    if method not in ("auto", "barnes_hut", "fft", "exact"):
        raise InvalidInputError(f"method must be 'auto', 'barnes_hut', 'fft' or 'exact', got {method!r}")
    if metric not in ("euclidean", "cosine"):
        raise InvalidInputError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
    if neighbors not in ("auto", "exact", "approximate"):
        raise InvalidInputError(f"neighbors must be 'auto', 'exact' or 'approximate', got {neighbors!r}")
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
        raise InvalidTypeError("n_components must be an int")
    n_components = int(n_components)
    if method != "exact" and n_components != 2:
        raise InvalidInputError(f"method={method!r} supports n_components=2 only, got {n_components}; use method='exact'")
    if method == "auto":
        method = choose_tsne_method(n)
    if not 1 <= n_components <= 16:
        raise InvalidInputError(f"n_components must be between 1 and 16, got {n_components}")
    try:
        perp = float(perplexity)
    except (TypeError, ValueError):
        raise InvalidTypeError(f"perplexity must be a number, got {perplexity!r}") from None
    if not (perp > 0 and math.isfinite(perp)):
        raise InvalidInputError(f"perplexity must be a positive number, got {perplexity!r}")
    limit = (n - 1) / 3.0
    lowered = perp > limit
    requested = perp
    if lowered:
        perp = max(limit, 1.0)
    try:
        ee = float(early_exaggeration)
    except (TypeError, ValueError):
        raise InvalidTypeError(f"early_exaggeration must be a number, got {early_exaggeration!r}") from None
    if not (math.isfinite(ee) and ee >= 1.0):
        raise InvalidInputError(f"early_exaggeration must be >= 1 (sklearn's default is 12), got {early_exaggeration!r}")
    if learning_rate == "auto":
        lr = max(n / ee / 4.0, 50.0)
    else:
        if isinstance(learning_rate, str):
            raise InvalidInputError(f"learning_rate must be 'auto' or a positive number, got {learning_rate!r}")
        lr = float(learning_rate)
    for name, val in (("max_iter", max_iter), ("n_iter_without_progress", n_iter_without_progress)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise InvalidInputError(f"{name} must be a positive int, got {val!r}")
    if not (math.isfinite(float(angle)) and 0.0 <= float(angle) <= 1.0):
        raise InvalidInputError(f"angle must be between 0 and 1, got {angle!r}")
    if not (isinstance(learning_rate, str) or lr > 0):
        raise InvalidInputError(f"learning_rate must be 'auto' or a positive number, got {learning_rate!r}")
    seed = _seed(random_state)
    if method == "exact":
        neighbors = "exact"  # all pairs: no neighbour search
    elif neighbors == "auto":
        neighbors = choose_tsne_neighbors(n)
    if lowered:
        warnings.warn(
            f"perplexity={requested:g} is too large for {n} samples (it must stay below n_samples, and tokgeo keeps "
            f"3 * perplexity <= n_samples - 1); using perplexity={perp:.4g} = max((n_samples - 1) / 3, 1) instead",
            UserWarning,
            stacklevel=2,
        )
    if isinstance(init, np.ndarray) or not isinstance(init, str):
        y0 = np.array(init, dtype=np.float64)
        if y0.shape != (n, n_components):
            raise InvalidInputError(f"init array must have shape ({n}, {n_components}), got {y0.shape}")
    elif init == "pca":
        y0 = _pca_init(arr, n_components, seed)
    elif init == "random":
        y0 = 1e-4 * np.random.default_rng(seed).standard_normal((n, n_components))
    else:
        raise InvalidInputError(f"init must be 'pca', 'random' or an array, got {init!r}")
    emb, kl, nit = _C._tsne(
        arr,
        y0,
        {"exact": 0, "barnes_hut": 1, "fft": 2}[method],
        1 if metric == "cosine" else 0,
        perp,
        ee,
        250,
        lr,
        int(max_iter),
        int(n_iter_without_progress),
        float(min_grad_norm),
        float(angle),
        1 if neighbors == "approximate" else 0,
        seed,
    )
    return TSNEResult(
        embedding=emb,
        kl_divergence=float(kl),
        n_iter=int(nit),
        perplexity_used=perp,
        method=method,
        learning_rate=lr,
        neighbors=neighbors,
    )


def trustworthiness(x: object, embedding: object, n_neighbors: int = 5) -> float:
    """How well an embedding preserves local neighbourhoods, in [0, 1] (1 = perfectly).

    The definition of Venna & Kaski that :func:`sklearn.manifold.trustworthiness`
    implements (Euclidean distances in both spaces): points that are among the
    ``n_neighbors`` nearest in the embedding but far in ``x`` are penalised by their rank
    in ``x``.  Requires ``n_neighbors < n_samples / 2``.

    Args:
        x: [n, d] original samples.  embedding: [n, e] their low-dimensional coordinates.
        n_neighbors: k.
    """
    a = _as_matrix(x, "x", min_rows=2)
    e = _as_matrix(embedding, "embedding", min_rows=2)
    if a.shape[0] != e.shape[0]:
        raise InvalidInputError(f"x has {a.shape[0]} samples but embedding has {e.shape[0]}; they must match row for row")
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)):
        raise InvalidTypeError("n_neighbors must be an int")
    n = a.shape[0]
    if not 1 <= n_neighbors < n / 2:
        raise InvalidInputError(f"n_neighbors ({n_neighbors}) must be >= 1 and less than n_samples / 2 ({n / 2:g})")
    return float(_C._trustworthiness(a, e, int(n_neighbors)))
