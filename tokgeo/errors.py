"""The tokgeo exception hierarchy.

Every error tokgeo raises on purpose is a :class:`TokgeoError`.  Each subclass is also the
matching builtin exception, so ``except ValueError`` keeps working for code that does not
know tokgeo:

=========================  ==========================  ====================================
class                      also a                      raised when
=========================  ==========================  ====================================
``InvalidInputError``      ``ValueError``              an argument has a bad value
``InvalidTypeError``       ``TypeError``               an argument has a bad type or dtype
``TokenIdError``           ``IndexError``              a token id or index is out of range
``FormatError``            ``ValueError``              a file or buffer is malformed
``SpecialTokenError``      ``ValueError``              user text holds a disallowed special
                                                       token such as ``<|endoftext|>``
``TextEncodingError``      ``UnicodeError``            text cannot be encoded as UTF-8
``TokgeoIOError``          ``OSError``                 the OS refused to read or map a file
``HubError``               ``OSError``                 the model hub could not serve a file
``OfflineError``           ``HubError``                a file is needed but offline mode is on
``SizeOverflowError``      ``OverflowError``           a size computation would overflow
``TokgeoMemoryError``      ``MemoryError``             an allocation failed
``MemoryBudgetError``      ``MemoryError``             a run would need more memory than the
                                                       budget; the message says what to drop
``TargetNotFoundError``    ``LookupError``             a target word is missing in a sentence
=========================  ==========================  ====================================

The C core reports failures as status codes; one table in ``csrc/python/module.c`` maps
them onto these classes.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TokgeoError",
    "InvalidInputError",
    "InvalidTypeError",
    "TokenIdError",
    "FormatError",
    "SpecialTokenError",
    "TextEncodingError",
    "TokgeoIOError",
    "HubError",
    "OfflineError",
    "SizeOverflowError",
    "TokgeoMemoryError",
    "MemoryBudgetError",
    "TargetNotFoundError",
]


class TokgeoError(Exception):
    """Base class of every error raised by tokgeo."""


class InvalidInputError(TokgeoError, ValueError):
    """An argument has a value tokgeo cannot use."""


class InvalidTypeError(TokgeoError, TypeError):
    """An argument has the wrong type, dtype or dimensionality."""


class TokenIdError(TokgeoError, IndexError):
    """A token id (or another index) is outside the valid range."""


class FormatError(TokgeoError, ValueError):
    """A file or buffer (vocabulary, merges, safetensors, config) is malformed."""


class SpecialTokenError(TokgeoError, ValueError):
    """Text contains a special token (e.g. ``<|endoftext|>``) that was not allowed."""


class TextEncodingError(TokgeoError, UnicodeError):
    """Text cannot be represented as UTF-8 (for example a lone surrogate)."""


class TokgeoIOError(TokgeoError, OSError):
    """The operating system refused to open, read or map a file."""


class HubError(TokgeoError, OSError):
    """The Hugging Face hub (or a mirror) could not provide a file."""


class OfflineError(HubError):
    """A file must be downloaded but offline mode (``HF_HUB_OFFLINE``) is on."""


class SizeOverflowError(TokgeoError, OverflowError):
    """A size computation would overflow the machine's address space."""


class TokgeoMemoryError(TokgeoError, MemoryError):
    """An allocation failed."""


class MemoryBudgetError(TokgeoError, MemoryError):
    """The requested work needs more memory than the budget allows."""


class TargetNotFoundError(TokgeoError, LookupError):
    """A target token or word is missing from a sentence.

    Raised by :func:`tokgeo.datasets.find_targets` with these attributes filled in:

    Attributes:
        problems: one :class:`tokgeo.datasets.TargetProblem` per unusable sentence
            (its ``index`` is the sentence's position in the input list).
        n_sentences: how many sentences were given.
        case_variants: other capitalisations of the target word found in the unusable
            sentences (``("Her",)``), which ``case_sensitive=False`` would match.
    """

    problems: tuple[Any, ...] = ()
    n_sentences: int = 0
    case_variants: tuple[str, ...] = ()

from ._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
