"""The forward pass gives the right logits whatever team OpenMP actually hands out.

The engine asks for ``tokgeo.get_num_threads()`` threads, but OpenMP may give fewer:
``OMP_DYNAMIC=true`` (libgomp sizes teams by the load average), ``OMP_THREAD_LIMIT``, and a
region nested inside another one (a ``model.run`` from a Python signal handler, which the
engine's interrupt poll runs inside its attention region).  Every product must be split over
the team it got.  References come from transformers; each configuration runs in a fresh
subprocess because OpenMP reads its environment once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tokgeo

pytest.importorskip("torch")
pytest.importorskip("transformers")

from hf_reference import make_hf_model, rel_err, save  # noqa: E402

TOKGEO_HOME = Path(tokgeo.__file__).resolve().parents[1]
# GPT-2 small's widths: the logits product (50257 columns) is split across threads
SMALL = dict(n_layer=2, n_head=12, n_embd=768, n_positions=64, vocab_size=50257)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    import torch

    hf = make_hf_model(seed=3, **SMALL)
    folder = save(hf, tmp_path_factory.mktemp("small"))
    ids = np.random.default_rng(7).integers(0, SMALL["vocab_size"], (3, 20))
    with torch.no_grad():
        ref = hf(torch.tensor(ids)).logits.numpy()
    np.save(folder / "ids.npy", ids)
    return folder, ids, ref


def _child(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(TOKGEO_HOME) + os.pathsep + e.get("PYTHONPATH", "")
    for k in ("OMP_DYNAMIC", "OMP_THREAD_LIMIT", "OMP_NUM_THREADS", "OMP_MAX_ACTIVE_LEVELS", "OMP_NESTED"):
        e.pop(k, None)
    e.update(env)
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=e, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


RUN_ONCE = """
    import sys
    import numpy as np
    import tokgeo
    folder = sys.argv[0].rsplit("/", 1)[0]
    tokgeo.set_num_threads(2)
    model = tokgeo.GPT2.from_pretrained({folder!r})
    ids = np.load({folder!r} + "/ids.npy")
    np.save("logits.npy", model.run(ids, capture="logits")["logits"])
"""


@pytest.mark.parametrize("env", [{"OMP_THREAD_LIMIT": "1"}, {"OMP_DYNAMIC": "true"}], ids=["thread_limit_1", "dynamic"])
def test_fewer_threads_than_asked_give_the_same_logits(small: tuple, tmp_path: Path, env: dict) -> None:
    folder, ids, ref = small
    _child(RUN_ONCE.format(folder=str(folder)), tmp_path, **env)
    got = np.load(tmp_path / "logits.npy")
    assert rel_err(got, ref) < 1e-4, rel_err(got, ref)


NESTED = """
    import signal
    import numpy as np
    import tokgeo
    tokgeo.set_num_threads(2)
    inner = tokgeo.GPT2.from_pretrained({small!r})
    ids = np.load({small!r} + "/ids.npy")
    outer = tokgeo.GPT2.from_pretrained({deep!r})
    long_ids = np.zeros((8, 1024), np.int64)
    results = []
    busy = False

    def handler(signum, frame):
        # runs on the main thread from the engine's interrupt poll, i.e. inside the outer
        # run's attention region whenever the outer run is in progress
        global busy
        if busy or len(results) >= 8:
            return
        busy = True
        try:
            results.append(inner.run(ids, capture="logits")["logits"])
        finally:
            busy = False

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
    for _ in range(40):
        if len(results) >= 8:
            break
        outer.run(long_ids, capture="logits")
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    np.save("nested.npy", np.stack(results))
"""


def test_run_nested_in_another_run_gives_the_right_logits(small: tuple, tmp_path: Path) -> None:
    """A model.run from a signal handler during another run: the handler is called by the
    interrupt poll inside the outer run's parallel attention region, where OpenMP gives the
    nested run a team of one thread."""
    folder, ids, ref = small
    deep = save(make_hf_model(seed=5, n_layer=6, n_head=4, n_embd=64, n_positions=1024, vocab_size=50), tmp_path / "deep")
    _child(NESTED.format(small=str(folder), deep=str(deep)), tmp_path)
    got = np.load(tmp_path / "nested.npy")
    assert got.shape[0] >= 4, got.shape  # the handler ran during the outer runs
    errs = [rel_err(g, ref) for g in got]
    assert max(errs) < 1e-4, errs
