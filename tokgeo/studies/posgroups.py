"""Lesson 9 (code challenge, parts 1 and 2): do nouns or adjectives have longer trajectories?

Over a corpus of sentences, every GPT-2 token gets the part of speech of its word
(:mod:`tokgeo.studies.pos`: spaCy, or tags the user gives, aligned through character
offsets) and its trajectory's step lengths ``||h(l) - h(l-1)||`` (l = 1..L) and total path
length.  The lesson compares two groups (default NOUN vs ADJ):

* the total path length and every layer's step, with a two-sample t-test per comparison:
  **Welch's** (unequal variances) by default, ``equal_var=True`` for Student's;
* effect sizes: Cohen's d (mean difference over ``sqrt((v1 + v2) / 2)`` for Welch, the
  pooled SD for Student);
* 95% Student-t confidence bands of each group's mean per layer;
* a correction for testing L layers: **Holm's** step-down (default; controls the
  family-wise error rate, uniformly more powerful than Bonferroni) or ``"bonferroni"``;
* the same summary (n, mean, CI) for every tag present.

Choices: the unit is the GPT-2 token (a word split into several tokens contributes each of
them); ``unit="word"`` averages each word's tokens first, so every word counts once.  The
default sentence set (:func:`tokgeo.studies.pos.default_pos_sentences`, 46 sentences
written for tokgeo with hand-made tags) has nouns and adjectives in every sentence.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import metrics, plotting
from ..errors import InvalidInputError
from ._base import StudyResult, fmt, fmt_p
from ._corpus import TokenStudy, read_corpus, title_prefix
from ._stats import bonferroni, holm, mean_ci
from .pos import UPOS_TAGS, _check_tag, default_pos_sentences, tag_texts, token_tags

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["NounsAdjectives", "NounsAdjectivesResult"]


class NounsAdjectives(TokenStudy):
    """Path length per token grouped by part of speech.

    Args:
        model: a model name, a folder or a :class:`tokgeo.GPT2` (default ``"gpt2"``).
        sentences: a list of sentences, or the path of a UTF-8 file (one per line); default:
            the shipped set with its own tags.
        tags: one list of tags per sentence (see :mod:`tokgeo.studies.pos`); None tags with
            spaCy (``nlp`` or ``spacy.load(spacy_model)``) unless the default set is used.
        groups: the two tags to compare (default ``("NOUN", "ADJ")``).
        unit: ``"token"`` (default) or ``"word"`` (mean over a word's tokens).
        equal_var: False (default): Welch's t-test; True: Student's.
        correction: ``"holm"`` (default) or ``"bonferroni"`` across layers.
        strict: every sentence must contain both groups (default True; False keeps
            sentences that lack one).
        convention, batch_size, memory_budget, progress, client, dataset_name: see
            :func:`tokgeo.studies.measure_corpus`.
    """

    default_model = "gpt2"

    def __init__(self, model: Any = None, sentences: Any = None, *, tags: Sequence[Sequence[Any]] | None = None,
                 nlp: Any = None, spacy_model: str = "en_core_web_sm", groups: tuple[str, str] = ("NOUN", "ADJ"),
                 unit: str = "token", equal_var: bool = False, correction: str = "holm", strict: bool = True,
                 convention: str = "hidden_states", batch_size: int | None = None, memory_budget: int | None = None,
                 progress: bool | None = None, client: Any = None, dataset_name: str | None = None) -> None:
        if sentences is None:
            texts, default_tags = default_pos_sentences()
            self._default_tags = tags is None and nlp is None
            if tags is None and nlp is None:
                tags = default_tags
            name = dataset_name or "tokgeo.studies.pos.default_pos_sentences"
        else:
            self._default_tags = False
            name = dataset_name or "user sentences"
            if isinstance(sentences, os.PathLike) or (isinstance(sentences, str) and os.path.isfile(sentences)):
                texts = list(read_corpus(sentences))  # a UTF-8 file, one sentence per line
                name = dataset_name or os.path.basename(os.fspath(sentences))
            elif isinstance(sentences, str):
                texts = list(read_corpus([sentences], name="sentences"))
            else:
                texts = list(read_corpus(sentences, name="sentences"))
            if not texts:
                raise InvalidInputError("the corpus is empty: give at least one sentence")
        super().__init__(model, texts, convention=convention, batch_size=batch_size, memory_budget=memory_budget,
                         progress=progress, client=client, dataset_name=name)
        if isinstance(groups, str) or len(groups) != 2:
            raise InvalidInputError(f"groups must be two POS tags, e.g. ('NOUN', 'ADJ'), got {groups!r}")
        self.groups = tuple(_check_tag(g, "groups") for g in groups)
        if self.groups[0] == self.groups[1]:
            raise InvalidInputError("the two groups must be different tags")
        if unit not in ("token", "word"):
            raise InvalidInputError(f"unit must be 'token' or 'word', got {unit!r}")
        if correction not in ("holm", "bonferroni"):
            raise InvalidInputError(f"correction must be 'holm' or 'bonferroni', got {correction!r}")
        self.texts = texts
        self.unit, self.equal_var, self.correction, self.strict = unit, bool(equal_var), correction, bool(strict)
        self.tags, self.nlp, self.spacy_model = tags, nlp, spacy_model
        self._tagged = tag_texts(texts, tags=tags) if tags is not None else None  # user tags checked now
        if self._tagged is not None:
            self._check_groups(self._tagged)

    def _check_groups(self, tagged: Sequence[Any]) -> None:
        if not self.strict:
            return
        for i, tg in enumerate(tagged):
            missing = [g for g in self.groups if g not in tg.pos]
            if missing:
                raise InvalidInputError(
                    f"sentence [{i}] {tg.text!r} has no {' and no '.join(missing)} word: every sentence must contain "
                    f"both {self.groups[0]} and {self.groups[1]} (pass strict=False, --lenient on the command line, to keep it)"
                )

    def run(self) -> NounsAdjectivesResult:
        tagged = self._tagged
        if tagged is None:
            tagged = tag_texts(self.texts, nlp=self.nlp, spacy_model=self.spacy_model)
            self._check_groups(tagged)
        tab = self._measure(("step_length", "last_step_resid"), "path length by POS")
        L = tab.n_layer
        pos_parts, word_parts = [], []
        for i, tg in enumerate(tagged):
            r = tab.rows(i)
            spans = np.stack([tab["start"][r], tab["end"][r]], axis=1)
            p, w, _ = token_tags(tg, spans)
            pos_parts.append(p.astype(str))
            word_parts.append(w)
        pos = np.concatenate(pos_parts)
        word = np.concatenate(word_parts)
        steps = tab["step_length"]
        raw_last = tab["last_step_resid"]  # the last step without ln_f (hidden_states)
        text_index = tab["text_index"]
        if self.unit == "word":
            keys = [(int(t), int(w)) for t, w in zip(text_index, word)]
            uniq: dict[tuple[int, int], list[int]] = {}
            for k, key in enumerate(keys):
                if key[1] >= 0:
                    uniq.setdefault(key, []).append(k)
            idx = list(uniq.values())
            steps = np.stack([steps[ix].mean(axis=0) for ix in idx])
            raw_last = np.array([raw_last[ix].mean() for ix in idx])
            pos = np.array([pos[ix[0]] for ix in idx], dtype=str)
            text_index = np.array([text_index[ix[0]] for ix in idx])
            word = np.array([word[ix[0]] for ix in idx])
        total = steps.sum(axis=1)
        raw_total = total - steps[:, -1] + raw_last
        cum = np.cumsum(steps, axis=1)
        ga, gb = self.groups
        ma, mb = pos == ga, pos == gb
        for g, m in ((ga, ma), (gb, mb)):
            if m.sum() < 2:
                raise InvalidInputError(f"the sentences hold {int(m.sum())} {g} {self.unit}(s): at least 2 are needed "
                                        "for a t-test; give more sentences")
        a: dict[str, np.ndarray] = {"step_length": steps, "cumulative_length": cum, "path_length": total,
                                    "path_length_resid": raw_total,
                                    "pos": pos, "text_index": text_index, "word_index": word,
                                    "layers": np.arange(1, L + 1), "groups": np.array(self.groups, dtype=str)}
        u = self.unit
        desc = {"step_length": f"[{u}s, L] ||h(l) - h(l-1)||, Euclidean", "cumulative_length": f"[{u}s, L] path length after block l",
                "path_length": f"[{u}s] total path length"
                + ("; the last step ends after the final LayerNorm ln_f (hidden_states)" if self.convention == "hidden_states" else ""),
                "path_length_resid": f"[{u}s] total path length of the raw residual stream (last step without ln_f)",
                "pos": f"[{u}s] universal POS tag",
                "text_index": f"[{u}s] which sentence", "word_index": f"[{u}s] word in its sentence (-1/-2: none)",
                "layers": "[L] block l", "groups": "[2] the compared tags"}
        for g, m in (("a", ma), ("b", mb)):
            mean, lo, hi = mean_ci(steps[m], axis=0)
            a[f"mean_{g}"], a[f"ci_low_{g}"], a[f"ci_high_{g}"] = mean, lo, hi
            tag = self.groups[0 if g == "a" else 1]
            desc[f"mean_{g}"] = f"[L] mean step of the {tag} {u}s"
            desc[f"ci_low_{g}"] = desc[f"ci_high_{g}"] = "[L] 95% Student-t confidence band"
        tt = metrics.ttest_ind(steps[ma], steps[mb], axis=0, equal_var=self.equal_var)
        a["t"], a["p"], a["df"], a["d"] = (np.atleast_1d(x) for x in (tt.statistic, tt.pvalue, tt.df, tt.cohen_d))
        a["p_adjusted"] = holm(a["p"]) if self.correction == "holm" else bonferroni(a["p"])
        test = "Student" if self.equal_var else "Welch"
        desc.update({"t": f"[L] {test} t per layer ({ga} - {gb})", "p": "[L] two-sided p-value",
                     "df": "[L] degrees of freedom", "d": f"[L] Cohen's d ({ga} - {gb})",
                     "p_adjusted": f"[L] {self.correction.capitalize()}-adjusted p-value across the L layers"})
        tot = metrics.ttest_ind(total[ma], total[mb], equal_var=self.equal_var)
        a["total_t"], a["total_p"], a["total_df"], a["total_d"] = (np.asarray(x, dtype=np.float64) for x in (tot.statistic, tot.pvalue, tot.df, tot.cohen_d))
        desc.update({"total_t": f"[] {test} t of the total path length", "total_p": "[] two-sided p-value",
                     "total_df": "[] degrees of freedom", "total_d": "[] Cohen's d"})
        tags = [t for t in UPOS_TAGS if (pos == t).any()]
        a["tags"] = np.array(tags, dtype=str)
        stats = [mean_ci(total[pos == t]) for t in tags]
        a["tag_n"] = np.array([(pos == t).sum() for t in tags], dtype=np.int64)
        a["tag_mean"] = np.array([s[0] for s in stats], dtype=np.float64)
        a["tag_ci_low"] = np.array([s[1] for s in stats], dtype=np.float64)
        a["tag_ci_high"] = np.array([s[2] for s in stats], dtype=np.float64)
        desc.update({"tags": "[tags] the tags present", "tag_n": f"[tags] {u}s per tag",
                     "tag_mean": "[tags] mean total path length", "tag_ci_low": "[tags] 95% CI low",
                     "tag_ci_high": "[tags] 95% CI high"})
        source = "the set's hand-made tags" if self._default_tags else "user tags" if self.tags is not None else (
            "spaCy pipeline " + str(getattr(self.nlp, "meta", {}).get("name", "nlp")) if self.nlp is not None
            else f"spaCy {self.spacy_model}")
        prov = self._provenance("NounsAdjectives", tab, target=f"{ga} vs {gb}", parameters={
            "tagger": source, "unit": u, "test": test, "correction": self.correction, "strict": self.strict})
        labels = [tab.texts[int(i)][int(s):int(e)] for i, s, e in zip(tab["text_index"], tab["start"], tab["end"])]
        return NounsAdjectivesResult(prov, a, desc, labels if u == "token" else None, tab.texts)


class NounsAdjectivesResult(StudyResult):
    """Step and path lengths by part of speech, t-tests per layer with a correction.

    Figures: ``"violin"`` (total path length of every tag with 2+ members), ``"box"`` (the two
    groups), ``"layers"`` (per-layer mean step with 95% bands), ``"effect"`` (Cohen's d per
    layer, significant layers after the correction marked).
    """

    plot_kinds = ("violin", "box", "layers", "effect")

    def __init__(self, provenance: Any, arrays: dict[str, np.ndarray], descriptions: dict[str, str],
                 tokens: Sequence[str] | None, texts: Sequence[str]) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.tokens = list(tokens) if tokens is not None else None
        self.texts = list(texts)

    @property
    def _ga(self) -> str:
        return str(self["groups"][0])

    @property
    def _gb(self) -> str:
        return str(self["groups"][1])

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        rows = []
        for k in range(len(self["pos"])):
            r: dict[str, Any] = {"text": int(self["text_index"][k]), "word_index": int(self["word_index"][k])}
            if self.tokens is not None:
                r["token"] = self.tokens[k]
            r["pos"] = str(self["pos"][k])
            r["path_length"] = float(self["path_length"][k])
            r["path_length_resid"] = float(self["path_length_resid"][k])
            for l in range(self["step_length"].shape[1]):
                r[f"step_{l + 1}"] = float(self["step_length"][k, l])
            rows.append(r)
        layers = []
        for k, l in enumerate(self["layers"]):
            layers.append({"layer": int(l), f"mean_{self._ga}": float(self["mean_a"][k]),
                           f"ci_low_{self._ga}": float(self["ci_low_a"][k]), f"ci_high_{self._ga}": float(self["ci_high_a"][k]),
                           f"mean_{self._gb}": float(self["mean_b"][k]),
                           f"ci_low_{self._gb}": float(self["ci_low_b"][k]), f"ci_high_{self._gb}": float(self["ci_high_b"][k]),
                           "t": float(self["t"][k]), "df": float(self["df"][k]), "p": float(self["p"][k]),
                           "p_adjusted": float(self["p_adjusted"][k]), "cohen_d": float(self["d"][k]),
                           "step_includes_ln_f": bool(self.includes_ln_f and k == len(self["layers"]) - 1)})
        tags = [{"pos": str(t), "n": int(n), "mean_path_length": float(m), "ci_low": float(lo), "ci_high": float(hi)}
                for t, n, m, lo, hi in zip(self["tags"], self["tag_n"], self["tag_mean"], self["tag_ci_low"], self["tag_ci_high"])]
        return {"tokens": rows, "layers": layers, "tags": tags}

    def summary_lines(self) -> list[str]:
        p = self.provenance.parameters
        ga, gb = self._ga, self._gb
        pos = self["pos"]
        na, nb = int((pos == ga).sum()), int((pos == gb).sum())
        out = [
            f"Path length by part of speech: {len(pos)} {p['unit']}s in {len(self.texts)} sentences "
            f"({ga}: {na}, {gb}: {nb}); tags from {p['tagger']}.",
            f"total path length: {ga} {fmt(float(self['path_length'][pos == ga].mean()))}, "
            f"{gb} {fmt(float(self['path_length'][pos == gb].mean()))}; {p['test']} t = {fmt(float(self['total_t']))}, "
            f"df = {fmt(float(self['total_df']))}, p = {fmt_p(self['total_p'])}, d = {fmt(float(self['total_d']))}",
            f"per layer: {p['test']}'s t-test, {p['correction'].capitalize()} correction across "
            f"{len(self['layers'])} layers; {int((self['p_adjusted'] < 0.05).sum())} layer(s) with adjusted p < 0.05",
            "",
            f"step of block l: mean per group, t, adjusted p, and d = Cohen's d ({ga} - {gb}, in pooled SDs)"
            + ("; * = the step through ln_f" if self.includes_ln_f else ""),
            f"    l  mean {ga:5s} mean {gb:5s}       t   p_adjusted       d",
        ]
        L = len(self["layers"])
        for k, l in enumerate(self["layers"]):
            out.append(f"{l:5d} {self['mean_a'][k]:10.4f} {self['mean_b'][k]:10.4f} {self['t'][k]:7.3f} "
                       f"{fmt_p(self['p_adjusted'][k]):>12} {self['d'][k]:7.3f}"
                       + (" *" if self.includes_ln_f and k == L - 1 else ""))
        if self.includes_ln_f:
            out += ["", *self.ln_f_note(),
                    f"  raw totals per group: {ga} {fmt(float(self['path_length_resid'][pos == ga].mean()))}, "
                    f"{gb} {fmt(float(self['path_length_resid'][pos == gb].mean()))}"]
        out += ["", "  tag       n   mean path length [95% CI]"]
        for t, n, m, lo, hi in zip(self["tags"], self["tag_n"], self["tag_mean"], self["tag_ci_low"], self["tag_ci_high"]):
            out.append(f"  {t:6s} {n:5d}   {m:.4f} [{lo:.4f}, {hi:.4f}]")
        return out

    def _plot_violin(self, ax: Axes | None = None) -> Figure:
        tags = [str(t) for t, n in zip(self["tags"], self["tag_n"]) if n >= 2]
        data = [self["path_length"][self["pos"] == t] for t in tags]
        a = plotting.new_axes(ax, figsize=(max(6.4, 0.8 * len(tags) + 2), 4.8))
        a.violinplot(data, showmedians=True)
        a.set_xticks(np.arange(1, len(tags) + 1), labels=[f"{t}\n(n={len(d)})" for t, d in zip(tags, data)], fontsize=8)
        a.set_xlabel("universal POS tag")
        a.set_ylabel("total path length (Euclidean, all blocks)" + ("\nlast step through ln_f" if self.includes_ln_f else ""))
        a.set_title(f"{title_prefix(self.provenance)}: path length by part of speech")
        return a.figure  # type: ignore[return-value]

    def _plot_box(self, ax: Axes | None = None) -> Figure:
        ga, gb = self._ga, self._gb
        data = [self["path_length"][self["pos"] == g] for g in (ga, gb)]
        a = plotting.new_axes(ax, figsize=(5, 4.8))
        a.boxplot(data, tick_labels=[f"{ga} (n={len(data[0])})", f"{gb} (n={len(data[1])})"])
        a.set_ylabel("total path length (Euclidean, all blocks)" + ("\nlast step through ln_f" if self.includes_ln_f else ""))
        a.set_xlabel("part of speech")
        p = self.provenance.parameters
        a.set_title(f"{title_prefix(self.provenance)}: {ga} vs {gb}\n{p['test']} t = {float(self['total_t']):.2f}, "
                    f"p = {fmt_p(self['total_p'])}, d = {float(self['total_d']):.2f}", fontsize=10)
        return a.figure  # type: ignore[return-value]

    def _plot_layers(self, ax: Axes | None = None) -> Figure:
        ga, gb = self._ga, self._gb
        fig = plotting.lines(self["layers"], {ga: self["mean_a"], gb: self["mean_b"]},
                             bands={ga: (self["ci_low_a"], self["ci_high_a"]), gb: (self["ci_low_b"], self["ci_high_b"])},
                             ax=ax, xlabel="block l", ylabel="mean step ||h(l) - h(l-1)|| (95% CI)",
                             title=f"{title_prefix(self.provenance)}: step length per layer, {ga} vs {gb}")
        return fig

    def _plot_effect(self, ax: Axes | None = None) -> Figure:
        a = plotting.new_axes(ax)
        x, d = self["layers"], self["d"]
        a.plot(x, d, marker="o", markersize=3, label=f"Cohen's d ({self._ga} - {self._gb})")
        sig = self["p_adjusted"] < 0.05
        corr = self.provenance.parameters["correction"].capitalize()
        a.scatter(x[sig], d[sig], s=70, facecolor="none", edgecolor="C3", label=f"{corr}-adjusted p < 0.05")
        from matplotlib.ticker import MaxNLocator

        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.axhline(0, color="0.6", linewidth=0.8)
        a.set_xlabel("block l")
        a.set_ylabel("Cohen's d (standard deviations)")
        a.legend()
        a.set_title(f"{title_prefix(self.provenance)}: effect size per layer")
        return a.figure  # type: ignore[return-value]
