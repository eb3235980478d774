"""Pieces shared by the studies: the data argument, the study base class."""

from __future__ import annotations

from typing import Any, Sequence

from ..datasets import HER_SENTENCES_NAME, TargetSet, find_targets, her_sentences
from ..errors import InvalidInputError, InvalidTypeError
from ._base import Provenance
from ._engine import Engine, as_engine


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidTypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise InvalidInputError(f"seed must be >= 0, got {seed}")
    return seed


class Study:
    """Base of the lesson classes: holds the model (loaded on first use) and the data."""

    #: the model the lesson uses, when none is given
    default_model: str = "gpt2"

    def __init__(self, model: Any = None) -> None:
        self._model_arg = model if model is not None else self.default_model
        self._engine: Engine | None = None

    def _set_sentences(self, sentences: Sequence[str] | None, target: str | int, strict: bool) -> None:
        """Stores the data arguments of the studies that follow a target word in sentences."""
        self.sentences = None if sentences is None else list(sentences)
        self.target = target
        self.strict = strict

    def _set_run_options(
        self, batch_size: int | None, progress: bool | None, memory_budget: int | None, dataset_name: str | None
    ) -> None:
        """Stores the options every model-running study takes (batching, progress bar,
        memory budget, the data set's name for the provenance)."""
        self.batch_size = batch_size
        self.progress = progress
        self.memory_budget = memory_budget
        self.dataset_name = dataset_name

    def _provenance(self, study: str, **fields: Any) -> Provenance:
        """:class:`Provenance` of a run on :attr:`engine` (model label and config filled in)."""
        eng = self.engine
        return Provenance(study=study, model=eng.label, model_config=eng.config_dict(), **fields)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = as_engine(self._model_arg)
        return self._engine

    @property
    def model(self) -> Any:
        """The loaded model (a :class:`tokgeo.GPT2`), loaded on first use."""
        e = self.engine
        return getattr(e, "model", e)

    def targets(
        self,
        sentences: Sequence[str] | None,
        target: str | int,
        strict: bool,
        dataset_name: str | None,
    ) -> TargetSet:
        if sentences is None:
            return find_targets(
                her_sentences(), target, self.engine.tokenizer, strict=strict,
                name=HER_SENTENCES_NAME,
            )
        return find_targets(
            sentences, target, self.engine.tokenizer, strict=strict,
            name=dataset_name or "user sentences",
        )
