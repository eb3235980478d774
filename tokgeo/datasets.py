"""Data sets for the lessons, and the search for a target token in any user's sentences.

The lessons follow one token through GPT-2: the word ``her`` in 54 short sentences
(:func:`her_sentences`).  Any other data set works the same way: give sentences and a
target (a word such as ``"her"``/``" her"``, or a token id) to :func:`find_targets`, which
finds, in every sentence, the token of the target and the last token of the word right
before it (the *non-target* of the lessons), through the tokenizer's character offsets.

Sentences that cannot be used (the target is missing, occurs twice, is split into several
tokens, or has no word before it) are reported together, by index and text, in one
:class:`~tokgeo.errors.TargetNotFoundError`; with ``strict=False`` they are dropped with a
warning instead and listed in :attr:`TargetSet.dropped`.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from .errors import InvalidInputError, InvalidTypeError, TargetNotFoundError

__all__ = [
    "her_sentences",
    "find_targets",
    "TargetSet",
    "TargetProblem",
    "HER_SENTENCES_NAME",
    "sentences_digest",
]

#: The name recorded in a result's provenance when the built-in data set is used.
HER_SENTENCES_NAME = "tokgeo.datasets.her_sentences"

# Written for tokgeo.  Each sentence holds the word "her" exactly once, as the single GPT-2
# token " her", right after another word; 5 to 10 GPT-2 tokens each (so a batch needs
# padding).  tests/test_datasets.py checks every one of these properties.
_HER_SENTENCES: tuple[str, ...] = (
    "I gave her the keys.",
    "We met her at the station yesterday.",
    "The dog followed her home.",
    "Tom called her twice last night.",
    "Nobody told her about the meeting.",
    "She lost her umbrella on the bus.",
    "The teacher praised her careful drawing.",
    "They invited her to dinner on Friday.",
    "He handed her a cup of tea.",
    "My brother helped her move the piano.",
    "The rain soaked her new coat.",
    "Anna found her glasses under the sofa.",
    "The nurse checked her pulse.",
    "Everyone loved her quiet laugh.",
    "I will send her a postcard from Rome.",
    "The manager promoted her in March.",
    "A stranger asked her for directions.",
    "The cat scratched her arm.",
    "Maria painted her kitchen bright yellow.",
    "The crowd cheered her final jump.",
    "We should thank her for the flowers.",
    "The letter reached her too late.",
    "Grandpa taught her to play chess.",
    "The noise woke her before dawn.",
    "Lisa sold her bicycle to a neighbour.",
    "The doctor gave her some advice.",
    "Did you see her new garden?",
    "The kids surprised her with a cake.",
    "Sam borrowed her notes for the exam.",
    "The wind blew her hat into the lake.",
    "Please remind her to water the plants.",
    "The judge fined her fifty dollars.",
    "Emma packed her suitcase in ten minutes.",
    "The puppy licked her face.",
    "Our coach trusts her judgment.",
    "The museum hired her last spring.",
    "I recognized her voice on the radio.",
    "The storm kept her awake.",
    "Julia repaired her old radio with tape.",
    "The boss sent her to Berlin.",
    "Nobody could beat her at tennis.",
    "The waiter brought her the wrong soup.",
    "Kate wrote her first novel at twenty.",
    "The thunder startled her.",
    "The village elected her mayor.",
    "Ben drove her to the airport.",
    "The sun warmed her cold hands.",
    "Rachel keeps her bike in the hall.",
    "The news made her smile.",
    "They finally paid her the full amount.",
    "The children followed her deep into the quiet forest.",
    "That song reminded her of summer by the sea.",
    "Laura broke her wrist skiing.",
    "Two friends visited her in hospital.",
)


def her_sentences() -> list[str]:
    """The lessons' data set: 54 short English sentences, each with ``" her"`` once.

    Every sentence contains the word *her* exactly once, encoded by GPT-2 as the single
    token ``" her"`` (id 607) and preceded by another word; the sentences are 5 to 10
    tokens long, so a batch of them needs padding.

    Returns:
        A new list (safe to modify) of 54 strings.
    """
    return list(_HER_SENTENCES)


class _OffsetTokenizer(Protocol):
    def encode_with_offsets(self, text: str) -> tuple[Any, Any]: ...


@dataclass(frozen=True)
class TargetProblem:
    """Why one sentence cannot be used.

    Attributes:
        index: position of the sentence in the list given to :func:`find_targets`.
        text: the sentence.
        reason: ``"missing"``, ``"repeated"``, ``"split"`` or ``"no previous word"``.
        detail: a human-readable explanation (the tokens involved, the count...).
    """

    index: int
    text: str
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.index}] {self.text!r}: {self.reason} ({self.detail})"


@dataclass(frozen=True)
class TargetSet:
    """Sentences with the located target and non-target (previous-word) tokens.

    All arrays have one entry per *kept* sentence, in input order.

    Attributes:
        sentences: the kept sentences.
        indices: int64 [N], index of each kept sentence in the input list.
        target: the target as given (a word, or a token id).
        token_ids: the token ids of each kept sentence (int64 arrays of their own lengths).
        positions: int64 [N], token index of the target in each sentence.
        target_ids: int64 [N], the target's token id in each sentence (the same id
            everywhere unless ``case_sensitive=False`` mixes ``" her"`` and ``" Her"``).
        previous_positions: int64 [N], token index of the last token of the word before the
            target (the non-target token).
        previous_words: the word before the target in each sentence.
        dropped: the sentences left out (only with ``strict=False``).
        name: the data set's name, recorded in results.
    """

    sentences: tuple[str, ...]
    indices: np.ndarray
    target: str | int
    token_ids: tuple[np.ndarray, ...]
    positions: np.ndarray
    target_ids: np.ndarray
    previous_positions: np.ndarray
    previous_words: tuple[str, ...]
    dropped: tuple[TargetProblem, ...] = ()
    name: str = "user sentences"

    def __len__(self) -> int:
        return len(self.sentences)

    @property
    def lengths(self) -> np.ndarray:
        """int64 [N]: number of tokens of each kept sentence."""
        return np.array([len(t) for t in self.token_ids], dtype=np.int64)

    @property
    def sha256(self) -> str:
        """A digest of the kept sentences, recorded in results to identify the data."""
        return sentences_digest(self.sentences)

    def target_tokens(self, tokenizer: Any) -> list[str]:
        """The target token of each sentence as text (for labels)."""
        return [tokenizer.decode([int(i)]) for i in self.target_ids]


def sentences_digest(sentences: Iterable[str]) -> str:
    """SHA-256 of the sentences joined by newlines (identifies a data set in provenance)."""
    h = hashlib.sha256()
    for s in sentences:
        h.update(s.encode("utf-8", "surrogatepass"))
        h.update(b"\n")
    return h.hexdigest()


_WORD = re.compile(r"\w+(?:['’]\w+)*")


def _check_sentences(sentences: Any) -> list[str]:
    if isinstance(sentences, str):
        raise InvalidTypeError(
            "sentences must be a list of strings, not one string; wrap it: [text]"
        )
    try:
        items = list(sentences)
    except TypeError:
        raise InvalidTypeError(
            f"sentences must be a list of strings, got {type(sentences).__name__}"
        ) from None
    if not items:
        raise InvalidInputError("sentences is empty: give at least one sentence")
    for i, s in enumerate(items):
        if not isinstance(s, str):
            raise InvalidTypeError(
                f"sentence [{i}] is a {type(s).__name__}, not a str: give text, not token ids"
            )
    return items


def _default_tokenizer() -> Any:
    from .tokenizer import Tokenizer  # the engine's tokenizer (imported when needed)

    return Tokenizer.gpt2()


def find_targets(
    sentences: Sequence[str],
    target: str | int = " her",
    tokenizer: _OffsetTokenizer | None = None,
    *,
    strict: bool = True,
    case_sensitive: bool = True,
    name: str | None = None,
) -> TargetSet:
    """Locate a target word (or token id) and the word before it in every sentence.

    Args:
        sentences: the texts, one sentence each.
        target: a word (``"her"``; a leading space as in ``" her"`` is allowed and means
            the same) or a token id (an ``int``).  A word must occur exactly once as a
            whole word (``"her"`` does not match *here* or *mother*) and be encoded as a
            single token; a token id must occur exactly once.
        tokenizer: anything with ``encode_with_offsets(text) -> (ids, offsets)``, offsets
            in characters ``[n, 2]``; defaults to ``tokgeo.Tokenizer.gpt2()``.  Pass the
            model's tokenizer (``model.tokenizer``) when the model has its own vocabulary.
        strict: when True (default) any unusable sentence raises
            :class:`~tokgeo.errors.TargetNotFoundError` listing all of them; when False
            they are dropped with a :class:`UserWarning` and listed in ``.dropped``.
        case_sensitive: when False, ``"her"`` also matches ``"Her"``.
        name: the data set's name for provenance (default ``"user sentences"``).

    Returns:
        A :class:`TargetSet`.

    Raises:
        TargetNotFoundError: some sentence is unusable (``strict=True``) or none is usable.
        InvalidInputError, InvalidTypeError: bad ``sentences`` or ``target``.
    """
    items = _check_sentences(sentences)
    if isinstance(target, bool) or not isinstance(target, (str, int, np.integer)):
        raise InvalidTypeError(
            f"target must be a word (str) or a token id (int), got {type(target).__name__}"
        )
    word: str | None = None
    target_id: int | None = None
    if isinstance(target, str):
        word = target.strip()
        if not word:
            raise InvalidInputError("target is empty: give a word such as \" her\"")
        if any(ch.isspace() for ch in word):
            raise InvalidInputError(
                f"target {target!r} has several words: give one word (the lessons follow "
                "one token)"
            )
        pattern = re.compile(
            r"(?<!\w)" + re.escape(word) + r"(?!\w)", 0 if case_sensitive else re.IGNORECASE
        )
    else:
        target_id = int(target)
        if target_id < 0:
            raise InvalidInputError(f"target token id {target_id} is negative")
    tok = tokenizer if tokenizer is not None else _default_tokenizer()

    kept: list[int] = []
    ids_out: list[np.ndarray] = []
    pos_out: list[int] = []
    tid_out: list[int] = []
    prev_out: list[int] = []
    prevw_out: list[str] = []
    problems: list[TargetProblem] = []

    for i, text in enumerate(items):
        ids_raw, offs_raw = tok.encode_with_offsets(text)
        ids = np.asarray(ids_raw, dtype=np.int64).reshape(-1)
        offs = np.asarray(offs_raw, dtype=np.int64).reshape(-1, 2)
        if word is not None:
            found = _locate_word(text, ids, offs, pattern, word)
        else:
            found = _locate_id(ids, offs, target_id)  # type: ignore[arg-type]
        if isinstance(found, tuple):
            reason, detail = found
            problems.append(TargetProblem(i, text, reason, detail))
            continue
        t = found
        prev = _previous_word(text, offs, t)
        if prev is None:
            problems.append(
                TargetProblem(i, text, "no previous word", "the target is the first word")
            )
            continue
        p, pword = prev
        kept.append(i)
        ids_out.append(ids)
        pos_out.append(t)
        tid_out.append(int(ids[t]))
        prev_out.append(p)
        prevw_out.append(pword)

    label = repr(target) if isinstance(target, str) else f"token id {target}"
    if problems and (strict or not kept):
        lines = "\n".join(f"  {p}" for p in problems)
        how = (
            "Fix or remove these sentences, or pass strict=False to drop them with a warning."
            if kept
            else "No sentence is usable: check the target's spelling and case."
        )
        seen: list[str] = []
        if word is not None and case_sensitive:
            other = re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)", re.IGNORECASE)
            seen = sorted({m.group(0) for p in problems for m in other.finditer(p.text)} - {word})
            if seen:
                how += (f" The target occurs as {', '.join(map(repr, seen))} in some of them: "
                        "case_sensitive=False matches every capitalisation.")
        err = TargetNotFoundError(
            f"target {label} is not usable in {len(problems)} of {len(items)} sentences:\n"
            f"{lines}\n{how}"
        )
        err.problems = tuple(problems)
        err.n_sentences = len(items)
        err.case_variants = tuple(seen)
        raise err
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        warnings.warn(
            f"dropped {len(problems)} of {len(items)} sentences where target {label} is not "
            f"usable:\n{lines}",
            UserWarning,
            stacklevel=2,
        )
    return TargetSet(
        sentences=tuple(items[i] for i in kept),
        indices=np.asarray(kept, dtype=np.int64),
        target=target if isinstance(target, str) else int(target),
        token_ids=tuple(ids_out),
        positions=np.asarray(pos_out, dtype=np.int64),
        target_ids=np.asarray(tid_out, dtype=np.int64),
        previous_positions=np.asarray(prev_out, dtype=np.int64),
        previous_words=tuple(prevw_out),
        dropped=tuple(problems),
        name=name if name is not None else "user sentences",
    )


def _token_texts(text: str, offs: np.ndarray, idx: Iterable[int]) -> str:
    return ", ".join(repr(text[int(offs[j, 0]) : int(offs[j, 1])]) for j in idx)


def _locate_word(
    text: str, ids: np.ndarray, offs: np.ndarray, pattern: re.Pattern[str], word: str
) -> int | tuple[str, str]:
    matches = list(pattern.finditer(text))
    if not matches:
        return ("missing", f"no whole word {word!r}")
    if len(matches) > 1:
        where = ", ".join(str(m.start()) for m in matches)
        return ("repeated", f"{len(matches)} times, at characters {where}")
    m = matches[0]
    s, e = m.start(), m.end()
    # tokens overlapping the word's characters
    over = [j for j in range(len(ids)) if offs[j, 0] < e and offs[j, 1] > s]
    if len(over) != 1:
        return ("split", f"{word!r} is {len(over)} tokens here: {_token_texts(text, offs, over)}")
    j = over[0]
    ts, te = int(offs[j, 0]), int(offs[j, 1])
    # the token must be the word itself, possibly with the whitespace before it
    if te != e or ts > s or text[ts:s].strip():
        return (
            "split",
            f"{word!r} shares the token {_token_texts(text, offs, [j])} with other characters",
        )
    return j


def _locate_id(ids: np.ndarray, offs: np.ndarray, target_id: int) -> int | tuple[str, str]:
    hits = np.flatnonzero(ids == target_id)
    if hits.size == 0:
        return ("missing", f"no token {target_id}")
    if hits.size > 1:
        return ("repeated", f"{hits.size} times, at tokens {', '.join(map(str, hits))}")
    return int(hits[0])


def _previous_word(text: str, offs: np.ndarray, t: int) -> tuple[int, str] | None:
    """Token index of the last token of the word before token t, and that word."""
    start = int(offs[t, 0])
    words = list(_WORD.finditer(text, 0, start))
    if not words:
        return None
    w = words[-1]
    last_char = w.end() - 1
    for j in range(t - 1, -1, -1):
        if offs[j, 0] <= last_char < offs[j, 1]:
            return j, w.group(0)
    return None

from ._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
