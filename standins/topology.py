"""Where a demo is (ports, names, files) and what differs between the two
topologies: the variables site.yml gets, the files made before it, what is
checked after.  scripts/demo.py runs the steps both share."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .common import REGION, ROOT, DemoError, Emulator, mitogen_strategy, run
from .ecr import Registry
from .ecs import Agent

VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Settings:
    """Where everything of this demo is: ports, names, files (from the environment)."""
    moto_port: int          # the AWS endpoint the demo, its tools and its users talk to
    registry_port: int
    https_port: int
    http_port: int
    prefix: str
    folder: Path
    topology: str

    @classmethod
    def from_env(cls) -> Settings:
        topology = os.environ.get("DEMO_TOPOLOGY", "") or "load_balanced"
        if topology not in TOPOLOGIES:
            raise DemoError(f"DEMO_TOPOLOGY must be one of {', '.join(TOPOLOGIES)}, got {topology!r}")
        folder = Path(os.environ.get("DEMO_DIR", "") or ROOT / ".cache" / "demo")
        return cls(
            moto_port=int(os.environ.get("MOTO_PORT", "5000")),
            registry_port=int(os.environ.get("DEMO_REGISTRY_PORT", "5001")),
            https_port=int(os.environ.get("DEMO_HTTPS_PORT", "8443")),
            http_port=int(os.environ.get("DEMO_HTTP_PORT", "8080")),
            prefix=os.environ.get("DEMO_CONTAINER_PREFIX", "") or "lhta-demo",
            folder=folder if folder.is_absolute() else ROOT / folder,
            topology=topology,
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def registry(self) -> Registry:
        return Registry(f"127.0.0.1:{self.registry_port}")

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def state_file(self) -> Path:
        return self.folder / "standins.json"

    @property
    def log_file(self) -> Path:
        return self.folder / "standins.log"

    def shown(self, path: Path) -> str:
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    # -- moto, behind the stand-ins' endpoint -----------------------------------------
    @property
    def _moto_port_file(self) -> Path:
        return self.folder / "moto-port"

    def moto_env(self) -> dict[str, str] | None:
        """scripts/moto-server's environment (moto's own port), None if the demo never started it."""
        if not self._moto_port_file.exists():
            return None
        return {**os.environ, "MOTO_PORT": self._moto_port_file.read_text().strip()}

    def start_moto(self) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.folder.mkdir(parents=True, exist_ok=True)
        self._moto_port_file.write_text(str(port))
        run(["scripts/moto-server", "start"], env=self.moto_env(), quiet=True, cwd=ROOT)
        return f"http://127.0.0.1:{port}"

    def stop_moto(self) -> None:
        env = self.moto_env()
        if env is not None:
            run(["scripts/moto-server", "stop"], env=env, quiet=True, check=False, cwd=ROOT)
            self._moto_port_file.unlink(missing_ok=True)

    # -- the stand-ins' process ---------------------------------------------------------
    @property
    def _pid_file(self) -> Path:
        return self.folder / "standins.pid"

    def standins_pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def start_standins(self, moto_url: str, lb_image: str) -> None:
        log = open(self.log_file, "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "standins.control", "--endpoint-port", str(self.moto_port),
             "--moto-url", moto_url, "--prefix", self.prefix, "--registry", self.registry.address,
             "--folder", str(self.folder), "--https-port", str(self.https_port),
             "--http-port", str(self.http_port), "--lb-image", lb_image],
            # From the root: -m puts it first on the path (tests/support/aws_proxy.py).
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self._pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.moto_port), timeout=1):
                    return
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise DemoError(f"the stand-ins did not start; see {self.shown(self.log_file)}:\n"
                                    + self.log_file.read_text()[-2000:]) from None
                time.sleep(0.1)

    def stop_standins(self) -> None:
        pid = self.standins_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)

    def aws_env(self) -> dict[str, str]:
        """Environment for every AWS call of the demo: the stand-ins' endpoint, fake keys."""
        return {
            **os.environ,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "REGISTRY_PORT": str(self.registry_port),
            **mitogen_strategy(),
        }

    def aws(self) -> Emulator:
        return Emulator(self.endpoint)

    def agent(self) -> Agent:
        return Agent(self.prefix, self.registry, say=lambda text: print(f"      {text}", flush=True))


class Topology:
    name = ""
    redirect_status = 0
    needs_load_balancer_image = False

    def prepare(self, settings: Settings) -> list[str]:
        """Files made before site.yml; the -e arguments it gets for this topology."""
        raise NotImplementedError

    def what(self) -> str:
        raise NotImplementedError


class Single(Topology):
    """One task, its front on the demo's HTTPS port itself (fixed host
    ports), the self-signed certificate the front role stored."""
    name = "single"
    redirect_status = 308

    def prepare(self, settings: Settings) -> list[str]:
        return ["-e", "api_topology=single", "-e", f"front_ca_file={settings.ca_file}",
                "-e", f"task_https_host_port={settings.https_port}", "-e", f"task_host_port={settings.http_port}"]

    def what(self) -> str:
        return "ECR, images, security group, ECS cluster, certificate, task, service"


class LoadBalanced(Topology):
    """desiredCount tasks on dynamic host ports behind HAProxy standing in
    for the ALB, a throwaway CA's certificate imported into ACM."""
    name = "load_balanced"
    redirect_status = 301
    needs_load_balancer_image = True

    def prepare(self, settings: Settings) -> list[str]:
        certificate, private_key = settings.folder / "certificate.pem", settings.folder / "key.pem"
        if not (certificate.exists() and private_key.exists() and settings.ca_file.exists()):
            run(["scripts/throwaway-ca.sh", str(settings.folder), "IP:127.0.0.1", "DNS:localhost"],
                env={**os.environ, "CERT_DAYS": "30"}, quiet=True, cwd=ROOT)
        return ["-e", "api_topology=load_balanced", "-e", "load_balancer_certificate=imported",
                "-e", f"load_balancer_certificate_file={certificate}",
                "-e", f"load_balancer_private_key_file={private_key}",
                # The fronts' own certificate (the load balancer does not check it, as on AWS).
                "-e", f"front_ca_file={settings.folder / 'front-ca.pem'}",
                # Health checks as often as an ALB may (every 5 s, its minimum; the
                # role's default is 15 s): a new task takes requests ~10 s after
                # it is up, not ~30 s.  The load balancer here reads it back.
                "-e", "load_balancer_health_check_interval=5", "-e", "load_balancer_health_check_timeout=4"]

    def what(self) -> str:
        return "ECR, images, ECS cluster, certificate in ACM, load balancer, task, service"


TOPOLOGIES = {t.name: t for t in (LoadBalanced(), Single())}
