"""Wall time of the Ansible deployment against the AWS emulator: deploy
(site.yml on an empty moto), re-deploy (no change) and teardown, with
ansible.cfg's plain strategy (what an operator runs), with Mitogen's
mitogen_linear strategy, and with the variant of it the tests and the demo
use (standins/strategy/mitogen_linear.py: the collections listed once per
run).  Wall time and the CPU time of ansible-playbook and every process it
waited for (its workers, Mitogen's interpreters, the modules).

    make bench-deploy        # or: .venv/bin/python bench/bench_deploy.py [--registry HOST:PORT] [--no-write]

(make runs it with Python's byte-code cache on, as every make target.)

Starts its own moto server and registry on free loopback ports
(tests/support/moto.py, tests/support/registry.py; or pushes to the registry
given, e.g. the one `scripts/registry start` prints).  Targets: deploy
≤ 60 s, re-deploy ≤ 30 s, teardown ≤ 30 s.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import resource
import tempfile
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _results import update_section  # noqa: E402
from standins.common import mitogen_strategy  # noqa: E402
from tests.support.moto import DUMMY_CREDENTIALS, start_moto, stop_moto  # noqa: E402
from tests.support.registry import running_registry  # noqa: E402

# The runs each measure makes, in order, on one fresh moto server.
RUNS = (("deploy", "site.yml"), ("re-deploy", "site.yml"), ("teardown", "playbooks/teardown.yml"))
TARGETS_S = {"deploy": 60.0, "re-deploy": 30.0, "teardown": 30.0}
RECAP = re.compile(r"localhost\s+: ok=(\d+)\s+changed=(\d+)")
# One key for all runs (a new one would be a change to deploy).
API_KEY = os.environ.get("API_KEY") or secrets.token_urlsafe(24)


def mitogens_own_strategy() -> dict[str, str]:
    """mitogen_linear as the mitogen package ships it."""
    spec = importlib.util.find_spec("ansible_mitogen")
    plugins = Path(list(spec.submodule_search_locations)[0]) / "plugins" / "strategy"
    return {"ANSIBLE_STRATEGY_PLUGINS": str(plugins), "ANSIBLE_STRATEGY": "mitogen_linear"}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(endpoint: str, strategy: dict[str, str], *args: str) -> tuple[float, float, int]:
    env = {
        **os.environ,
        **DUMMY_CREDENTIALS,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "AWS_ENDPOINT_URL": endpoint,
        "API_KEY": API_KEY,
        **strategy,
    }
    start, cpu = time.perf_counter(), children_cpu()
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "inventory/local", *args],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    seconds, cpu = time.perf_counter() - start, children_cpu() - cpu
    if proc.returncode != 0:
        sys.exit(f"error: ansible-playbook {' '.join(args)} failed:\n{proc.stdout[-5000:]}{proc.stderr[-2000:]}")
    return seconds, cpu, int(RECAP.search(proc.stdout).group(2))


def measure(extra: list[str], label: str, strategy: dict[str, str]) -> list[str]:
    """Deploy, re-deploy, teardown on a fresh moto server; one table row each."""
    proc, endpoint = start_moto()
    rows = []
    try:
        for name, playbook in RUNS:
            seconds, cpu, changed = run(endpoint, strategy, playbook, *(extra if playbook == "site.yml" else []))
            target = TARGETS_S[name]
            verdict = "met" if seconds <= target else "MISSED"
            rows.append(f"| {label} | {name} | {seconds:.1f} | {cpu:.1f} | {changed} | ≤ {target:g} | {verdict} |")
            print(rows[-1], flush=True)
    finally:
        stop_moto(proc)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=os.environ.get("IMAGE_REGISTRY", ""),
                        help="registry host:port the image role pushes to (default: start one)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        registry = args.registry
        if not registry:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lhta-bench-registry-")))
            registry = stack.enter_context(running_registry(folder)).host
        rows = []
        if not mitogen_strategy():
            sys.exit("error: the mitogen package is not installed (make setup)")
        for label, strategy in (("plain (ansible.cfg)", {}), ("mitogen_linear, Mitogen's", mitogens_own_strategy()),
                                ("mitogen_linear, standins/strategy", mitogen_strategy())):
            rows += measure(["-e", f"image_registry={registry}"], label, strategy)

    command = "`make bench-deploy`" if not args.registry else f"`.venv/bin/python bench/bench_deploy.py --registry {args.registry}`"
    body = "\n".join([
        "## Deployment",
        "",
        f"Command: {command}",
        "(a fresh moto server and registry on 127.0.0.1; `ansible-playbook site.yml -i",
        "inventory/local` twice, then `playbooks/teardown.yml`; wall time of each run,",
        "the deploy including the image build and push), with each strategy in turn;",
        "CPU: ansible-playbook and every process it waited for.",
        f"Python's byte-code cache: {'off (PYTHONDONTWRITEBYTECODE)' if sys.dont_write_bytecode else 'on'}.",
        f"Load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores.",
        "",
        "| strategy | run | wall s | CPU s | changed tasks | target s | |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ])
    if not args.no_write:
        update_section("deploy", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
