"""`python -m model icers|ceac|exp-loss|evpi|evppi`: dampack's tables as CSV
on stdout, equal to the reference; one-line errors with exit status 2."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pandas as pd
import pytest

from tests.support.paths import PYTHON, REFERENCE, ROOT

CASE = REFERENCE / "cases" / "default"
ANALYSIS = REFERENCE / "analysis" / "default"
RESULTS, SAMPLES = CASE / "results.csv", CASE / "samples.csv"


def cli(*args, stdin=None):
    return subprocess.run([PYTHON, "-m", "model", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, input=stdin)


def table(done) -> pd.DataFrame:
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return pd.read_csv(io.StringIO(done.stdout))


def assert_one_line_error(done, text):
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert text in done.stderr


def same(ours: pd.DataFrame, theirs: pd.DataFrame, rtol, atol=0.0, exact=("Strategy", "Status")):
    assert list(ours.columns) == list(theirs.columns)
    assert len(ours) == len(theirs)
    for column in theirs.columns:
        if column in exact or theirs[column].dtype == bool:
            assert list(ours[column]) == list(theirs[column]), column
        else:
            np.testing.assert_allclose(ours[column], theirs[column], rtol=rtol, atol=atol,
                                       equal_nan=True, err_msg=column)


def test_icers_with_uncertainty_are_dampacks():
    same(table(cli("icers", RESULTS, "--uncertainty")), pd.read_csv(ANALYSIS / "icers.csv"), 1e-9)


def test_icers_without_uncertainty_have_dampacks_plain_columns():
    ours = table(cli("icers", RESULTS))
    assert list(ours.columns) == ["Strategy", "Cost", "Effect", "Inc_Cost", "Inc_Effect",
                                  "ICER", "Status"]
    theirs = pd.read_csv(ANALYSIS / "icers.csv")[list(ours.columns)]
    same(ours, theirs, 1e-9)


def test_icers_from_a_strategy_table_and_from_stdin():
    folder = REFERENCE / "analysis" / "icers_synthetic"
    same(table(cli("icers", "--strategies", folder / "strategies.csv")),
         pd.read_csv(folder / "icers.csv"), 1e-9)
    assert table(cli("icers", "-", stdin=RESULTS.read_text())).shape == (3, 7)


# Strategies on one line (equal ICERs) are not extendedly dominated: only an
# ICER that exceeds the next one's is.  dampack's calculate_icers (R) on these
# two tables gives these rows (its row order: ND by cost, then ED, then D).
NA = float("nan")
ICER_TIES = [
    pytest.param("A,0,0\nB,100,1\nC,200,2\n",
                 [("A", 0, 0, NA, NA, NA, "ND"), ("B", 100, 1, 100, 1, 100, "ND"), ("C", 200, 2, 100, 1, 100, "ND")],
                 id="three-on-one-line"),
    pytest.param("A,0,0\nB,100,1\nC,250,2\nD,300,3\n",
                 [("A", 0, 0, NA, NA, NA, "ND"), ("B", 100, 1, 100, 1, 100, "ND"), ("D", 300, 3, 200, 2, 100, "ND"),
                  ("C", 250, 2, NA, NA, NA, "ED")],
                 id="on-one-line-once-the-ed-one-is-out"),
]


@pytest.mark.parametrize(("rows", "dampacks"), ICER_TIES)
def test_icers_of_strategies_on_one_line_are_all_non_dominated(tmp_path, rows, dampacks):
    strategies = tmp_path / "strategies.csv"
    strategies.write_text("Strategy,Cost,Effect\n" + rows)
    same(table(cli("icers", "--strategies", strategies)),
         pd.DataFrame(dampacks, columns=["Strategy", "Cost", "Effect", "Inc_Cost", "Inc_Effect", "ICER", "Status"]),
         1e-12)


def test_ceac_over_a_range():
    ours = table(cli("ceac", RESULTS, "--wtp", "0:200000:5000"))
    same(ours, pd.read_csv(ANALYSIS / "ceac.csv"), rtol=0, atol=0.002)


def test_expected_loss_and_evpi_over_a_range():
    same(table(cli("exp-loss", RESULTS, "--wtp", "0:200000:5000")),
         pd.read_csv(ANALYSIS / "exp_loss.csv"), rtol=1e-4, atol=1.0)
    same(table(cli("evpi", RESULTS, "--wtp", "0:200000:5000")),
         pd.read_csv(ANALYSIS / "evpi.csv"), rtol=1e-4, atol=1.0)


def test_evppi_poly_and_gam_for_the_pair():
    args = ("evppi", RESULTS, SAMPLES, "--params", "p_HS1,p_S1H", "--wtp", "80000,100000,120000")
    same(table(cli(*args)), pd.read_csv(ANALYSIS / "evppi_poly_p_HS1+p_S1H.csv"), 1e-6, 1e-6)
    gam = table(cli(*args, "--method", "gam"))
    mgcv = pd.read_csv(ANALYSIS / "evppi_gam_p_HS1+p_S1H.csv")
    assert list(gam.columns) == ["WTP", "EVPPI"] and list(gam.WTP) == list(mgcv.WTP)
    evpi = table(cli("evpi", RESULTS, "--wtp", "80000,100000,120000")).EVPI
    assert (abs(gam.EVPPI - mgcv.EVPPI) <= np.maximum(0.1 * mgcv.EVPPI, 0.02 * evpi)).all()


def test_evppi_poly_order_is_an_option():
    args = ("evppi", RESULTS, SAMPLES, "--params", "p_S1S2", "--wtp", "100000")
    first, third = table(cli(*args, "--order", "1")), table(cli(*args, "--order", "3"))
    assert first.EVPPI[0] != third.EVPPI[0]
    assert 0 < first.EVPPI[0] <= table(cli("evpi", RESULTS, "--wtp", "100000")).EVPI[0]


@pytest.mark.parametrize("args, message", [
    (("icers",), "icers takes RESULTS.csv or --strategies"),
    (("icers", "nope.csv"), "no such file: nope.csv"),
    (("icers", SAMPLES), "results columns must be C_<strategy> and E_<strategy>"),
    (("icers", "--strategies", RESULTS), "needs columns Strategy, Cost, Effect"),
    (("evpi", RESULTS, "--wtp", "0:10"), "give a list a,b,c or a range"),
    (("evpi", RESULTS, "--wtp", "0:1e9:1"), "at most 1001"),
    (("ceac", RESULTS, "--wtp", "-1"), "not negative"),
    (("evppi", RESULTS, SAMPLES, "--params", "p_XYZ", "--wtp", "1"), "no samples of parameter(s) 'p_XYZ'"),
    (("evppi", RESULTS, RESULTS, "--params", "C_Treatment_A", "--wtp", "1", "--order", "0"),
     "order must be"),
    (("evppi", RESULTS, CASE / "inputs.csv", "--params", "v1", "--wtp", "1"), "is not a number"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    assert_one_line_error(cli(*args), message)


def test_results_and_samples_must_have_as_many_rows(tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("".join(SAMPLES.read_text().splitlines(keepends=True)[:11]))
    assert_one_line_error(cli("evppi", RESULTS, short, "--params", "p_HS1", "--wtp", "1"),
                          "has 10 samples")


def test_missing_wtp_is_a_usage_error():
    done = cli("ceac", RESULTS)
    assert done.returncode == 2 and "--wtp" in done.stderr


def test_run_saves_the_samples_it_evaluated_for_evppi(tmp_path):
    samples = tmp_path / "samples.csv"
    done = cli("run", "--seed", 3, "--samples", 200, "--save-samples", samples)
    assert done.returncode == 0, done.stderr
    (tmp_path / "results.csv").write_text(done.stdout)
    # The saved samples give the same results again, digit for digit.
    assert cli("evaluate", samples).stdout == done.stdout
    evppi = table(cli("evppi", tmp_path / "results.csv", samples, "--params", "p_S1S2",
                      "--wtp", "100000", "--method", "gam"))
    assert evppi.shape == (1, 2) and evppi.EVPPI[0] > 0
    assert_one_line_error(cli("run", "--save-samples", tmp_path / "no" / "s.csv"),
                          "cannot write")


def test_a_ragged_or_empty_table_is_one_line(tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("Strategy,Cost,Effect\nA,1,2\nB,3\n")
    assert_one_line_error(cli("icers", "--strategies", ragged), "row 2: 2 fields, the header has 3")
    empty = tmp_path / "empty.csv"
    empty.write_text("Strategy,Cost,Effect\n")
    assert_one_line_error(cli("icers", "--strategies", empty), "needs a header line and at least one row")
