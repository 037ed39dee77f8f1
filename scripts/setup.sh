#!/usr/bin/env bash
# Create (or reuse) ./.venv with xlsweep and its test tools. Safe to run again: it skips work already done.
#
# torch is installed first, pinned to 2.13.0 only when the venv has no torch yet: on the project machines
# that version is a CPU build on disk (no download), while a plain `pip install torch` would pull a
# multi-GB CUDA build. A venv that already has a (CUDA) torch keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
    echo "error: xlsweep needs Python >= 3.10; $PYTHON is $("$PYTHON" --version 2>&1)" >&2; exit 2; }

[ -x "$VENV/bin/python" ] || { echo "[setup] creating $VENV"; "$PYTHON" -m venv "$VENV"; }
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

stamp="$VENV/.xlsweep-setup"
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c 'import xlsweep, torch' 2>/dev/null; then
    echo "[setup] $VENV is up to date"
    exit 0
fi
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    echo "[setup] installing torch 2.13.0"
    "${PIP[@]}" install "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
    "$VENV/bin/python" -c 'import torch' 2>/dev/null || { echo "error: torch did not install" >&2; exit 1; }
fi
echo "[setup] installing xlsweep and its dependencies (first time: a few minutes)"
"${PIP[@]}" install -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -c 'import xlsweep.cli, ray.tune, mlflow, higher' || { echo "error: install incomplete" >&2; exit 1; }
echo "$want" > "$stamp"
echo "[setup] done: $VENV"
