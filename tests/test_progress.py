"""Progress display: one tqdm bar (widget only when ipywidgets exists), and off switches."""

from __future__ import annotations

import importlib.util
import io
import sys
import time
from pathlib import Path

import pytest
import tqdm.auto
import tqdm.std

from tokgeo.progress import bar_class, progress_enabled, track


def test_bar_reports_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKGEO_PROGRESS", raising=False)
    out = io.StringIO()
    items = [time.sleep(0.12) or i for i in track(range(5), desc="forward", unit="batch", file=out)]
    assert items == [0, 1, 2, 3, 4]  # (tqdm redraws at most every 0.1 s)
    text = out.getvalue()
    assert "forward" in text and "5/5" in text and "batch" in text


def test_unknown_length_and_generators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKGEO_PROGRESS", raising=False)
    out = io.StringIO()
    assert [time.sleep(0.12) or i for i in track((i for i in range(3)), file=out)] == [0, 1, 2]
    assert "2it" in out.getvalue()


def test_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    assert list(track(range(3), enabled=False, file=out)) == [0, 1, 2]
    assert out.getvalue() == ""
    monkeypatch.setenv("TOKGEO_PROGRESS", "0")
    assert not progress_enabled(True)
    assert list(track(range(3), file=out)) == [0, 1, 2]
    assert out.getvalue() == ""
    monkeypatch.setenv("TOKGEO_PROGRESS", "1")
    assert progress_enabled(None) and not progress_enabled(False)


def test_default_bar_goes_to_stderr(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("TOKGEO_PROGRESS", raising=False)
    assert list(track(range(4), desc="tq")) == [0, 1, 2, 3]
    assert "tq" in capsys.readouterr().err


def test_widget_bar_only_with_ipywidgets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # without ipywidgets tqdm.auto would warn "IProgress not found" in a notebook: plain bar
    if importlib.util.find_spec("ipywidgets") is None:
        assert bar_class() is tqdm.std.tqdm
    # a module named ipywidgets on the path switches to tqdm.auto
    (tmp_path / "ipywidgets").mkdir()
    (tmp_path / "ipywidgets" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("ipywidgets", None)
    assert bar_class() is tqdm.auto.tqdm
