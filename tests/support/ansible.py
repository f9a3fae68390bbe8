"""Running the project's playbooks in tests: ``ansible_playbook`` and ``recap``.

    code, output = ansible_playbook(moto_endpoint, "site.yml", "-e", "x=1")
    assert recap(output)["changed"] == 0

Every run uses the repository's ansible.cfg, the dummy credentials of
tests/support/moto.py and ``AWS_ENDPOINT_URL`` (the emulator, or a proxy in
front of it), from the repository root.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.moto import DUMMY_CREDENTIALS
from tests.support.paths import PYTHON, ROOT
from tests.support.secret_audit import TEST_KEY

ANSIBLE_PLAYBOOK = Path(PYTHON).with_name("ansible-playbook")
RECAP = re.compile(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def ansible_playbook(endpoint: str, *args: str, check: bool = True, inventory: str = "inventory/local",
                     timeout: float = 900, **extra_env: str) -> tuple[int, str]:
    """Run ansible-playbook from the repo root, quietly; fail the test with its
    output when it fails (unless ``check=False``).  The API key is the
    session's audited TEST_KEY (tests/support/secret_audit.py)."""
    env = {
        **os.environ,
        **DUMMY_CREDENTIALS,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "AWS_ENDPOINT_URL": endpoint,
        "API_KEY": TEST_KEY,
        "PATH": f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra_env,
    }
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", inventory, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        pytest.fail(f"ansible-playbook {' '.join(args)} failed ({proc.returncode}):\n{output[-15000:]}")
    return proc.returncode, output


def recap(output: str) -> dict[str, int]:
    """The PLAY RECAP counters of localhost."""
    match = RECAP.search(output)
    assert match, f"no PLAY RECAP in:\n{output[-3000:]}"
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))
