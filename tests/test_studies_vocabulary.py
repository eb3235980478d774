"""The whole-vocabulary map (issue 14): token classes, the PCA map against sklearn, the
t-SNE map's quality, the figure (labels that do not overlap, a legend, a title naming the
model), the whole 50,257-token vocabulary through the FFT gradient, and bad arguments."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import tokgeo
from tokgeo.errors import InvalidInputError
from tokgeo.studies import TOKEN_CLASSES, VocabularyMap
from tokgeo.studies.vocabulary import token_class

FOLDER = Path(tokgeo.__file__).resolve().parent / "data" / "models" / "tokgeo-mini"


@pytest.fixture(scope="module")
def mini() -> tokgeo.GPT2:
    return tokgeo.GPT2.from_pretrained(FOLDER)


@pytest.fixture(scope="module")
def small_map(mini: tokgeo.GPT2):  # type: ignore[no-untyped-def]
    return VocabularyMap(mini, n_tokens=3000, n_labels=120).run()


@pytest.mark.parametrize(
    "raw,name",
    [
        (b" king", "word, leading space"),
        (b" The", "word, leading space"),
        (b"ing", "word piece"),
        (b" 1999", "digits"),
        (b"00", "digits"),
        (b".", "punctuation"),
        (b" (", "punctuation"),
        (b"\n\n", "whitespace"),
        (b" ", "whitespace"),
        (" Москва".encode(), "non-Latin script"),
        ("東京".encode(), "non-Latin script"),
        (" café".encode(), "word, leading space"),
        (b"\xe2\x80", "byte fragment"),
        (b"'s", "mixed"),
        (b"x2", "mixed"),
    ],
)
def test_token_classes(raw: bytes, name: str) -> None:
    assert TOKEN_CLASSES[token_class(raw)] == name


def test_classes_of_real_gpt2_tokens(mini: tokgeo.GPT2) -> None:
    tok = mini.tokenizer
    for text, name in ((" king", "word, leading space"), ("\n", "whitespace"), (",", "punctuation")):
        (i,) = tok.encode(text)
        assert TOKEN_CLASSES[token_class(tok.token_bytes([i])[0])] == name
    # every one of the 256 single-byte tokens that is not ASCII is a fragment of a character
    frag = [i for i in range(256) if token_class(tok.token_bytes([i])[0]) == 6]
    assert len(frag) >= 128


def test_pca_map_matches_sklearn(small_map, mini: tokgeo.GPT2) -> None:  # type: ignore[no-untyped-def]
    from sklearn.decomposition import PCA

    x = np.asarray(mini.W_E, dtype=np.float64)[small_map["token_ids"]]
    ref = PCA(50, svd_solver="full").fit(x)
    proj = ref.transform(x)[:, :2]
    ours = np.asarray(small_map["pca"])
    for k in range(2):  # components are defined up to sign
        s = np.sign(np.dot(ours[:, k], proj[:, k]))
        np.testing.assert_allclose(s * ours[:, k], proj[:, k], rtol=1e-6, atol=1e-8 * np.abs(proj).max())
    np.testing.assert_allclose(small_map["explained_variance_ratio"], ref.explained_variance_ratio_, rtol=1e-8)


def test_tsne_map_keeps_neighbourhoods(small_map, mini: tokgeo.GPT2) -> None:  # type: ignore[no-untyped-def]
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE, trustworthiness

    x = np.asarray(mini.W_E, dtype=np.float64)[small_map["token_ids"]]
    x = PCA(50, svd_solver="full").fit_transform(x)
    n = len(x)
    emb = np.asarray(small_map["tsne"])
    assert emb.shape == (n, 2) and np.isfinite(emb).all()
    assert small_map.provenance.parameters["method"] == "barnes_hut"  # "auto" below 8,000 points
    # the map keeps as many of the 50-PC neighbourhoods as sklearn's t-SNE of the same points
    # (same perplexity, PCA start, 750 iterations), and far more than a random map does
    ref = TSNE(2, perplexity=30, init="pca", random_state=0, max_iter=750).fit_transform(x)
    t = trustworthiness(x, emb, n_neighbors=10)
    t_ref = trustworthiness(x, ref, n_neighbors=10)
    rand = trustworthiness(x, np.random.default_rng(0).standard_normal((n, 2)), n_neighbors=10)
    assert t >= t_ref - 0.01 and t > rand + 0.2, (t, t_ref, rand)


def test_tables_and_summary(small_map, mini: tokgeo.GPT2) -> None:  # type: ignore[no-untyped-def]
    # tokens whose rows are equal bit for bit are one point (tokgeo-mini's rare tokens share a row)
    rows, first, counts = np.unique(np.asarray(mini.W_E[:3000]), axis=0, return_index=True, return_counts=True)
    assert 1000 < len(rows) < 3000
    np.testing.assert_array_equal(small_map["token_ids"], np.sort(first))
    np.testing.assert_array_equal(small_map["shared"], counts[np.argsort(first)])
    tabs = small_map.tables()
    assert len(tabs["tokens"]) == len(rows)
    assert sum(r["tokens"] for r in tabs["classes"]) == len(rows)
    assert sum(r["shared_by"] for r in tabs["tokens"]) == 3000
    assert [r["class"] for r in tabs["classes"]] == list(TOKEN_CLASSES)
    row = next(r for r in tabs["tokens"] if r["token"] == " the")
    assert row["class"] == "word, leading space" and row["shared_by"] == 1
    assert set(row) >= {"tsne1", "tsne2", "pc1", "pc2"}
    text = small_map.summary()
    assert f"{len(rows)} distinct token embeddings of 3000 tokens" in text and "word, leading space" in text


def test_map_figure_labels_do_not_overlap(small_map) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    fig = small_map.plot("tsne")
    ax = fig.axes[0]
    n = len(small_map["token_ids"])
    assert "tokgeo-mini" in ax.get_title() and f"{n:,} token embeddings" in ax.get_title()
    assert "tokens share 1 row, drawn as one point" in ax.get_title()
    assert "arbitrary units" in ax.get_xlabel()
    assert ax.get_legend() is not None
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_visible()]
    assert 30 <= len(texts) <= 120
    boxes = [t.get_window_extent(r) for t in texts]
    for a, b in itertools.combinations(boxes, 2):
        assert not (a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1)
    fig2 = small_map.plot("pca")
    assert "% of the variance" in fig2.axes[0].get_xlabel()
    small_map.plot("classes")
    import matplotlib.pyplot as plt

    plt.close("all")


def test_whole_vocabulary_of_mini_is_its_distinct_rows(mini: tokgeo.GPT2) -> None:
    """tokgeo-mini has 8,192 rows of its own and one row shared by its 42,065 rare tokens
    (its model card): the whole-vocabulary map has 8,193 points, one of them standing for
    42,065 tokens (a t-SNE of all 50,257 rows, 42,065 of them equal, would spread the copies
    over thousands of units).  At 8,193 points "auto" takes the FFT gradient."""
    res = VocabularyMap(mini, n_labels=0).run()
    assert res.provenance.parameters["n_tokens"] == 50257
    assert res["tsne"].shape == (8193, 2) and np.isfinite(res["tsne"]).all()
    assert sorted(res["shared"])[-2:] == [1, 42065] and res["shared"].sum() == 50257
    assert res.provenance.parameters["method"] == "fft"
    assert res.provenance.parameters["neighbors"] == "exact"  # 8,193 distinct rows


def test_whole_gpt2_shaped_vocabulary_runs_the_fft_gradient(tmp_path: Path) -> None:
    from checkpoints import tiny_gpt2

    model = tokgeo.GPT2.from_pretrained(tiny_gpt2(tmp_path / "ckpt", n_layer=1, n_embd=64, n_head=4))
    res = VocabularyMap(model, max_iter=300, n_labels=0).run()
    assert res["tsne"].shape == (50257, 2) and np.isfinite(res["tsne"]).all()
    assert (res["shared"] == 1).all()
    assert res.provenance.parameters["method"] == "fft"
    assert res.provenance.parameters["neighbors"] == "approximate"  # 50,257 distinct rows
    assert res.provenance.parameters["kl_divergence"] > 0


def test_bad_arguments(mini: tokgeo.GPT2) -> None:
    with pytest.raises(InvalidInputError, match="n_tokens"):
        VocabularyMap(mini, n_tokens=2)
    with pytest.raises(InvalidInputError, match="more than the 50257 tokens"):
        VocabularyMap(mini, n_tokens=60_000).run()
    with pytest.raises(InvalidInputError, match="method"):
        VocabularyMap(mini, method="fast")
    with pytest.raises(InvalidInputError, match="pca_dims"):
        VocabularyMap(mini, pca_dims=1)
    assert "tsne" not in VocabularyMap(mini, n_tokens=500, tsne=False).run().plot_kinds


def test_cli_vocabulary_writes_maps_tables_and_report(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from tokgeo.cli import main

    out = tmp_path / "vocab"
    rc = main(["study", "vocabulary", "--model", "tokgeo-mini", "--out", str(out), "--no-progress", "--dpi", "50"])
    assert rc == 0
    written = {p.name for p in out.iterdir()}
    assert {"tsne.png", "pca.png", "classes.png", "tokens.csv", "classes.csv", "report.txt", "provenance.json"} <= written
    text = capsys.readouterr().out
    assert "8193 distinct token embeddings of 50257 tokens" in text
    assert main(["study", "vocabulary", "--model", "tokgeo-mini", "--out", str(tmp_path / "x"), "--text", "hi"]) == 2
    assert "takes no --sentences or --text" in capsys.readouterr().err
