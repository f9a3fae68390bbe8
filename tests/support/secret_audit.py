"""Where a test run's API keys could leak, and the checks that they did not.

`TEST_KEY` is made up afresh for each test run and written nowhere in
the repository: every test that starts a real server (or builds an image,
or renders a task definition) configures it, so finding it anywhere
afterwards is a leak, never a coincidence.  Under pytest-xdist every worker
derives the same key from the run's id, so the audit looks for the key the
other worker's tests used too.

Every server that `tests.support.service.gunicorn_server` starts records
here the files its logs go to and the keys it was given (`API_KEYS`, the
lines of `API_KEY_FILE`).  `tests/test_secrets_logs.py` holds a test marked
`audit_last`: this plugin (loaded from tests/conftest.py) moves it after
every other test of the session, and it greps all those files for all
those keys.  Only tests of the "serial" group may record (the audit runs
last in that group; tests/support/parallel.py).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from tests.support.parallel import check_may_record


def _run_key() -> str:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # set by xdist on each worker, one per run
    if not run:
        return "lhta-test-" + secrets.token_urlsafe(24)
    digest = hashlib.sha256(b"living-hta test key\0" + run.encode()).digest()
    return "lhta-test-" + base64.urlsafe_b64encode(digest[:24]).decode()


TEST_KEY = _run_key()
MIN_KEY_LENGTH = 8  # shorter "keys" (a settings test's "k") would match noise

_log_files: list[Path] = []
_keys: set[str] = {TEST_KEY}


def keys_in(env: Mapping[str, str]) -> set[str]:
    """The keys a service started with `env` is configured with (read as the
    service reads them: plain lists or JSON, service/keys.py)."""
    from service.keys import KeyFormatError, parse_keys, read_key_file

    keys = []
    try:
        keys += parse_keys(env.get("API_KEYS", ""), ",", "API_KEYS")
    except KeyFormatError:
        pass  # a test of a malformed source: the service does not start
    key_file = env.get("API_KEY_FILE", "")
    if key_file and Path(key_file).is_file():
        try:
            keys += read_key_file(key_file)
        except KeyFormatError:
            pass
    return {key.secret for key in keys}


def record_server(log_files: Iterable[Path], env: Mapping[str, str]) -> None:
    check_may_record()
    _log_files.extend(Path(path) for path in log_files)
    _keys.update(keys_in(env))


def record_secrets(log_files: Iterable[Path], values: Iterable[str]) -> None:
    """Other secrets a server was given (a TLS private key's lines): audited
    like the keys."""
    check_may_record()
    _log_files.extend(Path(path) for path in log_files)
    _keys.update(values)


def recorded_log_files() -> list[Path]:
    return list(dict.fromkeys(_log_files))


def recorded_keys() -> set[str]:
    return {key for key in _keys if len(key) >= MIN_KEY_LENGTH}


def find_secrets(files: Iterable[Path], keys: Iterable[str]) -> list[tuple[Path, int]]:
    """(file, position in `keys`) for every key found in a file.  Positions,
    not keys: a failing assertion must not print the key it found."""
    needles = [key.encode() for key in keys]
    found = []
    for path in files:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            continue
        found += [(Path(path), i) for i, needle in enumerate(needles) if needle in data]
    return found


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "audit_last: run after every other test (audits what they left behind)"
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("audit_last") is not None)
