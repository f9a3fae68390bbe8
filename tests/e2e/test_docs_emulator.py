"""The documented commands marked `emulator` (README.md, docs/), run as
written from a fresh clone: the README's deploy, re-deploy and teardown
against the local AWS emulator, and the load-balanced topology's.  The
markers are explained in tests/unit/test_docs_blocks.py.

The first block (set-up, deploy, re-deploy, teardown: the quick start)
runs with ansible.cfg's plain strategy, as a reader runs it: the suite's
one run of the roles under the operator's strategy.  The blocks after it
run with the tests' (Mitogen, `standins.common.mitogen_strategy`): under
the plain strategy each task starts a Python and imports boto3, two to
three times the CPU of a run (bench/RESULTS.md, "Test suite")."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

from standins.common import mitogen_strategy
from tests.support.docs_blocks import BASE_ENV, Block, bash, of_kind
from tests.support.net import free_port
from tests.support.paths import ROOT
from tests.support.tls import make_certificate


def script_of(blocks: list[Block], clone: Path) -> str:
    """The blocks as one script, each under a comment naming where it is;
    from the second on, the tests' strategy exported before it (the
    clone's own standins/)."""
    parts = []
    for index, block in enumerate(blocks):
        parts.append(f"# --- {block.where}\n")
        if index == 1:
            parts.append("".join(f"export {name}={shlex.quote(value)}\n"
                                 for name, value in mitogen_strategy(clone).items()))
        parts.append(block.text)
    return "".join(parts)


def test_the_first_emulator_block_runs_with_the_operators_strategy(tmp_path):
    """The quick start's block, first, with nothing of the tests' strategy
    before it; the strategy is exported once, before the second block."""
    blocks = of_kind("emulator")
    script = script_of(blocks, tmp_path)
    first, rest = script.split(f"# --- {blocks[1].where}\n", 1)
    assert "site.yml" in first and "ANSIBLE_STRATEGY" not in first
    assert rest.startswith("export ") and "ANSIBLE_STRATEGY=mitogen_linear" in rest.split(blocks[1].text)[0]
    assert str(tmp_path / "standins" / "strategy") in rest and str(ROOT / "standins") not in rest


def test_emulator_blocks_deploy_redeploy_and_tear_down_from_a_fresh_clone(tmp_path):
    """All emulator blocks as one script in a fresh clone (so `make setup`
    and every other step a new user takes is in them), on free ports: each
    ansible-playbook run ends without failure, a deployment run twice in a
    row changes nothing the second time, each teardown finds nothing left."""
    blocks = of_kind("emulator")
    clone = tmp_path / "living-hta"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    tls = make_certificate(tmp_path / "tls")  # the reader's own certificate
    shutil.copy(tls["certificate"], clone / "cert.pem")
    shutil.copy(tls["key"], clone / "key.pem")
    registry_port = free_port()
    (tmp_path / "docker-config").mkdir()
    env = {**BASE_ENV, "MOTO_PORT": str(free_port()), "REGISTRY_PORT": str(registry_port),
           # The push's login goes to a throw-away Docker client config, not ~/.docker.
           "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    script = script_of(blocks, clone)
    try:
        done = bash(script, clone, env, timeout=1800)
    finally:
        for script_name in ("scripts/registry", "scripts/moto-server"):
            subprocess.run([script_name, "stop"], cwd=clone, env=env, capture_output=True, timeout=60)
        pushed = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}",
                                 "--filter", f"reference=127.0.0.1:{registry_port}/*"],
                                capture_output=True, text=True).stdout.split()
        if pushed:
            subprocess.run(["docker", "rmi", *pushed], capture_output=True)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{script}\n--- output\n{output[-8000:]}"
    recaps = re.findall(r"^localhost\s+:.*$", output, re.M)
    runs = [line.strip() for line in script.splitlines() if "ansible-playbook" in line]
    assert len(recaps) == len(runs) and all("failed=0" in r for r in recaps), recaps
    # The same deployment run again right after (the README's re-deploy) changes nothing.
    again = [i for i in range(1, len(runs)) if runs[i] == runs[i - 1] and "site.yml" in runs[i]]
    assert again, "no re-deploy among the emulator blocks"
    assert all(" changed=0 " in recaps[i] for i in again), [recaps[i] for i in again]
    assert output.count("Nothing tagged") == script.count("playbooks/teardown.yml"), output[-4000:]
