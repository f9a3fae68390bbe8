"""The documented commands marked `emulator` (README.md, docs/), run as
written from a fresh clone: the README's deploy, re-deploy and teardown
against the local AWS emulator, and the load-balanced topology's.  The
markers are explained in tests/unit/test_docs_blocks.py.

The first deploy (the quick start's, a whole stack from nothing) runs with
ansible.cfg's plain strategy, as a reader runs it: the suite's one run of
the deploying roles under the operator's strategy (the single topology's:
all but load_balancer).  The commands after it (the re-deploy, the
teardown, the load-balanced block) run with the tests'
(Mitogen, `standins.common.mitogen_strategy`), as every other run of the
suite: under the plain strategy each task starts a Python and imports
boto3, about three times the CPU of a run (bench/RESULTS.md, "Test
suite")."""

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


# The first ansible-playbook command: its line and the lines it continues onto.
FIRST_PLAYBOOK = re.compile(r"^.*ansible-playbook(?:.*\\\n)*.*\n?", re.M)


def script_of(blocks: list[Block], clone: Path) -> str:
    """The blocks as one script, each under a comment naming where it is;
    the tests' strategy (the clone's own standins/) exported right after
    the first ansible-playbook command."""
    script = "".join(f"# --- {block.where}\n{block.text}" for block in blocks)
    first = FIRST_PLAYBOOK.search(script)
    if not first:
        return script
    head, tail = script[:first.end()], script[first.end():]
    exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in mitogen_strategy(clone).items())
    return head + ("" if head.endswith("\n") else "\n") + exports + tail


def test_the_first_deploy_runs_with_the_operators_strategy(tmp_path):
    """The quick start's first command that runs Ansible is a whole deploy,
    with nothing of the tests' strategy before it; the strategy is exported
    once, right after it, before the re-deploy."""
    blocks = of_kind("emulator")
    script = script_of(blocks, tmp_path)
    first, rest = script.split("export ANSIBLE_", 1)
    [deploy] = [line for line in first.splitlines() if "ansible-playbook" in line]
    assert "site.yml" in deploy and "ANSIBLE_STRATEGY" not in first and "PYTHONPATH" not in first
    assert "ANSIBLE_STRATEGY=mitogen_linear" in rest.split("ansible-playbook", 1)[0]
    assert [line for line in rest.splitlines() if "ansible-playbook" in line][0] == deploy, \
        "the quick start's re-deploy (the same command) comes next"
    assert script.count("export ANSIBLE_STRATEGY=") == 1
    assert str(tmp_path / "standins" / "strategy") in rest and str(ROOT / "standins") not in rest


def test_a_first_command_on_several_lines_is_run_whole_before_the_export(tmp_path):
    text = ("make setup\n.venv/bin/ansible-playbook site.yml \\\n  -e x=1\n"
            ".venv/bin/ansible-playbook site.yml -e x=1\n")
    script = script_of([Block(ROOT / "README.md", 1, "emulator", "", text)], tmp_path)
    assert script.split("\n")[1:5] == ["make setup", ".venv/bin/ansible-playbook site.yml \\", "  -e x=1",
                                        f"export ANSIBLE_STRATEGY_PLUGINS={tmp_path}/standins/strategy"]


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
