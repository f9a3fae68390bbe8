"""API-key check: header ``key``, as the original.

Missing or empty → 401, not one of the configured keys → 403, with the
original's messages.  The given key is compared with *every* configured key
with `hmac.compare_digest`, so the time taken says nothing about which key,
or how much of one, matched.

Which resources are open (no key needed) is declared once, where the routes
are added (`service.app`): this middleware gets that set of resource objects
and never looks at the path.  Requests that match no route pass through
`require_key` too (from the not-found sink), so without a key every unknown
path is a 401, as in the original.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

import falcon

from .errors import KEY_INVALID, KEY_MISSING, ApiError

# Values of req.context.auth, logged by the request log.
OPEN, OK, MISSING, INVALID = "open", "ok", "missing", "invalid"


class KeyAuth:
    def __init__(self, keys: Iterable[str], open_resources: Iterable[object]):
        self._keys = tuple(key.encode("utf-8") for key in keys)
        if not self._keys:
            raise ValueError("KeyAuth needs at least one key")
        self._open = frozenset(id(resource) for resource in open_resources)

    def process_resource(self, req: falcon.Request, resp, resource, params) -> None:
        if id(resource) in self._open:
            req.context.auth = OPEN
        else:
            self.require_key(req)

    def require_key(self, req: falcon.Request) -> None:
        given = req.get_header("key")
        if not given:
            req.context.auth = MISSING
            raise ApiError(falcon.HTTP_401, KEY_MISSING)
        # WSGI headers are latin-1 strings; this gives back the bytes sent.
        given_bytes = given.encode("latin-1", errors="replace")
        matched = False
        for key in self._keys:  # no early exit: constant time in the match
            matched |= hmac.compare_digest(given_bytes, key)
        if not matched:
            req.context.auth = INVALID
            raise ApiError(falcon.HTTP_403, KEY_INVALID)
        req.context.auth = OK
