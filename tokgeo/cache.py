"""ActivationCache: the captures of one forward pass, as read-only NumPy views of one arena.

Hook names follow TransformerLens (B batch, T tokens, C n_embd, H heads, D d_head,
F d_mlp, V vocabulary; all float32)::

    hook_embed                          [B, T, C]   wte[token]
    hook_pos_embed                      [B, T, C]   wpe[position]
    blocks.{l}.hook_resid_pre           [B, T, C]   residual stream entering block l
    blocks.{l}.ln1.hook_scale           [B, T, 1]   sqrt(var + eps) of the LayerNorm's input
    blocks.{l}.ln1.hook_normalized      [B, T, C]   ln_1 output, AFTER its weight and bias
    blocks.{l}.attn.hook_q / _k / _v    [B, T, H, D] (c_attn output split per head, bias included)
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

from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

import numpy as np

from . import _C
from .errors import InvalidInputError, TokenIdError

if TYPE_CHECKING:  # pragma: no cover
    from .model import GPT2

__all__ = ["ActivationCache", "LAYER_HOOKS", "GLOBAL_HOOKS", "resolve_capture"]

_KINDS = {name: i for i, name in enumerate(_C.hook_names())}

# per-block hook suffix -> (kind, sub-view of the qkv buffer)
LAYER_HOOKS: dict[str, tuple[str, int | None]] = {
    "hook_resid_pre": ("resid_pre", None),
    "ln1.hook_scale": ("ln1_scale", None),
    "ln1.hook_normalized": ("ln1", None),
    "attn.hook_q": ("qkv", 0),
    "attn.hook_k": ("qkv", 1),
    "attn.hook_v": ("qkv", 2),
    "attn.hook_attn_scores": ("attn_scores", None),
    "attn.hook_pattern": ("pattern", None),
    "attn.hook_z": ("z", None),
    "hook_attn_out": ("attn_out", None),
    "hook_resid_mid": ("resid_mid", None),
    "ln2.hook_scale": ("ln2_scale", None),
    "ln2.hook_normalized": ("ln2", None),
    "mlp.hook_pre": ("mlp_pre", None),
    "mlp.hook_post": ("mlp_post", None),
    "hook_mlp_out": ("mlp_out", None),
    "hook_resid_post": ("resid_post", None),
}
GLOBAL_HOOKS: dict[str, str] = {
    "hook_embed": "embed",
    "hook_pos_embed": "pos_embed",
    "ln_final.hook_scale": "ln_final_scale",
    "ln_final.hook_normalized": "ln_final",
    "logits": "logits",
}
_EXTRA_ALIASES = {
    "ln1.hook_normalized": {"ln1"},
    "ln2.hook_normalized": {"ln2"},
    "ln_final.hook_normalized": {"ln_final", "ln_f"},
    "mlp.hook_pre": {"mlp_pre"},
    "mlp.hook_post": {"mlp_post"},
    "attn.hook_q": {"qkv"},
    "attn.hook_k": {"qkv"},
    "attn.hook_v": {"qkv"},
}


def _matches(pattern: str, hook: str, groups: bool = True) -> bool:
    """Does a capture pattern name this hook?  groups: also a prefix such as "attn" or "ln1"
    naming every hook under it."""
    if pattern == hook or hook.endswith("." + pattern) or (groups and hook.startswith(pattern + ".")):
        return True
    last = hook.rsplit(".", 1)[-1]
    return pattern in (last, last[5:] if last.startswith("hook_") else last) or pattern in _EXTRA_ALIASES.get(hook, ())


def _split_layer(name: str) -> tuple[int | None, str]:
    if name.startswith("blocks."):
        head, _, rest = name[7:].partition(".")
        if head.lstrip("-").isdigit() and rest:
            return int(head), rest
    return None, name


def resolve_capture(
    capture: str | Iterable[str], layers: int | Iterable[int] | None, n_layer: int
) -> tuple[bytes, None]:
    """Turns capture patterns and a layer subset into the engine's [kind][layer] flags."""
    if isinstance(capture, str):
        capture = [capture]
    try:
        pats = list(capture)
    except TypeError:
        raise InvalidInputError(f"capture must be a string or a list of strings, got {type(capture).__name__}") from None
    if layers is None:
        sel = list(range(n_layer))
    else:
        raw = [layers] if isinstance(layers, (int, np.integer)) else list(layers)
        sel = []
        for l in raw:
            if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not -n_layer <= l < n_layer:
                raise InvalidInputError(f"layer {l!r} is not a block of this {n_layer}-layer model")
            sel.append(int(l) % n_layer)
    want = bytearray(len(_KINDS) * n_layer)

    def mark(kind: str, ls: Iterable[int]) -> None:
        k = _KINDS[kind]
        for l in ls:
            want[k * n_layer + l] = 1

    for p in pats:
        if not isinstance(p, str):
            raise InvalidInputError(f"capture entries must be strings, got {p!r}")
        if p == "all":
            for kind, _ in LAYER_HOOKS.values():
                mark(kind, sel)
            for kind in GLOBAL_HOOKS.values():
                mark(kind, [0])
            continue
        if p == "hidden_states":
            if layers is not None and sorted(set(sel)) != list(range(n_layer)):
                raise InvalidInputError("'hidden_states' covers every block; drop layers=... or capture 'resid_pre'")
            mark("resid_pre", range(n_layer))
            mark("ln_final", [0])
            continue
        layer, rest = _split_layer(p)
        hit = False
        if layer is not None:
            if not 0 <= layer < n_layer:
                raise InvalidInputError(f"{p!r}: this model has blocks 0..{n_layer - 1}")
            for h, (kind, _) in LAYER_HOOKS.items():
                if _matches(rest, h):
                    mark(kind, [layer])
                    hit = True
        else:
            for h, (kind, _) in LAYER_HOOKS.items():
                if _matches(p, h):
                    mark(kind, sel)
                    hit = True
            for h, kind in GLOBAL_HOOKS.items():
                if _matches(p, h):
                    mark(kind, [0])
                    hit = True
        if not hit:
            raise InvalidInputError(
                f"unknown capture {p!r}; use 'all', 'hidden_states', hook names such as "
                f"'blocks.0.attn.hook_q', or patterns: {', '.join(sorted(set(list(LAYER_HOOKS) + list(GLOBAL_HOOKS))))}"
            )
    return bytes(want), None


class ActivationCache(Mapping[str, np.ndarray]):
    """Mapping of TransformerLens hook names to read-only float32 arrays (see the module doc).

    Also: ``cache["resid_post", 3]`` (TransformerLens style), :meth:`stack`,
    :meth:`layers`, :attr:`resid`, :attr:`hidden_states`, :meth:`next_token_probs`,
    :meth:`top_k`, and the inputs: ``ids`` ``[B, T]`` int64, ``mask`` ``[B, T]`` bool (True
    for real tokens), ``lengths`` ``[B]``, ``padding_side``, ``batch`` (the Batch given, if any).
    """

    def __init__(
        self,
        model: "GPT2",
        arena: Any,
        plan: dict,
        ids: np.ndarray,
        mask: np.ndarray,
        lengths: np.ndarray,
        start: np.ndarray,
        padding_side: str,
        batch: Any,
    ) -> None:
        cfg = model.config
        self._arena = arena
        self._plan = plan
        self._cfg = cfg
        self._model = model
        self.ids: np.ndarray = ids
        self.mask: np.ndarray = mask
        self.lengths: np.ndarray = lengths
        self.padding_side: str = padding_side
        self.batch = batch
        self._start = start
        self.n_layer: int = cfg.n_layer
        L = cfg.n_layer
        self._keys: list[str] = []
        for h, kind in GLOBAL_HOOKS.items():
            if kind in ("embed", "pos_embed") and self._count(kind):
                self._keys.append(h)
        for l in range(L):
            for h, (kind, _) in LAYER_HOOKS.items():
                if self._slot(kind, l) >= 0:
                    self._keys.append(f"blocks.{l}.{h}")
        for h in ("ln_final.hook_scale", "ln_final.hook_normalized", "logits"):
            if self._count(GLOBAL_HOOKS[h]):
                self._keys.append(h)
        self._keyset = set(self._keys)

    # ------------------------------------------------------------------ layout
    def _count(self, kind: str) -> int:
        return int(self._plan["count"][_KINDS[kind]])

    def _slot(self, kind: str, layer: int) -> int:
        return int(self._plan["slot"][_KINDS[kind] * self.n_layer + layer])

    def _shape(self, kind: str, sub: int | None) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        B, T = self.ids.shape
        c = self._cfg
        C, H, D, F, V = c.n_embd, c.n_head, c.d_head, c.d_mlp, c.vocab_size
        if kind == "qkv":
            return (B, T, H, D), (T * 3 * C * 4, 3 * C * 4, D * 4, 4), (sub or 0) * C * 4
        if kind in ("attn_scores", "pattern"):
            return (B, H, T, T), (H * T * T * 4, T * T * 4, T * 4, 4), 0
        if kind == "z":
            return (B, T, H, D), (T * C * 4, C * 4, D * 4, 4), 0
        if kind.endswith("scale"):
            return (B, T, 1), (T * 4, 4, 4), 0
        W = F if kind in ("mlp_pre", "mlp_post") else V if kind == "logits" else C
        return (B, T, W), (T * W * 4, W * 4, 4), 0

    def _view(self, kind: str, slot: int, sub: int | None = None) -> np.ndarray:
        k = _KINDS[kind]
        shape, strides, extra = self._shape(kind, sub)
        off = self._plan["offset"][k] + slot * self._plan["layer_floats"][k] * 4 + extra
        return self._arena.view(off, shape, strides)

    def _resolve(self, name: str) -> tuple[str, int | None, int | None]:
        """full hook name -> (kind, layer or None for globals, qkv sub-view)"""
        if name in GLOBAL_HOOKS:
            return GLOBAL_HOOKS[name], None, None
        layer, rest = _split_layer(name)
        if layer is not None and rest in LAYER_HOOKS:
            kind, sub = LAYER_HOOKS[rest]
            return kind, layer, sub
        raise KeyError(name)

    def _hook_for(self, pattern: str) -> str:
        hits = [h for h in LAYER_HOOKS if _matches(pattern, h)]
        if len(hits) > 1:  # "ln1" is a group and an alias: the alias wins here
            hits = [h for h in hits if _matches(pattern, h, groups=False)]
        if len(hits) != 1:
            raise KeyError(
                f"{pattern!r} names {'no' if not hits else len(hits)} per-block hooks; "
                f"use one of {', '.join(LAYER_HOOKS)}"
            )
        return hits[0]

    # ------------------------------------------------------------------ Mapping
    def __getitem__(self, key: str | tuple[str, int]) -> np.ndarray:
        if isinstance(key, tuple):
            if len(key) != 2:
                raise KeyError(key)
            name, layer = key
            layer = int(layer) % self.n_layer if -self.n_layer <= int(layer) < self.n_layer else int(layer)
            key = f"blocks.{layer}.{self._hook_for(name)}"
        if key not in self._keyset:
            if isinstance(key, str) and key in ("ln_final", "embed", "pos_embed"):
                return self[{"ln_final": "ln_final.hook_normalized", "embed": "hook_embed", "pos_embed": "hook_pos_embed"}[key]]
            raise KeyError(
                f"{key!r} was not captured; captured: {', '.join(self._keys[:8])}{' ...' if len(self._keys) > 8 else ''}. "
                "Ask for it with model.run(..., capture=[...])"
            )
        kind, block, sub = self._resolve(key)
        return self._view(kind, self._slot(kind, 0 if block is None else block), sub)

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
        kind, _ = LAYER_HOOKS[self._hook_for(name)]
        return [l for l in range(self.n_layer) if self._slot(kind, l) >= 0]

    def stack(self, name: str) -> np.ndarray:
        """All captured blocks of one hook as ``[n, *hook_shape]`` (``n = len(layers(name))``),
        a view of the arena (no copy).  E.g. ``stack("resid_post")`` -> ``[L, B, T, C]``."""
        hook = self._hook_for(name)
        kind, sub = LAYER_HOOKS[hook]
        n = self._count(kind)
        if n == 0:
            raise KeyError(f"no block captured {hook!r}; capture it with model.run(..., capture={name!r})")
        k = _KINDS[kind]
        shape, strides, extra = self._shape(kind, sub)
        return self._arena.view(
            self._plan["offset"][k] + extra, (n, *shape), (self._plan["layer_floats"][k] * 4, *strides)
        )

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
        kr, kf = _KINDS["resid_pre"], _KINDS["ln_final"]
        p = self._plan
        if self._count("resid_pre") != L or not self._count("ln_final"):
            raise KeyError("hidden_states needs every block's resid_pre and ln_final: run with capture='hidden_states'")
        if p["offset"][kf] != p["offset"][kr] + L * p["layer_floats"][kr] * 4:  # pragma: no cover - engine invariant
            raise RuntimeError("arena layout does not keep ln_final after resid_pre")
        shape, strides, _ = self._shape("resid_pre", None)
        return self._arena.view(p["offset"][kr], (L + 1, *shape), (p["layer_floats"][kr] * 4, *strides))

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
