"""Benchmark POST /runDARTHmodel on the real server: gunicorn (the checked-in
configuration, 2 workers) on 127.0.0.1, loaded by wrk (Debian's `wrk`).

    .venv/bin/python bench/bench_service.py [--seconds S] [--no-write]

Latency p50/p99 at concurrency 1, throughput at 8 and 32 (each a bounded
wrk run of S seconds, default 10), then RSS (and PSS: the workers share the
pages imported before forking) of every worker.  Each request is the R
client's: two beta updates, CSV back.  Targets on the 2-core reference
machine: p50 <= 10 ms, >= 200 requests/s at concurrency 8, <= 100 MiB per worker.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _results import update_section  # noqa: E402
from tests.support.service import gunicorn_server  # noqa: E402

BODY = json.dumps({"param_updates": [
    {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
    {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 100},
]})
# wrk's Lua: POST with the key; `done` prints the figures as one JSON line.
LUA = """wrk.method = "POST"
wrk.headers["key"] = "%(key)s"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '%(body)s'
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %%d, "seconds": %%.3f, "p50_ms": %%.3f, "p99_ms": %%.3f, ' ..
    '"non_2xx": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""
TARGETS = {"p50_ms": 10.0, "rps_at_8": 200.0, "rss_mib": 100.0}


def wrk(url: str, script: Path, connections: int, seconds: int,
        path: str = "/runDARTHmodel") -> dict:
    threads = min(connections, 2)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
               "--timeout", "10s", "-s", str(script), url + path]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


def memory_mib(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return fields["Rss"] / 1024, fields["Pss"] / 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run (10)")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("error: wrk not found: run `make system`", file=sys.stderr)
        return 2
    key = secrets.token_urlsafe(16)  # a throwaway key for this run only
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="lhta-bench-") as folder, \
            gunicorn_server(Path(folder), API_KEYS=key, WEB_CONCURRENCY="2") as server:
        script = Path(folder) / "post.lua"
        script.write_text(LUA % {"key": key, "body": BODY})
        wrk(server.url, script, 2, 2)  # warm-up: both workers, caches, imports
        runs = {c: wrk(server.url, script, c, args.seconds) for c in (1, 8, 32)}
        memory = [memory_mib(pid) for pid in server.worker_pids()]
        master = memory_mib(server.process.pid)
    failures = sum(r["non_2xx"] + r["socket_errors"] for r in runs.values())

    one, eight, many = runs[1], runs[8], runs[32]
    worst_rss = max(rss for rss, _ in memory)
    rows = [
        ("p50 latency, concurrency 1", f"{one['p50_ms']:.2f} ms", "≤ 10 ms",
         one["p50_ms"] <= TARGETS["p50_ms"]),
        ("p99 latency, concurrency 1", f"{one['p99_ms']:.2f} ms", "", None),
        ("throughput, concurrency 1", f"{one['rps']:.0f} req/s", "", None),
        ("throughput, concurrency 8", f"{eight['rps']:.0f} req/s (p50 {eight['p50_ms']:.1f} ms, "
         f"p99 {eight['p99_ms']:.1f} ms)", "≥ 200 req/s", eight["rps"] >= TARGETS["rps_at_8"]),
        ("throughput, concurrency 32", f"{many['rps']:.0f} req/s (p50 {many['p50_ms']:.1f} ms, "
         f"p99 {many['p99_ms']:.1f} ms)", "", None),
        ("RSS per worker (PSS)", ", ".join(f"{r:.1f} MiB ({p:.1f})" for r, p in memory),
         "≤ 100 MiB", worst_rss <= TARGETS["rss_mib"]),
        ("RSS of the master (PSS)", f"{master[0]:.1f} MiB ({master[1]:.1f})", "", None),
        ("requests measured / failed", f"{sum(r['requests'] for r in runs.values())} / {failures}",
         "0 failed", failures == 0),
    ]
    table = ["| measure | result | target | |", "|---|---|---|---|"]
    for name, result, target, ok in rows:
        mark = "" if ok is None else ("ok" if ok else "**missed**")
        table.append(f"| {name} | {result} | {target} | {mark} |")
    body = "\n".join([
        "## Service",
        "",
        "`POST /runDARTHmodel` (two beta updates, CSV answer) against gunicorn with the",
        "checked-in configuration (2 sync workers, `preload_app`) on 127.0.0.1, load from",
        f"`wrk` ({args.seconds} s per concurrency level, after a 2 s warm-up), on the same machine:",
        "",
        "```sh",
        f".venv/bin/python bench/bench_service.py --seconds {args.seconds}   # or: make bench-service",
        "```",
        "",
        *table,
        "",
        f"Load average (1 min) before the run: {load_before:.2f}; the machine is shared, so",
        "treat figures taken while other work ran as preliminary.",
    ])
    print(body)
    if not args.no_write:
        update_section("service", body)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
