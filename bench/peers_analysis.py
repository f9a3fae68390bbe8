"""The Python peers of model.analysis on one reference case, timed: run by
bench/bench_analysis.py under an interpreter that has heormodel, voiage
0.2.1 and pygam installed (a throwaway venv: none is a project
dependency).  Prints one JSON object: {peer: {computation: {ms, values}}}.

    PEERS/bin/python bench/peers_analysis.py CASE_DIR REPEATS [--gp]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
GRID = np.arange(0, 200001, 5000.0)
PAIR_WTP = [80000.0, 100000.0, 120000.0]
PAIR = ["p_HS1", "p_S1H"]
SINGLES = ["p_HS1", "p_S1H", "p_S1S2", "c_trtA", "u_S1", "u_trtA"]


def timed(fn, repeats):
    value = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    print(f"  {statistics.median(times) * 1e3:10.2f} ms", file=sys.stderr)
    return {"ms": statistics.median(times) * 1e3, "values": np.atleast_1d(value).tolist()}


def main() -> None:
    case, repeats = Path(sys.argv[1]), int(sys.argv[2])
    results = pd.read_csv(case / "results.csv")
    samples = pd.read_csv(case / "samples.csv")
    strategies = [c[2:] for c in results.columns[:3]]
    costs = results.iloc[:, :3].set_axis(strategies, axis=1)
    effects = results.iloc[:, 3:].set_axis(strategies, axis=1)
    out: dict[str, dict] = {}

    from heormodel.cea import ceac as h_ceac
    from heormodel.cea import icer_table
    from heormodel.models import Outcomes
    from heormodel.voi import evpi as h_evpi
    from heormodel.voi import evppi as h_evppi

    outcomes = Outcomes.from_wide(costs, effects)
    draws = samples.set_axis(outcomes.iterations)
    slow = max(3, repeats // 20)
    out["heormodel"] = {
        "evpi_grid": timed(lambda: h_evpi(outcomes, GRID).to_numpy(), repeats),
        "ceac_grid": timed(lambda: h_ceac(outcomes, GRID).to_numpy().ravel(), repeats),
        "icers": timed(lambda: icer_table(outcomes)["icer"].to_numpy(), repeats),
        "nonparametric_pair": timed(
            lambda: [h_evppi(outcomes, draws, PAIR, w) for w in PAIR_WTP], repeats),
        "nonparametric_single": timed(
            lambda: [h_evppi(outcomes, draws, "p_S1S2", 100000.0)], repeats),
        "nonparametric_singles": timed(
            lambda: [h_evppi(outcomes, draws, p, 100000.0) for p in SINGLES], 1),
    }
    if "--gp" in sys.argv[3:]:  # about a minute and a half here
        out["heormodel"]["gp_pair"] = timed(
            lambda: [h_evppi(outcomes, draws, PAIR, w, method="gp", seed=1) for w in PAIR_WTP], 1)
        out["heormodel"]["gp_singles"] = timed(
            lambda: [h_evppi(outcomes, draws, p, 100000.0, method="gp", seed=1)
                     for p in SINGLES], 1)

    from voiage.methods.basic import evpi as v_evpi
    from voiage.methods.basic import evppi as v_evppi
    from voiage.schema import ParameterSet

    c, e = costs.to_numpy(), effects.to_numpy()
    pair_set = ParameterSet.from_numpy_or_dict({p: samples[p].to_numpy() for p in PAIR})
    out["voiage"] = {
        "evpi_grid": timed(lambda: [v_evpi(w * e - c) for w in GRID], repeats),
        "linear_pair": timed(lambda: [v_evppi(w * e - c, pair_set, PAIR) for w in PAIR_WTP],
                             repeats),
    }

    from pygam import LinearGAM, s, te

    def pygam_evppi(names, wtp):
        x = samples[names].to_numpy()
        terms = s(0) if len(names) == 1 else s(0, n_splines=5) + s(1, n_splines=5) + te(0, 1, n_splines=4)
        values = []
        for w in wtp:
            nmb = w * e - c
            best = nmb.mean(axis=0).argmax()
            fitted = np.zeros_like(nmb)
            for k in range(nmb.shape[1]):
                if k != best:
                    y = nmb[:, k] - nmb[:, best]
                    fitted[:, k] = LinearGAM(terms).gridsearch(x, y, progress=False).predict(x)
            values.append(max(fitted.max(axis=1).mean(), 0.0))
        return values

    out["pygam"] = {
        "nonparametric_pair": timed(lambda: pygam_evppi(PAIR, PAIR_WTP), slow),
        "nonparametric_single": timed(lambda: pygam_evppi(["p_S1S2"], [100000.0]), slow),
        "nonparametric_singles": timed(
            lambda: [pygam_evppi([p], [100000.0])[0] for p in SINGLES], 1),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
