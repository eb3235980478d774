"""Embedding-geometry study vs an independent computation (transformers, numpy, scipy,
scikit-learn)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy import special, stats

import tokgeo
from tokgeo import errors
from tokgeo.studies import EmbeddingGeometry
from tokgeo.studies.embedding import DEFAULT_WORDS

from checkpoints import load_hf, shared_tiny_gpt2
from conftest import require_all
from hf_reference import activations, cosine_matrix, residual_stream
from tokenizer_refs import tiktoken_gpt2


@pytest.fixture(scope="module")
def folder():  # type: ignore[no-untyped-def]
    return shared_tiny_gpt2()


def _has_tsne() -> bool:
    return importlib.util.find_spec("tokgeo._reduce") is not None


def test_default_words_are_single_tokens() -> None:
    enc = tiktoken_gpt2()
    assert len(DEFAULT_WORDS) == len(set(DEFAULT_WORDS)) >= 40
    for w in DEFAULT_WORDS:
        assert len(enc.encode(w)) == 1, w


@pytest.mark.parametrize("convention", ["hidden_states", "resid"])
def test_embedding_geometry_matches_reference(folder, convention) -> None:  # type: ignore[no-untyped-def]
    from sklearn.decomposition import PCA

    sentence = "The nurse checked her pulse and then she smiled at the"
    res = EmbeddingGeometry(
        str(folder), sentence=sentence, layer=2, head=3, n_components=3, top_k=7,
        convention=convention, progress=False, tsne=False,
    ).run()
    hf = load_hf(folder)
    enc = tiktoken_gpt2()
    W = hf.transformer.wte.weight.detach().numpy().astype(np.float64)
    ids = [enc.encode(w)[0] for w in DEFAULT_WORDS]
    np.testing.assert_array_equal(res["word_ids"], ids)
    np.testing.assert_allclose(res["cosine"], cosine_matrix(W[ids], W[ids]), atol=1e-6)
    # covariance eigenstructure of all token embeddings
    ev = np.sort(np.linalg.eigvalsh(np.cov(W, rowvar=False)))[::-1]
    np.testing.assert_allclose(res["eigenvalues"], ev, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res["explained_variance"], ev / ev.sum(), rtol=1e-6, atol=1e-12)
    sk = PCA(n_components=3, svd_solver="full").fit(W)
    np.testing.assert_allclose(res["explained_variance"][:3], sk.explained_variance_ratio_, rtol=1e-5)
    proj = sk.transform(W[ids])
    # principal axes are defined up to sign
    for k in range(3):
        a, b = res["projection"][:, k], proj[:, k]
        sign = np.sign(a @ b)
        np.testing.assert_allclose(a, sign * b, rtol=1e-4, atol=1e-6)
    # one forward pass: drift, attention map, next token
    sent_ids = enc.encode(sentence)
    act = activations(hf, sent_ids)
    h = residual_stream(act, convention)
    diff = np.diff(h, axis=0)
    np.testing.assert_allclose(res["drift_tokens"], np.linalg.norm(diff, axis=-1).T, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(res["drift"], np.sqrt((diff**2).sum(axis=(1, 2))), rtol=1e-4)
    att = act["attentions"][2, 3]
    np.testing.assert_allclose(res["attention"], att, atol=1e-6)
    np.testing.assert_allclose(res["attention"].sum(axis=1), 1.0, atol=1e-6)
    assert np.allclose(np.triu(res["attention"], 1), 0)  # causal
    probs = special.softmax(act["logits"][-1])
    top = np.argsort(-probs)[:7]
    np.testing.assert_array_equal(res["next_token_ids"], top)
    np.testing.assert_allclose(res["next_token_probs"], probs[top], rtol=1e-4, atol=1e-9)
    assert float(res["entropy"]) == pytest.approx(stats.entropy(probs), rel=1e-5)
    assert res.next_tokens == [enc.decode([int(t)]) for t in top]
    assert res.sentence_tokens == [enc.decode([t]) for t in sent_ids]
    assert res.provenance.parameters["layer"] == 2 and res.provenance.convention == convention


def test_tsne_map(folder) -> None:  # type: ignore[no-untyped-def]
    if not _has_tsne():
        if require_all():
            pytest.fail("tokgeo.metrics.tsne is missing")
        pytest.skip("tokgeo.metrics.tsne not merged yet")
    a = EmbeddingGeometry(str(folder), progress=False, seed=5).run()
    b = EmbeddingGeometry(str(folder), progress=False, seed=5).run()
    assert a["tsne"].shape == (len(DEFAULT_WORDS), 2) and np.isfinite(a["tsne"]).all()
    np.testing.assert_array_equal(a["tsne"], b["tsne"])
    assert "tsne" in a.plot_kinds
    assert a.provenance.parameters["perplexity"] == pytest.approx(min(30.0, (len(DEFAULT_WORDS) - 1) / 3))


def test_embedding_bad_arguments(folder) -> None:  # type: ignore[no-untyped-def]
    model = tokgeo.GPT2.from_pretrained(folder)
    with pytest.raises(errors.InvalidInputError, match="single token"):
        EmbeddingGeometry(model, words=[" cat", " Zyxwvutsrq", " dog"], tsne=False).run()
    with pytest.raises(errors.InvalidInputError, match="at least 2"):
        EmbeddingGeometry(model, words=[" cat"])
    with pytest.raises(errors.InvalidTypeError):
        EmbeddingGeometry(model, words=" cat dog")
    with pytest.raises(errors.InvalidInputError, match="heads 0..3"):
        EmbeddingGeometry(model, head=4, tsne=False).run()
    with pytest.raises(errors.InvalidInputError, match="blocks 0..2"):
        EmbeddingGeometry(model, layer=3, tsne=False).run()
    with pytest.raises(errors.InvalidInputError):
        EmbeddingGeometry(model, sentence="")


@pytest.mark.parametrize("center", [True, False])
def test_covariance_centred_and_the_lessons_uncentred(folder, center) -> None:  # type: ignore[no-untyped-def]
    """center=True: the sample covariance (np.cov); center=False: Sigma = E^T E / N."""
    res = EmbeddingGeometry(str(folder), progress=False, tsne=False, center=center).run()
    W = load_hf(folder).transformer.wte.weight.detach().numpy().astype(np.float64)
    sigma = np.cov(W, rowvar=False) if center else W.T @ W / W.shape[0]
    ref = np.sort(np.linalg.eigvalsh(sigma))[::-1]
    np.testing.assert_allclose(res["eigenvalues"], ref, rtol=1e-6, atol=1e-12)
    # the projection: on the top eigenvectors (sign free), after removing the mean only if centred
    w, v = np.linalg.eigh(sigma)
    top = v[:, np.argsort(-w)[:2]]
    x = res["embeddings"] - (W.mean(axis=0) if center else 0.0)
    np.testing.assert_allclose(np.abs(res["projection"]), np.abs(x @ top), rtol=1e-5, atol=1e-7)
    rep = res.summary()
    assert ("centred sample covariance" in rep) == center and ("E^T E / N" in rep) == (not center)
    import matplotlib

    matplotlib.use("Agg")
    title = res.plot("spectrum").axes[0].get_title()
    assert ("uncentred" in title) == (not center)
