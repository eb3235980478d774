"""The ``tokgeo`` command line: tokenize, study (files written, exit codes, no tracebacks)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tokgeo

from tokgeo import cli, datasets

from checkpoints import load_hf, shared_tiny_gpt2
from hf_reference import activations, angle_deg
from tokenizer_refs import tiktoken_gpt2

ROOT = Path(__file__).resolve().parents[1]
# where the tokgeo under test lives (the source tree in development, site-packages in CI):
# subprocesses and the notebook kernel must import that same one
TOKGEO_HOME = Path(tokgeo.__file__).resolve().parents[1]


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(TOKGEO_HOME) + os.pathsep + e.get("PYTHONPATH", "")
    e["MPLBACKEND"] = "Agg"
    e["TOKGEO_PROGRESS"] = "0"
    e.update(env)
    return subprocess.run([sys.executable, "-m", "tokgeo", *args], capture_output=True, text=True,
                          cwd=tmp_path, env=e, timeout=600)


@pytest.fixture(scope="module")
def folder():  # type: ignore[no-untyped-def]
    return shared_tiny_gpt2()


def test_tokenize_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "She gave her book away, naïvely."
    enc = tiktoken_gpt2()
    assert cli.main(["tokenize", text, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == enc.encode(text)
    assert "".join(r["token"] for r in rows) == text
    assert all(text[r["start"] : r["end"]] == r["token"] for r in rows)
    assert cli.main(["tokenize", text]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(rows)} tokens") and "' her'" in out and "607" in out


def test_tokenize_special_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    text = "a<|endoftext|>b"
    assert cli.main(["tokenize", text]) == 2
    assert "--special special" in capsys.readouterr().err
    assert cli.main(["tokenize", text, "--special", "special", "--json"]) == 0
    ids = [r["id"] for r in json.loads(capsys.readouterr().out)]
    assert ids == tiktoken_gpt2().encode(text, allowed_special="all") and 50256 in ids
    assert cli.main(["tokenize", text, "--special", "text", "--json"]) == 0
    ids = [r["id"] for r in json.loads(capsys.readouterr().out)]
    assert ids == tiktoken_gpt2().encode(text, disallowed_special=()) and 50256 not in ids


def test_console_script_entry_point_is_declared() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'tokgeo = "tokgeo.cli:main"' in text


def test_study_rotation_writes_files_with_the_right_numbers(tmp_path: Path, folder: Path) -> None:
    out = tmp_path / "rot"
    p = _run(["study", "rotation", "--model", str(folder), "--out", str(out), "--seed", "4"], tmp_path)
    assert p.returncode == 0, p.stderr
    names = sorted(x.name for x in out.iterdir())
    assert names == sorted(["layer_stats.csv", "angles.csv", "angles.png", "ttest.png", "sentences.png",
                            "report.txt", "provenance.json"])
    assert not [x for x in out.iterdir() if x.name.startswith(".")]  # no temporary leftovers
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    with open(out / "angles.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 54 * 3 * 3
    # the first sentence's target angles equal the reference
    hf = load_hf(folder)
    text = datasets.her_sentences()[0]
    ids = tiktoken_gpt2().encode(text)
    h = activations(hf, ids)["hidden_states"]
    t = ids.index(607)
    got = [float(r["angle_deg"]) for r in rows if r["sentence"] == "0" and r["role"] == "target"]
    np.testing.assert_allclose(got, [angle_deg(h[l, t], h[l - 1, t]) for l in (1, 2, 3)], atol=2e-3)
    with open(out / "layer_stats.csv", newline="") as f:
        stats_rows = list(csv.DictReader(f))
    assert [r["layer"] for r in stats_rows] == ["1", "2", "3"] and "p" in stats_rows[0]
    report = (out / "report.txt").read_text()
    assert "Rotation" in report and "seed: 4" in report and str(folder) in report
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["convention"] == "hidden_states" and prov["model"] == str(folder) and prov["seed"] == 4
    assert "Rotation" in p.stdout


@pytest.mark.parametrize(
    "name,extra,files",
    [
        ("qkv", ["--layer", "2"], ["similarity_stats.csv", "correlations.csv", "matrices.png", "histograms.png", "scatter.png"]),
        ("pathlength", [], ["steps.csv", "correlations.csv", "heatmaps.png", "correlations.png", "scatter.png", "cumulative.png"]),
        ("embedding", ["--layer", "1", "--head", "2"], ["cosine.csv", "spectrum.csv", "words.csv", "drift.csv", "next_token.csv",
                                                        "cosine.png", "spectrum.png", "projection.png", "tsne.png", "drift.png",
                                                        "attention.png", "next_token.png"]),
    ],
)
def test_other_studies_write_their_files(tmp_path: Path, folder: Path, name: str, extra: list[str], files: list[str]) -> None:
    out = tmp_path / name
    p = _run(["study", name, "--model", str(folder), "--out", str(out), *extra], tmp_path)
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in out.iterdir()) == sorted(files + ["report.txt", "provenance.json"])


def test_user_sentences_file_and_problems(tmp_path: Path, folder: Path) -> None:
    f = tmp_path / "s.txt"
    f.write_text("# my data\nI saw her.\n\nWe met him.\nThey told her twice.\n", encoding="utf-8")
    p = _run(["study", "rotation", "--model", str(folder), "--out", str(tmp_path / "o"), "--sentences", str(f)], tmp_path)
    assert p.returncode == 2
    # the file's line numbers and the command line's flag, not list indices and keywords
    assert "line 4: 'We met him.'" in p.stderr and "--lenient" in p.stderr and "Traceback" not in p.stderr
    assert "strict=False" not in p.stderr and "[1]" not in p.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    p = _run(["study", "rotation", "--model", str(folder), "--out", str(tmp_path / "o"), "--sentences", str(f), "--lenient"], tmp_path)
    assert p.returncode == 0, p.stderr
    prov = json.loads((tmp_path / "o" / "provenance.json").read_text())
    assert prov["dataset"] == "s.txt" and prov["n_sentences"] == 2
    p = _run(["study", "rotation", "--model", str(folder), "--out", str(tmp_path / "x"), "--sentences", "missing.txt"], tmp_path)
    assert p.returncode == 2 and "no such file" in p.stderr


def test_target_in_other_capitals(tmp_path: Path, folder: Path) -> None:
    """A target present only as 'Her' names that spelling and --ignore-case (a real flag),
    which then runs with both tokens; laminar takes the flag too."""
    f = tmp_path / "s.txt"
    f.write_text("She gave Her book away.\n# comment\nThey told Her twice.\nI saw Her there.\n", encoding="utf-8")
    p = _run(["study", "rotation", "--model", str(folder), "--out", str(tmp_path / "o"), "--sentences", str(f),
              "--no-figures"], tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "occurs as 'Her'" in p.stderr and "--ignore-case" in p.stderr and "case_sensitive" not in p.stderr
    assert "line 3: 'They told Her twice.'" in p.stderr
    p = _run(["study", "rotation", "--model", str(folder), "--out", str(tmp_path / "o"), "--sentences", str(f),
              "--ignore-case", "--no-figures"], tmp_path)
    assert p.returncode == 0, p.stderr
    prov = json.loads((tmp_path / "o" / "provenance.json").read_text())
    assert prov["n_sentences"] == 3 and prov["parameters"]["case_sensitive"] is False
    with pytest.raises(tokgeo.errors.TargetNotFoundError) as e:
        datasets.find_targets(["I saw Her there."], " her")
    assert e.value.case_variants == ("Her",) and "case_sensitive=False" in str(e.value)
    with pytest.raises(tokgeo.errors.TargetNotFoundError) as e:  # no other capitals: no case hint
        datasets.find_targets(["I saw him there."], " her")
    assert e.value.case_variants == () and "case_sensitive" not in str(e.value)
    p = _run(["study", "laminar", "--model", str(folder), "--out", str(tmp_path / "l"), "--text", "Her dog saw me.",
              "--no-figures"], tmp_path)
    assert p.returncode == 2 and "--ignore-case" in p.stderr and "Traceback" not in p.stderr
    p = _run(["study", "laminar", "--model", str(folder), "--out", str(tmp_path / "l"), "--text", "Her dog saw me.",
              "--ignore-case", "--no-figures"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "(1 target," in p.stdout


def test_no_network_and_no_local_model(tmp_path: Path) -> None:
    p = _run(["study", "rotation", "--out", str(tmp_path / "o")], tmp_path,
             HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"))
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert "gpt2-xl" in p.stderr and "--model PATH" in p.stderr
    p = _run(["study", "qkv", "--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")], tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "--model PATH" in p.stderr


def test_usage_errors(tmp_path: Path, folder: Path) -> None:
    p = _run([], tmp_path)
    assert p.returncode == 2 and "usage" in p.stderr
    p = _run(["study", "nope", "--out", "x"], tmp_path)
    assert p.returncode == 2 and "invalid choice" in p.stderr
    p = _run(["study", "qkv", "--model", str(folder), "--layer", "9", "--out", str(tmp_path / "o")], tmp_path)
    assert p.returncode == 2 and "blocks 0..2" in p.stderr and "Traceback" not in p.stderr
    p = _run(["study", "qkv", "--model", str(folder), "--batch-size", "0", "--out", str(tmp_path / "o")], tmp_path)
    assert p.returncode == 2 and "--batch-size" in p.stderr


def test_out_folder_that_cannot_be_written_is_refused_before_the_run(tmp_path: Path, folder: Path) -> None:
    # /sys is a read-only file system even for root: the check must fire before the model loads
    p = _run(["study", "rotation", "--model", str(tmp_path / "no-model-here"), "--out", "/sys/tokgeo-cli-test"], tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "cannot write into /sys/tokgeo-cli-test" in p.stderr and "nothing was run" in p.stderr
    f = tmp_path / "a-file"
    f.write_text("x")
    p = _run(["study", "rotation", "--model", str(folder), "--out", str(f)], tmp_path)
    assert p.returncode == 2 and "is not a folder" in p.stderr


def test_a_finished_result_is_never_lost(tmp_path: Path, folder: Path) -> None:
    # the folder is writable when checked, but report.txt cannot be replaced (a directory of that name)
    out = tmp_path / "rot"
    (out / "report.txt").mkdir(parents=True)
    p = _run(["study", "rotation", "--model", str(folder), "--out", str(out)], tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "Rotation" in p.stdout  # the summary was printed
    assert f"could not write into {out}" in p.stderr
    fallback = Path(p.stderr.split("were written to ")[1].split()[0])
    try:
        assert (fallback / "report.txt").is_file() and (fallback / "angles.csv").is_file()
        assert "Rotation" in (fallback / "report.txt").read_text()
    finally:
        import shutil

        shutil.rmtree(fallback, ignore_errors=True)


def test_threads_before_or_after_the_command(tmp_path: Path, folder: Path) -> None:
    for args in (["--threads", "1", "study", "qkv"], ["study", "qkv", "--threads", "1"], ["study", "qkv", "--threads", "0"]):
        p = _run([*args, "--model", str(folder), "--layer", "1", "--out", str(tmp_path / "o"), "--no-figures"], tmp_path)
        assert p.returncode == 0, (args, p.stderr)
    for bad in ("-1", "two"):
        p = _run(["study", "qkv", "--threads", bad, "--model", str(folder), "--out", str(tmp_path / "o")], tmp_path)
        assert p.returncode == 2 and "--threads" in p.stderr and "all cores" in p.stderr


def test_sentences_file_bom_line_numbers_and_one_sentence(tmp_path: Path, folder: Path) -> None:
    f = tmp_path / "s.txt"
    f.write_bytes("\ufeffI saw her.\n# comment\n\nWe met him.\nThey told her twice.\n".encode("utf-8"))
    sentences, lines = cli._read_sentences(str(f))
    assert sentences == ["I saw her.", "We met him.", "They told her twice."] and lines == [1, 4, 5]
    p = _run(["study", "rotation", "--model", str(folder), "--out", str(tmp_path / "o"), "--sentences", str(f),
              "--lenient", "--no-figures"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "dropped 1 sentence(s) of" in p.stdout and "at line(s) 4" in p.stdout
    one = tmp_path / "one.txt"
    one.write_text("I saw her.\n", encoding="utf-8")
    p = _run(["study", "rotation", "--model", str(folder), "--out", str(tmp_path / "o1"), "--sentences", str(one),
              "--no-figures"], tmp_path)
    assert "holds one sentence" in p.stdout and "at least two" in p.stdout


def test_paired_center_and_ddof_flags(tmp_path: Path, folder: Path) -> None:
    """--paired runs the rotation's paired t-test; --no-center / --ddof pick the embedding covariance."""
    from scipy import stats

    p = _run(["study", "--help"], tmp_path)
    assert p.returncode == 0
    for flag in ("--paired", "--no-center", "--ddof"):
        assert flag in p.stdout
    out = tmp_path / "rot"
    p = _run(["study", "rotation", "--model", str(folder), "--out", str(out), "--paired", "--no-figures"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads((out / "provenance.json").read_text())["parameters"]["paired"] is True
    assert "paired t-test" in (out / "report.txt").read_text()
    with open(out / "angles.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(out / "layer_stats.csv", newline="") as f:
        stats_rows = list(csv.DictReader(f))
    for r in stats_rows:  # scipy's paired test on the CSV's own angles
        ang = {role: [float(x["angle_deg"]) for x in rows if x["layer"] == r["layer"] and x["role"] == role]
               for role in ("target", "nontarget")}
        ref = stats.ttest_rel(ang["target"], ang["nontarget"])
        np.testing.assert_allclose(float(r["t"]), ref.statistic, rtol=1e-4)
    W = load_hf(folder).transformer.wte.weight.detach().numpy().astype(np.float64)
    n = W.shape[0]
    for extra, sigma in ((["--no-center"], W.T @ W / n), (["--no-center", "--ddof", "1"], W.T @ W / (n - 1)),
                         (["--ddof", "0"], np.cov(W, rowvar=False, ddof=0)), ([], np.cov(W, rowvar=False))):
        out = tmp_path / ("emb" + "".join(extra))
        p = _run(["study", "embedding", "--model", str(folder), "--out", str(out), "--no-figures", *extra], tmp_path)
        assert p.returncode == 0, p.stderr
        with open(out / "spectrum.csv", newline="") as f:
            spec = list(csv.DictReader(f))
        key = next(k for k in spec[0] if k.startswith("eigenvalue"))
        np.testing.assert_allclose([float(r[key]) for r in spec], np.sort(np.linalg.eigvalsh(sigma))[::-1],
                                   rtol=1e-5, atol=1e-10)
        params = json.loads((out / "provenance.json").read_text())["parameters"]
        assert params["center"] == ("--no-center" not in extra)
        assert ("uncentred" in (out / "report.txt").read_text()) == ("--no-center" in extra)
    for args in (["study", "qkv", "--paired"], ["study", "rotation", "--no-center"], ["study", "rotation", "--ddof", "0"]):
        p = _run([*args, "--model", str(folder), "--out", str(tmp_path / "o")], tmp_path)
        assert p.returncode == 2 and "belongs to the" in p.stderr and "Traceback" not in p.stderr
    p = _run(["study", "embedding", "--ddof", "2", "--model", str(folder), "--out", str(tmp_path / "o")], tmp_path)
    assert p.returncode == 2 and "--ddof" in p.stderr
