"""State-space trajectories vs transformers + numpy (PCA by eigh of the covariance)."""

from __future__ import annotations

import numpy as np
import pytest

from tokgeo import errors
from tokgeo.studies import Trajectories
from tokgeo.studies.trajectories import DEFAULT_TEXT

from _lesson_refs import angle, states
from checkpoints import shared_tiny_gpt2


@pytest.fixture(scope="module")
def folder():  # type: ignore[no-untyped-def]
    return shared_tiny_gpt2()


def _pca(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    xc = x - x.mean(axis=0)
    w, v = np.linalg.eigh(np.cov(xc, rowvar=False))
    order = np.argsort(w)[::-1][:k]
    return xc @ v[:, order], w[order] / w.sum()


@pytest.mark.parametrize("exclude_first", [False, True])
def test_projection_and_shape_match_reference(folder, exclude_first) -> None:  # type: ignore[no-untyped-def]
    res = Trajectories(str(folder), exclude_first=exclude_first, progress=False).run()
    h, _, ids = states(folder, DEFAULT_TEXT)  # [T, L+1, C]
    T, L1, C = h.shape
    fit = h[1:] if exclude_first else h
    xc_mean = fit.reshape(-1, C).mean(axis=0)
    _, evr = _pca(fit.reshape(-1, C), 3)
    w, v = np.linalg.eigh(np.cov(fit.reshape(-1, C), rowvar=False))
    comps = v[:, np.argsort(w)[::-1][:3]]
    proj = ((h.reshape(-1, C) - xc_mean) @ comps).reshape(T, L1, 3)
    got = res["projection"]
    for c in range(3):  # a component's sign is a convention: align it
        s = np.sign(np.sum(got[..., c] * proj[..., c]))
        np.testing.assert_allclose(s * got[..., c], proj[..., c], atol=2e-4 * np.abs(proj[..., c]).max())
    np.testing.assert_allclose(res["explained_variance_ratio"][0], evr, rtol=1e-4)
    steps = np.diff(h, axis=1)
    length = np.linalg.norm(steps, axis=-1).sum(axis=1)
    np.testing.assert_allclose(res["length"], length, rtol=1e-5)
    hr = states(folder, DEFAULT_TEXT, "resid")[0]  # the raw residual stream: its last step skips ln_f
    np.testing.assert_allclose(res["path_length_resid"], np.linalg.norm(np.diff(hr, axis=1), axis=-1).sum(axis=1), rtol=1e-5)
    assert "ln_f" in res.summary() and "path_length_resid" in res.tables()["shape"][0]
    np.testing.assert_allclose(res["straightness"], np.linalg.norm(h[:, -1] - h[:, 0], axis=-1) / length, rtol=1e-5)
    turn = angle(steps[:, :-1], steps[:, 1:])
    np.testing.assert_allclose(res["curvature"], turn.mean(axis=1), atol=2e-3)
    assert np.all(res["straightness"] <= 1 + 1e-9) and len(res.tokens) == len(ids)


def test_trajectory_figures(folder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    res = Trajectories(str(folder), progress=False).run()
    fig = res.plot("pca2d")
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("PC1 (") and "% of variance" in ax.get_ylabel()
    assert len(ax.texts) == len(res.tokens)  # one label per token
    assert fig.axes[1].get_ylabel() == "layer l (state h(l))"  # the layer colour bar
    fig3 = res.plot("pca3d")
    assert fig3.axes[0].name == "3d" and fig3.axes[0].get_zlabel().startswith("PC3")
    assert {p.name for p in res.save(tmp_path)} >= {"pca2d.png", "pca3d.png", "shape.png", "shape.csv", "projection.csv"}
    with pytest.raises(errors.InvalidInputError, match="n_components"):
        Trajectories(str(folder), n_components=1)
    with pytest.raises(errors.InvalidInputError, match="at least 2"):
        Trajectories(str(folder), "Hi", progress=False).run()


TEXTS = ["The old man walked slowly home.", "She gave her small book to the quiet girl yesterday evening.",
         "Rain fell on the roofs.", "The children laughed at the clown in the busy market square."]
PER_TOKEN = ("projection", "step_length", "length", "endpoint_distance", "straightness", "turning_angle",
             "curvature", "curvature_per_length", "text_index", "position")


@pytest.mark.parametrize("exclude_first", [False, True])
def test_corpus_equals_text_by_text(folder, tmp_path, exclude_first) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "corpus.txt"
    f.write_text("# four texts\n" + "\n".join(TEXTS) + "\n", encoding="utf-8")
    res = Trajectories(str(folder), corpus=f, batch_size=3, exclude_first=exclude_first, progress=False).run()
    one = [Trajectories(str(folder), t, exclude_first=exclude_first, progress=False).run() for t in TEXTS]
    assert res.texts == TEXTS and res.provenance.dataset == "corpus.txt" and res.provenance.n_sentences == 4
    assert res.tokens == [t for o in one for t in o.tokens]
    np.testing.assert_array_equal(res["text_index"], np.concatenate([np.full(len(o.tokens), i) for i, o in enumerate(one)]))
    np.testing.assert_array_equal(res["position"], np.concatenate([o["position"] for o in one]))
    for k in PER_TOKEN[:-2]:  # float32 forward passes: a batch of 3 sums in another order than one row (~1e-7)
        want = np.concatenate([o[k] for o in one])
        np.testing.assert_allclose(res[k], want, rtol=1e-4, atol=1e-4 * np.nanmax(np.abs(want)), err_msg=k)
    np.testing.assert_allclose(res["explained_variance_ratio"],
                               np.concatenate([o["explained_variance_ratio"] for o in one]), rtol=1e-4)
    with pytest.raises(errors.InvalidInputError, match="fit='all'"):
        Trajectories(str(folder), corpus=f, fit="all")


def test_fit_all_is_one_pca_over_every_text(folder) -> None:  # type: ignore[no-untyped-def]
    res = Trajectories(str(folder), TEXTS[:2], fit="all", progress=False).run()
    hs = [states(folder, t)[0] for t in TEXTS[:2]]  # [T, L+1, C] each
    X = np.concatenate([h.reshape(-1, h.shape[-1]) for h in hs])
    proj, evr = _pca(X, 3)
    got = res["projection"].reshape(-1, 3)
    for c in range(3):
        s = np.sign(np.sum(got[:, c] * proj[:, c]))
        np.testing.assert_allclose(s * got[:, c], proj[:, c], atol=2e-4 * np.abs(proj[:, c]).max())
    np.testing.assert_allclose(res["explained_variance_ratio"][0], evr, rtol=1e-4)
    assert res["explained_variance_ratio"].shape == (1, 3)
