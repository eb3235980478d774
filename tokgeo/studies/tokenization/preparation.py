"""Lesson "preparing text for tokenization": what normalisation does to counts and
vocabulary sizes.

Each step is applied on its own to the raw text, then all together (in the order listed):

* ``lower``        ``str.lower()``;
* ``nfkc``         Unicode NFKC (compatibility forms folded: ligatures, full-width letters,
                   superscripts);
* ``whitespace``   every run of white space becomes one space (line breaks included);
* ``punctuation``  every character of a Unicode punctuation category (P*) is removed;
* ``all``          the four in that order.

For each version: characters, distinct characters, words (``\\w+`` runs and single
punctuation marks, :class:`~tokgeo.WordTokenizer`'s rule), distinct words (the word-level
vocabulary the text needs), and, per tokenizer, tokens and distinct tokens.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from ...errors import InvalidInputError
from .._base import StudyResult
from ._shared import BOOK_NAME, book_text, check_text, compare, grouped_bars, provenance, resolve_tokenizers

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["TextPreparation", "TextPreparationResult", "NORMALIZERS"]

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+|[^\w\s]")


def _strip_punct(s: str) -> str:
    return "".join(c for c in s if not unicodedata.category(c).startswith("P"))


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "nfkc": lambda s: unicodedata.normalize("NFKC", s),
    "whitespace": lambda s: _WS.sub(" ", s).strip(),
    "punctuation": _strip_punct,
}


class TextPreparation:
    """Normalise a text several ways and count what changes.

    Args:
        text: default the shipped book.
        steps: names from :data:`NORMALIZERS` (default all four); ``"raw"`` and ``"all"``
            (the steps in order) are always added.
        tokenizers: default GPT-2 and cl100k_base.
    """

    def __init__(self, text: str | None = None, steps: Sequence[str] | None = None,
                 tokenizers: Mapping[str, Any] | Sequence[str] | None = ("gpt2", "cl100k"), *,
                 dataset_name: str | None = None) -> None:
        self.text = check_text(book_text() if text is None else text)
        self.steps = list(NORMALIZERS if steps is None else steps)
        bad = [s for s in self.steps if s not in NORMALIZERS]
        if bad or not self.steps:
            raise InvalidInputError(f"unknown normalisation step(s) {bad}; choose from {', '.join(NORMALIZERS)}")
        self.toks, self.notes = resolve_tokenizers(tokenizers, self.text, default=("gpt2", "cl100k"))
        self.dataset = dataset_name or (BOOK_NAME if text is None else "user text")

    def versions(self) -> dict[str, str]:
        """``{"raw": text, step: step(text)..., "all": every step in order}``."""
        out = {"raw": self.text}
        for s in self.steps:
            out[s] = NORMALIZERS[s](self.text)
        t = self.text
        for s in self.steps:
            t = NORMALIZERS[s](t)
        out["all"] = t
        return out

    def run(self) -> TextPreparationResult:
        vers = self.versions()
        labels, names = list(vers), list(self.toks)
        V, K = len(labels), len(names)
        chars = np.zeros(V, dtype=np.int64)
        char_types = np.zeros(V, dtype=np.int64)
        words = np.zeros(V, dtype=np.int64)
        word_types = np.zeros(V, dtype=np.int64)
        tokens = np.zeros((K, V), dtype=np.int64)
        token_types = np.zeros((K, V), dtype=np.int64)
        for i, lab in enumerate(labels):
            t = vers[lab]
            w = _WORD.findall(t)
            chars[i], char_types[i], words[i], word_types[i] = len(t), len(set(t)), len(w), len(set(w))
            if t:
                c = compare([t], self.toks)
                tokens[:, i], token_types[:, i] = c["n_tokens"], c["n_types"]
        arrays = {"chars": chars, "char_types": char_types, "words": words, "word_types": word_types,
                  "tokens": tokens, "token_types": token_types}
        desc = {"chars": "[V] characters of each version", "char_types": "[V] distinct characters",
                "words": "[V] words (\\w+ runs and single punctuation marks)", "word_types": "[V] distinct words",
                "tokens": "[K, V] tokens per tokenizer", "token_types": "[K, V] distinct token ids used"}
        prov = provenance("TextPreparation", self.toks, self.dataset, [self.text], {"steps": self.steps})
        return TextPreparationResult(prov, arrays, desc, names=names, versions=labels, notes=self.notes,
                                     samples={k: v[:120] for k, v in vers.items()})


class TextPreparationResult(StudyResult):
    """Result of :class:`TextPreparation`: arrays over versions (``versions``: raw, each
    step, all) and tokenizers."""

    plot_kinds = ("vocabulary", "counts")

    def __init__(self, provenance: Any, arrays: Mapping[str, np.ndarray], descriptions: Mapping[str, str], *,
                 names: list[str], versions: list[str], notes: list[str], samples: dict[str, str]) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.names, self.versions, self.notes, self.samples = names, versions, notes, samples

    def _columns(self) -> dict[str, np.ndarray]:
        cols = {"characters": self["chars"], "distinct characters": self["char_types"], "words": self["words"],
                "distinct words": self["word_types"]}
        for k, n in enumerate(self.names):
            cols[f"{n} tokens"] = self["tokens"][k]
            cols[f"{n} distinct tokens"] = self["token_types"][k]
        return cols

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        cols = self._columns()
        return {"preparation": [{"version": v, **{k: int(a[i]) for k, a in cols.items()}} for i, v in enumerate(self.versions)]}

    def key_stats(self) -> list[tuple[str, str]]:
        return [("distinct words", f"{int(self['word_types'][0])} raw -> {int(self['word_types'][-1])} all steps")]

    def summary_lines(self) -> list[str]:
        cols = self._columns()
        out = [f"Text preparation on {self.provenance.dataset}.", "",
               f"{'':<22}" + "".join(f"{v:>12}" for v in self.versions)]
        for k, a in cols.items():
            out.append(f"{k[:22]:<22}" + "".join(f"{int(x):>12}" for x in a))
        out += ["", "change vs raw (%):"]
        for k, a in cols.items():
            out.append(f"{k[:22]:<22}" + "".join(f"{100.0 * (int(x) - int(a[0])) / max(1, int(a[0])):>12.1f}" for x in a))
        out += ["", "start of each version:"] + [f"  {k:<12}{v[:70]!r}" for k, v in self.samples.items()]
        out += [f"note: {s}" for s in self.notes]
        return out

    def _relative(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        cols = self._columns()
        return {k: cols[k] / max(1, int(cols[k][0])) for k in keys}

    def _plot_vocabulary(self, ax: Axes | None = None) -> Figure:
        keys = ["distinct characters", "distinct words"] + [f"{n} distinct tokens" for n in self.names]
        fig = grouped_bars(ax, self.versions, self._relative(keys), title="Vocabulary needed after each normalisation",
                           xlabel="normalisation", ylabel="distinct units / distinct units of the raw text", figsize=(9.0, 4.4))
        fig.axes[0].axhline(1.0, color="0.4", linewidth=0.8)
        return fig

    def _plot_counts(self, ax: Axes | None = None) -> Figure:
        keys = ["characters", "words"] + [f"{n} tokens" for n in self.names]
        fig = grouped_bars(ax, self.versions, self._relative(keys), title="Length of the text after each normalisation",
                           xlabel="normalisation", ylabel="count / count of the raw text", figsize=(9.0, 4.4))
        fig.axes[0].axhline(1.0, color="0.4", linewidth=0.8)
        return fig
