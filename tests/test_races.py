"""Calls that check the caller's array and then read it with the GIL released must read a
private copy: another thread writing the array meanwhile must never corrupt memory.

Each scenario runs in a subprocess (a crash must fail the test, not kill pytest): a writer
thread keeps switching the array between a valid and an invalid (or differently sized)
content while the main thread calls tokgeo on it many times.  Before the copies these
segfaulted or overflowed the heap within a few hundred iterations.
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

WRITER = """
    import sys, threading
    import numpy as np
    import tokgeo
    sys.setswitchinterval(1e-5)

    def start_writer(arr, *states):
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                for s in states:
                    arr[...] = s

        t = threading.Thread(target=loop, daemon=True)
        t.start()
        return stop, t
"""


def _child(body: str, tmp_path: Path, extra_path: str = "") -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(TOKGEO_HOME), extra_path, e.get("PYTHONPATH", "")) if p)
    script = tmp_path / "race.py"
    script.write_text(textwrap.dedent(WRITER) + textwrap.dedent(body))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=e, timeout=900, cwd=tmp_path)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    assert r.stdout.strip().endswith("ok"), r.stdout[-2000:]
    return r


def test_decode_bytes_while_another_thread_writes_the_ids(tmp_path: Path) -> None:
    """The output size is computed from the ids; the ids then change to 128-byte tokens."""
    _child(
        """
        tok = tokgeo.Tokenizer.gpt2()
        SHORT, LONG = 0, 35496                      # b"!" (1 byte) and a 128-byte token
        long_bytes = tok.decode_bytes([LONG])
        assert len(long_bytes) == 128 and b"!" not in long_bytes
        n = 20000
        ids = np.full(n, SHORT, np.int64)
        stop, t = start_writer(ids, LONG, SHORT)
        for _ in range(300):
            out = tok.decode_bytes(ids)
            k = out.count(long_bytes)
            assert len(out) == k * 128 + (n - k), len(out)   # n whole tokens, each "!" or LONG
            assert out.replace(long_bytes, b"") == b"!" * (n - k)
        stop.set(); t.join()
        print("ok")
        """,
        tmp_path,
    )


def test_batch_offsets_while_another_thread_writes_the_lengths(tmp_path: Path) -> None:
    """The lengths are checked, then used to walk each row of ids with the GIL released."""
    _child(
        """
        import dataclasses
        tok = tokgeo.Tokenizer.gpt2()
        batch0 = tok.encode_batch(["a b c d e f g h i j k l m n o p q r s t u v w x y z " * 4] * 2000)
        good = batch0.lengths.copy()
        for _ in range(100):
            batch = dataclasses.replace(batch0, lengths=good.copy())   # offsets not cached yet
            stop, t = start_writer(batch.lengths, 1 << 40, good)
            try:
                off = batch.offsets
            except tokgeo.InvalidInputError as e:   # the check saw the bad lengths: fine
                assert "lengths[" in str(e), e
            else:
                assert off.shape == batch.ids.shape + (2,)
                assert ((off[..., 0] >= 0) == batch0.mask).all()
            stop.set(); t.join()
        print("ok")
        """,
        tmp_path,
    )


def test_model_run_while_another_thread_writes_the_ids(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from hf_reference import make_hf_model, save

    folder = save(make_hf_model(seed=2, n_layer=1, n_head=2, n_embd=32, n_positions=64, vocab_size=50), tmp_path / "m")
    _child(
        f"""
        model = tokgeo.GPT2.from_pretrained({str(folder)!r})
        ids = np.zeros((1024, 64), np.int64)   # big enough that numpy fills it without the GIL
        stop, t = start_writer(ids, 1 << 40, 0)
        ok = bad = 0
        for _ in range(200):
            try:
                logits = model.run(ids, capture="logits")["logits"]
            except tokgeo.TokenIdError:   # the check saw an out-of-range id: fine
                bad += 1
            else:
                assert np.isfinite(logits).all()
                ok += 1
        stop.set(); t.join()
        print(ok, bad, "ok")
        """,
        tmp_path,
    )
