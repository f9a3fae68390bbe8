"""The DARTH Sick-Sicker cohort model and its probabilistic sensitivity
analysis, in NumPy, reproducing the R original (BresMed/plumberHE).

    >>> import model
    >>> results = model.run(seed=1)            # 1000 PSA samples
    >>> results.columns.tolist()[:3]
    ['C_No_Treatment', 'C_Treatment_A', 'C_Treatment_B']

`evaluate` runs the model on samples already drawn; `run` loads the
parameter table, applies updates, samples and evaluates.  Every bad input
raises a subclass of `ModelError` (see `model.errors`).

Both take and return pandas DataFrames.  The same computation without
pandas (what the service runs, so its image needs no pandas) is
`read_table` → `run_psa` → `PSAResults` (NumPy arrays), with `draw` and
`evaluate_arrays` for the two halves; pandas is imported only when a
DataFrame is made or read.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import (
    DistributionError,
    DistributionParameterError,
    InvalidTransitionMatrixError,
    ModelError,
    NotEditableError,
    ParameterTableError,
    SamplesError,
    UnknownDistributionError,
    UnknownParameterError,
    UpdateFormatError,
)
from . import parameters
from .markov import BASE_CASE, RESULT_COLUMNS, STRATEGIES, evaluate, evaluate_arrays
from .parameters import (
    DISTRIBUTIONS,
    ParameterTable,
    apply_updates,
    default_table_path,
    load_parameters,
    read_table,
    update_table,
    validate_table,
)
from .results import PSAResults, format_csv
from .sampling import DEFAULT_SAMPLES, draw, sample

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BASE_CASE",
    "DEFAULT_SAMPLES",
    "DISTRIBUTIONS",
    "RESULT_COLUMNS",
    "STRATEGIES",
    "DistributionError",
    "DistributionParameterError",
    "InvalidTransitionMatrixError",
    "ModelError",
    "NotEditableError",
    "PSAResults",
    "ParameterTable",
    "ParameterTableError",
    "SamplesError",
    "UnknownDistributionError",
    "UnknownParameterError",
    "UpdateFormatError",
    "apply_updates",
    "default_table_path",
    "draw",
    "evaluate",
    "evaluate_arrays",
    "format_csv",
    "load_parameters",
    "read_table",
    "run",
    "run_psa",
    "sample",
    "update_table",
    "validate_table",
]


def run(
    inputs: str | os.PathLike | pd.DataFrame | ParameterTable | None = None,
    updates: Any = None,
    seed: int | np.random.Generator | None = None,
    n_samples: int = DEFAULT_SAMPLES,
) -> pd.DataFrame:
    """Sample the PSA and evaluate it: the original's ``run_model``.

    `inputs` is a parameter table (path, a DataFrame from `load_parameters`
    or a ParameterTable), default the original's public table shipped with
    the package.  `updates` is a list of {parameter, distribution, v1, v2}
    records (or a DataFrame of them) applied as the original's
    ``overwrite_parameter_value`` does; None or [] means no updates.
    """
    return run_psa(inputs, updates, seed=seed, n_samples=n_samples).to_frame()


def run_psa(
    inputs: str | os.PathLike | pd.DataFrame | ParameterTable | None = None,
    updates: Any = None,
    seed: int | np.random.Generator | None = None,
    n_samples: int = DEFAULT_SAMPLES,
) -> PSAResults:
    """`run` without pandas: the same results as a PSAResults (NumPy)."""
    if isinstance(inputs, ParameterTable):
        table = inputs
    elif parameters.is_frame(inputs):
        table = ParameterTable.from_frame(inputs)
    else:
        table = read_table(inputs)
    table = update_table(table, updates)
    return PSAResults(evaluate_arrays(draw(table, n_samples, seed), n_samples))
