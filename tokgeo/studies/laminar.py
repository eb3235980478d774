"""Lesson 5: laminar evolution of sequential angular adjustments.

Every block l adds an update ``D(l) = h(l) - h(l-1)`` to a token's hidden state.  The flow
is *laminar* when consecutive updates point the same way (small angle between ``D(l)`` and
``D(l+1)``) and *turbulent* when a block turns sharply against the previous one.  For every
token this lesson measures

* the angle between successive updates, ``angle(D(l), D(l+1))``, l = 1..L-1 (degrees);
* the angle between successive states, ``angle(h(l-1), h(l))``, l = 1..L (degrees);
* the update's length ``||D(l)||``;

draws them as token x layer heatmaps, averages them per layer with Student-t confidence
bands, and compares a group of tokens (the target word's tokens) with the rest: Welch's
t-test at every layer (the default, ``equal_var=True`` for Student's), Cohen's d, and Holm's
correction across layers.  A *sharp turn* is an update angle above ``sharp_deg`` (default
90 degrees: the next update has a component pointing back against the previous one); the
fraction of sharp turns per layer and group says where the flow stops being laminar.

Choices: the target word is matched as a whole word (case-sensitive, regex ``\\b``); every
GPT-2 token whose characters lie inside a match belongs to the group (a word split into
several tokens contributes them all).  ``convention="hidden_states"`` (default) puts
Hugging Face's final LayerNorm in the last step; ``"resid"`` keeps the raw residual stream.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import metrics, plotting
from ..errors import InvalidInputError, InvalidTypeError
from ._base import fmt, fmt_p
from ._corpus import TokenResult, TokenStudy, title_prefix
from ._stats import holm, mean_ci

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Laminar", "LaminarResult", "DEFAULT_TEXT", "token_group"]

#: the lesson's default text (written for tokgeo): the target "her" three times, and "Her" and
#: "hers", which are other words under the whole-word, case-sensitive match
DEFAULT_TEXT = (
    "Her brother said that the letter was hers, but her mother kept it in her drawer until "
    "her aunt came home from the station and read it aloud to the whole family."
)


def token_group(texts: Sequence[str], text_index: np.ndarray, start: np.ndarray, end: np.ndarray,
                words: Sequence[str], case_sensitive: bool = True) -> np.ndarray:
    """[tokens] bool: the token's span (leading spaces ignored) lies inside a whole-word
    match of one of ``words`` (case-sensitive unless ``case_sensitive=False``)."""
    flags = 0 if case_sensitive else re.IGNORECASE
    pats = [re.compile(r"(?<!\w)" + re.escape(w.strip()) + r"(?!\w)", flags) for w in words]
    spans: list[list[tuple[int, int]]] = []
    for t in texts:
        spans.append([(m.start(), m.end()) for p in pats for m in p.finditer(t)])
    out = np.zeros(len(text_index), dtype=bool)
    for k, (i, a, b) in enumerate(zip(text_index, start, end)):
        text = texts[int(i)]
        a = int(a)
        while a < int(b) and text[a].isspace():
            a += 1
        out[k] = any(s <= a and int(b) <= e for s, e in spans[int(i)]) and a < int(b)
    return out


class Laminar(TokenStudy):
    """Angles between successive updates and states, token by token.

    Args:
        model: a model name, a folder or a :class:`tokgeo.GPT2` (default ``"gpt2"``).
        text: a text or a list of texts (default :data:`DEFAULT_TEXT`); the heatmaps show
            the first text, the statistics pool every token.
        corpus: instead of ``text``: a UTF-8 file (one text per line) or an iterable of
            texts, run in chunks keeping only the per-token angles.
        target: the group's word (a str) or words (a list), default ``"her"``, matched as
            whole words.
        case_sensitive: False also counts the words with other capitals (``"Her"``).
        sharp_deg: the update angle above which a turn counts as sharp (degrees).
        equal_var: False (default) for Welch's t-test, True for Student's.
        convention, batch_size, memory_budget, progress, client, dataset_name: see
            :func:`tokgeo.studies.measure_corpus`.
    """

    default_model = "gpt2"
    default_text = DEFAULT_TEXT

    def __init__(self, model: Any = None, text: str | Sequence[str] | None = None, *, corpus: Any = None,
                 target: str | Sequence[str] = "her", case_sensitive: bool = True, sharp_deg: float = 90.0,
                 equal_var: bool = False,
                 convention: str = "hidden_states", batch_size: int | None = None,
                 memory_budget: int | None = None, progress: bool | None = None, client: Any = None,
                 dataset_name: str | None = None) -> None:
        super().__init__(model, text, corpus=corpus, convention=convention, batch_size=batch_size,
                         memory_budget=memory_budget, progress=progress, client=client, dataset_name=dataset_name)
        words = [target] if isinstance(target, str) else list(target)
        if not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise InvalidTypeError("target must be a word or a list of words (non-empty strings)")
        self.target = [w.strip() for w in words]
        self.case_sensitive = bool(case_sensitive)
        if not 0.0 < float(sharp_deg) < 180.0:
            raise InvalidInputError(f"sharp_deg must be between 0 and 180 degrees, got {sharp_deg!r}")
        self.sharp_deg = float(sharp_deg)
        self.equal_var = bool(equal_var)

    def run(self) -> LaminarResult:
        tab = self._measure(("update_angle", "state_angle", "update_norm"), "laminar flow")
        L = tab.n_layer
        group = token_group(tab.texts, tab["text_index"], tab["start"], tab["end"], self.target, self.case_sensitive)
        if not group.any():
            how = "give a target word that occurs in the text"
            if self.case_sensitive and token_group(tab.texts, tab["text_index"], tab["start"], tab["end"],
                                                   self.target, False).any():
                how = ("it occurs with other capitals: pass case_sensitive=False "
                       "(--ignore-case on the command line)")
            raise InvalidInputError(f"no token of the text(s) belongs to the target {self.target!r} (whole words, "
                                    f"{'case-sensitive' if self.case_sensitive else 'any case'}): {how}")
        if group.all():
            raise InvalidInputError("every token belongs to the target group: nothing to compare it with")
        a: dict[str, np.ndarray] = {
            "update_angle": tab["update_angle"], "state_angle": tab["state_angle"],
            "update_norm": tab["update_norm"], "in_group": group,
            "text_index": tab["text_index"], "position": tab["position"], "token_id": tab["token_id"],
            "update_layers": np.arange(1, L), "state_layers": np.arange(1, L + 1),
        }
        desc = {
            "update_angle": "[tokens, L-1] angle between D(l) and D(l+1) in degrees; column k is l = k+1",
            "state_angle": "[tokens, L] angle between h(l-1) and h(l) in degrees; column k is l = k+1",
            "update_norm": "[tokens, L] ||D(l)|| = ||h(l) - h(l-1)||, Euclidean length",
            "in_group": "[tokens] True for the target word's tokens",
            "text_index": "[tokens] which text", "position": "[tokens] position in the text",
            "token_id": "[tokens] GPT-2 token id",
            "update_layers": "[L-1] l of the pair (D(l), D(l+1))", "state_layers": "[L] l of the pair (h(l-1), h(l))",
        }
        for kind in ("update", "state"):
            x = a[f"{kind}_angle"]
            for g, mask in (("group", group), ("rest", ~group)):
                m, lo, hi = mean_ci(x[mask], axis=0)
                a[f"mean_{kind}_{g}"], a[f"ci_low_{kind}_{g}"], a[f"ci_high_{kind}_{g}"] = m, lo, hi
                desc[f"mean_{kind}_{g}"] = f"[layers] mean {kind} angle of the {'target' if g == 'group' else 'other'} tokens, degrees"
                desc[f"ci_low_{kind}_{g}"] = "[layers] 95% Student-t confidence band, low"
                desc[f"ci_high_{kind}_{g}"] = "[layers] 95% Student-t confidence band, high"
            tt = metrics.ttest_ind(x[group], x[~group], axis=0, equal_var=self.equal_var)
            a[f"t_{kind}"] = np.atleast_1d(tt.statistic)
            a[f"p_{kind}"] = np.atleast_1d(tt.pvalue)
            a[f"df_{kind}"] = np.atleast_1d(tt.df)
            a[f"d_{kind}"] = np.atleast_1d(tt.cohen_d)
            a[f"p_holm_{kind}"] = holm(a[f"p_{kind}"])
            test = "Student" if self.equal_var else "Welch"
            desc[f"t_{kind}"] = f"[layers] {test} t, target vs rest"
            desc[f"p_{kind}"] = "[layers] two-sided p-value"
            desc[f"df_{kind}"] = "[layers] degrees of freedom"
            desc[f"d_{kind}"] = "[layers] Cohen's d (target - rest)"
            desc[f"p_holm_{kind}"] = "[layers] Holm-adjusted p-value across layers"
        sharp = a["update_angle"] > self.sharp_deg
        a["sharp_group"] = sharp[group].mean(axis=0)
        a["sharp_rest"] = sharp[~group].mean(axis=0)
        desc["sharp_group"] = f"[L-1] fraction of target tokens whose update angle exceeds {self.sharp_deg:g} degrees"
        desc["sharp_rest"] = f"[L-1] the same for the other tokens"
        prov = self._provenance("Laminar", tab, target=" ".join(self.target), parameters={
            "sharp_deg": self.sharp_deg, "test": "Student" if self.equal_var else "Welch",
            "case_sensitive": self.case_sensitive, "correction": "Holm across layers"})
        return LaminarResult(prov, a, desc, self._token_labels(tab), tab.texts, self.sharp_deg)


class LaminarResult(TokenResult):
    """Angles per token and layer, per-layer means with bands, t-tests target vs rest.

    Figures: ``"heatmap"`` (update and state angles, tokens x layers of the first text),
    ``"means"`` (per-layer means with 95% bands, target vs rest, both angles),
    ``"sharp"`` (fraction of sharp turns per layer), ``"ttest"`` (t per layer, Holm-significant
    layers marked).
    """

    plot_kinds = ("heatmap", "means", "sharp", "ttest")

    def __init__(self, provenance: Any, arrays: dict[str, np.ndarray], descriptions: dict[str, str],
                 tokens: Sequence[str], texts: Sequence[str], sharp_deg: float) -> None:
        super().__init__(provenance, arrays, descriptions, tokens, texts)
        self.sharp_deg = sharp_deg

    @property
    def _model(self) -> str:
        return title_prefix(self.provenance)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        tokens = self.token_rows(in_group="in_group")
        L1 = self["update_angle"].shape[1]
        for i, row in enumerate(tokens):
            for k in range(L1 + 1):
                row[f"state_angle_{k + 1}"] = float(self["state_angle"][i, k])
            for k in range(L1):
                row[f"update_angle_{k + 1}_{k + 2}"] = float(self["update_angle"][i, k])
        layers = []
        for kind in ("update", "state"):
            for k, l in enumerate(self[f"{kind}_layers"]):
                r: dict[str, Any] = {"angle": kind, "layer": int(l)}
                for key in ("mean_{}_group", "ci_low_{}_group", "ci_high_{}_group", "mean_{}_rest",
                            "ci_low_{}_rest", "ci_high_{}_rest", "t_{}", "df_{}", "p_{}", "p_holm_{}", "d_{}"):
                    r[key.format("").replace("__", "_").strip("_")] = float(self[key.format(kind)][k])
                r["sharp_group"] = float(self["sharp_group"][k]) if kind == "update" else float("nan")
                r["sharp_rest"] = float(self["sharp_rest"][k]) if kind == "update" else float("nan")
                layers.append(r)
        return {"tokens": tokens, "layers": layers}

    def summary_lines(self) -> list[str]:
        g = self["in_group"]
        test = self.provenance.parameters.get("test", "Welch")
        out = [
            f"Laminar flow: {len(self.tokens)} tokens ({int(g.sum())} target, {int((~g).sum())} other) "
            f"in {len(self.texts)} text(s).",
            f"mean angle between successive updates: target {fmt(np.nanmean(self['update_angle'][g]))} deg, "
            f"rest {fmt(np.nanmean(self['update_angle'][~g]))} deg",
            f"mean angle between successive states: target {fmt(np.nanmean(self['state_angle'][g]))} deg, "
            f"rest {fmt(np.nanmean(self['state_angle'][~g]))} deg",
            f"sharp turns (update angle > {self.sharp_deg:g} deg): target {fmt(float(np.mean(self['sharp_group'])))}, "
            f"rest {fmt(float(np.mean(self['sharp_rest'])))} (fraction, mean over layers)",
            f"{test}'s t-test per layer, target vs rest; Holm correction across layers; "
            "d = Cohen's d (target - rest, in pooled SDs).",
            "",
            "update angle D(l) vs D(l+1), mean degrees" + (" (* = D(L) is the step through ln_f)" if self.includes_ln_f else "") + ":",
            "    l  target    rest       t      p_holm      d",
        ]
        for k, l in enumerate(self["update_layers"]):
            out.append(f"{l:5d} {self['mean_update_group'][k]:7.2f} {self['mean_update_rest'][k]:7.2f} "
                       f"{self['t_update'][k]:7.3f} {fmt_p(self['p_holm_update'][k]):>10} {self['d_update'][k]:6.3f}"
                       + (" *" if self.includes_ln_f and k == len(self["update_layers"]) - 1 else ""))
        return out

    def _first(self) -> np.ndarray:
        return np.flatnonzero(self["text_index"] == 0)

    def _plot_heatmap(self, ax: Axes | None = None) -> Figure:
        if ax is not None:
            raise InvalidInputError("this figure has two panels: pass ax=None")
        rows = self._first()
        labels = [("* " if self["in_group"][r] else "") + repr(self.tokens[r])[1:-1] for r in rows]
        fig, axes = plotting.subplots(1, 2, figsize=(12, max(4.0, 0.22 * len(rows) + 2.0)))
        vmax = 180.0
        plotting.heatmap(self["update_angle"][rows], ax=axes[0, 0], ylabels=labels,
                         xlabels=[f"{l}-{l + 1}" for l in self["update_layers"]], xlabel="blocks l, l+1",
                         ylabel="token (* target)", title="angle(D(l), D(l+1))", vmin=0, vmax=vmax,
                         colorbar_label="degrees")
        plotting.heatmap(self["state_angle"][rows], ax=axes[0, 1], ylabels=labels,
                         xlabels=[str(l) for l in self["state_layers"]], xlabel="block l",
                         ylabel="token (* target)", title="angle(h(l-1), h(l))", vmin=0, vmax=vmax,
                         colorbar_label="degrees")
        fig.suptitle(f"{self._model}: angular adjustments per token and layer (text 0)")
        return fig

    def _plot_means(self, ax: Axes | None = None) -> Figure:
        if ax is not None:
            raise InvalidInputError("this figure has two panels: pass ax=None")
        fig, axes = plotting.subplots(1, 2, figsize=(11, 4.2))
        target = self.provenance.target
        for a, kind, title in ((axes[0, 0], "update", "between successive updates D(l), D(l+1)"),
                               (axes[0, 1], "state", "between successive states h(l-1), h(l)")):
            x = self[f"{kind}_layers"]
            series = {f"target {target!r}": self[f"mean_{kind}_group"], "other tokens": self[f"mean_{kind}_rest"]}
            bands = {f"target {target!r}": (self[f"ci_low_{kind}_group"], self[f"ci_high_{kind}_group"]),
                     "other tokens": (self[f"ci_low_{kind}_rest"], self[f"ci_high_{kind}_rest"])}
            plotting.lines(x, series, bands=bands, ax=a, xlabel="layer l", ylabel="mean angle (degrees, 95% CI)",
                           title=title)
        fig.suptitle(f"{self._model}: per-layer mean angles, target vs rest")
        return fig

    def _plot_sharp(self, ax: Axes | None = None) -> Figure:
        x = self["update_layers"]
        fig = plotting.lines(x, {"target": self["sharp_group"], "other tokens": self["sharp_rest"]}, ax=ax,
                             xlabel="layer l (turn between D(l) and D(l+1))", ylabel="fraction of tokens",
                             title=f"{self._model}: sharp turns (update angle > {self.sharp_deg:g} deg)")
        fig.axes[0].set_ylim(-0.03, 1.03)
        return fig

    def _plot_ttest(self, ax: Axes | None = None) -> Figure:
        a = plotting.new_axes(ax)
        for kind, color in (("update", "C0"), ("state", "C1")):
            x, t = self[f"{kind}_layers"], self[f"t_{kind}"]
            a.plot(x, t, marker="o", markersize=3, color=color, label=f"{kind} angle")
            sig = self[f"p_holm_{kind}"] < 0.05
            if sig.any():
                a.scatter(x[sig], t[sig], s=60, facecolor="none", edgecolor=color,
                          label=f"{kind}: Holm p < 0.05")
        from matplotlib.ticker import MaxNLocator

        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.axhline(0, color="0.6", linewidth=0.8)
        a.legend()
        a.set_xlabel("layer l")
        a.set_ylabel(f"{self.provenance.parameters.get('test', 'Welch')} t (target - rest)")
        a.set_title(f"{self._model}: target vs rest per layer")
        return a.figure  # type: ignore[return-value]
