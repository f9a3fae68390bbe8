"""The app in-process, for HTTP-contract tests: falcon's TestClient over
`create_app` (the real server process: tests/support/service.py).

    client = app_client(Settings(api_keys=(KEY,)), key=KEY)
    client.simulate_post("/runDARTHmodel", json={"seed": 1})
"""

from __future__ import annotations

import io
from typing import Any, TextIO

import falcon.testing

from service import Settings, create_app


def app_client(
    settings: Settings, key: str | None = None, log: TextIO | None = None,
    audit: TextIO | None = None, **app_options: Any
) -> falcon.testing.TestClient:
    """A TestClient of `create_app(settings, **app_options)`.  `key` is sent
    with every request; `log` receives the request log, `audit` the audit
    records (default: both dropped)."""
    app = create_app(settings, log_stream=io.StringIO() if log is None else log,
                     audit_stream=io.StringIO() if audit is None else audit, **app_options)
    return falcon.testing.TestClient(app, headers={"key": key} if key else None)
