"""Where a request's arguments come from, and how their text is read: the
transport under the contract (service/contract.py declares the arguments
themselves, and reads each value).

The original (plumber) took its arguments from the query string and the
body alike; clients send them as a query string, an urlencoded form, a
multipart form (R's httr does: see the reference httr_request.txt) or a
JSON object.  `collect` accepts all four and returns the values by name,
or raises an `ApiError` that says what to fix:

* 400 — the request cannot be read: malformed JSON, an unknown or repeated
  argument, a null where the argument takes none;
* 413 — the body is over the configured limit;
* 415 — the body is in a media type not listed above.

In a form or the query string every value is text (a `Text`); in a JSON
body it is JSON's own value.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Collection
from typing import Any

import falcon
from falcon.media.multipart import MultipartFormHandler, MultipartParseError
from falcon.util.mediatypes import parse_header
from falcon.util.uri import parse_query_string

from .errors import ApiError, bad_request

BODY_MEDIA_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
)
_DIGITS = re.compile(r"[0-9]{1,19}")
_MULTIPART = MultipartFormHandler()


class Text(str):
    """A value that arrived as text (query string, form): numbers and JSON
    are read from its text; in a JSON body they must be JSON's own."""


def collect(req: falcon.Request, accepted: tuple[str, ...], max_body_bytes: int | None,
            nullable: Collection[str] = ()) -> dict[str, Any]:
    """The values of the `accepted` arguments, by name, from the query
    string and (unless `max_body_bytes` is None: no body read) the body;
    400 for an unknown argument, one given twice, or a null where
    `nullable` does not name the argument."""
    sources = [_query_arguments(req)]
    together = ""
    if max_body_bytes is not None:
        sources.append(_body_arguments(req, max_body_bytes))
        together = " (query string and body count together)"
    values: dict[str, Any] = {}
    for source in sources:
        for name, value in source:
            if name not in accepted:
                raise bad_request(
                    f"unknown argument {name[:100]!r}; accepted: {', '.join(accepted)}",
                    argument=name[:100],
                )
            if name in values:
                raise bad_request(
                    f"argument {name!r} is given more than once{together}: give it once",
                    argument=name,
                )
            if value is None and name not in nullable:
                raise bad_request(f"{name} must not be null: leave it out for the default")
            values[name] = value
    return values


def _query_arguments(req: falcon.Request):
    for name, value in parse_query_string(req.query_string, keep_blank=True).items():
        for item in value if isinstance(value, list) else [value]:
            yield name, Text(item)  # a repeated name is reported as given twice


# A body over the limit is still read (and dropped) up to this many times
# the limit before the 413: a server that answers and closes while its
# client (the front) is still sending gets the connection reset under the
# answer, and the front then answers 502 for what is the client's fault.
DRAIN_FACTOR = 4
_DRAIN_CHUNK = 64 * 1024


def read_body(req: falcon.Request, limit: int) -> bytes:
    if req.content_length is not None and req.content_length > limit:
        _drain(req, req.bounded_stream, req.content_length, limit)
        raise _too_large(limit)
    # While set, a time budget that runs out is the client's slowness: 408
    # (service/timeout.py), not the service's 503.
    req.context.reading_body = True
    try:
        if req.content_length is not None:
            body = req.bounded_stream.read()
        elif req.env.get("wsgi.input_terminated"):
            # A chunked body (gunicorn delimits it): read one byte past the limit.
            body = req.stream.read(limit + 1)
        else:
            body = b""  # no length and a server that cannot delimit the body: none
    except falcon.HTTPError:
        raise  # the time budget ran out while the body arrived (the flag stays set)
    except Exception as exc:
        # The server's reader refused the body as sent (gunicorn: a bad chunk
        # size, a chunk without its CRLF, the connection closed mid-body).
        # The client's fault, not a 500; and the reader's message quotes the
        # client's bytes, so only its class is kept.
        req.context.error = f"body unreadable: {exc.__class__.__name__}"
        error = bad_request(
            "the request body could not be read: malformed chunked encoding, or the "
            "body ended before its declared length"
        )
        error.headers = {"Connection": "close"}  # the rest of the stream is unreadable too
        raise error from None
    req.context.reading_body = False
    if len(body) > limit:
        _drain(req, req.stream, None, limit)  # the rest of a chunked body
        raise _too_large(limit)
    return body


def _drain(req: falcon.Request, stream, length: int | None, limit: int) -> None:
    """Read and drop what is left of a body that is over the limit, up to
    DRAIN_FACTOR times the limit (beyond that the connection is closed
    under it, as before); a read that fails or stalls ends the draining."""
    if length is not None and length > DRAIN_FACTOR * limit:
        return
    req.context.reading_body = True
    budget = DRAIN_FACTOR * limit
    try:
        while budget > 0 and (chunk := stream.read(min(_DRAIN_CHUNK, budget))):
            budget -= len(chunk)
    except falcon.HTTPError:
        raise  # the time budget ran out while the body arrived: 408
    except Exception:
        pass  # unreadable (a bad chunk, the client gone): the 413 stands
    req.context.reading_body = False


def _too_large(limit: int) -> ApiError:
    return ApiError(
        falcon.HTTP_413, f"request body is larger than this service accepts ({limit} bytes)",
        limit=limit,
    )


def _body_arguments(req: falcon.Request, limit: int):
    body = read_body(req, limit)
    if not body:
        return []
    media_type, options = parse_header(req.content_type or "")
    media_type = media_type.lower()
    if media_type == "application/json":
        document = parse_json(body, "the request body")
        if not isinstance(document, dict):
            raise bad_request(
                "the JSON body must be an object, e.g. "
                '{"param_updates": [{"parameter": "p_HS1", "distribution": "beta", '
                '"v1": 25, "v2": 150}]}'
            )
        return list(document.items())
    if media_type == "application/x-www-form-urlencoded":
        text = _text(body, "the form body")
        return list(_pairs(parse_query_string(text, keep_blank=True)))
    if media_type == "multipart/form-data":
        return _multipart(body, req.content_type)
    raise ApiError(
        falcon.HTTP_415,
        f"unsupported media type {media_type or '(no Content-Type)'!r}: send "
        + ", ".join(BODY_MEDIA_TYPES),
        accepted=list(BODY_MEDIA_TYPES),
    )


def _pairs(parsed: dict[str, Any]):
    for name, value in parsed.items():
        for item in value if isinstance(value, list) else [value]:
            yield name, Text(item)


def _multipart(body: bytes, content_type: str) -> list[tuple[str, str]]:
    pairs = []
    try:
        form = _MULTIPART.deserialize(io.BytesIO(body), content_type, len(body))
        for part in form:
            if not part.name:
                raise bad_request("a multipart part has no name: name it as the argument")
            text = _text(part.get_data(), f"multipart part {part.name[:100]!r}")
            pairs.append((part.name, Text(text)))
    except (MultipartParseError, falcon.HTTPInvalidHeader) as exc:
        raise bad_request(f"malformed multipart body: {exc.description}") from None
    except UnicodeDecodeError:  # a part's headers (its name) are not UTF-8
        raise bad_request("malformed multipart body: a part's headers are not UTF-8 text") from None
    return pairs


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(f"{what} is not UTF-8 text") from None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a name given twice (Python's json keeps the
    last one silently; the README says each argument at most once)."""
    document = dict(pairs)
    if len(document) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return document


def _lone_surrogate(value: Any) -> str | None:
    """The first string (key or value) in a parsed document that holds a
    lone UTF-16 surrogate (JSON's "\\ud800": valid syntax, no character;
    os.path and UTF-8 writers fail on it), or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def parse_json(data: bytes | str, what: str) -> Any:
    """JSON text, strictly: no NaN/Infinity, no name twice in an object, no
    lone surrogate; 400 (422 for a repeated name) that says where."""
    try:
        text = data if isinstance(data, str) else data.decode("utf-8")
        document = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object)
    except _DuplicateKey as exc:
        key = exc.key.encode("utf-8", "backslashreplace").decode("utf-8")[:100]
        raise ApiError(falcon.HTTP_422, f"{what}: the name {key!r} is given more than once in "
                       "one JSON object: give each name once", key=key) from None
    except UnicodeDecodeError:
        raise bad_request(f"{what} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise bad_request(f"{what} is not valid JSON: {exc}"[:300]) from None
    found = _lone_surrogate(document)
    if found is not None:
        shown = found.encode("utf-8", "backslashreplace").decode("utf-8")
        raise bad_request(f"{what} holds a lone UTF-16 surrogate ({shown[:100]!r}): an escape "
                          "such as \\ud800 that is half of a pair is no character; send text")
    return document


def json_argument(name: str, value: Any) -> Any:
    """An argument that may hold JSON: parsed when it came as text (query
    string, form, or a string in a JSON body), as it is otherwise."""
    return parse_json(value, name) if isinstance(value, str) else value


def whole_number_argument(value: Any) -> Any:
    """Digits sent as text (query string, form) as an int; anything else as
    it is, for the caller to check."""
    if isinstance(value, Text) and _DIGITS.fullmatch(value):
        return int(value)
    return value
