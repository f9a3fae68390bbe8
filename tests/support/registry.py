"""A real Docker registry on 127.0.0.1 for tests: Debian's ``docker-registry``.

    def test_push(registry):                 # Registry(host="127.0.0.1:<port>", ...)
        docker tag img {registry.host}/name:tag && docker push ...

    with running_registry(tmp_path, users={"AWS": password}) as registry:
        ...                                  # pushes need `docker login` first

Each registry gets its own config file, storage folder and log under the
given folder, listens on a free loopback port (the Docker daemon treats
127.0.0.0/8 as an insecure registry, so plain HTTP is fine), is waited for
until ``/v2/`` answers, and is stopped (SIGTERM, then SIGKILL) on exit.
``users`` turns on htpasswd (bcrypt) authentication, as ECR requires a login.
On stop, local image tags naming the registry (``<host>/…``) are removed.
This module and ``scripts/registry`` are the only places a registry is started.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.net import free_port

BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
# The Docker password moto's ecr:GetAuthorizationToken hands out (user "AWS")
# for its default account: a registry asking for it behaves like ECR's.
MOTO_ECR_USER, MOTO_ECR_PASSWORD = "AWS", "123456789012-auth-token"
BCRYPT_ROUNDS = 16  # bcrypt's least cost, 2^4 (below)


@dataclass
class Registry:
    host: str  # "127.0.0.1:<port>", as image names spell it
    process: subprocess.Popen
    storage: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def tags(self, repository: str, auth: tuple[str, str] | None = None) -> list[str]:
        """The tags the registry holds for `repository` (its HTTP API, not Docker's)."""
        request = urllib.request.Request(f"{self.url}/v2/{repository}/tags/list")
        if auth:
            import base64

            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response).get("tags") or []
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise


def _bcrypt(password: str) -> str:
    # The registry reads only bcrypt hashes; glibc's crypt(3) (libxcrypt on
    # Debian) makes them, through Python's crypt module (deprecated, present
    # in 3.11 and 3.12, which is all this project runs on).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

    # The registry checks the hash on every request it gets (a push's HEAD of
    # each layer included): at Python's default cost (2^12 rounds) 0.19 s of
    # CPU each here, at the least (2^4) under a millisecond.  The password is
    # moto's published token, on a registry that listens on loopback only.
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=BCRYPT_ROUNDS))
    if not hashed or not hashed.startswith("$2"):
        raise RuntimeError("this system's crypt(3) cannot make bcrypt hashes")
    return hashed


def write_config(folder: Path, port: int, users: Mapping[str, str] | None = None) -> Path:
    """The registry's config (YAML; JSON is valid YAML) in `folder`."""
    storage = folder / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    config: dict = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }
    if users:
        htpasswd = folder / "htpasswd"
        htpasswd.write_text("".join(f"{user}:{_bcrypt(pw)}\n" for user, pw in users.items()))
        htpasswd.chmod(0o600)
        config["auth"] = {"htpasswd": {"realm": "living-hta-test", "path": str(htpasswd)}}
    path = folder / "config.yml"
    path.write_text(json.dumps(config, indent=2))
    return path


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/v2/", timeout=1):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code == 401  # up, and asking for a login
    except OSError:
        return False


def start_registry(folder: Path, users: Mapping[str, str] | None = None) -> Registry:
    """Start a registry on a free loopback port and wait until it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_config(folder, port, users)
    log = folder / "registry.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([BINARY, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)
    registry = Registry(host=f"127.0.0.1:{port}", process=process, storage=folder / "storage", log=log)
    deadline = time.monotonic() + 20
    while not _answers(registry.url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_registry(registry)
            raise RuntimeError(f"docker-registry did not start on {registry.url}:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    return registry


def untag_images_of(registry: Registry) -> None:
    """Remove the local tags naming this registry: useless once it is gone,
    and each test registry has a port of its own."""
    listing = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                             capture_output=True, text=True)
    refs = [ref for ref in listing.stdout.split() if ref.startswith(registry.host + "/")]
    if refs:
        subprocess.run(["docker", "rmi", *refs], capture_output=True)


def stop_registry(registry: Registry) -> None:
    untag_images_of(registry)
    if registry.process.poll() is None:
        registry.process.terminate()
        try:
            registry.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            registry.process.kill()
            registry.process.wait()


@contextlib.contextmanager
def running_registry(folder: Path, users: Mapping[str, str] | None = None) -> Iterator[Registry]:
    registry = start_registry(folder, users)
    try:
        yield registry
    finally:
        stop_registry(registry)


@pytest.fixture
def registry(tmp_path_factory) -> Iterator[Registry]:
    """A registry without authentication, for one test."""
    with running_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="session")
def ecr_like_registry(tmp_path_factory) -> Iterator[Registry]:
    """A registry for the whole session that, like ECR, accepts only the login
    moto's ECR hands out (so a push proves the role's token flow worked)."""
    folder = tmp_path_factory.mktemp("ecr-like-registry")
    with running_registry(folder, users={MOTO_ECR_USER: MOTO_ECR_PASSWORD}) as running:
        yield running


@pytest.fixture(scope="session")
def local_registry(ecr_like_registry) -> str:
    """host:port of `ecr_like_registry`: the image role's `image_registry`."""
    return ecr_like_registry.host
