"""API-key check: header ``key``, as the original, or ``Authorization``.

The key may come in the ``key`` header (the original's), or as
``Authorization: Key <key>`` (RStudio Connect's scheme, which scripts
written for the original's hosted versions send) or ``Authorization:
Bearer <key>``.  If a request carries both the ``key`` header and one of
these, they must be the same key (400 otherwise, before either is looked
at).  Missing or empty → 401, not one of the configured keys → 403, with
the original's messages.  The given key is compared with *every*
configured key with `hmac.compare_digest` (service/keys.py), so the time
taken says nothing about which key, or how much of one, matched.

A key may be limited to some endpoints (service/keys.py): a call outside
them is a 403 that says which endpoints the key may call.  The key that
matched is kept as ``req.context.api_key`` for the resources (its name
goes to the audit log; its parameter scope is checked where the model runs:
service/pipeline.py).

Which resources are open (no key needed) is declared once, where the routes
are added (`service.app`): this middleware gets that set of resource objects
and never looks at the path.  Requests that match no route pass through
`require_key` too (from the not-found sink), so without a key every unknown
path is a 401, as in the original.
"""

from __future__ import annotations

from collections.abc import Iterable

import falcon

from .errors import KEY_INVALID, KEY_MISSING, ApiError, bad_request
from .keys import ApiKey, KeyStore

# Values of req.context.auth, logged by the request log.
OPEN, OK, MISSING, INVALID = "open", "ok", "missing", "invalid"
SCHEMES = ("key", "bearer")  # Authorization schemes that carry an API key


class KeyAuth:
    def __init__(self, keys: KeyStore, open_resources: Iterable[object],
                 any_scope_resources: Iterable[object] = ()):
        """`any_scope_resources`: keyed, but any key may call them (the
        front's key check: the request that follows checks the scope)."""
        self._keys = keys
        self._open = frozenset(id(resource) for resource in open_resources)
        self._any_scope = frozenset(id(resource) for resource in any_scope_resources)

    def process_resource(self, req: falcon.Request, resp, resource, params) -> None:
        if id(resource) in self._open:
            req.context.auth = OPEN
            return
        key = self.require_key(req)
        route = req.uri_template
        if id(resource) not in self._any_scope and not key.may_call(route):
            req.context.error = f"key {key.name!r} out of scope: {route}"
            raise ApiError(
                falcon.HTTP_403,
                f"this API key ({key.name}) may not call {route}; it may call: "
                + ", ".join(sorted(key.endpoints or ())),
                allowed_endpoints=sorted(key.endpoints or ()),
            )

    def require_key(self, req: falcon.Request) -> ApiKey:
        given = given_key(req)
        if not given:
            req.context.auth = MISSING
            raise ApiError(falcon.HTTP_401, KEY_MISSING)
        # WSGI headers are latin-1 strings; this gives back the bytes sent.
        key = self._keys.match(given.encode("latin-1", errors="replace"))
        if key is None:
            req.context.auth = INVALID
            raise ApiError(falcon.HTTP_403, KEY_INVALID)
        req.context.auth = OK
        req.context.api_key = key
        return key


def given_key(req: falcon.Request) -> str | None:
    """The key the request carries (None: none), from the ``key`` header or
    ``Authorization: Key|Bearer <key>``; 400 if both are there and differ."""
    header = req.get_header("key") or None
    authorization = req.get_header("Authorization") or ""
    scheme, _, credentials = authorization.strip().partition(" ")
    from_authorization = (credentials.strip() or None) if scheme.lower() in SCHEMES else None
    if header and from_authorization and header != from_authorization:
        req.context.error = "key header and Authorization differ"
        raise bad_request(
            "the key header and the Authorization header carry different keys: send one "
            "(Authorization: Key <key>, or Bearer <key>), or the same key in both")
    return header or from_authorization
