"""Calls to a deployment: the key in the `key` header only, TLS verified
(against a given CA file for a private CA such as the local demo's)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class ApiError(Exception):
    """The service refused or could not be reached; the message says why in
    the API's own words (status, reason, its `error` text, when to retry)."""


@dataclass(frozen=True)
class Answer:
    body: Any
    headers: dict[str, str]


class Client:
    def __init__(self, url: str, key: str, ca_file: str | None = None, timeout: float = 120):
        self.url = url.rstrip("/")
        self._key = key
        self._timeout = timeout
        try:
            self._context = ssl.create_default_context(cafile=ca_file) if ca_file else None
        except (OSError, ssl.SSLError) as exc:
            raise ApiError(f"CA file {ca_file}: not a PEM certificate ({exc})") from None

    def call(self, method: str, path: str, body: Any = None, keyed: bool = True) -> Answer:
        headers = {"Accept": "application/json"}
        if keyed:
            headers["key"] = self._key
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout,
                                        context=self._context) as response:
                return Answer(json.loads(response.read()), dict(response.headers.items()))
        except urllib.error.HTTPError as exc:
            raise ApiError(_refusal(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(f"cannot reach {self.url}: {reason}") from None
        except json.JSONDecodeError:
            raise ApiError(f"{self.url}{path} did not answer with JSON") from None

    def analysis(self, request: dict) -> Answer:
        return self.call("POST", "/analysis", request)

    def samples(self, request: dict) -> list[dict]:
        """/runDARTHmodel's records for the same arguments (the CE plane's points)."""
        return self.call("POST", "/runDARTHmodel", request).body

    def api_version(self) -> str | None:
        """The service's OpenAPI document's version (open, no key needed)."""
        try:
            return self.call("GET", "/openapi.json", keyed=False).body["info"]["version"]
        except (ApiError, KeyError, TypeError):
            return None


def _refusal(exc: urllib.error.HTTPError) -> str:
    try:
        message = json.loads(exc.read()).get("error")
    except (ValueError, AttributeError):
        message = None
    text = f"{exc.code} {exc.reason}: {message or 'the service gave no explanation'}"
    wait = exc.headers.get("Retry-After") if exc.headers else None
    if wait:
        text += f" (retry after {wait} s)"
    return text
