"""python -m living_hta_client report against the real server (gunicorn):
the HTML holds the ICER table's numbers and draws every figure offline;
the living loop says "decision changed" (exit 3) when new updates flip the
optimal strategy at the WTP, and "unchanged" (exit 0) for two identical
seeded runs; the key never comes from the command line."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from selenium.webdriver.common.print_page_options import PrintOptions
from selenium.webdriver.support.ui import WebDriverWait

from living_hta_client import changes
from living_hta_client import report as report_module
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


def drawn_report(browser, path):
    """`path` opened offline in `browser`, every figure drawn."""
    browser.get(path.as_uri())
    WebDriverWait(browser, 60).until(lambda d: all(d.execute_script(
        "return document.querySelectorAll(arguments[0]).length",
        f"#{f} .scatterlayer path, #{f} .barlayer path") for f in report_module.FIGURES))


def page_images(pdf: Path, folder: Path) -> list[tuple[int, int, bytes]]:
    """Each page of `pdf` as pdftoppm renders it: (width, height, RGB bytes)."""
    subprocess.run(["pdftoppm", "-r", "40", str(pdf), str(folder / "page")], check=True,
                   timeout=120)
    pages = []
    for image in sorted(folder.glob("page-*.ppm"), key=lambda p: int(p.stem.split("-")[1])):
        data = image.read_bytes()
        # Binary PPM: "P6" width height maxval, each after one whitespace.
        magic, width, height, maxval, pixels = data.split(maxsplit=4)
        assert magic == b"P6" and maxval == b"255"
        pages.append((int(width), int(height), pixels))
    return pages


def coloured_pixels(pixels: bytes) -> int:
    """Pixels a chart draws: clearly coloured, not the text's black and greys."""
    return sum(1 for i in range(0, len(pixels) - 2, 3)
               if max(pixels[i:i + 3]) - min(pixels[i:i + 3]) > 60)


def test_the_report_prints_to_pdf_with_every_section_its_text_and_charts(server, tmp_path, key_env):
    """A committee's copy: the report as chromium prints it (A4), checked page by
    page with poppler: every section heading and the narrative's figures in the
    text, no blank page, the charts drawn (coloured) across the pages."""
    first, second = tmp_path / "first", tmp_path / "second"
    assert report(server, first, "--seed", "1") == 0
    updates = tmp_path / "updates.json"
    updates.write_text(json.dumps(FLIP))
    assert report(server, second, "--seed", "1", "--updates", str(updates),
                  "--previous", str(first / "summary.json"), "--population", "10000",
                  "--horizon", "10", "--discount", "0.035",
                  "--evppi", "p_HS1", "--evppi", "p_S1H,p_S1S2") == 3
    summary = summary_of(second)
    voi = summary["value_of_information"]
    assert voi["population"]["effective_population"] == pytest.approx(
        10000 * sum(1.035 ** -t for t in range(10)))
    assert voi["evpi"]["population"] == pytest.approx(
        voi["evpi"]["per_person"] * voi["population"]["effective_population"])
    # The inputs that changed: p_S1S2 updated, and the service's default updates of
    # p_HS1 and p_S1H no longer applied (the run gave its own).
    assert [c["message"] for c in summary["comparison"]["input_changes"]] == [
        "p_HS1: beta(25, 150) → beta(30, 170)", "p_S1H: beta(50, 70) → beta(60, 60)",
        "p_S1S2: beta(84, 716) → beta(200, 716)"]
    assert summary["units"]["currency"] == "GBP"

    if missing():
        pytest.fail(missing())
    for tool in ("pdftoppm", "pdftotext"):
        assert shutil.which(tool), f"{tool} not found: run scripts/setup-system.sh (poppler-utils)"
    pdf = tmp_path / "report.pdf"
    with chromium() as browser:
        requested_urls(browser)
        drawn_report(browser, second / "report.html")
        assert requested_urls(browser) == [(second / "report.html").as_uri()]
        options = PrintOptions()
        options.page_width, options.page_height = 21.0, 29.7  # A4, cm
        pdf.write_bytes(base64.b64decode(browser.print_page(options)))
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, timeout=60,
                          capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    for heading in report_module.SECTIONS:
        assert heading in flat, heading
    optimal = summary["decision"]["optimal"]
    assert f"At a willingness to pay of £100,000 per QALY, {optimal} has the highest" in flat
    assert "The decision changed since" in flat
    assert "p_S1S2: beta(84, 716) → beta(200, 716)" in flat
    assert f"£{voi['evpi']['population']:,.0f}" in flat  # the population EVPI, with its unit
    assert "Cost (£)" in flat and "ICER (£ per QALY)" in flat
    assert "86,077" in flat  # the effective population
    for hidden in ("c_trtA", "c_trtB", "u_trtA", "hr_S1S2_trtB", "ic_HS1"):
        assert hidden not in text  # never a parameter the key may not see
    pages = page_images(pdf, tmp_path)
    assert len(pages) >= 4
    for number, (width, height, pixels) in enumerate(pages, start=1):
        ink = sum(1 for b in pixels[::3] if b < 200)
        assert ink > 0.002 * width * height, f"page {number} is blank"
    charted = [coloured_pixels(pixels) for _, _, pixels in pages]
    # The figures: coloured on at least three pages, and plenty of them.
    assert sum(1 for c in charted if c > 500) >= 3, charted
    assert sum(charted) > 20000, charted


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
