"""Repeated wrong keys from one address are refused with 429 (service/throttle.py),
without slowing other clients; through falcon.testing with a fake clock, and
over the real gunicorn server from two loopback addresses."""

from __future__ import annotations

import http.client
import io
import json

import pytest

from service.settings import Settings
from tests.support.client import app_client
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server

RUN = "/runDARTHmodel"
BODY = json.dumps({"param_updates": [], "seed": 1})
JSON = {"Content-Type": "application/json"}


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(clock, log=None, **settings):
    return app_client(Settings(api_keys=(TEST_KEY,), **settings), log=log, throttle_clock=clock)


def post(client, key=None, addr="10.0.0.1", **headers):
    if key is not None:
        headers["key"] = key
    return client.simulate_post(RUN, body=BODY, headers={**JSON, **headers}, remote_addr=addr)


def test_after_the_limit_an_address_gets_429_until_its_failures_age_out():
    clock, log = FakeClock(), io.StringIO()
    client = make_client(clock, log, auth_failure_limit=3, auth_failure_window=60)
    for second in range(3):
        clock.now += 1
        assert post(client, "wrong").status_code == 403
    blocked = post(client, TEST_KEY)  # even the right key: no oracle while blocked
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "58"  # the first failure leaves at +61 s
    assert "too many requests with a wrong API key" in blocked.json["error"]
    assert blocked.json["retry_after"] == 58
    assert post(client, "wrong").status_code == 429  # not checked, not counted
    clock.now += 57.5
    assert post(client, TEST_KEY).status_code == 429
    assert post(client, TEST_KEY).headers["Retry-After"] == "1"
    clock.now += 0.5  # the oldest failure is out: one more try
    assert post(client, TEST_KEY).status_code == 200
    entries = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [e["auth"] for e in entries] == ["invalid"] * 3 + ["throttled"] * 4 + ["ok"]


def test_other_addresses_open_endpoints_and_missing_keys_are_not_affected():
    clock = FakeClock()
    client = make_client(clock, auth_failure_limit=2)
    for _ in range(2):
        assert post(client, "wrong", addr="10.0.0.1").status_code == 403
    assert post(client, TEST_KEY, addr="10.0.0.1").status_code == 429
    assert post(client, TEST_KEY, addr="10.0.0.2").status_code == 200
    assert client.simulate_get("/health", remote_addr="10.0.0.1").status_code == 200
    assert client.simulate_get("/openapi.json", remote_addr="10.0.0.1").status_code == 200
    # No key at all guesses nothing: never counted.
    for _ in range(5):
        assert post(client, addr="10.0.0.3").status_code == 401
    assert post(client, TEST_KEY, addr="10.0.0.3").status_code == 200


def test_a_valid_key_clears_the_count():
    clock = FakeClock()
    client = make_client(clock, auth_failure_limit=2)
    assert post(client, "wrong").status_code == 403
    assert post(client, TEST_KEY).status_code == 200
    assert post(client, "wrong").status_code == 403
    assert post(client, TEST_KEY).status_code == 200  # 2 failures, but not in a row


def test_unknown_paths_are_limited_too():
    client = make_client(FakeClock(), auth_failure_limit=1)
    assert client.simulate_get("/admin", headers={"key": "x"}, remote_addr="10.0.0.9").status_code == 403
    assert client.simulate_get("/admin", headers={"key": "x"}, remote_addr="10.0.0.9").status_code == 429


def test_limit_zero_switches_the_throttle_off():
    client = make_client(FakeClock(), auth_failure_limit=0)
    for _ in range(30):
        assert post(client, "wrong").status_code == 403
    assert post(client, TEST_KEY).status_code == 200
    responses = client.simulate_get("/openapi.json").json["paths"][RUN]["post"]["responses"]
    assert "switched off" in responses["429"]["description"]


def test_an_ipv6_client_is_counted_per_64_not_per_address():
    client = make_client(FakeClock(), auth_failure_limit=2)
    # Stepping through the low 64 bits gives no fresh count (issue 15, item 8).
    for addr in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"):
        assert post(client, "wrong", addr=addr).status_code == 403
    assert post(client, TEST_KEY, addr="2001:db8:1:2:abcd::7").status_code == 429
    assert post(client, TEST_KEY, addr="2001:db8:1:3::1").status_code == 200  # the next /64
    # An IPv4 address mapped into IPv6 is that IPv4 address.
    for _ in range(2):
        assert post(client, "wrong", addr="::ffff:192.0.2.9").status_code == 403
    assert post(client, TEST_KEY, addr="192.0.2.9").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted():
    import ipaddress

    front = "172.17.0.3"  # the task's front (nginx) sets X-Forwarded-For to the client's address
    client = make_client(FakeClock(), auth_failure_limit=2,
                         trusted_proxies=(ipaddress.ip_network("172.17.0.0/16"),))
    for _ in range(2):
        assert post(client, "wrong", addr=front, **{"X-Forwarded-For": "203.0.113.7"}).status_code == 403
    assert post(client, TEST_KEY, addr=front, **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    # Another client through the same front is not blocked.
    assert post(client, TEST_KEY, addr=front, **{"X-Forwarded-For": "198.51.100.2"}).status_code == 200
    assert post(client, TEST_KEY, addr=front).status_code == 200  # no header: the front itself


def test_a_forged_forwarded_for_counts_for_nothing_without_a_trusted_proxy():
    import ipaddress

    client = make_client(FakeClock(), auth_failure_limit=2,
                         trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    attacker = "203.0.113.66"
    # Straight to the service, a new made-up X-Forwarded-For each time: still one address.
    for n in range(2):
        assert post(client, "wrong", addr=attacker, **{"X-Forwarded-For": f"10.9.9.{n}"}).status_code == 403
    assert post(client, TEST_KEY, addr=attacker, **{"X-Forwarded-For": "10.9.9.99"}).status_code == 429


def test_only_the_entries_added_by_trusted_proxies_are_believed():
    import ipaddress

    client = make_client(FakeClock(), auth_failure_limit=1,
                         trusted_proxies=(ipaddress.ip_network("10.0.0.0/16"),))
    # The client wrote "1.2.3.4, 10.0.5.5" itself (a forged route through a
    # trusted-looking address); the proxy 10.0.0.2 appended the real address.
    forged = {"X-Forwarded-For": "1.2.3.4, 10.0.5.5, 203.0.113.9"}
    assert post(client, "wrong", addr="10.0.0.2", **forged).status_code == 403
    assert post(client, TEST_KEY, addr="10.0.0.2", **{"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    assert post(client, TEST_KEY, addr="10.0.0.2", **{"X-Forwarded-For": "1.2.3.4"}).status_code == 200
    # Garbage where an address belongs: the proxy's own address is counted, not the text.
    assert post(client, "wrong", addr="10.0.0.2", **{"X-Forwarded-For": "not-an-ip"}).status_code == 403
    assert post(client, TEST_KEY, addr="10.0.0.2").status_code == 429


def test_the_table_of_addresses_is_bounded():
    from service.throttle import FailedKeyThrottle

    clock = FakeClock()
    throttle = FailedKeyThrottle(3, 60, [], clock=clock, max_tracked=100)
    for n in range(1000):
        clock.now += 0.01
        throttle._record_failure(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._failures) <= 100
    assert "10.0.3.231" in throttle._failures  # the latest are kept


def test_the_openapi_document_states_the_policy():
    client = make_client(FakeClock(), auth_failure_limit=7, auth_failure_window=30)
    response = client.simulate_get("/openapi.json").json["paths"][RUN]["post"]["responses"]["429"]
    assert "after 7 requests answered 403 within 30 s" in response["description"]
    assert response["headers"]["Retry-After"]["schema"]["type"] == "integer"


@pytest.mark.slow
def test_real_server_limits_one_loopback_address_and_not_another(tmp_path):
    with gunicorn_server(tmp_path, API_KEYS=TEST_KEY, WEB_CONCURRENCY="1",
                         AUTH_FAILURE_LIMIT="5", AUTH_FAILURE_WINDOW="60") as server:
        port = int(server.url.rsplit(":", 1)[1])

        def status(source: str, key: str) -> tuple[int, str | None]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                                    source_address=(source, 0))
            try:
                connection.request("POST", RUN, body=BODY, headers={**JSON, "key": key})
                response = connection.getresponse()
                response.read()
                return response.status, response.getheader("Retry-After")
            finally:
                connection.close()

        assert [status("127.0.0.1", "wrong")[0] for _ in range(5)] == [403] * 5
        code, retry_after = status("127.0.0.1", TEST_KEY)
        assert code == 429 and 1 <= int(retry_after) <= 60
        assert status("127.0.0.2", TEST_KEY) == (200, None)  # another client: served
        lines = [e for e in server.log_entries() if e["path"] == RUN]
        assert [(e["remote_addr"], e["auth"]) for e in lines[-2:]] == [
            ("127.0.0.1", "throttled"), ("127.0.0.2", "ok")]


def documented_limit() -> int:
    """The default wrong-key limit as docs/api.md states it (prose, not the
    table generated from the code: a typo in the code must not move both)."""
    import re

    from tests.support.paths import ROOT

    found = re.search(r"after `AUTH_FAILURE_LIMIT` \((\d+)\)", (ROOT / "docs" / "api.md").read_text())
    assert found, "docs/api.md no longer states AUTH_FAILURE_LIMIT's default as `AUTH_FAILURE_LIMIT` (N)"
    return int(found.group(1))


def workers_of(master_pid: int, expected: int, timeout: float = 20) -> int:
    """How many worker processes gunicorn's master has, once it has forked
    `expected` of them (it answers /health from the first one already)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        with open(f"/proc/{master_pid}/task/{master_pid}/children") as children:
            count = len(children.read().split())
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [{}, {"WEB_CONCURRENCY": "1"}, {"WEB_CONCURRENCY": "3"}],
                         ids=["default-workers", "one-worker", "three-workers"])
def test_a_service_with_no_throttle_settings_answers_429_after_the_documented_number(tmp_path, workers):
    """The deployed service runs on the defaults (the roles set no
    AUTH_FAILURE_*): one client's first `limit` wrong keys are answered 403,
    never more than `limit` by any one worker, so at the latest the
    (workers × limit + 1)-th is a 429 (each worker keeps its own count)."""
    limit = documented_limit()
    with gunicorn_server(tmp_path, API_KEYS=TEST_KEY, **workers) as server:
        port = int(server.url.rsplit(":", 1)[1])
        # The settings' default is 2 workers (README); measured, not assumed.
        count = workers_of(server.process.pid, int(workers.get("WEB_CONCURRENCY", "2")))

        def status() -> int:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("POST", RUN, body=BODY, headers={**JSON, "key": "wrong"})
                response = connection.getresponse()
                response.read()
                return response.status
            finally:
                connection.close()

        answers = [status() for _ in range(count * limit + 1)]
    assert answers[:limit] == [403] * limit
    assert set(answers) == {403, 429}
    assert answers.count(403) <= count * limit
    if count == 1:
        assert answers == [403] * limit + [429]
