"""Training a byte-level BPE vocabulary (GPT-2's recipe) to a desired size, in C.

::

    >>> tok = tokgeo.train_bpe(["the cat sat on the mat"] * 100, vocab_size=270)
    >>> tok.encode(" the mat")
    [...]
    >>> tok.merge_log.tokens[:3]          # with record_merges=True
    [' t', ' th', ...]

The merges are those of Hugging Face ``tokenizers``' ``BpeTrainer`` with a
``ByteLevel(add_prefix_space=False)`` pre-tokenizer and ``initial_alphabet =
ByteLevel.alphabet()`` on the same corpus (tests/test_bpe_train.py checks it), and
``vocab.json`` / ``merges.txt`` are byte for byte the files that ``tokenizers`` saves.

How it trains (see ``csrc/include/tokgeo/tokenizer.h`` and ``csrc/tokenizer/bpe_train.c`` for the C side):

1. Every text is cut by GPT-2's split pattern into pre-tokens ("words"), counted in a hash
   table (in parallel, ``threads``).  A file is read line by line, each line (with its
   ``"\\n"``) one text, as ``tokenizers.Tokenizer.train`` does with files.  Special tokens
   that appear inside the corpus are ordinary text.
2. Ids: the special tokens first (0, 1, ...), then the 256 byte tokens in the order of
   GPT-2's byte-level characters (``"!"`` .. ``"~"``, ``"¡"`` .., then ``"Ā"`` .. for the
   unprintable bytes), then each merged token as it is made.
3. Repeatedly the adjacent pair with the highest count (a word counts as often as it
   occurs) becomes a new token, until the vocabulary has ``vocab_size`` tokens, no pair is
   left, or the best count is below ``min_frequency``.
   **Tie-break**: among pairs of equal count, the one with the smaller left id, then the
   smaller right id (ids as in 2.) -- the rule of ``tokenizers``' trainer.  A merge whose
   result is already a token (two pairs can spell the same bytes) is recorded but adds no
   token.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np

from . import _C
from .errors import InvalidInputError, InvalidTypeError
from .tokenizer import Tokenizer

__all__ = ["train_bpe", "TrainedTokenizer", "MergeLog"]

PathLike = Union[str, "os.PathLike[str]"]
Corpus = Union[PathLike, Iterable[str]]

_CHUNK_CHARS = 1 << 22  # characters handed to C per call when reading an iterator
_PATTERNS = {"gpt2": 0, "cl100k": 1}


@dataclass(frozen=True)
class MergeLog:
    """Every merge of a training run, in order (M merges).

    Attributes:
        left, right: int64 ``[M]``, ids of the merged pair.
        new_id: int64 ``[M]``, id of the token the merge makes (an existing id when the
            merge spells a token that is already in the vocabulary).
        count: int64 ``[M]``, how often the pair occurred in the corpus when merged.
        vocab_size: int64 ``[M]``, tokens in the vocabulary after the merge.
        tokens: the new token of each merge as text (bytes decoded as UTF-8 with U+FFFD
            for partial characters), ``[M]``.
    """

    left: np.ndarray
    right: np.ndarray
    new_id: np.ndarray
    count: np.ndarray
    vocab_size: np.ndarray
    tokens: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.left.shape[0])


class TrainedTokenizer(Tokenizer):
    """A :class:`~tokgeo.Tokenizer` made by :func:`train_bpe`, with what training saw.

    Attributes:
        merge_log: the :class:`MergeLog` (``None`` unless ``record_merges=True``).
        vocab_path, merges_path: the written files (``None`` without ``out_dir``).
        n_words: distinct pre-tokens in the corpus; n_pretokens: all of them.
    """

    merge_log: MergeLog | None
    vocab_path: Path | None
    merges_path: Path | None
    n_words: int
    n_pretokens: int


def _texts(corpus: Iterable[str]) -> Iterable[list[str]]:
    """Chunks of about _CHUNK_CHARS characters (never the whole corpus at once)."""
    if isinstance(corpus, (list, tuple)):
        step = 4096
        for i in range(0, len(corpus), step):
            yield list(corpus[i : i + step])
        return
    it = iter(corpus)
    while True:
        chunk: list[str] = []
        size = 0
        for s in islice(it, 4096):
            chunk.append(s)
            size += len(s) if isinstance(s, str) else 0
            if size >= _CHUNK_CHARS:
                break
        if not chunk:
            return
        yield chunk


def _save_while_building(h: object, folder: str, overlap: bool) -> object:
    """Writes the two files and builds the tokenizer handle; with ``overlap`` both at once
    (each releases the GIL and only reads the trainer).  Raises the save's error, if any,
    after the tokenizer's."""
    if not overlap:
        _C._bpe_save(h, folder)
        return _C._bpe_tokenizer(h)
    failed: list[BaseException] = []

    def save() -> None:
        try:
            _C._bpe_save(h, folder)
        except BaseException as e:  # re-raised in the caller's thread below
            failed.append(e)

    writer = threading.Thread(target=save, name="tokgeo-bpe-save")
    writer.start()
    try:
        handle = _C._bpe_tokenizer(h)
    finally:
        writer.join()
    if failed:
        raise failed[0]
    return handle


def train_bpe(
    corpus: Corpus,
    vocab_size: int,
    *,
    special_tokens: Sequence[str] = (),
    min_frequency: int = 2,
    out_dir: PathLike | None = None,
    record_merges: bool = False,
    threads: int | None = None,
    pattern: str = "gpt2",
) -> TrainedTokenizer:
    """Trains a byte-level BPE vocabulary of ``vocab_size`` tokens on ``corpus``.

    Args:
        corpus: a path to a UTF-8 text file (read line by line, streamed), or an iterable
            of str (a list, or any iterator: it is consumed in chunks, never held whole).
        vocab_size: wanted tokens, counting the special tokens and the 256 byte tokens
            (so at least ``256 + len(special_tokens)``).  Training stops earlier when no
            pair occurs ``min_frequency`` times.
        special_tokens: tokens given the first ids (``"<|endoftext|>"``, ``"[PAD]"``...);
            each must be written in GPT-2's byte-level alphabet (printable characters, no
            spaces).
        min_frequency: a pair is merged only if it occurs at least this often.
        out_dir: when given, ``vocab.json`` and ``merges.txt`` are written there (the folder
            is created; each file appears complete or not at all).
        record_merges: keep the :class:`MergeLog` (pair, count, new token, vocabulary size
            of every merge) on the result, for plotting how the vocabulary grows.
        threads: counting threads (default :func:`tokgeo.get_num_threads`).
        pattern: the pre-tokenizer's split pattern, ``"gpt2"`` or ``"cl100k"`` (GPT-4's).

    Returns:
        a :class:`TrainedTokenizer` (a :class:`~tokgeo.Tokenizer`).

    Raises:
        InvalidInputError: an empty corpus, ``vocab_size`` below ``256 + len(special_tokens)``,
            a bad special token.
        TextEncodingError: the file is not UTF-8 (the message gives the line and byte
            offset), or a text holds a lone surrogate (the message gives its index).
        TokgeoIOError: the file cannot be read or the output written.
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)):
        raise InvalidTypeError(f"vocab_size must be an int, not {type(vocab_size).__name__}")
    if isinstance(min_frequency, bool) or not isinstance(min_frequency, (int, np.integer)) or min_frequency < 0:
        raise InvalidInputError(f"min_frequency must be an int >= 0, got {min_frequency!r}")
    if isinstance(special_tokens, str):
        raise InvalidTypeError(
            f"special_tokens must be a sequence of str, not the string {special_tokens!r}; "
            f"write special_tokens=[{special_tokens!r}]"
        )
    if pattern not in _PATTERNS:
        raise InvalidInputError(f'pattern must be "gpt2" or "cl100k", not {pattern!r}')
    if threads is None:
        threads = 0
    elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidInputError(f"threads must be a positive int or None, got {threads!r}")
    if vocab_size < 256 + len(special_tokens):
        raise InvalidInputError(
            f"vocab_size {vocab_size} is below the {256 + len(special_tokens)} tokens every byte-level "
            f"vocabulary starts with (256 bytes + {len(special_tokens)} special tokens)"
        )
    h = _C._bpe_new(int(vocab_size), int(min_frequency), tuple(special_tokens), int(threads), _PATTERNS[pattern])
    if isinstance(corpus, (str, os.PathLike)):
        path = Path(os.fspath(corpus)).expanduser()
        _C._bpe_feed_file(h, os.fspath(path))
    elif isinstance(corpus, bytes):
        raise InvalidTypeError("corpus must be a path, or an iterable of str; decode bytes first")
    else:
        try:
            chunks = _texts(corpus)
        except TypeError:
            raise InvalidTypeError(f"corpus must be a path or an iterable of str, not {type(corpus).__name__}") from None
        for chunk in chunks:
            _C._bpe_feed(h, chunk)
    _C._bpe_train(h)
    merges, n_words, n_pretokens = _C._bpe_result(h)
    vocab_path = merges_path = None
    if out_dir is None:
        handle = _C._bpe_tokenizer(h)
    else:
        d = Path(os.fspath(out_dir)).expanduser()
        d.mkdir(parents=True, exist_ok=True)
        handle = _save_while_building(h, os.fspath(d), (threads or _C.get_num_threads()) > 1)
        vocab_path, merges_path = d / "vocab.json", d / "merges.txt"
    tok = TrainedTokenizer(handle, source=os.fspath(vocab_path) if vocab_path else "trained BPE")
    tok.vocab_path, tok.merges_path = vocab_path, merges_path
    tok.n_words, tok.n_pretokens = int(n_words), int(n_pretokens)
    tok.merge_log = None
    if record_merges:
        new_ids = merges[:, 2]
        tokens = tuple(b.decode("utf-8", "replace") for b in tok.token_bytes(new_ids)) if len(new_ids) else ()
        tok.merge_log = MergeLog(
            left=merges[:, 0].copy(),
            right=merges[:, 1].copy(),
            new_id=new_ids.copy(),
            count=merges[:, 4].copy(),
            vocab_size=merges[:, 3].copy(),
            tokens=tokens,
        )
    return tok
