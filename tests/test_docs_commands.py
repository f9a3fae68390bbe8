"""Every shell block of README.md and docs/*.md is run, or at least parsed, here.

Blocks are found in the files when the tests run (anyone may add one), and
each says how it is tested with a marker: an HTML comment, invisible on the
rendered page, on the line just above its fence (blank lines between are
allowed).  docs/documented-commands.md says the same for writers.

    <!-- docs-test: run -->
        Run in a scratch folder (the checkout's .venv linked in), each block
        alone with `bash -e -o pipefail`, in document order: a file one block
        writes, a later one may read.  Files a block names as the reader's own
        (OWN_FILES below: updates.json, strategies.csv, samples.csv) are there
        first.  Must exit 0.
    <!-- docs-test: service -->
        As `run`, with LIVING_HTA_URL and LIVING_HTA_KEY naming a service
        started for the test (gunicorn on a free port, the session's key).
    <!-- docs-test: emulator -->
        All such blocks of all files together, in document order, as one
        script in a fresh clone of the committed HEAD (as a new user has it:
        `make setup` is theirs to run), with MOTO_PORT and REGISTRY_PORT set to
        free ports: the blocks start and use the emulator and the registry
        themselves.  The reader's cert.pem/key.pem are there first.  Must
        exit 0; the test stops the emulator and the registry afterwards.
    <!-- docs-test: aws -->
        Needs a real AWS account, or a deployment or host of the reader's
        own: checked with `bash -n` only.
    <!-- docs-test: syntax: REASON -->
        `bash -n` only, for a block that cannot end by itself or that another
        test runs (a server in the foreground, `make test`, the demo); the
        reason is required.

A shell block (```sh, bash, shell, console) without a marker fails
`test_every_shell_block_says_how_it_is_tested`, naming file and line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.paths import ROOT
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server
from tests.support.tls import make_certificate

SHELLS = {"sh", "bash", "shell", "console"}
KINDS = {"run", "service", "emulator", "aws", "syntax"}
MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<kind>[a-z]+)(?::\s*(?P<reason>.*?))?\s*-->")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>`{3,})(?P<info>[^`\s]*)\s*$")
# A plain environment: no AWS settings or keys of the machine running the tests.
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(Path.home()), "LANG": "C.UTF-8"}
# Files the documented commands take as the reader's own.
OWN_FILES = {
    "updates.json": '[{"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150}]\n',
    "strategies.csv": "Strategy,Cost,Effect\nA,0,0\nB,100,1\nC,250,2\nD,300,3\n",
}


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    kind: str | None
    reason: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def shell_blocks(path: Path) -> list[Block]:
    """The shell blocks of a Markdown file, with the marker above each."""
    lines = path.read_text().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, end = len(opening["indent"]), index + 1
        while end < len(lines) and lines[end].strip() != opening["ticks"]:
            end += 1
        if opening["info"] in SHELLS:
            above = index - 1
            while above >= 0 and not lines[above].strip():
                above -= 1
            marker = MARKER.search(lines[above]) if above >= 0 else None
            body = "\n".join(line[indent:] if line[:indent].isspace() else line.lstrip()
                             for line in lines[index + 1:end])
            blocks.append(Block(path, index + 1, marker["kind"] if marker else None,
                                (marker["reason"] or "") if marker else "", body + "\n"))
        index = end + 1
    return blocks


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in shell_blocks(path)]


def of_kind(*kinds: str) -> list[Block]:
    return [block for block in all_blocks() if block.kind in kinds]


def bash(script: str, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_every_shell_block_says_how_it_is_tested():
    blocks = all_blocks()
    assert len(blocks) > 10, "no shell blocks found: has the fence syntax changed?"
    unmarked = [b.where for b in blocks if b.kind is None]
    assert not unmarked, (
        f"shell blocks without a <!-- docs-test: KIND --> line above them: {unmarked}; "
        f"KIND is one of {sorted(KINDS)} (see tests/test_docs_commands.py)")
    unknown = [(b.where, b.kind) for b in blocks if b.kind not in KINDS]
    assert not unknown, f"unknown docs-test kinds: {unknown}; known: {sorted(KINDS)}"
    unexplained = [b.where for b in blocks if b.kind == "syntax" and not b.reason.strip()]
    assert not unexplained, f"<!-- docs-test: syntax: REASON --> needs its reason: {unexplained}"
    # The deployment against the emulator is documented and run.
    assert of_kind("emulator"), "no block is marked emulator"


def test_blocks_that_are_only_parsed_are_valid_shell():
    failures = []
    for block in of_kind("aws", "syntax"):
        parsed = subprocess.run(["bash", "-n"], input=block.text, capture_output=True, text=True)
        if parsed.returncode != 0:
            failures.append(f"{block.where}: {parsed.stderr.strip()}")
    assert not failures, "\n".join(failures)


@pytest.fixture
def workspace(tmp_path) -> Path:
    """A scratch folder where `.venv/bin/...` is the checkout's and the reader's files are."""
    folder = tmp_path / "workspace"
    folder.mkdir()
    (folder / ".venv").symlink_to(ROOT / ".venv")
    for name, text in OWN_FILES.items():
        (folder / name).write_text(text)
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "-m", "model", "run", "--seed", "1", "--samples", "100",
                    "--save-samples", "samples.csv"], cwd=folder, check=True, capture_output=True)
    return folder


def run_in_order(blocks: list[Block], folder: Path, env: dict[str, str]) -> None:
    failures = []
    for block in blocks:
        done = bash(block.text, folder, env, timeout=600)
        if done.returncode != 0:
            failures.append(f"{block.where} exited {done.returncode}:\n{block.text}"
                            f"--- stdout\n{done.stdout[-2000:]}\n--- stderr\n{done.stderr[-2000:]}")
    assert not failures, "\n\n".join(failures)


def test_run_blocks_run(workspace):
    blocks = of_kind("run")
    assert blocks
    run_in_order(blocks, workspace, BASE_ENV)


@pytest.mark.slow
def test_service_blocks_run_against_a_service(workspace, tmp_path):
    blocks = of_kind("service")
    assert blocks
    with gunicorn_server(tmp_path, API_KEYS=TEST_KEY) as server:
        run_in_order(blocks, workspace, {**BASE_ENV, "LIVING_HTA_URL": server.url, "LIVING_HTA_KEY": TEST_KEY})


@pytest.mark.slow
def test_emulator_blocks_deploy_redeploy_and_tear_down_from_a_fresh_clone(tmp_path):
    """The emulator blocks as one script in a fresh clone: README's deploy,
    re-deploy and teardown (and the load-balanced topology's), each
    ansible-playbook run ending without failure, each teardown finding
    nothing left."""
    blocks = of_kind("emulator")
    clone = tmp_path / "living-hta"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    tls = make_certificate(tmp_path / "tls")
    shutil.copy(tls["certificate"], clone / "cert.pem")
    shutil.copy(tls["key"], clone / "key.pem")
    moto_port, registry_port = free_port(), free_port()
    (tmp_path / "docker-config").mkdir()
    env = {**BASE_ENV, "MOTO_PORT": str(moto_port), "REGISTRY_PORT": str(registry_port),
           # The push's login goes to a throw-away Docker client config, not ~/.docker.
           "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    script = "".join(f"# --- {block.where}\n{block.text}" for block in blocks)
    try:
        done = bash(script, clone, env, timeout=1800)
    finally:
        for stop in ("scripts/registry", "scripts/moto-server"):
            subprocess.run([stop, "stop"], cwd=clone, env=env, capture_output=True, timeout=60)
        pushed = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}",
                                 "--filter", f"reference=127.0.0.1:{registry_port}/*"],
                                capture_output=True, text=True).stdout.split()
        if pushed:
            subprocess.run(["docker", "rmi", *pushed], capture_output=True)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{script}\n--- output\n{output[-8000:]}"
    recaps = re.findall(r"^localhost\s+:.*$", output, re.M)
    teardowns = script.count("playbooks/teardown.yml")
    assert len(recaps) == script.count("ansible-playbook") and all("failed=0" in r for r in recaps), recaps
    assert output.count("Nothing tagged") == teardowns, output[-4000:]
