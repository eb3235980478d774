"""tokgeo: the geometry of tokens inside GPT-2, on a CPU, with a C core.

tokgeo tokenizes text with GPT-2's byte-level BPE, runs GPT-2 (small to XL, fp32) and hands
you every internal activation as NumPy arrays under its TransformerLens hook name, and
measures them (cosine similarity, angles between layers, path lengths, drift, PCA, t-SNE,
t-tests, correlations).  The tokenizer, the forward pass and the metrics are C working on
NumPy buffers without copies; the course's lessons are classes in :mod:`tokgeo.studies`.

Tokens (offline, the GPT-2 vocabulary ships inside the package)::

    import tokgeo
    tok = tokgeo.Tokenizer.gpt2()
    ids, offsets = tok.encode_with_offsets("She gave her book away")   # int arrays [T], [T, 2]
    tok.token_strings(ids)                     # ['She', ' gave', ' her', ' book', ' away']

Activations (a hub name such as "gpt2" ... "gpt2-xl", a local folder, or "tokgeo-mini",
the small trained model shipped inside tokgeo for offline use)::

    model = tokgeo.GPT2.from_pretrained("gpt2")
    cache = model.run(["She gave her book away"], capture=["hidden_states", "attn.hook_pattern"])
    cache.hidden_states                         # [n_layer + 1, B, T, d_model]
    cache["blocks.0.attn.hook_pattern"]         # [B, n_head, T, T]

Measurements and lessons::

    from tokgeo import metrics, studies
    metrics.consecutive_angles(cache.hidden_states[:, 0, 2], axis=0)   # degrees, [n_layer]
    result = studies.Rotation(model, target=" her").run()   # the built-in 54 sentences
    print(result.summary()); result.plot("angles"); result.save("results/rotation")

Where things are: :class:`Tokenizer` and :class:`Batch` (tokgeo.tokenizer),
:class:`WordPieceTokenizer` (BERT, tokgeo.wordpiece), :class:`GPT2`
(tokgeo.model), :class:`ActivationCache` (tokgeo.cache), :mod:`tokgeo.metrics`,
:mod:`tokgeo.studies`, :mod:`tokgeo.datasets`, :mod:`tokgeo.safetensors`, the exceptions in
:mod:`tokgeo.errors` (each also a built-in exception: ``InvalidInputError`` is a
``ValueError``...).  ``tokgeo --help`` lists the command line.  Threads:
:func:`set_num_threads`.
"""

from __future__ import annotations

from . import datasets, errors, hooks, metrics, safetensors, studies
from ._version import __version__
from .errors import *  # noqa: F401,F403  (the exception hierarchy is public API)
from ._C import blis_info, get_num_threads, set_num_threads
from .cache import ActivationCache
from .model import GPT2, GPT2Config
from .tokenizer import Batch, Tokenizer
from .bpe_train import MergeLog, TrainedTokenizer, train_bpe
from .simple_tokenizers import CharTokenizer, WordTokenizer
from .wordpiece import WordPieceTokenizer

__all__ = [
    "__version__",
    "datasets",
    "errors",
    "hooks",
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
    "WordPieceTokenizer",
    "GPT2",
    "GPT2Config",
    "ActivationCache",
    *errors.__all__,
]

from ._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
