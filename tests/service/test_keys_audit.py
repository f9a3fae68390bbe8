"""Named, scoped keys; the original's other clients; one audit record per
model run; the provenance receipt (issue 15, items 10-13)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
import urllib.error
import urllib.request

import pytest

import model
from model.parameters import default_table_path
from service.contract import FORK_MODEL_URL
from service.keys import KeyFormatError, KeyStore, parse_keys
from service.settings import Settings, SettingsError
from tests.support.client import app_client
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server

RUN = "/runDARTHmodel"
ALICE, BOB = "alice-key-" + "a" * 20, "bob-key-" + "b" * 20
KEYS = [
    {"name": "alice", "key": ALICE, "parameters": ["p_HS1", "c_Trt"]},
    {"name": "bob", "key": BOB, "endpoints": ["/openapi.json"]},
]
DATASET_SHA256 = hashlib.sha256(open(default_table_path(), "rb").read()).hexdigest()


def scoped_client(tmp_path, audit=None, log=None):
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps({"keys": KEYS}))
    return app_client(Settings(api_keys=(TEST_KEY,), api_key_file=str(key_file)),
                      audit=audit, log=log), key_file


def post(client, key, **json_body):
    return client.simulate_post(RUN, json=json_body, headers={"key": key})


# --- item 10: named, scoped keys ------------------------------------------------

def test_plain_lists_and_json_keys_parse_to_the_same_kind_of_key():
    plain = parse_keys(" k1, ,k2 ", ",", "API_KEYS")
    assert [(k.name, k.secret, k.parameters, k.endpoints) for k in plain] == [
        ("default", "k1", None, None), ("default", "k2", None, None)]
    lines = parse_keys("# comment\nk1\n\nk2, with a comma\n", "\n", "API_KEY_FILE")
    assert [k.secret for k in lines] == ["k1", "k2, with a comma"]
    scoped = parse_keys(json.dumps(KEYS + ["plain-key"]), ",", "API_KEYS")
    assert [k.name for k in scoped] == ["alice", "bob", "default"]
    assert scoped[0].parameters == {"p_HS1", "c_Trt"} and scoped[0].endpoints is None


@pytest.mark.parametrize("text, message", [
    ('[{"name": "a b", "key": "k"}]', "name must be"),
    ('[{"name": "a", "key": ""}]', "key must be a non-empty string"),
    ('[{"name": "a", "key": "k", "scope": []}]', "unknown field(s) ['scope']"),
    ('[{"name": "a", "key": "k", "parameters": "p_HS1"}]', "parameters must be a list"),
    ('{"keys": 3}', "JSON keys must be a list"),
    ('[{"name": "a", "key": "secret-1"', "not valid JSON"),
])
def test_a_malformed_key_source_is_refused_without_quoting_a_key(text, message):
    with pytest.raises(KeyFormatError, match=re.escape(message)) as caught:
        parse_keys(text, ",", "API_KEYS")
    assert "secret-1" not in str(caught.value)


def test_one_key_with_two_names_stops_the_service():
    with pytest.raises(SettingsError, match="given twice"):
        Settings.from_env({"API_KEYS": json.dumps([{"name": "a", "key": "same-key-1"},
                                                   {"name": "b", "key": "same-key-1"}])})


def test_a_key_edits_only_its_parameters_and_the_403_says_which_it_may(tmp_path):
    client, _ = scoped_client(tmp_path)
    allowed = [{"parameter": "p_HS1", "distribution": "beta", "v1": 20, "v2": 150}]
    assert post(client, ALICE, param_updates=allowed, seed=1).status_code == 200
    refused = post(client, ALICE, seed=1, param_updates=allowed + [
        {"parameter": "c_D", "distribution": "fixed", "v1": 1, "v2": None}])
    assert refused.status_code == 403
    assert refused.json["error"] == "this API key (alice) may not edit c_D; it may edit: c_Trt, p_HS1"
    assert refused.json["allowed_parameters"] == ["c_Trt", "p_HS1"]
    # The original's default updates (none sent) are the service's, not an edit.
    assert post(client, ALICE, seed=1).status_code == 200


def test_parameters_lists_only_what_the_key_may_edit(tmp_path):
    client, _ = scoped_client(tmp_path)
    listed = client.simulate_get("/parameters", headers={"key": ALICE})
    assert listed.status_code == 200
    # alice may edit p_HS1 and c_Trt; c_Trt is not a row of the shipped table.
    assert [row["parameter"] for row in listed.json["parameters"]] == ["p_HS1"]
    # (default_updates still names p_S1H: the tutorial's public constants, not the table's.)
    unscoped = client.simulate_get("/parameters", headers={"key": TEST_KEY}).json["parameters"]
    assert len(unscoped) > 1 and {row["parameter"] for row in unscoped} > {"p_HS1"}


def test_a_key_calls_only_its_endpoints(tmp_path):
    client, _ = scoped_client(tmp_path)
    refused = post(client, BOB, seed=1)
    assert refused.status_code == 403
    assert refused.json == {"error": "this API key (bob) may not call /runDARTHmodel; it may "
                            "call: /openapi.json", "allowed_endpoints": ["/openapi.json"]}
    assert post(client, TEST_KEY, seed=1).status_code == 200  # a plain key: everything


def test_keys_are_rotated_by_rewriting_the_file_without_a_restart(tmp_path):
    log = io.StringIO()
    client, key_file = scoped_client(tmp_path, log=log)
    assert post(client, ALICE, seed=1).status_code == 200
    carol = "carol-key-" + "c" * 20
    rotated = tmp_path / "keys.new"
    rotated.write_text(json.dumps([{"name": "carol", "key": carol}]))
    os.replace(rotated, key_file)  # as an operator (or a secrets agent) rotates it
    assert post(client, ALICE, seed=1).status_code == 403
    assert post(client, carol, seed=1).status_code == 200
    assert json.loads(log.getvalue().splitlines()[-1])["key_name"] == "carol"
    # A broken file leaves the keys in force (and says so, on the service's log).
    key_file.write_text('{"keys": [')
    assert post(client, carol, seed=1).status_code == 200
    assert carol not in log.getvalue() and ALICE not in log.getvalue()


def test_a_real_server_reloads_its_key_file(tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text(TEST_KEY + "\n")
    with gunicorn_server(tmp_path, API_KEY_FILE=str(key_file), WEB_CONCURRENCY="2") as server:
        def status(key):
            request = urllib.request.Request(server.url + RUN + "?seed=1", data=b"",
                                             headers={"key": key}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status
            except urllib.error.HTTPError as exc:
                return exc.code

        assert status(TEST_KEY) == 200
        new = tmp_path / "keys.new"
        new.write_text(json.dumps([{"name": "rotated", "key": TEST_KEY + "-2"}]))
        os.replace(new, key_file)
        time.sleep(0.05)
        assert {status(TEST_KEY) for _ in range(4)} == {403}  # every worker
        assert {status(TEST_KEY + "-2") for _ in range(4)} == {200}
        assert {e["key_name"] for e in server.audit_entries()} == {"default", "rotated"}


# --- item 11: the original's other clients -------------------------------------

@pytest.mark.parametrize("header", ["Key {}", "key {}", "Bearer {}", "bearer  {} "])
def test_authorization_key_and_bearer_are_accepted(header):
    client = app_client(Settings(api_keys=(TEST_KEY,)))
    result = client.simulate_post(RUN, json={"seed": 1},
                                  headers={"Authorization": header.format(TEST_KEY)})
    assert result.status_code == 200, result.text


def test_authorization_goes_through_the_same_checks():
    client = app_client(Settings(api_keys=(TEST_KEY,), auth_failure_limit=2))
    def status(**headers):
        return client.simulate_post(RUN, json={"seed": 1}, headers=headers).status_code
    assert status(key=TEST_KEY, Authorization="Key " + TEST_KEY) == 200  # both, agreeing
    assert status(Authorization="Basic " + TEST_KEY) == 401  # another scheme: no key
    assert status(Authorization="Key ") == 401
    assert status(Authorization="Key wrong") == 403
    disagree = client.simulate_post(RUN, json={}, headers={"key": TEST_KEY,
                                                           "Authorization": "Bearer other"})
    assert disagree.status_code == 400 and "different keys" in disagree.json["error"]
    assert status(Authorization="Bearer wrong") == 403
    assert status(Authorization="Bearer " + TEST_KEY) == 429  # the same throttle


def test_the_forks_model_url_names_the_built_in_model():
    client = app_client(Settings(api_keys=(TEST_KEY,)), key=TEST_KEY)
    result = client.simulate_post(RUN, json={"model_functions": FORK_MODEL_URL, "seed": 2})
    assert result.status_code == 200
    assert result.text == model.format_csv(model.run_psa(seed=2, updates=[
        {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
        {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 70}]))
    assert client.simulate_post(RUN, json={"model_functions": FORK_MODEL_URL + "x"}).status_code == 400


# --- items 12 and 13: audit records and the receipt ----------------------------

def audit_records(stream: io.StringIO, event: str = "end") -> list[dict]:
    """The runs' records (each run's end; "start": their starts)."""
    return [r for r in map(json.loads, stream.getvalue().splitlines()) if r["event"] == event]


def test_each_run_is_recorded_when_it_starts_and_when_it_ends(tmp_path):
    """Issue 26 item 5: a run whose worker dies leaves its start."""
    audit = io.StringIO()
    client, _ = scoped_client(tmp_path, audit=audit)
    ok = post(client, TEST_KEY, seed=5)
    events = [json.loads(line) for line in audit.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["start", "end"]
    start, end = events
    assert start["run_id"] == end["run_id"] == ok.headers["X-Run-Id"]
    assert (start["key_name"], start["endpoint"], start["seed"]) == ("default", RUN, 5)
    assert start["dataset_sha256"] == DATASET_SHA256 and start["time"] <= end["time"]


def test_one_audit_record_per_run_none_for_refused_requests_and_no_key(tmp_path):
    audit = io.StringIO()
    client, _ = scoped_client(tmp_path, audit=audit)
    updates = [{"parameter": "p_HS1", "distribution": "beta", "v1": 20, "v2": 150}]
    ok = post(client, ALICE, param_updates=updates, seed=7)
    post(client, TEST_KEY, param_updates=[], seed=8)
    # Refused before any run: no key, a wrong key, out of scope, bad arguments, no dataset.
    client.simulate_post(RUN, json={"seed": 1})
    post(client, "wrong-key-123", seed=1)
    post(client, BOB, seed=1)
    post(client, ALICE, param_updates=[{"parameter": "u_D", "distribution": "fixed", "v1": 1}])
    post(client, TEST_KEY, seed=-1)
    post(client, TEST_KEY, path_to_psa_inputs="nothing.csv")
    # A run the model refuses is a run: recorded, with its outcome.
    failed = post(client, TEST_KEY, param_updates=[
        {"parameter": "p_HS1", "distribution": "beta", "v1": 0, "v2": 1}], seed=9)
    assert failed.status_code == 422
    records = audit_records(audit)
    assert [(r["key_name"], r["seed"], r["outcome"]) for r in records] == [
        ("alice", 7, "ok"), ("default", 8, "ok"), ("default", 9, "422 ApiError")]
    first = records[0]
    assert set(first) == {"log", "event", "run_id", "time", "key_name", "endpoint", "dataset",
                          "dataset_sha256", "updates", "seed", "n_samples", "outcome",
                          "duration_ms", "service_version", "image_digest"}
    assert (first["log"], first["endpoint"], first["dataset"], first["n_samples"]) == (
        "audit", RUN, "parameter_distributions.csv", 1000)
    assert first["dataset_sha256"] == DATASET_SHA256 and first["updates"] == updates
    assert first["run_id"] == ok.headers["X-Run-Id"] and first["duration_ms"] > 0
    text = audit.getvalue()
    assert ALICE not in text and TEST_KEY not in text and BOB not in text


def test_a_key_pasted_into_an_update_is_redacted_from_the_audit_record():
    audit = io.StringIO()
    client = app_client(Settings(api_keys=(TEST_KEY,)), key=TEST_KEY, audit=audit)
    # In a field of its own: refused before the run (a record has only its
    # four fields), so no record at all.
    noted = client.simulate_post(RUN, json={"seed": 1, "param_updates": [
        {"parameter": "p_HS1", "distribution": "beta", "v1": 1, "v2": 2, "note": TEST_KEY}]})
    assert noted.status_code == 422 and audit.getvalue() == ""
    # As the parameter's name: the run starts (the table refuses the name), its
    # records quote the updates, with the key redacted.
    named = client.simulate_post(RUN, json={"seed": 1, "param_updates": [
        {"parameter": TEST_KEY, "distribution": "beta", "v1": 1, "v2": 2}]})
    assert named.status_code == 409 and audit.getvalue()
    assert TEST_KEY not in audit.getvalue() and "[key redacted]" in audit.getvalue()


def test_the_receipt_names_the_run_and_a_seedless_runs_seed_reproduces_it(tmp_path):
    audit = io.StringIO()
    client = app_client(Settings(api_keys=(TEST_KEY,), image_digest="sha256:" + "f" * 64),
                        key=TEST_KEY, audit=audit)
    updates = [{"parameter": "c_H", "distribution": "gamma", "v1": 100, "v2": 21}]
    first = client.simulate_post(RUN, json={"param_updates": updates})  # no seed
    assert first.status_code == 200
    record = audit_records(audit)[-1]
    assert isinstance(record["seed"], int) and 0 <= record["seed"] < 2**63
    assert first.headers["X-Seed"] == str(record["seed"])
    assert first.headers["X-Run-Id"] == record["run_id"]
    assert first.headers["X-Dataset-SHA256"] == DATASET_SHA256
    assert first.headers["X-Image-Digest"] == "sha256:" + "f" * 64
    assert first.headers["X-Service-Version"] == record["service_version"] != "unknown"
    again = client.simulate_post(RUN, json={"param_updates": updates, "seed": record["seed"]})
    assert again.text == first.text  # the same numbers, to the last digit
    other = client.simulate_post(RUN, json={"param_updates": updates})
    assert other.text != first.text and other.headers["X-Run-Id"] != first.headers["X-Run-Id"]


def test_the_audit_log_goes_to_a_file_when_configured(tmp_path):
    path = tmp_path / "audit.jsonl"
    settings = Settings.from_env({"API_KEYS": TEST_KEY, "AUDIT_LOG": str(path)})
    client = app_client(settings, key=TEST_KEY, audit=settings.open_audit_log())
    client.simulate_post(RUN, json={"seed": 5})
    assert [(r["event"], r["seed"]) for r in map(json.loads, path.read_text().splitlines())] == [
        ("start", 5), ("end", 5)]
    with pytest.raises(SettingsError, match="AUDIT_LOG"):
        Settings.from_env({"API_KEYS": TEST_KEY, "AUDIT_LOG": str(tmp_path / "no" / "dir")})


def test_analysis_runs_are_audited_scoped_and_carry_the_receipt(tmp_path):
    audit = io.StringIO()
    client, _ = scoped_client(tmp_path, audit=audit)
    answer = client.simulate_post("/analysis", json={"wtp": [100000]}, headers={"key": ALICE})
    assert answer.status_code == 200, answer.text
    record = audit_records(audit)[-1]
    assert (record["endpoint"], record["key_name"], record["outcome"]) == ("/analysis", "alice", "ok")
    assert answer.json["provenance"] == {
        "run_id": record["run_id"], "service_version": record["service_version"],
        "image_digest": None, "dataset_sha256": DATASET_SHA256, "seed": record["seed"]}
    assert answer.headers["X-Seed"] == str(record["seed"]) == str(answer.json["method"]["seed"])
    refused = client.simulate_post("/analysis", json={"param_updates": [
        {"parameter": "c_D", "distribution": "fixed", "v1": 1}]}, headers={"key": ALICE})
    assert refused.status_code == 403 and len(audit_records(audit)) == 1
    assert client.simulate_post("/analysis", json={}, headers={"key": BOB}).status_code == 403


def test_a_removed_key_file_keeps_the_keys_and_is_reported_once(tmp_path, caplog):
    client, key_file = scoped_client(tmp_path)
    assert post(client, ALICE, seed=1).status_code == 200
    key_file.unlink()
    with caplog.at_level("ERROR", logger="service"):
        for _ in range(3):
            assert post(client, ALICE, seed=1).status_code == 200
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "keys not reloaded, the previous 3 stay in force"]
