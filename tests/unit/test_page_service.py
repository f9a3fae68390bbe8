"""The analyst's page and GET /parameters through the app (TestClient): what
is served, to whom, and that no non-editable parameter is ever listed.  The
page itself, in a browser: tests/service/test_page_browser.py."""

from __future__ import annotations

import gzip

import pytest

import model
from service import Settings
from service.contract import DEFAULT_UPDATES
from service.errors import KEY_INVALID, KEY_MISSING
from service.resources.page import ASSETS, plotly_js
from tests.support.client import app_client

KEY = "page-test-key"


@pytest.fixture
def client():
    return app_client(Settings(api_keys=(KEY,)), key=KEY)


def test_parameters_lists_only_the_editable_rows_with_their_distributions(client):
    answer = client.simulate_get("/parameters").json
    table = model.read_table()  # the shipped table, the default dataset
    assert answer["dataset"] == "parameter_distributions.csv"
    names = [row["parameter"] for row in answer["parameters"]]
    assert "p_HS1" in names and "c_D" in names
    # Non-editable in the shipped table (F): never listed, nor their values.
    for hidden in ("hr_S1S2_trtB", "c_trtA", "c_trtB", "u_trtA", "ic_HS1"):
        assert hidden not in client.simulate_get("/parameters").text
    p_s1s2 = next(row for row in answer["parameters"] if row["parameter"] == "p_S1S2")
    assert p_s1s2 == {"parameter": "p_S1S2", "distribution": "beta", "v1": 84.0, "v2": 716.0}
    c_d = next(row for row in answer["parameters"] if row["parameter"] == "c_D")
    assert c_d == {"parameter": "c_D", "distribution": "fixed", "v1": 0.0, "v2": None}
    assert answer["default_updates"] == [dict(u) for u in DEFAULT_UPDATES]
    assert answer["distributions"]["beta"] == ["shape1", "shape2"]
    assert names == table.editable_parameters


def test_parameters_of_another_dataset_and_refusals(tmp_path):
    # A data owner's table in which only p_HS1 is editable.
    table = model.read_table()
    (tmp_path / "own.csv").write_text("parameter,distribution,v1,v2,editable\n" + "".join(
        f"{p},{d},{a:g},{'' if b != b else f'{b:g}'},{'T' if p == 'p_HS1' else 'F'}\n"
        for p, d, a, b, _ in table.rows()))
    client = app_client(Settings(api_keys=(KEY,), data_dir=tmp_path, default_dataset="own.csv"), key=KEY)
    answer = client.simulate_get("/parameters", params={"path_to_psa_inputs": "own.csv"}).json
    assert [row["parameter"] for row in answer["parameters"]] == ["p_HS1"]
    assert answer["default_updates"] == [DEFAULT_UPDATES[0]]  # p_S1H is not editable here
    missing = client.simulate_get("/parameters", params={"path_to_psa_inputs": "nope.csv"})
    assert missing.status_code == 404 and "no dataset named 'nope.csv'" in missing.json["error"]
    outside = client.simulate_get("/parameters", params={"path_to_psa_inputs": "../etc/passwd"})
    assert outside.status_code == 400
    unknown = client.simulate_get("/parameters", query_string="seed=1")
    assert unknown.status_code == 400 and unknown.json["argument"] == "seed"
    twice = client.simulate_get("/parameters", query_string="path_to_psa_inputs=a&path_to_psa_inputs=b")
    assert twice.status_code == 400


def test_parameters_needs_the_key(client):
    assert client.simulate_get("/parameters", headers={"key": ""}).json == {"error": KEY_MISSING}
    wrong = client.simulate_get("/parameters", headers={"key": "wrong"})
    assert wrong.status_code == 403 and wrong.json == {"error": KEY_INVALID}


def test_the_page_is_open_and_loads_nothing_from_elsewhere(client):
    page = client.simulate_get("/", headers={"key": ""})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-eval" not in csp and "script-src 'self'" in csp
    for asset, (_, media_type) in ASSETS.items():
        assert f"page/{asset}" in page.text
        result = client.simulate_get(f"/page/{asset}", headers={"key": ""})
        assert result.status_code == 200 and result.headers["content-type"] == media_type, asset
    plain = client.simulate_get("/page/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert plain.content == plotly_js() and "content-encoding" not in plain.headers
    assert plotly_js().startswith(b"/**") and b"plotly.js" in plotly_js()[:400]
    packed = client.simulate_get("/page/plotly.min.js", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["content-encoding"] == "gzip" and packed.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.content) == plotly_js() and len(packed.content) < len(plotly_js()) / 2
    refused = client.simulate_get("/page/plotly.min.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert refused.content == plotly_js()
    # Only the listed files, even one in the same folder; a path with more
    # segments matches no route at all (the not-found sink: 401 without key).
    for name in ("index.html", "..", "app.py"):
        refused = client.simulate_get(f"/page/{name}", headers={"key": ""})
        assert refused.status_code == 404 and "no page asset named" in refused.json["error"]
    assert client.simulate_get("/page/../app.py", headers={"key": ""}).status_code == 401


def test_the_page_keeps_the_key_out_of_urls_and_storage(client):
    script = client.simulate_get("/page/page.js").text
    for storage in ("localStorage", "sessionStorage", "document.cookie", "indexedDB"):
        assert storage not in script
    assert 'credentials: "omit"' in script
