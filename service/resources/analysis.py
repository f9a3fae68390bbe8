"""POST /analysis: run the PSA once and return every decision analysis of
it, as dampack computes them (model/analysis): summary, ICER table with 95 %
intervals, CEAC with its frontier, expected loss, EVPI, and the EVPPI of
the requested parameter groups, in one JSON object.

The arguments (declared in service/contract.py) are /runDARTHmodel's (same
parsing, same defaults, same pipeline: the same results for the same seed)
plus `wtp`, `evppi`, `evppi_wtp` (default: `wtp`), `evppi_method` and
`poly_order`.  The seed used is reported (chosen when none was sent), so
every answer can be reproduced.

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

import falcon
import numpy as np

import model
from model.analysis import PSA, analyse

from ..contract import EVERY_PARAMETER, Arguments, Values
from ..errors import INTERNAL, ApiError, conflict, model_error
from ..pipeline import ModelRun, Result, negotiate, withheld


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
    def __init__(self, model_run: ModelRun, arguments: Arguments, max_body_bytes: int,
                 evppi_parameters: Collection[str] = ()):
        self._model_run = model_run
        self._arguments = arguments
        self._max_body_bytes = max_body_bytes
        self._evppi_parameters = tuple(evppi_parameters)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        negotiate(req.accept, ("application/json",), "analyses")
        arguments = self._arguments.read(req, self._max_body_bytes)

        def offered(table: model.ParameterTable) -> tuple[list[str], list[str]]:
            """The parameters this table's client may analyse, and those the
            sensitivity analyses need; 409 for any other asked for."""
            allowed = evppi_allowed(table, self._evppi_parameters)
            check_groups(arguments["evppi"], allowed)
            return allowed, sensitivity_parameters(arguments["sensitivity"], allowed)

        with self._model_run.run(req, arguments, check=offered) as result:
            text = _analyse(req, result, arguments)
        result.receipt.set_headers(resp)
        resp.content_type = falcon.MEDIA_JSON
        resp.text = text


def _analyse(req: falcon.Request, result: Result, arguments: Values) -> str:
    """The run's analyses, as JSON text with the provenance receipt."""
    (allowed, extra_columns), groups = result.checked, arguments["evppi"]
    # In the table's order (every name is offered by now): owsa's "*" lists the
    # parameters in that order, whatever the EVPPI groups named first.
    wanted = {*(n for group in groups for n in group), *extra_columns}
    requested = [name for name in allowed if name in wanted]
    samples = getattr(result.results, "samples", None)
    if requested and samples is None:
        req.context.error = "the runner returned no samples: EVPPI impossible"
        raise ApiError(falcon.HTTP_500, INTERNAL)
    strategies, values = model.STRATEGIES, result.values
    try:
        psa = PSA(
            values[:, :len(strategies)], values[:, len(strategies):], strategies,
            # Only the requested, allowed columns: nothing else is needed.
            np.column_stack([samples.columns[n] for n in requested]) if requested else None,
            requested,
        )
        # owsa "*": every column of the PSA (the offered ones) that varies.
        answer = analyse(psa, arguments["wtp"], groups, arguments["evppi_method"],
                         arguments["poly_order"], arguments["evppi_wtp"],
                         population=arguments["population"],
                         sensitivity=arguments["sensitivity"], units=result.dataset.metadata)
    except model.ModelError as exc:
        raise model_error(exc, visible=allowed) from None
    answer["method"].update(seed=result.audit.seed, dataset=result.audit.dataset)
    answer["provenance"] = result.receipt.as_dict()
    text = json.dumps(answer, allow_nan=False)
    guard_analysis(req, text, result.table, allowed)
    return text
