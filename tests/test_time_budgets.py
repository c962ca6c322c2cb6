"""Time budgets: a test that hangs is cut by pytest-timeout into a bench timeout with the stacks of
every thread and the CAN traces kept; once the run's budget is spent the tests not yet started
are skipped, and the run says so and ends as interrupted. Neither depends on how fast the machine
is: only the hanging body is timed, and the budget's clock is moved by the test, not by load."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.nightly import budget
from bench.nightly.verdicts import BENCH_BROKEN
from rack_suite import BENCH, run_pytest

HANGS = """\
import time
import pytest

@pytest.fixture
def talking_ecu(ecu):
    ecu.diagnostics.read_version()  # traffic for the CAN traces
    return ecu

@pytest.mark.ecu("bms")
@pytest.mark.timeout(2, func_only=True)  # only the hang is timed: a slow bench start on a loaded machine is not
def test_hangs(talking_ecu):
    time.sleep(60)
"""


def test_a_hang_is_a_bench_timeout_with_the_threads_stacks_and_the_can_traces_kept(tmp_path: Path) -> None:
    (tmp_path / "test_hang.py").write_text(HANGS)
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", str(BENCH),
                      "--alluredir", "allure-results", "--junitxml", "junit.xml")
    assert done.returncode == BENCH_BROKEN, done.stdout + done.stderr
    assert "Timeout (>2.0s) from pytest-timeout" in done.stdout
    assert "threads at the timeout" in done.stdout and "--- thread sim-bms ---" in done.stdout
    [result] = [json.loads(path.read_text()) for path in (tmp_path / "allure-results").glob("*-result.json")]
    assert result["status"] == "failed"
    assert result["statusDetails"]["message"].startswith("Failed: Timeout (>2.0s) from pytest-timeout")
    attached = {attachment["name"] for attachment in result["attachments"]}
    assert {"threads at the timeout", "can-powertrain.asc", "can-powertrain.blf"} <= attached
    [failure] = ET.parse(tmp_path / "junit.xml").getroot().iter("error")
    assert "threads at the timeout" in (failure.text or "")


class StoppedClock:
    """``time`` as the run budget reads it: it stands still, whatever the machine's load, until a
    test moves it on."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


SLOW = """\
import bench.nightly.budget

def test_first():
    bench.nightly.budget.time.now += 3600  # the budget is spent while this test runs

def test_second():
    pass

def test_third():
    pass
"""


def test_tests_not_started_within_the_run_budget_are_skipped_and_the_run_is_interrupted(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "time", StoppedClock())
    pytester.makepyfile(SLOW)
    result = pytester.runpytest("--run-budget", "1.5", "-rs", "--rack-locks", str(pytester.path / "locks"))
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*run budget of 1.5 s spent: 2 test(s) not started*",
                                 "SKIPPED [[]1[]] *.py:6: run budget of 1.5 s spent (--run-budget): not started"])
