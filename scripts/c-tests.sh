#!/usr/bin/env bash
# Builds the C core and its tests with AddressSanitizer + UndefinedBehaviorSanitizer in a
# separate build tree and runs them with ctest. Usage: scripts/c-tests.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/sanitize}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTOKGEO_SANITIZE=ON -DTOKGEO_BUILD_TESTS=ON \
  -DTOKGEO_BUILD_PYTHON=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
ctest --test-dir "$build" --output-on-failure
