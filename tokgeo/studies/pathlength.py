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
from ._base import Provenance, StudyResult, check_convention, fmt, plural, short_model
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
        lnf = self.convention == "hidden_states"
        last = f"blocks.{L - 1}.hook_resid_post"
        if lnf and last not in capture:
            capture.append(last)  # the raw last step, to show beside the one through ln_f
        for rows, cache in self._chunks(ids, capture, "path length"):
            # whole chunk at once, in C on the float32 views: [L, b, T] each
            attn = np.asarray(metrics.norm(cache.stack("attn_out"), axis=-1), dtype=np.float64)
            mlp = np.asarray(metrics.norm(cache.stack("mlp_out"), axis=-1), dtype=np.float64)
            hid = metrics.path_length(hidden(cache, self.convention), axis=0, vector_axis=-1)
            if lnf:  # ||resid_post(L-1) - resid_pre(L-1)||, resid_pre(L-1) being hidden_states[L-1]
                hs = cache.hidden_states
                raw_last = np.asarray(metrics.norm(np.asarray(cache[last], dtype=np.float64) - hs[L - 1], axis=-1))
            else:
                raw_last = hid[L - 1]
            for j, r in enumerate(rows):
                T = len(ids[r])
                per_text[r] = {"attn": attn[:, j, :T].T, "mlp": mlp[:, j, :T].T, "hidden": hid[:, j, :T].T,
                               "raw_last": np.asarray(raw_last[j, :T], dtype=np.float64)}
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
        # the raw residual stream's steps: the same except the last, which skips ln_f
        raw = arrays["step_hidden"].copy()
        raw[:, -1] = np.concatenate([p["raw_last"] for p in per_text])  # type: ignore[index]
        arrays["step_resid"] = raw
        arrays["cumulative_resid"] = np.cumsum(raw, axis=1)
        arrays["path_length_resid"] = arrays["cumulative_resid"][:, -1].copy()
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
            "step_resid": "[tokens, L] the raw residual stream's steps (as step_hidden, but the last step without ln_f)",
            "cumulative_resid": "[tokens, L] running sum of step_resid",
            "path_length_resid": "[tokens] total path length of the raw residual stream (no ln_f)",
        }
        if lnf:
            desc["step_hidden"] += "; the last block's step ends after the final LayerNorm ln_f (a rescaling)"
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

    def key_stats(self) -> list[tuple[str, str]]:
        out = [("tokens", str(len(self.tokens))), ("mean path length", fmt(self["path_length"].mean()))]
        if self.includes_ln_f:
            out.append(("mean path length without ln_f (resid)", fmt(self["path_length_resid"].mean())))
        return out

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        steps = []
        L = len(self["layers"])
        for i in range(len(self.tokens)):
            for l in self["layers"]:
                steps.append({
                    "text": int(self["text_index"][i]), "position": int(self["position"][i]),
                    "token": self.tokens[i], "layer": int(l),
                    "step_attn": float(self["step_attn"][i, l]), "step_mlp": float(self["step_mlp"][i, l]),
                    "step_hidden": float(self["step_hidden"][i, l]),
                    "step_includes_ln_f": bool(self.includes_ln_f and l == L - 1),
                    "step_resid": float(self["step_resid"][i, l]),
                    "cumulative_hidden": float(self["cumulative_hidden"][i, l]),
                    "cumulative_resid": float(self["cumulative_resid"][i, l]),
                })
        corr = []
        for l in self["layers"]:
            row: dict[str, Any] = {"layer": int(l), "hidden_step_includes_ln_f": bool(self.includes_ln_f and l == L - 1)}
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
        first = self["position"] == 0
        out = [
            f"Path length of {plural(n, 'token')} ({plural(len(self.texts), 'text')}) through {L} blocks.",
            f"mean total path length: {fmt(self['path_length'].mean())}; first token: "
            f"{fmt(self['path_length'][first].mean())}",
        ]
        if self.includes_ln_f:
            sh, sr = self["step_hidden"], self["step_resid"]
            rest = float(np.mean(sh[:, :-1])) if L > 1 else float("nan")
            out += [
                f"NOTE: convention hidden_states: the last step (block {L - 1}) ends after the final LayerNorm ln_f,",
                f"  a rescaling: mean last step {fmt(sh[:, -1].mean())} vs {fmt(rest)} for the other steps; it",
                "  dominates totals. The same without ln_f (raw residual stream, convention resid), beside it:",
                f"  mean last step {fmt(sr[:, -1].mean())}; mean total path length {fmt(self['path_length_resid'].mean())}; "
                f"first token {fmt(self['path_length_resid'][first].mean())}",
                "  (CSV: step_includes_ln_f marks that step, step_resid / cumulative_resid give the raw numbers.)",
            ]
        out += [
            "mean Pearson r with the hidden step, all tokens -> without the first token:",
            f"  attention: {fmt(np.nanmean(self['pearson_attn']))} -> {fmt(np.nanmean(self['pearson_attn_no_first']))}",
            f"  MLP:       {fmt(np.nanmean(self['pearson_mlp']))} -> {fmt(np.nanmean(self['pearson_mlp_no_first']))}",
            "",
            "columns: r_attn / r_mlp = Pearson r across tokens of the attention / MLP step with the hidden step;",
            "(no 1st) = the same without each text's first token; 1st/median hidden = the first token's",
            "hidden step divided by the median hidden step of the other tokens"
            + ("; * = the step through ln_f" if self.includes_ln_f else ""),
            "",
            "layer  r_attn  r_attn(no 1st)  r_mlp  r_mlp(no 1st)  1st/median hidden",
        ]
        for l in range(L):
            out.append(f"{l:5d} {self['pearson_attn'][l]:7.3f} {self['pearson_attn_no_first'][l]:15.3f} "
                       f"{self['pearson_mlp'][l]:6.3f} {self['pearson_mlp_no_first'][l]:14.3f} "
                       f"{self['first_token_ratio_hidden'][l]:18.2f}"
                       + (" *" if self.includes_ln_f and l == L - 1 else ""))
        return out

    def _first_text(self) -> np.ndarray:
        return np.flatnonzero(self["text_index"] == 0)

    def _plot_heatmaps(self, ax: Axes | None = None, step: str | None = None) -> Figure:
        """Attention and MLP steps share one colour scale (they are compared); the hidden
        step has its own, set without the step through ln_f (hidden_states convention),
        whose cells are drawn over the top of the scale (arrow on the colour bar)."""
        rows = self._first_text()
        labels = [self.tokens[i] for i in rows]
        model = short_model(self.provenance.model)
        lnf = self.includes_ln_f
        titles = {"attn": "attention step", "mlp": "MLP step",
                  "hidden": "hidden-state step" + (" (last: through ln_f, off scale)" if lnf else "")}
        shared = np.concatenate([self["step_attn"][rows].ravel(), self["step_mlp"][rows].ravel()])
        lim = {"attn": float(np.nanmax(shared)), "mlp": float(np.nanmax(shared))}
        hid = self["step_hidden"][rows]
        lim["hidden"] = float(np.nanmax(hid[:, :-1] if lnf and hid.shape[1] > 1 else hid))

        def one(a: Any, k: str, colorbar: bool) -> Any:
            plotting.heatmap(self[f"step_{k}"][rows], ax=a, ylabels=labels, xlabel="layer", ylabel="token",
                             title=titles[k], vmin=0.0, vmax=lim[k], colorbar=False)
            return a.get_images()[0]

        if step is not None:
            if step not in STEPS:
                raise InvalidInputError(f"step must be one of {', '.join(STEPS)}, got {step!r}")
            a = plotting.new_axes(ax, figsize=(7.0, max(4.0, 0.22 * len(rows) + 1.5)))
            im = one(a, step, True)
            cb = a.figure.colorbar(im, ax=a, extend="max" if step == "hidden" and lnf else "neither")
            cb.set_label("Euclidean length")
            a.set_title(f"{titles[step]} ({model})")
            return a.figure  # type: ignore[return-value]
        if ax is not None:
            raise InvalidInputError("this figure has three panels: pass ax=None, or step='attn'/'mlp'/'hidden'")
        fig, axes = plotting.subplots(1, 3, figsize=(13, max(4.0, 0.22 * len(rows) + 1.5)))
        ims = {k: one(a, k, False) for a, k in zip(axes.ravel(), STEPS)}
        cb = fig.colorbar(ims["mlp"], ax=list(axes.ravel()[:2]))
        cb.set_label("Euclidean length (attention and MLP: one shared scale)")
        cb2 = fig.colorbar(ims["hidden"], ax=axes.ravel()[2], extend="max" if lnf else "neither")
        cb2.set_label("Euclidean length" + (" (scale without the ln_f step)" if lnf else ""))
        fig.suptitle(f"Step lengths per token and block ({model})")
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
        if self.includes_ln_f:  # the last hidden step is a LayerNorm rescaling, not the block's update alone
            last = int(x[-1])
            a.axvspan(last - 0.4, last + 0.4, color="0.88", zorder=0,
                      label=f"block {last}: the hidden step goes through ln_f")
        a.legend()
        a.set_xlabel("layer")
        a.set_ylabel("Pearson r across tokens")
        a.set_title(f"Which step drives the hidden state's step? ({short_model(self.provenance.model)})")
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
        a.set_title(f"Block {l}: steps across tokens ({short_model(self.provenance.model)})"
                    + ("; the hidden step goes through ln_f" if self.includes_ln_f and l == L - 1 else ""))
        return a.figure  # type: ignore[return-value]

    def _plot_cumulative(self, ax: Axes | None = None, ln_f: bool = False) -> Figure:
        """Cumulative path length of each token of the first text, coloured by position
        (colour bar).  Under hidden_states the last step through ln_f is left out by
        default (it would dwarf the others: the raw residual stream's last step is used);
        ``ln_f=True`` draws the hidden_states totals."""
        rows = self._first_text()
        a = plotting.new_axes(ax, figsize=(7.5, 5.0))
        cum = self["cumulative_hidden"] if (ln_f or not self.includes_ln_f) else self["cumulative_resid"]
        import matplotlib as mpl

        x = self["layers"]
        cmap = mpl.colormaps["viridis"]
        norm = mpl.colors.Normalize(vmin=0, vmax=max(len(rows) - 1, 1))
        for i, r in enumerate(rows):
            a.plot(x, cum[r], color=cmap(norm(i)), linewidth=1.2, label=f"{i}: {self.tokens[r]!r}")
        top = rows[np.argmax(cum[rows, -1])]
        a.annotate(f"{self.tokens[top]!r} (position {int(self['position'][top])})", (x[-1], cum[top, -1]),
                   xytext=(-4, 0), textcoords="offset points", ha="right", va="bottom", fontsize=8)
        sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
        cb = a.figure.colorbar(sm, ax=a)
        cb.set_label("token position in the text")
        from matplotlib.ticker import MaxNLocator

        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.set_xlabel("block")
        a.set_ylabel("cumulative path length (Euclidean)")
        what = ""
        if self.includes_ln_f:
            what = "; with the ln_f step" if ln_f else "; last step without ln_f (raw residual stream)"
        a.set_title(f"Cumulative path length per token ({short_model(self.provenance.model)}{what})", fontsize=10)
        return a.figure  # type: ignore[return-value]
