"""Q/K/V similarity study vs an independent computation (transformers + numpy + scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tokgeo import datasets, errors
from tokgeo.studies import QKVSimilarity

from checkpoints import load_hf, shared_tiny_gpt2
from hf_reference import activations, cosine_matrix
from tokenizer_refs import tiktoken_gpt2

HER = 607


@pytest.fixture(scope="module")
def folder():  # type: ignore[no-untyped-def]
    return shared_tiny_gpt2()


def test_qkv_similarities_match_reference(folder) -> None:  # type: ignore[no-untyped-def]
    layer = 1
    res = QKVSimilarity(str(folder), layer=layer, progress=False, batch_size=10).run()
    hf = load_hf(folder)
    enc = tiktoken_gpt2()
    C = hf.config.n_embd
    vec = {"target": [], "nontarget": []}
    for text in datasets.her_sentences():
        ids = enc.encode(text)
        qkv = activations(hf, ids)["qkv"][layer]  # c_attn output [T, 3C]
        t = ids.index(HER)
        vec["target"].append(qkv[t])
        vec["nontarget"].append(qkv[t - 1])
    N = 54
    iu = np.triu_indices(N, 1)
    off = ~np.eye(N, dtype=bool)
    for tok, rows in vec.items():
        x = np.array(rows)
        parts = {"Q": x[:, :C], "K": x[:, C : 2 * C], "V": x[:, 2 * C :]}
        for name, p in parts.items():
            np.testing.assert_allclose(res[f"{name.lower()}_{tok}"], p, atol=2e-5)
        for pair in ("QQ", "KK", "VV", "QK", "QV", "KV"):
            m = cosine_matrix(parts[pair[0]], parts[pair[1]])
            np.testing.assert_allclose(res[f"sim_{pair}_{tok}"], m, atol=1e-5)
            vals = m[iu] if pair[0] == pair[1] else m[off]
            np.testing.assert_allclose(res[f"values_{pair}_{tok}"], vals, atol=1e-5)
            if pair[0] != pair[1]:
                np.testing.assert_allclose(res[f"diag_{pair}_{tok}"], np.diag(m), atol=1e-5)
    # within-matrices: symmetric, unit diagonal
    qq = res["sim_QQ_target"]
    np.testing.assert_allclose(qq, qq.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(qq), 1.0, atol=1e-6)
    # correlations between similarity structures (scipy)
    for row in res.correlations():
        x, y = res[f"values_{row['x']}_{row['role']}"], res[f"values_{row['y']}_{row['role']}"]
        pr, sr = stats.pearsonr(x, y), stats.spearmanr(x, y)
        assert row["pearson_r"] == pytest.approx(pr.statistic, abs=1e-9)
        assert row["spearman_rho"] == pytest.approx(sr.statistic, abs=1e-9)
        assert row["pearson_p"] == pytest.approx(pr.pvalue, rel=1e-3, abs=1e-300)
        assert row["n_pairs"] == N * (N - 1) // 2
    for row in res.comparisons():
        a, b = res[f"values_{row['matrix']}_target"], res[f"values_{row['matrix']}_nontarget"]
        tt = stats.ttest_ind(a, b)
        assert row["t"] == pytest.approx(tt.statistic, rel=1e-6)
        assert row["p"] == pytest.approx(tt.pvalue, rel=1e-3, abs=1e-300)
    assert res.provenance.parameters["layer"] == layer
    assert f"layer {layer}" in res.summary()


def test_qkv_bad_arguments(folder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.InvalidInputError, match="blocks 0..2"):
        QKVSimilarity(str(folder), layer=6, progress=False).run()  # the tiny model has 3 blocks
    with pytest.raises(errors.InvalidTypeError):
        QKVSimilarity(str(folder), layer="6", progress=False).run()  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInputError, match="at least 2"):
        QKVSimilarity(str(folder), ["I saw her."], layer=0, progress=False).run()
    res = QKVSimilarity(str(folder), layer=0, progress=False).run()
    with pytest.raises(errors.InvalidInputError, match="six panels"):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        try:
            res.plot("matrices", ax=ax)
        finally:
            plt.close(fig)
