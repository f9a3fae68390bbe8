"""The API's Docker image for tests: built once per session, run in containers.

    def test_x(api_image, tmp_path):
        with run_container(api_image.tag, tmp_path, env={"API_KEYS": TEST_KEY}) as box:
            urllib.request.urlopen(box.url + "/health")

`api_image` builds through `scripts/image.sh`, exactly as `make image` does
(base image, wheels and Docker layers all cached), so a second session costs
seconds.  The image it leaves (`living-hta:<version>`, `:latest`) is the build
cache `make image` would leave too; everything a test creates beyond it
(containers, extra tags) is named `lhta-img-*` or lives in a test registry,
and is removed.

The build runs with decoy secrets in its environment (the session's test key
as `API_KEYS`, AWS credentials) and a decoy file in `build/`, so the checks
that no key reaches the image (tests/e2e/test_image.py) are not vacuous.
Container logs are recorded with `tests.support.secret_audit`, whose last
test greps them for the keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import secret_audit
from tests.support.locks import exclusive
from tests.support.paths import ROOT

PREFIX = "lhta-img-"
DECOY_FILE = ROOT / "build" / "lhta-img-decoy.env"


def docker(*args: str, check: bool = True, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} … failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


def unique(kind: str) -> str:
    return f"{PREFIX}{kind}-{secrets.token_hex(4)}"


def inspect(ref: str) -> dict:
    return json.loads(docker("inspect", ref).stdout)[0]


@dataclass
class BuiltImage:
    tag: str
    base: str
    decoys: list[str] = field(repr=False)  # secrets present at build time


@dataclass
class Container:
    name: str
    url: str


@pytest.fixture(scope="session")
def api_image() -> BuiltImage:
    """The image `make image` builds, built (or found in the cache) once."""
    decoys = [
        secret_audit.TEST_KEY,
        "lhta-img-decoy-aws-" + secrets.token_urlsafe(18),
        "lhta-img-decoy-file-" + secrets.token_urlsafe(18),
    ]
    env = {
        **os.environ,
        "API_KEYS": decoys[0],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": decoys[1],
    }
    # One worker builds at a time (the decoy file is shared); the second finds the layers cached.
    with exclusive("api-image"):
        DECOY_FILE.parent.mkdir(exist_ok=True)
        DECOY_FILE.write_text(f"API_KEYS={decoys[2]}\n")
        try:
            base, proc = _build(env)
        finally:
            DECOY_FILE.unlink(missing_ok=True)
    if base.returncode != 0:
        pytest.fail(f"scripts/image.sh --base failed:\n{base.stderr[-3000:]}")
    if proc.returncode != 0:
        pytest.fail(f"scripts/image.sh failed:\n{proc.stderr[-4000:]}")
    return BuiltImage(tag=proc.stdout.strip().splitlines()[-1], base=base.stdout.strip(), decoys=decoys)


def _build(env: Mapping[str, str]) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """scripts/image.sh --base, then scripts/image.sh (unless the first failed)."""
    base = subprocess.run([str(ROOT / "scripts/image.sh"), "--base"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    if base.returncode != 0:
        return base, base
    return base, subprocess.run([str(ROOT / "scripts/image.sh")], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=900)


def wait_healthy(container: Container, timeout: float = 30) -> float:
    """Seconds until GET /health answered 200; fails if the container stops."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(container.url + "/health", timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        state = inspect(container.name)["State"]
        if not state["Running"]:
            logs = docker("logs", container.name, check=False)
            raise RuntimeError(f"container {container.name} exited ({state['ExitCode']}):\n"
                               f"{(logs.stdout + logs.stderr)[-2000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"{container.url}/health did not answer within {timeout} s")


@contextlib.contextmanager
def run_container(image: str, log_dir: Path, env: Mapping[str, str] | None = None,
                  args: Sequence[str] = (), wait: bool = True) -> Iterator[Container]:
    """`docker run -d -p 127.0.0.1:<free port>:8000` with `env`; removed on exit.
    Its logs are saved in `log_dir` and audited for its keys when it stops."""
    env = dict(env or {})
    name = unique("run")
    cmd = ["run", "-d", "--name", name, "-p", "127.0.0.1::8000"]
    for key, value in env.items():
        cmd += ["-e", f"{key}={value}"]
    docker(*cmd, *args, image)
    log = Path(log_dir) / f"{name}.log"
    keys = secret_audit.record_server([log], env)
    try:
        port = docker("port", name, "8000/tcp").stdout.split()[0].rsplit(":", 1)[1]
        container = Container(name=name, url=f"http://127.0.0.1:{port}")
        if wait:
            wait_healthy(container)
        yield container
    finally:
        logs = docker("logs", name, check=False)
        log.write_text(logs.stdout + logs.stderr)
        docker("rm", "-f", name, check=False)
        secret_audit.audit([log], keys)


@pytest.fixture(scope="session")
def images_built_before_any_deploy(api_image, front_image) -> None:
    """The API's and the front's images in Docker's cache before a test
    builds them (the image role, `make demo`, Molecule), built on one worker
    at a time: two builds of one commit that miss the cache at the same
    moment make two different images (layers carry their build time), and
    a worker's redeploy then finds `living-hta:<commit>` retagged by the
    other worker and pushes it again.  Autouse in the deploy and end-to-end
    tiers (their conftest.py)."""
