#!/usr/bin/env bash
# Wheels of the project and its runtime dependencies (pinned by
# requirements/constraints.txt), built on the host into build/wheels/, which
# the Dockerfile installs from: `docker build` itself needs no network.
#   scripts/build-wheels.sh          prints "built N wheels" or "up to date"
# Skipped when nothing that goes into a wheel changed since the last build
# (hash of pyproject.toml, the constraints, README.md and every file under
# model/, service/ and living_hta_client/).  The project's wheel is built with a fixed
# SOURCE_DATE_EPOCH, so the same sources give the same bytes and Docker's
# layer cache (content-based) stays valid.  The host's Python must be the
# image's minor version (3.11): compiled wheels (NumPy, pandas) are per version.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DEST=build/wheels
STAMP=$DEST/.inputs

inputs_hash() {
    {
        sha256sum "$0" pyproject.toml requirements/constraints.txt README.md
        find model service living_hta_client -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 \
            | sort -z | xargs -0 sha256sum
    } | sha256sum | cut -d' ' -f1
}

want=$(inputs_hash)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    echo "up to date: $(find "$DEST" -name '*.whl' | wc -l) wheels in $DEST"
    exit 0
fi

version=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$version" = "3.11" ] || echo "warning: host Python is $version, the image's is 3.11" >&2

mkdir -p build
tmp=$(mktemp -d build/wheels.tmp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "==> pip wheel: the project and its runtime dependencies into $DEST" >&2
# --no-build-isolation is not used: the project is built with the setuptools
# pyproject.toml asks for, as on any other machine.
# The build backend's deprecation notices go to the log, shown on failure.
SOURCE_DATE_EPOCH=315532800 "$PY" -m pip wheel --progress-bar off \
    -c requirements/constraints.txt --wheel-dir "$tmp" . >build/wheels.log 2>&1 \
    || { echo "error: pip wheel failed; see build/wheels.log" >&2; tail -20 build/wheels.log >&2; exit 1; }
rm -rf "$DEST"
mv "$tmp" "$DEST"
echo "$want" >"$STAMP"
echo "built $(find "$DEST" -name '*.whl' | wc -l) wheels in $DEST"
