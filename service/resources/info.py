"""Small open endpoints: /health for load balancers, /paper as the original."""

from __future__ import annotations

import falcon

PAPER = ["https://wellcomeopenresearch.org/articles/7-194"]


class Health:
    """Cheap on purpose: no model run, no file access."""

    _BODY = b'{"status": "ok"}'

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._BODY
        resp.cache_control = ["no-store"]

    # Uptime monitors and some load balancers probe with HEAD: same status
    # and headers, and Falcon sends no body for HEAD.
    on_head = on_get


class Paper:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = PAPER
