"""The main job: deploy the whole stack locally and call it as the tutorial does.

    .venv/bin/python scripts/demo.py up      # what `make demo` runs
    .venv/bin/python scripts/demo.py down    # what `make demo-down` runs

`up` starts the AWS stand-in (moto) and a local registry on 127.0.0.1, runs
``ansible-playbook site.yml -i inventory/local`` (ECR repositories, the API's
and the front's images built and pushed, security group, ECS cluster, TLS
certificate, task definition, service), then runs the task definition's
containers from the pushed images as ECS would: the API (hard memory limit,
the API key from the SSM parameter its secret points at, no port on the
host), then, once it is healthy, the front (nginx) linked to it, with its
certificate and key from the Secrets Manager secret, on
https://127.0.0.1:8443, http://127.0.0.1:8080 redirecting there.  The CA
certificate of the self-signed pair is written to .cache/demo/ca.pem.  It
then calls the API over HTTPS as the tutorial does.  `down` tears the stack
down with the teardown playbook and stops everything `up` started (front
first, as ECS does); it is safe to run twice.

Nothing here is used on real AWS: there, ECS runs the task (README,
"Deploying to AWS").
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CACHE = ROOT / ".cache"
MOTO_PORT = int(os.environ.get("MOTO_PORT", "5000"))
REGISTRY_PORT = int(os.environ.get("DEMO_REGISTRY_PORT", "5001"))
HTTP_PORT = 8080  # the original's host port: now a redirect to HTTPS
HTTPS_PORT = 8443  # inventory/local's task_https_host_port
CONTAINER_PREFIX = "lhta-demo"  # containers are <prefix>-<name in the task definition>
ENDPOINT = f"http://127.0.0.1:{MOTO_PORT}"
REGISTRY = f"127.0.0.1:{REGISTRY_PORT}"
URL = f"https://127.0.0.1:{HTTPS_PORT}"
HTTP_URL = f"http://127.0.0.1:{HTTP_PORT}"
CA_FILE = CACHE / "demo" / "ca.pem"
# The tutorial R client's parameter updates (API.md).
TUTORIAL_UPDATES = [
    {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
    {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 100},
]
STEPS = 7
LABEL = "living-hta.demo=1"


class DemoError(Exception):
    pass


def step(number: int, text: str) -> float:
    print(f"\n[{number}/{STEPS}] {text}", flush=True)
    return time.monotonic()


def done(started: float, text: str = "done") -> None:
    print(f"      {text} ({time.monotonic() - started:.1f} s)", flush=True)


def aws_env() -> dict[str, str]:
    """Environment for every AWS call of the demo: the emulator, fake keys."""
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": ENDPOINT,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-2",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    }


def run(cmd: list[str], env=None, quiet=False, check=True) -> subprocess.CompletedProcess:
    """Run a command from the repo root; show its output unless quiet (then
    show it only if it fails)."""
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
    )
    if check and proc.returncode != 0:
        if quiet and proc.stdout:
            print(proc.stdout, file=sys.stderr)
        raise DemoError(f"`{' '.join(cmd[:3])} …` failed (exit {proc.returncode})")
    return proc


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


def http(method: str, path: str, key: str | None = None, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30, url: str = URL):
    """(status, headers, body) of a request to the demo's API on 127.0.0.1,
    over HTTPS trusting only the demo's CA; redirects are not followed."""
    req = urllib.request.Request(url + path, data=body, method=method, headers=headers or {})
    if key is not None:
        req.add_header("key", key)
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(CA_FILE))),
        _NoRedirect)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def api_key() -> tuple[str, bool]:
    given = os.environ.get("DEMO_API_KEY", "")
    if given:
        return given, False
    return secrets.token_urlsafe(24), True


def deployed_task(env: dict[str, str]) -> dict:
    """The task definition ECS would run, read back from the emulator, with
    each container's secrets read as the ECS agent reads them."""
    import boto3

    session = boto3.Session(region_name=env["AWS_DEFAULT_REGION"],
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            aws_session_token="testing")
    ecs = session.client("ecs", endpoint_url=ENDPOINT)
    ssm = session.client("ssm", endpoint_url=ENDPOINT)
    secretsmanager = session.client("secretsmanager", endpoint_url=ENDPOINT)
    deployed = [
        (cluster, arns)
        for cluster in ecs.list_clusters()["clusterArns"]
        if (arns := ecs.list_services(cluster=cluster)["serviceArns"])
    ]
    if not deployed:
        raise DemoError("no ECS service was deployed")
    cluster, services = deployed[0]
    service = ecs.describe_services(cluster=cluster, services=services[:1])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])

    def secret_value(value_from: str) -> str:
        """An SSM parameter ARN, or a Secrets Manager ARN with :<JSON key>:: after it."""
        if ":ssm:" in value_from:
            name = value_from.split(":parameter", 1)[-1]
            return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        parts = value_from.split(":")
        secret = secretsmanager.get_secret_value(SecretId=":".join(parts[:7]))["SecretString"]
        json_key = parts[7] if len(parts) > 7 else ""
        return json.loads(secret)[json_key] if json_key else secret

    containers = definition["taskDefinition"]["containerDefinitions"]
    values = {c["name"]: {s["name"]: secret_value(s["valueFrom"]) for s in c.get("secrets", [])}
              for c in containers}
    api = next((c for c in containers if "API_KEYS" in values[c["name"]]), None)
    if api is None:
        raise DemoError("the task definition passes no API_KEYS secret")
    return {"containers": containers, "secrets": values, "key": values[api["name"]]["API_KEYS"],
            "service": service["serviceName"], "cluster": cluster.rsplit("/", 1)[-1]}


def local_image(image: str) -> str:
    """The task's image (`<ECR host>/<repo>@sha256:…`) as pushed to the local
    registry that stands in for ECR."""
    repository_and_digest = image.split("/", 1)[1]
    return f"{REGISTRY}/{repository_and_digest}"


def container_name(name: str) -> str:
    return f"{CONTAINER_PREFIX}-{name}"


def start_order(containers: list[dict]) -> list[dict]:
    """Containers in the order ECS starts them: each after those it depends on."""
    ordered, names = [], set()
    while len(ordered) < len(containers):
        ready = [c for c in containers if c["name"] not in names
                 and all(d["containerName"] in names for d in c.get("dependsOn", []))]
        if not ready:
            raise DemoError("the task definition's dependsOn has a cycle")
        ordered += ready
        names |= {c["name"] for c in ready}
    return ordered


def start_container(container: dict, secret_values: dict[str, str]) -> None:
    """docker run as the ECS agent would in bridge mode: memory limit,
    environment, secrets, host ports (on 127.0.0.1), links, stop timeout."""
    name = container_name(container["name"])
    image = local_image(container["image"])
    run(["docker", "pull", "--quiet", image], quiet=True)
    run(["docker", "rm", "-f", name], quiet=True, check=False)
    variables = {e["name"]: e["value"] for e in container.get("environment", [])}
    # `-e NAME` without a value: docker takes it from this process's
    # environment, so no key is ever on a command line.
    env = {**os.environ, **variables, **secret_values}
    cmd = ["docker", "run", "-d", "--name", name, "--label", LABEL,
           "--memory", f"{container['memory']}m"]
    for variable in [*variables, *secret_values]:
        cmd += ["-e", variable]
    for mapping in container.get("portMappings", []):
        cmd += ["-p", f"127.0.0.1:{mapping['hostPort']}:{mapping['containerPort']}"]
    for link in container.get("links", []):
        target, _, alias = link.partition(":")
        cmd += ["--link", f"{container_name(target)}:{alias or target}"]
    if "stopTimeout" in container:
        cmd += ["--stop-timeout", str(container["stopTimeout"])]
    run([*cmd, image], env=env, quiet=True)


def wait_healthy(container: dict, timeout: float = 60) -> float:
    """Seconds until the container's own ECS health check passes, run the
    way the agent runs it (inside the container)."""
    name = container_name(container["name"])
    command = container.get("healthCheck", {}).get("command", [])
    if command[:1] == ["CMD-SHELL"]:
        command = ["sh", "-c", command[1]]
    elif command[:1] == ["CMD"]:
        command = command[1:]
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", name],
                               capture_output=True, text=True).stdout.strip()
        if state not in ("running", "created"):
            logs = subprocess.run(["docker", "logs", "--tail", "20", name],
                                  capture_output=True, text=True)
            raise DemoError(f"container {name} stopped ({state}):\n{logs.stdout}{logs.stderr}")
        if state == "running" and (not command or subprocess.run(
                ["docker", "exec", name, *command], capture_output=True).returncode == 0):
            return time.monotonic() - started
        time.sleep(0.2)
    raise DemoError(f"container {name} was not healthy within {timeout:.0f} s")


def run_task(task: dict) -> None:
    """Start the containers in dependency order, each HEALTHY dependency
    waited for, as the ECS agent does."""
    by_name = {c["name"]: c for c in task["containers"]}
    for container in start_order(task["containers"]):
        for dependency in container.get("dependsOn", []):
            if dependency["condition"] == "HEALTHY":
                waited = wait_healthy(by_name[dependency["containerName"]])
                print(f"      {dependency['containerName']:<6} healthy after {waited:.1f} s")
        start_container(container, task["secrets"][container["name"]])
        print(f"      {container['name']:<6} started ({container_name(container['name'])})")
    for container in task["containers"]:
        wait_healthy(container)


def stop_task() -> None:
    """Stop the demo's containers the way ECS stops a task: dependents first
    (the front finishes its requests before the API is told to stop), each
    with its stop timeout; then remove them."""
    listed = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}"],
                            capture_output=True, text=True).stdout.split()
    if not listed:
        return
    links = {}
    for info in json.loads(subprocess.run(["docker", "inspect", *listed], capture_output=True,
                                          text=True).stdout or "[]"):
        links[info["Id"]] = bool(info["HostConfig"].get("Links"))
    # Containers with links depend on others: they stop first.
    for ids in ([i for i in links if links[i]], [i for i in links if not links[i]]):
        if ids:
            run(["docker", "stop", *ids], quiet=True, check=False)
    run(["docker", "rm", "-f", *listed], quiet=True, check=False)


def call_like_the_tutorial(key: str) -> None:
    status, headers, _ = http("GET", "/health", url=HTTP_URL)
    print(f"      GET  {HTTP_URL}/health → {status} Location: {headers.get('Location')}")
    if status != 308 or headers.get("Location") != f"{URL}/health":
        raise DemoError(f"expected a 308 redirect to {URL}/health, got {status}")
    status, _, body = http("GET", "/health")
    print(f"      GET  /health                      → {status} {body.decode()[:60]}")
    status, _, body = http("GET", "/paper")
    print(f"      GET  /paper                       → {status} {body.decode()}")
    status, headers, body = http(
        "POST", "/runDARTHmodel", key=key,
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
    status, _, body = http("POST", "/runDARTHmodel")
    print(f"      POST /runDARTHmodel (no key)      → {status} {json.loads(body)['error'][:60]}…")
    if status != 401:
        raise DemoError(f"expected 401 without a key, got {status}")
    status, _, body = http("POST", "/runDARTHmodel", key="not-the-key")
    print(f"      POST /runDARTHmodel (wrong key)   → {status} {json.loads(body)['error'][:60]}…")
    if status != 403:
        raise DemoError(f"expected 403 with a wrong key, got {status}")


def up() -> int:
    started_all = time.monotonic()
    env = aws_env()
    key, generated = api_key()

    t = step(1, "Set-up: Debian packages, stand-in base images where no image can be pulled")
    run(["scripts/setup-system.sh", "demo"])
    base = run(["scripts/image.sh", "--base"], quiet=True).stdout.strip().splitlines()[-1]
    front_base = run(["scripts/front-image.sh", "--base"], quiet=True).stdout.strip().splitlines()[-1]
    done(t, f"base images: {base} (API), {front_base} (front)")

    t = step(2, f"AWS stand-in (moto) on {ENDPOINT} and a registry standing in for ECR on {REGISTRY}")
    run(["scripts/moto-server", "start"], env={**env, "MOTO_PORT": str(MOTO_PORT)}, quiet=True)
    run(["scripts/registry", "start"], env={**env, "REGISTRY_PORT": str(REGISTRY_PORT)}, quiet=True)
    done(t)

    t = step(3, "ansible-playbook site.yml -i inventory/local  (ECR, images, security group, "
                "ECS cluster, certificate, task, service)")
    CA_FILE.parent.mkdir(parents=True, exist_ok=True)
    playbook("site.yml", {**env, "API_KEY": key}, "-e", f"image_registry={REGISTRY}",
             "-e", f"front_ca_file={CA_FILE}")
    done(t)

    t = step(4, "Read the deployed task definition back from the emulator")
    task = deployed_task(env)
    print(f"      cluster {task['cluster']}, service {task['service']}")
    for container in task["containers"]:
        ports = ", ".join(f"{m['hostPort']}→{m['containerPort']}" for m in container["portMappings"])
        print(f"      {container['name']:<6} {container['image']}")
        print(f"             {container['memory']} MiB hard limit; ports {ports or 'none on the host'}; "
              f"stop timeout {container.get('stopTimeout', '-')} s"
              + "".join(f"; after {d['containerName']} is {d['condition']}"
                        for d in container.get("dependsOn", [])))
        for secret in container.get("secrets", []):
            print(f"             secret {secret['name']} from {secret['valueFrom']}")
    done(t)

    t = step(5, f"Run the task's containers from the pushed images as ECS would, on {URL}")
    run_task(task)
    done(t)

    t = step(6, f"Check the front's TLS, trusting only the CA in {CA_FILE.relative_to(ROOT)}")
    context = ssl.create_default_context(cafile=str(CA_FILE))
    with socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        print(f"      {tls.version()} {tls.cipher()[0]}, certificate for "
              + ", ".join(v for _, v in tls.getpeercert().get("subjectAltName", ())))
    done(t)

    t = step(7, "Call the API as the tutorial does")
    call_like_the_tutorial(task["key"])
    done(t)

    shown_key = "$DEMO_API_KEY" if not generated else task["key"]
    print(f"""
The API is up (all in {time.monotonic() - started_all:.0f} s):
  URL          {URL}   ({HTTP_URL} redirects there)
  CA           {CA_FILE.relative_to(ROOT)}   (the self-signed certificate's CA: trust it, nothing else)
  Swagger UI   {URL}/__docs__/
  API key      {task['key'] if generated else '(from $DEMO_API_KEY)'}

Try it:
  curl -s --cacert {CA_FILE.relative_to(ROOT)} -X POST '{URL}/runDARTHmodel' -H 'key: {shown_key}' \\
       -H 'Content-Type: application/json' \\
       -d '{{"param_updates": [{{"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150}}]}}' | head -3

Stop everything with: make demo-down""")
    return 0


def down() -> int:
    env = aws_env()
    t = step(1, "Tear down the stack (playbooks/teardown.yml) if the emulator is running")
    status = run(["scripts/moto-server", "status"], env={**env, "MOTO_PORT": str(MOTO_PORT)},
                 quiet=True, check=False)
    if status.returncode == 0:
        playbook("playbooks/teardown.yml", env)
        # The teardown role ends by listing what still carries the project's
        # tags and fails if anything does; reaching here means nothing.
        done(t, "nothing tagged with the project is left in the emulator")
    else:
        done(t, "emulator not running: nothing deployed")
    t = step(2, "Stop the containers (front first), the registry and the emulator")
    stop_task()
    run(["scripts/registry", "stop"], env={**env, "REGISTRY_PORT": str(REGISTRY_PORT)}, quiet=True)
    run(["scripts/moto-server", "stop"], env={**env, "MOTO_PORT": str(MOTO_PORT)}, quiet=True)
    CA_FILE.unlink(missing_ok=True)
    done(t)
    print("\nEverything the demo started is stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    global STEPS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down"])
    args = parser.parse_args(argv)
    STEPS = 7 if args.action == "up" else 2
    try:
        return up() if args.action == "up" else down()
    except DemoError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; `make demo-down` cleans up", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
