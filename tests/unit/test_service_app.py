"""The HTTP contract of the service, through falcon.testing (no server)."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import falcon
import falcon.testing
import pandas as pd
import pytest

import model
from model.errors import UpdateFormatError
from model.parameters import check_updates, default_table_path
from service.contract import DEFAULT_UPDATES, ORIGINAL_MODEL_URL
from service.errors import KEY_INVALID, KEY_MISSING
from service.openapi import build_document
from service.settings import Settings
from tests.support.client import app_client

KEY, OTHER_KEY = "test-key-Zq81", "second-key-77"
RUN = "/runDARTHmodel"
HTTPR_ACCEPT = "application/json, text/xml, application/xml, */*"
UPDATE = {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150}


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


def make_client(data_dir: Path, log: io.StringIO, runner=None, **settings) -> falcon.testing.TestClient:
    options = {"runner": runner} if runner else {}
    return app_client(Settings(api_keys=(KEY, OTHER_KEY), data_dir=data_dir, **settings),
                      key=KEY, log=log, **options)


@pytest.fixture
def client(data_dir, log) -> falcon.testing.TestClient:
    return make_client(data_dir, log)


def expected_csv(updates, seed, table_path=None) -> str:
    return model.format_csv(model.run(table_path, updates, seed=seed))


def rows(csv_text: str) -> list[str]:
    return csv_text.splitlines()


# --- open endpoints -------------------------------------------------------------------

def test_health_is_open_and_cheap(client):
    result = client.simulate_get("/health", headers={"key": ""})
    assert result.status_code == 200
    assert result.json == {"status": "ok"}


def test_paper_is_open(client):
    result = client.simulate_get("/paper", headers={"key": ""})
    assert result.status_code == 200
    assert result.json == ["https://wellcomeopenresearch.org/articles/7-194"]


def test_openapi_document_is_open_and_valid(client):
    from openapi_spec_validator import validate

    result = client.simulate_get("/openapi.json", headers={"key": ""})
    assert result.status_code == 200
    document = result.json
    validate(document)
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey", "in": "header", "name": "key"}
    run = document["paths"][RUN]["post"]
    assert set(run["responses"]) == {"200", "400", "401", "403", "404", "406", "408", "409", "413", "414", "415", "422", "429", "500", "503"}
    for path in ("/paper", "/health", "/openapi.json"):
        assert document["paths"][path]["get"]["security"] == []


def test_swagger_ui_is_served_from_the_installed_package(client):
    assert client.simulate_get("/__docs__").headers["location"].endswith("/__docs__/")
    index = client.simulate_get("/__docs__/", headers={"key": ""})
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert "http://" not in index.text and "https://" not in index.text  # no CDN
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                  "swagger-initializer.js"):
        assert asset in index.text
        result = client.simulate_get(f"/__docs__/{asset}", headers={"key": ""})
        assert result.status_code == 200 and len(result.content) > 100, asset
    initializer = client.simulate_get("/__docs__/swagger-initializer.js").text
    assert '"../openapi.json"' in initializer and "validatorUrl: null" in initializer
    assert "SwaggerUIBundle" in client.simulate_get("/__docs__/swagger-ui-bundle.js").text


def test_docs_serve_only_listed_assets(client):
    for name in ("index.j2", "..%2Fswagger_ui_bundle%2F__init__.py", "oauth2-redirect.html"):
        assert client.simulate_get(f"/__docs__/{name}").status_code == 404


# --- the key ----------------------------------------------------------------------------

def test_missing_key_is_401_with_the_original_message(client):
    for headers in ({"key": ""}, {"key": "   "}):
        result = client.simulate_post(RUN, headers=headers)
        assert result.status_code == 401
        assert result.json == {"error": KEY_MISSING}
    assert "add your API key to the HEADER object using the 'key' value" in KEY_MISSING


def test_wrong_key_is_403_with_the_original_message(client):
    for wrong in ("nope", KEY + "x", KEY[:-1], KEY.upper(), f"{KEY},{OTHER_KEY}"):
        result = client.simulate_post(RUN, headers={"key": wrong})
        assert result.status_code == 403
        assert result.json == {"error": KEY_INVALID}


def test_every_configured_key_is_accepted(client):
    for key in (KEY, OTHER_KEY):
        assert client.simulate_post(RUN, headers={"key": key}).status_code == 200


def test_key_check_runs_before_routing(client):
    assert client.simulate_get("/nothing-here", headers={"key": ""}).status_code == 401
    assert client.simulate_get("/nothing-here", headers={"key": "bad"}).status_code == 403
    result = client.simulate_get("/nothing-here")
    assert result.status_code == 404 and "error" in result.json
    assert client.simulate_get(RUN, headers={"key": ""}).status_code == 401
    result = client.simulate_get(RUN)
    assert result.status_code == 405 and "POST" in result.headers["allow"]


# --- POST /runDARTHmodel: the ways the original accepted arguments --------------------

def test_no_arguments_run_the_original_default_updates(client):
    result = client.simulate_post(RUN, params={"seed": "5"})
    assert result.status_code == 200
    assert result.headers["content-type"] == "text/csv; charset=UTF-8"
    assert rows(result.text)[0] == ",".join(model.RESULT_COLUMNS)
    assert len(rows(result.text)) == 1001
    assert result.text == expected_csv(list(DEFAULT_UPDATES), 5)
    assert DEFAULT_UPDATES[1] == {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 70}


def test_empty_list_means_no_updates(client):
    result = client.simulate_post(RUN, json={"param_updates": [], "seed": 5})
    assert result.status_code == 200
    assert result.text == expected_csv([], 5)
    assert result.text != expected_csv(list(DEFAULT_UPDATES), 5)


def test_httr_multipart_request_from_the_reference(client, reference):
    """The bytes the R client sends (reference/httr_request.txt), with the
    original's default model_functions URL in the query string."""
    raw = (reference / "httr_request.txt").read_bytes()
    head, body = raw.split(b"\r\n\r\n", 1) if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)
    headers = dict(
        line.split(": ", 1) for line in head.decode().splitlines()[1:] if ": " in line
    )
    if b"\r\n" not in body:  # the reference may have been saved with \n line ends
        body = body.replace(b"\n", b"\r\n")
    updates = json.loads(body.split(b"\r\n\r\n", 1)[1].split(b"\r\n")[0])
    result = client.simulate_post(
        RUN,
        params={"model_functions": ORIGINAL_MODEL_URL, "seed": "3"},
        headers={"Content-Type": headers["Content-Type"], "Accept": headers["Accept"],
                 "User-Agent": headers["User-Agent"]},
        body=body,
    )
    assert result.status_code == 200, result.text
    assert result.headers["content-type"] == "text/csv; charset=UTF-8"
    assert result.text == expected_csv(updates, 3)
    # The reference request names the original's local R file: refused.
    query = head.decode().splitlines()[0].split()[1].split("?", 1)[1]
    refused = client.simulate_post(RUN, query_string=query, body=body,
                                   headers={"Content-Type": headers["Content-Type"]})
    assert refused.status_code == 400
    assert "remote model code is not executed" in refused.json["error"]


@pytest.mark.parametrize("how", ["json-records", "json-text", "urlencoded", "query", "multipart"])
def test_every_way_of_sending_arguments_gives_the_same_run(client, how):
    updates = [UPDATE, {"parameter": "c_D", "distribution": "fixed", "v1": 10}]
    text = json.dumps(updates)
    if how == "json-records":
        result = client.simulate_post(RUN, json={"param_updates": updates, "seed": 11})
    elif how == "json-text":
        result = client.simulate_post(RUN, json={"param_updates": text, "seed": 11})
    elif how == "urlencoded":
        result = client.simulate_post(
            RUN, body=falcon.to_query_str({"param_updates": text, "seed": 11}, prefix=False),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    elif how == "query":
        result = client.simulate_post(RUN, params={"param_updates": text, "seed": "11"})
    else:
        boundary = "lhta-boundary-1"
        body = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"param_updates\"; "
            f"filename=\"updates.json\"\r\nContent-Type: application/json\r\n\r\n{text}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"seed\"\r\n\r\n11\r\n"
            f"--{boundary}--\r\n"
        )
        result = client.simulate_post(
            RUN, body=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert result.status_code == 200, result.text
    assert result.text == expected_csv(updates, 11)


def test_null_param_updates_means_the_defaults(client):
    result = client.simulate_post(RUN, json={"param_updates": None, "seed": 2})
    assert result.text == expected_csv(list(DEFAULT_UPDATES), 2)


def test_original_model_url_is_an_alias_of_the_builtin_model(client):
    result = client.simulate_post(RUN, json={"model_functions": ORIGINAL_MODEL_URL, "seed": 4})
    assert result.status_code == 200
    assert result.text == expected_csv(list(DEFAULT_UPDATES), 4)


def test_seed_makes_runs_reproducible_and_its_absence_fresh(client):
    first = client.simulate_post(RUN, params={"seed": "9"}).text
    assert client.simulate_post(RUN, params={"seed": "9"}).text == first
    unseeded = {client.simulate_post(RUN).text for _ in range(2)}
    assert len(unseeded) == 2 and first not in unseeded


def test_json_when_the_client_prefers_it(client):
    csv = client.simulate_post(RUN, params={"seed": "8"})
    result = client.simulate_post(RUN, params={"seed": "8"}, headers={"Accept": "application/json"})
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("application/json")
    records = result.json
    assert len(records) == 1000 and list(records[0]) == list(model.RESULT_COLUMNS)
    from_csv = pd.read_csv(io.StringIO(csv.text))
    assert pd.DataFrame(records).equals(from_csv)  # same doubles, both round-trip exactly
    for accept in (HTTPR_ACCEPT, "*/*", "text/csv, application/json", "text/*"):
        assert client.simulate_post(RUN, headers={"Accept": accept}).headers[
            "content-type"].startswith("text/csv"), accept
    assert client.simulate_post(
        RUN, headers={"Accept": "text/csv;q=0.5, application/json"}).headers[
        "content-type"].startswith("application/json")


def test_unacceptable_accept_is_406(client):
    result = client.simulate_post(RUN, headers={"Accept": "text/html"})
    assert result.status_code == 406
    assert result.json["available"] == ["text/csv", "application/json"]


# --- bad input: 4xx that say what to fix ------------------------------------------------

@pytest.mark.parametrize("value", ["https://evil.example/x.R", "/tmp/ref-r/src/darth_funcs.R",
                                   "darth_funcs.R", ORIGINAL_MODEL_URL + "?x"])
def test_other_model_functions_are_refused(client, value):
    result = client.simulate_post(RUN, params={"model_functions": value})
    assert result.status_code == 400
    assert "remote model code is not executed" in result.json["error"]


@pytest.mark.parametrize("name", [
    "/etc/passwd", "../parameter_distributions.csv", "sub/../../x.csv", "..",
    "http://example.org/p.csv", "file:///etc/passwd", "s3://bucket/p.csv", "~/p.csv",
    "C:\\data\\p.csv", "missing.csv", "", "outside_link.csv", "linked_dir/p.csv",
])
def test_datasets_outside_the_data_folder_are_refused(data_dir, log, name, tmp_path):
    """A name of the wrong form (the document's pattern refuses it too) is a
    400; one that has a dataset's form but names no file in the folder
    (a link out of it is none either) is a 404."""
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(default_table_path(), outside / "p.csv")
    (data_dir / "outside_link.csv").symlink_to(outside / "p.csv")
    (data_dir / "linked_dir").symlink_to(outside)
    client = make_client(data_dir, log)
    result = client.simulate_post(RUN, json={"path_to_psa_inputs": name})
    not_found = name in ("missing.csv", "outside_link.csv", "linked_dir/p.csv")
    assert result.status_code == (404 if not_found else 400), name
    assert "path_to_psa_inputs" in result.json["error"] or "dataset" in result.json["error"]
    pattern = build_document()["paths"][RUN]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]["path_to_psa_inputs"]["pattern"]
    if re.search(pattern, name):  # a name the document accepts is never refused as a form
        assert result.status_code == 404, name


def test_a_named_dataset_inside_the_data_folder_is_used(data_dir, log):
    table = pd.read_csv(default_table_path(), dtype=str, keep_default_na=False,
                        encoding="utf-8-sig")
    table.loc[table["parameter"] == "c_trtA", "v1"] = "900"
    (data_dir / "client_b").mkdir()
    table.to_csv(data_dir / "client_b" / "params.csv", index=False)
    (data_dir / "alias.csv").symlink_to(data_dir / "client_b" / "params.csv")  # stays inside
    client = make_client(data_dir, log)
    for name in ("client_b/params.csv", "alias.csv"):
        result = client.simulate_post(RUN, json={"path_to_psa_inputs": name, "seed": 1})
        assert result.status_code == 200
        assert result.text == expected_csv(list(DEFAULT_UPDATES), 1,
                                           data_dir / "client_b" / "params.csv")
    assert result.text != expected_csv(list(DEFAULT_UPDATES), 1)


def test_a_broken_dataset_is_409_without_its_content(data_dir, log):
    (data_dir / "broken.csv").write_text("parameter,distribution,v1,v2,editable\n"
                                         "secret_param,beta,-5,2,F\n")
    client = make_client(data_dir, log)
    result = client.simulate_post(RUN, json={"path_to_psa_inputs": "broken.csv"})
    assert result.status_code == 409
    assert "secret_param" not in result.text and "-5" not in result.text
    assert "secret_param" in json.loads(log.getvalue().splitlines()[-1])["error"]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"body": "{not json", "headers": {"Content-Type": "application/json"}},
     "the request body is not valid JSON"),
    ({"body": "[1, 2]", "headers": {"Content-Type": "application/json"}}, "must be an object"),
    ({"body": '{"param_updates": NaN}', "headers": {"Content-Type": "application/json"}},
     "not valid JSON"),
    ({"body": "[" * 100000, "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
    ({"body": b"\xff\xfe", "headers": {"Content-Type": "application/json"}}, "UTF-8"),
    ({"params": {"param_updates": "[{'parameter': 1}]"}}, "param_updates is not valid JSON"),
    ({"params": {"param_updates": ""}}, "send [] for no updates"),
    ({"json": {"param_update": []}}, "unknown argument 'param_update'"),
    ({"params": {"seed": "1"}, "json": {"seed": 1}}, "more than once"),
    ({"query_string": "seed=1&seed=2"}, "more than once"),
    ({"params": {"seed": "-1"}}, "seed must be a whole number"),
    ({"params": {"seed": "abc"}}, "seed must be a whole number"),
    ({"json": {"seed": 1.5}}, "seed must be a whole number"),
    ({"json": {"seed": True}}, "seed must be a whole number"),
    ({"json": {"seed": "7"}}, "seed must be a whole number"),  # JSON has numbers
    ({"body": "seed=7", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
     None),  # forms carry text
    ({"json": {"path_to_psa_inputs": None}}, "must not be null"),
    ({"json": {"x" * 5000: 1}}, "unknown argument 'xxxxx"),
    ({"json": {"seed": 2**63}}, "seed must be a whole number"),
    ({"json": {"path_to_psa_inputs": 5}}, "must be a string"),
    ({"json": {"model_functions": ["x"]}}, "remote model code is not executed"),
    ({"body": "--b\r\nbroken", "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
     "malformed multipart"),
    ({"body": "x", "headers": {"Content-Type": "multipart/form-data"}}, "malformed multipart"),
])
def test_unreadable_requests_are_400(client, kwargs, fragment):
    result = client.simulate_post(RUN, **kwargs)
    if fragment is None:
        assert result.status_code == 200
        return
    assert result.status_code == 400, result.text
    assert fragment in result.json["error"]


@pytest.mark.parametrize("updates, fragment, detail", [
    ([{"parameter": "hr_S1S2_trtB", "distribution": "beta", "v1": 1, "v2": 2}],
     "not editable", {"parameter": "hr_S1S2_trtB", "kind": "NotEditableError"}),
    ([{"parameter": "p_XX", "distribution": "beta", "v1": 1, "v2": 2}],
     "unknown parameter 'p_XX'", {"parameter": "p_XX", "kind": "UnknownParameterError"}),
])
def test_updates_the_dataset_refuses_are_409(client, updates, fragment, detail):
    """Which parameters exist and are editable is the dataset's (confidential):
    the document cannot state it, so a schema-valid record may meet it."""
    result = client.simulate_post(RUN, json={"param_updates": updates})
    assert result.status_code == 409, result.text
    body = result.json
    assert fragment in body["error"]
    assert detail.items() <= body.items()


@pytest.mark.parametrize("updates, fragment, detail", [
    ([{"parameter": "p_HS1", "distribution": "weibull", "v1": 1, "v2": 2}],
     "unknown distribution 'weibull'", {"parameter": "p_HS1"}),
    ([{"parameter": "p_HS1", "distribution": "beta", "v1": -1, "v2": 2}],
     "beta shapes must be > 0", {"parameter": "p_HS1"}),
    ([{"parameter": "p_HS1", "distribution": "beta", "v1": "25", "v2": 150}],
     "v1 must be a number", {"update": 1}),
    ([{"parameter": "p_HS1", "distribution": "beta", "v1": 10**400, "v2": 150}],
     "finite number", {"update": 1}),
    ([{"parameter": "p_HS1", "distribution": "beta"}], "lacks v1", {"update": 1}),
    ([UPDATE, "p_HS1"], "record 2 must be an object", {"update": 2}),
    ({"parameter": "p_HS1"}, "must be a list", {}),
    ([UPDATE] * 201, "at most 200", {}),
    ([{"parameter": "p_HS1", "distribution": "random uniform", "v1": 2, "v2": 1}],
     "min <= max", {"parameter": "p_HS1"}),
])
def test_updates_the_model_cannot_use_are_422(client, updates, fragment, detail):
    result = client.simulate_post(RUN, json={"param_updates": updates})
    assert result.status_code == 422, result.text
    body = result.json
    assert fragment in body["error"]
    assert detail.items() <= body.items()


def test_update_records_are_checked_by_the_model_in_its_words(client):
    record = {"parameter": "p_HS1", "distribution": "beta"}
    body = client.simulate_post(RUN, json={"param_updates": [UPDATE, record]}).json
    with pytest.raises(UpdateFormatError) as caught:
        check_updates([UPDATE, record], what="param_updates", numbers=True)
    assert body["error"] == str(caught.value) and body["update"] == caught.value.update == 2


def test_unknown_parameter_lists_the_editable_ones(client):
    body = client.simulate_post(
        RUN, json={"param_updates": [{"parameter": "p_XX", "distribution": "beta",
                                      "v1": 1, "v2": 1}]}).json
    table = model.read_table().to_frame()
    assert body["editable"] == list(table.loc[table["editable"], "parameter"])


def test_invalid_transition_matrix_is_409_and_withholds_non_editable_values(client, reference):
    case = json.loads((reference / "cases" / "invalid_matrix" / "updates.json").read_text())
    result = client.simulate_post(RUN, json={"param_updates": case["updates"], "seed": 9})
    assert result.status_code == 409
    body = result.json
    assert body["error"].startswith("This is not a valid transition matrix")
    assert body["kind"] == "InvalidTransitionMatrixError"
    assert {"sample", "strategy", "transition", "probability", "values"} <= set(body)
    editable = set(model.read_table().to_frame().query("editable")["parameter"])
    assert set(body["values"]) <= editable

    # Treatment B's matrix involves hr_S1S2_trtB, which is not editable.
    tb = client.simulate_post(RUN, json={"param_updates": [
        {"parameter": "p_S1S2", "distribution": "fixed", "v1": 1.5}], "seed": 1}).json
    assert "hr_S1S2_trtB" not in tb["values"]


def test_unsupported_media_type_is_415(client):
    for content_type in ("text/plain", "application/xml", None):
        headers = {"Content-Type": content_type} if content_type else {}
        result = client.simulate_post(RUN, body="param_updates=[]", headers=headers)
        assert result.status_code == 415, content_type
        assert "application/json" in result.json["error"]


def test_body_over_the_limit_is_413(data_dir, log):
    client = make_client(data_dir, log, max_body_bytes=100)
    result = client.simulate_post(RUN, json={"param_updates": [UPDATE] * 5})
    assert result.status_code == 413
    assert result.json["limit"] == 100
    assert client.simulate_post(RUN, json={"param_updates": [UPDATE]}).status_code == 200


# --- the leak guard and other failures of the service itself -------------------------

def test_leak_guard_refuses_results_that_contain_a_parameter(data_dir, log):
    def leaky_runner(table, updates, seed, n_samples):
        results = model.run(table, updates, seed=seed, n_samples=n_samples)
        results["hr_S1S2_trtB"] = 0.6  # e.g. a model that returns its inputs
        return results

    client = make_client(data_dir, log, runner=leaky_runner)
    result = client.simulate_post(RUN)
    assert result.status_code == 500
    assert "hr_S1S2_trtB" not in result.text and "0.6" not in result.text
    entry = json.loads(log.getvalue().splitlines()[-1])
    assert entry["status"] == 500 and "leak guard" in entry["error"]
    assert "hr_S1S2_trtB" in entry["error"]


def test_leak_guard_refuses_results_of_another_shape(data_dir, log):
    client = make_client(data_dir, log,
                         runner=lambda table, updates, seed, n_samples: model.draw(table, 10, seed=1).to_frame())
    result = client.simulate_post(RUN, headers={"Accept": "application/json"})
    assert result.status_code == 500
    assert "p_HS1" not in result.text


def test_a_crashing_model_is_a_logged_500_without_a_traceback(data_dir, log):
    def crashing_runner(table, updates, seed, n_samples):
        raise RuntimeError("secret internal detail")

    client = make_client(data_dir, log, runner=crashing_runner)
    result = client.simulate_post(RUN)
    assert result.status_code == 500
    assert result.json == {"error": "internal server error: the failure has been logged"}
    assert json.loads(log.getvalue().splitlines()[-1])["error"] == "unhandled RuntimeError"


def test_non_finite_results_are_409(data_dir, log):
    def overflowing_runner(table, updates, seed, n_samples):
        results = model.run(table, updates, seed=seed, n_samples=n_samples)
        results.iloc[3, 0] = float("inf")
        return results

    client = make_client(data_dir, log, runner=overflowing_runner)
    result = client.simulate_post(RUN, headers={"Accept": "application/json"})
    assert result.status_code == 409
    assert "overflowed" in result.json["error"]


# --- the request log -------------------------------------------------------------------

def test_request_log_has_one_json_line_per_request_and_never_the_key(client, log):
    client.simulate_get("/health")
    client.simulate_post(RUN, params={"seed": "1", "path_to_psa_inputs": "parameter_distributions.csv"},
                         headers={"User-Agent": "libcurl/7.88.1 r-curl/5.0.0 httr/1.4.5",
                                  "X-Forwarded-For": "203.0.113.9"},
                         json={"param_updates": [UPDATE]})
    client.simulate_post(RUN, headers={"key": "wrong-" + KEY})
    client.simulate_post(RUN, headers={"key": ""})
    client.simulate_get("/nowhere")
    client.simulate_post(RUN, query_string=f"key={KEY}")  # a key pasted into the URL
    lines = log.getvalue().splitlines()
    assert len(lines) == 6
    entries = [json.loads(line) for line in lines]
    assert [e["status"] for e in entries] == [200, 200, 403, 401, 404, 400]
    assert [e["auth"] for e in entries] == ["open", "ok", "invalid", "missing", "ok", "ok"]
    run = entries[1]
    assert set(run) == {"time", "method", "path", "status", "duration_ms", "user_agent",
                        "remote_addr", "auth", "forwarded_for", "key_name", "estimate_mib",
                        "estimate_seconds"}
    assert (run["method"], run["path"]) == ("POST", RUN)
    assert run["key_name"] == "default"
    assert run["user_agent"].endswith("httr/1.4.5") and run["forwarded_for"] == "203.0.113.9"
    assert run["duration_ms"] > 0 and run["time"].endswith("+00:00")
    text = log.getvalue()
    assert KEY not in text and OTHER_KEY not in text
    assert "p_HS1" not in text and "seed" not in text and "parameter_distributions" not in text


def test_a_key_pasted_into_a_logged_field_is_redacted(client, log, data_dir):
    client.simulate_get("/health", headers={"User-Agent": "x" * 250 + KEY,
                                            "X-Forwarded-For": f"{OTHER_KEY}, 203.0.113.9"})
    # The log's error quotes the dataset's name (a broken table: the data owner's problem).
    (data_dir / f"{KEY}.csv").write_text("not,a,table\n")
    assert client.simulate_post(RUN, params={"path_to_psa_inputs": f"{KEY}.csv"}).status_code == 409
    entries = [json.loads(line) for line in log.getvalue().splitlines()]
    assert entries[0]["user_agent"] == ("x" * 250 + "[key redacted]")[:256]
    assert entries[0]["forwarded_for"] == "[key redacted], 203.0.113.9"
    assert entries[1]["error"].startswith("dataset '[key redacted].csv': ")
    assert KEY not in log.getvalue() and OTHER_KEY not in log.getvalue()
    assert KEY[:6] not in log.getvalue()  # not cut to a prefix of the key either


def test_request_log_times_with_the_injected_clock(data_dir):
    ticks = iter([10.0, 10.25])
    stream = io.StringIO()
    app_client(Settings(api_keys=(KEY,), data_dir=data_dir), log=stream,
               clock=lambda: next(ticks)).simulate_get("/health")
    assert json.loads(stream.getvalue())["duration_ms"] == 250.0
