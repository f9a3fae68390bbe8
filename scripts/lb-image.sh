#!/usr/bin/env bash
# The demo's stand-in for the Application Load Balancer: Debian's HAProxy
# (2.6, bookworm) on the project's Debian base (scripts/base-image.sh, cached).
#   scripts/lb-image.sh          build if needed; prints the image's tag
# An image rather than the host's haproxy package: nothing is installed or
# started as a system service on the host, `make demo-down` removes it with
# the task's containers, and it costs one `apt-get install` (~10 s), once.
# The tag carries a hash of this script and of the base it starts from: an
# unchanged pair costs one `docker image inspect`.  scripts/demo.py writes the
# configuration (from the listeners and target group read back from the
# emulator) and runs it with the host's network, on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

base=$(scripts/base-image.sh)
recipe=$( (sha256sum "$0"; echo "$base") | sha256sum | cut -c1-12)
tag=living-hta-lb:bookworm-$recipe
if ! docker image inspect "$tag" >/dev/null 2>&1; then
    echo "==> building $tag (Debian's haproxy on $base)" >&2
    # Host networking: the build reaches Debian's archive the way debootstrap did.
    said=$(docker build -q --network host -t "$tag" \
        --label org.opencontainers.image.title=living-hta-lb \
        --label "org.opencontainers.image.description=Debian bookworm haproxy (the demo's load balancer)" \
        - 2>&1 <<DOCKERFILE
FROM $base
RUN echo "deb $MIRROR bookworm main" >/etc/apt/sources.list \\
 && apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null \\
 && rm -rf /var/lib/apt/lists/*
# SIGUSR1: HAProxy's soft stop (stop listening, finish the connections in flight).
STOPSIGNAL SIGUSR1
ENTRYPOINT ["haproxy", "-db"]
DOCKERFILE
    ) || { echo "$said" >&2; echo "error: docker build of $tag failed" >&2; exit 1; }
fi
echo "$tag"
