#!/usr/bin/env bash
# Checks the "Python 3.10-3.13, NumPy 1.26 and 2.x" promise on fresh installs.
#
#   scripts/compat-check.sh          # py3.10+NumPy 1.26 and py3.13+NumPy 2 (what CI runs)
#   scripts/compat-check.sh --all    # also py3.12/3.11+NumPy 1.26 and py3.10+NumPy 2.0
#
# Each combination: a venv in a temp folder, `pip install` of that NumPy, `pip install` of
# this repo (build isolation: compiled against NumPy >= 2 headers), then a smoke script
# with numpy only (tokenizer ids vs tiktoken's, metrics and PCA vs closed-form NumPy, a
# hand-written random GPT-2 checkpoint vs a NumPy forward pass, the CLI).  See
# tests/test_compat.py.  Interpreters are found on PATH or under $PYENV_ROOT/versions;
# point TOKGEO_PYTHON_3_10 (etc.) at one elsewhere.  A missing interpreter fails here
# (TOKGEO_REQUIRE_ALL_TESTS=1) rather than being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--all" ]]; then
    export TOKGEO_COMPAT_EXTRA=1
fi
export TOKGEO_REQUIRE_ALL_TESTS=1
# tests/conftest.py imports tokgeo: the dev build (scripts/dev-build.sh) when there is
# one, else the installed package (plain pytest does not put the source tree on sys.path)
if compgen -G "tokgeo/_C*.so" >/dev/null; then
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    exec python3 -m pytest -p no:cacheprovider -q -s tests/test_compat.py
fi
exec pytest -p no:cacheprovider -q -s tests/test_compat.py
