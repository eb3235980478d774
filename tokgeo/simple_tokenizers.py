"""Character-level and word-level tokenizers, for the first lessons of the module.

Both are built from a text (the vocabulary is what the text contains, most frequent
first, ties in code-point order), map anything unseen to an unknown token, and give
character offsets (``text[start:end]`` is the token), so their tokens can be aligned
with GPT-2's or cl100k's through the text.

They are plain Python on purpose: encoding is one dict lookup per token, and the lessons
run them on a book (a few hundred thousand characters, milliseconds); a C version would
buy nothing measurable.

    >>> ch = CharTokenizer.from_text("hello")
    >>> ch.encode("hole")            # 'e' 'h' 'l' 'o' -> ids by frequency
    [...]
    >>> wd = WordTokenizer.from_text("the cat sat on the mat.")
    >>> wd.tokens(wd.encode("the dog sat."))
    ['the', '<unk>', 'sat', '.']
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from .errors import InvalidInputError, InvalidTypeError, TokenIdError

__all__ = ["CharTokenizer", "WordTokenizer"]

# A word: a run of letters / digits / underscore (Unicode \w), or one other non-space character.
WORD_PATTERN = re.compile(r"\w+|[^\w\s]")


class _VocabTokenizer:
    """Shared vocabulary logic: ``id -> token`` list with the unknown token at id 0."""

    def __init__(self, tokens: Sequence[str], unk_token: str) -> None:
        if not isinstance(unk_token, str) or not unk_token:
            raise InvalidInputError("unk_token must be a non-empty str")
        self.unk_token = unk_token
        self.vocab: list[str] = [unk_token] + [t for t in tokens if t != unk_token]
        self.ids: dict[str, int] = {t: i for i, t in enumerate(self.vocab)}
        if len(self.ids) != len(self.vocab):
            raise InvalidInputError("the vocabulary has duplicate tokens")

    @property
    def n_vocab(self) -> int:
        """Number of ids (the unknown token included)."""
        return len(self.vocab)

    @property
    def unk_id(self) -> int:
        """Id of the unknown token (0)."""
        return 0

    @staticmethod
    def _ranked(pieces: Iterable[str], max_size: int | None, min_count: int) -> list[str]:
        counts = Counter(pieces)
        ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return ranked if max_size is None else ranked[: max(0, max_size - 1)]

    def _spans(self, text: str) -> list[tuple[int, int]]:
        raise NotImplementedError

    def encode_with_offsets(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """``(ids int64 [n], offsets int64 [n, 2])``, offsets in characters of ``text``."""
        if not isinstance(text, str):
            raise InvalidTypeError(f"text must be str, not {type(text).__name__}")
        spans = self._spans(text)
        ids = np.fromiter((self.ids.get(text[a:b], 0) for a, b in spans), dtype=np.int64, count=len(spans))
        return ids, np.asarray(spans, dtype=np.int64).reshape(len(spans), 2)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (unseen tokens get :attr:`unk_id`)."""
        ids: list[int] = self.encode_with_offsets(text)[0].tolist()
        return ids

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """The token string of each id.

        Raises:
            TokenIdError: an id outside ``[0, n_vocab)``.
        """
        out = []
        for pos, i in enumerate(ids):
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < len(self.vocab):
                raise TokenIdError(f"token id {i!r} at position {pos} is not in the vocabulary (0..{len(self.vocab) - 1})")
            out.append(self.vocab[int(i)])
        return out


class CharTokenizer(_VocabTokenizer):
    """One token per Unicode code point."""

    @classmethod
    def from_text(cls, text: str, *, unk_token: str = "<unk>", max_size: int | None = None,
                  min_count: int = 1) -> CharTokenizer:
        """The characters of ``text`` (most frequent first), at most ``max_size`` ids with
        the unknown token; characters seen fewer than ``min_count`` times are left out."""
        if not isinstance(text, str):
            raise InvalidTypeError(f"text must be str, not {type(text).__name__}")
        return cls(cls._ranked(text, max_size, min_count), unk_token)

    def _spans(self, text: str) -> list[tuple[int, int]]:
        return [(i, i + 1) for i in range(len(text))]

    def decode(self, ids: Iterable[int]) -> str:
        """The characters joined (unknown characters come back as the unknown token)."""
        return "".join(self.tokens(ids))


class WordTokenizer(_VocabTokenizer):
    """Words (runs of Unicode letters, digits, ``_``) and single punctuation marks; white
    space separates tokens and is not a token."""

    @classmethod
    def from_text(cls, text: str, *, unk_token: str = "<unk>", max_size: int | None = None, min_count: int = 1,
                  lowercase: bool = False) -> WordTokenizer:
        """The words of ``text`` (most frequent first), as :class:`CharTokenizer.from_text`."""
        if not isinstance(text, str):
            raise InvalidTypeError(f"text must be str, not {type(text).__name__}")
        tok = cls([], unk_token)
        tok.lowercase = lowercase
        words = [text[a:b] for a, b in tok._spans(text)]
        if lowercase:
            words = [w.lower() for w in words]
        cls.__init__(tok, cls._ranked(words, max_size, min_count), unk_token)
        return tok

    lowercase: bool = False

    def _spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in WORD_PATTERN.finditer(text)]

    def encode_with_offsets(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        if not self.lowercase:
            return super().encode_with_offsets(text)
        if not isinstance(text, str):
            raise InvalidTypeError(f"text must be str, not {type(text).__name__}")
        spans = self._spans(text)
        ids = np.fromiter((self.ids.get(text[a:b].lower(), 0) for a, b in spans), dtype=np.int64, count=len(spans))
        return ids, np.asarray(spans, dtype=np.int64).reshape(len(spans), 2)

    def decode(self, ids: Iterable[int]) -> str:
        """The words joined by single spaces (the original spacing is not kept: use the
        offsets of :meth:`encode_with_offsets` to go back to the text)."""
        return " ".join(self.tokens(ids))
