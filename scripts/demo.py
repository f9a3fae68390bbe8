"""The main job: deploy the whole stack locally and call it as the tutorial does.

    .venv/bin/python scripts/demo.py up      # what `make demo` runs
    .venv/bin/python scripts/demo.py down    # what `make demo-down` runs

`up` starts the AWS stand-in (moto) and a local registry on 127.0.0.1, runs
``ansible-playbook site.yml -i inventory/local`` (ECR repository, image built
and pushed, security group, ECS cluster, task definition, service), then runs
the pushed image as the "ECS task" with the task definition's own settings
(host port 8080 → 8000, hard memory limit, the API key from the SSM
parameter the task's secret points at) and calls the API as the tutorial
does.  `down` tears the stack down with the teardown playbook and stops
everything `up` started; it is safe to run twice.

Nothing here is used on real AWS: there, ECS runs the task (README,
"Deploying to AWS").
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
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
HOST_PORT = 8080  # the original's host port
CONTAINER = "lhta-demo"
ENDPOINT = f"http://127.0.0.1:{MOTO_PORT}"
REGISTRY = f"127.0.0.1:{REGISTRY_PORT}"
URL = f"http://127.0.0.1:{HOST_PORT}"
# The tutorial R client's parameter updates (API.md).
TUTORIAL_UPDATES = [
    {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
    {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 100},
]
STEPS = 7


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
         headers: dict[str, str] | None = None, timeout: float = 30):
    """(status, headers, body) of a request to the demo's API on 127.0.0.1."""
    req = urllib.request.Request(URL + path, data=body, method=method, headers=headers or {})
    if key is not None:
        req.add_header("key", key)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def api_key() -> tuple[str, bool]:
    given = os.environ.get("DEMO_API_KEY", "")
    if given:
        return given, False
    return secrets.token_urlsafe(24), True


def deployed_task(env: dict[str, str]) -> dict:
    """The container definition ECS would run, read back from the emulator."""
    import boto3

    session = boto3.Session(region_name=env["AWS_DEFAULT_REGION"],
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            aws_session_token="testing")
    ecs = session.client("ecs", endpoint_url=ENDPOINT)
    ssm = session.client("ssm", endpoint_url=ENDPOINT)
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
    container = definition["taskDefinition"]["containerDefinitions"][0]
    secret = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
    if "API_KEYS" not in secret:
        raise DemoError("the task definition passes no API_KEYS secret")
    # What the ECS agent does with `secrets`: read the SecureString, decrypted,
    # and hand it to the container as an environment variable.
    name = secret["API_KEYS"].split(":parameter", 1)[-1]
    key = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    return {"container": container, "key": key, "service": service["serviceName"],
            "cluster": cluster.rsplit("/", 1)[-1]}


def local_image(image: str) -> str:
    """The task's image (`<ECR host>/<repo>@sha256:…`) as pushed to the local
    registry that stands in for ECR."""
    repository_and_digest = image.split("/", 1)[1]
    return f"{REGISTRY}/{repository_and_digest}"


def start_container(task: dict) -> None:
    container = task["container"]
    mappings = container["portMappings"]
    mapping = next(m for m in mappings if m.get("hostPort") == HOST_PORT)
    image = local_image(container["image"])
    run(["docker", "pull", "--quiet", image], quiet=True)
    run(["docker", "rm", "-f", CONTAINER], quiet=True, check=False)
    env = {**os.environ, "API_KEYS": task["key"]}
    # `-e API_KEYS` without a value: docker takes it from this process's
    # environment, so the key is never on a command line.
    run([
        "docker", "run", "-d", "--name", CONTAINER,
        "--memory", f"{container['memory']}m",
        "-p", f"127.0.0.1:{mapping['hostPort']}:{mapping['containerPort']}",
        "-e", "API_KEYS",
        "--label", "living-hta.demo=1",
        image,
    ], env=env, quiet=True)


def wait_healthy(timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            status, _, _ = http("GET", "/health", timeout=2)
            if status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        state = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Status}}", CONTAINER],
            capture_output=True, text=True,
        ).stdout.strip()
        if state not in ("running", "created"):
            logs = subprocess.run(["docker", "logs", "--tail", "20", CONTAINER],
                                  capture_output=True, text=True)
            raise DemoError(f"the container stopped ({state}):\n{logs.stdout}{logs.stderr}")
        time.sleep(0.2)
    raise DemoError(f"the API did not answer on {URL}/health within {timeout:.0f} s")


def call_like_the_tutorial(key: str) -> None:
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

    t = step(1, "Set-up: Debian packages, stand-in base image where no image can be pulled")
    run(["scripts/setup-system.sh", "demo"])
    base = run(["scripts/image.sh", "--base"], quiet=True).stdout.strip().splitlines()[-1]
    done(t, f"base image: {base}")

    t = step(2, f"AWS stand-in (moto) on {ENDPOINT} and a registry standing in for ECR on {REGISTRY}")
    run(["scripts/moto-server", "start"], env={**env, "MOTO_PORT": str(MOTO_PORT)}, quiet=True)
    run(["scripts/registry", "start"], env={**env, "REGISTRY_PORT": str(REGISTRY_PORT)}, quiet=True)
    done(t)

    t = step(3, "ansible-playbook site.yml -i inventory/local  (ECR, image, security group, ECS cluster, task, service)")
    playbook("site.yml", {**env, "API_KEY": key}, "-e", f"image_registry={REGISTRY}")
    done(t)

    t = step(4, "Read the deployed task definition back from the emulator")
    task = deployed_task(env)
    container = task["container"]
    print(f"      cluster {task['cluster']}, service {task['service']}")
    print(f"      image   {container['image']}")
    print(f"      memory  {container['memory']} MiB hard limit; ports "
          + ", ".join(f"{m['hostPort']}→{m['containerPort']}" for m in container["portMappings"]))
    print("      secret  API_KEYS from SSM SecureString "
          + next(s["valueFrom"] for s in container["secrets"] if s["name"] == "API_KEYS"))
    done(t)

    t = step(5, f"Run the pushed image as the ECS task would, on {URL}")
    start_container(task)
    done(t, f"container {CONTAINER} started")

    t = step(6, "Wait until the API is healthy")
    done(t, f"healthy after {wait_healthy():.1f} s")

    t = step(7, "Call the API as the tutorial does")
    call_like_the_tutorial(task["key"])
    done(t)

    print(f"""
The API is up (all in {time.monotonic() - started_all:.0f} s):
  URL          {URL}
  Swagger UI   {URL}/__docs__/
  API key      {task['key'] if generated else '(from $DEMO_API_KEY)'}

Try it:
  curl -s -X POST '{URL}/runDARTHmodel' -H 'key: {'$DEMO_API_KEY' if not generated else task['key']}' \\
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
    t = step(2, "Stop the container, the registry and the emulator")
    run(["docker", "rm", "-f", CONTAINER], quiet=True, check=False)
    run(["scripts/registry", "stop"], env={**env, "REGISTRY_PORT": str(REGISTRY_PORT)}, quiet=True)
    run(["scripts/moto-server", "stop"], env={**env, "MOTO_PORT": str(MOTO_PORT)}, quiet=True)
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
