"""The tokenization module's lessons (issue 12), one class per lesson, on tokenizers alone
(no model): any tokenizer with character offsets takes part (see ``_shared.tokenize``).

==========================  ===========================================================
class                       lesson
==========================  ===========================================================
``BookTokenization``        a public-domain book by characters, words, GPT-2, cl100k and a
                            BPE trained on it: counts, compression, token lengths, Zipf
``SubwordLengths``          token count by subword length (GPT-2, cl100k, a WordPiece)
``BPEGrowth``               BPE to a desired vocabulary size: the merge log, compression
                            against vocabulary size
``LettersInTokens``         how many r's in "strawberry": letters inside tokens
``TokenMapping``            translating between tokenizers through character offsets
``LanguageCompression``     compression ratios per tokenizer and language (parallel text)
``TextPreparation``         what normalisation does to counts and vocabulary sizes
==========================  ===========================================================

Shipped texts: :func:`book_text` (Carroll's *Alice*, public domain) and
:func:`parallel_text` (spaCy's example sentences in 12 languages, MIT); sources and
licences in ``tokgeo/data/books/README.md`` and ``tokgeo/data/parallel/README.md``.
"""

from __future__ import annotations

from ._shared import Tokens, ZipfFit, book_text, parallel_text, read_text_file, tokenize, zipf_fit
from .book import BookTokenization, BookTokenizationResult, SubwordLengths
from .growth import BPEGrowth, BPEGrowthResult
from .languages import LanguageCompression, LanguageCompressionResult
from .letters import LettersInTokens, LettersInTokensResult
from .mapping import TokenMapping, TokenMappingResult, align
from .preparation import NORMALIZERS, TextPreparation, TextPreparationResult

__all__ = ["BookTokenization", "BookTokenizationResult", "SubwordLengths", "BPEGrowth", "BPEGrowthResult",
           "LettersInTokens", "LettersInTokensResult", "TokenMapping", "TokenMappingResult", "align",
           "LanguageCompression", "LanguageCompressionResult", "TextPreparation", "TextPreparationResult", "NORMALIZERS",
           "Tokens", "ZipfFit", "book_text", "parallel_text", "read_text_file", "tokenize", "zipf_fit"]

from ..._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
