"""Property tests for the parsing of `param_updates` (service/contract.py):
whatever a client sends, the contract (service/contract.py) returns well-formed records or
raises an ApiError (400/422) with a message; JSON text and real JSON agree.
(The model's own validation of the records: tests/unit/test_model_properties.py.)"""

from __future__ import annotations

import json
import math
from urllib.parse import quote

import falcon
import falcon.testing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.contract import DEFAULT_UPDATES, MAX_UPDATES, run_arguments
from service.errors import ApiError

LIMIT = 1 << 20
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=12)
NUMBERS = st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
RECORDS = st.lists(st.fixed_dictionaries(
    {"parameter": st.text(max_size=12), "distribution": st.text(max_size=12), "v1": NUMBERS},
    optional={"v2": NUMBERS | st.none()}), max_size=6)
# Records with one field broken in one of the ways a client could break it
# (Infinity/NaN never get this far: they are not JSON, a 400 for the body).
BAD_VALUES = {"parameter": [None, True, 1, 2.5, [], {}], "distribution": [None, False, 0, ["beta"], {}],
              "v1": [None, True, "1", [], {}, 10**400], "v2": [False, "1", [1], {}, -(10**400)]}
BROKEN = RECORDS.filter(bool).flatmap(lambda records: st.tuples(
    st.just(records), st.integers(0, len(records) - 1),
    st.sampled_from(sorted(BAD_VALUES)).flatmap(
        lambda field: st.tuples(st.just(field), st.sampled_from(BAD_VALUES[field])))))


def json_request(document) -> falcon.Request:
    body = json.dumps(document, allow_nan=True).encode()
    return falcon.testing.create_req(method="POST", path="/runDARTHmodel", body=body,
                                     headers={"Content-Type": "application/json"})


def query_request(text: str) -> falcon.Request:
    return falcon.testing.create_req(method="POST", path="/runDARTHmodel",
                                     query_string="param_updates=" + quote(text, safe=""))


def parse(req: falcon.Request):
    """The updates, or the status of the ApiError; anything else fails the test."""
    try:
        return run_arguments().read(req, LIMIT).updates
    except ApiError as error:
        assert error.status in (falcon.HTTP_400, falcon.HTTP_422), error.status
        assert error.description and len(error.description) < 1000
        return int(error.status[:3])


def well_formed(updates) -> bool:
    return isinstance(updates, list) and len(updates) <= MAX_UPDATES and all(
        isinstance(r, dict) and isinstance(r["parameter"], str) and isinstance(r["distribution"], str)
        and _number(r["v1"]) and (r.get("v2") is None or _number(r["v2"]))
        for r in updates)


def _number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_any_json_value_gives_records_or_a_client_error(value):
    for req in (json_request({"param_updates": value}),
                json_request({"param_updates": json.dumps(value, allow_nan=True)}),
                query_request(json.dumps(value, allow_nan=True))):
        result = parse(req)
        assert result in (400, 422) or well_formed(result), (value, result)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_gives_records_or_a_client_error(text):
    for req in (query_request(text), json_request({"param_updates": text})):
        result = parse(req)
        assert result in (400, 422) or well_formed(result)


@settings(max_examples=200, deadline=None)
@given(RECORDS)
def test_json_text_and_real_json_agree(records):
    real = parse(json_request({"param_updates": records}))
    assert real == records  # well-formed records pass through unchanged
    assert parse(json_request({"param_updates": json.dumps(records)})) == real
    assert parse(query_request(json.dumps(records))) == real


@settings(max_examples=200, deadline=None)
@given(BROKEN)
def test_a_broken_field_is_a_422_naming_the_record(case):
    records, position, (field, bad) = case
    records = [dict(r) for r in records]
    records[position][field] = bad
    req = json_request({"param_updates": records})
    with pytest.raises(ApiError) as caught:
        run_arguments().read(req, LIMIT)
    assert caught.value.status == falcon.HTTP_422
    assert caught.value.detail["update"] == position + 1
    assert f"record {position + 1}" in caught.value.description


@given(st.sampled_from([None, "null", " null "]))
def test_null_means_the_default_updates_as_a_fresh_copy(value):
    updates = parse(json_request({"param_updates": value}))
    assert updates == [dict(r) for r in DEFAULT_UPDATES]
    updates[0]["v1"] = -1
    assert DEFAULT_UPDATES[0]["v1"] == 25


def test_too_many_records_is_a_422():
    record = {"parameter": "p_HS1", "distribution": "beta", "v1": 1, "v2": 1}
    assert parse(json_request({"param_updates": [record] * MAX_UPDATES})) == [record] * MAX_UPDATES
    assert parse(json_request({"param_updates": [record] * (MAX_UPDATES + 1)})) == 422
