"""`ModelRun`: the steps every model request takes, in one place.

A resource that runs the model (/runDARTHmodel, /analysis) reads its
arguments (service/contract.py), picks its answer's format (`negotiate`),
and hands the rest to `ModelRun.run`::

    with model_run.run(req, arguments, check=refusals_that_need_the_table) as result:
        ...                                 # the endpoint's own work, audited
    result.receipt.set_headers(resp)

(`model_run.results(req, arguments)` when there is no more work to audit),

which, in this order: checks that the key may edit the parameters the
updates edit (403), opens the dataset (404/400/409), lets the endpoint
refuse what needs the table (`check`: 409, before any record), admits the
request (`admission`: see below), writes the audit start record, runs the
model (the model's errors as 409/422), guards the results (the leak guard:
500, the reason logged; results that are not finite: 409), and writes the
end record when the block is left (service/runs.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import falcon
import numpy as np
from falcon.util.mediatypes import quality

import model
from model.errors import MAX_QUOTED, quoted

from .contract import DEFAULT_UPDATES, Values
from .datasets import BadDatasetError, Dataset, DatasetError, DatasetNotFoundError, DatasetStore
from .errors import ApiError, bad_request, conflict, model_error
from .keys import ApiKey
from .runs import Receipt, Run, RunLedger

# (table, updates, seed, n_samples) -> results with `columns` and `values`
# (n_samples × 6), as model.PSAResults (or a pandas DataFrame) has them.
Runner = Callable[[model.ParameterTable, list, "int | None", int], Any]
# (req, arguments, checked) -> a context held while the request runs, or an
# ApiError; `checked` is what the endpoint's check found in the table.
Admission = Callable[[falcon.Request, Values, Any], AbstractContextManager]


def run_builtin_model(
    table: model.ParameterTable, updates: list, seed: int | None, n_samples: int
) -> Any:
    return model.run_psa(table, updates, seed=seed, n_samples=n_samples)


def admit_every_request(req: falcon.Request, arguments: Values, checked: Any = None) -> AbstractContextManager:
    return contextlib.nullcontext()


@dataclass
class Result:
    """A guarded model run, in its audit record's block."""

    dataset: Dataset
    results: Any  # as the runner returned them (samples, seed, columns)
    values: np.ndarray  # the n_samples × 6 results, finite
    audit: Run
    checked: Any  # what the endpoint's `check` returned

    @property
    def table(self) -> model.ParameterTable:
        return self.dataset.table

    @property
    def receipt(self) -> Receipt:
        return self.audit.receipt


class ModelRun:
    def __init__(self, datasets: DatasetStore, default_dataset: str, ledger: RunLedger,
                 runner: Runner = run_builtin_model,
                 admission: Admission = admit_every_request):
        self._datasets = datasets
        self._default_dataset = default_dataset
        self._ledger = ledger
        self._runner = runner
        self._admission = admission

    def dataset(self, req: falcon.Request, name: str | None) -> Dataset:
        """The named dataset (None: the configured default) and its SHA-256:
        404 if the data folder holds none by that name, 400 if the name is
        refused (a URL, a path: the document's pattern), 409 (the reason
        logged, not told) if it is not a valid table."""
        name = self._default_dataset if name is None else name
        try:
            return self._datasets.open(name)
        except DatasetNotFoundError as exc:
            raise ApiError(falcon.HTTP_404, str(exc)) from None
        except DatasetError as exc:
            raise bad_request(str(exc)) from None
        except BadDatasetError as exc:
            req.context.error = str(exc)
            raise conflict(
                f"dataset {quoted(name)} is not a valid parameter table; contact the data owner",
            ) from None

    def results(self, req: falcon.Request, arguments: Values) -> Result:
        """`run` with nothing more to do in the audited block."""
        with self.run(req, arguments) as result:
            return result

    @contextlib.contextmanager
    def run(self, req: falcon.Request, arguments: Values,
            check: Callable[[model.ParameterTable], Any] = lambda table: None,
            ) -> Iterator[Result]:
        check_scope(req, arguments.updates)
        dataset = self.dataset(req, arguments.dataset)
        checked = check(dataset.table)
        # The one place a request is admitted before it runs: the per-request
        # cost check and the per-key concurrency limit belong in `admission`
        # (refused: no audit record; admitted: held until the run ends).
        with self._admission(req, arguments, checked), \
                self._ledger.run(req, dataset, arguments.updates, arguments.seed) as audit:
            results = self._run(dataset.table, arguments)
            values = guard_results(req, results, dataset.table)
            audit.finish(seed=getattr(results, "seed", None), n_samples=len(values))
            yield Result(dataset, results, values, audit, checked)

    def _run(self, table: model.ParameterTable, arguments: Values) -> Any:
        """The PSA of these arguments; the model's errors as 409 or 422 (model_error)."""
        try:
            return self._runner(table, arguments.updates, arguments.seed, arguments.n_samples)
        except model.ModelError as exc:
            # The sampled values of non-editable parameters are the data
            # owner's to keep: the client sees only those it controls.
            raise model_error(exc, visible=table.editable_parameters) from None


def check_scope(req: falcon.Request, updates: Iterable[dict]) -> None:
    """403 if the request's key may not edit a parameter that `updates` edit."""
    key: ApiKey | None = req.context.get("api_key")
    if key is None:
        return
    # The original's default updates (sent when the client sends none) are
    # the service's, not the client's edits: every key may have them.
    edited = (r["parameter"] for r in updates if r not in DEFAULT_UPDATES)
    refused = [name[:MAX_QUOTED] for name in key.refused_parameters(edited)]
    if refused:
        allowed = sorted(key.parameters or ())
        req.context.error = f"key {key.name!r} out of scope: {len(refused)} parameter(s)"
        raise ApiError(
            falcon.HTTP_403,
            f"this API key ({key.name}) may not edit {', '.join(refused[:20])}; it may edit: "
            + (", ".join(allowed) or "no parameter (send param_updates=[])"),
            refused_parameters=refused[:20],
            allowed_parameters=allowed,
        )


def negotiate(accept: str, offered: tuple[str, ...], what: str) -> str:
    """The media type of `offered` that Accept ranks highest (a tie: the
    first offered, as is a malformed Accept header); 406 if it takes none.
    `what` names the answers in the 406's message."""
    try:
        ranks = [quality(media_type, accept) for media_type in offered]
    except ValueError:  # a malformed Accept header: treat it as absent
        return offered[0]
    best = max(ranks)
    if best == 0:
        raise ApiError(
            falcon.HTTP_406,
            f"cannot answer in any type the Accept header lists ({accept[:100]!r}): "
            f"{what} come as {' or '.join(offered)}",
            available=list(offered),
        )
    return offered[ranks.index(best)]


def withheld(req: falcon.Request, reason: str) -> ApiError:
    """The leak guard's 500: the reason goes to the log, not to the client."""
    req.context.error = reason
    return ApiError(
        falcon.HTTP_500,
        "internal server error: the result failed a safety check and was withheld; "
        "the failure has been logged",
    )


def guard_results(
    req: falcon.Request, results: Any, table: model.ParameterTable
) -> np.ndarray:
    """The original's leak guard, and a shape check: only the six result
    columns ever leave the service, never a parameter (the client's data)."""
    columns = [str(c) for c in getattr(results, "columns", [])]
    leaked = sorted(set(columns) & set(table.parameter))
    values = getattr(results, "values", None)
    if leaked:
        problem = f"include parameter(s) {leaked}"
    elif tuple(columns) != model.RESULT_COLUMNS:
        problem = "are not the result columns"
    elif not (isinstance(values, np.ndarray) and values.ndim == 2
              and values.shape[1] == len(columns)):
        problem = "are not over an n × 6 array of values"
    else:
        problem = None
    if problem:
        raise withheld(req, f"leak guard: result withheld, columns {columns[:30]} {problem}")
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).all():
        # Which updates overflow depends on the dataset's other parameters.
        raise conflict(
            "the model's costs or QALYs overflowed to infinity or NaN for these updates: "
            "check the updated distributions' parameters (v1, v2)",
        )
    return values
