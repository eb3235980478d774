"""Rotation study vs an independent computation (transformers + numpy + scipy)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import tokgeo
from tokgeo import datasets, errors
from tokgeo.studies import Rotation

from checkpoints import load_hf, shared_tiny_gpt2
from hf_reference import activations, angle_deg, residual_stream
from tokenizer_refs import tiktoken_gpt2

HER = 607


@pytest.fixture(scope="module")
def folder():  # type: ignore[no-untyped-def]
    return shared_tiny_gpt2()


@pytest.fixture(scope="module")
def reference(folder):  # type: ignore[no-untyped-def]
    hf = load_hf(folder)
    enc = tiktoken_gpt2()
    return [activations(hf, enc.encode(s)) for s in datasets.her_sentences()]


@pytest.mark.parametrize("convention", ["hidden_states", "resid"])
def test_angles_and_stats_match_reference(folder, reference, convention) -> None:  # type: ignore[no-untyped-def]
    res = Rotation(str(folder), convention=convention, seed=3, progress=False, batch_size=7).run()
    enc = tiktoken_gpt2()
    sents = datasets.her_sentences()
    N, L = len(sents), 3
    ref = {k: np.zeros((N, L)) for k in ("target", "nontarget", "control")}
    for s, (text, act) in enumerate(zip(sents, reference)):
        ids = enc.encode(text)
        t = ids.index(HER)
        h = residual_stream(act, convention)
        for l in range(1, L + 1):
            ref["target"][s, l - 1] = angle_deg(h[l, t], h[l - 1, t])
            ref["nontarget"][s, l - 1] = angle_deg(h[l, t - 1], h[l - 1, t - 1])
            # the control's positions are random draws (checked in the next test); the angle
            # between the two vectors they name is recomputed here
            p, q = res["control_positions"][s, l - 1]
            ref["control"][s, l - 1] = angle_deg(h[l, q], h[l - 1, p])
    for k in ref:
        np.testing.assert_allclose(res[f"angles_{k}"], ref[k], atol=2e-3, rtol=0)
        m = ref[k].mean(axis=0)
        lo, hi = stats.t.interval(0.95, N - 1, loc=m, scale=stats.sem(ref[k], axis=0))
        np.testing.assert_allclose(res[f"mean_{k}"], m, atol=2e-3)
        np.testing.assert_allclose(res[f"ci_low_{k}"], lo, atol=2e-3)
        np.testing.assert_allclose(res[f"ci_high_{k}"], hi, atol=2e-3)
    tt = stats.ttest_ind(ref["target"], ref["nontarget"], axis=0)
    np.testing.assert_allclose(res["t"], tt.statistic, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(res["p"], tt.pvalue, rtol=1e-2, atol=1e-6)
    np.testing.assert_array_equal(res["df"], np.full(L, 2 * N - 2))
    pooled = np.sqrt((ref["target"].var(axis=0, ddof=1) + ref["nontarget"].var(axis=0, ddof=1)) / 2)
    d = (ref["target"].mean(axis=0) - ref["nontarget"].mean(axis=0)) / pooled
    np.testing.assert_allclose(res["cohens_d"], d, rtol=1e-3, atol=1e-3)
    # provenance says what produced the numbers
    p = res.provenance
    assert p.convention == convention and p.model == str(folder) and p.seed == 3
    assert p.model_config["n_layer"] == L and p.dataset == datasets.HER_SENTENCES_NAME
    assert p.tokgeo_version == tokgeo.__version__ and p.n_sentences == 54
    summary = res.summary()
    assert f"layers: {convention}" in summary
    assert ("Hugging Face" in summary) == (convention == "hidden_states")


def test_control_draws_are_seeded_and_valid(folder) -> None:  # type: ignore[no-untyped-def]
    model = tokgeo.GPT2.from_pretrained(folder)
    a = Rotation(model, seed=1, progress=False).run()
    b = Rotation(model, seed=1, progress=False).run()
    c = Rotation(model, seed=2, progress=False).run()
    np.testing.assert_array_equal(a["control_positions"], b["control_positions"])
    np.testing.assert_array_equal(a["angles_control"], b["angles_control"])
    assert not np.array_equal(a["control_positions"], c["control_positions"])
    lengths = np.array([len(tiktoken_gpt2().encode(s)) for s in datasets.her_sentences()])
    cp = a["control_positions"]
    assert (cp >= 0).all() and (cp < lengths[:, None, None]).all()
    assert (cp[..., 0] != cp[..., 1]).all()
    # the target and non-target do not depend on the seed
    np.testing.assert_array_equal(a["angles_target"], c["angles_target"])


def test_chunking_under_a_memory_budget_gives_the_same_numbers(folder) -> None:  # type: ignore[no-untyped-def]
    model = tokgeo.GPT2.from_pretrained(folder)
    full = Rotation(model, progress=False, batch_size=54).run()
    # a budget that refuses big batches: the study halves its chunks until they fit
    one = model.run(datasets.her_sentences()[:1], capture="hidden_states")
    small = Rotation(model, progress=False, batch_size=54, memory_budget=int(one.nbytes * 40 + 4_000_000)).run()
    for k in ("angles_target", "angles_nontarget", "angles_control", "t"):
        np.testing.assert_allclose(small[k], full[k], atol=1e-4)
    with pytest.raises(errors.MemoryBudgetError):
        Rotation(model, progress=False, memory_budget=1000).run()


def test_user_sentences_and_unusable_ones(folder) -> None:  # type: ignore[no-untyped-def]
    sents = ["I saw her yesterday.", "Nobody saw him.", "We told her twice.", "They met her."]
    with pytest.raises(errors.TargetNotFoundError, match=r"\[1\] 'Nobody saw him.'"):
        Rotation(str(folder), sents, progress=False).run()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = Rotation(str(folder), sents, progress=False, strict=False, dataset_name="mine").run()
    assert any("dropped 1 of 4" in str(x.message) for x in w)
    assert res["angles_target"].shape == (3, 3)
    assert res.provenance.dataset == "mine" and res.provenance.parameters["dropped"] == [1]
    assert res.sentences == (sents[0], sents[2], sents[3])


def test_many_layers_like_gpt2_xl() -> None:
    """48 blocks as in gpt2-xl (a narrow random model): every layer gets an angle."""
    folder = shared_tiny_gpt2(n_layer=48, n_embd=32, n_head=2)
    sents = datasets.her_sentences()[:6]
    res = Rotation(str(folder), sents, progress=False, convention="resid").run()
    assert res["angles_target"].shape == (6, 48)
    assert np.isfinite(res["angles_target"]).all() and np.isfinite(res["t"]).all()
    np.testing.assert_array_equal(res["layers"], np.arange(1, 49))
    hf = load_hf(folder)
    act = activations(hf, tiktoken_gpt2().encode(sents[0]))
    h = residual_stream(act, "resid")
    t = tiktoken_gpt2().encode(sents[0]).index(HER)
    ref = [angle_deg(h[l, t], h[l - 1, t]) for l in range(1, 49)]
    np.testing.assert_allclose(res["angles_target"][0], ref, atol=2e-3)


def test_tables_frame_and_bad_arguments(folder) -> None:  # type: ignore[no-untyped-def]
    res = Rotation(str(folder), progress=False).run()
    tabs = res.tables()
    assert len(tabs["layer_stats"]) == 3 and len(tabs["angles"]) == 54 * 3 * 3
    df = res.to_frame()
    assert list(df["layer"]) == [1, 2, 3]
    np.testing.assert_allclose(df["t"].to_numpy(), res["t"])
    long = res.to_frame("angles")
    sub = long[(long.role == "target") & (long.layer == 2)]
    np.testing.assert_allclose(sub["angle_deg"].to_numpy(), res["angles_target"][:, 1])
    assert res.angles_target is res["angles_target"]
    with pytest.raises(KeyError, match="available"):
        res["nope"]
    with pytest.raises(ValueError):
        res["t"][0] = 1.0  # read-only
    with pytest.raises(errors.InvalidInputError, match="convention"):
        Rotation(str(folder), convention="hf")
    with pytest.raises(errors.InvalidInputError, match="confidence"):
        Rotation(str(folder), confidence=95)
    with pytest.raises(errors.InvalidTypeError, match="model"):
        Rotation(3.5, progress=False).run()
    with pytest.raises(errors.InvalidInputError, match="batch_size"):
        Rotation(str(folder), progress=False, batch_size=0).run()


def test_report_formats_and_the_paired_test(folder) -> None:  # type: ignore[no-untyped-def]
    """One p format, explained columns, the role column, and the paired test vs scipy."""
    from tokgeo.studies._base import fmt_p

    assert fmt_p(1.655e-275) == "1.7e-275" and fmt_p(0.0) == "< 1e-300" and fmt_p(0.03) == "3.0e-02"
    model = tokgeo.GPT2.from_pretrained(folder)
    ind = Rotation(model, progress=False).run()
    rep = ind.summary()
    assert "0.0000" not in rep and "54 sentences" in rep
    assert "independent Student t-test" in rep and "paired=True" in rep and "Cohen's d" in rep
    assert "p_holm" in rep
    assert ind.tables()["angles"][0]["role"] == "target" and "token" not in ind.tables()["angles"][0]
    par = Rotation(model, progress=False, paired=True).run()
    tt = stats.ttest_rel(par["angles_target"], par["angles_nontarget"], axis=0)
    np.testing.assert_allclose(par["t"], tt.statistic, rtol=1e-6)
    np.testing.assert_allclose(par["p"], tt.pvalue, rtol=1e-5, atol=1e-300)
    np.testing.assert_array_equal(par["df"], np.full(3, 53.0))
    diff = par["angles_target"] - par["angles_nontarget"]
    np.testing.assert_allclose(par["cohens_d"], diff.mean(axis=0) / diff.std(axis=0, ddof=1), rtol=1e-6)
    assert "paired t-test" in par.summary() and par.provenance.parameters["paired"] is True
    # Holm-Bonferroni, written out from its definition
    p = ind["p"]
    order = np.argsort(p)
    ref = np.empty(3)
    run = 0.0
    for k, i in enumerate(order):
        run = max(run, min(1.0, p[i] * (3 - k)))
        ref[i] = run
    np.testing.assert_allclose(ind["p_holm"], ref, rtol=1e-12)
    assert ind.tables()["layer_stats"][0]["p_holm"] == pytest.approx(ref[0])


def test_one_sentence_warns_and_the_ttest_panel_says_why(folder) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    with pytest.warns(RuntimeWarning, match="1 sentence: the t-test needs at least 2"):
        res = Rotation(str(folder), ["I saw her yesterday."], progress=False).run()
    assert np.isnan(res["t"]).all()
    rep = res.summary()
    assert "1 sentence)" in rep and "1 sentences" not in rep and "WARNING" in rep
    ax = res.plot("ttest").axes[0]
    assert any("no t-test: 1 sentence" in t.get_text() for t in ax.texts)


@pytest.mark.parametrize("convention", ["hidden_states", "resid"])
def test_provenance_text_says_what_index_l_is(folder, convention) -> None:  # type: ignore[no-untyped-def]
    """State l is the input of block l (blocks from 0): the text and the code agree."""
    from tokgeo.studies._base import CONVENTION_TEXT
    from tokgeo.studies._common import hidden, hidden_capture

    model = tokgeo.GPT2.from_pretrained(folder)
    L = model.config.n_layer
    cache = model.run(["She gave her book away"], capture=[*hidden_capture(convention, L), "resid_pre", "resid_post"])
    h = hidden(cache, convention)
    for l in range(1, L):
        np.testing.assert_array_equal(h[l], cache["resid_pre", l])  # the input of block l
        np.testing.assert_array_equal(h[l], cache["resid_post", l - 1])  # = after block l-1
    text = CONVENTION_TEXT[convention]
    assert "input of block l" in text and "after block l-1" in text.replace("output of block l-1", "after block l-1")
    assert "after block l," not in text and "after block l " not in text
