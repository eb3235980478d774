"""Progress display: tqdm when asked/installed, a plain fallback, and off switches."""

from __future__ import annotations

import io

import pytest

from tokgeo.progress import progress_enabled, track


def test_plain_fallback_reports_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKGEO_PROGRESS", raising=False)
    out = io.StringIO()
    items = list(track(range(5), desc="forward", unit="batch", file=out, use_tqdm=False))
    assert items == [0, 1, 2, 3, 4]
    text = out.getvalue()
    assert text.endswith("\n") and "forward: 5/5 batch (100%)" in text


def test_unknown_length_and_generators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKGEO_PROGRESS", raising=False)
    out = io.StringIO()
    assert list(track((i for i in range(3)), file=out, use_tqdm=False)) == [0, 1, 2]
    assert "3 it" in out.getvalue()


def test_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    assert list(track(range(3), enabled=False, file=out, use_tqdm=False)) == [0, 1, 2]
    assert out.getvalue() == ""
    monkeypatch.setenv("TOKGEO_PROGRESS", "0")
    assert not progress_enabled(True)
    assert list(track(range(3), file=out, use_tqdm=False)) == [0, 1, 2]
    assert out.getvalue() == ""
    monkeypatch.setenv("TOKGEO_PROGRESS", "1")
    assert progress_enabled(None) and not progress_enabled(False)


def test_tqdm_is_used_when_installed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    monkeypatch.delenv("TOKGEO_PROGRESS", raising=False)
    assert list(track(range(4), desc="tq", use_tqdm=True)) == [0, 1, 2, 3]
    assert "tq" in capsys.readouterr().err
