"""A user's mistake found while the run goes (a bad trigger argument, a catalog asking what the
ECU cannot do) is a usage error: exit status 4, a JUnit error and the "Usage error" category —
never an ECU failure (1), which still wins when there is one."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.nightly.verdicts import USAGE
from rack_suite import REPO, run_pytest, virtual_rack

BAD_TRIGGER = """\
import pytest
from bench.faults import uds

@pytest.mark.ecu("bcm")
def test_reads_the_version(ecu):
    assert ecu.diagnostics.read_version() == "1.0.0"

@pytest.mark.ecu("bcm")
def test_cut_at_block_zero(ecu, faults):
    faults.when(uds.transfer_data(block=0)).power_cut(ecu)
"""

BLOCK_50 = """\
campaign: beyond
defaults: {to: app-2.0.0}
matrix: {ecu: bcm, fault: power_cut, at: ["block:3", "block:50"]}
expect: {versions: [old, new, bootloader]}
"""


def suite(tmp_path: Path, files: dict[str, str]) -> Path:
    virtual_rack(tmp_path, "rack", only="bcm")
    (tmp_path / "fixtures").symlink_to(REPO / "fixtures")  # the firmware recipes catalogs name
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_a_bad_trigger_argument_is_a_usage_error_exit_4(tmp_path: Path) -> None:
    suite(tmp_path, {"test_cut.py": BAD_TRIGGER})
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "rack.yaml", "--junitxml", "junit.xml")

    assert done.returncode == USAGE == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "block=0: block numbers start at 1" in done.stdout
    assert "usage errors: 1, ECU failures: 0; exit status 4" in done.stdout
    junit = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert junit.get("errors") == "1" and junit.get("failures") == "0"


def test_a_catalog_asking_for_block_50_of_17_is_a_usage_error_exit_4(tmp_path: Path) -> None:
    suite(tmp_path, {"scenarios/beyond.yaml": BLOCK_50})
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "rack.yaml", "scenarios", "--alluredir", "allure")

    assert done.returncode == USAGE, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert "the power_cut at block:50 never fired (the trigger point is not reached by this update)" in done.stdout
    categories = (tmp_path / "allure" / "categories.json").read_text()
    assert '"name": "Usage error"' in categories


def test_an_ecu_failure_keeps_exit_status_1_beside_usage_errors(tmp_path: Path) -> None:
    ecu_failure = "\ndef test_ecu_finding():\n    assert False, 'wrong version'\n"
    suite(tmp_path, {"test_cut.py": BAD_TRIGGER + ecu_failure})
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "rack.yaml")

    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "usage errors: 1, ECU failures: 1; exit status 1: ECU failures (usage errors too)" in done.stdout
