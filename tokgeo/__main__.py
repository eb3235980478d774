"""``python -m tokgeo``: the same as the ``tokgeo`` command (see :mod:`tokgeo.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
