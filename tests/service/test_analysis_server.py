"""POST /analysis against the real server (gunicorn on 127.0.0.1): from
Python over HTTP, and from R with httr as a health economist would call it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.support.paths import ROOT
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server

UPDATES = [{"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
           {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 100}]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with gunicorn_server(tmp_path_factory.mktemp("analysis"), API_KEYS=TEST_KEY,
                         EVPPI_PARAMETERS="c_trtA") as running:
        yield running


def post(server, path, body, accept="application/json"):
    request = urllib.request.Request(
        server.url + path, data=json.dumps(body).encode(), method="POST",
        headers={"key": TEST_KEY, "Content-Type": "application/json", "Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_analysis_over_http_matches_run_darth_model(server):
    status, kind, text = post(server, "/analysis", {
        "param_updates": UPDATES, "seed": 21, "wtp": "0:200000:5000",
        "evppi": [["p_HS1", "p_S1H"], "c_trtA"], "evppi_method": "gam"})
    assert status == 200 and kind == "application/json"
    answer = json.loads(text)
    _, _, results = post(server, "/runDARTHmodel", {"param_updates": UPDATES, "seed": 21},
                         accept="application/json")
    rows = json.loads(results)
    mean_cost = sum(row["C_Treatment_A"] for row in rows) / len(rows)
    summary = {row["Strategy"]: row for row in answer["summary"]}
    assert summary["Treatment_A"]["meanCost"] == pytest.approx(mean_cost, rel=1e-12)
    assert answer["method"]["seed"] == 21 and answer["method"]["n_samples"] == len(rows) == 1000
    # c_trtA is not editable: offered here only because EVPPI_PARAMETERS says so.
    assert [g["parameters"] for g in answer["evppi"]] == [["p_HS1", "p_S1H"], ["c_trtA"]]
    evpi = {row["WTP"]: row["EVPI"] for row in answer["evpi"]}
    assert all(0 <= v["EVPPI"] <= evpi[v["WTP"]] for g in answer["evppi"] for v in g["values"])
    entries = [e for e in server.log_entries() if e["path"] == "/analysis"]
    assert entries[-1]["status"] == 200


def test_refusals_over_http_are_json(server):
    with pytest.raises(urllib.error.HTTPError) as refused:
        post(server, "/analysis", {"evppi": ["u_trtA"]})
    assert refused.value.code == 409
    body = json.loads(refused.value.read())
    assert "is not offered" in body["error"] and "u_trtA" not in body["evppi_parameters"]


def test_r_httr_client_reads_the_analysis(server):
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.fail("Rscript not found: run `make system` (scripts/setup-system.sh)")
    env = {**os.environ, "LIVING_HTA_URL": server.url, "LIVING_HTA_KEY": TEST_KEY}
    done = subprocess.run([rscript, str(ROOT / "tests" / "r" / "httr_analysis.R")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    assert lines["icers_class"].strip() == "data.frame"
    assert lines["icers_columns"].split() == [
        "Strategy", "Cost", "Lower_95_Cost", "Upper_95_Cost", "Effect", "Lower_95_Effect",
        "Upper_95_Effect", "Inc_Cost", "Inc_Effect", "ICER", "Status"]
    assert lines["icers_status"].split() == ["ND", "ND", "ED"]
    assert lines["ceac_dim"].split() == ["123", "4"]
    assert lines["ceac_columns"].split() == ["WTP", "Strategy", "Proportion", "On_Frontier"]
    assert lines["ceac_sums"].strip() == "1"
    assert lines["evppi_parameters"].split() == ["p_HS1", "p_S1H"]
    assert lines["seed"].strip() == "11"
    # The same figures as the service gives Python for the same request.
    _, _, text = post(server, "/analysis", {
        "param_updates": UPDATES, "seed": 11, "wtp": "0:200000:5000",
        "evppi": [["p_HS1", "p_S1H"], "p_S1S2"], "evppi_method": "gam"})
    answer = json.loads(text)
    icer = [row["ICER"] for row in answer["icers"] if row["Strategy"] == "Treatment_A"][0]
    assert float(lines["icer"]) == pytest.approx(icer, abs=1e-6)
    pair = {v["WTP"]: v["EVPPI"] for v in answer["evppi"][0]["values"]}
    assert float(lines["evppi_at_100000"]) == pytest.approx(pair[100000], abs=1e-6)
    evpi = {row["WTP"]: row["EVPI"] for row in answer["evpi"]}
    assert float(lines["evpi_at_100000"]) == pytest.approx(evpi[100000], abs=1e-6)
    assert any("httr" in e["user_agent"] for e in server.log_entries() if e["path"] == "/analysis")
