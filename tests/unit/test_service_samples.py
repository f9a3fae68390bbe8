"""`n_samples` on POST /runDARTHmodel: any count from 1 to the configured
maximum, in every place an argument may be, with a clear 400 beyond it;
results equal to the model's for the same seed, in CSV and JSON alike."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import model
from model.results import STREAM_ROWS
from service.contract import DEFAULT_UPDATES
from service.openapi import build_document
from service.settings import DEFAULT_MAX_SAMPLES, Settings, SettingsError
from tests.support.client import app_client
from tests.support.secret_audit import TEST_KEY

RUN = "/runDARTHmodel"


def client(**settings):
    return app_client(Settings(api_keys=(TEST_KEY,), **settings), key=TEST_KEY)


def expected(n_samples, seed):
    return model.run_psa(updates=list(DEFAULT_UPDATES), seed=seed, n_samples=n_samples)


MULTIPART = (
    "--b\r\nContent-Disposition: form-data; name=\"n_samples\"\r\n\r\n7\r\n"
    "--b\r\nContent-Disposition: form-data; name=\"seed\"\r\n\r\n3\r\n--b--\r\n"
)


@pytest.mark.parametrize("where", ["query", "json", "form", "multipart"])
def test_n_samples_wherever_it_is_sent(where):
    send = {
        "query": {"params": {"n_samples": "7", "seed": "3"}},
        "json": {"json": {"n_samples": 7, "seed": 3}},
        "form": {"body": "n_samples=7&seed=3",
                 "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        "multipart": {"body": MULTIPART,
                      "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
    }[where]
    result = client().simulate_post(RUN, **send)
    assert result.status_code == 200, result.text
    assert result.text == model.format_csv(expected(7, 3))


def test_default_is_the_originals_1000():
    result = client().simulate_post(RUN, json={"seed": 1})
    assert len(result.text.splitlines()) == 1 + model.DEFAULT_SAMPLES


def test_json_records_round_trip_exactly():
    result = client().simulate_post(RUN, json={"seed": 4, "n_samples": 2 * STREAM_ROWS + 5},
                                    headers={"Accept": "application/json"})
    assert result.status_code == 200
    records = json.loads(result.text)
    assert list(records[0]) == list(model.RESULT_COLUMNS)
    back = np.array([[r[c] for c in model.RESULT_COLUMNS] for r in records])
    assert np.array_equal(back, expected(2 * STREAM_ROWS + 5, 4).values)


def test_streamed_csv_equals_the_one_piece_csv():
    n = 2 * STREAM_ROWS + 5
    result = client().simulate_post(RUN, json={"seed": 5, "n_samples": n})
    assert result.status_code == 200
    assert result.text == model.format_csv(expected(n, 5))
    back = pd.read_csv(io.StringIO(result.text))
    assert np.array_equal(back.to_numpy(), expected(n, 5).values)


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "7", None, DEFAULT_MAX_SAMPLES + 1, 10**30])
def test_bad_or_too_large_counts_are_400(value):
    result = client().simulate_post(RUN, json={"n_samples": value})
    assert result.status_code == 400
    assert result.json["argument" if value is not None else "error"]
    if value is not None:
        assert result.json["error"].startswith(
            f"n_samples must be a whole number from 1 to {DEFAULT_MAX_SAMPLES}")


@pytest.mark.parametrize("text", ["0", "abc", "", "1e3", "100001"])
def test_bad_counts_as_text_are_400(text):
    result = client().simulate_post(RUN, params={"n_samples": text})
    assert result.status_code == 400
    assert "n_samples must be a whole number" in result.json["error"]


def test_the_maximum_is_configured():
    small = client(max_samples=50)
    assert small.simulate_post(RUN, json={"n_samples": 50}).status_code == 200
    refused = small.simulate_post(RUN, json={"n_samples": 51})
    assert refused.status_code == 400
    assert "from 1 to 50" in refused.json["error"]
    schema = small.simulate_get("/openapi.json").json
    body = schema["paths"][RUN]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["n_samples"]["maximum"] == 50


def test_settings_read_max_samples():
    env = {"API_KEYS": "k"}
    assert Settings.from_env(env).max_samples == DEFAULT_MAX_SAMPLES == 100_000
    assert Settings.from_env({**env, "MAX_SAMPLES": "2000"}).max_samples == 2000
    for bad in ("0", "-5", "many", "1.5"):
        with pytest.raises(SettingsError, match="MAX_SAMPLES"):
            Settings.from_env({**env, "MAX_SAMPLES": bad})


def test_documented_for_both_operations_with_the_default_in_words():
    # No schema `default`: Swagger UI would fill it in as a query parameter,
    # and the same argument in the example body would be refused as twice.
    schema = build_document(max_samples=2000)
    # (The query string takes it too, described in words: issue 15, item 9.)
    for path in (RUN, "/analysis"):
        operation = schema["paths"][path]["post"]
        for body in operation["requestBody"]["content"].values():
            n_samples = body["schema"]["properties"]["n_samples"]
            assert {k: n_samples[k] for k in ("type", "minimum", "maximum")} == {
                "type": "integer", "minimum": 1, "maximum": 2000}
            assert "default" not in n_samples
            assert f"{model.DEFAULT_SAMPLES} (the original's) if left out" in n_samples["description"]
    default = build_document()["paths"][RUN]["post"]["requestBody"]["content"]["application/json"]
    assert default["schema"]["properties"]["n_samples"]["maximum"] == DEFAULT_MAX_SAMPLES


def test_analysis_takes_n_samples_too():
    result = client(max_samples=50).simulate_post("/analysis", json={"seed": 1, "n_samples": 40})
    assert result.status_code == 200, result.text
    assert result.json["method"]["n_samples"] == 40
    refused = client(max_samples=50).simulate_post("/analysis", json={"n_samples": 51})
    assert refused.status_code == 400 and "from 1 to 50" in refused.json["error"]
