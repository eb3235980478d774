"""The package ships py.typed: its annotations must type-check (mypy over tokgeo/)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tokgeo

from conftest import require_all


def test_package_type_checks(tmp_path: Path) -> None:
    if shutil.which("mypy") is None and not require_all():
        pytest.skip("mypy not installed")
    # mypy will not check files inside site-packages, so check a copy of the sources and
    # stubs of the package under test (installed or in-place)
    package = Path(tokgeo.__file__).resolve().parent
    copy = tmp_path / "src" / "tokgeo"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "data"))
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--ignore-missing-imports", "--cache-dir", str(tmp_path / "cache"), "tokgeo"],
        capture_output=True, text=True, timeout=600, cwd=copy.parent,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
