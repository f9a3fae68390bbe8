"""A small column table (no pandas): what every analysis returns, written as
CSV the way R users read dampack's tables, or as JSON records."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np


def _cell(value) -> str:
    # R's conventions, so readr/read.csv parse the columns back as dampack
    # made them: NA for missing, TRUE/FALSE for logicals; floats exact.
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "NA"
        if math.isinf(value):
            return "Inf" if value > 0 else "-Inf"
        value = float(value)
        # 90000 as R writes it, not 90000.0; repr otherwise (exact).
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _json_column(column) -> list:
    """A column as JSON-ready Python values: NaN and ±infinity as None
    (null: JSON has neither; a tornado's rel_diff is infinite when its low
    outcome is exactly 0, as dampack's Inf)."""
    values = column.tolist() if isinstance(column, np.ndarray) else list(column)
    if isinstance(column, np.ndarray) and column.dtype.kind == "f":
        return [v if math.isfinite(v) else None for v in values]
    return values


@dataclass(frozen=True)
class Table:
    """Named columns of equal length: ``columns`` and one array per column."""

    columns: tuple[str, ...]
    data: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.data[0]) if self.data else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[self.columns.index(name)]

    def rows(self):
        return zip(*(column.tolist() if isinstance(column, np.ndarray) else column
                     for column in self.data))

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows():
            writer.writerow([_cell(value) for value in row])
        return out.getvalue()

    def to_records(self) -> list[dict]:
        """JSON-ready: one object per row, NaN as null."""
        columns = [_json_column(column) for column in self.data]
        return [dict(zip(self.columns, row)) for row in zip(*columns)]
