"""A bounded load run against the real gunicorn server on loopback: 10,000
requests at concurrency 32 (LIVING_HTA_LOAD_REQUESTS to change), every one
answered 200, every one logged, and the memory of each worker flat across the
run once warmed up.

Memory is read from /proc/PID/smaps_rollup.  RSS is the criterion: PSS also
rises in the first thousands of requests without any leak, as the workers
touch (and so copy) pages they share with the preloading master.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.load import memory_mib, run_load, wait_for_workers
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server

REQUESTS = int(os.environ.get("LIVING_HTA_LOAD_REQUESTS", "10000"))
CONCURRENCY = 32
WARM_UP = 1000
MAX_GROWTH_MIB = 4.0  # RSS per worker, from after the warm-up to the end


@pytest.mark.slow
def test_bounded_load_without_failures_and_flat_memory(tmp_path):
    with gunicorn_server(tmp_path, API_KEYS=TEST_KEY, WEB_CONCURRENCY="2") as server:
        workers = wait_for_workers(server, 2)
        warm = run_load(server.url, TEST_KEY, WARM_UP, CONCURRENCY)
        before = {pid: memory_mib(pid) for pid in workers}
        halves = [run_load(server.url, TEST_KEY, REQUESTS // 2, CONCURRENCY)]
        middle = {pid: memory_mib(pid) for pid in workers}
        halves.append(run_load(server.url, TEST_KEY, REQUESTS - REQUESTS // 2, CONCURRENCY))
        after = {pid: memory_mib(pid) for pid in workers}
        assert server.worker_pids() == workers  # no worker died or was replaced
        logged = [e for e in server.log_entries() if e["path"] == "/runDARTHmodel"]

    sent = sum(h.sent for h in halves)
    failed = sum(h.failed for h in halves)
    figures = {
        "requests": sent, "concurrency": CONCURRENCY, "failed": failed, "warm_up": warm.sent,
        "warm_up_failed": warm.failed, "seconds": round(sum(h.seconds for h in halves), 1),
        "memory_before": {str(p): m for p, m in before.items()},
        "memory_middle": {str(p): m for p, m in middle.items()},
        "memory_after": {str(p): m for p, m in after.items()},
    }
    if os.environ.get("LIVING_HTA_FIGURES"):
        Path(os.environ["LIVING_HTA_FIGURES"], "load.json").write_text(json.dumps(figures))
    errors = [what for h in halves for _, what in h.errors][:5]
    assert sent == REQUESTS and failed == 0 and warm.failed == 0, (figures, errors)
    assert len(logged) == WARM_UP + REQUESTS and {e["status"] for e in logged} == {200}
    for pid in workers:
        growth = after[pid]["rss"] - before[pid]["rss"]
        assert growth <= MAX_GROWTH_MIB, (pid, before[pid], middle[pid], after[pid])
