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
# --no-compile: Python compiles each module on its first import instead.  Most
# of what is installed is never imported (the `ansible` package's collections:
# their modules go to the managed host as source), and compiling all of it
# ahead took two thirds of the install (60 of 90 s here).
# pip's and the build backend's chatter (setuptools warns about every
# editable install) goes to a log, shown only when the install fails.
log=.venv/setup.log
if ! { .venv/bin/python -m pip install --quiet --upgrade pip &&
       .venv/bin/python -m pip install --quiet --progress-bar off --no-compile \
           -c requirements/constraints.txt -e ".[dev]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "error: installing into .venv failed (log above, also in $log)" >&2
    exit 1
fi
