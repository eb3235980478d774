"""A checkpoint truncated by another process while tokgeo has it mapped: the forward pass
raises TokgeoIOError (an OSError) naming the file instead of the process dying of SIGBUS.
Run in a subprocess, with the truncation done by another process (coreutils `truncate`).
The in-flight case (a SIGBUS answered by the guard during a read) is tested
deterministically in tests/c/test_safetensors.c (test_truncated_under_the_mapping)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tokgeo

from checkpoints import shared_tiny_gpt2

TOKGEO_HOME = Path(tokgeo.__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import subprocess, sys, threading, time
    import numpy as np
    import tokgeo
    from tokgeo.errors import TokgeoIOError

    folder, mode = sys.argv[1], sys.argv[2]
    path = folder + "/model.safetensors"
    model = tokgeo.GPT2.from_pretrained(folder)
    ids = np.arange(48, dtype=np.int64)[None] % 1000
    model.run(ids, capture=["logits"])  # the intact file works
    if mode == "before":
        subprocess.run(["truncate", "-s", "5000", path], check=True)
    else:  # while runs go on in two threads: wherever the truncation lands
        threading.Timer(0.3, lambda: subprocess.run(["truncate", "-s", "5000", path], check=True)).start()
    errors = []
    def loop():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                model.run(ids, capture=["logits"])
            except TokgeoIOError as e:
                errors.append(e)
                return
    threads = [threading.Thread(target=loop) for _ in range(1 if mode == "before" else 2)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert errors, "no error raised"
    for e in errors:
        assert isinstance(e, OSError) and path in str(e), e
        print("RAISED:", str(e).splitlines()[0][:300])
    try:  # and it stays refused
        model.run(ids, capture=["logits"])
    except TokgeoIOError:
        print("STILL REFUSED")
""")


@pytest.mark.parametrize("mode", ["before", "during"])
def test_truncated_checkpoint_raises_instead_of_sigbus(tmp_path: Path, mode: str) -> None:
    if shutil.which("truncate") is None:
        pytest.skip("coreutils truncate not found")
    folder = tmp_path / "model"
    shutil.copytree(shared_tiny_gpt2(), folder)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(TOKGEO_HOME) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONFAULTHANDLER", None)
    p = subprocess.run([sys.executable, "-c", CHILD, str(folder), mode], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=300)
    assert p.returncode != -signal.SIGBUS, "the process died of SIGBUS"
    assert p.returncode == 0, p.stdout + p.stderr
    assert "RAISED:" in p.stdout and "STILL REFUSED" in p.stdout
    assert "truncated or rewrote it in place" in p.stdout
    if mode == "before":
        assert "shrank from" in p.stdout
    print(p.stdout)


ARRAYS_CHILD = textwrap.dedent("""
    import subprocess, sys
    import numpy as np
    import tokgeo.safetensors as st
    from tokgeo.errors import TokgeoIOError

    path, expect = sys.argv[1], sys.argv[2]
    want = np.load(expect)
    arrays = st.load(path, copy=True)
    f = st.SafetensorsFile(path)
    subprocess.run(["truncate", "-s", "5000", path], check=True)
    # the copies were read with pread, not through the mapping: reading them cannot fault
    a = arrays["transformer.wte.weight"]
    assert a.flags.writeable and a.flags.owndata
    assert np.array_equal(a, want), "copy differs from the file's tensor"
    print("COPIES INTACT", float(np.abs(a).sum()))
    try:  # the open file, asked for a copy of a tensor now past the end
        f.get("transformer.wte.weight", copy=True)
    except TokgeoIOError as e:
        assert path in str(e), e
        print("RAISED:", str(e))
""")


def test_copied_arrays_survive_truncation(tmp_path: Path) -> None:
    """``safetensors.load(path, copy=True)``: arrays that a later truncation cannot crash,
    and a copy asked for after the truncation raises TokgeoIOError naming the file."""
    if shutil.which("truncate") is None:
        pytest.skip("coreutils truncate not found")
    import numpy as np
    from safetensors.numpy import load_file  # the reference reader: what the file holds

    path = tmp_path / "model.safetensors"
    shutil.copyfile(shared_tiny_gpt2() / "model.safetensors", path)
    np.save(tmp_path / "wte.npy", load_file(str(path))["transformer.wte.weight"])
    env = dict(os.environ)
    env["PYTHONPATH"] = str(TOKGEO_HOME) + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, "-c", ARRAYS_CHILD, str(path), str(tmp_path / "wte.npy")],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert p.returncode != -signal.SIGBUS, "the process died of SIGBUS"
    assert p.returncode == 0, p.stdout + p.stderr
    assert "COPIES INTACT" in p.stdout
    assert "RAISED:" in p.stdout and "was truncated or rewritten" in p.stdout, p.stdout
