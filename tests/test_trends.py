"""Trends across nightly runs: three simulated nights in which one test starts failing, one is
fixed and one flips back and forth; each is reported as such, per ECU, fault kind and rack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report.history import ResultRecord, RunRecord, append_run, read_history
from bench.report.matrix_files import write_trends
from bench.report.results import Outcome
from bench.report.trends import FIXED, FLAKY, NEW, STILL, trends
from rack_suite import REPO, run_pytest

BENCH_FAULT = "bench.errors.BenchFault: power supply 'kl30' on socket://x did not answer 'OUTP?' within 1.0 s"


def night(name: str, statuses: dict[str, str], *, faults: int = 0) -> RunRecord:
    """One run: test name → passed/failed; ``faults`` tests more that end in a bench fault on rack-b."""
    tests = [Outcome(name=test, status=status, history_id=test,
                     labels={"ecu": "bms" if test.startswith("bms") else "bcm", "fault": test.split("-")[1],
                             "bench": "rack-a"})
             for test, status in statuses.items()]
    tests += [Outcome(name=f"bcm-brown_out-{n}", status="broken", history_id=f"fault-{n}", message=BENCH_FAULT,
                      labels={"ecu": "bcm", "fault": "brown_out", "bench": "rack-b"}) for n in range(faults)]
    return RunRecord.from_results(name, "abc", tests)


NIGHTS = [
    night("mon", {"bms-power_cut-erase": "passed", "bcm-power_cut-block": "failed", "bcm-frame_loss-erase": "passed",
                  "bms-frame_loss-check": "failed"}),
    night("tue", {"bms-power_cut-erase": "passed", "bcm-power_cut-block": "passed", "bcm-frame_loss-erase": "failed",
                  "bms-frame_loss-check": "failed"}, faults=1),
    night("wed", {"bms-power_cut-erase": "failed", "bcm-power_cut-block": "passed", "bcm-frame_loss-erase": "passed",
                  "bms-frame_loss-check": "failed"}, faults=3),
]


def names(found, change: str) -> list[str]:
    return [result.name for result in found.changes[change]]


def test_three_nights_report_a_new_failure_a_fix_a_flaky_test_and_one_still_failing(tmp_path: Path) -> None:
    for record in NIGHTS:
        history = append_run(tmp_path, record)
    assert [run.run for run in read_history(tmp_path)] == ["mon", "tue", "wed"] == [run.run for run in history]

    found = trends(history, window=7)
    assert names(found, NEW) == ["bms-power_cut-erase"]
    assert names(found, FLAKY) == ["bcm-frame_loss-erase"]  # passed, failed, passed
    assert names(found, STILL) == ["bms-frame_loss-check"]
    assert names(found, FIXED) == []  # bcm-power_cut-block was fixed on tuesday, and stayed so

    tuesday = trends(history[:2], window=7)
    assert names(tuesday, FIXED) == ["bcm-power_cut-block"] and names(tuesday, NEW) == ["bcm-frame_loss-erase"]

    assert found.by("ecu") == {"bcm": {NEW: 0, FIXED: 0, STILL: 0, FLAKY: 1},
                               "bms": {NEW: 1, FIXED: 0, STILL: 1, FLAKY: 0}}
    assert found.by("fault")["power_cut"][NEW] == 1 and found.by("rack") == {"rack-a": {NEW: 1, FIXED: 0, STILL: 1,
                                                                                          FLAKY: 1}}
    assert [(point.ran, point.passed, point.bench_faults) for point in found.runs] == [
        (4, 2, {}), (4, 2, {"rack-b": 1}), (4, 2, {"rack-b": 3})]  # a bench fault is no failure: rack-b got worse


def test_a_flip_older_than_the_window_is_not_flaky() -> None:
    assert names(trends(NIGHTS, window=2), FLAKY) == []
    assert names(trends(NIGHTS, window=2), NEW) == ["bms-power_cut-erase"]


def test_the_trends_are_written_as_html_and_a_png(tmp_path: Path) -> None:
    written = write_trends(trends(NIGHTS), tmp_path)
    html = written[0].read_text()
    assert "new failures: 1" in html and "bms-power_cut-erase" in html and "bench faults: rack-b" in html
    assert written[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


FLIPPING = """\
import os, pytest

@pytest.mark.ecu("bcm")
def test_stable(bench):
    pass

def test_flips():
    assert os.environ["NIGHT"] != "2"
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_runs_with_a_history_report_what_changed_since_the_last(tmp_path: Path, workers: list[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "test_nightly.py").write_text(FLIPPING)
    (tmp_path / "fixtures").symlink_to(REPO / "fixtures")
    for number in (1, 2, 3):
        monkeypatch.setenv("NIGHT", str(number))
        done = run_pytest(tmp_path, "--alluredir", f"allure-{number}", "--history", "history", "--run-name",
                          f"night-{number}", *workers)
        assert done.returncode == (1 if number == 2 else 0), done.stdout + done.stderr
        expected = {1: "new failures 0,", 2: "new failures 1,", 3: "flaky 1 "}[number]
        assert "since the previous run: " in done.stdout and expected in done.stdout, done.stdout
    history = [json.loads(line) for line in (tmp_path / "history" / "bench-history.jsonl").read_text().splitlines()]
    assert [run["run"] for run in history] == ["night-1", "night-2", "night-3"]
    globals_ = [json.loads(path.read_text()) for path in (tmp_path / "allure-3").glob("*-globals.json")]
    assert "Trends across runs (PNG)" in [attachment["name"] for run in globals_ for attachment in run["attachments"]]
    assert (tmp_path / "reports" / "trends.png").is_file()
