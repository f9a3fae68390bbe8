"""Benchmark one- and two-way sensitivity from the PSA (issue 24) on the
default reference case (1000 samples, 3 strategies, 18 varying parameters):
medians of repeated in-process calls after warm-up (one BLAS thread, as
the service), and what the
sensitivity analyses add to the work behind ``POST /analysis`` (`analyse`
and the JSON text of its answer, with and without them; the HTTP round
trip is bench_analysis.py's).

    .venv/bin/python bench/bench_sensitivity.py [--repeats N] [--seconds S] [--no-write]

`--seconds S` (default 10; 0 skips it) also times POST /analysis against
gunicorn (checked-in configuration) on 127.0.0.1 with and without
`sensitivity`, one request at a time (wrk -c 1, S seconds each), as
bench_analysis.py does.

Target (issue 24): owsa for every parameter, the tornado and one twsa
together at most 30 ms at 1,000 samples.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# One BLAS thread, as the service runs (service/settings.py BLAS_THREADS, checked
# below): set before NumPy loads.  With OpenBLAS's default threads on a busy 2-core
# machine the small solves here took ten times longer.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
os.environ.update(ONE_THREAD)

import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from service.settings import BLAS_THREADS  # noqa: E402

assert ONE_THREAD == BLAS_THREADS, "bench/bench_sensitivity.py: update ONE_THREAD"

from _results import update_section  # noqa: E402
from bench_model import timed  # noqa: E402
from model.analysis import PSA, analyse, parse_wtp  # noqa: E402
from model.analysis.sensitivity import (  # noqa: E402
    OUTCOMES,
    one_way,
    one_way_outcomes,
    optimal_strategies,
    tornado,
    two_way_values,
)

REFERENCE = Path(os.environ.get("LIVING_HTA_REFERENCE", ROOT.parent / "shared" / "reference"))
CASE = "default"
WTP = 100000.0
PAIR = ["p_HS1", "p_S1H"]
TARGET_MS = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10,
                        help="length of each wrk run against POST /analysis (10; 0: skip)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    cases = REFERENCE / "cases" / CASE
    results = pd.read_csv(cases / "results.csv")
    samples = pd.read_csv(cases / "samples.csv")
    psa = PSA.from_columns(results.to_numpy(), list(results.columns),
                           samples.to_numpy(), list(samples.columns))
    nmb = one_way(psa, "nmb", WTP)

    def together():
        result = one_way(psa, "nmb", WTP)
        tornado(result)
        optimal_strategies(result)
        two_way_values(psa, PAIR, "nmb", WTP)

    def all_outcomes():
        result = one_way_outcomes(psa, OUTCOMES, WTP)["nmb"]
        tornado(result)
        optimal_strategies(result)
        two_way_values(psa, PAIR, "nmb", WTP)

    rows = [
        (f"owsa, nmb, every varying parameter ({len(nmb.parameters)}), 11 points", None,
         lambda: one_way(psa, "nmb", WTP)),
        ("owsa, eff, every varying parameter", None, lambda: one_way(psa, "eff")),
        ("tornado data from that owsa", None, lambda: tornado(nmb)),
        ("optimal-strategy data from that owsa", None, lambda: optimal_strategies(nmb)),
        ("twsa, p_HS1 × p_S1H, 11 × 11 points", None,
         lambda: two_way_values(psa, PAIR, "nmb", WTP)),
        ("**owsa (nmb, every parameter) + tornado + opt-strat + one twsa**", TARGET_MS, together),
        ("the same, owsa of nmb, eff and cost (one solve per parameter)", TARGET_MS,
         all_outcomes),
    ]
    # What POST /analysis does with the PSA: analyse, then the JSON text.
    request = {"wtp": parse_wtp("0:200000:5000"), "evppi_groups": [PAIR],
               "evppi_wtp": [80000.0, 100000.0, 120000.0]}
    sensitivity = {"wtp": WTP, "owsa": "*", "twsa_pair": PAIR}
    every = dict(sensitivity, outcomes=OUTCOMES)

    def answer(**options):
        return json.dumps(analyse(psa, **request, **options), allow_nan=False)

    base = timed(answer, args.repeats)
    with_sensitivity = timed(lambda: answer(sensitivity=sensitivity), args.repeats)
    with_every = timed(lambda: answer(sensitivity=every), args.repeats)

    table = ["| computation (1000 samples, 3 strategies) | median ms | p90 ms | target ms | |",
             "|---|---|---|---|---|"]
    for label, target, fn in rows:
        median, p90 = timed(fn, args.repeats)
        verdict = "" if target is None else ("met" if median <= target else "MISSED")
        table.append(f"| {label} | {median:.2f} | {p90:.2f} | "
                     f"{'' if target is None else f'≤ {target:g}'} | {verdict} |")
    added = with_sensitivity[0] - base[0]
    table.append(f"| POST /analysis's work on the PSA: `analyse` + JSON text (41 WTPs, EVPPI of "
                 f"the pair at 3 WTPs, poly) | {base[0]:.2f} | {base[1]:.2f} | | |")
    table.append(f"| the same with `sensitivity` {{wtp: 100000, twsa: [p_HS1, p_S1H]}} (owsa of "
                 f"every parameter, nmb; tornado; opt-strat; twsa) "
                 f"| {with_sensitivity[0]:.2f} | {with_sensitivity[1]:.2f} | | |")
    table.append(f"| **added by the sensitivity analyses** | {added:.2f} | | ≤ {TARGET_MS:g} | "
                 f"{'met' if added <= TARGET_MS else 'MISSED'} |")
    table.append(f"| added with outcomes [nmb, eff, cost] | {with_every[0] - base[0]:.2f} | | | |")
    if args.seconds:
        http = service_p50(args.seconds)
        for label, figures in http.items():
            table.append(f"| POST /analysis over HTTP, {label}, p50 (p99 {figures['p99_ms']:.1f} ms, "
                         f"{figures['requests']} requests, {figures['non_2xx']} failed) "
                         f"| {figures['p50_ms']:.2f} | | | |")
        added_http = http["with sensitivity"]["p50_ms"] - http["without"]["p50_ms"]
        table.append(f"| **added over HTTP (difference of the p50s)** | {added_http:.2f} | | "
                     f"≤ {TARGET_MS:g} | {'met' if added_http <= TARGET_MS else 'MISSED'} |")
    print("\n".join(table))
    if not args.no_write:
        load = os.getloadavg()[0]
        update_section("sensitivity", "\n".join([
            "## One- and two-way sensitivity from the PSA (issue 24)",
            "",
            "dampack's regression metamodel (owsa, owsa_tornado, owsa_opt_strat, twsa) on the",
            "default reference case; medians of repeated in-process calls after warm-up:",
            "",
            "```sh",
            f".venv/bin/python bench/bench_sensitivity.py --repeats {args.repeats} "
            f"--seconds {args.seconds}",
            "```",
            "",
            *table,
            "",
            f"Load average (1 min) before and after: {load_before:.2f}, {load:.2f} on 2 cores "
            "(the machine is shared: with other work running every figure is inflated).",
        ]))
    return 0


def service_p50(seconds: int) -> dict[str, dict]:
    """POST /analysis with the body of the in-process rows (the full grid, the pair's EVPPI
    at three WTPs), without and with `sensitivity`, against gunicorn; wrk -c 1."""
    import secrets
    import shutil
    import tempfile

    from bench_service import LUA, wrk
    from tests.support.service import gunicorn_server

    if shutil.which("wrk") is None:
        raise SystemExit("error: wrk not found: run `make system`")
    key = "bench-" + secrets.token_urlsafe(12)
    body = {"seed": 1, "wtp": "0:200000:5000", "evppi": [PAIR],
            "evppi_wtp": [80000, 100000, 120000]}
    bodies = {"without": body,
              "with sensitivity": {**body, "sensitivity": {"wtp": WTP, "twsa": PAIR}}}
    figures = {}
    with tempfile.TemporaryDirectory(prefix="lhta-bench-") as folder, \
            gunicorn_server(Path(folder), API_KEYS=key) as server:
        for label, request in bodies.items():
            script = Path(folder) / "post.lua"
            script.write_text(LUA % {"key": key, "body": json.dumps(request)})
            wrk(server.url, script, 1, 2, path="/analysis")  # warm-up
            figures[label] = wrk(server.url, script, 1, seconds, path="/analysis")
    return figures


if __name__ == "__main__":
    sys.exit(main())
