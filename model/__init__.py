"""The DARTH Sick-Sicker cohort model and its probabilistic sensitivity
analysis, in NumPy, reproducing the R original (BresMed/plumberHE).

    >>> import model
    >>> results = model.run(seed=1)            # 1000 PSA samples
    >>> results.columns.tolist()[:3]
    ['C_No_Treatment', 'C_Treatment_A', 'C_Treatment_B']

`evaluate` runs the model on samples already drawn; `run` loads the
parameter table, applies updates, samples and evaluates.  Every bad input
raises a subclass of `ModelError` (see `model.errors`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

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
from .markov import BASE_CASE, RESULT_COLUMNS, STRATEGIES, evaluate
from .parameters import (
    DISTRIBUTIONS,
    apply_updates,
    default_table_path,
    load_parameters,
    validate_table,
)
from .results import format_csv
from .sampling import DEFAULT_SAMPLES, sample

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
    "ParameterTableError",
    "SamplesError",
    "UnknownDistributionError",
    "UnknownParameterError",
    "UpdateFormatError",
    "apply_updates",
    "default_table_path",
    "evaluate",
    "format_csv",
    "load_parameters",
    "run",
    "sample",
    "validate_table",
]


def run(
    inputs: str | os.PathLike | pd.DataFrame | None = None,
    updates: Any = None,
    seed: int | np.random.Generator | None = None,
    n_samples: int = DEFAULT_SAMPLES,
) -> pd.DataFrame:
    """Sample the PSA and evaluate it: the original's ``run_model``.

    `inputs` is a parameter table (path, or a DataFrame from
    `load_parameters`), default the original's public table shipped with the
    package.  `updates` is a list of {parameter, distribution, v1, v2}
    records (or a DataFrame of them) applied as the original's
    ``overwrite_parameter_value`` does; None or [] means no updates.
    """
    table = inputs if isinstance(inputs, pd.DataFrame) else load_parameters(inputs)
    table = apply_updates(table, updates)
    return evaluate(sample(table, n_samples=n_samples, seed=seed))
