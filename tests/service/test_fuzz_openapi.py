"""Property-based fuzzing of the RUNNING service (gunicorn on 127.0.0.1) from its
own /openapi.json, with schemathesis: schema-valid (positive) and schema-invalid
(negative) requests to every operation, with a valid key, without a key and with
a wrong one.

Every built-in schemathesis check runs (no 5xx, documented status codes,
response bodies, content types and headers that match the document, invalid
data rejected, auth enforced, ...), plus two of ours:

* without a valid key, /runDARTHmodel answers 401, 403 or 429 with a JSON error
  (or gunicorn's 414 for an over-long URL) and never a line of model output;
* `positive_data_acceptance` keeps schemathesis' own statuses: a schema-valid
  request is never a 400 or 422.  It may be a 404 (a dataset name the data
  folder does not hold: the public document must not list the folder) or a
  409 (a rule of the data owner's table or settings: which parameters are
  editable, which values give valid transition probabilities, which EVPPI is
  offered and computable; issue 15, item 9; and the cost budget: what one
  worker may use, issue 26).  So that these are not blanket
  exclusions, `refusal_has_a_data_reason` fails any 4xx to a schema-valid
  request whose message is not one of exactly those rules.  (Arguments in
  the query string, which could collide with the body's, 400, or make the URL
  too long, 414, are described, not listed.)

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
NOT_FOUND_RULES = (  # 404: the data folder's business
    r"no dataset named .* in the data folder",
    r"path_to_psa_inputs .* leads outside the data folder",
)
CONFLICT_RULES = (  # 409: messages of rules that depend on the server's data
    r"EVPPI of .* is not offered",  # /analysis: the dataset's and the settings' offer
    r"sensitivity to .* is not offered",  # /analysis: the same offer, for owsa/twsa
    r"the model's costs or QALYs overflowed",
    r"dataset .* is not a valid parameter table",
    # The settings' cost budget (service/budget.py): what one worker may use.
    r"this request needs (at least )?an estimated .* (MiB of memory|s); ",
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
    config = {"checks": {"negative_data_rejection": {"expected-statuses": NEGATIVE_STATUSES}}}
    if key is not None:
        config["auth"] = {"openapi": {"apiKey": {"api_key": key}}}
    return schemathesis.openapi.from_url(server.url + "/openapi.json",
                                         config=SchemathesisConfig.from_dict(config))


def refusal_has_a_data_reason(case, response) -> None:
    if response.status_code not in (400, 404, 409, 422) or case.path not in KEYED:
        return
    body = response.json()
    message = body["error"]
    if response.status_code == 404 and any(re.match(r, message) for r in NOT_FOUND_RULES):
        return
    if response.status_code == 409 and ("kind" in body  # the model's, for this dataset
                                        or any(re.match(r, message) for r in CONFLICT_RULES)):
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
            refusal_has_a_data_reason(case, response)
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
