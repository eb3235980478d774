"""Metrics on token vectors: geometry, all-pairs similarity, statistics, softmax.

Everything here runs in tokgeo's C core on the arrays you pass, read through their strides
(C or Fortran order, slices, transposes, negative strides and broadcast views cost no copy),
with the GIL released.  Long all-pairs runs stop on Ctrl-C.

Input conversion rule (one rule for every function):

* float32 and float64 arrays in native byte order, aligned, whose byte strides are multiples
  of the item size, are read in place;
* byte-swapped or unaligned float32/float64 arrays are copied to native order (same dtype);
* integer, unsigned, bool, float16 and longdouble inputs (and Python lists) are converted to
  float64;
* two inputs of different float dtypes (float32 with float64) are both read as float64, which
  copies the float32 one (the statistics read each sample in its own dtype, no copy);
* complex, object, string, datetime and structured arrays raise :class:`InvalidTypeError`.

Results are float64 (sums accumulate in double) unless a ``dtype=`` argument says otherwise.
The one exception is documented on the all-pairs routines: float32 inputs are multiplied
with BLIS ``sgemm`` (float32 products and sums, relative error ~1e-6), which is what makes
the 50,257 x 50,257 similarity of GPT-2's embedding matrix fast.

Edge cases (chosen to match NumPy / scipy where they define a result):

* paired geometry needs at least one dimension (0-d inputs raise
  :class:`InvalidInputError`); vectors of length 0 have norm 0, distance 0 and a NaN
  cosine/angle (zero vectors); an empty batch gives an empty result;
* trajectories with L steps give L - 1 step lengths/angles and L drift/cumulative values;
  L = 0 gives empty results;
* all-pairs routines on empty sets give empty results (histogram: all counts 0);
* t-tests follow scipy.stats: an empty sample gives NaN (statistic, p-value and df) with
  :class:`SmallSampleWarning`; n = 1 gives NaN statistics via 0/0 exactly as scipy; zero
  variance gives t = +-inf (p = 0) or NaN; an empty batch of tests gives empty arrays;
* Pearson needs n >= 2 along the axis (else :class:`InvalidInputError`, as scipy);
  n = 2 gives r = +-1, p = 1.  Spearman with n < 2 gives NaN; n = 2 gives rho = +-1 with
  p NaN (as scipy);
* softmax of a 0-d value is 1.0; of an empty axis is empty; entropy of an empty axis is 0.

Warnings are tokgeo's own subclasses of :class:`RuntimeWarning`:
:class:`ZeroVectorWarning` (a cosine/angle with a zero vector is NaN),
:class:`ConstantInputWarning` (a constant sample: correlation NaN, t statistic inf/NaN),
:class:`SmallSampleWarning` (too few observations: NaN results).
"""

from __future__ import annotations

import math
import operator
import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Literal, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import _C
from .errors import InvalidInputError, InvalidTypeError, MemoryBudgetError

__all__ = [
    "pca",
    "PCAResult",
    "tsne",
    "choose_tsne_method",
    "choose_tsne_neighbors",
    "TSNEResult",
    "trustworthiness",
    "cosine_similarity",
    "cosine_similarity_matrix",
    "angle",
    "euclidean",
    "norm",
    "path_length",
    "cumulative_path_length",
    "drift",
    "consecutive_angles",
    "top_k_similar",
    "similarity_histogram",
    "pearson",
    "spearman",
    "ttest_ind",
    "ttest_rel",
    "ttest_1samp",
    "TTestResult",
    "CorrelationResult",
    "t_cdf",
    "t_ppf",
    "softmax",
    "log_softmax",
    "entropy",
    "MetricsWarning",
    "ZeroVectorWarning",
    "ConstantInputWarning",
    "SmallSampleWarning",
]

Alternative = Literal["two-sided", "less", "greater"]
NanPolicy = Literal["propagate", "omit", "raise"]
FloatOrArray = Union[np.float64, NDArray[np.float64]]


class MetricsWarning(RuntimeWarning):
    """Base class of the warnings raised by :mod:`tokgeo.metrics`."""


class ZeroVectorWarning(MetricsWarning):
    """A cosine or angle involved a zero vector; that result is NaN."""


class ConstantInputWarning(MetricsWarning):
    """A sample was constant: its correlation is NaN, its t statistic inf or NaN."""


class SmallSampleWarning(MetricsWarning):
    """A test had too few observations; its results are NaN."""


# ---------------------------------------------------------------------------------------
# input handling

_ROW_DOT, _ROW_COS, _ROW_ANGLE, _ROW_EUCLID, _ROW_NORM = range(5)
_ALT = {"two-sided": 0, "less": 1, "greater": 2}


def _as_float(x: ArrayLike, name: str) -> NDArray[np.floating[Any]]:
    """Applies the module's conversion rule (see the module docstring)."""
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind == "f" and arr.dtype.itemsize in (4, 8):
        bad_strides = any(s % arr.dtype.itemsize for s in arr.strides)
        if not arr.dtype.isnative or not arr.flags.aligned or bad_strides:
            arr = np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C", copy=True)  # fresh: aligned
        return arr
    if kind in "biuf":
        return np.asarray(arr, dtype=np.float64)
    what = {"c": "complex", "O": "object", "U": "string", "S": "bytes", "M": "datetime", "m": "timedelta"}.get(
        kind, f"'{arr.dtype}'"
    )
    raise InvalidTypeError(
        f"{name} has {what} dtype; tokgeo.metrics works on real numbers. "
        f"Pass a float array, e.g. numpy.asarray({name}, dtype=numpy.float64)"
        + (" (or its .real / abs() part)" if kind == "c" else "")
    )


def _common(a: NDArray[Any], b: NDArray[Any]) -> Tuple[NDArray[Any], NDArray[Any]]:
    """Same dtype for both: float32 only when both are float32 (else float64, a copy)."""
    if a.dtype != b.dtype:
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
    return a, b


def _axis(axis: Any, ndim: int, name: str = "axis") -> int:
    try:
        ax = operator.index(axis)
    except TypeError:
        raise InvalidTypeError(f"{name} must be an integer, got {axis!r}") from None
    if not -ndim <= ax < ndim:
        raise InvalidInputError(f"{name}={ax} is out of range for an array with {ndim} dimension(s)")
    return ax % ndim


def _scalar_or_array(out: NDArray[np.float64]) -> FloatOrArray:
    if out.ndim == 0:
        return np.float64(out[()])
    return out


def _paired(a: ArrayLike, b: ArrayLike, axis: int) -> Tuple[NDArray[Any], NDArray[Any]]:
    """Broadcasts a and b (views) and moves the vector axis last."""
    a_, b_ = _common(_as_float(a, "a"), _as_float(b, "b"))
    try:
        a_, b_ = np.broadcast_arrays(a_, b_)
    except ValueError:
        raise InvalidInputError(
            f"a with shape {np.shape(a_)} and b with shape {np.shape(b_)} cannot be broadcast together"
        ) from None
    if a_.ndim == 0:
        raise InvalidInputError("vectors need at least one dimension; got 0-d inputs")
    ax = _axis(axis, a_.ndim)
    return np.moveaxis(a_, ax, -1), np.moveaxis(b_, ax, -1)


def _warn_zero(n_zero: int, what: str) -> None:
    if n_zero:
        warnings.warn(
            f"{n_zero} {what} involved a zero vector; the result is NaN there "
            "(a zero vector has no direction)",
            ZeroVectorWarning,
            stacklevel=3,
        )


# ---------------------------------------------------------------------------------------
# geometry


def cosine_similarity(a: ArrayLike, b: ArrayLike, axis: int = -1) -> FloatOrArray:
    """Cosine similarity of paired vectors along ``axis``.

    ``a`` and ``b`` broadcast like NumPy arrays (``a[..., d]`` against ``b[d]`` compares
    every vector of ``a`` with ``b``); the result drops ``axis``.  Computed in double as
    ``a.b / (|a| |b|)`` and clamped into [-1, 1].  A pair with a zero vector gives NaN and a
    :class:`ZeroVectorWarning` (scipy's ``cosine`` is undefined there too; sklearn returns 0).

    Returns a float64 array, or a NumPy float64 scalar for one pair.
    """
    x, y = _paired(a, b, axis)
    out, nz = _C._rowwise(_ROW_COS, x, y)
    _warn_zero(nz, "cosine(s)")
    return _scalar_or_array(out)


def angle(a: ArrayLike, b: ArrayLike, axis: int = -1, degrees: bool = True) -> FloatOrArray:
    """Angle between paired vectors along ``axis``: ``arccos`` of the clamped cosine.

    In degrees (default) or radians.  The cosine is clamped into [-1, 1] first, so rounding
    never produces NaN for (anti)parallel vectors.  Being an arccos of a double-precision
    cosine, angles within ~1e-6 degrees of 0 or 180 are at the rounding floor.  Zero vectors give NaN and a
    :class:`ZeroVectorWarning`.  Shapes as :func:`cosine_similarity`.
    """
    x, y = _paired(a, b, axis)
    out, nz = _C._rowwise(_ROW_ANGLE, x, y)
    _warn_zero(nz, "angle(s)")
    if degrees:
        np.degrees(out, out=out)
    return _scalar_or_array(out)


def euclidean(a: ArrayLike, b: ArrayLike, axis: int = -1) -> FloatOrArray:
    """Euclidean distance ``|a - b|`` between paired vectors along ``axis`` (float64)."""
    x, y = _paired(a, b, axis)
    out, _ = _C._rowwise(_ROW_EUCLID, x, y)
    return _scalar_or_array(out)


def norm(x: ArrayLike, axis: int = -1) -> FloatOrArray:
    """Euclidean norm of the vectors along ``axis`` (float64; no overflow scaling)."""
    v = _as_float(x, "x")
    if v.ndim == 0:
        raise InvalidInputError("vectors need at least one dimension; got a 0-d input")
    v = np.moveaxis(v, _axis(axis, v.ndim), -1)
    out, _ = _C._rowwise(_ROW_NORM, v, None)
    return _scalar_or_array(out)


def _trajectory(x: ArrayLike, axis: int, vector_axis: int) -> Tuple[NDArray[Any], int, int]:
    v = _as_float(x, "x")
    if v.ndim < 2:
        raise InvalidInputError(
            f"x must have a step axis and a vector axis (at least 2 dimensions), got shape {v.shape}"
        )
    ax = _axis(axis, v.ndim)
    vax = _axis(vector_axis, v.ndim, "vector_axis")
    if ax == vax:
        raise InvalidInputError(f"axis and vector_axis must differ (both are {ax})")
    return v, ax, vax


def _step_slices(ndim: int, ax: int) -> Tuple[Tuple[slice, ...], Tuple[slice, ...]]:
    later = [slice(None)] * ndim
    earlier = [slice(None)] * ndim
    later[ax] = slice(1, None)
    earlier[ax] = slice(None, -1)
    return tuple(later), tuple(earlier)


def _out_axis(ax: int, vax: int) -> int:
    return ax - 1 if vax < ax else ax


def path_length(x: ArrayLike, axis: int = 0, vector_axis: int = -1) -> NDArray[np.float64]:
    """Lengths of the steps of a trajectory: ``|x[l] - x[l-1]|`` for l = 1..L-1.

    ``x`` holds vectors along ``vector_axis`` at L steps (e.g. layers) along ``axis``, e.g.
    ``[L, B, T, d]``.  The result drops ``vector_axis`` and has L - 1 entries along ``axis``
    (L == 0 gives 0 entries): e.g. ``[L-1, B, T]``.  Sum it along ``axis`` for the total
    path length; see :func:`cumulative_path_length`.
    """
    v, ax, vax = _trajectory(x, axis, vector_axis)
    later, earlier = _step_slices(v.ndim, ax)
    a, b = np.moveaxis(v[later], vax, -1), np.moveaxis(v[earlier], vax, -1)
    out, _ = _C._rowwise(_ROW_EUCLID, a, b)
    return out


def cumulative_path_length(x: ArrayLike, axis: int = 0, vector_axis: int = -1) -> NDArray[np.float64]:
    """Distance travelled up to each step: 0 at step 0, then the running sum of
    :func:`path_length`.  Same shape as :func:`path_length` but with L entries along
    ``axis`` (the last one is the total path length)."""
    v, ax, vax = _trajectory(x, axis, vector_axis)
    steps = path_length(v, ax, vax)
    oax = _out_axis(ax, vax)
    if v.shape[ax] == 0:
        return steps
    zero_shape = list(steps.shape)
    zero_shape[oax] = 1
    return np.concatenate([np.zeros(zero_shape), np.cumsum(steps, axis=oax)], axis=oax)


def drift(x: ArrayLike, axis: int = 0, vector_axis: int = -1) -> NDArray[np.float64]:
    """Displacement from the first step: ``|x[l] - x[0]|`` for l = 0..L-1.

    Unlike :func:`path_length` (the length of each step, whose sum is the distance
    travelled), drift is the straight-line distance from where the trajectory started, so
    ``drift[l] <= cumulative_path_length[l]``.  Shape: ``x`` without ``vector_axis``
    (L entries along ``axis``, the first one 0).
    """
    v, ax, vax = _trajectory(x, axis, vector_axis)
    first = [slice(None)] * v.ndim
    first[ax] = slice(0, 1)
    if v.shape[ax] == 0:
        out_shape = tuple(s for i, s in enumerate(v.shape) if i != vax)
        return np.zeros(out_shape)
    a, b = np.broadcast_arrays(v, v[tuple(first)])
    out, _ = _C._rowwise(_ROW_EUCLID, np.moveaxis(a, vax, -1), np.moveaxis(b, vax, -1))
    return out


def consecutive_angles(
    x: ArrayLike, axis: int = 0, vector_axis: int = -1, degrees: bool = True
) -> NDArray[np.float64]:
    """Rotation between consecutive steps: the angle between ``x[l]`` and ``x[l-1]``,
    l = 1..L-1 (degrees by default).  Shape as :func:`path_length`.  Zero vectors give NaN
    and a :class:`ZeroVectorWarning`."""
    v, ax, vax = _trajectory(x, axis, vector_axis)
    later, earlier = _step_slices(v.ndim, ax)
    out, nz = _C._rowwise(_ROW_ANGLE, np.moveaxis(v[later], vax, -1), np.moveaxis(v[earlier], vax, -1))
    _warn_zero(nz, "angle(s)")
    if degrees:
        np.degrees(out, out=out)
    return out


# ---------------------------------------------------------------------------------------
# all pairs


def _pair_sets(a: ArrayLike, b: Optional[ArrayLike]) -> Tuple[NDArray[Any], Optional[NDArray[Any]]]:
    same = b is None or b is a
    x = _as_float(a, "a")
    if x.ndim != 2:
        raise InvalidInputError(f"a must be a 2-D array [n, d] of n vectors, got shape {x.shape}")
    if same or b is None:
        return x, None
    y = _as_float(b, "b")
    if y.ndim != 2:
        raise InvalidInputError(f"b must be a 2-D array [m, d] of m vectors, got shape {y.shape}")
    if x.shape[1] != y.shape[1]:
        raise InvalidInputError(f"a has vectors of length {x.shape[1]} but b of length {y.shape[1]}")
    x, y = _common(x, y)
    return x, y


def cosine_similarity_matrix(
    a: ArrayLike,
    b: Optional[ArrayLike] = None,
    dtype: Optional[DTypeLike] = None,
    max_bytes: Optional[int] = 4 << 30,
) -> NDArray[np.floating[Any]]:
    """All-pairs cosine similarity between the rows of ``a`` [n, d] and ``b`` [m, d]
    (``b=None``: ``a`` with itself) -> [n, m].

    Products run through BLIS gemm in blocks (float32 inputs: ``sgemm``, float32 accuracy).
    Values are clamped into [-1, 1]; rows with zero norm give NaN and a
    :class:`ZeroVectorWarning` (sklearn gives 0 there).  ``dtype``: float32 or float64;
    default float32 for float32 inputs (like sklearn), else float64.  The result needs
    n * m * itemsize bytes, refused with :class:`MemoryBudgetError` above ``max_bytes``
    (default 4 GiB; ``None`` lifts the limit): the GPT-2 vocabulary against itself would be
    10 GB.  For big sets use :func:`top_k_similar` or :func:`similarity_histogram`, which
    stream the blocks instead.  With ``b=None`` (or ``b is a``) only the upper triangle is
    multiplied and mirrored.
    """
    x, y = _pair_sets(a, b)
    odt = np.dtype(dtype) if dtype is not None else x.dtype
    if odt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InvalidTypeError(f"dtype must be float32 or float64, got {odt}")
    m = x.shape[0] if y is None else y.shape[0]
    need = x.shape[0] * m * odt.itemsize
    if max_bytes is not None and need > max_bytes:
        raise MemoryBudgetError(
            f"the {x.shape[0]} x {m} similarity matrix needs {need / 2**30:.1f} GiB (max_bytes is "
            f"{max_bytes / 2**30:.1f} GiB); use top_k_similar() or similarity_histogram(), which "
            "stream it, or pass max_bytes=None to allocate it anyway"
        )
    out, nz = _C._cosine_matrix(x, y, odt == np.float32)
    _warn_zero(nz, "row(s)")
    return out


def top_k_similar(
    a: ArrayLike, b: Optional[ArrayLike] = None, k: int = 10, exclude_self: bool = True
) -> Tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The ``k`` rows of ``b`` most cosine-similar to each row of ``a``.

    ``a`` [n, d], ``b`` [m, d] (``None``, or ``a`` itself: the set against itself; then
    ``exclude_self`` drops each row's own index).  Returns ``(indices, values)``, both [n, k], each row sorted by similarity
    descending, ties by index ascending; values are float64 (computed as in
    :func:`cosine_similarity_matrix`).  Streams blocks through BLIS, never holding the
    [n, m] matrix: the 50,257 x 768 GPT-2 embedding against itself takes ~8 MB of blocks.
    With ``b=None`` only the upper triangle is multiplied (each pair feeds both rows), which
    halves the work; pass ``b=a.copy()`` only if you want the two sides computed separately.  Rows with
    zero norm have no similarities: their slots hold index -1 and value NaN (with a
    :class:`ZeroVectorWarning`); rows containing NaN or inf likewise have only NaN
    similarities, which are never selected.  Ctrl-C stops it.
    """
    x, y = _pair_sets(a, b)
    try:
        kk = operator.index(k)
    except TypeError:
        raise InvalidTypeError(f"k must be an integer, got {k!r}") from None
    m = x.shape[0] if y is None else y.shape[0]
    candidates = m - (1 if (y is None and exclude_self) else 0)
    if kk < 0 or kk > max(candidates, 0):
        raise InvalidInputError(f"k={kk} but each row has {max(candidates, 0)} candidate(s); pass 0 <= k <= {max(candidates, 0)}")
    idx, val, nz = _C._top_k(x, y, kk, bool(exclude_self))
    _warn_zero(nz, "row(s)")
    return idx, val


def similarity_histogram(
    a: ArrayLike,
    b: Optional[ArrayLike] = None,
    bins: Union[int, ArrayLike] = 100,
    range: Tuple[float, float] = (-1.0, 1.0),
    exclude_diagonal: bool = True,
) -> Tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Histogram of all-pairs cosine similarities, streamed (no [n, m] matrix).

    Same bins as ``numpy.histogram(values, bins, range)``: with an integer ``bins`` the edges
    are ``numpy.linspace(*range, bins + 1)``; a sequence gives the edges directly (``range``
    is then ignored).  Bins are half-open ``[e_i, e_i+1)`` except the last, which includes
    its right edge; values outside the range and NaN (zero vectors) are not counted.
    ``b=None`` counts each unordered pair of rows of ``a`` once (i < j; ``i <= j`` when
    ``exclude_diagonal=False``), i.e. the upper triangle of the similarity matrix; with
    ``b`` every (i, j).  Returns ``(counts int64 [bins], edges float64 [bins + 1])``.
    """
    x, y = _pair_sets(a, b)
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        nb = int(bins)
        if nb < 1:
            raise InvalidInputError(f"bins must be >= 1, got {nb}")
        try:
            lo, hi = float(range[0]), float(range[1])
        except (TypeError, ValueError, IndexError):
            raise InvalidInputError(f"range must be a pair of numbers (lo, hi), got {range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
            raise InvalidInputError(f"range must be finite with lo < hi, got {range!r}")
        edges = np.linspace(lo, hi, nb + 1)
        uniform = True
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2:
            raise InvalidInputError("bins must be an integer or a 1-D sequence of at least 2 edges")
        if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) < 0) or not edges[-1] > edges[0]:
            raise InvalidInputError("bin edges must be finite and increasing")
        edges = np.ascontiguousarray(edges)
        uniform = False
    counts, nz = _C._histogram(x, y, edges, uniform, bool(exclude_diagonal))
    _warn_zero(nz, "row(s)")
    return counts, edges


# ---------------------------------------------------------------------------------------
# statistics


class _UnpacksAsStatisticPvalue:
    """Makes a result unpack like scipy's: ``stat, p = result`` (also ``result[0]``)."""

    statistic: Any
    pvalue: Any

    def __iter__(self) -> Iterator[Any]:
        return iter((self.statistic, self.pvalue))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> Any:
        return (self.statistic, self.pvalue)[i]


@dataclass(frozen=True)
class TTestResult(_UnpacksAsStatisticPvalue):
    """Result of :func:`ttest_ind`, :func:`ttest_rel`, :func:`ttest_1samp`.

    ``statistic`` (t), ``pvalue``, ``df`` (degrees of freedom; Welch's are fractional) and
    ``cohen_d`` (effect size; see each test for its formula).  Unpacks like scipy's result:
    ``t, p = ttest_ind(a, b)``.  Scalars for a single test, arrays for many.
    """

    statistic: Any
    pvalue: Any
    df: Any
    cohen_d: Any


@dataclass(frozen=True)
class CorrelationResult(_UnpacksAsStatisticPvalue):
    """Result of :func:`pearson` / :func:`spearman`: ``statistic`` (r or rho) and ``pvalue``;
    unpacks as ``r, p = pearson(x, y)``."""

    statistic: Any
    pvalue: Any


def _check_policy(nan_policy: str, alternative: str) -> int:
    if nan_policy not in ("propagate", "omit", "raise"):
        raise InvalidInputError(f"nan_policy must be 'propagate', 'omit' or 'raise', got {nan_policy!r}")
    if alternative not in _ALT:
        raise InvalidInputError(f"alternative must be 'two-sided', 'less' or 'greater', got {alternative!r}")
    return _ALT[alternative]


def _samples(
    arrays: Sequence[ArrayLike], axis: Optional[int], nan_policy: str, paired: bool
) -> Tuple[NDArray[Any], ...]:
    """scipy's axis convention: ravel for axis=None, else left-pad dimensions, move the
    sample axis last and broadcast the other axes (views, no copy)."""
    xs = [_as_float(v, n) for v, n in zip(arrays, ("a", "b"))]
    if axis is None:
        xs = [v.reshape(-1) for v in xs]
        ax = 0
    else:
        nd = max(max(v.ndim for v in xs), 1)
        xs = [v.reshape((1,) * (nd - v.ndim) + v.shape) for v in xs]
        ax = _axis(axis, nd)
    xs = [np.moveaxis(v, ax, -1) for v in xs]
    try:
        outer = np.broadcast_shapes(*(v.shape[:-1] for v in xs))
    except ValueError:
        raise InvalidInputError(
            "the samples' shapes (apart from the sample axis) cannot be broadcast together: "
            + ", ".join(str(v.shape) for v in xs)
        ) from None
    if paired and len(xs) == 2 and xs[0].shape[-1] != xs[1].shape[-1]:
        raise InvalidInputError(
            f"paired samples must have the same length along axis, got {xs[0].shape[-1]} and {xs[1].shape[-1]}"
        )
    xs = [np.broadcast_to(v, outer + v.shape[-1:]) for v in xs]
    if nan_policy == "raise" and any(np.isnan(v).any() for v in xs):
        raise InvalidInputError("The input contains NaN values; drop them or pass nan_policy='omit'")
    return tuple(xs)


def _stat_warnings(flags: NDArray[np.uint8], constant_msg: str) -> None:
    if flags.size == 0:
        return
    any_flags = np.bitwise_or.reduce(flags, axis=None)
    if any_flags & 1:
        warnings.warn(constant_msg, ConstantInputWarning, stacklevel=4)
    if any_flags & 2:
        warnings.warn(
            "one or more tests had too few observations; their results are NaN",
            SmallSampleWarning,
            stacklevel=4,  # user -> public function -> _ttest_result/_corr -> here
        )


def _ttest_result(res: Tuple[NDArray[Any], ...]) -> TTestResult:
    t, p, df, d, flags = res
    _stat_warnings(flags, "a sample has zero variance (all values equal): the t statistic is +-inf or NaN")
    return TTestResult(_scalar_or_array(t), _scalar_or_array(p), _scalar_or_array(df), _scalar_or_array(d))


def ttest_ind(
    a: ArrayLike,
    b: ArrayLike,
    *,
    axis: Optional[int] = 0,
    equal_var: bool = True,
    nan_policy: NanPolicy = "propagate",
    alternative: Alternative = "two-sided",
) -> TTestResult:
    """Two-sample t-test (Student's with ``equal_var=True``, Welch's otherwise).

    Matches ``scipy.stats.ttest_ind`` (statistic, p-value, df) including its axis,
    broadcasting and ``nan_policy`` conventions; one call tests every slice, e.g. samples
    ``[48 layers, 54]`` with ``axis=1``.  ``cohen_d``: mean difference over the pooled SD
    ``sqrt(((n1-1) v1 + (n2-1) v2) / (n1+n2-2))`` (Student) or over ``sqrt((v1 + v2) / 2)``
    (Welch), variances with ddof = 1.  Zero variance gives t = +-inf or NaN (with a
    :class:`ConstantInputWarning`); empty samples NaN (:class:`SmallSampleWarning`).
    """
    alt = _check_policy(nan_policy, alternative)
    x, y = _samples((a, b), axis, nan_policy, paired=False)
    return _ttest_result(_C._ttest_ind(x, y, bool(equal_var), alt, nan_policy == "omit"))


def ttest_rel(
    a: ArrayLike,
    b: ArrayLike,
    *,
    axis: Optional[int] = 0,
    nan_policy: NanPolicy = "propagate",
    alternative: Alternative = "two-sided",
) -> TTestResult:
    """Paired t-test on ``a - b`` (``scipy.stats.ttest_rel``); ``omit`` drops a pair when
    either value is NaN.  ``cohen_d`` is d_z = mean(a - b) / sd(a - b) (ddof = 1)."""
    alt = _check_policy(nan_policy, alternative)
    x, y = _samples((a, b), axis, nan_policy, paired=True)
    return _ttest_result(_C._ttest_rel(x, y, alt, nan_policy == "omit"))


def ttest_1samp(
    a: ArrayLike,
    popmean: ArrayLike,
    *,
    axis: Optional[int] = 0,
    nan_policy: NanPolicy = "propagate",
    alternative: Alternative = "two-sided",
) -> TTestResult:
    """One-sample t-test of mean(a) against ``popmean`` (``scipy.stats.ttest_1samp``).

    ``popmean`` is a number or an array broadcastable to the result shape (an array with
    the full rank of ``a`` must have length 1 along ``axis``).  ``cohen_d`` is
    (mean - popmean) / sd (ddof = 1)."""
    alt = _check_policy(nan_policy, alternative)
    (x,) = _samples((a,), axis, nan_policy, paired=False)
    pm = _as_float(popmean, "popmean")
    if axis is not None and pm.ndim == np.ndim(a) and pm.ndim > 0:
        ax = _axis(axis, pm.ndim)
        if pm.shape[ax] != 1:
            raise InvalidInputError("popmean.shape[axis] must be 1")
        pm = np.squeeze(pm, axis=ax)
    try:
        outer = np.broadcast_shapes(x.shape[:-1], pm.shape)
    except ValueError:
        raise InvalidInputError(f"popmean with shape {pm.shape} does not broadcast to {x.shape[:-1]}") from None
    x = np.broadcast_to(x, outer + x.shape[-1:])
    pmc = np.ascontiguousarray(np.broadcast_to(pm, outer), dtype=np.float64)
    if nan_policy == "raise" and np.isnan(pmc).any():
        raise InvalidInputError("popmean contains NaN")
    return _ttest_result(_C._ttest_1samp(x, pmc, alt, nan_policy == "omit"))


def _t_args(x: ArrayLike, df: ArrayLike, xname: str) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Broadcasts (x, df) to flat contiguous float64 arrays (shape restored by the caller)."""
    xa, da = _as_float(x, xname), _as_float(df, "df")
    try:
        xb, db = np.broadcast_arrays(xa, da)
    except ValueError:
        raise InvalidInputError(f"{xname} with shape {xa.shape} and df with shape {da.shape} do not broadcast") from None
    return xb.astype(np.float64, order="C"), db.astype(np.float64, order="C")  # 0-d stays 0-d


def t_cdf(t: ArrayLike, df: ArrayLike) -> FloatOrArray:
    """Student t cumulative distribution P(T <= t) (``scipy.stats.t.cdf(t, df)``).

    ``t`` and ``df`` broadcast together; the result has their broadcast shape (a float for
    scalars).  ``df`` > 0 degrees of freedom (``inf`` gives the standard normal); NaN for
    ``df`` <= 0 or NaN inputs.  Relative error below 1e-12 for df in [0.1, 1e6]
    (incomplete beta function in C)."""
    x, d = _t_args(t, df, "t")
    out = _C._special(2, d.ravel(), d.ravel(), x.ravel()).reshape(x.shape)
    return _scalar_or_array(out)


def t_ppf(q: ArrayLike, df: ArrayLike) -> FloatOrArray:
    """Student t quantile: the t with ``t_cdf(t, df) == q`` (``scipy.stats.t.ppf(q, df)``).

    ``q`` (probabilities) and ``df`` broadcast together; the result has their broadcast shape
    (a float for scalars).  -inf / +inf for q = 0 / 1, 0 for q = 0.5, NaN for q outside
    [0, 1], ``df`` <= 0 or NaN inputs; ``df = inf`` gives the normal quantile.  Solved in C by
    safeguarded Newton on the incomplete-beta CDF: ~1e-13 relative for df in [1, 1e6] and
    q in [1e-12, 1 - 1e-12], also next to q = 0.5 where scipy loses digits.  ``df`` = 1
    (Cauchy) and 2 use their closed forms, exact for any ``q`` (``t_ppf(1e-300, 1)`` =
    -3.18e299).  The far tails (``|t|`` above ~1e15 sqrt(df), where ``t**2`` would leave
    the double range) use the tail's leading term, exact there: any ``df`` > 0 and ``q`` down
    to 1e-300 agree with 50-digit mpmath to 1e-10 (``t_ppf(1e-100, 0.5)`` = -1.03e199; a
    quantile beyond 1.8e308 is -inf/+inf).  ``scipy.stats.t.ppf`` saturates near 1e153
    there (and is off already at ``t_ppf(1e-200, 3.5)`` = -1.64e57, scipy -9.1e56).
    Example: the 95% two-sided critical value with 10 df is ``t_ppf(0.975, 10)`` (2.228...)."""
    x, d = _t_args(q, df, "q")
    out = _C._special(3, d.ravel(), d.ravel(), x.ravel()).reshape(x.shape)
    return _scalar_or_array(out)


def _corr(method: int, x: ArrayLike, y: ArrayLike, axis: Optional[int], nan_policy: str, alternative: str) -> CorrelationResult:
    alt = _check_policy(nan_policy, alternative)
    u, v = _samples((x, y), axis, nan_policy, paired=True)
    if method == 0 and u.shape[-1] < 2:
        raise InvalidInputError("x and y must have length at least 2 along axis")
    r, p, flags = _C._corr(method, u, v, alt, nan_policy == "omit")
    _stat_warnings(flags, "an input is constant: its correlation coefficient is not defined (NaN)")
    return CorrelationResult(_scalar_or_array(r), _scalar_or_array(p))


def pearson(
    x: ArrayLike,
    y: ArrayLike,
    *,
    axis: Optional[int] = 0,
    nan_policy: NanPolicy = "propagate",
    alternative: Alternative = "two-sided",
) -> CorrelationResult:
    """Pearson correlation of paired samples along ``axis`` with its p-value.

    Matches ``scipy.stats.pearsonr``: the p-value uses the exact beta distribution of r
    under independence (normal data); n == 2 gives r = +-1 and p = 1; a constant input
    gives NaN with a :class:`ConstantInputWarning`.  Vectorised like scipy (other axes
    broadcast).  ``nan_policy='omit'`` drops pairs containing NaN (scipy's pearsonr has no
    nan_policy; this equals pearsonr on the remaining pairs)."""
    return _corr(0, x, y, axis, nan_policy, alternative)


def spearman(
    x: ArrayLike,
    y: ArrayLike,
    *,
    axis: Optional[int] = 0,
    nan_policy: NanPolicy = "propagate",
    alternative: Alternative = "two-sided",
) -> CorrelationResult:
    """Spearman rank correlation (average ranks for ties) with the t-distribution p-value of
    ``scipy.stats.spearmanr`` (n - 2 degrees of freedom).  Unlike scipy's spearmanr (which
    builds a correlation matrix for 2-D input), this pairs ``x`` and ``y`` slice by slice
    along ``axis`` like :func:`pearson`.  Fewer than 2 observations give NaN
    (:class:`SmallSampleWarning`); n == 2 gives rho = +-1 with p NaN, as scipy."""
    return _corr(1, x, y, axis, nan_policy, alternative)


# ---------------------------------------------------------------------------------------
# softmax family


def _softmax_input(x: ArrayLike, axis: int) -> Tuple[NDArray[Any], int]:
    v = _as_float(x, "x")
    if v.ndim == 0:
        return v, 0
    ax = _axis(axis, v.ndim)
    return np.moveaxis(v, ax, -1), ax


def _out_dtype(dtype: Optional[DTypeLike]) -> bool:
    if dtype is None:
        return False
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InvalidTypeError(f"dtype must be float32 or float64, got {dt}")
    return dt == np.float32


def softmax(x: ArrayLike, axis: int = -1, dtype: Optional[DTypeLike] = None) -> NDArray[np.floating[Any]]:
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``, computed in double.

    Same shape as ``x``; float64 unless ``dtype=numpy.float32``.  Rows holding NaN or
    +inf, or only -inf, give NaN (``scipy.special.softmax`` does the same)."""
    v, ax = _softmax_input(x, axis)
    out = _C._softmax(0, v, _out_dtype(dtype), 1.0)
    return out if out.ndim == 0 else np.moveaxis(out, -1, ax)


def log_softmax(x: ArrayLike, axis: int = -1, dtype: Optional[DTypeLike] = None) -> NDArray[np.floating[Any]]:
    """``x - max - log(sum(exp(x - max)))`` along ``axis`` (stable log-probabilities)."""
    v, ax = _softmax_input(x, axis)
    out = _C._softmax(1, v, _out_dtype(dtype), 1.0)
    return out if out.ndim == 0 else np.moveaxis(out, -1, ax)


def entropy(logits: ArrayLike, axis: int = -1, base: Optional[float] = None) -> FloatOrArray:
    """Entropy of ``softmax(logits)`` along ``axis``: nats, or units of ``log(base)``.

    Computed from the logits as ``log(sum e) - sum(e * z) / sum(e)`` with ``z = x - max``,
    so probabilities that underflow to 0 contribute exactly 0.  Equals
    ``scipy.stats.entropy(scipy.special.softmax(logits, axis), axis=axis, base=base)``.
    """
    v, _ = _softmax_input(logits, axis)
    lb = 1.0
    if base is not None:
        b = float(base)
        if not (b > 0 and b != 1 and math.isfinite(b)):
            raise InvalidInputError(f"base must be positive, finite and != 1, got {base!r}")
        lb = math.log(b)
    return _scalar_or_array(_C._softmax(2, v, False, lb))


# ---------------------------------------------------------------------------------------
# PCA and t-SNE are implemented in tokgeo/_reduce.py (C: csrc/reduce/pca.c, csrc/reduce/tsne.c) and offered here.
from ._reduce import (  # noqa: E402
    PCAResult,
    TSNEResult,
    choose_tsne_method,
    choose_tsne_neighbors,
    pca,
    trustworthiness,
    tsne,
)

from ._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
