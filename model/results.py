"""Results of a PSA, and writing them as CSV at full double precision, fast.

One printf-style format over all cells, not pandas' ``to_csv``: a service
answering in milliseconds cannot spend several on formatting (figures in
bench/RESULTS.md, "Model").  ``%.17g`` is 17 significant digits, as R writes
them: every value reads back to the identical double.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .markov import RESULT_COLUMNS, STRATEGIES

if TYPE_CHECKING:
    import pandas as pd

    from .sampling import Samples


@dataclass(frozen=True, eq=False)
class PSAResults:
    """Costs and QALYs per sample: `values` is an (n_samples, 6) array whose
    columns are `columns` (RESULT_COLUMNS: the costs of STRATEGIES, then
    their QALYs).  `samples` are the parameter values each row was computed
    from, with the seed that drew them (None where not drawn here)."""

    values: np.ndarray
    samples: Samples | None = None
    columns: tuple[str, ...] = RESULT_COLUMNS

    def __len__(self) -> int:
        return len(self.values)

    @property
    def costs(self) -> np.ndarray:
        """(n_samples, 3): discounted cost of each of STRATEGIES."""
        return self.values[:, : len(STRATEGIES)]

    @property
    def effects(self) -> np.ndarray:
        """(n_samples, 3): discounted QALYs of each of STRATEGIES."""
        return self.values[:, len(STRATEGIES):]

    @property
    def seed(self) -> int | None:
        """The seed the samples were drawn with (chosen if none was given)."""
        return None if self.samples is None else self.samples.seed

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.values, columns=list(self.columns))


def format_csv(results: Any) -> str:
    """Results (PSAResults, or a DataFrame) as CSV text: a header line, then
    one line per row."""
    values = np.ascontiguousarray(np.asarray(results.values, dtype=float))
    n_rows, n_cols = values.shape
    header = ",".join(str(c) for c in results.columns) + "\n"
    if n_rows == 0:
        return header
    line = ",".join(["%.17g"] * n_cols) + "\n"
    return header + (line * n_rows) % tuple(values.ravel().tolist())
