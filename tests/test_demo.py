"""The README's demo commands, exactly as written, from a fresh clone.

`make demo` deploys the stack locally (moto, a local registry, the task's
containers: the API behind its TLS front on 127.0.0.1:8443, 8080
redirecting); the test calls the URL it prints trusting only the CA it
wrote, checks old TLS is refused and no secret reached the task definition,
the images or the logs, then runs `make demo-down` twice and checks that
nothing is left: no container, no process of the clone, no listening port,
and the teardown's own check that nothing tagged with the project remains
in the emulator.
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

import pytest

from tests.support.front import tls_handshake
from tests.support.paths import ROOT

pytestmark = pytest.mark.slow
PORTS = (5000, 5001, 8080, 8443)  # moto, registry, HTTP redirect, HTTPS: fixed, as the README says


def readme_commands() -> dict[str, str]:
    """The `make demo*` lines of the README's code blocks, comments removed."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    commands = {}
    for block in blocks:
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("make demo"):
                commands.setdefault(command, command)
    prose = re.findall(r"`(make demo-down)`", (ROOT / "README.md").read_text())
    for command in prose:
        commands.setdefault(command, command)
    return commands


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def clone_processes(clone: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if str(clone) in line and "ps -eo" not in line]


def demo_containers() -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=living-hta.demo=1"],
        capture_output=True, text=True, check=True,
    )
    return out.stdout.split()


def make(clone: Path, command: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        shlex.split(command), cwd=clone, capture_output=True, text=True, timeout=timeout,
        env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "HOME": str(Path.home()), "LANG": "C.UTF-8"},
    )


def check_tls_versions(port: int) -> None:
    for version in ("-tls1", "-tls1_1"):
        assert tls_handshake(port, version, "-cipher", "DEFAULT@SECLEVEL=0") == "New, (NONE), Cipher is (NONE)"
    for version, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        assert tls_handshake(port, version).startswith(f"New, {name}, ")


def check_redirect(url: str) -> None:
    request = urllib.request.Request("http://127.0.0.1:8080/health?x=1")
    opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                              {"redirect_request": lambda *a, **k: None}))
    try:
        opener.open(request, timeout=10)
        raise AssertionError("http://127.0.0.1:8080 answered without redirecting")
    except urllib.error.HTTPError as answer:
        assert answer.code == 308 and answer.headers["Location"] == f"{url}/health?x=1"


def check_no_secret_anywhere(demo_output: str, key: str) -> None:
    """Neither the API key nor the TLS private key is in the deployed task
    definition, in the images the task runs, or in either container's log."""
    import boto3

    session = boto3.Session(region_name="eu-west-2", aws_access_key_id="testing",
                            aws_secret_access_key="testing", aws_session_token="testing")
    ecs = session.client("ecs", endpoint_url="http://127.0.0.1:5000")
    secret = session.client("secretsmanager", endpoint_url="http://127.0.0.1:5000").get_secret_value(
        SecretId="living-hta/local/tls")
    private_key = json.loads(secret["SecretString"])["private_key"]
    needles = [key.encode()] + [line.encode() for line in private_key.splitlines() if "PRIVATE KEY" not in line]
    [cluster] = ecs.list_clusters()["clusterArns"]
    [service] = ecs.list_services(cluster=cluster)["serviceArns"]
    definition = ecs.describe_task_definition(taskDefinition=ecs.describe_services(
        cluster=cluster, services=[service])["services"][0]["taskDefinition"])
    text = json.dumps(definition, default=str).encode()
    assert not any(n in text for n in needles), "a secret is in the task definition"
    assert not any(n.decode() in demo_output for n in needles[1:]), "the private key was printed"
    for container in ("lhta-demo-api", "lhta-demo-front"):
        logs = subprocess.run(["docker", "logs", container], capture_output=True, timeout=30)
        assert not any(n in logs.stdout + logs.stderr for n in needles), f"a secret is in {container}'s log"
        image = subprocess.run(["docker", "inspect", "-f", "{{.Image}}", container], capture_output=True,
                               text=True, check=True).stdout.strip()
        assert not image_holds(image, needles), f"a secret is in the image of {container}"


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


def test_readme_demo_from_a_fresh_clone(tmp_path):
    commands = readme_commands()
    assert "make demo" in commands and "make demo-down" in commands, commands
    busy = [p for p in PORTS if listening(p)]
    assert not busy, f"ports {busy} are in use (a demo already running? `make demo-down`)"

    clone = tmp_path / "living-hta"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    try:
        up = make(clone, "make demo")
        assert up.returncode == 0, up.stdout[-6000:] + up.stderr[-3000:]
        url = re.search(r"^\s+URL\s+(https://127\.0\.0\.1:\d+)\s", up.stdout, re.M).group(1)
        key = re.search(r"^\s+API key\s+(\S+)$", up.stdout, re.M).group(1)
        assert url == "https://127.0.0.1:8443"
        assert f"{url}/__docs__/" in up.stdout and "curl -s --cacert .cache/demo/ca.pem " in up.stdout
        ca_file = clone / ".cache" / "demo" / "ca.pem"
        tls = ssl.create_default_context(cafile=str(ca_file))

        request = urllib.request.Request(
            url + "/runDARTHmodel", method="POST", headers={"key": key, "Content-Type": "application/json"},
            data=json.dumps({"param_updates": [], "seed": 7}).encode(),
        )
        with urllib.request.urlopen(request, timeout=30, context=tls) as response:
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
        check_tls_versions(8443)
        check_redirect(url)
        check_no_secret_anywhere(up.stdout, key)
    finally:
        down = make(clone, "make demo-down")
    assert down.returncode == 0, down.stdout[-6000:] + down.stderr[-3000:]
    assert "nothing tagged with the project is left" in down.stdout
    again = make(clone, "make demo-down")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]

    assert demo_containers() == []
    assert clone_processes(clone) == []
    assert [p for p in PORTS if listening(p)] == []
