"""The C tree's include rule (csrc/README.md, "Who may include whom"), read from the sources.

Every ``#include "..."`` of csrc/, tests/c/ and fuzz/ is resolved to a file and checked
against the layering base <- tokenizer, base <- safetensors <- gpt2, base <- metrics <-
reduce, with the binding on top; system includes are checked for Python/NumPy (binding only)
and BLIS (base only, plus the listed files still waiting to move).  Also: public headers
open with what their part does and carry no test or benchmark entry points, and the
tokgeo.h example is the code of csrc/examples/quickstart.c.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
API = CSRC / "include" / "tokgeo"
PARTS = ("base", "tokenizer", "safetensors", "gpt2", "metrics", "reduce")
# the public headers a part may use: its own and those of the parts below it
BELOW = {
    "base": {"common"},
    "tokenizer": {"common", "tokenizer"},
    "safetensors": {"common", "safetensors"},
    "gpt2": {"common", "safetensors", "gpt2"},
    "metrics": {"common", "metrics"},
    "reduce": {"common", "metrics", "reduce"},
}
API_PART = {"common": "base", "tokenizer": "tokenizer", "safetensors": "safetensors", "gpt2": "gpt2",
            "metrics": "metrics", "reduce": "reduce"}
# the reduce part's fixed-tile products (bit-identical at any thread count) call BLIS single-threaded per tile
BLIS_PENDING = {"reduce/tiled_blas.c"}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def includes(path: Path) -> list[tuple[str, str]]:
    """(kind, name) of each #include line: kind '"' (local) or '<' (system)."""
    return INCLUDE.findall(path.read_text(encoding="utf-8"))


def sources(*dirs: Path) -> list[Path]:
    return sorted(p for d in dirs for p in d.rglob("*") if p.suffix in (".c", ".h"))


def resolve(src: Path, name: str) -> Path:
    """Where the compiler finds a quoted include: next to the file, then csrc/include, csrc/."""
    for base in (src.parent, CSRC / "include", CSRC):
        if (base / name).is_file():
            return (base / name).resolve()
    raise AssertionError(f"{src.relative_to(ROOT)}: #include \"{name}\" does not resolve")


def where(p: Path) -> str:
    """'api/<name>' for a public header, '<part>' for a file in csrc/<part>/, else the folder."""
    rel = p.relative_to(CSRC) if p.is_relative_to(CSRC) else p.relative_to(ROOT)
    if rel.parts[:2] == ("include", "tokgeo"):
        return "api/" + p.stem
    return rel.parts[0]


def test_every_c_file_lives_in_a_part_folder() -> None:
    known = {"include", "examples", "python", *PARTS}
    stray = [p.relative_to(ROOT) for p in sources(CSRC) if p.relative_to(CSRC).parts[0] not in known]
    assert not stray, f"C files outside the part folders of csrc/README.md: {stray}"
    assert not [p for p in CSRC.iterdir() if p.suffix in (".c", ".h")]
    assert {p.name for p in API.iterdir()} == {f"{n}.h" for n in (*API_PART, "tokgeo")}


def test_public_headers_include_only_public_headers_below_them() -> None:
    for h in sorted(API.glob("*.h")):
        for kind, name in includes(h):
            if kind == "<":
                assert name.startswith("std"), f"{h.name}: public header includes <{name}>"
                continue
            dep = where(resolve(h, name))
            assert dep.startswith("api/"), f"{h.name} includes the internal header {name}"
            if h.stem != "tokgeo":
                allowed = BELOW[API_PART[h.stem]]
                assert dep[4:] in allowed, f"{h.name} includes {name}, above it in the layering"


@pytest.mark.parametrize("part", PARTS)
def test_a_part_includes_public_headers_below_it_base_and_its_own_folder(part: str) -> None:
    files = sources(CSRC / part)
    assert files, part
    for f in files:
        for kind, name in includes(f):
            if kind == "<":
                continue
            dep = where(resolve(f, name))
            rel = f.relative_to(CSRC)
            if dep.startswith("api/"):
                assert dep != "api/tokgeo", f"{rel}: parts include their own headers, not tokgeo.h"
                assert dep[4:] in BELOW[part], f"{rel} includes {name}: not {part} or a part below it"
            else:
                assert dep in ("base", part), f"{rel} includes {name}, another part's internal header"


def test_binding_and_examples() -> None:
    for f in sources(CSRC / "python"):
        for kind, name in includes(f):
            if kind == "<":
                continue
            target = resolve(f, name)
            dep = where(target)
            ok = dep.startswith("api/") or dep in ("base", "python") or target.name == "testing.h"
            assert ok, f"python/{f.name} includes {name}: use the public API or <part>/testing.h"
    for f in sources(CSRC / "examples"):
        for kind, name in includes(f):
            if kind == '"':
                assert where(resolve(f, name)).startswith("api/"), f"{f.name}: examples use the public API only"


def test_python_and_blis_headers_stay_in_their_folder() -> None:
    for f in sources(CSRC, ROOT / "tests" / "c", ROOT / "fuzz"):
        rel = f.relative_to(CSRC).as_posix() if f.is_relative_to(CSRC) else f.relative_to(ROOT).as_posix()
        for kind, name in includes(f):
            if name == "Python.h" or name.startswith("numpy/"):
                assert rel.startswith("python/"), f"{rel} includes {name}: only csrc/python/ may"
            if name == "blis.h":
                assert rel.startswith("base/") or rel in BLIS_PENDING, (
                    f"{rel} includes <blis.h>: call BLIS through base/blas.h")
        if rel in BLIS_PENDING or rel.startswith("base/"):
            continue
        assert not re.search(r"\bbli_\w+\s*\(", f.read_text(encoding="utf-8")), f"{rel} calls BLIS directly"


def test_public_headers_say_what_the_part_does_and_carry_no_test_entry_points() -> None:
    for h in sorted(API.glob("*.h")):
        text = h.read_text(encoding="utf-8")
        assert text.startswith(f"/*\n * tokgeo/{h.name} - "), f"{h.name} must open with what its part does"
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        for bad in ("bench", "time_products", "tg_view_row", "tg_sgemm", "_for_test", "testing"):
            assert bad not in code, f"{h.name} declares {bad!r}: test/benchmark entry points live in internal headers"


def test_tokgeo_h_example_is_the_quickstart_code() -> None:
    header = (API / "tokgeo.h").read_text(encoding="utf-8")
    example = (CSRC / "examples" / "quickstart.c").read_text(encoding="utf-8")

    def code(line: str) -> str:  # without its comment (// in the header, /* */ in the file)
        return " ".join(re.sub(r"//.*|/\*.*?\*/", "", line).split())

    code_lines = {code(ln) for ln in example.splitlines()}
    block = header[header.index("Worked example") : header.index(" *   ...")]
    shown = [code(ln[len(" *   "):]) for ln in block.splitlines() if ln.startswith(" *   ") and ln.strip(" *")]
    assert len(shown) >= 10
    for ln in shown:
        assert ln in code_lines, f"tokgeo.h example line not in csrc/examples/quickstart.c: {ln!r}"
