"""A development stand-in: the studies' Engine driven by Hugging Face transformers.

It lets the studies' own logic (indexing, statistics, results) be tested even where the
tokgeo forward pass is not built; the parity tests use tokgeo.GPT2 itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from tokgeo.studies._engine import Engine, Wants

from checkpoints import load_hf
from hf_reference import activations, residual_stream
from tiktoken_gpt2 import TiktokenWithOffsets


class HFEngine(Engine):
    def __init__(self, folder: Path) -> None:
        self.hf = load_hf(folder)
        c = self.hf.config
        self.label = str(folder)
        self.n_layer, self.n_head, self.n_embd = c.n_layer, c.n_head, c.n_embd
        self.n_ctx, self.n_vocab = c.n_positions, c.vocab_size
        self.tokenizer = TiktokenWithOffsets()

    def embedding_matrix(self) -> np.ndarray:
        return self.hf.transformer.wte.weight.detach().numpy()

    def _forward(self, ids: Sequence[np.ndarray], wants: Wants, memory_budget: int | None = None) -> dict[str, np.ndarray]:
        B, T = len(ids), max(len(r) for r in ids)
        acts = [activations(self.hf, [int(t) for t in r]) for r in ids]
        out: dict[str, np.ndarray] = {}

        def pad(key: str, get, axis_t: int) -> None:  # type: ignore[no-untyped-def]
            arrs = [get(a) for a in acts]
            shape = list(arrs[0].shape)
            shape[axis_t] = T
            full = np.zeros([B] + shape, dtype=np.float32)
            for b, a in enumerate(arrs):
                sl = [slice(None)] * a.ndim
                sl[axis_t] = slice(0, a.shape[axis_t])
                full[(b, *sl)] = a
            out[key] = full

        if wants.hidden:
            pad("hidden", lambda a: residual_stream(a, wants.hidden), 1)
            out["hidden"] = np.moveaxis(out["hidden"], 0, 1)
        if wants.qkv_layer is not None:
            pad("qkv", lambda a: a["qkv"][wants.qkv_layer], 0)
        if wants.pattern_layer is not None:
            arrs = [a["attentions"][wants.pattern_layer] for a in acts]
            full = np.zeros((B, self.n_head, T, T), dtype=np.float32)
            for b, a in enumerate(arrs):
                n = a.shape[-1]
                full[b, :, :n, :n] = a
            out["pattern"] = full
        if wants.attn_out:
            pad("attn_out", lambda a: a["attn_out"], 1)
            out["attn_out"] = np.moveaxis(out["attn_out"], 0, 1)
        if wants.mlp_out:
            pad("mlp_out", lambda a: a["mlp_out"], 1)
            out["mlp_out"] = np.moveaxis(out["mlp_out"], 0, 1)
        if wants.logits:
            pad("logits", lambda a: a["logits"], 0)
        return out
