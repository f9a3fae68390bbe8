"""Running the project's playbooks in tests: ``ansible_playbook`` and ``recap``.

    code, output = ansible_playbook(moto_endpoint, "site.yml", "-e", "x=1")
    assert recap(output)["changed"] == 0
    stopped = stop_cases(moto_endpoint, {"case-0": {"task_memory": "lots"}}, tmp_path)   # one host per case
    assert_stopped_before_any_aws_call(stopped, "case-0", "task_memory")

Every run uses the repository's ansible.cfg, the dummy credentials of
tests/support/moto.py and ``AWS_ENDPOINT_URL``, from the repository root.
The endpoint is always the AWS proxy of tests/support/aws_proxy.py: a
test's own, or one started for the run in front of the emulator given, so
that every deploy meets AWS's delays and the proxy records the actions of
each role (a callback plugin tells it which role's task runs).  With
``LHTA_IAM_RECORD=<file>`` in the environment, each run adds what it
recorded to that JSON file (scripts/iam_policy.py turns it into the
deployer's IAM policy).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from standins.common import mitogen_strategy
from tests.support.aws_proxy import aws_proxy, is_proxy, proxy_at
from tests.support.moto import DUMMY_CREDENTIALS, recorded_requests
from tests.support.paths import PYTHON, ROOT
from tests.support.secret_audit import TEST_KEY

ANSIBLE_PLAYBOOK = Path(PYTHON).with_name("ansible-playbook")
CALLBACKS = Path(__file__).with_name("ansible_callbacks")
RECAP = re.compile(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def ansible_playbook(endpoint: str, *args: str, check: bool = True, inventory: str = "inventory/local",
                     timeout: float = 900, **extra_env: str) -> tuple[int, str]:
    """Run ansible-playbook from the repo root, quietly; fail the test with its
    output when it fails (unless ``check=False``).  The API key is the
    session's audited TEST_KEY (tests/support/secret_audit.py)."""
    local = endpoint.startswith("http://127.0.0.1:")
    with (nullcontext(None) if is_proxy(endpoint) or not local else aws_proxy(endpoint)) as proxy:
        code, output = _run(proxy.url if proxy else endpoint, args, inventory, timeout, extra_env)
    if is_proxy(endpoint) or proxy:
        record_actions((proxy or proxy_at(endpoint)).aws.actions)
    if check and code != 0:
        pytest.fail(f"ansible-playbook {' '.join(args)} failed ({code}):\n{output[-15000:]}")
    return code, output


def record_actions(actions: dict[str, set[str]]) -> None:
    """Add the actions recorded per role to $LHTA_IAM_RECORD (when set)."""
    path = os.environ.get("LHTA_IAM_RECORD")
    if not path:
        return
    record = json.loads(Path(path).read_text()) if Path(path).exists() else {}
    for role, found in actions.items():
        record[role] = sorted(set(record.get(role, [])) | found)
    Path(path).write_text(json.dumps(dict(sorted(record.items())), indent=2) + "\n")


def _run(endpoint: str, args, inventory: str, timeout: float, extra_env: dict) -> tuple[int, str]:
    env = {
        **os.environ,
        **DUMMY_CREDENTIALS,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "AWS_ENDPOINT_URL": endpoint,
        "API_KEY": TEST_KEY,
        "PATH": f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
        "ANSIBLE_CALLBACKS_ENABLED": "proxy_role",
        **mitogen_strategy(),
        **extra_env,
    }
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", inventory, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    return proc.returncode, proc.stdout + proc.stderr


def recap(output: str) -> dict[str, int]:
    """The PLAY RECAP counters of localhost."""
    match = RECAP.search(output)
    assert match, f"no PLAY RECAP in:\n{output[-3000:]}"
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


# A task's header line: "TASK [role : name] ****"; a name may hold "]"
# (the image role's "host[:port]").
TASK_HEADER = re.compile(r"^TASK \[(.*)\] \*+$")


def task_names(output: str) -> list[str]:
    """The names of the tasks a run started, in order ("role : name")."""
    return [match.group(1) for line in output.splitlines() if (match := TASK_HEADER.match(line))]


def changed_tasks(output: str) -> list[str]:
    """The names of the tasks that reported a change (for failure messages)."""
    found, task = [], ""
    for line in output.splitlines():
        if match := TASK_HEADER.match(line):
            task = match.group(1)
        elif line.startswith("changed:"):
            found.append(task)
    return found


@dataclass
class HostRun:
    """What one inventory host of a run_per_host run did: its task results
    (host_results callback: task, path, action, status, msg, errors)."""

    results: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.results if r["status"] in ("failed", "unreachable")]

    @property
    def text(self) -> str:
        """This host's share of the output: each task's name, status, message and errors."""
        return "\n".join(f"TASK [{r['task']}] {r['status']}: {r['msg']} {' '.join(r['errors'])} {r['exception']}"
                         for r in self.results)


@dataclass
class PerHostRun:
    code: int
    output: str
    hosts: dict[str, HostRun]


def run_per_host(endpoint: str, playbook: str, hosts: dict[str, dict], folder: Path, *args: str,
                 group_vars: Path = ROOT / "inventory" / "local" / "group_vars", **extra_env: str) -> PerHostRun:
    """One ansible-playbook run of `playbook` over an inventory of one host per
    entry of `hosts` (name -> that host's variables, on top of `group_vars`,
    inventory/local's by default), each on the local connection, the play's
    hosts being all of them (deploy_hosts=all): many cases of variables for
    one Ansible start.  Never fails the test itself."""
    inventory = folder / "inventory"
    inventory.mkdir(parents=True, exist_ok=True)
    (inventory / "group_vars").unlink(missing_ok=True)
    (inventory / "group_vars").symlink_to(group_vars)
    (inventory / "hosts.yml").write_text(json.dumps({"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "hosts": hosts}}, indent=1))
    record = folder / "host-results.jsonl"
    record.unlink(missing_ok=True)
    code, output = ansible_playbook(endpoint, playbook, "-e", "deploy_hosts=all", *args, check=False,
                                    inventory=str(inventory), LHTA_HOST_RESULTS=str(record),
                                    ANSIBLE_CALLBACKS_ENABLED="proxy_role,host_results", **extra_env)
    found = {name: HostRun() for name in hosts}
    for line in record.read_text().splitlines() if record.exists() else []:
        result = json.loads(line)
        found.setdefault(result["host"], HostRun()).results.append(result)
    return PerHostRun(code, output, found)


def stopped_while_checking(host: HostRun) -> bool:
    """The host failed, and every task it ran only checked variables: a
    role's argument_specs or tasks/validate.yml, or the checks deploy.yml
    runs before any role's own tasks (its pre_tasks)."""
    def checking(result: dict) -> bool:
        path = result["path"]
        return (result["action"] in ("validate_argument_spec", "ansible.builtin.validate_argument_spec")
                or "/tasks/validate.yml:" in path
                or (path.startswith(str(ROOT / "playbooks" / "deploy.yml") + ":") and result["task"].startswith("Check ")))
    return bool(host.failed) and all(checking(r) for r in host.results)


def stop_cases(endpoint: str, cases: dict[str, dict], folder: Path) -> tuple[PerHostRun, list[dict]]:
    """site.yml once, over one inventory host per case (name -> variables),
    and the AWS requests the emulator at `endpoint` received meanwhile."""
    with recorded_requests(endpoint) as requests:
        run = run_per_host(endpoint, "site.yml", cases, folder)
    return run, requests


def assert_stopped_before_any_aws_call(stopped: tuple[PerHostRun, list[dict]], case: str, named: str) -> HostRun:
    """The case's host failed while the variables were checked, naming
    `named`, with no traceback, and the emulator received no request."""
    run, requests = stopped
    host = run.hosts[case]
    assert run.code != 0
    assert stopped_while_checking(host), host.text[-5000:]
    assert named in host.text, host.text[-5000:]
    assert "Traceback" not in host.text and "Traceback" not in run.output
    assert requests == [], [r["url"] for r in requests]
    return host
