"""Property-based fuzzing of the RUNNING service (gunicorn on 127.0.0.1) from its
own /openapi.json, with schemathesis: schema-valid (positive) and schema-invalid
(negative) requests to every operation, with a valid key, without a key and with
a wrong one.

Every built-in schemathesis check runs (no 5xx, documented status codes,
response bodies, content types and headers that match the document, invalid
data rejected, auth enforced, ...), plus two of ours:

* without a valid key, /runDARTHmodel answers 401, 403 or 429 with a JSON error
  (or gunicorn's 414 for an over-long URL) and never a line of model output;
* `positive_data_acceptance` is configured to let schema-valid requests get 400
  or 422, because the document cannot state some rules (see the operation's
  description): an argument in both query string and body, dataset names (the
  public document must not list the data folder), which parameters are
  editable and which values give valid transition probabilities (both depend
  on the dataset), and the content of JSON text sent in a string.  (Arguments
  in the query string, which could collide with the body's, 400, or make the
  URL too long, 414, are described, not listed: issue 15, item 9.)  So that
  this is not a blanket exclusion, `rejection_has_a_documented_reason` fails
  any such 400/422 whose message is not one of exactly those rules.

The number of cases is bounded (LIVING_HTA_FUZZ_EXAMPLES per run, default 60:
6 runs, a few hundred cases, about half a minute); the count is written to
$LIVING_HTA_FIGURES/fuzz.json when that is set (bench/bench_hardening.py).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES

import model
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server

EXAMPLES = int(os.environ.get("LIVING_HTA_FUZZ_EXAMPLES", "60"))
RUN = "/runDARTHmodel"
ANALYSIS = "/analysis"
PARAMETERS = "/parameters"
KEYED = (RUN, ANALYSIS, PARAMETERS)  # the operations that need a key
# Statuses a schema-valid request may get: schemathesis' defaults, and 400 and
# 422 for the rules the document cannot state (narrowed by the check below).
POSITIVE_STATUSES = ["2xx", "400", "401", "403", "422", "429"]
STATE_RULES = (  # messages of rules that depend on the server's data
    r"no dataset named .* in the data folder",
    r"EVPPI of .* is not offered",  # /analysis: the dataset's and the settings' offer
)
TEXT_RULES = (  # JSON text inside a string: OpenAPI 3.0 has no schema for it
    r"param_updates is not valid JSON",
    r"param_updates must be a list of",
    r"param_updates record \d+",
    r"param_updates has \d+ records",
)
ANALYSIS_TEXT_RULES = (  # /analysis: what a pattern cannot say about text
    r"evppi is not valid JSON",
    r"evppi must be a list",
    r"evppi group \d+ must be",
    r"(evppi_)?wtp: willingness-to-pay range .* (has \d+ values|need start ≤ stop)",
)
# Invalid data may be refused by gunicorn too: 414, its request-line limit.
NEGATIVE_STATUSES = [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "414"]
CASES: dict[str, int] = {}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Two servers: wrong keys get an address throttled (429), which must not
    spill into the valid-key runs."""
    with gunicorn_server(tmp_path_factory.mktemp("fuzz-keyed"), API_KEYS=TEST_KEY) as keyed, \
            gunicorn_server(tmp_path_factory.mktemp("fuzz-closed"), API_KEYS=TEST_KEY) as closed:
        yield {"valid": keyed, "missing": closed, "wrong": closed}


@pytest.fixture(scope="module", autouse=True)
def report_figures():
    yield
    folder = os.environ.get("LIVING_HTA_FIGURES")
    if folder:
        Path(folder, "fuzz.json").write_text(json.dumps(
            {"cases": sum(CASES.values()), "runs": CASES, "examples_per_run": EXAMPLES}))


def test_the_documented_request_line_limit_is_gunicorns():
    import service.gunicorn_conf as conf
    from service.openapi import build_document
    from service.settings import LIMIT_REQUEST_LINE as REQUEST_LINE_LIMIT

    assert conf.limit_request_line == REQUEST_LINE_LIMIT
    responses = build_document()["paths"][RUN]["post"]["responses"]
    assert f"over {REQUEST_LINE_LIMIT} bytes" in responses["414"]["description"]


def load_schema(server, key: str | None):
    """The served document; schemathesis sends `key` through the document's
    apiKey scheme, so its negative cases that drop the key really drop it."""
    config = {"checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES},
                         "negative_data_rejection": {"expected-statuses": NEGATIVE_STATUSES}}}
    if key is not None:
        config["auth"] = {"openapi": {"apiKey": {"api_key": key}}}
    return schemathesis.openapi.from_url(server.url + "/openapi.json",
                                         config=SchemathesisConfig.from_dict(config))


def rejection_has_a_documented_reason(case, response) -> None:
    if response.status_code not in (400, 422) or case.path not in KEYED:
        return
    body = response.json()
    message = body["error"]
    if any(re.match(rule, message) for rule in STATE_RULES):
        return
    if response.status_code == 422 and ("kind" in body or "overflowed" in message):
        return  # the model refused these updates for this dataset (detail says where)
    sent_as_text = isinstance(case.body, dict) and isinstance(case.body.get("param_updates"), str)
    if sent_as_text and any(re.match(rule, message) for rule in TEXT_RULES):
        return
    if case.path == ANALYSIS and any(re.match(rule, message) for rule in ANALYSIS_TEXT_RULES):
        return
    raise AssertionError(
        f"a schema-valid request was refused for a reason the document could state: "
        f"{response.status_code} {message!r}\n{case.as_curl_command()}")


def no_output_without_a_valid_key(case, response) -> None:
    if case.path not in KEYED:
        return
    assert response.status_code in (401, 403, 414, 429), (response.status_code, response.text[:300])
    assert response.headers["content-type"][0].startswith("application/json")
    assert isinstance(response.json()["error"], str)
    assert not any(column in response.text for column in model.RESULT_COLUMNS), response.text[:300]
    assert not any(strategy in response.text for strategy in model.STRATEGIES), response.text[:300]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
@pytest.mark.parametrize("key", ["valid", "missing", "wrong"])
def test_running_service_conforms_to_its_openapi_document(servers, key, mode):
    sent_key = {"valid": TEST_KEY, "wrong": "wrong-" + TEST_KEY[::-1], "missing": None}[key]
    schema = load_schema(servers[key], sent_key)
    run_id = f"{key}-{mode.value}"
    CASES[run_id] = 0
    answered: Counter = Counter()

    @given(case=schema.as_strategy(mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        CASES[run_id] += 1
        if key == "missing":
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "key"}
        response = case.call_and_validate(timeout=30)
        if case.path in KEYED:
            answered[case.path, response.status_code] += 1
        if key == "valid" and mode == GenerationMode.POSITIVE:
            rejection_has_a_documented_reason(case, response)
        if key != "valid":
            no_output_without_a_valid_key(case, response)

    fuzz()
    assert CASES[run_id] >= min(EXAMPLES, 20)  # the run really ran
    if key == "valid" and mode == GenerationMode.POSITIVE:
        # The key was really sent: the model ran, and so did the analyses.
        assert answered[RUN, 200] > 0 and answered[ANALYSIS, 200] > 0, answered


def test_every_distribution_has_its_record_schema():
    from model.distributions import DISTRIBUTIONS
    from service.openapi import build_document

    records = build_document()["components"]["schemas"]["ParamUpdate"]["oneOf"]
    assert [r["properties"]["distribution"]["enum"] for r in records] == [[d] for d in DISTRIBUTIONS]
    # v2 is required wherever the distribution uses it (beta with v2 null is a 422).
    assert [("v2" in r["required"]) for r in records] == [
        rule.v2 is not None for rule in DISTRIBUTIONS.values()]
