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
``Rotation``             2. rotation of token vectors across layers (target vs previous
                         word vs random control, t-tests per layer)
``QKVSimilarity``        3. similarity of the target's queries, keys and values
``PathLength``           4. path length of tokens through the layers, split into
                         attention and MLP steps
=======================  ==============================================================
"""

from __future__ import annotations

from ._base import Provenance, StudyResult
from .embedding import EmbeddingGeometry, EmbeddingResult
from .pathlength import PathLength, PathLengthResult
from .qkv import QKVResult, QKVSimilarity
from .rotation import Rotation, RotationResult

__all__ = ["Provenance", "StudyResult", "Rotation", "RotationResult", "QKVSimilarity", "QKVResult", "PathLength", "PathLengthResult", "EmbeddingGeometry", "EmbeddingResult"]
