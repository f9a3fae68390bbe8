"""Time `scripts/demo.py deploy` on a running load-balanced demo, under load.

    make demo            # (or with the MOTO_PORT/DEMO_* of another demo)
    .venv/bin/python bench/bench_deploy_in_place.py [--no-write]

While 4 clients keep calling the demo (each: GET /health, then a keyed
model run, over HTTPS trusting only the demo's CA), it runs
1. `scripts/demo.py deploy`: site.yml again, nothing to change;
2. `scripts/demo.py deploy -e task_stop_timeout=<current + 1>`: a new task
   definition revision, rolled onto every task by the ECS stand-in;
and reports each one's time (the playbook, then until the service is steady
again: every task of the new revision healthy and UP in the load balancer)
and the requests served and failed meanwhile.  Writes the "deploy-in-place"
section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import update_section  # noqa: E402

from standins.common import Emulator  # noqa: E402
from standins.ecs import api_key, read_task_definition  # noqa: E402

DEMO = [sys.executable, str(ROOT / "scripts" / "demo.py")]


class Load:
    def __init__(self, url: str, key: str, ca: Path, clients: int = 4):
        self.url, self.key, self.context = url, key, ssl.create_default_context(cafile=str(ca))
        self.statuses: Counter = Counter()
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(clients)]

    def client(self) -> None:
        while not self.stop.is_set():
            for method, path, body in (("GET", "/health", None),
                                       ("POST", "/runDARTHmodel", b'{"param_updates": []}')):
                request = urllib.request.Request(self.url + path, method=method, data=body,
                                                 headers={"key": self.key, "Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=60, context=self.context) as response:
                        response.read()
                        status = response.status
                except urllib.error.HTTPError as error:
                    status = error.code
                except OSError as error:
                    status = type(error).__name__
                with self.lock:
                    self.statuses[(method, status)] += 1

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(90)


def deploy(*variables: str) -> tuple[float, str]:
    args = [a for v in variables for a in ("-e", v)]
    started = time.monotonic()
    proc = subprocess.run([*DEMO, "deploy", *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"demo.py deploy {' '.join(args)} failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
    return time.monotonic() - started, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    folder = Path(os.environ.get("DEMO_DIR", "") or ROOT / ".cache" / "demo")
    status = json.loads(subprocess.run([*DEMO, "status", "--json"], cwd=ROOT, capture_output=True, text=True,
                                       check=True).stdout)
    revision = status["replicas"][0]["task_definition"]
    aws = Emulator(f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}")
    definition = read_task_definition(aws, revision)
    stop_timeout = definition["containers"][0].get("stopTimeout", 30)
    key = api_key(definition)
    url = f"https://127.0.0.1:{os.environ.get('DEMO_HTTPS_PORT', '8443')}"
    rows = []
    for label, variables in (("no change", ()),
                             ("new revision on every task", (f"task_stop_timeout={stop_timeout + 1}",))):
        with Load(url, key, folder / "ca.pem") as load:
            seconds, output = deploy(*variables)
        steady = float(re.findall(r"steady after ([0-9.]+) s", output)[-1])
        served = sum(n for (_, s), n in load.statuses.items() if s == 200)
        failed = sum(n for (_, s), n in load.statuses.items() if s != 200)
        runs = sum(n for (m, s), n in load.statuses.items() if s == 200 and m == "POST")
        tasks = len(json.loads(subprocess.run([*DEMO, "status", "--json"], cwd=ROOT, capture_output=True,
                                              text=True, check=True).stdout)["replicas"])
        rows.append((label, seconds, steady, served, runs, failed, tasks))
        print(f"{label}: {seconds:.0f} s (steady {steady:.0f} s after the playbook), {served} requests served "
              f"({runs} model runs), {failed} failed, {tasks} tasks")
    body = ["## Deploying in place (`scripts/demo.py deploy` on the running load-balanced demo)", "",
            "Command: `make demo`, then `.venv/bin/python bench/bench_deploy_in_place.py` (4 clients keep",
            "calling: GET /health, then a keyed model run, over HTTPS).  The time is the whole command:",
            "site.yml, then until the service is steady again (every task of the current revision",
            "healthy and UP in the load balancer); of it, the stand-ins' part after the playbook.", "",
            "| deploy | whole | after the playbook | requests served | of them model runs | failed | tasks |",
            "|---|---|---|---|---|---|---|"]
    body += [f"| {label} | {seconds:.0f} s | {steady:.0f} s | {served} | {runs} | {failed} | {tasks} |"
             for label, seconds, steady, served, runs, failed, tasks in rows]
    if not args.no_write:
        update_section("deploy-in-place", "\n".join(body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
