"""The cost budget and the fair share per key (service/budget.py), through
falcon.testing and the slot files themselves (the real server:
tests/service/test_budget_server.py)."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from model.analysis.cost import MIB, estimate
from service.budget import FairShare, TooManyHeavy, request_cost
from service.keys import ApiKey
from service.pipeline import run_builtin_model
from service.settings import Settings, SettingsError
from tests.support.client import app_client

KEY, OTHER_KEY = "budget-key-0123456789", "other-budget-key-98765"
ISSUE_EXAMPLE = {"n_samples": 100000, "seed": 1, "wtp": "0:1000000:5000", "evppi": ["p_HS1"]}


def client(log=None, audit=None, **settings):
    keys = (ApiKey("first", KEY), ApiKey("second", OTHER_KEY))
    return app_client(Settings(api_keys=keys, **settings), key=KEY, log=log, audit=audit)


def test_settings_read_the_budget_and_refuse_nonsense():
    env = {"API_KEYS": "k"}
    default = Settings.from_env(env)
    assert (default.memory_limit_mib, default.workers, default.heavy_per_key) == (900, 2, 1)
    assert default.worker_memory_mib == 0.8 * 900 / 2
    custom = Settings.from_env({**env, "MEMORY_LIMIT_MIB": "2048", "WEB_CONCURRENCY": "4",
                                "HEAVY_REQUESTS_PER_KEY": "2", "HEAVY_REQUEST_SECONDS": "3"})
    assert (custom.worker_memory_mib, custom.heavy_per_key, custom.heavy_seconds) == (
        0.8 * 2048 / 4, 2, 3.0)
    for name, bad in [("MEMORY_LIMIT_MIB", "0"), ("MEMORY_LIMIT_MIB", "lots"),
                      ("HEAVY_REQUESTS_PER_KEY", "-1"), ("HEAVY_REQUESTS_PER_KEY", "1.5"),
                      ("HEAVY_REQUEST_SECONDS", "-2"), ("HEAVY_REQUEST_SECONDS", "inf")]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({**env, name: bad})


def test_a_request_over_one_workers_memory_is_refused_before_it_runs():
    log, audit = io.StringIO(), io.StringIO()
    # 200 MiB over 2 workers, with headroom: 80 MiB each; an idle worker is 64.
    app = client(log, audit, memory_limit_mib=200)
    small = app.simulate_post("/analysis", json={"n_samples": 1000, "seed": 1})
    assert small.status_code == 200
    refused = app.simulate_post("/analysis", json=ISSUE_EXAMPLE)
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/json"
    body = refused.json
    expected = request_cost(100000, wtp=[0.0] * 201, groups=[["p_HS1"]])
    assert body["limit"] == "memory" and body["limit_mib"] == 80.0
    assert body["estimate_mib"] == round(expected.peak_mib, 1) > 80
    assert body["estimate_seconds"] == round(expected.seconds, 2)
    assert body["error"].startswith(f"this request needs an estimated {expected.peak_mib:.0f} MiB "
                                    "of memory; one worker of this service may use 80 MiB")
    run = app.simulate_post("/runDARTHmodel", json={"n_samples": 100000})
    assert run.status_code == 409 and run.json["estimate_mib"] == round(estimate(100000).peak_mib, 1)
    # Refused runs ran nothing: no audit record; the log says why, with the estimate.
    assert len([line for line in audit.getvalue().splitlines()
                if json.loads(line)["event"] == "end"]) == 1
    entries = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [e["status"] for e in entries] == [200, 409, 409]
    assert entries[1]["error"].startswith("over the memory budget")
    assert entries[1]["estimate_mib"] == body["estimate_mib"]


def test_a_request_over_the_time_budget_is_refused_before_it_runs():
    app = client(request_timeout=0.5)
    refused = app.simulate_post("/analysis", json=ISSUE_EXAMPLE)
    assert refused.status_code == 409
    assert refused.json["limit"] == "time" and refused.json["limit_seconds"] == 0.5
    assert refused.json["estimate_seconds"] > 0.5
    assert refused.json["error"].startswith("this request needs at least an estimated ")
    assert "REQUEST_TIMEOUT" in refused.json["error"]
    assert app.simulate_post("/runDARTHmodel", json={"n_samples": 2000}).status_code == 200


def test_the_estimate_counts_each_argument_of_the_analyses():
    """More of anything costs more; owsa "*" counts every offered parameter."""
    base = request_cost(20000, wtp=[0.0] * 41)
    assert request_cost(20000).peak_bytes < request_cost(100000).peak_bytes
    for more in [dict(wtp=[0.0] * 201), dict(wtp=[0.0] * 41, groups=[["a", "b"]]),
                 dict(wtp=[0.0] * 41, sensitivity={"owsa": "*", "twsa_pair": None,
                                                   "outcomes": ["nmb"]}, offered=["a", "b"])]:
        bigger = request_cost(20000, **more)
        assert bigger.peak_bytes > base.peak_bytes or bigger.seconds > base.seconds, more
    star = request_cost(100000, wtp=[0.0], offered=["a", "b", "c"],
                        sensitivity={"owsa": "*", "twsa_pair": None, "outcomes": ["nmb"]})
    listed = request_cost(100000, wtp=[0.0], offered=["a", "b", "c"],
                          sensitivity={"owsa": ["a"], "twsa_pair": None, "outcomes": ["nmb"]})
    assert star.peak_bytes > listed.peak_bytes and star.seconds > listed.seconds
    # Memory does not grow with the grid beyond one chunk: 201 WTP values
    # cost what 41 do at 100,000 samples (5 rows a chunk).
    assert request_cost(100000, wtp=[0.0] * 201).peak_bytes == \
        request_cost(100000, wtp=[0.0] * 41).peak_bytes
    gam = request_cost(100000, wtp=[0.0], groups=[["a", "b", "c", "d"]], method="gam")
    poly = request_cost(100000, wtp=[0.0], groups=[["a", "b", "c", "d"]], method="poly")
    assert gam.seconds > poly.seconds


def test_what_the_analysis_refuses_itself_gets_its_own_reason_not_the_budgets():
    """A spline of more than 4 parameters is the analysis's 409 (it says
    why), not an estimate of a design it never builds."""
    app = client(evppi_parameters=("*",))
    group = ["p_HS1", "p_S1H", "p_S1S2", "c_H", "c_S1", "c_S2", "u_H", "u_S1"]
    refused = app.simulate_post("/analysis", json={"n_samples": 100000, "evppi": [group],
                                                   "evppi_method": "gam"})
    assert refused.status_code == 409
    assert refused.json["error"].startswith("the spline EVPPI takes groups of up to 4 parameters")


def test_the_issue_example_fits_one_default_worker():
    """issue 26: 1.13 GB before the analyses were chunked; now within a
    default worker's share (measured: tests/unit/test_cost.py)."""
    cost = request_cost(100000, wtp=[0.0] * 201, groups=[["p_HS1"]])
    assert cost.peak_bytes < Settings(api_keys=("k",)).worker_memory_mib * MIB


# --- the slots --------------------------------------------------------------------------

def test_a_key_holds_at_most_its_slots_and_other_keys_are_not_affected(tmp_path):
    share = FairShare(2, tmp_path / "slots")
    with share.hold(KEY, 5), share.hold(KEY, 30):
        with share.hold(OTHER_KEY, 1):  # another key: its own slots
            pass
        with pytest.raises(TooManyHeavy) as refused:
            with share.hold(KEY, 1):
                pass
        # Retry-After: when the earliest run should end (5 s from its start).
        assert refused.value.headers == {"Retry-After": "5"}
        assert refused.value.status == "429 Too Many Requests"
        assert refused.value.detail == {"limit": 2, "retry_after": 5}
        assert "this key already runs 2 heavy requests" in refused.value.description
    with share.hold(KEY, 1), share.hold(KEY, 1):  # both free again
        pass
    # The files are named by an HMAC of the key, never by the key.
    names = os.listdir(tmp_path / "slots")
    assert len(names) == 3 and not any(KEY in name or OTHER_KEY in name for name in names)


def test_a_slot_is_freed_when_the_process_holding_it_is_killed(tmp_path):
    share = FairShare(1, tmp_path / "slots")
    [path] = share._paths(KEY)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({path!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('held', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TooManyHeavy):
            with share.hold(KEY, 1):
                pass
        holder.send_signal(signal.SIGKILL)  # as the kernel's OOM killer would
        holder.wait(10)
        deadline = time.monotonic() + 5
        with share.hold(KEY, 1):
            assert time.monotonic() < deadline
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_light_requests_take_no_slot_and_a_heavy_one_takes_its_keys():
    """Through the app: while one heavy run of a key holds its only slot,
    its other heavy requests get 429 with Retry-After, its light ones run,
    and another key's heavy ones run; once it ends, the slot is free."""
    started, release = threading.Event(), threading.Event()

    def runner(table, updates, seed, n_samples):
        if not started.is_set():  # the first run holds on, in its slot
            started.set()
            release.wait(30)
        return run_builtin_model(table, updates, seed, n_samples)

    keys = (ApiKey("first", KEY), ApiKey("second", OTHER_KEY))
    app = app_client(Settings(api_keys=keys, heavy_seconds=0.05), key=KEY, runner=runner)
    heavy = {"n_samples": 100000, "wtp": "100000"}
    assert request_cost(100000, wtp=[1.0]).seconds >= 0.05
    first = []
    holder = threading.Thread(target=lambda: first.append(app.simulate_post("/analysis", json=heavy)))
    holder.start()
    try:
        assert started.wait(30)
        refused = app.simulate_post("/analysis", json=heavy)
        assert refused.status_code == 429 and refused.headers["content-type"] == "application/json"
        retry = int(refused.headers["Retry-After"])
        assert 1 <= retry <= math.ceil(2 * request_cost(100000, wtp=[1.0]).seconds)
        assert refused.json["retry_after"] == retry and refused.json["limit"] == 1
        assert refused.json["error"].startswith("this key already runs 1 heavy request on this server")
        assert app.simulate_post("/runDARTHmodel", json={"n_samples": 1000}).status_code == 200
        other = app.simulate_post("/analysis", json=heavy, headers={"key": OTHER_KEY})
        assert other.status_code == 200
    finally:
        release.set()
        holder.join(60)
    assert first[0].status_code == 200
    assert app.simulate_post("/analysis", json=heavy).status_code == 200
