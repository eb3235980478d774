"""Lessons "tokenizing a book", "characters vs subwords vs words", "token count by subword
length" and "Zipf's law in characters and tokens": one text under several tokenizers.

* counts, distinct tokens and compression (characters and UTF-8 bytes per token);
* how many tokens have each length (characters of text they cover), in the text and in the
  vocabulary the text uses;
* the rank-frequency curve of each tokenizer on log-log axes with Zipf's exponent fitted by
  least squares and its confidence interval (:func:`zipf_fit`, the method is in the summary).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ... import plotting
from ...errors import InvalidInputError
from .._base import StudyResult, fmt
from ._shared import (BOOK_NAME, DEFAULT_BPE_VOCAB, ZipfFit, book_text, check_text, compare, grouped_bars,
                      length_counts, provenance, rank_frequency, resolve_tokenizers, vocab_lengths, zipf_fit)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["BookTokenization", "BookTokenizationResult", "SubwordLengths"]


class BookTokenization:
    """A text (default: *Alice's Adventures in Wonderland*) under several tokenizers.

    Args:
        text: the text; default :func:`book_text`.
        tokenizers: names (``"characters"``, ``"words"``, ``"gpt2"``, ``"cl100k"``, ``"bpe"``)
            or a mapping ``{name: tokenizer}`` of any tokenizers with offsets (a WordPiece
            tokenizer, a Hugging Face ``tokenizers.Tokenizer``...).  Default: all five names.
        bpe_vocab_size: vocabulary of the BPE trained on the text (``"bpe"``), >= 256.
        max_len: lengths above this are counted in the last bin of the histograms.
        min_count, max_rank, confidence: the Zipf fit's ranks and interval (:func:`zipf_fit`).
        dataset_name: the text's name for the provenance.
    """

    study_name = "BookTokenization"

    def __init__(self, text: str | None = None, tokenizers: Mapping[str, Any] | Sequence[str] | None = None, *,
                 bpe_vocab_size: int = DEFAULT_BPE_VOCAB, max_len: int = 16, min_count: int = 2,
                 max_rank: int | None = None, confidence: float = 0.95, dataset_name: str | None = None) -> None:
        self.text = check_text(book_text() if text is None else text)
        if int(max_len) < 1:
            raise InvalidInputError(f"max_len must be >= 1, got {max_len}")
        self.max_len = int(max_len)
        self.bpe_vocab_size = int(bpe_vocab_size)
        self.min_count, self.max_rank, self.confidence = int(min_count), max_rank, float(confidence)
        self.dataset = dataset_name or (BOOK_NAME if text is None else "user text")
        self.toks, self.notes = resolve_tokenizers(tokenizers, self.text, bpe_vocab_size=self.bpe_vocab_size)

    def run(self) -> BookTokenizationResult:
        c = compare([self.text], self.toks)
        names, K, L = c["names"], len(c["names"]), self.max_len
        arrays: dict[str, np.ndarray] = {k: c[k] for k in ("n_tokens", "n_types", "chars_per_token", "bytes_per_token")}
        hist_text = np.zeros((K, L + 1), dtype=np.int64)
        hist_types = np.zeros((K, L + 1), dtype=np.int64)
        hist_vocab = np.zeros((K, L + 1), dtype=np.int64)
        mean_len = np.zeros(K)
        fits: list[ZipfFit | None] = []
        freqs: dict[str, np.ndarray] = {}
        top: dict[str, list[str]] = {}
        for k, name in enumerate(names):
            t = c["tokens"][name][0]
            lens = t.lengths
            hist_text[k] = length_counts(lens, L)
            first: dict[int, int] = {}
            for i, idx in enumerate(t.ids.tolist()):
                first.setdefault(idx, i)
            hist_types[k] = length_counts(lens[list(first.values())], L)
            mean_len[k] = float(lens.mean()) if len(lens) else np.nan
            vl = vocab_lengths(self.toks[name])
            if vl is not None:
                hist_vocab[k] = length_counts(vl, L)
            order, counts = rank_frequency(t.ids.tolist())
            freqs[name] = counts
            top[name] = [t.pieces[first[i]] for i in order[:10]]
            try:
                fits.append(zipf_fit(counts, min_count=self.min_count, max_rank=self.max_rank, confidence=self.confidence))
            except InvalidInputError:
                fits.append(None)
        nan = float("nan")
        arrays["length_text"] = hist_text
        arrays["length_types"] = hist_types
        arrays["length_vocab"] = hist_vocab
        arrays["mean_length"] = mean_len
        for key in ("exponent", "ci_low", "ci_high", "stderr", "intercept", "r_squared"):
            arrays[f"zipf_{key}"] = np.asarray([getattr(f, key) if f else nan for f in fits])
        arrays["zipf_n"] = np.asarray([f.n if f else 0 for f in fits], dtype=np.int64)
        for k, name in enumerate(names):
            arrays[f"frequencies[{k}]"] = freqs[name]
        desc = {
            "n_tokens": "[K] tokens of the text per tokenizer",
            "n_types": "[K] distinct token ids the text uses",
            "chars_per_token": "[K] characters of the text / tokens (higher = more compression)",
            "bytes_per_token": "[K] UTF-8 bytes of the text / tokens",
            "length_text": f"[K, {L + 1}] tokens of the text by length in characters (0..{L}, the last bin {L}+)",
            "length_types": f"[K, {L + 1}] distinct tokens of the text by length in characters",
            "length_vocab": f"[K, {L + 1}] tokens of the whole vocabulary by length (specials left out; "
                            "a row of 0 when the tokenizer does not list its vocabulary)",
            "mean_length": "[K] mean characters per token in the text",
            "zipf_exponent": "[K] Zipf exponent s of f(r) ~ r^-s (" + ZipfFit.METHOD + ")",
            "zipf_ci_low": f"[K] lower end of the {self.confidence:.0%} interval of s",
            "zipf_ci_high": f"[K] upper end of the {self.confidence:.0%} interval of s",
            "zipf_stderr": "[K] standard error of the fitted slope",
            "zipf_intercept": "[K] log10 C of the fit",
            "zipf_r_squared": "[K] R^2 of the log-log fit",
            "zipf_n": "[K] ranks used in the fit",
        }
        for k, name in enumerate(names):
            desc[f"frequencies[{k}]"] = f"[types] counts of {name}'s tokens, rank 1 first"
        prov = provenance(self.study_name, self.toks, self.dataset, [self.text], {
            "bpe_vocab_size": self.bpe_vocab_size, "max_len": L, "min_count": self.min_count,
            "max_rank": self.max_rank, "confidence": self.confidence, "n_chars": c["n_chars"], "n_bytes": c["n_bytes"]})
        return BookTokenizationResult(prov, arrays, desc, names=names, notes=self.notes, top=top)


class SubwordLengths(BookTokenization):
    """Token count by subword length ("token count by subword length"): the same study on
    the lesson's tokenizers by default (GPT-2, cl100k_base, and any WordPiece passed in);
    ``plot("lengths")`` is its figure."""

    study_name = "SubwordLengths"

    def __init__(self, text: str | None = None, tokenizers: Mapping[str, Any] | Sequence[str] | None = ("gpt2", "cl100k"),
                 **kw: Any) -> None:
        super().__init__(text, tokenizers, **kw)


class BookTokenizationResult(StudyResult):
    """Result of :class:`BookTokenization`: arrays by tokenizer (index k into ``names``)."""

    plot_kinds = ("compression", "lengths", "zipf")

    def __init__(self, provenance: Any, arrays: Mapping[str, np.ndarray], descriptions: Mapping[str, str], *,
                 names: list[str], notes: list[str], top: dict[str, list[str]]) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.names, self.notes, self.top = names, notes, top

    def frequencies(self, name: str) -> np.ndarray:
        """The rank-frequency counts of one tokenizer (int64 [types], rank 1 first)."""
        return self[f"frequencies[{self.names.index(name)}]"]

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        main = []
        for k, n in enumerate(self.names):
            main.append({"tokenizer": n, "vocab_size": self.provenance.model_config.get(n), "tokens": int(self["n_tokens"][k]),
                         "distinct_tokens": int(self["n_types"][k]), "chars_per_token": float(self["chars_per_token"][k]),
                         "bytes_per_token": float(self["bytes_per_token"][k]), "mean_length": float(self["mean_length"][k]),
                         "zipf_exponent": float(self["zipf_exponent"][k]), "zipf_ci_low": float(self["zipf_ci_low"][k]),
                         "zipf_ci_high": float(self["zipf_ci_high"][k]), "zipf_ranks": int(self["zipf_n"][k])})
        lengths = [{"tokenizer": n, "length": L, "tokens_in_text": int(self["length_text"][k, L]),
                    "distinct_tokens": int(self["length_types"][k, L]), "vocabulary": int(self["length_vocab"][k, L])}
                   for k, n in enumerate(self.names) for L in range(self["length_text"].shape[1])]
        return {"tokenizers": main, "lengths": lengths}

    def key_stats(self) -> list[tuple[str, str]]:
        return [(n, f"{int(self['n_tokens'][k])} tokens, {fmt(self['chars_per_token'][k])} chars/token")
                for k, n in enumerate(self.names)]

    def summary_lines(self) -> list[str]:
        p = self.provenance.parameters
        conf = f"{p['confidence']:.0%}"
        out = [f"{self.provenance.dataset}: {p['n_chars']} characters, {p['n_bytes']} UTF-8 bytes.", "",
               f"{'tokenizer':<16}{'vocab':>8}{'tokens':>9}{'distinct':>9}{'chars/tok':>10}{'bytes/tok':>10}"
               f"{'Zipf s':>8}  {conf} CI",]
        for k, n in enumerate(self.names):
            v = self.provenance.model_config.get(n)
            out.append(f"{n:<16}{v if v is not None else '-':>8}{int(self['n_tokens'][k]):>9}{int(self['n_types'][k]):>9}"
                       f"{self['chars_per_token'][k]:>10.3f}{self['bytes_per_token'][k]:>10.3f}"
                       f"{self['zipf_exponent'][k]:>8.3f}  [{self['zipf_ci_low'][k]:.3f}, {self['zipf_ci_high'][k]:.3f}]"
                       f" over {int(self['zipf_n'][k])} ranks")
        out += ["", "Zipf fit: " + ZipfFit.METHOD + f" (min_count={p['min_count']}).", "",
                "most frequent tokens:"]
        out += [f"  {n}: " + " ".join(repr(t) for t in self.top[n]) for n in self.names]
        out += [f"note: {s}" for s in self.notes]
        return out

    def _plot_compression(self, ax: Axes | None = None) -> Figure:
        fig = grouped_bars(ax, self.names, {"characters per token": self["chars_per_token"],
                                            "UTF-8 bytes per token": self["bytes_per_token"]},
                           title=f"Compression of {self.provenance.dataset.split(' (')[0]} per tokenizer",
                           xlabel="tokenizer", ylabel="text per token (characters or bytes)")
        a = fig.axes[0]
        a.legend(fontsize=8, loc="upper left")
        a.set_ylim(0, 1.15 * float(np.nanmax(self["bytes_per_token"])))
        for k, n in enumerate(self.names):
            a.annotate(f"{int(self['n_tokens'][k]):,} tok", (k, float(np.nanmax([self['chars_per_token'][k], self['bytes_per_token'][k]]))),
                       ha="center", va="bottom", fontsize=7)
        return fig

    def _plot_lengths(self, ax: Axes | None = None, which: str = "text") -> Figure:
        """``which``: ``"text"`` (every token of the text), ``"distinct"`` (distinct tokens
        of the text) or ``"vocabulary"`` (the whole vocabulary)."""
        keys = {"text": ("length_text", "tokens of the text"), "distinct": ("length_types", "distinct tokens of the text"),
                "vocabulary": ("length_vocab", "tokens of the vocabulary")}
        if which not in keys:
            raise InvalidInputError(f"which must be one of {', '.join(keys)}, got {which!r}")
        h = self[keys[which][0]]
        L = h.shape[1] - 1
        labels = [str(i) for i in range(1, L)] + [f"{L}+"]
        frac = {n: h[k, 1:] / max(1, h[k].sum()) for k, n in enumerate(self.names) if h[k].sum() > 0}
        what = keys[which][1]
        return grouped_bars(ax, labels, frac, title=f"Token count by subword length ({what})",
                            xlabel="token length (characters of text, a leading space counts)",
                            ylabel=f"fraction of {what}", figsize=(9.0, 4.4))

    def _plot_zipf(self, ax: Axes | None = None) -> Figure:
        a = plotting.new_axes(ax, figsize=(7.0, 5.0))
        for k, n in enumerate(self.names):
            f = self[f"frequencies[{k}]"]
            r = np.arange(1, len(f) + 1)
            a.loglog(r, f, ".", markersize=2.5, color=f"C{k}", alpha=0.6)
            s = self["zipf_exponent"][k]
            if np.isfinite(s):
                m = int(self["zipf_n"][k])
                a.loglog(r[:m], 10 ** self["zipf_intercept"][k] * r[:m] ** (-s), "-", color=f"C{k}", linewidth=1.2,
                         label=f"{n}: s = {s:.2f} [{self['zipf_ci_low'][k]:.2f}, {self['zipf_ci_high'][k]:.2f}]")
            else:
                a.plot([], [], ".", color=f"C{k}", label=f"{n}: too few ranks to fit")
        a.legend(fontsize=8, title=f"least-squares fit, {self.provenance.parameters['confidence']:.0%} CI")
        a.set_xlabel("rank (1 = most frequent token)")
        a.set_ylabel("frequency (occurrences)")
        a.set_title(f"Zipf's law: rank vs frequency, {self.provenance.dataset.split(' (')[0]}")
        return a.figure  # type: ignore[return-value]
