"""The one way to run the model: table → updates → draw → evaluate → results.

Everything here is NumPy; model/frames.py is the DataFrame edge over it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .markov import base_case_arrays, evaluate_parameters
from .parameters import ParameterTable, read_table
from .results import PSAResults
from .sampling import DEFAULT_SAMPLES, Samples, draw


def evaluate_psa(samples: Samples) -> PSAResults:
    """Discounted costs and QALYs of the three strategies for each sample.

    Columns of `samples` not named in the base case are ignored; base-case
    values fill in for the ones it lacks.
    """
    n = len(samples)
    values = evaluate_parameters(base_case_arrays(samples.columns, n), n)
    return PSAResults(values, samples)


def run_psa(
    table: ParameterTable | str | os.PathLike | None = None,
    updates: Any = None,
    seed: int | np.random.Generator | None = None,
    n_samples: int = DEFAULT_SAMPLES,
) -> PSAResults:
    """Sample the PSA and evaluate it: the original's ``run_model``.

    `table` is a ParameterTable or the path of one (default: the original's
    public table shipped with the package).  `updates` is a list of
    {parameter, distribution, v1, v2} records applied as the original's
    ``overwrite_parameter_value`` does (`ParameterTable.update`); None or []
    means none.  `seed` as for `draw`; the results keep the one used.
    """
    if not isinstance(table, ParameterTable):
        table = read_table(table)
    return evaluate_psa(draw(table.update(updates), n_samples, seed))
