#!/usr/bin/env bash
# Wheels of the project and its runtime dependencies (pinned by
# requirements/constraints.txt) for the image's platform and Python, into
# build/wheels/, which the Dockerfile installs from: `docker build` itself
# needs no network.
#   scripts/build-wheels.sh                      prints "built N wheels" or "up to date"
#   PLATFORM=linux/arm64 scripts/build-wheels.sh  for an arm64 image (default linux/amd64)
# The project's wheel is pure Python, built here with a fixed
# SOURCE_DATE_EPOCH (the same sources give the same bytes, so Docker's
# content-based layer cache stays valid); the dependencies are the published
# binary wheels for CPython 3.11 on PLATFORM (manylinux), whatever the build
# machine's CPU or Python: an arm64 laptop still builds an x86_64 image's
# wheels.  Skipped when nothing that goes into a wheel changed since the last
# build (hash of PLATFORM, pyproject.toml, the constraints, README.md and
# every file under model/, service/ and living_hta_client/).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
# WHEELS_DIR: somewhere else than the build context (tests).
DEST=${WHEELS_DIR:-build/wheels}
STAMP=$DEST/.inputs
PLATFORM=${PLATFORM:-linux/amd64}
# The image's Python (the base image's: python:3.11-slim, or the Debian stand-in).
IMAGE_PYTHON=3.11
case "$PLATFORM" in
    linux/amd64) arch=x86_64 ;;
    linux/arm64) arch=aarch64 ;;
    *) echo "error: PLATFORM must be linux/amd64 or linux/arm64, got $PLATFORM" >&2; exit 2 ;;
esac

inputs_hash() {
    {
        echo "$PLATFORM"
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

mkdir -p build
tmp=$(mktemp -d build/wheels.tmp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "==> wheels for $PLATFORM, CPython $IMAGE_PYTHON: the project and its runtime dependencies into $DEST" >&2
# The project is built with the setuptools pyproject.toml asks for (build
# isolation), as on any other machine; the build backend's deprecation
# notices go to the log, shown on failure.
SOURCE_DATE_EPOCH=315532800 "$PY" -m pip wheel --no-deps --progress-bar off --wheel-dir "$tmp" . \
    >build/wheels.log 2>&1 \
    || { echo "error: pip wheel failed; see build/wheels.log" >&2; tail -20 build/wheels.log >&2; exit 1; }
# Binary wheels only, for the target: pip never compiles for the build machine.
"$PY" -m pip download --progress-bar off --only-binary=:all: \
    --platform "manylinux_2_28_$arch" --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" \
    --python-version "$IMAGE_PYTHON" --implementation cp --abi "cp${IMAGE_PYTHON/./}" \
    -c requirements/constraints.txt --dest "$tmp" "$tmp"/*.whl >>build/wheels.log 2>&1 \
    || { echo "error: pip download for $PLATFORM failed; see build/wheels.log" >&2; tail -20 build/wheels.log >&2; exit 1; }
rm -rf "$DEST"
mv "$tmp" "$DEST"
echo "$want" >"$STAMP"
echo "built $(find "$DEST" -name '*.whl' | wc -l) wheels for $PLATFORM in $DEST"
