"""No API key in the logs of the test run, nor in the repository.

The logs: every server the session started through tests/support/service.py
recorded its stdout/stderr files and its keys (tests/support/secret_audit.py);
the audit runs after every other test (marker `audit_last`) and greps all of
them.  It first runs a server of its own through the ways a key reaches the
service (header, key file, wrong keys, the key in a query string, a
throttled address, a gunicorn error), so it never audits an empty set.

The repository: the session's key, and every key a server was configured
with, must be in no tracked or committable file and nowhere in the history.
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
    find_secrets,
    keys_in,
    record_server,
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


def test_a_module_that_may_run_on_the_other_worker_cannot_record_a_server(monkeypatch, tmp_path):
    """The audit runs last on its own worker (tests/support/parallel.py): logs
    recorded on the other one would escape it, so they are refused."""
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/test_roles_aws.py::test_x (call)")
    with pytest.raises(RuntimeError, match="take it out of ANY_WORKER"):
        record_server([tmp_path / "gunicorn.err"], {"API_KEYS": TEST_KEY})
    assert tmp_path / "gunicorn.err" not in recorded_log_files()


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


@pytest.mark.audit_last
def test_no_log_of_the_test_run_holds_a_key(tmp_path):
    exercise_a_server(tmp_path)
    files = [path for path in recorded_log_files() if path.exists()]
    keys = sorted(recorded_keys())
    assert files and TEST_KEY in keys
    leaks = find_secrets(files, keys)
    assert not leaks, [f"{path}: configured key #{n}" for path, n in leaks]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=120).stdout


@pytest.mark.audit_last
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
