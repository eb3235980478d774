"""The course's lessons on token embeddings, one class per lesson.

Each class takes a model (a name such as ``"gpt2-xl"``, a folder, or a
:class:`tokgeo.GPT2`) and its data; ``run()`` returns a result with the arrays by name,
``summary()``, ``tables()``/``to_frame()``, ``plot(kind, ax=None)``, ``save(folder)`` and the
``provenance`` of the numbers.

=======================  ==============================================================
class                    lesson
=======================  ==============================================================
``EmbeddingGeometry``    1. embedding space: cosine similarities, covariance
                         eigenstructure, t-SNE, drift across layers, attention maps,
                         next-token distribution
``VocabularyMap``        1b. the whole vocabulary on one map: t-SNE and PCA of every
                         row of W_E, coloured by token class, a few hundred labels
``Rotation``             2. rotation of token vectors across layers (target vs previous
                         word vs random control, t-tests per layer)
``QKVSimilarity``        3. similarity of the target's queries, keys and values
``PathLength``           4. path length of tokens through the layers, split into
                         attention and MLP steps
``Laminar``              5. angles between successive updates and states, target vs rest
``PathPrediction``       6. path length vs next-token log-probability, rank, entropy
``Trajectories``         7. state-space trajectories on the text's principal components
``PartsOfSpeech``        8. spaCy parts of speech aligned to GPT-2 tokens
``NounsAdjectives``      9. path length by part of speech (NOUN vs ADJ), t-tests per layer
=======================  ==============================================================

:func:`measure_corpus` runs any per-token measurement over a corpus (a file or an
iterable) in chunks, with a memory ceiling, a progress bar, and optionally a Dask cluster.

Design notes
------------
* Each lesson says which captures it needs (names of :mod:`tokgeo.hooks`) and calls
  :meth:`tokgeo.GPT2.run` through one helper, ``_common.run_chunks``: sentences run
  right-padded in chunks sorted by length (padding never changes a real token's
  activations); a chunk the memory budget refuses (:class:`~tokgeo.errors.MemoryBudgetError`,
  raised before anything is allocated) is halved and retried, so a long gpt2-xl run never
  captures more than one chunk.
* The measurements call :mod:`tokgeo.metrics` directly (angles, cosine matrices, norms,
  path lengths, t-tests, correlations, softmax, entropy) and ``tokgeo._reduce`` (PCA,
  t-SNE); Student-t confidence bands and the Holm / Bonferroni corrections are in
  ``_stats.py`` (on tokgeo.metrics.t_ppf).  The corpus runner (``_corpus.measure_corpus``)
  runs its chunks through the same ``run_chunks``.
* ``convention="hidden_states"`` (the default) is Hugging Face's ``hidden_states``: the
  last state is after the final LayerNorm; ``"resid"`` is the raw residual stream.  Every
  result states which one in its provenance and summary.
* Results are plain objects: read-only arrays by name, tidy tables, figures drawn on
  request (matplotlib imported only then), a text summary and the provenance.
"""

from __future__ import annotations

from ._base import Provenance, StudyResult
from .embedding import EmbeddingGeometry, EmbeddingResult
from .pathlength import PathLength, PathLengthResult
from .qkv import QKVResult, QKVSimilarity
from .rotation import Rotation, RotationResult
# issue 11: the five further lessons and corpus-scale runs
from ._corpus import MEASURES, TokenTable, measure_corpus, read_corpus
from .laminar import Laminar, LaminarResult
from .pos import MissingDependencyError, PartsOfSpeech, PartsOfSpeechResult, default_pos_sentences
from .posgroups import NounsAdjectives, NounsAdjectivesResult
from .prediction import PathPrediction, PathPredictionResult
from .trajectories import Trajectories, TrajectoriesResult
# issue 14: the whole-vocabulary map
from .vocabulary import TOKEN_CLASSES, VocabularyMap, VocabularyMapResult
# issue 12: the tokenization module's lessons (tokenizers only, no model)
from . import tokenization

__all__ = ["Provenance", "StudyResult", "Rotation", "RotationResult", "QKVSimilarity", "QKVResult", "PathLength", "PathLengthResult", "EmbeddingGeometry", "EmbeddingResult"]
__all__ += [
    "Laminar", "LaminarResult", "PathPrediction", "PathPredictionResult", "Trajectories", "TrajectoriesResult",
    "PartsOfSpeech", "PartsOfSpeechResult", "NounsAdjectives", "NounsAdjectivesResult", "MissingDependencyError",
    "default_pos_sentences", "measure_corpus", "read_corpus", "TokenTable", "MEASURES",
]
__all__ += ["VocabularyMap", "VocabularyMapResult", "TOKEN_CLASSES"]
__all__ += ["tokenization"]

from .._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
