"""API keys with a name and a scope, and the store that holds them.

A key source (the API_KEYS variable, the API_KEY_FILE file, the SSM
parameter behind either) is one of:

* a plain list: keys separated by commas (API_KEYS) or one per line (the
  file, ``#`` comments allowed).  Every such key is named ``default`` and
  may do everything;
* JSON: a list of keys, or ``{"keys": [...]}``, each key an object::

      {"name": "consultant-a",            # required: the audit log's name for it
       "key": "…",                         # required: the secret itself
       "parameters": ["p_HS1", "c_Trt"],  # optional: the parameters it may edit
       "endpoints": ["/runDARTHmodel"]}    # optional: the endpoints it may call

  (a plain string in the list is a ``default`` key).  A key without
  `parameters` may edit every editable parameter; without `endpoints`, it
  may call every endpoint.

`KeyStore` holds the keys the service accepts.  It re-reads API_KEY_FILE
when the file changes (a `stat` per request, as for datasets), so keys are
rotated by rewriting the file, without a restart; a file that cannot be read
or holds no key leaves the previous keys in force, and says so on stderr
(never quoting the file).  Write the new file beside the old and rename it
over, so that a half-written file is never read.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("service")

DEFAULT_NAME = "default"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_FIELDS = ("name", "key", "parameters", "endpoints")
_UNREAD = object()  # KeyStore: the key file has not been read yet


class KeyFormatError(ValueError):
    """A key source is malformed.  The message never quotes a key."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    secret: str = field(repr=False)
    # None: every editable parameter / every endpoint.
    parameters: frozenset[str] | None = None
    endpoints: frozenset[str] | None = None

    def may_call(self, route: str) -> bool:
        return self.endpoints is None or route in self.endpoints

    def refused_parameters(self, parameters: Iterable[str]) -> list[str]:
        """Those of `parameters` this key may not edit."""
        if self.parameters is None:
            return []
        return sorted({p for p in parameters if p not in self.parameters})


def parse_keys(text: str, plain_separator: str, source: str) -> list[ApiKey]:
    """The keys in `text`: JSON (a list or {"keys": [...]}) if it starts like
    JSON, else plain keys split on `plain_separator` ("," or a newline)."""
    stripped = text.strip()
    if not stripped.startswith(("[", "{")):
        items = stripped.split(plain_separator)
        if plain_separator == "\n":
            items = [line for line in items if not line.lstrip().startswith("#")]
        return [ApiKey(DEFAULT_NAME, key.strip()) for key in items if key.strip()]
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError as exc:  # the message quotes no text, only a position
        raise KeyFormatError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if isinstance(document, dict) and set(document) == {"keys"}:
        document = document["keys"]
    if not isinstance(document, list):
        raise KeyFormatError(f'{source}: JSON keys must be a list, or {{"keys": [...]}}')
    return [_key(item, n, source) for n, item in enumerate(document, start=1)]


def _key(item: Any, n: int, source: str) -> ApiKey:
    where = f"{source}, key #{n}"
    if isinstance(item, str):
        if not item.strip():
            raise KeyFormatError(f"{where} is empty")
        return ApiKey(DEFAULT_NAME, item.strip())
    if not isinstance(item, dict):
        raise KeyFormatError(f"{where} must be a string or an object with name and key")
    unknown = sorted(set(item) - set(_FIELDS))
    if unknown:
        raise KeyFormatError(f"{where} has unknown field(s) {unknown[:5]}; known: "
                             + ", ".join(_FIELDS))
    name, secret = item.get("name"), item.get("key")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise KeyFormatError(f"{where}: name must be 1-64 letters, digits or . _ @ - "
                             "(it is written in the audit log)")
    if not isinstance(secret, str) or not secret.strip():
        raise KeyFormatError(f"{where} ({name}): key must be a non-empty string")
    return ApiKey(name, secret.strip(), _names(item, "parameters", where),
                  _names(item, "endpoints", where))


def _names(item: dict, field_name: str, where: str) -> frozenset[str] | None:
    value = item.get(field_name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise KeyFormatError(f"{where}: {field_name} must be a list of names")
    return frozenset(value)


def merge(keys: Iterable[ApiKey]) -> tuple[ApiKey, ...]:
    """The keys, each secret once: the same secret twice is one key if both
    say the same, an error if they differ (which name would it be?)."""
    by_secret: dict[str, ApiKey] = {}
    for key in keys:
        known = by_secret.setdefault(key.secret, key)
        if known != key:
            raise KeyFormatError(
                f"one key is given twice, as {known.name!r} and {key.name!r}, with different "
                "names or scopes: give each key once")
    return tuple(by_secret.values())


def read_key_file(path: str) -> list[ApiKey]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFormatError(
            f"API_KEY_FILE {path!r} cannot be read: {exc.__class__.__name__}") from None
    return parse_keys(text, "\n", "API_KEY_FILE")


class KeyStore:
    """The keys in force: `fixed` ones (from the environment) and those of
    `key_file`, re-read when its modification time, size or inode change."""

    def __init__(self, fixed: Sequence[ApiKey], key_file: str | None = None):
        self._fixed = tuple(fixed)
        self._key_file = key_file
        self._lock = threading.Lock()
        # (mtime, size, inode) of the file last read; None: it was missing.
        self._version: object = _UNREAD
        self._keys = merge(self._fixed)
        if key_file:
            self.refresh()
        if not self._keys:
            raise KeyFormatError("no API key configured")

    def refresh(self) -> None:
        """Re-read the key file if it changed since last read."""
        if not self._key_file:
            return
        try:
            stat = os.stat(self._key_file)
        except OSError:
            version = None
        else:
            version = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if version == self._version:
            return
        with self._lock:
            if version == self._version:
                return
            first = self._version is _UNREAD
            try:
                keys = merge(self._fixed + tuple(read_key_file(self._key_file)))
                if not keys:
                    raise KeyFormatError("API_KEY_FILE holds no key")
            except KeyFormatError as exc:
                if first and not self._keys:
                    raise
                log.error("keys not reloaded, the previous %d stay in force: %s",
                          len(self._keys), exc)
                self._version = version  # not again until the file changes
                return
            if not first:
                log.warning("API_KEY_FILE changed: %d key(s) now in force", len(keys))
            self._keys, self._version = keys, version

    @property
    def keys(self) -> tuple[ApiKey, ...]:
        self.refresh()
        return self._keys

    def secrets(self) -> list[str]:
        """Every secret in force (the request log redacts them)."""
        return [key.secret for key in self.keys]

    def match(self, given: bytes) -> ApiKey | None:
        """The key whose secret is `given`, compared with every key in
        constant time (no early exit): the time says nothing of which key,
        or how much of one, matched."""
        found = None
        for key in self.keys:
            if hmac.compare_digest(given, key.secret.encode("utf-8")):
                found = key
        return found
