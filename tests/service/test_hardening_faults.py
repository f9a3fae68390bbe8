"""Faults, on the real gunicorn server: a worker killed mid-run, a graceful stop
with requests in flight, and a request that outlasts the time budget.

The slow cases use tests/support/slow_app.py (the real app with a model
runner slowed on purpose), which only the tests load."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import model
from tests.support.load import BODY, run_load, wait_for_workers
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server

SLOW_APP = "tests.support.slow_app:application"
HEADERS = {"key": TEST_KEY, "Content-Type": "application/json"}


def post(url: str, timeout: float = 60) -> tuple[int, dict, bytes]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("POST", "/runDARTHmodel", body=BODY, headers=HEADERS)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def record(name: str, figures: dict) -> None:
    if os.environ.get("LIVING_HTA_FIGURES"):
        Path(os.environ["LIVING_HTA_FIGURES"], f"{name}.json").write_text(json.dumps(figures))


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_only_its_request_in_flight_fails(tmp_path):
    with gunicorn_server(tmp_path, API_KEYS=TEST_KEY, WEB_CONCURRENCY="2") as server:
        workers = wait_for_workers(server, 2)
        victim = workers[0]
        result = {}
        load = threading.Thread(target=lambda: result.update(
            run=run_load(server.url, TEST_KEY, total=3000, concurrency=32)))
        load.start()
        # Kill once the run is in full swing (a few hundred requests logged).
        deadline = time.monotonic() + 60
        while len(server.log_lines()) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        replaced = wait_for_workers(server, 2, exclude=[victim])
        load.join(300)
        run = result["run"]
        assert victim not in server.worker_pids() and len(replaced) == 2
        assert post(server.url)[0] == 200  # and the server still answers
    record("sigkill", {"requests": run.sent, "failed": run.failed,
                       "errors": [what for _, what in run.errors]})
    assert run.sent == 3000
    # A sync worker handles one request at a time: at most one was in flight
    # on it, and its failure came after the kill.
    assert run.failed <= 1, (run.errors, run.bad_statuses)
    assert all(moment >= killed_at for moment, _ in run.errors + run.bad_statuses)
    assert f"(pid:{victim}) was sent SIGKILL" in server.stderr.read_text()  # the master saw it


@pytest.mark.slow
def test_sigterm_lets_requests_in_flight_finish(tmp_path):
    with gunicorn_server(tmp_path, app=SLOW_APP, API_KEYS=TEST_KEY, WEB_CONCURRENCY="2",
                         SLOW_RUNNER_SECONDS="3") as server:
        wait_for_workers(server, 2)
        answers = []
        clients = [threading.Thread(target=lambda: answers.append(post(server.url)))
                   for _ in range(2)]
        started = time.monotonic()
        for client in clients:
            client.start()
        time.sleep(1)  # both requests are inside the slow runner now
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        # No new work once stopping: refused, or reset when the workers close
        # their copy of the listening socket, never answered.
        with pytest.raises(ConnectionError):
            post(server.url, timeout=10)
        for client in clients:
            client.join(30)
        assert server.process.wait(30) == 0
    assert time.monotonic() - started >= 3
    assert [status for status, _, _ in answers] == [200, 200]
    for _, _, body in answers:
        assert body.decode().splitlines()[0] == ",".join(model.RESULT_COLUMNS)
        assert len(body.decode().splitlines()) == 1001
    record("sigterm", {"in_flight": 2, "completed": len(answers)})


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sleep", "spin"])
def test_a_request_over_the_time_budget_gets_a_json_503_not_a_dropped_connection(tmp_path, mode):
    with gunicorn_server(tmp_path, app=SLOW_APP, API_KEYS=TEST_KEY, WEB_CONCURRENCY="1",
                         SLOW_RUNNER_SECONDS="30", SLOW_RUNNER_MODE=mode,
                         GUNICORN_TIMEOUT="6", REQUEST_TIMEOUT="2") as server:
        worker = wait_for_workers(server, 1)
        started = time.monotonic()
        status, headers, body = post(server.url)
        elapsed = time.monotonic() - started
        assert status == 503 and 2 <= elapsed < 5, (status, elapsed)
        assert headers["Content-Type"] == "application/json" and headers["Retry-After"] == "2"
        assert json.loads(body)["error"].startswith("the request took longer than this service allows (2 s)")
        time.sleep(6)  # past gunicorn's own timeout: the worker was never killed
        assert server.worker_pids() == worker
        with urllib.request.urlopen(server.url + "/health", timeout=10) as health:
            assert health.status == 200
        entry = [e for e in server.log_entries() if e["path"] == "/runDARTHmodel"][-1]
        assert (entry["status"], entry["error"]) == (503, "time budget of 2 s exceeded")
    assert "WORKER TIMEOUT" not in server.stderr.read_text()
    record(f"timeout-{mode}", {"status": status, "seconds": round(elapsed, 2)})
