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

from collections.abc import Iterator

import falcon
import numpy as np

import model
from model.results import STREAM_ROWS, iter_csv, number_blocks

from ..contract import Arguments
from ..pipeline import ModelRun, negotiate

CSV = "text/csv; charset=UTF-8"
FORMATS = ("text/csv", "application/json")  # a tie: CSV, as the original


class RunModel:
    def __init__(self, model_run: ModelRun, arguments: Arguments, max_body_bytes: int):
        self._model_run = model_run
        self._arguments = arguments
        self._max_body_bytes = max_body_bytes

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        as_json = negotiate(req.accept, FORMATS, "results") == "application/json"
        arguments = self._arguments.read(req, self._max_body_bytes)
        result = self._model_run.results(req, arguments)
        result.receipt.set_headers(resp)
        resp.content_type = falcon.MEDIA_JSON if as_json else CSV
        pieces = iter_json_records(result.values) if as_json else iter_csv(result.results)
        if len(result.values) <= STREAM_ROWS:
            resp.data = b"".join(pieces)
        else:
            resp.stream = pieces


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
