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
from tests.support.slow_clients import SlowClients, probe

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
            seen = probe(slow_stack.https_url, 8, KEY, context)
        api_log = slow_stack.logs(slow_stack.api)
        front_log = slow_stack.logs(slow_stack.front)
    assert seen.failures == [] and seen.sent > 20
    assert seen.percentile("health", 0.99) < 1 and seen.percentile("model", 0.99) < 1
    assert headers.report.cut >= 60 and body.report.cut >= 60
    assert max(headers.report.held_seconds) < 4 and max(body.report.held_seconds) < 6
    assert front_log.count('"POST /runDARTHmodel" 408 ') >= 60
    # The API logged only the probes' requests: health and model runs, all 200
    # (each model run also leaves an audit record, "log": "audit", on the same
    # stream: it has no status, and its outcome must be ok).
    entries = [json.loads(line) for line in api_log.splitlines() if line.startswith("{")]
    requests = [e for e in entries if e.get("log") != "audit"]
    assert requests and {e["status"] for e in requests} == {200}
    assert all(e["outcome"] == "ok" for e in entries if e.get("log") == "audit")
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
    assert seen.failures == [] and seen.percentile("model", 0.99) < 1
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
