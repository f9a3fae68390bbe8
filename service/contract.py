"""The request contract: every argument of every request, declared once.

An `Argument` is a name, a type (its bounds and its default) and a
description.  Each type knows how to read a value (with the message that
says what to fix) and how to state itself as an OpenAPI 3.0 schema, so the
parser (`Arguments.read`) and the document (service/openapi.py) both come
from the declarations below: a new argument is one more `Argument` in one
tuple.  What the schema language cannot state is said in the description
(and tested): a wtp range's rules, random uniform's min <= max.

Statuses of a value the contract refuses: 400 (a value out of its bounds,
JSON text that is not JSON), 422 (`param_updates` records not of the
ParamUpdates schema: the model's rule, `model.parameters.check_updates`,
plus the declared fields: a record with another field is refused).  Where
the values come from (query string, forms, JSON) and the 400/413/415 of
the transport: service/arguments.py.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import falcon

from model import DEFAULT_SAMPLES
from model.analysis import METHODS, AnalysisError, as_wtp, parse_wtp
from model.analysis.population import MAX_DISCOUNT, MAX_HORIZON, MAX_POPULATION, Population
from model.analysis.sensitivity import OUTCOMES
from model.distributions import DISTRIBUTIONS, Minimum
from model.errors import UpdateFormatError, quoted
from model.parameters import check_updates
from model.results import STREAM_ROWS

from .arguments import Text, collect, json_argument, whole_number_argument
from .errors import ApiError, bad_request, model_error
from .settings import DEFAULT_DATASET, DEFAULT_MAX_SAMPLES

# The original's default updates (API.md), applied when none are sent.
DEFAULT_UPDATES = (
    {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
    {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 70},
)
# The fields of an update record, and nothing else.
RECORD_FIELDS = ("parameter", "distribution", "v1", "v2")
# The original's default model_functions, and the fork's (its test suite and
# Shiny app send it): accepted as names of the built-in model, never fetched.
ORIGINAL_MODEL_URL = "https://raw.githubusercontent.com/BresMed/plumberHE/main/R/darth_funcs.R"
FORK_MODEL_URL = "https://raw.githubusercontent.com/RobertASmith/plumberHE/main/R/darth_funcs.R"
MODEL_NAMES = (ORIGINAL_MODEL_URL, FORK_MODEL_URL)
MAX_UPDATES = 200
MAX_SEED = 2**63 - 1
DEFAULT_WTP = "0:200000:5000"
# Bounds on one request's work (the EVPPI regressions are W × groups).
REQUEST_WTP_POINTS = 201
MAX_WTP = 1e9
MAX_EVPPI_GROUPS = 10
MAX_GROUP_SIZE = 8
MAX_POLY_ORDER = 4
EVERY_PARAMETER = "*"
MAX_OWSA_PARAMETERS = 100
# The one-way answer is parameters × 3 strategies × points × 3 outcomes records.
MAX_SENSITIVITY_POINTS = 41

_REF = "#/components/schemas/"


# --- Types: each reads a value and states itself as a schema -------------

class Type:
    """A value's type.  `read(name, value)` gets the value as sent (never
    absent: `missing()` gives the default then); `schema()` is its schema in
    a JSON body, `form_schema()` in a form or query string (None: JSON text
    there, which OpenAPI 3.0 cannot describe so that tools send it as one
    field: described in the operation, not listed)."""

    default: Any = None
    nullable = False  # JSON null means the default (others: 400)

    def missing(self) -> Any:
        return copy.deepcopy(self.default)

    def read(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def schema(self) -> dict:
        raise NotImplementedError

    def form_schema(self) -> dict | None:
        return self.schema()

    def components(self) -> dict:
        """Named schemas this type's schema refers to."""
        return {}


def _argument_of(name: str) -> str:
    """The argument a (dotted) name belongs to: `population.size` → population."""
    return name.split(".")[0]


@dataclass(frozen=True)
class WholeNumber(Type):
    low: int
    high: int
    default: int | None = None
    integral_floats: bool = False  # 3.0 counts as 3 (inside JSON objects)

    def read(self, name: str, value: Any) -> int:
        value = whole_number_argument(value)  # digits, where it came as text
        if self.integral_floats and isinstance(value, float) and value.is_integer():
            value = int(value)
        if (isinstance(value, bool) or not isinstance(value, int)
                or not self.low <= value <= self.high):
            raise bad_request(f"{name} must be a whole number from {self.low} to {self.high}, "
                              f"got {json.dumps(value)[:50]}", argument=_argument_of(name))
        return value

    def schema(self) -> dict:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


@dataclass(frozen=True)
class Number(Type):
    low: float
    high: float
    exclusive_low: bool = False
    default: float | None = None

    def read(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            (self.low < value if self.exclusive_low else self.low <= value)
            and value <= self.high
        ):
            bound = "more than" if self.exclusive_low else "from"
            raise bad_request(f"{name} must be a number {bound} {self.low:g} and at most "
                              f"{self.high:g}, got {json.dumps(value)[:50]}",
                              argument=_argument_of(name))
        return float(value)

    def schema(self) -> dict:
        schema = {"type": "number", "minimum": self.low, "maximum": self.high}
        if self.exclusive_low:
            schema["exclusiveMinimum"] = True
        return schema


@dataclass(frozen=True)
class Choice(Type):
    choices: tuple[str, ...]
    default: str | None = None

    def read(self, name: str, value: Any) -> str:
        if value not in self.choices:
            raise bad_request(f"{name} must be one of {', '.join(self.choices)}",
                              argument=_argument_of(name))
        return value

    def schema(self) -> dict:
        return {"type": "string", "enum": list(self.choices)}


@dataclass(frozen=True)
class Names(Type):
    """A list of different names (or `every`, a string standing for all)."""

    max_items: int
    must_be: str  # what the 400 says the value must be
    min_items: int = 0
    choices: tuple[str, ...] | None = None  # None: any non-empty name
    every: str | None = None
    default: Any = None
    example: Any = None

    def read(self, name: str, value: Any) -> Any:
        if self.every is not None and value == self.every:
            return value
        if (not isinstance(value, list) or not self.min_items <= len(value) <= self.max_items
                or not all(isinstance(n, str) and n and (self.choices is None or n in self.choices)
                           for n in value)
                or len(set(value)) != len(value)):  # (hashable by now)
            raise bad_request(f"{name} must be {self.must_be}", argument=_argument_of(name))
        return value

    def schema(self) -> dict:
        items = ({"type": "string", "enum": list(self.choices)} if self.choices
                 else {"type": "string", "minLength": 1})
        array = {"type": "array", **({"minItems": self.min_items} if self.min_items else {}),
                 "maxItems": self.max_items, "uniqueItems": True, "items": items}
        if self.example is not None:
            array["example"] = self.example
        if self.every is None:
            return array
        return {"oneOf": [{"type": "string", "enum": [self.every]}, array]}


@dataclass(frozen=True)
class ModelName(Type):
    """model_functions: the original's names of the built-in model, nothing else."""

    def read(self, name: str, value: Any) -> Any:
        if value == "" or value in MODEL_NAMES:
            return value
        shown = value if isinstance(value, str) else json.dumps(value)
        raise bad_request(
            f"{name} {shown[:200]!r} refused: remote model code is not executed. "
            "This service runs its built-in model only; omit model_functions (or send the "
            "original's or the fork's URL, accepted as its names)",
            accepted=list(MODEL_NAMES),
        )

    def schema(self) -> dict:
        return {"type": "string", "enum": ["", *MODEL_NAMES]}


# A file name: no NUL, no separator, no scheme or drive colon, no '~', not
# blank and not only dots ('.', '..').  The service also takes sub/name.csv.
DATASET_NAME = r"^[^\x00/\\:~]*[^\x00/\\:~\s.][^\x00/\\:~]*$"


@dataclass(frozen=True)
class DatasetName(Type):
    """A name in the data folder; absent: the configured default (None here)."""

    def read(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise bad_request(f"{name} must be a string (a dataset name)")
        return value

    def schema(self) -> dict:
        # At most 255 characters (a file name's limit), so that a GET's query
        # string stays within the request-line limit whatever the characters (414).
        return {"type": "string", "default": DEFAULT_DATASET, "pattern": DATASET_NAME,
                "maxLength": 255}


_DECIMAL = r"[0-9]{1,9}(\.[0-9]{1,6})?"  # below MAX_WTP by construction


@dataclass(frozen=True)
class Grid(Type):
    """Willingness-to-pay values: numbers, or text `a,b,c` or `start:stop:step`."""

    default: str | None = None
    max_points: int = REQUEST_WTP_POINTS
    maximum: float = MAX_WTP

    def missing(self) -> Any:
        return None if self.default is None else self.read("wtp", self.default)

    def read(self, name: str, value: Any):
        try:
            if isinstance(value, str):
                grid = parse_wtp(value, self.max_points)
            elif isinstance(value, list) and value and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
            ):
                grid = as_wtp(value, self.max_points)
            else:
                raise AnalysisError(
                    "give a list of numbers, or text: a list a,b,c or a range start:stop:step"
                )
        except AnalysisError as exc:
            raise bad_request(f"{name}: {exc}", argument=name) from None
        if grid.max() > self.maximum:
            raise bad_request(f"{name}: each value at most {self.maximum:g}, got {grid.max():g}",
                              argument=name)
        return grid

    def form_schema(self) -> dict:
        # The list form only: a range's rules (start <= stop, a count of
        # values) are not a pattern's to state: the description says them.
        return {"type": "string",
                "pattern": rf"^{_DECIMAL}(,{_DECIMAL}){{0,{self.max_points - 1}}}$"}

    def schema(self) -> dict:
        grid = {"type": "array", "minItems": 1, "maxItems": self.max_points,
                "items": {"type": "number", "minimum": 0, "maximum": self.maximum}}
        return {"oneOf": [grid, dict(self.form_schema(), description="as text")]}


@dataclass(frozen=True)
class Groups(Type):
    """evppi: a list of groups, each a parameter name or a list of names."""

    max_groups: int = MAX_EVPPI_GROUPS
    max_size: int = MAX_GROUP_SIZE
    default: Any = field(default_factory=list)

    def read(self, name: str, value: Any) -> list[list[str]]:
        groups = json_argument(name, value)
        if not isinstance(groups, list) or len(groups) > self.max_groups:
            raise bad_request(
                f"{name} must be a list of at most {self.max_groups} parameter groups, each a "
                'name or a list of names: e.g. [["p_HS1", "p_S1H"], "p_S1S2"]', argument=name)
        result = []
        for position, group in enumerate(groups, start=1):
            names = [group] if isinstance(group, str) else group
            if (not isinstance(names, list) or not 1 <= len(names) <= self.max_size
                    or not all(isinstance(n, str) and n for n in names)
                    or len(set(names)) != len(names)):
                raise bad_request(
                    f"{name} group {position} must be a parameter name or a list of 1 to "
                    f"{self.max_size} different names", argument=name)
            result.append(names)
        return result

    def schema(self) -> dict:
        return {"$ref": _REF + "EvppiGroups"}

    def form_schema(self) -> None:
        return None

    def components(self) -> dict:
        return {"EvppiGroups": {
            "type": "array",
            "maxItems": self.max_groups,
            "items": {"oneOf": [
                {"type": "string", "minLength": 1, "example": "p_S1S2"},
                {"type": "array", "minItems": 1, "maxItems": self.max_size,
                 "uniqueItems": True, "items": {"type": "string", "minLength": 1},
                 "example": ["p_HS1", "p_S1H"]},
            ]},
        }}


@dataclass(frozen=True)
class Record(Type):
    """A JSON object of declared fields (JSON text in a form): `required`
    must be there, no other field may; `shorthand`: a number stands for
    {shorthand: number}; `build` makes the value from the fields read."""

    fields: dict[str, Type]
    required: str
    usage: str  # what the 400 says the value must be
    build: Callable[[dict[str, Any]], Any]
    shorthand: str | None = None
    example: Any = None

    def read(self, name: str, value: Any) -> Any:
        if isinstance(value, Text):
            value = json_argument(name, value)
        if (self.shorthand is not None and isinstance(value, (int, float))
                and not isinstance(value, bool)):
            value = {self.shorthand: value}
        if (not isinstance(value, dict) or self.required not in value
                or set(value) - set(self.fields)):
            raise bad_request(f"{name} must be {self.usage}", argument=name)
        return self.build({
            key: kind.read(f"{name}.{key}", value[key]) if key in value else kind.missing()
            for key, kind in self.fields.items()})

    def schema(self) -> dict:
        record = {"type": "object", "required": [self.required], "additionalProperties": False,
                  "properties": {key: kind.schema() for key, kind in self.fields.items()}}
        if self.example is not None:
            record["example"] = self.example
        if self.shorthand is None:
            return record
        return {"oneOf": [self.fields[self.shorthand].schema(), record]}

    def form_schema(self) -> None:
        return None


def _bound(minimum: Minimum | None) -> dict:
    schema = {"type": "number"}
    if minimum is not None:
        schema["minimum"] = minimum.value
        if minimum.exclusive:
            schema["exclusiveMinimum"] = True
    return schema


def _record_schema(distribution: str) -> dict:
    """One distribution's record, its v1/v2 bounds from the model's table."""
    rule = DISTRIBUTIONS[distribution]
    v2 = ({"type": "number", "nullable": True, "description": "unused"} if rule.v2 is None
          else dict(_bound(rule.v2_minimum), description=rule.v2))  # unused: null or left out
    properties = dict(zip(RECORD_FIELDS, (
        {"type": "string", "example": "p_HS1"},
        {"type": "string", "enum": [distribution]},
        dict(_bound(rule.v1_minimum), description=rule.v1),
        v2,
    )))
    required = [*RECORD_FIELDS[:3], *(["v2"] if rule.v2 is not None else [])]
    schema = {"type": "object", "required": required, "additionalProperties": False,
              "properties": properties}
    if rule.across is not None:
        schema["description"] = (f"Also {rule.across.says}: a rule across two fields that "
                                 "JSON Schema cannot state (422 otherwise)")
    return schema


@dataclass(frozen=True)
class Updates(Type):
    """param_updates: records {parameter, distribution, v1, v2}."""

    nullable = True
    default: Any = DEFAULT_UPDATES
    max_records: int = MAX_UPDATES

    def missing(self) -> list[dict[str, Any]]:
        return [dict(record) for record in self.default]

    def read(self, name: str, value: Any) -> list[dict[str, Any]]:
        if isinstance(value, str):
            if not value.strip():
                raise bad_request(
                    f"{name} is empty: send [] for no updates, or leave it out for the "
                    "default updates"
                )
            value = json_argument(name, value)
            if value is None:
                return self.missing()
        if isinstance(value, list) and len(value) > self.max_records:
            raise ApiError(falcon.HTTP_422,
                           f"{name} has {len(value)} records; at most {self.max_records}")
        # The model owns the rules of a record (JSON numbers: text is not a
        # number); the contract, which fields one has.
        try:
            records = check_updates(value, what=name, numbers=True)
            for position, record in enumerate(records, start=1):
                unknown = [key for key in record if key not in RECORD_FIELDS]
                if unknown:
                    parameter = record["parameter"][:100]
                    raise UpdateFormatError(
                        f"{name} record {position} ({parameter}): unknown field "
                        f"{quoted(unknown[0])}; a record has only {', '.join(RECORD_FIELDS)}",
                        position, parameter)
            return records
        except UpdateFormatError as exc:
            raise model_error(exc) from None

    def schema(self) -> dict:
        return {"nullable": True, "oneOf": [{"$ref": _REF + "ParamUpdates"}]}

    def form_schema(self) -> None:
        return None

    def components(self) -> dict:
        return {
            "ParamUpdate": {
                "description": "One record; v1 and v2 mean what the distribution says",
                "oneOf": [_record_schema(name) for name in DISTRIBUTIONS],
            },
            "ParamUpdates": {"type": "array", "maxItems": self.max_records,
                             "items": {"$ref": _REF + "ParamUpdate"}},
        }


# --- Arguments -----------------------------------------------------------

@dataclass(frozen=True)
class Argument:
    name: str
    type: Type
    description: str


class Values(dict):
    """The values read, by argument name (defaults filled in); the run's
    own under the names the pipeline uses."""

    @property
    def updates(self) -> list[dict[str, Any]]:
        return self["param_updates"]

    @property
    def dataset(self) -> str | None:  # None: the configured default
        return self["path_to_psa_inputs"]

    @property
    def seed(self) -> int | None:
        return self["seed"]

    @property
    def n_samples(self) -> int:
        return self["n_samples"]


@dataclass(frozen=True)
class Arguments:
    """One operation's arguments."""

    arguments: tuple[Argument, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(argument.name for argument in self.arguments)

    def __add__(self, more: tuple[Argument, ...]) -> Arguments:
        return replace(self, arguments=self.arguments + tuple(more))

    def read(self, req: falcon.Request, max_body_bytes: int) -> Values:
        """The values from the query string and the body (a POST's)."""
        return self._read(req, max_body_bytes)

    def read_query(self, req: falcon.Request) -> Values:
        """The values from the query string (a GET's: a body is not read)."""
        return self._read(req, None)

    def _read(self, req: falcon.Request, max_body_bytes: int | None) -> Values:
        values = collect(req, self.names, max_body_bytes,
                         nullable={a.name for a in self.arguments if a.type.nullable})
        return Values({
            a.name: a.type.missing() if values.get(a.name) is None
            else a.type.read(a.name, values[a.name])
            for a in self.arguments})

    def json_schema(self) -> dict:
        """A JSON body: real JSON where an argument takes it, text as in a form.
        (param_updates and evppi are read from JSON text in a string too, for
        clients that send them so; the document gives the JSON's own schema.)"""
        return self._object({a.name: a.type.schema() for a in self.arguments})

    def form_schema(self) -> dict:
        return self._object({a.name: a.type.form_schema() for a in self.arguments})

    def _object(self, schemas: dict[str, dict | None]) -> dict:
        described = {a.name: dict(schemas[a.name], description=a.description)
                     for a in self.arguments if schemas[a.name] is not None}
        return {"type": "object", "additionalProperties": False, "properties": described}

    def query_parameters(self) -> list[dict]:
        """A GET's arguments (no body: the query string is the only place)."""
        return [{"name": a.name, "in": "query", "required": False,
                 "description": a.description, "schema": a.type.form_schema()}
                for a in self.arguments]

    def components(self) -> dict:
        return {name: schema for a in self.arguments
                for name, schema in a.type.components().items()}


DATASET = Argument("path_to_psa_inputs", DatasetName(), (
    "Name of a parameter table in the service's data folder (no URL, absolute path "
    "or '..': refused, 400). The pattern describes a file name; `sub/name.csv` names "
    "a table in a subfolder. A name of that form that the folder does not hold: 404."))


def run_arguments(max_samples: int = DEFAULT_MAX_SAMPLES) -> Arguments:
    """POST /runDARTHmodel's arguments; `n_samples` at most `max_samples`
    (the running service's MAX_SAMPLES: a run's time and memory grow with it)."""
    return Arguments((
        Argument("param_updates", Updates(), (
            "Replacement distributions for editable parameters. Leave out (or null) for the "
            "original's default updates (p_HS1 beta(25,150), p_S1H beta(50,70)); [] for none. "
            "In a JSON body: the records, or JSON text of them; in the query string or a form: "
            "JSON text (jsonlite::toJSON of a data frame writes it). A record has only the "
            "fields parameter, distribution, v1 and v2 (another: 422).")),
        Argument("model_functions", ModelName(), (
            "Kept for the original's clients. Only the built-in model runs: leave out, or send "
            "the original's default URL or its fork's (accepted as its names). Anything else "
            "is refused (400): remote model code is not executed.")),
        DATASET,
        Argument("seed", WholeNumber(0, MAX_SEED), (
            "Makes the run reproducible; without it every run draws fresh samples.")),
        Argument("n_samples", WholeNumber(1, max_samples, default=DEFAULT_SAMPLES), (
            f"Number of PSA samples: {DEFAULT_SAMPLES} (the original's) if left out, at "
            "most the service's configured maximum (MAX_SAMPLES). Time and memory grow with "
            f"it; more than {STREAM_ROWS} results are streamed (chunked transfer encoding).")),
    ))


# Objects, not loose arguments: "horizon without population" is then a shape
# the OpenAPI document states (a schema-valid request is never a 400).
_POPULATION = Record(
    fields={"size": Number(0, MAX_POPULATION, exclusive_low=True),
            "horizon": WholeNumber(1, MAX_HORIZON, default=1, integral_floats=True),
            "discount": Number(0, MAX_DISCOUNT, default=0.0)},
    required="size", shorthand="size",
    usage=('a number (people a year) or an object {"size": people a year, "horizon": '
           'years (default 1), "discount": yearly rate (default 0)}'),
    build=lambda v: Population(v["size"], v["horizon"], v["discount"]),
    example={"size": 10000, "horizon": 10, "discount": 0.035},
)
_SENSITIVITY = Record(
    fields={
        "wtp": Number(0, MAX_WTP),
        "owsa": Names(MAX_OWSA_PARAMETERS, every=EVERY_PARAMETER, default=EVERY_PARAMETER,
                      must_be=f'"{EVERY_PARAMETER}" (every offered parameter that varies) or '
                              f"a list of up to {MAX_OWSA_PARAMETERS} different parameter "
                              "names ([]: none)"),
        "twsa": Names(2, min_items=2,
                      must_be='a list of two different parameter names, e.g. ["p_HS1", "p_S1H"]'),
        "points": WholeNumber(2, MAX_SENSITIVITY_POINTS, default=11, integral_floats=True),
        "outcomes": Names(len(OUTCOMES), min_items=1, choices=OUTCOMES, default=["nmb"],
                          must_be=f"a list of different outcomes among {', '.join(OUTCOMES)}"),
    },
    required="wtp",
    usage=('an object {"wtp": one willingness to pay, "owsa": "*" or parameter names '
           '(default "*"), "twsa": [two parameter names] (optional), "points": grid '
           'values per parameter (default 11), "outcomes": owsa\'s outcomes, of nmb, '
           'eff, cost (default ["nmb"])}'),
    build=lambda v: {"wtp": v["wtp"], "owsa": v["owsa"] or None, "twsa_pair": v["twsa"],
                     "points": v["points"], "outcomes": v["outcomes"]},
    example={"wtp": 100000, "owsa": EVERY_PARAMETER, "twsa": ["p_HS1", "p_S1H"]},
)
_WTP = Grid(default=DEFAULT_WTP)
_POLY_ORDER = WholeNumber(1, MAX_POLY_ORDER, default=2)


def analysis_arguments(max_samples: int = DEFAULT_MAX_SAMPLES) -> Arguments:
    """POST /analysis's: /runDARTHmodel's, then its own."""
    return run_arguments(max_samples) + (
        Argument("wtp", _WTP, (
            f"Willingness-to-pay values per QALY for the CEAC, expected loss, EVPI and EVPPI: "
            f"numbers (a JSON array), or text: a list `a,b,c`. At most {_WTP.max_points} "
            f"values, each from 0 to {_WTP.maximum:g}; default {_WTP.default}. Text may also be "
            f"a range `start:stop:step` (stop included; start <= stop, step > 0, at most "
            f"{_WTP.max_points} values: 400 otherwise), described here, not in the pattern, "
            f"which cannot compare numbers or count a range's values.")),
        Argument("evppi", Groups(), (
            f"Parameter groups whose EVPPI to compute, at every wtp: a parameter name or a "
            f"list of names each (at most {MAX_EVPPI_GROUPS} groups of {MAX_GROUP_SIZE}), e.g. "
            '[["p_HS1", "p_S1H"], "p_S1S2"]. Offered for the editable parameters and those '
            "the data owner lists in the service's settings (409 otherwise). In a form or "
            "the query string: JSON text.")),
        Argument("evppi_wtp", Grid(), (
            "The willingness-to-pay values at which to compute the EVPPI, as wtp (default: "
            "wtp's). EVPPI is the costly analysis: a few decision-relevant thresholds are "
            "usually enough.")),
        Argument("evppi_method", Choice(METHODS, default="poly"), (
            "poly (default): least squares on each parameter's powers, as dampack's "
            "calc_evppi(type = 'poly'); gam: penalised regression splines with smoothness "
            "chosen by GCV, as dampack's type = 'gam' (mgcv), for up to 4 parameters a group.")),
        Argument("poly_order", _POLY_ORDER, (
            f"Order of the polynomial (poly; default {_POLY_ORDER.default}, at most "
            f"{_POLY_ORDER.high}).")),
        Argument("population", _POPULATION, (
            "People affected by the decision each year (a number), or an object {size: people "
            f"a year, horizon: years the decision holds (default 1, at most {MAX_HORIZON}), "
            "discount: yearly discount rate of later years' people (default 0; 0.035 for "
            "3.5 %)}: adds Population_EVPI and Population_EVPPI beside the per-person figures, "
            "each the per-person figure times the effective population size × Σ_{t=0}^{T−1} "
            "(1+discount)^−t (T the horizon; horizon 1, discount 0 is dampack's "
            "calc_evpi(pop = size)). In a form or the query string: JSON text.")),
        Argument("sensitivity", _SENSITIVITY, (
            "One- and two-way sensitivity from the PSA, as dampack's owsa, owsa_tornado, "
            "owsa_opt_strat and twsa (its regression metamodel on the samples: nothing re-run): "
            "an object {wtp: the willingness to pay per QALY of the net monetary benefit, "
            f'owsa: "{EVERY_PARAMETER}" (default: every offered parameter whose samples vary) '
            f"or up to {MAX_OWSA_PARAMETERS} parameter names ([] for none), twsa: a pair of "
            "parameter names (optional), points: grid values per parameter, evenly spaced "
            "from its samples' 2.5 % to 97.5 % quantile (dampack's nsamp; default "
            f"{_SENSITIVITY.fields['points'].default}, at most {MAX_SENSITIVITY_POINTS}), "
            "outcomes: owsa's outcomes among nmb (net monetary benefit), eff (QALYs) and cost "
            '(default ["nmb"])}. owsa gives each strategy\'s outcomes over each parameter\'s '
            "grid, the tornado and the optimal-strategy data (of the NMB); twsa each strategy's "
            "NMB over both grids. Offered for "
            "the parameters whose EVPPI is offered (409 otherwise). In a form or the query "
            "string: JSON text.")),
    )


# GET /parameters: the query string only.
PARAMETERS_ARGUMENTS = Arguments((DATASET,))


@dataclass(frozen=True)
class Contract:
    """Every operation's arguments, for a service with these limits."""

    run_model: Arguments
    analysis: Arguments
    parameters: Arguments = PARAMETERS_ARGUMENTS

    @classmethod
    def for_service(cls, max_samples: int = DEFAULT_MAX_SAMPLES) -> Contract:
        return cls(run_arguments(max_samples), analysis_arguments(max_samples))

    def components(self) -> dict:
        return {**self.run_model.components(), **self.analysis.components()}

