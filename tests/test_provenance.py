"""Every study records where its weights came from: the resolved path, the source (hub,
packaged, local), the hub commit and the checkpoint's SHA-256, in the provenance, the
report and provenance.json."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest

import tokgeo
from tokgeo import studies

from checkpoints import shared_tiny_gpt2
from hubserver import HubServer

TEXT = "She gave her book away. Then she took her coat."


@pytest.fixture(scope="module")
def folder() -> Path:
    return shared_tiny_gpt2()


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


STUDIES: dict[str, Callable[[Any], Any]] = {
    "Rotation": lambda m: studies.Rotation(m, ["She gave her book away.", "I saw her there."], progress=False),
    "QKVSimilarity": lambda m: studies.QKVSimilarity(m, ["She gave her book away.", "I saw her there."], layer=1, progress=False),
    "PathLength": lambda m: studies.PathLength(m, TEXT, progress=False),
    "EmbeddingGeometry": lambda m: studies.EmbeddingGeometry(m, tsne=False, progress=False),
    "Laminar": lambda m: studies.Laminar(m, [TEXT], progress=False),
    "PathPrediction": lambda m: studies.PathPrediction(m, [TEXT], progress=False),
    "Trajectories": lambda m: studies.Trajectories(m, [TEXT], progress=False),
    "PartsOfSpeech": lambda m: studies.PartsOfSpeech(m, "A red car.", tags=[["DET", "ADJ", "NOUN", "PUNCT"]]),
    "NounsAdjectives": lambda m: studies.NounsAdjectives(
        m, ["A red car.", "The old dog."], tags=[["DET", "ADJ", "NOUN", "PUNCT"]] * 2, progress=False),
}


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_study_records_the_resolved_checkpoint(folder: Path, name: str, tmp_path: Path) -> None:
    res = STUDIES[name](str(folder)).run()
    p = res.provenance
    assert p.model == str(folder)  # as given
    assert p.model_path == os.path.abspath(folder) and p.model_source == "local" and p.model_commit is None
    assert p.model_digest == _sha256(folder / "model.safetensors")
    text = res.summary()
    assert f"checkpoint: local {os.path.abspath(folder)}" in text and p.model_digest in text
    d = p.as_dict()
    assert d["model_digest"] == p.model_digest and d["model_path"] == p.model_path


def test_a_model_object_a_packaged_model_and_a_single_file(folder: Path) -> None:
    model = tokgeo.GPT2.from_pretrained(str(folder))
    p = studies.PathLength(model, TEXT, progress=False).run().provenance
    assert p.model_path == os.path.abspath(folder) and p.model_digest == _sha256(folder / "model.safetensors")
    mini = tokgeo.GPT2.from_pretrained("tokgeo-mini")
    p = studies.PathLength(mini, TEXT, progress=False).run().provenance
    shipped = Path(tokgeo.__file__).parent / "data" / "models" / "tokgeo-mini"
    assert p.model == "tokgeo-mini" and p.model_source == "packaged"
    assert Path(p.model_path) == shipped.resolve() and p.model_digest == _sha256(shipped / "model.safetensors")
    one = tokgeo.GPT2.from_pretrained(folder / "model.safetensors")
    p = studies.PathLength(one, TEXT, progress=False).run().provenance
    assert p.model_path == os.path.abspath(folder / "model.safetensors") and p.model_digest == _sha256(folder / "model.safetensors")


def test_a_hub_model_records_its_snapshot_and_commit(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`gpt2` from a hub (a real HTTP server on 127.0.0.1), with a ./gpt2 folder present: the
    provenance says which one was read."""
    import huggingface_hub.constants as hf_constants

    files = {n: (folder / n).read_bytes() for n in ("config.json", "vocab.json", "merges.txt", "model.safetensors")}
    with HubServer() as hub:
        repo = hub.add_repo("openai-community/gpt2", files)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        (tmp_path / "gpt2").mkdir()
        monkeypatch.chdir(tmp_path)
        res = studies.PathLength("gpt2", TEXT, progress=False).run()
    p = res.provenance
    snapshot = tmp_path / "cache" / "models--openai-community--gpt2" / "snapshots" / repo.commit
    assert p.model == "gpt2" and p.model_source == "hub" and p.model_commit == repo.commit
    assert p.model_path == str(snapshot)
    assert p.model_digest == "sha256:" + hashlib.sha256(files["model.safetensors"]).hexdigest()
    assert f"@ {repo.commit}" in res.summary()
    out = tmp_path / "out"
    res.save(out, figures=False)
    assert p.model_digest in (out / "report.txt").read_text()
    assert json.loads(json.dumps(p.as_dict()))["model_commit"] == repo.commit
