"""Evidence sized for thousands of results: what a passed test leaves in the Allure results stays
small and does not grow with what it did (the flash's length, what it logged); a failed test keeps
everything (2.1 KB for a passed scenario, 15 KB with `--passed-evidence full --captured-output all`).
In the HTML report, packed as `make report` packs it, a passed scenario adds under 1.5 KB.
``benchmarks/report_size.py`` measures the HTML report and extrapolates to the catalog."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from report_suite import REPO, generate_report, run_suite

PASSED_RESULT_BOUND = 4_000
"""Bytes of Allure results (the result and its attachments) a passed test may leave."""
PACKED_PASSED_BOUND = 4_000
"""Bytes one more passed scenario may add to the packed HTML report (0.7 KB here; 8 KB unpacked)."""
PACKED_REPORT_BOUND = 2_500_000
"""Bytes the packed HTML report of this small run may take (1.4 MB of it Allure's app; 4 MB unpacked)."""

CATALOG = """\
campaign: size
defaults: {from: factory, to: app-2.0.0}
matrix: {ecu: bms, fault: power_cut, at: ["block:1", "block:3"]}
expect: {outcome: updated, versions: [old, new]}
"""

TESTS = """\
import logging

import pytest

LOG = logging.getLogger("isotp")


@pytest.mark.ecu("bms")
def test_flashes_a_long_image_and_logs_warnings(flasher, firmware):
    for _ in range(200):
        LOG.warning("Received a FlowControl message while transmission was Idle. Ignoring")
    flasher.flash(firmware("app-3.0.0-1mib"))


@pytest.mark.ecu("bms")
def test_logs_warnings_and_fails(flasher):
    LOG.warning("Received a FlowControl message while transmission was Idle. Ignoring")
    assert False, "the test's own check failed"
"""


@pytest.fixture(scope="module")
def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the run, its results in allure-results."""
    root = tmp_path_factory.mktemp("size")
    (root / "fixtures").symlink_to(REPO / "fixtures")
    (root / "scenarios").mkdir()
    (root / "scenarios" / "size.yaml").write_text(CATALOG)
    (root / "test_size.py").write_text(TESTS)
    done = run_suite(root, "--alluredir", "allure-results")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    return root


@pytest.fixture(scope="module")
def results(run_root: Path) -> dict[str, tuple[dict[str, Any], int]]:
    """Each result of the run, with the bytes it and its attachments take."""
    found = {}
    for path in (run_root / "allure-results").glob("*-result.json"):
        result = json.loads(path.read_text())
        size = path.stat().st_size + sum((path.parent / item["source"]).stat().st_size
                                         for item in result.get("attachments", []))
        found[result["name"]] = (result, size)
    return found


def test_a_passed_result_stays_small_whatever_it_flashed_or_logged(results) -> None:
    passed = {name: size for name, (result, size) in results.items() if result["status"] == "passed"}
    assert len(passed) == 3, results.keys()
    assert all(size <= PASSED_RESULT_BOUND for size in passed.values()), passed
    result, _ = results["test_flashes_a_long_image_and_logs_warnings"]  # 1 MiB, 200 warnings
    assert "log" not in {item["name"] for item in result.get("attachments", [])}


def test_a_failed_result_keeps_its_log_and_evidence(results) -> None:
    result, size = results["test_logs_warnings_and_fails"]
    names = {item["name"] for item in result["attachments"]}
    assert {"log", "ECU state before and after"} <= names
    assert size > PASSED_RESULT_BOUND


def test_one_more_passed_scenario_adds_little_to_the_packed_html_report(run_root: Path, tmp_path: Path) -> None:
    whole = generate_report(run_root).stat().st_size
    assert whole <= PACKED_REPORT_BOUND
    shutil.copytree(run_root / "allure-results", tmp_path / "allure-results")
    one = next(path for path in (tmp_path / "allure-results").glob("*-result.json")
               if json.loads(path.read_text())["name"].startswith("size["))
    assert json.loads(one.read_text())["status"] == "passed" and not json.loads(one.read_text()).get("attachments")
    one.unlink()
    assert 0 < whole - generate_report(tmp_path).stat().st_size <= PACKED_PASSED_BOUND
