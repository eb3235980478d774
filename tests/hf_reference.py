"""Reference GPT-2 activations from Hugging Face transformers (torch CPU, eager attention,
fp32): the tests' ground truth, taken with torch forward hooks on HF's own modules. The one
module of model references for the tests and benchmarks; nothing here uses tokgeo.

``make_hf_model`` builds a random-weight GPT2LMHeadModel, ``save`` writes it,
``reference(model, ids)`` returns every TransformerLens-named activation of an unpadded
[B, T] batch, ``assert_close`` / ``rel_err`` compare ours to it.

``activations(model, ids)`` runs one sentence alone through ``GPT2LMHeadModel`` and returns
float64 NumPy arrays: hidden_states [L+1, T, C] (HF convention), resid_last [T, C] (the
residual stream after the last block, before ln_f), qkv [L, T, 3C] (c_attn outputs),
attn_out [L, T, C] (attention output after c_proj), mlp_out [L, T, C], attentions
[L, H, T, T] and logits [T, V].
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

torch = None  # imported lazily so that test collection works without torch


def _torch() -> Any:
    global torch
    if torch is None:
        import torch as _t

        torch = _t
    return torch


def make_hf_model(seed: int = 0, **cfg: Any) -> Any:
    """A random-weight GPT2LMHeadModel in eval mode with every parameter (LayerNorm weights
    and biases too) drawn at random, so the affine parts and biases are exercised."""
    t = _torch()
    from transformers import GPT2Config, GPT2LMHeadModel

    t.manual_seed(seed)
    cfg.setdefault("attn_implementation", "eager")
    cfg.setdefault("bos_token_id", 0)
    cfg.setdefault("eos_token_id", 0)
    model = GPT2LMHeadModel(GPT2Config(**cfg)).eval()
    g = t.Generator().manual_seed(seed + 1)
    with t.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
                p.copy_(1.0 + 0.2 * t.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.05 * t.randn(p.shape, generator=g))
            elif name.endswith("wte.weight") or name.endswith("wpe.weight"):
                p.copy_(0.1 * t.randn(p.shape, generator=g))
            else:
                p.copy_(t.randn(p.shape, generator=g) / math.sqrt(p.shape[0]))
    return model


def save(model: Any, folder: Path, **kw: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, **kw)
    return folder


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| over one tensor (0 when both are all zeros)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = np.abs(b).max() if b.size else 0.0
    diff = np.abs(a - b).max() if b.size else 0.0
    return float(diff / scale) if scale > 0 else float(diff)


def reference(model: Any, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Every TransformerLens-named activation of HF's GPT-2 for an unpadded [B, T] batch."""
    t = _torch()
    cfg = model.config
    L, H, C = cfg.n_layer, cfg.n_head, cfg.n_embd
    D = C // H
    B, T = ids.shape
    rec: dict[str, np.ndarray] = {}
    handles = []

    def first(x: Any) -> Any:
        return x[0] if isinstance(x, (tuple, list)) else x

    def on_out(name: str) -> Any:
        def f(mod: Any, inp: Any, out: Any) -> None:
            rec[name] = first(out).detach().numpy().copy()

        return f

    def on_in(name: str) -> Any:
        def f(mod: Any, args: Any, kwargs: Any) -> None:
            x = args[0] if args else kwargs["hidden_states"]
            rec[name] = x.detach().numpy().copy()

        return f

    tr = model.transformer
    handles.append(tr.wte.register_forward_hook(on_out("hook_embed")))
    handles.append(tr.wpe.register_forward_hook(on_out("hook_pos_embed")))
    for l, blk in enumerate(tr.h):
        p = f"blocks.{l}."
        handles += [
            blk.register_forward_pre_hook(on_in(p + "hook_resid_pre"), with_kwargs=True),
            blk.ln_1.register_forward_hook(on_out(p + "ln1.hook_normalized")),
            blk.attn.c_attn.register_forward_hook(on_out(p + "qkv")),
            blk.attn.c_proj.register_forward_pre_hook(on_in(p + "attn.hook_z"), with_kwargs=True),
            blk.attn.c_proj.register_forward_hook(on_out(p + "hook_attn_out")),
            blk.ln_2.register_forward_pre_hook(on_in(p + "hook_resid_mid"), with_kwargs=True),
            blk.ln_2.register_forward_hook(on_out(p + "ln2.hook_normalized")),
            blk.mlp.c_fc.register_forward_hook(on_out(p + "mlp.hook_pre")),
            blk.mlp.c_proj.register_forward_pre_hook(on_in(p + "mlp.hook_post"), with_kwargs=True),
            blk.mlp.c_proj.register_forward_hook(on_out(p + "hook_mlp_out")),
            blk.register_forward_hook(on_out(p + "hook_resid_post")),
        ]
    handles.append(tr.ln_f.register_forward_hook(on_out("ln_final.hook_normalized")))
    try:
        with t.no_grad():
            out = model(t.tensor(ids, dtype=t.long), output_attentions=True, output_hidden_states=True)
    finally:
        for h in handles:
            h.remove()
    rec["hook_pos_embed"] = np.broadcast_to(rec["hook_pos_embed"], (B, T, C)).copy()
    rec["logits"] = out.logits.numpy().copy()
    rec["hidden_states"] = np.stack([h.numpy() for h in out.hidden_states])
    eps = cfg.layer_norm_epsilon

    def scale(x: np.ndarray) -> np.ndarray:  # sqrt(var + eps) of a LayerNorm's input, in float64
        return np.sqrt(x.astype(np.float64).var(-1, keepdims=True) + eps)

    rec["ln_final.hook_scale"] = scale(rec[f"blocks.{L - 1}.hook_resid_post"])
    causal = np.tril(np.ones((T, T), bool))
    for l in range(L):
        p = f"blocks.{l}."
        qkv = rec.pop(p + "qkv")
        q, k, v = (qkv[..., i * C : (i + 1) * C].reshape(B, T, H, D) for i in range(3))
        rec[p + "attn.hook_q"], rec[p + "attn.hook_k"], rec[p + "attn.hook_v"] = q, k, v
        rec[p + "attn.hook_z"] = rec[p + "attn.hook_z"].reshape(B, T, H, D)
        rec[p + "attn.hook_pattern"] = out.attentions[l].numpy().copy()
        rec[p + "ln1.hook_scale"] = scale(rec[p + "hook_resid_pre"])
        rec[p + "ln2.hook_scale"] = scale(rec[p + "hook_resid_mid"])
        # scores from HF's own q and k, in float64
        s = np.einsum("bqhd,bkhd->bhqk", q.astype(np.float64), k.astype(np.float64))
        if cfg.scale_attn_weights:
            s /= math.sqrt(D)
        if cfg.scale_attn_by_inverse_layer_idx:
            s /= l + 1
        rec[p + "attn.hook_attn_scores"] = np.where(causal, s, -np.inf)
    return rec


def assert_close(name: str, ours: np.ndarray, ref: np.ndarray, tol: float = 1e-4) -> None:
    ours = np.asarray(ours)
    ref = np.asarray(ref)
    assert ours.shape == ref.shape, f"{name}: shape {ours.shape} != reference {ref.shape}"
    assert ours.dtype == np.float32, f"{name}: dtype {ours.dtype}"
    if name.endswith("hook_attn_scores"):
        fin = np.isfinite(ref)
        assert np.array_equal(np.isfinite(ours), fin), f"{name}: masked entries differ"
        assert np.all(ours[~fin] == -np.inf), f"{name}: masked entries must be -inf"
        e = rel_err(ours[fin], ref[fin])
    else:
        assert np.all(np.isfinite(ours)), f"{name}: non-finite values"
        e = rel_err(ours, ref)
    assert e <= tol, f"{name}: relative error {e:.3g} > {tol}"


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
