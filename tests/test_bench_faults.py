"""Bench faults in nightly runs: a rack whose supply stops answering is a bench error, never an ECU
failure; its tests rerun on another rack (--bench-fault-retries); a rack that keeps failing is
quarantined for the rest of the run and the run says so; the exit status tells "ECU failures" (1)
from "bench broken" (6); JUnit shows bench faults as errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.instruments import ScpiSupplySimulator
from bench.nightly.verdicts import BENCH_BROKEN
from rack_suite import SupplyThatStopsAnswering, allure_results, run_pytest, virtual_rack

TESTS = """\
import pytest

@pytest.mark.ecu("bms")
@pytest.mark.parametrize("n", range({count}))
def test_reads_the_version(bench, ecu, n):
    assert ecu.diagnostics.read_version() == "1.0.0"
"""
NOT_ANSWERING = ("bench.errors.BenchFault: power supply 'kl30_aux' on socket://127.0.0.1:{port} "
                 "did not answer 'OUTP?' within 0.2 s")


@pytest.fixture
def silent_supply() -> Iterator[ScpiSupplySimulator]:
    with ScpiSupplySimulator() as psu:
        psu.mute()
        yield psu


def test_a_rack_whose_supply_does_not_answer_is_a_bench_error_and_its_tests_pass_on_another(
        tmp_path: Path, silent_supply: ScpiSupplySimulator) -> None:
    virtual_rack(tmp_path / "racks", "good")
    virtual_rack(tmp_path / "racks", "broken", supply_url=silent_supply.url)
    (tmp_path / "test_version.py").write_text(TESTS.format(count=6))
    done = run_pytest(tmp_path, "-n", "2", "--bench", str(tmp_path / "racks"), "--bench-fault-retries", "1",
                      "--rack-quarantine", "0", "--alluredir", "allure-results", "--junitxml", "junit.xml")
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    assert "6 passed" in done.stdout and " rerun" in done.stdout  # e.g. "6 passed, 3 rerun"
    assert "rerun after bench faults:" in done.stdout
    fault = NOT_ANSWERING.format(port=silent_supply.port)
    assert f"attempt 1 on rack 'broken': {fault}" in done.stdout

    results = allure_results(tmp_path / "allure-results")
    broken = [result for result in results if result["status"] == "broken"]
    assert broken and all(fault in result["statusDetails"]["message"] for result in broken)
    assert all({"name": "bench", "value": "good"} in result["labels"] for result in results
               if result["status"] == "passed")
    retried = {result["historyId"] for result in broken}
    assert all(any(result["historyId"] == history and result["status"] == "passed" for result in results)
               for history in retried)  # the same test, passed on the good rack: Allure shows it with its retries
    assert len({result["historyId"] for result in results}) == 6

    junit = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert junit.get("tests") == "6" and junit.get("errors") == "0" and junit.get("failures") == "0"
    properties = [prop.get("value") for prop in junit.iter("property") if prop.get("name") == "bench_retry"]
    assert len(properties) == len(broken) and all(fault in value for value in properties)


def test_a_rack_that_keeps_failing_is_quarantined_and_the_run_says_so(tmp_path: Path) -> None:
    with SupplyThatStopsAnswering(answers=1) as psu:
        flaky = virtual_rack(tmp_path / "racks", "flaky", supply_url=psu.url)
        good = virtual_rack(tmp_path / "racks", "good")
        (tmp_path / "test_version.py").write_text(TESTS.format(count=5))
        done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", str(flaky), "--bench", str(good),
                          "--bench-fault-retries", "1", "--rack-quarantine", "2", "--alluredir", "allure-results")
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    fault = NOT_ANSWERING.format(port=psu.port)
    # one process: every test tries the pool's first rack first; it answers one test, then no more
    assert "5 passed, 2 rerun" in done.stdout
    assert f"rack 'flaky' quarantined: 2 bench faults in a row; the last: {fault}" in done.stdout
    environment = (tmp_path / "allure-results" / "environment.properties").read_text()
    assert f"bench=pool of 2 racks: 'flaky' ({flaky}), 'good' ({good})" in environment
    assert "racks.quarantined=flaky: 2 bench faults in a row" in environment
    assert "bench-fault\\ retries=2 test(s) rerun (--bench-fault-retries 1)" in environment
    racks = [label["value"] for result in allure_results(tmp_path / "allure-results") if result["status"] == "passed"
             for label in result["labels"] if label["name"] == "bench"]
    assert sorted(racks) == ["flaky", "good", "good", "good", "good"]


BROKEN_ONLY = """\
import pytest
from bench.errors import BenchFault

@pytest.mark.ecu("bms")
def test_on_the_rack(bench):
    pass

def test_adapter_gone_in_the_body():
    raise BenchFault("CAN adapter 'can0' is gone (python-can: Network is down)")
"""


def test_only_bench_faults_exit_with_6_and_are_junit_errors(tmp_path: Path,
                                                             silent_supply: ScpiSupplySimulator) -> None:
    virtual_rack(tmp_path, "broken", supply_url=silent_supply.url)
    (tmp_path / "test_broken.py").write_text(BROKEN_ONLY)
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "broken.yaml", "--junitxml", "junit.xml")
    assert done.returncode == BENCH_BROKEN, done.stdout + done.stderr
    assert "bench faults: 2, ECU failures: 0; exit status 6: the bench is broken, no ECU failure" in done.stdout
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite.get("errors") == "2" and suite.get("failures") == "0"
    body = suite.find("testcase[@name='test_adapter_gone_in_the_body']/error")
    assert body is not None and "CAN adapter 'can0' is gone" in body.get("message")
    rack = [prop.get("value") for prop in suite.iter("property") if prop.get("name") == "rack"]
    assert rack == ["broken"]


def test_an_ecu_failure_keeps_exit_status_1_beside_bench_faults(tmp_path: Path,
                                                                silent_supply: ScpiSupplySimulator) -> None:
    virtual_rack(tmp_path, "broken", supply_url=silent_supply.url)
    ecu_failure = "\ndef test_ecu_finding():\n    assert False, 'wrong version'\n"
    (tmp_path / "test_broken.py").write_text(BROKEN_ONLY + ecu_failure)
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "broken.yaml")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "bench faults: 2, ECU failures: 1; exit status 1: ECU failures (bench faults too)" in done.stdout


def test_the_quarantine_book_of_a_run_is_shared_by_its_workers_and_removed_after_it(
        tmp_path: Path, silent_supply: ScpiSupplySimulator) -> None:
    virtual_rack(tmp_path, "broken", supply_url=silent_supply.url)
    (tmp_path / "test_version.py").write_text(TESTS.format(count=6))
    done = run_pytest(tmp_path, "-n", "2", "--bench", "broken.yaml", "--rack-quarantine", "3",
                      "--junitxml", "junit.xml")
    assert done.returncode == BENCH_BROKEN, done.stdout + done.stderr
    assert "rack 'broken' quarantined: 3 bench faults in a row" in done.stdout
    errors = [error.get("message") for error in ET.parse(tmp_path / "junit.xml").getroot().iter("error")]
    assert len(errors) == 6
    assert sum("no rack left for this test: rack 'broken' is quarantined" in error for error in errors) == 3
    assert not list((tmp_path / "locks" / "runs").glob("*.json"))
