"""The front (nginx, front/) before the API's image, as the task runs them:
TLS 1.2+ only, HTTP redirects, clients trusting the CA (curl, R httr), slow
clients cut off without costing a worker, a stop that loses no accepted
request, and no private key in the image or the logs.

Both containers run on free loopback ports (tests/support/front.py); the
demo's fixed ports are checked by tests/e2e/test_demo.py.  Figures for 200+
slow clients held for 60 s are bench/bench_front.py's (bench/RESULTS.md).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.support.front import front_stack, tls_handshake
from tests.support.image import docker
from tests.support.load import BODY, run_load
from tests.support.paths import ROOT
from tests.support.secret_audit import TEST_KEY
from tests.support.slow_clients import SlowClients, SlowClientsProcess, probe

pytestmark = pytest.mark.slow
KEY = TEST_KEY


@pytest.fixture(scope="module")
def stack(api_image, front_image, tmp_path_factory):
    with front_stack(api_image.tag, front_image, tmp_path_factory.mktemp("front"),
                     {"API_KEYS": KEY}) as running:
        yield running


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_tls_1_0_and_1_1_are_refused(stack, version):
    assert tls_handshake(stack.https_port, version, "-cipher", "DEFAULT@SECLEVEL=0") == "New, (NONE), Cipher is (NONE)"


@pytest.mark.parametrize(("version", "expected"), [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_tls_1_2_and_1_3_are_accepted_with_forward_secret_ciphers(stack, version, expected):
    line = tls_handshake(stack.https_port, version)
    assert line.startswith(f"New, {expected}, Cipher is "), line
    cipher = line.rsplit(" ", 1)[1]
    assert cipher.startswith(("ECDHE-", "TLS_")) and ("GCM" in cipher or "CHACHA20" in cipher), cipher


def test_a_weak_tls_1_2_cipher_is_refused(stack):
    line = tls_handshake(stack.https_port, "-tls1_2", "-cipher", "AES128-SHA:DES-CBC3-SHA@SECLEVEL=0")
    assert line == "New, (NONE), Cipher is (NONE)"


def test_http_redirects_to_https_keeping_path_query_and_method(stack):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    for method, body in (("GET", None), ("POST", BODY)):
        request = urllib.request.Request(stack.http_url + "/runDARTHmodel?seed=3", data=body, method=method,
                                         headers={"key": KEY})
        with pytest.raises(urllib.error.HTTPError) as answer:
            opener.open(request, timeout=10)
        # 308: the client repeats the same method with the same body.
        assert answer.value.code == 308
        assert answer.value.headers["Location"] == f"{stack.https_url}/runDARTHmodel?seed=3"
    # Nothing went to the API in clear text.
    assert "/runDARTHmodel" not in stack.logs(stack.api)


def test_https_answers_carry_hsts_and_no_server_version(stack):
    with urllib.request.urlopen(stack.https_url + "/health", context=stack.tls_context(), timeout=10) as answer:
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert answer.headers["Server"] == "nginx"


def test_curl_runs_the_model_trusting_the_ca_and_refuses_without_it(stack, tmp_path):
    command = ["curl", "-sS", "--fail", "-X", "POST", f"{stack.https_url}/runDARTHmodel",
               "-H", "Content-Type: application/json", "-H", "@" + str(tmp_path / "headers"),
               "-d", BODY.decode()]
    (tmp_path / "headers").write_text(f"key: {KEY}\n")  # never on a command line
    trusted = subprocess.run([*command, "--cacert", str(stack.ca_file)], capture_output=True, text=True, timeout=30)
    assert trusted.returncode == 0, trusted.stderr
    lines = trusted.stdout.splitlines()
    assert len(lines) == 1001 and lines[0].startswith("C_No_Treatment,")
    untrusted = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert untrusted.returncode == 60, untrusted.stderr  # curl: peer certificate cannot be authenticated


def test_the_tutorials_httr_client_works_over_https_with_the_ca(stack):
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.fail("Rscript not found: run `make system` (scripts/setup-system.sh)")
    env = {**os.environ, "LIVING_HTA_URL": stack.https_url, "LIVING_HTA_KEY": KEY,
           "LIVING_HTA_CA": str(stack.ca_file)}
    done = subprocess.run([rscript, "tests/r/httr_client.R"], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    assert lines["dim"].split() == ["1000", "6"]
    # Without the CA, httr (libcurl) refuses the self-signed certificate.
    env.pop("LIVING_HTA_CA")
    refused = subprocess.run([rscript, "tests/r/httr_client.R"], env=env, capture_output=True,
                             text=True, timeout=120, cwd=ROOT)
    assert refused.returncode != 0 and "certificate" in refused.stderr.lower(), refused.stderr[-2000:]


def test_a_clients_own_forwarded_for_does_not_dodge_the_throttle(api_image, front_image, tmp_path):
    """The front replaces X-Forwarded-For with the address it saw, and the
    service believes it only from the front: wrong keys sent with a new
    made-up X-Forwarded-For each time still count against one client."""
    with front_stack(api_image.tag, front_image, tmp_path, {"API_KEYS": KEY, "WEB_CONCURRENCY": "1",
                                                           "AUTH_FAILURE_LIMIT": "3"}) as running:
        statuses = []
        for n in range(4):
            request = urllib.request.Request(
                running.https_url + "/runDARTHmodel", data=BODY, method="POST",
                headers={"key": "wrong-key", "Content-Type": "application/json",
                         "X-Forwarded-For": f"198.51.100.{n}"})
            try:
                urllib.request.urlopen(request, context=running.tls_context(), timeout=10)
            except urllib.error.HTTPError as answer:
                statuses.append(answer.code)
        entries = [json.loads(line) for line in running.logs(running.api).splitlines() if line.startswith("{")]
    assert statuses == [403, 403, 403, 429]
    assert not any("198.51.100." in entry.get("forwarded_for", "") for entry in entries)


def test_behind_a_load_balancer_the_client_it_names_is_counted(api_image, front_image, tmp_path):
    """FRONT_FORWARDED_FOR=append (load_balanced): the front appends its peer
    (here the test, as the load balancer, reaching it through the Docker
    bridge: 172.17.0.1, trusted) to the X-Forwarded-For the load balancer
    wrote; the service counts the address the load balancer put last, not
    what a client wrote before it, nor the load balancer itself."""
    with front_stack(api_image.tag, front_image, tmp_path, {"API_KEYS": KEY, "WEB_CONCURRENCY": "1",
                                                           "AUTH_FAILURE_LIMIT": "3"},
                     front_env={"FRONT_FORWARDED_FOR": "append"}) as running:
        def wrong_key(forwarded_for: str) -> int:
            request = urllib.request.Request(
                running.https_url + "/runDARTHmodel", data=BODY, method="POST",
                headers={"key": "wrong-key", "Content-Type": "application/json", "X-Forwarded-For": forwarded_for})
            try:
                urllib.request.urlopen(request, context=running.tls_context(), timeout=10)
            except urllib.error.HTTPError as answer:
                return answer.code
            return 200

        # One client, whatever it wrote itself before the load balancer's entry.
        first = [wrong_key(f"198.51.100.{n}, 203.0.113.7") for n in range(4)]
        # Another client behind the same load balancer is not affected.
        other = wrong_key("203.0.113.8")
        entries = [json.loads(line) for line in running.logs(running.api).splitlines() if line.startswith("{")]
    assert first == [403, 403, 403, 429] and other == 403
    # The header as the service got it: what the load balancer sent, and the front's peer appended.
    routes = [e["forwarded_for"].split(", ") for e in entries if e.get("auth") in ("invalid", "throttled")]
    assert [route[:-1] for route in routes] == [[f"198.51.100.{n}", "203.0.113.7"] for n in range(4)] + [
        ["203.0.113.8"]]
    assert len({route[-1] for route in routes}) == 1


def test_slow_clients_are_cut_off_and_never_reach_a_worker(api_image, front_image, tmp_path):
    """One gunicorn worker; 60 clients dripping headers and 60 dripping a body
    slower than the front's timeout (here 2 s), while a client probes
    /health and runs the model: every probe answers, the slow connections
    are closed when the timeout strikes (nginx logs 408 and closes without
    an answer: it never sends a 408 for a timeout), and the API never sees
    them."""
    with front_stack(api_image.tag, front_image, tmp_path, {"API_KEYS": KEY, "WEB_CONCURRENCY": "1"},
                     front_env={"FRONT_CLIENT_TIMEOUT": "2"}) as slow_stack:
        context = slow_stack.tls_context()
        with SlowClients(slow_stack.https_url, "headers", 60, interval=3, tls=context) as headers, \
                SlowClients(slow_stack.https_url, "body", 60, interval=3, tls=context, key=KEY) as body:
            seen = probe(slow_stack.https_url, 8, KEY, context, at_least=21)
        api_log = slow_stack.logs(slow_stack.api)
        front_log = slow_stack.logs(slow_stack.front)
    assert seen.failures == [] and seen.sent > 20
    # Had the slow clients reached the one worker, a probe would queue behind
    # dozens of them, each held up to the front's timeout (2 s).  The probes'
    # own figure, p99 < 1 s, is bench/bench_front.py's: on CI's two cores
    # shared with three other test workers one model run took 1.7 s.
    assert seen.percentile("health", 1.0) < 3 and seen.percentile("model", 1.0) < 3
    assert headers.report.cut >= 60 and body.report.cut >= 60
    assert max(headers.report.held_seconds) < 4 and max(body.report.held_seconds) < 6
    assert front_log.count('"POST /runDARTHmodel" 408 ') >= 60
    # The API logged only the probes' requests: health and model runs, all 200
    # (each model run also leaves an audit record, "log": "audit", on the same
    # stream: it has no status, and its outcome must be ok).
    entries = [json.loads(line) for line in api_log.splitlines() if line.startswith("{")]
    requests = [e for e in entries if e.get("log") != "audit"]
    assert requests and {e["status"] for e in requests} == {200}
    assert all(e["outcome"] == "ok" for e in entries if e.get("log") == "audit" and e["event"] == "end")
    assert "WORKER TIMEOUT" not in api_log


def test_a_client_that_never_reads_holds_the_front_not_a_worker(api_image, front_image, tmp_path):
    with front_stack(api_image.tag, front_image, tmp_path, {"API_KEYS": KEY, "WEB_CONCURRENCY": "1"},
                     front_env={"FRONT_CLIENT_TIMEOUT": "3"}) as slow_stack:
        context = slow_stack.tls_context()
        with SlowClients(slow_stack.https_url, "no_read", 40, tls=context, key=KEY) as never_reading:
            seen = probe(slow_stack.https_url, 6, KEY, context)
            held = never_reading.open_now
        api_log = slow_stack.logs(slow_stack.api)
    assert held >= 30, never_reading.report
    # Behind a client that never reads, a probe would wait the front's
    # timeout (3 s); the figure itself is bench/bench_front.py's.
    assert seen.failures == [] and seen.percentile("model", 1.0) < 3
    # The API answered every never-reading client at once (the front took the whole answer).
    assert "WORKER TIMEOUT" not in api_log


def test_stopping_the_task_under_load_loses_no_accepted_request(api_image, front_image, tmp_path):
    """As ECS stops the task: the front first (SIGQUIT: it finishes what it
    accepted), then the API.  Requests arrive throughout; each one either
    gets its whole answer or is refused before the server took it."""
    with front_stack(api_image.tag, front_image, tmp_path, {"API_KEYS": KEY}) as running:
        results = {}
        load = threading.Thread(target=lambda: results.setdefault("load", run_load(
            running.https_url, KEY, total=600, concurrency=6, tls=running.tls_context(), timeout=30)))
        load.start()
        time.sleep(2)
        stopped = time.monotonic()
        docker("stop", running.front, timeout=60)
        front_seconds = time.monotonic() - stopped
        docker("stop", running.api, timeout=60)
        load.join(120)
        front_log = running.logs(running.front)
    result = results["load"]
    assert result.ok > 50, result.statuses            # it was under load when stopped
    assert result.lost == [], result.lost[:5]         # nothing taken and then dropped
    assert result.bad_statuses == [], result.bad_statuses[:5]
    assert result.errors, "the load should have outlived the front"
    assert front_seconds < 10                         # graceful, not the 30 s stop timeout
    model_runs = [line for line in front_log.splitlines() if '"POST /runDARTHmodel"' in line]
    assert model_runs and all(' 200 ' in line for line in model_runs), model_runs[-5:]
    assert len(model_runs) == result.ok


def test_no_private_key_in_the_image(front_image, stack):
    history = docker("history", "--no-trunc", front_image).stdout
    assert "PRIVATE KEY" not in history
    listing = docker("run", "--rm", "--entrypoint", "sh", front_image, "-c",
                     "grep -rlIE '^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----$' / --exclude-dir=proc "
                     "--exclude-dir=sys 2>/dev/null || true", timeout=300).stdout
    assert listing.strip() == "", listing
    assert stack.private_key.splitlines()[1] not in stack.logs(stack.front)


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("FRONT_UPSTREAM", "api:8000; include /etc/passwd", "FRONT_UPSTREAM must be host:port"),
    ("FRONT_CLIENT_TIMEOUT", "10s", "FRONT_CLIENT_TIMEOUT must be a whole number"),
    ("TLS_PRIVATE_KEY", "not a key", "the private key is not PEM"),
    ("FRONT_FORWARDED_FOR", "prepend", "FRONT_FORWARDED_FOR must be set or append"),
])
def test_bad_settings_stop_the_front_with_one_line(front_image, variable, value, message, tmp_path):
    from tests.support.tls import make_certificate

    pem = make_certificate(tmp_path)
    env = {"TLS_CERTIFICATE": pem["certificate"].read_text(), "TLS_PRIVATE_KEY": pem["key"].read_text(),
           variable: value}
    proc = subprocess.run(["docker", "run", "--rm", *[a for k in env for a in ("-e", k)], front_image],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"living-hta front: cannot start: {message}"
                                                + proc.stderr.strip().split(message, 1)[1]]
    assert pem["key"].read_text().splitlines()[1] not in proc.stderr
    if variable == "TLS_PRIVATE_KEY":
        assert value not in proc.stderr


def test_the_fronts_own_errors_are_json_like_the_services(stack):
    # Over the service's 1 MiB the service answers 413 itself; over the front's 2 MiB, the front does.
    for size, source in ((1024 * 1024 + 10, "service"), (3 * 1024 * 1024, "front")):
        request = urllib.request.Request(stack.https_url + "/runDARTHmodel", data=b" " * size, method="POST",
                                         headers={"key": KEY, "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, context=stack.tls_context(), timeout=30)
        assert answer.value.code == 413, source
        assert answer.value.headers["Content-Type"].startswith("application/json"), source
        assert json.loads(answer.value.read())["error"], source


def test_plain_http_only_when_asked_and_with_a_warning(api_image, front_image, tmp_path):
    with front_stack(api_image.tag, front_image, tmp_path, {"API_KEYS": KEY},
                     front_env={"FRONT_PLAIN_HTTP": "1"}) as plain:
        with urllib.request.urlopen(plain.http_url + "/health", timeout=10) as answer:
            assert answer.status == 200 and "Strict-Transport-Security" not in answer.headers
        warning = plain.logs(plain.front)
    assert "WARNING: FRONT_PLAIN_HTTP=1: port 8080 serves the API in clear text" in warning


# --- Issue 26: limits on the real client, a key before a body, every error in JSON --

def parse(answer: bytes) -> tuple[int, dict[str, list[str]], bytes]:
    """Status, headers (lower-case names, every value) and body of a raw answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), answer[:300]
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(lines[0].split(" ", 2)[1]), headers, body


def assert_json_error(answer: bytes, status: int) -> dict:
    code, headers, body = parse(answer)
    assert code == status, answer[:400]
    assert headers["content-type"][0].startswith("application/json"), answer[:400]
    assert headers.get("x-content-type-options") == ["nosniff"], answer[:400]
    document = json.loads(body)
    assert isinstance(document["error"], str) and document["error"], document
    return document


# name -> (bytes, sent over TLS to the HTTPS port (else plain to the HTTP port), status)
FRONT_ANSWERS = {
    "trace": (b"TRACE /health HTTP/1.1\r\nHost: x\r\n\r\n", True, 405),
    "trace-on-the-http-port": (b"TRACE /health HTTP/1.1\r\nHost: x\r\n\r\n", False, 405),
    "9-kb-url": (b"GET /health?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", True, 414),
    "malformed-request-line": (b"GET /health HTTP/1.1 x\r\nHost: x\r\n\r\n", True, 400),
    "header-over-8-kb": (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", True, 400),
    "the-key-check-is-not-public": (b"GET /__key_check HTTP/1.1\r\nHost: x\r\nkey: " + KEY.encode()
                                    + b"\r\n\r\n", True, 404),
}


@pytest.mark.parametrize("name", FRONT_ANSWERS)
def test_the_fronts_own_answers_are_json_with_nosniff(stack, name):
    raw, tls, status = FRONT_ANSWERS[name]
    answer, _ = stack.exchange(raw, tls=tls)
    assert_json_error(answer, status)


def test_plain_http_on_the_https_port_is_a_json_400(stack):
    import socket

    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert "plain HTTP" in assert_json_error(answer, 400)["error"]


@pytest.mark.parametrize("raw", [
    b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /page/page.js HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /parameters HTTP/1.1\r\nHost: x\r\nkey: " + KEY.encode() + b"\r\n\r\n",
    b"GET /no-such-thing HTTP/1.1\r\nHost: x\r\nkey: " + KEY.encode() + b"\r\n\r\n",
    b"POST /runDARTHmodel HTTP/1.1\r\nHost: x\r\nkey: " + KEY.encode() + b"\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY,
], ids=["health", "page-asset", "page", "parameters", "service-404", "model-run"])
def test_every_answer_carries_nosniff_once(stack, raw):
    answer, _ = stack.exchange(raw)
    _, headers, _ = parse(answer)
    assert headers.get("x-content-type-options") == ["nosniff"], answer[:400]


def test_a_host_header_that_is_no_host_name_is_a_json_400(stack):
    """Issue 26 item 6: `Host: evil.example/foo?` gave the load balancer's
    `Location: https://evil.example/foo?:8443/x`; the front refuses it."""
    answer, _ = stack.exchange(b"GET /x HTTP/1.1\r\nHost: evil.example/foo?\r\n\r\n", tls=False)
    assert_json_error(answer, 400)


@pytest.mark.parametrize(("host", "location_host"), [
    ("evil.example", "127.0.0.1"),
    ("evil.example:8080", "127.0.0.1"),
    ("localhost:1234", "localhost"),
    ("127.0.0.1", "127.0.0.1"),
])
def test_the_redirect_names_a_public_host_never_the_clients_host_header(stack, host, location_host):
    """Issue 26 item 6: `Host: evil.example/foo?` gave
    `Location: https://evil.example/foo?:8443/x`."""
    answer, _ = stack.exchange(f"GET /x?y=1 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(), tls=False)
    status, headers, _ = parse(answer)
    assert status == 308
    assert headers["location"] == [f"https://{location_host}:{stack.https_port}/x?y=1"]
    assert headers.get("x-content-type-options") == ["nosniff"]


def upload_head(key: str | None, length: int = 100_000, forwarded_for: str = "") -> bytes:
    """A model run's headers announcing a body that is never sent."""
    return ("POST /runDARTHmodel HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + (f"key: {key}\r\n" if key is not None else "")
            + (f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else "")
            + f"Content-Length: {length}\r\n\r\n").encode()


def test_no_key_no_body_read_and_a_wrong_key_refused_before_the_body(stack):
    """Issue 26 item 2: the front read a keyless body in full (up to its
    timeout) before the service said 401.  Now the front answers at once,
    with the service's own words."""
    service_401 = urllib.request.Request(stack.https_url + "/runDARTHmodel", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(service_401, context=stack.tls_context(), timeout=10)
    missing_text = json.loads(missing.value.read())
    for key, status in ((None, 401), ("wrong-key", 403), ("", 401)):
        answer, seconds = stack.exchange(upload_head(key), wait=8)
        document = assert_json_error(answer, status)
        assert seconds < 2, (key, seconds)
        if status == 401:
            assert document == missing_text
        else:
            assert document["error"].startswith("Authentication failed.")
    # A valid key still sends its body to the service.
    answer, _ = stack.exchange(upload_head(KEY, len(BODY)) + BODY)
    assert parse(answer)[0] == 200


def test_the_open_locations_of_the_front_are_the_services_open_endpoints():
    """front/api.conf lists the endpoints that need no key; the service
    declares them once (service/app.py): both say the same of each path."""
    import re

    from service.settings import Settings
    from tests.support.client import app_client

    conf = (ROOT / "front" / "api.conf").read_text()
    exact = set(re.findall(r"^location = (\S+) \{", conf, re.M))
    prefixes = [p for p in re.findall(r"^location (/\S+/) \{", conf, re.M)]
    client = app_client(Settings(api_keys=(KEY,)))
    paths = ["/", "/health", "/paper", "/openapi.json", "/__docs__", "/__docs__/", "/__docs__/swagger-ui.css",
             "/page/page.js", "/page/plotly.min.js", "/runDARTHmodel", "/analysis", "/parameters", "/nothing",
             "/health/", "/page"]
    for path in paths:
        open_in_service = client.simulate_get(path).status_code != 401
        open_in_front = (path in exact and path != "/__key_check") or any(path.startswith(p) for p in prefixes)
        assert open_in_front == open_in_service, path


def test_limits_count_the_client_the_load_balancer_names(api_image, front_image, tmp_path):
    """Issue 26 item 1, issue 23 item 13: behind the load balancer (here the
    test, reaching the front through the Docker bridge, trusted by
    TRUSTED_PROXIES) the per-address limits and the wrong-key throttle count
    the client in X-Forwarded-For: one client at its limit leaves others
    alone.  Before, every request counted as the load balancer's."""
    with front_stack(api_image.tag, front_image, tmp_path,
                     {"API_KEYS": KEY, "WEB_CONCURRENCY": "1", "AUTH_FAILURE_LIMIT": "2"},
                     front_env={"FRONT_FORWARDED_FOR": "append", "TRUSTED_PROXIES": "172.17.0.0/16",
                                "FRONT_CONNECTIONS_PER_ADDRESS": "5"}) as running:
        context = running.tls_context()
        with SlowClients(running.https_url, "body", 8, interval=1, tls=context, key=KEY,
                         forwarded_for="203.0.113.66") as greedy:
            seen = probe(running.https_url, 3, KEY, context, forwarded_for="203.0.113.7", at_least=4)
        # The wrong-key throttle, through the front's key check.
        wrong = [parse(running.exchange(upload_head("wrong", 10, "203.0.113.9"))[0]) for _ in range(3)]
        other = parse(running.exchange(upload_head("wrong", 10, "203.0.113.10"))[0])[0]
        front_log = running.logs(running.front)
    assert seen.failures == [] and seen.sent >= 4, seen.failures
    assert greedy.report.answers["429"] >= 3, greedy.report
    assert [status for status, _, _ in wrong] == [403, 403, 429]
    assert int(wrong[2][1]["retry-after"][0]) >= 1 and "try again in" in json.loads(wrong[2][2])["error"]
    assert other == 403
    # The front's log names the clients, not the load balancer.
    assert '203.0.113.66 "POST /runDARTHmodel" 429 ' in front_log
    assert '203.0.113.7 "GET /health" 200 ' in front_log


def test_keyless_slow_uploads_hold_nothing_keyed_clients_need(api_image, front_image, tmp_path):
    """Issue 26's attack, against the front as the load balancer reaches it:
    300 uploads without a key, each dripping a 100,000-byte body, all from
    one client behind the load balancer (the front's per-address limit here
    100, to fail with fewer connections than the issue's 1,100 against 512),
    while another client probes /health and a model run: every probe
    answers within a second."""
    with front_stack(api_image.tag, front_image, tmp_path, {"API_KEYS": KEY, "WEB_CONCURRENCY": "1"},
                     front_env={"FRONT_FORWARDED_FOR": "append", "TRUSTED_PROXIES": "172.17.0.0/16",
                                "FRONT_CONNECTIONS_PER_ADDRESS": "100"}) as running:
        context = running.tls_context()
        with SlowClientsProcess(running.https_url, "keyless_body", 300, ca_file=str(running.ca_file),
                                interval=5, forwarded_for="203.0.113.66", ramp_seconds=3) as attack:
            seen = probe(running.https_url, 12, KEY, context, forwarded_for="203.0.113.7", at_least=10)
        api_log = running.logs(running.api)
    # On main every probe was refused (503).  The bar, worst < 1 s,
    # is bench/bench_front_attacks.py's figure (521 ms with 1,200 uploads);
    # here within 2 s, which a shared 2-core machine at load 12 still keeps.
    assert seen.failures == [] and seen.sent >= 10, seen.failures[:10]
    assert seen.percentile("health", 1.0) < 2 and seen.percentile("model", 1.0) < 2
    assert attack.report.answers["401"] >= 300, attack.report
    assert '"/runDARTHmodel","status":401' not in api_log  # refused by the front, not the service


def test_a_body_just_over_the_services_limit_is_always_its_json_413(stack):
    """Issue 26 item 8: the service answered 413 from Content-Length and
    closed while the front was still sending the body: the front saw the
    connection reset and answered 502 instead, now and then."""
    statuses = []
    for size in [1024 * 1024 + n for n in (1, 1000, 64 * 1024, 512 * 1024)] * 16:
        answer, _ = stack.exchange(upload_head(KEY, size) + b" " * size, wait=20)
        status, headers, body = parse(answer)
        statuses.append(status)
        if status == 413:
            assert headers["content-type"][0].startswith("application/json")
            assert json.loads(body)["limit"] == 1024 * 1024
    assert set(statuses) == {413}, statuses


def test_clients_that_never_read_plotly_hold_no_worker(api_image, front_image, tmp_path):
    """Issue 26 item 9: 200 clients that never read /page/plotly.min.js
    (4.8 MB; 1.5 MB gzipped) stalled every probe for 3.7-7.5 s: each one was
    a request to the service.  The front serves the page's scripts from its
    cache: the service is asked once per variant, the probes go on."""
    with front_stack(api_image.tag, front_image, tmp_path, {"API_KEYS": KEY, "WEB_CONCURRENCY": "1"},
                     front_env={"FRONT_CLIENT_TIMEOUT": "5"}) as running:
        context = running.tls_context()
        # The gzip variant as browsers get it, from the cache.
        compressed = urllib.request.Request(running.https_url + "/page/plotly.min.js",
                                            headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(compressed, context=context, timeout=30) as answer:
            assert answer.headers["Content-Encoding"] == "gzip"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert 1_000_000 < len(answer.read()) < 2_000_000
        with SlowClients(running.https_url, "no_read", 200, tls=context, path="/page/plotly.min.js",
                         ramp_seconds=3) as never_reading:
            seen = probe(running.https_url, 8, KEY, context, at_least=21)
        api_log = running.logs(running.api)
    assert seen.failures == [] and seen.sent > 20, (seen.latencies, never_reading.report)
    # Every probe answered (on main: none did, a 10 s timeout); the worst
    # within 3 s, a bound a busy shared machine keeps (the probe shares this
    # process with 200 clients' handshakes): the figures are
    # bench/bench_front.py's.
    assert seen.percentile("health", 1.0) < 3 and seen.percentile("model", 1.0) < 3
    assert never_reading.report.opened >= 200
    asked = [line for line in api_log.splitlines() if '"path":"/page/{asset}"' in line or "/page/plotly" in line]
    assert len(asked) <= 2, asked[:5]


def test_the_demo_load_balancers_error_files_are_whole_json_answers():
    """standins/lb-errors/: HAProxy sends each file as it is (issue 26 item 6)."""
    folder = ROOT / "standins" / "lb-errors"
    files = sorted(folder.glob("*.http"))
    assert {int(path.stem) for path in files} >= {400, 403, 405, 408, 413, 429, 500, 502, 503, 504}
    for path in files:
        status, headers, body = parse(path.read_bytes())
        assert status == int(path.stem), path
        assert headers["content-type"] == ["application/json"], path
        assert headers["x-content-type-options"] == ["nosniff"], path
        assert int(headers["content-length"][0]) == len(body), path
        assert json.loads(body)["error"], path
