"""Decision analyses on a PSA, as dampack computes them, in NumPy.

    from model.analysis import PSA, calculate_icers_psa, ceac, evpi, evppi

    psa = PSA(costs, effects, strategies, parameters, parameter_names)  # (n, k), (n, p)
    calculate_icers_psa(psa, uncertainty=True).to_csv()
    evppi(psa, [80000, 100000], ["p_HS1", "p_S1H"], method="gam").to_records()
    ow = one_way(psa, "nmb", 100000)              # dampack's owsa (sensitivity.py)
    ow.table(), tornado(ow), optimal_strategies(ow), twsa(psa, ["p_HS1", "p_S1H"], "nmb", 100000)
    Population(10000, horizon=10, discount=0.035).effective   # population VOI

Each analysis returns a `Table` with dampack's column names (``to_csv``,
``to_records``); the ``*_values`` functions return the bare arrays.
Definitions and the reference they are tested against:
shared/reference/analysis/README.md.  Bad input raises `AnalysisError`
(a `model.ModelError`).
"""

from .decision import (
    acceptability,
    best_net_benefit,
    ceac,
    evpi,
    evpi_values,
    expected_loss,
    expected_loss_values,
    mean_net_benefit,
    optimal_strategy,
    summary,
)
from .evppi import METHODS, evppi, evppi_values
from .icers import calculate_icers, calculate_icers_psa, icer_statuses
from .population import Population
from .psa import MAX_GRID_POINTS, PSA, AnalysisError, as_wtp, parse_wtp
from .report import analyse
from .sensitivity import OUTCOMES, one_way, optimal_strategies, owsa, tornado, twsa
from .table import Table

__all__ = [
    "METHODS",
    "MAX_GRID_POINTS",
    "OUTCOMES",
    "PSA",
    "Population",
    "AnalysisError",
    "Table",
    "acceptability",
    "analyse",
    "as_wtp",
    "best_net_benefit",
    "calculate_icers",
    "calculate_icers_psa",
    "ceac",
    "evpi",
    "evpi_values",
    "evppi",
    "evppi_values",
    "expected_loss",
    "expected_loss_values",
    "icer_statuses",
    "mean_net_benefit",
    "one_way",
    "optimal_strategies",
    "optimal_strategy",
    "owsa",
    "parse_wtp",
    "summary",
    "tornado",
    "twsa",
]
