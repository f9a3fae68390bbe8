#!/usr/bin/env bash
# The stand-in base image, for machines where no image can be pulled: Debian
# bookworm (the release this machine runs, Python 3.11 as in python:3.11-slim)
# with python3 and python3-venv, bootstrapped from Debian's archive and turned
# into an image with `docker import`.
#   scripts/base-image.sh            build if needed; prints the image's tag
# The tag carries a hash of this script (the recipe), so an edit here makes a
# new image and an unchanged recipe costs one `docker image inspect`.  The
# debootstrap tarball is kept in .cache/base-image/, so re-creating a deleted
# image takes seconds, not the ~40 s of a bootstrap.  Needs root (or sudo) for
# debootstrap; DEBIAN_MIRROR overrides the archive.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=bookworm
VARIANT=minbase
INCLUDE=python3,python3-venv
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
REPOSITORY=living-hta-base

RECIPE_HASH=$(sha256sum "$0" | cut -c1-12)
TAG=$REPOSITORY:$SUITE-$RECIPE_HASH
CACHE=.cache/base-image
TARBALL=$CACHE/$SUITE-$VARIANT-$RECIPE_HASH.tar

log() { echo "==> $*" >&2; }

if docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "$TAG"
    exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: debootstrap needs root or sudo" >&2; exit 2; }
    SUDO=sudo
fi

if [ ! -s "$TARBALL" ]; then
    command -v debootstrap >/dev/null \
        || { echo "error: debootstrap not installed (run: make system)" >&2; exit 2; }
    mkdir -p "$CACHE"
    rootfs=$(mktemp -d /tmp/lhta-base-rootfs.XXXXXX)
    trap '$SUDO rm -rf "$rootfs"' EXIT
    log "debootstrap $SUITE ($VARIANT + $INCLUDE) from $MIRROR (~1 min, once)"
    $SUDO debootstrap --variant="$VARIANT" --include="$INCLUDE" "$SUITE" "$rootfs" "$MIRROR" \
        >"$CACHE/debootstrap.log" 2>&1 \
        || { echo "error: debootstrap failed; see $CACHE/debootstrap.log" >&2; tail -5 "$CACHE/debootstrap.log" >&2; exit 1; }
    # What a container never needs: the package cache and lists, docs, man
    # pages and translations (as the official slim images do), and the host's
    # resolv.conf/hostname, which Docker provides at run time.
    $SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
        "$rootfs"/usr/share/locale/* "$rootfs"/var/log/* "$rootfs"/etc/resolv.conf \
        "$rootfs"/etc/hostname
    $SUDO tar --numeric-owner -C "$rootfs" --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* \
        -cf "$TARBALL.partial" .
    $SUDO chown "$(id -u):$(id -g)" "$TARBALL.partial"
    mv "$TARBALL.partial" "$TARBALL"
    # Tarballs of older recipes are dead weight.
    find "$CACHE" -name "$SUITE-$VARIANT-*.tar" ! -name "$(basename "$TARBALL")" -delete
fi

log "docker import $TARBALL as $TAG"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.opencontainers.image.title=\"$REPOSITORY\"" \
    --change "LABEL org.opencontainers.image.description=\"Debian $SUITE $VARIANT + $INCLUDE (stand-in for python:3.11-slim)\"" \
    --change "LABEL io.living-hta.base-recipe=$RECIPE_HASH" \
    --change 'CMD ["python3"]' \
    "$TARBALL" "$TAG" >/dev/null
echo "$TAG"
