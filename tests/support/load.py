"""A bounded load generator and per-worker memory readings, for the hardening
tests and bench/bench_hardening.py.

    result = run_load(server.url, total=10_000, concurrency=32)
    result.failed            # non-2xx answers + socket errors: should be 0

`total` requests exactly, from `concurrency` threads, each request on its own
connection (gunicorn's sync workers close every connection after one
response anyway), then it stops: no run-for-a-duration generator (wrk runs
by time; a count-bounded run is what the fault tests need, and every
failure comes back with the moment it happened, to match it with a kill).
The client threads spend most of their time waiting on sockets; on a small
machine they still take some CPU from the server, so this measures
robustness, not speed (bench/bench_service.py measures speed with wrk).
"""

from __future__ import annotations

import http.client
import itertools
import json
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BODY = json.dumps({"param_updates": [
    {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
    {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 100},
]}).encode()


@dataclass
class LoadResult:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    errors: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, what)
    # Errors after the whole request had been sent (the server had taken it):
    # a request lost, where an error before that is a request refused.
    lost: list[tuple[float, str]] = field(default_factory=list)
    bad_statuses: list[tuple[float, int]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.errors) + len(self.bad_statuses)

    @property
    def ok(self) -> int:
        return self.sent - self.failed


def run_load(url: str, key: str, total: int, concurrency: int, path: str = "/runDARTHmodel",
             body: bytes = BODY, timeout: float = 30, tls: ssl.SSLContext | None = None,
             user_agent: str | None = None) -> LoadResult:
    """`tls`: the context an https:// URL is called with (the front's CA);
    `user_agent`: what the requests call themselves (to find them in a
    server's request log)."""
    parts = urlsplit(url)
    headers = {"key": key, "Content-Type": "application/json", "Connection": "close"}
    if user_agent:
        headers["User-Agent"] = user_agent
    numbers = itertools.count()
    lock = threading.Lock()
    result = LoadResult()

    def client() -> None:
        while next(numbers) < total:
            if parts.scheme == "https":
                connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                                         context=tls)
            else:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            sent = False
            try:
                connection.request("POST", path, body=body, headers=headers)
                sent = True
                response = connection.getresponse()
                data = response.read()
                status = response.status
                problem = None if status == 200 and data else status
            except (OSError, http.client.HTTPException) as exc:
                status, problem = None, f"{type(exc).__name__}: {exc}"
            finally:
                connection.close()
            with lock:
                result.sent += 1
                if status is not None:
                    result.statuses[status] += 1
                if isinstance(problem, str):
                    result.errors.append((time.monotonic(), problem))
                    if sent:
                        result.lost.append((time.monotonic(), problem))
                elif problem is not None:
                    result.bad_statuses.append((time.monotonic(), problem))

    started = time.monotonic()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - started
    return result


def memory_mib(pid: int) -> dict[str, float]:
    """RSS and PSS of a process, MiB (PSS shares the pages workers inherited
    from the preloading master fairly between them)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return {"rss": fields["Rss"] / 1024, "pss": fields["Pss"] / 1024}


def wait_for_workers(server, count: int, timeout: float = 20, exclude=()) -> list[int]:
    """The server's worker pids, once there are `count` of them (none in `exclude`)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [pid for pid in server.worker_pids() if pid not in exclude]
        if len(pids) >= count or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)
