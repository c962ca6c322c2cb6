"""The HTML report as a validation lead sees it: Allure 3 generates it offline from a real run
(report_suite.py) with the project's configuration, and headless Chromium opens it from disk.

Needs Node with Allure 3 in .node/ (``make test`` installs it), Debian's ``chromium`` and
``chromium-driver`` (``.ci/run`` installs them) and selenium (the dev extra); skipped, saying
which is missing, where they are not.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from report_suite import ALLURE, REPO, TESTS, make_suite, run_suite

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
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: Allure 3 needs it (apt-get install nodejs npm)")
    if not ALLURE.exists():
        pytest.skip(f"Allure 3 is not installed in {ALLURE.parents[2]}: `make test` installs it with npm")
    root = make_suite(tmp_path_factory.mktemp("report"))
    (root / "scenarios" / "failing.yaml").write_text(FAILING_CATALOG)
    run_suite(root, "--alluredir", "allure-results")
    subprocess.run([str(ALLURE), "generate", "--config", str(REPO / "reports" / "allurerc.mjs"), "allure-results",
                    "--output", "allure-report"], cwd=root, capture_output=True, text=True, timeout=300, check=True)
    return root / "allure-report" / "index.html"


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


def shown(driver: object, test_id: str) -> list[object]:
    """The elements with this data-testid, once at least one is on the page."""
    from selenium.webdriver.support.ui import WebDriverWait

    selector = f"[data-testid='{test_id}']"
    return WebDriverWait(driver, WAIT).until(lambda d: d.find_elements("css selector", selector))


def section_titles(driver: object) -> set[str]:
    """The titles of the tree's sections, once the tree has settled (it re-renders as it loads)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def read(d: object) -> set[str] | bool:
        titles = {element.text for element in d.find_elements("css selector", "[data-testid='tree-section-title']")}
        return titles if len(titles) >= 2 else False

    return WebDriverWait(driver, WAIT, poll_frequency=0.3, ignored_exceptions=[StaleElementReferenceException]).until(read)


def open_test(driver: object, name: str) -> None:
    """Search the results tree for ``name``, unfold the groups it is in, open the test."""
    from selenium.webdriver.support.ui import WebDriverWait

    shown(driver, "search-input")[0].send_keys(name)
    unfolded: set[str] = set()

    def unfold(d: object) -> object:
        leaves = [leaf for leaf in d.find_elements("css selector", "[data-testid='tree-leaf']") if name in leaf.text]
        if leaves:
            return leaves[0]
        for section in d.find_elements("css selector", "[data-testid='tree-section-title']"):
            if section.text not in unfolded:
                unfolded.add(section.text)
                section.click()
                break
        return False

    from selenium.common.exceptions import StaleElementReferenceException

    WebDriverWait(driver, WAIT, poll_frequency=0.3,
                  ignored_exceptions=[StaleElementReferenceException]).until(unfold).click()


def test_report_shows_every_test_its_attachments_categories_and_the_outcome_matrix(report: Path,
                                                                                   browser: object) -> None:
    browser.get(report.as_uri())
    assert shown(browser, "metadata-item-total")[0].text.split() == ["Total", str(TESTS + 1)]

    shown(browser, "nav-tab-categories")[0].click()
    assert section_titles(browser) == {"Bench fault: instrument not answering", "Product defect: rollback failed"}

    shown(browser, "nav-tab-globalAttachments")[0].click()
    names = [attachment.text for attachment in shown(browser, "test-result-attachment")]
    assert len(names) == 3 and "Outcome matrix (HTML)" in names[0]

    shown(browser, "nav-tab-results")[0].click()
    open_test(browser, FAILING)
    shown(browser, "test-result-tab-attachments")[0].click()
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
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def read(d: object) -> list[str] | bool:
        titles = [element.text.strip() for element in d.find_elements("css selector", "[data-testid='test-result-step-title']")]
        return titles if until in titles else False

    return WebDriverWait(driver, WAIT, poll_frequency=0.3, ignored_exceptions=[StaleElementReferenceException]).until(read)
