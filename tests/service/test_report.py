"""python -m living_hta_client report against the real server (gunicorn):
the HTML holds the ICER table's numbers and draws every figure offline;
the living loop says "decision changed" (exit 3) when new updates flip the
optimal strategy at the WTP, and "unchanged" (exit 0) for two identical
seeded runs; the key never comes from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from selenium.webdriver.support.ui import WebDriverWait

from living_hta_client import changes
from living_hta_client.cli import main
from tests.support.browser import chromium, full_page_screenshot, missing, requested_urls, screenshot_path
from tests.support.paths import ROOT
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server
from tests.support.tls import make_certificate

# At 100,000 per QALY with seed 1, the default updates make Treatment_A
# optimal (ICER ≈ 99,000); faster progression to Sicker (p_S1S2) makes it
# ≈ 208,000, and No_Treatment optimal.
FLIP = [{"parameter": "p_S1S2", "distribution": "beta", "v1": 200, "v2": 716}]
FIGURES = ("plane", "ceac", "evpi", "evppi")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with gunicorn_server(tmp_path_factory.mktemp("report"), API_KEYS=TEST_KEY) as running:
        yield running


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv("LIVING_HTA_KEY", TEST_KEY)


def report(server, out, *extra):
    return main(["report", "--url", server.url, "--out", str(out), *extra])


def summary_of(out):
    return json.loads((out / "summary.json").read_text())


def test_the_report_command_writes_the_icer_numbers_and_figures(server, tmp_path):
    """The real command, as a scheduler runs it: key from the environment."""
    out = tmp_path / "run"
    env = {**os.environ, "LIVING_HTA_KEY": TEST_KEY,
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-m", "living_hta_client", "report", "--url", server.url,
         "--seed", "11", "--evppi", "p_HS1", "--evppi", "p_S1H,c_H", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("first run: optimal at 100,000 per QALY is ")
    assert TEST_KEY not in done.stdout + done.stderr

    request = urllib.request.Request(
        server.url + "/analysis", method="POST",
        data=json.dumps({"seed": 11, "wtp": "0:200000:5000",
                         "evppi": ["p_HS1", ["p_S1H", "c_H"]]}).encode(),
        headers={"key": TEST_KEY, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        expected = json.loads(response.read())
    html = (out / "report.html").read_text()
    assert TEST_KEY not in html
    for row in expected["icers"]:
        assert f'<td data-column="Cost" data-value="{row["Cost"]!r}">{row["Cost"]:,.0f}</td>' in html
        assert f'{row["Effect"]:,.3f}</td>' in html
        if row["ICER"] is not None:
            assert f'data-value="{row["ICER"]!r}">{row["ICER"]:,.0f}</td>' in html
    summary = summary_of(out)
    assert summary["status"] == "first run" and summary["provenance"]["seed"] == 11
    assert summary["provenance"]["endpoint"] == server.url + "/analysis"
    assert summary["provenance"]["api_version"]
    assert summary["decision"]["optimal"] in ("No_Treatment", "Treatment_A", "Treatment_B")
    for figure in FIGURES:
        assert f'<div id="{figure}" class="figure"></div>' in html
    assert "https://" not in html.split("<script>", 1)[0]  # nothing linked in

    if missing():
        pytest.fail(missing())
    with chromium() as browser:  # opened offline: every figure drawn from the file alone
        requested_urls(browser)
        browser.get((out / "report.html").as_uri())
        WebDriverWait(browser, 30).until(lambda d: all(d.execute_script(
            "return document.querySelectorAll(arguments[0]).length", f"#{f} .scatterlayer path")
            for f in FIGURES))
        assert requested_urls(browser) == [(out / "report.html").as_uri()]
        full_page_screenshot(browser, screenshot_path("report.png"))


def test_updates_that_flip_the_optimal_strategy_change_the_decision(server, tmp_path, key_env):
    first, second = tmp_path / "first", tmp_path / "second"
    assert report(server, first, "--seed", "1") == 0
    assert summary_of(first)["decision"]["optimal"] == "Treatment_A"
    updates = tmp_path / "updates.json"
    updates.write_text(json.dumps(FLIP))
    status = report(server, second, "--seed", "1", "--updates", str(updates),
                    "--previous", str(first / "summary.json"))
    assert status == 3
    summary = summary_of(second)
    assert summary["status"] == "decision changed"
    assert summary["comparison"]["decision_changed"] is True
    optimal = [c for c in summary["comparison"]["changes"] if c["what"] == "optimal"]
    assert optimal == [{"what": "optimal", "strategy": None, "before": "Treatment_A",
                        "after": "No_Treatment", "message": optimal[0]["message"]}]
    assert summary["provenance"]["updates"] == FLIP
    assert "The decision changed since" in (second / "report.html").read_text()


def test_two_identical_seeded_runs_report_no_change(server, tmp_path, key_env):
    first, second = tmp_path / "first", tmp_path / "second"
    assert report(server, first, "--seed", "5", "--wtp", "120000") == 0
    assert report(server, second, "--seed", "5", "--wtp", "120000",
                  "--previous", str(first / "summary.json")) == 0
    summary = summary_of(second)
    assert summary["comparison"]["changes"] == [] and summary["status"] == "unchanged"
    assert summary["decision"] == summary_of(first)["decision"]


def test_the_key_never_comes_from_the_command_line(server, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LIVING_HTA_KEY", raising=False)
    with pytest.raises(SystemExit) as usage:  # not even as an abbreviation of --key-file
        report(server, tmp_path, "--key", TEST_KEY)
    assert usage.value.code == 2
    assert report(server, tmp_path) == 2
    assert "no API key: give --key-file FILE or set LIVING_HTA_KEY" in capsys.readouterr().err
    key_file = tmp_path / "key"
    key_file.write_text("wrong-key\n")
    assert report(server, tmp_path / "out", "--key-file", str(key_file)) == 1
    assert "403 Forbidden: Authentication failed." in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written from a refusal
    # Two keys pasted where one belongs: a usage error, not a traceback, and
    # neither is quoted.
    key_file.write_text(f"{TEST_KEY}\nsecond-key\n")
    assert report(server, tmp_path / "out", "--key-file", str(key_file)) == 2
    err = capsys.readouterr().err
    assert "has spaces, line breaks or other characters" in err and "Traceback" not in err
    assert TEST_KEY not in err and "second-key" not in err
    monkeypatch.setenv("LIVING_HTA_KEY", "key with spaces")
    assert report(server, tmp_path / "out") == 2
    assert "the API key from LIVING_HTA_KEY has spaces" in capsys.readouterr().err
    monkeypatch.delenv("LIVING_HTA_KEY")
    key_file.write_text(TEST_KEY)
    (tmp_path / "previous.json").write_text('{"status": "unchanged"}')
    assert report(server, tmp_path / "out", "--key-file", str(key_file),
                  "--previous", str(tmp_path / "previous.json")) == 2
    assert "is not a summary.json of this command" in capsys.readouterr().err


def decision(optimal="Treatment_A", icer=100_000.0, p_a=0.5):
    return {"wtp": 100000, "optimal": optimal,
            "probability_cost_effective": {"No_Treatment": 1 - p_a, "Treatment_A": p_a},
            "frontier_icers": {"No_Treatment": None, "Treatment_A": icer}}


@pytest.mark.parametrize("after, status, what", [
    (decision(), "unchanged", []),
    (decision(icer=104_000.0, p_a=0.54), "unchanged", []),  # within both thresholds
    (decision(icer=106_000.0), "changed", ["icer"]),
    (decision(p_a=0.56), "changed", ["probability", "probability"]),
    (decision(optimal="No_Treatment"), "decision changed", ["optimal"]),
])
def test_what_counts_as_a_change(after, status, what):
    result = changes.compare(decision(), after, changes.Thresholds(icer=0.05, probability=0.05))
    assert result["status"] == status
    assert [c["what"] for c in result["changes"]] == what


def test_a_strategy_leaving_the_frontier_is_a_change():
    after = decision()
    after["frontier_icers"] = {"No_Treatment": None}
    result = changes.compare(decision(), after, changes.Thresholds())
    assert [(c["what"], c["strategy"]) for c in result["changes"]] == [("frontier", "Treatment_A")]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_server(tmp_path_factory, tls_files):
    """As the demo's front: HTTPS with a certificate from a private CA."""
    with gunicorn_server(tmp_path_factory.mktemp("report-tls"), tls=tls_files,
                         API_KEYS=TEST_KEY) as running:
        yield running


def make_report(https_server, ca, out):
    env = {k: v for k, v in os.environ.items() if k != "LIVING_HTA_KEY"}
    return subprocess.run(
        ["make", "--no-print-directory", "report", f"REPORT_URL={https_server.url}",
         f"REPORT_CA={ca}", f"REPORT_OUT={out}"],
        cwd=ROOT, env={**env, "DEMO_API_KEY": TEST_KEY}, capture_output=True, text=True,
        timeout=300)


def test_make_report_over_https_with_the_demos_ca_and_key(https_server, tls_files, tmp_path):
    out = tmp_path / "demo"
    first = make_report(https_server, tls_files["ca"], out)
    assert first.returncode == 0, first.stderr
    # (make may first bring .venv up to date: the report says its line last)
    assert first.stdout.splitlines()[-1].startswith("first run: optimal at 100,000 per QALY")
    second = make_report(https_server, tls_files["ca"], out)  # compares with the first
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[-1].startswith("unchanged: ")
    assert summary_of(out)["provenance"]["endpoint"] == https_server.url + "/analysis"
    # Another CA: the service's certificate is not trusted, nothing is sent.
    other = make_certificate(tmp_path / "other")
    refused = make_report(https_server, other["ca"], tmp_path / "refused")
    assert refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    assert TEST_KEY not in first.stdout + first.stderr + refused.stderr


def test_the_workflows_report_step_runs_as_written(https_server, tls_files, tmp_path):
    workflow = yaml.safe_load((ROOT / ".github/workflows/living-hta-report.yml").read_text())
    assert workflow[True]["schedule"][0]["cron"].split()[2:4] == ["2", "*"]  # monthly
    steps = workflow["jobs"]["report"]["steps"]
    step = next(s for s in steps if s.get("id") == "report")
    assert step["env"]["LIVING_HTA_KEY"] == "${{ secrets.LIVING_HTA_KEY }}"
    propose = next(s for s in steps if s.get("name") == "Propose the report for review")
    assert propose["if"] == "steps.report.outputs.outcome != 'unchanged'"

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "updates.json").write_text(
        (ROOT / "reports" / "updates.json").read_text())
    output = tmp_path / "github_output"
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
           "LIVING_HTA_KEY": TEST_KEY, "LIVING_HTA_CA": tls_files["ca"].read_text(),
           "LIVING_HTA_URL": https_server.url, "LIVING_HTA_WTP": "100000",
           "LIVING_HTA_SEED": "2026", "GITHUB_OUTPUT": str(output),
           "RUNNER_TEMP": str(tmp_path)}
    for expected in ("first run", "unchanged"):
        done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert output.read_text().splitlines()[-1] == f"outcome={expected}"
    assert (tmp_path / "reports" / "latest" / "report.html").is_file()
