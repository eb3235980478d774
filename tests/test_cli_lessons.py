"""`tokgeo study <lesson>` for the issue-11 lessons writes PNG + CSV + report."""

from __future__ import annotations

import pytest

from tokgeo.cli import main

from checkpoints import shared_tiny_gpt2


@pytest.mark.parametrize("name,files", [
    ("laminar", {"heatmap.png", "means.png", "tokens.csv", "layers.csv"}),
    ("prediction", {"scatter.png", "correlations.csv"}),
    ("trajectories", {"pca2d.png", "pca3d.png", "shape.csv"}),
    ("nouns-adjectives", {"violin.png", "layers.png", "tags.csv"}),
])
def test_cli_lessons_write_files(name, files, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / name
    rc = main(["study", name, "--model", str(shared_tiny_gpt2()), "--out", str(out), "--no-progress", "--dpi", "50"])
    assert rc == 0
    written = {p.name for p in out.iterdir()}
    assert files | {"report.txt", "provenance.json"} <= written
    assert "study:" in capsys.readouterr().out


def test_cli_pos_with_tags_file_and_without_spacy_model(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    sent = tmp_path / "s.txt"
    sent.write_text("A red car stopped.\n", encoding="utf-8")
    tags = tmp_path / "t.txt"
    tags.write_text("DET ADJ NOUN VERB PUNCT\n", encoding="utf-8")
    rc = main(["study", "pos", "--model", str(shared_tiny_gpt2()), "--sentences", str(sent), "--tags", str(tags),
               "--out", str(tmp_path / "pos"), "--no-figures"])
    assert rc == 0 and (tmp_path / "pos" / "words.csv").read_text().count("\n") == 6
    rc = main(["study", "pos", "--model", str(shared_tiny_gpt2()), "--sentences", str(sent),
               "--out", str(tmp_path / "pos2"), "--no-figures"])
    assert rc == 2 and "python -m spacy download en_core_web_sm" in capsys.readouterr().err
