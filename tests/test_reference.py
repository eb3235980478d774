"""tokgeo.reference holds the slow NumPy twins the tests compare against: they must not lean on
the code they check (no tokgeo, no _C) nor on scipy, only NumPy and the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import tokgeo.reference

REFERENCE = Path(tokgeo.reference.__file__).resolve().parent
ALLOWED = {"numpy", "__future__"} | set(sys.stdlib_module_names)


@pytest.mark.parametrize("path", sorted(REFERENCE.glob("*.py")), ids=lambda p: p.name)
def test_reference_imports_numpy_and_stdlib_only(path: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import (a twin must not use tokgeo)"
            imported.add((node.module or "").split(".")[0])
    assert "numpy" in imported or path.name == "__init__.py"
    assert sorted(imported - ALLOWED) == []


def test_reference_modules_are_listed() -> None:
    modules = sorted(p.stem for p in REFERENCE.glob("*.py") if p.stem != "__init__")
    assert sorted(tokgeo.reference.__all__) == modules
