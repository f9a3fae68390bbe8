#!/usr/bin/env bash
# Build the API's image (what `make image` runs); prints the tag it built.
#   scripts/image.sh            build; prints e.g. living-hta:1a2b3c4
#   scripts/image.sh --base     only choose (and if need be build) the base; print it
# Base: the official python:3.11-slim when it can be pulled (or is already
# here), otherwise the stand-in from scripts/base-image.sh; BASE_IMAGE
# overrides.  Wheels from scripts/build-wheels.sh.  Tags IMAGE_NAME
# (default living-hta) with the commit (git describe: <sha>, or <sha>-dirty
# with uncommitted changes; IMAGE_TAG overrides) and `latest`.
# PLATFORM (default linux/amd64, what the ECS task definition runs: an x86_64
# instance) is the image's OS/CPU, whatever the build machine's: the base
# image is pulled for it (scripts/choose-base.sh; the stand-in only when
# PLATFORM is this machine's), the wheels are built for it, and the build says it.
set -euo pipefail
cd "$(dirname "$0")/.."
OFFICIAL=python:3.11-slim
IMAGE_NAME=${IMAGE_NAME:-living-hta}
IMAGE_TAG=${IMAGE_TAG:-$(git describe --always --dirty --abbrev=7 --exclude='*' 2>/dev/null || echo dev)}
export PLATFORM=${PLATFORM:-linux/amd64}

log() { echo "==> $*" >&2; }
# Remove the dangling images with this label.  The daemon runs one prune at
# a time and refuses a second ("a prune operation is already running"):
# another build's prune is then doing this one's work, and the build stands.
prune() {
    local said
    said=$(docker image prune -f --filter "$1" 2>&1 >/dev/null) && return 0
    case $said in
        *"prune operation is already running"*) return 0 ;;
    esac
    echo "$said" >&2
    return 1
}

BASE_IMAGE=${BASE_IMAGE:-$(scripts/choose-base.sh "$OFFICIAL" scripts/base-image.sh)}
if [ "${1:-}" = --base ]; then
    echo "$BASE_IMAGE"
    exit 0
fi

scripts/build-wheels.sh >&2

log "docker build ($IMAGE_NAME:$IMAGE_TAG for $PLATFORM on $BASE_IMAGE)"
build_log=$(mktemp /tmp/lhta-image-build.XXXXXX)
trap 'rm -f "$build_log"' EXIT
if ! docker build --platform "$PLATFORM" --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "VCS_REF=$IMAGE_TAG" \
        -t "$IMAGE_NAME:$IMAGE_TAG" -t "$IMAGE_NAME:latest" . >"$build_log" 2>&1; then
    cat "$build_log" >&2
    echo "error: docker build failed" >&2
    exit 1
fi
# The legacy builder leaves each build's first stage as an untagged image:
# keep the current one (tagged, the cache of the next build), drop older
# ones, and images of this Dockerfile whose tags moved on (only untagged
# images with these labels are pruned).
# Builds of uncommitted work are throwaway: untag the older `-dirty` ones
# (commit tags are versions and stay).
docker image ls --format '{{.Repository}}:{{.Tag}}' "$IMAGE_NAME" \
    | grep -e '-dirty$' | grep -vxF "$IMAGE_NAME:$IMAGE_TAG" \
    | xargs -r docker rmi >/dev/null 2>&1 || true
docker build -q --platform "$PLATFORM" --target build --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE_NAME-build:cache" . >/dev/null 2>&1
prune label=io.living-hta.stage=build
prune label=org.opencontainers.image.title=living-hta
log "$(docker image inspect -f '{{.Size}}' "$IMAGE_NAME:$IMAGE_TAG" | awk '{printf "%.0f MB", $1 / 1e6}')"
echo "$IMAGE_NAME:$IMAGE_TAG"
