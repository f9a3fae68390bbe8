"""Properties every decision analysis must have, whatever the PSA."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from model.analysis import (
    PSA,
    AnalysisError,
    acceptability,
    calculate_icers,
    ceac,
    evpi_values,
    evppi_values,
    expected_loss_values,
    icer_statuses,
    parse_wtp,
)

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
positive_wtp = arrays(float, st.integers(1, 8), elements=st.floats(0, 2e5))


@st.composite
def strategy_tables(draw, max_strategies=12):
    k = draw(st.integers(1, max_strategies))
    # Few distinct values on purpose: ties in cost, in effect and in both.
    values = st.one_of(st.sampled_from([0.0, 1.0, 2.5, 10.0]), finite)
    cost = draw(arrays(float, k, elements=values))
    effect = draw(arrays(float, k, elements=values))
    names = [f"S{i:02d}" for i in range(k)]
    return cost, effect, names


@st.composite
def psas(draw, with_parameters=True, min_samples=4):
    n = draw(st.integers(min_samples, 40))
    k = draw(st.integers(1, 4))
    costs = draw(arrays(float, (n, k), elements=st.floats(0, 1e5)))
    effects = draw(arrays(float, (n, k), elements=st.floats(0, 30)))
    parameters = draw(arrays(float, (n, 3), elements=st.floats(-5, 5))) if with_parameters else None
    return PSA(costs, effects, [f"s{i}" for i in range(k)], parameters, ["a", "b", "c"])


@settings(max_examples=300, deadline=None)
@given(strategy_tables(), st.randoms())
def test_icer_statuses_do_not_depend_on_strategy_order(table, rng):
    cost, effect, names = table
    order = list(range(len(names)))
    rng.shuffle(order)
    before = dict(zip(names, icer_statuses(cost, effect, names)))
    after = dict(zip([names[i] for i in order], icer_statuses(cost[order], effect[order],
                                                              [names[i] for i in order])))
    assert before == after
    # And the whole table is the same, row for row.
    a = calculate_icers(cost, effect, names).to_csv()
    b = calculate_icers(cost[order], effect[order], [names[i] for i in order]).to_csv()
    assert a == b


@settings(max_examples=300, deadline=None)
@given(strategy_tables())
def test_icer_frontier_is_efficient(table):
    cost, effect, names = table
    result = calculate_icers(cost, effect, names)
    nd = result["Status"] == "ND"
    assert nd.sum() >= 1 and result["Status"][0] == "ND"
    # The frontier: costs and effects rise, ICERs rise, nothing off it is
    # cheaper for the same or more effect than a frontier strategy.
    icer = result["ICER"][nd][1:]
    assert np.all(np.diff(result["Cost"][nd]) >= 0) and np.all(np.diff(result["Effect"][nd]) > 0)
    assert np.all(np.diff(icer) >= 0)
    assert np.isnan(result["ICER"][~nd]).all()
    for c, e in zip(result["Cost"][~nd], result["Effect"][~nd]):
        assert not np.any((result["Cost"][nd] > c) & (result["Effect"][nd] <= e))


@settings(max_examples=200, deadline=None)
@given(psas(with_parameters=False), positive_wtp)
def test_ceac_rows_sum_to_one_and_evpi_is_not_negative(psa, wtp):
    proportions = acceptability(psa, wtp)
    np.testing.assert_allclose(proportions.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (proportions >= 0).all()
    evpi = evpi_values(psa, wtp)
    assert (evpi >= 0).all()
    # EVPI is the smallest expected loss.
    scale = 1 + np.abs(psa.costs).max() + wtp.max() * np.abs(psa.effects).max()
    np.testing.assert_allclose(evpi, expected_loss_values(psa, wtp).min(axis=1),
                               rtol=0, atol=1e-12 * scale)
    table = ceac(psa, wtp)
    assert table["On_Frontier"].reshape(len(wtp), -1).sum(axis=1).tolist() == [1] * len(wtp)


@settings(max_examples=150, deadline=None)
@given(psas(min_samples=16), positive_wtp, st.sampled_from([["a"], ["b", "c"], ["a", "b", "c"]]),
       st.sampled_from([("poly", 1), ("poly", 2), ("poly", 3), ("gam", 2)]))
def test_evppi_between_zero_and_evpi(psa, wtp, group, method):
    name, order = method
    evppi = evppi_values(psa, wtp, group, name, order)
    evpi = evpi_values(psa, wtp)
    assert (evppi >= 0).all()
    assert (evppi <= evpi).all()


def test_regression_evppi_can_exceed_evpi_so_it_is_capped():
    # Strategy B never beats A in any sample (EVPI 0), yet a straight line
    # through B − A extrapolates above zero at x = 0: the uncapped estimate
    # is positive.  What partial information is worth cannot exceed perfect
    # information's, so the capped figure is 0.
    psa = PSA(np.array([[0, 0], [0, 0], [0, 0], [0, 3.0]]), np.zeros((4, 2)), ["A", "B"],
              np.array([[0.0], [1.0], [1.5], [2.0]]), ["x"])
    assert evpi_values(psa, [1.0])[0] == 0
    assert evppi_values(psa, [1.0], ["x"], "poly", order=1, cap=False)[0] == pytest.approx(0.15)
    assert evppi_values(psa, [1.0], ["x"], "poly", order=1)[0] == 0


def test_evppi_of_an_unused_or_constant_parameter_is_zero_and_perfect_information_is_evpi():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 500)
    costs = np.column_stack([np.zeros(500), 1000 * x])  # B's cost is all x
    effects = np.column_stack([np.zeros(500), np.full(500, 0.02)])
    psa = PSA(costs, effects, ["A", "B"],
              np.column_stack([x, rng.uniform(size=500), np.ones(500)]), ["x", "noise", "const"])
    wtp = [10000, 25000, 50000]
    evpi = evpi_values(psa, wtp)
    assert evpi[1] > 10
    for method in ("poly", "gam"):
        np.testing.assert_allclose(evppi_values(psa, wtp, ["x"], method, order=3), evpi,
                                   rtol=0.02, atol=0.5)
        assert evppi_values(psa, wtp, ["const"], method).tolist() == [0, 0, 0]
        assert (evppi_values(psa, wtp, ["noise"], method) < 0.2 * evpi[1]).all()


@pytest.mark.parametrize("text, values", [
    ("0:200000:5000", np.arange(0, 200001, 5000)),
    ("80000,100000,120000", [80000, 100000, 120000]),
    ("0:10:3", [0, 3, 6, 9]),
    ("0:0.3:0.1", [0, 0.1, 0.2, 0.3]),
    ("50000", [50000]),
])
def test_wtp_list_or_range_with_stop_included(text, values):
    np.testing.assert_allclose(parse_wtp(text), values)


@pytest.mark.parametrize("text, message", [
    ("", "a list a,b,c or a range"),
    ("a,b", "a list a,b,c or a range"),
    ("0:10", "a list a,b,c or a range"),
    ("10:0:1", "start ≤ stop"),
    ("0:10:0", "step > 0"),
    ("0:1e9:1", "at most 1001"),
    ("-5", "not negative"),
    ("nan", "finite"),
    ("0:inf:1", "must be finite"),
])
def test_bad_wtp_is_a_clear_error(text, message):
    with pytest.raises(AnalysisError, match=message):
        parse_wtp(text)


@pytest.mark.parametrize("build, message", [
    (lambda: PSA(np.ones((3, 2)), np.ones((3, 3)), ["a", "b"]), "costs are 3 × 2 but effects 3 × 3"),
    (lambda: PSA(np.ones((3, 2)), np.ones((3, 2)), ["a", "a"]), "'a' appears twice"),
    (lambda: PSA(np.array([[1, np.nan]]), np.ones((1, 2)), ["a", "b"]), "sample 1, column 2 is nan"),
    (lambda: PSA.from_columns(np.ones((2, 2)), ["C_a", "E_b"]), "unpaired: a, b"),
    (lambda: PSA.from_columns(np.ones((2, 2)), ["C_a", "x"]), "not: x"),
    (lambda: evppi_values(PSA(np.ones((3, 2)), np.ones((3, 2)), ["a", "b"]), [1], ["p"]),
     "needs the parameter samples"),
    (lambda: evppi_values(PSA(np.ones((3, 2)), np.ones((3, 2)), ["a", "b"], np.ones((3, 1)), ["p"]),
                          [1], ["q"]), "no samples of parameter"),
    (lambda: evppi_values(PSA(np.ones((3, 2)), np.ones((3, 2)), ["a", "b"], np.ones((3, 1)), ["p"]),
                          [1], ["p"], "loess"), "one of poly, gam"),
    (lambda: evppi_values(PSA(np.ones((3, 2)), np.ones((3, 2)), ["a", "b"], np.ones((3, 1)), ["p"]),
                          [1], ["p"], "poly", 0), "order must be"),
    (lambda: evppi_values(PSA(np.ones((9, 2)), np.ones((9, 2)), ["a", "b"],
                              np.arange(45.0).reshape(9, 5) ** 1.5, list("pqrst")),
                          [1], list("pqrst"), "gam"), "groups of up to 4"),
    (lambda: calculate_icers([1, 2], [1], ["a", "b"]), "2 strategies, 2 costs, 1 effects"),
    (lambda: evppi_values(PSA(np.ones((9, 2)), np.ones((9, 2)), ["a", "b"],
                              np.arange(18.0).reshape(9, 2) ** 1.5, list("pq")),
                          [1], list("pq"), "gam"), "needs more PSA samples than that"),
])
def test_bad_input_is_a_clear_error(build, message):
    with pytest.raises(AnalysisError, match=message):
        build()


def test_net_benefit_overflow_is_a_clear_error():
    psa = PSA(np.ones((3, 2)), np.full((3, 2), 1e300), ["a", "b"])
    with pytest.raises(AnalysisError, match="makes net benefits overflow"):
        evpi_values(psa, [1e10])


def test_a_tiny_effect_difference_gives_an_infinite_icer_without_a_warning():
    """Found by test_icer_frontier_is_efficient (NumPy's "overflow encountered
    in divide"): 1e6 over an effect difference of 5e-324 is infinite, as in R,
    and said quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = calculate_icers(np.array([0.0, 1e6]), np.array([0.0, 5e-324]), ["A", "B"])
    assert list(result["Status"]) == ["ND", "ND"] and result["ICER"][1] == np.inf
