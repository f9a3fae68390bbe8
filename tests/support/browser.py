"""Debian's chromium, headless, driven by Selenium through Debian's
chromium-driver (both installed by scripts/setup-system.sh): no browser or
driver is downloaded (the paths are given, so Selenium Manager stays idle).

    with chromium(downloads=tmp_path) as driver:
        driver.get(url)
        requested_urls(driver)      # every URL the browser asked for so far

The performance log is on, so a test can prove which origins a page
reached (`requested_urls`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.support.paths import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            return f"{path} not found: run scripts/setup-system.sh (chromium, chromium-driver)"
    return None


@contextlib.contextmanager
def chromium(downloads: Path | None = None, width: int = 1280, height: int = 1000):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Root in a container: no sandbox; no GPU on these machines.
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        if downloads is not None:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                   {"behavior": "allow", "downloadPath": str(downloads)})
        yield driver
    finally:
        driver.quit()


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """The URLs of the requests the browser sent since the last call."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def screenshot_path(name: str) -> Path:
    """Where a test saves a screenshot: the README's docs/screenshots/ with
    UPDATE_SCREENSHOTS=1, otherwise a temporary folder, so that a test run
    leaves the checkout as it found it (a changed tree changes the image's
    tag in the middle of the deploy tests)."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return ROOT / "docs" / "screenshots" / name
    return Path(tempfile.gettempdir()) / "living-hta-screenshots" / name


def full_page_screenshot(driver: webdriver.Chrome, path: Path) -> None:
    """The whole page, not only the window."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, height + 100)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
