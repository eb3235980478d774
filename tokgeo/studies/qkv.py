"""Lesson 3: how similar are the target token's queries, keys and values across sentences.

At one layer, take the target token's q, k and v (the c_attn output, 3 x n_embd: all heads
side by side) in every sentence; cosine-similarity matrices within Q, K and V (sentence i
vs sentence j) and across them (q of sentence i vs k of sentence j, ...), their
distributions, the same for the non-target token as a comparison, and how the similarity
structures of Q, K and V agree (scatter plots and correlations over sentence pairs).
"""

from __future__ import annotations

import math

from typing import TYPE_CHECKING, Any, Sequence, cast

import numpy as np

from .. import metrics, plotting
from ..errors import InvalidInputError
from ._base import Provenance, StudyResult, fmt, fmt_p, plural, short_model
from ._common import Study, correlate, ttest

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["QKVSimilarity", "QKVResult", "PAIRS"]

#: the six similarity matrices: within Q, K, V and across them
PAIRS = ("QQ", "KK", "VV", "QK", "QV", "KV")
TOKENS = ("target", "nontarget")
#: pairs of within-matrices whose structures are compared (scatter plots, correlations)
AGREEMENT = (("QQ", "KK"), ("QQ", "VV"), ("KK", "VV"))


class QKVSimilarity(Study):
    """Similarity of the target's Q, K and V vectors (the lesson: layer 6 of gpt2).

    Args:
        model: a model name, a local folder or a :class:`tokgeo.GPT2` (default ``"gpt2"``).
        sentences: the sentences (default :func:`tokgeo.datasets.her_sentences`); one
            string is one sentence.
        target: the target word or token id (default ``" her"``).
        layer: the block whose c_attn output is read (default 6).
        batch_size, strict, case_sensitive, progress, dataset_name, memory_budget: as in
            :class:`Rotation`.

    Within-matrices (QQ, KK, VV) are symmetric with ones on the diagonal; their
    distributions use the pairs i < j.  Across-matrices (QK: q of sentence i vs k of
    sentence j) are not symmetric; their distributions use every i != j, and the diagonal
    (the same token's q vs its own k) is kept apart as ``diag_QK`` etc.

    The t-tests comparing target and non-target similarities treat the sentence pairs as
    independent observations, which they are not (each sentence is in N - 1 pairs): read
    their p-values as descriptive, not as confirmatory.
    """

    default_model = "gpt2"

    def __init__(
        self,
        model: Any = None,
        sentences: str | Sequence[str] | None = None,
        target: str | int = " her",
        *,
        layer: int = 6,
        batch_size: int | None = None,
        strict: bool = True,
        case_sensitive: bool = True,
        progress: bool | None = None,
        dataset_name: str | None = None,
        memory_budget: int | None = None,
    ) -> None:
        super().__init__(model)
        self._set_sentences(sentences, target, strict, case_sensitive)
        self.layer = layer
        self._set_run_options(batch_size, progress, memory_budget, dataset_name)

    def run(self) -> QKVResult:
        """Capture the c_attn output at the layer for every sentence and compare."""
        layer = self.check_layer(self.layer)
        ts = self.targets()
        n, C = len(ts), self.model.config.n_embd
        if n < 2:
            raise InvalidInputError("QKVSimilarity compares sentences: give at least 2")
        vecs = {t: np.zeros((n, 3 * C), dtype=np.float32) for t in TOKENS}
        name = f"blocks.{layer}.attn.hook_qkv"  # the raw c_attn output [b, T, 3C]: q | k | v
        for rows, cache in self._chunks(ts.token_ids, [name], f"q, k, v at layer {layer}"):
            qkv = cache[name]
            b = np.arange(len(rows))
            vecs["target"][rows] = qkv[b, ts.positions[rows]]
            vecs["nontarget"][rows] = qkv[b, ts.previous_positions[rows]]

        arrays: dict[str, np.ndarray] = {}
        desc: dict[str, str] = {}
        iu = np.triu_indices(n, k=1)
        off = ~np.eye(n, dtype=bool)
        for tok in TOKENS:
            q, k, v = (vecs[tok][:, i * C : (i + 1) * C] for i in range(3))
            parts = {"Q": q, "K": k, "V": v}
            for name, x in parts.items():
                arrays[f"{name.lower()}_{tok}"] = x
                desc[f"{name.lower()}_{tok}"] = f"[N, {C}] the {tok}'s {name} vector (all heads)"
            for pair in PAIRS:
                m = np.asarray(metrics.cosine_similarity_matrix(parts[pair[0]], parts[pair[1]], dtype=np.float64))
                arrays[f"sim_{pair}_{tok}"] = m
                desc[f"sim_{pair}_{tok}"] = (
                    f"[N, N] cosine of {pair[0]} of sentence i with {pair[1]} of sentence j ({tok})"
                )
                if pair[0] == pair[1]:
                    arrays[f"values_{pair}_{tok}"] = m[iu]
                    desc[f"values_{pair}_{tok}"] = "[N(N-1)/2] the pairs i < j"
                else:
                    arrays[f"values_{pair}_{tok}"] = m[off]
                    arrays[f"diag_{pair}_{tok}"] = np.diag(m).copy()
                    desc[f"values_{pair}_{tok}"] = "[N(N-1)] every i != j"
                    desc[f"diag_{pair}_{tok}"] = "[N] the same sentence (i == j)"
        arrays["positions"] = ts.positions
        arrays["previous_positions"] = ts.previous_positions
        prov = self._provenance(
            "QKVSimilarity",
            convention=None,
            dataset=ts.name,
            dataset_sha256=ts.sha256,
            n_sentences=n,
            target=ts.target,
            seed=None,
            parameters={"layer": layer, "case_sensitive": self.case_sensitive,
                        "dropped": [p.index for p in ts.dropped]},
        )
        return QKVResult(prov, arrays, desc, layer)


class QKVResult(StudyResult):
    """Similarity matrices and distributions of Q, K and V for target and non-target.

    Figures: ``"matrices"`` (six heatmaps; ``token="nontarget"`` for the comparison),
    ``"histograms"`` (six panels, target vs non-target), ``"scatter"`` (agreement of the
    Q, K and V similarity structures over sentence pairs).
    """

    plot_kinds = ("matrices", "histograms", "scatter")

    def __init__(self, provenance: Provenance, arrays: dict[str, np.ndarray], descriptions: dict[str, str], layer: int) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.layer = layer

    def correlations(self) -> list[dict[str, Any]]:
        """Pearson and Spearman correlation of within-similarities over pairs i < j."""
        rows = []
        for tok in TOKENS:
            for a, b in AGREEMENT:
                x, y = self[f"values_{a}_{tok}"], self[f"values_{b}_{tok}"]
                pr, sr = correlate(x, y), correlate(x, y, rank=True)
                rows.append({"role": tok, "x": a, "y": b, "n_pairs": len(x), "pearson_r": float(pr.statistic),
                             "pearson_p": float(pr.pvalue), "spearman_rho": float(sr.statistic), "spearman_p": float(sr.pvalue)})
        return rows

    def comparisons(self) -> list[dict[str, Any]]:
        """Per matrix: mean similarity of target and non-target, t-test between them."""
        rows = []
        for pair in PAIRS:
            t, nt = self[f"values_{pair}_target"], self[f"values_{pair}_nontarget"]
            tt = ttest(t, nt)
            rows.append({"matrix": pair, "mean_target": float(t.mean()), "sd_target": float(t.std(ddof=1)),
                         "mean_nontarget": float(nt.mean()), "sd_nontarget": float(nt.std(ddof=1)),
                         "t": float(tt.statistic), "df": float(tt.df), "p": float(tt.pvalue)})
        return rows

    def key_stats(self) -> list[tuple[str, str]]:
        return [("layer", str(self.layer))] + [
            (f"mean {pair} cosine", f"target {fmt(self[f'values_{pair}_target'].mean())}, "
             f"non-target {fmt(self[f'values_{pair}_nontarget'].mean())}") for pair in ("QQ", "KK", "VV")]

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        return {"similarity_stats": self.comparisons(), "correlations": self.correlations()}

    def summary_lines(self) -> list[str]:
        out = [
            f"Q, K, V of {self.provenance.target!r} (and the previous word) at layer {self.layer}, "
            f"{plural(self.provenance.n_sentences, 'sentence')}.",
            "mean cosine similarity across sentences (target | non-target; t-test over pairs, "
            "which share sentences: p-values are descriptive):",
        ]
        for r in self.comparisons():
            out.append(f"  {r['matrix']}: {fmt(r['mean_target'])} | {fmt(r['mean_nontarget'])}; "
                       f"t = {fmt(r['t'])}, p = {fmt_p(r['p'])}")
        out.append("agreement of similarity structures over sentence pairs (Pearson r, Spearman rho):")
        for r in self.correlations():
            out.append(f"  {r['role']} {r['x']} vs {r['y']}: r = {fmt(r['pearson_r'])} (p = {fmt_p(r['pearson_p'])}), "
                       f"rho = {fmt(r['spearman_rho'])}")
        return out

    def _panels(self, ax: Any, n: int, pair: str | None) -> tuple[Figure, list[Any], list[str]]:
        if pair is not None:
            if pair not in PAIRS:
                raise InvalidInputError(f"pair must be one of {', '.join(PAIRS)}, got {pair!r}")
            a = plotting.new_axes(ax)
            return cast("Figure", a.figure), [a], [pair]
        if ax is not None:
            raise InvalidInputError("this figure has six panels: pass ax=None, or pair='QK' (etc.) to draw one panel into ax")
        fig, axes = plotting.subplots(2, 3)
        return fig, list(axes.ravel()), list(PAIRS)

    def _plot_matrices(self, ax: Axes | None = None, token: str = "target", pair: str | None = None) -> Figure:
        if token not in TOKENS:
            raise InvalidInputError(f"token must be 'target' or 'nontarget', got {token!r}")
        fig, axes, pairs = self._panels(ax, 6, pair)
        # one colour scale per kind of panel: the within-matrices (QQ, KK, VV, diagonal 1) share
        # one, the cross-matrices (QK, QV, KV, small cosines) another fitted to their values, so
        # they are readable; a single colour bar per row
        def limit(ps: Sequence[str]) -> float:
            v = np.concatenate([self[f"values_{p}_{token}"] for p in ps] + [self[f"sim_{p}_{token}"].ravel() for p in ps])
            v = v[np.isfinite(v)]
            return min(1.0, max(float(np.max(np.abs(v))) if v.size else 1.0, 1e-3))

        groups = [[p for p in pairs if p[0] == p[1]], [p for p in pairs if p[0] != p[1]]]
        for g, name in zip(groups, ("within Q, K, V", "across Q, K, V")):
            if not g:
                continue
            lo, hi, cmap = -1.0, 1.0, "RdBu_r"
            if g[0][0] == g[0][1]:
                # within-matrices: the pairs i < j set the scale (the diagonal is 1 by definition).
                # When every cosine is positive (trained models: all targets point one way) a
                # -1..1 scale paints the panels one colour; a sequential min..1 scale shows them
                off = np.concatenate([self[f"values_{p}_{token}"] for p in g])
                off = off[np.isfinite(off)]
                if off.size and float(off.min()) > 0.0:
                    lo, hi, cmap = math.floor(float(off.min()) * 100) / 100, 1.0, "viridis"
            else:
                hi = limit(g)
                lo = -hi
            im: Any = None  # set by the loop: g is not empty
            gaxes = [a for a, p in zip(axes, pairs) if p in g]
            for a, p in zip(gaxes, g):
                plotting.heatmap(self[f"sim_{p}_{token}"], ax=a, vmin=lo, vmax=hi, cmap=cmap, colorbar=False,
                                 xlabel=f"{p[1]} of sentence j", ylabel=f"{p[0]} of sentence i", title=f"{p} ({token})")
                im = a.get_images()[0]
            cb = fig.colorbar(im, ax=gaxes)
            cb.set_label(f"cosine, {name}" + (f" ({lo:.2g}..{hi:.2g})" if (lo, hi) != (-1.0, 1.0) else ""))
        if pair is None:
            fig.suptitle(f"Cosine similarity of {token} Q, K, V at layer {self.layer} ({short_model(self.provenance.model)})")
        return fig

    def _plot_histograms(self, ax: Axes | None = None, pair: str | None = None, bins: int = 30) -> Figure:
        fig, axes, pairs = self._panels(ax, 6, pair)
        where = f"layer {self.layer}, {short_model(self.provenance.model)}"
        for a, p in zip(axes, pairs):
            plotting.histograms({"target": self[f"values_{p}_target"], "previous word": self[f"values_{p}_nontarget"]},
                                ax=a, bins=bins, xlabel="cosine similarity", ylabel="sentence pairs",
                                title=p if pair is None else f"{p} similarity, {where}")
        if pair is None:
            fig.suptitle(f"Distributions of Q, K, V cosine similarities over sentence pairs ({where})")
        return fig

    def _plot_scatter(self, ax: Axes | None = None, token: str = "target") -> Figure:
        if ax is not None:
            raise InvalidInputError("this figure has three panels: pass ax=None")
        fig, axes = plotting.subplots(1, 3)
        for a, (x, y) in zip(axes.ravel(), AGREEMENT):
            xs, ys = self[f"values_{x}_{token}"], self[f"values_{y}_{token}"]
            r = float(correlate(xs, ys).statistic)
            plotting.scatter(xs, ys, ax=a, xlabel=f"{x} similarity", ylabel=f"{y} similarity", title=f"{x} vs {y}: r = {r:.2f}")
        fig.suptitle(f"Sentence pairs, {token}, layer {self.layer} ({short_model(self.provenance.model)})")
        return fig
