"""The package ships py.typed: its annotations must type-check (mypy over tokgeo/), the C
binding's stub must declare exactly what tokgeo._C exports, and the files listed in
STRICT_FILES must pass ``mypy --strict``."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tokgeo
import tokgeo._C

from conftest import require_all

PACKAGE = Path(tokgeo.__file__).resolve().parent
STUB = PACKAGE / "_C.pyi"

# Files that pass `mypy --strict` today (errors in the modules they import are not counted:
# --follow-imports=silent); extend this list as more files are made strict.
STRICT_FILES = [
    "__init__.py",
    "__main__.py",
    "_C.pyi",
    "_dir.py",
    "_util.py",
    "cache.py",
    "cli.py",
    "datasets.py",
    "errors.py",
    "hooks.py",
    "hub.py",
    "metrics.py",
    "model.py",
    "plotting.py",
    "progress.py",
    "reference/__init__.py",
    "reference/metrics.py",
    "reference/reduce.py",
    "safetensors.py",
    "studies/__init__.py",
    "studies/_base.py",
    "studies/_common.py",
    "studies/_corpus.py",
    "studies/_stats.py",
    "studies/embedding.py",
    "studies/laminar.py",
    "studies/pathlength.py",
    "studies/pos.py",
    "studies/posgroups.py",
    "studies/prediction.py",
    "studies/qkv.py",
    "studies/rotation.py",
    "studies/trajectories.py",
    "_version.py",
    # issue 12: the tokenization lessons
    "studies/tokenization/__init__.py",
    "studies/tokenization/_shared.py",
    "studies/tokenization/book.py",
    "studies/tokenization/growth.py",
    "studies/tokenization/languages.py",
    "studies/tokenization/letters.py",
    "studies/tokenization/mapping.py",
    "studies/tokenization/preparation.py",
]


def _is_typeddict(node: ast.ClassDef) -> bool:
    return any(isinstance(b, ast.Name) and b.id == "TypedDict" for b in node.bases)


def _stub_names() -> dict[str, ast.AST]:
    """Top-level functions and classes the stub declares (its type aliases and TypedDicts are
    stub-only helpers, not exports)."""
    names: dict[str, ast.AST] = {}
    for node in ast.parse(STUB.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) or (isinstance(node, ast.ClassDef) and not _is_typeddict(node)):
            names[node.name] = node
    return names


def _exported(obj: object) -> set[str]:
    return {n for n in dir(obj) if not (n.startswith("__") and n.endswith("__"))}


def test_c_stub_declares_exactly_the_module() -> None:
    stub = _stub_names()
    module = _exported(tokgeo._C)
    assert "__getattr__" not in stub, "_C.pyi must not hide the module behind __getattr__"
    assert sorted(module - set(stub)) == [], "exported by tokgeo._C but not typed in tokgeo/_C.pyi"
    assert sorted(set(stub) - module) == [], "declared in tokgeo/_C.pyi but not exported by tokgeo._C"


@pytest.mark.parametrize("cls", ["Arena", "Model", "SafetensorsHandle"])
def test_c_stub_declares_exactly_each_type(cls: str) -> None:
    node = _stub_names()[cls]
    assert isinstance(node, ast.ClassDef)
    declared = {m.name for m in node.body if isinstance(m, ast.FunctionDef) and not m.name.startswith("__")}
    assert declared == _exported(getattr(tokgeo._C, cls)) - _exported(object)


def test_c_stub_functions_are_annotated() -> None:
    for name, node in _stub_names().items():
        funcs = [node] if isinstance(node, ast.FunctionDef) else [m for m in node.body if isinstance(m, ast.FunctionDef)]  # type: ignore[attr-defined]
        for f in funcs:
            assert f.returns is not None, f"{name}.{f.name}: no return type"
            args = f.args.posonlyargs + f.args.args + f.args.kwonlyargs
            missing = [a.arg for a in args if a.annotation is None and a.arg not in ("self", "cls")]
            assert missing == [], f"{name}.{f.name}: unannotated {missing}"


def _mypy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("mypy") is None and not require_all():
        pytest.skip("mypy not installed")
    # mypy will not check files inside site-packages, so check a copy of the sources and
    # stubs of the package under test (installed or in-place)
    copy = tmp_path / "src" / "tokgeo"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "data"))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), *args],
        capture_output=True, text=True, timeout=900, cwd=copy.parent,
    )


def test_package_type_checks(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, "--ignore-missing-imports", "tokgeo")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def test_strict_files_type_check_strictly(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, "--strict", "--follow-imports=silent", *[f"tokgeo/{f}" for f in STRICT_FILES])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
