"""Lessons "how many r's in strawberry" and "character counts in BERT tokens": letters
inside tokens.

A language model reads token ids, not letters: ``" strawberry"`` is 2 or 3 ids whose
spelling is nowhere in the input.  For each word (in several spellings: as it starts a text,
after a space, capitalised, upper case) and each tokenizer this lesson lists the tokens,
counts the letter in the word, in each token's surface, and the tokens that hold it, and
shows the two ways counting through tokens fails: counting tokens that *are* the letter
(almost always 0) and counting tokens that *contain* it (fewer than the letters when a token
holds two).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ...errors import InvalidInputError, InvalidTypeError
from .._base import StudyResult
from ._shared import grouped_bars, provenance, resolve_tokenizers, tokenize

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["LettersInTokens", "LettersInTokensResult", "DEFAULT_WORDS"]

DEFAULT_WORDS = ("strawberry", " strawberry", "Strawberry", " STRAWBERRY", " raspberry", " mirror")


class LettersInTokens:
    """Count a letter through the tokens of words.

    Args:
        words: the strings to tokenize (a leading space is a different token in GPT-2's
            vocabulary). Default :data:`DEFAULT_WORDS`.
        letter: the letter to count (one character; ``case_sensitive=False`` counts both cases).
        tokenizers: names or ``{name: tokenizer}`` (any with offsets; a WordPiece tokenizer
            shows ``##`` pieces). Default GPT-2 and cl100k_base.
    """

    def __init__(self, words: Sequence[str] = DEFAULT_WORDS, letter: str = "r", tokenizers: Mapping[str, Any] | Sequence[str] | None = ("gpt2", "cl100k"),
                 *, case_sensitive: bool = False) -> None:
        if isinstance(words, str):
            raise InvalidTypeError(f"words must be a list of strings, not one string: [{words!r}]")
        self.words = [w for w in words]
        if not self.words or any(not isinstance(w, str) or not w.strip() for w in self.words):
            raise InvalidInputError("words must be non-empty strings (give at least one)")
        if not isinstance(letter, str) or len(letter) != 1:
            raise InvalidInputError(f"letter must be one character, got {letter!r}")
        self.letter, self.case_sensitive = letter, bool(case_sensitive)
        self.toks, self.notes = resolve_tokenizers(tokenizers, " ".join(self.words), default=("gpt2", "cl100k"))

    def _count(self, s: str) -> int:
        return s.count(self.letter) if self.case_sensitive else s.lower().count(self.letter.lower())

    def run(self) -> LettersInTokensResult:
        names, W = list(self.toks), len(self.words)
        K = len(names)
        true = np.asarray([self._count(w) for w in self.words], dtype=np.int64)
        n_tok = np.zeros((K, W), dtype=np.int64)
        equal = np.zeros((K, W), dtype=np.int64)
        containing = np.zeros((K, W), dtype=np.int64)
        summed = np.zeros((K, W), dtype=np.int64)
        pieces: dict[str, list[list[str]]] = {}
        surfaces: dict[str, list[list[str]]] = {}
        ids: dict[str, list[list[int]]] = {}
        for k, n in enumerate(names):
            pieces[n], surfaces[n], ids[n] = [], [], []
            for j, w in enumerate(self.words):
                t = tokenize(self.toks[n], w)
                surf = [w[a:b] for a, b in t.offsets.tolist()]
                per = [self._count(s) for s in surf]
                n_tok[k, j] = len(t)
                equal[k, j] = sum(1 for s in surf if self._count(s) == 1 and len(s.strip()) == 1)
                containing[k, j] = sum(1 for c in per if c > 0)
                summed[k, j] = sum(per)
                pieces[n].append(list(t.pieces))
                surfaces[n].append(surf)
                ids[n].append(t.ids.tolist())
        arrays = {"true_count": true, "n_tokens": n_tok, "single_letter_tokens": equal,
                  "tokens_containing": containing, "letters_in_surfaces": summed}
        L = repr(self.letter)
        desc = {"true_count": f"[W] {L} in each word (the answer)",
                "n_tokens": "[K, W] tokens of each word per tokenizer",
                "single_letter_tokens": f"[K, W] tokens that are the letter {L} alone (what 'count the {L} tokens' finds)",
                "tokens_containing": f"[K, W] tokens holding at least one {L}",
                "letters_in_surfaces": f"[K, W] {L} summed over the tokens' text spans (= true_count: the letters are "
                                        "in the text, not in the ids)"}
        prov = provenance("LettersInTokens", self.toks, "words", self.words,
                          {"letter": self.letter, "case_sensitive": self.case_sensitive})
        return LettersInTokensResult(prov, arrays, desc, names=names, words=self.words, pieces=pieces, ids=ids,
                                     surfaces=surfaces, notes=self.notes)


class LettersInTokensResult(StudyResult):
    """Result of :class:`LettersInTokens`; ``pieces[name][j]`` are the tokens of word j."""

    plot_kinds = ("tokens", "counts")

    def __init__(self, provenance: Any, arrays: Mapping[str, np.ndarray], descriptions: Mapping[str, str], *,
                 names: list[str], words: list[str], pieces: dict[str, list[list[str]]], ids: dict[str, list[list[int]]],
                 surfaces: dict[str, list[list[str]]], notes: list[str]) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.names, self.words, self.pieces, self.ids, self.surfaces, self.notes = names, words, pieces, ids, surfaces, notes

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        rows = []
        for k, n in enumerate(self.names):
            for j, w in enumerate(self.words):
                rows.append({"tokenizer": n, "word": w, "tokens": " | ".join(self.pieces[n][j]),
                             "ids": " ".join(map(str, self.ids[n][j])), "n_tokens": int(self["n_tokens"][k, j]),
                             "true_count": int(self["true_count"][j]),
                             "single_letter_tokens": int(self["single_letter_tokens"][k, j]),
                             "tokens_containing": int(self["tokens_containing"][k, j])})
        return {"letters": rows}

    def key_stats(self) -> list[tuple[str, str]]:
        return [(n, " ".join("|".join(p) for p in self.pieces[n][:2])) for n in self.names]

    def summary_lines(self) -> list[str]:
        L = repr(self.provenance.parameters["letter"])
        out = [f"Counting {L} through tokens ({len(self.words)} words, {len(self.names)} tokenizers).",
               f"true = {L} in the word; alone = tokens that are just {L}; holding = tokens with a {L}.", ""]
        for k, n in enumerate(self.names):
            out.append(f"{n}:")
            for j, w in enumerate(self.words):
                out.append(f"  {w!r:16} -> {' | '.join(repr(p) for p in self.pieces[n][j]):40} ids {self.ids[n][j]}  "
                           f"true {self['true_count'][j]}, alone {self['single_letter_tokens'][k, j]}, "
                           f"holding {self['tokens_containing'][k, j]}")
        out += ["", "The ids carry no spelling: a model must have learned how each id is spelled to count letters."]
        out += [f"note: {s}" for s in self.notes]
        return out

    def _plot_counts(self, ax: Axes | None = None) -> Figure:
        series: dict[str, Any] = {"letters in the word (truth)": self["true_count"]}
        for k, n in enumerate(self.names):
            series[f"{n}: tokens holding it"] = self["tokens_containing"][k]
        L = repr(self.provenance.parameters["letter"])
        return grouped_bars(ax, [repr(w) for w in self.words], series, title=f"Counting {L} through tokens fails",
                            xlabel="word", ylabel=f"count of {L} (letters or tokens)", figsize=(9.0, 4.4))

    def _plot_tokens(self, ax: Axes | None = None) -> Figure:
        from ... import plotting

        K, W = len(self.names), len(self.words)
        a = plotting.new_axes(ax, figsize=(2.6 + 2.9 * K, 0.55 * W + 1.4))
        letter = self.provenance.parameters["letter"].lower()
        for k, n in enumerate(self.names):
            for j in range(W):
                x = k * 1.0
                for p, s in zip(self.pieces[n][j], self.surfaces[n][j]):
                    has = letter in s.lower()
                    label = p.replace(" ", "\u2423")
                    t = a.text(x + 0.02, -j, label, fontsize=9, family="monospace", va="center",
                               bbox=dict(boxstyle="round,pad=0.2", fc="#ffd9b3" if has else "#e8e8e8", ec="0.5", lw=0.5))
                    x += 0.035 + 0.022 * max(1, len(label))
                    del t
        a.set_xlim(-0.02, K)
        a.set_ylim(-W + 0.5, 0.6)
        a.set_xticks([k + 0.35 for k in range(K)], labels=self.names)
        a.xaxis.tick_top()
        a.set_yticks([-j for j in range(W)], labels=[repr(w) for w in self.words])
        for s in ("right", "bottom"):
            a.spines[s].set_visible(False)
        a.set_title(f"Tokens of each word (orange: holds {self.provenance.parameters['letter']!r}; \u2423 = space)",
                    fontsize=10, pad=22)
        a.set_xlabel("tokenizer (tokens left to right)")
        a.set_ylabel("word")
        return a.figure  # type: ignore[return-value]
