"""Small rules the package applies in one place: writing files atomically, formatting byte
counts, checking seeds.  (The memory budget of a run is :func:`tokgeo.model.memory_budget_bytes`.)"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import IO, Any, Iterator

import numpy as np

from .errors import InvalidInputError, InvalidTypeError

__all__ = ["atomic_write", "format_bytes", "check_seed"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], binary: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; when the block ends without an
    exception the file is renamed onto ``path`` (atomic on POSIX), otherwise it is removed.
    So a reader never sees a partial file and an error never leaves one.  The file gets the
    mode a plain ``open`` would give (0o666 less the umask).  Text is UTF-8 with newlines
    written as given.  Not flushed to the disk (no fsync), as ``open``: a crash of this
    process never leaves a half-written file, but after a power loss the file may be
    missing, empty or the previous one."""
    p = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = p.parent / f".{p.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(f"cannot create a temporary file beside {p}")
    try:
        try:
            f: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        except BaseException:
            os.close(fd)
            raise
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

