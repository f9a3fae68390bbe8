"""Figures of the hardening runs, into the "Hardening" section of bench/RESULTS.md.

    .venv/bin/python bench/bench_hardening.py [--no-write]     # or: make bench-hardening

Runs the very tests `make test` runs (tests/service/test_fuzz_openapi.py,
tests/service/test_hardening_load.py, tests/service/test_hardening_faults.py), which write
what they measured to $LIVING_HTA_FIGURES, and tabulates it: cases fuzzed,
requests sent and failed, memory per worker before and after the load run,
and what the fault runs saw.  Exits non-zero if any of those tests failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _results import update_section  # noqa: E402

TESTS = ["tests/service/test_fuzz_openapi.py", "tests/service/test_hardening_load.py", "tests/service/test_hardening_faults.py"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="lhta-hardening-") as folder:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
                              cwd=ROOT, env={**os.environ, "LIVING_HTA_FIGURES": folder})
        figures = {path.stem: json.loads(path.read_text()) for path in Path(folder).glob("*.json")}
    missing = {"fuzz", "load", "sigkill", "sigterm", "timeout-sleep", "timeout-spin"} - set(figures)
    if missing:
        print(f"error: no figures from {sorted(missing)} (pytest exit {done.returncode})", file=sys.stderr)
        return 1

    fuzz, load, kill = figures["fuzz"], figures["load"], figures["sigkill"]
    memory = []
    for pid in load["memory_before"]:
        b, a = load["memory_before"][pid], load["memory_after"][pid]
        memory.append(f"{b['rss']:.1f} → {a['rss']:.1f} MiB RSS ({a['rss'] - b['rss']:+.1f}); "
                      f"PSS {b['pss']:.1f} → {a['pss']:.1f}")
    timeouts = ", ".join(f"{mode}: {figures['timeout-' + mode]['status']} after "
                         f"{figures['timeout-' + mode]['seconds']:.1f} s" for mode in ("sleep", "spin"))
    rows = [
        ("OpenAPI fuzzing (schemathesis, running gunicorn)",
         f"{fuzz['cases']} cases in {len(fuzz['runs'])} runs (positive/negative × valid/missing/wrong "
         f"key, {fuzz['examples_per_run']} examples each); "
         + ("every check passed" if done.returncode == 0 else "**failures: see pytest's output**"),
         "0 failures"),
        ("bounded load, concurrency 32", f"{load['requests']} requests (after {load['warm_up']} warm-up) "
         f"in {load['seconds']:.0f} s, {load['failed']} failed", "≥ 10,000, 0 failed"),
        ("memory per worker, after warm-up → after the run", "<br>".join(memory), "growth ≤ 4 MiB RSS"),
        ("worker killed (SIGKILL) mid-run", f"{kill['requests']} requests, {kill['failed']} failed; "
         "worker replaced", "≤ 1 failed (its request in flight)"),
        ("SIGTERM with requests in flight", f"{figures['sigterm']['completed']} of "
         f"{figures['sigterm']['in_flight']} completed (200, full CSV); master exit 0", "all completed"),
        ("request over the time budget (REQUEST_TIMEOUT 2 s, GUNICORN_TIMEOUT 6 s)", timeouts,
         "JSON 503, worker kept"),
    ]
    table = ["| run | result | target |", "|---|---|---|"]
    table += [f"| {name} | {result} | {target} |" for name, result, target in rows]
    body = "\n".join([
        "## Hardening",
        "",
        "The hardening tests of `make test` against the real gunicorn server on 127.0.0.1",
        "(2 sync workers; load from tests/support/load.py: a fixed number of requests from",
        "32 client threads, one connection each, on the same machine; RSS/PSS from",
        "/proc/PID/smaps_rollup):",
        "",
        "```sh",
        ".venv/bin/python bench/bench_hardening.py   # or: make bench-hardening",
        "```",
        "",
        *table,
        "",
        f"pytest exit status: {done.returncode}. Load average (1 min) before the run:",
        f"{load_before:.2f}; the machine is shared, so treat figures taken while other work ran",
        "as preliminary (the load generator runs on the same 2 cores as the server).",
    ])
    print(body)
    if not args.no_write:
        update_section("hardening", body)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
