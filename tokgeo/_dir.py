"""One rule for what ``dir()`` of a public tokgeo module shows: its ``__all__`` and dunders.

Each public module ends with ``__dir__ = public_dir(__name__)`` (PEP 562), so ``dir(module)``,
tab completion and ``help()`` list the API, not the names the module imported for its own use
(``np``, ``Any``, ``dataclass``...). Those names stay importable attributes; they are just not
advertised. tests/test_package.py checks every public module.
"""

from __future__ import annotations

import sys
from typing import Callable

__all__ = ["public_dir"]


def public_dir(module_name: str) -> Callable[[], list[str]]:
    """A module-level ``__dir__`` for module_name: sorted ``__all__`` plus the dunders."""

    def __dir__() -> list[str]:
        names = vars(sys.modules[module_name])
        dunders = {n for n in names if n.startswith("__") and n.endswith("__")}
        return sorted(set(names.get("__all__", ())) | dunders)

    return __dir__
