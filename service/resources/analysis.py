"""POST /analysis: run the PSA once and return every decision analysis of
it, as dampack computes them (model/analysis): summary, ICER table with 95 %
intervals, CEAC with its frontier, expected loss, EVPI, and the EVPPI of
the requested parameter groups, in one JSON object.

The arguments are /runDARTHmodel's (same parsing, same defaults, same
runner: the same results for the same seed) plus `wtp`, `evppi`,
`evppi_wtp` (default: `wtp`), `evppi_method` and `poly_order`.  The seed used is reported (chosen when
none was sent), so every answer can be reproduced.

`population` (people a year, or {size, horizon, discount}) adds the
population EVPI and EVPPI beside the per-person figures
(model/analysis/population.py).  `sensitivity` ({wtp, owsa, twsa, points})
adds the one- and two-way sensitivity analyses from the PSA
(model/analysis/sensitivity.py): they regress on the parameters' samples as
EVPPI does, so the same parameters are offered and the same 409 refuses the
others.

EVPPI regresses net benefit on the parameters' sampled values — the data
owner's table, which never leaves the service.  It is offered for the
parameters the client may edit, and for those the data owner lists in
EVPPI_PARAMETERS; any other name (known or not: the table's names are
confidential too) gets the same 409.  Only the requested, allowed columns
reach the analysis, and the leak guard refuses any answer that names
another parameter.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import falcon
import numpy as np
from falcon.util.mediatypes import quality

import model
from model.analysis import METHODS, PSA, AnalysisError, analyse, as_wtp, parse_wtp
from model.analysis.population import MAX_DISCOUNT, MAX_HORIZON, MAX_POPULATION, Population
from model.analysis.sensitivity import OUTCOMES

# _Text: an argument that came as text (query string, form), where numbers
# and JSON are read from their text; in a JSON body they must be JSON's own.
from ..arguments import _Text, json_argument, read_arguments, whole_number_argument
from ..datasets import DatasetStore
from ..errors import INTERNAL, ApiError, bad_request, conflict, model_error
from ..auth import check_scope
from ..budget import Budget
from ..runs import RunLedger
from .run_model import Runner, guard_results, load_dataset, run, run_builtin_model, withheld

ANALYSIS_ARGUMENTS = ("wtp", "evppi", "evppi_wtp", "evppi_method", "poly_order",
                      "population", "sensitivity")
# Objects, not loose arguments: "horizon without population" is then a shape
# the OpenAPI document states (a schema-valid request is never a 400).
POPULATION_KEYS = ("size", "horizon", "discount")
POPULATION_USAGE = ('a number (people a year) or an object {"size": people a year, "horizon": '
                    'years (default 1), "discount": yearly rate (default 0)}')
SENSITIVITY_KEYS = ("wtp", "owsa", "twsa", "points", "outcomes")
SENSITIVITY_USAGE = ('an object {"wtp": one willingness to pay, "owsa": "*" or parameter names '
                     '(default "*"), "twsa": [two parameter names] (optional), "points": grid '
                     'values per parameter (default 11), "outcomes": owsa\'s outcomes, of nmb, '
                     'eff, cost (default ["nmb"])}')
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
DEFAULT_SENSITIVITY_POINTS = 11


def read_wtp(value: Any, name: str = "wtp", default: str = DEFAULT_WTP):
    text = default if value is None else value
    try:
        if isinstance(text, str):
            grid = parse_wtp(text, REQUEST_WTP_POINTS)
        elif isinstance(text, list) and text and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in text
        ):
            grid = as_wtp(text, REQUEST_WTP_POINTS)
        else:
            raise AnalysisError(
                "give a list of numbers, or text: a list a,b,c or a range start:stop:step"
            )
    except AnalysisError as exc:
        raise bad_request(f"{name}: {exc}", argument=name) from None
    if grid.max() > MAX_WTP:
        raise bad_request(f"{name}: each value at most {MAX_WTP:g}, got {grid.max():g}",
                          argument=name)
    return grid


def read_groups(value: Any) -> list[list[str]]:
    """`evppi`: a list of groups, each a parameter name or a list of names."""
    groups = json_argument("evppi", value) if value is not None else []
    if not isinstance(groups, list) or len(groups) > MAX_EVPPI_GROUPS:
        raise bad_request(
            f"evppi must be a list of at most {MAX_EVPPI_GROUPS} parameter groups, each a "
            'name or a list of names: e.g. [["p_HS1", "p_S1H"], "p_S1S2"]', argument="evppi")
    result = []
    for position, group in enumerate(groups, start=1):
        names = [group] if isinstance(group, str) else group
        if (not isinstance(names, list) or not 1 <= len(names) <= MAX_GROUP_SIZE
                or not all(isinstance(n, str) and n for n in names)
                or len(set(names)) != len(names)):
            raise bad_request(
                f"evppi group {position} must be a parameter name or a list of 1 to "
                f"{MAX_GROUP_SIZE} different names", argument="evppi")
        result.append(names)
    return result


def read_method(value: Any) -> str:
    method = "poly" if value is None else value
    if method not in METHODS:
        raise bad_request(f"evppi_method must be one of {', '.join(METHODS)}",
                          argument="evppi_method")
    return method


def read_order(value: Any) -> int:
    order = 2 if value is None else whole_number_argument(value)
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_POLY_ORDER:
        raise bad_request(f"poly_order must be a whole number from 1 to {MAX_POLY_ORDER}",
                          argument="poly_order")
    return order


def _number(value: Any, name: str, low: float, high: float, exclusive_low: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        (low < value if exclusive_low else low <= value) and value <= high
    ):
        bound = "more than" if exclusive_low else "from"
        raise bad_request(f"{name} must be a number {bound} {low:g} and at most {high:g}, got "
                          f"{json.dumps(value)[:50]}", argument=name.split(".")[0])
    return float(value)


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(f"{name} must be a whole number from {low} to {high}, got "
                          f"{json.dumps(value)[:50]}", argument=name.split(".")[0])
    return value


def _object(value: Any, name: str, keys: tuple[str, ...], required: str, usage: str) -> dict:
    if isinstance(value, _Text):
        value = json_argument(name, value)
    if not isinstance(value, dict) or required not in value or set(value) - set(keys):
        raise bad_request(f"{name} must be {usage}", argument=name)
    return value


def read_population(value: Any) -> Population | None:
    """`population`: people a year, or {"size", "horizon", "discount"}."""
    if value is None:
        return None
    if isinstance(value, _Text):
        value = json_argument("population", value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = {"size": value}
    value = _object(value, "population", POPULATION_KEYS, "size", POPULATION_USAGE)
    size = _number(value["size"], "population.size", 0, MAX_POPULATION, exclusive_low=True)
    horizon = _whole(value.get("horizon", 1), "population.horizon", 1, MAX_HORIZON)
    discount = _number(value.get("discount", 0), "population.discount", 0, MAX_DISCOUNT)
    return Population(size, horizon, discount)


def read_sensitivity(value: Any) -> dict | None:
    """`sensitivity`: {"wtp", "owsa", "twsa", "points"} (wtp required)."""
    if value is None:
        return None
    value = _object(value, "sensitivity", SENSITIVITY_KEYS, "wtp", SENSITIVITY_USAGE)
    wtp = _number(value["wtp"], "sensitivity.wtp", 0, MAX_WTP)
    owsa = value.get("owsa", EVERY_PARAMETER)
    if owsa != EVERY_PARAMETER and (
        not isinstance(owsa, list) or len(owsa) > MAX_OWSA_PARAMETERS
        or not all(isinstance(n, str) and n for n in owsa) or len(set(owsa)) != len(owsa)
    ):
        raise bad_request(
            f'sensitivity.owsa must be "{EVERY_PARAMETER}" (every offered parameter that varies) '
            f"or a list of up to {MAX_OWSA_PARAMETERS} different parameter names ([]: none)",
            argument="sensitivity")
    twsa = value.get("twsa")
    if "twsa" in value and (not isinstance(twsa, list) or len(twsa) != 2
                             or not all(isinstance(n, str) and n for n in twsa)
                             or twsa[0] == twsa[1]):
        raise bad_request('sensitivity.twsa must be a list of two different parameter names, '
                          'e.g. ["p_HS1", "p_S1H"]', argument="sensitivity")
    points = _whole(value.get("points", DEFAULT_SENSITIVITY_POINTS), "sensitivity.points", 2,
                    MAX_SENSITIVITY_POINTS)
    outcomes = value.get("outcomes", ["nmb"])
    if (not isinstance(outcomes, list) or not outcomes
            or not all(isinstance(o, str) and o in OUTCOMES for o in outcomes)
            or len(set(outcomes)) != len(outcomes)):  # (hashable by now)
        raise bad_request(f"sensitivity.outcomes must be a list of different outcomes among "
                          f"{', '.join(OUTCOMES)}", argument="sensitivity")
    return {"wtp": wtp, "owsa": owsa or None, "twsa_pair": twsa, "points": points,
            "outcomes": outcomes}


def sensitivity_parameters(sensitivity: dict | None, allowed: list[str]) -> list[str]:
    """The parameters whose samples the sensitivity analyses need; 409 (as
    for EVPPI) for any not offered."""
    if sensitivity is None:
        return []
    owsa = sensitivity["owsa"]
    names = list(allowed) if owsa == EVERY_PARAMETER else list(owsa or [])
    for argument, group in (("owsa", names), ("twsa", sensitivity["twsa_pair"] or [])):
        refused = [name for name in group if name not in set(allowed)]
        if refused:
            raise conflict(
                f"sensitivity to {refused[0][:100]!r} is not offered (sensitivity.{argument}): "
                "the data owner offers the editable parameters and those listed in the "
                f"service's settings, as for EVPPI: {', '.join(allowed)}",
                evppi_parameters=allowed,
            )
    return names + list(sensitivity["twsa_pair"] or [])


def evppi_allowed(table: model.ParameterTable, owner_allows: Collection[str]) -> list[str]:
    """The parameters whose EVPPI this table's client may have, in table order."""
    every = EVERY_PARAMETER in owner_allows
    return [name for name, editable in zip(table.parameter, table.editable)
            if editable or every or name in owner_allows]


def check_groups(groups: list[list[str]], allowed: list[str]) -> None:
    offered = set(allowed)
    for position, group in enumerate(groups, start=1):
        refused = [name for name in group if name not in offered]
        if refused:
            raise conflict(
                f"EVPPI of {refused[0][:100]!r} is not offered (evppi group {position}): "
                "the data owner offers the EVPPI of the editable parameters and of those "
                f"listed in the service's settings: {', '.join(allowed)}",
                evppi_parameters=allowed,
            )


def guard_analysis(req: falcon.Request, text: str, table: model.ParameterTable,
                   allowed: list[str]) -> None:
    """The leak guard for analyses: no JSON string in the answer (key or
    value) may be the name of a parameter outside `allowed`.  A string is
    in JSON text exactly as json.dumps writes it, quotes included."""
    offered = set(allowed)
    leaked = [name for name in table.parameter
              if name not in offered and json.dumps(name) in text]
    if leaked:
        raise withheld(req, f"leak guard: analysis withheld, it names parameter(s) {leaked}")


class Analysis:
    def __init__(
        self,
        datasets: DatasetStore,
        default_dataset: str,
        max_body_bytes: int,
        max_samples: int,
        evppi_parameters: Collection[str] = (),
        ledger: RunLedger | None = None,
        runner: Runner = run_builtin_model,
        budget: Budget | None = None,
    ):
        self._budget = budget or Budget()
        self._datasets = datasets
        self._default_dataset = default_dataset
        self._max_body_bytes = max_body_bytes
        self._max_samples = max_samples
        self._evppi_parameters = tuple(evppi_parameters)
        self._ledger = ledger or RunLedger()
        self._runner = runner

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if _refuses_json(req.accept):
            raise ApiError(
                falcon.HTTP_406,
                f"cannot answer in any type the Accept header lists ({req.accept[:100]!r}): "
                "analyses come as application/json", available=["application/json"])
        arguments = read_arguments(req, self._max_body_bytes, extra=ANALYSIS_ARGUMENTS,
                                   max_samples=self._max_samples)
        wtp = read_wtp(arguments.extra.get("wtp"))
        evppi_wtp = arguments.extra.get("evppi_wtp")
        evppi_wtp = None if evppi_wtp is None else read_wtp(evppi_wtp, "evppi_wtp")
        groups = read_groups(arguments.extra.get("evppi"))
        method = read_method(arguments.extra.get("evppi_method"))
        order = read_order(arguments.extra.get("poly_order"))
        population = read_population(arguments.extra.get("population"))
        sensitivity = read_sensitivity(arguments.extra.get("sensitivity"))
        check_scope(req, arguments.updates)
        name = arguments.dataset if arguments.dataset is not None else self._default_dataset
        dataset = load_dataset(req, self._datasets, name)
        table = dataset.table
        allowed = evppi_allowed(table, self._evppi_parameters)
        check_groups(groups, allowed)
        extra_columns = sensitivity_parameters(sensitivity, allowed)
        options = {"population": population, "sensitivity": sensitivity,
                   "extra_columns": extra_columns}

        with self._budget.admit(req, arguments.n_samples, wtp=wtp, evppi_wtp=evppi_wtp,
                                groups=groups, method=method, order=order,
                                sensitivity=sensitivity, offered=allowed), \
                self._ledger.run(req, dataset, arguments.updates, arguments.seed) as audit:
            text = self._analyse(req, table, arguments, allowed, groups, wtp, evppi_wtp,
                                 method, order, audit, **options)
        audit.receipt.set_headers(resp)
        resp.content_type = falcon.MEDIA_JSON
        resp.text = text

    def _analyse(self, req, table, arguments, allowed, groups, wtp, evppi_wtp, method,
                 order, audit, population=None, sensitivity=None, extra_columns=()) -> str:
        """The run and its analyses, as JSON text with the provenance receipt."""
        results = run(self._runner, table, arguments)
        values = guard_results(req, results, table)
        # In the table's order (every name is offered by now): owsa's "*" lists the
        # parameters in that order, whatever the EVPPI groups named first.
        wanted = {*(n for group in groups for n in group), *extra_columns}
        requested = [name for name in allowed if name in wanted]
        samples = getattr(results, "samples", None)
        if requested and samples is None:
            req.context.error = "the runner returned no samples: EVPPI impossible"
            raise ApiError(falcon.HTTP_500, INTERNAL)
        strategies = model.STRATEGIES
        try:
            psa = PSA(
                values[:, :len(strategies)], values[:, len(strategies):], strategies,
                # Only the requested, allowed columns: nothing else is needed.
                np.column_stack([samples.columns[n] for n in requested]) if requested else None,
                requested,
            )
            # owsa "*": every column of the PSA (the offered ones) that varies.
            answer = analyse(psa, wtp, groups, method, order, evppi_wtp,
                             population=population, sensitivity=sensitivity)
        except model.ModelError as exc:
            raise model_error(exc, visible=allowed) from None
        audit.finish(seed=getattr(results, "seed", None), n_samples=len(values))
        answer["method"].update(seed=audit.seed, dataset=audit.dataset)
        answer["provenance"] = audit.receipt.as_dict()
        text = json.dumps(answer, allow_nan=False)
        guard_analysis(req, text, table, allowed)
        return text


def _refuses_json(accept: str) -> bool:
    try:
        return quality("application/json", accept) == 0
    except ValueError:  # a malformed Accept header: treat it as absent
        return False
