"""Lesson 4: the path a token's vector travels through the layers, split into its steps.

Inside block l the residual stream moves twice: by the attention output, then by the MLP
output.  For every token and block this lesson measures the Euclidean length of the
attention step ``||attn_out(l)||``, of the MLP step ``||mlp_out(l)||`` and of the hidden
state's whole step ``||h(l+1) - h(l)||`` (in the raw residual stream the hidden step is
exactly attention + MLP; under the Hugging Face convention the last step also includes
the final LayerNorm).  It draws them as tokens x layers heatmaps, correlates attention-
and MLP-steps with the hidden steps across tokens at every layer, with and without the
first token (whose steps are outliers in GPT-2), and accumulates the path length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import metrics, plotting
from ..datasets import sentences_digest
from ..errors import InvalidInputError, InvalidTypeError
from ._base import Provenance, StudyResult, check_convention, fmt
from ._common import Study, correlate, hidden, hidden_capture

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PathLength", "PathLengthResult", "DEFAULT_TEXT"]

#: the lesson's default text (written for tokgeo)
DEFAULT_TEXT = (
    "When the train finally stopped, the old woman picked up her bag, thanked the young "
    "conductor for his patience and walked slowly into the cold morning light."
)
STEPS = ("attn", "mlp", "hidden")


class PathLength(Study):
    """Path-length decomposition (the lesson uses gpt2-large).

    Args:
        model: a model name, a folder or a :class:`tokgeo.GPT2` (default ``"gpt2-large"``).
        text: one text, or several (their tokens are pooled for the correlations; the
            heatmaps show the first).  Default: :data:`DEFAULT_TEXT`.
        convention: ``"hidden_states"`` (default, Hugging Face) or ``"resid"`` (raw
            residual stream: the hidden step is then exactly the sum of the two outputs).
        batch_size, progress, memory_budget: as in :class:`Rotation`.
        dataset_name: a name for your text(s), recorded in the provenance.
    """

    default_model = "gpt2-large"

    def __init__(
        self,
        model: Any = None,
        text: str | Sequence[str] | None = None,
        *,
        convention: str = "hidden_states",
        batch_size: int | None = None,
        progress: bool | None = None,
        dataset_name: str | None = None,
        memory_budget: int | None = None,
    ) -> None:
        super().__init__(model)
        if text is None:
            texts = [DEFAULT_TEXT]
        elif isinstance(text, str):
            texts = [text]
        else:
            texts = list(text)
        if not texts:
            raise InvalidInputError("text is empty: give a text (or a list of texts)")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InvalidTypeError(f"text [{i}] is a {type(t).__name__}, not a str")
            if not t.strip():
                raise InvalidInputError(f"text [{i}] is empty")
        self.texts = texts
        self.convention = check_convention(convention)
        self._set_run_options(batch_size, progress, memory_budget, dataset_name)

    def run(self) -> PathLengthResult:
        """Capture attention outputs, MLP outputs and hidden states, and measure."""
        tok = self.model.tokenizer
        ids = [np.asarray(tok.encode(t), dtype=np.int64) for t in self.texts]
        for i, r in enumerate(ids):
            if r.size < 2:
                raise InvalidInputError(f"text [{i}] has {r.size} token(s): give at least 2 tokens")
        L = self.model.config.n_layer
        per_text: list[dict[str, np.ndarray] | None] = [None] * len(ids)
        capture = [*hidden_capture(self.convention, L), "attn_out", "mlp_out"]
        for rows, cache in self._chunks(ids, capture, "path length"):
            # whole chunk at once, in C on the float32 views: [L, b, T] each
            attn = np.asarray(metrics.norm(cache.stack("attn_out"), axis=-1), dtype=np.float64)
            mlp = np.asarray(metrics.norm(cache.stack("mlp_out"), axis=-1), dtype=np.float64)
            hid = metrics.path_length(hidden(cache, self.convention), axis=0, vector_axis=-1)
            for j, r in enumerate(rows):
                T = len(ids[r])
                per_text[r] = {"attn": attn[:, j, :T].T, "mlp": mlp[:, j, :T].T, "hidden": hid[:, j, :T].T}
        arrays: dict[str, np.ndarray] = {}
        for k in STEPS:
            arrays[f"step_{k}"] = np.concatenate([p[k] for p in per_text], axis=0)  # type: ignore[index]
        text_index = np.concatenate([np.full(len(r), i) for i, r in enumerate(ids)])
        position = np.concatenate([np.arange(len(r)) for r in ids])
        arrays["text_index"] = text_index
        arrays["position"] = position
        arrays["layers"] = np.arange(L)
        arrays["cumulative_hidden"] = np.cumsum(arrays["step_hidden"], axis=1)
        arrays["path_length"] = arrays["cumulative_hidden"][:, -1].copy()
        not_first = position > 0
        for k in ("attn", "mlp"):
            for suffix, mask in (("", np.ones_like(not_first)), ("_no_first", not_first)):
                x, y = arrays[f"step_{k}"][mask], arrays["step_hidden"][mask]  # [tokens, L]: every layer at once
                for name, res in (("pearson", correlate(x, y)), ("spearman", correlate(x, y, rank=True))):
                    arrays[f"{name}_{k}{suffix}"] = np.asarray(res.statistic, dtype=np.float64).reshape(L)
                    arrays[f"{name}_{k}{suffix}_p"] = np.asarray(res.pvalue, dtype=np.float64).reshape(L)
        # how far the first token stands out: its step / the median step of the others
        first = position == 0
        for k in STEPS:
            s = arrays[f"step_{k}"]
            med = np.median(s[not_first], axis=0) if not_first.any() else np.full(L, np.nan)
            arrays[f"first_token_ratio_{k}"] = s[first].mean(axis=0) / med
        desc = {
            "step_attn": "[tokens, L] ||attention output of block l|| at each token",
            "step_mlp": "[tokens, L] ||MLP output of block l|| at each token",
            "step_hidden": "[tokens, L] ||h(l+1) - h(l)||: the hidden state's step through block l",
            "text_index": "[tokens] which text each row belongs to",
            "position": "[tokens] token position inside its text",
            "layers": "[L] block index",
            "cumulative_hidden": "[tokens, L] path length up to the end of block l",
            "path_length": "[tokens] total path length through all blocks",
        }
        for k in ("attn", "mlp"):
            for suffix, what in (("", "all tokens"), ("_no_first", "without each text's first token")):
                desc[f"pearson_{k}{suffix}"] = f"[L] Pearson r of the {k} step vs the hidden step across tokens ({what})"
                desc[f"pearson_{k}{suffix}_p"] = "[L] two-sided p-value"
                desc[f"spearman_{k}{suffix}"] = f"[L] Spearman rho of the {k} step vs the hidden step ({what})"
                desc[f"spearman_{k}{suffix}_p"] = "[L] two-sided p-value"
        for k in STEPS:
            desc[f"first_token_ratio_{k}"] = f"[L] first token's {k} step / median {k} step of the others"
        prov = self._provenance(
            "PathLength",
            convention=self.convention,
            dataset=self.dataset_name or ("tokgeo.studies.pathlength.DEFAULT_TEXT" if self.texts == [DEFAULT_TEXT] else "user text"),
            dataset_sha256=sentences_digest(self.texts),
            n_sentences=len(self.texts),
            target=None,
            seed=None,
            parameters={},
        )
        labels = [tok.decode([int(t)]) for r in ids for t in r]
        return PathLengthResult(prov, arrays, desc, labels, tuple(self.texts))


class PathLengthResult(StudyResult):
    """Attention, MLP and hidden steps per token and layer, correlations, path lengths.

    Figures: ``"heatmaps"`` (three panels, tokens x layers, first text), ``"correlations"``
    (Pearson r per layer, with and without the first token), ``"scatter"`` (one layer:
    attention and MLP steps vs the hidden step; ``layer=`` picks it), ``"cumulative"``
    (cumulative path length of each token of the first text).
    """

    plot_kinds = ("heatmaps", "correlations", "scatter", "cumulative")

    def __init__(self, provenance: Provenance, arrays: dict[str, np.ndarray], descriptions: dict[str, str],
                 tokens: Sequence[str], texts: Sequence[str]) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.tokens = list(tokens)
        self.texts = tuple(texts)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        steps = []
        for i in range(len(self.tokens)):
            for l in self["layers"]:
                steps.append({
                    "text": int(self["text_index"][i]), "position": int(self["position"][i]),
                    "token": self.tokens[i], "layer": int(l),
                    "step_attn": float(self["step_attn"][i, l]), "step_mlp": float(self["step_mlp"][i, l]),
                    "step_hidden": float(self["step_hidden"][i, l]),
                    "cumulative_hidden": float(self["cumulative_hidden"][i, l]),
                })
        corr = []
        for l in self["layers"]:
            row: dict[str, Any] = {"layer": int(l)}
            for k in ("attn", "mlp"):
                for suffix in ("", "_no_first"):
                    for m in ("pearson", "spearman"):
                        row[f"{m}_{k}{suffix}"] = float(self[f"{m}_{k}{suffix}"][l])
                        row[f"{m}_{k}{suffix}_p"] = float(self[f"{m}_{k}{suffix}_p"][l])
            for k in STEPS:
                row[f"first_token_ratio_{k}"] = float(self[f"first_token_ratio_{k}"][l])
            corr.append(row)
        return {"steps": steps, "correlations": corr}

    def summary_lines(self) -> list[str]:
        L = len(self["layers"])
        n = len(self.tokens)
        out = [
            f"Path length of {n} tokens ({len(self.texts)} text(s)) through {L} blocks.",
            f"mean total path length: {fmt(self['path_length'].mean())}; first token: "
            f"{fmt(self['path_length'][self['position'] == 0].mean())}",
            "mean Pearson r with the hidden step, all tokens -> without the first token:",
            f"  attention: {fmt(np.nanmean(self['pearson_attn']))} -> {fmt(np.nanmean(self['pearson_attn_no_first']))}",
            f"  MLP:       {fmt(np.nanmean(self['pearson_mlp']))} -> {fmt(np.nanmean(self['pearson_mlp_no_first']))}",
            "",
            "layer  r_attn  r_attn(no 1st)  r_mlp  r_mlp(no 1st)  1st/median hidden",
        ]
        for l in range(L):
            out.append(f"{l:5d} {self['pearson_attn'][l]:7.3f} {self['pearson_attn_no_first'][l]:15.3f} "
                       f"{self['pearson_mlp'][l]:6.3f} {self['pearson_mlp_no_first'][l]:14.3f} "
                       f"{self['first_token_ratio_hidden'][l]:18.2f}")
        return out

    def _first_text(self) -> np.ndarray:
        return np.flatnonzero(self["text_index"] == 0)

    def _plot_heatmaps(self, ax: Axes | None = None, step: str | None = None) -> Figure:
        rows = self._first_text()
        labels = [self.tokens[i] for i in rows]
        titles = {"attn": "attention step", "mlp": "MLP step", "hidden": "hidden-state step"}
        if step is not None:
            if step not in STEPS:
                raise InvalidInputError(f"step must be one of {', '.join(STEPS)}, got {step!r}")
            return plotting.heatmap(self[f"step_{step}"][rows], ax=ax, ylabels=labels, xlabel="layer",
                                    ylabel="token", title=titles[step], colorbar_label="Euclidean length")
        if ax is not None:
            raise InvalidInputError("this figure has three panels: pass ax=None, or step='attn'/'mlp'/'hidden'")
        fig, axes = plotting.subplots(1, 3, figsize=(15, max(4.0, 0.22 * len(rows) + 1.5)))
        for a, k in zip(axes.ravel(), STEPS):
            plotting.heatmap(self[f"step_{k}"][rows], ax=a, ylabels=labels, xlabel="layer", ylabel="token",
                             title=titles[k], colorbar_label="Euclidean length")
        return fig

    def _plot_correlations(self, ax: Axes | None = None) -> Figure:
        a = plotting.new_axes(ax)
        x = self["layers"]
        for k, name, color in (("attn", "attention", "C0"), ("mlp", "MLP", "C1")):
            a.plot(x, self[f"pearson_{k}"], color=color, marker="o", markersize=3, label=f"{name} vs hidden")
            a.plot(x, self[f"pearson_{k}_no_first"], color=color, marker="o", markersize=3, linestyle="--",
                   label=f"{name} vs hidden, without the first token")
        from matplotlib.ticker import MaxNLocator

        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.axhline(0.0, color="0.6", linewidth=0.8)
        a.legend()
        a.set_xlabel("layer")
        a.set_ylabel("Pearson r across tokens")
        a.set_title("Which step drives the hidden state's step?")
        return a.figure  # type: ignore[return-value]

    def _plot_scatter(self, ax: Axes | None = None, layer: int | None = None) -> Figure:
        L = len(self["layers"])
        l = L // 2 if layer is None else int(layer)
        if not 0 <= l < L:
            raise InvalidInputError(f"layer {l} is out of range 0..{L - 1}")
        a = plotting.new_axes(ax)
        first = self["position"] == 0
        h = self["step_hidden"][:, l]
        for k, color in (("attn", "C0"), ("mlp", "C1")):
            s = self[f"step_{k}"][:, l]
            a.scatter(s[~first], h[~first], s=14, color=color, alpha=0.7, label=f"{k} step")
            a.scatter(s[first], h[first], s=60, color=color, marker="*", edgecolor="k", label=f"{k} step, first token")
        a.legend()
        a.set_xlabel("step of the sublayer output")
        a.set_ylabel("hidden-state step")
        a.set_title(f"Block {l}: steps across tokens")
        return a.figure  # type: ignore[return-value]

    def _plot_cumulative(self, ax: Axes | None = None) -> Figure:
        rows = self._first_text()
        series = {f"{i}: {self.tokens[r]!r}": self["cumulative_hidden"][r] for i, r in enumerate(rows)}
        fig = plotting.lines(self["layers"], series, ax=ax, xlabel="layer", ylabel="cumulative path length",
                             title="Cumulative path length per token", marker=None, legend=False)
        return fig
