#!/usr/bin/env bash
# Main job on the embedded default: set up, then run `yingyan demo` (output in runs/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/yingyan demo "$@"
