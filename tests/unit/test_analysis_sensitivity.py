"""One- and two-way sensitivity from the PSA (`python -m model owsa|tornado|
opt-strat|twsa`) and population EVPI/EVPPI (`evpi|evppi --population`),
against what dampack computed on the three reference cases
(shared/reference/analysis/SENSITIVITY.md), within its tolerances; and the
rules that the references alone would not pin (ties, row orders, dampack's
tornado filter), each with a PSA built to break a wrong rule."""

from __future__ import annotations

import io
import json
import subprocess
from types import SimpleNamespace
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest

import model
from model.analysis import PSA, evpi_values
from model.analysis.population import Population
from model.analysis.sensitivity import (
    one_way,
    optimal_strategies,
    parameter_grid,
    tornado,
    twsa,
)
from model.cli import main
from service.settings import Settings
from tests.support.client import app_client
from tests.support.paths import PYTHON, REFERENCE, ROOT
from tests.unit.test_analysis_service import answer_schema

ANALYSIS = REFERENCE / "analysis"
CASES = ["default", "seed_client", "api_default"]
PAIRS = [("p_HS1", "p_S1H"), ("u_trtA", "c_trtA")]
# SENSITIVITY.md's recommended tolerances.
TWSA_RTOL = {"p_HS1": 1e-9, "u_trtA": 1e-8}  # u_trtA × c_trtA: raw design's condition 1e15
DIFF_RTOL, AVG_RTOL, EVPI_RTOL = 1e-7, 1e-12, 1e-12


def case_files(case):
    folder = REFERENCE / "cases" / case
    return folder / "results.csv", folder / "samples.csv", ANALYSIS / case


def run(capsysbinary, *args) -> pd.DataFrame:
    """The command line in process (argument parsing to CSV on stdout)."""
    status = main([str(a) for a in args])
    out, err = capsysbinary.readouterr()
    assert status == 0 and err == b"", err
    return exact(pd.read_csv(io.BytesIO(out), dtype=str))


def reference(path) -> pd.DataFrame:
    return exact(pd.read_csv(path, dtype=str))


def exact(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns read with float(): the doubles written, exactly (pandas' own parser
    can be an ulp off)."""
    for column in frame.columns:
        try:
            frame[column] = frame[column].map(float)
        except ValueError:
            pass
    return frame


def cli(*args):
    return subprocess.run([PYTHON, "-m", "model", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def close(ours, theirs, rtol, atol=0.0, what=""):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float),
                               rtol=rtol, atol=atol, err_msg=what)


def same_keys(ours: pd.DataFrame, theirs: pd.DataFrame, keys):
    assert list(ours.columns) == list(theirs.columns)
    assert len(ours) == len(theirs)
    for key in keys:
        assert list(ours[key]) == list(theirs[key]), key


# --- against dampack, through the command line ---------------------------------------------

@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("outcome, name", [("nmb", "owsa_nmb_100000.csv"),
                                           ("eff", "owsa_eff.csv"), ("cost", "owsa_cost.csv")])
def test_owsa_is_dampacks(capsysbinary, case, outcome, name):
    results, samples, folder = case_files(case)
    wtp = ["--wtp", 100000] if outcome == "nmb" else []
    ours = run(capsysbinary, "owsa", results, samples, "--outcome", outcome, *wtp)
    theirs = reference(folder / name)
    assert len(theirs) == 18 * 3 * 11
    # Row order: parameters in the samples' order, strategies in the PSA's, grid ascending;
    # the grid (R's type-7 quantiles, seq) bit for bit.
    same_keys(ours, theirs, ["parameter", "strategy", "param_val"])
    close(ours.outcome_val, theirs.outcome_val, 1e-9, what=name)


@pytest.mark.parametrize("case", CASES)
def test_tornado_is_dampacks(capsysbinary, case):
    results, samples, folder = case_files(case)
    ours = run(capsysbinary, "tornado", results, samples, "--wtp", 100000)
    theirs = reference(folder / "owsa_tornado_nmb_100000.csv")
    same_keys(ours, theirs, ["parameter", "param_val.low", "param_val.high"])
    close(ours[["outcome_val.low", "outcome_val.high"]],
          theirs[["outcome_val.low", "outcome_val.high"]], 1e-9)
    close(ours[["abs_diff", "rel_diff"]], theirs[["abs_diff", "rel_diff"]], DIFF_RTOL)
    close(ours.avg, theirs.avg, AVG_RTOL)


@pytest.mark.parametrize("case", CASES)
def test_optimal_strategy_is_dampacks(capsysbinary, case):
    results, samples, folder = case_files(case)
    ours = run(capsysbinary, "opt-strat", results, samples, "--wtp", 100000)
    theirs = reference(folder / "owsa_opt_strat_nmb_100000.csv")
    # Same rows in the same (dplyr group) order, pmin/pmax to the bit.
    same_keys(ours, theirs, ["parameter", "strategy", "pmin", "pmax"])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("pair", PAIRS)
def test_twsa_is_dampacks(capsysbinary, case, pair):
    results, samples, folder = case_files(case)
    ours = run(capsysbinary, "twsa", results, samples, "--params", ",".join(pair),
               "--wtp", 100000)
    theirs = reference(folder / f"twsa_nmb_100000_{pair[0]}_{pair[1]}.csv")
    assert len(theirs) == 363
    # The first parameter varies fastest; strategies in the PSA's order.
    same_keys(ours, theirs, [*pair, "strategy"])
    close(ours.outcome_val, theirs.outcome_val, TWSA_RTOL[pair[0]])


@pytest.mark.parametrize("case", CASES)
def test_population_evpi_is_dampacks_exact_max(capsysbinary, case):
    results, _, folder = case_files(case)
    theirs = reference(folder / "evpi_population.csv")
    ours = run(capsysbinary, "evpi", results, "--wtp", "0:200000:5000", "--population", 10000)
    assert list(ours.columns) == ["WTP", "EVPI", "Population_EVPI"]
    assert list(ours.WTP) == list(theirs.WTP)
    close(ours.Population_EVPI, theirs.EVPI_exact_max, EVPI_RTOL)
    # Zeros exactly 0 (never a rounding residue where no sample prefers another strategy).
    assert list(ours.Population_EVPI == 0) == list(theirs.EVPI_exact_max == 0)
    # dampack's own (random tie-breaking) figure within SENSITIVITY.md's bound.
    assert (abs(ours.Population_EVPI - theirs.EVPI) <= 0.05 * 10000).all()
    # Per person beside it: the plain EVPI command's figures.
    close(ours.EVPI * 10000, ours.Population_EVPI, 1e-15)


def test_evpi_of_a_sure_decision_is_exactly_zero():
    # Fails with EVPI as a difference of two means (mean of the row maxima minus the
    # largest mean), which leaves ±1e-10 where every sample prefers the same strategy.
    results, _, folder = case_files("seed_client")
    frame = reference(results)
    psa = PSA.from_columns(frame.to_numpy(), list(frame.columns))
    theirs = reference(folder / "evpi_population.csv")
    sure = theirs.WTP[theirs.EVPI_exact_max == 0].to_numpy()
    assert len(sure) >= 20
    assert (evpi_values(psa, sure) == 0).all()


# --- population ----------------------------------------------------------------------------

def test_effective_population_is_a_discounted_sum_of_yearly_cohorts():
    assert Population(10000).effective == 10000  # dampack's pop: T = 1, r = 0
    assert Population(5000, horizon=4).effective == 20000
    assert Population(1000, horizon=3, discount=0.5).effective == pytest.approx(
        1000 * (1 + 1 / 1.5 + 1 / 2.25), rel=1e-15)
    # The first year undiscounted: Σ_{t=0}^{T−1}, not Σ_{t=1}^{T}.
    assert Population(1000, horizon=1, discount=0.035).effective == 1000


def test_population_evppi_and_options(capsysbinary):
    results, samples, folder = case_files("default")
    args = ("evppi", results, samples, "--params", "p_HS1,p_S1H", "--wtp", "80000,100000,120000")
    ours = run(capsysbinary, *args, "--population", 2000, "--horizon", 10, "--discount", 0.035)
    assert list(ours.columns) == ["WTP", "EVPPI", "Population_EVPPI"]
    per_person = reference(folder / "evppi_poly_p_HS1+p_S1H.csv").EVPPI
    close(ours.EVPPI, per_person, 1e-6, 1e-6)
    factor = 2000 * sum(1.035 ** -t for t in range(10))
    close(ours.Population_EVPPI, ours.EVPPI * factor, 1e-14)
    # Without --population: the per-person table exactly as before.
    assert list(run(capsysbinary, *args).columns) == ["WTP", "EVPPI"]


# --- the rules the references do not exercise ----------------------------------------------

def toy_psa(parameters: dict, costs, effects, strategies):
    names = list(parameters)
    return PSA(np.column_stack(costs), np.column_stack(effects), strategies,
               np.column_stack([parameters[n] for n in names]), names)


@pytest.fixture(scope="module")
def reference_psa():
    results, samples, _ = case_files("default")
    r, s = reference(results), reference(samples)
    return r, s


def test_tornado_ties_are_in_parameter_name_order(reference_psa):
    # Two copies of p_HS1 give the same bars to the last bit; dampack lists them in
    # name order (dplyr's sorted groups, stable arrange), not in the samples' order.
    r, s = reference_psa
    s = s.assign(zz_copy=s.p_HS1, AA_copy=s.p_HS1)
    psa = PSA.from_columns(r.to_numpy(), list(r.columns), s.to_numpy(), list(s.columns))
    table = tornado(one_way(psa, "nmb", 100000))
    top = list(table["parameter"][:3])
    assert set(top) == {"p_HS1", "zz_copy", "AA_copy"}
    assert top == ["AA_copy", "p_HS1", "zz_copy"]
    assert len(set(table["abs_diff"][:3])) == 1


def test_tornado_leaves_out_negative_or_undefined_rel_diff():
    # dampack's filter(rel_diff >= min_rel_diff = 0): a negative best outcome at the low
    # end (all net benefits below 0 here at WTP 0) drops the parameter.
    rng = np.random.default_rng(1)
    x, noise = rng.uniform(0, 1, 500), rng.uniform(0, 1, 500)
    psa = toy_psa({"x": x, "noise": noise}, [1000 + 100 * x, 1200 - 50 * x],
                  [10 + x, 10.5 + 0 * x], ("A", "B"))
    assert len(tornado(one_way(psa, "nmb", 0))) == 0
    kept = tornado(one_way(psa, "nmb", 1000))
    assert list(kept["parameter"]) == ["x", "noise"]
    assert (kept["outcome_val.low"] > 0).all()


def test_optimal_strategy_keeps_exact_ties_and_sorts_names_as_bytes():
    # "Zeta" and "Alpha" have the same outcome in every sample: both optimal everywhere
    # (dampack keeps every strategy equal to the max); rows sorted by name as bytes,
    # uppercase before lowercase ("B_param" before "a_param"), not in the PSA's order.
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 400), rng.normal(5, 2, 400)
    cost = 100 + 10 * a + b
    psa = toy_psa({"a_param": a, "B_param": b}, [cost, cost, cost + 1e6],
                  [1 + 0 * a] * 3, ("Zeta", "Alpha", "Mid"))
    table = optimal_strategies(one_way(psa, "nmb", 1000))
    rows = list(zip(table["parameter"], table["strategy"]))
    assert rows == [("B_param", "Alpha"), ("B_param", "Zeta"),
                    ("a_param", "Alpha"), ("a_param", "Zeta")]
    grid = parameter_grid(a)
    assert list(table["pmin"][2:]) == [grid[0]] * 2 and list(table["pmax"][2:]) == [grid[-1]] * 2
    # Cost is minimised: the cheap pair is optimal there too, the dear one never.
    cheap = optimal_strategies(one_way(psa, "cost"))
    assert set(cheap["strategy"]) == {"Zeta", "Alpha"}


def test_optimal_strategy_rows_are_spans_where_the_best_changes():
    # Strategy B is better above x = 0.5: two rows for x, meeting at the switch.
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 1000)
    psa = toy_psa({"x": x}, [0 * x, 0 * x], [1 + 0 * x, 0.5 + x], ("A", "B"))
    table = optimal_strategies(one_way(psa, "eff"))
    grid = parameter_grid(x)
    assert list(table["strategy"]) == ["A", "B"]
    assert table["pmin"][0] == grid[0] and table["pmax"][1] == grid[-1]
    assert table["pmax"][0] < 0.5 < table["pmin"][1]


def test_twsa_first_parameter_varies_fastest_and_is_the_tensor_fit():
    # An outcome that is exactly a·b² is fitted exactly by the 9-term tensor model (and by
    # no model without the product terms); rows walk a first.
    rng = np.random.default_rng(4)
    a, b = rng.uniform(1, 2, 300), rng.uniform(-1, 3, 300)
    psa = toy_psa({"a": a, "b": b}, [0 * a, -a * b ** 2], [0 * a, 0 * a], ("S", "T"))
    table = twsa(psa, ["a", "b"], "nmb", 0, points=4)
    ga, gb = parameter_grid(a, 4), parameter_grid(b, 4)
    assert list(table["a"][:5]) == [*ga, ga[0]] and list(table["b"][:5]) == [gb[0]] * 4 + [gb[1]]
    t = table["outcome_val"][16:]
    close(t, np.tile(ga, 4) * np.repeat(gb, 4) ** 2, 1e-10, 1e-10)
    close(table["outcome_val"][:16], 0, 0, 1e-9)


def test_tiny_or_huge_parameter_values_are_fitted_or_refused_never_nan():
    # uniform(0, 1e-320) is a valid probability distribution; its variance underflows to 0,
    # which made the regressors infinite and LAPACK fail (a 500 in the service).
    rng = np.random.default_rng(5)
    y = rng.uniform(0, 1, 500)
    tiny, huge = rng.uniform(0, 1e-320, 500), rng.uniform(0, 1e300, 500)
    psa = toy_psa({"tiny": tiny, "y": y, "huge": huge}, [1 + 0 * y, y], [y, 2 + 0 * y],
                  ("A", "B"))
    for name in ("tiny", "huge"):
        values = one_way(psa, "nmb", 1, parameters=[name]).values
        assert np.isfinite(values).all()
        close(values[0], [[-0.5] * 11, [1.5] * 11], 0, 0.1)  # y's mean, whatever the scale
    assert np.isfinite(twsa(psa, ["tiny", "y"], "nmb", 1)["outcome_val"]).all()


def test_grid_is_r_type7_quantiles_and_seq():
    x = np.array([4.0, 1.0, 3.0, 2.0, 10.0])
    # R: index = 1 + (n − 1)·p, lo = floor(index), h = index − lo,
    # q = (1 − h)·x[lo] + h·x[lo + 1] in that form (1-based, sorted x).
    h_low, h_high = (1 + 4 * 0.025) - 1, (1 + 4 * 0.975) - 4
    grid = parameter_grid(x, 3)
    assert grid[0] == (1 - h_low) * 1 + h_low * 2
    assert grid[-1] == (1 - h_high) * 4 + h_high * 10
    # Where x[lo + 1] equals x[lo], x[lo] itself (no interpolation to round).
    assert parameter_grid(np.array([0.1] * 3 + [0.7] * 3), 2)[0] == 0.1
    assert grid[1] == grid[0] + (grid[-1] - grid[0]) / 2


# --- bad input -----------------------------------------------------------------------------

RESULTS, SAMPLES, _ = case_files("default")


@pytest.mark.parametrize("args, message", [
    (("owsa", RESULTS, SAMPLES), "owsa of net monetary benefit needs --wtp"),
    (("owsa", RESULTS, SAMPLES, "--outcome", "cost", "--wtp", "1"), "--wtp is for --outcome nmb"),
    (("tornado", RESULTS, SAMPLES, "--wtp", "1,2"), "takes one willingness to pay, got 2"),
    (("owsa", RESULTS, SAMPLES, "--wtp", "1", "--params", "c_D"), "'c_D' take one value"),
    (("owsa", RESULTS, SAMPLES, "--wtp", "1", "--params", "p_XYZ"), "no samples of parameter(s)"),
    (("owsa", RESULTS, SAMPLES, "--wtp", "1", "--params", ","), "--params names no parameter"),
    (("owsa", RESULTS, SAMPLES, "--wtp", "1", "--points", "1"), "points must be a whole number"),
    (("owsa", RESULTS, SAMPLES, "--wtp", "1", "--order", "9"), "order must be a whole number"),
    (("twsa", RESULTS, SAMPLES, "--params", "p_HS1", "--wtp", "1"), "takes two parameters"),
    (("twsa", RESULTS, SAMPLES, "--params", "p_HS1,p_HS1", "--wtp", "1"), "named twice"),
    (("evpi", RESULTS, "--wtp", "1", "--population", "-5"), "population must be more than 0"),
    (("evpi", RESULTS, "--wtp", "1", "--population", "5", "--discount", "3.5"), "0.035 for 3.5"),
    (("evpi", RESULTS, "--wtp", "1", "--population", "5", "--horizon", "2.5"), "whole number of years"),
    (("evppi", RESULTS, SAMPLES, "--params", "p_HS1", "--wtp", "1", "--horizon", "3"),
     "--horizon needs --population"),
    (("evpi", RESULTS, "--wtp", "1", "--population", "nan"), "finite"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    done = cli(*args)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr


def test_samples_where_nothing_varies_are_one_line(tmp_path):
    constant = tmp_path / "constant.csv"
    constant.write_text("a,b\n" + "1,2\n" * 1000)
    done = cli("opt-strat", RESULTS, constant, "--wtp", "1")
    assert done.returncode == 2 and "no parameter varies in the samples" in done.stderr


# --- POST /analysis ------------------------------------------------------------------------

KEY = "sensitivity-key-Qz8"
ANALYSIS_PATH = "/analysis"


def reference_runner(case):
    """A runner that returns R's own results and samples of a reference case, so that
    /analysis can be compared with dampack's figures on them."""
    results, samples, _ = case_files(case)
    r, s = reference(results), reference(samples)

    def runner(table, updates, seed, n_samples):
        return SimpleNamespace(columns=list(r.columns), values=r.to_numpy(), seed=seed,
                               samples=SimpleNamespace(columns={n: s[n].to_numpy()
                                                                for n in s.columns}))
    return runner


def service(runner=None, **settings):
    options = {} if runner is None else {"runner": runner}
    return app_client(Settings(api_keys=(KEY,), **settings), key=KEY, **options)


def records(rows) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows)


def same_frame(ours: pd.DataFrame, cli_table: pd.DataFrame, rtol: float = 0.0):
    """Same columns, rows and values (to `rtol`; 0: exactly)."""
    pd.testing.assert_frame_equal(ours, cli_table, check_dtype=False, check_exact=rtol == 0,
                                  rtol=rtol, atol=0)


@pytest.mark.parametrize("case", CASES)
def test_analysis_sensitivity_and_population_are_dampacks(case):
    _, _, folder = case_files(case)
    client = service(reference_runner(case), evppi_parameters=("*",))
    for pair in PAIRS:
        answer = client.simulate_post(ANALYSIS_PATH, json={
            "seed": 1, "wtp": "0:200000:5000", "population": 10000,
            "sensitivity": {"wtp": 100000, "twsa": list(pair),
                            "outcomes": ["nmb", "eff", "cost"]}})
        assert answer.status_code == 200, answer.text
        answer_schema().validate(answer.json)
        sensitivity = answer.json["sensitivity"]
        for outcome, name in [("nmb", "owsa_nmb_100000.csv"), ("eff", "owsa_eff.csv"),
                              ("cost", "owsa_cost.csv")]:
            ours, theirs = records(sensitivity["owsa"][outcome]), reference(folder / name)
            same_keys(ours, theirs, ["parameter", "strategy", "param_val"])
            close(ours.outcome_val, theirs.outcome_val, 1e-9, what=name)
        ours = records(sensitivity["tornado"])
        theirs = reference(folder / "owsa_tornado_nmb_100000.csv")
        same_keys(ours, theirs, ["parameter", "param_val.low", "param_val.high"])
        close(ours[["outcome_val.low", "outcome_val.high"]],
              theirs[["outcome_val.low", "outcome_val.high"]], 1e-9)
        close(ours[["abs_diff", "rel_diff"]], theirs[["abs_diff", "rel_diff"]], DIFF_RTOL)
        close(ours.avg, theirs.avg, AVG_RTOL)
        same_keys(records(sensitivity["opt_strat"]),
                  reference(folder / "owsa_opt_strat_nmb_100000.csv"),
                  ["parameter", "strategy", "pmin", "pmax"])
        assert sensitivity["twsa"]["parameters"] == list(pair)
        ours = records(sensitivity["twsa"]["values"])
        theirs = reference(folder / f"twsa_nmb_100000_{pair[0]}_{pair[1]}.csv")
        same_keys(ours, theirs, [*pair, "strategy"])
        close(ours.outcome_val, theirs.outcome_val, TWSA_RTOL[pair[0]])
        evpi = records(answer.json["evpi"])
        theirs = reference(folder / "evpi_population.csv")
        close(evpi.Population_EVPI, theirs.EVPI_exact_max, EVPI_RTOL)
        assert list(evpi.Population_EVPI == 0) == list(theirs.EVPI_exact_max == 0)
        method = answer.json["method"]
        assert method["population"] == {"population": 10000, "horizon": 1, "discount": 0,
                                        "effective_population": 10000}
        # "*": every offered parameter that varies, in the samples' order (as the reference).
        assert method["sensitivity"]["owsa_parameters"] == list(
            reference(folder / "owsa_eff.csv").parameter.unique())


BATCHED = 1e-12


def test_analysis_equals_the_command_line_for_the_same_run(capsysbinary, tmp_path):
    # The service's own PSA (the built-in model, seed 11) and the CLI on its results and
    # samples: the same tables; the service solves its one-way outcomes' regressions
    # together (one solve per parameter), the CLI one outcome at a time: equal to rounding.
    client = service()
    answer = client.simulate_post(ANALYSIS_PATH, json={
        "seed": 11, "n_samples": 300, "param_updates": [], "wtp": [100000], "evppi": ["p_S1S2"],
        "population": {"size": 500, "horizon": 3, "discount": 0.035},
        "sensitivity": {"wtp": 90000, "owsa": ["p_S1S2", "p_HS1"], "twsa": ["u_S1", "c_S1"],
                        "points": 5, "outcomes": ["cost", "nmb"]}}).json
    results, samples = tmp_path / "results.csv", tmp_path / "samples.csv"
    assert main(["run", "--seed", "11", "--samples", "300", "--save-samples", str(samples)]) == 0
    results.write_bytes(capsysbinary.readouterr().out)
    sensitivity = answer["sensitivity"]
    common = ("--wtp", 90000, "--points", 5)
    owsa = run(capsysbinary, "owsa", results, samples, "--params", "p_S1S2,p_HS1", *common)
    same_frame(records(sensitivity["owsa"]["nmb"]), owsa, BATCHED)
    cost = run(capsysbinary, "owsa", results, samples, "--params", "p_S1S2,p_HS1",
               "--outcome", "cost", "--points", 5)
    same_frame(records(sensitivity["owsa"]["cost"]), cost, BATCHED)
    tornado_cli = run(capsysbinary, "tornado", results, samples, "--params", "p_S1S2,p_HS1",
                      *common)
    same_frame(records(sensitivity["tornado"]), tornado_cli, BATCHED)
    opt = run(capsysbinary, "opt-strat", results, samples, "--params", "p_S1S2,p_HS1", *common)
    same_frame(records(sensitivity["opt_strat"]), opt)  # grid values: exact
    two = run(capsysbinary, "twsa", results, samples, "--params", "u_S1,c_S1", *common)
    assert set(sensitivity["owsa"]) == {"cost", "nmb"}
    same_frame(records(sensitivity["twsa"]["values"]), two)
    population = ("--population", 500, "--horizon", 3, "--discount", 0.035)
    evpi = run(capsysbinary, "evpi", results, "--wtp", 100000, *population)
    same_frame(records(answer["evpi"]), evpi)
    evppi = run(capsysbinary, "evppi", results, samples, "--params", "p_S1S2", "--wtp", 100000,
                *population)
    same_frame(records(answer["evppi"][0]["values"]), evppi)


def test_every_parameter_is_in_the_tables_order_whatever_the_evppi_groups():
    client = service()
    answer = client.simulate_post(ANALYSIS_PATH, json={
        "seed": 1, "wtp": [100000], "evppi": ["u_S2", ["p_S1S2", "c_H"]],
        "sensitivity": {"wtp": 100000, "twsa": ["u_S1", "p_HS1"]}}).json
    table = model.read_table()
    varying = answer["method"]["sensitivity"]["owsa_parameters"]
    assert varying == [p for p in table.editable_parameters if p in varying]
    assert varying[0] == "p_HS1" and len(varying) >= 10
    assert [r["parameter"] for r in answer["sensitivity"]["owsa"]["nmb"][::33]] == varying


def test_analysis_without_the_new_arguments_is_unchanged():
    answer = service().simulate_post(ANALYSIS_PATH, json={"seed": 1, "evppi": ["p_S1S2"]}).json
    assert "sensitivity" not in answer
    assert set(answer["evpi"][0]) == {"WTP", "EVPI"}
    assert set(answer["evppi"][0]["values"][0]) == {"WTP", "EVPPI"}
    assert "population" not in answer["method"] and "sensitivity" not in answer["method"]


def test_analysis_arguments_in_a_form():
    client = service()
    population = json.dumps({"size": 1e4, "horizon": 2, "discount": 0.5})
    sensitivity = json.dumps({"wtp": 100000, "twsa": ["p_HS1", "p_S1H"], "points": 3})
    form = client.simulate_post(
        ANALYSIS_PATH, body=urlencode({"seed": "4", "wtp": "100000", "population": population,
                                       "sensitivity": sensitivity}),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 200, form.text
    assert form.json["method"]["population"]["effective_population"] == 10000 * (1 + 1 / 1.5)
    assert len(form.json["sensitivity"]["twsa"]["values"]) == 3 * 3 * 3
    assert len(form.json["sensitivity"]["owsa"]["nmb"]) > 0  # owsa's default: "*"
    # A plain number is the population size (horizon 1, discount 0: dampack's pop).
    plain = client.simulate_post(ANALYSIS_PATH, query_string="seed=4&wtp=100000&population=250")
    assert plain.json["method"]["population"] == {
        "population": 250, "horizon": 1, "discount": 0, "effective_population": 250}


def test_sensitivity_only_for_offered_parameters():
    client = service()
    for body in ({"owsa": ["p_HS1", "c_trtA"]}, {"owsa": [], "twsa": ["c_trtA", "p_HS1"]},
                 {"owsa": ["p_XYZ"]}):
        refused = client.simulate_post(ANALYSIS_PATH, json={"sensitivity": {**body, "wtp": 1}})
        assert refused.status_code == 409, refused.text
        assert "is not offered" in refused.json["error"]
        assert '"c_trtA"' not in refused.text.replace("'c_trtA'", "")
    # "*" is every offered parameter that varies: never a confidential one.
    answer = client.simulate_post(ANALYSIS_PATH, json={"seed": 1, "sensitivity": {"wtp": 1}}).json
    table = model.read_table()
    assert set(answer["method"]["sensitivity"]["owsa_parameters"]) <= set(
        table.editable_parameters)
    assert not {r["parameter"] for r in answer["sensitivity"]["tornado"]} - set(
        table.editable_parameters)


def test_analysis_of_a_parameter_with_tiny_samples_is_not_a_500():
    tiny = [{"parameter": "p_HS1", "distribution": "random uniform", "v1": 0, "v2": 1e-320}]
    answer = service().simulate_post(ANALYSIS_PATH, json={
        "seed": 1, "n_samples": 200, "param_updates": tiny, "wtp": [100000],
        "sensitivity": {"wtp": 100000, "owsa": ["p_HS1"], "twsa": ["p_HS1", "p_S1H"]}})
    assert answer.status_code == 200, answer.text
    answer_schema().validate(answer.json)


@pytest.mark.parametrize("body, status, message", [
    ({"sensitivity": {"owsa": "*"}}, 400, "sensitivity must be an object"),
    ({"sensitivity": 100000}, 400, "sensitivity must be an object"),
    ({"sensitivity": {"wtp": 1, "colour": 2}}, 400, "sensitivity must be an object"),
    ({"sensitivity": {"wtp": 1, "twsa": ["p_HS1"]}}, 400, "sensitivity.twsa must be a list of two"),
    ({"sensitivity": {"wtp": 1, "twsa": ["p_HS1", "p_HS1"]}}, 400, "sensitivity.twsa must be"),
    # Found by schemathesis (ST201): null is not "left out".
    ({"sensitivity": {"wtp": 1, "twsa": None}}, 400, "sensitivity.twsa must be"),
    ({"sensitivity": {"wtp": 1, "owsa": None}}, 400, 'sensitivity.owsa must be "*"'),
    ({"population": {"size": 1, "horizon": None}}, 400, "population.horizon must be"),
    ({"sensitivity": {"wtp": 1, "owsa": "p_HS1"}}, 400, 'sensitivity.owsa must be "*"'),
    ({"sensitivity": {"wtp": -1}}, 400, "sensitivity.wtp must be a number from 0"),
    ({"sensitivity": {"wtp": "1"}}, 400, "sensitivity.wtp must be a number"),
    ({"sensitivity": {"wtp": 1, "points": 42}}, 400, "sensitivity.points must be a whole number from 2 to 41"),
    ({"sensitivity": {"wtp": 1, "points": 2.5}}, 400, "sensitivity.points must be a whole number"),
    ({"sensitivity": {"wtp": 1, "outcomes": []}}, 400, "sensitivity.outcomes must be a list"),
    ({"sensitivity": {"wtp": 1, "outcomes": ["qaly"]}}, 400, "sensitivity.outcomes must be"),
    # Found by schemathesis (ST101): an unhashable item was a 500.
    ({"sensitivity": {"wtp": 1, "outcomes": [{}]}}, 400, "sensitivity.outcomes must be"),
    ({"sensitivity": {"wtp": 1, "owsa": [{}], "twsa": [[], {}]}}, 400, "sensitivity.owsa must"),
    ({"population": 0}, 400, "population.size must be a number more than 0"),
    ({"population": "100"}, 400, "population must be a number (people a year) or an object"),
    ({"population": {"horizon": 3}}, 400, "population must be a number (people a year) or an"),
    ({"population": {"size": 100, "horizon": 0}}, 400, "population.horizon must be a whole number"),
    ({"population": {"size": 100, "discount": 1.5}}, 400, "population.discount must be a number from 0"),
    ({"population": True}, 400, "population must be"),
    ({"sensitivity": {"wtp": 1, "owsa": ["c_D"]}}, 409, "take one value in every sample"),
    ({"sensitivity": {"wtp": 1}, "n_samples": 1}, 409, "no parameter varies"),
])
def test_analysis_bad_sensitivity_or_population_arguments(body, status, message):
    result = service(evppi_parameters=("c_D",)).simulate_post(ANALYSIS_PATH,
                                                              json={"seed": 1, **body})
    assert result.status_code == status, result.text
    assert message in result.json["error"]


def test_an_infinite_rel_diff_is_null_in_json_and_inf_in_csv():
    """A tornado's rel_diff is infinite when a parameter's low outcome is
    exactly 0 (dampack keeps the row, with Inf): the records give null, as
    JSON has no infinity (POST /analysis encodes with allow_nan=False), and
    the CSV R's Inf."""
    from model.analysis.table import Table

    table = Table(("parameter", "rel_diff"), (np.array(["a", "b", "c"], dtype=object),
                                              np.array([np.inf, 0.5, -np.inf])))
    records = table.to_records()
    assert records == [{"parameter": "a", "rel_diff": None}, {"parameter": "b", "rel_diff": 0.5},
                       {"parameter": "c", "rel_diff": None}]
    json.dumps(records, allow_nan=False)
    assert table.to_csv().splitlines()[1:] == ["a,Inf", "b,0.5", "c,-Inf"]
