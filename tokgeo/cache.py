"""ActivationCache: the captures of one forward pass, as read-only NumPy views of one arena.

Hook names follow TransformerLens (the table is C's, in csrc/gpt2.c; ``tokgeo.hooks.CAPTURES``
lists it and resolves every spelling; B batch, T tokens, C n_embd, H heads, D d_head,
F d_mlp, V vocabulary; all float32)::

    hook_embed                          [B, T, C]   wte[token]
    hook_pos_embed                      [B, T, C]   wpe[position]
    blocks.{l}.hook_resid_pre           [B, T, C]   residual stream entering block l
    blocks.{l}.ln1.hook_scale           [B, T, 1]   sqrt(var + eps) of the LayerNorm's input
    blocks.{l}.ln1.hook_normalized      [B, T, C]   ln_1 output, AFTER its weight and bias
    blocks.{l}.attn.hook_q / _k / _v    [B, T, H, D] (c_attn output split per head, bias included)
    blocks.{l}.attn.hook_qkv            [B, T, 3C]  the raw c_attn output q | k | v (not TransformerLens)
    blocks.{l}.attn.hook_attn_scores    [B, H, T, T] q.k / sqrt(D); masked keys are -inf
    blocks.{l}.attn.hook_pattern        [B, H, T, T] softmax of the scores; masked keys are 0
    blocks.{l}.attn.hook_z              [B, T, H, D] pattern @ v, before c_proj
    blocks.{l}.hook_attn_out            [B, T, C]   c_proj output (bias included)
    blocks.{l}.hook_resid_mid           [B, T, C]   resid_pre + attn_out
    blocks.{l}.ln2.hook_scale           [B, T, 1]
    blocks.{l}.ln2.hook_normalized      [B, T, C]
    blocks.{l}.mlp.hook_pre             [B, T, F]   c_fc output
    blocks.{l}.mlp.hook_post            [B, T, F]   GELU (tanh approximation, "gelu_new")
    blocks.{l}.hook_mlp_out             [B, T, C]   mlp c_proj output
    blocks.{l}.hook_resid_post          [B, T, C]   resid_mid + mlp_out
    ln_final.hook_scale                 [B, T, 1]
    ln_final.hook_normalized            [B, T, C]   ln_f output (after weight and bias)
    logits                              [B, T, V]

The values are those of the unprocessed model, equal to Hugging Face ``transformers``
(TransformerLens gives the same numbers only for ``from_pretrained_no_processing``; its
default folds LayerNorm and centres weights, which changes ``hook_normalized``, q/k/v ...).
``ln*.hook_normalized`` is the LayerNorm's output AFTER its weight and bias (Hugging
Face's ``ln_1`` / ``ln_2`` / ``ln_f`` output, and what classic ``HookedTransformer``'s
unfolded ``LayerNorm`` hooked).  TransformerLens 4's ``TransformerBridge`` hooks the value
before the affine step instead; recover it as ``(value - b) / w`` with ``model.blocks[l].ln1_w``
and ``ln1_b``, or as ``(resid - resid.mean(-1, keepdims=True)) / hook_scale`` (every other hook name holds the same values as TransformerLens 4 with
``no_processing=True``, checked by tests/test_model_transformerlens.py).
``hook_attn_scores`` holds ``-inf`` for masked keys, as TransformerLens does.

Two views of the residual stream -- do not confuse them:

* ``cache.resid`` = ``cache.stack("resid_post")`` ``[L, B, T, C]``: the raw output of each
  block, no final LayerNorm anywhere.
* ``cache.hidden_states`` ``[L + 1, B, T, C]``: Hugging Face's ``output_hidden_states``.
  ``hidden_states[i]`` is the input of block ``i`` (``resid_pre``) for ``i < L``, and
  ``hidden_states[L]`` is ``ln_f(resid_post of the last block)`` -- AFTER the final
  LayerNorm, unlike every other entry.  Capture it with ``capture="hidden_states"``.

Every array is a read-only view of one buffer (the arena) that the forward pass wrote
once; the arena lives as long as any view of it.  ``stack(name)`` puts the captured layers
of one hook first (``[n_layers_captured, ...]``) without copying.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

import numpy as np

from . import _C
from .errors import TokenIdError
from .hooks import CAPTURES, block_row, find

__all__ = ["ActivationCache"]


class ActivationCache(Mapping[str, np.ndarray]):
    """Mapping of TransformerLens hook names to read-only float32 arrays (see the module doc).

    Also: ``cache["resid_post", 3]`` (TransformerLens style; every spelling of
    :mod:`tokgeo.hooks` works), ``cache["blocks.3.attn.hook_qkv"]`` (the raw ``[B, T, 3C]``
    c_attn output q | k | v, which holds q, k and v: a view, not listed among the keys),
    :meth:`stack`, :meth:`layers`, :attr:`resid`, :attr:`hidden_states`,
    :meth:`next_token_probs`, :meth:`top_k`, and the inputs: ``ids`` ``[B, T]`` int64,
    ``mask`` ``[B, T]`` bool (True for real tokens), ``lengths`` ``[B]``, ``padding_side``,
    ``batch`` (the Batch given, if any).

    Shapes, strides and offsets all come from the run's plan (the C capture table).
    """

    def __init__(
        self,
        arena: _C.Arena,
        plan: Mapping[str, Any],
        ids: np.ndarray,
        mask: np.ndarray,
        lengths: np.ndarray,
        start: np.ndarray,
        padding_side: str,
        batch: Any,
    ) -> None:
        self._arena = arena
        self._plan = plan
        self.ids: np.ndarray = ids
        self.mask: np.ndarray = mask
        self.lengths: np.ndarray = lengths
        self.padding_side: str = padding_side
        self.batch = batch
        self._start = start
        self.n_layer: int = int(plan["n_layer"])
        L = self.n_layer
        first_block = next(i for i, c in enumerate(CAPTURES) if c.per_block)
        listed = [(i, c) for i, c in enumerate(CAPTURES) if c.transformer_lens]
        self._keys: list[str] = [c.name for i, c in listed if not c.per_block and i < first_block and self._count(i)]
        for l in range(L):
            self._keys += [c.full_name(l) for i, c in listed if c.per_block and self._slot(i, l) >= 0]
        self._keys += [c.name for i, c in listed if not c.per_block and i > first_block and self._count(i)]
        self._keyset = set(self._keys)

    # ------------------------------------------------------------------ layout (from the plan)
    def _count(self, row: int) -> int:
        return int(self._plan["count"][CAPTURES[row].kind])

    def _slot(self, row: int, layer: int | None) -> int:
        c = CAPTURES[row]
        return int(self._plan["slot"][c.kind * self.n_layer + (layer if c.per_block and layer is not None else 0)])

    def _view(self, row: int, first_slot: int, n: int | None = None) -> np.ndarray:
        """Row's array at one slot, or ``n`` consecutive slots stacked first."""
        k = CAPTURES[row].kind
        shape, strides, off = self._plan["views"][row]
        layer_bytes = self._plan["layer_floats"][k] * 4
        base = self._plan["offset"][k] + first_slot * layer_bytes + off
        if n is None:
            return self._arena.view(base, shape, strides)
        return self._arena.view(base, (n, *shape), (layer_bytes, *strides))

    # ------------------------------------------------------------------ Mapping
    def __getitem__(self, key: str | tuple[str, int]) -> np.ndarray:
        if isinstance(key, tuple):
            if len(key) != 2:
                raise KeyError(f"{key!r}: use cache[name] or cache[name, layer]")
            row, layer = find(key[0], self.n_layer, key[1])
        else:
            row, layer = find(key, self.n_layer)
        slot = self._slot(row, layer)
        if slot < 0:
            name = CAPTURES[row].full_name(layer)
            raise KeyError(
                f"{name!r} was not captured; captured: {', '.join(self._keys[:8])}{' ...' if len(self._keys) > 8 else ''}. "
                "Ask for it with model.run(..., capture=[...])"
            )
        return self._view(row, slot)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keyset

    def __repr__(self) -> str:
        B, T = self.ids.shape
        return f"<ActivationCache {len(self._keys)} arrays, batch {B} x {T} tokens, {self.nbytes / 2**20:.1f} MiB>"

    # ------------------------------------------------------------------ stacks
    def layers(self, name: str) -> list[int]:
        """The blocks captured for a per-block hook (``"resid_post"``, ``"attn.hook_q"``, ...)."""
        row = block_row(name)
        return [l for l in range(self.n_layer) if self._slot(row, l) >= 0]

    def stack(self, name: str) -> np.ndarray:
        """All captured blocks of one hook as ``[n, *hook_shape]`` (``n = len(layers(name))``),
        a view of the arena (no copy).  E.g. ``stack("resid_post")`` -> ``[L, B, T, C]``,
        ``stack("qkv")`` -> ``[L, B, T, 3C]``."""
        row = block_row(name)
        n = self._count(row)
        if n == 0:
            raise KeyError(f"no block captured {CAPTURES[row].full_name()!r}; capture it with model.run(..., capture={name!r})")
        return self._view(row, 0, n)

    @property
    def resid(self) -> np.ndarray:
        """Raw residual stream after each block, ``[L, B, T, C]`` (= ``stack("resid_post")``)."""
        return self.stack("resid_post")

    @property
    def hidden_states(self) -> np.ndarray:
        """Hugging Face's ``hidden_states`` as one ``[L + 1, B, T, C]`` view: entry ``i < L`` is
        the input of block ``i``; entry ``L`` is AFTER the final LayerNorm (``ln_f``).
        Needs ``capture="hidden_states"`` (resid_pre of every block plus ln_final)."""
        L = self.n_layer
        rp, lf = block_row("resid_pre"), find("ln_final", L)[0]
        p = self._plan
        kr, kf = CAPTURES[rp].kind, CAPTURES[lf].kind
        if self._count(rp) != L or not self._count(lf):
            raise KeyError("hidden_states needs every block's resid_pre and ln_final: run with capture='hidden_states'")
        if p["offset"][kf] != p["offset"][kr] + L * p["layer_floats"][kr] * 4:  # pragma: no cover - engine invariant
            raise RuntimeError("arena layout does not keep ln_final after resid_pre")
        return self._view(rp, 0, L + 1)

    @property
    def nbytes(self) -> int:
        """Bytes of the arena holding the captures."""
        return int(self._arena.nbytes)

    # ------------------------------------------------------------------ next token
    def _rows_at(self, position: int) -> np.ndarray:
        if "logits" not in self._keyset:
            raise KeyError("logits were not captured: run with capture=[..., 'logits']")
        logits = self["logits"]
        B = logits.shape[0]
        idx = np.empty(B, np.int64)
        for b in range(B):
            n = int(self.lengths[b])
            rel = position if position >= 0 else n + position
            if not 0 <= rel < n:
                raise TokenIdError(f"position {position} is outside row {b}'s {n} real tokens")
            idx[b] = int(self._start[b]) + rel
        return np.ascontiguousarray(logits[np.arange(B), idx])

    def next_token_probs(self, position: int = -1) -> np.ndarray:
        """Next-token probabilities ``[B, V]`` (float32) after the token at ``position`` of each
        row, counted among the row's real tokens (-1: the last real token, whatever the
        padding).  A numerically stable softmax in C."""
        return _C.softmax_rows(self._rows_at(int(position)))

    def top_k(self, k: int = 10, position: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """The k most likely next tokens per row: ``(ids [B, k] int64, probs [B, k] float32)``,
        most likely first."""
        probs = self.next_token_probs(position)
        k = min(int(k), probs.shape[1])
        part = np.argpartition(-probs, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(probs, part, 1), axis=1, kind="stable")
        ids = np.take_along_axis(part, order, 1).astype(np.int64)
        return ids, np.take_along_axis(probs, ids, 1)

from ._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
