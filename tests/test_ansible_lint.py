"""ansible-lint (production profile, offline) passes on site.yml, the
playbooks and every role, with the repo's .ansible-lint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def test_ansible_lint_production_profile_passes():
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
    }
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--nocolor", "--offline", "site.yml", "playbooks", "roles"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-10000:]
    assert "Profile 'production' was required, and it passed" in output, output[-3000:]
