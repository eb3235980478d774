"""Capture names: the one resolver from what a user writes to the rows of the C capture table.

The table itself (every name, the arena block holding it, its shape and strides) is owned
by C (``csrc/gpt2.c``, published as ``_C.capture_table()``); this module only reads names.
A name can be written as (TransformerLens's ``get_act_name`` accepts the same spellings):

* a full hook name: ``"blocks.6.hook_resid_post"``, ``"blocks.6.attn.hook_pattern"``,
  ``"ln_final.hook_normalized"``, ``"logits"``;
* the same without ``blocks.N.``: ``"hook_resid_post"``, ``"attn.hook_pattern"`` (every
  block, or those in ``layers=``), or its tail: ``"hook_pattern"``, ``"hook_normalized"``
  (ln1, ln2 and ln_final);
* a short name: ``resid_pre``, ``resid_mid``, ``resid_post``, ``attn_out``, ``mlp_out``,
  ``q``, ``k``, ``v``, ``qkv`` (the raw ``[B, T, 3C]`` c_attn output), ``attn_scores``,
  ``pattern``, ``z``, ``mlp_pre``, ``mlp_post``, ``ln1``, ``ln2``, ``ln_final``,
  ``ln1_scale``, ``ln2_scale``, ``ln_final_scale``, ``embed``, ``pos_embed``, ``logits``
  (and TransformerLens's aliases ``query``, ``key``, ``value``, ``attn_logits``, ``pre``,
  ``post``, ``ln_f``);
* a family: ``resid`` (resid_pre, resid_mid and resid_post), ``attn``, ``mlp``, ``ln1``,
  ``ln2``, ``ln_final`` (every hook under that prefix); ``"hidden_states"`` (Hugging Face's:
  every block's resid_pre plus ln_final); ``"all"``.

:func:`act_name` turns a short name and a block into the full name, as ``get_act_name``.
"""

from __future__ import annotations

import difflib
from typing import Iterable, NamedTuple

import numpy as np

from . import _C
from .errors import InvalidInputError

__all__ = ["Capture", "CAPTURES", "KNOWN_NAMES", "act_name", "block_row", "capture_flags", "find", "short_name"]


class Capture(NamedTuple):
    """One row of the C capture table."""

    name: str  #: hook name; per-block ones without ``blocks.{l}.``
    kind: int  #: the arena block holding it (index of the plan's per-kind entries)
    per_block: bool  #: False for the once-per-run hooks (embed, pos_embed, ln_final, logits)
    transformer_lens: bool  #: a TransformerLens name (False for the raw ``attn.hook_qkv``)
    dims: tuple[str, ...]  #: the slot's shape in symbols (B, T, C, H, D, F, V, 3C, 1, 3)
    select_axis: int  #: -1, or the axis of ``dims`` fixed at ``select_index``
    select_index: int
    what: str  #: what the values are

    @property
    def shape(self) -> str:
        """The array's shape in symbols, e.g. ``"[B, T, H, D]"``."""
        return "[" + ", ".join(d for i, d in enumerate(self.dims) if i != self.select_axis) + "]"

    def full_name(self, layer: int | None = None) -> str:
        """``blocks.{layer}.`` + name for per-block hooks (``blocks.*.`` without a layer)."""
        if not self.per_block:
            return self.name
        return f"blocks.{'*' if layer is None else layer}.{self.name}"


CAPTURES: tuple[Capture, ...] = tuple(Capture(*row) for row in _C.capture_table())
_N_KINDS = 1 + max(c.kind for c in CAPTURES)


def short_name(c: Capture) -> str:
    """The short name the README uses: ``resid_post``, ``q``, ``ln1``, ``ln_final_scale``..."""
    group, _, last = c.name.rpartition(".")
    last = last[5:] if last.startswith("hook_") else last
    if last == "normalized":
        return group
    if last == "scale":
        return f"{group}_scale"
    return f"mlp_{last}" if group == "mlp" else last


_SHORT = {short_name(c): i for i, c in enumerate(CAPTURES)}
_ALIASES = {"query": "q", "key": "k", "value": "v", "attn_logits": "attn_scores", "ln_f": "ln_final"}
_FAMILIES = {"resid": ("resid_pre", "resid_mid", "resid_post")}
#: the names an error message offers (README spellings)
KNOWN_NAMES = ", ".join(_SHORT)


def _matches(pattern: str, c: Capture, families: bool) -> bool:
    """Does a layer-less pattern name row c?  families: also a prefix ("attn", "ln1") or
    "resid" naming several rows."""
    n, short = c.name, short_name(c)
    tail = n.rpartition(".")[2]
    if pattern in (n, short, tail[5:] if tail.startswith("hook_") else tail) or n.endswith("." + pattern):
        return True
    if _ALIASES.get(pattern) == short:
        return True
    return families and (n.startswith(pattern + ".") or short in _FAMILIES.get(pattern, ()))


def _rows(name: str, per_block: bool) -> list[int]:
    return [i for i, c in enumerate(CAPTURES) if c.per_block == per_block and _matches(name, c, families=False)]


def _split_layer(name: str) -> tuple[int | None, str]:
    if name.startswith("blocks."):
        head, _, rest = name[7:].partition(".")
        if head.lstrip("-").isdigit() and rest:
            return int(head), rest
    return None, name


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name.rpartition(".")[2], [*_SHORT, *(c.name for c in CAPTURES)], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _blocks(n_layer: int) -> str:
    return f"this model has blocks 0..{n_layer - 1}"


def find(name: str, n_layer: int, layer: int | None = None) -> tuple[int, int | None]:
    """One array: a name (full, layer-less with ``layer``, or short) -> (row index, block or
    None for the once-per-run hooks).  KeyError saying what is wrong otherwise."""
    if not isinstance(name, str):
        raise KeyError(f"capture names are strings, got {name!r}")
    blk, rest = _split_layer(name)
    if blk is not None and layer is not None:
        raise KeyError(f"{name!r} already names block {blk}; drop the layer")
    blk = layer if blk is None else blk
    rows = _rows(rest, per_block=blk is not None)
    if not rows and blk is None and _rows(rest, per_block=True):
        example = CAPTURES[_rows(rest, per_block=True)[0]].name
        raise KeyError(f"{name!r} is a per-block hook: give the block, e.g. cache[{rest!r}, 0] or 'blocks.0.{example}'")
    if len(rows) > 1:  # "hook_normalized": ln1 and ln2 share the tail
        raise KeyError(f"{name!r} names {len(rows)} arrays ({', '.join(CAPTURES[i].full_name(blk) for i in rows)}); pick one")
    if not rows:
        raise KeyError(
            f"unknown capture name {name!r}{_did_you_mean(name)}; names: {KNOWN_NAMES} "
            "(or full names such as 'blocks.0.hook_resid_post')"
        )
    if blk is not None:
        if isinstance(blk, bool) or not isinstance(blk, (int, np.integer)) or not -n_layer <= blk < n_layer:
            raise KeyError(f"{name if layer is None else (name, layer)!r}: {_blocks(n_layer)}")
        blk = int(blk) % n_layer
    return rows[0], blk


def block_row(name: str) -> int:
    """The one per-block row a layer-less name denotes (``"resid_post"``, ``"attn.hook_v"``)."""
    rows = _rows(name, per_block=True) if isinstance(name, str) else []
    if len(rows) != 1:
        raise KeyError(
            f"{name!r} names {len(rows) or 'no'} per-block hooks; use one of "
            + ", ".join(short_name(c) for c in CAPTURES if c.per_block)
        )
    return rows[0]


def act_name(name: str, layer: int | None = None) -> str:
    """The full hook name, as TransformerLens's ``get_act_name``: ``act_name("resid_post", 6)``
    -> ``"blocks.6.hook_resid_post"``; ``act_name("scale")`` -> ``"ln_final.hook_scale"``."""
    row, blk = find(name, 1 << 30, layer)
    return CAPTURES[row].full_name(blk)


def _layer_list(layers: int | Iterable[int] | None, n_layer: int) -> list[int]:
    if layers is None:
        return list(range(n_layer))
    raw = [layers] if isinstance(layers, (int, np.integer)) else list(layers)
    out = []
    for l in raw:
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not -n_layer <= l < n_layer:
            raise InvalidInputError(f"layer {l!r} is not a block of this {n_layer}-layer model: {_blocks(n_layer)}")
        out.append(int(l) % n_layer)
    return out


def capture_flags(capture: str | Iterable[str], layers: int | Iterable[int] | None, n_layer: int) -> bytes:
    """Capture names and a block subset -> the forward pass's ``want`` flags ``[kind][layer]``."""
    pats = [capture] if isinstance(capture, str) else capture
    try:
        pats = list(pats)
    except TypeError:
        raise InvalidInputError(f"capture must be a string or a list of strings, got {type(capture).__name__}") from None
    sel = _layer_list(layers, n_layer)
    want = bytearray(_N_KINDS * n_layer)

    def mark(c: Capture, ls: Iterable[int]) -> None:
        for l in ls if c.per_block else (0,):
            want[c.kind * n_layer + l] = 1

    for p in pats:
        if not isinstance(p, str):
            raise InvalidInputError(f"capture entries must be strings, got {p!r}")
        if p in ("all", "hidden_states"):
            if p == "hidden_states" and layers is not None and sorted(set(sel)) != list(range(n_layer)):
                raise InvalidInputError("'hidden_states' covers every block; drop layers=... or capture 'resid_pre'")
            for c in CAPTURES:
                if p == "all" or c.name in ("hook_resid_pre", "ln_final.hook_normalized"):
                    mark(c, sel if p == "all" else range(n_layer))
            continue
        blk, rest = _split_layer(p)
        if blk is not None and not 0 <= blk < n_layer:
            raise InvalidInputError(f"{p!r}: {_blocks(n_layer)}")
        hits = [c for c in CAPTURES if _matches(rest, c, families=True) and (blk is None or c.per_block)]
        if not hits:
            raise InvalidInputError(
                f"unknown capture {p!r}{_did_you_mean(p)}; use 'all', 'hidden_states', a name ({KNOWN_NAMES}), a family "
                "(resid, attn, mlp, ln1, ln2, ln_final) or a full hook name such as 'blocks.0.hook_resid_post'"
            )
        for c in hits:
            mark(c, sel if blk is None else [blk])
    return bytes(want)

from ._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
