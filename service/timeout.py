"""A time budget per request, below gunicorn's worker timeout.

gunicorn kills a sync worker that has been silent for `GUNICORN_TIMEOUT`
seconds: the client then sees its connection dropped, with no answer, and
the request log never gets a line.  This middleware arms a one-shot
`SIGALRM` timer when a request arrives (before its body is read, so a slow
upload counts too) and disarms it when the response is ready.  If the
budget runs out first, the signal handler raises a 503 with a JSON body
inside the responder (a 408 if the body is still arriving: the client's
slowness), wherever Python is running (between two bytecodes:
a model run is many short NumPy calls), Falcon renders it like any other
error, the request log records it, and the worker goes on serving.

This relies on gunicorn's sync workers: one request at a time per process,
handled in the main thread, which is where signals are delivered.  Off the
main thread (a threaded test server, say) the budget is not enforced and
gunicorn's own timeout remains the only limit.
"""

from __future__ import annotations

import math
import signal
import threading

import falcon

from .errors import ApiError


class RequestTimedOut(ApiError):
    def __init__(self, budget: float):
        super().__init__(
            falcon.HTTP_503,
            f"the request took longer than this service allows ({budget:g} s) and was "
            "stopped; try again, and contact the administrator if it keeps happening",
            limit_seconds=budget,
        )
        self.headers = {"Retry-After": str(max(1, math.ceil(budget)))}


class TimeBudget:
    def __init__(self, seconds: float):
        if not seconds > 0:
            raise ValueError(f"a time budget must be > 0 s, got {seconds!r}")
        self._seconds = seconds
        self._armed = False

    def _expired(self, signum, frame) -> None:
        if self._armed:  # a late signal after the response was ready is ignored
            self._armed = False
            raise RequestTimedOut(self._seconds)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGALRM, self._expired)
        self._armed = True
        signal.setitimer(signal.ITIMER_REAL, self._seconds)

    def process_response(self, req, resp, resource, req_succeeded: bool) -> None:
        if self._armed:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)


class BodyTimedOut(ApiError):
    def __init__(self, budget: float):
        super().__init__(
            falcon.HTTP_408,
            f"the request body did not arrive within the time this service allows "
            f"({budget:g} s): send it at once, and check the Content-Length or chunked "
            "encoding you send",
            limit_seconds=budget,
        )
        self.headers = {"Connection": "close"}


def handle_timed_out(req, resp, ex: RequestTimedOut, params):
    """Registered for `RequestTimedOut`: note it for the request log, answer
    503, or 408 when the time ran out while the body was still arriving
    (service/arguments.py's read_body marks it): the client's slowness, or a
    body shorter than it said, is no fault of the service."""
    budget = ex.detail["limit_seconds"]
    if req.context.get("reading_body"):
        req.context.error = f"body not received within the time budget of {budget:g} s"
        raise BodyTimedOut(budget) from None
    req.context.error = f"time budget of {budget:g} s exceeded"
    raise ex
