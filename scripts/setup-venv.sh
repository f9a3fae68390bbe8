#!/usr/bin/env bash
# Create .venv and install the project (editable) with its dev/test tools,
# pinned by requirements/constraints.txt so every machine gets the same set.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
echo "==> installing the project and its tools into .venv (first run: ~30 s from the pip cache)"
.venv/bin/python -m pip install --quiet --upgrade pip
# --no-compile: Python compiles each module on its first import instead.  Most
# of what is installed is never imported (the `ansible` package's collections:
# their modules go to the managed host as source), and compiling all of it
# ahead took two thirds of the install (60 of 90 s here).
.venv/bin/python -m pip install --quiet --progress-bar off --no-compile \
    -c requirements/constraints.txt -e ".[dev]"
