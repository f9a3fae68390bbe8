"""Incremental cost-effectiveness ratios with dominance and extended
dominance, as dampack's ``calculate_icers`` (and ``calculate_icers_psa``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .psa import PSA, AnalysisError
from .table import Table

ICER_COLUMNS = ("Strategy", "Cost", "Effect", "Inc_Cost", "Inc_Effect", "ICER", "Status")
UNCERTAINTY_COLUMNS = (
    "Strategy", "Cost", "Lower_95_Cost", "Upper_95_Cost", "Effect", "Lower_95_Effect",
    "Upper_95_Effect", "Inc_Cost", "Inc_Effect", "ICER", "Status",
)
# dampack sorts by Status descending: ND, then ED, then D.
_STATUS_RANK = {"ND": 0, "ED": 1, "D": 2}


def _increments(cost: np.ndarray, effect: np.ndarray):
    """Each strategy against the previous one (first: NaN)."""
    inc_cost = np.full(len(cost), np.nan)
    inc_effect = np.full(len(cost), np.nan)
    inc_cost[1:] = np.diff(cost)
    inc_effect[1:] = np.diff(effect)
    # A zero, or a tiny, effect difference gives an infinite ICER, as in R.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return inc_cost, inc_effect, inc_cost / inc_effect


def icer_statuses(cost, effect, strategies: Sequence[str]) -> np.ndarray:
    """"D", "ED" or "ND" for each strategy (in the given order).

    dampack's rules: sort by cost, ties by effect descending; a strategy is
    dominated (D) when a cheaper-or-equal one ahead of it in that order has at
    least its effect; then, repeatedly, a non-dominated strategy whose ICER
    against the previous one exceeds the next one's is extendedly dominated
    (ED).  Strategies equal in cost and effect are put in name order (dampack
    keeps input order), so the statuses never depend on the input order.
    """
    cost = np.asarray(cost, dtype=float)
    effect = np.asarray(effect, dtype=float)
    order = np.lexsort((np.asarray(strategies, dtype=object), -effect, cost))
    c, e = cost[order], effect[order]
    status = np.full(len(c), "ND", dtype=object)
    # Dominated: some strategy before it (any, dominated or not) has an
    # effect at least as large.
    best_before = np.maximum.accumulate(e)
    status[1:][e[1:] <= best_before[:-1]] = "D"
    while True:
        nd = np.flatnonzero(status == "ND")
        if len(nd) <= 2:
            break
        _, _, icer = _increments(c[nd], e[nd])
        # All at once in one pass, then recompute: as dampack does.
        extended = nd[1:-1][icer[1:-1] > icer[2:]]
        if len(extended) == 0:
            break
        status[extended] = "ED"
    result = np.empty(len(c), dtype=object)
    result[order] = status
    return result


def calculate_icers(cost, effect, strategies: Sequence[str]) -> Table:
    """The ICER table from each strategy's (mean) cost and effect, in
    dampack's row order and columns (`ICER_COLUMNS`)."""
    cost = np.asarray(cost, dtype=float).ravel()
    effect = np.asarray(effect, dtype=float).ravel()
    strategies = [str(s) for s in strategies]
    if not (len(cost) == len(effect) == len(strategies)) or len(cost) == 0:
        raise AnalysisError(
            f"need one cost and one effect per strategy: {len(strategies)} strategies, "
            f"{len(cost)} costs, {len(effect)} effects"
        )
    if len(set(strategies)) != len(strategies):
        raise AnalysisError("strategy names must be unique")
    if not (np.isfinite(cost).all() and np.isfinite(effect).all()):
        raise AnalysisError("costs and effects must be finite numbers")
    status = icer_statuses(cost, effect, strategies)
    rank = np.array([_STATUS_RANK[s] for s in status])
    order = np.lexsort((np.asarray(strategies, dtype=object), -effect, cost, rank))
    inc_cost = np.full(len(cost), np.nan)
    inc_effect = np.full(len(cost), np.nan)
    icer = np.full(len(cost), np.nan)
    nd = order[status[order] == "ND"]
    inc_cost[nd], inc_effect[nd], icer[nd] = _increments(cost[nd], effect[nd])
    return Table(
        ICER_COLUMNS,
        (
            np.asarray(strategies, dtype=object)[order], cost[order], effect[order],
            inc_cost[order], inc_effect[order], icer[order], status[order],
        ),
    )


def calculate_icers_psa(psa: PSA, uncertainty: bool = False) -> Table:
    """ICERs on the PSA's mean costs and effects; with `uncertainty`, each
    strategy's 2.5 % and 97.5 % quantiles of cost and effect (R's type 7,
    NumPy's default)."""
    table = calculate_icers(psa.costs.mean(axis=0), psa.effects.mean(axis=0), psa.strategies)
    if not uncertainty:
        return table
    index = {s: i for i, s in enumerate(psa.strategies)}
    rows = [index[s] for s in table["Strategy"]]
    cost_q = np.quantile(psa.costs, [0.025, 0.975], axis=0)[:, rows]
    effect_q = np.quantile(psa.effects, [0.025, 0.975], axis=0)[:, rows]
    extra = {
        "Lower_95_Cost": cost_q[0], "Upper_95_Cost": cost_q[1],
        "Lower_95_Effect": effect_q[0], "Upper_95_Effect": effect_q[1],
    }
    return Table(
        UNCERTAINTY_COLUMNS,
        tuple(extra[name] if name in extra else table[name] for name in UNCERTAINTY_COLUMNS),
    )
