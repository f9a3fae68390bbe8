"""The pandas edge: the model's public DataFrame API over the NumPy path.

Only this module (and the `to_frame`/`from_frame` conversions) deals in
DataFrames; pandas is imported when one is made or read, so the model runs
without it (the service's image has none).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SamplesError
from .markov import BASE_CASE, FIXED_SETTINGS, check_samples
from .parameters import ParameterTable
from .psa import evaluate_psa, run_psa
from .sampling import DEFAULT_SAMPLES, Samples

if TYPE_CHECKING:
    import pandas as pd


def run(
    inputs: str | os.PathLike | pd.DataFrame | ParameterTable | None = None,
    updates: Any = None,
    seed: int | np.random.Generator | None = None,
    n_samples: int = DEFAULT_SAMPLES,
) -> pd.DataFrame:
    """`run_psa` with DataFrames: `inputs` may be a parameter table as a
    DataFrame and `updates` a DataFrame of records; the results (one row per
    sample, columns RESULT_COLUMNS) come as a DataFrame."""
    if _is_frame(inputs):
        inputs = ParameterTable.from_frame(inputs)
    if _is_frame(updates):
        updates = updates.to_dict(orient="records")
    return run_psa(inputs, updates, seed=seed, n_samples=n_samples).to_frame()


def evaluate(samples: pd.DataFrame) -> pd.DataFrame:
    """`evaluate_psa` with DataFrames: `samples` has one column per parameter
    (extra columns are ignored, base-case values fill in for missing ones);
    the result has one row per sample and the columns RESULT_COLUMNS."""
    if not _is_frame(samples):
        raise SamplesError(f"samples must be a pandas DataFrame, got {type(samples).__name__}")
    converted, given = _samples_from_frame(samples)
    try:
        return evaluate_psa(converted).to_frame()
    except SamplesError as exc:
        if exc.parameter not in given:
            raise
        # Name the cell as the caller had it ('abc'), not as converted (nan).
        cell = given[exc.parameter][exc.sample - 1]
        cell = cell.item() if isinstance(cell, np.generic) else cell
        raise SamplesError.not_finite(exc.sample, exc.parameter, cell) from None


def _samples_from_frame(samples: pd.DataFrame) -> tuple[Samples, dict[str, Any]]:
    """The model's columns of a samples DataFrame as arrays of floats (text
    that is not a number becomes NaN), and the cells of the columns that
    were not numbers, for error messages."""
    import pandas as pd  # imported already: `samples` is a DataFrame

    check_samples(len(samples), [c for c in FIXED_SETTINGS if c in samples.columns])
    columns, given = {}, {}
    for name in BASE_CASE:
        if name not in samples.columns:
            continue
        column = samples[name]
        if isinstance(column, pd.DataFrame):
            raise SamplesError(f"column {name!r} appears more than once in the samples")
        if column.dtype.kind in "fi":
            columns[name] = column.to_numpy(dtype=float)
        else:
            columns[name] = pd.to_numeric(column, errors="coerce").to_numpy(
                dtype=float, na_value=np.nan
            )
            given[name] = column.iloc
    return Samples(columns, len(samples)), given


def _is_frame(value: Any) -> bool:
    """A pandas DataFrame, recognised without importing pandas (if pandas
    is not imported, nothing is a DataFrame)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)
