"""Parity of tokgeo.GPT2 with Hugging Face transformers' GPT-2 on random-weight checkpoints.

Every captured activation and the logits must match within 1e-4 relative error, defined per
tensor as max|ours - ref| / max|ref| (see hf_reference.rel_err); references come from torch
forward hooks on HF's modules (see hf_reference.reference).
"""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import numpy as np
import pytest

import tokgeo
from tokgeo.errors import InvalidInputError, MemoryBudgetError, TokenIdError

pytest.importorskip("torch")
pytest.importorskip("transformers")

from hf_reference import assert_close, make_hf_model, reference, rel_err, save  # noqa: E402

CONFIGS = {
    # GPT-2 small's widths (768, 12 heads, 50257 tokens) with 2 blocks
    "small": dict(n_layer=2, n_head=12, n_embd=768, n_positions=64, vocab_size=50257),
    # 5 heads of 12 dims, T up to n_ctx = 16
    "odd": dict(n_layer=3, n_head=5, n_embd=60, n_positions=16, vocab_size=97),
    # 3 heads, odd MLP width, exact GELU, per-layer score scaling, big epsilon
    "three": dict(
        n_layer=2, n_head=3, n_embd=48, n_inner=100, n_positions=24, vocab_size=61, layer_norm_epsilon=1e-3,
        activation_function="gelu", scale_attn_by_inverse_layer_idx=True,
    ),
}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = {}
    for name, cfg in CONFIGS.items():
        hf = make_hf_model(seed=len(out), **cfg)
        folder = save(hf, tmp_path_factory.mktemp(name))
        out[name] = (hf, folder)
    return out


def check_all(cache: tokgeo.ActivationCache, ref: dict, n_layer: int) -> int:
    n = 0
    for key in cache:
        assert_close(key, cache[key], ref[key])
        n += 1
    return n


@pytest.mark.parametrize(
    "name,B,T",
    # T <= 16 takes the plain-loop attention path, longer inputs the blocked BLIS path
    [("small", 2, 9), ("small", 1, 64), ("odd", 3, 16), ("odd", 2, 1), ("odd", 1, 7), ("three", 2, 24), ("three", 4, 3)],
)
def test_every_hook_matches_transformers(ckpt: dict, name: str, B: int, T: int) -> None:
    hf, folder = ckpt[name]
    model = tokgeo.GPT2.from_pretrained(folder)
    ids = np.random.default_rng(B * 100 + T).integers(0, hf.config.vocab_size, (B, T))
    cache = model.run(ids, capture="all")
    ref = reference(hf, ids)
    L = hf.config.n_layer
    assert len(cache) == 5 + 17 * L
    assert check_all(cache, ref, L) == len(cache)
    hs = cache.hidden_states
    assert hs.shape == (L + 1, B, T, hf.config.n_embd)
    for i in range(L + 1):
        assert_close(f"hidden_states[{i}]", hs[i], ref["hidden_states"][i])
    assert_close("hidden_states[L] is after ln_f", hs[L], ref["ln_final.hook_normalized"])
    assert_close("resid", cache.resid[L - 1], ref[f"blocks.{L - 1}.hook_resid_post"])


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("name,lengths", [("odd", (5, 16, 1, 11)), ("three", (24, 3, 17))])
def test_padding_never_changes_real_tokens(ckpt: dict, side: str, name: str, lengths: tuple) -> None:
    hf, folder = ckpt[name]
    model = tokgeo.GPT2.from_pretrained(folder)
    rng = np.random.default_rng(7)
    rows = [rng.integers(0, hf.config.vocab_size, n).tolist() for n in lengths]
    cache = model.run(rows, capture="all", padding_side=side)
    B, T = cache.ids.shape
    assert (B, T) == (len(lengths), max(lengths))
    assert cache.padding_side == side
    for b, row in enumerate(rows):
        n = len(row)
        s = T - n if side == "left" else 0
        assert cache.mask[b].sum() == n and cache.mask[b, s : s + n].all()
        ref = reference(hf, np.array([row]))
        for key in cache:
            ours = cache[key][b]
            if key.endswith(("hook_pattern", "hook_attn_scores")):
                mine = ours[:, s : s + n, s : s + n]
                assert_close(key, mine[None], ref[key])
                outside = np.delete(ours[:, s : s + n, :], np.s_[s : s + n], axis=2)
                fill = 0.0 if key.endswith("pattern") else -np.inf
                assert np.all(outside == fill), f"{key}: real tokens must not see pads"
            else:
                assert_close(key, ours[s : s + n][None], ref[key])


def test_batch_object_and_position_ids(ckpt: dict) -> None:
    """An encode_batch-like object (ids, mask, padding_side) is accepted; left-padded real
    tokens get positions 0..n-1 (hook_pos_embed equals wpe[0..n-1])."""
    hf, folder = ckpt["odd"]
    model = tokgeo.GPT2.from_pretrained(folder)

    class Batch:
        ids = np.array([[0, 0, 3, 4, 5], [6, 7, 8, 9, 10]], np.int64)
        mask = np.array([[False, False, True, True, True], [True] * 5])
        padding_side = "left"

    cache = model.run(Batch(), capture=["hook_pos_embed", "logits"])
    wpe = hf.transformer.wpe.weight.detach().numpy()
    np.testing.assert_array_equal(cache["hook_pos_embed"][0, 2:], wpe[:3])
    np.testing.assert_array_equal(cache["hook_pos_embed"][1], wpe[:5])
    ref = reference(hf, np.array([[3, 4, 5]]))
    assert_close("logits", cache["logits"][0, 2:][None], ref["logits"])
    assert cache.batch is not None
    bad = Batch()
    bad.mask = np.array([[True, False, True, True, True], [True] * 5])
    with pytest.raises(InvalidInputError, match="contiguous"):
        model.run(bad)


def test_capture_selection_stores_only_what_is_asked(ckpt: dict) -> None:
    hf, folder = ckpt["odd"]
    model = tokgeo.GPT2.from_pretrained(folder)
    ids = np.arange(12).reshape(2, 6) % 97
    C = hf.config.n_embd
    c = model.run(ids, capture="resid_post", layers=[1, -1])
    assert list(c) == ["blocks.1.hook_resid_post", "blocks.2.hook_resid_post"]
    assert c.nbytes == 2 * 2 * 6 * C * 4
    assert c.layers("resid_post") == [1, 2]
    ref = reference(hf, ids)
    assert_close("resid_post[1]", c["resid_post", 1], ref["blocks.1.hook_resid_post"])
    st = c.stack("hook_resid_post")
    assert st.shape == (2, 2, 6, C)
    assert np.shares_memory(st, c["blocks.2.hook_resid_post"])
    np.testing.assert_array_equal(st[1], c["blocks.2.hook_resid_post"])
    # values do not depend on what else is captured (bit for bit)
    full = model.run(ids, capture="all")
    np.testing.assert_array_equal(full["blocks.1.hook_resid_post"], c["blocks.1.hook_resid_post"])
    # early stop: only block 0 computed
    c0 = model.run(ids, capture=["blocks.0.attn.hook_q", "hook_embed"])
    assert set(c0) == {"hook_embed", "blocks.0.attn.hook_q", "blocks.0.attn.hook_k", "blocks.0.attn.hook_v"}
    assert_close("q", c0["blocks.0.attn.hook_q"], ref["blocks.0.attn.hook_q"])
    assert_close("v", c0.stack("attn.hook_v")[0], ref["blocks.0.attn.hook_v"])
    # groups and aliases
    c1 = model.run(ids, capture=["hook_normalized", "pattern"], layers=0)
    assert set(c1) == {"blocks.0.ln1.hook_normalized", "blocks.0.ln2.hook_normalized",
                       "ln_final.hook_normalized", "blocks.0.attn.hook_pattern"}
    assert_close("ln_final", c1["ln_final.hook_normalized"], ref["ln_final.hook_normalized"])
    with pytest.raises(KeyError, match="not captured"):
        c1["logits"]
    with pytest.raises(InvalidInputError, match="unknown capture"):
        model.run(ids, capture="resid_psot")
    with pytest.raises(InvalidInputError, match="blocks"):
        model.run(ids, capture="blocks.3.hook_resid_post")
    with pytest.raises(InvalidInputError):
        model.run(ids, capture="resid_post", layers=[5])


def test_views_are_read_only_and_alive(ckpt: dict) -> None:
    hf, folder = ckpt["odd"]
    model = tokgeo.GPT2.from_pretrained(folder)
    cache = model.run([[1, 2, 3]], capture="resid_pre")
    a = cache["blocks.0.hook_resid_pre"]
    assert not a.flags.writeable
    assert a.flags.c_contiguous and a.flags.aligned  # numpy derives the flags from shape/strides
    with pytest.raises(ValueError):
        a[0, 0, 0] = 1.0
    with pytest.raises(ValueError):
        a.flags.writeable = True
    del cache
    gc.collect()
    assert np.isfinite(a).all()  # the arena lives as long as a view


def test_weights_are_zero_copy_views_into_the_mapping(ckpt: dict) -> None:
    hf, folder = ckpt["odd"]
    model = tokgeo.GPT2.from_pretrained(folder)
    assert model.copied_bytes == 0 and model.lm_head_tied
    sd = {k: v.detach().numpy() for k, v in hf.state_dict().items()}
    np.testing.assert_array_equal(model.W_E, sd["transformer.wte.weight"])
    np.testing.assert_array_equal(model.W_pos, sd["transformer.wpe.weight"])
    np.testing.assert_array_equal(model.W_U, sd["transformer.wte.weight"].T)
    W = sd["transformer.h.1.attn.c_attn.weight"]
    C, H, D = 60, 5, 12
    blk = model.blocks[1]
    np.testing.assert_array_equal(blk.W_qkv, W)
    np.testing.assert_array_equal(blk.W_K[2], W[:, C + 2 * D : C + 3 * D])
    np.testing.assert_array_equal(blk.W_O[4], sd["transformer.h.1.attn.c_proj.weight"][4 * D : 5 * D])
    np.testing.assert_array_equal(model.weights["transformer.h.2.mlp.c_fc.bias"], sd["transformer.h.2.mlp.c_fc.bias"])
    assert len(model.weights) == 4 + 12 * 3
    for arr in (model.W_E, blk.W_K, blk.W_in):
        assert not arr.flags.writeable
    # the data pointer lies inside a read-only mapping of model.safetensors
    addr = model.W_E.ctypes.data
    target = str((folder / "model.safetensors").resolve())
    found = False
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= addr < hi:
                found = parts[-1] == target and parts[1].startswith("r") and "w" not in parts[1]
    assert found, "W_E is not a view into the file mapping"
    w = model.W_E
    del model, blk
    gc.collect()
    np.testing.assert_array_equal(w, sd["transformer.wte.weight"])  # mapping kept alive


def test_sharded_and_prefix_variants(ckpt: dict, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    hf, folder = ckpt["odd"]
    ids = np.random.default_rng(3).integers(0, 97, (2, 8))
    ref = reference(hf, ids)
    sharded = save(hf, tmp_path / "sharded", max_shard_size="20KB")
    shards = sorted(sharded.glob("model-*.safetensors"))
    assert len(shards) > 1 and (sharded / "model.safetensors.index.json").is_file()
    # without the "transformer." prefix, plus legacy attn.bias buffers and a tied lm_head copy
    tensors = load_file(str(folder / "model.safetensors"))
    bare = {k.removeprefix("transformer."): v for k, v in tensors.items()}
    for l in range(3):
        bare[f"h.{l}.attn.bias"] = np.tril(np.ones((1, 1, 16, 16), np.float32))
        bare[f"h.{l}.attn.masked_bias"] = np.array(-1e4, np.float32)
    bare["lm_head.weight"] = bare["wte.weight"].copy()
    (tmp_path / "bare").mkdir()
    save_file(bare, str(tmp_path / "bare" / "model.safetensors"))
    cfgd = json.loads((folder / "config.json").read_text())
    for variant in (sharded, tmp_path / "bare"):
        m = tokgeo.GPT2.from_pretrained(variant, config=cfgd)
        assert m.lm_head_tied
        c = m.run(ids, capture=["logits", "blocks.2.hook_resid_post", "blocks.1.attn.hook_pattern"])
        for key in c:
            assert_close(key, c[key], ref[key])
    # a single file with its config given three ways
    for cfg in (cfgd, folder / "config.json", tokgeo.GPT2Config.from_dict(cfgd)):
        m = tokgeo.GPT2.from_pretrained(tmp_path / "bare" / "model.safetensors", config=cfg)
        assert_close("logits", m.run(ids, capture="logits")["logits"], ref["logits"])


def test_untied_lm_head(tmp_path: Path) -> None:
    hf = make_hf_model(seed=5, n_layer=1, n_head=2, n_embd=16, n_positions=8, vocab_size=33, tie_word_embeddings=False)
    folder = save(hf, tmp_path / "untied")
    m = tokgeo.GPT2.from_pretrained(folder)
    assert not m.lm_head_tied
    np.testing.assert_array_equal(m.W_U, hf.lm_head.weight.detach().numpy().T)
    ids = np.array([[1, 5, 9, 2]])
    assert_close("logits", m.run(ids, capture="logits")["logits"], reference(hf, ids)["logits"])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_checkpoints_are_converted(tmp_path: Path, dtype: str) -> None:
    import torch
    from transformers import GPT2LMHeadModel

    hf = make_hf_model(seed=9, n_layer=2, n_head=4, n_embd=32, n_positions=12, vocab_size=50)
    folder = save(hf.to(getattr(torch, dtype)), tmp_path / dtype)
    m = tokgeo.GPT2.from_pretrained(folder)
    assert m.copied_bytes > 0
    # the half weights upcast exactly to float32 (.float() works across transformers versions)
    ref_model = GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager").float().eval()
    ids = np.array([[3, 1, 4, 1, 5, 9, 2, 6]])
    c = m.run(ids)
    ref = reference(ref_model, ids)
    for key in c:
        assert_close(key, c[key], ref[key])


def test_next_token_probs_and_top_k(ckpt: dict) -> None:
    import torch

    hf, folder = ckpt["three"]
    model = tokgeo.GPT2.from_pretrained(folder)
    rows = [[1, 2, 3, 4, 5], [7, 8]]
    for side in ("right", "left"):
        c = model.run(rows, capture="logits", padding_side=side)
        probs = c.next_token_probs()
        assert probs.shape == (2, 61) and probs.dtype == np.float32
        for b, row in enumerate(rows):
            ref_logits = torch.tensor(reference(hf, np.array([row]))["logits"][0, -1], dtype=torch.float64)
            ref_p = torch.softmax(ref_logits, -1).numpy()
            assert rel_err(probs[b], ref_p) < 1e-4
            assert abs(float(probs[b].sum()) - 1) < 1e-5
        p0 = c.next_token_probs(position=0)
        ref0 = torch.softmax(torch.tensor(reference(hf, np.array([[7]]))["logits"][0, 0], dtype=torch.float64), -1)
        assert rel_err(p0[1], ref0.numpy()) < 1e-4
        ids, pk = c.top_k(5)
        assert ids.shape == (2, 5) and np.all(np.diff(pk, axis=1) <= 0)
        np.testing.assert_array_equal(pk, np.take_along_axis(probs, ids, 1))
        assert set(ids[0]) == set(np.argsort(-probs[0])[:5])
        with pytest.raises(TokenIdError):
            c.next_token_probs(position=2)  # row 1 has only 2 real tokens
    top = model.top_k([1, 2, 3], k=3)
    assert len(top) == 3 and top[0].prob >= top[1].prob >= top[2].prob
    assert top[0].id == int(np.argmax(model.run([[1, 2, 3]], capture="logits").next_token_probs()[0]))


def test_memory_budget_refuses_with_advice(ckpt: dict) -> None:
    hf, folder = ckpt["odd"]
    model = tokgeo.GPT2.from_pretrained(folder)
    ids = np.zeros((4, 16), np.int64)
    with pytest.raises(MemoryBudgetError) as e:
        model.run(ids, capture="all", memory_budget=400_000)
    msg = str(e.value)
    # 3 blocks x [4, 16, 240] floats of MLP activations are the biggest captures here
    assert "Biggest captures: blocks.*.mlp.hook_pre (3 layers): 180.0 KiB" in msg
    assert "attn.hook_pattern" in msg and "memory_budget is 390.6 KiB" in msg
    model.run(ids, capture="resid_post", memory_budget=400_000)  # small enough
    assert tokgeo.model.memory_budget_bytes() > 0


def test_bad_inputs(ckpt: dict) -> None:
    hf, folder = ckpt["odd"]
    model = tokgeo.GPT2.from_pretrained(folder)
    with pytest.raises(TokenIdError, match="vocabulary"):
        model.run([[1, 97]])
    with pytest.raises(TokenIdError):
        model.run([[-1, 2]])
    with pytest.raises(InvalidInputError, match="n_ctx"):
        model.run(np.zeros((1, 17), np.int64))
    with pytest.raises(InvalidInputError):
        model.run([[]])
    with pytest.raises(InvalidInputError):
        model.run([1, 2], padding_side="middle")
    with pytest.raises(tokgeo.InvalidTypeError):
        model.run(3.5)


def test_thread_counts_agree(ckpt: dict) -> None:
    hf, folder = ckpt["small"]
    model = tokgeo.GPT2.from_pretrained(folder)
    ids = np.random.default_rng(1).integers(0, 50257, (3, 20))
    old = tokgeo.get_num_threads()
    try:
        tokgeo.set_num_threads(1)
        a = model.run(ids, capture=["logits", "pattern"])
        tokgeo.set_num_threads(2)
        b = model.run(ids, capture=["logits", "pattern"])
    finally:
        tokgeo.set_num_threads(old)
    for key in a:
        assert rel_err(a[key], b[key]) < 1e-6


@pytest.mark.usefixtures("python_sigint_handler")
def test_ctrl_c_stops_the_forward_quickly(tmp_path: Path) -> None:
    """SIGINT during a long forward raises KeyboardInterrupt within a fraction of a second
    (the engine polls between blocks, between chunks of big products and per attention head)."""
    import os
    import signal
    import threading
    import time

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread only")
    hf = make_hf_model(seed=11, n_layer=24, n_head=4, n_embd=64, n_positions=1024, vocab_size=50)
    model = tokgeo.GPT2.from_pretrained(save(hf, tmp_path / "deep"))
    ids = np.zeros((48, 1024), np.int64)
    t = time.monotonic()
    model.run(ids, capture="blocks.0.hook_resid_post")  # one block of 24
    one_block = time.monotonic() - t
    full = 24 * one_block
    if full < 1.5:  # pragma: no cover - would need a machine far faster than 2 cores
        pytest.skip(f"a full run takes only ~{full:.2f} s here; too fast to interrupt meaningfully")
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    t = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.run(ids, capture="blocks.23.hook_resid_post")  # every block runs
            time.sleep(5)  # never reached unless the run ignored the signal
    finally:
        timer.cancel()
    elapsed = time.monotonic() - t
    assert elapsed < min(0.2 + max(0.5, 3 * one_block), full / 2), (elapsed, full)
    # the model still works after an interrupted run
    assert model.run(ids[:1, :4], capture="logits")["logits"].shape == (1, 4, 50)


def test_string_inputs_go_through_the_model_tokenizer(ckpt: dict) -> None:
    """Strings are tokenized with model.tokenizer.encode_batch(texts, padding_side=...); a
    stand-in tokenizer (ids = character codes) checks the plumbing until the real one is used."""
    hf, folder = ckpt["three"]
    model = tokgeo.GPT2.from_pretrained(folder)
    calls = []

    class CharBatch:
        def __init__(self, texts: list[str], side: str) -> None:
            T = max(len(t) for t in texts)
            self.ids = np.zeros((len(texts), T), np.int64)
            self.mask = np.zeros((len(texts), T), bool)
            for b, t in enumerate(texts):
                s = T - len(t) if side == "left" else 0
                self.ids[b, s : s + len(t)] = [ord(c) - 90 for c in t]
                self.mask[b, s : s + len(t)] = True
            self.padding_side = side

    class CharTokenizer:
        def encode_batch(self, texts: list[str], padding_side: str = "right") -> CharBatch:
            calls.append((list(texts), padding_side))
            return CharBatch(texts, padding_side)

        def token_strings(self, ids: list[int]) -> list[str]:
            return [chr(i + 90) for i in ids]

    model.tokenizer = CharTokenizer()
    c = model.run(["hello", "hi"], capture="logits", padding_side="left")
    assert calls == [(["hello", "hi"], "left")]
    ref = reference(hf, np.array([[ord(ch) - 90 for ch in "hi"]]))
    assert_close("logits", c["logits"][1, 3:][None], ref["logits"])
    assert c.batch is not None and c.padding_side == "left"
    top = model.top_k("hello", k=2)
    assert [t.token for t in top] == [chr(t.id + 90) for t in top]
    single = model.run("hello", capture="logits")
    assert single["logits"].shape == (1, 5, 61)


@pytest.mark.parametrize(
    "n_embd,n_head", [(1024, 16), (1280, 20), (1600, 25)], ids=["medium-width", "large-width", "xl-width"]
)
def test_wider_gpt2_shapes(tmp_path: Path, n_embd: int, n_head: int) -> None:
    """The block shapes of GPT-2 medium, large and xl (one block, small vocabulary)."""
    hf = make_hf_model(seed=n_head, n_layer=1, n_head=n_head, n_embd=n_embd, n_positions=40, vocab_size=64)
    model = tokgeo.GPT2.from_pretrained(save(hf, tmp_path / "w"))
    ids = np.random.default_rng(n_head).integers(0, 64, (2, 33))
    cache = model.run(ids, capture=["attn.hook_q", "pattern", "hook_resid_post", "logits"])
    ref = reference(hf, ids)
    for key in cache:
        assert_close(key, cache[key], ref[key])
    assert cache["blocks.0.attn.hook_q"].shape == (2, 33, n_head, 64)


def test_hub_names_go_through_tokgeo_hub(ckpt: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that is not a local path is resolved by tokgeo.hub.resolve (imported lazily;
    its record is kept as model.resolved); a stand-in module checks the call and serves a
    local folder."""
    import sys
    import types

    from tokgeo.hub import Resolved

    hf, folder = ckpt["odd"]
    calls = []
    fake = types.ModuleType("tokgeo.hub")

    def resolve(name_or_path: str, **kw: object) -> Resolved:
        calls.append((name_or_path, kw))
        return Resolved(name_or_path, folder, "hub")

    fake.resolve = resolve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tokgeo.hub", fake)
    monkeypatch.setattr(tokgeo, "hub", fake, raising=False)
    model = tokgeo.GPT2.from_pretrained("openai-community/gpt2-tiny-test", revision="main")
    assert calls == [("openai-community/gpt2-tiny-test", {"revision": "main"})]
    assert model.config.n_embd == 60 and model.resolved.path == folder


@pytest.mark.parametrize("side", ["right", "left"])
def test_long_padded_rows_cross_attention_blocks(tmp_path: Path, side: str) -> None:
    """T > 64: attention runs in 64-row blocks; with left padding some blocks straddle the
    first real token.  Every real token still equals its sentence run alone."""
    hf = make_hf_model(seed=21, n_layer=2, n_head=2, n_embd=32, n_positions=160, vocab_size=80)
    model = tokgeo.GPT2.from_pretrained(save(hf, tmp_path / "long"))
    rng = np.random.default_rng(5)
    rows = [rng.integers(0, 80, n).tolist() for n in (150, 70, 3, 129)]
    cache = model.run(rows, capture=["pattern", "attn_scores", "z", "resid_post", "logits"], padding_side=side)
    T = 150
    for b, row in enumerate(rows):
        n = len(row)
        s = T - n if side == "left" else 0
        ref = reference(hf, np.array([row]))
        for key in cache:
            ours = cache[key][b]
            if key.endswith(("hook_pattern", "hook_attn_scores")):
                assert_close(key, ours[:, s : s + n, s : s + n][None], ref[key])
                outside = np.delete(ours[:, s : s + n, :], np.s_[s : s + n], axis=2)
                assert np.all(outside == (0.0 if key.endswith("pattern") else -np.inf))
            else:
                assert_close(key, ours[s : s + n][None], ref[key])


def test_name_or_path_is_public_and_read_only(ckpt: dict) -> None:
    hf, folder = ckpt["odd"]
    model = tokgeo.GPT2.from_pretrained(folder)
    assert model.name_or_path == os.fspath(folder)
    assert tokgeo.GPT2.from_pretrained(str(folder)).name_or_path == str(folder)
    single = folder / "model.safetensors"
    assert tokgeo.GPT2.from_pretrained(single).name_or_path == os.fspath(single)
    with pytest.raises(AttributeError):
        model.name_or_path = "other"  # type: ignore[misc]
    from tokgeo.studies import Rotation

    assert Rotation(model).label == os.fspath(folder)  # the studies' provenance label


@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_positions_hold_zero(ckpt: dict, side: str) -> None:
    """Pads are not computed: every capture is 0 at padded positions (scores and pattern:
    the pad's whole query row), even when the arena mapping is reused from a previous run."""
    hf, folder = ckpt["odd"]
    model = tokgeo.GPT2.from_pretrained(folder)
    rng = np.random.default_rng(3)
    full = [rng.integers(0, hf.config.vocab_size, 16).tolist() for _ in range(4)]
    model.run(full, capture="all")  # fills an arena of the same size with non-zero values first
    rows = [r[:n] for r, n in zip(full, (5, 16, 1, 11))]
    cache = model.run(rows, capture="all", padding_side=side)
    pad = ~cache.mask
    assert pad.sum() == 4 * 16 - (5 + 16 + 1 + 11)
    for key in cache:
        a = cache[key]
        if key.endswith(("hook_pattern", "hook_attn_scores")):
            assert np.all(a.transpose(0, 2, 1, 3)[pad] == 0), key
        else:
            assert np.all(a[pad] == 0), key
            assert np.any(a[~pad] != 0), key
