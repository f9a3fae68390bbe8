"""The README's demo commands, exactly as written, from a fresh clone.

`make demo` deploys the stack locally (moto, a local registry, the real
container on 127.0.0.1:8080); the test calls the URL it prints, then runs
`make demo-down` twice and checks that nothing is left: no container, no
process of the clone, no listening port, and the teardown's own check that
nothing tagged with the project remains in the emulator.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.slow
PORTS = (5000, 5001, 8080)  # moto, registry, API: fixed, as the README says


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
        url = re.search(r"^\s+URL\s+(http://127\.0\.0\.1:\d+)$", up.stdout, re.M).group(1)
        key = re.search(r"^\s+API key\s+(\S+)$", up.stdout, re.M).group(1)
        assert url == "http://127.0.0.1:8080"
        assert f"{url}/__docs__/" in up.stdout and "curl " in up.stdout

        request = urllib.request.Request(
            url + "/runDARTHmodel", method="POST", headers={"key": key, "Content-Type": "application/json"},
            data=json.dumps({"param_updates": [], "seed": 7}).encode(),
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            lines = response.read().decode().splitlines()
        assert len(lines) == 1001 and all(len(line.split(",")) == 6 for line in lines)
        assert lines[0] == "C_No_Treatment,C_Treatment_A,C_Treatment_B,E_No_Treatment,E_Treatment_A,E_Treatment_B"
    finally:
        down = make(clone, "make demo-down")
    assert down.returncode == 0, down.stdout[-6000:] + down.stderr[-3000:]
    assert "nothing tagged with the project is left" in down.stdout
    again = make(clone, "make demo-down")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]

    assert demo_containers() == []
    assert clone_processes(clone) == []
    assert [p for p in PORTS if listening(p)] == []
