"""The README's demo commands, exactly as written, from a fresh clone: the
single topology, deploying in place, and what `make demo-down` leaves.

`make demo` (the load_balanced topology: the task's replicas behind HAProxy
standing in for the load balancer on 127.0.0.1:8443, 8080 redirecting) is
tests/e2e/test_load_balanced_local.py's stack, in the same fresh clone
(`fresh_clone`, tests/e2e/conftest.py): it checks the URL and key `make
demo` prints, old TLS refused, no secret in the task definition, the images
or the logs, and that `make demo-down` removes every container.  Here
`DEMO_TOPOLOGY=single make demo` runs the single topology (one task, its
front on 8443), called the same way; `make demo` again deploys in place,
and `scripts/demo.py deploy -e task_stop_timeout=31` (a new revision on
fixed host ports) stops the old task before starting the new one.  Then
`make demo-down` twice, and nothing is left: no container, no process of
the clone, no listening port, and the teardown's own check that nothing
tagged with the project remains in the emulator.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.support.demo import (busy_demo_ports, call, call_again, check_demo_ports_free, check_redirect,
                                clone_processes, demo_containers, make, make_env, readme_commands,
                                running_demo_containers)

pytestmark = pytest.mark.slow


def test_readme_demo_commands_are_the_ones_tested():
    """The README's `make demo*` commands are those this module and
    tests/e2e/test_load_balanced_local.py run."""
    commands = readme_commands()
    assert {"make demo", "make demo-down", "DEMO_TOPOLOGY=single make demo"} <= set(commands), commands


def test_readme_single_demo_from_a_fresh_clone(fresh_clone):
    single = "DEMO_TOPOLOGY=single make demo"
    check_demo_ports_free()
    clone = fresh_clone
    ca_file = clone / ".cache" / "demo" / "ca.pem"
    try:
        # Part 1's: one task, its front on 8443 itself, run by the stand-ins.
        up = make(clone, single)
        url, key = call(up, ca_file)
        assert demo_containers() == ["lhta-demo-1-api", "lhta-demo-1-front"]
        check_redirect(url, 308)
        # `make demo` again on the running demo deploys in place: the same task.
        again = make(clone, single)
        assert "deploys again in place" in again.stdout, again.stdout[-3000:] + again.stderr[-3000:]
        assert again.returncode == 0 and demo_containers() == ["lhta-demo-1-api", "lhta-demo-1-front"]
        call_again(url, key, ca_file)
        # A new revision on fixed host ports: the old task stops, then the new one starts.
        revised = subprocess.run([".venv/bin/python", "scripts/demo.py", "deploy", "-e", "task_stop_timeout=31"],
                                 cwd=clone, capture_output=True, text=True, timeout=900,
                                 env={**make_env({}), "DEMO_TOPOLOGY": "single"})
        assert revised.returncode == 0, revised.stdout[-5000:] + revised.stderr[-3000:]
        log = (clone / ".cache" / "demo" / "standins.log").read_text()
        assert log.index("task 1: containers stopped") < log.index("task 2 (living-hta-local:2): starting"), log
        assert running_demo_containers() == ["lhta-demo-2-api", "lhta-demo-2-front"]
        call_again(url, key, ca_file)
    finally:
        down = make(clone, "make demo-down")
    assert down.returncode == 0, down.stdout[-6000:] + down.stderr[-3000:]
    assert "nothing tagged with the project is left" in down.stdout
    again = make(clone, "make demo-down")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]

    assert demo_containers() == []
    assert clone_processes(clone) == []
    assert busy_demo_ports() == []
