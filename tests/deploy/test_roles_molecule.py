"""Each role's molecule scenario (converge, idempotence, verify, cleanup)
against the moto server, offline: no galaxy dependency, no prerun, the
collections of the `ansible` package in .venv plus collections/ here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from standins.common import mitogen_strategy
from tests.support.aws_proxy import aws_proxy
from tests.support.moto import DUMMY_CREDENTIALS
from tests.support.paths import ROOT

ROLES = ["ecr", "security_group", "ecs_cluster", "front", "task", "load_balancer", "teardown"]
VENV_BIN = Path(sys.executable).parent


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_molecule_scenario(role, moto_endpoint, tmp_path):
    # Through the AWS proxy, as every deploy of the tests (AWS's delays).
    with aws_proxy(moto_endpoint) as proxy:
        molecule(role, proxy.url, tmp_path)


def molecule(role: str, endpoint: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        **DUMMY_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        # Molecule writes its own ansible.cfg; keep ours out of its way.
        "ANSIBLE_CONFIG": "",
        "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path / "molecule"),
        **mitogen_strategy(),
    }
    proc = subprocess.run(
        [str(VENV_BIN / "molecule"), "test", "-s", "default"],
        cwd=ROOT / "roles" / role,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        # The failing task is where "FAILED!" is; the tail is molecule's summary.
        out = proc.stdout + proc.stderr
        at = out.find("FAILED!")
        detail = out[max(0, at - 3000) : at + 3000] if at >= 0 else out[-8000:]
        pytest.fail(f"molecule test failed for {role}:\n{detail}\n...\n{out[-1500:]}")
    summary = proc.stdout + proc.stderr
    for step in ("converge", "idempotence", "verify"):
        assert f"{step}: Executed: Successful" in summary, f"{role}: {step} did not run:\n{summary[-4000:]}"
