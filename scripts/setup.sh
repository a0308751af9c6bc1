#!/usr/bin/env bash
# Create .venv (Python 3.11) and install Yingyan with its pinned dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "error: $PY not found; Yingyan needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
# trackers pulls in opencv-python (GUI build, needs libGL); put the headless build's cv2 back on top.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps opencv-python-headless==5.0.0.93
# Browser tests drive Debian's Chromium (tests/web). CI must have it: install it there when it is
# missing; elsewhere those tests skip, saying so.
if [ "${CI:-}" = "true" ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get install -y -q chromium fonts-noto-cjk >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-noto-cjk >/dev/null; }
fi
