"""The AWS emulator for tests: one moto server per test session.

    def test_something(moto_endpoint):          # "http://127.0.0.1:<port>"
        ec2 = aws_client("ec2", moto_endpoint)

The server runs on a free port on 127.0.0.1 with the AWS managed IAM policies
loaded (``MOTO_IAM_LOAD_MANAGED_POLICIES=true``), is waited for until it
answers, and is stopped at the end of the session.  ``reset(url)`` empties it
(moto's ``/moto-api/reset``) for tests that need a clean account.  This module
and ``scripts/moto-server`` are the only places moto is started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REGION = "eu-west-2"
# moto accepts any credentials; these make sure nothing real is ever used.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
_MOTO_SERVER = Path(sys.executable).with_name("moto_server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/moto-api/", timeout=1):
            return True
    except OSError:
        return False


def start_moto(port: int | None = None, log_path: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start a moto server on 127.0.0.1 and wait until it answers."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **DUMMY_CREDENTIALS, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [str(_MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 20
    while not _answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_moto(proc)
            raise RuntimeError(f"moto server did not start on {url}")
        time.sleep(0.1)
    return proc, url


def stop_moto(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def reset(url: str) -> None:
    """Empty the emulator: every resource in every region is forgotten."""
    req = urllib.request.Request(url + "/moto-api/reset", method="POST")
    with urllib.request.urlopen(req, timeout=10):
        pass


def aws_client(service: str, url: str, region: str = REGION):
    """A boto3 client talking to the emulator at ``url`` (never real AWS)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory) -> str:
    """URL of a moto server running for the whole test session."""
    log_path = tmp_path_factory.mktemp("moto") / "moto-server.log"
    proc, url = start_moto(log_path=log_path)
    try:
        yield url
    finally:
        stop_moto(proc)
