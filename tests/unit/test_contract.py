"""The request contract (service/contract.py) and the model-request pipeline
(service/pipeline.py): one declaration gives the parser and the document;
what the schema language cannot state is said and still refused."""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
from pathlib import Path

import falcon
import falcon.testing
import pytest
from openapi_schema_validator import OAS30Validator

from model.distributions import DISTRIBUTIONS
from model.parameters import default_table_path
from service.contract import Argument, Choice, Contract
from service.errors import ApiError
from service.settings import Settings
from tests.support.client import app_client

KEY = "contract-key-31"
RUN, ANALYSIS = "/runDARTHmodel", "/analysis"
UPDATE = {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150}


def client_of(data_dir: Path, **options) -> falcon.testing.TestClient:
    return app_client(Settings(api_keys=(KEY,), data_dir=data_dir), key=KEY, **options)


def record_validator(document: dict) -> OAS30Validator:
    schema = dict(document["components"]["schemas"]["ParamUpdate"])
    schema["components"] = document["components"]
    return OAS30Validator(schema)


@pytest.mark.parametrize("path", [RUN, ANALYSIS])
@pytest.mark.parametrize("as_text", [False, True])
def test_a_record_with_an_unknown_field_is_refused_naming_it(data_dir, path, as_text):
    client = client_of(data_dir)
    records = [UPDATE, dict(UPDATE, parameter="p_S1H", sd=3)]
    body = ({"json": {"param_updates": json.dumps(records)}} if as_text
            else {"json": {"param_updates": records, "seed": 1}})
    answer = client.simulate_post(path, **body)
    assert answer.status_code == 422, answer.text
    assert "unknown field 'sd'" in answer.json["error"]
    assert answer.json["update"] == 2 and answer.json["parameter"] == "p_S1H"
    # The document says so too: the record schema takes no other field.
    document = client.simulate_get("/openapi.json").json
    assert not record_validator(document).is_valid(records[1])
    assert record_validator(document).is_valid(records[0])


def test_a_form_record_with_an_unknown_field_is_refused(data_dir):
    text = json.dumps([dict(UPDATE, editable=True)])
    answer = client_of(data_dir).simulate_post(
        RUN, body=f"param_updates={text}",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 422 and "unknown field 'editable'" in answer.json["error"]


def test_uniform_min_above_max_is_schema_valid_stated_and_refused(data_dir):
    """A rule across two fields: the schema cannot state it, so the record's
    description does, and the service refuses it with a 422."""
    client = client_of(data_dir)
    document = client.simulate_get("/openapi.json").json
    record = {"parameter": "c_H", "distribution": "random uniform", "v1": 5, "v2": 1}
    assert record_validator(document).is_valid(record)
    uniform = next(r for r in document["components"]["schemas"]["ParamUpdate"]["oneOf"]
                   if r["properties"]["distribution"]["enum"] == ["random uniform"])
    assert "v1 (min) <= v2 (max)" in uniform["description"]
    assert "422" in uniform["description"]
    answer = client.simulate_post(RUN, json={"param_updates": [record]})
    assert answer.status_code == 422, answer.text
    assert "random uniform needs min <= max" in answer.json["error"]


@pytest.mark.parametrize("distribution", list(DISTRIBUTIONS))
def test_distribution_bounds_in_the_document_are_the_models(distribution):
    """Each record schema's v1/v2 bounds come from the model's table: a value
    at, just above and below each bound is accepted by both or by neither."""
    from service.openapi import build_document

    document = build_document()
    validator = record_validator(document)
    rule = DISTRIBUTIONS[distribution]
    for field, minimum in (("v1", rule.v1_minimum), ("v2", rule.v2_minimum)):
        if field == "v2" and rule.v2 is None:
            continue
        bound = 0.0 if minimum is None else minimum.value
        for value in (bound - 1, bound, math.nextafter(bound, 1), bound + 1):
            v1, v2 = (value, 10.0) if field == "v1" else (-10.0 if rule.across else 1.0, value)
            record = {"parameter": "p", "distribution": distribution, "v1": v1, "v2": v2}
            admitted = rule.problem(v1, v2) is None
            assert validator.is_valid(record) == admitted, (record, admitted)


def test_a_new_argument_declared_once_is_parsed_and_documented(data_dir):
    """The smallest change that adds an argument: one `Argument` in the
    operation's declaration.  The parser takes it (and refuses bad values
    with its type's message), the document lists it in every body type."""
    colour = Argument("colour", Choice(("red", "blue"), default="red"), "The plot's colour.")
    base = Contract.for_service()
    contract = Contract(base.run_model, base.analysis + (colour,))
    client = client_of(data_dir, contract=contract)

    body = client.simulate_get("/openapi.json").json["paths"][ANALYSIS]["post"]["requestBody"]
    for media_type in ("application/json", "application/x-www-form-urlencoded",
                       "multipart/form-data"):
        declared = body["content"][media_type]["schema"]["properties"]["colour"]
        assert declared == {"type": "string", "enum": ["red", "blue"],
                            "description": "The plot's colour."}

    def read(query_string: str = "", **document):
        req = falcon.testing.create_req(method="POST", path=ANALYSIS, query_string=query_string,
                                        body=json.dumps(document),
                                        headers={"Content-Type": "application/json"})
        return contract.analysis.read(req, 1 << 20)

    assert read(colour="blue")["colour"] == "blue"
    assert read("colour=blue")["colour"] == "blue"
    assert read()["colour"] == "red"
    with pytest.raises(ApiError) as refused:
        read(colour="green")
    assert refused.value.status == falcon.HTTP_400
    assert refused.value.description == "colour must be one of red, blue"
    # The service takes it; without the declaration it is an unknown argument.
    assert client.simulate_post(ANALYSIS, json={"colour": "blue", "seed": 1}).status_code == 200
    unknown = client_of(data_dir).simulate_post(ANALYSIS, json={"colour": "blue"})
    assert unknown.status_code == 400 and "unknown argument 'colour'" in unknown.json["error"]


def test_admission_is_asked_before_the_run_and_held_during_it(data_dir):
    """The pipeline's one admission point (the cost check and the per-key
    concurrency limit go there): a refusal writes no audit record; an
    admitted request holds its admission while the model runs."""
    seen = []

    @contextlib.contextmanager
    def admission(req, arguments, checked):
        if arguments.n_samples > 500:
            raise ApiError(falcon.HTTP_429, "too costly")
        seen.append("admitted")
        yield
        seen.append("released")

    def runner(table, updates, seed, n_samples):
        seen.append("ran")
        from service.pipeline import run_builtin_model
        return run_builtin_model(table, updates, seed, n_samples)

    audit = io.StringIO()
    client = client_of(data_dir, admission=admission, runner=runner, audit=audit)
    refused = client.simulate_post(RUN, json={"n_samples": 600})
    assert refused.status_code == 429 and audit.getvalue() == "" and seen == []
    assert client.simulate_post(ANALYSIS, json={"n_samples": 100}).status_code == 200
    assert seen == ["admitted", "ran", "released"]
    assert [json.loads(line)["event"] for line in audit.getvalue().splitlines()] == [
        "start", "end"]
