"""ansible-lint passes on the whole repository exactly as a developer runs
it: `.venv/bin/ansible-lint --profile production` from the repository root
(offline and the excluded paths come from the repo's .ansible-lint)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.paths import PYTHON, ROOT

VENV_BIN = Path(PYTHON).parent


def test_ansible_lint_production_profile_passes_from_the_repository_root():
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
    }
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--profile", "production"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-10000:]
    assert "Profile 'production' was required, and it passed" in output, output[-3000:]
