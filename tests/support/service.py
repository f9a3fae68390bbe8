"""The real service for tests and benchmarks: gunicorn on 127.0.0.1.

    with gunicorn_server(tmp_path, api_keys="k1") as server:
        urllib.request.urlopen(server.url + "/health")
        server.log_lines()          # the JSON request log (stdout)

Started exactly as in the container (`--config python:service.gunicorn_conf
service.wsgi:application`) on a free loopback port, waited for until
/health answers, stopped with SIGTERM (then SIGKILL) on exit.  stdout and
stderr go to files in the given folder, never to pipes that could fill up;
both files and the keys the server was given are recorded with
`tests.support.secret_audit`, whose last test checks no log holds a key.
`app=` serves another WSGI module (test-only apps under tests/support/);
`tls=` ({ca, certificate, key} files: tests/support/tls.py) serves HTTPS
with gunicorn's own TLS, waited for trusting only that CA.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from service.settings import PROCESS_ENV
from tests.support import secret_audit
from tests.support.net import free_port
from tests.support.paths import ROOT

APP = "service.wsgi:application"
GUNICORN = [sys.executable, "-m", "gunicorn", "--config", "python:service.gunicorn_conf", APP]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    stdout: Path
    stderr: Path
    ssl_context: ssl.SSLContext | None = None

    def log_lines(self) -> list[str]:
        return self.stdout.read_text().splitlines()

    def log_entries(self) -> list[dict]:
        """The request log (stdout, without the audit records beside it)."""
        return [e for e in map(json.loads, self.log_lines()) if e.get("log") != "audit"]

    def audit_entries(self, events: tuple[str, ...] = ("end",)) -> list[dict]:
        """The audit records (service/runs.py), on stdout by default: each
        run's end record (its record), or those of `events` (start, killed)."""
        return [e for e in map(json.loads, self.log_lines())
                if e.get("log") == "audit" and e.get("event") in events]

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


def service_env(**overrides: str) -> dict[str, str]:
    """The environment a test server starts with: ours, without keys, with
    the BLAS thread counts and malloc tuning the container sets (Dockerfile ENV)."""
    env = {k: v for k, v in os.environ.items() if k not in ("API_KEYS", "API_KEY_FILE")}
    env = {**PROCESS_ENV, **env}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(overrides)
    return env


@contextlib.contextmanager
def gunicorn_server(folder: Path, startup_timeout: float = 30, app: str = APP,
                    tls: dict[str, Path] | None = None, **env: str):
    """Run gunicorn with the given environment variables (API_KEYS=…, …)."""
    bind = env.setdefault("GUNICORN_BIND", f"127.0.0.1:{free_port()}")  # one loopback address
    if tls is not None:
        env["GUNICORN_CMD_ARGS"] = f"--certfile={tls['certificate']} --keyfile={tls['key']}"
    stdout, stderr = _log_paths(Path(folder))
    keys = secret_audit.record_server([stdout, stderr], env)
    # Appending: whatever else writes to a log (a test planting a line) is kept.
    with open(stdout, "ab") as out, open(stderr, "ab") as err:
        process = subprocess.Popen(GUNICORN[:-1] + [app], cwd=ROOT, env=service_env(**env),
                                   stdout=out, stderr=err, start_new_session=True)
    server = Server(f"{'https' if tls else 'http'}://{bind}", process, stdout, stderr,
                    ssl.create_default_context(cafile=str(tls["ca"])) if tls else None)
    try:
        wait_for_health(server, startup_timeout)
        yield server
    finally:
        stop(process)
        secret_audit.audit([stdout, stderr], keys)  # its logs are complete once it stopped


def _log_paths(folder: Path) -> tuple[Path, Path]:
    """gunicorn.out/.err, numbered when the folder already holds a server's logs
    (each server's own are audited when it stops)."""
    stem, number = "gunicorn", 1
    while (folder / f"{stem}.out").exists() or (folder / f"{stem}.err").exists():
        number += 1
        stem = f"gunicorn-{number}"
    return folder / f"{stem}.out", folder / f"{stem}.err"


def wait_for_health(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {server.process.returncode}: "
                + server.stderr.read_text()[-2000:]
            )
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=1,
                                        context=server.ssl_context) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer on {server.url} within {timeout} s")


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: master and workers
        process.wait(5)
