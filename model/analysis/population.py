"""Population value of information: the per-person EVPI/EVPPI times the
number of people the decision affects over its horizon.

    effective population = N × Σ_{t=0}^{T−1} (1 + r)^−t

N people a year for T years, each later year's cohort discounted at r
(the first year undiscounted).  T = 1, r = 0 gives N: dampack's
``calc_evpi(..., pop = N)``, a plain multiplier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .psa import AnalysisError

# Bounds that keep the figures meaningful (and finite): a century is the
# longest decision horizon anyone models; a discount rate above 100 % a year
# is a typing error (3.5 meant as 0.035).
MAX_HORIZON = 100
MAX_DISCOUNT = 1.0
MAX_POPULATION = 1e12


def _number(value, what: str) -> float:
    if isinstance(value, bool):
        raise AnalysisError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnalysisError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise AnalysisError(f"{what} must be a finite number, got {value!r}")
    return number


@dataclass(frozen=True)
class Population:
    """`population` people a year (> 0), `horizon` whole years (≥ 1),
    `discount` a year (0 ≤ r ≤ 1); checked on creation."""

    population: float
    horizon: int = 1
    discount: float = 0.0

    def __post_init__(self):
        population = _number(self.population, "population")
        if not 0 < population <= MAX_POPULATION:
            raise AnalysisError(
                f"population must be more than 0 and at most {MAX_POPULATION:g}, got {population:g}"
            )
        horizon = _number(self.horizon, "horizon")
        if not (horizon.is_integer() and 1 <= horizon <= MAX_HORIZON):
            raise AnalysisError(
                f"horizon must be a whole number of years from 1 to {MAX_HORIZON}, "
                f"got {self.horizon!r}"
            )
        discount = _number(self.discount, "discount")
        if not 0 <= discount <= MAX_DISCOUNT:
            raise AnalysisError(
                f"discount must be a yearly rate from 0 to {MAX_DISCOUNT:g} (0.035 for 3.5 %), "
                f"got {self.discount!r}"
            )
        object.__setattr__(self, "population", population)
        object.__setattr__(self, "horizon", int(horizon))
        object.__setattr__(self, "discount", discount)

    @property
    def effective(self) -> float:
        """N × Σ_{t=0}^{T−1} (1 + r)^−t."""
        return self.population * math.fsum((1.0 + self.discount) ** -t for t in range(self.horizon))

    def to_record(self) -> dict:
        return {
            "population": self.population,
            "horizon": self.horizon,
            "discount": self.discount,
            "effective_population": self.effective,
        }
