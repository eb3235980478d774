"""The promise "Python 3.10 to 3.13, NumPy 1.26 and 2.x" checked on real installs.

For each (interpreter, NumPy) combination below: a fresh venv, ``pip install`` of that
NumPy, then ``pip install <repo>`` (build isolation, so the C extension is compiled
against NumPy >= 2 headers as pyproject.toml says; NumPy 2 headers target the 1.x ABI by
default, so the same wheel must import and run on NumPy 1.26), then a smoke script run
in that venv that exercises the public API with numpy only (no torch, scipy, tiktoken):
tokenizer ids and offsets, batches, metrics and PCA against closed-form NumPy, and a tiny
random GPT-2 written by hand as safetensors, checked against a pure-NumPy forward pass.

A combination whose interpreter is not on the machine is skipped, or fails when
TOKGEO_REQUIRE_ALL_TESTS=1 (CI).  pip's cache is used, so a re-run only rebuilds tokgeo.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import require_all

REPO = Path(__file__).resolve().parents[1]

# tiktoken's gpt2 encoding (checked against tiktoken in test_expected_ids_match_tiktoken)
EXPECTED_IDS = {
    "Hello world": [15496, 995],
    "She gave her book away": [3347, 2921, 607, 1492, 1497],
    "Héllo, wörld! 123  \n\t😀 naïve café": [
        39, 2634, 18798, 11, 266, 30570, 335, 0, 17031, 220, 220, 198, 197, 47249, 222, 41492, 40304,
    ],
}

COMBOS = [
    pytest.param("3.10", "numpy==1.26.*", id="py3.10-numpy1.26"),
    pytest.param("3.13", "numpy>=2,<3", id="py3.13-numpy2"),
]
# More corners (scripts/compat-check.sh --all): the newest Python with NumPy 1.26 wheels,
# the oldest NumPy 2 on the oldest Python.
if os.environ.get("TOKGEO_COMPAT_EXTRA") == "1":
    COMBOS += [
        pytest.param("3.12", "numpy==1.26.*", id="py3.12-numpy1.26"),
        pytest.param("3.10", "numpy==2.0.*", id="py3.10-numpy2.0"),
        pytest.param("3.11", "numpy==1.26.*", id="py3.11-numpy1.26"),
    ]


def _python_version(exe: str) -> str | None:
    try:
        r = subprocess.run(
            [exe, "-c", "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def find_python(version: str) -> str | None:
    """A working python<version> with venv: PATH first (pyenv shims only work when that
    version is selected), then pyenv's versions folder, then the usual system places."""
    env = os.environ.get("TOKGEO_PYTHON_" + version.replace(".", "_"))
    candidates = [env] if env else []
    which = shutil.which(f"python{version}")
    if which:
        candidates.append(which)
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}")), reverse=True)
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for c in candidates:
        if c and os.path.isfile(c) and _python_version(c) == version:
            return c
    return None


def _run(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert r.returncode == 0, (
        f"{' '.join(cmd)} exited with {r.returncode}\n--- stdout ---\n{r.stdout[-6000:]}\n--- stderr ---\n{r.stderr[-6000:]}"
    )
    return r


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


@pytest.mark.slow
@pytest.mark.parametrize("version, numpy_spec", COMBOS)
def test_install_and_smoke(version: str, numpy_spec: str, tmp_path: Path) -> None:
    exe = find_python(version)
    if exe is None:
        msg = f"no working python{version} (with venv) on this machine; set TOKGEO_PYTHON_{version.replace('.', '_')}"
        if require_all():
            pytest.fail(msg)
        pytest.skip(msg)
    env = _clean_env()
    venv = tmp_path / "venv"
    _run([exe, "-m", "venv", str(venv)], tmp_path, 300, env)
    py = str(venv / "bin" / "python")
    pip = [py, "-m", "pip"]
    _run(pip + ["install", "-q", numpy_spec, "pytest"], tmp_path, 600, env)
    build_dir = tmp_path / "build"
    _run(pip + ["install", "-q", f"--config-settings=build-dir={build_dir}", str(REPO)], tmp_path, 900, env)

    # The extension was compiled against NumPy >= 2 headers (numpy/_core/include; 1.x has
    # numpy/core/include) even when the venv's runtime NumPy is 1.26.
    cache = (build_dir / "CMakeCache.txt").read_text(encoding="utf-8", errors="replace")
    inc = [ln for ln in cache.splitlines() if "NumPy_INCLUDE_DIR" in ln and "=" in ln]
    assert inc and all("numpy/_core/include" in ln for ln in inc), inc

    smoke = tmp_path / "smoke.py"
    smoke.write_text(SMOKE, encoding="utf-8")
    # deprecations are errors: a NumPy or Python API on its way out must show up here
    strict = ["-W", "error::DeprecationWarning", "-W", "error::FutureWarning"]
    r = _run([py, *strict, str(smoke), json.dumps(EXPECTED_IDS)], tmp_path, 300, env)
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["python"] == version
    major_minor = tuple(int(p) for p in report["numpy"].split(".")[:2])
    if numpy_spec.startswith("numpy==1.26"):
        assert major_minor == (1, 26), report
    elif numpy_spec.startswith("numpy==2.0"):
        assert major_minor == (2, 0), report
    else:
        assert major_minor[0] == 2, report
    assert report["checks"] >= 40, report
    print(f"python{version} + {numpy_spec}: {report}")

    text = "She gave her book away"
    for cmd in ([py, *strict, "-m", "tokgeo", "tokenize", text], [str(venv / "bin" / "tokgeo"), "tokenize", text]):
        out = _run(cmd, tmp_path, 120, env).stdout
        for tid in EXPECTED_IDS[text]:
            assert str(tid) in out, (cmd, out)


def test_expected_ids_match_tiktoken() -> None:
    """The ids the smoke script expects are tiktoken's (not tokgeo's own output)."""
    try:
        import tiktoken  # noqa: F401
    except ImportError:
        if require_all():
            pytest.fail("tiktoken is not installed (pip install -e '.[test]')")
        pytest.skip("tiktoken is not installed")
    sys.path.insert(0, str(Path(__file__).parent))
    from tokenizer_refs import tiktoken_gpt2

    enc = tiktoken_gpt2()
    for text, ids in EXPECTED_IDS.items():
        assert enc.encode(text) == ids, text


def test_find_python_rejects_missing_version() -> None:
    assert find_python("2.0") is None


# --------------------------------------------------------------------------------------
# Runs inside the venv: numpy + tokgeo only.  Prints one JSON line at the end.
SMOKE = textwrap.dedent(
    r'''
    import importlib, json, math, os, pkgutil, struct, subprocess, sys, tempfile, warnings
    from pathlib import Path

    import numpy as np
    import tokgeo
    from tokgeo import metrics

    expected = json.loads(sys.argv[1])
    checks = 0

    def check(cond, what):
        global checks
        if not cond:
            raise AssertionError(what)
        checks += 1

    def rel_err(a, b):
        a = np.asarray(a, np.float64); b = np.asarray(b, np.float64)
        assert a.shape == b.shape, (a.shape, b.shape)
        return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))

    # every module imports (optional deps are lazy)
    for m in pkgutil.walk_packages(tokgeo.__path__, "tokgeo."):
        if m.name != "tokgeo.__main__":
            importlib.import_module(m.name)
    check("site-packages" in tokgeo.__file__, f"tokgeo imported from {tokgeo.__file__}, not the install")

    # ---- tokenizer
    tok = tokgeo.Tokenizer.gpt2()
    for text, ids in expected.items():
        got = tok.encode(text)
        check(got == ids, f"encode({text!r}) = {got}, tiktoken says {ids}")
        check(tok.decode(got) == text, f"decode round trip of {text!r}")
        arr, offs = tok.encode_with_offsets(text)
        check(arr.dtype == np.int64 and arr.tolist() == ids, "encode_with_offsets ids")
        check(offs.shape == (len(ids), 2) and offs.dtype == np.int64, f"offsets shape {offs.shape}")
    _, offs = tok.encode_with_offsets("She gave her book away")
    pieces = ["She", " gave", " her", " book", " away"]
    check(["She gave her book away"[a:b] for a, b in offs.tolist()] == pieces, f"offsets {offs.tolist()}")
    texts = ["Hello world", "She gave her book away", ""]
    for side in ("right", "left"):
        b = tok.encode_batch(texts, padding_side=side)
        check(b.ids.shape == (3, 5) and b.ids.dtype == np.int64, f"batch ids {b.ids.shape} {b.ids.dtype}")
        check(b.mask.shape == (3, 5) and b.mask.dtype == np.bool_, f"batch mask {b.mask.dtype}")
        check(b.lengths.tolist() == [2, 5, 0], f"lengths {b.lengths}")
        check(b.offsets.shape == (3, 5, 2), f"batch offsets {b.offsets.shape}")
        for i, t in enumerate(texts):
            check(b.token_ids(i).tolist() == expected.get(t, []), f"batch row {i} ({side})")
        check(int(b.mask.sum()) == 7 and np.all(b.ids[~b.mask] == 50256), "padding")

    # ---- metrics against closed-form numpy
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 16)); c = rng.standard_normal((6, 16))
    cos = np.sum(a * c, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(c, axis=-1))
    check(rel_err(metrics.cosine_similarity(a, c), cos) < 1e-12, "cosine float64")
    check(rel_err(metrics.cosine_similarity(a.astype(np.float32), c.astype(np.float32)), cos) < 1e-5, "cosine float32")
    x = rng.standard_normal((3, 12)) + 0.3; y = rng.standard_normal((3, 15))
    n1, n2 = x.shape[1], y.shape[1]
    sp2 = ((n1 - 1) * x.var(1, ddof=1) + (n2 - 1) * y.var(1, ddof=1)) / (n1 + n2 - 2)
    t_ref = (x.mean(1) - y.mean(1)) / np.sqrt(sp2 * (1 / n1 + 1 / n2))
    res = metrics.ttest_ind(x, y, axis=1)
    check(rel_err(res.statistic, t_ref) < 1e-12, f"t {res.statistic} vs {t_ref}")
    check(np.all(np.asarray(res.df) == n1 + n2 - 2), f"df {res.df}")
    p = np.asarray(res.pvalue)
    check(np.all((p > 0) & (p <= 1)), f"p {p}")
    res2 = metrics.ttest_ind(y, x, axis=1)
    check(np.allclose(res2.statistic, -t_ref) and np.allclose(res2.pvalue, p), "t-test symmetry")
    pts = rng.standard_normal((40, 6)) @ rng.standard_normal((6, 6))
    pr = metrics.pca(pts)
    ev_ref = np.linalg.eigvalsh(np.cov(pts, rowvar=False))[::-1]
    check(rel_err(pr.eigenvalues, ev_ref) < 1e-10, f"pca eigenvalues {pr.eigenvalues} vs {ev_ref}")
    check(rel_err(pr.projection, (pts - pts.mean(0)) @ pr.components.T) < 1e-10, "pca projection")
    # error paths that build their message from a released array (a use-after-free that
    # crashed only on Python 3.13 + NumPy 2.x)
    for _ in range(3):
        try:
            tokgeo._C._eigh(np.zeros((2, 3)))
        except tokgeo.InvalidInputError as e:
            check("2 x 3" in str(e), f"eigh error message {e}")
        else:
            raise AssertionError("_eigh accepted a 2 x 3 matrix")

    # ---- a tiny random GPT-2, written with numpy only, against a numpy forward pass
    L, H, C, P, V = 2, 4, 32, 16, 97
    def r(*shape, s=1.0):
        return (s * rng.standard_normal(shape)).astype(np.float32)
    w = {"wte.weight": r(V, C, s=0.1), "wpe.weight": r(P, C, s=0.1),
         "ln_f.weight": 1 + r(C, s=0.2), "ln_f.bias": r(C, s=0.05)}
    for l in range(L):
        h = f"h.{l}."
        w.update({
            h + "ln_1.weight": 1 + r(C, s=0.2), h + "ln_1.bias": r(C, s=0.05),
            h + "attn.c_attn.weight": r(C, 3 * C, s=C ** -0.5), h + "attn.c_attn.bias": r(3 * C, s=0.05),
            h + "attn.c_proj.weight": r(C, C, s=C ** -0.5), h + "attn.c_proj.bias": r(C, s=0.05),
            h + "ln_2.weight": 1 + r(C, s=0.2), h + "ln_2.bias": r(C, s=0.05),
            h + "mlp.c_fc.weight": r(C, 4 * C, s=C ** -0.5), h + "mlp.c_fc.bias": r(4 * C, s=0.05),
            h + "mlp.c_proj.weight": r(4 * C, C, s=(4 * C) ** -0.5), h + "mlp.c_proj.bias": r(C, s=0.05),
        })
    folder = Path(tempfile.mkdtemp(prefix="tokgeo-compat-"))
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in w.items():
        raw = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw); off += len(raw)
    hj = json.dumps(header).encode()
    hj += b" " * (-len(hj) % 8)
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))
    (folder / "config.json").write_text(json.dumps({
        "model_type": "gpt2", "n_layer": L, "n_head": H, "n_embd": C, "n_positions": P,
        "vocab_size": V, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}))

    def ln(z, g, b):
        z = z.astype(np.float64)
        m = z.mean(-1, keepdims=True); v = ((z - m) ** 2).mean(-1, keepdims=True)
        return (z - m) / np.sqrt(v + 1e-5) * g + b
    def gelu_new(z):
        return 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z ** 3)))
    def forward(ids):
        W = {k: v.astype(np.float64) for k, v in w.items()}
        T, D = len(ids), C // H
        x = W["wte.weight"][ids] + W["wpe.weight"][:T]
        causal = np.tril(np.ones((T, T), bool))
        for l in range(L):
            h = f"h.{l}."
            qkv = ln(x, W[h + "ln_1.weight"], W[h + "ln_1.bias"]) @ W[h + "attn.c_attn.weight"] + W[h + "attn.c_attn.bias"]
            q, k, v = (qkv[:, i * C:(i + 1) * C].reshape(T, H, D).transpose(1, 0, 2) for i in range(3))
            s = np.where(causal, q @ k.transpose(0, 2, 1) / math.sqrt(D), -np.inf)
            pat = np.exp(s - s.max(-1, keepdims=True)); pat /= pat.sum(-1, keepdims=True)
            z = (pat @ v).transpose(1, 0, 2).reshape(T, C)
            x = x + z @ W[h + "attn.c_proj.weight"] + W[h + "attn.c_proj.bias"]
            mid = gelu_new(ln(x, W[h + "ln_2.weight"], W[h + "ln_2.bias"]) @ W[h + "mlp.c_fc.weight"] + W[h + "mlp.c_fc.bias"])
            x = x + mid @ W[h + "mlp.c_proj.weight"] + W[h + "mlp.c_proj.bias"]
        return ln(x, W["ln_f.weight"], W["ln_f.bias"]) @ W["wte.weight"].T

    model = tokgeo.GPT2.from_pretrained(folder)
    check(model.copied_bytes == 0 and not model.W_E.flags.writeable, "F32 weights are read-only views")
    check(np.array_equal(model.W_E, w["wte.weight"]) and model.lm_head_tied, "wte loaded")
    seqs = [[3, 14, 15, 92, 65, 35, 89, 79], [2, 71, 82]]
    cache = model.run(seqs, capture=["logits"])
    logits = np.asarray(cache["logits"])
    check(logits.shape == (2, 8, V) and logits.dtype == np.float32, f"logits {logits.shape} {logits.dtype}")
    for i, s in enumerate(seqs):
        e = rel_err(logits[i, : len(s)], forward(np.array(s)))
        check(e < 1e-4, f"logits of sequence {i}: relative error {e:.2e}")
    arr_logits = np.asarray(model.run(np.array([seqs[0]], dtype=np.int32), capture="logits")["logits"])
    check(rel_err(arr_logits[0], forward(np.array(seqs[0]))) < 1e-4, "logits from an int32 id array")
    del cache, model

    print(json.dumps({
        "python": "%d.%d" % sys.version_info[:2], "numpy": np.__version__, "checks": checks,
        "blis": tokgeo.blis_info(),
    }))
    '''
)
