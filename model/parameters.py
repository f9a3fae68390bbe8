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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from .distributions import check_distribution
from .errors import (
    DistributionParameterError,
    ModelError,
    NotEditableError,
    ParameterTableError,
    UnknownParameterError,
    UpdateFormatError,
)

if TYPE_CHECKING:  # pandas is imported only where a DataFrame is made or read
    import pandas as pd

COLUMNS = ("parameter", "distribution", "v1", "v2", "editable")
UPDATE_FIELDS = ("parameter", "distribution", "v1", "v2")
UPDATES_EXAMPLE = '[{"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150}]'

_TRUE = {"T", "TRUE", "True", "true"}
_FALSE = {"F", "FALSE", "False", "false"}

DEFAULT_TABLE = "parameter_distributions.csv"


@dataclass(frozen=True)
class ParameterTable:
    """A parameter table, one entry per row: what the model samples from.

    Every table is valid: building one checks that each row's distribution
    can be sampled, so sampling trusts it.  Read one with `read_table`,
    convert with `from_frame`/`to_frame`, change it with `update`.
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
        for name, dist, a, b, _ in self.rows():
            check_distribution(name, dist, a, b)

    def __len__(self) -> int:
        return len(self.parameter)

    def rows(self) -> Iterable[tuple[str, str, float, float, bool]]:
        return zip(self.parameter, self.distribution, self.v1, self.v2, self.editable)

    @property
    def editable_parameters(self) -> list[str]:
        return [name for name, flag in zip(self.parameter, self.editable) if flag]

    def update(self, updates: Iterable[Mapping[str, Any]] | None) -> ParameterTable:
        """The original's ``overwrite_parameter_value``: for each update
        record {parameter, distribution, v1, v2}, replace distribution, v1 and
        v2 of an editable row.  A new table; no updates (None or []) is this
        table.  v1/v2 may be numbers or numeric text, as R reads them."""
        records = check_updates(updates)
        if not records:
            return self
        distribution, v1, v2 = list(self.distribution), list(self.v1), list(self.v2)
        index = {name: i for i, name in enumerate(self.parameter)}
        for position, record in enumerate(records, start=1):
            try:
                name = record["parameter"].strip()
                if name not in index:
                    raise UnknownParameterError(name, self.editable_parameters)
                row = index[name]
                if not self.editable[row]:
                    raise NotEditableError(name)
                new_distribution = record["distribution"].strip()
                new_v1 = _r_text_round(_number(name, "v1", record.get("v1")))
                new_v2 = _r_text_round(_number(name, "v2", record.get("v2")))
                check_distribution(name, new_distribution, new_v1, new_v2)
            except ModelError as exc:
                exc.update = position
                raise
            distribution[row], v1[row], v2[row] = new_distribution, new_v1, new_v2
        return ParameterTable(
            self.parameter, tuple(distribution), tuple(v1), tuple(v2), self.editable
        )

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame: columns parameter, distribution, v1, v2
        (floats, NaN where empty) and editable (bool)."""
        import pandas as pd

        return pd.DataFrame({name: list(getattr(self, name)) for name in COLUMNS})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ParameterTable:
        """Validate a table given as a DataFrame (cells may be text, as read
        from CSV, or numbers)."""
        header = [str(name).strip() for name in frame.columns]
        _check_header(header)
        return table_from_columns(
            {name: list(frame.iloc[:, i]) for i, name in enumerate(header)}
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
    return ParameterTable(
        tuple(parameter), tuple(distribution), tuple(v1), tuple(v2), tuple(editable)
    )


def _number(parameter: str, field: str, value: Any) -> float:
    """v1/v2 as a float; NaN where the cell is empty (R's NA)."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise DistributionParameterError(parameter, f"{field} must be a number, got {value!r}")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int beyond the range of a double
            raise DistributionParameterError(
                parameter, f"{field} must be a finite number, got {str(value)[:50]}"
            ) from None
    text = str(value).strip()
    if text in ("", "NA"):
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise DistributionParameterError(
            parameter, f"{field} must be a number, got {text!r}"
        ) from None


def _r_text_round(value: float) -> float:
    """R's overwrite stores an updated v1/v2 as text with 15 significant
    digits before sampling; reproduce that (a no-op for values with <= 15)."""
    return value if math.isnan(value) else float(f"{value:.15g}")


def check_updates(
    updates: Any, what: str = "updates", numbers: bool = False
) -> list[Mapping[str, Any]]:
    """Check that `updates` is a list of {parameter, distribution, v1, v2}
    records (v2 may be left out or None, for fixed) and return it as a list.

    With `numbers`, v1 and v2 must be numbers, not text (as in JSON, where a
    number is a number), and finite.  Errors name the record's position (as
    their `update`) and call the list `what`.
    """
    if updates is None:
        return []
    if isinstance(updates, Mapping) or not isinstance(updates, Iterable) or isinstance(
        updates, (str, bytes)
    ):
        raise UpdateFormatError(
            f"{what} must be a list of {{parameter, distribution, v1, v2}} records "
            f"(e.g. {UPDATES_EXAMPLE})"
        )
    records = list(updates)
    for position, record in enumerate(records, start=1):
        where = f"{what} record {position}"
        if not isinstance(record, Mapping):
            raise UpdateFormatError(
                f"{where} must be an object with parameter, distribution, v1 and v2, "
                f"got {type(record).__name__}",
                position,
            )
        missing = [f for f in ("parameter", "distribution", "v1") if f not in record]
        if missing:
            raise UpdateFormatError(
                f"{where} lacks {', '.join(missing)}: a record that lacks fields cannot "
                "be applied; each needs parameter, distribution, v1 and v2 (v2 may be "
                "null or left out for 'fixed')",
                position,
            )
        if not isinstance(record["parameter"], str) or not isinstance(
            record["distribution"], str
        ):
            raise UpdateFormatError(
                f"{where}: parameter and distribution must be strings", position
            )
        if numbers:
            _check_numbers(where, position, record)
    return records


def _check_numbers(where: str, position: int, record: Mapping[str, Any]) -> None:
    for field in ("v1", "v2"):
        number = record.get(field)
        if field == "v2" and number is None:
            continue
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            problem = f"must be a number, got {number!r}"[:70]
        elif not _finite(number):
            problem = f"must be a finite number, got {str(number)[:50]}"
        else:
            continue
        parameter = record["parameter"][:100]
        raise UpdateFormatError(
            f"{where} ({parameter}): {field} {problem}", position, parameter
        )


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(float(number))
    except OverflowError:  # an int beyond the range of a double
        return False
