"""The documented commands marked `emulator` (README.md, docs/), run as
written from a fresh clone: the README's deploy, re-deploy and teardown
against the local AWS emulator, and the load-balanced topology's.  The
markers are explained in tests/unit/test_docs_blocks.py."""

from __future__ import annotations

import re
import shutil
import subprocess

from tests.support.docs_blocks import BASE_ENV, bash, of_kind
from tests.support.net import free_port
from tests.support.paths import ROOT
from tests.support.tls import make_certificate


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
    script = "".join(f"# --- {block.where}\n{block.text}" for block in blocks)
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
