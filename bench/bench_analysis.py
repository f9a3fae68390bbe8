"""Benchmark model.analysis against its Python peers in the same run, and
POST /analysis end to end, on the
default reference case (1000 samples, 3 strategies): time and, for the
nonparametric EVPPI, accuracy against mgcv (dampack's figures in
shared/reference/analysis).

    .venv/bin/python bench/bench_analysis.py [--repeats N] [--seconds S] [--peers-venv DIR]
                                             [--gp] [--no-write]

The peers — heormodel, voiage 0.2.1 (its 2.x needs Python ≥ 3.12) and pygam
— are not project dependencies: they run in a throwaway venv (`--peers-venv`,
created with pip on first use) through bench/peers_analysis.py.  `--gp`
adds heormodel's Gaussian-process EVPPI (about a minute and a half).
Targets (issue 17): EVPI over the 41-point grid ≤ 1 ms; poly EVPPI of the
pair at three WTPs ≤ 3 ms; nonparametric EVPPI of the pair at three WTPs
≤ 25 ms and within the tolerance; each ahead of every peer; POST /analysis
with the full grid and the pair's EVPPI, p50 ≤ 15 ms (poly), ≤ 40 ms (gam).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _results import update_section  # noqa: E402
from bench_model import timed as median_and_p90  # noqa: E402
from bench_service import LUA, wrk  # noqa: E402
from model.analysis import (  # noqa: E402
    PSA,
    acceptability,
    calculate_icers_psa,
    evpi_values,
    evppi_values,
)

REFERENCE = Path(os.environ.get("LIVING_HTA_REFERENCE", ROOT.parent / "shared" / "reference"))
CASE = "default"
GRID = np.arange(0, 200001, 5000.0)
PAIR_WTP = [80000.0, 100000.0, 120000.0]
PAIR = ["p_HS1", "p_S1H"]
PEERS = ["heormodel==0.7.4", "voiage==0.2.1", "pygam==0.12.0"]
DEFAULT_PEERS_VENV = Path("/tmp/living-hta-analysis-peers")


def timed(fn, repeats) -> float:
    return median_and_p90(fn, repeats)[0]


def peers_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating the peers' venv {venv} (pip install {' '.join(PEERS)})", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS], check=True)
    return python


def service_p50(seconds: int) -> dict[str, dict]:
    """POST /analysis (the full grid, the pair's EVPPI at three WTPs) against gunicorn with the
    checked-in configuration, one connection at a time (wrk -c 1)."""
    import secrets
    import shutil
    import tempfile

    from tests.support.service import gunicorn_server

    if shutil.which("wrk") is None:
        raise SystemExit("error: wrk not found: run `make system`")
    key = "bench-" + secrets.token_urlsafe(12)
    figures = {}
    with tempfile.TemporaryDirectory(prefix="lhta-bench-") as folder, \
            gunicorn_server(Path(folder), API_KEYS=key) as server:
        for method in ("poly", "gam"):
            body = json.dumps({"seed": 1, "wtp": "0:200000:5000", "evppi": [PAIR],
                               "evppi_wtp": PAIR_WTP, "evppi_method": method})
            script = Path(folder) / f"{method}.lua"
            script.write_text(LUA % {"key": key, "body": body})
            wrk(server.url, script, 2, 2, path="/analysis")  # warm-up
            figures[method] = wrk(server.url, script, 1, seconds, path="/analysis")
    return figures


def mgcv_figures(folder: Path):
    pair = pd.read_csv(folder / "evppi_gam_p_HS1+p_S1H.csv")
    singles = pd.read_csv(folder / "evppi_gam_single_100000.csv")
    return pair.EVPPI.to_numpy(), list(singles.parameter), singles.EVPPI.to_numpy()


def within(values, mgcv, evpi) -> bool:
    allowed = np.maximum(0.10 * np.abs(mgcv), 0.02 * evpi)
    return bool(np.all(np.abs(np.asarray(values) - mgcv) <= allowed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--peers-venv", type=Path, default=DEFAULT_PEERS_VENV)
    parser.add_argument("--gp", action="store_true", help="also heormodel's GP EVPPI (slow)")
    parser.add_argument("--seconds", type=int, default=10,
                        help="length of each wrk run against POST /analysis (10)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    cases = REFERENCE / "cases" / CASE
    results = pd.read_csv(cases / "results.csv")
    samples = pd.read_csv(cases / "samples.csv")
    psa = PSA.from_columns(results.to_numpy(), list(results.columns),
                           samples.to_numpy(), list(samples.columns))
    pair_mgcv, singles, singles_mgcv = mgcv_figures(REFERENCE / "analysis" / CASE)
    evpi_pair = evpi_values(psa, PAIR_WTP)
    evpi_single = evpi_values(psa, [100000.0])[0]
    c, e = psa.costs, psa.effects

    def plain_numpy_evpi():
        nmb = GRID[:, None, None] * e - c
        return nmb.max(axis=2).mean(axis=1) - nmb.mean(axis=1).max(axis=1)

    ours = {
        "evpi_grid": timed(lambda: evpi_values(psa, GRID), args.repeats),
        "plain_numpy_evpi": timed(plain_numpy_evpi, args.repeats),
        "ceac_grid": timed(lambda: acceptability(psa, GRID), args.repeats),
        "icers": timed(lambda: calculate_icers_psa(psa, uncertainty=True), args.repeats),
        "poly_pair": timed(lambda: evppi_values(psa, PAIR_WTP, PAIR, "poly"), args.repeats),
        "nonparametric_pair": timed(lambda: evppi_values(psa, PAIR_WTP, PAIR, "gam"), args.repeats),
        "nonparametric_single": timed(
            lambda: evppi_values(psa, [100000.0], ["p_S1S2"], "gam"), args.repeats),
    }
    ours_pair = evppi_values(psa, PAIR_WTP, PAIR, "gam")
    ours_singles = [evppi_values(psa, [100000.0], [p], "gam")[0] for p in singles]
    for name, ms in ours.items():
        print(f"ours {name}: {ms:.3f} ms", file=sys.stderr)

    load = os.getloadavg()[0]
    service = service_p50(args.seconds)
    for method, figures in service.items():
        print(f"POST /analysis {method}: {figures}", file=sys.stderr)
    command = [str(peers_python(args.peers_venv)), str(ROOT / "bench" / "peers_analysis.py"),
               str(cases), str(max(10, args.repeats // 10))] + (["--gp"] if args.gp else [])
    peers = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)

    def peer(name, key):
        entry = peers.get(name, {}).get(key)
        return "-" if entry is None else f"{entry['ms']:.2f}"

    def fastest_peer(*keys):
        times = [peers[n][k]["ms"] for n, k in keys if k in peers.get(n, {})]
        return min(times) if times else float("inf")

    rows = [
        ("EVPI, 41 WTPs", "evpi_grid", ("heormodel", "evpi_grid"), ("voiage", "evpi_grid"),
         None, 1.0),
        ("CEAC, 41 WTPs", "ceac_grid", ("heormodel", "ceac_grid"), None, None, None),
        ("ICER table (with 95 % intervals)", "icers", ("heormodel", "icers"), None, None, None),
        ("EVPPI poly, pair, 3 WTPs", "poly_pair", None, ("voiage", "linear_pair"), None, 3.0),
        ("EVPPI nonparametric, pair, 3 WTPs", "nonparametric_pair",
         ("heormodel", "nonparametric_pair"), None, ("pygam", "nonparametric_pair"), 25.0),
        ("EVPPI nonparametric, p_S1S2, 1 WTP", "nonparametric_single",
         ("heormodel", "nonparametric_single"), None, ("pygam", "nonparametric_single"), None),
    ]
    table = ["| computation | ours ms | heormodel ms | voiage ms | pygam ms | target ms | |",
             "|---|---|---|---|---|---|---|"]
    for label, key, h, v, g, target in rows:
        mine = ours[key]
        others = [x for x in (h, v, g) if x is not None]
        ahead = mine < fastest_peer(*others)
        met = target is None or mine <= target
        verdict = ("ahead" if ahead else "BEHIND") + ("" if target is None else (", met" if met else ", MISSED"))
        table.append(
            f"| {label} | {mine:.2f} | {peer(*h) if h else '-'} | {peer(*v) if v else '-'} "
            f"| {peer(*g) if g else '-'} | {'-' if target is None else f'≤ {target:g}'} | {verdict} |"
        )
    table.append(f"| EVPI, 41 WTPs, plain NumPy (two lines) | {ours['plain_numpy_evpi']:.2f} "
                 "| | | | | baseline |")
    for method, target in (("poly", 15.0), ("gam", 40.0)):
        figures = service[method]
        ok = figures["p50_ms"] <= target and figures["non_2xx"] + figures["socket_errors"] == 0
        table.append(
            f"| POST /analysis, 41 WTPs + EVPPI of the pair at 3 WTPs ({method}), p50 "
            f"(p99 {figures['p99_ms']:.1f} ms, {figures['requests']} requests, "
            f"{figures['non_2xx']} failed) | {figures['p50_ms']:.2f} | | | | ≤ {target:g} "
            f"| {'met' if ok else 'MISSED'} |")
    print("\n".join(table))

    def fmt(values):
        return ", ".join(f"{v:,.0f}" if abs(v) >= 10 else f"{v:.2g}" for v in values)

    accuracy = ["| method | pair at 80k/100k/120k | within | " + " / ".join(singles)
                + " at 100k | within |", "|---|---|---|---|---|",
                f"| mgcv (dampack, reference) | {fmt(pair_mgcv)} | | {fmt(singles_mgcv)} | |",
                f"| ours (penalised cubic regression spline, GCV) | {fmt(ours_pair)} "
                f"| {within(ours_pair, pair_mgcv, evpi_pair)} | {fmt(ours_singles)} "
                f"| {within(ours_singles, singles_mgcv, evpi_single)} |"]
    for name, pair_key, singles_key, label in [
        ("heormodel", "nonparametric_pair", "nonparametric_singles", "heormodel spline"),
        ("heormodel", "gp_pair", "gp_singles", "heormodel Gaussian process"),
        ("pygam", "nonparametric_pair", "nonparametric_singles", "pygam (P-splines, grid search)"),
    ]:
        if pair_key in peers.get(name, {}):
            pv = peers[name][pair_key]["values"]
            sv = peers[name][singles_key]["values"]
            accuracy.append(
                f"| {label} | {fmt(pv)} | {within(pv, pair_mgcv, evpi_pair)} | {fmt(sv)} "
                f"| {within(sv, singles_mgcv, evpi_single)} |"
            )
    print("\n".join(accuracy))

    body = "\n".join([
        "## Analyses (issue 17)",
        "",
        "model.analysis on the default reference case (1000 samples, 3 strategies) against",
        "its Python peers in the same run; medians of repeated calls after warm-up; and",
        "`POST /analysis` against gunicorn (checked-in configuration, 2 workers) on",
        "127.0.0.1, one request at a time from `wrk -c 1`.  The peers run in a",
        "throwaway venv (not project dependencies):",
        "",
        "```sh",
        f".venv/bin/python bench/bench_analysis.py --repeats {args.repeats} "
        f"--seconds {args.seconds}" + (" --gp" if args.gp else "")
        + "   # creates the peers' venv on first use",
        "```",
        "",
        *table,
        "",
        "Nonparametric EVPPI against mgcv's (dampack `type = \"gam\"`); *within* is the",
        "reference tolerance (10 % of mgcv's figure or 2 % of the EVPI at that WTP,",
        f"whichever is larger; EVPI {fmt(evpi_pair)} at 80k/100k/120k):",
        "",
        *accuracy,
        "",
        f"Peers: {', '.join(PEERS)}.  voiage 0.2.1's EVPPI is scikit-learn's linear",
        "regression (no Rust kernel in that wheel), so it is set against the poly method;",
        "heormodel and voiage take one WTP per call, so their grids are Python loops.",
        f"Load average (1 min) before the service and the peers ran: {load:.2f}; the machine is shared,",
        "so figures taken while other work ran are preliminary.",
    ])
    if not args.no_write:
        update_section("analysis", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
