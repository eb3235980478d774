"""Lesson 6: path length and logit token prediction.

Does a token whose vector travels further through the layers make a better (or worse)
prediction of the next token?  Per token this lesson measures

* the trajectory's length: the cumulative path length ``sum_{k<=l} ||h(k) - h(k-1)||``
  after every block l and its total (l = L);
* how well the model predicts the *actual* next token from this position: its natural
  log-probability, its rank among the vocabulary (1 = the most likely token) and the
  entropy of the next-token distribution (nats);

and correlates them across tokens (Pearson and Spearman, with their p-values), with and
without each text's first token (whose path is an outlier in GPT-2).  A text's last token
has no next token: it has a path length but no prediction and is left out of the
correlations.

Choices: the rank correlations use the rank as it is (Spearman is the natural reading;
Pearson of log(rank) is offered as ``log_rank``).  ``convention="hidden_states"`` (default)
includes the final LayerNorm as the last step, as Hugging Face's hidden states do; with
``"resid"`` the path ends at the raw residual stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import metrics, plotting
from ..errors import InvalidInputError
from ._base import fmt, fmt_p
from ._corpus import TokenResult, TokenStudy, title_prefix

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PathPrediction", "PathPredictionResult", "DEFAULT_TEXT", "PREDICTIONS"]

DEFAULT_TEXT = (
    "On the first cold morning of the year the baker opened his shop early, lit the oven and "
    "waited for the village to wake up."
)
#: the prediction measures, in the order of the result's arrays
PREDICTIONS = ("logprob_next", "rank_next", "log_rank", "entropy")


class PathPrediction(TokenStudy):
    """Path length vs next-token prediction.

    Args:
        model: a model name, a folder or a :class:`tokgeo.GPT2` (default ``"gpt2"``).
        text: a text or a list of texts (default :data:`DEFAULT_TEXT`).
        corpus: instead of ``text``: a UTF-8 file (one text per line) or an iterable of
            texts, run in chunks keeping only the per-token measures.
        convention, batch_size, memory_budget, progress, client, dataset_name: see
            :func:`tokgeo.studies.measure_corpus`.
    """

    default_model = "gpt2"
    default_text = DEFAULT_TEXT

    def run(self) -> PathPredictionResult:
        tab = self._measure(("step_length", "last_step_resid", "logprob_next", "rank_next", "entropy"),
                            "path length & prediction")
        L = tab.n_layer
        cum = np.cumsum(tab["step_length"], axis=1)
        raw_total = cum[:, -1] - tab["step_length"][:, -1] + tab["last_step_resid"]
        has_next = np.ones(tab.n_tokens, dtype=bool)
        last = np.r_[tab["text_index"][1:] != tab["text_index"][:-1], True]
        has_next[last] = False
        if has_next.sum() < 3:
            raise InvalidInputError("the text(s) have fewer than 3 tokens with a next token: give a longer text")
        a: dict[str, np.ndarray] = {
            "step_length": tab["step_length"], "cumulative_length": cum, "path_length": cum[:, -1].copy(),
            "path_length_resid": raw_total,
            "logprob_next": tab["logprob_next"], "rank_next": tab["rank_next"].astype(np.int64),
            "log_rank": np.where(has_next, np.log(np.maximum(tab["rank_next"], 1)), np.nan),
            "entropy": tab["entropy"], "has_next": has_next,
            "text_index": tab["text_index"], "position": tab["position"], "token_id": tab["token_id"],
            "layers": np.arange(1, L + 1),
        }
        desc = {
            "step_length": "[tokens, L] ||h(l) - h(l-1)||, Euclidean",
            "cumulative_length": "[tokens, L] path length after block l (column L-1: the total)",
            "path_length": "[tokens] total path length"
            + ("; the last step ends after the final LayerNorm ln_f (hidden_states)" if self.convention == "hidden_states" else ""),
            "path_length_resid": "[tokens] total path length of the raw residual stream (the last step without ln_f)",
            "logprob_next": "[tokens] ln p(actual next token); NaN for a text's last token",
            "rank_next": "[tokens] rank of the actual next token (1 = most likely); 0 for a text's last token",
            "log_rank": "[tokens] ln(rank_next); NaN for a text's last token",
            "entropy": "[tokens] entropy of the next-token distribution, nats",
            "has_next": "[tokens] True when the token has a next token in its text",
            "text_index": "[tokens] which text", "position": "[tokens] position in the text",
            "token_id": "[tokens] GPT-2 token id", "layers": "[L] block l",
        }
        sets = {"": has_next, "_no_first": has_next & (tab["position"] > 0)}
        for suffix, mask in sets.items():
            n = int(mask.sum())
            if n < 3:
                raise InvalidInputError("too few tokens for the correlations without the first token: give longer texts")
            for y in PREDICTIONS:
                yy = a[y][mask].astype(np.float64)
                for method, fn in (("pearson", metrics.pearson), ("spearman", metrics.spearman)):
                    c = fn(a["path_length"][mask], yy)
                    a[f"{method}_{y}{suffix}"] = np.asarray(c.statistic, dtype=np.float64)
                    a[f"{method}_{y}{suffix}_p"] = np.asarray(c.pvalue, dtype=np.float64)
                    c = fn(raw_total[mask], yy)  # the same without the ln_f step
                    a[f"{method}_{y}{suffix}_resid"] = np.asarray(c.statistic, dtype=np.float64)
                    # the cumulative length after every block vs the prediction
                    cl = fn(cum[mask], np.broadcast_to(yy[:, None], (n, L)), axis=0)
                    a[f"{method}_{y}{suffix}_by_layer"] = np.atleast_1d(cl.statistic)
                what = "all tokens with a next token" if not suffix else "without each text's first token"
                desc[f"pearson_{y}{suffix}"] = f"[] Pearson r, total path length vs {y} ({what})"
                desc[f"spearman_{y}{suffix}"] = f"[] Spearman rho, total path length vs {y} ({what})"
                desc[f"pearson_{y}{suffix}_p"] = desc[f"spearman_{y}{suffix}_p"] = "[] two-sided p-value"
                desc[f"pearson_{y}{suffix}_resid"] = f"[] Pearson r, raw residual stream's total vs {y} ({what})"
                desc[f"spearman_{y}{suffix}_resid"] = f"[] Spearman rho, raw residual stream's total vs {y} ({what})"
                desc[f"pearson_{y}{suffix}_by_layer"] = f"[L] Pearson r, cumulative length after block l vs {y} ({what})"
                desc[f"spearman_{y}{suffix}_by_layer"] = f"[L] Spearman rho, cumulative length after block l vs {y} ({what})"
        prov = self._provenance("PathPrediction", tab)
        return PathPredictionResult(prov, a, desc, self._token_labels(tab), tab.texts)


class PathPredictionResult(TokenResult):
    """Path lengths and next-token measures per token, and their correlations.

    Figures: ``"scatter"`` (total path length vs log-probability, rank and entropy; first
    tokens marked), ``"by_layer"`` (Pearson r of the cumulative length after block l),
    ``"tokens"`` (path length and log-probability along the first text).
    """

    plot_kinds = ("scatter", "by_layer", "tokens")

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        rows = self.token_rows(**{k: k for k in ("path_length", "path_length_resid", "logprob_next", "rank_next",
                                                   "entropy", "has_next")})
        corr = []
        for y in PREDICTIONS:
            for suffix, which in (("", "all"), ("_no_first", "without first token")):
                for m in ("pearson", "spearman"):
                    corr.append({"prediction": y, "tokens": which, "method": m,
                                 "statistic": float(self[f"{m}_{y}{suffix}"]), "pvalue": float(self[f"{m}_{y}{suffix}_p"]),
                                 "statistic_resid": float(self[f"{m}_{y}{suffix}_resid"]),
                                 "total_includes_ln_f": self.includes_ln_f})
        return {"tokens": rows, "correlations": corr}

    def summary_lines(self) -> list[str]:
        n = int(self["has_next"].sum())
        out = [
            f"Path length vs next-token prediction: {n} tokens with a next token in {len(self.texts)} text(s).",
            f"mean total path length {fmt(self['path_length'].mean())}; mean ln p(next) "
            f"{fmt(np.nanmean(self['logprob_next']))}; mean entropy {fmt(np.nanmean(self['entropy']))} nats",
            "",
            "total path length vs        Pearson r (p)              Spearman rho (p)      [all -> without first token]",
        ]
        for y in PREDICTIONS:
            out.append(
                f"  {y:13s} {fmt(float(self[f'pearson_{y}']))} ({fmt_p(self[f'pearson_{y}_p'])}) -> "
                f"{fmt(float(self[f'pearson_{y}_no_first']))} ({fmt_p(self[f'pearson_{y}_no_first_p'])});  "
                f"{fmt(float(self[f'spearman_{y}']))} ({fmt_p(self[f'spearman_{y}_p'])}) -> "
                f"{fmt(float(self[f'spearman_{y}_no_first']))} ({fmt_p(self[f'spearman_{y}_no_first_p'])})")
        if self.includes_ln_f:
            out += ["", *self.ln_f_note(),
                    "  Pearson r with the raw total [all -> without first token]: " + "; ".join(
                        f"{y} {fmt(float(self[f'pearson_{y}_resid']))} -> {fmt(float(self[f'pearson_{y}_no_first_resid']))}"
                        for y in PREDICTIONS)]
        return out

    def _plot_scatter(self, ax: Axes | None = None) -> Figure:
        if ax is not None:
            raise InvalidInputError("this figure has three panels: pass ax=None")
        fig, axes = plotting.subplots(1, 3, figsize=(14, 4.3))
        m = self["has_next"]
        first = m & (self["position"] == 0)
        rest = m & (self["position"] > 0)
        x = self["path_length"]
        for a, y, ylabel in ((axes[0, 0], "logprob_next", "ln p(actual next token) (nats)"),
                             (axes[0, 1], "rank_next", "rank of the next token (1 = top)"),
                             (axes[0, 2], "entropy", "next-token entropy (nats)")):
            a.scatter(x[rest], self[y][rest], s=14, alpha=0.7, color="C0", label="tokens")
            a.scatter(x[first], self[y][first], s=70, marker="*", color="C3", edgecolor="k", label="first token")
            if y == "rank_next":
                a.set_yscale("log")
            else:
                a.ticklabel_format(axis="y", useOffset=False)
            a.set_xlabel("total path length (Euclidean)" + (", last step through ln_f" if self.includes_ln_f else ""))
            a.set_ylabel(ylabel)
            a.set_title(f"r = {self[f'pearson_{y}']:.2f} (no 1st: {self[f'pearson_{y}_no_first']:.2f}), "
                        f"rho = {self[f'spearman_{y}']:.2f}", fontsize=9)
            a.legend(fontsize=8)
        fig.suptitle(f"{title_prefix(self.provenance)}: total path length (after block "
                     f"{int(self['layers'][-1])}) vs next-token prediction")
        return fig

    def _plot_by_layer(self, ax: Axes | None = None) -> Figure:
        series = {}
        for y in ("logprob_next", "entropy"):
            series[f"vs {y}"] = self[f"pearson_{y}_by_layer"]
            series[f"vs {y}, without first token"] = self[f"pearson_{y}_no_first_by_layer"]
        fig = plotting.lines(self["layers"], series, ax=ax, xlabel="block l (cumulative length after it)",
                             ylabel="Pearson r across tokens",
                             title=f"{title_prefix(self.provenance)}: cumulative path length vs prediction")
        fig.axes[0].axhline(0, color="0.6", linewidth=0.8)
        return fig

    def _plot_tokens(self, ax: Axes | None = None) -> Figure:
        rows = np.flatnonzero(self["text_index"] == 0)
        a = plotting.new_axes(ax, figsize=(max(6.4, 0.35 * len(rows) + 2), 4.8))
        pos = np.arange(len(rows))
        a.bar(pos, self["path_length"][rows], color="C0", alpha=0.7, label="total path length")
        a.set_ylabel("total path length (Euclidean)" + ("\nlast step through ln_f" if self.includes_ln_f else ""))
        a.set_xticks(pos, labels=[repr(self.tokens[r])[1:-1] for r in rows], rotation=90)
        a.set_xlabel("token (text 0)")
        b = a.twinx()
        b.plot(pos, self["logprob_next"][rows], color="C3", marker="o", markersize=3, label="ln p(next token)")
        b.set_ylabel("ln p(actual next token) (nats)")
        h1, l1 = a.get_legend_handles_labels()
        h2, l2 = b.get_legend_handles_labels()
        a.legend(h1 + h2, l1 + l2, loc="lower left", fontsize=8)
        a.set_title(f"{title_prefix(self.provenance)}: path length and prediction along the text")
        return a.figure  # type: ignore[return-value]
