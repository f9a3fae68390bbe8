"""Probabilistic sensitivity analysis: draw samples from the parameter table.

One column per table row, drawn in row order, as the original does.  R's
random streams differ from NumPy's, so draws cannot match R number for
number; they match in distribution (the tests check moments per
distribution).  Parametrisations follow R's:

========================  ===========  ==========  ==========================
distribution              v1           v2          R call
========================  ===========  ==========  ==========================
``beta``                  shape1       shape2      ``rbeta(n, v1, v2)``
``gamma``                 shape        scale       ``rgamma(n, shape=v1, scale=v2)``
``normal``                mean         sd          ``rnorm(n, v1, v2)``
``rlnorm``                meanlog      sdlog       ``rlnorm(n, v1, v2)``
``random uniform``        min          max         ``runif(n, v1, v2)``
``fixed``                 value        (unused)    ``rep(v1, n)``
========================  ===========  ==========  ==========================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .parameters import ParameterTable, check_distribution

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_SAMPLES = 1000


def _draw(rng: np.random.Generator, distribution: str, v1: float, v2: float, n: int):
    if distribution == "beta":
        return rng.beta(v1, v2, n)
    if distribution == "gamma":
        return rng.gamma(shape=v1, scale=v2, size=n)  # scale, not rate
    if distribution == "normal":
        return rng.normal(v1, v2, n)
    if distribution == "rlnorm":
        return rng.lognormal(v1, v2, n)
    if distribution == "random uniform":
        return rng.uniform(v1, v2, n)
    if distribution == "fixed":
        return np.full(n, v1)
    raise AssertionError(distribution)  # check_distribution rejected it already


def draw(
    table: ParameterTable,
    n_samples: int = DEFAULT_SAMPLES,
    seed: int | np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Draw `n_samples` PSA samples: {parameter: array of n_samples}, in the
    table's row order.  `sample` without pandas."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be an int, got {n_samples!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    columns = {}
    for parameter, distribution, v1, v2, _ in table.rows():
        check_distribution(parameter, distribution, v1, v2)
        columns[parameter] = _draw(rng, distribution, v1, v2, int(n_samples))
    return columns


def sample(
    table: pd.DataFrame | ParameterTable,
    n_samples: int = DEFAULT_SAMPLES,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Draw `n_samples` PSA samples: a DataFrame with one column per parameter.

    `table` comes from `load_parameters` (or is a ParameterTable); `seed` is
    an int (reproducible), a Generator (caller-managed stream) or None
    (fresh entropy each call).
    """
    import pandas as pd

    if not isinstance(table, ParameterTable):
        table = ParameterTable.from_frame(table)
    return pd.DataFrame(draw(table, n_samples, seed))
