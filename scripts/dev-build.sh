#!/usr/bin/env bash
# Development build: compiles the core and the _C extension next to the sources
# (tokgeo/_C.*.so) so that `PYTHONPATH=$PWD pytest` tests the working tree without
# reinstalling. Usage: scripts/dev-build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${TOKGEO_BUILD_DIR:-build/dev}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOKGEO_INPLACE=ON -DTOKGEO_BUILD_TESTS=ON \
  -DPython_EXECUTABLE="$(command -v python3)" "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
