"""What model.run accepts (and the exact errors for what it does not), capture names and
their messages, the raw qkv view, and one plan per run (issues 8 and 9)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import tokgeo
from tokgeo import hooks
from tokgeo.errors import InvalidInputError, InvalidTypeError, MemoryBudgetError, TokenIdError
from tokgeo.studies import QKVSimilarity, Rotation

from checkpoints import shared_tiny_gpt2


@pytest.fixture(scope="module")
def model() -> tokgeo.GPT2:
    return tokgeo.GPT2.from_pretrained(shared_tiny_gpt2())


IDS = [[464, 3290, 373], [40, 588]]


def logits_of(model: tokgeo.GPT2, inputs: object, **kw: object) -> np.ndarray:
    c = model.run(inputs, capture="logits", **kw)  # type: ignore[arg-type]
    return np.where(c.mask[..., None], c["logits"], 0)


def test_ids_that_do_not_fit_name_the_element(model: tokgeo.GPT2) -> None:
    with pytest.raises(TokenIdError, match=r"inputs\[0\] = 18446744073709551616 .*vocabulary"):
        model.run([2**64])
    with pytest.raises(TokenIdError, match=r"inputs\[1\]\[0\]"):
        model.run([[1, 2], [-(2**70)]])
    with pytest.raises(InvalidTypeError, match=r"inputs\[0\]\[0\] is list"):
        model.run([[[1, 2]]])
    with pytest.raises(InvalidTypeError, match=r"inputs\[0\]\[1\] is float"):
        model.run([[1, 2.5]])
    with pytest.raises(InvalidTypeError, match=r"inputs\[1\] is float 2.5"):  # one sequence: the float is named
        model.run([1, 2.5])
    with pytest.raises(InvalidTypeError, match=r"inputs\[1\] is int: .*not a mixture"):
        model.run([[1, 2], 3])
    with pytest.raises(TokenIdError, match=r"\[0, 1\] = 18446744073709551615"):
        model.run(np.array([[1, 2**64 - 1]], dtype=np.uint64))


def test_bytes_are_not_ids(model: tokgeo.GPT2) -> None:
    for b in (b"abc", bytearray(b"abc")):
        with pytest.raises(InvalidTypeError, match="decode"):
            model.run(b)


def test_float_ids_are_refused_not_truncated(model: tokgeo.GPT2) -> None:
    batch = SimpleNamespace(ids=np.array([[1.7, 2.0]]), mask=np.ones((1, 2), bool), padding_side="right")
    with pytest.raises(InvalidTypeError, match="integer token ids"):
        model.run(batch)
    with pytest.raises(InvalidTypeError, match="integer token ids"):
        model.run(np.array([[1.0, 2.0]]))


def test_tensors_and_batch_encodings_run(model: tokgeo.GPT2) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    ref = logits_of(model, IDS)
    t = torch.tensor([IDS[0]])
    np.testing.assert_array_equal(logits_of(model, t), ref[:1])
    np.testing.assert_array_equal(logits_of(model, t[0]), ref[:1])
    # a BatchEncoding as a Hugging Face tokenizer returns it (left padding, tensors)
    ids = torch.tensor([IDS[0], [50256] + IDS[1]])
    mask = torch.tensor([[1, 1, 1], [0, 1, 1]])
    enc = transformers.BatchEncoding({"input_ids": ids, "attention_mask": mask})
    left = model.run(enc, capture="logits")
    assert left.padding_side == "left" and left.lengths.tolist() == [3, 2]
    np.testing.assert_array_equal(left["logits"][1, 1:], model.run([IDS[1]], capture="logits")["logits"][0])
    # a plain dict without a mask: rows of one length, no padding
    np.testing.assert_array_equal(logits_of(model, {"input_ids": [IDS[0]]}), ref[:1])
    with pytest.raises(InvalidTypeError, match="input_ids"):
        model.run({"ids": IDS})
    with pytest.raises(InvalidTypeError, match="a dict with 'input_ids'"):
        model.run(3.5)


def test_block_out_of_range_says_which_blocks_exist(model: tokgeo.GPT2) -> None:
    cache = model.run(IDS, capture="all")
    with pytest.raises(KeyError, match=r"this model has blocks 0\.\.2"):
        cache["blocks.6.attn.hook_pattern"]
    with pytest.raises(KeyError, match=r"this model has blocks 0\.\.2"):
        cache["pattern", 3]
    small = model.run(IDS, capture="logits")
    with pytest.raises(KeyError, match="not captured"):
        small["blocks.1.attn.hook_pattern"]


def test_resid_family_and_readme_names(model: tokgeo.GPT2) -> None:
    cache = model.run(IDS, capture=["resid"])
    assert set(cache) == {f"blocks.{l}.hook_resid_{w}" for l in range(3) for w in ("pre", "mid", "post")}
    np.testing.assert_array_equal(cache.resid[2], cache["blocks.2.hook_resid_post"])
    with pytest.raises(InvalidInputError) as e:
        model.run(IDS, capture="resid_psot")
    msg = str(e.value)
    assert "resid_post" in msg and "hook_resid_post" not in msg.split("such as")[0]
    assert hooks.act_name("resid_post", 6) == "blocks.6.hook_resid_post"
    assert hooks.act_name("scale") == "ln_final.hook_scale"
    assert hooks.act_name("pattern", 1) == "blocks.1.attn.hook_pattern"
    assert hooks.act_name("query", 0) == "blocks.0.attn.hook_q"


def test_raw_qkv_is_a_view_holding_q_k_v(model: tokgeo.GPT2) -> None:
    cache = model.run(IDS, capture="blocks.1.qkv")
    qkv = cache["blocks.1.attn.hook_qkv"]
    B, T = cache.ids.shape
    C = model.config.n_embd
    assert qkv.shape == (B, T, 3 * C) and "blocks.1.attn.hook_qkv" not in list(cache)
    for i, x in enumerate("qkv"):
        part = cache[f"blocks.1.attn.hook_{x}"]
        assert np.shares_memory(part, qkv)
        np.testing.assert_array_equal(part.reshape(B, T, C), qkv[..., i * C : (i + 1) * C])
    assert cache.stack("qkv").shape == (1, B, T, 3 * C)


def test_one_plan_per_run_refuses_before_allocating(model: tokgeo.GPT2) -> None:
    want = hooks.capture_flags("all", None, 3)
    ids = np.zeros((1, 4), np.int64)
    arena, plan = model._c.forward(ids, np.zeros(1, np.int64), np.full(1, 4, np.int64), want, 1000)
    assert arena is None and plan["arena_bytes"] > 1000
    with pytest.raises(MemoryBudgetError, match="Biggest captures"):
        model.run(ids, memory_budget=1000)


def test_studies_take_one_string_as_one_sentence(model: tokgeo.GPT2) -> None:
    res = Rotation(model, "She gave her book away", progress=False).run()
    assert res.provenance.n_sentences == 1 and res["angles_target"].shape == (1, 3)
    with pytest.raises(InvalidInputError, match="at least 2"):
        QKVSimilarity(model, "She gave her book away", layer=0, progress=False).run()
