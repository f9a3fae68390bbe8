"""The real server: gunicorn with the checked-in configuration, on loopback."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

import model
from tests.support.secret_audit import TEST_KEY
from tests.support.net import free_port
from tests.support.paths import ROOT
from tests.support.service import gunicorn_server, service_env, stop

KEY = TEST_KEY  # made up per session: see tests/support/secret_audit.py


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gunicorn")
    key_file = folder / "keys"
    key_file.write_text(f"# test keys\n{KEY}\n")
    with gunicorn_server(folder, API_KEY_FILE=str(key_file), MAX_BODY_BYTES="4096",
                         WEB_CONCURRENCY="2") as running:
        yield running


def post(server, path="/runDARTHmodel", body=b"", headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def readme_curl_examples() -> list[str]:
    """The documented curl examples: the model run (docs/api.md), then the
    provenance one (docs/operations.md)."""
    section = (ROOT / "docs" / "api.md").read_text() + (ROOT / "docs" / "operations.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    examples = [block for block in blocks if block.lstrip().startswith("curl")]
    assert len(examples) == 2, "expected a curl example in docs/api.md and one in docs/operations.md"
    return examples


def run_verbatim(script: str, server, folder) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=folder,
                          env={**os.environ, "LIVING_HTA_URL": server.url, "LIVING_HTA_KEY": KEY},
                          capture_output=True, text=True, timeout=60)


def test_readme_curl_example_runs_verbatim(server, tmp_path):
    done = run_verbatim(readme_curl_examples()[0], server, tmp_path)
    assert done.returncode == 0, done.stderr
    results = pd.read_csv(tmp_path / "results.csv")
    assert results.shape == (1000, 6) and tuple(results.columns) == model.RESULT_COLUMNS
    expected = model.run(updates=[{"parameter": "p_HS1", "distribution": "beta",
                                   "v1": 25, "v2": 150}], seed=1)
    assert (tmp_path / "results.csv").read_text() == model.format_csv(expected)


def test_readme_provenance_example_repeats_a_seedless_run_verbatim(server, tmp_path):
    done = run_verbatim(readme_curl_examples()[1], server, tmp_path)
    assert done.returncode == 0, done.stderr  # cmp: the same bytes
    first = (tmp_path / "first.csv").read_text()
    assert first == (tmp_path / "again.csv").read_text() and len(first.splitlines()) == 1001
    seed = re.search(r"(?im)^x-seed: (\d+)", (tmp_path / "headers.txt").read_text())[1]
    record = [e for e in server.audit_entries() if e["seed"] == int(seed)]
    assert len(record) == 2 and record[0]["run_id"] != record[1]["run_id"]


def test_health_and_auth_over_http(server):
    with urllib.request.urlopen(server.url + "/health", timeout=10) as response:
        assert json.load(response) == {"status": "ok"}
    status, content_type, body = post(server)
    assert status == 401 and json.loads(body)["error"].startswith("Authentication required")
    status, _, body = post(server, headers={"key": "not-" + KEY})
    assert status == 403 and json.loads(body)["error"].startswith("Authentication failed")


def test_chunked_body_over_the_limit_is_413(server):
    port = int(server.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    chunks = (b'{"param_updates": "' + b"x" * 1000 for _ in range(10))  # no Content-Length
    connection.request("POST", "/runDARTHmodel", body=chunks, encode_chunked=True,
                       headers={"key": KEY, "Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 413
    assert "4096 bytes" in json.loads(response.read())["error"]
    connection.close()


def test_chunked_body_within_the_limit_is_read(server):
    port = int(server.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"param_updates": [], "seed": 6}).encode()
    connection.request("POST", "/runDARTHmodel", body=iter([body[:10], body[10:]]),
                       encode_chunked=True, headers={"key": KEY, "Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200
    assert response.read().decode() == model.format_csv(model.run(updates=[], seed=6))
    connection.close()


def test_request_log_one_line_per_request_without_the_key(server):
    before, audited = len(server.log_entries()), len(server.audit_entries())
    post(server, headers={"key": KEY, "Content-Type": "application/json"},
         body=json.dumps({"param_updates": [], "seed": 3}).encode())
    post(server, "/runDARTHmodel?path_to_psa_inputs=/etc/passwd", headers={"key": KEY})
    post(server, headers={"key": KEY + "-wrong"})
    urllib.request.urlopen(server.url + "/paper", timeout=10).read()
    deadline = time.monotonic() + 5
    while len(server.log_entries()) < before + 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    entries = server.log_entries()[before:]  # every line is one JSON object
    assert len(entries) == 4
    assert len(server.audit_entries()) == audited + 1  # the one model run, beside them
    assert [(e["status"], e["auth"]) for e in entries] == [
        (200, "ok"), (400, "ok"), (403, "invalid"), (200, "open")]
    assert all(e["path"] in ("/runDARTHmodel", "/paper") for e in entries)
    stdout = server.stdout.read_text()
    assert KEY not in stdout and "/etc/passwd" not in stdout
    assert KEY not in server.stderr.read_text()


def test_workers_and_graceful_stop(tmp_path):
    with gunicorn_server(tmp_path, API_KEYS=KEY, WEB_CONCURRENCY="3") as server:
        deadline = time.monotonic() + 20
        while len(server.worker_pids()) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(server.worker_pids()) == 3
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0
    assert "Shutting down: Master" in server.stderr.read_text()


def test_python_m_service_quick_start(tmp_path):
    port = free_port()
    env = service_env(API_KEYS=KEY, PORT=str(port))
    with open(tmp_path / "out", "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "service", "--workers", "1"], cwd=ROOT,
                                   env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    assert r.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, (tmp_path / "out").read_text()
                assert time.monotonic() < deadline, "python -m service did not answer"
                time.sleep(0.1)
    finally:
        stop(process)
    assert f"Listening at: http://127.0.0.1:{port}" in (tmp_path / "out").read_text()


def test_head_of_health_is_200_without_a_body(server):
    """Uptime monitors probe with HEAD; the answer has GET's headers, no body."""
    head, body = raw_exchange(server, b"HEAD /health HTTP/1.0\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") or head.startswith(b"HTTP/1.0 200 "), head
    assert b"content-type: application/json" in head.lower()
    assert body == b""


def raw_exchange(server, request: bytes) -> tuple[bytes, bytes]:
    """(status line and headers, body) of one raw HTTP exchange."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize(
    "request_bytes, status, error",
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414",
         "URI Too Long: Request Line is too large (5014 > 4094)"),
        (b"GARBAGE " + KEY.encode() + b"\r\n\r\n", b"400", "Bad Request: Invalid Request Line"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header" + KEY.encode() + b": 1\r\n\r\n", b"400",
         "Bad Request: Invalid HTTP header name"),
    ],
    ids=["uri-too-long", "bad-request-line", "bad-header-name"],
)
def test_requests_gunicorn_cannot_parse_get_json_errors_without_their_text(
        server, request_bytes, status, error):
    head, body = raw_exchange(server, request_bytes)
    assert head.split(b" ")[1] == status, head
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body) == {"error": error}
    assert KEY.encode() not in body and b"aaaa" not in body


def test_a_large_run_is_streamed_and_a_small_one_is_not(server):
    port = int(server.url.rsplit(":", 1)[1])
    n = 3 * model.results.STREAM_ROWS + 1
    for accept, samples in (("text/csv", n), ("application/json", n), ("text/csv", 1000)):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        body = json.dumps({"param_updates": [], "seed": 9, "n_samples": samples}).encode()
        connection.request("POST", "/runDARTHmodel", body=body, headers={
            "key": KEY, "Content-Type": "application/json", "Accept": accept})
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        assert response.status == 200
        expected = model.run_psa(updates=[], seed=9, n_samples=samples)
        if samples > model.results.STREAM_ROWS:  # chunked, no length known up front
            assert response.getheader("Transfer-Encoding") == "chunked"
            assert response.getheader("Content-Length") is None
        else:
            assert response.getheader("Content-Length") == str(len(text))
        if accept == "text/csv":
            assert text == model.format_csv(expected)
        else:
            back = pd.DataFrame(json.loads(text))
            assert (back.to_numpy() == expected.values).all()
