"""tokgeo: the geometry of tokens inside GPT-2, with a C core.

Quick start::

    import tokgeo
    tok = tokgeo.Tokenizer.gpt2()
    tok.encode("She gave her book away")

See the README for the tour.
"""

from __future__ import annotations

from . import errors
from ._version import __version__
from .errors import *  # noqa: F401,F403  (the exception hierarchy is public API)
from ._C import get_num_threads, set_num_threads
from .tokenizer import Batch, Tokenizer
from .cache import ActivationCache
from .model import GPT2, GPT2Config
from . import datasets, studies  # the course: data sets and lessons (no matplotlib import)

__all__ = ["__version__", "errors", "get_num_threads", "set_num_threads", "Tokenizer", "Batch", *errors.__all__]
__all__ += ["GPT2", "GPT2Config", "ActivationCache"]
__all__ += ["datasets", "studies"]
