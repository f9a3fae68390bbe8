"""The parameter table: load, validate, update.

The table is the original's CSV: one row per parameter with columns
parameter, distribution, v1, v2, editable (T/F).  It is data owned by the
client; the model only reads it.  Validation happens here, at the edge, so
that sampling and evaluation can assume a well-formed table.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import pandas as pd

from .errors import (
    DistributionParameterError,
    NotEditableError,
    ParameterTableError,
    UnknownDistributionError,
    UnknownParameterError,
    UpdateFormatError,
)

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


def default_table_path() -> str:
    """Path of the original's public parameter table shipped with the package."""
    return str(resources.files("model") / "data" / DEFAULT_TABLE)


def load_parameters(source: str | os.PathLike | io.IOBase | None = None) -> pd.DataFrame:
    """Read and validate a parameter table (a path or an open file).

    The original CSV starts with a UTF-8 byte-order mark; ``utf-8-sig``
    strips it so the first column is ``parameter``, not ``\\ufeffparameter``.
    """
    if source is None:
        source = default_table_path()
    try:
        raw = pd.read_csv(
            source,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ParameterTableError(f"cannot read the parameter table: {exc}") from None
    return validate_table(raw)


def validate_table(raw: pd.DataFrame) -> pd.DataFrame:
    """Return a clean table (v1/v2 floats, editable bool) or raise."""
    raw = raw.rename(columns=lambda c: str(c).strip())
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ParameterTableError(
            f"the parameter table lacks column(s) {', '.join(missing)}; "
            f"expected {', '.join(COLUMNS)}"
        )
    if raw.empty:
        raise ParameterTableError("the parameter table has no rows")
    table = pd.DataFrame(
        {
            "parameter": raw["parameter"].astype(str).str.strip(),
            "distribution": raw["distribution"].astype(str).str.strip(),
        }
    )
    blank = table["parameter"] == ""
    if blank.any():
        row = int(blank.to_numpy().argmax()) + 2  # header is line 1
        raise ParameterTableError(f"line {row} of the parameter table has no parameter name")
    duplicated = table["parameter"][table["parameter"].duplicated()]
    if len(duplicated):
        raise ParameterTableError(
            f"parameter(s) listed twice in the table: {', '.join(sorted(set(duplicated)))}"
        )
    editable = []
    for name, flag in zip(table["parameter"], raw["editable"].astype(str).str.strip()):
        if flag in _TRUE:
            editable.append(True)
        elif flag in _FALSE:
            editable.append(False)
        else:
            raise ParameterTableError(
                f"parameter {name!r}: editable must be T or F, got {flag!r}"
            )
    table["v1"] = [
        _number(name, "v1", value) for name, value in zip(table["parameter"], raw["v1"])
    ]
    table["v2"] = [
        _number(name, "v2", value) for name, value in zip(table["parameter"], raw["v2"])
    ]
    table["editable"] = editable
    for row in table.itertuples(index=False):
        check_distribution(row.parameter, row.distribution, row.v1, row.v2)
    return table.reset_index(drop=True)


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
    if isinstance(updates, pd.DataFrame):
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


def apply_updates(table: pd.DataFrame, updates: Any) -> pd.DataFrame:
    """The original's ``overwrite_parameter_value``: for each update, replace
    distribution, v1 and v2 of an editable row.  Returns a new table."""
    records = normalise_updates(updates)
    if not records:
        return table
    table = table.copy()
    index = {name: i for i, name in enumerate(table["parameter"])}
    editable = [p for p, e in zip(table["parameter"], table["editable"]) if e]
    for record in records:
        name = record["parameter"].strip()
        if name not in index:
            raise UnknownParameterError(name, editable)
        row = index[name]
        if not table.at[row, "editable"]:
            raise NotEditableError(name)
        distribution = record["distribution"].strip()
        v1 = _r_text_round(_number(name, "v1", record.get("v1")))
        v2 = _r_text_round(_number(name, "v2", record.get("v2")))
        check_distribution(name, distribution, v1, v2)
        table.at[row, "distribution"] = distribution
        table.at[row, "v1"] = v1
        table.at[row, "v2"] = v2
    return table
