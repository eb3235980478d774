"""Lesson 7: state-space trajectories through embedding space.

Each token of a text visits L + 1 states ``h(0) .. h(L)``.  This lesson fits principal
components over *all* states of the text (every token at every layer, centred;
:func:`tokgeo.metrics.pca`, exact), projects every state on the first three and draws each
token's trajectory as a line coloured by layer (2-D and 3-D), labelled with its token.  Per
token, in the full ``n_embd``-dimensional space:

* trajectory length: ``sum_l ||h(l) - h(l-1)||``;
* straightness: ``||h(L) - h(0)|| / length`` (1 for a straight line, towards 0 for a path
  that wanders);
* curvature: the mean turning angle between consecutive steps,
  ``mean_l angle(h(l) - h(l-1), h(l+1) - h(l))`` in degrees (0 for a straight line).  A
  discrete curvature *per unit length* is offered as ``curvature_per_length`` (total turning
  angle / length, degrees per unit of distance).

Choices: the PCA is fitted per text (the issue's reading); ``fit="all"`` fits one PCA over
the states of every text given.  Every measurement is per token once the text's PCA is
fitted, so with ``fit="text"`` the lesson runs over a corpus (``corpus=``, chunks through
:func:`tokgeo.studies.measure_corpus`, on one machine or a Dask cluster) and gives what the
texts give one by one; ``fit="all"`` needs every state of every text at once and takes
``text=`` only.  The first token's states are far from the rest in GPT-2 and
dominate the components; ``exclude_first=True`` fits without them (they are still projected).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence, cast

import numpy as np

from .. import metrics, plotting
from ..errors import InvalidInputError
from ._base import fmt
from ._corpus import PerText, TokenResult, TokenStudy, title_prefix

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Trajectories", "TrajectoriesResult", "DEFAULT_TEXT"]

DEFAULT_TEXT = "The quiet river carried small boats past the old mill every summer."


class Trajectories(TokenStudy):
    """Trajectories of the tokens of one text on the principal components of its states.

    Args:
        model: a model name, a folder or a :class:`tokgeo.GPT2` (default ``"gpt2"``).
        text: the text (default :data:`DEFAULT_TEXT`), or a list of texts (each gets its
            own PCA unless ``fit="all"``; the figures show ``text_index``'s).
        corpus: instead of ``text``: a UTF-8 file (one text per line) or an iterable of
            texts, run in chunks through :func:`tokgeo.studies.measure_corpus`, keeping per
            token only its projection and its shape measures (never the states).  Needs
            ``fit="text"``: a PCA over the whole corpus would have to keep every state.
        n_components: principal components kept (2 or more; default 3).
        fit: ``"text"`` (default, one PCA per text) or ``"all"`` (one over every text).
        exclude_first: fit the PCA without each text's first token.
        convention, batch_size, memory_budget, progress, client, dataset_name: see
            :func:`tokgeo.studies.measure_corpus`.
    """

    default_model = "gpt2"
    default_text = DEFAULT_TEXT

    def __init__(self, model: Any = None, text: str | Sequence[str] | None = None, *, corpus: Any = None,
                 n_components: int = 3, fit: str = "text", exclude_first: bool = False,
                 convention: str = "hidden_states", batch_size: int | None = None, progress: bool | None = None,
                 memory_budget: int | None = None, client: Any = None, dataset_name: str | None = None) -> None:
        super().__init__(model, text, corpus=corpus, convention=convention, batch_size=batch_size,
                         progress=progress, memory_budget=memory_budget, client=client, dataset_name=dataset_name)
        if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 2:
            raise InvalidInputError(f"n_components must be an int >= 2, got {n_components!r}")
        if fit not in ("text", "all"):
            raise InvalidInputError(f"fit must be 'text' or 'all', got {fit!r}")
        if fit == "all" and corpus is not None:
            raise InvalidInputError("fit='all' fits one PCA over every state of every text, which a corpus run "
                                    "does not keep: use fit='text' with corpus=, or give the texts as text=")
        self.n_components = n_components
        self.fit = fit
        self.exclude_first = bool(exclude_first)

    def run(self) -> TrajectoriesResult:
        m = self.model
        L = int(m.config.n_layer)
        k = self.n_components
        skip = 1 if self.exclude_first else 0
        keep: PerText = _TextPCA(k, skip) if self.fit == "text" else _states
        measures = ("step_length", "endpoint_distance", "last_step_resid") + (("update_angle",) if L > 1 else ())
        tab = self._measure(measures, "trajectories", per_text=keep)
        counts = np.bincount(tab["text_index"], minlength=len(tab.texts))
        for i, n in enumerate(counts):
            if n < 2:
                raise InvalidInputError(f"text [{i}] has {n} token(s): give at least 2")
        fitted = (counts - skip) * (L + 1) if self.fit == "text" else [int((counts - skip).sum()) * (L + 1)]
        for n in fitted:
            if n < k + 1:
                raise InvalidInputError(f"{n} states are too few for {k} components: give a longer text")
        if self.fit == "text":
            proj = tab["projection"]
            evr = tab["explained_variance_ratio"][tab["position"] == 0]
        else:
            states = tab["states"]  # [tokens, L+1, C]
            p = metrics.pca(states[tab["position"] >= skip].reshape(-1, states.shape[-1]), k, method="exact")
            proj = np.asarray(p.transform(states.reshape(-1, states.shape[-1]))).reshape(len(states), L + 1, k)
            evr = np.asarray(p.explained_variance_ratio)[None]
        steps = tab["step_length"]  # [N, L]
        length = steps.sum(axis=1)
        end = tab["endpoint_distance"]
        turn = tab["update_angle"] if L > 1 else np.zeros((len(length), 0))  # [N, L-1]
        a: dict[str, np.ndarray] = {
            "projection": proj, "explained_variance_ratio": evr,
            "step_length": steps, "length": length, "endpoint_distance": end,
            "path_length_resid": length - steps[:, -1] + tab["last_step_resid"],
            "straightness": end / length, "turning_angle": turn,
            "curvature": turn.mean(axis=1) if L > 1 else np.full(len(length), np.nan),
            "curvature_per_length": turn.sum(axis=1) / length,
            "text_index": tab["text_index"], "position": tab["position"], "layers": np.arange(L + 1),
        }
        desc = {
            "projection": f"[tokens, L+1, {k}] every state on the principal components (PCA units = Euclidean)",
            "explained_variance_ratio": f"[texts or 1, {k}] variance ratio of each component",
            "step_length": "[tokens, L] ||h(l) - h(l-1)||",
            "length": "[tokens] trajectory length"
            + ("; the last step ends after the final LayerNorm ln_f (hidden_states)" if self.convention == "hidden_states" else ""),
            "path_length_resid": "[tokens] trajectory length in the raw residual stream (last step without ln_f)",
            "endpoint_distance": "[tokens] ||h(L) - h(0)||", "straightness": "[tokens] endpoint distance / length (0..1]",
            "turning_angle": "[tokens, L-1] angle between consecutive steps, degrees",
            "curvature": "[tokens] mean turning angle, degrees",
            "curvature_per_length": "[tokens] total turning angle / length, degrees per unit distance",
            "text_index": "[tokens] which text", "position": "[tokens] position in the text", "layers": "[L+1] state index l",
        }
        tokens = [m.tokenizer.decode([int(t)]) for t in tab["token_id"]]
        prov = self._provenance("Trajectories", tab, parameters={"n_components": k, "fit": self.fit,
                                                                 "exclude_first": self.exclude_first,
                                                                 "pca": "exact, centred"})
        return TrajectoriesResult(prov, a, desc, tokens, tab.texts)


@dataclass(frozen=True)
class _TextPCA:
    """The per-text measurement of ``fit="text"`` (picklable, for a Dask run): one text's
    states ``[T, L+1, C]`` -> their projection ``[T, L+1, k]`` on the text's own principal
    components (fitted without the first ``skip`` tokens) and the explained variance ratio
    (``[T, k]``, the same on every row).  NaN when the text has too few states (the lesson
    says so after the run)."""

    k: int
    skip: int

    def __call__(self, s: np.ndarray) -> dict[str, np.ndarray]:
        T, L1, C = s.shape
        X = s[self.skip:].reshape(-1, C)
        if X.shape[0] < self.k + 1:
            return {"projection": np.full((T, L1, self.k), np.nan), "explained_variance_ratio": np.full((T, self.k), np.nan)}
        p = metrics.pca(X, self.k, method="exact")
        proj = np.asarray(p.transform(s.reshape(-1, C))).reshape(T, L1, self.k)
        evr = np.broadcast_to(np.asarray(p.explained_variance_ratio), (T, self.k)).copy()
        return {"projection": proj, "explained_variance_ratio": evr}


def _states(s: np.ndarray) -> dict[str, np.ndarray]:
    """The per-text measurement of ``fit="all"``: the states themselves (the PCA over all
    texts needs them all, so this reading is for texts given as ``text=``, not a corpus)."""
    return {"states": s}


def _integer_ticks(cb: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    cb.locator = MaxNLocator(integer=True)
    cb.update_ticks()


class TrajectoriesResult(TokenResult):
    """PCA projections of every state and the shape of every token's trajectory.

    Figures: ``"pca2d"`` (PC1 vs PC2, one line per token, points coloured by layer),
    ``"pca3d"`` (PC1-PC3 in 3-D), ``"shape"`` (length, straightness and curvature per
    token).  ``text=`` picks the text (default 0).
    """

    plot_kinds = ("pca2d", "pca3d", "shape")

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        shape = self.token_rows(length="length", path_length_resid="path_length_resid",
                                endpoint_distance="endpoint_distance", straightness="straightness",
                                curvature_deg="curvature", curvature_per_length="curvature_per_length")
        proj = []
        k = self["projection"].shape[2]
        for i in range(len(self.tokens)):
            for l in self["layers"]:
                r: dict[str, Any] = {"text": int(self["text_index"][i]), "position": int(self["position"][i]),
                                     "token": self.tokens[i], "layer": int(l)}
                for c in range(k):
                    r[f"pc{c + 1}"] = float(self["projection"][i, l, c])
                proj.append(r)
        return {"shape": shape, "projection": proj}

    def summary_lines(self) -> list[str]:
        evr = self["explained_variance_ratio"]
        out = [
            f"Trajectories of {len(self.tokens)} tokens ({len(self.texts)} text(s)) through "
            f"{len(self['layers']) - 1} blocks.",
            f"explained variance of the components (text 0): {', '.join(f'{v:.3f}' for v in evr[0])}",
            f"mean length {fmt(self['length'].mean())}, straightness {fmt(self['straightness'].mean())}, "
            f"curvature {fmt(np.nanmean(self['curvature']))} deg",
            "",
            "  pos  token             length  straightness  curvature(deg)",
        ]
        for i in range(min(len(self.tokens), 40)):
            out.append(f"{int(self['position'][i]):5d}  {self.tokens[i]!r:15s} {self['length'][i]:8.3f} "
                       f"{self['straightness'][i]:13.3f} {self['curvature'][i]:15.2f}")
        return out + ([""] + self.ln_f_note("length") if self.includes_ln_f else [])

    def _rows(self, text: int) -> np.ndarray:
        rows = np.flatnonzero(self["text_index"] == text)
        if rows.size == 0:
            raise InvalidInputError(f"text {text} is out of range 0..{len(self.texts) - 1}")
        return rows

    def _draw(self, a: Any, rows: np.ndarray, dims: int) -> Any:
        import matplotlib as mpl

        L1 = len(self["layers"])
        norm = mpl.colors.Normalize(vmin=0, vmax=L1 - 1)
        cmap = mpl.colormaps["viridis"]
        sc = None
        for r in rows:
            p = self["projection"][r]
            coords = [p[:, c] for c in range(dims)]
            a.plot(*coords, color="0.6", linewidth=0.8)
            sc = a.scatter(*coords, c=self["layers"], cmap=cmap, norm=norm, s=14)
            end = [p[-1, c] for c in range(dims)]
            a.text(*end, repr(self.tokens[r])[1:-1], fontsize=7)
        return sc

    def _evr(self, text: int) -> np.ndarray:
        evr = self["explained_variance_ratio"]
        return np.asarray(evr[text] if evr.shape[0] > text else evr[0])

    def _plot_pca2d(self, ax: Axes | None = None, text: int = 0) -> Figure:
        rows = self._rows(text)
        a = plotting.new_axes(ax, figsize=(7.5, 6))
        sc = self._draw(a, rows, 2)
        evr = self._evr(text)
        a.set_xlabel(f"PC1 ({100 * evr[0]:.1f}% of variance)")
        a.set_ylabel(f"PC2 ({100 * evr[1]:.1f}% of variance)")
        cb = a.figure.colorbar(sc, ax=a, label="layer l (state h(l))")
        _integer_ticks(cb)
        a.set_title(f"{title_prefix(self.provenance)}: token trajectories, layers 0-{len(self['layers']) - 1} "
                    f"(labels at h({len(self['layers']) - 1}))", fontsize=10)
        return a.figure  # type: ignore[return-value]

    def _plot_pca3d(self, ax: Axes | None = None, text: int = 0) -> Figure:
        if self["projection"].shape[2] < 3:
            raise InvalidInputError("the 3-D figure needs n_components >= 3")
        rows = self._rows(text)
        if ax is None:
            plt = plotting.require_matplotlib()
            fig = plt.figure(figsize=(8, 6.5), layout="constrained")
            a = fig.add_subplot(projection="3d")
        else:
            a = ax
            if getattr(a, "name", "") != "3d":
                raise InvalidInputError("pass an Axes made with projection='3d', or ax=None")
        sc = self._draw(a, rows, 3)
        evr = self._evr(text)
        a.set_xlabel(f"PC1 ({100 * evr[0]:.1f}%)")
        a.set_ylabel(f"PC2 ({100 * evr[1]:.1f}%)")
        a.set_zlabel(f"PC3 ({100 * evr[2]:.1f}%)")
        cb = a.figure.colorbar(sc, ax=a, label="layer l (state h(l))", shrink=0.7)
        _integer_ticks(cb)
        a.set_title(f"{title_prefix(self.provenance)}: trajectories in 3-D, layers 0-{len(self['layers']) - 1}",
                    fontsize=10)
        return cast("Figure", a.figure)

    def _plot_shape(self, ax: Axes | None = None, text: int = 0) -> Figure:
        if ax is not None:
            raise InvalidInputError("this figure has three panels: pass ax=None")
        rows = self._rows(text)
        labels = [repr(self.tokens[r])[1:-1] for r in rows]
        fig, axes = plotting.subplots(1, 3, figsize=(14, 4.3))
        for a, key, ylabel in ((axes[0, 0], "length", "trajectory length (Euclidean)"),
                               (axes[0, 1], "straightness", "straightness (end-to-end / length)"),
                               (axes[0, 2], "curvature", "mean turning angle (degrees)")):
            plotting.bars(labels, self[key][rows], ax=a, xlabel="token", ylabel=ylabel)
        fig.suptitle(f"{title_prefix(self.provenance)}: trajectory shape per token, "
                     f"all {len(self['layers']) - 1} blocks")
        return fig
