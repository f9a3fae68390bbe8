"""A dataset's units and decision context: what its figures are in.

A parameter table ``NAME.csv`` may have a sidecar ``NAME.meta.json`` beside
it (the data owner's, like the table):

    {"currency": "GBP", "currency_symbol": "£", "price_year": 2024,
     "effect": "QALY", "perspective": "UK NHS and personal social services",
     "population": {"size": 10000, "horizon": 10, "discount": 0.035}}

every key optional.  A table without one gets `DEFAULTS` (pounds sterling,
QALYs, no price year or perspective stated, no population).  The model's
own settings — per patient, 75 annual cycles, costs and QALYs discounted
at 3 % a year — are facts of the model, not of the data, and are added to
every record by `Metadata.to_record`, so a dataset cannot contradict them.

The record is what ``POST /analysis`` answers in ``method.units`` and what
the page, the report and their figures label their axes and tables with.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ModelError
from .markov import DISCOUNT_RATE, N_CYCLES

SUFFIX = ".meta.json"
MAX_SIDECAR_BYTES = 64 * 1024
_CODE = re.compile(r"^[A-Z]{3}$")  # ISO 4217
_TEXT_LIMIT = 200
POPULATION_KEYS = ("size", "horizon", "discount")
KEYS = ("currency", "currency_symbol", "price_year", "effect", "perspective", "population")


class MetadataError(ModelError):
    """A sidecar that is not valid metadata."""


def _text(value: Any, key: str, limit: int = _TEXT_LIMIT) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise MetadataError(f"metadata {key!r} must be text of 1 to {limit} characters")
    return value.strip()


@dataclass(frozen=True)
class Metadata:
    """Units and context of a dataset; checked on creation."""

    currency: str = "GBP"
    currency_symbol: str = "£"
    price_year: int | None = None
    effect: str = "QALY"
    perspective: str | None = None
    population: dict[str, float] | None = field(default=None, hash=False)
    source: str = "defaults"  # "dataset": read from a sidecar

    def __post_init__(self):
        if not isinstance(self.currency, str) or not _CODE.match(self.currency):
            raise MetadataError(
                f"metadata 'currency' must be an ISO 4217 code such as GBP, got {self.currency!r}")
        _text(self.currency_symbol, "currency_symbol", 8)
        _text(self.effect, "effect", 40)
        if self.perspective is not None:
            _text(self.perspective, "perspective")
        if self.price_year is not None and (
                isinstance(self.price_year, bool) or not isinstance(self.price_year, int)
                or not 1900 <= self.price_year <= 2200):
            raise MetadataError(
                f"metadata 'price_year' must be a year such as 2024, got {self.price_year!r}")
        if self.population is not None:
            self._check_population(self.population)

    @staticmethod
    def _check_population(population: Any) -> None:
        # The bounds are Population's own (model.analysis.population).
        from .analysis.population import Population

        if not isinstance(population, dict) or "size" not in population or not set(
                population) <= set(POPULATION_KEYS):
            raise MetadataError("metadata 'population' must be an object "
                                '{"size": people a year, "horizon": years, "discount": rate}')
        try:
            Population(population["size"], population.get("horizon", 1),
                       population.get("discount", 0.0))
        except ModelError as exc:
            raise MetadataError(f"metadata 'population': {exc}") from None

    def default_population(self):
        """The dataset's population defaults as a `Population`, or None."""
        from .analysis.population import Population

        if self.population is None:
            return None
        return Population(self.population["size"], self.population.get("horizon", 1),
                          self.population.get("discount", 0.0))

    @classmethod
    def from_dict(cls, data: Any, source: str = "dataset") -> Metadata:
        if not isinstance(data, dict):
            raise MetadataError("metadata must be a JSON object")
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise MetadataError(f"metadata has unknown key(s) {unknown}; known: {', '.join(KEYS)}")
        return cls(**data, source=source)

    def _population_record(self) -> dict[str, float] | None:
        population = self.default_population()  # checked and normalised (horizon a whole int)
        if population is None:
            return None
        return {"size": population.population, "horizon": population.horizon,
                "discount": population.discount}

    def to_record(self) -> dict[str, Any]:
        """The dataset's units with the model's settings: JSON-ready."""
        return {
            "currency": self.currency,
            "currency_symbol": self.currency_symbol,
            "price_year": self.price_year,
            "effect": self.effect,
            "perspective": self.perspective,
            "per": "patient",
            "cycles": N_CYCLES,
            "cycle_length": "year",
            "discount_costs": DISCOUNT_RATE,
            "discount_effects": DISCOUNT_RATE,
            "population": self._population_record(),
            "source": self.source,
        }


DEFAULTS = Metadata()

_TEXT_SCHEMA = {"type": "string"}
_NULLABLE_TEXT = {"type": "string", "nullable": True}
_NUMBER = {"type": "number"}
# `Metadata.to_record`'s shape, as an OpenAPI 3.0 schema (service/openapi.py).
RECORD_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "description": "what the figures are in: the dataset's units (its NAME.meta.json, or the "
                   "documented defaults: source) and the model's settings",
    "required": ["currency", "currency_symbol", "price_year", "effect", "perspective", "per",
                 "cycles", "cycle_length", "discount_costs", "discount_effects", "population",
                 "source"],
    "properties": {
        "currency": _TEXT_SCHEMA, "currency_symbol": _TEXT_SCHEMA,
        "price_year": {"type": "integer", "nullable": True},
        "effect": _TEXT_SCHEMA, "perspective": _NULLABLE_TEXT, "per": _TEXT_SCHEMA,
        "cycles": {"type": "integer"}, "cycle_length": _TEXT_SCHEMA,
        "discount_costs": _NUMBER, "discount_effects": _NUMBER,
        "population": {"type": "object", "nullable": True, "additionalProperties": False,
                       "properties": {"size": _NUMBER, "horizon": {"type": "integer"},
                                      "discount": _NUMBER}},
        "source": {"type": "string", "enum": ["dataset", "defaults"]},
    },
}


def sidecar_path(table_path: str | os.PathLike) -> str:
    """NAME.meta.json for NAME.csv (or NAME for any other table file)."""
    stem, ext = os.path.splitext(os.fspath(table_path))
    return (stem if ext.lower() == ".csv" else os.fspath(table_path)) + SUFFIX


def read_metadata(table_path: str | os.PathLike, root: str | None = None) -> Metadata:
    """The metadata of the table at `table_path`: its sidecar's, or `DEFAULTS`
    when it has none.  With `root`, a sidecar whose real path leaves that
    folder (a symbolic link out) counts as absent."""
    path = sidecar_path(table_path)
    if root is not None:
        real = os.path.realpath(path)
        if os.path.commonpath([os.path.realpath(root), real]) != os.path.realpath(root):
            return DEFAULTS
        path = real
    if not os.path.isfile(path):
        return DEFAULTS
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SIDECAR_BYTES + 1)
    except OSError as exc:
        raise MetadataError(f"{os.path.basename(path)}: {exc.strerror}") from None
    if len(data) > MAX_SIDECAR_BYTES:
        raise MetadataError(f"{os.path.basename(path)} is larger than {MAX_SIDECAR_BYTES} bytes")
    try:
        parsed = json.loads(data.decode("utf-8-sig"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"{os.path.basename(path)} is not JSON: {exc}") from None
    return Metadata.from_dict(parsed)


def _no_constant(name: str):
    raise MetadataError(f"metadata holds {name}, which is not a number")


def version(table_path: str | os.PathLike) -> tuple[int, int] | None:
    """(mtime_ns, size) of the sidecar, None without one: for caches."""
    try:
        stat = os.stat(sidecar_path(table_path))
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size

