"""Issue 26's attacks on the front as the load balancer reaches it, into the
"Front: attacks without a key" section of bench/RESULTS.md.

    .venv/bin/python bench/bench_front_attacks.py [--seconds 30] [--uploads 1200] [--readers 200]
        [--api-image TAG --front-image TAG] [--label NAME] [--no-write]

The task's two containers (tests/support/front.py) with the front set as
behind the load balancer: `FRONT_FORWARDED_FOR=append` and
`TRUSTED_PROXIES=172.17.0.0/16` (the bench reaches the front through the
Docker bridge, in the load balancer's place); everything else the defaults
(512 requests at once per client, 2 sync workers).  Two attacks, each for
`--seconds`, while another client (X-Forwarded-For 203.0.113.7) probes
GET /health and a model run, one request at a time:
1. `--uploads` uploads without a key, each announcing 100,000 bytes and
   dripping one byte every 5 s, all from one client behind the load
   balancer (X-Forwarded-For 203.0.113.66); after an answer an uploader
   waits 5 s and connects again;
2. `--readers` clients that ask for /page/plotly.min.js (no gzip: the
   4.8 MB variant) and never read a byte.
`--api-image/--front-image` bench other builds (e.g. main's, for the
"before" row); by default this tree's (scripts/image.sh, front-image.sh).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _results import update_section  # noqa: E402
from bench_front import build  # noqa: E402
from tests.support.front import front_stack  # noqa: E402
from tests.support.slow_clients import SlowClients, probe  # noqa: E402

KEY = "lhta-bench-front-key-0123456789"
BEHIND_THE_LOAD_BALANCER = {"FRONT_FORWARDED_FOR": "append", "TRUSTED_PROXIES": "172.17.0.0/16"}
ATTACKER, PROBER = "203.0.113.66", "203.0.113.7"


def measure(stack, kind: str, connections: int, seconds: float) -> dict:
    tls = stack.tls_context()
    options = {"path": "/page/plotly.min.js"} if kind == "no_read" else {}
    with SlowClients(stack.https_url, kind, connections, interval=5, tls=tls, forwarded_for=ATTACKER,
                     ramp_seconds=5, **options) as clients:
        seen = probe(stack.https_url, seconds, KEY, tls, timeout=10, forwarded_for=PROBER)
        held = clients.open_now
    latencies = [x for values in seen.latencies.values() for x in values]
    answers = ", ".join(f"{n}× {status}" for status, n in clients.report.answers.most_common(3))
    return {"probes": seen.sent, "failed": len(seen.failures), "failures": sorted(set(seen.failures))[:3],
            "p99": sorted(latencies)[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
            "worst": max(latencies, default=float("nan")), "held": held, "answers": answers or "—"}


def row(label: str, attack: str, figures: dict) -> str:
    def ms(seconds: float) -> str:
        return "—" if seconds != seconds else f"{seconds * 1000:.0f} ms"

    failed = f"**{figures['failed']}** ({', '.join(figures['failures'])})" if figures["failed"] else "0"
    return (f"| {label} | {attack} | {figures['held']} | {figures['answers']} | {figures['probes']} "
            f"| {failed} | {ms(figures['p99'])} | {ms(figures['worst'])} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--uploads", type=int, default=1200)
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--api-image")
    parser.add_argument("--front-image")
    parser.add_argument("--label", default="this tree")
    parser.add_argument("--rows", type=Path, help="append the rows to this file too (to merge runs)")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args(argv)
    api = args.api_image or build("image.sh")
    front = args.front_image or build("front-image.sh")
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="lhta-bench-attacks-") as folder:
        for kind, count, attack in (("keyless_body", args.uploads, f"{args.uploads} keyless slow uploads"),
                                    ("no_read", args.readers, f"{args.readers} never-readers of plotly.min.js")):
            with front_stack(api, front, Path(folder) / kind, {"API_KEYS": KEY},
                             front_env=BEHIND_THE_LOAD_BALANCER) as stack:
                rows.append(row(args.label, attack, measure(stack, kind, count, args.seconds)))
            print(rows[-1], flush=True)
    if args.rows:
        with args.rows.open("a") as handle:
            handle.write("\n".join(rows) + "\n")
        rows = args.rows.read_text().strip().splitlines()
    body = f"""## Front: attacks without a key

Issue 26's attacks on the front as the load balancer reaches it (through the
Docker bridge, trusted by the front's `TRUSTED_PROXIES`; the front's
defaults otherwise: 512 requests at once per client, 2 sync workers), each
for {args.seconds:.0f} s while another client behind the load balancer probes
`GET /health` and a model run, one request at a time on a new connection.
Keyless slow uploads: each announces 100,000 bytes and drips one byte every
5 s, all from one client (X-Forwarded-For {ATTACKER}); after an answer it
waits 5 s and connects again.  Never-readers: GET /page/plotly.min.js
without gzip (4.8 MB) and never read a byte.  "main": the images built from
main before issue 26 (eb73a01).

```sh
.venv/bin/python bench/bench_front_attacks.py --rows rows.txt   # this tree
.venv/bin/python bench/bench_front_attacks.py --label "main (eb73a01)" --api-image lhta-front-bench/main-api:eb73a01 \\
    --front-image lhta-front-bench/main-front:eb73a01 --rows rows.txt   # main's images, built in a checkout of eb73a01
```

| build | attack | attack's connections open at the end | answers the attack got | probes | probes failed | probes' p99 | worst |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Target (issue 26): 0 probes failed, worst < 1 s.  Load average (1 min)
before the run: {load_before:.2f} on 2 cores, shared with other sessions.
"""
    print(body)
    if not args.no_write:
        update_section("front-attacks", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
