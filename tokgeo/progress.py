"""Progress display for long runs (GPT-2 XL on a CPU takes a while).

:func:`track` wraps an iterable.  It uses ``tqdm.auto`` when tqdm is installed (a widget
in Jupyter and Colab, a text bar in a terminal) and otherwise prints a plain line to
standard error at most once a second.  Set ``TOKGEO_PROGRESS=0`` in the environment to
silence every progress display, or pass ``enabled=False``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Iterable, Iterator, TextIO, TypeVar

__all__ = ["track", "progress_enabled"]

T = TypeVar("T")


def progress_enabled(enabled: bool | None = None) -> bool:
    """Whether to show progress: ``enabled`` when given, else the environment's choice.

    ``TOKGEO_PROGRESS=0`` (or ``false``/``no``/``off``) turns progress off everywhere.
    """
    env = os.environ.get("TOKGEO_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    return True if enabled is None else bool(enabled)


def track(
    iterable: Iterable[T],
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool | None = None,
    file: TextIO | None = None,
    use_tqdm: bool | None = None,
) -> Iterator[T]:
    """Yield from ``iterable`` while showing progress.

    Args:
        iterable: what to iterate over.
        total: the number of items (taken from ``len(iterable)`` when it has one).
        desc: a short label, e.g. ``"gpt2-xl forward"``.
        unit: the unit shown (``"batch"``, ``"sentence"``...).
        enabled: False shows nothing; None/True show progress unless
            ``TOKGEO_PROGRESS=0``.
        file: where the plain fallback writes (default ``sys.stderr``).
        use_tqdm: force (True) or avoid (False) tqdm; None uses it when installed.
    """
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if not progress_enabled(enabled):
        yield from iterable
        return
    if use_tqdm is not False:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if use_tqdm:
                raise ImportError(
                    "use_tqdm=True needs tqdm: pip install tqdm (or tokgeo[progress])"
                ) from None
        else:
            yield from tqdm(iterable, total=total, desc=desc or None, unit=unit, leave=False)
            return
    yield from _plain(iterable, total, desc, unit, file if file is not None else sys.stderr)


def _plain(
    iterable: Iterable[T], total: int | None, desc: str, unit: str, out: TextIO
) -> Iterator[T]:
    start = time.monotonic()
    last = -1.0
    done = 0
    label = f"{desc}: " if desc else ""

    def line(final: bool) -> None:
        elapsed = time.monotonic() - start
        if total:
            pct = 100.0 * done / total
            eta = ""
            if 0 < done < total:
                eta = f", about {elapsed / done * (total - done):.0f} s left"
            msg = f"{label}{done}/{total} {unit} ({pct:.0f}%), {elapsed:.1f} s{eta}"
        else:
            msg = f"{label}{done} {unit}, {elapsed:.1f} s"
        out.write("\r" + msg + ("\n" if final else ""))
        out.flush()

    for item in iterable:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= 1.0:
            last = now
            line(False)
    line(True)
