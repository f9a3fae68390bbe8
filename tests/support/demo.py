"""The README's demo, as a user runs it: its commands (`make demo`, `make
demo-down`, DEMO_TOPOLOGY=single), in a fresh clone, on the demo's own ports
(5000/5001/8080/8443), and the checks a user's first calls make.

    up = make(clone, "make demo")
    url, key = call(up, clone / ".cache" / "demo" / "ca.pem")

tests/e2e/test_demo.py (the single topology, re-deploys, the commands
themselves) and tests/e2e/test_load_balanced_local.py (the load-balanced
demo: its control plane, under load) share one fresh clone, the session's
`fresh_clone` (tests/e2e/conftest.py), and run on one worker, one after the
other: the ports are fixed (tests/support/parallel.py).
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.front import tls_handshake
from tests.support.paths import ROOT

DEMO_PORTS = (5000, 5001, 8080, 8443)  # moto, registry, HTTP redirect, HTTPS: fixed, as the README says


def readme_commands() -> dict[str, str]:
    """The `make demo*` commands of the README and docs/demo.md (code blocks,
    comments removed, and inline code), with any VARIABLE=value before them."""
    readme = (ROOT / "README.md").read_text() + (ROOT / "docs" / "demo.md").read_text()
    commands = {}
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("make demo"):
                commands.setdefault(command, command)
    for command in re.findall(r"`((?:[A-Z_]+=\S+ )*make demo(?:-down)?)`", readme):
        commands.setdefault(command, command)
    return commands


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def busy_demo_ports() -> list[int]:
    """The demo's fixed ports something already listens on (a demo left running: `make demo-down`)."""
    return [port for port in DEMO_PORTS if listening(port)]


def check_demo_ports_free() -> None:
    busy = busy_demo_ports()
    assert not busy, f"ports {busy} are in use (a demo already running? `make demo-down`)"


def clone_processes(clone: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if str(clone) in line and "ps -eo" not in line]


def demo_containers() -> list[str]:
    """Names of the demo's containers (every one carries living-hta.demo=<its prefix>)."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", "label=living-hta.demo=lhta-demo", "--format", "{{.Names}}"],
        capture_output=True, text=True, check=True,
    )
    return sorted(out.stdout.split())


def make_env(variables: dict[str, str]) -> dict[str, str]:
    """A user's shell environment, with `variables`."""
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(Path.home()), "LANG": "C.UTF-8", **variables}


def make(clone: Path, command: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """A README command as a user types it (VARIABLE=value before make included)."""
    words = shlex.split(command)
    variables = dict(word.split("=", 1) for word in words if re.fullmatch(r"[A-Z_]+=\S*", word))
    return subprocess.run(words[len(variables):], cwd=clone, capture_output=True, text=True, timeout=timeout,
                          env=make_env(variables))


def running_demo_containers() -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "--filter", "label=living-hta.demo=lhta-demo", "--format", "{{.Names}}"],
        capture_output=True, text=True, check=True,
    )
    return sorted(out.stdout.split())


def call_again(url: str, key: str, ca_file: Path) -> None:
    """A model run answered, trusting only the demo's CA."""
    request = urllib.request.Request(
        url + "/runDARTHmodel", method="POST", headers={"key": key, "Content-Type": "application/json"},
        data=json.dumps({"param_updates": [], "seed": 3}).encode())
    with urllib.request.urlopen(request, timeout=30, context=ssl.create_default_context(cafile=str(ca_file))) as answer:
        assert answer.status == 200 and len(answer.read().splitlines()) == 1001


def check_tls_versions(port: int) -> None:
    for version in ("-tls1", "-tls1_1"):
        assert tls_handshake(port, version, "-cipher", "DEFAULT@SECLEVEL=0") == "New, (NONE), Cipher is (NONE)"
    for version, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        assert tls_handshake(port, version).startswith(f"New, {name}, ")


def check_redirect(url: str, status: int) -> None:
    request = urllib.request.Request("http://127.0.0.1:8080/health?x=1")
    opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                              {"redirect_request": lambda *a, **k: None}))
    try:
        opener.open(request, timeout=10)
        raise AssertionError("http://127.0.0.1:8080 answered without redirecting")
    except urllib.error.HTTPError as answer:
        assert answer.code == status and answer.headers["Location"] == f"{url}/health?x=1"


def call(up: subprocess.CompletedProcess, ca_file: Path) -> tuple[str, str]:
    """The URL and key `make demo` printed, checked with a model run
    trusting only its CA, and refused without it: (url, key)."""
    assert up.returncode == 0, up.stdout[-6000:] + up.stderr[-3000:]
    url = re.search(r"^\s+URL\s+(https://127\.0\.0\.1:\d+)\s", up.stdout, re.M).group(1)
    key = re.search(r"^\s+API key\s+(\S+)$", up.stdout, re.M).group(1)
    assert url == "https://127.0.0.1:8443"
    assert f"{url}/__docs__/" in up.stdout and "curl -s --cacert .cache/demo/ca.pem " in up.stdout
    request = urllib.request.Request(
        url + "/runDARTHmodel", method="POST", headers={"key": key, "Content-Type": "application/json"},
        data=json.dumps({"param_updates": [], "seed": 7}).encode(),
    )
    with urllib.request.urlopen(request, timeout=30, context=ssl.create_default_context(cafile=str(ca_file))) as response:
        assert response.status == 200
        lines = response.read().decode().splitlines()
    assert len(lines) == 1001 and all(len(line.split(",")) == 6 for line in lines)
    assert lines[0] == "C_No_Treatment,C_Treatment_A,C_Treatment_B,E_No_Treatment,E_Treatment_A,E_Treatment_B"
    # Without the demo's CA the certificate is not trusted.
    try:
        urllib.request.urlopen(url + "/health", timeout=10, context=ssl.create_default_context())
        raise AssertionError("the self-signed certificate was trusted without its CA")
    except urllib.error.URLError as refused:
        assert isinstance(refused.reason, ssl.SSLCertVerificationError)
    return url, key


def check_no_secret_anywhere(demo_output: str, key: str, private_keys: list[str]) -> None:
    """Neither the API key nor a TLS private key (the front's, in Secrets
    Manager; the demo's own) is in the deployed task definition, in the
    images the containers run, or in any container's log."""
    import boto3

    session = boto3.Session(region_name="eu-west-2", aws_access_key_id="testing",
                            aws_secret_access_key="testing", aws_session_token="testing")
    ecs = session.client("ecs", endpoint_url="http://127.0.0.1:5000")
    secret = session.client("secretsmanager", endpoint_url="http://127.0.0.1:5000").get_secret_value(
        SecretId="living-hta/local/tls")
    private_keys = [json.loads(secret["SecretString"])["private_key"], *private_keys]
    needles = [key.encode()] + [line.encode() for private_key in private_keys
                                for line in private_key.splitlines() if "PRIVATE KEY" not in line]
    [cluster] = ecs.list_clusters()["clusterArns"]
    [service] = ecs.list_services(cluster=cluster)["serviceArns"]
    definition = ecs.describe_task_definition(taskDefinition=ecs.describe_services(
        cluster=cluster, services=[service])["services"][0]["taskDefinition"])
    text = json.dumps(definition, default=str).encode()
    assert not any(n in text for n in needles), "a secret is in the task definition"
    assert not any(n.decode() in demo_output for n in needles[1:]), "the private key was printed"
    images = set()
    for container in demo_containers():
        logs = subprocess.run(["docker", "logs", container], capture_output=True, timeout=30)
        assert not any(n in logs.stdout + logs.stderr for n in needles), f"a secret is in {container}'s log"
        images.add(subprocess.run(["docker", "inspect", "-f", "{{.Image}}", container], capture_output=True,
                                  text=True, check=True).stdout.strip())
    for image in images:
        assert not image_holds(image, needles), f"a secret is in the image {image}"


def image_holds(image: str, needles: list[bytes]) -> bool:
    """Whether any needle is in the image's layers or metadata (docker save)."""
    with subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE) as saving:
        tail = b""
        while chunk := saving.stdout.read(1 << 20):
            window = tail + chunk
            if any(n in window for n in needles):
                saving.kill()
                return True
            tail = window[-256:]
    return False
