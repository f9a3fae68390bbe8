"""What the tests of the roles against AWS's behaviour share
(tests/deploy/test_roles_aws.py, tests/deploy/test_roles_aws_stack.py): a
play of some roles, a small stack's deploy and teardown, the run's record."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ansible import ansible_playbook

DIGEST = "sha256:" + "0123456789abcdef" * 4

def play(tmp_path: Path, text: str) -> str:
    path = tmp_path / "play.yml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def roles_play(*roles: str) -> str:
    """A play on localhost that runs these roles (YAML role entries)."""
    entries = "".join(f"\n    - {role}" for role in roles)
    return f"- hosts: localhost\n  gather_facts: false\n  roles:{entries}\n"


def names(project: str) -> list[str]:
    """-e arguments giving a stack its own names (tags Project=<project>, Environment=t)."""
    return ["-e", f"project_name={project}", "-e", "deploy_env=t"]


# --- a small stack: security group, cluster with its (emulated) instance, service

STACK_PLAY = roles_play("security_group", "ecs_cluster",
                        f'{{role: front, front_image: "123456789012.dkr.ecr.eu-west-2.amazonaws.com/x-front@{DIGEST}"}}',
                        f'{{role: task, task_image: "123456789012.dkr.ecr.eu-west-2.amazonaws.com/x@{DIGEST}"}}')

TEARDOWN_FAST = ["-e", "teardown_check_delay=1", "-e", "ecs_cluster_delete_delay=1",
                 "-e", "security_group_delete_delay=1", "-e", "task_poll_delay=1"]


def deploy_stack(endpoint: str, tmp_path: Path, project: str, *extra: str) -> tuple[int, str]:
    return ansible_playbook(endpoint, play(tmp_path, STACK_PLAY), *names(project),
                            "-e", f"front_ca_file={tmp_path}/ca.pem", *extra, check=False)


def teardown(endpoint: str, project: str, *extra: str, check: bool = True) -> tuple[int, str]:
    return ansible_playbook(endpoint, "playbooks/teardown.yml", *names(project), *TEARDOWN_FAST, *extra,
                            check=check)


@dataclass
class Run:
    """One deployment: the stack's project, the exit code and output, and what it sent."""

    project: str
    folder: Path  # its playbook and CA file: later runs on the stack use the same
    code: int
    output: str
    requests: list[dict] = field(default_factory=list, repr=False)  # recorded by moto
    ecs_actions: list[str] = field(default_factory=list, repr=False)  # seen by the proxy
    refused: dict[str, int] = field(default_factory=dict, repr=False)  # calls the proxy refused, by action
