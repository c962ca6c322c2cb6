"""What a test leaves in its Allure result: steps per flash phase and fault, text evidence, the
ECU state before and after, CAN traces (ASC, BLF) that python-can reads back, and over DoIP the
relay's capture (pcapng)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import can
import pytest

from report_suite import REPO, run_suite

CATALOG = """\
campaign: evidence
defaults: {from: factory, to: app-2.0.0}
matrix: {ecu: bms, fault: power_cut, at: "block:2"}
expect: {outcome: unchanged}    # wrong on purpose: the update completes, so the scenario fails
"""

TESTS = """\
import pytest

@pytest.mark.ecu("bms")
def test_flashes_the_update(flasher, firmware, faults):
    assert flasher.flash(firmware("app-2.0.0")).version_after == "2.0.0"

@pytest.mark.ecu("bms")
def test_fails_after_flashing(flasher, firmware):
    flasher.flash(firmware("app-2.0.0"))
    assert False, "the test's own check failed"
"""


def make(directory: Path) -> Path:
    (directory / "fixtures").symlink_to(REPO / "fixtures")
    (directory / "scenarios").mkdir()
    (directory / "scenarios" / "evidence.yaml").write_text(CATALOG)
    (directory / "test_evidence.py").write_text(TESTS)
    return directory


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = make(tmp_path_factory.mktemp("evidence"))
    done = run_suite(root, "--alluredir", "allure-results")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    found = {}
    for path in (root / "allure-results").glob("*-result.json"):
        result = json.loads(path.read_text())
        result["dir"] = path.parent
        found[result["name"]] = result
    return found


def attachments(result: dict[str, Any]) -> dict[str, Path]:
    return {item["name"]: result["dir"] / item["source"] for item in result.get("attachments", [])}


def test_each_flash_phase_and_each_fault_is_a_timed_step(results: dict[str, dict[str, Any]]) -> None:
    steps = results["evidence[bms-full-power_cut@block:2]"]["steps"]
    names = [step["name"] for step in steps]
    assert names[0].startswith("flash 1: bms to 2.0.0 (full): stopped")
    # the cut is a step of the attempt it interrupted, inside TransferData, at its moment
    transfer = next(child for child in steps[0]["steps"] if child["name"].startswith("TransferData"))
    assert [child["name"] for child in transfer["steps"]] == ["fault: power cut on bms"]
    assert transfer["start"] <= transfer["steps"][0]["start"] <= transfer["stop"]
    assert not any(name.startswith("fault:") for name in names)
    # the cut lands before the virtual ECU acts on block 2 (bench.faults.uds_events): it is sent again
    assert re.match(r"flash 2: bms to 2\.0\.0 \(full, resumed at 0x4000\): complete", names[-1]), names[-1]
    assert [step["start"] for step in steps] == sorted(step["start"] for step in steps)
    phases = [child["name"] for child in steps[-1]["steps"]]
    assert "RequestTransferExit: ok" in phases and all(child["stop"] >= child["start"] for child in steps[-1]["steps"])
    assert steps[0]["status"] == "failed" and steps[-1]["status"] == "passed"


def test_text_evidence_and_ecu_state_before_and_after(results: dict[str, dict[str, Any]]) -> None:
    found = attachments(results["evidence[bms-full-power_cut@block:2]"])
    for name in ("fault timeline", "bms flash 1 (2.0.0)", "UDS transcript powertrain", "console bms",
                 "ECU state before and after"):
        assert name in found, name
    state = found["ECU state before and after"].read_text()
    assert "bms before: ECU state: version 1.0.0" in state and "bms after:  ECU state: version 2.0.0" in state


def test_failed_tests_get_can_traces_that_python_can_reads(results: dict[str, dict[str, Any]]) -> None:
    # the test flashes the whole 64 KiB image: over 1,000 64-byte CAN FD frames with the answers; the
    # scenario's image is fitted to its trigger (16 KiB blocks up to block 2), cut at block 2 and
    # resumed there: more than two blocks' worth (2 x 16 KiB / 62 B)
    for name, least in (("evidence[bms-full-power_cut@block:2]", 2 * 16384 // 62), ("test_fails_after_flashing", 1000)):
        found = attachments(results[name])
        for trace in ("can-powertrain.asc", "can-powertrain.blf"):
            frames = list(can.LogReader(found[trace]))
            assert len(frames) > least, (name, trace, len(frames))
            assert {frame.is_rx for frame in frames if frame.arbitration_id == 0x7E1} == {False}  # tester: Tx
            assert {frame.is_rx for frame in frames if frame.arbitration_id == 0x7E9} == {True}  # ECU: Rx
    asc = attachments(results["evidence[bms-full-power_cut@block:2]"])["can-powertrain.asc"].read_text()
    assert "fault: power cut on bms (when bms -> 36 TransferData #2" in asc  # a marker where it struck


def test_passing_tests_get_their_attempts_as_steps_and_nothing_else_by_default(results: dict[str, dict[str, Any]]) -> None:
    passed = results["test_flashes_the_update"]
    assert passed["status"] == "passed"
    assert [step["name"] for step in passed["steps"]] == ["flash 1: bms to 2.0.0 (full): complete"]
    assert not passed["steps"][0].get("steps")  # no phases
    assert attachments(passed) == {}  # no text, no captured log, no traces
    failed = attachments(results["test_fails_after_flashing"])
    assert {"ECU state before and after", "can-powertrain.asc"} <= failed.keys()  # a failure keeps all of it


def test_on_request_passing_tests_keep_traces_text_phases_and_captured_output(tmp_path: Path) -> None:
    root = make(tmp_path)
    done = run_suite(root, "--alluredir", "allure-results", "--can-trace", "all", "--passed-evidence", "full",
                     "--captured-output", "all", "-k", "flashes_the_update", "--log-level", "INFO")
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    [result] = [json.loads(path.read_text()) for path in (root / "allure-results").glob("*-result.json")]
    names = {item["name"] for item in result["attachments"]}
    assert {"can-powertrain.asc", "can-powertrain.blf", "ECU state before and after", "fault timeline", "log"} <= names
    assert "RequestTransferExit: ok" in [child["name"] for child in result["steps"][0]["steps"]]


def test_a_scenario_over_doip_attaches_its_relays_capture_next_to_the_can_traces(tmp_path: Path) -> None:
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap

    root = make(tmp_path)
    over_doip = CATALOG.replace('at: "block:2"', 'at: "block:2", transport: doip')
    (root / "scenarios" / "evidence.yaml").write_text(over_doip)
    done = run_suite(root, "--alluredir", "allure-results", "scenarios")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    [result] = [json.loads(path.read_text()) for path in (root / "allure-results").glob("*-result.json")]
    result["dir"] = root / "allure-results"
    assert result["name"] == "evidence[bms-doip-full-power_cut@block:2]"
    found = attachments(result)
    assert {"can-powertrain.asc", "can-powertrain.blf", "doip-scenario-gateway.pcapng"} <= found.keys()
    segments = [packet[TCP] for packet in rdpcap(str(found["doip-scenario-gateway.pcapng"]))]
    payload_types = {int.from_bytes(bytes(tcp.payload)[2:4], "big") for tcp in segments if bytes(tcp.payload)}
    assert {0x0005, 0x0006, 0x8001, 0x8002} <= payload_types  # routing activation, diagnostic messages, ACKs
