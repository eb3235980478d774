"""Figures: drawn into the given Axes or a new figure, headless, no global state changed,
and every study figure holds what it should (axes, labels, lines, cells, bars)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless, like MPLBACKEND=Agg

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import tokgeo  # noqa: E402
from tokgeo import errors, plotting  # noqa: E402
from tokgeo.studies import EmbeddingGeometry, PathLength, QKVSimilarity, Rotation  # noqa: E402

from checkpoints import shared_tiny_gpt2  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# where the tokgeo under test lives (the source tree in development, site-packages in CI):
# subprocesses and the notebook kernel must import that same one
TOKGEO_HOME = Path(tokgeo.__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_show_no_leaks(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("show() must never be called")

    monkeypatch.setattr(plt, "show", refuse)
    before = dict(matplotlib.rcParams)
    yield
    after = dict(matplotlib.rcParams)
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}
    plt.close("all")


def _bars(ax) -> list[Rectangle]:  # type: ignore[no-untyped-def]
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_importing_tokgeo_does_not_import_matplotlib(tmp_path: Path) -> None:
    code = "import sys, tokgeo, tokgeo.studies, tokgeo.plotting, tokgeo.cli; print('matplotlib' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(TOKGEO_HOME))
    # cwd outside the checkout: `python -c` puts the cwd first on sys.path
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         cwd=tmp_path)
    assert out.stdout.strip() == "False"


def test_missing_matplotlib_and_pandas_are_explained(monkeypatch: pytest.MonkeyPatch, folder) -> None:  # type: ignore[no-untyped-def]
    res = QKVSimilarity(str(folder), layer=0, progress=False).run()
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plotting.require_matplotlib()
    with pytest.raises(ImportError, match="pip install matplotlib"):
        res.plot("histograms")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install pandas.*tables\(\)"):
        res.to_frame()
    assert res.tables()["correlations"]  # the same rows without pandas


def test_helpers_draw_into_given_axes() -> None:
    fig, ax = plt.subplots()
    n = len(plt.get_fignums())
    assert plotting.heatmap(np.arange(6.0).reshape(2, 3), ax=ax, xlabels=["a", "b", "c"], ylabels=["x", "y"],
                            title="T", xlabel="X", ylabel="Y") is fig
    assert len(plt.get_fignums()) == n  # nothing new
    im = [c for c in ax.get_children() if isinstance(c, AxesImage)][0]
    assert im.get_array().shape == (2, 3)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_title() == "T" and ax.get_xlabel() == "X" and ax.get_ylabel() == "Y"
    with pytest.raises(ValueError):
        plotting.heatmap(np.zeros(3), ax=ax)


def test_helpers_new_figures_and_content() -> None:
    fig = plotting.lines([0, 1, 2], {"a": [1, 2, 3], "b": [3, 2, 1]}, bands={"a": ([0, 1, 2], [2, 3, 4])},
                         xlabel="layer", ylabel="deg")
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 1
    assert ax.get_legend() is not None and ax.get_xlabel() == "layer"
    fig = plotting.histograms({"a": np.arange(10.0), "b": np.arange(5.0)}, bins=7)
    assert len(_bars(fig.axes[0])) == 14
    fig = plotting.scatter([1, 2, 3], [3, 2, 1], labels=["p", "q", "r"], diagonal=True)
    ax = fig.axes[0]
    pc = [c for c in ax.collections if isinstance(c, PathCollection)][0]
    assert len(pc.get_offsets()) == 3 and [t.get_text() for t in ax.texts] == ["p", "q", "r"]
    assert len(ax.lines) == 1
    fig = plotting.bars(["x", "y", "z", "w"], [1, 2, 3, 4], horizontal=True)
    assert len(_bars(fig.axes[0])) == 4
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["x", "y", "z", "w"]


@pytest.fixture(scope="module")
def folder():  # type: ignore[no-untyped-def]
    return shared_tiny_gpt2()


def test_rotation_figures(folder) -> None:  # type: ignore[no-untyped-def]
    res = Rotation(str(folder), progress=False).run()
    fig = res.plot()  # "angles" by default
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 3
    np.testing.assert_allclose(ax.lines[0].get_ydata(), res["mean_target"])
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    assert ax.get_xlabel() == "layer" and "degrees" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["target ' her'", "previous word", "random control"]
    fig = res.plot("ttest")
    assert len(_bars(fig.axes[0])) == 3
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in fig.axes[0].get_xticks())  # layers, not 1.5
    assert sorted(b.get_height() for b in _bars(fig.axes[0])) == pytest.approx(sorted(res["t"]))
    fig = res.plot("sentences")
    im = [c for c in fig.axes[0].get_children() if isinstance(c, AxesImage)][0]
    assert im.get_array().shape == (54, 3) and len(fig.axes[0].get_yticklabels()) == 54
    # drawing into the user's axes
    f2, a2 = plt.subplots()
    assert res.plot("angles", ax=a2) is f2 and len(a2.lines) == 3
    with pytest.raises(errors.InvalidInputError, match="angles, ttest, sentences"):
        res.plot("nope")


def test_qkv_figures(folder) -> None:  # type: ignore[no-untyped-def]
    res = QKVSimilarity(str(folder), layer=1, progress=False).run()
    fig = res.plot("matrices")
    panels = [a for a in fig.axes if a.get_images()]
    assert len(panels) == 6
    assert all(a.get_images()[0].get_array().shape == (54, 54) for a in panels)
    assert [a.get_title() for a in panels] == [f"{p} (target)" for p in ("QQ", "KK", "VV", "QK", "QV", "KV")]
    # one colour bar per row (not six): within-matrices share -1..1, cross-matrices one scale
    # fitted to their values (readable)
    assert len(fig.axes) == 8
    clims = [a.get_images()[0].get_clim() for a in panels]
    within = np.concatenate([res[f"values_{p}_target"] for p in ("QQ", "KK", "VV")])
    if within.min() > 0:  # all one way: a shared sequential scale from the smallest pair to 1
        assert clims[:3] == [(np.floor(within.min() * 100) / 100, 1.0)] * 3
    else:
        assert clims[:3] == [(-1.0, 1.0)] * 3
    assert len(set(clims[3:])) == 1
    cross = max(np.abs(res[f"sim_{p}_target"]).max() for p in ("QK", "QV", "KV"))
    assert clims[3][1] == pytest.approx(min(1.0, cross))
    assert "layer 1" in fig.get_suptitle() and folder.name in fig.get_suptitle()
    assert str(folder.parent) not in fig.get_suptitle()  # the base name, not the long path
    fig = res.plot("histograms", bins=20)
    panels = [a for a in fig.axes if a.patches]
    assert len(panels) == 6 and all(len(_bars(a)) == 40 for a in panels)
    assert "layer 1" in fig.get_suptitle() and folder.name in fig.get_suptitle()
    f1, a1 = plt.subplots()
    res.plot("histograms", ax=a1, pair="QK")
    assert "layer 1" in a1.get_title() and folder.name in a1.get_title()
    fig = res.plot("scatter")
    assert len(fig.axes) == 3
    for a in fig.axes:
        assert len(a.collections[0].get_offsets()) == 54 * 53 // 2
    f2, a2 = plt.subplots()
    assert res.plot("matrices", ax=a2, pair="QK", token="nontarget") is f2
    assert a2.get_title() == "QK (nontarget)"


def test_pathlength_figures(folder) -> None:  # type: ignore[no-untyped-def]
    res = PathLength(str(folder), progress=False).run()
    T = len(res.tokens)
    fig = res.plot("heatmaps")
    panels = [a for a in fig.axes if a.get_images()]
    assert len(panels) == 3 and all(a.get_images()[0].get_array().shape == (T, 3) for a in panels)
    assert [t.get_text() for t in panels[0].get_yticklabels()] == res.tokens
    # attention and MLP share one colour scale (and one colour bar); the hidden panel's
    # scale leaves out the step through ln_f (hidden_states convention)
    clim = [a.get_images()[0].get_clim() for a in panels]
    assert clim[0] == clim[1] and clim[0][1] == pytest.approx(max(res["step_attn"].max(), res["step_mlp"].max()))
    assert clim[2][1] == pytest.approx(res["step_hidden"][:, :-1].max()) and "ln_f" in panels[2].get_title()
    assert len(fig.axes) == 5
    fig = res.plot("correlations")
    curves = [l for l in fig.axes[0].lines if not l.get_label().startswith("_")]
    assert len(curves) == 4 and all(len(l.get_xdata()) == 3 for l in curves)
    np.testing.assert_allclose(curves[1].get_ydata(), res["pearson_attn_no_first"])
    assert curves[1].get_linestyle() == "--"
    fig = res.plot("scatter", layer=1)
    offs = [len(c.get_offsets()) for c in fig.axes[0].collections]
    assert offs == [T - 1, 1, T - 1, 1]
    fig = res.plot("cumulative")
    assert len(fig.axes[0].lines) == T and len(fig.axes) == 2  # a colour bar by position
    assert fig.axes[1].get_ylabel() == "token position in the text"
    colors = {tuple(l.get_color()) for l in fig.axes[0].lines}
    assert len(colors) == T  # a colormap, not ten cycling colours
    # scaled without the ln_f step by default; ln_f=True draws the hidden_states totals
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), res["cumulative_resid"][0])
    assert "without ln_f" in fig.axes[0].get_title()
    fig = res.plot("cumulative", ln_f=True)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), res["cumulative_hidden"][0])


def test_embedding_figures(folder) -> None:  # type: ignore[no-untyped-def]
    res = EmbeddingGeometry(str(folder), progress=False, top_k=6).run()
    n = len(res.words)
    T = len(res.sentence_tokens)
    assert res.plot_kinds == ("cosine", "spectrum", "projection", "tsne", "drift", "attention", "next_token")
    ax = res.plot("cosine").axes[0]
    assert ax.get_images()[0].get_array().shape == (n, n) and len(ax.get_xticklabels()) == n
    ax = res.plot("spectrum").axes[0]
    assert ax.get_yscale() == "log" and len(ax.lines[0].get_xdata()) == 64
    ax = res.plot("projection").axes[0]
    assert len(ax.collections[0].get_offsets()) == n and len(ax.texts) == n
    ax = res.plot("tsne").axes[0]
    assert len(ax.collections[0].get_offsets()) == n and ax.get_xlabel() == "t-SNE 1"
    ax = res.plot("drift").axes[0]
    assert len(ax.lines) == 1 and len(ax.lines[0].get_xdata()) == 3
    ax = res.plot("attention").axes[0]
    arr = ax.get_images()[0].get_array()
    assert arr.shape == (T, T)
    np.testing.assert_allclose(np.asarray(arr).sum(axis=1), 1.0, atol=1e-5)
    assert [t.get_text() for t in ax.get_yticklabels()] == res.sentence_tokens
    ax = res.plot("next_token").axes[0]
    assert len(_bars(ax)) == 6
    assert [t.get_text() for t in ax.get_yticklabels()] == [repr(t) for t in res.next_tokens]
    assert "The nurse checked her pulse" in ax.get_title() and folder.name in ax.get_title()


def _no_overlaps(fig) -> None:  # type: ignore[no-untyped-def]
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    from matplotlib.text import Text

    # the labels' own boxes (an annotation's extent also covers its leader line)
    boxes = [Text.get_window_extent(t, r) for t in fig.axes[0].texts]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            assert not (a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1), (
                fig.axes[0].texts[i].get_text(), fig.axes[0].texts[j].get_text())


def test_embedding_figures_read_well(folder) -> None:  # type: ignore[no-untyped-def]
    """52 labels without overlaps, PC axes with explained variance, a notebook-sized cosine
    figure, the ln_f step drawn apart in the drift figure."""
    res = EmbeddingGeometry(str(folder), progress=False).run()
    fig = res.plot("projection")
    ax = fig.axes[0]
    assert len(ax.texts) == 52 and sorted(t.get_text() for t in ax.texts) == sorted(res.words)
    _no_overlaps(fig)
    ev = res["explained_variance"]
    assert ax.get_xlabel() == f"PC 1 ({100 * ev[0]:.1f}% of the variance)"
    assert ax.get_ylabel() == f"PC 2 ({100 * ev[1]:.1f}% of the variance)"
    fig = res.plot("tsne")
    assert len(fig.axes[0].texts) == 52
    _no_overlaps(fig)
    w, h = res.plot("cosine").get_size_inches()
    assert w <= 10.0 and h <= 8.0
    ax = res.plot("drift").axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("ln_f" in t for t in labels)
    assert ax.get_ylim()[1] < res["drift"][-1] or res["drift"][-1] <= 1.1 * res["drift_resid"].max()
    assert "ln_f" in res.summary() and "without it (raw residual stream, resid)" in res.summary()


def test_save_writes_atomically(folder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = QKVSimilarity(str(folder), layer=0, progress=False).run()
    files = res.save(tmp_path / "out")
    assert sorted(p.name for p in files) == sorted(p.name for p in (tmp_path / "out").iterdir())
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    assert tokgeo.__version__ in (tmp_path / "out" / "report.txt").read_text()
    umask = os.umask(0o022)
    os.umask(umask)
    assert {p.stat().st_mode & 0o777 for p in files} == {0o666 & ~umask}  # as open() makes them


def test_results_and_studies_in_jupyter(folder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A real kernel (nbclient): a plot as the cell's last line is shown once; results and
    studies have an HTML table; notebook 02 ends its legend cell with ';'."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    import os

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (
        f"%matplotlib inline\nfrom tokgeo.studies import Rotation\nres = Rotation({str(folder)!r}, progress=False).run()",
        'res.plot("ttest")',
        "res",
        f"Rotation({str(folder)!r}, paired=True)",
        'fig = res.plot("angles")',
        "fig",
    )]
    env = {**os.environ, "PYTHONPATH": str(Path(tokgeo.__file__).parent.parent)}
    env.pop("MPLBACKEND", None)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    old = dict(os.environ)
    os.environ.clear(); os.environ.update(env)
    try:
        client.execute()
    finally:
        os.environ.clear(); os.environ.update(old)
    pngs = [o for o in nb.cells[1].outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1, nb.cells[1].outputs
    html = nb.cells[2].outputs[0]["data"]["text/html"]
    assert "<table>" in html and "RotationResult" in html and "angles_target" in html and "[54, 3]" in html
    assert "Holm" in html
    text = nb.cells[2].outputs[0]["data"]["text/plain"]
    assert text.count("\n") >= 3 and "54 sentences" in text
    shtml = nb.cells[3].outputs[0]["data"]["text/html"]
    assert "Rotation" in shtml and "paired" in shtml and "0x" not in nb.cells[3].outputs[0]["data"]["text/plain"]
    assert not nb.cells[4].outputs  # assigned: not shown (the next cell shows it once)
    assert len([o for o in nb.cells[5].outputs if "image/png" in o.get("data", {})]) == 1
    nb02 = (Path(__file__).parent.parent / "notebooks" / "02_rotation.ipynb").read_text()
    assert "ax.legend()\"" not in nb02 and "ax.legend();" in nb02


def test_long_model_paths_are_shortened_in_titles(tmp_path: Path) -> None:
    from tokgeo.studies._base import short_model

    deep = tmp_path / ("a" * 40) / "my-checkpoint"
    deep.mkdir(parents=True)
    assert short_model(str(deep)) == "my-checkpoint" and short_model(str(deep) + "/") == "my-checkpoint"
    assert short_model("openai-community/gpt2") == "openai-community/gpt2"  # a hub id stays
    assert short_model("gpt2-xl") == "gpt2-xl"
    long = short_model("x" * 80)
    assert len(long) == 32 and long.endswith("...")
