"""Probabilistic sensitivity analysis: draw samples from the parameter table.

One column per table row, drawn in row order, as the original does; each
row's distribution is sampled as model/distributions.py says.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .distributions import DISTRIBUTIONS
from .parameters import ParameterTable

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_SAMPLES = 1000
# A fresh seed is a whole number below 2**63: small enough to be sent back
# (to the service, in JSON) to repeat the run.
SEED_BITS = 63


@dataclass(frozen=True, eq=False)
class Samples:
    """PSA samples: `columns` maps each parameter to its array of
    `n_samples` values.  `seed` is the seed they were drawn with (the one
    chosen when none was given), None when drawn from a caller's Generator
    or not drawn here."""

    columns: dict[str, np.ndarray]
    n_samples: int
    seed: int | None = None

    def __len__(self) -> int:
        return self.n_samples

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.columns, index=range(self.n_samples))


def draw(
    table: ParameterTable,
    n_samples: int = DEFAULT_SAMPLES,
    seed: int | np.random.Generator | None = None,
) -> Samples:
    """Draw `n_samples` PSA samples from `table`, in its row order.

    `seed` is an int (reproducible), a Generator (caller-managed stream) or
    None (a fresh seed, kept in the result's `seed`).
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be an int, got {n_samples!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if isinstance(seed, np.random.Generator):
        rng, used = seed, None
    else:
        used = secrets.randbits(SEED_BITS) if seed is None else seed
        rng = np.random.default_rng(used)
    n = int(n_samples)
    columns = {
        parameter: DISTRIBUTIONS[distribution].sample(rng, v1, v2, n)
        for parameter, distribution, v1, v2, _ in table.rows()
    }
    return Samples(columns, n, used)
