"""Tiny random-weight GPT-2 checkpoints in the Hugging Face layout, made by code.

``tiny_gpt2(folder)`` writes config.json + model.safetensors (transformers'
``save_pretrained``) and the tokenizer files (tokgeo's shipped encoder.json/vocab.bpe as
vocab.json/merges.txt), so the same folder loads in transformers and in tokgeo.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tokgeo" / "data" / "gpt2"


def tiny_gpt2(
    folder: Path,
    *,
    n_layer: int = 3,
    n_embd: int = 64,
    n_head: int = 4,
    n_positions: int = 64,
    seed: int = 0,
) -> Path:
    """Write a random-weight GPT-2 (full 50257-token vocabulary) into ``folder``."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    cfg = GPT2Config(
        n_layer=n_layer,
        n_embd=n_embd,
        n_head=n_head,
        vocab_size=50257,
        n_positions=n_positions,
    )
    model = GPT2LMHeadModel(cfg)
    # random LayerNorm parameters too, so that ln_f and ln_1/ln_2 are not identities
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln_" in name or name.startswith("transformer.ln_f"):
                p.add_(0.1 * torch.randn_like(p))
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    shutil.copyfile(DATA / "encoder.json", folder / "vocab.json")
    shutil.copyfile(DATA / "vocab.bpe", folder / "merges.txt")
    return folder


def load_hf(folder: Path):  # type: ignore[no-untyped-def]
    """The reference model: transformers' GPT2LMHeadModel from the folder, eager attention."""
    from transformers import GPT2LMHeadModel

    m = GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager")
    m.eval()
    return m


_SHARED: dict[tuple, Path] = {}


def shared_tiny_gpt2(**kw: int) -> Path:
    """One checkpoint per configuration per test process (written once, in a temp folder
    removed at exit)."""
    import atexit
    import tempfile

    key = tuple(sorted(kw.items()))
    if key not in _SHARED:
        d = Path(tempfile.mkdtemp(prefix="tokgeo-tiny-gpt2-"))
        atexit.register(shutil.rmtree, d, True)
        _SHARED[key] = tiny_gpt2(d / "model", **kw)
    return _SHARED[key]
