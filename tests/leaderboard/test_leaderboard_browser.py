"""Open the built site in headless Chromium from file://, sort by clicking a header, filter by family."""

import shutil
import tempfile
import warnings

import pytest
from test_leaderboard_fixtures import write_fixture_results

from leaderboard import build_site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="headless Chromium not installed (apt-get install chromium chromium-driver; .ci/run does this)",
)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a test dependency: pip install -e '.[test]'")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="perceptbench-chromium-")
    for flag in CHROMIUM_FLAGS + (f"--user-data-dir={profile}",):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-site")
    write_fixture_results(root / "results")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_site(root / "results", root / "site")
    return root / "site" / "index.html"


def _nights_table(driver):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "section#table-nights-test table.leaderboard")


def _column_values(table, header_text):
    """data-value of each ranked row's cell under a header, read in one round trip."""
    return table.parent.execute_script(
        "var headers = Array.from(arguments[0].tHead.rows[0].cells).map(function (th) { return th.textContent.trim(); });"
        "var index = headers.indexOf(arguments[1]);"
        "return Array.from(arguments[0].querySelectorAll('tbody.ranked tr[data-model]'))"
        ".map(function (row) { return row.cells[index].getAttribute('data-value'); });",
        table,
        header_text,
    )


def _visible_models(table):
    return table.parent.execute_script(
        "return Array.from(arguments[0].querySelectorAll('tbody.ranked tr[data-model]'))"
        ".filter(function (row) { return row.offsetParent !== null; }).map(function (row) { return row.dataset.model; });",
        table,
    )


def test_clicking_a_header_sorts_the_table(browser, site_index, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(site_index.as_uri())
    table = _nights_table(browser)
    models_before = _column_values(table, "model")
    header = next(th for th in table.find_elements(By.CSS_SELECTOR, "thead th") if th.text.strip() == "l2 3.0 (hard labels)")
    header.click()
    models_after = _column_values(table, "model")
    values = _column_values(table, "l2 3.0 (hard labels)")
    numbers = [float(v) for v in values if v]
    assert models_after != models_before
    assert sorted(models_after) == sorted(models_before)  # same rows, new order
    assert numbers == sorted(numbers, reverse=True) and all(v == "" for v in values[len(numbers) :])
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    numbers = [float(v) for v in _column_values(table, "l2 3.0 (hard labels)") if v]
    assert numbers == sorted(numbers) and header.get_attribute("aria-sort") == "ascending"
    model_header = next(th for th in table.find_elements(By.CSS_SELECTOR, "thead th") if th.text.strip() == "model")
    model_header.click()
    names = _column_values(table, "model")
    assert names == sorted(names, key=str.lower)
    screenshot = tmp_path / "leaderboard.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 10_000
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_family_filter_and_name_search_hide_rows(browser, site_index):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(site_index.as_uri())
    table = _nights_table(browser)
    families = set(
        table.parent.execute_script(
            "return Array.from(arguments[0].querySelectorAll('tbody.ranked tr[data-model]')).map(function (row) { return row.dataset.family; });",
            table,
        )
    )
    assert {"clip", "lipsim"} <= families
    everything = _visible_models(table)
    Select(browser.find_element(By.ID, "family-filter")).select_by_value("lipsim")
    visible = _visible_models(table)
    assert len(everything) > 40 and visible == [name for name in everything if name.startswith("lipsim-")]
    Select(browser.find_element(By.ID, "family-filter")).select_by_value("")
    browser.find_element(By.ID, "model-search").send_keys("convnext+lora")
    visible = set(_visible_models(table))
    assert visible == {"clip-convnext+lora", "r-clip-f-convnext+lora", "r-clip-t-convnext+lora"}
