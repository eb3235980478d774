"""Runs every libFuzzer target in fuzz/ briefly under ASan+UBSan (needs clang).

Each target starts from its seed corpus (fuzz/corpus/<target>/, copied so the repository is
not written to) and must survive TOKGEO_FUZZ_SECONDS (default 20) seconds of mutation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import require_all

ROOT = Path(__file__).resolve().parents[1]
TARGETS = sorted(p.stem for p in (ROOT / "fuzz").glob("fuzz_*.c"))


@pytest.fixture(scope="module")
def fuzz_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for tool in ("clang", "cmake", "ninja"):
        if shutil.which(tool) is None:
            if require_all():
                pytest.fail(f"{tool} is missing: run scripts/setup.sh")
            pytest.skip(f"{tool} not installed; the fuzz targets need it")
    build = tmp_path_factory.mktemp("fuzz-build")
    configure = [
        "cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja", "-DCMAKE_C_COMPILER=clang",
        "-DTOKGEO_FUZZ=ON", "-DTOKGEO_BUILD_PYTHON=OFF", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
    ]
    for cmd in (configure, ["cmake", "--build", str(build), "-j2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
    return build


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_survives(fuzz_build: Path, target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    seeds = ROOT / "fuzz" / "corpus" / target
    if seeds.is_dir():
        shutil.copytree(seeds, corpus)
    else:
        corpus.mkdir()
    seconds = int(os.environ.get("TOKGEO_FUZZ_SECONDS", "20"))
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    proc = subprocess.run(
        [str(fuzz_build / target), f"-max_total_time={seconds}", "-timeout=10", "-rss_limit_mb=2048",
         f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, timeout=seconds + 300, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-8000:]
    assert "Done" in proc.stderr
