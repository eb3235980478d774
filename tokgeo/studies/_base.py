"""What every study shares: provenance, the result object, and writing results to files."""

from __future__ import annotations

import csv
import importlib
import datetime as _dt
import io
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence, TypedDict

import numpy as np

from .._util import atomic_write
from .._version import __version__
from ..errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Provenance", "StudyResult"]

#: The two ways of reading the residual stream (see the studies' ``convention`` argument).
CONVENTIONS = ("hidden_states", "resid")
CONVENTION_TEXT = {
    "hidden_states": (
        "Hugging Face hidden_states, blocks numbered from 0: index 0 is the embedding (token + "
        "position), index l (1 <= l < n_layer) the residual stream after block l-1, i.e. the input "
        "of block l, and the last index n_layer the output of the final LayerNorm ln_f applied "
        "after the last block"
    ),
    "resid": (
        "raw residual stream, blocks numbered from 0: index 0 is the embedding, index l "
        "(1 <= l < n_layer) the input of block l (= the output of block l-1), and the last index "
        "n_layer the output of the last block, without the final LayerNorm"
    ),
}


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise InvalidInputError(
            f"convention must be 'hidden_states' (Hugging Face, the default) or 'resid' "
            f"(raw residual stream), got {convention!r}"
        )
    return convention


@dataclass(frozen=True)
class Provenance:
    """What produced a result, so that a figure can be reproduced.

    Attributes:
        study: the study class, e.g. ``"Rotation"``.
        model: the model name or folder as given by the user.
        model_path: the folder (or file) the weights were read from, resolved (absolute).
        model_source: ``"hub"`` (a hub snapshot), ``"packaged"`` (shipped inside tokgeo) or
            ``"local"`` (a folder or file of the user's).
        model_commit: the hub commit of the snapshot (40 hex digits), else None.
        model_digest: ``"sha256:..."`` of the checkpoint (:func:`tokgeo.hub.checkpoint_digest`):
            the same digest means the same weights, whatever the name or folder.
        model_config: n_layer, n_head, n_embd, n_ctx, n_vocab of the model that ran.
        convention: the residual-stream convention (``"hidden_states"``/``"resid"``) or None.
        dataset: the data set's name (``tokgeo.datasets.her_sentences`` or the user's).
        dataset_sha256: digest of the sentences (newline-terminated UTF-8, SHA-256).
        n_sentences: how many sentences were used.
        target: the target word or token id, when the study has one.
        seed: the random seed, when the study draws random numbers.
        parameters: every other argument of the study.
        tokgeo_version: the tokgeo version.
        created_utc: when the result was computed (ISO 8601, UTC).
    """

    study: str
    model: str
    model_config: Mapping[str, Any]
    convention: str | None
    dataset: str
    dataset_sha256: str
    n_sentences: int
    target: str | int | None
    seed: int | None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    model_path: str | None = None
    model_source: str | None = None
    model_commit: str | None = None
    model_digest: str | None = None
    tokgeo_version: str = __version__
    created_utc: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    )

    def as_dict(self) -> dict[str, Any]:
        """A plain dictionary (JSON-friendly)."""
        d = asdict(self)
        d["model_config"] = dict(self.model_config)
        d["parameters"] = dict(self.parameters)
        return d

    def lines(self) -> list[str]:
        cfg = ", ".join(f"{k}={v}" for k, v in self.model_config.items())
        out = [
            f"study: {self.study}",
            f"model: {self.model} ({cfg})",
        ]
        if self.model_path is not None:
            where = f"checkpoint: {self.model_source or 'local'} {self.model_path}"
            if self.model_commit:
                where += f" @ {self.model_commit}"
            out.append(where)
        if self.model_digest is not None:
            out.append(f"checkpoint digest: {self.model_digest}")
        if self.convention:
            out.append(f"layers: {self.convention} ({CONVENTION_TEXT[self.convention]})")
        out.append(
            f"data: {self.dataset}, {plural(self.n_sentences, 'sentence')}, sha256 {self.dataset_sha256[:16]}"
        )
        if self.target is not None:
            out.append(f"target: {self.target!r}")
        if self.seed is not None:
            out.append(f"seed: {self.seed}")
        if self.parameters:
            out.append("parameters: " + ", ".join(f"{k}={v!r}" for k, v in self.parameters.items()))
        out.append(f"tokgeo {self.tokgeo_version}, {self.created_utc}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


class ModelOrigin(TypedDict):
    model_path: str | None
    model_source: str | None
    model_commit: str | None
    model_digest: str | None


def model_origin(model: Any) -> ModelOrigin:
    """The ``model_path``, ``model_source``, ``model_commit`` and ``model_digest`` fields of
    :class:`Provenance` for a :class:`tokgeo.GPT2` (from :attr:`tokgeo.GPT2.resolved`); all
    None for an object that does not say where its weights came from."""
    r = getattr(model, "resolved", None)
    if r is None:
        return {"model_path": None, "model_source": None, "model_commit": None, "model_digest": None}
    return {"model_path": os.path.abspath(os.fspath(r.path)), "model_source": r.source,
            "model_commit": r.commit, "model_digest": r.digest()}


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if f != 0 and (abs(f) < 1e-3 or abs(f) >= 1e5):
            return f"{f:.3e}"
        return f"{f:.4f}"
    return str(v)


class StudyResult:
    """Base of every study's result: named arrays, tidy tables, a summary and figures.

    * ``result["name"]`` or ``result.name`` give an array (``result.arrays`` lists them,
      ``result.describe()`` says what each holds, with shapes and units);
    * ``result.tables()`` gives tidy tables (lists of row dictionaries);
      ``result.to_frame(name)`` the same as a pandas DataFrame (pandas is optional);
    * ``result.summary()`` is a short text report with the statistics;
    * ``result.plot(kind, ax=None)`` draws one figure (``result.plot_kinds`` lists them);
    * ``result.provenance`` records what produced the numbers;
    * ``result.save(folder)`` writes figures (PNG), tables (CSV) and the report.
    """

    #: the figures this result can draw; the first is the default of :meth:`plot`
    plot_kinds: tuple[str, ...] = ()

    def __init__(
        self,
        provenance: Provenance,
        arrays: Mapping[str, np.ndarray],
        descriptions: Mapping[str, str],
    ) -> None:
        self.provenance = provenance
        self._arrays: dict[str, np.ndarray] = {}
        for k, v in arrays.items():
            a = np.asarray(v).view()  # a read-only view: the caller's array stays writeable
            a.setflags(write=False)
            self._arrays[k] = a
        self._descriptions = dict(descriptions)

    # ---- arrays by name ----
    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The named arrays (a new dict each time; the arrays are read-only)."""
        return dict(self._arrays)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._arrays[name]
        except KeyError:
            raise KeyError(
                f"no array {name!r} in {type(self).__name__}; available: "
                + ", ".join(self._arrays)
            ) from None

    def __getattr__(self, name: str) -> np.ndarray:
        arrays: dict[str, np.ndarray] | None = self.__dict__.get("_arrays")
        if arrays is not None and name in arrays:
            return arrays[name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def __contains__(self, name: object) -> bool:
        return name in self._arrays

    @property
    def includes_ln_f(self) -> bool:
        """True under the hidden_states convention: the last block's step ends after the
        final LayerNorm ln_f, a rescaling that is not the block's update."""
        return bool(getattr(self.provenance, "convention", None) == "hidden_states")

    def ln_f_note(self, total: str = "path_length", raw: str = "path_length_resid",
                  mask: np.ndarray | None = None) -> list[str]:
        """Report lines saying that the totals include the ln_f step, with the raw residual
        stream's mean beside them (nothing under convention resid)."""
        if not self.includes_ln_f or raw not in self:
            return []
        m = slice(None) if mask is None else mask
        L = int(self.provenance.model_config.get("n_layer", 0))
        return [f"NOTE: convention hidden_states: the last step (h({L}) - h({L - 1}), out of the last block) ends after",
                f"  the final LayerNorm ln_f, a rescaling, and is counted in the totals (mean total "
                f"{fmt(float(np.mean(self[total][m])))});",
                f"  in the raw residual stream (no ln_f; --convention resid) the mean total is "
                f"{fmt(float(np.mean(self[raw][m])))} (CSV column {raw}, per token)."]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._arrays))

    def describe(self) -> str:
        """One line per array: name, shape, dtype and what it holds."""
        rows = []
        for k, a in self._arrays.items():
            rows.append(f"{k} {list(a.shape)} {a.dtype}: {self._descriptions.get(k, '')}")
        return "\n".join(rows)

    # ---- tables ----
    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """Tidy tables (name -> rows); the first is the main one."""
        raise NotImplementedError  # each study defines its tables

    def to_frame(self, table: str | None = None) -> Any:
        """A table as a pandas DataFrame (the main one by default). Needs pandas."""
        try:
            pd = importlib.import_module("pandas")  # Any: pandas is optional and has no inline types
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "to_frame needs pandas: pip install pandas (or 'tokgeo[pandas]'); "
                "result.tables() gives the same rows without pandas"
            ) from exc
        tabs = self.tables()
        name = table if table is not None else next(iter(tabs))
        if name not in tabs:
            raise KeyError(f"no table {name!r}; available: {', '.join(tabs)}")
        return pd.DataFrame(tabs[name])

    # ---- report ----
    def summary_lines(self) -> list[str]:
        raise NotImplementedError

    def summary(self) -> str:
        """A short text report: the statistics, then the provenance."""
        return "\n".join(self.summary_lines() + ["", *self.provenance.lines()])

    def key_stats(self) -> list[tuple[str, str]]:
        """A few headline numbers (name, formatted value) for the notebook display."""
        return []

    def __repr__(self) -> str:
        p = self.provenance
        lines = [f"{type(self).__name__}(study={p.study!r}, model={p.model!r}, "
                 f"{plural(p.n_sentences, 'sentence')}" + (f", convention={p.convention!r}" if p.convention else "") + ")"]
        lines += [f"  {k}: {v}" for k, v in self.key_stats()]
        lines.append("  arrays: " + ", ".join(f"{k}{list(a.shape)}" for k, a in self._arrays.items()))
        if self.plot_kinds:
            lines.append("  plots: " + ", ".join(self.plot_kinds))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        p = self.provenance
        e = html.escape
        rows = [("study", p.study), ("model", p.model),
                ("data", f"{p.dataset}, {plural(p.n_sentences, 'sentence')}")]
        if p.model_digest:
            rows.append(("checkpoint", f"{p.model_source} {p.model_digest[:19]}…"))
        if p.convention:
            rows.append(("layers", p.convention))
        rows += self.key_stats()
        if self.plot_kinds:
            rows.append(("plots", ", ".join(self.plot_kinds)))
        head = "".join(f"<tr><th style='text-align:left'>{e(k)}</th><td style='text-align:left'>{e(str(v))}</td></tr>"
                       for k, v in rows)
        arr = "".join(
            f"<tr><td style='text-align:left'><code>{e(k)}</code></td><td>{e(str(list(a.shape)))}</td>"
            f"<td>{e(str(a.dtype))}</td><td style='text-align:left'>{e(self._descriptions.get(k, ''))}</td></tr>"
            for k, a in self._arrays.items())
        return (f"<div><b>{e(type(self).__name__)}</b><table>{head}</table>"
                f"<details><summary>{len(self._arrays)} arrays</summary><table>"
                "<tr><th>name</th><th>shape</th><th>dtype</th><th>holds</th></tr>"
                f"{arr}</table></details></div>")

    # ---- figures ----
    def plot(self, kind: str | None = None, ax: Axes | None = None, **kwargs: Any) -> Figure:
        """Draw one figure (``kind`` from :attr:`plot_kinds`; the first by default).

        Draws into ``ax`` when given (figures made of several panels need ``ax=None``), and
        returns the matplotlib Figure.  Never calls ``show()``.
        """
        kinds = self.plot_kinds
        k = kind if kind is not None else kinds[0]
        if k not in kinds:
            raise InvalidInputError(f"unknown plot kind {k!r}; choose one of: {', '.join(kinds)}")
        fn: Callable[..., Figure] = getattr(self, "_plot_" + k)
        fig = fn(ax=ax, **kwargs)
        if ax is None:
            _shown_once(fig)
        return fig

    def save(self, folder: str | os.PathLike[str], *, figures: bool = True, dpi: int = 120) -> list[Path]:
        """Write the tables (CSV), the figures (PNG) and ``report.txt`` into ``folder``.

        Every file is written to a temporary name first and renamed when complete, so an
        error never leaves a partial file.  Returns the paths written.
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for name, rows in self.tables().items():
            with atomic_write(out / f"{name}.csv") as f:
                write_csv(f, rows)
            written.append(out / f"{name}.csv")
        if figures:
            from ..plotting import require_matplotlib

            plt = require_matplotlib()
            for kind in self.plot_kinds:
                fig = self.plot(kind)
                try:
                    with atomic_write(out / f"{kind}.png", binary=True) as f:
                        fig.savefig(f, dpi=dpi, format="png")
                    written.append(out / f"{kind}.png")
                finally:
                    plt.close(fig)
        with atomic_write(out / "report.txt") as f:
            f.write(self.summary() + "\n")
        written.append(out / "report.txt")
        return written


def _shown_once(fig: Any) -> None:
    """In Jupyter with the inline backend a pyplot figure is shown at the end of the cell
    and, when it is the cell's value, once more by the display hook.  There a figure this
    module made is taken out of pyplot's figure manager, so it is shown once: as the cell's
    value, or with ``fig`` / ``display(fig)`` when assigned (the Figure stays usable:
    savefig, display).  Elsewhere (scripts, GUI backends) it stays in pyplot, so
    ``plt.show()`` works."""
    import matplotlib

    if "inline" not in str(matplotlib.get_backend()).lower():
        return
    import matplotlib.pyplot as plt

    if plt.fignum_exists(getattr(fig, "number", -1)):
        plt.close(fig)


def write_csv(stream: io.TextIOBase | Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows (dicts with the same keys) as CSV with a header, numbers at full precision."""
    w = csv.writer(stream, lineterminator="\n")
    if not rows:
        return
    keys = list(rows[0].keys())
    w.writerow(keys)
    for r in rows:
        w.writerow([_csv_value(r[k]) for k in keys])


def _csv_value(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return repr(float(v))
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def fmt(v: Any) -> str:
    """Numbers for reports: 4 decimals, scientific notation for tiny or huge values."""
    return _fmt(v)


def fmt_p(p: Any) -> str:
    """A p-value for reports, always in one scientific format: ``1.7e-275``, ``3.2e-02``.

    A p-value that underflowed to 0 is written ``< 1e-300`` (never ``0.0000``)."""
    f = float(p)
    if math.isnan(f):
        return "nan"
    if f == 0.0:
        return "< 1e-300"
    return f"{f:.1e}"


def short_model(model: str, width: int = 32) -> str:
    """A model name for a figure title: a folder's base name (the full path is in the
    provenance), cut to ``width`` characters."""
    m = str(model).rstrip("/\\")
    if "/" in m or "\\" in m or os.sep in m:
        if os.path.isabs(m) or m.startswith(".") or os.path.exists(m):
            m = os.path.basename(m) or m
    return m if len(m) <= width else m[: width - 3] + "..."


def plural(n: int, word: str, words: str | None = None) -> str:
    """``"1 sentence"``, ``"2 sentences"``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"
