#!/usr/bin/env bash
# Debian packages the tests and the demo need: R with httr/jsonlite/readr
# (the original's R client), docker-registry (a real registry to push to on
# 127.0.0.1), debootstrap (the stand-in base image), wrk (load generator),
# chromium and chromium-driver (the analyst's page's browser test, headless),
# poppler-utils (pdftoppm, pdftotext: the report's PDF print test).
# Installs only what is missing, so a second run costs a few dpkg queries.
#   scripts/setup-system.sh          everything the tests need
#   scripts/setup-system.sh demo     only what `make demo` needs
set -euo pipefail
PACKAGES=(debootstrap docker-registry)
if [ "${1:-all}" != demo ]; then
    PACKAGES+=(wrk r-base-core r-cran-httr r-cran-jsonlite r-cran-readr chromium chromium-driver poppler-utils)
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 2; }
    SUDO=sudo
fi
echo "==> installing Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the registry as a system service on :5000 (moto's port); the
# tests start their own registry on a free port, so stop the packaged one.
if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
    $SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true
