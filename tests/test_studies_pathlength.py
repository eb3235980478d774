"""Path-length study vs an independent computation (transformers + numpy + scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tokgeo import errors
from tokgeo.studies import PathLength
from tokgeo.studies.pathlength import DEFAULT_TEXT

from checkpoints import load_hf, shared_tiny_gpt2
from hf_reference import activations, residual_stream
from tokenizer_refs import tiktoken_gpt2


@pytest.fixture(scope="module")
def folder():  # type: ignore[no-untyped-def]
    return shared_tiny_gpt2()


@pytest.mark.parametrize("convention", ["hidden_states", "resid"])
def test_steps_and_correlations_match_reference(folder, convention) -> None:  # type: ignore[no-untyped-def]
    texts = [DEFAULT_TEXT, "Two friends visited her in hospital after the long winter storm."]
    res = PathLength(str(folder), texts, convention=convention, progress=False).run()
    hf = load_hf(folder)
    enc = tiktoken_gpt2()
    attn, mlp, hid, pos = [], [], [], []
    for text in texts:
        act = activations(hf, enc.encode(text))
        h = residual_stream(act, convention)
        attn.append(np.linalg.norm(act["attn_out"], axis=-1).T)  # [T, L]
        mlp.append(np.linalg.norm(act["mlp_out"], axis=-1).T)
        hid.append(np.linalg.norm(np.diff(h, axis=0), axis=-1).T)
        pos.append(np.arange(h.shape[1]))
    attn, mlp, hid, pos = (np.concatenate(a) for a in (attn, mlp, hid, pos))
    np.testing.assert_allclose(res["step_attn"], attn, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(res["step_mlp"], mlp, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(res["step_hidden"], hid, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(res["cumulative_hidden"], np.cumsum(hid, axis=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(res["position"], pos)
    if convention == "resid":
        # in the raw residual stream, block l moves h by exactly attn_out + mlp_out
        act = activations(hf, enc.encode(texts[0]))
        h = residual_stream(act, "resid")
        np.testing.assert_allclose(np.diff(h, axis=0), act["attn_out"] + act["mlp_out"], atol=1e-4)
    for l in range(hf.config.n_layer):
        for name, s in (("attn", attn), ("mlp", mlp)):
            assert res[f"pearson_{name}"][l] == pytest.approx(stats.pearsonr(s[:, l], hid[:, l]).statistic, abs=1e-4)
            assert res[f"spearman_{name}"][l] == pytest.approx(stats.spearmanr(s[:, l], hid[:, l]).statistic, abs=1e-4)
            keep = pos > 0
            ref = stats.pearsonr(s[keep, l], hid[keep, l])
            assert res[f"pearson_{name}_no_first"][l] == pytest.approx(ref.statistic, abs=1e-4)
            assert res[f"pearson_{name}_no_first_p"][l] == pytest.approx(ref.pvalue, rel=1e-2, abs=1e-12)
            sref = stats.spearmanr(s[keep, l], hid[keep, l])
            assert res[f"spearman_{name}_no_first"][l] == pytest.approx(sref.statistic, abs=1e-4)
    first = pos == 0
    ratio = hid[first].mean(axis=0) / np.median(hid[~first], axis=0)
    np.testing.assert_allclose(res["first_token_ratio_hidden"], ratio, rtol=1e-4)
    assert res.provenance.convention == convention and res.provenance.n_sentences == 2


def test_pathlength_bad_arguments(folder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.InvalidInputError, match="empty"):
        PathLength(str(folder), "   ")
    with pytest.raises(errors.InvalidTypeError):
        PathLength(str(folder), [b"bytes"])  # type: ignore[list-item]
    with pytest.raises(errors.InvalidInputError, match="at least 2 tokens"):
        PathLength(str(folder), "Hi", progress=False).run()
    long = " ".join(["word"] * 80)  # the tiny model reads 64 tokens
    with pytest.raises(errors.InvalidInputError, match="at most 64"):
        PathLength(str(folder), long, progress=False).run()


def test_the_ln_f_step_is_named_and_the_resid_numbers_shown(folder) -> None:  # type: ignore[no-untyped-def]
    """hidden_states: the last step goes through ln_f; the report and CSV say so and give the
    raw residual stream's numbers beside it (checked against the HF reference, resid)."""
    text = "Two friends visited her in hospital after the long winter storm."
    res = PathLength(str(folder), text, progress=False).run()
    h = residual_stream(activations(load_hf(folder), tiktoken_gpt2().encode(text)), "resid")
    raw = np.linalg.norm(np.diff(h, axis=0), axis=-1).T  # [T, L] without ln_f
    np.testing.assert_allclose(res["step_resid"], raw, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(res["path_length_resid"], raw.sum(axis=1), rtol=1e-4, atol=1e-5)
    rep = res.summary()
    assert "ln_f" in rep and "NOTE" in rep and f"{res['path_length_resid'].mean():.4f}" in rep
    assert "1st/median hidden = the first token's" in rep and "1 text)" in rep
    rows = res.tables()["steps"]
    assert [r["step_includes_ln_f"] for r in rows[:3]] == [False, False, True]
    assert rows[2]["step_resid"] == pytest.approx(raw[0, 2], rel=1e-4)
    corr = res.tables()["correlations"]
    assert [r["hidden_step_includes_ln_f"] for r in corr] == [False, False, True]
    ax = res.plot("correlations").axes[0]  # the ln_f block is marked in the figure's legend
    assert any("through ln_f" in t.get_text() for t in ax.get_legend().get_texts())
    raw_res = PathLength(str(folder), text, convention="resid", progress=False).run()
    assert "NOTE" not in raw_res.summary() and not any(r["step_includes_ln_f"] for r in raw_res.tables()["steps"])
    assert not any(r["hidden_step_includes_ln_f"] for r in raw_res.tables()["correlations"])
    ax = raw_res.plot("correlations").axes[0]
    assert not any("ln_f" in t.get_text() for t in ax.get_legend().get_texts())
