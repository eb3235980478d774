"""The package itself: import, exception hierarchy, threads, the shipped vocabulary."""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import tokgeo
from tokgeo import errors

from conftest import require_all

ROOT = Path(__file__).resolve().parents[1]


def test_exceptions_are_also_builtins() -> None:
    pairs = {
        errors.InvalidInputError: ValueError,
        errors.InvalidTypeError: TypeError,
        errors.TokenIdError: IndexError,
        errors.FormatError: ValueError,
        errors.SpecialTokenError: ValueError,
        errors.TextEncodingError: UnicodeError,
        errors.TokgeoIOError: OSError,
        errors.HubError: OSError,
        errors.OfflineError: errors.HubError,
        errors.SizeOverflowError: OverflowError,
        errors.TokgeoMemoryError: MemoryError,
        errors.MemoryBudgetError: MemoryError,
        errors.TargetNotFoundError: LookupError,
    }
    for cls, builtin in pairs.items():
        assert issubclass(cls, tokgeo.TokgeoError)
        assert issubclass(cls, builtin)
    assert set(errors.__all__) <= set(tokgeo.__all__)


def test_threads_round_trip_and_bad_value() -> None:
    before = tokgeo.get_num_threads()
    try:
        tokgeo.set_num_threads(1)
        assert tokgeo.get_num_threads() == 1
        tokgeo.set_num_threads(0)
        assert tokgeo.get_num_threads() == (os.cpu_count() or 1)
        with pytest.raises(errors.InvalidInputError, match="between 0"):
            tokgeo.set_num_threads(-1)
        with pytest.raises(TypeError):
            tokgeo.set_num_threads("two")  # type: ignore[arg-type]
    finally:
        tokgeo.set_num_threads(before)


def test_blis_uses_optimised_kernels_when_the_cpu_has_them() -> None:
    info = tokgeo.blis_info()
    assert info["version"] and info["threads"] == tokgeo.get_num_threads()
    flags: set[str] = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if {"avx2", "fma"} <= flags and "BLIS_ARCH_TYPE" not in os.environ:
        # BLIS 0.9 falls back to "generic" on CPUs it does not know (e.g. AMD Zen 5);
        # tokgeo must have selected real kernels (csrc/base/blis_select.c).
        assert info["arch"] != "generic", info


def test_vocabulary_is_shipped_intact_with_licence() -> None:
    data = importlib.resources.files("tokgeo") / "data" / "gpt2"
    sums = {}
    for line in (data / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        sums[name] = digest
    # the checksums tiktoken pins for the GPT-2 files
    assert sums["encoder.json"] == "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
    assert sums["vocab.bpe"] == "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
    for name, digest in sums.items():
        assert hashlib.sha256((data / name).read_bytes()).hexdigest() == digest
    assert "Permission is hereby granted" in (data / "LICENSE").read_text()


def test_py_typed_marker() -> None:
    assert (importlib.resources.files("tokgeo") / "py.typed").is_file()


def test_c_core_under_sanitizers(tmp_path: Path) -> None:
    """Builds csrc/ with ASan+UBSan and runs the C test runner (ctest)."""
    if os.environ.get("TOKGEO_SKIP_C_TESTS") == "1" and not require_all():
        pytest.skip("TOKGEO_SKIP_C_TESTS=1")
    for tool in ("cmake", "ninja", "cc"):
        if shutil.which(tool) is None:
            if require_all():
                pytest.fail(f"{tool} is missing: run scripts/setup.sh")
            pytest.skip(f"{tool} not installed")
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "c-tests.sh"), str(tmp_path / "build")],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-8000:]
    assert "tests passed" in proc.stdout


def test_blis_root_that_holds_no_blis_stops_the_build(tmp_path: Path) -> None:
    """`BLIS_ROOT=/nonexistent pip install .` must fail, not build against the system BLIS."""
    cmake = shutil.which("cmake")
    if cmake is None:
        if require_all():
            pytest.fail("cmake is not installed")
        pytest.skip("cmake is not installed")
    env = dict(os.environ, BLIS_ROOT=str(tmp_path / "nonexistent"))
    p = subprocess.run([cmake, "-S", str(ROOT), "-B", str(tmp_path / "b"), "-DTOKGEO_BUILD_PYTHON=OFF"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode != 0
    assert "BLIS_ROOT is set to" in p.stderr and "nonexistent" in p.stderr


PUBLIC_MODULES = [
    "tokgeo", "tokgeo.metrics", "tokgeo.studies", "tokgeo.datasets", "tokgeo.safetensors", "tokgeo.errors",
    "tokgeo.hooks", "tokgeo.hub", "tokgeo.cache", "tokgeo.model", "tokgeo.tokenizer",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_module_dir_is_its_all(name: str) -> None:
    """dir() of a public module lists its API (``__all__``), not what it imported (np, Any...)."""
    import importlib

    module = importlib.import_module(name)
    assert isinstance(module.__all__, list) and len(set(module.__all__)) == len(module.__all__)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names what the module does not define"
    public = [n for n in dir(module) if not n.startswith("_")]
    assert public == sorted(n for n in module.__all__ if not n.startswith("_"))
    for stray in ("np", "Any", "math", "dataclass", "warnings", "annotations", "os"):
        assert stray not in public
