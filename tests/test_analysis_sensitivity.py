"""One- and two-way sensitivity from the PSA (`python -m model owsa|tornado|
opt-strat|twsa`) and population EVPI/EVPPI (`evpi|evppi --population`),
against what dampack computed on the three reference cases
(shared/reference/analysis/SENSITIVITY.md), within its tolerances; and the
rules that the references alone would not pin (ties, row orders, dampack's
tornado filter), each with a PSA built to break a wrong rule."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pandas as pd
import pytest

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

from tests.support.paths import PYTHON, REFERENCE, ROOT

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
    return pd.read_csv(io.BytesIO(out))


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
    theirs = pd.read_csv(folder / name)
    assert len(theirs) == 18 * 3 * 11
    # Row order: parameters in the samples' order, strategies in the PSA's, grid ascending;
    # the grid (R's type-7 quantiles, seq) bit for bit.
    same_keys(ours, theirs, ["parameter", "strategy", "param_val"])
    close(ours.outcome_val, theirs.outcome_val, 1e-9, what=name)


@pytest.mark.parametrize("case", CASES)
def test_tornado_is_dampacks(capsysbinary, case):
    results, samples, folder = case_files(case)
    ours = run(capsysbinary, "tornado", results, samples, "--wtp", 100000)
    theirs = pd.read_csv(folder / "owsa_tornado_nmb_100000.csv")
    same_keys(ours, theirs, ["parameter", "param_val.low", "param_val.high"])
    close(ours[["outcome_val.low", "outcome_val.high"]],
          theirs[["outcome_val.low", "outcome_val.high"]], 1e-9)
    close(ours[["abs_diff", "rel_diff"]], theirs[["abs_diff", "rel_diff"]], DIFF_RTOL)
    close(ours.avg, theirs.avg, AVG_RTOL)


@pytest.mark.parametrize("case", CASES)
def test_optimal_strategy_is_dampacks(capsysbinary, case):
    results, samples, folder = case_files(case)
    ours = run(capsysbinary, "opt-strat", results, samples, "--wtp", 100000)
    theirs = pd.read_csv(folder / "owsa_opt_strat_nmb_100000.csv")
    # Same rows in the same (dplyr group) order, pmin/pmax to the bit.
    same_keys(ours, theirs, ["parameter", "strategy", "pmin", "pmax"])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("pair", PAIRS)
def test_twsa_is_dampacks(capsysbinary, case, pair):
    results, samples, folder = case_files(case)
    ours = run(capsysbinary, "twsa", results, samples, "--params", ",".join(pair),
               "--wtp", 100000)
    theirs = pd.read_csv(folder / f"twsa_nmb_100000_{pair[0]}_{pair[1]}.csv")
    assert len(theirs) == 363
    # The first parameter varies fastest; strategies in the PSA's order.
    same_keys(ours, theirs, [*pair, "strategy"])
    close(ours.outcome_val, theirs.outcome_val, TWSA_RTOL[pair[0]])


@pytest.mark.parametrize("case", CASES)
def test_population_evpi_is_dampacks_exact_max(capsysbinary, case):
    results, _, folder = case_files(case)
    theirs = pd.read_csv(folder / "evpi_population.csv")
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
    frame = pd.read_csv(results)
    psa = PSA.from_columns(frame.to_numpy(), list(frame.columns))
    theirs = pd.read_csv(folder / "evpi_population.csv")
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
    per_person = pd.read_csv(folder / "evppi_poly_p_HS1+p_S1H.csv").EVPPI
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
    r, s = pd.read_csv(results), pd.read_csv(samples)
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
