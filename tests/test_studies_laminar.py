"""Laminar-flow lesson vs transformers + numpy + scipy on a random-weight checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from tokgeo import errors
from tokgeo.studies import Laminar
from tokgeo.studies.laminar import DEFAULT_TEXT

from _lesson_refs import angle, ci, holm, states, welch
from checkpoints import shared_tiny_gpt2
from tokenizer_refs import tiktoken_gpt2 as encoding


@pytest.fixture(scope="module")
def folder():  # type: ignore[no-untyped-def]
    return shared_tiny_gpt2()


@pytest.mark.parametrize("convention", ["hidden_states", "resid"])
def test_angles_and_tests_match_reference(folder, convention) -> None:  # type: ignore[no-untyped-def]
    texts = [DEFAULT_TEXT, "She said her plan would work, and her friends agreed with her."]
    res = Laminar(str(folder), texts, target="her", convention=convention, progress=False).run()
    enc = encoding()
    upd, st, grp = [], [], []
    for t in texts:
        h, _, ids = states(folder, t, convention)  # [T, L+1, C]
        d = np.diff(h, axis=1)  # [T, L, C]
        upd.append(angle(d[:, :-1], d[:, 1:]))
        st.append(angle(h[:, :-1], h[:, 1:]))
        grp += [enc.decode([i]).strip() == "her" for i in ids]
    upd, st, grp = np.concatenate(upd), np.concatenate(st), np.array(grp)
    np.testing.assert_allclose(res["update_angle"], upd, atol=2e-3)
    np.testing.assert_allclose(res["state_angle"], st, atol=2e-3)
    np.testing.assert_array_equal(res["in_group"], grp)
    # " her" three times in each text; "Her" (case) and "hers" (another word) are not the target
    assert grp.sum() == 6
    for kind, x in (("update", upd), ("state", st)):
        ps = []
        for l in range(x.shape[1]):
            t, p, df, d = welch(x[grp, l], x[~grp, l])
            assert res[f"t_{kind}"][l] == pytest.approx(t, rel=1e-3, abs=1e-4)
            assert res[f"p_{kind}"][l] == pytest.approx(p, rel=1e-2, abs=1e-6)
            assert res[f"df_{kind}"][l] == pytest.approx(df, rel=1e-4)
            assert res[f"d_{kind}"][l] == pytest.approx(d, rel=1e-3, abs=1e-4)
            m, lo, hi = ci(x[grp, l])
            assert (res[f"mean_{kind}_group"][l], res[f"ci_low_{kind}_group"][l], res[f"ci_high_{kind}_group"][l]) == \
                pytest.approx((m, lo, hi), abs=2e-3)
            ps.append(p)
        np.testing.assert_allclose(res[f"p_holm_{kind}"], holm(res[f"p_{kind}"]), rtol=1e-12)
        np.testing.assert_allclose(res[f"p_holm_{kind}"], holm(ps), rtol=2e-2, atol=1e-6)
    np.testing.assert_allclose(res["sharp_group"], (upd[grp] > 90).mean(axis=0))
    assert res.provenance.convention == convention and res.provenance.target == "her"


def test_laminar_figures_and_files(folder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    res = Laminar(str(folder), progress=False).run()
    fig = res.plot("heatmap")
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert "angle(D(l), D(l+1))" in titles and "angle(h(l-1), h(l))" in titles
    assert "3 blocks" in fig._suptitle.get_text()
    cbs = [a.get_ylabel() for a in fig.axes if a.get_ylabel() == "degrees"]
    assert len(cbs) == 2  # both colour bars in degrees, one shared 0..180 scale
    fig = res.plot("means")
    assert all("degrees" in a.get_ylabel() for a in fig.axes)
    assert all(a.get_legend() is not None for a in fig.axes)
    written = {p.name for p in res.save(tmp_path)}
    assert {"heatmap.png", "means.png", "sharp.png", "ttest.png", "tokens.csv", "layers.csv", "report.txt"} <= written
    assert "Holm" in (tmp_path / "report.txt").read_text()


def test_laminar_bad_input(folder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.InvalidInputError, match="no token"):
        Laminar(str(folder), "The cat sat on the mat.", target="her", progress=False).run()
    with pytest.raises(errors.InvalidInputError, match="sharp_deg"):
        Laminar(str(folder), sharp_deg=200)
    with pytest.raises(errors.InvalidInputError, match="empty"):
        Laminar(str(folder), ["  "])
    with pytest.raises(errors.InvalidInputError, match="not both"):
        Laminar(str(folder), "x", corpus=["y"])
