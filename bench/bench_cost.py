"""What each request shape costs a worker, measured, against the service's
estimate (model/analysis/cost.py, checked by service/budget.py); and six
expensive requests at once on one key against a real gunicorn.

    .venv/bin/python bench/bench_cost.py [--quick] [--timing] [--port P] [--no-write]

Each shape runs in a fresh process (tests/support/cost.py): its peak RSS
is the kernel's high-water mark (VmHWM), its estimate the one the service
logged for it.  The estimate must never be more than 10 % under the
measured peak (the script exits 1 if it is); time is a lower figure.
`--quick`: the shapes up to 20,000 samples only; `--timing`: also each
analysis's time in this process, fastest of three (what the estimate's time
constants are about half of).  The tables go to
bench/RESULTS.md ("Cost"), unless --no-write.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _results import update_section  # noqa: E402
from tests.support.cost import measure  # noqa: E402
from tests.support.secret_audit import TEST_KEY  # noqa: E402
from tests.support.service import gunicorn_server  # noqa: E402

# The offered parameters (every one: EVPPI_PARAMETERS="*"), to build groups.
NAMES = ["p_HS1", "p_S1H", "p_S1S2", "hr_S1", "hr_S2", "c_H", "c_S1", "c_S2", "c_D", "u_H",
         "u_S1", "u_S2", "du_HS1", "ic_D", "u_D"]
W201 = "0:1000000:5000"  # the most WTP values a request may have
EVERY_SENSITIVITY = {"wtp": 100000, "owsa": "*", "outcomes": ["nmb", "eff", "cost"],
                     "points": 41, "twsa": ["p_HS1", "c_S1"]}
EXPENSIVE = {"n_samples": 100000, "seed": 1, "wtp": W201, "evppi": ["p_HS1"]}  # issue 26's


def groups(size: int, count: int = 1) -> list[list[str]]:
    return [[NAMES[(i * size + j) % len(NAMES)] for j in range(size)] for i in range(count)]


def shapes(quick: bool) -> list[tuple[str, str, dict]]:
    """(label, endpoint, body): each argument alone, then together."""
    grid = []
    for n in (1000, 20000, 100000):
        grid += [("run", "/runDARTHmodel", {"n_samples": n}),
                 ("analyses, 41 WTP", "/analysis", {"n_samples": n})]
    grid += [("analyses, 1 WTP", "/analysis", {"n_samples": 100000, "wtp": "100000"}),
             ("analyses, 201 WTP", "/analysis", {"n_samples": 3000, "wtp": W201}),
             ("analyses, 201 WTP", "/analysis", {"n_samples": 20000, "wtp": W201}),
             ("analyses, 201 WTP", "/analysis", {"n_samples": 100000, "wtp": W201}),
             ("issue 26's request", "/analysis", EXPENSIVE)]
    for size, order in [(2, 2), (4, 2), (8, 1), (8, 2), (4, 4), (8, 4)]:
        grid.append((f"EVPPI poly, {size} parameters, order {order}", "/analysis",
                     {"n_samples": 100000, "wtp": W201, "evppi": groups(size), "poly_order": order}))
    grid += [("EVPPI poly, 8 parameters, order 4", "/analysis",
              {"n_samples": n, "wtp": W201, "evppi": groups(8), "poly_order": 4})
             for n in (5000, 30000)]
    grid.append(("EVPPI poly, 3 groups of 2", "/analysis",
                 {"n_samples": 100000, "evppi": groups(2, 3)}))
    for size in (1, 2, 3, 4):
        grid.append((f"EVPPI gam, {size} parameters, 21 WTP", "/analysis",
                     {"n_samples": 100000, "evppi_wtp": "0:200000:10000", "evppi": groups(size),
                      "evppi_method": "gam"}))
    grid += [("EVPPI gam, 4 parameters, 201 WTP", "/analysis",
              {"n_samples": 20000, "wtp": W201, "evppi": groups(4), "evppi_method": "gam"}),
             ("EVPPI gam, 10 groups of 4, 1 WTP", "/analysis",
              {"n_samples": 100000, "wtp": W201, "evppi_wtp": "100000", "evppi": groups(4, 10),
               "evppi_method": "gam"}),
             ("sensitivity: owsa nmb", "/analysis",
              {"n_samples": 100000, "sensitivity": {"wtp": 100000}}),
             ("sensitivity: twsa only", "/analysis",
              {"n_samples": 100000, "sensitivity": {"wtp": 100000, "owsa": [],
                                                    "twsa": ["p_HS1", "c_S1"], "points": 41}})]
    grid += [("sensitivity: every analysis", "/analysis",
              {"n_samples": n, "sensitivity": EVERY_SENSITIVITY}) for n in (20000, 100000)]
    grid += [("EVPPI poly, 10 groups of 8, order 4", "/analysis",
              {"n_samples": 100000, "wtp": W201, "evppi": groups(8, 10), "poly_order": 4}),
             ("the most a request may ask: all of the above", "/analysis",
              {"n_samples": 100000, "wtp": W201, "evppi": groups(8, 10), "poly_order": 4,
               "sensitivity": EVERY_SENSITIVITY,
               "population": {"size": 100000, "horizon": 10, "discount": 0.035}})]
    if quick:
        grid = [shape for shape in grid if shape[2].get("n_samples", 1000) <= 20000]
    return grid


def measure_grid(quick: bool) -> list[dict]:
    rows = []
    for label, endpoint, body in shapes(quick):
        result = measure(endpoint, body, EVPPI_PARAMETERS="*")
        if result["status"] != 200:
            raise SystemExit(f"{label}: {result['status']} {result.get('error')}")
        result.update(label=label, endpoint=endpoint, body=body,
                      peak_mib=result["peak_bytes"] / 2**20)
        result["ratio"] = result["estimate_mib"] / result["peak_mib"]
        rows.append(result)
        print(f"{result['peak_mib']:7.1f} MiB measured {result['estimate_mib']:7.1f} estimated "
              f"({result['ratio'] - 1:+.1%}); {result['seconds']:6.2f} s, estimated "
              f"{result['estimate_seconds']:.2f}  {label}", flush=True)
    return rows


def timing(n: int = 100000, repeats: int = 3) -> list[tuple[str, float, float]]:
    """(what, fastest of `repeats` seconds in this process, the estimate's
    seconds for it): what the time constants of model/analysis/cost.py are
    about half of.  The analyses' rows are beyond the run and the PSA."""
    import numpy as np

    import model
    from model.analysis import PSA, analyse
    from model.analysis.cost import estimate
    from model.analysis.report import sensitivity_analyses

    def fastest(call) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        return min(times)

    results = model.run_psa(n_samples=n, seed=1)
    values = results.values
    psa = PSA(values[:, :3], values[:, 3:], model.STRATEGIES,
              np.column_stack([results.samples.columns[name] for name in NAMES]), NAMES)
    grid = np.arange(0, 1000001, 5000.0)
    base = fastest(lambda: analyse(psa, grid[:1]))
    run = fastest(lambda: model.run_psa(n_samples=n, seed=1))
    rows = [("run", run, estimate(n).seconds),
            ("run and the analyses, 1 WTP", run + base, estimate(n, 1).seconds)]
    one = estimate(n, 1).seconds

    def beyond(what, call, cost):
        rows.append((what, fastest(call) - base, cost.seconds - one))
        print(f"{rows[-1][1]:7.3f} s, estimated {rows[-1][2]:7.3f}  {what}", flush=True)

    beyond("201 WTP", lambda: analyse(psa, grid), estimate(n, 201))
    for size, order in [(1, 2), (4, 2), (8, 2), (8, 4)]:
        for points in (1, 201):
            beyond(f"EVPPI poly, {size} parameters, order {order}, {points} WTP",
                   lambda: analyse(psa, grid[:1], groups(size), "poly", order, grid[:points]),
                   estimate(n, 1, points, [size], "poly", order))
    for size in (1, 2, 3, 4):
        for points in (1, 21):
            beyond(f"EVPPI gam, {size} parameters, {points} WTP",
                   lambda: analyse(psa, grid[:1], groups(size), "gam", 2, grid[:points]),
                   estimate(n, 1, points, [size], "gam"))
    beyond("one-way, 15 parameters", lambda: sensitivity_analyses(psa, 1e5, "*"),
           estimate(n, 1, owsa_parameters=15))
    beyond("two-way", lambda: sensitivity_analyses(psa, 1e5, None, ["p_HS1", "c_S1"]),
           estimate(n, 1, twsa=True))
    return rows


def six_at_once(port: int | None) -> dict:
    """Six of issue 26's requests at once on one key, default settings (two
    workers, 900 MiB): their statuses, and the workers' peak RSS."""
    env = {"API_KEYS": TEST_KEY, "WEB_CONCURRENCY": "2"}
    if port:
        env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder, gunicorn_server(Path(folder), **env) as server:
        answers: list = [None] * 6

        def post(i: int) -> None:
            request = urllib.request.Request(
                server.url + "/analysis", data=json.dumps(EXPENSIVE).encode(), method="POST",
                headers={"key": TEST_KEY, "Content-Type": "application/json"})
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    response.read()
                    answers[i] = (response.status, None, time.perf_counter() - started)
            except urllib.error.HTTPError as error:
                with error:
                    answers[i] = (error.code, error.headers.get("Retry-After"),
                                  time.perf_counter() - started)

        threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        peaks = []
        for pid in server.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return {"answers": sorted(answers), "worker_peaks_mib": peaks}


def report(rows: list[dict], six: dict | None, quick: bool, load: tuple[float, float],
           times: list | None) -> str:
    idle = sorted(row["idle_bytes"] / 2**20 for row in rows)
    command = ("`.venv/bin/python bench/bench_cost.py" + (" --quick" if quick else "")
               + (" --timing" if times is not None else "") + "`")
    lines = [
        "## Cost: each request shape's peak memory and time, against the service's estimate "
        "(issue 26)", "",
        f"{command}: each shape in a fresh process as a worker starts (tests/support/cost.py), "
        f"its peak the kernel's VmHWM (the whole process: idle, {idle[0]:.0f} to {idle[-1]:.0f} "
        "MiB), its "
        "estimate the one the service logged (model/analysis/cost.py). The estimate must never "
        "be more than 10 % under the peak; its time is a lower figure (about half the fastest "
        "measured on a quiet core), so the measured times, taken on a shared machine, are "
        f"higher (load average {load[0]:.1f} at the start, {load[1]:.1f} at the end, on "
        f"{os.cpu_count()} cores). A worker may use 360 MiB by default (900 MiB × 0.8 ÷ 2 "
        "workers).", "",
        "| shape | endpoint | samples | peak MiB | estimate MiB | estimate − peak | s | "
        "estimate s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['label']} | `{row['endpoint']}` | {row['body'].get('n_samples', 1000):,} | "
            f"{row['peak_mib']:.1f} | {row['estimate_mib']:.1f} | {row['ratio'] - 1:+.1%} | "
            f"{row['seconds']:.2f} | {row['estimate_seconds']:.2f} |")
    worst = min(rows, key=lambda row: row["ratio"])
    most = max(rows, key=lambda row: row["peak_mib"])
    lines += ["", f"Closest to the peak: {worst['label']} ({worst['ratio'] - 1:+.1%}). The most "
              f"expensive request measured, {most['label']}, peaks at {most['peak_mib']:.0f} MiB "
              f"(estimated {most['estimate_mib']:.0f}); before the analyses were chunked over "
              "WTP, issue 26's request alone peaked at 1175 MiB (16 s)."]
    if six is not None:
        statuses = ", ".join(f"{status}" + (f" (Retry-After {retry})" if retry else "")
                             + f" in {seconds:.1f} s" for status, retry, seconds in six["answers"])
        peaks = ", ".join(f"{peak:.0f}" for peak in six["worker_peaks_mib"])
        lines += ["", "Six of issue 26's requests at once on one key, against gunicorn with the "
                  "default settings (two workers, HEAVY_REQUESTS_PER_KEY 1): " + statuses
                  + f"; the workers' peak RSS: {peaks} MiB (before: six 502s, each worker "
                  "OOM-killed)."]
    if times is not None:
        lines += ["", "Time at 100,000 samples, in this process (`--timing`): the fastest of three "
                  "runs (each analysis: beyond the run and one WTP value), against the "
                  "estimate's lower figure.", "", "| work | fastest s | estimate s |", "|---|---|---|"]
        lines += [f"| {what} | {seconds:.3f} | {estimated:.3f} |" for what, seconds, estimated in times]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shapes up to 20,000 samples")
    parser.add_argument("--port", type=int, help="gunicorn's port for six-at-once (default: free)")
    parser.add_argument("--timing", action="store_true",
                        help="also time each analysis in this process (the time constants)")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    six = None if args.quick else six_at_once(args.port)
    if six is not None:
        print("six at once:", six, flush=True)
    times = timing() if args.timing else None
    rows = measure_grid(args.quick)
    text = report(rows, six, args.quick, (load_before, os.getloadavg()[0]), times)
    if not args.no_write:
        update_section("cost", text)
    under = [row for row in rows if row["ratio"] < 0.9]
    for row in under:
        print(f"UNDER-ESTIMATED by more than 10 %: {row['label']} {row['body']}", file=sys.stderr)
    return 1 if under else 0


if __name__ == "__main__":
    sys.exit(main())
