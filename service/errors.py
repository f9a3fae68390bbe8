"""One error shape for every failure: ``{"error": "<message>", ...detail}``.

`ApiError` is the service's own `falcon.HTTPError`: a status, a message a
client can act on, and optional detail fields (the parameter at fault, the
editable parameters…).  Falcon's own errors (404, 405, bad headers) are
rendered the same way by `serialize_error`.  Anything else that escapes a
responder is a bug: `handle_unexpected` answers 500 without detail and
writes the traceback to stderr, never to the client.
"""

from __future__ import annotations

import json
import logging
import math
import traceback
from collections.abc import Collection
from typing import Any

import falcon

from model.errors import (
    MAX_QUOTED,
    DistributionError,
    InvalidTransitionMatrixError,
    ModelError,
    NotEditableError,
    UnknownParameterError,
    UpdateFormatError,
)

from .request_log import logged_method, logged_path

log = logging.getLogger("service")

# The original's texts (API.md); clients may match on them.
KEY_MISSING = (
    "Authentication required. Please add your API key to the HEADER object using the "
    "'key' value and/or contact API administrator."
)
KEY_INVALID = (
    "Authentication failed. Please make sure you have authorisation to access the API "
    "and/or contact API administrator."
)
INTERNAL = "internal server error: the failure has been logged"
# A record's form and its distribution's v1/v2 bounds: the same rules on any
# dataset, stated by the document's ParamUpdates schema (all but random
# uniform's min <= max, a rule across two fields JSON Schema cannot state).
# Every other ModelError depends on the dataset: 409.
INVALID_WHATEVER_THE_DATA = (UpdateFormatError, DistributionError)


class ApiError(falcon.HTTPError):
    def __init__(self, status: str | int, message: str, **detail: Any):
        super().__init__(status, description=message)
        self.detail = detail


def bad_request(message: str, **detail: Any) -> ApiError:
    return ApiError(falcon.HTTP_400, message, **detail)


def conflict(message: str, **detail: Any) -> ApiError:
    """409: a well-formed request that the data owner's table or settings
    refuse (a parameter not editable, updates that give invalid transition
    probabilities, an EVPPI not offered...).  The public document cannot
    state these rules, which depend on confidential data; it states the
    others, so what it allows is refused, if at all, with a 404 (no such
    dataset) or a 409, not a 400/422 (but random uniform's min <= max)."""
    return ApiError(falcon.HTTP_409, message, **detail)


def model_error(exc: ModelError, visible: Collection[str] | None = None) -> ApiError:
    """The model's message, which names what to change, and its facts as
    detail fields: 422 for a record that is invalid whatever the data (the
    rules the OpenAPI document states), 409 for what only the dataset can
    tell (`conflict`).  Values of parameters not in `visible` (all visible
    if None) are withheld from both."""
    detail: dict[str, Any] = {"kind": type(exc).__name__}
    message = str(exc)
    if exc.update is not None:
        detail["update"] = exc.update
    if isinstance(exc, UnknownParameterError):
        detail.update(parameter=exc.parameter[:MAX_QUOTED], editable=exc.editable)
    elif isinstance(exc, (NotEditableError, DistributionError)):
        detail["parameter"] = exc.parameter[:MAX_QUOTED]
    elif isinstance(exc, UpdateFormatError) and exc.parameter is not None:
        detail["parameter"] = exc.parameter[:MAX_QUOTED]
    elif isinstance(exc, InvalidTransitionMatrixError):
        message = exc.describe(visible)
        detail.update(
            sample=exc.sample,
            strategy=exc.strategy,
            transition=exc.transition,
            probability=_finite_or_none(exc.probability),
            values={k: _finite_or_none(v) for k, v in exc.visible_values(visible).items()},
            invalid_samples=exc.n_invalid,
        )
    status = falcon.HTTP_422 if isinstance(exc, INVALID_WHATEVER_THE_DATA) else falcon.HTTP_409
    return ApiError(status, message, **detail)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def error_body(error: falcon.HTTPError) -> dict[str, Any]:
    message = error.description or error.title or str(error.status)
    body = {"error": message}
    body.update(getattr(error, "detail", None) or {})
    return body


def serialize_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError):
    """Always JSON, whatever the Accept header: the contract has one error shape."""
    resp.content_type = falcon.MEDIA_JSON
    resp.text = json.dumps(error_body(error))


def handle_unexpected(req, resp, ex, params):
    """Registered for `Exception`; Falcon's more specific HTTPError handler wins.

    The traceback is logged without the exception's message, and with the
    route's template, not the path: either may quote what the client sent
    (a key, a dataset's name)."""
    log.error("unhandled %s in %s %s (message not logged)\n%s", ex.__class__.__name__,
              logged_method(req), logged_path(req), traceback_without_message(ex))
    req.context.error = f"unhandled {ex.__class__.__name__}"
    raise ApiError(falcon.HTTP_500, INTERNAL)


def traceback_without_message(ex: BaseException) -> str:
    """Where `ex` was raised (its frames and class), not what it says: an
    exception's message may quote what a client sent."""
    frames = "".join(traceback.format_tb(ex.__traceback__)).rstrip()
    return f"Traceback (most recent call last):\n{frames}\n{ex.__class__.__name__} (message not logged)"
