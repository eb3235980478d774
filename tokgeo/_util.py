"""Small rules the package applies in one place: writing files atomically, formatting byte
counts, checking seeds.  (The memory budget of a run is :func:`tokgeo.model.memory_budget_bytes`.)"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

import numpy as np

from .errors import InvalidInputError, InvalidTypeError

__all__ = ["atomic_write", "format_bytes", "check_seed"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], binary: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; when the block ends without an
    exception the file is renamed onto ``path`` (atomic on POSIX), otherwise it is removed.
    So a reader never sees a partial file and an error never leaves one.  Text is UTF-8 with
    newlines written as given."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        f: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        with f:
            yield f
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"`` (binary units; whole bytes below 1 KiB)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def check_seed(seed: Any, name: str = "seed") -> int:
    """A seed must be a non-negative int (numpy integers too); returns it as an int."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidTypeError(f"{name} must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise InvalidInputError(f"{name} must be >= 0, got {seed}")
    return int(seed)

