"""model.analysis against what dampack computed from R's own results and
samples (shared/reference/analysis), within the tolerances its README
states: R breaks near-ties at random, we take the exact argmax."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.analysis import (
    PSA,
    calculate_icers,
    calculate_icers_psa,
    ceac,
    evpi,
    evpi_values,
    evppi_values,
    expected_loss,
    summary,
)

from tests.support.paths import REFERENCE

ANALYSIS = REFERENCE / "analysis"
CASES = ["default", "seed_client", "api_default"]
PAIR = ["p_HS1", "p_S1H"]


def frame(table) -> pd.DataFrame:
    return pd.DataFrame({name: table[name] for name in table.columns})


@pytest.fixture(scope="module", params=CASES)
def case(request):
    results = pd.read_csv(REFERENCE / "cases" / request.param / "results.csv")
    samples = pd.read_csv(REFERENCE / "cases" / request.param / "samples.csv")
    psa = PSA.from_columns(results.to_numpy(), list(results.columns),
                           samples.to_numpy(), list(samples.columns))
    return psa, ANALYSIS / request.param


def assert_numbers(ours, theirs, rtol, atol=0.0):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float),
                               rtol=rtol, atol=atol, equal_nan=True)


def test_every_reference_case_is_here():
    assert all((ANALYSIS / c / "icers.csv").exists() for c in CASES + ["icers_synthetic"])


def test_summary(case):
    psa, folder = case
    ours, theirs = frame(summary(psa)), pd.read_csv(folder / "summary.csv")
    assert list(ours.columns) == list(theirs.columns)
    assert list(ours.Strategy) == list(theirs.Strategy)
    assert_numbers(ours.iloc[:, 1:], theirs.iloc[:, 1:], rtol=1e-9)


def test_icers_with_uncertainty(case):
    psa, folder = case
    ours = frame(calculate_icers_psa(psa, uncertainty=True))
    theirs = pd.read_csv(folder / "icers.csv")
    assert list(ours.columns) == list(theirs.columns)
    assert list(ours.Strategy) == list(theirs.Strategy)
    assert list(ours.Status) == list(theirs.Status)
    numeric = [c for c in theirs.columns if c not in ("Strategy", "Status")]
    assert_numbers(ours[numeric], theirs[numeric], rtol=1e-9)


def test_icers_without_uncertainty_are_the_same_rows(case):
    psa, folder = case
    ours = frame(calculate_icers_psa(psa))
    theirs = pd.read_csv(folder / "icers.csv")[list(ours.columns)]
    assert list(ours.Status) == list(theirs.Status)
    assert_numbers(ours[["Cost", "Effect", "ICER"]], theirs[["Cost", "Effect", "ICER"]], rtol=1e-9)


def test_ceac_and_frontier(case):
    psa, folder = case
    theirs = pd.read_csv(folder / "ceac.csv")
    ours = frame(ceac(psa, theirs.WTP.unique()))
    assert list(ours.columns) == list(theirs.columns)
    assert list(ours.Strategy) == list(theirs.Strategy)
    assert_numbers(ours.WTP, theirs.WTP, rtol=0)
    assert_numbers(ours.Proportion, theirs.Proportion, rtol=0, atol=0.002)
    assert list(ours.On_Frontier) == list(theirs.On_Frontier)


def test_expected_loss(case):
    psa, folder = case
    theirs = pd.read_csv(folder / "exp_loss.csv")
    ours = frame(expected_loss(psa, theirs.WTP.unique()))
    assert list(ours.columns) == list(theirs.columns)
    assert list(ours.Strategy) == list(theirs.Strategy)
    assert_numbers(ours.Expected_Loss, theirs.Expected_Loss, rtol=1e-4, atol=1.0)
    assert list(ours.On_Frontier) == list(theirs.On_Frontier)


def test_evpi(case):
    psa, folder = case
    theirs = pd.read_csv(folder / "evpi.csv")
    ours = frame(evpi(psa, theirs.WTP))
    assert list(ours.columns) == list(theirs.columns)
    assert_numbers(ours.EVPI, theirs.EVPI, rtol=1e-4, atol=1.0)
    assert theirs.EVPI.max() > 1000  # the grid crosses the uncertain region


def poly_close(ours, theirs):
    assert_numbers(ours, theirs, rtol=1e-6, atol=1e-6)


def gam_close(psa, wtp, ours, theirs):
    """Within 10 % of mgcv's figure or 2 % of the EVPI, whichever is larger."""
    allowed = np.maximum(0.10 * np.abs(theirs), 0.02 * evpi_values(psa, wtp))
    assert np.all(np.abs(np.asarray(ours) - np.asarray(theirs)) <= allowed), (ours, theirs, allowed)


def test_evppi_poly_pair(case):
    psa, folder = case
    theirs = pd.read_csv(folder / "evppi_poly_p_HS1+p_S1H.csv")
    poly_close(evppi_values(psa, theirs.WTP, PAIR, "poly", order=2), theirs.EVPPI)


def test_evppi_poly_single_parameters(case):
    psa, folder = case
    theirs = pd.read_csv(folder / "evppi_poly_single_100000.csv")
    assert len(theirs) >= 15
    ours = [evppi_values(psa, [w], [p], "poly")[0] for p, w in zip(theirs.parameter, theirs.WTP)]
    poly_close(ours, theirs.EVPPI)


def test_evppi_poly_uncapped_is_dampack(case):
    # The cap (EVPPI ≤ EVPI) never binds on the reference: same figures.
    psa, folder = case
    theirs = pd.read_csv(folder / "evppi_poly_p_HS1+p_S1H.csv")
    poly_close(evppi_values(psa, theirs.WTP, PAIR, "poly", cap=False), theirs.EVPPI)


def test_evppi_gam_pair(case):
    psa, folder = case
    theirs = pd.read_csv(folder / "evppi_gam_p_HS1+p_S1H.csv")
    gam_close(psa, theirs.WTP, evppi_values(psa, theirs.WTP, PAIR, "gam"), theirs.EVPPI)


def test_evppi_gam_single_parameters(case):
    psa, folder = case
    theirs = pd.read_csv(folder / "evppi_gam_single_100000.csv")
    assert len(theirs) == 6
    ours = [evppi_values(psa, [w], [p], "gam")[0] for p, w in zip(theirs.parameter, theirs.WTP)]
    gam_close(psa, theirs.WTP.to_numpy(), ours, theirs.EVPPI)


def test_evppi_gam_important_parameters_within_two_percent_of_mgcv(case):
    # Stricter than the README asks where the figure is large: the spline
    # is a substitute for mgcv's, so check it agrees where it matters.
    psa, folder = case
    theirs = pd.read_csv(folder / "evppi_gam_single_100000.csv")
    big = theirs[theirs.EVPPI > 500]
    assert len(big) >= 3
    ours = [evppi_values(psa, [w], [p], "gam")[0] for p, w in zip(big.parameter, big.WTP)]
    assert_numbers(ours, big.EVPPI, rtol=0.02)


def test_synthetic_25_strategies():
    folder = ANALYSIS / "icers_synthetic"
    strategies = pd.read_csv(folder / "strategies.csv")
    theirs = pd.read_csv(folder / "icers.csv")
    ours = frame(calculate_icers(strategies.Cost, strategies.Effect, strategies.Strategy))
    assert list(ours.columns) == list(theirs.columns)
    assert list(ours.Strategy) == list(theirs.Strategy)
    assert list(ours.Status) == list(theirs.Status)
    assert sorted(theirs.Status.value_counts().items()) == [("D", 16), ("ED", 5), ("ND", 4)]
    numeric = ["Cost", "Effect", "Inc_Cost", "Inc_Effect", "ICER"]
    assert_numbers(ours[numeric], theirs[numeric], rtol=1e-9)
