"""POST /analysis through falcon.testing: one PSA, every dampack analysis of
it, equal to what /runDARTHmodel returns for the same seed; EVPPI only where
the data owner allows it; the leak guard; bounded, clear errors."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import falcon
import numpy as np
import pandas as pd
import pytest
from openapi_schema_validator import OAS30Validator

import model
from model.analysis import PSA, analyse, parse_wtp
from model.metadata import read_metadata
from model.parameters import default_table_path
from service.errors import KEY_MISSING, ApiError
from service.openapi import build_document
from service.resources.analysis import guard_analysis
from service.settings import Settings
from tests.support.client import app_client

KEY = "analysis-key-Lw3"
ANALYSIS, RUN = "/analysis", "/runDARTHmodel"
UPDATES = [{"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
           {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 100}]
PAIR = ["p_HS1", "p_S1H"]


def client_with(log=None, **settings):
    return app_client(Settings(api_keys=(KEY,), **settings), key=KEY, log=log)


@pytest.fixture
def client():
    return client_with()


def read_results(csv_text: str) -> pd.DataFrame:
    """The CSV as the doubles it holds (Python's float() reads back exactly;
    pandas' default parser can be an ulp off)."""
    header, *lines = csv_text.splitlines()
    return pd.DataFrame([[float(x) for x in line.split(",")] for line in lines],
                        columns=header.split(","))


def answer_schema():
    document = build_document()
    schema = dict(document["components"]["schemas"]["Analysis"])
    schema["components"] = document["components"]
    return OAS30Validator(schema)


def test_equal_to_run_darth_model_for_the_same_seed(client):
    wtp = "0:200000:5000"
    answer = client.simulate_post(ANALYSIS, json={"param_updates": UPDATES, "seed": 7, "wtp": wtp,
                                                  "evppi": [PAIR, "p_S1S2"]})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    answer_schema().validate(answer.json)
    # What a client of /runDARTHmodel would compute from its CSV, with the
    # samples only the service has (for EVPPI): the same figures, exactly.
    csv = client.simulate_post(RUN, json={"param_updates": UPDATES, "seed": 7}).text
    results = read_results(csv)
    samples = model.run_psa(updates=UPDATES, seed=7).samples
    psa = PSA.from_columns(results.to_numpy(), list(results.columns),
                           np.column_stack([samples.columns[p] for p in PAIR + ["p_S1S2"]]),
                           PAIR + ["p_S1S2"])
    # The built-in dataset's units (its parameter_distributions.meta.json).
    units = read_metadata(default_table_path())
    expected = analyse(psa, parse_wtp(wtp), [PAIR, ["p_S1S2"]], units=units)
    expected["method"].update(seed=7, dataset="parameter_distributions.csv")
    body = answer.json
    provenance = body.pop("provenance")  # the receipt (service/runs.py)
    assert body == json.loads(json.dumps(expected))
    assert provenance["seed"] == 7 and provenance["run_id"] == answer.headers["X-Run-Id"]
    assert answer.json["method"]["wtp"][:3] == [0, 5000, 10000]
    assert [row["Status"] for row in answer.json["icers"]] == ["ND", "ND", "ED"]
    evpi = {row["WTP"]: row["EVPI"] for row in answer.json["evpi"]}
    for group in answer.json["evppi"]:
        assert all(0 <= v["EVPPI"] <= evpi[v["WTP"]] for v in group["values"])


def without_receipt(answer: dict) -> dict:
    """An answer without its provenance receipt (whose run id is new each run)."""
    return {k: v for k, v in answer.items() if k != "provenance"}


def test_without_a_seed_the_seed_used_is_reported_and_repeats_the_answer(client):
    first = client.simulate_post(ANALYSIS, json={"wtp": [100000]})
    assert first.status_code == 200
    seed = first.json["method"]["seed"]
    assert isinstance(seed, int)
    again = client.simulate_post(ANALYSIS, json={"wtp": [100000], "seed": seed})
    assert without_receipt(again.json) == without_receipt(first.json)
    assert again.json["provenance"]["seed"] == first.json["provenance"]["seed"] == seed


def test_defaults_are_the_original_updates_and_the_reference_grid(client):
    answer = client.simulate_post(ANALYSIS, json={"seed": 1}).json
    run = read_results(client.simulate_post(RUN, json={"seed": 1}).text)
    assert answer["summary"][0]["meanCost"] == run["C_No_Treatment"].mean()
    assert answer["method"]["wtp"] == parse_wtp("0:200000:5000").tolist()
    assert answer["evppi"] == [] and answer["method"]["evppi_method"] == "poly"
    assert len(answer["ceac"]) == 41 * 3


def test_evppi_at_its_own_willingness_to_pay(client):
    answer = client.simulate_post(ANALYSIS, json={
        "seed": 2, "evppi": ["p_S1S2"], "evppi_wtp": "80000,100000,120000"}).json
    assert [v["WTP"] for v in answer["evppi"][0]["values"]] == [80000, 100000, 120000]
    assert answer["method"]["evppi_wtp"] == [80000, 100000, 120000]
    assert len(answer["evpi"]) == 41  # the rest on the full grid
    whole = client.simulate_post(ANALYSIS, json={"seed": 2, "evppi": ["p_S1S2"]}).json
    at = {v["WTP"]: v["EVPPI"] for v in whole["evppi"][0]["values"]}
    # The same regressions, batched differently: equal to rounding.
    assert [at[w] for w in (80000, 100000, 120000)] == pytest.approx(
        [v["EVPPI"] for v in answer["evppi"][0]["values"]], rel=1e-12)
    assert whole["method"]["evppi_wtp"] == whole["method"]["wtp"]
    bad = client.simulate_post(ANALYSIS, json={"evppi_wtp": "1:0:1"})
    assert bad.status_code == 400 and bad.json["error"].startswith("evppi_wtp: ")


def test_gam_method_and_poly_order(client):
    body = {"seed": 3, "wtp": "90000,100000,110000", "evppi": ["p_S1S2"]}
    gam = client.simulate_post(ANALYSIS, json={**body, "evppi_method": "gam"}).json
    first = client.simulate_post(ANALYSIS, json={**body, "poly_order": 1}).json
    assert gam["method"]["evppi_method"] == "gam" and "poly_order" not in gam["method"]
    assert first["method"]["poly_order"] == 1
    assert gam["evppi"][0]["values"] != first["evppi"][0]["values"]
    assert gam["evppi"][0]["values"][1]["EVPPI"] > 1000  # progression matters at 100k


def test_arguments_in_a_form_or_the_query_string(client):
    form = client.simulate_post(
        ANALYSIS, body="seed=5&wtp=100000&evppi=%5B%22p_S1S2%22%5D&evppi_method=gam&poly_order=3",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    query = client.simulate_post(ANALYSIS, query_string="seed=5&wtp=100000&evppi=%5B%22p_S1S2%22%5D"
                                                        "&evppi_method=gam&poly_order=3")
    assert form.status_code == query.status_code == 200, form.text
    assert without_receipt(form.json) == without_receipt(query.json)
    assert form.json["evppi"][0]["parameters"] == ["p_S1S2"]


def test_key_required(client):
    result = client.simulate_post(ANALYSIS, headers={"key": ""})
    assert result.status_code == 401 and result.json["error"] == KEY_MISSING
    assert client.simulate_post(ANALYSIS, headers={"key": "nope"}).status_code == 403


@pytest.mark.parametrize("body, message", [
    ({"wtp": "0:10"}, "wtp: willingness to pay '0:10': give a list"),
    ({"wtp": "0:1000000:1"}, "has 1000001 values; at most 201"),
    ({"wtp": list(range(202))}, "at most 201 willingness-to-pay values"),
    ({"wtp": [2e9]}, "each value at most 1e+09"),
    ({"wtp": [-1]}, "not negative"),
    ({"wtp": []}, "give a list of numbers"),
    ({"wtp": [True]}, "give a list of numbers"),
    ({"evppi": "p_S1S2"}, "is not valid JSON"),
    ({"evppi": {"a": 1}}, "evppi must be a list"),
    ({"evppi": [["p_HS1", "p_HS1"]]}, "evppi group 1 must be"),
    ({"evppi": [[]]}, "evppi group 1 must be"),
    ({"evppi": ["p_HS1"] * 11}, "at most 10 parameter groups"),
    ({"evppi_method": "loess"}, "evppi_method must be one of poly, gam"),
    ({"poly_order": 9}, "poly_order must be a whole number from 1 to 4"),
    ({"poly_order": "2"}, "poly_order must be"),
    ({"wtp": 1, "color": 2}, "unknown argument 'color'"),
])
def test_bad_arguments_are_400(client, body, message):
    result = client.simulate_post(ANALYSIS, json=body)
    assert result.status_code == 400, result.text
    assert message in result.json["error"]


def test_evppi_only_for_editable_parameters_by_default(client):
    table = model.read_table()
    confidential = [p for p, e in zip(table.parameter, table.editable) if not e]
    assert "c_trtA" in confidential
    refused = client.simulate_post(ANALYSIS, json={"evppi": [["p_HS1", "c_trtA"]]})
    unknown = client.simulate_post(ANALYSIS, json={"evppi": ["p_XYZ"]})
    assert refused.status_code == unknown.status_code == 409
    assert "EVPPI of 'c_trtA' is not offered (evppi group 1)" in refused.json["error"]
    assert "EVPPI of 'p_XYZ' is not offered" in unknown.json["error"]
    # The offer lists what the client may ask for, never a confidential name.
    assert refused.json["evppi_parameters"] == table.editable_parameters
    for name in confidential:
        assert json.dumps(name) not in refused.text.replace('"c_trtA"', "")


def test_the_data_owner_can_offer_more_in_the_settings():
    some = client_with(evppi_parameters=("c_trtA",))
    assert some.simulate_post(ANALYSIS, json={"seed": 1, "evppi": ["c_trtA"]}).status_code == 200
    assert some.simulate_post(ANALYSIS, json={"evppi": ["u_trtA"]}).status_code == 409
    every = client_with(evppi_parameters=("*",))
    assert every.simulate_post(ANALYSIS, json={"seed": 1, "evppi": ["u_trtA"]}).status_code == 200


def test_settings_read_evppi_parameters_from_the_environment(tmp_path):
    env = {"API_KEYS": "k", "EVPPI_PARAMETERS": " c_trtA, u_trtA ,,c_trtA"}
    assert Settings.from_env(env).evppi_parameters == ("c_trtA", "u_trtA")
    assert Settings.from_env({"API_KEYS": "k"}).evppi_parameters == ()
    with pytest.raises(Exception, match="either \\*"):
        Settings.from_env({"API_KEYS": "k", "EVPPI_PARAMETERS": "*,c_trtA"})


def test_an_evppi_the_method_cannot_compute_is_409(client):
    five = ["p_HS1", "p_S1H", "p_S1S2", "c_H", "c_S1"]
    result = client.simulate_post(ANALYSIS, json={"evppi": [five], "evppi_method": "gam"})
    assert result.status_code == 409
    assert result.json["kind"] == "AnalysisError" and "groups of up to 4" in result.json["error"]
    assert client.simulate_post(ANALYSIS, json={"evppi": [five]}).status_code == 200  # poly


def test_an_evppi_from_too_few_samples_is_409(client):
    """Schema-valid (n_samples 1 is allowed) but the spline needs more samples
    than were drawn: the samples', not the request's form, so 409 (found by
    schemathesis' positive_data_acceptance check, issue 15 item 9)."""
    result = client.simulate_post(ANALYSIS, json={"evppi": ["p_HS1"], "evppi_method": "gam",
                                                  "n_samples": 1, "seed": 1})
    assert result.status_code == 409, result.text
    assert result.json["kind"] == "AnalysisError"


def test_model_errors_are_409_as_for_run_darth_model(client):
    bad = [{"parameter": "hr_S1S2_trtB", "distribution": "beta", "v1": 1, "v2": 1}]
    result = client.simulate_post(ANALYSIS, json={"param_updates": bad})
    assert result.status_code == 409 and result.json["kind"] == "NotEditableError"


def test_json_only(client):
    result = client.simulate_post(ANALYSIS, headers={"Accept": "text/csv"})
    assert result.status_code == 406
    assert client.simulate_post(ANALYSIS, headers={"Accept": "*/*"}).status_code == 200


def test_leak_guard_covers_analysis_results():
    log = io.StringIO()

    def leaky_runner(table, updates, seed, n_samples):
        results = model.run(table, updates, seed=seed, n_samples=n_samples)
        results["hr_S1S2_trtB"] = 0.6  # e.g. a model that returns its inputs
        return results

    client = app_client(Settings(api_keys=(KEY,)), key=KEY, log=log, runner=leaky_runner)
    result = client.simulate_post(ANALYSIS, json={"seed": 1})
    assert result.status_code == 500 and "hr_S1S2_trtB" not in result.text
    assert "leak guard" in json.loads(log.getvalue().splitlines()[-1])["error"]


def test_leak_guard_refuses_an_answer_naming_a_confidential_parameter():
    table = model.read_table()
    req = SimpleNamespace(context=SimpleNamespace())
    allowed = table.editable_parameters
    guard_analysis(req, json.dumps({"evppi": [{"parameters": ["p_HS1"]}]}), table, allowed)
    for text in ['{"evppi": [{"parameters": ["c_trtA"]}]}', '{"c_trtA": 1}']:
        with pytest.raises(ApiError) as refused:
            guard_analysis(req, text, table, allowed)
        assert refused.value.status == falcon.HTTP_500
        assert "c_trtA" not in refused.value.description
        assert "c_trtA" in req.context.error
    # A name inside a longer string is not that name.
    guard_analysis(req, '{"note": "c_trtA_x"}', table, allowed)


@pytest.mark.parametrize("path", [ANALYSIS, RUN])
def test_what_swagger_ui_sends_works(client, path):
    # Swagger UI's "Try it out" sends the body example, the query parameters
    # it prefills (their schema defaults) and the key from the apiKey scheme.
    document = build_document()
    operation = document["paths"][path]["post"]
    assert "security" not in operation and {"apiKey": []} in document["security"]
    example = operation["requestBody"]["content"]["application/json"]["example"]
    prefilled = {p["name"]: p["schema"]["default"] for p in operation.get("parameters", [])
                 if "default" in p.get("schema", {})}
    result = client.simulate_post(path, json=example, params=prefilled,
                                  headers={"Accept": "application/json"})
    assert result.status_code == 200, result.text
    if path == ANALYSIS:
        answer_schema().validate(result.json)
        assert [g["parameters"] for g in result.json["evppi"]] == [["p_HS1", "p_S1H"], ["p_S1S2"]]
        served = client.simulate_get("/openapi.json", headers={"key": ""}).json
        assert served["paths"][ANALYSIS]["post"] == json.loads(json.dumps(operation))
