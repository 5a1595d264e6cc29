#!/usr/bin/env bash
# The test command: installs what it needs, lints, then runs the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Real MNIST for the tests when it sits beside the checkout (as it does in CI).
if [ -z "${TRAINDX_MNIST_DIR:-}" ] && [ -d ../shared/data/mnist ]; then
  export TRAINDX_MNIST_DIR="$(cd ../shared/data/mnist && pwd)"
fi
# The task suite (pmlb/, ucr/, nltk/, ...) is read from the same shared data dir.
if [ -z "${TRAINDX_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  export TRAINDX_DATA_DIR="$(cd ../shared/data && pwd)"
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/python -m pytest "$@"
