"""The front (nginx, front/) in front of the API's image, for tests and benchmarks.

    def test_x(api_image, front_image, tmp_path):
        with front_stack(api_image.tag, front_image, tmp_path) as stack:
            urllib.request.urlopen(stack.https_url + "/health", context=stack.tls_context())

Two containers as the task definition runs them in bridge mode (roles/task):
the API without a host port, the front linked to it as `api`, its HTTPS and
HTTP ports published on free loopback ports.  The certificate comes from a
throwaway CA made with openssl in the test's folder (`stack.ca_file`); it
reaches the container as the environment variables ECS would set from the
secret, never on a command line.  Logs of both containers are saved in the
folder and recorded, with the private key, for the session's secret audit.
The front's image is built once per session by scripts/front-image.sh,
exactly as the front role and `make demo` choose its base.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import secret_audit
from tests.support.image import docker, inspect, unique
from tests.support.locks import exclusive
from tests.support.net import free_port
from tests.support.paths import ROOT
from tests.support.tls import make_certificate


@pytest.fixture(scope="session")
def front_image() -> str:
    with exclusive("front-image"):  # one worker builds, the other finds it cached
        proc = subprocess.run([str(ROOT / "scripts/front-image.sh")], cwd=ROOT, capture_output=True,
                              text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"scripts/front-image.sh failed:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def tls_handshake(port: int, *options: str) -> str:
    """openssl s_client's verdict line: `New, TLSv1.2, Cipher is …` when the
    server accepted, `New, (NONE), Cipher is (NONE)` when it refused.  To
    offer TLS 1.0/1.1 at all, pass `-cipher DEFAULT@SECLEVEL=0`: OpenSSL 3
    refuses them on its own (a test with curl --tls-max 1.1 could not fail)."""
    proc = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *options],
                          input="", capture_output=True, text=True, timeout=20)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("New, ")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-2000:]
    return lines[0]


@dataclass
class Stack:
    https_url: str
    http_url: str
    https_port: int
    http_port: int
    ca_file: Path
    api: str    # container names
    front: str
    private_key: str

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def logs(self, container: str) -> str:
        proc = docker("logs", container, check=False)
        return proc.stdout + proc.stderr

    def exchange(self, raw: bytes, tls: bool = True, wait: float = 10) -> tuple[bytes, float]:
        """Send `raw` as it is (over TLS to the HTTPS port, else to the HTTP
        port) and read until the front closes or `wait` s pass; the answer's
        bytes and the seconds until its first byte."""
        import socket

        sock = socket.create_connection(("127.0.0.1", self.https_port if tls else self.http_port), timeout=wait)
        if tls:
            sock = self.tls_context().wrap_socket(sock, server_hostname="127.0.0.1")
        started, first, answer = time.monotonic(), None, b""
        try:
            sock.sendall(raw)
            while chunk := sock.recv(65536):
                first = first or time.monotonic() - started
                answer += chunk
                if b"\r\n\r\n" in answer and _complete(answer):
                    break
        except (OSError, ssl.SSLError):
            pass
        finally:
            sock.close()
        return answer, first if first is not None else time.monotonic() - started


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def _wait(stack: Stack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(stack.https_url + "/health", timeout=2,
                                        context=stack.tls_context()) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        for name in (stack.api, stack.front):
            state = inspect(name)["State"]
            if not state["Running"]:
                raise RuntimeError(f"container {name} exited ({state['ExitCode']}):\n"
                                   f"{stack.logs(name)[-2000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"{stack.https_url}/health did not answer within {timeout} s")


@contextlib.contextmanager
def front_stack(api_tag: str, front_tag: str, log_dir: Path, api_env: Mapping[str, str],
                front_env: Mapping[str, str] | None = None,
                api_args: tuple[str, ...] = ()) -> Iterator[Stack]:
    """The API and its front, as the task definition runs them; removed on exit.
    The API believes X-Forwarded-For from the bridge network only, as roles/task sets it."""
    api_env = {"TRUSTED_PROXIES": "172.17.0.0/16", **api_env}
    log_dir = Path(log_dir)
    pem = make_certificate(log_dir / "tls")
    https_port, http_port = free_port(), free_port()
    api, front = unique("api"), unique("front")
    private_key = pem["key"].read_text()
    secrets = {"TLS_CERTIFICATE": pem["certificate"].read_text(), "TLS_PRIVATE_KEY": private_key}
    front_variables = {"FRONT_UPSTREAM": "api:8000", "FRONT_PUBLIC_HTTPS_PORT": str(https_port),
                       "FRONT_PUBLIC_HOSTS": "127.0.0.1,localhost", **(front_env or {})}
    logs = [log_dir / f"{api}.log", log_dir / f"{front}.log"]
    audited = secret_audit.record_server(logs, api_env)
    audited |= secret_audit.record_secrets(logs, [line for line in private_key.splitlines()
                                                  if "PRIVATE KEY" not in line])
    stack = Stack(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}",
                  https_port, http_port, pem["ca"], api, front, private_key)
    try:
        # Values reach docker through its environment (`-e NAME`), never argv.
        docker("run", "-d", "--name", api, *[a for k in api_env for a in ("-e", k)], *api_args,
               api_tag, env={**os.environ, **api_env})
        docker("run", "-d", "--name", front, "--link", f"{api}:api", "--stop-timeout", "30",
               "-p", f"127.0.0.1:{https_port}:8443", "-p", f"127.0.0.1:{http_port}:8080",
               *[a for k in [*secrets, *front_variables] for a in ("-e", k)], front_tag,
               env={**os.environ, **secrets, **front_variables})
        _wait(stack)
        yield stack
    finally:
        for name, log in zip((api, front), logs):
            log.write_text(stack.logs(name))
        docker("rm", "-f", front, api, check=False)
        secret_audit.audit(logs, audited)
