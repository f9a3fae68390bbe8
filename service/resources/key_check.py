"""GET /__key_check: the front's question "may this request in?", asked
before it reads a body (nginx's auth_request, front/nginx.conf.template).

The answer is the one every keyed endpoint gives, from the same middleware
(the wrong-key throttle, then the key check) before this resource runs:
204 when the key is one of the service's.  nginx passes on only a 401 or a
403 from such a check (anything else is its own 500), so `KeyCheckAnswer`
turns a refusal into 401 (no key) or 403 (anything else: a wrong key, two
different keys, the throttle's 429) and hands the front the service's own
answer in headers: `X-Refusal-Status` (401, 403, 429, 400) and
`X-Refusal` (the JSON body, ASCII), `Retry-After` as it was.  The front
answers the client with those, so a refusal reads the same with or without
the front.  The key's endpoint scope is checked by the request itself (it
depends on the route).  A refusal is logged as any refused request; a pass
is not (the request that follows is).
"""

from __future__ import annotations

import falcon

PATH = "/__key_check"


class KeyCheck:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_204
        req.context.log = False

    on_head = on_get


class KeyCheckAnswer:
    """Middleware, first in the list: its process_response runs last, after
    the request log has written the refusal as it was."""

    def __init__(self, check: KeyCheck):
        self._check = check

    def process_response(self, req, resp: falcon.Response, resource, req_succeeded: bool) -> None:
        if resource is not self._check:
            return
        status = int(falcon.code_to_http_status(resp.status)[:3])
        if status < 300:
            return
        body = resp.text if resp.text is not None else (resp.data or b"").decode("utf-8", "replace")
        resp.set_header("X-Refusal-Status", str(status))
        # The serializer's JSON is ASCII (json.dumps escapes the rest): a header can carry it.
        resp.set_header("X-Refusal", " ".join(body.split()))
        resp.status = falcon.HTTP_401 if status == 401 else falcon.HTTP_403
