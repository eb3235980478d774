"""Lessons "tokenization compression ratios" and "tokenization in different languages": the
same sentences in several languages under several tokenizers.

Per language and tokenizer: tokens, characters and UTF-8 bytes per token, and tokens
relative to the reference language (default English) -- on a parallel text the same content
costs that many times more tokens (the "token tax" of a language).  Default text: spaCy's
example sentences in 12 languages (:func:`~tokgeo.studies.tokenization.parallel_text`, MIT;
loose translations, read totals rather than single sentences).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ... import plotting
from ...errors import InvalidInputError, InvalidTypeError
from .._base import StudyResult
from ._shared import PARALLEL_NAME, check_text, compare, grouped_bars, parallel_text, provenance, resolve_tokenizers

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["LanguageCompression", "LanguageCompressionResult"]


class LanguageCompression:
    """Compression ratios per tokenizer and language.

    Args:
        texts: ``{language: [sentences]}`` (a parallel text: sentence i says the same in
            every language); default the shipped 12-language text.
        tokenizers: names or ``{name: tokenizer}``; default GPT-2 and cl100k_base (with
            ``"characters"`` / ``"words"``, those are built from all the texts together).
        reference: the language the others are compared with (must be in ``texts``).
    """

    def __init__(self, texts: Mapping[str, Sequence[str]] | None = None,
                 tokenizers: Mapping[str, Any] | Sequence[str] | None = ("gpt2", "cl100k"), *, reference: str = "en",
                 dataset_name: str | None = None) -> None:
        data = parallel_text() if texts is None else texts
        if not isinstance(data, Mapping) or not data:
            raise InvalidTypeError("texts must be a non-empty mapping {language: [sentences]}")
        self.texts: dict[str, list[str]] = {}
        for lang, sents in data.items():
            if isinstance(sents, str):
                sents = [sents]
            self.texts[str(lang)] = [check_text(s, f"texts[{lang!r}] sentence") for s in sents]
        counts = {len(v) for v in self.texts.values()}
        if len(counts) != 1:
            raise InvalidInputError("a parallel text has the same number of sentences in every language; got "
                                    + ", ".join(f"{k}: {len(v)}" for k, v in self.texts.items()))
        if reference not in self.texts:
            raise InvalidInputError(f"reference language {reference!r} is not in texts ({', '.join(self.texts)})")
        self.reference = reference
        self.toks, self.notes = resolve_tokenizers(tokenizers, "\n".join(s for v in self.texts.values() for s in v),
                                                   default=("gpt2", "cl100k"))
        self.dataset = dataset_name or (PARALLEL_NAME if texts is None else "user parallel text")

    def run(self) -> LanguageCompressionResult:
        langs, names = list(self.texts), list(self.toks)
        S = len(self.texts[langs[0]])
        n_tok = np.zeros((len(names), len(langs)), dtype=np.int64)
        per_sentence = np.zeros((len(names), len(langs), S), dtype=np.int64)
        cpt = np.zeros(n_tok.shape)
        bpt = np.zeros(n_tok.shape)
        chars = np.zeros(len(langs), dtype=np.int64)
        nbytes = np.zeros(len(langs), dtype=np.int64)
        for j, lang in enumerate(langs):
            c = compare(self.texts[lang], self.toks)
            n_tok[:, j], cpt[:, j], bpt[:, j] = c["n_tokens"], c["chars_per_token"], c["bytes_per_token"]
            chars[j], nbytes[j] = c["n_chars"], c["n_bytes"]
            for k, n in enumerate(names):
                per_sentence[k, j] = [len(t) for t in c["tokens"][n]]
        r = langs.index(self.reference)
        arrays = {"n_tokens": n_tok, "tokens_per_sentence": per_sentence, "chars_per_token": cpt,
                  "bytes_per_token": bpt, "relative_tokens": n_tok / n_tok[:, r : r + 1], "n_chars": chars,
                  "n_bytes": nbytes, "bytes_per_char": nbytes / chars}
        desc = {"n_tokens": "[K, N] tokens per tokenizer and language (all sentences)",
                "tokens_per_sentence": f"[K, N, {S}] tokens of each sentence",
                "chars_per_token": "[K, N] characters per token", "bytes_per_token": "[K, N] UTF-8 bytes per token",
                "relative_tokens": f"[K, N] tokens / tokens of {self.reference!r} with the same tokenizer",
                "n_chars": "[N] characters per language", "n_bytes": "[N] UTF-8 bytes per language",
                "bytes_per_char": "[N] UTF-8 bytes per character (1 for ASCII, 3 for most CJK and Devanagari)"}
        prov = provenance("LanguageCompression", self.toks, self.dataset, [s for v in self.texts.values() for s in v],
                          {"languages": langs, "reference": self.reference, "sentences_per_language": S})
        return LanguageCompressionResult(prov, arrays, desc, names=names, languages=langs, notes=self.notes)


class LanguageCompressionResult(StudyResult):
    """Result of :class:`LanguageCompression`: arrays [tokenizer k, language j]."""

    plot_kinds = ("relative", "compression", "heatmap")

    def __init__(self, provenance: Any, arrays: Mapping[str, np.ndarray], descriptions: Mapping[str, str], *,
                 names: list[str], languages: list[str], notes: list[str]) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.names, self.languages, self.notes = names, languages, notes

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        rows = [{"tokenizer": n, "language": lang, "tokens": int(self["n_tokens"][k, j]), "chars": int(self["n_chars"][j]),
                 "bytes": int(self["n_bytes"][j]), "chars_per_token": float(self["chars_per_token"][k, j]),
                 "bytes_per_token": float(self["bytes_per_token"][k, j]),
                 "relative_tokens": float(self["relative_tokens"][k, j])}
                for k, n in enumerate(self.names) for j, lang in enumerate(self.languages)]
        return {"languages": rows}

    def key_stats(self) -> list[tuple[str, str]]:
        out = []
        for k, n in enumerate(self.names):
            j = int(np.argmax(self["relative_tokens"][k]))
            out.append((n, f"most tokens: {self.languages[j]} ({self['relative_tokens'][k, j]:.2f}x)"))
        return out

    def summary_lines(self) -> list[str]:
        ref = self.provenance.parameters["reference"]
        out = [f"{len(self.languages)} languages x {self.provenance.parameters['sentences_per_language']} parallel sentences "
               f"({self.provenance.dataset}); tokens relative to {ref!r}.", ""]
        head = f"{'lang':<6}{'chars':>7}{'bytes':>7}" + "".join(f"{n[:14]:>16}" for n in self.names)
        out += [head + "   (tokens, x ref, bytes/token)"]
        for j, lang in enumerate(self.languages):
            cells = "".join(f"{int(self['n_tokens'][k, j]):>6} {self['relative_tokens'][k, j]:4.2f}x {self['bytes_per_token'][k, j]:4.1f}"
                            for k in range(len(self.names)))
            out.append(f"{lang:<6}{int(self['n_chars'][j]):>7}{int(self['n_bytes'][j]):>7}{cells}")
        out += [f"note: {s}" for s in self.notes]
        return out

    def _plot_relative(self, ax: Axes | None = None) -> Figure:
        ref = self.provenance.parameters["reference"]
        fig = grouped_bars(ax, self.languages, {n: self["relative_tokens"][k] for k, n in enumerate(self.names)},
                           title=f"Tokens for the same sentences, relative to {ref!r}", xlabel="language (ISO 639-1)",
                           ylabel=f"tokens / tokens of {ref!r}", figsize=(9.0, 4.4))
        fig.axes[0].axhline(1.0, color="0.4", linewidth=0.8)
        return fig

    def _plot_compression(self, ax: Axes | None = None) -> Figure:
        return grouped_bars(ax, self.languages, {n: self["bytes_per_token"][k] for k, n in enumerate(self.names)},
                            title="Compression per language and tokenizer", xlabel="language (ISO 639-1)",
                            ylabel="UTF-8 bytes per token", figsize=(9.0, 4.4))

    def _plot_heatmap(self, ax: Axes | None = None) -> Figure:
        return plotting.heatmap(self["chars_per_token"], ax=ax, xlabels=self.languages, ylabels=self.names,
                                title="Characters per token", xlabel="language (ISO 639-1)", ylabel="tokenizer",
                                colorbar_label="characters per token", vmin=0.0)
