"""A throwaway CA and a server certificate it signed, made in a test's
folder by scripts/throwaway-ca.sh (the demo's maker too): for servers a
test starts over HTTPS (the report command against gunicorn with TLS, as
`make report` against the demo; the front image in tests/support/front.py).

    files = make_certificate(tmp_path)    # {"ca", "certificate", "key"} PEM files
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.paths import ROOT


def make_certificate(folder: Path, names: tuple[str, ...] = ("IP:127.0.0.1", "DNS:localhost")) -> dict[str, Path]:
    """A CA and a certificate it signed for `names`: {ca, certificate, key} files."""
    subprocess.run([str(ROOT / "scripts/throwaway-ca.sh"), str(folder), *names], check=True,
                   capture_output=True, timeout=60)
    return {name: folder / f"{name}.pem" for name in ("ca", "certificate", "key")}
