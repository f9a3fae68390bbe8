#!/usr/bin/env bash
# Print the base image to build on, for PLATFORM (default linux/amd64): OFFICIAL
# when it can be pulled for PLATFORM (or is already here for it), else what
# the stand-in command prints (it builds the stand-in if need be), but only
# when PLATFORM is this machine's own: the stand-ins are built from this
# machine's packages.  Used by scripts/image.sh and scripts/front-image.sh.
#   PLATFORM=linux/arm64 scripts/choose-base.sh OFFICIAL STAND-IN-COMMAND [ARG...]
set -euo pipefail
official=$1
shift
platform=${PLATFORM:-linux/amd64}
host=$(docker version --format '{{.Server.Os}}/{{.Server.Arch}}')
if timeout 120 docker pull -q --platform "$platform" "$official" >/dev/null 2>&1 \
    || [ "$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$official" 2>/dev/null)" = "$platform" ]; then
    echo "$official"
elif [ "$host" = "$platform" ]; then
    echo "==> $official cannot be pulled here: using a stand-in" >&2
    "$@"
else
    echo "error: $official for $platform cannot be pulled, and the stand-in base image" \
         "is built for this machine ($host): set the base image to a $platform image" >&2
    exit 1
fi
