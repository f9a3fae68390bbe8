"""Where a test run's API keys could leak, and the checks that they did not.

`TEST_KEY` is made up afresh for each test run and written nowhere in
the repository: every test that starts a real server (or builds an image,
or renders a task definition) configures it, so finding it anywhere
afterwards is a leak, never a coincidence.  Under pytest-xdist every worker
derives the same key from the run's id.

Every server a fixture starts (tests/support/service.py's gunicorn, the
front's and the image's containers) is audited when it stops: the fixture
calls `audit(log files, keys)` after its logs are written, and a key found
fails the test that used the server, naming the file and the key's
position, never the key.  So no audit must run last, and a server may run
on either worker.  The keys and files are also recorded here, for
tests/service/test_secrets_logs.py's checks of the repository.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path



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


def record_server(log_files: Iterable[Path], env: Mapping[str, str]) -> set[str]:
    """Note a server's log files and the keys it is configured with; returns
    those keys, for `audit` when the server stops."""
    _log_files.extend(Path(path) for path in log_files)
    keys = keys_in(env) | {TEST_KEY}
    _keys.update(keys)
    return keys


def record_secrets(log_files: Iterable[Path], values: Iterable[str]) -> set[str]:
    """Other secrets a server was given (a TLS private key's lines): audited
    like the keys."""
    _log_files.extend(Path(path) for path in log_files)
    values = set(values)
    _keys.update(values)
    return values


class SecretLeak(AssertionError):
    """A server wrote a secret it was given into its logs."""


def audit(log_files: Iterable[Path], secrets: Iterable[str]) -> None:
    """Fail if any of `secrets` (at least MIN_KEY_LENGTH long) is in any of
    the files: what every server fixture calls once its logs are written."""
    needles = sorted(s for s in set(secrets) if len(s) >= MIN_KEY_LENGTH)
    leaks = find_secrets(log_files, needles)
    if leaks:
        raise SecretLeak("a server's log holds a secret it was given: "
                         + ", ".join(f"{path} (secret #{n})" for path, n in leaks))


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
