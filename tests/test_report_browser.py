"""The HTML report as a validation lead sees it: Allure 3 generates it offline from a real run
(report_suite.py) with the project's configuration, its data is packed as `make report` packs it
(bench/report/packed_html.py), and headless Chromium opens it from disk.

Needs Node with Allure 3 in .node/ (``make test`` installs it), Debian's ``chromium`` and
``chromium-driver`` (``.ci/run`` installs them) and selenium (the dev extra); skipped, saying
which is missing, where they are not.
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.report.packed_html import PACKED_ID
from report_suite import TESTS, generate_report, make_suite, packed_files, run_suite

WAIT = 30.0
"""Seconds the page may take to render (a loaded CI machine)."""
FAILING = "failing[bms-full-power_cut@block:2]"
FAILING_CATALOG = """\
campaign: failing
defaults: {from: factory, to: app-2.0.0}
matrix: {ecu: bms, fault: power_cut, at: "block:2"}
expect: {outcome: unchanged}    # wrong on purpose: the update completes, so the scenario fails
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """index.html of the report of the suite's run."""
    root = make_suite(tmp_path_factory.mktemp("report"))
    (root / "scenarios" / "failing.yaml").write_text(FAILING_CATALOG)
    run_suite(root, "--alluredir", "allure-results")
    return generate_report(root)


@pytest.fixture(scope="module")
def second_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """index.html of the report of the suite's second run, as `make run` twice makes it: each run
    with --history, each report generated with the project's Allure history."""
    root = make_suite(tmp_path_factory.mktemp("nights"))
    for night in ("night-1", "night-2"):
        run_suite(root, "--alluredir", "allure-results", "--clean-alluredir", "--history", "reports/history",
                  "--run-name", night)
        index = generate_report(root)
    return index


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Headless Chromium, driven through chromedriver, with a throwaway profile and no network."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.skip("Chromium is not installed: apt-get install chromium chromium-driver (.ci/run does, as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


def waiting(driver: object, **options: object) -> object:
    """A wait that also retries when the report re-renders an element under it (it loads its data,
    the history among them, after the first render)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,), **options)


def shown(driver: object, test_id: str) -> list[object]:
    """The elements with this data-testid, once at least one is on the page."""
    selector = f"[data-testid='{test_id}']"
    return waiting(driver).until(lambda d: d.find_elements("css selector", selector))


def texts(driver: object, test_id: str) -> list[str]:
    """The texts of the elements with this data-testid, read when none is re-rendered meanwhile."""
    selector = f"[data-testid='{test_id}']"
    return waiting(driver).until(lambda d: [element.text for element in d.find_elements("css selector", selector)]
                                 or False)


def click(driver: object, test_id: str) -> None:
    """Click the first element with this data-testid (again, if the report re-rendered it)."""
    selector = f"[data-testid='{test_id}']"
    waiting(driver).until(lambda d: (found := d.find_elements("css selector", selector))
                          and (found[0].click() or True))


def section_titles(driver: object) -> set[str]:
    """The titles of the tree's sections, once the tree has settled (it re-renders as it loads)."""
    def read(d: object) -> set[str] | bool:
        titles = {element.text for element in d.find_elements("css selector", "[data-testid='tree-section-title']")}
        return titles if len(titles) >= 2 else False

    return waiting(driver, poll_frequency=0.3).until(read)


def open_test(driver: object, name: str) -> None:
    """Search the results tree for ``name``, unfold the groups it is in, open the test."""
    shown(driver, "search-input")[0].send_keys(name)
    unfolded: set[str] = set()

    def unfold(d: object) -> object:
        leaves = [leaf for leaf in d.find_elements("css selector", "[data-testid='tree-leaf']") if name in leaf.text]
        if leaves:
            return leaves[0]  # clicked by the wait, which tries again if it went stale
        for section in d.find_elements("css selector", "[data-testid='tree-section-title']"):
            if section.text not in unfolded:
                unfolded.add(section.text)
                section.click()
                break
        return False

    waiting(driver, poll_frequency=0.3).until(lambda d: (leaf := unfold(d)) and (leaf.click() or True))


def test_report_shows_every_test_its_attachments_categories_and_the_outcome_matrix(report: Path,
                                                                                   browser: object) -> None:
    browser.get(report.as_uri())
    assert texts(browser, "metadata-item-total")[0].split() == ["Total", str(TESTS + 1)]

    click(browser, "nav-tab-categories")
    assert section_titles(browser) == {"Bench fault: instrument not answering", "Product defect: rollback failed"}

    click(browser, "nav-tab-globalAttachments")
    names = texts(browser, "test-result-attachment")
    assert len(names) == 3 and "Outcome matrix (HTML)" in names[0]

    click(browser, "nav-tab-results")
    open_test(browser, FAILING)
    click(browser, "test-result-tab-attachments")
    attachments = shown(browser, "test-result-attachment")
    assert any(attachment.is_displayed() and "fault timeline" in attachment.text for attachment in attachments)


def test_a_failed_scenario_shows_its_steps_in_time_order_with_the_fault_inside_its_attempt(
        report: Path, browser: object, tmp_path: Path) -> None:
    browser.get(report.as_uri())
    open_test(browser, FAILING)
    titles = step_titles(browser, until="fault: power cut on bms")  # a failed step is unfolded: the cut shows
    fault = titles.index("fault: power cut on bms")
    attempt = next(i for i, title in enumerate(titles) if title.startswith("flash 1: bms to 2.0.0 (full): stopped"))
    transfer = next(i for i, title in enumerate(titles) if title.startswith("TransferData"))
    resumed = next(i for i, title in enumerate(titles) if title.startswith("flash 2: bms to 2.0.0"))
    assert attempt < transfer < fault < resumed, titles  # in time order, the cut inside the attempt it interrupted
    assert titles.count("fault: power cut on bms") == 1, titles
    for step in browser.find_elements("css selector", "[data-testid='test-result-step-title']"):
        if step.text.strip() == "fault: power cut on bms":
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", step)
    screenshot = tmp_path / "failed-scenario-steps.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000


def step_titles(driver: object, *, until: str) -> list[str]:
    """The titles of the steps on the page, in page order, once one reads ``until``."""
    def read(d: object) -> list[str] | bool:
        titles = [element.text.strip() for element in d.find_elements("css selector", "[data-testid='test-result-step-title']")]
        return titles if until in titles else False

    return waiting(driver, poll_frequency=0.3).until(read)


def test_the_browser_unpacks_the_packed_report_to_the_very_files_allure_embedded(report: Path,
                                                                               browser: object) -> None:
    """What the app reads, once the loader says the data is ready, is each packed file in base64, as
    Allure's own single-file page gives it (test_report_packed_html.py: packing keeps every byte)."""
    browser.get(report.as_uri())
    waiting(browser).until(lambda d: d.execute_script("return window.allureReportDataReady === true"))
    unpacked = browser.execute_script("return window.allureReportData")
    files = packed_files(report.read_text(encoding="utf-8"))
    assert any(name.startswith("data/test-results/") for name in files)
    assert unpacked == {name: base64.b64encode(content).decode() for name, content in files.items()}


def test_a_report_whose_packed_data_does_not_unpack_says_so(report: Path, browser: object, tmp_path: Path) -> None:
    broken = tmp_path / "index.html"
    block = re.compile(f'(<script type="application/gzip" id="{PACKED_ID}" data-files="[0-9]+">)[^<]*')
    broken.write_text(block.sub(lambda found: found[1] + base64.b64encode(b"not gzip").decode(),
                                report.read_text(encoding="utf-8")), encoding="utf-8")
    browser.get(broken.as_uri())
    message = waiting(browser).until(lambda d: d.find_elements("css selector", "#bench-packed-report-error"))[0]
    assert message.text.startswith("The report could not unpack its data: ")
    assert browser.execute_script("return window.allureReportDataReady") is False


def test_a_second_run_shows_each_tests_history_and_the_trends(second_night: Path, browser: object) -> None:
    browser.get(second_night.as_uri())
    click(browser, "nav-tab-globalAttachments")
    names = texts(browser, "test-result-attachment")
    assert any("Trends across runs (PNG)" in name for name in names), names

    click(browser, "nav-tab-results")
    open_test(browser, "smoke[bms-full-power_cut@block:2]")
    click(browser, "test-result-tab-history")
    assert len(shown(browser, "test-result-history-item")) == 1  # the first night's result
