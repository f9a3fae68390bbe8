"""Which strategy is best, and how sure: summary, CEAC with its frontier,
expected loss and EVPI, each for many willingness-to-pay values at once.

Net monetary benefit NMB[w, i, k] = E[i, k]·w − C[i, k].  The best
strategy of a sample is the exact argmax (first strategy on an exact tie;
R's ``max.col`` breaks near-ties at random, hence the tolerances of the
reference).  Each strategy's NMB is a W × n array for all WTPs at once; the
only Python loop is over the (few) strategies, keeping a running maximum —
an order of magnitude faster than a W × n × k array reduced over its short
last axis.  The analyses take the grid a few rows at a time
(`psa.wtp_chunks`): their memory does not grow with W.
"""

from __future__ import annotations

import numpy as np

from .psa import PSA, wtp_chunks
from .table import Table


def best_net_benefit(psa: PSA, wtp, with_index: bool = False):
    """Each sample's highest NMB as (W, n), and with `with_index` also
    which strategy has it (first on an exact tie)."""
    wtp = psa.wtp(wtp)
    effects, costs = psa.effects.T, psa.costs.T  # (k, n): contiguous rows
    best = np.multiply.outer(wtp, effects[0])
    best -= costs[0]
    index = np.zeros(best.shape, dtype=np.intp) if with_index else None
    nmb = np.empty_like(best)
    for k in range(1, len(effects)):
        np.multiply.outer(wtp, effects[k], out=nmb)
        nmb -= costs[k]
        if with_index:
            index[nmb > best] = k
        np.maximum(best, nmb, out=best)
    return (best, index) if with_index else best


def mean_net_benefit(psa: PSA, wtp) -> np.ndarray:
    """Mean NMB per strategy as (W, k): linear in w, so from the means."""
    wtp = psa.wtp(wtp)
    return wtp[:, None] * psa.effects.mean(axis=0) - psa.costs.mean(axis=0)


def optimal_strategy(psa: PSA, wtp) -> np.ndarray:
    """Index of the strategy with the highest mean NMB at each w (W,)."""
    return mean_net_benefit(psa, wtp).argmax(axis=1)


def acceptability(psa: PSA, wtp) -> np.ndarray:
    """CEAC: the (W, k) share of samples in which each strategy has the
    highest NMB; each row sums to 1."""
    wtp = psa.wtp(wtp)
    k = len(psa.strategies)
    counts = np.empty((len(wtp), k), dtype=np.intp)
    for rows in wtp_chunks(len(wtp), psa.n_samples):
        _, best = best_net_benefit(psa, wtp[rows], with_index=True)  # (rows, n)
        offsets = (np.arange(len(best)) * k)[:, None]
        counts[rows] = np.bincount((best + offsets).ravel(),
                                   minlength=len(best) * k).reshape(len(best), k)
    return counts / psa.n_samples


def expected_loss_values(psa: PSA, wtp) -> np.ndarray:
    """(W, k) mean over samples of max_j NMB − NMB_k (the mean of NMB_k is
    linear in w: taken from the means)."""
    wtp = psa.wtp(wtp)
    best = np.concatenate([best_net_benefit(psa, wtp[rows]).mean(axis=1)
                           for rows in wtp_chunks(len(wtp), psa.n_samples)])
    return best[:, None] - mean_net_benefit(psa, wtp)


def evpi_values(psa: PSA, wtp) -> np.ndarray:
    """(W,) expected value of perfect information: the expected loss of the
    strategy with the highest mean NMB, mean_i (max_k NMB[i, k] − NMB[i, d*]),
    as dampack's ``calc_evpi`` takes it (its smallest expected loss).

    The mean of the per-sample losses, not the difference of two means:
    where every sample's best is d* each loss is exactly 0, so the EVPI is
    exactly 0 (a difference of means leaves ±1e-10 there), and elsewhere it
    agrees with dampack's exact-argmax figure to ~1e-15 relative, not 1e-10
    (tests/unit/test_analysis_sensitivity.py, against ``EVPI_exact_max``)."""
    wtp = psa.wtp(wtp)
    return np.concatenate([_evpi_rows(psa, wtp[rows])
                           for rows in wtp_chunks(len(wtp), psa.n_samples)])


def _evpi_rows(psa: PSA, wtp: np.ndarray) -> np.ndarray:
    best = best_net_benefit(psa, wtp)
    chosen = optimal_strategy(psa, wtp)
    for k in np.unique(chosen):
        rows = chosen == k
        # The same operations as best_net_benefit's, so where strategy k is
        # a sample's best the two values are the same bits.
        nmb = np.multiply.outer(wtp[rows], psa.effects.T[k])
        nmb -= psa.costs.T[k]
        best[rows] -= nmb
    return np.maximum(best.mean(axis=1), 0.0)


def summary(psa: PSA) -> Table:
    """dampack's ``summary(psa, calc_sds = TRUE)``."""
    sd = (
        (psa.costs.std(axis=0, ddof=1), psa.effects.std(axis=0, ddof=1))
        if psa.n_samples > 1
        else (np.full(len(psa.strategies), np.nan),) * 2
    )
    return Table(
        ("Strategy", "meanCost", "meanEffect", "sdCost", "sdEffect"),
        (np.asarray(psa.strategies, dtype=object), psa.costs.mean(axis=0),
         psa.effects.mean(axis=0), *sd),
    )


def _long(psa: PSA, wtp: np.ndarray, name: str, values: np.ndarray, frontier: np.ndarray) -> Table:
    """WTP × strategy rows (WTP first, then the PSA's strategy order)."""
    k = len(psa.strategies)
    on_frontier = np.zeros((len(wtp), k), dtype=bool)
    on_frontier[np.arange(len(wtp)), frontier] = True
    return Table(
        ("WTP", "Strategy", name, "On_Frontier"),
        (np.repeat(wtp, k), np.tile(np.asarray(psa.strategies, dtype=object), len(wtp)),
         values.ravel(), on_frontier.ravel()),
    )


def ceac(psa: PSA, wtp) -> Table:
    """dampack's ``ceac(wtp, psa)``: On_Frontier marks the strategy with the
    highest mean NMB (the cost-effectiveness acceptability frontier)."""
    wtp = psa.wtp(wtp)
    return _long(psa, wtp, "Proportion", acceptability(psa, wtp), optimal_strategy(psa, wtp))


def expected_loss(psa: PSA, wtp) -> Table:
    """dampack's ``calc_exp_loss(psa, wtp)``: On_Frontier marks the lowest
    expected loss."""
    wtp = psa.wtp(wtp)
    loss = expected_loss_values(psa, wtp)
    return _long(psa, wtp, "Expected_Loss", loss, loss.argmin(axis=1))


def evpi(psa: PSA, wtp) -> Table:
    """dampack's ``calc_evpi(psa, wtp)``."""
    wtp = psa.wtp(wtp)
    return Table(("WTP", "EVPI"), (wtp, evpi_values(psa, wtp)))
