#!/usr/bin/env bash
# The one set-up command for working on tokgeo (and what CI runs on a bare machine):
# system packages (BLIS, build tools, clang for the fuzzers), then tokgeo itself with the
# reference libraries its tests compare against.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  libblis-dev cmake ninja-build gcc clang libclang-rt-14-dev libomp-dev >/dev/null
python3 -m pip install -q --upgrade pip
# torch first and pinned: the CPU build the reference tests need (a bare `torch` pulls CUDA).
python3 -m pip install -q "torch==2.13.0"
python3 -m pip install -q ".[test,all]"
# the lessons' optional extras (also in .[all]/.[test]; named here so a partial install shows them)
python3 -m pip install -q "spacy>=3.7" "dask[distributed]>=2024.1"
