"""Lesson 2: how far a token's vector turns from one layer to the next.

For every sentence, the angle (degrees) between a token's residual-stream vector at layer
l and at layer l - 1, for the target token (``" her"``), the non-target (the word right
before it) and a random control; per-layer means with confidence bands, and an
independent t-test target vs non-target at every layer.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import metrics, plotting
from ..errors import InvalidInputError
from ._base import Provenance, StudyResult, check_convention, fmt, fmt_p, plural, short_model
from ._common import Study, check_seed, hidden, hidden_capture, ttest
from ._stats import holm, mean_ci

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Rotation", "RotationResult"]

KINDS = ("target", "nontarget", "control")


class Rotation(Study):
    """Rotation of token vectors across layers (the lesson uses gpt2-xl, 48 blocks).

    Args:
        model: a model name (``"gpt2"`` ... ``"gpt2-xl"``), a local folder, or a
            :class:`tokgeo.GPT2`.  Default ``"gpt2-xl"``.
        sentences: the sentences (default :func:`tokgeo.datasets.her_sentences`); one
            string is one sentence.
        target: the target word or token id (default ``" her"``).
        convention: ``"hidden_states"`` (default; Hugging Face: the last state is after
            the final LayerNorm) or ``"resid"`` (the raw residual stream).
        seed: seed of the random control's draws.
        confidence: level of the per-layer confidence bands (default 0.95).
        paired: False (default, the course's test): Student's independent t-test of the
            target's angles vs the previous word's.  Both come from the same sentences, so
            the samples are paired; True runs the paired t-test
            (:func:`tokgeo.metrics.ttest_rel`, df = N - 1, d is d_z), which respects that.
        batch_size: sentences per forward pass (default 16; smaller chunks are tried when
            the memory budget refuses a run).
        strict: unusable sentences raise (True) or are dropped with a warning (False).
        case_sensitive: False also matches the target with other capitals (``" her"`` and
            ``" Her"``, two different tokens, both followed).
        progress: show progress (tqdm when installed).
        dataset_name: a name for your sentences, recorded in the provenance.
        memory_budget: bytes a forward pass may use (default: the memory available now);
            chunks that would need more are split before they run.

    Which vectors: under ``convention="hidden_states"`` state 0 is the embedding, state l
    the input of block l, exactly Hugging Face's ``hidden_states[l]``,
    whose last entry is after the final LayerNorm; ``"resid"`` replaces that last entry by
    the raw output of the last block.  Angle l is between state l and state l - 1
    (l = 1..n_layer).

    The control at layer l is the angle between the vectors of two different tokens
    drawn at random (uniformly among the sentence's tokens, seeded) at layer l - 1 and at
    layer l: what a "rotation" looks like between unrelated vectors of that depth.
    """

    default_model = "gpt2-xl"

    def __init__(
        self,
        model: Any = None,
        sentences: str | Sequence[str] | None = None,
        target: str | int = " her",
        *,
        convention: str = "hidden_states",
        seed: int = 0,
        confidence: float = 0.95,
        paired: bool = False,
        batch_size: int | None = None,
        strict: bool = True,
        case_sensitive: bool = True,
        progress: bool | None = None,
        dataset_name: str | None = None,
        memory_budget: int | None = None,
    ) -> None:
        super().__init__(model)
        self._set_sentences(sentences, target, strict, case_sensitive)
        self.convention = check_convention(convention)
        self.seed = check_seed(seed)
        if not 0.0 < float(confidence) < 1.0:
            raise InvalidInputError(f"confidence must be between 0 and 1, got {confidence}")
        self.confidence = float(confidence)
        self.paired = bool(paired)
        self._set_run_options(batch_size, progress, memory_budget, dataset_name)

    def run(self) -> RotationResult:
        """Run the model on every sentence and measure the rotations.

        Returns:
            A :class:`RotationResult`.
        """
        ts = self.targets()
        n, L = len(ts), self.model.config.n_layer
        lengths = ts.lengths
        rng = np.random.default_rng(self.seed)
        # two different tokens per sentence and layer (the same one only in 1-token texts)
        first = np.floor(rng.random((n, L)) * lengths[:, None]).astype(np.int64)
        shift = 1 + np.floor(rng.random((n, L)) * np.maximum(lengths - 1, 1)[:, None]).astype(np.int64)
        second = np.where(lengths[:, None] > 1, (first + shift) % lengths[:, None], first)
        control_positions = np.stack([first, second], axis=-1)

        ang = {k: np.full((n, L), np.nan) for k in KINDS}
        norms_t = np.full((n, L + 1), np.nan)
        for rows, cache in self._chunks(ts.token_ids, hidden_capture(self.convention, L), "rotation"):
            h = hidden(cache, self.convention)  # [L+1, b, T, C]
            b = np.arange(len(rows))
            xt = h[:, b, ts.positions[rows]]  # [L+1, b, C]
            xn = h[:, b, ts.previous_positions[rows]]
            ang["target"][rows] = metrics.angle(xt[1:], xt[:-1], axis=-1).T
            ang["nontarget"][rows] = metrics.angle(xn[1:], xn[:-1], axis=-1).T
            norms_t[rows] = np.linalg.norm(xt.astype(np.float64), axis=-1).T
            cp = control_positions[rows]  # [b, L, 2]
            layers = np.arange(1, L + 1)
            prev = h[layers[None, :] - 1, b[:, None], cp[:, :, 0]]  # [b, L, C]
            cur = h[layers[None, :], b[:, None], cp[:, :, 1]]
            ang["control"][rows] = metrics.angle(cur, prev, axis=-1)

        arrays: dict[str, np.ndarray] = {
            "layers": np.arange(1, L + 1),
            "angles_target": ang["target"],
            "angles_nontarget": ang["nontarget"],
            "angles_control": ang["control"],
        }
        for k in KINDS:
            m, lo, hi = mean_ci(ang[k], self.confidence, axis=0)
            arrays[f"mean_{k}"] = m
            arrays[f"ci_low_{k}"] = lo
            arrays[f"ci_high_{k}"] = hi
        if n < 2:
            warnings.warn(
                f"Rotation has {plural(n, 'sentence')}: the t-test needs at least 2 per group, so t, p "
                "and d are NaN and the t-test figure is empty; give more sentences", RuntimeWarning, stacklevel=2)
        tt = ttest(ang["target"], ang["nontarget"], paired=self.paired)  # every layer at once
        arrays["t"] = np.asarray(tt.statistic, dtype=np.float64)
        arrays["df"] = np.asarray(tt.df, dtype=np.float64)
        arrays["p"] = np.asarray(tt.pvalue, dtype=np.float64)
        arrays["p_holm"] = holm(arrays["p"])
        arrays["cohens_d"] = np.asarray(tt.cohen_d, dtype=np.float64)
        arrays["positions"] = ts.positions
        arrays["previous_positions"] = ts.previous_positions
        arrays["control_positions"] = control_positions
        arrays["target_norms"] = norms_t
        desc = {
            "layers": "[L] layer l of each angle (the turn from state l-1 to state l)",
            "angles_target": "[N, L] degrees: target token's vector, state l vs l-1",
            "angles_nontarget": "[N, L] degrees: the previous word's last token, l vs l-1",
            "angles_control": "[N, L] degrees: random token at l-1 vs another at l",
            "t": f"[L] Student t, target vs non-target ({'paired' if self.paired else 'independent'} samples)",
            "df": "[L] degrees of freedom of the t-test",
            "p": "[L] two-sided p-value (uncorrected)",
            "p_holm": "[L] p-value Holm-Bonferroni corrected over the L layers",
            "cohens_d": ("[L] Cohen's d_z: mean(target - non-target) / sd of the differences" if self.paired
                         else "[L] Cohen's d: (mean target - mean non-target) / pooled sd"),
            "positions": "[N] token index of the target",
            "previous_positions": "[N] token index of the non-target",
            "control_positions": "[N, L, 2] token indices of the control pair (l-1, l)",
            "target_norms": "[N, L+1] Euclidean norm of the target's vector per state",
        }
        for k in KINDS:
            desc[f"mean_{k}"] = f"[L] degrees: mean angle of the {k} over sentences"
            desc[f"ci_low_{k}"] = f"[L] degrees: lower end of the {self.confidence:.0%} CI"
            desc[f"ci_high_{k}"] = f"[L] degrees: upper end of the {self.confidence:.0%} CI"
        prov = self._provenance(
            "Rotation",
            convention=self.convention,
            dataset=ts.name,
            dataset_sha256=ts.sha256,
            n_sentences=n,
            target=ts.target,
            seed=self.seed,
            parameters={"confidence": self.confidence, "paired": self.paired, "case_sensitive": self.case_sensitive,
                        "dropped": [p.index for p in ts.dropped]},
        )
        return RotationResult(prov, arrays, desc, ts.sentences, ts.previous_words)


class RotationResult(StudyResult):
    """Angles of the target, non-target and control per sentence and layer, with stats.

    Arrays (``result["name"]``): see :meth:`describe`.  Figures: ``"angles"`` (mean angle
    per layer with confidence bands), ``"ttest"`` (t per layer, significant layers marked),
    ``"sentences"`` (target angles, sentences x layers).
    """

    plot_kinds = ("angles", "ttest", "sentences")

    def __init__(
        self,
        provenance: Provenance,
        arrays: dict[str, np.ndarray],
        descriptions: dict[str, str],
        sentences: Sequence[str],
        previous_words: Sequence[str],
    ) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.sentences = tuple(sentences)
        self.previous_words = tuple(previous_words)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        layers = self["layers"]
        stats = []
        for i, l in enumerate(layers):
            row: dict[str, Any] = {"layer": int(l)}
            for k in KINDS:
                row[f"mean_{k}"] = float(self[f"mean_{k}"][i])
                row[f"ci_low_{k}"] = float(self[f"ci_low_{k}"][i])
                row[f"ci_high_{k}"] = float(self[f"ci_high_{k}"][i])
            row.update(t=float(self["t"][i]), df=float(self["df"][i]), p=float(self["p"][i]),
                       p_holm=float(self["p_holm"][i]), cohens_d=float(self["cohens_d"][i]))
            stats.append(row)
        angles = []
        for s, text in enumerate(self.sentences):
            for i, l in enumerate(layers):
                for k in KINDS:
                    angles.append({"sentence": s, "text": text, "previous_word": self.previous_words[s],
                                   "layer": int(l), "role": k, "angle_deg": float(self[f"angles_{k}"][s, i])})
        return {"layer_stats": stats, "angles": angles}

    @property
    def paired(self) -> bool:
        """Whether the t-test was the paired one (see :class:`Rotation`)."""
        return bool(self.provenance.parameters.get("paired", False))

    def key_stats(self) -> list[tuple[str, str]]:
        L = len(self["p"])
        return [("test", "paired t-test" if self.paired else "independent t-test"),
                ("mean angle (deg)", f"target {fmt(np.nanmean(self['mean_target']))}, non-target "
                 f"{fmt(np.nanmean(self['mean_nontarget']))}, control {fmt(np.nanmean(self['mean_control']))}"),
                ("layers differing (Holm p < 0.05)", f"{int(np.sum(self['p_holm'] < 0.05))} of {L}")]

    def summary_lines(self) -> list[str]:
        p = self["p"]
        L = len(p)
        n = self.provenance.n_sentences
        sig = np.flatnonzero(p < 0.05)
        mt, mn, mc = self["mean_target"], self["mean_nontarget"], self["mean_control"]
        if self.paired:
            test = (f"paired t-test (target vs previous word of the same sentence, df = N - 1 = {n - 1}; "
                    "d is d_z = mean difference / sd of the differences)")
        else:
            test = (f"independent Student t-test (df = 2N - 2 = {2 * n - 2}; d = Cohen's d, mean difference / "
                    "pooled sd). Target and previous word come from the same sentences, so the samples are "
                    "paired: Rotation(..., paired=True) runs the paired test")
        out = [
            f"Rotation of {self.provenance.target!r} vs the previous word across {L} layers "
            f"({plural(n, 'sentence')}).",
            f"test per layer: {test}.",
            f"mean angle over layers: target {fmt(np.nanmean(mt))} deg, non-target "
            f"{fmt(np.nanmean(mn))} deg, control {fmt(np.nanmean(mc))} deg",
            f"layers where target and non-target differ (p < 0.05, uncorrected): "
            f"{len(sig)} of {L}" + (f" ({', '.join(str(int(self['layers'][i])) for i in sig)})" if len(sig) else ""),
            f"after Holm-Bonferroni over the {L} layers (p_holm < 0.05): {int(np.sum(self['p_holm'] < 0.05))} of {L}",
        ]
        if n < 2:
            out.append(f"WARNING: {plural(n, 'sentence')}: no t-test is possible (t, p, d are NaN); give at least 2.")
        out += [
            "",
            "columns: target / non-target / control = mean angle to the previous layer (degrees) of the target,",
            "the previous word and the random control; t, df, p = the t-test (p two-sided, uncorrected);",
            "p_holm = p after Holm-Bonferroni over the layers; d = " + ("d_z (paired)" if self.paired else "Cohen's d"),
            "",
            "layer  target  non-target  control      t     df         p    p_holm      d",
        ]
        for i in range(L):
            out.append(
                f"{int(self['layers'][i]):5d} {mt[i]:7.2f} {mn[i]:11.2f} {mc[i]:8.2f} "
                f"{self['t'][i]:6.2f} {self['df'][i]:6.0f} {fmt_p(self['p'][i]):>9} {fmt_p(self['p_holm'][i]):>9} "
                f"{self['cohens_d'][i]:6.2f}"
            )
        return out

    def _plot_angles(self, ax: Axes | None = None) -> Figure:
        x = self["layers"]
        names = {"target": f"target {self.provenance.target!r}", "nontarget": "previous word", "control": "random control"}
        series = {names[k]: self[f"mean_{k}"] for k in KINDS}
        bands = {names[k]: (self[f"ci_low_{k}"], self[f"ci_high_{k}"]) for k in KINDS}
        conf = self.provenance.parameters.get("confidence", 0.95)
        return plotting.lines(
            x, series, bands=bands, ax=ax, xlabel="layer",
            ylabel="angle to previous layer (degrees)",
            title=f"Rotation per layer, mean and {conf:.0%} CI ({short_model(self.provenance.model)})",
        )

    def _plot_ttest(self, ax: Axes | None = None) -> Figure:
        a = plotting.new_axes(ax)
        x = self["layers"]
        t = self["t"]
        name = "Paired" if self.paired else "Independent"
        a.set_xlabel("layer")
        a.set_ylabel("t (target - non-target)")
        a.set_title(f"{name} t-test per layer ({short_model(self.provenance.model)})")
        if not np.isfinite(t).any():
            n = self.provenance.n_sentences
            a.text(0.5, 0.5, f"no t-test: {plural(n, 'sentence')}\n(at least 2 are needed)", transform=a.transAxes,
                   ha="center", va="center", fontsize=12, color="C3")
            a.set_xlim(float(x.min()) - 0.5, float(x.max()) + 0.5)
            return a.figure  # type: ignore[return-value]
        sig = self["p_holm"] < 0.05
        a.bar(x[~sig], t[~sig], color="0.65", label="Holm-corrected p >= 0.05")
        a.bar(x[sig], t[sig], color="C3", label="Holm-corrected p < 0.05")
        a.axhline(0.0, color="0.3", linewidth=0.8)
        from matplotlib.ticker import MaxNLocator

        a.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers are whole numbers
        a.legend(title=f"Holm-Bonferroni over {len(x)} layers")
        return a.figure  # type: ignore[return-value]

    def _plot_sentences(self, ax: Axes | None = None) -> Figure:
        return plotting.heatmap(
            self["angles_target"], ax=ax,
            xlabels=[str(int(v)) for v in self["layers"]],
            ylabels=[s if len(s) <= 40 else s[:37] + "..." for s in self.sentences],
            xlabel="layer", ylabel="sentence", colorbar_label="degrees",
            title=f"Angle of {self.provenance.target!r} to the previous layer ({short_model(self.provenance.model)})",
        )
