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
