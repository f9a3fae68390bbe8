"""No API key in the logs of the test run, nor in the repository.

The logs: every server a fixture starts (tests/support/service.py, the
front's and the image's containers) audits its own logs for the keys it was
given when it stops (tests/support/secret_audit.py), so a leak fails the
test that caused it, on whichever worker it ran.  Here: that the audit
finds a planted key and a leaking server fails its test, and a server
exercised through every way a key reaches the service (header, key file,
wrong keys, the key in a query string, a throttled address, a gunicorn
error) leaves no key in its logs.

The repository: the session's key, and every key a server of this process
was configured with, must be in no tracked or committable file and nowhere
in the history.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.secret_audit import (
    TEST_KEY,
    SecretLeak,
    audit,
    find_secrets,
    keys_in,
    recorded_keys,
    recorded_log_files,
)
from tests.support.service import gunicorn_server


def test_find_secrets_finds_a_planted_key_and_names_no_key(tmp_path):
    clean, dirty = tmp_path / "clean.log", tmp_path / "dirty.log"
    clean.write_text('{"path": "/runDARTHmodel", "auth": "invalid"}\n')
    dirty.write_bytes(b"...\x00 key=" + TEST_KEY.encode() + b" ...")
    assert find_secrets([clean, dirty, tmp_path / "gone.log"], ["other-key-123", TEST_KEY]) == [(dirty, 1)]


def test_keys_in_reads_the_environment_and_the_key_file(tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text("# comment\nfile-key-0001\n\n")
    assert keys_in({"API_KEYS": "a-key-0001, b-key-0002", "API_KEY_FILE": str(key_file)}) == {
        "a-key-0001", "b-key-0002", "file-key-0001"}


def test_a_server_whose_log_holds_its_key_fails_the_test_that_ran_it(tmp_path):
    """The fixture audits its logs when the server stops: a key written there
    (planted here, as a leaking handler would write it) fails the test,
    and the failure names the file and the key's position, never the key."""
    with pytest.raises(SecretLeak) as leak:
        with gunicorn_server(tmp_path, API_KEYS=TEST_KEY) as server:
            with open(server.stderr, "ab") as log:
                log.write(b"handler: key=" + TEST_KEY.encode() + b"\n")
    assert str(server.stderr) in str(leak.value) and TEST_KEY not in str(leak.value)
    audit([server.stdout], [TEST_KEY])  # the other file is clean: no failure
    with pytest.raises(SecretLeak):
        audit([server.stdout, server.stderr], ["short", TEST_KEY])
    server.stderr.unlink()  # planted: not a leak for the run's audit below


def exercise_a_server(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"{TEST_KEY}\n")
    with gunicorn_server(tmp_path, API_KEY_FILE=str(key_file), AUTH_FAILURE_LIMIT="2") as server:
        port = int(server.url.rsplit(":", 1)[1])
        attempts = [
            ("POST", "/runDARTHmodel", {"key": TEST_KEY, "Content-Type": "application/json"},
             json.dumps({"param_updates": [], "seed": 1})),
            ("POST", f"/runDARTHmodel?key={TEST_KEY}&path_to_psa_inputs={TEST_KEY}", {"key": TEST_KEY}, ""),
            ("POST", "/runDARTHmodel", {"key": TEST_KEY + "x"}, ""),
            ("POST", "/runDARTHmodel", {"key": TEST_KEY[:-1]}, ""),
            ("POST", "/runDARTHmodel", {"key": TEST_KEY}, ""),  # throttled now
            ("GET", f"/{TEST_KEY}", {"key": "wrong"}, ""),
            ("GET", "/x?" + "a" * 5000 + TEST_KEY, {}, ""),  # gunicorn's 414, before the app
        ]
        for method, path, headers, body in attempts:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request(method, path, body=body, headers=headers)
            connection.getresponse().read()
            connection.close()
        key = TEST_KEY.encode()
        for raw in (b"GET /" + key + b" BAD/1.1\r\n\r\n",  # requests gunicorn cannot parse
                    b"GET / HTTP/1.1\r\nkey: " + key + b"\x01\r\n\r\n",
                    b"GET / HTTP/1.1\r\nkey " + key + b"\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as raw_socket:
                raw_socket.sendall(raw)
                assert raw_socket.recv(65536).startswith(b"HTTP/1.1 400")
        deadline = time.monotonic() + 5  # the workers write their warnings
        while server.stderr.read_text().count("Invalid request") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.stderr.read_text().count("Invalid request") == 4


def test_no_log_of_the_test_run_holds_a_key(tmp_path):
    exercise_a_server(tmp_path)  # its fixture audited its logs when it stopped
    files = [path for path in recorded_log_files() if path.exists()]
    keys = sorted(recorded_keys())
    assert files and TEST_KEY in keys
    leaks = find_secrets(files, keys)
    assert not leaks, [f"{path}: configured key #{n}" for path, n in leaks]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=120).stdout


def test_the_repository_and_its_history_hold_no_configured_key():
    keys = sorted(recorded_keys())
    files = [ROOT / name for name in git("ls-files", "-z").split("\0") if name]
    files += [ROOT / name for name in git("ls-files", "-z", "--others", "--exclude-standard").split("\0") if name]
    assert len(files) > 50
    leaks = find_secrets([f for f in files if f.is_file()], keys)
    assert not leaks, [f"{path}: configured key #{n}" for path, n in leaks]
    for n, key in enumerate(keys):  # every blob of every commit
        found = subprocess.run(["git", "log", "--all", "-S", key, "--format=%h", "--no-textconv"],
                               cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert found.returncode == 0 and not found.stdout.strip(), f"configured key #{n} in commit(s) {found.stdout.split()}"
