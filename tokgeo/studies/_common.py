"""What the lessons share: the model argument, the data argument, the one helper that runs
sentences in chunks, and the guards the lessons put around two statistics."""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from typing import TYPE_CHECKING, Any, Iterator, Sequence, cast

import numpy as np

from .. import metrics
from .._util import check_seed
from ..datasets import HER_SENTENCES_NAME, TargetSet, find_targets, her_sentences
from ..errors import InvalidInputError, InvalidTypeError, MemoryBudgetError
from ..progress import track
from ._base import Provenance, model_origin

if TYPE_CHECKING:  # pragma: no cover
    from ..cache import ActivationCache
    from ..model import GPT2

__all__ = ["Study", "check_seed", "default_batch_size", "run_chunks", "hidden_capture", "hidden", "correlate", "ttest"]


def _label(model: Any) -> str:
    return str(getattr(model, "name_or_path", None) or type(model).__name__)


def default_batch_size() -> int:
    """Sentences per forward pass: ``TOKGEO_BATCH_SIZE`` when set (at least 1), else 16."""
    env = os.environ.get("TOKGEO_BATCH_SIZE", "").strip()
    try:
        return max(int(env), 1) if env else 16
    except ValueError:
        raise InvalidInputError(f"TOKGEO_BATCH_SIZE={env!r} is not an integer") from None


def run_chunks(
    model: "GPT2",
    ids: Sequence[np.ndarray],
    capture: Sequence[str],
    *,
    batch_size: int | None = None,
    progress: bool | None = None,
    memory_budget: int | None = None,
    desc: str = "",
) -> Iterator[tuple[np.ndarray, "ActivationCache"]]:
    """Run tokenized sentences through ``model.run`` chunk by chunk: yields (row indices,
    cache) with the cache of those rows, right-padded (padding never changes a real token's
    activations).

    Sentences are sorted by length so a chunk pads little; a chunk the memory budget refuses
    (:class:`~tokgeo.errors.MemoryBudgetError`, raised before anything is allocated) is
    halved and tried again, down to one sentence.  ``batch_size`` defaults to
    :func:`default_batch_size`; ``memory_budget`` (bytes) goes to ``model.run``.  The one
    chunk runner of the lessons: :func:`tokgeo.studies._corpus.measure_chunk` runs its
    chunks through it too.
    """
    n_ctx = model.config.n_ctx
    for i, row in enumerate(ids):
        if len(row) == 0:
            raise InvalidInputError(f"sentence [{i}] is empty")
        if len(row) > n_ctx:
            raise InvalidInputError(f"sentence [{i}] has {len(row)} tokens; {_label(model)} reads at most {n_ctx}: shorten it")
    if batch_size is None:
        batch_size = default_batch_size()
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
    order = np.argsort(np.array([len(r) for r in ids]), kind="stable")
    chunks = [order[i : i + int(batch_size)] for i in range(0, len(ids), int(batch_size))]
    for rows in track(chunks, desc=desc or _label(model), unit="batch", enabled=progress):
        todo = [rows]
        while todo:
            r = todo.pop(0)
            try:
                cache = model.run([ids[i] for i in r], capture=capture, padding_side="right", memory_budget=memory_budget)
            except MemoryBudgetError:
                if len(r) == 1:
                    raise
                todo[:0] = [r[: len(r) // 2], r[len(r) // 2 :]]
                continue
            yield r, cache


def hidden_capture(convention: str, n_layer: int) -> list[str]:
    """What :func:`hidden` needs captured."""
    return ["hidden_states"] if convention == "hidden_states" else ["resid_pre", f"blocks.{n_layer - 1}.hook_resid_post"]


def hidden(cache: "ActivationCache", convention: str) -> np.ndarray:
    """The hidden states ``[L+1, B, T, C]`` under a convention: Hugging Face's (a view) or
    the raw residual stream (``resid_pre`` of every block, then the last block's output)."""
    if convention == "hidden_states":
        return cache.hidden_states
    return np.concatenate([cache.stack("resid_pre"), cache["resid_post", -1][None]], axis=0)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # a constant or tiny sample gives NaN: the result says so, a warning would repeat per layer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.ConstantInputWarning)
        warnings.simplefilter("ignore", metrics.SmallSampleWarning)
        yield


def correlate(x: Any, y: Any, rank: bool = False) -> metrics.CorrelationResult:
    """:func:`tokgeo.metrics.pearson` (``spearman`` when rank) of two samples along axis 0,
    NaN (no warning) below 3 pairs, where no p-value exists."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape[0] < 3:
        nan = np.full(a.shape[1:], math.nan)[()]
        return metrics.CorrelationResult(nan, nan)
    with _quiet():
        return (metrics.spearman if rank else metrics.pearson)(a, b, axis=0)


def ttest(a: Any, b: Any, paired: bool = False) -> metrics.TTestResult:
    """Student's independent t-test (:func:`tokgeo.metrics.ttest_ind`) along axis 0, or the
    paired test (:func:`tokgeo.metrics.ttest_rel`, rows of a and b are pairs) when
    ``paired``; NaN (no warning) when a sample has fewer than 2 values; df is
    n_a + n_b - 2 (independent) or n - 1 (paired) either way."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if min(x.shape[0], y.shape[0]) < 2:
        nan = np.full(x.shape[1:], math.nan)[()]
        df = x.shape[0] - 1 if paired else x.shape[0] + y.shape[0] - 2
        return metrics.TTestResult(nan, nan, np.full(x.shape[1:], float(df))[()], nan)
    with _quiet():
        return (metrics.ttest_rel if paired else metrics.ttest_ind)(x, y, axis=0)


class Study:
    """Base of the lesson classes: holds the model (loaded on first use) and the data."""

    #: the model the lesson uses, when none is given
    default_model: str = "gpt2"

    def __init__(self, model: Any = None) -> None:
        self._model_arg = model if model is not None else self.default_model
        self._model: Any = None
        if not isinstance(self._model_arg, (str, os.PathLike)) and not (
            hasattr(self._model_arg, "run") and hasattr(self._model_arg, "config")
        ):
            raise InvalidTypeError(
                "model must be a model name ('gpt2', 'gpt2-xl'...), a folder, or a tokgeo.GPT2; "
                f"got {type(self._model_arg).__name__}"
            )

    def _settings(self) -> dict[str, Any]:
        skip = {"sentences", "texts", "words", "progress", "batch_size", "memory_budget"}
        out: dict[str, Any] = {}
        for k, v in vars(self).items():
            if k.startswith("_") or k in skip:
                continue
            out[k] = v
        for k in ("sentences", "texts", "words"):
            v = vars(self).get(k)
            if v is not None:
                out[k] = f"{len(v)} given"
        return out

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}(model={self.label!r})"]
        lines += [f"  {k} = {v!r}" for k, v in self._settings().items()]
        lines.append("  .run() computes the result")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        rows = [("model", self.label), *self._settings().items()]
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                       f"<td style='text-align:left'>{html.escape(repr(v) if k != 'model' else str(v))}</td></tr>"
                       for k, v in rows)
        return (f"<div><b>{html.escape(type(self).__name__)}</b> (not run yet: <code>.run()</code>)"
                f"<table>{body}</table></div>")

    @property
    def model(self) -> "GPT2":
        """The :class:`tokgeo.GPT2`, loaded on first use."""
        if self._model is None:
            m = self._model_arg
            if isinstance(m, (str, os.PathLike)):
                from ..model import GPT2

                m = GPT2.from_pretrained(os.fspath(m))
            self._model = m
        return cast("GPT2", self._model)

    @property
    def label(self) -> str:
        """The model as the provenance names it: what it was loaded from."""
        m = self._model_arg
        return os.fspath(m) if isinstance(m, (str, os.PathLike)) else _label(m)

    def check_layer(self, layer: Any, what: str = "layer") -> int:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise InvalidTypeError(f"{what} must be an int, got {type(layer).__name__}")
        L = self.model.config.n_layer
        if not 0 <= int(layer) < L:
            raise InvalidInputError(f"{what} {int(layer)} is out of range: {self.label} has blocks 0..{L - 1}")
        return int(layer)

    def _set_sentences(self, sentences: str | Sequence[str] | None, target: str | int, strict: bool,
                       case_sensitive: bool = True) -> None:
        """Stores the data arguments of the studies that follow a target word in sentences
        (one string is one sentence)."""
        self.sentences = None if sentences is None else [sentences] if isinstance(sentences, str) else list(sentences)
        self.target = target
        self.strict = strict
        self.case_sensitive = bool(case_sensitive)

    def _set_run_options(
        self, batch_size: int | None, progress: bool | None, memory_budget: int | None, dataset_name: str | None
    ) -> None:
        """Stores the options every model-running study takes (batching, progress bar,
        memory budget, the data set's name for the provenance)."""
        self.batch_size = batch_size
        self.progress = progress
        self.memory_budget = memory_budget
        self.dataset_name = dataset_name

    def _chunks(self, ids: Sequence[np.ndarray], capture: Sequence[str], desc: str) -> Iterator[tuple[np.ndarray, "ActivationCache"]]:
        """:func:`run_chunks` with this study's run options."""
        return run_chunks(self.model, ids, capture, batch_size=self.batch_size, progress=self.progress,
                          memory_budget=self.memory_budget, desc=f"{self.label}: {desc}")

    def _provenance(self, study: str, **fields: Any) -> Provenance:
        """:class:`Provenance` of a run on :attr:`model` (model label and config filled in)."""
        c = self.model.config
        cfg = {"n_layer": c.n_layer, "n_head": c.n_head, "n_embd": c.n_embd, "n_ctx": c.n_ctx, "n_vocab": c.vocab_size}
        return Provenance(study=study, model=self.label, model_config={k: int(v) for k, v in cfg.items()},
                          **model_origin(self.model), **fields)

    def targets(self) -> TargetSet:
        """The target located in the stored sentences (see :meth:`_set_sentences`) with the
        model's tokenizer."""
        tok, cs = self.model.tokenizer, self.case_sensitive
        if self.sentences is None:
            return find_targets(her_sentences(), self.target, tok, strict=self.strict, case_sensitive=cs,
                                name=HER_SENTENCES_NAME)
        return find_targets(self.sentences, self.target, tok, strict=self.strict, case_sensitive=cs,
                            name=self.dataset_name or "user sentences")
