"""Hook names and semantics agree with TransformerLens (unprocessed weights).

TransformerLens is an optional reference (a heavy install): the test is skipped when it is
missing.  It checks that every hook tokgeo names the TransformerLens way holds the same
values as TransformerLens' own hook of that name on the same weights, with
``no_processing=True`` (no LayerNorm folding, no centring).

One documented difference: tokgeo's ``ln*.hook_normalized`` is the LayerNorm's output AFTER
its weight and bias (Hugging Face's ``ln_1`` output, as classic HookedTransformer's
LayerNorm hooked it), while TransformerLens 4's bridge hooks the value before the affine
step; the test maps ours back with ``(value - b) / w``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import tokgeo

pytest.importorskip("torch")
bridge_mod = pytest.importorskip("transformer_lens.model_bridge")

from hf_reference import make_hf_model, rel_err, save  # noqa: E402

DATA = Path(tokgeo.__file__).parent / "data" / "gpt2"


def test_hooks_match_transformerlens(tmp_path: Path) -> None:
    import torch
    from transformers import GPT2TokenizerFast

    hf = make_hf_model(seed=3, n_layer=2, n_head=4, n_embd=32, n_positions=16, vocab_size=50257)
    folder = save(hf, tmp_path / "m")
    shutil.copy(DATA / "encoder.json", folder / "vocab.json")
    shutil.copy(DATA / "vocab.bpe", folder / "merges.txt")
    tok = GPT2TokenizerFast.from_pretrained(folder)
    bridge = bridge_mod.TransformerBridge.boot_transformers(str(folder), hf_model=hf, tokenizer=tok, device="cpu")
    bridge.enable_compatibility_mode(disable_warnings=True, no_processing=True)
    ids = np.random.default_rng(0).integers(0, 50257, (2, 7))
    with torch.no_grad():
        _, tl_cache = bridge.run_with_cache(torch.tensor(ids))
    model = tokgeo.GPT2.from_pretrained(folder)
    ours = model.run(ids, capture="all")
    checked = 0
    for key in ours:
        if key not in tl_cache:
            continue
        ref = tl_cache[key].detach().numpy()
        mine = ours[key]
        if key.endswith("hook_normalized"):
            if key.startswith("ln_final"):
                w, b = model.ln_final_w, model.ln_final_b
            else:
                blk = model.blocks[int(key.split(".")[1])]
                w, b = (blk.ln1_w, blk.ln1_b) if ".ln1." in key else (blk.ln2_w, blk.ln2_b)
            mine = (mine.astype(np.float64) - b) / w
        assert mine.shape == ref.shape, f"{key}: {mine.shape} vs TransformerLens {ref.shape}"
        fin = np.isfinite(ref) & (ref > -1e30)
        assert np.array_equal(fin, np.isfinite(mine)), f"{key}: masked entries differ"
        assert rel_err(mine[fin], ref[fin]) < 1e-4, key
        checked += 1
    # everything except the logits key (TL returns logits separately) must exist in TL
    assert checked >= len(ours) - 1, [k for k in ours if k not in tl_cache]
