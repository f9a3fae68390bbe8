#!/usr/bin/env bash
# Print the base image to build on: OFFICIAL when it can be pulled (or is
# already here), else what the stand-in command prints (it builds the
# stand-in if need be).  Used by scripts/image.sh and scripts/front-image.sh.
#   scripts/choose-base.sh OFFICIAL STAND-IN-COMMAND [ARG...]
set -euo pipefail
official=$1
shift
if timeout 120 docker pull -q "$official" >/dev/null 2>&1 \
    || docker image inspect "$official" >/dev/null 2>&1; then
    echo "$official"
else
    echo "==> $official cannot be pulled here: using a stand-in" >&2
    "$@"
fi
