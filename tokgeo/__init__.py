"""tokgeo: the geometry of tokens inside GPT-2, with a C core.

Quick start::

    import tokgeo
    tok = tokgeo.Tokenizer.gpt2()
    tok.encode("She gave her book away")

See the README for the tour.
"""

from __future__ import annotations

from . import datasets, errors, metrics, safetensors, studies
from ._version import __version__
from .errors import *  # noqa: F401,F403  (the exception hierarchy is public API)
from ._C import blis_info, get_num_threads, set_num_threads
from .cache import ActivationCache
from .model import GPT2, GPT2Config
from .tokenizer import Batch, Tokenizer
from .bpe_train import MergeLog, TrainedTokenizer, train_bpe
from .simple_tokenizers import CharTokenizer, WordTokenizer

__all__ = [
    "__version__",
    "datasets",
    "errors",
    "metrics",
    "safetensors",
    "studies",
    "blis_info",
    "get_num_threads",
    "set_num_threads",
    "Tokenizer",
    "Batch",
    "train_bpe",
    "TrainedTokenizer",
    "MergeLog",
    "CharTokenizer",
    "WordTokenizer",
    "GPT2",
    "GPT2Config",
    "ActivationCache",
    *errors.__all__,
]
