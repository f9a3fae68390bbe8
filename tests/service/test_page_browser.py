"""The analyst's page in a real browser (Debian's chromium, headless)
against the real server (gunicorn): key typed, a parameter edited, the
analysis run; the ICER table shows /analysis's numbers, every chart is
drawn, downloads work, a wrong key shows the API's 403 message, and the
browser reaches no origin but the service's.  Saves the README's
screenshots (docs/screenshots/, with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from service.errors import KEY_INVALID
from tests.support.browser import chromium, full_page_screenshot, missing, requested_urls, screenshot_path
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server

FIGURES = ("plane", "ceac", "evpi", "evppi")
EDITED = ("p_S1S2", "v1", "120")  # beta(84, 716) → beta(120, 716)

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


def test_icer_table_shows_the_numbers_of_analysis(server, ran):
    # What the page sent: the default updates it showed, plus the edit.
    updates = [{"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
               {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 70},
               {"parameter": "p_S1S2", "distribution": "beta", "v1": 120, "v2": 716}]
    expected = api(server, "POST", "/analysis", {
        "param_updates": updates, "seed": 7, "wtp": "0:200000:5000", "evppi": ["p_HS1"]})
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


def test_every_chart_is_drawn(ran):
    for figure in FIGURES:
        # plotly draws each trace's points or line as SVG paths with data.
        drawn = ran.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0])).filter("
            "p => (p.getAttribute('d') || '').length > 10).length",
            f"#{figure} .scatterlayer path")
        assert drawn > 0, f"{figure}: nothing drawn"
    points = ran.execute_script(
        "return document.querySelectorAll('#plane .scatterlayer .point').length")
    assert points >= 3 * 1000  # every sample of every strategy, and the means
    full_page_screenshot(ran, screenshot_path("page-results.png"))


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
