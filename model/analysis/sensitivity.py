"""One- and two-way sensitivity analysis from the PSA, as dampack's
``owsa``, ``owsa_tornado``, ``owsa_opt_strat`` and ``twsa`` compute it:
a regression metamodel fitted on the PSA's samples, nothing re-run.

Definitions (shared/reference/analysis/SENSITIVITY.md):
- outcome per sample and strategy: NMB = E·w − C ("nmb"), E ("eff") or
  C ("cost");
- one-way: per parameter and strategy, least squares of the outcome on an
  intercept and x, x², …, x^order of that parameter only; predictions on
  `points` values evenly spaced between the parameter's 2.5 % and 97.5 %
  quantiles (R's type-7 quantile, as R writes it);
- two-way: per strategy, least squares on the tensor product
  {1, a, …, a^order} ⊗ {1, b, …, b^order}; both parameters' grids as above,
  rows with the first parameter varying fastest (R's ``expand.grid``).

The regressors are standardised (z = (x − mean)/sd) before the powers are
taken: the same column space as R's raw powers, so the same fitted
polynomial, but a condition number near 1 rather than 1e15 (u_trtA × c_trtA:
raw columns lost 2.6 % in lstsq).  Fitted values of least squares are unique
even when a design is rank-deficient, so lstsq's minimum-norm answer is
lm's prediction there too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .psa import PSA, AnalysisError
from .table import Table

OUTCOMES = ("nmb", "eff", "cost")
# dampack's `nsamp` for the references (its own defaults are 100 one-way,
# 40 two-way); the grid's ends do not depend on it.
DEFAULT_POINTS = 11
MAX_POINTS = 201
MAX_ORDER = 4
QUANTILES = (0.025, 0.975)


def quantile_type7(x: np.ndarray, p: float) -> float:
    """R's ``quantile(x, p)`` (type 7) of `x` sorted ascending, computed as
    R's quantile.default does, so the grids are the same bits: index =
    1 + (n − 1)·p, lo = ⌊index⌋, q = (1 − h)·x[lo] + h·x[lo + 1] with
    h = index − lo (1-based), and x[lo] itself where x[lo + 1] equals it."""
    index = 1 + (len(x) - 1) * p
    lo = int(np.floor(index))
    hi = int(np.ceil(index))
    q = x[lo - 1]
    if index > lo and x[hi - 1] != q:
        h = index - lo
        q = (1 - h) * q + h * x[hi - 1]
    return float(q)


def parameter_grid(values: np.ndarray, points: int = DEFAULT_POINTS) -> np.ndarray:
    """`points` values from the 2.5 % to the 97.5 % quantile (R's
    ``seq(lo, hi, length.out = points)``: numpy's linspace, bit for bit)."""
    ordered = np.sort(np.asarray(values, dtype=float))
    low, high = (quantile_type7(ordered, p) for p in QUANTILES)
    return np.linspace(low, high, points)


def _check_points(points) -> int:
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or not (
        2 <= points <= MAX_POINTS
    ):
        raise AnalysisError(f"points must be a whole number from 2 to {MAX_POINTS}, got {points!r}")
    return int(points)


def _check_order(order) -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not (
        1 <= order <= MAX_ORDER
    ):
        raise AnalysisError(
            f"polynomial order must be a whole number from 1 to {MAX_ORDER}, got {order!r}"
        )
    return int(order)


def outcome_values(psa: PSA, outcome: str, wtp=None) -> np.ndarray:
    """(n, k) per-sample outcome of each strategy, as dampack's
    ``calculate_outcome``: NMB = E·w − C, or E, or C."""
    if outcome not in OUTCOMES:
        raise AnalysisError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    if outcome == "nmb":
        if wtp is None:
            raise AnalysisError("the nmb outcome needs a willingness to pay (one value)")
        w = psa.wtp(wtp)
        if w.size != 1:
            raise AnalysisError(
                f"sensitivity analyses take one willingness to pay, got {w.size} values"
            )
        return psa.effects * w[0] - psa.costs
    return psa.effects if outcome == "eff" else psa.costs


def varying_parameters(psa: PSA) -> list[str]:
    """The parameters whose samples take more than one value, in the
    samples' column order (dampack's ``params`` for the references)."""
    if psa.parameters is None:
        raise AnalysisError("sensitivity analysis needs the parameter samples of the PSA")
    varies = (psa.parameters != psa.parameters[:1]).any(axis=0)
    return [name for name, v in zip(psa.parameter_names, varies) if v]


def _chosen(psa: PSA, names: Sequence[str] | None) -> list[str]:
    varying = varying_parameters(psa)
    if names is None:
        if not varying:
            raise AnalysisError("no parameter varies in the samples: nothing to analyse")
        return varying
    names = list(names)
    psa.parameter_columns(names)  # unknown names, repeats: its message
    constant = [name for name in names if name not in varying]
    if constant:
        raise AnalysisError(
            f"parameter(s) {', '.join(map(repr, constant))} take one value in every sample: "
            "no sensitivity to show"
        )
    return names


def _standardise(name: str, x: np.ndarray, *grids: np.ndarray):
    """(x − mean)/sd and the grids on the same scale, after dividing by the
    largest |x| (samples of 1e-320 have a variance that underflows to 0)."""
    scale = np.abs(x).max()
    x = x / scale
    mean, sd = x.mean(), x.std()
    if not (np.isfinite(sd) and sd > 0):
        raise AnalysisError(f"parameter {name!r}: its samples' spread is too small to regress on")
    return ((x - mean) / sd, *((g / scale - mean) / sd for g in grids))


def _powers(z: np.ndarray, order: int) -> np.ndarray:
    """(…, order + 1) columns 1, z, z², … by repeated products (a float
    power is ten times slower)."""
    out = np.empty((*z.shape, order + 1))
    out[..., 0] = 1.0
    for power in range(1, order + 1):
        np.multiply(out[..., power - 1], z, out=out[..., power])
    return out


def _fit_predict(design: np.ndarray, y: np.ndarray, at: np.ndarray, what: str) -> np.ndarray:
    try:
        coefficients = np.linalg.lstsq(design, y, rcond=None)[0]
    except np.linalg.LinAlgError:
        raise AnalysisError(f"the metamodel of {what} cannot be fitted on these samples") from None
    predictions = at @ coefficients
    if not np.isfinite(predictions).all():
        raise AnalysisError(f"the metamodel of {what} overflows on these samples")
    return predictions


@dataclass(frozen=True)
class OneWay:
    """The one-way metamodel's predictions: `grids[p]` the grid of
    `parameters[p]`, `values[p, k, j]` strategy k's predicted outcome there."""

    parameters: tuple[str, ...]
    strategies: tuple[str, ...]
    grids: np.ndarray  # (P, m)
    values: np.ndarray  # (P, k, m)
    outcome: str

    def table(self) -> Table:
        """dampack's ``owsa`` data: parameter, strategy, param_val,
        outcome_val; parameters in the samples' order, then strategies in
        the PSA's, then the grid ascending."""
        p, k, m = self.values.shape
        return Table(
            ("parameter", "strategy", "param_val", "outcome_val"),
            (np.repeat(np.asarray(self.parameters, dtype=object), k * m),
             np.tile(np.repeat(np.asarray(self.strategies, dtype=object), m), p),
             np.repeat(self.grids, k, axis=0).ravel(),
             self.values.ravel()),
        )


def one_way(
    psa: PSA,
    outcome: str = "nmb",
    wtp=None,
    parameters: Sequence[str] | None = None,
    points: int = DEFAULT_POINTS,
    order: int = 2,
) -> OneWay:
    """dampack's ``owsa(psa, params, outcome, wtp, nsamp = points,
    poly.order = order)``; `parameters` None: every parameter that varies."""
    return one_way_outcomes(psa, [outcome], wtp, parameters, points, order)[outcome]


def one_way_outcomes(
    psa: PSA,
    outcomes: Sequence[str],
    wtp=None,
    parameters: Sequence[str] | None = None,
    points: int = DEFAULT_POINTS,
    order: int = 2,
) -> dict[str, OneWay]:
    """`one_way` of several outcomes at once: one least-squares solve per
    parameter for all of them (the fits are the same; only the rounding of
    a batched solve may differ, by ~1e-15)."""
    points, order = _check_points(points), _check_order(order)
    outcomes = list(dict.fromkeys(outcomes))
    ys = [outcome_values(psa, outcome, wtp) for outcome in outcomes]
    y = np.hstack(ys)
    names = _chosen(psa, parameters)
    columns = psa.parameter_columns(names)
    grids = np.empty((len(names), points))
    values = np.empty((len(names), y.shape[1], points))
    for i in range(len(names)):
        x = columns[:, i]
        grids[i] = parameter_grid(x, points)
        z, at = _standardise(names[i], x, grids[i])
        values[i] = _fit_predict(_powers(z, order), y, _powers(at, order), repr(names[i])).T
    k = len(psa.strategies)
    return {outcome: OneWay(tuple(names), psa.strategies, grids,
                            values[:, j * k:(j + 1) * k], outcome)
            for j, outcome in enumerate(outcomes)}


def owsa(psa: PSA, outcome: str = "nmb", wtp=None, **options) -> Table:
    """dampack's ``owsa`` table; `options` as for `one_way`."""
    return one_way(psa, outcome, wtp, **options).table()


def tornado(result: OneWay) -> Table:
    """dampack's ``owsa_tornado(owsa, return = "data")`` plus the ``avg``
    its chart's bars start from.

    Per parameter and grid value the best strategy's prediction (the
    largest over strategies; which strategy is not kept); low and high are
    those at the grid's first and last value; avg is the median of all the
    kept values (every parameter's); abs_diff = |high − low|, rel_diff =
    abs_diff / low.  As dampack's ``filter(rel_diff >= 0)``, a parameter
    whose rel_diff is negative or undefined (a negative best outcome at its
    low end, or 0/0) is left out.  Rows by abs_diff, largest first; equal
    abs_diff in parameter-name order (dplyr's grouped rows come sorted by
    name and its ``arrange`` is stable)."""
    best = result.values.max(axis=1)  # (P, m)
    low, high = best[:, 0], best[:, -1]
    avg = float(np.median(best)) if best.size else np.nan
    abs_diff = np.abs(high - low)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_diff = abs_diff / low
    keep = rel_diff >= 0
    by_name = sorted(np.flatnonzero(keep), key=lambda i: result.parameters[i])
    order = sorted(by_name, key=lambda i: -abs_diff[i])  # stable
    order = np.asarray(order, dtype=np.intp)
    return Table(
        ("parameter", "param_val.low", "outcome_val.low", "param_val.high", "outcome_val.high",
         "abs_diff", "rel_diff", "avg"),
        (np.asarray(result.parameters, dtype=object)[order], result.grids[order, 0], low[order],
         result.grids[order, -1], high[order], abs_diff[order], rel_diff[order],
         np.full(len(order), avg)),
    )


def optimal_strategies(result: OneWay, maximize: bool | None = None) -> Table:
    """dampack's ``owsa_opt_strat(owsa, maximize, return = "data")``: one
    row per (parameter, strategy) that is optimal — equal to the best
    prediction exactly, so ties keep every tied strategy — at one grid
    value or more; pmin/pmax the smallest and largest such value (a span:
    a strategy optimal on two separate stretches still has one row).  Rows
    sorted by parameter, then strategy, as strings (dplyr's group order in
    the C locale).  `maximize` None: the lowest cost is optimal for the
    cost outcome, the highest otherwise."""
    if maximize is None:
        maximize = result.outcome != "cost"
    values = result.values
    target = values.max(axis=1) if maximize else values.min(axis=1)  # (P, m)
    optimal = values == target[:, None, :]  # (P, k, m)
    rows = []
    for p, name in enumerate(result.parameters):
        for k, strategy in enumerate(result.strategies):
            where = result.grids[p][optimal[p, k]]
            if where.size:
                rows.append((name, strategy, where.min(), where.max()))
    rows.sort(key=lambda row: (row[0], row[1]))
    columns = list(zip(*rows)) if rows else [(), (), (), ()]
    return Table(
        ("parameter", "strategy", "pmin", "pmax"),
        (np.asarray(columns[0], dtype=object), np.asarray(columns[1], dtype=object),
         np.asarray(columns[2], dtype=float), np.asarray(columns[3], dtype=float)),
    )


def two_way_values(
    psa: PSA,
    parameters: Sequence[str],
    outcome: str = "nmb",
    wtp=None,
    points: int = DEFAULT_POINTS,
    order: int = 2,
):
    """(grid1, grid2, values (k, m2, m1)): dampack's ``twsa`` metamodel's
    predictions, strategy k at (grid1[j1], grid2[j2])."""
    points, order = _check_points(points), _check_order(order)
    names = list(parameters)
    if len(names) != 2:
        raise AnalysisError(f"two-way sensitivity takes two parameters, got {len(names)}")
    names = _chosen(psa, names)
    y = outcome_values(psa, outcome, wtp)
    columns = psa.parameter_columns(names)
    grid1, grid2 = (parameter_grid(columns[:, i], points) for i in range(2))
    za, at1 = _standardise(names[0], columns[:, 0], grid1)
    zb, at2 = _standardise(names[1], columns[:, 1], grid2)
    # {1, a, a², …} ⊗ {1, b, b², …}, as lm's poly(a):poly(b) with the mains.
    design = (_powers(za, order)[:, :, None] * _powers(zb, order)[:, None, :]).reshape(len(za), -1)
    a, b = np.meshgrid(at1, at2)  # (m2, m1): the first parameter fastest
    at = (_powers(a.ravel(), order)[:, :, None] * _powers(b.ravel(), order)[:, None, :]).reshape(
        a.size, -1)
    values = _fit_predict(design, y, at, f"{names[0]!r} and {names[1]!r}").T.reshape(
        y.shape[1], points, points)
    return grid1, grid2, values


def twsa(psa: PSA, parameters: Sequence[str], outcome: str = "nmb", wtp=None, **options) -> Table:
    """dampack's ``twsa`` data: columns <param1>, <param2>, strategy,
    outcome_val; strategies in the PSA's order, the first parameter
    varying fastest."""
    names = list(parameters)
    grid1, grid2, values = two_way_values(psa, names, outcome, wtp, **options)
    k, m2, m1 = values.shape
    return Table(
        (names[0], names[1], "strategy", "outcome_val"),
        (np.tile(grid1, m2 * k), np.tile(np.repeat(grid2, m1), k),
         np.repeat(np.asarray(psa.strategies, dtype=object), m1 * m2), values.ravel()),
    )
