"""The per-request time budget (service/timeout.py), in process: a request that
runs too long gets a JSON 503 instead of a killed worker; nothing else changes.
The same over real gunicorn: tests/service/test_hardening_faults.py."""

from __future__ import annotations

import io
import json
import signal
import time

import pytest

from service.pipeline import run_builtin_model
from service.settings import Settings, SettingsError
from tests.support.client import app_client
from tests.support.secret_audit import TEST_KEY

RUN = "/runDARTHmodel"
HEADERS = {"key": TEST_KEY, "Content-Type": "application/json"}
BODY = json.dumps({"param_updates": [], "seed": 2})


def sleeping(table, updates, seed, n_samples):
    time.sleep(10)
    return run_builtin_model(table, updates, seed, n_samples)


def spinning(table, updates, seed, n_samples):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pass
    return run_builtin_model(table, updates, seed, n_samples)


@pytest.mark.parametrize("runner", [sleeping, spinning], ids=["blocked", "cpu-bound"])
def test_a_slow_run_is_stopped_with_a_json_503(runner):
    log = io.StringIO()
    client = app_client(Settings(api_keys=(TEST_KEY,), request_timeout=0.3), runner=runner,
                        log=log)
    started = time.monotonic()
    result = client.simulate_post(RUN, body=BODY, headers=HEADERS)
    elapsed = time.monotonic() - started
    assert result.status_code == 503 and elapsed < 2
    assert result.headers["Content-Type"] == "application/json"
    assert result.headers["Retry-After"] == "1"
    assert result.json["error"].startswith("the request took longer than this service allows (0.3 s)")
    assert result.json["limit_seconds"] == 0.3
    entry = json.loads(log.getvalue().splitlines()[-1])
    assert (entry["status"], entry["error"]) == (503, "time budget of 0.3 s exceeded")


class SlowBody(io.RawIOBase):
    """A request body that arrives too slowly: a slow-loris client."""

    def readable(self):
        return True

    def readinto(self, buffer):
        time.sleep(10)
        return 0


def test_a_body_that_does_not_arrive_in_time_is_a_408_not_a_503():
    from falcon.testing import create_environ

    log = io.StringIO()
    client = app_client(Settings(api_keys=(TEST_KEY,), request_timeout=0.3), log=log)
    environ = create_environ(RUN, method="POST", headers={**HEADERS, "Content-Length": "100"})
    environ["wsgi.input"] = SlowBody()
    answer = {}
    started = time.monotonic()
    body = b"".join(client.app(environ, lambda status, headers: answer.update(
        status=status, headers=dict(headers))))
    assert time.monotonic() - started < 2
    assert answer["status"].startswith("408"), (answer, body)
    assert json.loads(body)["error"].startswith(
        "the request body did not arrive within the time this service allows (0.3 s)")
    assert answer["headers"]["connection"] == "close"
    entry = json.loads(log.getvalue().splitlines()[-1])
    assert (entry["status"], entry["error"]) == (
        408, "body not received within the time budget of 0.3 s")


def test_a_fast_request_disarms_the_budget():
    client = app_client(Settings(api_keys=(TEST_KEY,), request_timeout=0.2))
    assert client.simulate_post(RUN, body=BODY, headers=HEADERS).status_code == 200
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    time.sleep(0.4)  # no late alarm goes off outside a request
    assert client.simulate_get("/health").status_code == 200


def test_the_budget_must_stay_below_gunicorns_timeout():
    assert Settings.from_env({"API_KEYS": "k"}).request_timeout == 24
    assert Settings.from_env({"API_KEYS": "k", "GUNICORN_TIMEOUT": "10"}).request_timeout == 8
    assert Settings.from_env({"API_KEYS": "k", "REQUEST_TIMEOUT": "2.5"}).request_timeout == 2.5
    with pytest.raises(SettingsError, match=r"REQUEST_TIMEOUT \(30 s\) must be below GUNICORN_TIMEOUT"):
        Settings.from_env({"API_KEYS": "k", "REQUEST_TIMEOUT": "30"})
    for bad in ("0", "-1", "nan", "soon"):
        with pytest.raises(SettingsError, match="REQUEST_TIMEOUT"):
            Settings.from_env({"API_KEYS": "k", "REQUEST_TIMEOUT": bad})
