"""The one place where the studies talk to the model.

A study asks for *what* it needs (hidden states under a convention, the c_attn output of
one layer, attention outputs...) for a list of tokenized sentences; :class:`Engine` turns
that into capture requests for :meth:`tokgeo.GPT2.run`, runs the sentences in chunks (a
smaller chunk when the memory budget refuses a run), shows progress, and hands back NumPy
arrays per chunk, so a study keeps only the rows it needs and the memory stays bounded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import InvalidInputError, InvalidTypeError, MemoryBudgetError
from ..progress import track
from ._base import check_convention

__all__ = ["Wants", "Engine", "as_engine"]


@dataclass(frozen=True)
class Wants:
    """What a forward pass must capture.

    hidden: None, "hidden_states" or "resid": every layer's residual stream, [L+1, B, T, C].
    qkv_layer: a block index: its c_attn output [B, T, 3C] (q | k | v).
    pattern_layer: a block index: its attention pattern [B, H, T, T].
    attn_out, mlp_out: every block's attention / MLP output [L, B, T, C].
    logits: the logits [B, T, V].
    """

    hidden: str | None = None
    qkv_layer: int | None = None
    pattern_layer: int | None = None
    attn_out: bool = False
    mlp_out: bool = False
    logits: bool = False
    extra: tuple[str, ...] = field(default=())


class Engine:
    """A model as the studies use it.  Subclasses implement :meth:`_forward`."""

    label: str
    n_layer: int
    n_head: int
    n_embd: int
    n_ctx: int
    n_vocab: int
    tokenizer: Any

    def config_dict(self) -> dict[str, int]:
        return {
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_embd": self.n_embd,
            "n_ctx": self.n_ctx,
            "n_vocab": self.n_vocab,
        }

    def embedding_matrix(self) -> np.ndarray:  # pragma: no cover - interface
        """Token embeddings W_E [V, C] (read-only, float32)."""
        raise NotImplementedError

    def _forward(
        self, ids: Sequence[np.ndarray], wants: Wants, memory_budget: int | None = None
    ) -> dict[str, np.ndarray]:
        """Run sentences (right-padded into one batch) and return the wanted arrays."""
        raise NotImplementedError  # pragma: no cover - interface

    def check_layer(self, layer: int, what: str = "layer") -> int:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise InvalidTypeError(f"{what} must be an int, got {type(layer).__name__}")
        layer = int(layer)
        if not 0 <= layer < self.n_layer:
            raise InvalidInputError(
                f"{what} {layer} is out of range: {self.label} has blocks 0..{self.n_layer - 1}"
            )
        return layer

    def check_lengths(self, ids: Sequence[np.ndarray]) -> None:
        for i, row in enumerate(ids):
            if len(row) > self.n_ctx:
                raise InvalidInputError(
                    f"sentence [{i}] has {len(row)} tokens; {self.label} reads at most "
                    f"{self.n_ctx}: shorten it"
                )
            if len(row) == 0:
                raise InvalidInputError(f"sentence [{i}] is empty")

    def chunks(
        self,
        ids: Sequence[np.ndarray],
        wants: Wants,
        *,
        batch_size: int | None = None,
        progress: bool | None = None,
        desc: str = "",
        memory_budget: int | None = None,
    ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Yield (row indices, outputs) chunk by chunk.

        Sentences are sorted by length so a chunk pads little; when a run refuses for lack
        of memory (:class:`~tokgeo.errors.MemoryBudgetError`) the chunk is halved and tried
        again, down to one sentence.  ``memory_budget`` (bytes) is passed to the model's
        run (default: the memory available now).
        """
        self.check_lengths(ids)
        n = len(ids)
        if batch_size is None:
            batch_size = default_batch_size(self)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        order = np.argsort(np.array([len(r) for r in ids]), kind="stable")
        pending = [order[i : i + int(batch_size)] for i in range(0, n, int(batch_size))]

        def gen() -> Iterator[np.ndarray]:
            while pending:
                yield pending.pop(0)

        for rows in track(gen(), total=len(pending), desc=desc or self.label, unit="batch", enabled=progress):
            todo = [rows]
            while todo:
                r = todo.pop(0)
                try:
                    out = self._forward([ids[i] for i in r], wants, memory_budget)
                except MemoryBudgetError:
                    if len(r) == 1:
                        raise
                    half = len(r) // 2
                    todo[:0] = [r[:half], r[half:]]
                    continue
                yield r, out


def default_batch_size(engine: Engine) -> int:
    """Sentences per forward: TOKGEO_BATCH_SIZE, else 16 (the run's own budget check
    shrinks chunks that would not fit)."""
    env = os.environ.get("TOKGEO_BATCH_SIZE")
    if env:
        try:
            v = int(env)
        except ValueError:
            raise InvalidInputError(f"TOKGEO_BATCH_SIZE={env!r} is not an integer") from None
        if v >= 1:
            return v
    return 16


class GPT2Engine(Engine):
    """The engine over a :class:`tokgeo.GPT2`."""

    def __init__(self, model: Any, label: str) -> None:
        self.model = model
        self.label = label
        cfg = model.config
        self.n_layer = int(cfg.n_layer)
        self.n_head = int(cfg.n_head)
        self.n_embd = int(cfg.n_embd)
        self.n_ctx = int(getattr(cfg, "n_ctx", getattr(cfg, "n_positions", 1024)))
        self.n_vocab = int(getattr(cfg, "n_vocab", getattr(cfg, "vocab_size", 50257)))
        self.tokenizer = model.tokenizer

    def embedding_matrix(self) -> np.ndarray:
        return np.asarray(self.model.W_E)

    def _forward(
        self, ids: Sequence[np.ndarray], wants: Wants, memory_budget: int | None = None
    ) -> dict[str, np.ndarray]:
        L = self.n_layer
        names: list[str] = []
        if wants.hidden == "hidden_states":
            names.append("hidden_states")
        elif wants.hidden == "resid":
            names += ["resid_pre", f"blocks.{L - 1}.hook_resid_post"]
        if wants.qkv_layer is not None:
            names += [f"blocks.{wants.qkv_layer}.attn.hook_{x}" for x in "qkv"]
        if wants.pattern_layer is not None:
            names.append(f"blocks.{wants.pattern_layer}.attn.hook_pattern")
        if wants.attn_out:
            names.append("hook_attn_out")
        if wants.mlp_out:
            names.append("hook_mlp_out")
        if wants.logits:
            names.append("logits")
        names += list(wants.extra)
        # right padding: each sentence's activations are those it gets alone
        cache = self.model.run(
            [[int(t) for t in r] for r in ids], capture=names, padding_side="right",
            memory_budget=memory_budget,
        )
        out: dict[str, np.ndarray] = {}
        if wants.hidden == "hidden_states":
            out["hidden"] = cache.hidden_states  # [L+1, B, T, C], a view
        elif wants.hidden == "resid":
            out["hidden"] = np.concatenate(
                [cache.stack("resid_pre"), cache[f"blocks.{L - 1}.hook_resid_post"][None]], axis=0
            )
        if wants.qkv_layer is not None:
            parts = [np.asarray(cache[f"blocks.{wants.qkv_layer}.attn.hook_{x}"]) for x in "qkv"]
            B, T = parts[0].shape[:2]
            # [B, T, H, D] each -> the c_attn layout [B, T, 3C] (q | k | v, heads in order)
            out["qkv"] = np.concatenate([p.reshape(B, T, -1) for p in parts], axis=-1)
        if wants.pattern_layer is not None:
            out["pattern"] = cache[f"blocks.{wants.pattern_layer}.attn.hook_pattern"]
        if wants.attn_out:
            out["attn_out"] = cache.stack("hook_attn_out")
        if wants.mlp_out:
            out["mlp_out"] = cache.stack("hook_mlp_out")
        if wants.logits:
            out["logits"] = cache["logits"]
        return out


def as_engine(model: Any) -> Engine:
    """A model name, a folder, a :class:`tokgeo.GPT2` or an Engine -> an Engine."""
    if isinstance(model, Engine):
        return model
    if isinstance(model, (str, os.PathLike)):
        from ..model import GPT2

        label = os.fspath(model)
        return GPT2Engine(GPT2.from_pretrained(label), label)
    if hasattr(model, "run") and hasattr(model, "config"):
        label = str(getattr(model, "name_or_path", None) or type(model).__name__)
        return GPT2Engine(model, label)
    raise InvalidTypeError(
        f"model must be a model name ('gpt2', 'gpt2-xl'...), a folder, or a tokgeo.GPT2; "
        f"got {type(model).__name__}"
    )


def convention_arg(convention: str) -> str:
    return check_convention(convention)
