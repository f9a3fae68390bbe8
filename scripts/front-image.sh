#!/usr/bin/env bash
# Build the front's image (front/Dockerfile); prints the tag it built.
#   scripts/front-image.sh          build; prints e.g. living-hta-front:1a2b3c4
#   scripts/front-image.sh --base   only choose (and if need be build) the base; print it
#   scripts/front-image.sh --standin  only build (if need be) the stand-in base; print it
# Base: the official nginx:stable when it can be pulled (or is already here),
# otherwise a stand-in: Debian's nginx (nginx-light, 1.22) installed on the
# API's stand-in base (scripts/base-image.sh, cached), so it costs one
# `apt-get install` (~10 s), once.  FRONT_BASE_IMAGE overrides.  Tags
# FRONT_IMAGE_NAME (default living-hta-front) with the commit as
# scripts/image.sh does, and `latest`.  PLATFORM (default linux/amd64) is the
# image's OS/CPU, as for scripts/image.sh: scripts/choose-base.sh pulls the
# base for it (the stand-in only when PLATFORM is this machine's).
set -euo pipefail
cd "$(dirname "$0")/.."
OFFICIAL=nginx:stable
IMAGE_NAME=${FRONT_IMAGE_NAME:-living-hta-front}
IMAGE_TAG=${IMAGE_TAG:-$(git describe --always --dirty --abbrev=7 --exclude='*' 2>/dev/null || echo dev)}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export PLATFORM=${PLATFORM:-linux/amd64}

log() { echo "==> $*" >&2; }
# Run a command silently; show what it said only if it fails.
quietly() {
    local said
    said=$("$@" 2>&1 </dev/stdin) || { echo "$said" >&2; echo "error: $1 $2 failed" >&2; return 1; }
}

standin() {
    local base recipe tag
    base=$(scripts/base-image.sh)
    # The tag names this script and the base it starts from: a change to
    # either makes a new stand-in, an unchanged pair costs one inspect.
    recipe=$( (sha256sum "$0"; echo "$base") | sha256sum | cut -c1-12)
    tag=living-hta-front-base:bookworm-$recipe
    if ! docker image inspect "$tag" >/dev/null 2>&1; then
        log "building the stand-in $tag (Debian's nginx on $base)"
        # Host networking: the build reaches Debian's archive the way
        # debootstrap did.  nginx's log files are the container's output.
        quietly docker build -q --network host -t "$tag" \
            --label org.opencontainers.image.title=living-hta-front-base \
            --label "org.opencontainers.image.description=Debian bookworm nginx-light (stand-in for $OFFICIAL)" \
            - <<DOCKERFILE
FROM $base
RUN echo "deb $MIRROR bookworm main" >/etc/apt/sources.list \\
 && apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* /var/log/nginx/* \\
 && ln -s /dev/stdout /var/log/nginx/access.log && ln -s /dev/stderr /var/log/nginx/error.log
CMD ["nginx", "-g", "daemon off;"]
DOCKERFILE
    fi
    echo "$tag"
}

if [ "${1:-}" = --standin ]; then
    standin
    exit 0
fi
FRONT_BASE_IMAGE=${FRONT_BASE_IMAGE:-$(scripts/choose-base.sh "$OFFICIAL" "$0" --standin)}
if [ "${1:-}" = --base ]; then
    echo "$FRONT_BASE_IMAGE"
    exit 0
fi

log "docker build ($IMAGE_NAME:$IMAGE_TAG for $PLATFORM on $FRONT_BASE_IMAGE)"
quietly docker build -q --platform "$PLATFORM" --build-arg "BASE_IMAGE=$FRONT_BASE_IMAGE" --build-arg "VCS_REF=$IMAGE_TAG" \
    -t "$IMAGE_NAME:$IMAGE_TAG" -t "$IMAGE_NAME:latest" front
docker image ls --format '{{.Repository}}:{{.Tag}}' "$IMAGE_NAME" \
    | grep -e '-dirty$' | grep -vxF "$IMAGE_NAME:$IMAGE_TAG" \
    | xargs -r docker rmi >/dev/null 2>&1 || true
echo "$IMAGE_NAME:$IMAGE_TAG"
