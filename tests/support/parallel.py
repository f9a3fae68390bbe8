"""Which test modules may run beside the others.

`make test` runs the suite on two pytest-xdist workers (`pytest -n 2`): one
Ansible run against moto keeps about one core busy, and those runs are most
of the suite's time.  tests/conftest.py hands xdist a scheduler that sends
each group whole to one worker, which runs it in collection order:

- "serial": every module not listed below.  One worker runs them one after
  the other, exactly as a serial run would: they build and tag the same
  Docker images (living-hta:<commit> among them), start servers whose logs
  the key audit reads after them (its tests are last in this group), use the
  demo's fixed ports, or write into the checkout.
- each module of ANY_WORKER is a group of its own, which either worker may
  take.  A module is listed only if its tests touch no Docker image,
  container or registry, start no server (nothing for the key audit to
  read: `check_may_record` refuses it), use no fixed port, write nothing
  into the checkout, and talk to AWS only through their own worker's moto
  server (tests/support/moto.py starts one per worker).  They are the
  roles' Ansible and molecule runs against moto, and plain Python.

A new module is "serial" until someone checks it against that list.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.paths import ROOT

SERIAL = "serial"
# Longest first: a worker that is free takes the next one in this order.
ANY_WORKER = (
    # Ansible and molecule against moto, and ansible-lint (a minute or more each).
    "test_roles_aws", "test_roles_molecule", "test_deploy_checks", "test_ansible_lint",
    # Plain Python: the model, the analyses, the app in process (falcon.testing).
    "test_analysis_cli", "test_analysis_properties", "test_analysis_reference",
    "test_analysis_sensitivity", "test_analysis_service",
    "test_fuzz_arguments", "test_model_cli", "test_model_properties", "test_model_reference",
    "test_model_state_time", "test_parameters", "test_sampling", "test_service_app", "test_service_fuzz",
    "test_without_pandas", "test_writers",
)

_missing = sorted(name for name in ANY_WORKER if not (ROOT / "tests" / f"{name}.py").is_file())
if _missing:
    raise RuntimeError(f"tests/support/parallel.py names modules that do not exist: {_missing}")


def group_of(module: str) -> str:
    """The xdist group of a test module (its file name without .py)."""
    return module if module in ANY_WORKER else SERIAL


def start_order(group: str) -> int:
    """Groups are handed out in this order: "serial" (the longest) first."""
    return 0 if group == SERIAL else 1 + ANY_WORKER.index(group)


def check_may_record() -> None:
    """Refuse to record a server's logs for the key audit from a module that
    may run on the other worker, where the audit would never see them."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    module = Path(current.split("::", 1)[0]).stem
    if current and group_of(module) != SERIAL:
        raise RuntimeError(f"{module} starts a server whose logs the key audit must read: "
                           "take it out of ANY_WORKER in tests/support/parallel.py")
