"""BERT's WordPiece tokenizer (uncased and cased), in C, token- and offset-identical to Hugging
Face ``tokenizers``' BERT tokenizer (``BertWordPieceTokenizer`` / ``transformers``'
``BertTokenizerFast``).

    >>> wp = WordPieceTokenizer.from_file("vocab.txt")            # uncased: lower case, no accents
    >>> wp.tokenize("Héllo, unaffable world!")
    ['hello', ',', 'una', '##ffa', '##ble', 'world', '!']          # (depends on the vocabulary)
    >>> ids, offsets = wp.encode_with_offsets("Héllo")              # [T], [T, 2] with [CLS] [SEP]
    >>> wp.decode(ids)                                              # 'hello'

What it does (the C core's contract is in ``csrc/include/tokgeo/tokenizer.h``, "WordPiece"):
special tokens written in the text ([UNK] [CLS] [SEP] [PAD] [MASK]) are kept whole; the rest is
cleaned (control and format characters dropped, white space made spaces), CJK ideographs are
split off, accents stripped (NFD, then combining marks dropped) and letters lower-cased for
uncased models; words are split at spaces and around every punctuation character; each word is
matched greedily longest-first against the vocabulary, pieces after the first spelt with
``##``; a word that cannot be covered, or longer than ``max_input_chars_per_word`` (100)
characters, is ``[UNK]``.  Offsets are in characters of the text you passed (``text[s:e]``),
so tokens of two tokenizers can be aligned.

Unicode: tokgeo's character data is Unicode 16.0 (one version for every property).  Hugging
Face's Rust crates mix versions: character categories from Unicode 8.0 (control, format,
punctuation, non-spacing marks), an older canonical decomposition, lower case from the Rust
standard library (Unicode 17).  The few hundred code points where that makes a difference (none
in the common scripts) are listed and explained by tests/test_wordpiece.py.

No BERT vocabulary ships with tokgeo (no package in the registries provides one); load your
``vocab.txt`` with :meth:`WordPieceTokenizer.from_file`, or a hub model's with
:meth:`WordPieceTokenizer.from_pretrained` (offline: :class:`~tokgeo.errors.OfflineError` unless
it is cached).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np
from numpy.typing import NDArray

from . import _C
from .errors import FormatError, InvalidInputError, InvalidTypeError, TokenIdError

__all__ = ["WordPieceTokenizer"]

PathLike = Union[str, "os.PathLike[str]"]
SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")
# the core's encode flags: code point offsets, specials in the text, [CLS]/[SEP], words only
_OFFSETS, _SPECIALS, _ADD_SPECIAL, _WORDS = _C._wp_flags()

# tokenizers' WordPiece decoder cleanup, applied to each token with its leading space
_CLEANUP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
            (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


class WordPieceTokenizer:
    """A BERT WordPiece tokenizer over a ``vocab.txt`` (one token per line, id = line - 1).

    Build with :meth:`from_file` or :meth:`from_pretrained`.  Immutable and thread-safe; the
    encoders release the GIL.
    """

    def __init__(self, handle: object, *, lowercase: bool, strip_accents: bool, source: str) -> None:
        self._h = handle
        self.lowercase = lowercase
        """Whether letters are lower-cased (uncased BERT)."""
        self.strip_accents = strip_accents
        """Whether accents are stripped (NFD, then non-spacing marks dropped)."""
        self.source = source
        """The vocabulary file it was loaded from."""
        n, specials = _C._wp_info(handle)
        self._n = n
        self._specials = dict(zip(SPECIAL_TOKENS, specials))
        self._special_ids = frozenset(i for i in specials if i >= 0)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, vocab: PathLike, lowercase: bool = True, strip_accents: bool | None = None, *,
                  max_input_chars_per_word: int = 100, unk_token: str = "[UNK]", clean_text: bool = True,
                  handle_chinese_chars: bool = True) -> WordPieceTokenizer:
        """Loads ``vocab`` (a BERT ``vocab.txt``).

        ``lowercase``: uncased BERT (``True``) or cased (``False``); ``strip_accents``: ``None``
        follows ``lowercase`` as BERT does; the other options are those of Hugging Face's
        ``BertNormalizer`` / ``WordPiece`` with their defaults.

        Raises:
            FormatError: the file is empty, has an empty line, a line that is not UTF-8, a token
                twice, or no ``unk_token`` line (the message names the file and the line).
            TokgeoIOError: the file cannot be read.
            InvalidTypeError / InvalidInputError: a bad argument.
        """
        if not isinstance(vocab, (str, os.PathLike)):
            raise InvalidTypeError(f"vocab must be a path, not {type(vocab).__name__}")
        for name, v in (("lowercase", lowercase), ("clean_text", clean_text), ("handle_chinese_chars", handle_chinese_chars)):
            if not isinstance(v, bool):
                raise InvalidTypeError(f"{name} must be True or False, not {v!r}")
        if strip_accents is not None and not isinstance(strip_accents, bool):
            raise InvalidTypeError(f"strip_accents must be None, True or False, not {strip_accents!r}")
        if not isinstance(max_input_chars_per_word, int) or isinstance(max_input_chars_per_word, bool):
            raise InvalidTypeError("max_input_chars_per_word must be an int")
        if max_input_chars_per_word < 1:
            raise InvalidInputError(f"max_input_chars_per_word must be >= 1, got {max_input_chars_per_word}")
        if not isinstance(unk_token, str) or not unk_token or "\0" in unk_token:
            raise InvalidInputError("unk_token must be a non-empty str without NUL")
        strip = -1 if strip_accents is None else int(strip_accents)
        handle = _C._wp_load(os.fspath(vocab), lowercase, strip, clean_text, handle_chinese_chars,
                             max_input_chars_per_word, unk_token)
        return cls(handle, lowercase=lowercase, strip_accents=lowercase if strip_accents is None else strip_accents,
                   source=os.fspath(vocab))

    @classmethod
    def from_pretrained(cls, name_or_folder: PathLike, lowercase: bool | None = None,
                        strip_accents: bool | None = None) -> WordPieceTokenizer:
        """The tokenizer of a BERT model: a hub name (``"bert-base-uncased"``,
        ``"google-bert/bert-base-cased"``) fetched through :func:`tokgeo.hub.resolve_model`
        into the Hugging Face cache, or a local folder holding ``vocab.txt``.

        ``lowercase=None`` reads ``do_lower_case`` (and ``strip_accents``) from the model's
        ``tokenizer_config.json`` (default ``True``, as ``transformers``' BertTokenizer).
        Offline and not cached: :class:`~tokgeo.errors.OfflineError` with what to do.
        """
        if not isinstance(name_or_folder, (str, os.PathLike)):
            raise InvalidTypeError(f"name_or_folder must be a str or path, not {type(name_or_folder).__name__}")
        from . import hub

        files = ("vocab.txt",) if lowercase is not None else ("vocab.txt", "tokenizer_config.json")
        folder = Path(hub.resolve_model(name_or_folder, filenames=files))
        vocab = folder / "vocab.txt" if folder.is_dir() else folder
        if not vocab.is_file():
            from .errors import TokgeoIOError

            raise TokgeoIOError(f"{folder} has no vocab.txt; pass the folder of a BERT model, or use "
                                "WordPieceTokenizer.from_file(path)")
        if lowercase is None:
            lowercase = True
            config = vocab.parent / "tokenizer_config.json"
            if config.is_file():
                try:
                    cfg = json.loads(config.read_text(encoding="utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as err:
                    raise FormatError(f"{config} is not valid JSON: {err}") from None
                if isinstance(cfg, dict):
                    lowercase = bool(cfg.get("do_lower_case", True))
                    if strip_accents is None and isinstance(cfg.get("strip_accents"), bool):
                        strip_accents = cfg["strip_accents"]
        return cls.from_file(vocab, lowercase, strip_accents)

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        """Number of tokens (lines of vocab.txt)."""
        return self._n

    @property
    def unk_id(self) -> int:
        """Id of the unknown token."""
        return self._specials["[UNK]"]

    @property
    def cls_id(self) -> int | None:
        """Id of ``[CLS]`` (``None`` when the vocabulary has none)."""
        return self._special("[CLS]")

    @property
    def sep_id(self) -> int | None:
        """Id of ``[SEP]`` (or ``None``)."""
        return self._special("[SEP]")

    @property
    def pad_id(self) -> int | None:
        """Id of ``[PAD]`` (or ``None``)."""
        return self._special("[PAD]")

    @property
    def mask_id(self) -> int | None:
        """Id of ``[MASK]`` (or ``None``)."""
        return self._special("[MASK]")

    def _special(self, name: str) -> int | None:
        i = self._specials[name]
        return None if i < 0 else i

    def id_to_token(self, id: int) -> str:
        """The token string of ``id``; TokenIdError outside ``[0, vocab_size)``."""
        return _C._wp_tokens(self._h, [id])[0]

    def token_to_id(self, token: str) -> int | None:
        """The id of ``token`` (``None`` when it is not in the vocabulary)."""
        if not isinstance(token, str):
            raise InvalidTypeError(f"token must be str, not {type(token).__name__}")
        i = _C._wp_token_id(self._h, token)
        return None if i < 0 else i

    def tokens(self, ids: Iterable[int] | NDArray[np.int64]) -> list[str]:
        """Token strings of ``ids`` (a list of ints or a 1-D int64 array)."""
        return _C._wp_tokens(self._h, _ids(ids))

    # ------------------------------------------------------------------ encoding
    def _flags(self, add_special_tokens: bool, offsets: bool) -> int:
        if not isinstance(add_special_tokens, bool):
            raise InvalidTypeError("add_special_tokens must be True or False")
        return (_SPECIALS | (_ADD_SPECIAL if add_special_tokens else 0)
                | (_OFFSETS if offsets else 0))

    def encode(self, text: str, add_special_tokens: bool = True) -> NDArray[np.int64]:
        """Token ids of ``text``, int64 ``[T]``; ``[CLS]`` first and ``[SEP]`` last unless
        ``add_special_tokens=False`` (as Hugging Face's ``encode``)."""
        return _C._wp_encode(self._h, text, self._flags(add_special_tokens, False))[0]

    def encode_with_offsets(self, text: str, add_special_tokens: bool = True
                            ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(ids int64 [T], offsets int64 [T, 2])``: token ``i`` is ``text[offsets[i, 0]:offsets[i, 1]]``
        before normalisation (characters, not bytes); ``[CLS]``/``[SEP]`` get ``(0, 0)``."""
        ids, off = _C._wp_encode(self._h, text, self._flags(add_special_tokens, True))
        assert off is not None
        return ids, off

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = True
                     ) -> list[NDArray[np.int64]]:
        """:meth:`encode` of each text (in parallel in C): a list of int64 ``[T_i]`` arrays."""
        return [ids for ids, _ in _C._wp_encode_batch(self._h, _texts(texts), self._flags(add_special_tokens, False))]

    def encode_batch_with_offsets(self, texts: Sequence[str], add_special_tokens: bool = True
                                  ) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
        """:meth:`encode_with_offsets` of each text: a list of ``(ids [T_i], offsets [T_i, 2])``."""
        out = _C._wp_encode_batch(self._h, _texts(texts), self._flags(add_special_tokens, True))
        return [(ids, off) for ids, off in out if off is not None]

    def tokenize(self, text: str) -> list[str]:
        """The token strings of ``text`` without ``[CLS]``/``[SEP]`` (Hugging Face's ``tokenize``)."""
        return _C._wp_tokens(self._h, self.encode(text, add_special_tokens=False))

    def normalize(self, text: str) -> str:
        """``text`` as BERT's normaliser leaves it (cleaned, CJK spaced, accents stripped and
        lower-cased when the tokenizer does): what Hugging Face's ``BertNormalizer`` gives."""
        return _C._wp_normalize(self._h, text)[0]

    def pre_tokenize(self, text: str) -> list[tuple[str, tuple[int, int]]]:
        """The words of the normalised ``text`` before WordPiece splits them, each with its
        character span in ``text``: ``[(word, (start, end)), ...]``.  As Hugging Face's
        ``BertPreTokenizer`` on ``BertNormalizer``'s output; special tokens written in the text
        are not treated apart here (``[MASK]`` gives ``[``, ``mask``, ``]`` when uncased)."""
        norm, origins = _C._wp_normalize(self._h, text)
        _, spans = _C._wp_encode(self._h, text, _WORDS | _OFFSETS)
        assert spans is not None
        o = origins.tolist()
        return [(norm[a:b], (o[a], o[b - 1] + 1)) for a, b in spans.tolist()]

    # ------------------------------------------------------------------ decoding
    def decode(self, ids: Iterable[int] | NDArray[np.int64], skip_special_tokens: bool = True) -> str:
        """Text of ``ids`` as Hugging Face's WordPiece decoder writes it: tokens joined by spaces,
        ``##`` pieces glued to the one before, no space before ``. ? ! ,`` (and the other
        clean-ups of ``tokenizers``); ``[CLS]`` ``[SEP]`` ``[PAD]`` ... dropped unless
        ``skip_special_tokens=False``.  Normalisation is not undone (lower case stays)."""
        ids = _ids(ids)
        toks = self.tokens(ids)
        if skip_special_tokens:
            toks = [t for t, i in zip(toks, ids) if int(i) not in self._special_ids]
        parts = []
        for i, tok in enumerate(toks):
            if i:
                tok = tok[2:] if tok.startswith("##") else " " + tok
            for a, b in _CLEANUP:
                tok = tok.replace(a, b)
            parts.append(tok)
        return "".join(parts)

    def __repr__(self) -> str:
        kind = "uncased" if self.lowercase else "cased"
        return f"WordPieceTokenizer({self.source!r}, {kind}, strip_accents={self.strip_accents}, vocab_size={self._n})"


def _ids(ids: Iterable[int] | NDArray[np.int64]) -> list[int] | NDArray[np.int64]:
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise InvalidTypeError(f"ids must be a 1-D integer array, got {ids.ndim}-D {ids.dtype}")
        return np.ascontiguousarray(ids, dtype=np.int64)
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise InvalidTypeError(f"ids must be a list of ints or an int array, not {type(ids).__name__}")
    out = list(ids)
    for i, v in enumerate(out):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise InvalidTypeError(f"ids[{i}] must be an int, not {type(v).__name__}")
    return out


def _texts(texts: Sequence[str]) -> tuple[str, ...]:
    if isinstance(texts, str) or not isinstance(texts, Iterable):
        raise InvalidTypeError(f"texts must be a sequence of str, not {type(texts).__name__}")
    return tuple(texts)


from ._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
