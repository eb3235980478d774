"""Path length vs next-token prediction vs transformers + numpy + scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from tokgeo import errors
from tokgeo.studies import PathPrediction
from tokgeo.studies.prediction import DEFAULT_TEXT

from _lesson_refs import states
from checkpoints import shared_tiny_gpt2


@pytest.fixture(scope="module")
def folder():  # type: ignore[no-untyped-def]
    return shared_tiny_gpt2()


@pytest.mark.parametrize("convention", ["hidden_states", "resid"])
def test_lengths_predictions_and_correlations_match_reference(folder, convention) -> None:  # type: ignore[no-untyped-def]
    texts = [DEFAULT_TEXT, "A small boat drifted slowly towards the dark and rocky shore."]
    res = PathPrediction(str(folder), texts, convention=convention, progress=False, batch_size=2).run()
    plen, raw, lp, rank, ent, first, has_next = [], [], [], [], [], [], []
    for t in texts:
        h, act, ids = states(folder, t, convention)
        plen.append(np.linalg.norm(np.diff(h, axis=1), axis=-1).sum(axis=1))
        hr, _, _ = states(folder, t, "resid")  # the raw residual stream: the last step without ln_f
        raw.append(np.linalg.norm(np.diff(hr, axis=1), axis=-1).sum(axis=1))
        logits = act["logits"]  # [T, V]
        ls = special.log_softmax(logits, axis=-1)
        T = len(ids)
        lp.append(np.r_[ls[np.arange(T - 1), ids[1:]], np.nan])
        rank.append(np.r_[[int((logits[i] > logits[i, ids[i + 1]]).sum()) + 1 for i in range(T - 1)], 0])
        ent.append(stats.entropy(special.softmax(logits, axis=-1), axis=-1))
        first.append(np.arange(T) == 0)
        has_next.append(np.arange(T) < T - 1)
    plen, raw, lp, rank, ent, first, has_next = (np.concatenate(x) for x in (plen, raw, lp, rank, ent, first, has_next))
    np.testing.assert_allclose(res["path_length"], plen, rtol=1e-5)
    np.testing.assert_allclose(res["path_length_resid"], raw, rtol=1e-5)
    rep = res.summary()
    if convention == "hidden_states":  # the totals include the ln_f step: said, with the raw numbers beside
        assert "NOTE" in rep and "ln_f" in rep and f"{raw.mean():.4f}" in rep
        assert all(r["total_includes_ln_f"] for r in res.tables()["correlations"])
        r = stats.pearsonr(raw[has_next], lp[has_next]).statistic
        assert float(res["pearson_logprob_next_resid"]) == pytest.approx(r, abs=1e-4)
    else:
        assert "NOTE" not in rep and not any(r["total_includes_ln_f"] for r in res.tables()["correlations"])
    np.testing.assert_allclose(res["logprob_next"], lp, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(res["entropy"], ent, rtol=1e-5)
    # ranks among 50257 near-equal random logits: float32 rounding may swap a few neighbours
    np.testing.assert_allclose(res["rank_next"], rank, atol=5, rtol=2e-3)
    np.testing.assert_array_equal(res["has_next"], has_next)
    for y, ref in (("logprob_next", lp), ("entropy", ent)):
        for suffix, mask in (("", has_next), ("_no_first", has_next & ~first)):
            pr = stats.pearsonr(plen[mask], ref[mask])
            sr = stats.spearmanr(plen[mask], ref[mask])
            assert float(res[f"pearson_{y}{suffix}"]) == pytest.approx(pr.statistic, abs=1e-4)
            assert float(res[f"pearson_{y}{suffix}_p"]) == pytest.approx(pr.pvalue, rel=2e-2, abs=1e-6)
            assert float(res[f"spearman_{y}{suffix}"]) == pytest.approx(sr.statistic, abs=1e-4)
            assert float(res[f"spearman_{y}{suffix}_p"]) == pytest.approx(sr.pvalue, rel=2e-2, abs=1e-6)
    sr = stats.spearmanr(plen[has_next], rank[has_next])
    assert float(res["spearman_rank_next"]) == pytest.approx(sr.statistic, abs=5e-3)
    # the cumulative length after the last block is the total path length
    np.testing.assert_allclose(res["cumulative_length"][:, -1], plen, rtol=1e-5)
    assert float(res["pearson_logprob_next_by_layer"][-1]) == pytest.approx(float(res["pearson_logprob_next"]), abs=1e-9)


def test_prediction_figures_and_bad_input(folder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    res = PathPrediction(str(folder), progress=False).run()
    fig = res.plot("scatter")
    labels = [a.get_ylabel() for a in fig.axes]
    assert "ln p(actual next token) (nats)" in labels and "next-token entropy (nats)" in labels
    assert all(a.get_xlabel() == "total path length (Euclidean), last step through ln_f" for a in fig.axes)
    assert fig.axes[1].get_yscale() == "log"
    assert "3 blocks" in fig._suptitle.get_text()
    assert {p.name for p in res.save(tmp_path)} >= {"scatter.png", "by_layer.png", "tokens.png", "tokens.csv",
                                                    "correlations.csv", "report.txt"}
    with pytest.raises(errors.InvalidInputError, match="fewer than 3"):
        PathPrediction(str(folder), "Hi there", progress=False).run()
