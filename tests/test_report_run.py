"""What a run with --alluredir leaves for the report: labels, categories, environment, matrix.

One real run of a small suite (report_suite.py) under pytest-xdist, as `make run` does it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench.nightly.verdicts import BENCH_BROKEN
from bench.report.categories import CATEGORIES_FILE
from report_suite import TESTS, make_suite, run_suite


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's rootdir after ``pytest -n 2 --alluredir allure-results``."""
    root = make_suite(tmp_path_factory.mktemp("suite"))
    done = run_suite(root, "-n", "2", "--alluredir", "allure-results")
    assert done.returncode == BENCH_BROKEN, done.stdout + done.stderr  # its only failure is a bench fault
    return root


def results(run: Path) -> dict[str, dict[str, Any]]:
    found = [json.loads(path.read_text()) for path in (run / "allure-results").glob("*-result.json")]
    return {result["name"]: result for result in found}


def labels(result: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for label in result["labels"]:
        found.setdefault(label["name"], []).append(label["value"])
    return found


def test_scenario_results_carry_campaign_ecu_fault_phase_trigger_seed_and_bench(run: Path) -> None:
    found = results(run)
    assert len(found) == TESTS
    scenario = found["smoke[bms-full-power_cut@block:2]"]
    assert scenario["status"] == "passed"
    got = labels(scenario)
    for name, value in {"epic": "OTA scenarios", "feature": "smoke", "story": "power_cut", "severity": "critical",
                        "campaign": "smoke", "ecu": "bms", "fault": "power_cut", "phase": "block",
                        "trigger": "block:2", "seed": "0", "bench": "virtual-bench"}.items():
        assert got.get(name) == [value], name
    assert "smoke" in got["tag"]
    parameters = {parameter["name"]: parameter["value"] for parameter in scenario["parameters"]}
    assert parameters["ecu"] == "bms" and parameters["trigger"] == "block:2" and parameters["off_for"] == "0.05"
    other = found["smoke[bcm-full-power_cut@block:2]"]
    assert other["historyId"] != scenario["historyId"]  # two tests in Allure's history, not two runs of one


def test_bench_tests_carry_bench_and_ecu(run: Path) -> None:
    got = labels(results(run)["test_reads_the_factory_version"])
    assert got["bench"] == ["virtual-bench"] and got["ecu"] == ["bms"]


def test_a_bench_fault_lands_in_its_category(run: Path) -> None:
    broken = results(run)["test_supply_does_not_answer"]
    assert broken["status"] == "broken"
    written = json.loads((run / "allure-results" / "categories.json").read_text())
    assert written == json.loads(CATEGORIES_FILE.read_text())
    matching = [category["name"] for category in written
                if broken["status"] in category["matchedStatuses"]
                and re.fullmatch(category["messageRegex"], broken["statusDetails"]["message"])]
    assert matching == ["Bench fault: instrument not answering"]


def test_environment_names_bench_buses_versions_seen_and_framework(run: Path) -> None:
    lines = (run / "allure-results" / "environment.properties").read_text().splitlines()
    properties = dict(line.split("=", 1) for line in lines)
    assert properties["bench"].startswith("virtual-bench (")
    assert properties["bus.powertrain"].startswith("virtual channel ota-pt, CAN FD")
    assert properties["ecu.bms.versions"] == "1.0.0, 2.0.0"  # read by a worker's test, then after the flash
    assert properties["ecu.bcm.versions"] == "1.0.0, 2.0.0"
    assert re.fullmatch(r"ota-hil-bench \S+", properties["framework"])


def test_outcome_matrix_is_written_under_reports_and_attached_to_the_run(run: Path) -> None:
    reports = run / "reports"
    assert (reports / "outcome-matrix.csv").read_text().splitlines()[1:] == [
        "bcm,block,power_cut,1,1,0,0,0,0.000", "bms,block,power_cut,1,1,0,0,0,0.000"]
    assert (reports / "outcome-matrix.png").read_bytes().startswith(b"\x89PNG")
    assert "1/1" in (reports / "outcome-matrix.html").read_text()
    globals_files = list((run / "allure-results").glob("*-globals.json"))
    assert len(globals_files) == 1  # written once, by the xdist controller
    attachments = json.loads(globals_files[0].read_text())["attachments"]
    assert [attachment["name"] for attachment in attachments] == [
        "Outcome matrix (HTML)", "Outcome matrix (PNG)", "Outcome matrix (CSV)"]
    assert all((run / "allure-results" / attachment["source"]).is_file() for attachment in attachments)


def test_a_run_without_alluredir_writes_no_report_files(tmp_path: Path) -> None:
    root = make_suite(tmp_path)
    done = run_suite(root, "-k", "scenarios or factory")
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    assert not (root / "reports").exists()
    assert not list(root.rglob("*.properties")) and not list(root.rglob("categories.json"))
