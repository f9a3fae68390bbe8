"""Requests as a hostile client makes them, by hand, against the real gunicorn
server: malformed chunked bodies, multipart forms, odd headers and methods,
stops mid-request.  None may end in a 500, and no log (the request log on
stdout, gunicorn's and the service's on stderr) may hold the key or the
client's text (issue 15, items 2-6).

Every request carries the key and a marker (`CLIENT`) wherever the client
can put text; the logs may hold neither, except the user agent and
X-Forwarded-For fields, logged on purpose (the key is redacted there)."""

from __future__ import annotations

import secrets
import signal
import socket
import time

import pytest

from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server

KEY = TEST_KEY.encode()
CLIENT = b"clienttext" + secrets.token_hex(4).encode()  # never in a log (18 characters)
RUN = b"POST /runDARTHmodel?seed=1"


def chunked(*chunks: bytes, path: bytes = RUN, headers: bytes = b"") -> bytes:
    return (path + b" HTTP/1.1\r\nHost: x\r\nkey: " + KEY + b"\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n" + headers
            + b"\r\n" + b"".join(chunks))


def multipart(part_head: bytes, value: bytes = b"[]", end: bytes = b"\r\n--b--\r\n") -> bytes:
    body = b"--b\r\nContent-Disposition: form-data; " + part_head + b"\r\n\r\n" + value + end
    return (RUN + b" HTTP/1.1\r\nHost: x\r\nkey: " + KEY + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def request(method: bytes = b"POST", path: bytes = b"/runDARTHmodel", headers: bytes = b"",
            body: bytes = b"") -> bytes:
    return (method + b" " + path + b" HTTP/1.1\r\nHost: x\r\n" + headers
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


# name -> (bytes sent, whether to close our sending side after them, expected status)
HOSTILE = {
    # chunked (item 2)
    "chunk-size-not-hex": (chunked(CLIENT + KEY + b"\r\n{}\r\n0\r\n\r\n"), False, 400),
    "chunk-without-crlf": (chunked(b"2\r\n{}" + CLIENT + KEY + b"0\r\n\r\n"), False, 400),
    "eof-mid-chunk": (chunked(b"40\r\n{\"seed\": \"" + CLIENT + KEY), True, 400),
    "chunk-size-negative": (chunked(b"-2\r\n{}" + CLIENT + b"\r\n0\r\n\r\n"), False, 400),
    "chunk-extension": (chunked(b"2;" + CLIENT + KEY + b"\r\n{}\r\n0\r\n\r\n"), False, 200),
    "eof-in-trailer": (chunked(b"2\r\n{}\r\n0\r\n" + CLIENT + KEY), True, 400),
    "chunked-and-length": (chunked(b"2\r\n{}\r\n0\r\n\r\n", headers=b"Content-Length: 2\r\n"),
                           False, 400),
    "eof-before-length": (request(headers=b"key: " + KEY + b"\r\nContent-Type: application/json\r\n",
                                  body=b"{\"seed\": 1, \"x\": \"" + CLIENT + KEY + b"\"}")[:-10],
                          True, 400),
    # multipart (item 3)
    "part-name-latin1": (multipart(b'name="param_\xe9' + CLIENT + b'"'), False, 400),
    "part-name-bad-utf8": (multipart(b'name="\xff\xfe' + CLIENT + KEY + b'"'), False, 400),
    "part-filename-bad-utf8": (multipart(b'name="seed"; filename="\xff' + CLIENT + b'"', b"1"),
                               False, 400),
    "part-name-is-key": (multipart(b'name="' + KEY + CLIENT + b'"'), False, 400),
    "part-value-bad-utf8": (multipart(b'name="param_updates"', b"\xff" + CLIENT + KEY), False, 400),
    "part-without-end": (multipart(b'name="seed"', b"1" + CLIENT, end=b""), False, 400),
    "part-cut-short": (multipart(b'name="seed"', b"1" + CLIENT)[:-8], True, 400),
    # headers
    "key-in-user-agent": (request(headers=b"key: " + KEY + b"\r\nUser-Agent: " + KEY + b"\r\n"),
                          False, 200),
    "key-in-forwarded-for": (request(headers=b"key: " + KEY + b"\r\nX-Forwarded-For: " + KEY
                                     + b"\r\n"), False, 200),
    "key-in-accept": (request(headers=b"key: " + KEY + b"\r\nAccept: " + CLIENT + KEY + b"\r\n"),
                      False, 200),  # an unreadable Accept counts as none: CSV
    "key-in-content-type": (request(headers=b"key: " + KEY + b"\r\nContent-Type: " + CLIENT
                                    + KEY + b"\r\n", body=b"x"), False, 415),
    "wrong-key-latin1": (request(headers=b"key: \xe9" + CLIENT + KEY + b"\r\n"), False, 403),
    "two-key-headers": (request(headers=b"key: " + KEY + b"\r\nkey: " + CLIENT + b"\r\n"),
                        False, 403),
    "key-in-expect": (request(headers=b"key: " + KEY + b"\r\nExpect: " + CLIENT + KEY + b"\r\n"),
                      False, 417),
    # methods and paths
    "method-is-client-text": (request(method=CLIENT.upper(), headers=b"key: " + KEY + b"\r\n"),
                              False, 400),  # Falcon's answer to a method it does not know
    "method-is-key": (request(method=KEY, headers=b"key: " + KEY + b"\r\n"), False, 400),
    "method-lowercase": (request(method=b"post", headers=b"key: " + KEY + b"\r\n"), False, 400),
    "get-with-body": (request(method=b"GET", body=b"{}", headers=b"key: " + KEY + b"\r\n"),
                      False, 405),
    "key-in-path": (request(method=b"GET", path=b"/" + KEY + CLIENT), False, 401),
    "key-in-query": (request(path=b"/runDARTHmodel?key=" + KEY + b"&" + CLIENT + b"=1",
                             headers=b"key: " + KEY + b"\r\n"), False, 400),
    "key-as-dataset": (request(path=b"/runDARTHmodel?path_to_psa_inputs=" + KEY + CLIENT,
                               headers=b"key: " + KEY + b"\r\n"), False, 404),
}


def exchange(port: int, raw: bytes, half_close: bool) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


def status_of(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else None


def assert_no_client_text(*logs: str) -> None:
    for log in logs:
        assert TEST_KEY not in log
        assert CLIENT.decode() not in log.lower()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    with gunicorn_server(folder, API_KEYS=TEST_KEY, WEB_CONCURRENCY="1",
                         AUTH_FAILURE_LIMIT="0") as server:
        yield server


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_request_is_no_500_and_leaves_no_client_text_in_the_logs(server, name):
    raw, half_close, expected = HOSTILE[name]
    port = int(server.url.rsplit(":", 1)[1])
    seen = len(server.stdout.read_text()), len(server.stderr.read_text())
    answer = exchange(port, raw, half_close)
    status = status_of(answer)
    time.sleep(0.1)  # the worker writes its log lines
    # This request's lines only: each case stands or falls on its own.
    stdout, stderr = server.stdout.read_text()[seen[0]:], server.stderr.read_text()[seen[1]:]
    assert status == expected, (answer[:300], stderr[-2000:])
    assert_no_client_text(stdout, stderr)  # the answer may quote the client's own text
    assert "Traceback" not in stderr


def test_the_request_log_keeps_the_method_only_when_it_is_an_http_method(server):
    port = int(server.url.rsplit(":", 1)[1])
    exchange(port, request(method=CLIENT.upper(), headers=b"key: " + KEY + b"\r\n"), False)
    exchange(port, request(method=b"DELETE", headers=b"key: " + KEY + b"\r\n"), False)
    time.sleep(0.1)
    methods = [entry["method"] for entry in server.log_entries()[-2:]]
    assert methods == ["(other)", "DELETE"]


@pytest.mark.parametrize("stop_signal", [signal.SIGQUIT, signal.SIGINT])
def test_stopping_gunicorn_mid_request_logs_no_request_line(tmp_path, stop_signal):
    """The worker is stopped while it waits for the rest of a body: gunicorn
    logs the request it was handling, once with the query string (item 5)."""
    with gunicorn_server(tmp_path, API_KEYS=TEST_KEY, WEB_CONCURRENCY="1") as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"POST /runDARTHmodel?key=" + KEY + b"&" + CLIENT + b"=1 HTTP/1.1\r\n"
                         b"Host: x\r\nkey: " + KEY + b"\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"seed\":")
            time.sleep(0.5)  # the worker is in the app, reading the body
            server.process.send_signal(stop_signal)
            server.process.wait(30)
        stderr = server.stderr.read_text()
    assert "Error handling request (request line not logged)" in stderr
    assert_no_client_text(server.stdout.read_text(), stderr)


def test_an_error_echoes_at_most_100_characters_of_a_name(tmp_path):
    """A 1 MB dataset name gave a 5 MB answer (item 6); names are cut."""
    from tests.support.client import app_client
    from service.settings import Settings

    client = app_client(Settings(api_keys=(TEST_KEY,)), key=TEST_KEY)
    huge = "n" * 900_000
    for arguments in ({"path_to_psa_inputs": huge}, {"path_to_psa_inputs": "https://" + huge},
                      {"path_to_psa_inputs": "../" + huge},
                      {"param_updates": [{"parameter": huge, "distribution": "beta", "v1": 1, "v2": 2}]},
                      {"param_updates": [{"parameter": "p_HS1", "distribution": huge, "v1": 1, "v2": 2}]}):
        result = client.simulate_post("/runDARTHmodel", json=arguments)
        assert result.status_code in (400, 404, 409, 422), result.text[:200]
        assert len(result.content) < 2000, result.text[:200]
        assert "nnnn'…" in result.json["error"]


@pytest.mark.parametrize("distribution, mean", [("normal", 2000), ("rlnorm", 7.6)])
def test_a_negative_zero_sd_is_no_500(distribution, mean):
    from tests.support.client import app_client
    from service.settings import Settings

    client = app_client(Settings(api_keys=(TEST_KEY,)), key=TEST_KEY)
    # JSON -0.0 is read as a negative zero (item 1: NumPy refused it, 500).
    body = ('{"seed": 1, "param_updates": [{"parameter": "c_H", "distribution": "%s", '
            '"v1": %s, "v2": -0.0}]}' % (distribution, mean))
    result = client.simulate_post("/runDARTHmodel", body=body,
                                  headers={"Content-Type": "application/json"})
    assert result.status_code == 200, result.text[:300]


@pytest.mark.parametrize("raw", [
    chunked(b"f" * 12 + b"\r\n" + CLIENT + KEY),  # a chunk far larger than what follows
    request(headers=b"key: " + KEY + b"\r\nContent-Type: application/json\r\n",
            body=b"{\"seed\": 1}" + b" " * 100)[:-50],  # shorter than its Content-Length
], ids=["huge-chunk", "short-body"])
def test_a_stalled_body_is_a_408_not_a_5xx(tmp_path, raw):
    """A body that never arrives in full ran into the time budget, a 503
    'contact the administrator' for what is the client's slowness."""
    with gunicorn_server(tmp_path, API_KEYS=TEST_KEY, WEB_CONCURRENCY="1",
                         REQUEST_TIMEOUT="1", GUNICORN_TIMEOUT="5") as server:
        port = int(server.url.rsplit(":", 1)[1])
        started = time.monotonic()
        answer = exchange(port, raw, False)
        assert status_of(answer) == 408 and time.monotonic() - started < 4, answer[:300]
        time.sleep(0.1)
        assert_no_client_text(server.stdout.read_text(), server.stderr.read_text())


# A lone UTF-16 surrogate is valid JSON escape syntax but no character: the
# dataset's name reached os.path.realpath, which cannot encode it (a 500).
# Query strings and forms cannot carry one (bad UTF-8 is replaced on decoding).
SURROGATES = {
    "dataset-name": ("/runDARTHmodel", '{"path_to_psa_inputs": "\\ud800"}'),
    "dataset-name-low-half": ("/runDARTHmodel", '{"path_to_psa_inputs": "data\\udfff.csv"}'),
    "argument-name": ("/runDARTHmodel", '{"\\ud83d": 1}'),
    "parameter-name": ("/runDARTHmodel", '{"param_updates": [{"parameter": "p\\ud800", '
                                         '"distribution": "beta", "v1": 1, "v2": 2}]}'),
    "distribution": ("/runDARTHmodel", '{"param_updates": [{"parameter": "p_HS1", '
                                       '"distribution": "\\udc00", "v1": 1, "v2": 2}]}'),
    "updates-as-json-text": ("/runDARTHmodel", '{"param_updates": "[{\\"parameter\\": \\"\\\\ud800\\"}]"}'),
    "evppi-group": ("/analysis", '{"seed": 1, "evppi": [["p_HS1", "\\ud800"]]}'),
    "wtp": ("/analysis", '{"seed": 1, "wtp": "\\ud800"}'),
}


@pytest.mark.parametrize("name", SURROGATES)
def test_a_lone_surrogate_anywhere_in_a_json_request_is_a_400(name):
    from tests.support.client import app_client
    from service.settings import Settings

    path, body = SURROGATES[name]
    client = app_client(Settings(api_keys=(TEST_KEY,)), key=TEST_KEY)
    result = client.simulate_post(path, body=body, headers={"Content-Type": "application/json"})
    assert result.status_code == 400, result.text[:300]
    assert "surrogate" in result.json["error"], result.json


def test_a_properly_paired_surrogate_is_an_ordinary_character():
    from tests.support.client import app_client
    from service.settings import Settings

    client = app_client(Settings(api_keys=(TEST_KEY,)), key=TEST_KEY)
    # U+1F600 written as its UTF-16 pair: a character, so just a name with no dataset.
    result = client.simulate_post("/runDARTHmodel", body='{"path_to_psa_inputs": "\\ud83d\\ude00.csv"}',
                                  headers={"Content-Type": "application/json"})
    assert result.status_code == 404, result.text[:300]


@pytest.mark.parametrize(("body", "key"), [
    ('{"seed": 1, "seed": 2}', "seed"),
    ('{"param_updates": [{"parameter": "p_HS1", "parameter": "c_H", "distribution": "beta", '
     '"v1": 1, "v2": 2}]}', "parameter"),
    ('{"param_updates": "[{\\"parameter\\": \\"p_HS1\\", \\"distribution\\": \\"beta\\", '
     '\\"v1\\": 1, \\"v1\\": 2, \\"v2\\": 3}]"}', "v1"),
])
def test_a_duplicate_key_in_a_json_object_is_a_422_naming_it(body, key):
    """JSON leaves repeated names to the parser (Python keeps the last): the
    README says each argument at most once, so a repeated one is refused."""
    from tests.support.client import app_client
    from service.settings import Settings

    client = app_client(Settings(api_keys=(TEST_KEY,)), key=TEST_KEY)
    result = client.simulate_post("/runDARTHmodel", body=body, headers={"Content-Type": "application/json"})
    assert result.status_code == 422, result.text[:300]
    assert result.json["key"] == key and repr(key) in result.json["error"], result.json


# --- The front's key check (GET /__key_check, nginx's auth_request) ----------

def _key_check_client(log=None, **settings):
    from tests.support.client import app_client
    from service.settings import Settings

    return app_client(Settings(api_keys=(TEST_KEY,), **settings), log=log)


def test_the_key_check_passes_a_valid_key_silently_and_any_key_scope():
    import io

    from service.keys import ApiKey
    from tests.support.client import app_client
    from service.settings import Settings

    log = io.StringIO()
    scoped = ApiKey("scoped", "scoped-key-" + "x" * 20, endpoints=frozenset({"/analysis"}))
    client = app_client(Settings(api_keys=(TEST_KEY, scoped)), log=log)
    for key in (TEST_KEY, scoped.secret):
        result = client.simulate_get("/__key_check", headers={"key": key})
        assert result.status_code == 204 and not result.content
    assert client.simulate_get("/__key_check", headers={"Authorization": f"Bearer {TEST_KEY}"}).status_code == 204
    assert log.getvalue() == ""  # the request that follows is logged, not its check


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"key": "wrong-key"}, 403),
    ({"key": TEST_KEY, "Authorization": "Key other-key"}, 400),
])
def test_the_key_check_refuses_as_401_or_403_carrying_the_services_answer(headers, status):
    import json

    client = _key_check_client()
    direct = client.simulate_post("/runDARTHmodel", headers=headers, body=b"{}")
    result = client.simulate_get("/__key_check", headers=headers)
    assert direct.status_code == status
    assert result.status_code == (401 if status == 401 else 403)
    assert result.headers["X-Refusal-Status"] == str(status)
    assert json.loads(result.headers["X-Refusal"]) == direct.json


def test_the_key_check_counts_wrong_keys_and_hands_on_the_throttles_429():
    import io
    import json

    log = io.StringIO()
    client = _key_check_client(log=log, auth_failure_limit=2)
    statuses = [client.simulate_get("/__key_check", headers={"key": "wrong"}).headers["X-Refusal-Status"]
                for _ in range(3)]
    throttled = client.simulate_get("/__key_check", headers={"key": TEST_KEY})
    assert statuses == ["403", "403", "429"]
    assert throttled.status_code == 403 and throttled.headers["X-Refusal-Status"] == "429"
    assert int(throttled.headers["Retry-After"]) >= 1
    assert "try again in" in json.loads(throttled.headers["X-Refusal"])["error"]
    # Each refusal is in the request log as it was, never the key.
    logged = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [entry["status"] for entry in logged] == [403, 403, 429, 429]
    assert TEST_KEY not in log.getvalue()


def test_a_worker_killed_mid_run_leaves_its_start_and_the_masters_word(tmp_path):
    """Issue 26 item 5: a worker OOM-killed mid-run left no audit record
    at all.  Now the run's start is on record, no end follows, and
    gunicorn's master writes "killed" with the run id."""
    import json
    import os
    import threading

    with gunicorn_server(tmp_path, API_KEYS=TEST_KEY, WEB_CONCURRENCY="1") as server:
        port = int(server.url.rsplit(":", 1)[1])
        body = json.dumps({"n_samples": 100000, "seed": 1, "wtp": "0:100000:1000",
                           "evppi": ["p_HS1", "c_S1"]}).encode()
        raw = request(path=b"/analysis", headers=b"key: " + KEY + b"\r\nContent-Type: application/json\r\n",
                      body=body)
        threading.Thread(target=exchange, args=(port, raw, False), daemon=True).start()
        deadline = time.monotonic() + 20
        while not server.audit_entries(("start",)) and time.monotonic() < deadline:
            time.sleep(0.02)
        started = server.audit_entries(("start",))
        assert started, server.stdout.read_text()[-2000:]
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGKILL)  # as the OOM killer does
        while not server.audit_entries(("killed",)) and time.monotonic() < deadline:
            time.sleep(0.05)
        killed = server.audit_entries(("killed",))
        ended = server.audit_entries()
        stderr = server.stderr.read_text()
    run_id = started[0]["run_id"]
    assert [r["run_id"] for r in killed] == [run_id], stderr[-2000:]
    assert killed[0]["pid"] == worker and "died mid-run" in killed[0]["outcome"]
    assert run_id not in {r["run_id"] for r in ended}
    assert f"died during run {run_id}" in stderr
