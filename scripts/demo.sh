#!/usr/bin/env bash
# The demo command: installs traindx, then runs `traindx demo` end to end on offline data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/traindx demo "$@"
