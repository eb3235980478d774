"""Figures for the lessons, drawn with the user's own matplotlib.

Every function draws into the ``ax`` it is given (a matplotlib Axes), or into a new figure
when ``ax`` is None, and returns the :class:`matplotlib.figure.Figure`.  Nothing here calls
``show()``, changes ``rcParams`` or selects a style or a backend, so your settings win and
the functions work headless (``MPLBACKEND=Agg``).  matplotlib is imported only when a
function is called; without it they raise an ImportError that says how to install it.

In a notebook, ``result.plot(...)`` as a cell's last line shows the figure once: with the
inline backend the studies take their figures out of pyplot's figure manager (Jupyter would
otherwise show it at the end of the cell and again as the cell's value); an assigned figure
is shown by ``fig`` or ``display(fig)``.  The functions below leave their figures in pyplot.
"""

from __future__ import annotations

import math

from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "require_matplotlib",
    "new_axes",
    "subplots",
    "heatmap",
    "lines",
    "histograms",
    "scatter",
    "bars",
    "place_labels",
]


def require_matplotlib() -> Any:
    """Import and return ``matplotlib.pyplot``, or explain how to install matplotlib."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plotting needs matplotlib: pip install matplotlib (or pip install 'tokgeo[plot]')"
        ) from exc
    return plt


def new_axes(ax: Axes | None = None, figsize: tuple[float, float] = (6.4, 4.8)) -> Axes:
    """``ax`` itself, or the Axes of a new figure of the given size (inches)."""
    if ax is not None:
        return ax
    plt = require_matplotlib()
    new: Axes
    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def subplots(
    nrows: int, ncols: int, figsize: tuple[float, float] | None = None, **kw: Any
) -> tuple[Figure, np.ndarray]:
    """A new figure with a grid of Axes (always returned as a 2-D array)."""
    plt = require_matplotlib()
    if figsize is None:
        figsize = (4.2 * ncols, 3.4 * nrows)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=figsize, squeeze=False, layout="constrained", **kw
    )
    return fig, axes


def _finish(
    ax: Axes,
    title: str | None,
    xlabel: str | None,
    ylabel: str | None,
) -> Figure:
    if title:
        ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    return ax.figure  # type: ignore[return-value]


def heatmap(
    data: Any,
    *,
    ax: Axes | None = None,
    xlabels: Sequence[str] | None = None,
    ylabels: Sequence[str] | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
    colorbar_label: str | None = None,
) -> Figure:
    """A matrix as an image: ``data`` [rows, columns], one cell per entry.

    Row 0 is at the top.  ``xlabels``/``ylabels`` name the columns/rows (e.g. tokens).
    """
    m = np.asarray(data, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D array, got shape {m.shape}")
    ylen = max((len(str(y)) for y in ylabels), default=0) if ylabels is not None else 0
    xlen = max((len(str(x)) for x in xlabels), default=0) if xlabels is not None else 0
    size = (
        min(30.0, max(4.5, 0.3 * m.shape[1] + 2.8 + 0.075 * ylen)),
        min(30.0, max(3.5, 0.25 * m.shape[0] + 1.8 + 0.075 * xlen)),
    )
    a = new_axes(ax, figsize=size)
    im = a.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    from matplotlib.ticker import MaxNLocator

    if xlabels is not None:
        a.set_xticks(np.arange(m.shape[1]), labels=[str(x) for x in xlabels], rotation=90)
    else:
        a.xaxis.set_major_locator(MaxNLocator(integer=True))  # cells are indices
    if ylabels is not None:
        a.set_yticks(np.arange(m.shape[0]), labels=[str(y) for y in ylabels])
    else:
        a.yaxis.set_major_locator(MaxNLocator(integer=True))
    if colorbar:
        cb = a.figure.colorbar(im, ax=a)
        if colorbar_label:
            cb.set_label(colorbar_label)
    return _finish(a, title, xlabel, ylabel)


def lines(
    x: Any,
    series: Mapping[str, Any],
    *,
    bands: Mapping[str, tuple[Any, Any]] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    marker: str | None = "o",
    legend: bool = True,
) -> Figure:
    """One line per entry of ``series`` (label -> y [n]) over ``x`` [n].

    ``bands`` (label -> (low [n], high [n])) shades a band around the line of that label,
    e.g. a confidence interval.
    """
    a = new_axes(ax)
    xs = np.asarray(x)
    if np.issubdtype(xs.dtype, np.integer):  # layers, positions: whole-number ticks
        from matplotlib.ticker import MaxNLocator

        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    for label, y in series.items():
        (line,) = a.plot(xs, np.asarray(y), marker=marker, markersize=3, label=label)
        if bands and label in bands:
            lo, hi = bands[label]
            a.fill_between(xs, np.asarray(lo), np.asarray(hi), color=line.get_color(), alpha=0.25)
    if legend and len(series) > 1:
        a.legend()
    return _finish(a, title, xlabel, ylabel)


def histograms(
    series: Mapping[str, Any],
    *,
    bins: int | Sequence[float] = 40,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = "count",
    density: bool = False,
    legend: bool = True,
) -> Figure:
    """Overlaid histograms, one per entry of ``series`` (label -> values), shared bins."""
    a = new_axes(ax)
    arrays = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in series.items()}
    finite = [v[np.isfinite(v)] for v in arrays.values()]
    if isinstance(bins, int):
        allv = np.concatenate(finite) if finite else np.zeros(0)
        if allv.size:
            lo, hi = float(allv.min()), float(allv.max())
            if lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            edges: Any = np.linspace(lo, hi, bins + 1)
        else:
            edges = bins
    else:
        edges = bins
    for (label, v), fv in zip(arrays.items(), finite):
        a.hist(fv, bins=edges, alpha=0.55, label=label, density=density)
    if legend and len(series) > 1:
        a.legend()
    return _finish(a, title, xlabel, ylabel)


def scatter(
    x: Any,
    y: Any,
    *,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    diagonal: bool = False,
    s: float = 14.0,
    color: Any = None,
) -> Figure:
    """Points (x [n], y [n]); ``labels`` writes a text next to each point.

    ``diagonal`` draws the line y = x (useful when both axes share a unit).
    """
    a = new_axes(ax, figsize=(8.0, 6.5) if labels is not None else (6.4, 4.8))
    xs = np.asarray(x, dtype=np.float64).ravel()
    ys = np.asarray(y, dtype=np.float64).ravel()
    a.scatter(xs, ys, s=s, alpha=0.75, color=color)
    if labels is not None:
        place_labels(a, xs, ys, [str(v) for v in labels])
    if diagonal and xs.size:
        lo = float(min(np.nanmin(xs), np.nanmin(ys)))
        hi = float(max(np.nanmax(xs), np.nanmax(ys)))
        a.plot([lo, hi], [lo, hi], color="0.5", linewidth=0.8, linestyle="--")
    return _finish(a, title, xlabel, ylabel)


def _overlap(b1: Any, b2: Any, pad: float = 0.0) -> bool:
    return bool(b1.x0 < b2.x1 + pad and b2.x0 < b1.x1 + pad and b1.y0 < b2.y1 + pad and b2.y0 < b1.y1 + pad)


#: label offsets tried, in points: eight directions close to the point first, then sixteen
#: directions further out (those get a thin leader line back to their point)
_NEAR = tuple((dx * r, dy * r) for r in (2, 5, 9, 14) for dx, dy in
              ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)))
_FAR = tuple((r * math.cos(a), r * math.sin(a)) for r in (20, 28, 38, 50, 64, 80, 100, 125)
             for a in (2 * math.pi * k / 16 + math.pi / 16 for k in range(16)))
_LEADER = 17.0  # points: offsets at least this far are drawn with a leader line


def place_labels(ax: Axes, x: Any, y: Any, labels: Sequence[str], fontsize: float = 8.0,
                 drop_overlapping: bool = False) -> list[Any]:
    """Write ``labels[i]`` next to the point (x[i], y[i]) so that no two labels overlap.

    A greedy placement on the rendered text extents: each label tries offsets in eight
    directions close to its point, then sixteen directions further out (up to 125 points,
    with a thin leader line back to the point), and takes the first place that overlaps no
    label placed before it (with a one-pixel gap) and stays inside the axes.  A label that
    finds no free place at all is left out with ``drop_overlapping=True`` (for maps with
    hundreds of labels, where a few must give way; only the near places are tried then) and
    otherwise drawn at its least crowded place: the only case in which labels overlap.  The
    figure's layout is settled first and the labels are kept out of it, so their positions
    stay valid when saved.  Returns the Text objects drawn."""
    fig = ax.figure
    fig.canvas.draw()  # settle the (constrained) layout before measuring
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    box = ax.get_window_extent(renderer)
    px = fig.dpi / 72.0  # pixels per point
    cands = _NEAR if drop_overlapping else _NEAR + _FAR
    placed: list[Any] = []
    texts: list[Any] = []
    xy = ax.transData.transform(np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)]))
    for (xi, yi), (ax_x, ax_y), lab in zip(np.column_stack([np.asarray(x, dtype=np.float64),
                                                            np.asarray(y, dtype=np.float64)]), xy, labels):
        # the label's size once; each candidate's box follows by arithmetic
        probe = ax.text(0, 0, lab, fontsize=fontsize)
        ext = probe.get_window_extent(renderer)
        probe.remove()
        w, h = ext.width, ext.height
        best: tuple[int, float, float] | None = None
        for ox, oy in cands:
            cx, cy = ax_x + ox * px, ax_y + oy * px
            x0 = cx if ox > 0.5 else cx - w if ox < -0.5 else cx - w / 2
            y0 = cy if oy > 0.5 else cy - h if oy < -0.5 else cy - h / 2
            inside = x0 >= box.x0 and x0 + w <= box.x1 and y0 >= box.y0 and y0 + h <= box.y1
            bb = _Box(x0, y0, x0 + w, y0 + h)
            hits = sum(_overlap(bb, p, 1.0) for p in placed) + (0 if inside else 1)
            if best is None or hits < best[0]:
                best = (hits, ox, oy)
            if hits == 0:
                break
        assert best is not None  # cands is not empty
        hits, ox, oy = best
        if drop_overlapping and hits > 0:
            continue
        far = math.hypot(ox, oy) >= _LEADER
        t = ax.annotate(lab, (xi, yi), xytext=(ox, oy), textcoords="offset points", fontsize=fontsize,
                        ha="left" if ox > 0.5 else "right" if ox < -0.5 else "center",
                        va="bottom" if oy > 0.5 else "top" if oy < -0.5 else "center",
                        arrowprops=dict(arrowstyle="-", color="0.55", linewidth=0.5, shrinkA=0, shrinkB=2)
                        if far else None)
        t.set_in_layout(False)
        texts.append(t)
        placed.append(_text_box(t, renderer))
    return texts


def _text_box(t: Any, renderer: Any) -> Any:
    """The label's own box (an Annotation's extent also covers its leader line)."""
    from matplotlib.text import Text

    t.update_positions(renderer)  # an annotation's text is placed at draw time
    return Text.get_window_extent(t, renderer)


class _Box(NamedTuple):
    x0: float
    y0: float
    x1: float
    y1: float


def bars(
    labels: Sequence[str],
    values: Any,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    horizontal: bool = False,
) -> Figure:
    """One bar per label; ``horizontal`` puts the labels on the y axis (top first)."""
    a = new_axes(ax)
    v = np.asarray(values, dtype=np.float64).ravel()
    pos = np.arange(len(labels))
    names = [str(s) for s in labels]
    if horizontal:
        a.barh(pos, v)
        a.set_yticks(pos, labels=names)
        a.invert_yaxis()
    else:
        a.bar(pos, v)
        a.set_xticks(pos, labels=names, rotation=90)
    return _finish(a, title, xlabel, ylabel)
