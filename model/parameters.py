"""The parameter table: load, validate, update.

The table is the original's CSV: one row per parameter with columns
parameter, distribution, v1, v2, editable (T/F).  It is data owned by the
client; the model only reads it.  Validation happens here, at the edge, so
that sampling and evaluation can assume a well-formed table.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from .errors import (
    DistributionParameterError,
    NotEditableError,
    ParameterTableError,
    UnknownDistributionError,
    UnknownParameterError,
    UpdateFormatError,
)

if TYPE_CHECKING:  # pandas is imported only where a DataFrame is made or read
    import pandas as pd

COLUMNS = ("parameter", "distribution", "v1", "v2", "editable")
UPDATE_FIELDS = ("parameter", "distribution", "v1", "v2")

# Distribution name -> (meaning of v1, meaning of v2); v2 None: not used.
DISTRIBUTIONS: dict[str, tuple[str, str | None]] = {
    "beta": ("shape1", "shape2"),
    "gamma": ("shape", "scale"),
    "normal": ("mean", "sd"),
    "rlnorm": ("meanlog", "sdlog"),
    "random uniform": ("min", "max"),
    "fixed": ("value", None),
}

_TRUE = {"T", "TRUE", "True", "true"}
_FALSE = {"F", "FALSE", "False", "false"}

DEFAULT_TABLE = "parameter_distributions.csv"


@dataclass(frozen=True)
class ParameterTable:
    """A validated parameter table as plain tuples, one entry per row.

    This is what the model computes with; it needs no pandas, so the
    service (and its image) can run without it.  `load_parameters` gives
    the same table as a DataFrame, and `to_frame`/`from_frame` convert.
    """

    parameter: tuple[str, ...]
    distribution: tuple[str, ...]
    v1: tuple[float, ...]
    v2: tuple[float, ...]
    editable: tuple[bool, ...]

    def __post_init__(self) -> None:
        # One NaN object for every empty cell: tuples compare items by
        # identity first, so tables with the same empty cells compare equal.
        for field in ("v1", "v2"):
            values = tuple(math.nan if math.isnan(v) else float(v) for v in getattr(self, field))
            object.__setattr__(self, field, values)

    def __len__(self) -> int:
        return len(self.parameter)

    def rows(self) -> Iterable[tuple[str, str, float, float, bool]]:
        return zip(self.parameter, self.distribution, self.v1, self.v2, self.editable)

    @property
    def editable_parameters(self) -> list[str]:
        return [name for name, flag in zip(self.parameter, self.editable) if flag]

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame({name: list(getattr(self, name)) for name in COLUMNS})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ParameterTable:
        """A table from a DataFrame `validate_table` or `load_parameters` made."""
        return cls(
            parameter=tuple(str(v) for v in frame["parameter"]),
            distribution=tuple(str(v) for v in frame["distribution"]),
            v1=tuple(float(v) for v in frame["v1"]),
            v2=tuple(float(v) for v in frame["v2"]),
            editable=tuple(bool(v) for v in frame["editable"]),
        )


def default_table_path() -> str:
    """Path of the original's public parameter table shipped with the package."""
    return str(resources.files("model") / "data" / DEFAULT_TABLE)


def read_table(source: str | os.PathLike | io.IOBase | None = None) -> ParameterTable:
    """Read and validate a parameter table (a path or an open file), without pandas.

    The CSV is read as ``read.csv`` and ``pandas.read_csv`` read it: a
    header line, then one row per parameter; blank lines are skipped and
    spaces after a comma ignored.  The original CSV starts with a UTF-8
    byte-order mark; ``utf-8-sig`` strips it so the first column is
    ``parameter``, not ``\\ufeffparameter``.
    """
    if source is None:
        source = default_table_path()
    try:
        if hasattr(source, "read"):
            text = source.read()
            if isinstance(text, bytes):
                text = text.decode("utf-8-sig")
            text = text.removeprefix("\ufeff")
        else:
            with open(source, encoding="utf-8-sig", newline="") as handle:
                text = handle.read()
        lines = [row for row in csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
                 if row and any(cell.strip() for cell in row)]
    except UnicodeDecodeError as exc:
        raise ParameterTableError(f"cannot read the parameter table: {exc}") from None
    except csv.Error as exc:
        raise ParameterTableError(f"cannot read the parameter table: {exc}") from None
    if not lines:
        raise ParameterTableError("the parameter table is empty: it has no header line")
    header = [name.strip() for name in lines[0]]
    _check_header(header)
    width = len(header)
    for number, row in enumerate(lines[1:], start=2):
        if len(row) > width:
            raise ParameterTableError(
                f"row {number} of the parameter table has {len(row)} fields, "
                f"the header has {width}"
            )
    # Short rows are padded with empty cells, as R's read.csv fills them with NA.
    columns = {
        name: [row[i] if i < len(row) else "" for row in lines[1:]]
        for i, name in enumerate(header)
    }
    return table_from_columns(columns)


def load_parameters(source: str | os.PathLike | io.IOBase | None = None) -> pd.DataFrame:
    """Read and validate a parameter table (a path or an open file), as a
    DataFrame with columns parameter, distribution, v1, v2 (floats, NaN
    where empty) and editable (bool)."""
    return read_table(source).to_frame()


def validate_table(raw: pd.DataFrame) -> pd.DataFrame:
    """Return a clean table (v1/v2 floats, editable bool) or raise."""
    header = [str(name).strip() for name in raw.columns]
    _check_header(header)
    columns = {name: list(raw.iloc[:, i]) for i, name in enumerate(header)}
    return table_from_columns(columns).to_frame()


def _check_header(header: list[str]) -> None:
    twice = sorted({name for name in header if name and header.count(name) > 1})
    if twice:
        raise ParameterTableError(
            f"the parameter table has column(s) {', '.join(twice)} more than once"
        )


def table_from_columns(raw: Mapping[str, Sequence[Any]]) -> ParameterTable:
    """Validate a table given as {column name: cells}; cells may be text
    (as read from CSV) or numbers."""
    missing = [c for c in COLUMNS if c not in raw]
    if missing:
        raise ParameterTableError(
            f"the parameter table lacks column(s) {', '.join(missing)}; "
            f"expected {', '.join(COLUMNS)}"
        )
    parameter = [str(value).strip() for value in raw["parameter"]]
    if not parameter:
        raise ParameterTableError("the parameter table has no rows")
    distribution = [str(value).strip() for value in raw["distribution"]]
    if "" in parameter:
        row = parameter.index("") + 2  # the header is row 1
        raise ParameterTableError(f"row {row} of the parameter table has no parameter name")
    seen: set[str] = set()
    duplicated = {name for name in parameter if name in seen or seen.add(name)}
    if duplicated:
        raise ParameterTableError(
            f"parameter(s) listed twice in the table: {', '.join(sorted(duplicated))}"
        )
    editable = []
    for name, flag in zip(parameter, raw["editable"]):
        flag = str(flag).strip()
        if flag in _TRUE:
            editable.append(True)
        elif flag in _FALSE:
            editable.append(False)
        else:
            raise ParameterTableError(
                f"parameter {name!r}: editable must be T or F, got {flag!r}"
            )
    v1 = [_number(name, "v1", value) for name, value in zip(parameter, raw["v1"])]
    v2 = [_number(name, "v2", value) for name, value in zip(parameter, raw["v2"])]
    table = ParameterTable(
        tuple(parameter), tuple(distribution), tuple(v1), tuple(v2), tuple(editable)
    )
    for name, dist, a, b, _ in table.rows():
        check_distribution(name, dist, a, b)
    return table


def _number(parameter: str, field: str, value: Any) -> float:
    """v1/v2 as a float; NaN where the cell is empty (R's NA)."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise DistributionParameterError(parameter, f"{field} must be a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if text in ("", "NA"):
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise DistributionParameterError(
            parameter, f"{field} must be a number, got {text!r}"
        ) from None


def check_distribution(parameter: str, distribution: str, v1: float, v2: float) -> None:
    """Raise unless (distribution, v1, v2) can be sampled.

    R accepts some of these silently and returns NaN samples (with a
    warning) that later break the model in obscure ways; we refuse them.
    """
    if distribution not in DISTRIBUTIONS:
        raise UnknownDistributionError(
            parameter,
            f"unknown distribution {distribution!r}; supported: "
            + ", ".join(repr(d) for d in DISTRIBUTIONS),
        )
    first, second = DISTRIBUTIONS[distribution]
    needed = [("v1", first, v1)] + ([("v2", second, v2)] if second else [])
    for field, meaning, value in needed:
        if math.isnan(value):
            raise DistributionParameterError(
                parameter, f"{distribution} needs {field} ({meaning}), which is missing"
            )
        if math.isinf(value):
            raise DistributionParameterError(
                parameter, f"{distribution} {field} ({meaning}) must be finite, got {value}"
            )
    problem = None
    if distribution == "beta" and (v1 <= 0 or v2 <= 0):
        problem = f"beta shapes must be > 0, got shape1={v1:g}, shape2={v2:g}"
    elif distribution == "gamma" and (v1 <= 0 or v2 <= 0):
        problem = f"gamma shape and scale must be > 0, got shape={v1:g}, scale={v2:g}"
    elif distribution == "normal" and v2 < 0:
        problem = f"normal sd must be >= 0, got sd={v2:g}"
    elif distribution == "rlnorm" and v2 < 0:
        problem = f"rlnorm sdlog must be >= 0, got sdlog={v2:g}"
    elif distribution == "random uniform" and v1 > v2:
        problem = f"random uniform needs min <= max, got min={v1:g}, max={v2:g}"
    if problem:
        raise DistributionParameterError(parameter, problem)


def _r_text_round(value: float) -> float:
    """R's overwrite stores an updated v1/v2 as text with 15 significant
    digits before sampling; reproduce that (a no-op for values with <= 15)."""
    return value if math.isnan(value) else float(f"{value:.15g}")


def normalise_updates(updates: Any) -> list[dict[str, Any]]:
    """Accept records as a list of mappings, or a DataFrame; check the fields."""
    if updates is None:
        return []
    if is_frame(updates):
        updates = updates.to_dict(orient="records")
    if isinstance(updates, Mapping) or not isinstance(updates, Iterable) or isinstance(
        updates, (str, bytes)
    ):
        raise UpdateFormatError(
            "updates must be a list of {parameter, distribution, v1, v2} records"
        )
    records = []
    for position, record in enumerate(updates, start=1):
        if not isinstance(record, Mapping):
            raise UpdateFormatError(
                f"update {position} must be a {{parameter, distribution, v1, v2}} "
                f"record, got {type(record).__name__}"
            )
        missing = [f for f in ("parameter", "distribution", "v1") if f not in record]
        if missing:
            raise UpdateFormatError(
                f"update {position} lacks field(s) {', '.join(missing)}; each update "
                "needs parameter, distribution, v1 and v2 (v2 may be null for fixed)"
            )
        if not isinstance(record["parameter"], str) or not isinstance(
            record["distribution"], str
        ):
            raise UpdateFormatError(
                f"update {position}: parameter and distribution must be strings"
            )
        records.append(record)
    return records


def is_frame(value: Any) -> bool:
    """A pandas DataFrame, recognised without importing pandas (if pandas
    is not imported, nothing is a DataFrame)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def apply_updates(table: pd.DataFrame | ParameterTable, updates: Any):
    """The original's ``overwrite_parameter_value``: for each update, replace
    distribution, v1 and v2 of an editable row.  Returns a new table of the
    kind given (a DataFrame, or a ParameterTable); no updates returns `table`."""
    if isinstance(table, ParameterTable):
        return update_table(table, updates)
    records = normalise_updates(updates)
    if not records:
        return table
    return update_table(ParameterTable.from_frame(table), records).to_frame()


def update_table(table: ParameterTable, updates: Any) -> ParameterTable:
    """`apply_updates` on a ParameterTable."""
    records = normalise_updates(updates)
    if not records:
        return table
    distribution, v1, v2 = list(table.distribution), list(table.v1), list(table.v2)
    index = {name: i for i, name in enumerate(table.parameter)}
    for record in records:
        name = record["parameter"].strip()
        if name not in index:
            raise UnknownParameterError(name, table.editable_parameters)
        row = index[name]
        if not table.editable[row]:
            raise NotEditableError(name)
        new_distribution = record["distribution"].strip()
        new_v1 = _r_text_round(_number(name, "v1", record.get("v1")))
        new_v2 = _r_text_round(_number(name, "v2", record.get("v2")))
        check_distribution(name, new_distribution, new_v1, new_v2)
        distribution[row], v1[row], v2[row] = new_distribution, new_v1, new_v2
    return ParameterTable(
        table.parameter, tuple(distribution), tuple(v1), tuple(v2), table.editable
    )
