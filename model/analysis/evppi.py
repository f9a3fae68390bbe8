"""Expected value of partial perfect information by regression (dampack's
``calc_evppi``).

At each w, d* is the strategy with the highest mean NMB; for every
strategy k the target is y_k = NMB_k − NMB_d*, regressed on the chosen
parameters' samples; EVPPI = mean_i max_k ŷ_k[i] (ŷ_d* ≡ 0).  Every target
is a combination of the strategies' cost and effect columns (y is linear in
w), so the regressions share one design and work on cross-products; they
are fitted a few WTP values at a time (`psa.wtp_chunks`), so memory does
not grow with the grid.

A regression estimate can exceed the EVPI (fitted values extrapolate,
noise adds upward bias), although the quantity it estimates cannot: with
`cap` (the default) the result is min(EVPPI, EVPI) at each w.  dampack
does not cap; on the reference cases the cap never binds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .decision import evpi_values, optimal_strategy
from .psa import PSA, AnalysisError, wtp_chunks
from .smoothers import PolynomialSmoother, SplineSmoother
from .table import Table

METHODS = ("poly", "gam")


def _combinations(wtp: np.ndarray, best: np.ndarray, k: int):
    """(2k, W·(k−1)) coefficients on [E_1..E_k, C_1..C_k] of each target
    y_{w,j} = NMB_j − NMB_d*(w), for j ≠ d*(w); and which (w, j) each is."""
    targets = [(w, j) for w in range(len(wtp)) for j in range(k) if j != best[w]]
    coefficients = np.zeros((2 * k, len(targets)))
    for column, (w, j) in enumerate(targets):
        d = best[w]
        coefficients[j, column] += wtp[w]
        coefficients[d, column] -= wtp[w]
        coefficients[k + j, column] -= 1.0
        coefficients[k + d, column] += 1.0
    return coefficients, targets


def evppi_values(
    psa: PSA,
    wtp,
    parameters: Sequence[str],
    method: str = "poly",
    order: int = 2,
    cap: bool = True,
) -> np.ndarray:
    """(W,) EVPPI of the group of `parameters` (names in the PSA's
    parameter samples) at each w.  `method` "poly" (order `order`) or
    "gam" (penalised regression spline; see `smoothers`)."""
    wtp = psa.wtp(wtp)
    if method not in METHODS:
        raise AnalysisError(f"EVPPI method must be one of {', '.join(METHODS)}, got {method!r}")
    samples = psa.parameter_columns(list(parameters))
    smoother = PolynomialSmoother(samples, order) if method == "poly" else SplineSmoother(samples)
    k = len(psa.strategies)
    fit = smoother.fitter(np.hstack([psa.effects, psa.costs]))
    result = np.concatenate([_evppi_rows(psa, wtp[rows], fit)
                             for rows in wtp_chunks(len(wtp), psa.n_samples)])
    return np.minimum(result, evpi_values(psa, wtp)) if cap else result


def _evppi_rows(psa: PSA, wtp: np.ndarray, fit) -> np.ndarray:
    """The uncapped EVPPI at a few WTP values (`wtp_chunks`)."""
    k = len(psa.strategies)
    coefficients, targets = _combinations(wtp, optimal_strategy(psa, wtp), k)
    # (k, W, n): the maximum over strategies as k − 1 element-wise maxima of
    # contiguous rows (ŷ_d* ≡ 0), not a reduction over a short last axis.
    fitted = np.zeros((k, len(wtp), psa.n_samples))
    if targets:
        w_index, j_index = np.array(targets).T
        fitted[j_index, w_index, :] = fit(coefficients).T
    return np.maximum(np.maximum.reduce(fitted, axis=0).mean(axis=1), 0.0)


def evppi(psa: PSA, wtp, parameters: Sequence[str], **options) -> Table:
    """dampack's ``calc_evppi`` for one group: columns WTP, EVPPI.
    `options`: method, order, cap, as for `evppi_values`."""
    wtp = psa.wtp(wtp)
    return Table(("WTP", "EVPPI"), (wtp, evppi_values(psa, wtp, parameters, **options)))
