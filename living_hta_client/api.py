"""Calls to a deployment: the key in the `key` header only, TLS verified
(against a given CA file for a private CA such as the local demo's)."""

from __future__ import annotations

import gzip
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
        self._document: dict | None = None
        try:
            self._context = ssl.create_default_context(cafile=ca_file) if ca_file else None
        except (OSError, ssl.SSLError) as exc:
            raise ApiError(f"CA file {ca_file}: not a PEM certificate ({exc})") from None

    def call(self, method: str, path: str, body: Any = None, keyed: bool = True) -> Answer:
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        raw, answered = self._open(method, path, headers, data, keyed)
        try:
            return Answer(json.loads(raw), answered)
        except json.JSONDecodeError:
            raise ApiError(f"{self.url}{path} did not answer with JSON") from None

    def fetch(self, path: str) -> bytes:
        """An open resource as it is (no key sent): the page's scripts, which
        the report embeds, come from the service it reports on."""
        raw, headers = self._open("GET", path, {"Accept": "*/*"}, None, keyed=False)
        coding = {k.lower(): v for k, v in headers.items()}.get("content-encoding", "")
        if coding.strip().lower() == "gzip":  # sent although not asked for: still readable
            try:
                return gzip.decompress(raw)
            except (OSError, EOFError) as exc:
                raise ApiError(f"{self.url}{path}: a broken gzip body ({exc})") from None
        return raw

    def _open(self, method: str, path: str, headers: dict[str, str], data: bytes | None,
              keyed: bool) -> tuple[bytes, dict[str, str]]:
        if keyed:
            headers = {**headers, "key": self._key}
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout,
                                        context=self._context) as response:
                return response.read(), dict(response.headers.items())
        except urllib.error.HTTPError as exc:
            raise ApiError(_refusal(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(f"cannot reach {self.url}: {reason}") from None

    def analysis(self, request: dict) -> Answer:
        return self.call("POST", "/analysis", request)

    def samples(self, request: dict) -> list[dict]:
        """/runDARTHmodel's records for the same arguments (the CE plane's points)."""
        return self.call("POST", "/runDARTHmodel", request).body

    def openapi(self) -> dict:
        """The service's OpenAPI document (open, no key needed): its version
        and its limits, read rather than copied into this client."""
        if self._document is None:
            document = self.call("GET", "/openapi.json", keyed=False).body
            if not isinstance(document, dict):
                raise ApiError(f"{self.url}/openapi.json is not an OpenAPI document")
            self._document = document
        return self._document

    def api_version(self) -> str | None:
        """The service's OpenAPI document's version."""
        try:
            return self.openapi()["info"]["version"]
        except (ApiError, KeyError, TypeError):
            return None

    def max_wtp_points(self) -> int | None:
        """How many WTP values one /analysis request may hold, as the service's
        document states it (None: it does not say; the service still refuses
        more with its own 400)."""
        try:
            return max_items(self.openapi(), "/analysis", "wtp")
        except ApiError:
            return None


def max_items(document: dict, path: str, argument: str) -> int | None:
    """maxItems of `argument`'s array form in the JSON body of POST `path`."""
    def resolve(node):
        for _ in range(10):  # a $ref to a $ref ..., never a loop
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                break
            target = document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target.get(part) if isinstance(target, dict) else None
            node = target
        return node if isinstance(node, dict) else {}

    try:
        schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    except (KeyError, TypeError):
        return None
    found = resolve(resolve(schema).get("properties", {}).get(argument))
    for form in [found, *found.get("oneOf", []), *found.get("anyOf", [])]:
        form = resolve(form)
        if form.get("type") == "array" and isinstance(form.get("maxItems"), int):
            return form["maxItems"]
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
