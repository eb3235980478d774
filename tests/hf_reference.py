"""Reference activations from Hugging Face transformers (the tests' ground truth).

``activations(model, ids)`` runs one sentence alone through ``GPT2LMHeadModel`` and returns
float64 NumPy arrays: hidden_states [L+1, T, C] (HF convention), resid_last [T, C] (the
residual stream after the last block, before ln_f), qkv [L, T, 3C] (c_attn outputs),
attn_out [L, T, C] (attention output after c_proj), mlp_out [L, T, C], attentions
[L, H, T, T] and logits [T, V].
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def activations(model: Any, ids: Sequence[int]) -> dict[str, np.ndarray]:
    import torch

    blocks = model.transformer.h
    store: dict[str, list[Any]] = {"qkv": [], "attn_out": [], "mlp_out": [], "block_out": []}
    hooks = []
    for blk in blocks:
        hooks.append(blk.attn.c_attn.register_forward_hook(lambda m, i, o: store["qkv"].append(o)))
        hooks.append(blk.attn.register_forward_hook(lambda m, i, o: store["attn_out"].append(o[0] if isinstance(o, tuple) else o)))
        hooks.append(blk.mlp.register_forward_hook(lambda m, i, o: store["mlp_out"].append(o)))
        hooks.append(blk.register_forward_hook(lambda m, i, o: store["block_out"].append(o[0] if isinstance(o, tuple) else o)))
    try:
        with torch.no_grad():
            out = model(
                torch.tensor([list(ids)], dtype=torch.long),
                output_hidden_states=True,
                output_attentions=True,
            )
    finally:
        for h in hooks:
            h.remove()

    def np64(t: Any) -> np.ndarray:
        return t.detach().to(torch.float64).numpy()

    return {
        "hidden_states": np.stack([np64(h[0]) for h in out.hidden_states]),
        "resid_last": np64(store["block_out"][-1][0]),
        "qkv": np.stack([np64(t[0]) for t in store["qkv"]]),
        "attn_out": np.stack([np64(t[0]) for t in store["attn_out"]]),
        "mlp_out": np.stack([np64(t[0]) for t in store["mlp_out"]]),
        "attentions": np.stack([np64(a[0]) for a in out.attentions]),
        "logits": np64(out.logits[0]),
    }


def residual_stream(act: dict[str, np.ndarray], convention: str) -> np.ndarray:
    """[L+1, T, C] under tokgeo's two conventions."""
    if convention == "hidden_states":
        return act["hidden_states"]
    return np.concatenate([act["hidden_states"][:-1], act["resid_last"][None]], axis=0)


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """The angle between two vectors in degrees, the textbook way."""
    c = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def cosine_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    return xn @ yn.T
