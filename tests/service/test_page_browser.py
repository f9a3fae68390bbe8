"""The analyst's page in a real browser (Debian's chromium, headless)
against the real server (gunicorn): key typed, a parameter edited, the
analysis run; the ICER table shows /analysis's numbers, every chart is
drawn, downloads work, a wrong key shows the API's 403 message, and the
browser reaches no origin but the service's.  Saves the README's
screenshots (docs/screenshots/, with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from service.errors import KEY_INVALID
from tests.support.browser import chromium, full_page_screenshot, missing, requested_urls, screenshot_path
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server

FIGURES = ("plane", "ceac", "evpi", "evppi")
NEW_FIGURES = ("loss", "ranking", "tornado", "owsa", "optimal", "twsa")
EDITED = ("p_S1S2", "v1", "120")  # beta(84, 716) → beta(120, 716)
JOINT = ("p_S1H", "p_S1S2")  # ticked with the same group label: one EVPPI group
POPULATION = {"size": 10000, "horizon": 10, "discount": 0.035}
WTP = 100000
# What the page sends for the `ran` session: the default updates it showed, plus the edit.
UPDATES = [{"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
           {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 70},
           {"parameter": "p_S1S2", "distribution": "beta", "v1": 120, "v2": 716}]

if missing():
    pytest.fail(missing(), pytrace=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with gunicorn_server(tmp_path_factory.mktemp("page"), API_KEYS=TEST_KEY) as running:
        yield running


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    """The browser `ran` drives through one session of the page."""
    with chromium(downloads=downloads) as driver:
        yield driver


@pytest.fixture
def other_browser():
    """A browser of its own, for tests that leave the `ran` page alone."""
    with chromium() as driver:
        yield driver


def api(server, method, path, body=None):
    request = urllib.request.Request(
        server.url + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"key": TEST_KEY, "Content-Type": "application/json",
                 "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def wait_for(driver, condition, timeout=90):
    return WebDriverWait(driver, timeout).until(lambda d: condition(d))


def status_or_error(driver):
    error = driver.find_element(By.ID, "error").text
    assert not error, f"the page shows an error: {error}"
    return "Done" in driver.find_element(By.ID, "status").text


@pytest.fixture(scope="module")
def ran(server, browser):
    """The page after: key typed, parameters loaded, p_S1S2 edited, seed 7,
    EVPPI of p_HS1 ticked, Run."""
    requested_urls(browser)  # start the log afresh for this page
    browser.get(server.url + "/")
    browser.find_element(By.ID, "key").send_keys(TEST_KEY)
    browser.find_element(By.ID, "load").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#parameters tbody tr"))
    name, field, value = EDITED
    row = browser.find_element(By.CSS_SELECTOR, f'#parameters tr[data-parameter="{name}"]')
    box = row.find_element(By.CLASS_NAME, field)
    box.clear()
    box.send_keys(value)
    browser.find_element(
        By.CSS_SELECTOR, '#parameters tr[data-parameter="p_HS1"] .evppi').click()
    for joint in JOINT:
        browser.find_element(
            By.CSS_SELECTOR, f'#parameters tr[data-parameter="{joint}"] .evppi').click()
        browser.find_element(
            By.CSS_SELECTOR, f'#parameters tr[data-parameter="{joint}"] .group').send_keys("A")
    browser.find_element(By.ID, "population").send_keys(str(POPULATION["size"]))
    for field in ("horizon", "discount"):
        box = browser.find_element(By.ID, field)
        box.clear()
        box.send_keys(str(POPULATION[field]))
    browser.find_element(By.ID, "seed").send_keys("7")
    full_page_screenshot(browser, screenshot_path("page-parameters.png"))
    browser.find_element(By.ID, "run").click()
    wait_for(browser, status_or_error)
    return browser


def test_parameters_are_the_editable_ones_with_their_distributions(server, ran):
    listed = api(server, "GET", "/parameters")
    rows = ran.find_elements(By.CSS_SELECTOR, "#parameters tbody tr")
    assert [r.get_attribute("data-parameter") for r in rows] == [
        p["parameter"] for p in listed["parameters"]]
    # Non-editable rows of the table (e.g. the treatments' costs) are not shown.
    assert not {"c_trtA", "c_trtB", "hr_S1S2_trtB", "u_trtA", "ic_HS1"} & {
        r.get_attribute("data-parameter") for r in rows}


@pytest.fixture(scope="module")
def expected(server):
    """What the API answers for the `ran` session's request."""
    return api(server, "POST", "/analysis", {
        "param_updates": UPDATES, "seed": 7, "wtp": "0:200000:5000",
        "evppi": ["p_HS1", list(JOINT)], "population": POPULATION,
        "sensitivity": {"wtp": WTP, "owsa": "*", "outcomes": ["nmb", "eff", "cost"],
                        "twsa": ["p_HS1", "p_S1H"]}})


@pytest.fixture(scope="module")
def samples(server):
    return api(server, "POST", "/runDARTHmodel", {"param_updates": UPDATES, "seed": 7})


def drawn_figure(driver, name):
    """The data and layout plotly drew in element `name`."""
    return driver.execute_script(
        "var g = document.getElementById(arguments[0]);"
        "return {data: g.data, layout: g._fullLayout ? {"
        "  title: g._fullLayout.title.text, xaxis: g._fullLayout.xaxis.title.text,"
        "  yaxis: g._fullLayout.yaxis.title.text,"
        "  yaxis2: g._fullLayout.yaxis2 ? g._fullLayout.yaxis2.title.text : null,"
        "  xrange: g._fullLayout.xaxis.range, yrange: g._fullLayout.yaxis.range} : null};", name)


def test_icer_table_shows_the_numbers_of_analysis(server, ran, expected):
    shown = []
    for row in ran.find_elements(By.CSS_SELECTOR, "#icers tbody tr"):
        cells = {c.get_attribute("data-column"): c for c in row.find_elements(By.TAG_NAME, "td")}
        shown.append({column: float(c.get_attribute("data-value"))
                      if c.get_attribute("data-value") is not None else c.text or None
                      for column, c in cells.items()})
    assert len(shown) == len(expected["icers"]) == 3
    for page_row, api_row in zip(shown, expected["icers"]):
        for column, value in page_row.items():
            assert value == api_row[column], (column, page_row, api_row)
    # And the text a reader sees is those numbers, rounded.
    cost = ran.find_element(By.CSS_SELECTOR, '#icers tbody tr td[data-column="Cost"]').text
    assert cost == f"{expected['icers'][0]['Cost']:,.0f}"
    # The 95 % intervals the API returns are shown, and the headings carry the units.
    assert {"Lower_95_Cost", "Upper_95_Cost", "Lower_95_Effect", "Upper_95_Effect"} <= set(shown[0])
    headings = [th.text for th in ran.find_elements(By.CSS_SELECTOR, "#icers thead th")]
    assert "Cost (£)" in headings and "Effect (QALYs)" in headings
    assert "ICER (£ per QALY)" in headings


def test_every_chart_is_drawn(ran):
    for figure in FIGURES:
        # plotly draws each trace's points or line as SVG paths with data.
        drawn = ran.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0])).filter("
            "p => (p.getAttribute('d') || '').length > 10).length",
            f"#{figure} .scatterlayer path")
        assert drawn > 0, f"{figure}: nothing drawn"
    for name in NEW_FIGURES:
        drawn = ran.execute_script(
            "return document.querySelectorAll(arguments[0]).length",
            f"#{name} .scatterlayer path, #{name} .barlayer path, #{name} .shapelayer path")
        assert drawn > 0, f"{name}: nothing drawn"
    def points():
        return ran.execute_script(
            "return document.querySelectorAll('#plane .scatterlayer .point').length")
    # The incremental plane (the default): the two other strategies' samples.
    assert points() >= 2 * 1000
    full_page_screenshot(ran, screenshot_path("page-results.png"))
    # The absolute plane, as an option: every sample of every strategy, and the means.
    ran.find_element(By.ID, "absolute").click()
    wait_for(ran, lambda d: points() >= 3 * 1000, timeout=30)
    assert drawn_figure(ran, "plane")["layout"]["xaxis"] == "Effect (QALYs per patient)"
    ran.find_element(By.ID, "absolute").click()
    wait_for(ran, lambda d: points() < 3 * 1000, timeout=30)


def test_units_on_every_axis(ran):
    axes = {name: drawn_figure(ran, name)["layout"] for name in FIGURES + NEW_FIGURES}
    wtp_axis = "Willingness to pay (£ per QALY)"
    assert axes["plane"]["xaxis"] == "Incremental effect (QALYs per patient)"
    assert axes["plane"]["yaxis"] == "Incremental cost (£ per patient)"
    for name in ("ceac", "loss", "evpi", "evppi"):
        assert axes[name]["xaxis"] == wtp_axis, name
    assert axes["loss"]["yaxis"] == "Expected loss (£ per patient)"
    for name in ("evpi", "evppi"):
        assert axes[name]["yaxis"] == f"{name.upper()} (£ per patient)"
        assert axes[name]["yaxis2"] == "Population (£, population)"
    assert axes["ranking"]["xaxis"] == "EVPPI (£ per patient)"
    assert axes["tornado"]["xaxis"] == "Expected net monetary benefit (£ per patient)"
    assert "£100,000 per QALY" in axes["owsa"]["title"]
    assert (axes["twsa"]["xaxis"], axes["twsa"]["yaxis"]) == ("p_HS1", "p_S1H")
    # Drawn, not only set: the SVG's axis titles.
    titles = ran.execute_script(
        "return Array.from(document.querySelectorAll('#plane .xtitle, #plane .ytitle'))"
        ".map(t => t.textContent)")
    assert titles == ["Incremental effect (QALYs per patient)", "Incremental cost (£ per patient)"]
    units = ran.find_element(By.ID, "units").text
    assert "GBP (£)" in units and "QALYs" in units and "3 %" in units and "per patient" in units


def test_incremental_plane_has_ellipses_icer_points_and_the_wtp_line_through_the_origin(
        ran, samples, expected):
    plane = drawn_figure(ran, "plane")
    traces = {t["name"]: t for t in plane["data"]}
    comparator = expected["icers"][0]["Strategy"]
    assert ran.find_element(By.ID, "comparator").get_attribute("value") == comparator
    assert "against " + comparator in plane["layout"]["title"]
    for strategy in ("Treatment_A", "Treatment_B"):
        d_e = np.array([r["E_" + strategy] - r["E_" + comparator] for r in samples])
        d_c = np.array([r["C_" + strategy] - r["C_" + comparator] for r in samples])
        cloud = traces[f"{strategy} (samples)"]
        np.testing.assert_allclose(cloud["x"], d_e, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(cloud["y"], d_c, rtol=1e-12, atol=1e-6)
        centre = np.array([d_e.mean(), d_c.mean()])
        icer_point = traces[f"{strategy} (ICER point)"]
        np.testing.assert_allclose([icer_point["x"][0], icer_point["y"][0]], centre, rtol=1e-9)
        # The 95 % ellipse: every point at Mahalanobis distance² χ²₂(0.95) from the mean.
        ellipse = traces[f"{strategy} (95 % ellipse)"]
        points = np.column_stack([ellipse["x"], ellipse["y"]]) - centre
        inverse = np.linalg.inv(np.cov(np.vstack([d_e, d_c])))
        distances = np.einsum("ij,jk,ik->i", points, inverse, points)
        np.testing.assert_allclose(distances, 5.991464547107979, rtol=1e-6)
    line = traces[f"WTP £{WTP:,} per QALY"]
    np.testing.assert_allclose(np.array(line["y"]), WTP * np.array(line["x"]), rtol=1e-9)
    # The cost axis fits the samples and ellipses, not the WTP line.
    low = min(min(traces[f"{s} (95 % ellipse)"]["y"]) for s in ("Treatment_A", "Treatment_B"))
    assert plane["layout"]["yrange"][0] >= min(low, 0) - 0.1 * abs(low)
    # Another comparator: the clouds move to it.
    Select(ran.find_element(By.ID, "comparator")).select_by_value("Treatment_A")
    wait_for(ran, lambda d: "against Treatment_A" in drawn_figure(d, "plane")["layout"]["title"], 30)
    names = {t["name"] for t in drawn_figure(ran, "plane")["data"]}
    assert "No_Treatment (samples)" in names and "Treatment_A (samples)" not in names
    Select(ran.find_element(By.ID, "comparator")).select_by_value(comparator)


def table_rows(driver, table_id):
    rows = []
    for row in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr"):
        rows.append({c.get_attribute("data-column"): (
            float(c.get_attribute("data-value")) if c.get_attribute("data-value") is not None
            else c.text) for c in row.find_elements(By.TAG_NAME, "td")})
    return rows


def test_nmb_table_at_the_decision_wtp(ran, samples, expected):
    shown = {row["Strategy"]: row for row in table_rows(ran, "nmb")}
    ceac = {r["Strategy"]: r["Proportion"] for r in expected["ceac"] if r["WTP"] == WTP}
    loss = {r["Strategy"]: r["Expected_Loss"] for r in expected["expected_loss"] if r["WTP"] == WTP}
    summary = {r["Strategy"]: r for r in expected["summary"]}
    for strategy, row in shown.items():
        nmb = np.array([WTP * r["E_" + strategy] - r["C_" + strategy] for r in samples])
        mean = WTP * summary[strategy]["meanEffect"] - summary[strategy]["meanCost"]
        assert row["NMB"] == pytest.approx(mean, rel=1e-9)
        assert row["Lower_95_NMB"] == pytest.approx(np.quantile(nmb, 0.025), rel=1e-9)
        assert row["Upper_95_NMB"] == pytest.approx(np.quantile(nmb, 0.975), rel=1e-9)
        assert row["Probability_CE"] == pytest.approx(ceac[strategy], abs=1e-12)
        assert row["Expected_Loss"] == pytest.approx(loss[strategy], rel=1e-9, abs=1e-6)
    assert set(shown) == set(summary)


def test_population_and_per_person_value_of_information(ran, expected):
    rows = {row["What"]: row for row in table_rows(ran, "voi")}
    evpi = next(r for r in expected["evpi"] if r["WTP"] == WTP)
    assert rows["EVPI (all parameters)"]["Per_Person"] == evpi["EVPI"]
    assert rows["EVPI (all parameters)"]["Population"] == evpi["Population_EVPI"]
    effective = expected["method"]["population"]["effective_population"]
    assert evpi["Population_EVPI"] == pytest.approx(evpi["EVPI"] * effective)
    for group in expected["evppi"]:
        value = next(v for v in group["values"] if v["WTP"] == WTP)
        row = rows["EVPPI " + " + ".join(group["parameters"])]
        assert (row["Per_Person"], row["Population"]) == (value["EVPPI"], value["Population_EVPPI"])
    assert [g["parameters"] for g in expected["evppi"]] == [["p_HS1"], list(JOINT)]
    assert "86,077 people" in ran.find_element(By.CSS_SELECTOR, "#voi thead").text
    assert "EVPPI method: poly, order 2" in ran.find_element(By.ID, "voi-method").text
    evppi = drawn_figure(ran, "evppi")
    assert "(poly, order 2)" in evppi["layout"]["title"]
    assert [t["name"] for t in evppi["data"][:2]] == ["p_HS1", " + ".join(JOINT)]


def test_expected_loss_curve_and_its_frontier(ran, expected):
    traces = {t.get("name"): t for t in drawn_figure(ran, "loss")["data"]}
    for strategy in expected["method"]["strategies"]:
        rows = [r for r in expected["expected_loss"] if r["Strategy"] == strategy]
        assert traces[strategy]["y"] == [r["Expected_Loss"] for r in rows]
    frontier = [r for r in expected["expected_loss"] if r["On_Frontier"]]
    assert traces["Frontier (lowest expected loss = EVPI)"]["y"] == [
        r["Expected_Loss"] for r in frontier]


def test_evppi_ranking_of_every_parameter(server, ran):
    ranking = drawn_figure(ran, "ranking")
    bars = dict(zip(ranking["data"][0]["y"], ranking["data"][0]["x"]))
    varying = [p["parameter"] for p in api(server, "GET", "/parameters")["parameters"]
               if p["distribution"] != "fixed"]
    assert set(bars) == set(varying)
    singles = api(server, "POST", "/analysis", {
        "param_updates": UPDATES, "seed": 7, "wtp": [WTP], "evppi": varying[:10]})["evppi"]
    for group in singles:
        assert bars[group["parameters"][0]] == group["values"][0]["EVPPI"]
    assert list(ranking["data"][0]["x"]) == sorted(bars.values())  # the largest on top


def test_sensitivity_charts_show_the_analysis(ran, expected):
    sensitivity = expected["sensitivity"]
    tornado = drawn_figure(ran, "tornado")["data"]
    rows = sorted(sensitivity["tornado"], key=lambda r: r["abs_diff"])
    low, high = tornado
    assert low["y"] == [r["parameter"] for r in rows]
    assert low["base"] == rows[0]["avg"]
    np.testing.assert_allclose(np.array(low["x"]) + low["base"],
                               [r["outcome_val.low"] for r in rows], rtol=1e-12)
    np.testing.assert_allclose(np.array(high["x"]) + high["base"],
                               [r["outcome_val.high"] for r in rows], rtol=1e-12)
    owsa = drawn_figure(ran, "owsa")["data"]
    parameters = expected["method"]["sensitivity"]["owsa_parameters"]
    assert len(owsa) == len(parameters) * 3
    drawn = [(t["name"], x, y) for t in owsa for x, y in zip(t["x"], t["y"])]
    assert sorted(drawn) == sorted((r["strategy"], r["param_val"], r["outcome_val"])
                                   for r in sensitivity["owsa"]["nmb"])
    # The outcome can be switched: the QALYs' one-way analysis.
    Select(ran.find_element(By.ID, "outcome")).select_by_value("eff")
    wait_for(ran, lambda d: "effect" in drawn_figure(d, "owsa")["layout"]["title"], 30)
    eff = drawn_figure(ran, "owsa")["data"]
    assert sorted(y for t in eff for y in t["y"]) == sorted(
        r["outcome_val"] for r in sensitivity["owsa"]["eff"])
    Select(ran.find_element(By.ID, "outcome")).select_by_value("nmb")
    optimal = drawn_figure(ran, "optimal")["data"]
    spans = {(t["name"], y): tuple(c) for t in optimal for y, c in zip(t["y"], t["customdata"])}
    assert spans == {(r["strategy"], r["parameter"]): (r["pmin"], r["pmax"])
                     for r in sensitivity["opt_strat"]}
    best = {}
    for r in sensitivity["twsa"]["values"]:
        at = (r["p_HS1"], r["p_S1H"])
        if at not in best or r["outcome_val"] > best[at][1]:
            best[at] = (r["strategy"], r["outcome_val"])
    regions = drawn_figure(ran, "twsa")["data"]
    assert [t["name"] for t in regions] == expected["method"]["strategies"]
    shown = {(x, y): t["name"] for t in regions for x, y in zip(t["x"], t["y"])}
    assert shown == {at: strategy for at, (strategy, _) in best.items()}
    assert len(best) == 11 * 11


def test_csv_and_image_downloads(ran, downloads):
    ran.find_element(By.CSS_SELECTOR, 'button[data-csv="icers"]').click()
    ran.find_element(By.CSS_SELECTOR, 'button[data-png="ceac"]').click()
    wait_for(ran, lambda d: (downloads / "icers.csv").exists()
             and (downloads / "ceac.png").exists(), timeout=30)
    lines = (downloads / "icers.csv").read_text().splitlines()
    assert lines[0].startswith("Strategy,Cost,")
    assert [line.split(",")[0] for line in lines[1:]] == [
        "No_Treatment", "Treatment_A", "Treatment_B"]
    assert (downloads / "ceac.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The CSVs keep dampack's columns; their units come in a JSON sidecar.
    ran.find_element(By.CSS_SELECTOR, 'button[data-csv="tornado"]').click()
    ran.find_element(By.CSS_SELECTOR, 'button[data-json="units"]').click()
    wait_for(ran, lambda d: (downloads / "tornado.csv").exists()
             and (downloads / "units.json").exists(), timeout=30)
    assert (downloads / "tornado.csv").read_text().splitlines()[0] == (
        "parameter,param_val.low,outcome_val.low,param_val.high,outcome_val.high,"
        "abs_diff,rel_diff,avg")
    sidecar = json.loads((downloads / "units.json").read_text())
    assert sidecar["units"]["currency"] == "GBP" and sidecar["units"]["effect"] == "QALY"
    assert sidecar["decision_wtp"] == WTP and sidecar["method"]["seed"] == 7


def test_the_key_stays_in_page_memory(server, ran):
    assert ran.get_cookies() == []
    assert ran.execute_script(
        "return localStorage.length + sessionStorage.length") == 0
    assert TEST_KEY not in ran.current_url
    assert ran.find_element(By.ID, "key").get_attribute("value") == ""


def test_nothing_is_fetched_from_another_origin(server, ran):
    urls = requested_urls(ran)
    assert any(u.endswith("/page/plotly.min.js") for u in urls)
    assert any(u.endswith("/analysis") for u in urls)
    foreign = [u for u in urls
               if not u.startswith(server.url + "/") and not u.startswith(("data:", "blob:"))]
    assert foreign == []
    assert not [u for u in urls if TEST_KEY in u]


def test_a_wrong_key_shows_the_403_message(server, other_browser):
    browser = other_browser
    browser.get(server.url + "/")
    browser.find_element(By.ID, "key").send_keys("not-the-key")
    browser.find_element(By.ID, "load").click()
    error = wait_for(browser, lambda d: d.find_element(By.ID, "error").text)
    assert error == f"403 Forbidden: {KEY_INVALID}"
    assert not browser.find_element(By.ID, "inputs").is_displayed()
    full_page_screenshot(browser, screenshot_path("page-wrong-key.png"))


def test_a_refused_update_shows_the_422_message(server, ran):
    row = ran.find_element(By.CSS_SELECTOR, '#parameters tr[data-parameter="c_H"]')
    box = row.find_element(By.CLASS_NAME, "v2")
    box.clear()
    box.send_keys("-5")  # a gamma scale must be > 0
    ran.find_element(By.ID, "run").click()
    error = wait_for(ran, lambda d: d.find_element(By.ID, "error").text)
    assert error.startswith("422 Unprocessable Entity: ")
    assert "c_H" in error and "scale" in error
    # The previous run's results are not left on screen beside the error.
    assert not ran.find_element(By.ID, "results").is_displayed()


def test_too_many_wrong_keys_show_the_429_and_its_wait(tmp_path, other_browser):
    browser = other_browser
    with gunicorn_server(tmp_path, API_KEYS=TEST_KEY, AUTH_FAILURE_LIMIT="1") as throttled:
        browser.get(throttled.url + "/")
        errors = []
        while not errors or errors[-1].startswith("403") and len(errors) < 5:
            browser.find_element(By.ID, "key").send_keys("not-the-key")
            browser.find_element(By.ID, "load").click()  # clears the error, then shows the new one
            errors.append(wait_for(browser, lambda d: d.find_element(By.ID, "error").text))
        error = errors[-1]
    assert error.startswith("429 Too Many Requests: too many requests with a wrong API key")
    assert error.endswith(" s)") and "(retry after " in error
