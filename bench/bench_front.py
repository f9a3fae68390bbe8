"""Slow clients against the front and against bare gunicorn, into the "Front"
section of bench/RESULTS.md.

    .venv/bin/python bench/bench_front.py [--seconds 60] [--connections 200] [--no-write]
    # or: make bench-front

For each kind of slow client (tests/support/slow_clients.py: dripping
headers, dripping a body, never reading the answer; a drip is one byte every
5 s), `--connections` of them are held open for `--seconds` against
1. the task as deployed: the front (nginx, TLS) before the API's image
   (tests/support/front.py, the front's default settings), and
2. today's tutorial deployment: the API's image alone, gunicorn's port
   published (plain HTTP),
while one other client probes GET /health and runs the model, one request
at a time, the whole time.  A connection the server cuts is opened again at
once, so the attack holds its count throughout.  Both run the API with its
defaults (2 sync workers) from the same image.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _results import update_section  # noqa: E402
from tests.support.front import front_stack  # noqa: E402
from tests.support.image import run_container  # noqa: E402
from tests.support.slow_clients import KINDS, SlowClients, probe  # noqa: E402

KEY = "lhta-bench-front-key-0123456789"
LABELS = {"headers": "dripping headers", "body": "dripping a body", "no_read": "never reading"}


def build(script: str) -> str:
    proc = subprocess.run([str(ROOT / "scripts" / script)], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"scripts/{script} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def attack(url: str, kind: str, connections: int, seconds: float, tls) -> dict:
    held = []
    with SlowClients(url, kind, connections, interval=5, tls=tls, key=KEY) as clients:
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(1):
                held.append(clients.open_now)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        seen = probe(url, seconds, KEY, tls, timeout=10)
        stop.set()
        sampler.join()
    report = clients.report
    return {
        "held_min": min(held, default=0), "held_mean": statistics.fmean(held) if held else 0,
        "opened": report.opened, "cut": report.cut,
        "probes": seen.sent, "failed": len(seen.failures), "failures": sorted(set(seen.failures))[:4],
        "health_p50": seen.percentile("health", 0.5), "health_p99": seen.percentile("health", 0.99),
        "model_p50": seen.percentile("model", 0.5), "model_p99": seen.percentile("model", 0.99),
        "max": max((x for v in seen.latencies.values() for x in v), default=float("nan")),
    }


def row(target: str, kind: str, figures: dict) -> str:
    def ms(seconds: float) -> str:
        return "—" if seconds != seconds else f"{seconds * 1000:.0f} ms"

    failed = f"**{figures['failed']}** ({', '.join(figures['failures'])})" if figures["failed"] else "0"
    return (f"| {target} | {LABELS[kind]} | {figures['held_min']}–{figures['held_mean']:.0f} "
            f"| {figures['cut']} | {figures['probes']} | {failed} "
            f"| {ms(figures['health_p50'])} / {ms(figures['health_p99'])} "
            f"| {ms(figures['model_p50'])} / {ms(figures['model_p99'])} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args(argv)
    api, front = build("image.sh"), build("front-image.sh")
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="lhta-bench-front-") as folder:
        for kind in args.kinds:
            with front_stack(api, front, Path(folder) / f"front-{kind}", {"API_KEYS": KEY}) as stack:
                figures = attack(stack.https_url, kind, args.connections, args.seconds, stack.tls_context())
            rows.append(row("front (HTTPS)", kind, figures))
            print(rows[-1], flush=True)
            with run_container(api, Path(folder), env={"API_KEYS": KEY}) as bare:
                figures = attack(bare.url, kind, args.connections, args.seconds, None)
            rows.append(row("bare gunicorn (HTTP)", kind, figures))
            print(rows[-1], flush=True)
    body = f"""## Front

Slow clients against the public address, `--connections` {args.connections} of
one kind held for {args.seconds:.0f} s (a connection the server cuts is opened
again at once; a drip is one byte every 5 s), while one other client probes
`GET /health` and runs the model, one request at a time on a new connection
each, for the whole time.  "front": the task as deployed (nginx front,
TLS, default settings, before the API's image); "bare gunicorn": the API's
image alone with gunicorn's port published, as the tutorial deployed it.
Both: 2 sync workers, everything on this machine's loopback.

```sh
.venv/bin/python bench/bench_front.py   # or: make bench-front
```

| target | slow clients | held open (min–mean) | cut by the server | probes | probes failed | /health p50 / p99 | model run p50 / p99 |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

"Held open (min–mean)": slow connections open at each second's sample;
the front cuts a header drip at 10 s (client_header_timeout), whereupon the
attacker reconnects, hence a minimum below the count.  A body drip of one
byte every 5 s never trips the 10 s between-reads timeout: it holds an
nginx connection, never a worker.  Against bare gunicorn every probe (10 s
client timeout) timed out: both sync workers sat on slow clients.

Target (issue 13): through the front, p99 < 1 s and no probe lost.  Load
average (1 min) before the run: {load_before:.2f}; the machine is shared.
"""
    print(body)
    if not args.no_write:
        update_section("front", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
