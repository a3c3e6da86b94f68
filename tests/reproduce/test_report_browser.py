"""report.html in a real headless Chromium: it loads cleanly, lists every paper, sorts and filters."""

import shutil
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

webdriver = pytest.importorskip("selenium.webdriver")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

#: Headless, and without the background traffic (updates, sync, QUIC) a closed network refuses.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000")


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Chromium and chromedriver are not installed (make test-all installs them)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="diversa-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from test_report_html import toy_results

    from diversa.reproduce.report import write_report

    out = tmp_path_factory.mktemp("browser_report")
    write_report(toy_results(), out, command="diversa reproduce smote rmm outside")
    return out / "report.html"


def _column(driver, key):
    return [row.get_attribute(f"data-{key}") for row in driver.find_elements("css selector", "#summary tbody tr")]


def _shown(driver):
    rows = driver.find_elements("css selector", "#summary tbody tr")
    return [row.get_attribute("data-paper") for row in rows if row.is_displayed()]


def test_page_loads_without_console_errors(browser, report):
    browser.get(report.as_uri())
    assert browser.title == "diversa reproduce"
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []
    # The plots decoded from their data URIs (a broken image has no natural width).
    widths = browser.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")
    assert len(widths) == 3 and min(widths) > 100


def test_one_row_per_paper_and_sorting_by_verdict(browser, report):
    browser.get(report.as_uri())
    assert _column(browser, "paper") == ["smote", "rmm", "outside"]
    head = browser.find_element("css selector", '#summary th[data-key="verdict"]')
    head.click()
    assert _column(browser, "verdict") == ["supported", "inconclusive", "contradicted"]
    assert head.get_attribute("aria-sort") == "ascending"
    head.click()
    assert _column(browser, "verdict") == ["contradicted", "inconclusive", "supported"]
    browser.find_element("css selector", '#summary th[data-key="paper"]').click()
    assert _column(browser, "paper") == ["outside", "rmm", "smote"]


def test_filters_by_verdict_area_and_paper(browser, report):
    from selenium.webdriver.support.ui import Select

    browser.get(report.as_uri())
    Select(browser.find_element("id", "filter-verdict")).select_by_value("contradicted")
    assert _shown(browser) == ["rmm"]
    Select(browser.find_element("id", "filter-verdict")).select_by_value("")
    Select(browser.find_element("id", "filter-area")).select_by_value("imbalance and long tails")
    assert _shown(browser) == ["smote"]
    Select(browser.find_element("id", "filter-area")).select_by_value("")
    browser.find_element("id", "filter-paper").send_keys("outs")
    assert _shown(browser) == ["outside"]
    assert browser.find_element("id", "shown").text == "1 of 3 papers"
