#!/usr/bin/env bash
# Creates .venv (if missing) and installs traindx with every integration and the test tools.
# torch is pinned in the same pip command so that pip takes the CPU build instead of resolving a CUDA one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0" -e ".[all,dev]"
