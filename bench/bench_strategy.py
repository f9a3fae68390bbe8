"""The tests' Ansible strategy (standins/strategy, standins/pythonpath) of
another commit against this tree's, back to back on this tree's roles:
deploy, re-deploy and teardown of site.yml on a fresh moto server, the CPU
of ansible-playbook and every process it waited for; and the modules'
interpreter alone: a boto3 session and four clients, made as each
amazon.aws module makes them.

    .venv/bin/python bench/bench_strategy.py [--against REV] [--rounds N] [--no-write]

REV (default: HEAD~1) is checked out into a temporary git worktree; only its
standins/ is used (mitogen_strategy(root)), the playbooks and roles are this
tree's.  The runs alternate, REV first, so that the machine's drift falls
on both.  The registry is one of tests/support/registry.py's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _results import update_section  # noqa: E402
from bench_deploy import RUNS, run  # noqa: E402
from standins.common import mitogen_strategy  # noqa: E402
from tests.support.moto import start_moto, stop_moto  # noqa: E402
from tests.support.registry import running_registry  # noqa: E402

SESSIONS = """
import time, boto3
def made():
    session = boto3.Session(region_name="eu-west-2", aws_access_key_id="x", aws_secret_access_key="y")
    for name in ("ec2", "ecs", "elbv2", "iam"):
        session.client(name, endpoint_url="http://127.0.0.1:9")
made()  # the first: models loaded, the handlers registered
start = time.process_time()
for _ in range(20):
    made()
print((time.process_time() - start) / 20)
"""


@contextlib.contextmanager
def worktree(rev: str):
    folder = Path(tempfile.mkdtemp(prefix="lhta-bench-strategy-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(folder), rev], cwd=ROOT, check=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)
        shutil.rmtree(folder.parent, ignore_errors=True)


def stack_cpu(strategy: dict[str, str], registry: str) -> list[float]:
    proc, endpoint = start_moto()
    try:
        return [run(endpoint, strategy, playbook, *(["-e", f"image_registry={registry}"] if playbook == "site.yml" else []))[1]
                for _, playbook in RUNS]
    finally:
        stop_moto(proc)


def session_ms(strategy: dict[str, str]) -> float:
    env = {**os.environ, "PYTHONPATH": strategy["PYTHONPATH"]}
    out = subprocess.run([sys.executable, "-c", SESSIONS], env=env, capture_output=True, text=True, check=True)
    return 1000 * float(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD~1", help="the commit whose standins/ to compare with")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if not mitogen_strategy():
        sys.exit("error: the mitogen package is not installed (make setup)")
    rev = subprocess.run(["git", "rev-parse", "--short", args.against], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    here = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    cpu: dict[str, list[list[float]]] = {rev: [], here: []}
    sessions: dict[str, list[float]] = {rev: [], here: []}
    with contextlib.ExitStack() as stack:
        other = stack.enter_context(worktree(rev))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lhta-bench-registry-")))
        registry = stack.enter_context(running_registry(folder)).host
        # A worktree starts with an empty .cache/: each tree's caches are
        # warmed by one deploy, re-deploy and teardown first, not counted.
        for label, root in ((rev, other), (here, ROOT)):
            print(label, "warm-up", [round(c, 1) for c in stack_cpu(mitogen_strategy(root), registry)], flush=True)
        for _ in range(args.rounds):
            for label, root in ((rev, other), (here, ROOT)):
                strategy = mitogen_strategy(root)
                cpu[label].append(stack_cpu(strategy, registry))
                sessions[label].append(session_ms(strategy))
                print(label, [round(c, 1) for c in cpu[label][-1]], f"{sessions[label][-1]:.1f} ms", flush=True)

    rows = []
    for label in (rev, here):
        medians = [statistics.median(r[i] for r in cpu[label]) for i in range(len(RUNS))]
        rows.append(f"| {label} | " + " | ".join(f"{m:.1f}" for m in medians)
                    + f" | {sum(medians):.1f} | {statistics.median(sessions[label]):.1f} |")
    body = "\n".join([
        "## The tests' strategy: another commit's against this tree's",
        "",
        f"Command: `.venv/bin/python bench/bench_strategy.py --against {args.against} --rounds {args.rounds}`",
        "(this tree's roles; each commit's standins/ (strategy plugin and the modules' PYTHONPATH);",
        "a fresh moto server for each deploy, re-deploy and teardown; the CPU of ansible-playbook",
        "and every process it waited for, median of the rounds after one warm-up run each",
        "(a worktree starts with an empty .cache/), the runs alternating;",
        "session: a boto3 session and four clients (ec2, ecs, elbv2, iam) in one interpreter",
        "after a first, as each module makes them, CPU per session, median).",
        f"Load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores.",
        "",
        "| standins/ of | deploy CPU s | re-deploy CPU s | teardown CPU s | all three | session ms |",
        "|---|---|---|---|---|---|",
        *rows,
    ])
    print(body)
    if not args.no_write:
        update_section("strategy", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
