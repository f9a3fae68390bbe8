"""The main job: deploy the whole stack locally and call it as the tutorial does.

    .venv/bin/python scripts/demo.py up        # what `make demo` runs
    .venv/bin/python scripts/demo.py down      # what `make demo-down` runs
    .venv/bin/python scripts/demo.py status    # the replicas and the load balancer's targets
    .venv/bin/python scripts/demo.py stop-replica N   # stop replica N as ECS stops a task
    .venv/bin/python scripts/demo.py roll      # a rolling restart, as an ECS deployment

`up` starts the AWS stand-in (moto) and a local registry on 127.0.0.1 and
runs ``ansible-playbook site.yml -i inventory/local``, then runs on this
machine what AWS would run, configured from what was deployed (read back
from the emulator).  Two topologies (DEMO_TOPOLOGY):

load_balanced (the default): a throwaway CA and a certificate for
127.0.0.1/localhost are made and imported into ACM by the deploy (the CA
goes to .cache/demo/ca.pem); the service's task runs desiredCount times
(each replica: the API, and its TLS front on an ephemeral port, as ECS's
dynamic host ports), behind HAProxy standing in for the Application Load
Balancer (scripts/local_alb.py): its 443 listener on
https://127.0.0.1:8443 with the certificate read back from ACM and the
listener's SSL policy, its 80 listener's redirect on http://127.0.0.1:8080,
the target group's health check, the deregistration delay as drain time.

single (part 1's): one task, its front on https://127.0.0.1:8443 with the
self-signed certificate the front role stored in Secrets Manager (its CA
written to .cache/demo/ca.pem), http://127.0.0.1:8080 redirecting.

Then it checks the TLS handshake trusting only that CA and calls the API as
the tutorial does.  `down` tears the stack down with the teardown playbook
and stops everything `up` started; it is safe to run twice.

Ports and names, from the environment (tests use free ports and their own
prefix): MOTO_PORT (5000), DEMO_REGISTRY_PORT (5001), DEMO_HTTPS_PORT
(8443), DEMO_HTTP_PORT (8080), DEMO_CONTAINER_PREFIX (lhta-demo: containers
are <prefix>-[<replica>-]<name in the task definition>, <prefix>-lb),
DEMO_DIR (.cache/demo: CA, certificate, load balancer configuration),
DEMO_TOPOLOGY (load_balanced).  DEMO_API_KEY: the key (else one is made).

Nothing here is used on real AWS: there, ECS runs the tasks and the ALB is
AWS's (README, "Deploying to AWS").
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from local_alb import HAProxy, check_certificate, deployed_load_balancer, fingerprint
from local_ecs import Agent, DemoError, deployed_task, run

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
TOPOLOGIES = ("load_balanced", "single")
# The tutorial R client's parameter updates (API.md).
TUTORIAL_UPDATES = [
    {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
    {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 100},
]
REGION = "eu-west-2"


class Emulator:
    """boto3 clients on the emulator, with fake keys (never real AWS)."""

    def __init__(self, endpoint: str):
        import boto3

        self.endpoint = endpoint
        self.session = boto3.Session(region_name=REGION, aws_access_key_id="testing",
                                     aws_secret_access_key="testing", aws_session_token="testing")

    def client(self, name: str):
        return self.session.client(name, endpoint_url=self.endpoint)


@dataclass(frozen=True)
class Settings:
    """Where everything of this demo is: ports, names, files (from the environment)."""
    moto_port: int
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
    def registry(self) -> str:
        return f"127.0.0.1:{self.registry_port}"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    def shown(self, path: Path) -> str:
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    def aws_env(self) -> dict[str, str]:
        """Environment for every AWS call of the demo: the emulator, fake keys."""
        return {
            **os.environ,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "MOTO_PORT": str(self.moto_port),
            "REGISTRY_PORT": str(self.registry_port),
        }

    def aws(self) -> Emulator:
        return Emulator(self.endpoint)

    def agent(self) -> Agent:
        return Agent(self.prefix, self.registry, say=lambda text: print(f"      {text}", flush=True))

    def load_balancer(self, image: str = "") -> HAProxy:
        return HAProxy(self.folder / "lb", f"{self.prefix}-lb", image, self.prefix)


class Steps:
    def __init__(self, total: int):
        self.total, self.number = total, 0

    def __call__(self, text: str) -> float:
        self.number += 1
        print(f"\n[{self.number}/{self.total}] {text}", flush=True)
        return time.monotonic()


def done(started: float, text: str = "done") -> None:
    print(f"      {text} ({time.monotonic() - started:.1f} s)", flush=True)


def playbook(path: str, env: dict[str, str], *extra: str) -> None:
    """ansible-playbook, showing each task that ran (not the skipped ones)
    with its outcome as progress; the whole output only if it fails."""
    cmd = [str(VENV_BIN / "ansible-playbook"), path, "-i", "inventory/local", *extra]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    lines, task = [], None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("TASK ["):
            task = line[len("TASK ["):].split("]", 1)[0]
        elif task and line.startswith(("ok:", "changed:", "fatal:", "failed:")):
            outcome = line.split(":", 1)[0]
            print(f"      {outcome:<8} {task}", flush=True)
            task = None
        elif line.startswith("localhost") and "changed=" in line:
            print("      " + " ".join(line.split()[2:]), flush=True)
    if proc.wait() != 0:
        print("".join(lines[-60:]), file=sys.stderr)
        raise DemoError(f"ansible-playbook {path} failed (exit {proc.returncode})")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http(settings: Settings, method: str, path: str, key: str | None = None, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30, url: str | None = None):
    """(status, headers, body) of a request to the demo's API on 127.0.0.1,
    over HTTPS trusting only the demo's CA; redirects are not followed."""
    req = urllib.request.Request((url or settings.url) + path, data=body, method=method, headers=headers or {})
    if key is not None:
        req.add_header("key", key)
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(settings.ca_file))),
        _NoRedirect)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def api_key() -> tuple[str, bool]:
    given = os.environ.get("DEMO_API_KEY", "")
    if given:
        return given, False
    return secrets.token_urlsafe(24), True


def describe_task(task: dict) -> None:
    service = task["service"]
    print(f"      cluster {task['cluster']}, service {service['serviceName']}, "
          f"desired count {service['desiredCount']}")
    for container in task["containers"]:
        ports = ", ".join(f"{m.get('hostPort') or 'dynamic'}→{m['containerPort']}"
                          for m in container["portMappings"])
        print(f"      {container['name']:<6} {container['image']}")
        print(f"             {container['memory']} MiB hard limit; ports {ports or 'none on the host'}; "
              f"stop timeout {container.get('stopTimeout', '-')} s"
              + "".join(f"; after {d['containerName']} is {d['condition']}"
                        for d in container.get("dependsOn", [])))
        for secret in container.get("secrets", []):
            print(f"             secret {secret['name']} from {secret['valueFrom']}")


def check_tls(settings: Settings) -> str:
    """The handshake on the HTTPS address, trusting only the demo's CA:
    the served certificate's SHA-256 fingerprint."""
    context = ssl.create_default_context(cafile=str(settings.ca_file))
    with socket.create_connection(("127.0.0.1", settings.https_port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        print(f"      {tls.version()} {tls.cipher()[0]}, certificate for "
              + ", ".join(v for _, v in tls.getpeercert().get("subjectAltName", ())))
        return ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True))


def call_like_the_tutorial(settings: Settings, key: str, redirect_status: int) -> None:
    status, headers, _ = http(settings, "GET", "/health?from=tutorial", url=settings.http_url)
    print(f"      GET  {settings.http_url}/health?from=tutorial → {status} Location: {headers.get('Location')}")
    if status != redirect_status or headers.get("Location") != f"{settings.url}/health?from=tutorial":
        raise DemoError(f"expected a {redirect_status} redirect to {settings.url}/health?from=tutorial, got {status}")
    status, _, body = http(settings, "GET", "/health")
    print(f"      GET  /health                      → {status} {body.decode()[:60]}")
    status, _, body = http(settings, "GET", "/paper")
    print(f"      GET  /paper                       → {status} {body.decode()}")
    status, headers, body = http(
        settings, "POST", "/runDARTHmodel", key=key,
        body=json.dumps({"param_updates": TUTORIAL_UPDATES}).encode(),
        headers={"Content-Type": "application/json", "Accept": "text/csv"},
    )
    lines = body.decode().splitlines()
    if status != 200 or len(lines) != 1001 or len(lines[0].split(",")) != 6:
        raise DemoError(f"the model run answered {status}: {body[:300]!r}")
    print(f"      POST /runDARTHmodel (with key)    → {status} "
          f"{headers.get('Content-Type')}: {len(lines) - 1} rows × 6 columns")
    print(f"           {lines[0]}")
    print(f"           {lines[1]}")
    status, _, body = http(settings, "POST", "/runDARTHmodel")
    print(f"      POST /runDARTHmodel (no key)      → {status} {json.loads(body)['error'][:60]}…")
    if status != 401:
        raise DemoError(f"expected 401 without a key, got {status}")
    status, _, body = http(settings, "POST", "/runDARTHmodel", key="not-the-key")
    print(f"      POST /runDARTHmodel (wrong key)   → {status} {json.loads(body)['error'][:60]}…")
    if status != 403:
        raise DemoError(f"expected 403 with a wrong key, got {status}")


def start_replicas(settings: Settings, task: dict, numbers: list[int]) -> list:
    """Replicas of the task started side by side (ECS starts a service's
    tasks in parallel), each healthy by its containers' own checks."""
    agent = settings.agent()
    with ThreadPoolExecutor(max_workers=len(numbers)) as pool:
        return list(pool.map(lambda n: agent.run_task(task, n), numbers))


def up() -> int:
    started_all = time.monotonic()
    settings = Settings.from_env()
    balanced = settings.topology == "load_balanced"
    env = settings.aws_env()
    key, generated = api_key()
    step = Steps(9 if balanced else 7)

    t = step("Set-up: Debian packages, stand-in base images where no image can be pulled")
    run(["scripts/setup-system.sh", "demo"], cwd=ROOT)
    base = run(["scripts/image.sh", "--base"], quiet=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    front_base = run(["scripts/front-image.sh", "--base"], quiet=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    lb_image = None
    if balanced:
        # Built (once) while the playbook runs: it is needed only after it.
        lb_image = subprocess.Popen(["scripts/lb-image.sh"], cwd=ROOT, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    done(t, f"base images: {base} (API), {front_base} (front)")

    t = step(f"AWS stand-in (moto) on {settings.endpoint} and a registry standing in for ECR on {settings.registry}")
    run(["scripts/moto-server", "start"], env=env, quiet=True, cwd=ROOT)
    run(["scripts/registry", "start"], env=env, quiet=True, cwd=ROOT)
    done(t)

    settings.folder.mkdir(parents=True, exist_ok=True)
    extra = ["-e", f"image_registry={settings.registry}"]
    if balanced:
        t = step("A throwaway CA and a certificate for 127.0.0.1 and localhost (imported into ACM by the deploy)")
        run(["scripts/throwaway-ca.sh", str(settings.folder), "IP:127.0.0.1", "DNS:localhost"],
            env={**os.environ, "CERT_DAYS": "30"}, quiet=True, cwd=ROOT)
        certificate, private_key = settings.folder / "certificate.pem", settings.folder / "key.pem"
        done(t, f"CA {settings.shown(settings.ca_file)}, certificate {settings.shown(certificate)}")
        extra += ["-e", "api_topology=load_balanced", "-e", "load_balancer_certificate=imported",
                  "-e", f"load_balancer_certificate_file={certificate}",
                  "-e", f"load_balancer_private_key_file={private_key}",
                  # The fronts' own certificate (the load balancer does not check it, as on AWS).
                  "-e", f"front_ca_file={settings.folder / 'front-ca.pem'}",
                  # Health checks as often as an ALB may (every 5 s, its minimum; the
                  # role's default is 15 s): a new replica takes requests ~10 s after
                  # it is up, not ~30 s.  The load balancer here reads it back.
                  "-e", "load_balancer_health_check_interval=5", "-e", "load_balancer_health_check_timeout=4"]
        what = "ECR, images, ECS cluster, certificate in ACM, load balancer, task, service"
    else:
        extra += ["-e", "api_topology=single", "-e", f"front_ca_file={settings.ca_file}",
                  "-e", f"task_https_host_port={settings.https_port}", "-e", f"task_host_port={settings.http_port}"]
        what = "ECR, images, security group, ECS cluster, certificate, task, service"

    t = step(f"ansible-playbook site.yml -i inventory/local -e api_topology={settings.topology}  ({what})")
    playbook("site.yml", {**env, "API_KEY": key}, *extra)
    done(t)

    t = step("Read what was deployed back from the emulator")
    aws = settings.aws()
    task = deployed_task(aws)
    describe_task(task)
    alb = None
    if balanced:
        alb = deployed_load_balancer(aws, task["service"])
        group = alb.target_group
        served = check_certificate(alb, certificate, private_key)
        print(f"      load balancer {alb.name}: HTTPS {alb.https_port} ({alb.ssl_policy}: "
              f"{', '.join(alb.tls_versions)}), HTTP {alb.redirect['ListenerPort']} → "
              f"{alb.redirect['StatusCode']} to {alb.redirect.get('Protocol')}:{alb.redirect.get('Port')}")
        print(f"      certificate {alb.certificate_arn}: the demo's (SHA-256 {served[:16]}…)")
        print(f"      target group {group.name}: {group.protocol} to {group.container_name}:{group.container_port}, "
              f"deregistration delay {group.deregistration_delay} s")
        print(f"      health check {group.health.describe()}")
    done(t)

    agent = settings.agent()
    if balanced:
        desired = int(task["service"]["desiredCount"])
        t = step(f"Run the task {desired} times (its desired count) from the pushed images as ECS would, "
                 "each front on an ephemeral port of 127.0.0.1")
        agent.remove_all()
        agent.pull(task)
        replicas = start_replicas(settings, task, list(range(1, desired + 1)))
        done(t)

        t = step(f"The load balancer: HAProxy on {settings.url} (listener {alb.https_port}) and "
                 f"{settings.http_url} (listener {alb.redirect['ListenerPort']})")
        said, _ = lb_image.communicate()
        if lb_image.returncode != 0:
            raise DemoError(f"scripts/lb-image.sh failed:\n{said[-3000:]}")
        lb = settings.load_balancer(said.strip().splitlines()[-1])
        # Room for every replica twice over: a rolling restart adds before it removes.
        lb.start(alb, private_key, settings.https_port, settings.http_port, slots=2 * desired + 2)
        slots = {replica.number: lb.register(replica.ports[group.container_name, group.container_port])
                 for replica in replicas}
        waited = lb.wait_healthy(list(slots.values()), timeout=_health_timeout(alb))
        for number, slot in slots.items():
            print(f"      replica {number} registered as target {slot}")
        done(t, f"every target healthy after {waited:.1f} s")
    else:
        t = step(f"Run the task's containers from the pushed images as ECS would, on {settings.url}")
        agent.remove_all()
        agent.pull(task)
        agent.run_task(task)
        done(t)

    t = step(f"Check the TLS handshake, trusting only the CA in {settings.shown(settings.ca_file)}")
    served = check_tls(settings)
    if balanced and fingerprint(served) != fingerprint(alb.certificate):
        raise DemoError("the load balancer serves another certificate than the listener's in ACM")
    done(t)

    t = step("Call the API as the tutorial does")
    call_like_the_tutorial(settings, task["key"], 301 if balanced else 308)
    done(t)

    ca = settings.shown(settings.ca_file)
    shown_key = "$DEMO_API_KEY" if not generated else task["key"]
    behind = (f"{len(replicas)} replicas behind the load balancer; `scripts/demo.py status`, "
              "`stop-replica N`, `roll`" if balanced else "one task")
    print(f"""
The API is up (all in {time.monotonic() - started_all:.0f} s; {settings.topology}: {behind}):
  URL          {settings.url}   ({settings.http_url} redirects there)
  CA           {ca}   (the CA of the {'throwaway' if balanced else 'self-signed'} certificate: trust it, nothing else)
  Swagger UI   {settings.url}/__docs__/
  API key      {task['key'] if generated else '(from $DEMO_API_KEY)'}

Try it:
  curl -s --cacert {ca} -X POST '{settings.url}/runDARTHmodel' -H 'key: {shown_key}' \\
       -H 'Content-Type: application/json' \\
       -d '{{"param_updates": [{{"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150}}]}}' | head -3

Stop everything with: make demo-down""")
    return 0


def _health_timeout(alb) -> float:
    """How long a new target may take to turn healthy: the checks it needs, and some."""
    health = alb.target_group.health
    return (health.healthy + 1) * (health.interval + health.timeout) + 10


def _running(settings: Settings):
    """The deployment (re-read from the emulator, as ECS keeps reading it),
    the load balancer and the replicas running now."""
    status = run(["scripts/moto-server", "status"], env=settings.aws_env(), quiet=True, check=False, cwd=ROOT)
    if status.returncode != 0:
        raise DemoError("the demo is not running (`make demo` first)")
    aws = settings.aws()
    task = deployed_task(aws)
    alb = deployed_load_balancer(aws, task["service"])
    lb = settings.load_balancer()
    if not lb.socket.exists():
        raise DemoError(f"the load balancer is not running (no {lb.socket})")
    return task, alb, lb, settings.agent().replicas(task)


def _retire(settings: Settings, task: dict, alb, lb: HAProxy, replica) -> None:
    """Stop one replica as ECS stops a task behind a load balancer:
    deregister its target (drain: no new request, those in flight finish,
    for at most the deregistration delay), then stop its containers."""
    group = alb.target_group
    slot = lb.slot_of(replica.ports[group.container_name, group.container_port])
    if slot is not None:
        waited, in_flight = lb.drain(slot, group.deregistration_delay)
        print(f"      replica {replica.number}: target {slot} drained in {waited:.1f} s"
              + (f" ({in_flight} requests still in flight at the deregistration delay)" if in_flight else ""),
              flush=True)
    stopped = settings.agent().stop_replica(replica, task)
    if slot is not None:
        lb.remove(slot)
    print(f"      replica {replica.number}: stopped in {stopped:.1f} s", flush=True)


def stop_replica(number: int) -> int:
    settings = Settings.from_env()
    task, alb, lb, replicas = _running(settings)
    replica = next((r for r in replicas if r.number == number), None)
    if replica is None:
        raise DemoError(f"no running replica {number} (running: {', '.join(str(r.number) for r in replicas) or 'none'})")
    _retire(settings, task, alb, lb, replica)
    print(f"Replica {number} is stopped; {len(replicas) - 1} left. (ECS would start a replacement: "
          "`scripts/demo.py roll` brings the service back to its desired count.)")
    return 0


def roll() -> int:
    """A rolling restart as ECS deploys with minimumHealthyPercent 100: for
    each old replica, a new one is started and healthy in the load balancer
    before the old one is drained and stopped; replicas missing from the
    desired count are added."""
    settings = Settings.from_env()
    task, alb, lb, old = _running(settings)
    group, agent = alb.target_group, settings.agent()
    desired = int(task["service"]["desiredCount"])
    started = time.monotonic()
    for index in range(max(desired, len(old))):
        if index < desired:
            number = agent.next_number()
            replica = agent.run_task(task, number)
            slot = lb.register(replica.ports[group.container_name, group.container_port])
            waited = lb.wait_healthy([slot], timeout=_health_timeout(alb))
            print(f"      replica {number}: target {slot} healthy in the load balancer after {waited:.1f} s",
                  flush=True)
        if index < len(old):
            _retire(settings, task, alb, lb, old[index])
    print(f"Rolled {len(old)} replica(s) to {desired} new one(s) in {time.monotonic() - started:.0f} s.")
    return 0


def status() -> int:
    settings = Settings.from_env()
    task, alb, lb, replicas = _running(settings)
    group = alb.target_group
    by_address = {row["addr"]: (slot, row) for slot, row in lb.servers().items()}
    for replica in replicas:
        port = replica.ports[group.container_name, group.container_port]
        slot, row = by_address.get(f"127.0.0.1:{port}", ("-", {"status": "not registered", "scur": "0"}))
        print(f"replica {replica.number}: {', '.join(replica.names.values())}; front on 127.0.0.1:{port}; "
              f"target {slot} {row['status']}, {row['scur'] or 0} requests in flight")
    return 0


def down() -> int:
    settings = Settings.from_env()
    env = settings.aws_env()
    step = Steps(2)
    t = step("Tear down the stack (playbooks/teardown.yml) if the emulator is running")
    status = run(["scripts/moto-server", "status"], env=env, quiet=True, check=False, cwd=ROOT)
    if status.returncode == 0:
        playbook("playbooks/teardown.yml", env)
        # The teardown role ends by listing what still carries the project's
        # tags and fails if anything does; reaching here means nothing.
        done(t, "nothing tagged with the project is left in the emulator")
    else:
        done(t, "emulator not running: nothing deployed")
    t = step("Stop the load balancer, the containers (front first), the registry and the emulator")
    settings.load_balancer().stop()
    settings.agent().remove_all()
    run(["scripts/registry", "stop"], env=env, quiet=True, cwd=ROOT)
    run(["scripts/moto-server", "stop"], env=env, quiet=True, cwd=ROOT)
    for name in ("ca.pem", "certificate.pem", "key.pem", "front-ca.pem"):
        (settings.folder / name).unlink(missing_ok=True)
    done(t)
    print("\nEverything the demo started is stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="action", required=True)
    commands.add_parser("up", help="deploy and run the stack (make demo)")
    commands.add_parser("down", help="stop and remove everything (make demo-down)")
    commands.add_parser("status", help="the replicas and their targets in the load balancer")
    stop = commands.add_parser("stop-replica", help="drain replica N at the load balancer, then stop it")
    stop.add_argument("number", type=int)
    commands.add_parser("roll", help="rolling restart: a new replica healthy before each old one stops")
    args = parser.parse_args(argv)
    actions = {"up": up, "down": down, "status": status, "roll": roll,
               "stop-replica": lambda: stop_replica(args.number)}
    try:
        return actions[args.action]()
    except DemoError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; `make demo-down` cleans up", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
