"""Request log: one JSON line per request on stdout (the original's logger
filter, made machine-readable for CloudWatch and friends).

Fields: time (UTC, ISO 8601), method (or "(other)" for a token that is no
HTTP method), path, status, duration_ms, user_agent,
remote_addr, forwarded_for (when a proxy set it), auth (open / ok / missing /
invalid / throttled: refused by service/throttle.py / none: the request
never reached the key check), key_name (the name of the key that matched,
service/keys.py), for a run its estimated peak memory and time
(estimate_mib, estimate_seconds: service/budget.py) and, when the
service refused or failed a request, error (the server-side reason).

Never logged: the key header, any other header, the request body, and the
query string (a client may well paste a key or a data path into it).  The
fields a client can write into (user_agent, forwarded_for, and error, which
may quote a dataset name) have every configured key replaced by
"[key redacted]" before they are cut to length, so a key pasted into the
wrong header does not reach the log either.  The
path is the route's template (`/runDARTHmodel`, `/__docs__/{asset}`), or
"(no route)": a path no route matched is the client's text, and may be a
pasted key too (tests/service/test_secrets_logs.py checks it).  Each line is written with one call and
flushed, so lines from several workers sharing stdout do not interleave.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TextIO

import falcon

MAX_FIELD = 256  # user agents are client-controlled: cap them
UNROUTED = "(no route)"
REDACTED = "[key redacted]"
# The method is the client's text too (gunicorn passes any token): logged
# when it is an HTTP method Falcon knows, else as "(other)".
KNOWN_METHODS = frozenset(falcon.COMBINED_METHODS)
OTHER_METHOD = "(other)"


def redacted(text: str, keys: Iterable[str]) -> str:
    """`text` with every one of `keys` replaced by "[key redacted]"."""
    # Longest first, so a key that contains another is redacted whole.
    for key in sorted({k for k in keys if k}, key=len, reverse=True):
        if key in text:
            text = text.replace(key, REDACTED)
    return text


def logged_method(req: falcon.Request) -> str:
    return req.method if req.method in KNOWN_METHODS else OTHER_METHOD


def logged_path(req: falcon.Request) -> str:
    return req.uri_template or UNROUTED


class RequestLog:
    def __init__(
        self,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        redact: Callable[[], Iterable[str]] = tuple,
    ):
        self._stream = stream
        self._clock = clock
        self._wall_clock = wall_clock
        self._redact = redact  # the keys in force now (they may be rotated)

    def _clean(self, text: str, limit: int | None = MAX_FIELD) -> str:
        text = redacted(text, self._redact())
        return text if limit is None else text[:limit]

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = self._clock()
        req.context.auth = "none"
        req.context.error = None

    def process_response(self, req, resp, resource, req_succeeded: bool) -> None:
        context = req.context
        if context.get("log") is False and req_succeeded:
            return  # the resource asked for no line (the front's key check, passed)
        now = self._clock()
        started = context.get("started", now)
        entry = {
            "time": self._wall_clock().isoformat(timespec="milliseconds"),
            "method": logged_method(req),
            "path": logged_path(req),
            "status": int(falcon.code_to_http_status(resp.status)[:3]),
            "duration_ms": round((now - started) * 1000, 2),
            "user_agent": self._clean(req.user_agent or ""),
            "remote_addr": req.remote_addr,
            "auth": context.get("auth", "none"),
        }
        if context.get("api_key") is not None:
            entry["key_name"] = context.api_key.name
        forwarded = req.get_header("X-Forwarded-For")
        if forwarded:
            entry["forwarded_for"] = self._clean(forwarded)
        cost = context.get("cost")
        if cost is not None:
            entry["estimate_mib"] = round(cost.peak_mib, 1)
            entry["estimate_seconds"] = round(cost.seconds, 3)
        if context.get("error"):
            entry["error"] = self._clean(str(context.error), limit=None)
        stream = self._stream or sys.stdout
        stream.write(json.dumps(entry, separators=(",", ":")) + "\n")
        stream.flush()
