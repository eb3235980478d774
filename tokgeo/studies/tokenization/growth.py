"""Lesson "BPE to a desired vocabulary size": how a byte-level BPE vocabulary grows on a text.

One training run to ``vocab_size`` with the merge log (:func:`tokgeo.train_bpe`,
``record_merges=True``) gives every merge: its pair, count, new token and the vocabulary size
after it.  The text's token count after merge m is *estimated* from the log as
``bytes - sum(count[:m])`` (a pair counted in overlapping places, ``"aaa"``, merges fewer
times than counted), and *measured* exactly at ``checkpoints`` by training to each size and
encoding the text (greedy training is deterministic, so each checkpoint's merges are the
first merges of the full run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ... import plotting
from ...errors import InvalidInputError
from .._base import StudyResult, fmt
from ._shared import BOOK_NAME, book_text, check_text, provenance

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["BPEGrowth", "BPEGrowthResult"]


class BPEGrowth:
    """Train a byte-level BPE on a text to ``vocab_size`` tokens and follow its growth.

    Args:
        text: the training text (default :func:`~tokgeo.studies.tokenization.book_text`),
            fed line by line as ``tokenizers`` reads a file.
        vocab_size: the desired vocabulary (256 byte tokens + merges), >= 256.
        checkpoints: vocabulary sizes where the text is re-encoded exactly (default 6 sizes
            from 256 to ``vocab_size``).
        min_frequency: smallest pair count that is merged.
        n_first: how many first merges the summary and figure list.
    """

    def __init__(self, text: str | None = None, vocab_size: int = 2000, *, checkpoints: Sequence[int] | None = None,
                 min_frequency: int = 2, n_first: int = 20, dataset_name: str | None = None) -> None:
        self.text = check_text(book_text() if text is None else text)
        self.vocab_size = int(vocab_size)
        if self.vocab_size < 256:
            raise InvalidInputError(f"vocab_size {vocab_size} is below the 256 byte tokens every byte-level BPE starts with")
        cps = np.unique(np.linspace(256, self.vocab_size, 6).astype(int)) if checkpoints is None else np.asarray(checkpoints)
        if cps.size == 0 or np.any(cps < 256) or np.any(cps > self.vocab_size):
            raise InvalidInputError(f"checkpoints must lie in 256..{self.vocab_size}, got {list(cps)}")
        self.checkpoints = np.unique(cps.astype(np.int64))
        self.min_frequency, self.n_first = int(min_frequency), int(n_first)
        self.dataset = dataset_name or (BOOK_NAME if text is None else "user text")

    def run(self) -> BPEGrowthResult:
        from ... import train_bpe

        lines = self.text.splitlines(keepends=True)
        tok = train_bpe(lines, self.vocab_size, min_frequency=self.min_frequency, record_merges=True)
        log = tok.merge_log
        assert log is not None
        n_bytes = len(self.text.encode("utf-8"))
        n_chars = len(self.text)
        est_tokens = n_bytes - np.cumsum(log.count)
        exact = []
        for v in self.checkpoints.tolist():
            t = tok if v == self.vocab_size else train_bpe(lines, int(v), min_frequency=self.min_frequency)
            exact.append(len(t.encode_ordinary(self.text)))
        exact_a = np.asarray(exact, dtype=np.int64)
        arrays = {
            "merge_vocab_size": log.vocab_size, "merge_count": log.count, "merge_left": log.left,
            "merge_right": log.right, "merge_new_id": log.new_id,
            "estimated_tokens": est_tokens.astype(np.int64),
            "estimated_bytes_per_token": n_bytes / np.maximum(est_tokens, 1),
            "checkpoints": self.checkpoints, "checkpoint_tokens": exact_a,
            "checkpoint_bytes_per_token": n_bytes / exact_a, "checkpoint_chars_per_token": n_chars / exact_a,
        }
        desc = {
            "merge_vocab_size": "[M] vocabulary size after each merge",
            "merge_count": "[M] occurrences of the pair when it was merged",
            "merge_left": "[M] id of the left token of the pair", "merge_right": "[M] id of the right token",
            "merge_new_id": "[M] id of the new token",
            "estimated_tokens": "[M] tokens of the text after each merge, estimated as bytes - cumulative counts",
            "estimated_bytes_per_token": "[M] UTF-8 bytes / estimated tokens",
            "checkpoints": "[P] vocabulary sizes measured exactly",
            "checkpoint_tokens": "[P] tokens of the text encoded with a BPE trained to that size",
            "checkpoint_bytes_per_token": "[P] UTF-8 bytes / tokens at each checkpoint",
            "checkpoint_chars_per_token": "[P] characters / tokens at each checkpoint",
        }
        prov = provenance("BPEGrowth", {f"BPE-{self.vocab_size}": tok}, self.dataset, [self.text], {
            "vocab_size": self.vocab_size, "min_frequency": self.min_frequency, "n_bytes": n_bytes, "n_chars": n_chars,
            "reached": int(tok.n_vocab), "pretokenizer": "gpt2"})
        return BPEGrowthResult(prov, arrays, desc, tokens=list(log.tokens), n_first=self.n_first, tokenizer=tok)


class BPEGrowthResult(StudyResult):
    """Result of :class:`BPEGrowth`; ``tokens`` holds each merge's new token as text and
    ``tokenizer`` the trained tokenizer."""

    plot_kinds = ("growth", "merges")

    def __init__(self, provenance: Any, arrays: Mapping[str, np.ndarray], descriptions: Mapping[str, str], *,
                 tokens: list[str], n_first: int, tokenizer: Any) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.tokens, self.n_first, self.tokenizer = tokens, n_first, tokenizer

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        merges = [{"merge": i + 1, "vocab_size": int(self["merge_vocab_size"][i]), "new_token": self.tokens[i],
                   "left_id": int(self["merge_left"][i]), "right_id": int(self["merge_right"][i]),
                   "count": int(self["merge_count"][i]), "estimated_tokens": int(self["estimated_tokens"][i])}
                  for i in range(len(self.tokens))]
        cps = [{"vocab_size": int(v), "tokens": int(self["checkpoint_tokens"][i]),
                "bytes_per_token": float(self["checkpoint_bytes_per_token"][i]),
                "chars_per_token": float(self["checkpoint_chars_per_token"][i])} for i, v in enumerate(self["checkpoints"])]
        return {"merges": merges, "checkpoints": cps}

    def key_stats(self) -> list[tuple[str, str]]:
        p = self.provenance.parameters
        return [("vocabulary", f"{p['reached']} of {p['vocab_size']} wanted, {len(self.tokens)} merges"),
                ("bytes/token", f"{fmt(self['checkpoint_bytes_per_token'][0])} -> {fmt(self['checkpoint_bytes_per_token'][-1])}")]

    def summary_lines(self) -> list[str]:
        p = self.provenance.parameters
        out = [f"BPE on {self.provenance.dataset}: {p['n_bytes']} bytes; vocabulary {p['reached']} "
               f"(wanted {p['vocab_size']}, min_frequency {p['min_frequency']}), {len(self.tokens)} merges.", "",
               "vocab  tokens  bytes/token  chars/token (measured)"]
        for i, v in enumerate(self["checkpoints"]):
            out.append(f"{int(v):5d} {int(self['checkpoint_tokens'][i]):7d} {self['checkpoint_bytes_per_token'][i]:12.3f}"
                       f" {self['checkpoint_chars_per_token'][i]:12.3f}")
        out += ["", f"first {min(self.n_first, len(self.tokens))} merges (new token, count):"]
        out += [f"  {i + 1:3d}. {self.tokens[i]!r:12} {int(self['merge_count'][i])}" for i in range(min(self.n_first, len(self.tokens)))]
        return out

    def _plot_growth(self, ax: Axes | None = None) -> Figure:
        a = plotting.new_axes(ax, figsize=(7.0, 4.6))
        a.plot(self["merge_vocab_size"], self["estimated_bytes_per_token"], color="C0",
               label="estimated from the merge counts")
        a.plot(self["checkpoints"], self["checkpoint_bytes_per_token"], "o", color="C1",
               label="measured: trained to that size, text re-encoded")
        a.set_xlabel("vocabulary size (tokens: 256 bytes + merges)")
        a.set_ylabel("compression (UTF-8 bytes per token)")
        a.set_title(f"BPE growth on {self.provenance.dataset.split(' (')[0]}")
        a.legend(fontsize=8)
        return a.figure  # type: ignore[return-value]

    def _plot_merges(self, ax: Axes | None = None) -> Figure:
        n = min(self.n_first, len(self.tokens))
        labels = [f"{i + 1}. {self.tokens[i]!r}" for i in range(n)]
        fig = plotting.bars(labels, self["merge_count"][:n], ax=ax, horizontal=True,
                            title=f"The first {n} merges of the BPE", xlabel="pair count when merged (occurrences)",
                            ylabel="merge (new token)")
        return fig
