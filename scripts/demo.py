"""The main job: deploy the whole stack locally and call it as the tutorial does.

    .venv/bin/python scripts/demo.py up        # what `make demo` runs (on a running demo: deploy)
    .venv/bin/python scripts/demo.py deploy [-e VAR=VALUE ...]   # site.yml again, in place
    .venv/bin/python scripts/demo.py down      # what `make demo-down` runs
    .venv/bin/python scripts/demo.py status [--json]   # tasks, targets, load balancer servers
    .venv/bin/python scripts/demo.py stop-replica N    # StopTask: ECS drains it and starts another
    .venv/bin/python scripts/demo.py roll      # UpdateService --force-new-deployment: a rolling restart

`up` starts moto and a local registry on 127.0.0.1 and, in front of moto,
the stand-ins (standins/control.py): the AWS endpoint the deployment talks
to (target groups answered the AWS way) and the actors that do what AWS
would do with what is deployed: the ECS agent and service scheduler run
the service's tasks with Docker and register them in the target group;
HAProxy, standing in for the Application Load Balancer, follows the target
group.  Then it runs ``ansible-playbook site.yml -i inventory/local``, waits
until the service is steady (every task of the current revision running,
healthy, in the load balancer), checks the TLS handshake trusting only the
demo's CA and calls the API as the tutorial does.  Their log is
<DEMO_DIR>/standins.log.  Two topologies (DEMO_TOPOLOGY):

load_balanced (the default): a throwaway CA and a certificate for
127.0.0.1/localhost are made and imported into ACM by the deploy (the CA
goes to .cache/demo/ca.pem); desiredCount tasks (each: the API, and its TLS
front on an ephemeral port, as ECS's dynamic host ports), behind HAProxy:
its 443 listener on https://127.0.0.1:8443 with the certificate read back
from ACM and the listener's SSL policy, its 80 listener's redirect on
http://127.0.0.1:8080, the target group's health check and deregistration
delay.

single (part 1's): one task, its front on https://127.0.0.1:8443 with the
self-signed certificate the front role stored in Secrets Manager (its CA
written to .cache/demo/ca.pem), http://127.0.0.1:8080 redirecting.

`down` tears the stack down with the teardown playbook and stops everything
`up` started; it is safe to run twice.

Ports and names, from the environment (tests use free ports and their own
prefix): MOTO_PORT (5000: the AWS endpoint), DEMO_REGISTRY_PORT (5001),
DEMO_HTTPS_PORT (8443), DEMO_HTTP_PORT (8080), DEMO_CONTAINER_PREFIX
(lhta-demo: containers are <prefix>-<task number>-<name in the task
definition>, <prefix>-lb), DEMO_DIR (.cache/demo: CA, certificate, the
stand-ins' log and state, the load balancer's configuration), DEMO_TOPOLOGY
(load_balanced).  DEMO_API_KEY: the key (else one is made).

Nothing here is used on real AWS: there, ECS runs the tasks and the ALB is
AWS's (README, "Deploying to AWS").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

from standins.common import ROOT, DemoError, run
from standins.ecs import api_key, deployed_service, read_task_definition
from standins.elb import deployed_load_balancer, fingerprint
from standins.topology import TOPOLOGIES, VENV_BIN, Settings

# The tutorial R client's parameter updates (API.md).
TUTORIAL_UPDATES = [
    {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
    {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 100},
]
# What the emulator's services need from every run of site.yml here: the
# stand-ins are the ECS agent (the role's boto3 step would let any instance
# join, whenever it booted).
DEMO_VARIABLES = ["-e", "ecs_cluster_emulate_agent=false"]


class Steps:
    def __init__(self, total: int):
        self.total, self.number = total, 0

    def __call__(self, text: str) -> float:
        self.number += 1
        print(f"\n[{self.number}/{self.total}] {text}", flush=True)
        return time.monotonic()


def done(started: float, text: str = "done") -> None:
    print(f"      {text} ({time.monotonic() - started:.1f} s)", flush=True)


def playbook(path: str, env: dict[str, str], *extra: str) -> str:
    """ansible-playbook, showing each task that ran (not the skipped ones)
    with its outcome as progress; the whole output only if it fails.
    Returns the recap line."""
    cmd = [str(VENV_BIN / "ansible-playbook"), path, "-i", "inventory/local", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines, task, recap = [], None, ""
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("TASK ["):
            task = line[len("TASK ["):].split("]", 1)[0]
        elif task and line.startswith(("ok:", "changed:", "fatal:", "failed:")):
            outcome = line.split(":", 1)[0]
            print(f"      {outcome:<8} {task}", flush=True)
            task = None
        elif line.startswith("localhost") and "changed=" in line:
            recap = " ".join(line.split()[2:])
            print("      " + recap, flush=True)
    if proc.wait() != 0:
        print("".join(lines[-60:]), file=sys.stderr)
        raise DemoError(f"ansible-playbook {path} failed (exit {proc.returncode})")
    return recap


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


def new_api_key() -> tuple[str, bool]:
    given = os.environ.get("DEMO_API_KEY", "")
    if given:
        return given, False
    return secrets.token_urlsafe(24), True


def describe_task(service: dict, definition: dict) -> None:
    print(f"      cluster {service['cluster']}, service {service['serviceName']}, "
          f"desired count {service['desiredCount']}, {definition['family']}:{definition['revision']}")
    for container in definition["containers"]:
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
    the served certificate (PEM)."""
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


# --- What the stand-ins see ------------------------------------------------------------

def read_state(settings: Settings) -> dict:
    try:
        return json.loads(settings.state_file.read_text())
    except (OSError, ValueError):
        return {}


class LogTail:
    """The stand-ins' log lines written since it was made, shown as progress."""

    def __init__(self, settings: Settings):
        self.path = settings.log_file
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def show(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            text = log.read().decode(errors="replace")
        complete = text[:text.rfind("\n") + 1]
        self.offset += len(complete.encode())
        for line in complete.splitlines():
            print(f"      {line}", flush=True)


def wait_steady(settings: Settings, timeout: float = 420) -> float:
    """Seconds until the stand-ins have the service as the emulator now
    describes it: its desired count of tasks of its current task definition
    and deployment, each healthy (and in the load balancer: HAProxy's
    servers are the target group's targets, every one UP)."""
    started, tail = time.monotonic(), LogTail(settings)
    aws, lost_since = settings.aws(), None
    while True:
        tail.show()
        wanted = deployed_service(aws)
        primary = next((d for d in wanted.get("deployments", []) if d["status"] == "PRIMARY"), {})
        state = read_state(settings)
        seen = next((s for s in state.get("services", []) if s["service"] == wanted["serviceName"]), None)
        ready = bool(seen and seen["steady"]
                     and seen["task_definition"] == wanted["taskDefinition"].rsplit("/", 1)[-1]
                     and seen["desired_count"] == wanted["desiredCount"]
                     and seen["deployment"] == primary.get("id", ""))
        if ready and wanted.get("loadBalancers"):
            servers = state.get("load_balancer", {}).get("servers", {})
            targets = {f"{t['target'][0]}:{t['target'][1]}" for t in state.get("tasks", [])
                       if t["status"] == "RUNNING" and t["target"]}
            ready = set(servers) == targets and all(s["status"] == "UP" for s in servers.values())
        if ready:
            return time.monotonic() - started
        # Tasks up and healthy whose targets left the group: ECS does not
        # register a running task again, so nothing will change this.
        orphans = [t for t in state.get("tasks", []) if t["status"] == "RUNNING" and t["containers_healthy"]
                   and t["target"] and t["target_state"] in ("unused", "draining")]
        lost_since = (lost_since or time.monotonic()) if orphans else None
        if lost_since and time.monotonic() - lost_since > 5:
            raise DemoError(
                "the target group lost the targets of running tasks "
                + ", ".join(f"{t['number']} ({t['target'][0]}:{t['target'][1]} {t['target_state']})" for t in orphans)
                + ": something deregistered them, and ECS does not register a running task again, so the load "
                "balancer sends them nothing (`scripts/demo.py roll` replaces them)")
        if time.monotonic() - started > timeout:
            refused = state.get("refused_instances", {})
            reasons = "; ".join(f"{i}: {r}" for i, r in refused.items())
            raise DemoError(
                f"the service was not steady within {timeout:.0f} s"
                + (f" (instances refused by the ECS agent: {reasons})" if refused else "")
                + f"; see {settings.shown(settings.log_file)}, `scripts/demo.py status`")
        time.sleep(1)


# --- Commands ---------------------------------------------------------------------------------

def up() -> int:
    started_all = time.monotonic()
    settings = Settings.from_env()
    if settings.standins_pid() is not None:
        print("The demo is running: `make demo` deploys again in place (scripts/demo.py deploy).")
        return deploy([])
    topology = TOPOLOGIES[settings.topology]
    env = settings.aws_env()
    key, generated = new_api_key()
    step = Steps(8)

    t = step("Set-up: Debian packages, stand-in base images where no image can be pulled")
    run(["scripts/setup-system.sh", "demo"], cwd=ROOT)
    base = run(["scripts/image.sh", "--base"], quiet=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    front_base = run(["scripts/front-image.sh", "--base"], quiet=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    lb_image = ""
    if topology.needs_load_balancer_image:
        lb_image = run(["scripts/lb-image.sh"], quiet=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    done(t, f"base images: {base} (API), {front_base} (front)" + (f", {lb_image} (load balancer)" if lb_image else ""))

    t = step(f"moto, a registry standing in for ECR on {settings.registry.address}, and the stand-ins "
             f"(the AWS endpoint on {settings.endpoint}; ECS and the load balancer acting on it)")
    settings.folder.mkdir(parents=True, exist_ok=True)
    settings.stop_moto()    # a moto left from an interrupted run: its state is not this demo's
    moto_url = settings.start_moto()
    settings.registry.start(env)
    settings.agent().remove_all()
    settings.start_standins(moto_url, lb_image)
    done(t, f"log: {settings.shown(settings.log_file)}")

    t = step("Files the deploy needs" + (" (a throwaway CA and a certificate for 127.0.0.1 and localhost, "
                                         "imported into ACM by the deploy)" if lb_image else ""))
    extra = ["-e", f"image_registry={settings.registry.address}", *DEMO_VARIABLES, *topology.prepare(settings)]
    done(t, f"CA {settings.shown(settings.ca_file)}" if lb_image else "none")

    t = step(f"ansible-playbook site.yml -i inventory/local -e api_topology={settings.topology}  ({topology.what()})")
    try:
        playbook("site.yml", {**env, "API_KEY": key}, *extra)
    except DemoError as error:
        refused = read_state(settings).get("refused_instances", {})
        if refused:
            raise DemoError(f"{error}; the ECS agent refused the instances: "
                            + "; ".join(f"{i}: {r}" for i, r in refused.items())) from None
        raise
    done(t)

    t = step("The stand-ins run the service: each task started, healthy"
             + (", registered in the target group and UP in the load balancer" if lb_image else ""))
    waited = wait_steady(settings)
    done(t, f"steady after {waited:.1f} s")

    t = step("What was deployed, read back from the emulator")
    aws = settings.aws()
    service = deployed_service(aws)
    definition = read_task_definition(aws, service["taskDefinition"])
    describe_task(service, definition)
    alb = None
    if lb_image:
        alb = deployed_load_balancer(aws, service)
        group = alb.target_group
        print(f"      load balancer {alb.name}: HTTPS {alb.https_port} ({alb.ssl_policy}: "
              f"{', '.join(alb.tls_versions)}), HTTP {alb.redirect['ListenerPort']} → "
              f"{alb.redirect['StatusCode']} to {alb.redirect.get('Protocol')}:{alb.redirect.get('Port')}")
        print(f"      target group {group.name}: {group.protocol} to {group.container_name}:{group.container_port}, "
              f"deregistration delay {group.deregistration_delay} s; health check {group.health.describe()}")
    status(as_json=False)
    done(t)

    t = step(f"Check the TLS handshake, trusting only the CA in {settings.shown(settings.ca_file)}")
    served = check_tls(settings)
    if alb and fingerprint(served) != fingerprint(alb.certificate):
        raise DemoError("the load balancer serves another certificate than the listener's in ACM")
    done(t)

    t = step("Call the API as the tutorial does")
    task_key = api_key(definition)
    call_like_the_tutorial(settings, task_key, topology.redirect_status)
    done(t)

    ca = settings.shown(settings.ca_file)
    shown_key = "$DEMO_API_KEY" if not generated else task_key
    behind = (f"{service['desiredCount']} tasks behind the load balancer" if lb_image else "one task")
    print(f"""
The API is up (all in {time.monotonic() - started_all:.0f} s; {settings.topology}: {behind}):
  URL          {settings.url}   ({settings.http_url} redirects there)
  CA           {ca}   (the CA of the {'throwaway' if lb_image else 'self-signed'} certificate: trust it, nothing else)
  Swagger UI   {settings.url}/__docs__/
  API key      {task_key if generated else '(from $DEMO_API_KEY)'}
  AWS endpoint {settings.endpoint}   (aws --endpoint-url {settings.endpoint} ecs list-tasks --cluster …)

Try it:
  curl -s --cacert {ca} -X POST '{settings.url}/runDARTHmodel' -H 'key: {shown_key}' \\
       -H 'Content-Type: application/json' \\
       -d '{{"param_updates": [{{"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150}}]}}' | head -3

Change it in place: scripts/demo.py deploy -e task_autoscaling_min_capacity=3   (status, stop-replica N, roll)
Stop everything with: make demo-down""")
    return 0


def _require_running(settings: Settings) -> None:
    if settings.standins_pid() is None:
        raise DemoError("the demo is not running (`make demo` first)")


def deploy(variables: list[str]) -> int:
    """site.yml again, with the demo's own variables and those given, on the
    running demo; the stand-ins roll what changed."""
    settings = Settings.from_env()
    _require_running(settings)
    for variable in variables:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", variable):
            raise DemoError(f"-e takes VAR=VALUE, got {variable!r}")
    topology = TOPOLOGIES[settings.topology]
    aws = settings.aws()
    service = deployed_service(aws)
    deployed = "load_balanced" if service.get("loadBalancers") else "single"
    if deployed != topology.name:
        raise DemoError(f"the running demo is {deployed}; set DEMO_TOPOLOGY={deployed} (or `make demo-down` first)")
    key = api_key(read_task_definition(aws, service["taskDefinition"]))
    started = time.monotonic()
    step = Steps(2)
    t = step("ansible-playbook site.yml -i inventory/local (the demo's variables"
             + (f", {' '.join(variables)})" if variables else ")"))
    extra = ["-e", f"image_registry={settings.registry.address}", *DEMO_VARIABLES, *topology.prepare(settings)]
    for variable in variables:
        extra += ["-e", variable]
    recap = playbook("site.yml", {**settings.aws_env(), "API_KEY": key}, *extra)
    done(t)
    t = step("The stand-ins bring the service to what was deployed")
    waited = wait_steady(settings)
    done(t, f"steady after {waited:.1f} s")
    status(as_json=False)
    print(f"\nDeployed in {time.monotonic() - started:.1f} s ({recap}).")
    return 0


def status(as_json: bool) -> int:
    """What the stand-ins see (their state file), the target group as the
    endpoint describes it, the containers as Docker has them."""
    settings = Settings.from_env()
    _require_running(settings)
    state = read_state(settings)
    containers = {}
    for info in settings.agent().containers():
        containers[info["Name"].lstrip("/")] = info["State"]["Status"]
    targets: dict[str, str] = {}
    try:
        service = deployed_service(settings.aws())
        if service.get("loadBalancers"):
            health = settings.aws().client("elbv2").describe_target_health(
                TargetGroupArn=service["loadBalancers"][0]["targetGroupArn"])["TargetHealthDescriptions"]
            targets = {f"{h['Target']['Id']}:{h['Target']['Port']}": h["TargetHealth"]["State"] for h in health}
    except Exception as error:  # noqa: BLE001 - status shows what it can
        targets = {"error": str(error)}
    servers = state.get("load_balancer", {}).get("servers", {})
    replicas = []
    for task in state.get("tasks", []):
        if task["status"] == "STOPPED":
            continue
        target = f"{task['target'][0]}:{task['target'][1]}" if task["target"] else None
        names = {name: st for name, st in containers.items()
                 if name.startswith(f"{settings.prefix}-{task['number']}-")}
        replicas.append({
            "number": task["number"], "task_definition": task["task_definition"], "task_arn": task["task_arn"],
            "status": task["status"], "instance_id": task["instance_id"],
            "healthy": task["status"] == "RUNNING" and task["containers_healthy"]
            and (target is None or targets.get(target) == "healthy"),
            "containers": names, "target": target, "target_state": targets.get(target) if target else None,
            "load_balancer_server": (servers.get(target) or {}).get("status") if target else None,
            "in_flight": (servers.get(target) or {}).get("in_flight") if target else None,
            "reason": task["reason"],
        })
    report = {"replicas": replicas, "services": state.get("services", []), "targets": targets,
              "load_balancer_servers": servers, "refused_instances": state.get("refused_instances", {}),
              "errors": state.get("errors", {}), "as_of": state.get("time")}
    if as_json:
        print(json.dumps(report, indent=1))
        return 0
    for service in report["services"]:
        print(f"service {service['service']}: {service['task_definition']}, desired {service['desired_count']}, "
              + ("steady" if service["steady"] else "changing"))
    for replica in replicas:
        containers_said = ", ".join(f"{n} {s}" for n, s in replica["containers"].items()) or "no container"
        where = (f"; target {replica['target']} {replica['target_state'] or 'not registered'}, load balancer "
                 f"{replica['load_balancer_server'] or 'no server'}, {replica['in_flight'] or 0} in flight"
                 if replica["target"] else "")
        print(f"task {replica['number']} ({replica['task_definition']}): {replica['status']}"
              f"{' healthy' if replica['healthy'] else ''}; {containers_said}{where}"
              + (f"; {replica['reason']}" if replica["reason"] else ""))
    held = {r["target"] for r in replicas}
    for target, state_name in targets.items():
        if target not in held:
            print(f"target {target}: {state_name} (no task of the service holds it)")
    for instance, reason in report["refused_instances"].items():
        print(f"instance {instance}: {reason}")
    for actor, error in report["errors"].items():
        print(f"{actor}: {error}")
    return 0


def stop_replica(number: int) -> int:
    """StopTask, as `aws ecs stop-task` would: the ECS stand-in deregisters
    the task, drains it, stops it, and starts a replacement."""
    settings = Settings.from_env()
    _require_running(settings)
    state = read_state(settings)
    task = next((t for t in state.get("tasks", []) if t["number"] == number and t["status"] == "RUNNING"), None)
    if task is None:
        running = [str(t["number"]) for t in state.get("tasks", []) if t["status"] == "RUNNING"]
        raise DemoError(f"no running task {number} (running: {', '.join(running) or 'none'})")
    started, tail = time.monotonic(), LogTail(settings)
    cluster = task["task_arn"].split("/")[1]
    settings.aws().client("ecs").stop_task(cluster=cluster, task=task["task_arn"],
                                           reason="stopped with scripts/demo.py stop-replica")
    print(f"StopTask {task['task_arn']}")
    while True:
        tail.show()
        if any(t["number"] == number and t["status"] == "STOPPED" for t in read_state(settings).get("tasks", [])):
            break
        if time.monotonic() - started > 600:
            raise DemoError(f"task {number} did not stop within 600 s")
        time.sleep(0.5)
    print(f"Task {number} stopped in {time.monotonic() - started:.1f} s; ECS brings the service back to its "
          "desired count:")
    waited = wait_steady(settings)
    print(f"Steady again after {waited:.1f} s.")
    return 0


def roll() -> int:
    """UpdateService --force-new-deployment: the ECS stand-in replaces
    every task by the service's deploymentConfiguration."""
    settings = Settings.from_env()
    _require_running(settings)
    service = deployed_service(settings.aws())
    settings.aws().client("ecs").update_service(cluster=service["cluster"], service=service["serviceName"],
                                                forceNewDeployment=True)
    print(f"UpdateService {service['serviceName']} --force-new-deployment")
    waited = wait_steady(settings)
    print(f"Rolled to a new deployment in {waited:.1f} s.")
    return 0


def down(teardown: bool = True) -> int:
    settings = Settings.from_env()
    env = settings.aws_env()
    step = Steps(2)
    t = step("Tear down the stack (playbooks/teardown.yml) if the demo is running")
    failed: DemoError | None = None
    if teardown and settings.standins_pid() is not None:
        try:
            playbook("playbooks/teardown.yml", env)
            # The teardown role ends by listing what still carries the project's
            # tags and fails if anything does; reaching here means nothing.
            done(t, "nothing tagged with the project is left in the emulator")
        except DemoError as error:
            # What the emulator still holds goes with it: everything the demo
            # started is stopped all the same, and the failure said at the end.
            failed = error
            done(t, "the teardown failed (below); stopping everything all the same")
    else:
        done(t, "demo not running: nothing deployed" if teardown else "skipped")
    t = step("Stop the stand-ins, the containers (front first), the registry and the emulator")
    settings.stop_standins()
    settings.agent().remove_all()
    settings.registry.stop(env)
    settings.stop_moto()
    for name in ("ca.pem", "certificate.pem", "key.pem", "front-ca.pem", "standins.json"):
        (settings.folder / name).unlink(missing_ok=True)
    for name in ("listener.pem", "haproxy.cfg", "admin.sock"):
        (settings.folder / "lb" / name).unlink(missing_ok=True)
    done(t)
    print(f"\nEverything the demo started is stopped (the stand-ins' log stays: {settings.shown(settings.log_file)}).")
    if failed is not None:
        raise failed
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="action", required=True)
    commands.add_parser("up", help="deploy and run the stack (make demo); on a running demo: deploy")
    dep = commands.add_parser("deploy", help="run site.yml again on the running demo, with -e VAR=VALUE added")
    dep.add_argument("-e", dest="variables", action="append", default=[], metavar="VAR=VALUE")
    down_parser = commands.add_parser("down", help="stop and remove everything (make demo-down)")
    down_parser.add_argument("--skip-teardown", action="store_true",
                             help="stop everything without running the teardown playbook")
    st = commands.add_parser("status", help="the tasks, their targets, the load balancer's servers")
    st.add_argument("--json", action="store_true")
    stop = commands.add_parser("stop-replica", help="StopTask for task N (ECS drains it and starts another)")
    stop.add_argument("number", type=int)
    commands.add_parser("roll", help="a new deployment of the service (rolling restart)")
    args = parser.parse_args(argv)
    actions = {"up": up, "down": lambda: down(not args.skip_teardown), "status": lambda: status(args.json),
               "roll": roll, "deploy": lambda: deploy(args.variables),
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
