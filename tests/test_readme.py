"""The README's quick tour runs as written.

Every ```python block of the "Quick tour" section is executed in order, in one fresh
interpreter, exactly as printed.  The model names it uses ("gpt2", "gpt2-large",
"gpt2-xl") are served by a hub-shaped HTTP server on 127.0.0.1 (tests/hubserver.py) that
holds a random-weight GPT-2 with 12 blocks in the HF layout: the real download path, with
no pretrained weights on this machine.  Two blocks are not run: the Dask example, whose
scheduler address and model folder are placeholders the reader replaces, and the notebooks'
Colab install cell (IPython's ``!`` syntax; tests/test_notebooks.py runs it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tokgeo

from checkpoints import tiny_gpt2
from hubserver import HubServer

ROOT = Path(__file__).resolve().parents[1]
TOKGEO_HOME = Path(tokgeo.__file__).resolve().parents[1]
PLACEHOLDER = "scheduler.example.org"  # the Dask block: an address the reader fills in
COLAB = "!apt-get"  # the notebooks' install cell, IPython syntax


def runnable(block: str) -> bool:
    return PLACEHOLDER not in block and COLAB not in block


def tour_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Quick tour")
    end = text.index("\n## ", start + 10)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


def test_the_tour_has_its_blocks() -> None:
    blocks = tour_blocks()
    assert len(blocks) >= 10
    assert sum(not runnable(b) for b in blocks) == 2


@pytest.mark.slow
def test_quick_tour_runs_as_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    model = tiny_gpt2(tmp_path / "checkpoint", n_layer=12, n_embd=64, n_head=4, n_positions=128)
    files = {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()}
    code = "\n\n".join(b for b in tour_blocks() if runnable(b))
    work = tmp_path / "work"  # the reader's folder: nothing in it named like a model
    work.mkdir()
    script = work / "tour.py"
    script.write_text("import matplotlib\nmatplotlib.use('Agg')\n" + code + "\nprint('TOUR DONE')\n", encoding="utf-8")
    with HubServer() as hub:
        for name in ("gpt2", "gpt2-large", "gpt2-xl"):  # the hub's ids of the names tokgeo knows
            hub.add_repo(f"openai-community/{name}", files)
        env = dict(os.environ)
        env.update(PYTHONPATH=str(TOKGEO_HOME) + os.pathsep + env.get("PYTHONPATH", ""), HF_ENDPOINT=hub.url,
                   HF_HUB_CACHE=str(tmp_path / "hub-cache"), HF_HOME=str(tmp_path / "hf-home"), MPLBACKEND="Agg",
                   TOKGEO_PROGRESS="0")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN"):
            env.pop(var, None)
        p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=work, env=env,
                           timeout=900)
    assert p.returncode == 0 and "TOUR DONE" in p.stdout, p.stdout[-3000:] + p.stderr[-3000:]
