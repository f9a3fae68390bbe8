"""What one request costs a worker, measured: peak RSS and time, each
request in a fresh process (bench/bench_cost.py, tests/unit/test_cost.py).

    measure("/analysis", {"n_samples": 20000, "evppi": ["p_HS1"]})
    # {"status": 200, "peak_bytes": …, "idle_bytes": …, "seconds": …,
    #  "estimate_mib": …, "estimate_seconds": …}

The child process starts as a gunicorn worker does (PROCESS_ENV: one BLAS
thread, the malloc tuning), builds the app, answers one small request (the
worker's first-request imports and caches), then the measured one through
falcon.testing, in its main thread; the peak is the kernel's high-water mark
of its resident set (VmHWM in /proc/self/status), the idle figure VmRSS
just before the measured request; the estimate is the service's own, from
its request log (service/budget.py).  The service's own budget is lifted in
the child (a huge memory limit, a long time budget): what is measured is
what the request needs, not what the service would allow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from service.settings import PROCESS_ENV
from tests.support.paths import ROOT

KEY = "cost-measuring-key-0123456789"
LIMITS = {"MEMORY_LIMIT_MIB": str(1 << 20), "GUNICORN_TIMEOUT": "100000",
          "REQUEST_TIMEOUT": "99999"}


def measure(endpoint: str, body: dict, timeout: float = 900, **settings: str) -> dict:
    """Run `body` against `endpoint` in a fresh process (with the service's
    `settings`, e.g. EVPPI_PARAMETERS="*"): status, peak and idle resident
    bytes, seconds, and the service's estimate (MiB, seconds)."""
    env = {**os.environ, **PROCESS_ENV, **LIMITS, **settings, "API_KEYS": KEY,
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.cost", endpoint, json.dumps(body)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {endpoint} {body} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def _status_bytes(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def _child(endpoint: str, body: str) -> None:
    import io
    import time

    from falcon import testing

    from service.app import create_app
    from service.settings import Settings

    log = io.StringIO()
    client = testing.TestClient(create_app(Settings.from_env(), log_stream=log,
                                           audit_stream=open(os.devnull, "w")))
    headers = {"key": KEY, "Content-Type": "application/json", "Accept": "application/json"}
    warm = client.simulate_post(endpoint, headers=headers, body=json.dumps({"n_samples": 10}))
    assert warm.status_code == 200, warm.text
    idle = _status_bytes("VmRSS")
    started = time.perf_counter()
    answer = client.simulate_post(endpoint, headers=headers, body=body)
    seconds = time.perf_counter() - started
    logged = json.loads(log.getvalue().splitlines()[-1])
    print(json.dumps({"status": answer.status_code, "peak_bytes": _status_bytes("VmHWM"),
                      "idle_bytes": idle, "seconds": seconds,
                      "estimate_mib": logged.get("estimate_mib"),
                      "estimate_seconds": logged.get("estimate_seconds"),
                      **({"error": answer.json} if answer.status_code != 200 else {})}))


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
