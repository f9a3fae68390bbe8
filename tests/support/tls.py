"""A throwaway CA and a server certificate it signed, made with openssl in
a test's folder: for servers a test starts over HTTPS (the report command
against gunicorn with TLS, as `make report` against the demo's front;
the front image in tests/support/front.py).

    files = make_certificate(tmp_path)    # {"ca", "certificate", "key"} PEM files
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_certificate(folder: Path, names: tuple[str, ...] = ("IP:127.0.0.1", "DNS:localhost")) -> dict[str, Path]:
    """A CA and a certificate it signed for `names`: {ca, certificate, key} files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / f"{name}.pem" for name in ("ca", "ca_key", "certificate", "key")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", str(files["ca_key"]), "-out", str(files["ca"]), "-days", "2",
        "-subj", "/CN=living-hta test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")
    csr = folder / "server.csr"
    run("req", *ec, "-keyout", str(files["key"]), "-out", str(csr), "-subj", "/CN=localhost")
    extensions = folder / "server.ext"
    extensions.write_text(f"subjectAltName={','.join(names)}\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(files["ca"]), "-CAkey", str(files["ca_key"]),
        "-CAcreateserial", "-out", str(files["certificate"]), "-days", "1", "-extfile", str(extensions))
    files["ca_key"].unlink()
    return files
