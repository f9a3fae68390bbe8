"""Results of a PSA, and writing them as text at full double precision, fast.

Numbers are written by orjson (Ryu): each the shortest text that reads back
to the identical double, as Python's repr and R's readr write them, five
times faster than one printf-style template over all cells (``%.17g``,
the fastest formatting Python itself has) and thirty times faster than
pandas' ``to_csv`` (figures in bench/RESULTS.md, "Scale").  A service
answering in milliseconds cannot spend several on formatting.  Large
results are written a block of rows at a time (`iter_csv`), so the whole
text never has to be held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

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


# Rows formatted at once when a writer streams: about 1 MB of CSV text.
STREAM_ROWS = 8192


def number_blocks(values: np.ndarray, rows: int = STREAM_ROWS) -> Iterator[tuple[int, bytes]]:
    """The rows of a 2-D array of finite numbers as text, a block of `rows`
    rows at a time: (rows in the block, b"a,b,…\\nc,d,…"), values separated
    by commas and rows by newlines, each value the shortest text that reads
    back to the same double."""
    values = np.ascontiguousarray(values, dtype=float)
    for start in range(0, len(values), rows):
        block = values[start:start + rows]
        if not np.isfinite(block).all():  # JSON has no text for them: orjson writes null
            row = start + int((~np.isfinite(block)).any(axis=1).argmax())
            raise ValueError(f"row {row + 1} has a value that is not a finite number")
        text = orjson.dumps(block, option=orjson.OPT_SERIALIZE_NUMPY)  # b"[[a,b],[c,d]]"
        yield len(block), text[2:-2].replace(b"],[", b"\n")


def iter_csv(results: Any, rows: int = STREAM_ROWS) -> Iterator[bytes]:
    """Results (PSAResults, or a DataFrame) as UTF-8 CSV, in pieces: the
    header line, then blocks of `rows` lines."""
    yield (",".join(str(c) for c in results.columns) + "\n").encode()
    for _, text in number_blocks(results.values, rows):
        yield text + b"\n"


def format_csv(results: Any) -> str:
    """Results (PSAResults, or a DataFrame) as CSV text: a header line, then
    one line per row."""
    return b"".join(iter_csv(results)).decode()
