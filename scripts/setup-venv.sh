#!/usr/bin/env bash
# Create .venv and install the project (editable) with its dev/test tools,
# pinned by requirements/constraints.txt so every machine gets the same set.
#
# The installer is uv (pinned there too, installed into .venv by pip): the
# same packages as pip installs, in a third of the time (a fresh clone's
# whole set-up, the venv included: 9-11 s of CPU against pip's 15-30 here,
# bench/RESULTS.md "Test suite"), and each fresh clone of the tests sets
# itself up.  uv reads its own settings, not pip's: behind a
# package mirror, set UV_INDEX_URL (or UV_DEFAULT_INDEX) as well as pip's.
# Where uv cannot be installed or fails, pip installs the same set.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
echo "==> installing the project and its tools into .venv (~10 s from the cache)"
# Neither installer compiles the modules ahead: Python compiles each on its
# first import.  Most of what is installed is never imported (the `ansible`
# package's collections: their modules go to the managed host as source),
# and compiling all of it ahead took two thirds of pip's install (60 of 90 s).
# The installers' chatter (setuptools warns about every editable install)
# goes to a log, shown only when the install fails.
log=.venv/setup.log
with_uv() {
    .venv/bin/python -m pip install --quiet --progress-bar off \
        "$(grep '^uv==' requirements/constraints.txt)" &&
    .venv/bin/uv pip install --quiet --python .venv/bin/python \
        -c requirements/constraints.txt --upgrade-package pip pip -e ".[dev]"
}
with_pip() {
    .venv/bin/python -m pip install --quiet --upgrade pip &&
    .venv/bin/python -m pip install --quiet --progress-bar off --no-compile \
        -c requirements/constraints.txt -e ".[dev]"
}
if ! with_uv >"$log" 2>&1; then
    echo "    uv could not install the set (its log: $log.uv); pip installs it" >&2
    mv "$log" "$log.uv"
    if ! with_pip >"$log" 2>&1; then
        cat "$log" >&2
        echo "error: installing into .venv failed (log above, also in $log)" >&2
        exit 1
    fi
fi
