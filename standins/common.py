"""What every stand-in shares: errors, commands, the emulator's clients, labels."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGION = "eu-west-2"
LABEL = "living-hta.demo"  # =<container prefix>: every container the demo starts
REPLICA_LABEL = "living-hta.demo.replica"  # =<number>: the task a container belongs to (its replica number)
TASK_LABEL = "living-hta.demo.task"  # =<task ARN in the emulator>
TASK_DEFINITION_LABEL = "living-hta.demo.task-definition"  # =<task definition ARN>
INSTANCE_LABEL = "living-hta.demo.instance"  # =<EC2 instance id the task is placed on>


class DemoError(Exception):
    """Something the demo cannot go on from; the message says what."""


def run(cmd: list[str], env=None, quiet=False, check=True, cwd=None) -> subprocess.CompletedProcess:
    """Run a command; show its output unless quiet (then show it only if it fails)."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
    )
    if check and proc.returncode != 0:
        said = f":\n{proc.stdout[-3000:]}" if quiet and proc.stdout else ""
        raise DemoError(f"`{' '.join(cmd[:3])} …` failed (exit {proc.returncode}){said}")
    return proc


class Emulator:
    """boto3 clients on the emulator's endpoint, with fake keys (never real AWS).

    One client per service, made on first use and shared by the stand-ins'
    threads (boto3's clients are thread-safe; its sessions are not, hence
    the lock): with a new client per call, the stand-ins' process took
    10.4 s of CPU a minute while the demo sat idle; with these, 4.7 s."""

    def __init__(self, endpoint: str):
        import boto3
        from botocore.config import Config

        self.endpoint = endpoint
        self.session = boto3.Session(region_name=REGION, aws_access_key_id="testing",
                                     aws_secret_access_key="testing", aws_session_token="testing")
        self.config = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30)
        self._clients: dict[str, object] = {}
        self._lock = threading.Lock()

    def client(self, name: str):
        with self._lock:
            if name not in self._clients:
                self._clients[name] = self.session.client(name, endpoint_url=self.endpoint, config=self.config)
            return self._clients[name]


def mitogen_strategy(root: Path = ROOT) -> dict[str, str]:
    """Environment for ansible-playbook runs of the demo and the tests:
    Mitogen for Ansible's mitogen_linear strategy (a development dependency,
    pyproject.toml), which runs each module in one long-lived interpreter
    instead of a new Python per task (bench/RESULTS.md: 2-5x faster runs
    here, where every task starts boto3), in the variant of
    standins/strategy/mitogen_linear.py, which lists the collections once
    per run and keeps compiled templates on disk, and the modules'
    interpreter shares one botocore data loader, the builtin event handlers
    and each service's client methods among its sessions
    (standins/pythonpath/sitecustomize.py, on PYTHONPATH), both from `root`'s standins/ (this checkout's, or a
    clone's).  Empty without the package: the plain strategy, the one
    ansible.cfg keeps for everyone else."""
    if importlib.util.find_spec("ansible_mitogen") is None:
        return {}
    here = root / "standins"
    return {"ANSIBLE_STRATEGY_PLUGINS": str(here / "strategy"),
            "ANSIBLE_STRATEGY": "mitogen_linear",
            "PYTHONPATH": os.pathsep.join(filter(None, (str(here / "pythonpath"), os.environ.get("PYTHONPATH"))))}

