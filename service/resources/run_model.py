"""POST /runDARTHmodel: run the PSA and return its n_samples × 6 results
(1000 by default, as the original).

CSV (the original's header and format) unless the client prefers JSON
(records, one object per sample): an Accept header that ranks
application/json above text/csv.  R's httr sends
``application/json, text/xml, application/xml, */*``, which ranks them
equal, and gets CSV as from the original (httr turns it into a data frame).
Up to STREAM_ROWS results go out in one piece with a Content-Length; more
are streamed (chunked) a block of rows at a time, so that a large run never
holds its whole text in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import falcon
from falcon.util.mediatypes import quality
import numpy as np

import model
from model.results import STREAM_ROWS, iter_csv, number_blocks
from model.errors import quoted

from ..arguments import RunArguments, read_arguments
from ..auth import check_scope
from ..budget import Budget
from ..datasets import BadDatasetError, Dataset, DatasetError, DatasetNotFoundError, DatasetStore
from ..errors import ApiError, bad_request, conflict, model_error
from ..runs import RunLedger

CSV = "text/csv; charset=UTF-8"
# (table, updates, seed, n_samples) -> results with `columns` and `values`
# (n_samples × 6), as model.PSAResults (or a pandas DataFrame) has them.
Runner = Callable[[model.ParameterTable, list, "int | None", int], Any]


def run_builtin_model(
    table: model.ParameterTable, updates: list, seed: int | None, n_samples: int
) -> Any:
    return model.run_psa(table, updates, seed=seed, n_samples=n_samples)


class RunModel:
    def __init__(
        self,
        datasets: DatasetStore,
        default_dataset: str,
        max_body_bytes: int,
        max_samples: int,
        ledger: RunLedger,
        runner: Runner = run_builtin_model,
        budget: Budget | None = None,
    ):
        self._budget = budget or Budget()
        self._datasets = datasets
        self._default_dataset = default_dataset
        self._max_body_bytes = max_body_bytes
        self._max_samples = max_samples
        self._ledger = ledger
        self._runner = runner

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        as_json = wants_json(req.accept)
        arguments = read_arguments(req, self._max_body_bytes, max_samples=self._max_samples)
        check_scope(req, arguments.updates)
        name = arguments.dataset if arguments.dataset is not None else self._default_dataset
        dataset = load_dataset(req, self._datasets, name)
        table = dataset.table
        with self._budget.admit(req, arguments.n_samples), \
                self._ledger.run(req, dataset, arguments.updates, arguments.seed) as audit:
            results = run(self._runner, table, arguments)
            values = guard_results(req, results, table)
            audit.finish(seed=getattr(results, "seed", None), n_samples=len(values))
        audit.receipt.set_headers(resp)
        resp.content_type = falcon.MEDIA_JSON if as_json else CSV
        pieces = iter_json_records(values) if as_json else iter_csv(results)
        if len(values) <= STREAM_ROWS:
            resp.data = b"".join(pieces)
        else:
            resp.stream = pieces


def load_dataset(req: falcon.Request, datasets: DatasetStore, name: str) -> Dataset:
    """The named dataset (its table and SHA-256): 404 if the data folder
    holds none by that name, 400 if the name is refused (a URL, a path: the
    document's pattern), 409 (the reason logged, not told) if it is not a
    valid table."""
    try:
        return datasets.open(name)
    except DatasetNotFoundError as exc:
        raise ApiError(falcon.HTTP_404, str(exc)) from None
    except DatasetError as exc:
        raise bad_request(str(exc)) from None
    except BadDatasetError as exc:
        req.context.error = str(exc)
        raise conflict(
            f"dataset {quoted(name)} is not a valid parameter table; contact the data owner",
        ) from None


def run(runner: Runner, table: model.ParameterTable, arguments: RunArguments) -> Any:
    """The PSA of these arguments; the model's errors as 409 or 422 (model_error)."""
    try:
        return runner(table, arguments.updates, arguments.seed, arguments.n_samples)
    except model.ModelError as exc:
        # The sampled values of non-editable parameters are the data
        # owner's to keep: the client sees only those it controls.
        raise model_error(exc, visible=table.editable_parameters) from None


def wants_json(accept: str) -> bool:
    """True if Accept ranks JSON above CSV; 406 if it accepts neither."""
    try:
        csv = quality("text/csv", accept)
        json_ = quality("application/json", accept)
    except ValueError:  # a malformed Accept header: treat it as absent
        return False
    if csv == 0 and json_ == 0:
        raise ApiError(
            falcon.HTTP_406,
            f"cannot answer in any type the Accept header lists ({accept[:100]!r}): "
            "results come as text/csv or application/json",
            available=["text/csv", "application/json"],
        )
    return json_ > csv


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


# The numbers' text (model.results.number_blocks: shortest round trip, and
# valid JSON for the finite values allowed here) into one record template.
_RECORD = ("{" + ",".join(f'"{c}":%b' for c in model.RESULT_COLUMNS) + "}").encode()


def iter_json_records(values: np.ndarray) -> Iterator[bytes]:
    """[{column: value, …}, …], a block of records at a time."""
    yield b"["
    for index, (n_rows, text) in enumerate(number_blocks(values)):
        records = b",".join([_RECORD] * n_rows) % tuple(text.replace(b"\n", b",").split(b","))
        yield b"," + records if index else records
    yield b"]"
