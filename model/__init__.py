"""The DARTH Sick-Sicker cohort model and its probabilistic sensitivity
analysis, in NumPy, reproducing the R original (BresMed/plumberHE).

    >>> import model
    >>> results = model.run_psa(seed=1)        # 1000 PSA samples
    >>> results.values.shape, results.columns[:2]
    ((1000, 6), ('C_No_Treatment', 'C_Treatment_A'))

One path, all NumPy: `read_table` (a `ParameterTable`) →
`ParameterTable.update` → `draw` (`Samples`) → `evaluate_psa` →
`PSAResults`; `run_psa` does all of it.  `run` and `evaluate` are the same
two calls taking and returning pandas DataFrames (`to_frame`/`from_frame`
convert each object); pandas is imported only when a DataFrame is made or
read.  Every bad input raises a subclass of `ModelError` (model.errors).
"""

from __future__ import annotations

from .errors import ModelError
from .frames import evaluate, run
from .markov import RESULT_COLUMNS, STRATEGIES
from .parameters import ParameterTable, read_table
from .psa import evaluate_psa, run_psa
from .results import PSAResults, format_csv
from .sampling import DEFAULT_SAMPLES, Samples, draw

__all__ = [
    # the NumPy path
    "read_table",
    "ParameterTable",
    "draw",
    "Samples",
    "evaluate_psa",
    "PSAResults",
    "run_psa",
    "format_csv",
    # the same with pandas DataFrames
    "run",
    "evaluate",
    # constants and the one error base class (the others: model.errors)
    "DEFAULT_SAMPLES",
    "RESULT_COLUMNS",
    "STRATEGIES",
    "ModelError",
]
