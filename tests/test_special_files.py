"""Paths that are not regular files (a FIFO, /dev/zero, a directory) are refused at once with
an OSError subclass naming what the path is; nothing blocks waiting for a writer.

Each call runs in a subprocess with a timeout: before the fix, opening a FIFO for reading
waited forever for a writer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tokgeo

TOKGEO_HOME = Path(tokgeo.__file__).resolve().parents[1]
DATA = TOKGEO_HOME / "tokgeo" / "data" / "gpt2"

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")

CALLS = {
    "load": "import tokgeo.safetensors as st; st.load(PATH)",
    "SafetensorsFile": "import tokgeo.safetensors as st; st.SafetensorsFile(PATH)",
    "from_files_vocab": f"tokgeo.Tokenizer.from_files(PATH, {str(DATA / 'vocab.bpe')!r})",
    "from_files_merges": f"tokgeo.Tokenizer.from_files({str(DATA / 'encoder.json')!r}, PATH)",
}


def _expect_oserror(call: str, path: str, kind: str, tmp_path: Path) -> None:
    code = f"""
        import tokgeo
        PATH = {path!r}
        try:
            {call}
        except tokgeo.TokgeoIOError as e:
            assert isinstance(e, OSError)
            assert PATH in str(e) and {kind!r} in str(e), str(e)
            print("raised")
    """
    e = dict(os.environ)
    e["PYTHONPATH"] = str(TOKGEO_HOME) + os.pathsep + e.get("PYTHONPATH", "")
    try:
        r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=e,
                           timeout=60, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{call} on {kind} {path} blocked for 60 s")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "raised", (r.stdout, r.stderr[-2000:])


@pytest.mark.parametrize("call", sorted(CALLS))
def test_fifo_is_refused_without_blocking(call: str, tmp_path: Path) -> None:
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    _expect_oserror(CALLS[call], str(fifo), "FIFO", tmp_path)


@pytest.mark.parametrize("call", ["load", "SafetensorsFile", "from_files_vocab"])
def test_dev_zero_is_refused_as_oserror(call: str, tmp_path: Path) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    _expect_oserror(CALLS[call], "/dev/zero", "character device", tmp_path)


def test_directory_is_refused_as_oserror(tmp_path: Path) -> None:
    import tokgeo.safetensors as st

    with pytest.raises(tokgeo.TokgeoIOError, match="directory") as info:
        st.load(tmp_path)
    assert isinstance(info.value, OSError)
