"""Progress display for long runs (GPT-2 XL on a CPU takes a while), on tqdm.

:func:`track` wraps an iterable in a tqdm bar: the notebook widget (``tqdm.auto``) when
ipywidgets is installed, else tqdm's plain text bar, so a notebook without widgets shows a
text bar instead of printing ``TqdmWarning: IProgress not found``.  Set
``TOKGEO_PROGRESS=0`` in the environment to silence every progress display, or pass
``enabled=False``.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, Iterable, Iterator, TextIO, TypeVar

__all__ = ["track", "progress_enabled", "bar_class"]

T = TypeVar("T")


def progress_enabled(enabled: bool | None = None) -> bool:
    """Whether to show progress: ``enabled`` when given, else the environment's choice.

    ``TOKGEO_PROGRESS=0`` (or ``false``/``no``/``off``) turns progress off everywhere.
    """
    env = os.environ.get("TOKGEO_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    return True if enabled is None else bool(enabled)


def bar_class() -> Any:
    """The tqdm class to use: ``tqdm.auto.tqdm`` when ipywidgets can be imported (a widget in
    Jupyter, a text bar elsewhere), else ``tqdm.std.tqdm`` (always text, never a warning)."""
    try:
        widgets = importlib.util.find_spec("ipywidgets") is not None
    except (ImportError, ValueError):  # a broken or stubbed module
        widgets = False
    if widgets:
        import tqdm.auto

        return tqdm.auto.tqdm
    import tqdm.std

    return tqdm.std.tqdm


def track(
    iterable: Iterable[T],
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool | None = None,
    file: TextIO | None = None,
) -> Iterator[T]:
    """Yield from ``iterable`` while showing a tqdm progress bar.

    Args:
        iterable: what to iterate over.
        total: the number of items (taken from ``len(iterable)`` when it has one).
        desc: a short label, e.g. ``"gpt2-xl forward"``.
        unit: the unit shown (``"batch"``, ``"sentence"``...).
        enabled: False shows nothing; None/True show progress unless
            ``TOKGEO_PROGRESS=0``.
        file: where the bar is written (default: standard error).
    """
    if not progress_enabled(enabled):
        yield from iterable
        return
    yield from bar_class()(iterable, total=total, desc=desc or None, unit=unit, leave=False, file=file)
